package moat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		r    Result
		want int
	}{
		{Result{Status: StatusExited, ExitCode: 0}, 0},
		{Result{Status: StatusExited, ExitCode: 3}, 3},
		{Result{Status: StatusExited, ExitCode: 3, Out: &OutReport{Skipped: []string{"a: over the cap"}}}, 3},
		{Result{Status: StatusExited, ExitCode: 0, Out: &OutReport{Error: "unpack: the stream ended before its end record"}}, 125},
		{Result{Status: StatusTimeout, Out: &OutReport{Error: "x"}}, 124},
		{Result{Status: StatusTimeout}, 124},
		{Result{Status: StatusError}, 125},
		{Result{Status: StatusError, ExitCode: 126}, 126},
		{Result{Status: StatusError, ExitCode: 127}, 127},
		{Result{Status: StatusError, ExitCode: 3}, 125},
		{Result{Status: StatusSignaled, Signal: 15}, 143},
		{Result{Status: StatusMemory, Signal: 9}, 137},
		{Result{Status: StatusPids}, 137},
		{Result{Status: StatusOutputLimit}, 137},
		{Result{Status: StatusCanceled}, 130},
		{Result{Status: "bogus"}, 125},
	} {
		if got := tc.r.ExitStatus(); got != tc.want {
			t.Errorf("%+v: ExitStatus = %d, want %d", tc.r, got, tc.want)
		}
	}
}

func TestLimitsDefaults(t *testing.T) {
	l := Limits{}.WithDefaults()
	if l.Timeout != DefaultTimeout || l.Memory != DefaultMemory || l.Pids != DefaultPids || l.Disk != DefaultDisk || l.OutputLimit != DefaultOutputLimit || l.CPUs != 0 {
		t.Errorf("zero Limits did not get the defaults: %+v", l)
	}
	l = Limits{Timeout: time.Second, Memory: 32 << 20}.WithDefaults()
	if l.Timeout != time.Second || l.Memory != 32<<20 {
		t.Errorf("set limits were changed: %+v", l)
	}
}

