package gvisor

import (
	"maps"
	"strings"
	"testing"
)

func TestParseV1Mounts(t *testing.T) {
	const mountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/sys\040temd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	got, err := parseV1Mounts(strings.NewReader(mountinfo))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]v1Mount{
		"/sys/fs/cgroup/cpu,cpuacct": {"/", "cpu,cpuacct"},
		"/sys/fs/cgroup/memory":      {"/docker/abc", "memory"},
		"/sys/fs/cgroup/freezer":     {"/", "freezer"},
		"/sys/fs/cgroup/sys temd":    {"/", "name=systemd"},
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseOwnGroups(t *testing.T) {
	got, err := parseOwnGroups([]byte("9:name=systemd:/\n4:memory:/process_api/7f\n1:cpu,cpuacct:/\n0::/\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name=systemd": "/", "memory": "/process_api/7f", "cpu,cpuacct": "/"}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := parseOwnGroups([]byte("0::/user.slice\n")); err == nil {
		t.Error("a v2-only host: want an error (no v1 group to go back to)")
	}
}
