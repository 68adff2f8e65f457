package egress

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Public is the run's face on the internet, as the sinkhole tells it to a
// program that asks a "what is my IP" or geolocation service (ipinfo.io,
// ip-api.com, ipify, ifconfig.io/.me, icanhazip, ...): a home or office
// line of an ordinary access ISP, drawn per run. Malware asks before it
// acts (a stealer that quits on a Google or hosting ISP, a beacon that
// sends its victim's address): an empty answer ended it early.
//
// Invariant: no ISP, organisation or host name here is a cloud provider,
// a hosting company or a sandbox or security vendor, and none says moat.
// Every service of one run tells the same address and place.
type Public struct {
	IP       netip.Addr
	Hostname string // its reverse name, "" where the ISP has none
	geo
}

// geo is one access ISP in one city, with an address block it announces.
type geo struct {
	prefix                    netip.Prefix
	City, Region, RegionCode  string
	Country, CountryCode      string
	Postal, Timezone          string
	Lat, Lon                  float64
	ISP, Org, AS              string // ip-api's isp, org and as
	ipinfoOrg, ipapiOrg, host string // host: the reverse name's format (%s: the address)
}

// geos are the ISPs a run's Public is drawn from.
var geos = []geo{
	{netip.MustParsePrefix("73.14.0.0/15"), "Denver", "Colorado", "CO", "United States", "US", "80202", "America/Denver", 39.7392, -104.9847,
		"Comcast Cable Communications, LLC", "Comcast Cable Communications, Inc.", "AS7922 Comcast Cable Communications, LLC",
		"AS7922 Comcast Cable Communications, LLC", "COMCAST-7922", "c-%s.hsd1.co.comcast.net"},
	{netip.MustParsePrefix("70.112.0.0/14"), "Austin", "Texas", "TX", "United States", "US", "78701", "America/Chicago", 30.2672, -97.7431,
		"Charter Communications", "Spectrum", "AS11427 Charter Communications Inc",
		"AS11427 Charter Communications Inc", "TWC-11427-TEXAS", "cpe-%s.austin.res.rr.com"},
	{netip.MustParsePrefix("108.46.0.0/16"), "New York", "New York", "NY", "United States", "US", "10001", "America/New_York", 40.7506, -73.9972,
		"Verizon Business", "MCI Communications Services, Inc. d/b/a Verizon Business", "AS701 Verizon Business",
		"AS701 Verizon Business", "UUNET", "pool-%s.nycmny.fios.verizon.net"},
	{netip.MustParsePrefix("99.100.0.0/14"), "Atlanta", "Georgia", "GA", "United States", "US", "30303", "America/New_York", 33.7490, -84.3880,
		"AT&T Services, Inc.", "AT&T Corp", "AS7018 AT&T Services, Inc.",
		"AS7018 AT&T Services, Inc.", "ATT-INTERNET4", "%s.lightspeed.atlnga.sbcglobal.net"},
	{netip.MustParsePrefix("79.192.0.0/12"), "Berlin", "Land Berlin", "BE", "Germany", "DE", "10115", "Europe/Berlin", 52.5200, 13.4050,
		"Deutsche Telekom AG", "Deutsche Telekom AG", "AS3320 Deutsche Telekom AG",
		"AS3320 Deutsche Telekom AG", "DTAG", ""},
	{netip.MustParsePrefix("86.128.0.0/11"), "London", "England", "ENG", "United Kingdom", "GB", "EC1A", "Europe/London", 51.5085, -0.1257,
		"British Telecommunications PLC", "BT Public Internet Service", "AS2856 British Telecommunications PLC",
		"AS2856 British Telecommunications PLC", "BT-UK-AS", "host%s.range86-128.btcentralplus.com"},
	{netip.MustParsePrefix("90.0.0.0/11"), "Paris", "Île-de-France", "IDF", "France", "FR", "75001", "Europe/Paris", 48.8534, 2.3488,
		"Orange S.A.", "Orange", "AS3215 Orange S.A.",
		"AS3215 Orange S.A.", "Orange", ""},
	{netip.MustParsePrefix("99.224.0.0/12"), "Toronto", "Ontario", "ON", "Canada", "CA", "M5H", "America/Toronto", 43.6532, -79.3832,
		"Rogers Communications Canada Inc.", "Rogers Cable Communications Inc.", "AS812 Rogers Communications Canada Inc.",
		"AS812 Rogers Communications Canada Inc.", "ROGERS-COMMUNICATIONS", ""},
}

