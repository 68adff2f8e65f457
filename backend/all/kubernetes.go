//go:build !nokube

package all

import _ "github.com/moat-sandbox/moat/backend/kubernetes"
