// Package all registers every backend moat has; import it for effect.
package all

import (
	_ "github.com/moat-sandbox/moat/backend/docker"
	_ "github.com/moat-sandbox/moat/backend/gvisor"
	_ "github.com/moat-sandbox/moat/backend/native"
	_ "github.com/moat-sandbox/moat/backend/podman"
)