// NewPublic draws a run's public address: an ISP and city of geos, and an
// address in its block (never its network's first or last).
func NewPublic() *Public { return NewPublicFor("") }

// NewPublicFor is NewPublic drawn from seed: one seed, one address and
// place, so every phase of one moat test (each its own sink, seeded with
// its instance's identity) is one machine on one line; "" draws afresh.
func NewPublicFor(seed string) *Public {
	var rd io.Reader = rand.Reader
	if seed != "" {
		rd = mrand.NewChaCha8(sha256.Sum256([]byte("moat public\x00" + seed)))
	}
	n, _ := rand.Int(rd, big.NewInt(int64(len(geos))))
	g := geos[n.Int64()]
	base := g.prefix.Addr().As4()
	size := uint32(1) << (32 - g.prefix.Bits())
	var r [4]byte
	_, _ = io.ReadFull(rd, r[:])
	off := 1 + binary.BigEndian.Uint32(r[:])%(size-2)
	binary.BigEndian.PutUint32(base[:], binary.BigEndian.Uint32(base[:])+off)
	ip := netip.AddrFrom4(base)
	p := &Public{IP: ip, geo: g}
	if g.host != "" {
		p.Hostname = fmt.Sprintf(g.host, strings.ReplaceAll(ip.String(), ".", "-"))
	}
	return p
}

// whatIsMyIP names the services that tell a client its public address,
// by host (www. stripped).
var whatIsMyIP = map[string]bool{
	"ipinfo.io": true, "ip-api.com": true, "api.ipify.org": true, "api64.ipify.org": true, "ipify.org": true,
	"ifconfig.io": true, "ifconfig.me": true, "ifconfig.co": true, "icanhazip.com": true, "ipv4.icanhazip.com": true,
	"checkip.amazonaws.com": true, "ident.me": true, "v4.ident.me": true, "ipecho.net": true, "myip.dnsomatic.com": true,
	"wtfismyip.com": true, "ipv4.wtfismyip.com": true, "httpbin.org": true, "ipapi.co": true, "ipwho.is": true,
	"api.myip.com": true, "ip.seeip.org": true, "api.seeip.org": true, "checkip.dyndns.org": true,
}

