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

// substAt is where a form's key starts: the distances back of its
// characters substAt to substAt+7, each clipped to substAt (0 past it).
// In a window of the data that holds the form those positions have the
// same clipped distances whatever came before the window, so one probe
// a byte of the data, for every form at once, finds the candidates.
const substAt = 32

// substForm is one form of a value, as its distances back.
type substForm struct {
	val  int
	how  string
	dist []int32
}

// substForms are the forms of a matcher's values, keyed.
type substForms struct {
	forms  []substForm
	at     map[uint64][]int
	minLen int
}

func clip(d int32) uint64 {
	if d > substAt {
		return 0
	}
	return uint64(d)
}

// newSubstForms returns the forms of values searched under a substitution:
// the value, reversed, and its base64 at each of the three alignments a
// secret can have inside longer data (the characters that hold bits of
// the value alone).
func newSubstForms(values [][]byte) *substForms {
	x := &substForms{at: map[uint64][]int{}}
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
			forms = append(forms, struct {
				how string
				b   []byte
			}{"base64 (own alphabet)", []byte(enc[drop:end])})
		}
		for _, f := range forms {
			d, repeats, distinct := distances(f.b)
			if len(d) < substAt+8 || repeats < minRepeats || distinct < minDistinct {
				continue
			}
			var key uint64
			for _, e := range d[substAt : substAt+8] {
				key = key<<8 | clip(e)
			}
			x.at[key] = append(x.at[key], len(x.forms))
			x.forms = append(x.forms, substForm{val: vi, how: f.how, dist: d})
			if x.minLen == 0 || len(d) < x.minLen {
				x.minLen = len(d)
			}
		}
	}
	if len(x.forms) == 0 {
		return nil
	}
	return x
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

// scan returns, for each of n values not done, how a form of it was
// found in b under a substitution ("" where none; nil for none at all).
func (x *substForms) scan(b []byte, done []bool, n int) []string {
	if x == nil {
		return nil
	}
	var how []string
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] > ' ' && b[j] < 0x7f {
			j++
		}
		if j-i >= x.minLen {
			d, _, _ := distances(b[i:j])
			var key uint64
			for s := 0; s+substAt+8 <= len(d); s++ {
				if s == 0 {
					for _, e := range d[substAt : substAt+8] {
						key = key<<8 | clip(e)
					}
				} else {
					key = key<<8 | clip(d[s+substAt+7])
				}
				for _, fi := range x.at[key] {
					f := &x.forms[fi]
					if done[f.val] || how != nil && how[f.val] != "" || s+len(f.dist) > len(d) || !f.at(d[s:]) {
						continue
					}
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

// at reports whether the form starts where the distances back d start.
func (f *substForm) at(d []int32) bool {
	for i, want := range f.dist {
		got := d[i]
		if got > int32(i) {
			got = 0 // reaches back past the window
		}
		if got != want {
			return false
		}
	}
	return true
}
