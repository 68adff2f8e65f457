package container

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat/internal/observe"
)

func TestWithEntries(t *testing.T) {
	p := Persona{observe.Persona{User: "dana", Gecos: "Dana", Home: "/home/dana"}}
	for _, c := range []struct {
		name, passwd, group, wantPasswd, wantGroup string
	}{
		{"appended", "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n", "root:x:0:\n",
			"root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\ndana:x:1000:1000:Dana:/home/dana:/bin/bash\n", "root:x:0:\ndana:x:1000:\n"},
		{"the image's uid 1000 and name replaced", "root:x:0:0::/root:/bin/sh\nubuntu:x:1000:1000::/home/ubuntu:/bin/bash\ndana:x:1001:1001::/x:/bin/sh", "ubuntu:x:1000:\ndana:x:1001:",
			"root:x:0:0::/root:/bin/sh\ndana:x:1000:1000:Dana:/home/dana:/bin/bash\n", "dana:x:1000:\n"},
		{"empty", "", "", "dana:x:1000:1000:Dana:/home/dana:/bin/bash\n", "dana:x:1000:\n"},
	} {
		pw, gr := p.WithEntries([]byte(c.passwd), []byte(c.group))
		if string(pw) != c.wantPasswd || string(gr) != c.wantGroup {
			t.Errorf("%s: passwd %q group %q, want %q %q", c.name, pw, gr, c.wantPasswd, c.wantGroup)
		}
	}
	// Bounded: a huge file of the image is cut, the persona's line kept.
	pw, _ := p.WithEntries([]byte(strings.Repeat("u:x:5:5::/:/bin/sh\n", 2*EtcMax/19)), nil)
	if len(pw) > EtcMax+100 || !strings.HasSuffix(string(pw), "dana:x:1000:1000:Dana:/home/dana:/bin/bash\n") {
		t.Errorf("a huge passwd gave %d bytes ending %q", len(pw), pw[max(0, len(pw)-60):])
	}
}