// answer is the service's reply to a GET of target (path and
// query) on host, or nil: not a question about the client's address
// (httpbin.org's other paths).
func (p *Public) answer(host, target string) []byte {
	path, query, _ := strings.Cut(target, "?")
	q, _ := url.ParseQuery(query)
	path = strings.TrimSuffix(path, "/")
	ip := p.IP.String()
	plain := func(s string) []byte { return response(200, "text/plain; charset=utf-8", s, nil) }
	js := func(v any, indent bool) []byte {
		var b []byte
		if indent {
			b, _ = json.MarshalIndent(v, "", "  ")
		} else {
			b, _ = json.Marshal(v)
		}
		return response(200, "application/json; charset=utf-8", string(b), nil)
	}
	switch strings.TrimPrefix(host, "www.") {
	case "ipinfo.io":
		info := p.ipinfo()
		switch path {
		case "", "/json":
			return js(info, true)
		case "/ip":
			return plain(ip)
		case "/hostname", "/city", "/region", "/country", "/loc", "/org", "/postal", "/timezone":
			var m map[string]string
			b, _ := json.Marshal(info)
			_ = json.Unmarshal(b, &m)
			if v, ok := m[path[1:]]; ok {
				return plain(v + "\n")
			}
		}
		return response(404, "application/json; charset=utf-8", `{"status":404,"error":{"title":"Wrong ip","message":"Please provide a valid IP address"}}`, nil)
	case "ip-api.com":
		return p.ipAPI(path, q)
	case "api.ipify.org", "api64.ipify.org", "ipify.org":
		if q.Get("format") == "json" {
			return js(map[string]string{"ip": ip}, false)
		}
		return plain(ip)
	case "ipapi.co":
		switch path {
		case "/ip":
			return plain(ip)
		case "/json", "":
			return js(p.ipapi(), true)
		}
		return response(404, "text/html", "Not Found\n", nil)
	case "ipwho.is":
		return js(map[string]any{"ip": ip, "success": true, "type": "IPv4", "country": p.Country, "country_code": p.CountryCode,
			"region": p.Region, "region_code": p.RegionCode, "city": p.City, "latitude": p.Lat, "longitude": p.Lon, "postal": p.Postal,
			"connection": map[string]any{"asn": p.asn(), "org": p.Org, "isp": p.ISP}, "timezone": map[string]string{"id": p.Timezone}}, false)
	case "httpbin.org":
		if path == "/ip" {
			return response(200, "application/json", "{\n  \"origin\": \""+ip+"\"\n}\n", nil)
		}
		return nil
	case "api.myip.com":
		return js(map[string]string{"ip": ip, "country": p.Country, "cc": p.CountryCode}, false)
	case "checkip.dyndns.org":
		return response(200, "text/html", "<html><head><title>Current IP Check</title></head><body>Current IP Address: "+ip+"</body></html>\r\n", nil)
	case "wtfismyip.com", "ipv4.wtfismyip.com":
		if path == "/json" {
			return js(map[string]any{"YourFuckingIPAddress": ip, "YourFuckingLocation": p.City + ", " + p.RegionCode + ", " + p.Country,
				"YourFuckingHostname": cmp.Or(p.Hostname, ip), "YourFuckingISP": p.ISP, "YourFuckingTorExit": false, "YourFuckingCountryCode": p.CountryCode}, true)
		}
		return plain(ip + "\n")
	case "ifconfig.co", "ifconfig.io", "ifconfig.me":
		switch path {
		case "/json", "/all.json":
			return js(map[string]any{"ip": ip, "ip_decimal": ipDecimal(p.IP), "country": p.Country, "country_iso": p.CountryCode,
				"region_name": p.Region, "city": p.City, "zip_code": p.Postal, "latitude": p.Lat, "longitude": p.Lon,
				"time_zone": p.Timezone, "asn": "AS" + strconv.Itoa(p.asn()), "asn_org": p.ISP, "hostname": p.Hostname}, false)
		case "/country":
			return plain(p.Country + "\n")
		case "/country_code", "/country-iso":
			return plain(p.CountryCode + "\n")
		case "/city":
			return plain(p.City + "\n")
		case "/asn":
			return plain("AS" + strconv.Itoa(p.asn()) + "\n")
		}
		return plain(ip + "\n")
	case "ident.me", "v4.ident.me", "ipecho.net", "myip.dnsomatic.com", "ip.seeip.org", "api.seeip.org":
		return plain(ip)
	}
	return plain(ip + "\n") // icanhazip, checkip.amazonaws.com
}

// ipinfoAnswer is ipinfo.io's JSON, in its order.
type ipinfoAnswer struct {
	IP       string `json:"ip"`
	Hostname string `json:"hostname,omitempty"`
	City     string `json:"city"`
	Region   string `json:"region"`
	Country  string `json:"country"`
	Loc      string `json:"loc"`
	Org      string `json:"org"`
	Postal   string `json:"postal"`
	Timezone string `json:"timezone"`
	Readme   string `json:"readme"`
}

func (p *Public) ipinfo() ipinfoAnswer {
	return ipinfoAnswer{IP: p.IP.String(), Hostname: p.Hostname, City: p.City, Region: p.Region, Country: p.CountryCode,
		Loc: fmt.Sprintf("%.4f,%.4f", p.Lat, p.Lon), Org: p.ipinfoOrg, Postal: p.Postal, Timezone: p.Timezone,
		Readme: "https://ipinfo.io/missingauth"}
}

