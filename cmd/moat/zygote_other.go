//go:build !linux

package main

import (
	"errors"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/pool"
)

type zygotePool struct{ pool *pool.Pool }

func startZygote(max moat.Limits, size int) (*zygotePool, error) {
	return nil, errors.New("the native zygote needs Linux")
}

func (zp *zygotePool) close() {}
