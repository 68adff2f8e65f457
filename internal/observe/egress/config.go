package egress

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// Modes of a Config.
const (
	ModeSinkhole = "sinkhole"
	ModeAllow    = "allow"
)

// Config is the network policy as the sandbox init receives it from the
// parent. The parent checks the allow list again on every dial: the copy
// inside only decides what to ask for.
type Config struct {
	Mode  string     `json:"mode"`
	Allow []Endpoint `json:"allow,omitempty"`
	// Metadata, in sinkhole mode, is what the sink serves at the instance
	// metadata address: honeytokens of the run's plan. Nil: fresh values
	// that no report looks for (the report is off).
	Metadata *honeytoken.Metadata `json:"metadata,omitempty"`
}

// Endpoint is one allowed HOST:PORT; Host is lower case, an IP literal or
// a DNS name without the trailing dot.
type Endpoint struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

func (e Endpoint) String() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// FromNetwork returns the Config of a network mode, or nil for
// moat.NetworkNone: that mode needs nothing of this package.
func FromNetwork(n moat.Network) (*Config, error) {
	if n == moat.NetworkNone {
		return nil, nil
	}
	if n == moat.NetworkSinkhole {
		return &Config{Mode: ModeSinkhole}, nil
	}
	eps, ok := n.Endpoints()
	if !ok || len(eps) == 0 {
		return nil, fmt.Errorf("network mode %q: %w", n, moat.ErrInvalidSpec)
	}
	c := &Config{Mode: ModeAllow}
	for _, s := range eps {
		host, port, err := net.SplitHostPort(s)
		p, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("network endpoint %q: want HOST:PORT: %w", s, moat.ErrInvalidSpec)
		}
		c.Allow = append(c.Allow, Endpoint{Host: normHost(host), Port: p})
	}
	return c, nil
}

// Allowed reports whether host:port is on the allow list. A sinkhole
// Config allows nothing: it never dials out.
func (c *Config) Allowed(host string, port int) bool {
	if c == nil || c.Mode != ModeAllow {
		return false
	}
	host = normHost(host)
	for _, e := range c.Allow {
		if e.Port == port && e.Host == host {
			return true
		}
	}
	return false
}

// allowedName reports whether name is the host of an allowed endpoint.
func (c *Config) allowedName(name string) bool {
	for _, e := range c.Allow {
		if e.Host == name {
			return true
		}
	}
	return false
}

// loopbacks are the loopback addresses among the allowed endpoints: the
// host's, not the sandbox's, so the init intercepts them whole.
func (c *Config) loopbacks() []netip.Addr {
	var out []netip.Addr
	for _, e := range c.Allow {
		if a, err := netip.ParseAddr(e.Host); err == nil && a.IsLoopback() {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// Describe is the detail of the run's network layer.
func (c *Config) Describe() string {
	if c == nil {
		return "none: private loopback only"
	}
	if c.Mode == ModeSinkhole {
		return "sinkhole: every name resolves to 198.18.0.0/15, every TCP/UDP flow is accepted by moat, recorded and answered harmlessly (HTTPS terminated with a CA made for the run, 169.254.169.254 answered with fake instance credentials, \"what is my IP\" services with a home ISP's address, script downloads with an inert stand-in); nothing leaves the machine"
	}
	eps := make([]string, len(c.Allow))
	for i, e := range c.Allow {
		eps[i] = e.String()
	}
	return "allow: egress only to " + strings.Join(eps, ",") + ", dialed by moat outside the sandbox; everything else refused and recorded"
}

// normHost lower-cases a name and unmaps an address. "localhost" is
// 127.0.0.1: inside, /etc/hosts answers it before any DNS, so allowing it
// must mean the host's loopback address.
func normHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" {
		return "127.0.0.1"
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String()
	}
	return h
}
