package scenario

import (
	"net/netip"
	"strings"
)

// sipURI is a sip:, sips: or tel: URI cut into the parts the generator
// rewrites: sip:user@host:port;params?headers.
type sipURI struct {
	scheme, user, host, port, rest string // rest: ";params?headers" as captured
}

func parseURI(s string) (sipURI, bool) {
	scheme, after, ok := strings.Cut(s, ":")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "sip" && scheme != "sips" && scheme != "tel") {
		return sipURI{}, false
	}
	u := sipURI{scheme: scheme}
	if scheme == "tel" {
		end := strings.IndexAny(after, ";?")
		if end < 0 {
			end = len(after)
		}
		u.user, u.rest = after[:end], after[end:]
		return u, true
	}
	if at := strings.LastIndexByte(after, '@'); at >= 0 {
		u.user, after = after[:at], after[at+1:]
	}
	end := strings.IndexAny(after, ";?")
	if end < 0 {
		end = len(after)
	}
	hostport := after[:end]
	u.rest = after[end:]
	if strings.HasPrefix(hostport, "[") { // IPv6 reference
		if i := strings.IndexByte(hostport, ']'); i >= 0 {
			u.host, hostport = hostport[:i+1], hostport[i+1:]
			u.port = strings.TrimPrefix(hostport, ":")
			return u, true
		}
	}
	u.host, u.port, _ = strings.Cut(hostport, ":")
	return u, true
}

// isIP reports a host that is an IP literal rather than a domain.
func isIP(host string) bool {
	_, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return err == nil
}

// uriRule says how a URI's parts become keywords.
type uriRule struct {
	service string // a user part equal to it becomes [service]
	// ipHost replaces an IP literal host (and its port): "local",
	// "remote", or "" to keep it. localIP limits "local" to the
	// endpoint's own captured IP.
	ipHost  string
	localIP netip.Addr
	// anyHost replaces the host whatever it is (a Contact is always the
	// endpoint itself).
	anyHost bool
	// dropParams are URI parameters left out (lower case names).
	dropParams []string
	// extra is appended to the parameters, as SIPp text.
	extra string
}

// rewrite returns u as SIPp text under r.
func (u sipURI) rewrite(r uriRule) string {
	var b strings.Builder
	b.WriteString(u.scheme)
	b.WriteByte(':')
	if u.user != "" {
		if r.service != "" && u.user == r.service {
			b.WriteString("[service]")
		} else {
			b.WriteString(lit(u.user))
		}
		if u.scheme != "tel" {
			b.WriteByte('@')
		}
	}
	if u.scheme != "tel" {
		b.WriteString(u.hostText(r))
	}
	b.WriteString(dropParams(u.rest, r.dropParams))
	b.WriteString(r.extra)
	return b.String()
}

func (u sipURI) hostText(r uriRule) string {
	local := "[local_ip]:[local_port]"
	switch {
	case r.anyHost:
		return local
	case isIP(u.host) && r.ipHost == "remote":
		return "[remote_ip]:[remote_port]"
	case isIP(u.host) && r.ipHost == "local" && sameIP(u.host, r.localIP):
		return local
	}
	if u.port != "" {
		return lit(u.host + ":" + u.port)
	}
	return lit(u.host)
}

func sameIP(host string, ip netip.Addr) bool {
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return err == nil && ip.IsValid() && a.Unmap() == ip.Unmap()
}

// dropParams returns ";params?headers" as SIPp text without the named
// parameters.
func dropParams(rest string, names []string) string {
	params, headers, hasHeaders := strings.Cut(rest, "?")
	var b strings.Builder
	for _, p := range strings.Split(params, ";") {
		if p == "" {
			continue
		}
		name, _, _ := strings.Cut(p, "=")
		if containsFold(names, strings.TrimSpace(name)) {
			continue
		}
		b.WriteByte(';')
		b.WriteString(lit(p))
	}
	if hasHeaders {
		b.WriteByte('?')
		b.WriteString(lit(headers))
	}
	return b.String()
}

func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}

// nameAddr is a From, To or Contact value: a display name, the URI, and
// the header parameters after it.
type nameAddr struct {
	display string // as captured, quotes included
	uri     string
	params  string // ";tag=...;expires=..." as captured
}

// parseNameAddr cuts `"Alice" <sip:a@h>;tag=1` or `sip:a@h;tag=1`. In the
// second form the parameters belong to the header, not the URI (RFC 3261
// 20.10).
func parseNameAddr(v string) nameAddr {
	v = strings.TrimSpace(v)
	if lt := indexUnquoted(v, '<'); lt >= 0 {
		if gt := strings.IndexByte(v[lt:], '>'); gt >= 0 {
			return nameAddr{display: strings.TrimSpace(v[:lt]), uri: v[lt+1 : lt+gt], params: strings.TrimSpace(v[lt+gt+1:])}
		}
	}
	uri, params, _ := strings.Cut(v, ";")
	if params != "" {
		params = ";" + params
	}
	return nameAddr{uri: strings.TrimSpace(uri), params: params}
}

// indexUnquoted is the index of c outside double quotes, or -1.
func indexUnquoted(s string, c byte) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == c && !quoted:
			return i
		}
	}
	return -1
}

// splitUnquoted splits a header value on commas outside quotes and angle
// brackets: the contacts of one Contact line.
func splitUnquoted(s string) []string {
	var out []string
	quoted, angle, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			angle = true
		case c == '>' && !quoted:
			angle = false
		case c == ',' && !quoted && !angle:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// rewrite returns the value as SIPp text: the URI under r, the header
// parameters without tag (the caller appends the tag it wants).
func (n nameAddr) rewrite(r uriRule) string {
	var b strings.Builder
	if n.display != "" {
		b.WriteString(lit(n.display))
		b.WriteByte(' ')
	}
	b.WriteByte('<')
	if u, ok := parseURI(n.uri); ok {
		b.WriteString(u.rewrite(r))
	} else {
		b.WriteString(lit(n.uri))
	}
	b.WriteByte('>')
	b.WriteString(dropParams(n.params, []string{"tag"}))
	return b.String()
}

// param returns the value of parameter name (without quotes) in a
// comma- or semicolon-separated list such as a Digest credential.
func param(list, name string) (string, bool) {
	for _, p := range splitUnquoted(strings.ReplaceAll(list, ";", ",")) {
		p = strings.TrimSpace(p)
		if sp := strings.IndexAny(p, " \t"); sp >= 0 && !strings.Contains(p[:sp], "=") {
			p = strings.TrimSpace(p[sp:]) // "Digest username=..." : the scheme first
		}
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.Trim(strings.TrimSpace(v), `"`), true
		}
	}
	return "", false
}
