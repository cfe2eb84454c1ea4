package tenant_test

import (
	"testing"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/tenant"
)

func TestAliasKey(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1":               "10.0.0.1",
		" 10.0.0.1:5060 ":        "10.0.0.1:5060",
		"::ffff:10.0.0.1":        "10.0.0.1",
		"[::ffff:10.0.0.1]:5060": "10.0.0.1:5060",
		"2001:DB8::1":            "2001:db8::1",
		"[2001:db8::1]":          "2001:db8::1",
		"[2001:db8:0::1]:5061":   "[2001:db8::1]:5061",
		"192.0.2.7:0":            "192.0.2.7:0",
	} {
		if got, err := tenant.AliasKey(in); err != nil || got != want {
			t.Errorf("AliasKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "sbc.example.com", "10.0.0.1:99999", "10.0.0.256", "10.0.0.1:", "fe80::1%eth0", "[fe80::1%eth0]:5060", "10.0.0.0/8"} {
		if _, err := tenant.AliasKey(in); !callscope.Is(err, callscope.Invalid) {
			t.Errorf("AliasKey(%q) = %v, want Invalid", in, err)
		}
	}
}
