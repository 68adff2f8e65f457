//go:build !linux

package observe

import (
	"errors"

	"github.com/moat-sandbox/moat"
)

// Witness is the honeytoken read witness; it needs Linux.
type Witness struct{}

// ArmWitness fails off Linux: reads rest on the audit hook alone.
func ArmWitness(files []Root) (*Witness, error) {
	return nil, errors.New("witness: needs linux")
}

// Check reports nothing.
func (w *Witness) Check(at int64) []moat.Event { return nil }

// Close does nothing.
func (w *Witness) Close() {}
