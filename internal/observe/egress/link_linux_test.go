package egress

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// An event past one packet of the link (a flow's Data is up to MaxData)
// reaches the parent whole, in order with the events around it: sent as
// one packet, it was refused and lost, and the secret at its end with it
// (red team, issue 12: a POST behind 100 KiB of padding on native).
func TestLinkBigEvent(t *testing.T) {
	parent, child, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	var got []moat.Event
	done := make(chan int)
	go func() {
		done <- Serve(parent, &Config{}, func(ev moat.Event, _ int64) { got = append(got, ev) })
	}()
	link, err := NewLink(child)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat(`\x01<"&`, MaxData/7) + "tail-secret"
	link.Event(moat.Event{Kind: moat.KindDNS, Name: "before.example"})
	link.Event(moat.Event{Kind: moat.KindConnect, Addr: "203.0.113.9:80", Data: big})
	link.Event(moat.Event{Kind: moat.KindDNS, Name: "after.example"})
	link.Finish(3)
	link.c.Close()
	if d := <-done; d != 3 {
		t.Errorf("dropped %d", d)
	}
	if len(got) != 3 || got[0].Name != "before.example" || got[1].Data != big || got[2].Name != "after.example" {
		t.Fatalf("%d events; the big one's data %d bytes, want %d", len(got), len(got[min(1, len(got)-1)].Data), len(big))
	}
}