func (p *Public) ipapi() map[string]any {
	return map[string]any{"ip": p.IP.String(), "version": "IPv4", "city": p.City, "region": p.Region, "region_code": p.RegionCode,
		"country": p.CountryCode, "country_name": p.Country, "country_code": p.CountryCode, "postal": p.Postal,
		"latitude": p.Lat, "longitude": p.Lon, "timezone": p.Timezone, "asn": "AS" + strconv.Itoa(p.asn()), "org": p.ipapiOrg}
}

// ipAPIFields are ip-api.com's fields in its own order, and the ones it
// gives when the request names none.
var (
	ipAPIFields  = []string{"status", "message", "continent", "continentCode", "country", "countryCode", "region", "regionName", "city", "district", "zip", "lat", "lon", "timezone", "offset", "currency", "isp", "org", "as", "asname", "reverse", "mobile", "proxy", "hosting", "query"}
	ipAPIDefault = []string{"status", "country", "countryCode", "region", "regionName", "city", "zip", "lat", "lon", "timezone", "isp", "org", "as", "query"}
)

// ipAPI answers ip-api.com's /json, /line and /csv (its free API is plain
// HTTP), with the fields the request names, in the order it names them
// (what a script that unpacks the lines expects), or the default ones.
func (p *Public) ipAPI(path string, q url.Values) []byte {
	format, target, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if target != "" && target != p.IP.String() {
		return nil // a question about another address: not the client's own
	}
	vals := map[string]any{"status": "success", "continent": continent(p.CountryCode), "continentCode": continentCode(p.CountryCode),
		"country": p.Country, "countryCode": p.CountryCode, "region": p.RegionCode, "regionName": p.Region, "city": p.City,
		"district": "", "zip": p.Postal, "lat": p.Lat, "lon": p.Lon, "timezone": p.Timezone, "offset": 0, "currency": "",
		"isp": p.ISP, "org": p.Org, "as": p.AS, "asname": strings.Fields(p.ipapiOrg)[0], "reverse": p.Hostname,
		"mobile": false, "proxy": false, "hosting": false, "query": p.IP.String()}
	fields := ipAPIDefault
	if f := q.Get("fields"); f != "" {
		if _, err := strconv.Atoi(f); err != nil { // a number is a bit mask: the defaults will do
			fields = nil
			for _, name := range strings.Split(f, ",") {
				if _, ok := vals[strings.TrimSpace(name)]; ok {
					fields = append(fields, strings.TrimSpace(name))
				}
			}
		}
	}
	switch format {
	case "json", "":
		var b strings.Builder
		b.WriteByte('{')
		for i, f := range fields {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(f)
			v, _ := json.Marshal(vals[f])
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
		return response(200, "application/json; charset=utf-8", b.String(), nil)
	case "line", "csv":
		var out []string
		for _, f := range fields {
			s := fmt.Sprint(vals[f])
			if format == "csv" && strings.ContainsAny(s, ",\"") {
				s = `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
			}
			out = append(out, s)
		}
		if format == "line" {
			return response(200, "text/plain; charset=utf-8", strings.Join(out, "\n")+"\n", nil)
		}
		return response(200, "text/plain; charset=utf-8", strings.Join(out, ",")+"\n", nil)
	}
	return response(404, "text/plain; charset=utf-8", "404 page not found\n", nil)
}

func (p *Public) asn() int {
	n, _ := strconv.Atoi(strings.TrimPrefix(strings.Fields(p.AS)[0], "AS"))
	return n
}

func continent(cc string) string {
	if continentCode(cc) == "EU" {
		return "Europe"
	}
	return "North America"
}

func continentCode(cc string) string {
	switch cc {
	case "US", "CA":
		return "NA"
	}
	return "EU"
}

func ipDecimal(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}