func TestValidate(t *testing.T) {
	ws := t.TempDir()
	file := filepath.Join(ws, "f")
	os.WriteFile(file, nil, 0o644)
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	ok := func() *Spec { return &Spec{Args: []string{"-c", "pass"}} }
	for _, tc := range []struct {
		name string
		mod  func(*Spec)
		want error
	}{
		{"ok", func(*Spec) {}, nil},
		{"no args", func(s *Spec) { s.Args = nil }, ErrInvalidSpec},
		{"bad env", func(s *Spec) { s.Env = []string{"NOEQUALS"} }, ErrInvalidSpec},
		{"empty env key", func(s *Spec) { s.Env = []string{"=v"} }, ErrInvalidSpec},
		{"file with slash", func(s *Spec) { s.Files = map[string][]byte{"a/b": nil} }, ErrInvalidSpec},
		{"file dotdot", func(s *Spec) { s.Files = map[string][]byte{"..": nil} }, ErrInvalidSpec},
		{"file dot", func(s *Spec) { s.Files = map[string][]byte{".": nil} }, ErrInvalidSpec},
		{"file NUL", func(s *Spec) { s.Files = map[string][]byte{"a\x00b": nil} }, ErrInvalidSpec},
		{"file name at NAME_MAX", func(s *Spec) { s.Files = map[string][]byte{strings.Repeat("x", 255): nil} }, nil},
		{"file name over NAME_MAX", func(s *Spec) { s.Files = map[string][]byte{strings.Repeat("x", 256): nil} }, ErrInvalidSpec},
		{"arg NUL", func(s *Spec) { s.Args = []string{"-c", "pass\x00"} }, ErrInvalidSpec},
		{"negative limit", func(s *Spec) { s.Limits.Memory = -1 }, ErrInvalidSpec},
		{"disk below 1MiB", func(s *Spec) { s.Limits.Disk = 64 << 10 }, ErrInvalidSpec},
		{"tiny memory", func(s *Spec) { s.Limits.Memory = 1 << 20 }, ErrInvalidSpec},
		{"network", func(s *Spec) { s.Network = "host" }, ErrInvalidSpec},
		{"network allow no port", func(s *Spec) { s.Network = "allow=example.com" }, ErrInvalidSpec},
		{"network allow", func(s *Spec) { s.Network = NetworkAllow("pypi.org:443") }, nil},
		{"network sinkhole", func(s *Spec) { s.Network = NetworkSinkhole }, nil},
		{"workspace is a file", func(s *Spec) { s.Workspace = file }, ErrInvalidSpec},
		{"workspace missing", func(s *Spec) { s.Workspace = filepath.Join(ws, "nope") }, os.ErrNotExist},
		{"out not empty", func(s *Spec) { s.OutDir = full }, ErrInvalidSpec},
		{"out is a file", func(s *Spec) { s.OutDir = file }, ErrInvalidSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok()
			tc.mod(s)
			err := s.Validate()
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}

type fakeBackend struct {
	err       error // of Check
	noNetwork bool  // Supports refuses every network mode but none
	collected *[]string
}

func (f *fakeBackend) Run(context.Context, *Spec) (*Result, error) { return &Result{}, nil }
func (f *fakeBackend) Check(context.Context) error                 { return f.err }
func (f *fakeBackend) Supports(s *Spec) error {
	if f.noNetwork && s.Network != NetworkNone {
		return fmt.Errorf("fake: network %q: %w", s.Network, ErrUnsupported)
	}
	return nil
}
func (f *fakeBackend) Collect(context.Context) ([]string, error) {
	if f.collected == nil {
		return nil, nil
	}
	*f.collected = append(*f.collected, "x")
	return []string{fmt.Sprint("thing ", len(*f.collected))}, nil
}

func TestRegistry(t *testing.T) {
	mu.Lock()
	saved := registry
	registry = map[string]Factory{}
	mu.Unlock()
	t.Cleanup(func() { mu.Lock(); registry = saved; mu.Unlock() })
	ctx := context.Background()
	auto := func(specs ...*Spec) string {
		t.Helper()
		c, err := Select(ctx, "auto", specs...)
		if err != nil {
			return "error: " + err.Error()
		}
		return c.Name
	}

	if _, err := Get("nonsense"); !errors.Is(err, ErrUnknownBackend) {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := Get("gvisor"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("known but not built: %v", err)
	}
	if _, err := Select(ctx, "auto"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("auto with nothing registered: %v", err)
	}
	Register("venv", func() Backend { return &fakeBackend{} })
	Register("native", func() Backend { return &fakeBackend{} })
	Register("gvisor", func() Backend { return &fakeBackend{err: fmt.Errorf("gvisor: runsc missing: %w", ErrUnavailable)} })
	c, err := Select(ctx, "auto")
	if err != nil || c.Name != "native" {
		t.Fatalf("auto = %v, %v; want native (gvisor fails its check, venv never isolates)", c, err)
	}
	if len(c.Passed) != 1 || c.Passed[0].Name != "gvisor" || !strings.Contains(c.Passed[0].Reason, "runsc missing") {
		t.Errorf("auto passed over %+v; want gvisor with its reason", c.Passed)
	}
	if _, err := Select(ctx, "gvisor"); !errors.Is(err, ErrUnavailable) || !strings.HasPrefix(err.Error(), "gvisor: runsc missing") {
		t.Errorf("explicit gvisor = %v; want its check's error, named once", err)
	}
	if _, err := Select(ctx, "nonsense"); !errors.Is(err, ErrUnknownBackend) {
		t.Errorf("explicit unknown = %v", err)
	}
	Register("docker", func() Backend { return &fakeBackend{noNetwork: true} })
	if got := auto(); got != "native" {
		t.Errorf("auto = %q; native ranks before docker at the same level", got)
	}
	var collected []string
	Register("microvm", func() Backend { return &fakeBackend{noNetwork: true, collected: &collected} })
	if got := auto(); got != "microvm" {
		t.Errorf("auto = %q; the strongest that works wins", got)
	}
	// A backend that cannot enforce one of the runs is passed over by
	// auto, with the reason, and refuses when named.
	allow := &Spec{Network: NetworkAllow("pypi.org:443")}
	c, err = Select(ctx, "auto", &Spec{}, nil, allow)
	if err != nil || c.Name != "native" {
		t.Fatalf("auto with an allow phase = %v, %v; want native", c, err)
	}
	if len(c.Passed) != 2 || c.Passed[0].Name != "microvm" || !strings.Contains(c.Passed[0].Reason, "network") {
		t.Errorf("passed over %+v; want microvm for its network, then gvisor", c.Passed)
	}
	if _, err := Select(ctx, "docker", allow); !errors.Is(err, ErrUnsupported) {
		t.Errorf("explicit docker with allow = %v; want ErrUnsupported", err)
	}
	removed, err := Collect(ctx)
	if err != nil || len(removed) != 1 || removed[0] != "microvm: thing 1" {
		t.Errorf("Collect = %q, %v; want microvm's one thing", removed, err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("duplicate Register did not panic")
			}
		}()
		Register("native", func() Backend { return &fakeBackend{} })
	}()
}

func TestParseNetwork(t *testing.T) {
	good := map[string]Network{
		"":                              NetworkNone,
		"none":                          NetworkNone,
		"sinkhole":                      NetworkSinkhole,
		"allow=pypi.org:443":            "allow=pypi.org:443",
		"allow= a.b:80 , 10.0.0.1:8080": "allow=a.b:80,10.0.0.1:8080",
		"allow=[::1]:3128":              "allow=[::1]:3128",
		"allow=[fe80::1%eth0]:22":       "allow=[fe80::1%eth0]:22",
	}
	for in, want := range good {
		got, err := ParseNetwork(in)
		if err != nil || got != want {
			t.Errorf("ParseNetwork(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"all", "allow=", "allow=,", "allow=host", "allow=:80", "allow=host:", "allow=host:0",
		"allow=host:65536", "allow=host:http", "allow=::1:80", "allow=[::1]", "allow=[]:80", "allow=[::1:80",
		"allow=a]:80",
	} {
		if got, err := ParseNetwork(in); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("ParseNetwork(%q) = %q, %v; want ErrInvalidSpec", in, got, err)
		}
	}
}
