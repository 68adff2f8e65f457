package cgroup

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// hybridMountinfo is /proc/self/mountinfo of a Debian 12 host with v1
// controllers and an empty cgroup2 at /sys/fs/cgroup/unified.
const hybridMountinfo = `22 1 8:1 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []mount
	}{
		{"hybrid", hybridMountinfo, []mount{
			{Point: "/sys/fs/cgroup/cpu", Root: "/", Version: 1, Controllers: []string{"cpu"}},
			{Point: "/sys/fs/cgroup/cpuacct", Root: "/", Version: 1, Controllers: []string{"cpuacct"}},
			{Point: "/sys/fs/cgroup/memory", Root: "/", Version: 1, Controllers: []string{"memory"}},
			{Point: "/sys/fs/cgroup/freezer", Root: "/", Version: 1, Controllers: []string{"freezer"}},
			{Point: "/sys/fs/cgroup/pids", Root: "/", Version: 1, Controllers: []string{"pids"}},
			{Point: "/sys/fs/cgroup/systemd", Root: "/", Version: 1},
			{Point: "/sys/fs/cgroup/unified", Root: "/", Version: 2},
		}},
		{"pure v2 with optional fields", "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 master:2 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
			[]mount{{Point: "/sys/fs/cgroup", Root: "/", Version: 2}}},
		{"comounted and container root", "40 31 0:37 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n",
			[]mount{{Point: "/sys/fs/cgroup/cpu,cpuacct", Root: "/docker/abc", Version: 1, Controllers: []string{"cpu", "cpuacct"}}}},
		{"escaped space", `41 31 0:38 / /mnt/my\040cg rw - cgroup2 none rw` + "\n",
			[]mount{{Point: "/mnt/my cg", Root: "/", Version: 2}}},
		{"no cgroups", "22 1 8:1 / / rw - ext4 /dev/vda rw\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMountinfo(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, err := parseMountinfo(strings.NewReader("1 2 - cgroup2 cgroup2 rw\n")); err == nil {
		t.Error("short cgroup line accepted")
	}
}

func TestParseKeyed(t *testing.T) {
	oomControl := "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n"
	events := "low 0\nhigh 0\nmax 12\noom 1\noom_kill 3\noom_group_kill 0\n"
	tests := []struct {
		in, key string
		want    int64
		err     error
	}{
		{events, "oom_kill", 3, nil},
		{events, "max", 12, nil},
		{"max 2\n", "max", 2, nil},
		{oomControl, "oom_kill", 4, nil},
		{"oom_kill_disable 0\nunder_oom 0\n", "oom_kill", 0, errNoKey}, // before 4.13
		{"max x\n", "max", 0, errors.New("syntax")},
	}
	for _, tt := range tests {
		got, err := parseKeyed([]byte(tt.in), tt.key)
		switch {
		case tt.err == nil && err != nil, tt.err != nil && err == nil:
			t.Errorf("parseKeyed(%q, %q) err = %v, want %v", tt.in, tt.key, err, tt.err)
		case tt.err == errNoKey && !errors.Is(err, errNoKey):
			t.Errorf("parseKeyed(%q, %q) err = %v, want errNoKey", tt.in, tt.key, err)
		case got != tt.want:
			t.Errorf("parseKeyed(%q, %q) = %d, want %d", tt.in, tt.key, got, tt.want)
		}
	}
}

func TestParseSelfCgroup(t *testing.T) {
	p, ok, err := parseSelfCgroup(strings.NewReader("9:name=systemd:/\n4:memory:/a\n0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope\n"))
	if err != nil || !ok || p != "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope" {
		t.Errorf("got %q %v %v", p, ok, err)
	}
	if _, ok, _ := parseSelfCgroup(strings.NewReader("4:memory:/a\n")); ok {
		t.Error("found a v2 path in a v1-only file")
	}
}

func TestParsePids(t *testing.T) {
	got, err := parsePids(strings.NewReader("12\n345\n\n"))
	if err != nil || !reflect.DeepEqual(got, []int{12, 345}) {
		t.Errorf("got %v %v", got, err)
	}
	for _, bad := range []string{"x\n", "-1\n", "0\n"} {
		if _, err := parsePids(strings.NewReader(bad)); err == nil {
			t.Errorf("parsePids(%q) accepted", bad)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`: "/a b", `/a\134b`: `/a\b`, `/a\`: `/a\`, `/a\04`: `/a\04`, `/a\999`: `/a\999`, `/plain`: "/plain",
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add(hybridMountinfo)
	f.Add(`1 2 0:1 / /x\040y rw shared:1 - cgroup2 c rw`)
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := parseMountinfo(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.Version != 1 && m.Version != 2 {
				t.Fatalf("version %d", m.Version)
			}
			if m.Version == 2 && len(m.Controllers) > 0 {
				t.Fatalf("v2 mount with v1 controllers: %+v", m)
			}
		}
	})
}

func FuzzParseKeyed(f *testing.F) {
	f.Add("low 0\nhigh 0\nmax 12\noom 1\noom_kill 3\n", "oom_kill")
	f.Add("max 9223372036854775807", "max")
	f.Fuzz(func(t *testing.T, s, key string) {
		parseKeyed([]byte(s), key)
	})
}

func FuzzParsePids(f *testing.F) {
	f.Add("1\n2\n")
	f.Fuzz(func(t *testing.T, s string) {
		pids, err := parsePids(strings.NewReader(s))
		for _, p := range pids {
			if err == nil && p <= 0 {
				t.Fatalf("pid %d", p)
			}
		}
	})
}

func TestParseSelfCgroupV1(t *testing.T) {
	got, err := parseSelfCgroupV1(strings.NewReader("9:name=systemd:/\n4:memory:/process_api/7f\n1:cpu,cpuacct:/\n0::/\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"memory": "/process_api/7f", "cpu": "/", "cpuacct": "/"}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, _ := parseSelfCgroupV1(strings.NewReader("0::/user.slice\n")); len(got) != 0 {
		t.Errorf("a v2-only host: got %v, want no v1 group", got)
	}
}
