package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/redisdb/redistest"
	"github.com/callscope/callscope/tenant"
)

const cliSecret = "cli-test-secret-0123456789abcdef0123"

// newAuthCLI is a cli with a secret key, a public URL and Redis, and a
// tenant whose random slug keeps its Redis keys (under the shared
// auth.DefaultRedisPrefix) apart from every other test's.
func newAuthCLI(t *testing.T) (*cli, string) {
	c := newCLI(t)
	rdb, _ := redistest.New(t)
	c.env["CALLSCOPE_REDIS_URL"] = redistest.URL()
	c.env["CALLSCOPE_PUBLIC_URL"] = "https://view.example.com"
	b := make([]byte, 4)
	rand.Read(b)
	slug := "cli-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, auth.DefaultRedisPrefix+"*{"+slug+"}*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	c.mustRun("tenant", "create", slug)
	return c, slug
}

func TestKeyCommands(t *testing.T) {
	c, slug := newAuthCLI(t)

	out := c.mustRun("key", "add", slug, "--jwk", "../../auth/testdata/jwk/ed25519_public.json")
	if !strings.Contains(out, "EdDSA key tenant-ed-1") {
		t.Errorf("key add: %s", out)
	}
	for _, file := range []string{"ed25519_private.json", "oct.json", "rsa_public.json"} {
		if out, err := c.run("", "key", "add", slug, "--jwk", "../../auth/testdata/jwk/"+file); err == nil {
			t.Errorf("key add %s accepted: %s", file, out)
		}
	}
	if _, err := c.run("", "key", "add", slug); err == nil || exitCode(err) != 2 {
		t.Errorf("key add without --jwk: %v", err)
	}
	if out := c.mustRun("key", "list", slug); !regexp.MustCompile(`tenant-ed-1\s+EdDSA\s+yes`).MatchString(out) {
		t.Errorf("key list: %s", out)
	}
	c.mustRun("key", "disable", slug, "tenant-ed-1")
	if out := c.mustRun("key", "list", slug); !regexp.MustCompile(`tenant-ed-1\s+EdDSA\s+no`).MatchString(out) {
		t.Errorf("key list after disable: %s", out)
	}

	t.Run("RotateNeedsSecret", func(t *testing.T) {
		out, err := c.run("", "key", "rotate")
		if err == nil || !strings.Contains(err.Error(), "CALLSCOPE_SECRET_KEY") {
			t.Fatalf("rotate without a secret: %v %s", err, out)
		}
	})
	t.Run("RotateAndRetire", func(t *testing.T) {
		c.env["CALLSCOPE_SECRET_KEY"] = cliSecret
		defer delete(c.env, "CALLSCOPE_SECRET_KEY")
		first := c.mustRun("key", "rotate")
		second := c.mustRun("key", "rotate")
		kid := regexp.MustCompile(`signing key (\S+) signs`).FindStringSubmatch(first)
		if kid == nil || strings.Contains(second, kid[1]) {
			t.Fatalf("rotate: %s / %s", first, second)
		}
		list := c.mustRun("key", "list")
		if strings.Count(list, "signs") != 1 || !regexp.MustCompile(regexp.QuoteMeta(kid[1])+`\s+verifies`).MatchString(list) {
			t.Fatalf("server key list: %s", list)
		}
		c.mustRun("key", "retire", kid[1]) // a kid that starts with a dash is still the KID
		if list := c.mustRun("key", "list"); !regexp.MustCompile(regexp.QuoteMeta(kid[1]) + `\s+retired`).MatchString(list) {
			t.Fatalf("after retire: %s", list)
		}
	})
}

func TestAPIKeyCommands(t *testing.T) {
	c, slug := newAuthCLI(t)
	out := c.mustRun("apikey", "create", slug, "--name", "orchestrator")
	key := regexp.MustCompile(`cs_[A-Za-z0-9_-]{43}`).FindString(out)
	if key == "" {
		t.Fatalf("apikey create printed no key: %s", out)
	}
	list := c.mustRun("apikey", "list", slug)
	if !strings.Contains(list, key[3:11]) || !strings.Contains(list, "orchestrator") || strings.Contains(list, key[11:]) {
		t.Fatalf("apikey list: %s", list)
	}
	c.mustRun("apikey", "revoke", slug, key[3:11])
	for _, line := range strings.Split(c.mustRun("apikey", "list", slug), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == key[3:11] && f[len(f)-1] == "-" {
			t.Fatalf("apikey list after revoke shows no revocation time: %s", line)
		}
	}
	if _, err := c.run("", "apikey", "revoke", slug, "nope"); err == nil || err.Error() != slug+` has no API key with prefix "nope" (callscope apikey list `+slug+` shows them)` {
		t.Fatalf("revoking an unknown prefix: %v", err)
	}
	// A whole key pasted names its prefix.
	c.mustRun("apikey", "revoke", slug, key)
}

