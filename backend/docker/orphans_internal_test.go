package docker

import (
	"encoding/base64"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestRuncOptions: the runtime of an orphaned record is read from its
// runc options as Docker's containerd holds them (a gVisor runtime's, as
// `ctr containers info` printed it), past fields before it, and nothing
// is read from a message that does not parse or names no root.
func TestRuncOptions(t *testing.T) {
	docker, err := base64.StdEncoding.DecodeString("Mh4vdmFyL2xpYi9kb2NrZXIvcnVudGltZXMvcnVuc2M6HC92YXIvcnVuL2RvY2tlci9ydW50aW1lLXJ1bmM=")
	if err != nil {
		t.Fatal(err)
	}
	var mixed []byte
	mixed = protowire.AppendTag(mixed, 1, protowire.VarintType)
	mixed = protowire.AppendVarint(mixed, 1)
	mixed = protowire.AppendTag(mixed, 3, protowire.BytesType)
	mixed = protowire.AppendString(mixed, "/shim.slice")
	mixed = protowire.AppendTag(mixed, 7, protowire.BytesType)
	mixed = protowire.AppendString(mixed, "/run/r")
	mixed = protowire.AppendTag(mixed, 4, protowire.VarintType)
	mixed = protowire.AppendVarint(mixed, 1000)
	mixed = protowire.AppendTag(mixed, 6, protowire.BytesType)
	mixed = protowire.AppendString(mixed, "/usr/bin/crun")
	var noRoot []byte
	noRoot = protowire.AppendTag(noRoot, 6, protowire.BytesType)
	noRoot = protowire.AppendString(noRoot, "/usr/bin/runsc")
	for _, c := range []struct {
		name      string
		msg       []byte
		bin, root string
	}{
		{"docker's runsc", docker, "/var/lib/docker/runtimes/runsc", "/var/run/docker/runtime-runc"},
		{"other fields around", mixed, "/usr/bin/crun", "/run/r"},
		{"no root", noRoot, "", ""},
		{"cut short", docker[:len(docker)-3], "", ""},
		{"not protobuf", []byte{0xff, 0xff, 0xff}, "", ""},
		{"empty", nil, "", ""},
	} {
		bin, root := runcOptions(c.msg)
		if bin != c.bin || root != c.root {
			t.Errorf("%s: (%q, %q), want (%q, %q)", c.name, bin, root, c.bin, c.root)
		}
	}
}
