package honeytoken

import "encoding/base64"

// A value under a substitution alphabet: each character consistently
// replaced by another (Atbash, a keyword alphabet, a letter shuffle), or
// the value's base64 in an alphabet of the program's own (a shuffled
// "ABC...+/" that no standard decoder reads). The characters are unknown,
// their pattern is not: position i holds the same character as position
// j in the data exactly where it does in the form, whatever the mapping.
// Each form is kept as, for every position, the distance back to the
// previous occurrence of its character (0 for a first occurrence); a
// window of the data matches where its distances, those that reach back
// into the window, are the form's.
//
// A form is searched only with at least [minRepeats] repeated positions
// and [minDistinct] characters: a random window of printable characters
// takes a given pattern of 8 repeats and 20 new characters with a chance
// under 2^-50. The data searched is its runs of printable characters
// other than a space, as long as a form at least.
const (
	minRepeats  = 8
	minDistinct = 20
)

// substForm is one form of a value, as its distances back.
type substForm struct {
	val  int
	how  string
	dist []int32
	// first is the form's first repeated position: a cheap filter.
	first int
}

// newSubstForms returns the forms of values searched under a substitution:
// the value, reversed, and its base64 at each of the three alignments a
// secret can have inside longer data (the characters that hold bits of
// the value alone).
func newSubstForms(values [][]byte) []substForm {
	var out []substForm
	for vi, v := range values {
		forms := []struct {
			how string
			b   []byte
		}{{"substitution", v}, {"reversed, substitution", reverse(v)}}
		for k := 0; k < 3; k++ {
			pre := make([]byte, k, k+len(v))
			enc := base64.StdEncoding.EncodeToString(append(pre, v...))
			drop := (8*k + 5) / 6
			end := 8 * (k + len(v)) / 6
			if end-drop > 0 {
				forms = append(forms, struct {
					how string
					b   []byte
				}{"base64 (own alphabet)", []byte(enc[drop:end])})
			}
		}
		for _, f := range forms {
			d, repeats, distinct := distances(f.b)
			if repeats < minRepeats || distinct < minDistinct {
				continue
			}
			sf := substForm{val: vi, how: f.how, dist: d}
			for i, x := range d {
				if x > 0 {
					sf.first = i
					break
				}
			}
			out = append(out, sf)
		}
	}
	return out
}

// distances is b's distance back to each character's previous
// occurrence, with how many positions repeat and how many characters
// there are.
func distances(b []byte) (d []int32, repeats, distinct int) {
	var last [256]int
	for i := range last {
		last[i] = -1
	}
	d = make([]int32, len(b))
	for i, c := range b {
		if last[c] >= 0 {
			d[i] = int32(i - last[c])
			repeats++
		} else {
			distinct++
		}
		last[c] = i
	}
	return d, repeats, distinct
}

// substScan returns, for each value not done, how a form of it was
// found in b under a substitution ("" where none).
func substScan(forms []substForm, b []byte, done []bool, n int) []string {
	if len(forms) == 0 {
		return nil
	}
	minLen := len(forms[0].dist)
	for _, f := range forms {
		minLen = min(minLen, len(f.dist))
	}
	var how []string
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] > ' ' && b[j] < 0x7f {
			j++
		}
		if j-i >= minLen {
			d, _, _ := distances(b[i:j])
			for _, f := range forms {
				if done[f.val] || how != nil && how[f.val] != "" {
					continue
				}
				if substFind(f, d) {
					if how == nil {
						how = make([]string, n)
					}
					how[f.val] = f.how
				}
			}
		}
		i = j + 1
	}
	return how
}

// substFind reports whether the form is in the run whose distances back
// are d.
func substFind(f substForm, d []int32) bool {
	m := len(f.dist)
	for s := 0; s+m <= len(d); s++ {
		if d[s+f.first] != f.dist[f.first] {
			continue
		}
		ok := true
		for i, want := range f.dist {
			got := d[s+i]
			if got > int32(i) {
				got = 0 // reaches back past the window
			}
			if got != want {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