func TestTokenCommands(t *testing.T) {
	c, slug := newAuthCLI(t)
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	to := time.Now().UTC().Format(time.RFC3339)

	if out, err := c.run("", "token", "mint", slug, "c1@x", "--from", from, "--to", to); err == nil || !strings.Contains(err.Error(), "CALLSCOPE_SECRET_KEY") {
		t.Fatalf("mint without a secret: %v %s", err, out)
	}
	c.env["CALLSCOPE_SECRET_KEY"] = cliSecret

	out := c.mustRun("token", "mint", slug, "c1@x", "--from", from, "--to", to, "--ttl", "5m", "--scope", "pcap")
	url := regexp.MustCompile(`https://view\.example\.com/v/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)`).FindStringSubmatch(out)
	jti := regexp.MustCompile(`jti (\S+),`).FindStringSubmatch(out)
	if url == nil || jti == nil {
		t.Fatalf("token mint: %s", out)
	}
	verifyToken(t, c.env["CALLSCOPE_DATABASE_URL"], url[1], slug)
	if list := c.mustRun("token", "list", slug); !strings.Contains(list, jti[1]) || !strings.Contains(list, "cli") {
		t.Fatalf("token list: %s", list)
	}
	for name, args := range map[string][]string{
		"TTLTooLong":   {"--from", from, "--to", to, "--ttl", "2h"},
		"WindowBack":   {"--from", to, "--to", from},
		"NotRFC3339":   {"--from", "yesterday", "--to", to},
		"UnknownScope": {"--from", from, "--to", to, "--scope", "admin"},
	} {
		if out, err := c.run("", append([]string{"token", "mint", slug, "c1@x"}, args...)...); err == nil {
			t.Errorf("%s: minted %s", name, out)
		}
	}

	c.mustRun("token", "revoke", slug, jti[1])
	if list := c.mustRun("token", "list", slug); strings.Contains(list, jti[1]) {
		t.Errorf("revoked token still listed as live: %s", list)
	}
	if _, err := c.run("", "token", "revoke", slug, "no-such-jti"); err == nil || !strings.Contains(err.Error(), slug+` has no token with jti "no-such-jti"`) {
		t.Errorf("revoking an unknown jti: %v", err)
	}
	c.mustRun("token", "mint", slug, "c2@x", "--from", from, "--to", to)
	if out := c.mustRun("token", "revoke-all", slug); !strings.Contains(out, "revoked every token of "+slug) {
		t.Errorf("revoke-all: %s", out)
	}
	if list := c.mustRun("token", "list", slug); strings.Count(list, "\n") != 1 {
		t.Errorf("live tokens after revoke-all: %s", list)
	}
}

// verifyToken checks a CLI-minted link the way the query role will: the
// Verifier over the PostgreSQL key store and tenant status, and Redis.
func verifyToken(t *testing.T, dbURL, tok, slug string) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, dbURL, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rdb, prefix := redistest.New(t)
	ts := tenant.NewStore(d)
	v := &auth.Verifier{
		Keys:        auth.Resolver{Server: auth.NewKeyStore(d, nil), Tenants: auth.NewTenantKeys(d, ts)},
		Tenants:     auth.NewTenantStatus(ts, 0),
		Revocations: auth.NewRevocations(rdb, prefix, nil),
	}
	c, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("CLI-minted token refused: %v", err)
	}
	if c.Tenant != slug || c.CallID != "c1@x" || !c.HasScope("pcap") || c.Expiry.Sub(c.IssuedAt) != 5*time.Minute {
		t.Fatalf("claims %+v", c)
	}
}

// Users paste jtis from other systems, and a tenant-signed token's jti is
// whatever the tenant chose: one that starts with a dash is still the JTI.
func TestTokenRevokeDashJTI(t *testing.T) {
	c, slug := newAuthCLI(t)
	ctx := context.Background()
	d := dbtest.Open(t, c.env["CALLSCOPE_DATABASE_URL"])
	for _, jti := range []string{"-abc", "--x3f-", "-"} {
		_, err := d.Owner().Exec(ctx, `INSERT INTO view_tokens (tenant_id, jti, call_id, window_start, window_end, issued_at, expires_at, issued_by)
			SELECT id, $2, 'c1@x', now() - interval '1 hour', now(), now(), now() + interval '10 minutes', 'tenant' FROM tenants WHERE slug = $1`, slug, jti)
		if err != nil {
			t.Fatal(err)
		}
		if out := c.mustRun("token", "revoke", slug, jti); !strings.Contains(out, "revoked token "+jti+" of "+slug) {
			t.Errorf("revoke %s: %s", jti, out)
		}
	}
	if list := c.mustRun("token", "list", slug); strings.Count(list, "\n") != 1 {
		t.Errorf("live tokens after revoking them all: %s", list)
	}
	// A flag of the command is still a flag, and a dash argument where no
	// free text is expected is a mistyped flag.
	if _, err := c.run("", "token", "revoke", slug, "-abc", "--redis-prefix"); err == nil || !strings.Contains(err.Error(), "--redis-prefix needs a value") {
		t.Errorf("a flag after the jti: %v", err)
	}
	if _, err := c.run("", "token", "revoke", "-abc", slug); err == nil || !strings.Contains(err.Error(), "unknown flag -abc") {
		t.Errorf("a dash argument as SLUG: %v", err)
	}
}
