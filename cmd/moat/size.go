package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// parseSize reads "512MiB", "1GiB", "100M", "64k" or a plain byte count.
// Decimal and binary suffixes are both taken as binary (K = KiB), as
// docker and the kernel's tmpfs do.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || num == "" {
		return 0, fmt.Errorf("invalid size %q (use e.g. 512MiB, 1GiB, 4096)", s)
	}
	mult := map[string]float64{"": 1, "b": 1,
		"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
		"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q", s, unit)
	}
	n := v * mult
	if n > 1<<62 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(n), nil
}
