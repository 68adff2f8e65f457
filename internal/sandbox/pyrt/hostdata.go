package pyrt

import (
	"os"
	"syscall"
)

// hostDataFiles are files of the host's /etc that hold public data which
// every Debian machine and CI runner has, and which the standard library
// and common packages read: the service and protocol names
// (socket.getservbyname, getprotobyname: netbase's).
var hostDataFiles = []string{"/etc/services", "/etc/protocols"}

// CABundle is the host's store of trusted CA certificates, where Debian's
// OpenSSL (ssl.create_default_context), its certifi and its pip's look.
const CABundle = "/etc/ssl/certs/ca-certificates.crt"

// opensslCert is where Debian's OpenSSL (OPENSSLDIR /usr/lib/ssl) looks
// for its CA file, a link to CABundle. An interpreter that links the
// system's libssl but lives elsewhere (pyenv's) has no /usr/lib/ssl bound:
// Resolve records the link, so that OpenSSL's own path reaches the bundle
// in the sandbox (the host's under no network or an allow list, the
// run's CA under the sinkhole, which egress.WriteCA puts at CABundle).
const opensslCert = "/usr/lib/ssl/cert.pem"

// HostData returns the files of hostDataFiles, and with ca the host's
// CABundle, that a sandbox binds read-only at the same place, so that a
// test suite finds what a CI runner has: the ones present as regular files
// (not links: the sandbox binds the file itself, never where a link would
// lead), owned by root and writable by root alone. The CA bundle is left
// out of a sinkhole's run, whose store holds the run's own CA instead
// (egress.WriteCA): nothing of the host's is then trusted.
func HostData(ca bool) []string {
	names := hostDataFiles
	if ca {
		names = append(names[:len(names):len(names)], CABundle)
	}
	var files []string
	for _, p := range names {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != 0 {
			continue
		}
		files = append(files, p)
	}
	return files
}
