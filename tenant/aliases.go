package tenant

import (
	"net/netip"
	"strings"

	"github.com/callscope/callscope"
)

// AliasKey returns the canonical form of an alias address: an IP
// ("10.0.0.1", "2001:db8::1") or IP:port ("10.0.0.1:5060",
// "[2001:db8::1]:5060"), IPv4-mapped IPv6 unmapped, as the ladder matches
// it. Returns an Invalid error on the field "address" for anything else.
func AliasKey(addr string) (string, error) {
	s := strings.TrimSpace(addr)
	// HEP carries no IPv6 zone, so an alias with one would name nothing.
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String(), nil
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil && ip.Zone() == "" {
		return ip.Unmap().String(), nil
	}
	return "", callscope.FieldError("address", "%q is not an IP or IP:port such as 10.0.0.1 or 10.0.0.1:5060", addr)
}

// DeleteAlias removes every key of a that means key and reports whether
// there was one. Aliases saved from the console keep the spelling typed
// there ("::ffff:10.0.0.1"), so keys are compared in canonical form.
func DeleteAlias(a map[string]string, key string) bool {
	found := false
	for k := range a {
		if c, err := AliasKey(k); err == nil && c == key {
			delete(a, k)
			found = true
		}
	}
	return found
}
