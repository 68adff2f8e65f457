package egress

import (
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/moat-sandbox/moat"
)

// packQuery packs a query for name of type t, with extra additional records.
func packQuery(t *testing.T, name string, qt dnsmessage.Type, extra ...dnsmessage.Resource) []byte {
	t.Helper()
	m := dnsmessage.Message{Header: dnsmessage.Header{ID: 7, RecursionDesired: true},
		Questions:   []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: qt, Class: dnsmessage.ClassINET}},
		Additionals: extra}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func opt(options ...dnsmessage.Option) dnsmessage.Resource {
	return dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("."), Type: dnsmessage.TypeOPT, Class: 1232},
		Body: &dnsmessage.OPTResource{Options: options}}
}

// TestResolverTypes: a query of every type is answered (NOERROR, its
// question echoed, so a client goes on to its next) and recorded with
// its name and type; an EDNS option's bytes are kept however few (before,
// up to 48 bytes past the question went unrecorded: a secret 20 bytes an
// option, a query each, was never seen), a bare OPT record (glibc's, Go's)
// adds nothing.
func TestResolverTypes(t *testing.T) {
	cfg, err := FromNetwork(moat.NetworkSinkhole)
	if err != nil {
		t.Fatal(err)
	}
	var evs []moat.Event
	r := NewResolver(cfg, NewRecorder(func(ev moat.Event) { evs = append(evs, ev) }))
	for _, qt := range []dnsmessage.Type{dnsmessage.TypeTXT, dnsmessage.TypeMX, dnsmessage.TypeAAAA, dnsmessage.TypeCNAME,
		dnsmessage.Type(10), dnsmessage.TypeALL, dnsmessage.TypeSRV, dnsmessage.TypeA} {
		evs = nil
		name := "6768705f41.b.cdn-assets.net."
		resp := r.Answer(packQuery(t, name, qt, opt()), "127.0.0.53:53")
		var m dnsmessage.Message
		if err := m.Unpack(resp); err != nil || m.RCode != dnsmessage.RCodeSuccess || len(m.Questions) != 1 || m.Questions[0].Type != qt {
			t.Errorf("%v: answer %+v (%v)", qt, m, err)
		}
		if len(evs) != 1 || evs[0].Name != strings.TrimSuffix(name, ".") || !strings.Contains(evs[0].Detail, " "+typeName(qt)+" ") || evs[0].Data != "" {
			t.Errorf("%v: events %+v", qt, evs)
		}
	}
	evs = nil
	r.Answer(packQuery(t, "www.cdn-assets.net.", dnsmessage.TypeA, opt(dnsmessage.Option{Code: 65001, Data: []byte("ghp_0123456789abcdefg")})), "127.0.0.53:53")
	if len(evs) != 1 || evs[0].Data != "ghp_0123456789abcdefg" {
		t.Errorf("an EDNS option of 21 bytes: events %+v, want its bytes as data", evs)
	}
}
