package authdb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/callscope/callscope"
)

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	b := setupPG(t)
	plain, k := b.MustAPIKey(t, b.Acme)

	t.Run("Shape", func(t *testing.T) {
		if !strings.HasPrefix(plain, "cs_") || len(plain) != 3+43 || k.Prefix != plain[3:11] {
			t.Fatalf("key %d chars, prefix %q", len(plain), k.Prefix)
		}
		var stored []byte
		if err := b.DB.Owner().QueryRow(ctx, `SELECT hash FROM api_keys WHERE prefix = $1`, k.Prefix).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(stored), plain[3:]) || len(stored) != 32 {
			t.Fatal("the key is stored in clear")
		}
	})

	t.Run("Authenticate", func(t *testing.T) {
		got, err := b.APIKeys.AuthenticateAPIKey(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		if got.TenantID != b.Acme.ID || got.TenantSlug != "acme" || got.TenantStatus != "active" || got.IssuedBy() != "apikey:"+k.Prefix {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("LastUsedAtMostOnceAMinute", func(t *testing.T) {
		list, err := b.APIKeys.ListAPIKeys(ctx, b.Acme.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].LastUsedAt == nil {
			t.Fatalf("last_used_at not recorded: %+v", list)
		}
		first := *list[0].LastUsedAt
		if _, err := b.APIKeys.AuthenticateAPIKey(ctx, plain); err != nil {
			t.Fatal(err)
		}
		list, _ = b.APIKeys.ListAPIKeys(ctx, b.Acme.ID)
		if !list[0].LastUsedAt.Equal(first) {
			t.Errorf("last_used_at rewritten within a minute: %v then %v", first, *list[0].LastUsedAt)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		// Same prefix, different secret: found by prefix, refused by hash.
		forged := plain[:11] + strings.Repeat("A", len(plain)-12) + "A"
		for name, key := range map[string]string{
			"Empty": "", "NoMarker": plain[3:], "Short": plain[:20], "SamePrefixOtherSecret": forged,
			"Unknown": "cs_" + strings.Repeat("B", 43), "Trailing": plain + "x",
		} {
			_, err := b.APIKeys.AuthenticateAPIKey(ctx, key)
			if !callscope.Is(err, callscope.Unauthorized) {
				t.Errorf("%s: %v, want Unauthorized", name, err)
			}
			if err != nil && len(key) > 8 && strings.Contains(err.Error(), key[3:]) {
				t.Errorf("%s: error repeats the key", name)
			}
		}
	})

	t.Run("OtherTenantCannotRevoke", func(t *testing.T) {
		if err := b.APIKeys.RevokeAPIKey(ctx, b.Beta.ID, k.Prefix); !callscope.Is(err, callscope.NotFound) {
			t.Fatalf("beta revoking acme's key: %v, want NotFound", err)
		}
		if list, _ := b.APIKeys.ListAPIKeys(ctx, b.Beta.ID); len(list) != 0 {
			t.Fatalf("beta lists acme's keys: %+v", list)
		}
	})

	t.Run("Revoke", func(t *testing.T) {
		if err := b.APIKeys.RevokeAPIKey(ctx, b.Acme.ID, k.Prefix); err != nil {
			t.Fatal(err)
		}
		if err := b.APIKeys.RevokeAPIKey(ctx, b.Acme.ID, k.Prefix); err != nil {
			t.Fatalf("revoking twice: %v", err)
		}
		if _, err := b.APIKeys.AuthenticateAPIKey(ctx, plain); !callscope.Is(err, callscope.Unauthorized) {
			t.Fatalf("revoked key: %v, want Unauthorized", err)
		}
		list, _ := b.APIKeys.ListAPIKeys(ctx, b.Acme.ID)
		if len(list) != 1 || list[0].RevokedAt == nil {
			t.Fatalf("list after revoke: %+v", list)
		}
	})

	t.Run("BadName", func(t *testing.T) {
		_, _, err := b.APIKeys.CreateAPIKey(ctx, b.Acme.ID, "bad\nname")
		if !callscope.Is(err, callscope.Invalid) {
			t.Fatalf("control characters in name: %v", err)
		}
	})
}
