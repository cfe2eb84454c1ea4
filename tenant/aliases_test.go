package tenant_test

import (
	"context"
	"maps"
	"sync"
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

func TestSetAndRemoveAlias(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	acme := mustCreate(t, b.store, "acme")
	globex := mustCreate(t, b.store, "globex")
	aliases := func(id int64) map[string]string {
		t.Helper()
		tn, err := b.store.ByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return tn.Aliases
	}

	t.Run("SetReplacesEverySpelling", func(t *testing.T) {
		// The console keeps keys as typed; the CLI's canonical key replaces them.
		if _, err := b.store.Update(ctx, acme.ID, tenant.Update{Aliases: map[string]string{"::ffff:10.0.0.1": "old", "10.0.0.2": "B"}}); err != nil {
			t.Fatal(err)
		}
		key, err := b.store.SetAlias(ctx, acme.ID, "10.0.0.1", "  PBX  ")
		if err != nil || key != "10.0.0.1" {
			t.Fatalf("SetAlias = %q, %v", key, err)
		}
		if got := aliases(acme.ID); !maps.Equal(got, map[string]string{"10.0.0.1": "PBX", "10.0.0.2": "B"}) {
			t.Fatalf("aliases %v", got)
		}
	})
	t.Run("Remove", func(t *testing.T) {
		if err := b.store.RemoveAlias(ctx, acme.ID, "::ffff:10.0.0.2"); err != nil {
			t.Fatal(err)
		}
		if got := aliases(acme.ID); !maps.Equal(got, map[string]string{"10.0.0.1": "PBX"}) {
			t.Fatalf("aliases %v", got)
		}
		if err := b.store.RemoveAlias(ctx, acme.ID, "10.0.0.2"); !callscope.Is(err, callscope.NotFound) {
			t.Fatalf("removing an absent alias: %v", err)
		}
	})
	t.Run("Refusals", func(t *testing.T) {
		for _, c := range []struct{ addr, name, field string }{
			{"sbc.example.com", "SBC", "address"},
			{"10.0.0.9", "", "name"},
			{"10.0.0.9", "tab\there", "name"},
			{"10.0.0.9", string(make([]byte, 65)), "name"},
		} {
			_, err := b.store.SetAlias(ctx, acme.ID, c.addr, c.name)
			if field, _ := callscope.Public(err); !callscope.Is(err, callscope.Invalid) || field != c.field {
				t.Errorf("SetAlias(%q, %q) = %v, want Invalid on %s", c.addr, c.name, err, c.field)
			}
		}
		if _, err := b.store.SetAlias(ctx, 1<<40, "10.0.0.9", "x"); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("unknown tenant: %v", err)
		}
	})
	t.Run("OtherTenant", func(t *testing.T) {
		if got := aliases(globex.ID); len(got) != 0 {
			t.Fatalf("globex sees aliases %v", got)
		}
		if err := b.store.RemoveAlias(ctx, globex.ID, "10.0.0.1"); !callscope.Is(err, callscope.NotFound) {
			t.Fatalf("globex removed acme's alias: %v", err)
		}
		if got := aliases(acme.ID); got["10.0.0.1"] != "PBX" {
			t.Fatalf("acme's alias gone: %v", got)
		}
	})
	t.Run("ConcurrentEditsAllLand", func(t *testing.T) {
		var wg sync.WaitGroup
		addrs := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"}
		for _, a := range addrs {
			wg.Go(func() {
				if _, err := b.store.SetAlias(ctx, acme.ID, a, "n"+a); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got := aliases(acme.ID)
		for _, a := range addrs {
			if got[a] != "n"+a {
				t.Errorf("alias of %s lost: %v", a, got)
			}
		}
	})
}

// A canonical key is its own canonical form, so two spellings of one
// address always meet, and anything accepted names an address.
func FuzzAliasKey(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0.0.1:5060", "[::ffff:10.0.0.1]:5060", "2001:db8::1", "[2001:db8::1]", "x", "[", ":0", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		key, err := tenant.AliasKey(in)
		if err != nil {
			return
		}
		again, err := tenant.AliasKey(key)
		if err != nil || again != key {
			t.Fatalf("AliasKey(%q) = %q, whose key is %q, %v", in, key, again, err)
		}
		if tenant.ValidateAliases(map[string]string{key: "n"}) != nil {
			t.Fatalf("AliasKey(%q) = %q, which ValidateAliases refuses", in, key)
		}
	})
}
