//go:build !unix

package moattest

import "errors"

func leakFD(path string) (int, func(), error) {
	return 0, nil, errors.New("inheritable descriptors are a unix notion")
}
