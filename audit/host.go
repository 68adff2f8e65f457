package audit

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// host is the audit's side of the probes: things of the host a probe tries
// to reach, and witnesses. It lives for one backend's battery.
type host struct {
	secret, secretPath string // a planted file
	home               string // the user's home directory
	helper             *exec.Cmd
	envSecret          string // in the helper's environment only
	ln                 net.Listener
	addrs              []string // where the listener is reachable on the host
	mu                 sync.Mutex
	tokens             map[string]bool // received by the listener
	leakedFD           int             // inheritable, reads the planted file
}

func newHost() (*host, error) {
	h := &host{secret: "moat-audit-secret-" + randomID(), envSecret: "moat-audit-env-" + randomID(), tokens: map[string]bool{}, leakedFD: -1}
	dir := os.TempDir()
	if os.Geteuid() == 0 {
		dir = "/root" // the classic target
	}
	h.secretPath = filepath.Join(dir, "moat-audit-secret-"+randomID())
	if err := os.WriteFile(h.secretPath, []byte(h.secret), 0o600); err != nil {
		return nil, err
	}
	h.home, _ = os.UserHomeDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		h.close()
		return nil, err
	}
	h.helper = exec.Command(sleep, "600")
	h.helper.Env = []string{"MOAT_AUDIT_SECRET=" + h.envSecret}
	if err := h.helper.Start(); err != nil {
		h.close()
		return nil, err
	}
	if h.ln, err = net.Listen("tcp4", "0.0.0.0:0"); err != nil {
		h.close()
		return nil, err
	}
	go h.accept()
	h.addrs = []string{"127.0.0.1"}
	if ifs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifs {
			if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil && !ip.IP.IsLoopback() {
				h.addrs = append(h.addrs, ip.IP.String())
			}
		}
	}
	// Opened without O_CLOEXEC: inherited by whatever this process starts
	// next, unless the backend closes it.
	if h.leakedFD, err = syscall.Open(h.secretPath, syscall.O_RDONLY, 0); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

func (h *host) port() string { return strconv.Itoa(h.ln.Addr().(*net.TCPAddr).Port) }

func (h *host) accept() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			line, _ := bufio.NewReader(c).ReadString('\n')
			h.mu.Lock()
			h.tokens[strings.TrimSpace(line)] = true
			h.mu.Unlock()
		}()
	}
}

func (h *host) received(token string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tokens[token]
}

func (h *host) close() {
	if h.leakedFD >= 0 {
		syscall.Close(h.leakedFD)
	}
	if h.ln != nil {
		h.ln.Close()
	}
	if h.helper != nil && h.helper.Process != nil {
		h.helper.Process.Kill()
		h.helper.Wait()
	}
	os.Remove(h.secretPath)
}

// processesWith lists the host's processes whose command line contains
// mark (a probe's own, unique marker).
func processesWith(mark string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), mark) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// removeMarked removes path if it is a regular file that holds exactly
// mark (what a probe wrote), and says whether it was there.
func removeMarked(path, mark string) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > 1024 {
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != mark {
		return false
	}
	os.Remove(path)
	return true
}
