package moat

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Choice is the backend [Select] picked, and why it passed over others.
type Choice struct {
	Name    string
	Backend Backend
	// Passed lists, in the order tried, the stronger backends that `auto`
	// did not pick, each with the reason.
	Passed []Passed
}

// Passed is a backend that [Select] did not pick, and why.
type Passed struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Select picks the backend for name and the specs it will run: under
// "auto" (or ""), the strongest registered backend that works on this host
// ([Check]), can enforce every spec ([Supporter]) and does not ask to be
// passed over ([AutoPicker]); otherwise the named
// backend, which must do both. It is the one place where moat chooses a
// backend: `moat run`, `moat test` and the service all ask it.
//
// specs are the runs the caller will make with the backend (all the phases
// of a test, say); a nil entry is skipped. The error wraps ErrUnavailable,
// ErrUnsupported or ErrUnknownBackend.
func Select(ctx context.Context, name string, specs ...*Spec) (*Choice, error) {
	if name != "" && name != "auto" {
		b, err := Get(name)
		if err != nil {
			return nil, err
		}
		if err := Check(ctx, b); err != nil {
			return nil, named(name, err)
		}
		if err := supports(b, specs); err != nil {
			return nil, err
		}
		return &Choice{Name: name, Backend: b}, nil
	}
	c := &Choice{}
	tried := 0
	for _, n := range Strongest() {
		if t, _ := LookupTechnique(n); t.Explicit {
			continue // runs elsewhere: only when named
		}
		b, err := Get(n)
		if err != nil {
			continue
		}
		tried++
		if err := Check(ctx, b); err != nil {
			c.Passed = append(c.Passed, Passed{Name: n, Reason: reason(n, err)})
			continue
		}
		if err := supports(b, specs); err != nil {
			c.Passed = append(c.Passed, Passed{Name: n, Reason: reason(n, err)})
			continue
		}
		if a, ok := b.(AutoPicker); ok {
			if err := a.AutoPick(ctx); err != nil {
				c.Passed = append(c.Passed, Passed{Name: n, Reason: reason(n, err)})
				continue
			}
		}
		c.Name, c.Backend = n, b
		return c, nil
	}
	why := make([]string, 0, len(c.Passed))
	for _, p := range c.Passed {
		why = append(why, p.Name+": "+p.Reason)
	}
	err := ErrUnavailable
	for _, p := range c.Passed {
		if strings.Contains(p.Reason, ErrUnsupported.Error()) {
			err = ErrUnsupported
		}
	}
	return nil, fmt.Errorf("auto: no isolating backend works here and enforces this run (%d tried; %s): %w", tried, strings.Join(why, "; "), err)
}

// supports asks b about every spec; a backend without Supports can run
// them all.
func supports(b Backend, specs []*Spec) error {
	s, ok := b.(Supporter)
	if !ok {
		return nil
	}
	var errs []error
	for _, spec := range specs {
		if spec == nil {
			continue
		}
		if err := s.Supports(spec); err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// reason is err as one short line without the backend's own name prefix.
func reason(name string, err error) string {
	r := strings.TrimPrefix(err.Error(), name+": ")
	if i := strings.IndexByte(r, '\n'); i >= 0 {
		r = r[:i]
	}
	return r
}

// named prefixes err with the backend's name, unless its message begins
// with it already (backends name themselves in their errors).
func named(name string, err error) error {
	if strings.HasPrefix(err.Error(), name+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Collect runs every registered backend's [Collector], strongest first (a
// backend built on another's pieces, as gVisor's sandboxes live in moat
// cgroups that native also collects, is collected before them), and
// returns what they removed, each entry prefixed with the backend's name.
func Collect(ctx context.Context) ([]string, error) {
	var removed []string
	var errs []error
	for _, n := range Strongest() {
		b, err := Get(n)
		if err != nil {
			continue
		}
		c, ok := b.(Collector)
		if !ok {
			continue
		}
		r, err := c.Collect(ctx)
		for _, x := range r {
			removed = append(removed, n+": "+x)
		}
		if err != nil {
			errs = append(errs, named(n, err))
		}
	}
	return removed, errors.Join(errs...)
}
