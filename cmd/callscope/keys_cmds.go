package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/redisdb"
	"github.com/callscope/callscope/tenant"
)

// secretFlag registers --secret-key and returns a Sealer builder for after
// Parse that explains what to do when the secret is missing.
func secretFlag(fs *flag.FlagSet, e env) func() (*auth.Sealer, error) {
	var secret string
	stringFlag(fs, e.getenv, &secret, sSecretKey)
	return func() (*auth.Sealer, error) {
		if secret == "" {
			return nil, errors.New("CALLSCOPE_SECRET_KEY (or --secret-key) is required: it encrypts the server's signing keys (at least 32 characters; try: openssl rand -hex 32)")
		}
		return auth.NewSealer(secret)
	}
}

// withTenant opens the database and resolves slug.
func withTenant(ctx context.Context, open func(context.Context) (*db.DB, error), slug string, fn func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error) error {
	return withDB(ctx, open, func(d *db.DB) error {
		ts := tenant.NewStore(d)
		t, err := ts.BySlug(ctx, slug)
		if err != nil {
			return err
		}
		return fn(d, ts, t)
	})
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func keyCommands() []command {
	return []command{
		{name: "add", args: "SLUG", summary: "register a tenant's public key (Ed25519 or P-256 JWK) for the tokens it signs itself", run: keyAdd},
		{name: "list", args: "[SLUG]", summary: "list a tenant's public keys, or without SLUG the server's signing keys", run: keyList},
		{name: "disable", args: "SLUG KID", summary: "stop accepting tokens signed with a tenant's key", run: keyDisable},
		{name: "rotate", summary: "make a new server signing key; older ones keep verifying until retired", run: keyRotate},
		{name: "retire", args: "KID", summary: "retire a server signing key: tokens it signed are refused", run: keyRetire},
	}
}

func keyAdd(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	var jwkFile string
	c.fs.StringVar(&jwkFile, "jwk", "", "`FILE` holding the tenant's public JWK (Ed25519 or P-256); - for standard input (required)")
	pos, err := c.parse()
	if err != nil {
		return err
	}
	if jwkFile == "" {
		return c.required("jwk", "the file of the tenant's public key, a JWK (- reads standard input)")
	}
	data, err := readSmallFile(c.env, c.source("jwk"), jwkFile)
	if err != nil {
		return err
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
		k, err := auth.NewTenantKeys(d, ts).AddTenantKey(ctx, t.ID, data)
		if err != nil {
			return err
		}
		if err := audited(ctx, d, adminaudit.TenantKeyAdd, t.ID, k.KID, k.Alg); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "registered %s key %s for %s: tokens it signs must say \"iss\":%q and \"tid\":%q\n", k.Alg, k.KID, t.Slug, t.Slug, t.Slug)
		return nil
	})
}

func keyList(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
			keys, err := auth.NewTenantKeys(d, ts).ListTenantKeys(ctx, t.ID)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KID\tALG\tENABLED\tCREATED")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k.KID, k.Alg, yesNo(k.Enabled, "yes", "no"), k.CreatedAt.UTC().Format(time.RFC3339))
			}
			return w.Flush()
		})
	}
	return withDB(ctx, open, func(d *db.DB) error {
		keys, err := auth.NewKeyStore(d, nil).List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SERVER KID\tSTATE\tCREATED\tRETIRED")
		for _, k := range keys {
			state := "verifies"
			switch {
			case k.Active:
				state = "signs"
			case k.RetiredAt != nil:
				state = "retired"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k.KID, state, k.CreatedAt.UTC().Format(time.RFC3339), fmtTime(k.RetiredAt))
		}
		return w.Flush()
	})
}

func keyDisable(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
		if err := auth.NewTenantKeys(d, ts).DisableTenantKey(ctx, t.ID, pos[1]); err != nil {
			return inTenant(t, err)
		}
		if err := audited(ctx, d, adminaudit.TenantKeyDisable, t.ID, pos[1], ""); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "disabled key %s of %s (replicas stop accepting it within %s)\n", pos[1], t.Slug, auth.DefaultKeyCacheTTL)
		return nil
	})
}

func keyRotate(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	sealer := secretFlag(c.fs, c.env)
	if _, err := c.parse(); err != nil {
		return err
	}
	s, err := sealer()
	if err != nil {
		return err
	}
	return withDB(ctx, open, func(d *db.DB) error {
		k, err := auth.NewKeyStore(d, s).Rotate(ctx)
		if err != nil {
			return err
		}
		if err := audited(ctx, d, adminaudit.SigningKeyRotate, 0, k.KID, ""); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "new signing key %s signs from now on (replicas switch within %s); older keys keep verifying until `callscope key retire KID`\n", k.KID, auth.DefaultKeyCacheTTL)
		return nil
	})
}

func keyRetire(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	return withDB(ctx, open, func(d *db.DB) error {
		if err := auth.NewKeyStore(d, nil).Retire(ctx, pos[0]); err != nil {
			return err
		}
		if err := audited(ctx, d, adminaudit.SigningKeyRetire, 0, pos[0], ""); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "retired signing key %s: tokens it signed are refused from now on\n", pos[0])
		return nil
	})
}

// inTenant puts the tenant's slug before a NotFound error of one of its
// rows, which the stores word without naming the tenant.
func inTenant(t tenant.Tenant, err error) error {
	if callscope.Is(err, callscope.NotFound) {
		_, msg := callscope.Public(err)
		return callscope.Errorf(callscope.NotFound, "%s: %s", t.Slug, msg)
	}
	return err
}

// readSmallFile reads a JWK from path or standard input ("-"), refusing
// anything far larger than a key.
func readSmallFile(e env, flagName, path string) ([]byte, error) {
	var r io.Reader = e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flagName, err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	return data, nil
}

func apiKeyCommands() []command {
	return []command{
		{name: "create", args: "SLUG", summary: "create an API key for a tenant's orchestrator; it is printed once", run: apiKeyCreate},
		{name: "list", args: "SLUG", summary: "list a tenant's API keys", run: apiKeyList},
		{name: "revoke", args: "SLUG PREFIX", summary: "revoke an API key, named by its prefix (the 8 characters after cs_) or the whole key", run: apiKeyRevoke},
	}
}

func apiKeyCreate(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	var name string
	c.fs.StringVar(&name, "name", "", "`NAME` saying what the key is for, shown in listings")
	pos, err := c.parse()
	if err != nil {
		return err
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, _ *tenant.Store, t tenant.Tenant) error {
		plain, k, err := auth.NewAPIKeys(d).CreateAPIKey(ctx, t.ID, name)
		if err != nil {
			return err
		}
		if err := audited(ctx, d, adminaudit.APIKeyCreate, t.ID, k.Prefix, "name "+strconv.Quote(name)); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s\n", plain)
		fmt.Fprintf(c.stderr, "API key %s for %s: shown once, store it now (only its hash is kept)\n", k.Prefix, t.Slug)
		return nil
	})
}

func apiKeyList(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, _ *tenant.Store, t tenant.Tenant) error {
		keys, err := auth.NewAPIKeys(d).ListAPIKeys(ctx, t.ID)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "PREFIX\tNAME\tCREATED\tLAST USED\tREVOKED")
		for _, k := range keys {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.Prefix, orDash(k.Name), k.CreatedAt.UTC().Format(time.RFC3339), fmtTime(k.LastUsedAt), fmtTime(k.RevokedAt))
		}
		return w.Flush()
	})
}

func apiKeyRevoke(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	prefix := strings.TrimPrefix(pos[1], "cs_")
	if len(prefix) > 8 {
		prefix = prefix[:8] // a whole key pasted: its prefix names it
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, _ *tenant.Store, t tenant.Tenant) error {
		err := auth.NewAPIKeys(d).RevokeAPIKey(ctx, t.ID, prefix)
		if callscope.Is(err, callscope.NotFound) {
			return callscope.Errorf(callscope.NotFound, "%s has no API key with prefix %q (callscope apikey list %s shows them)", t.Slug, prefix, t.Slug)
		}
		if err != nil {
			return err
		}
		if err := audited(ctx, d, adminaudit.APIKeyRevoke, t.ID, prefix, ""); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "revoked API key %s of %s\n", prefix, t.Slug)
		return nil
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func tokenCommands() []command {
	return []command{
		{name: "mint", args: "SLUG CALL_ID", summary: "mint a viewer link for one call of a tenant and print it", run: tokenMint},
		{name: "list", args: "SLUG", summary: "list a tenant's live viewer links", run: tokenList},
		{name: "revoke", args: "SLUG JTI", summary: "revoke one viewer link by its jti, server-minted or tenant-signed", run: tokenRevoke},
		{name: "revoke-all", args: "SLUG", summary: "revoke every link of a tenant issued until now, its own signed links included", run: tokenRevokeAll},
	}
}

func tokenMint(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	var (
		from, to                     timeFlag
		ttl                          = durationFlag(auth.DefaultTTL)
		scopes                       listFlag
		publicURL, maxTTL, maxWindow string
	)
	c.fs.Var(&from, "from", "start of the call window, an RFC 3339 `TIME` such as 2026-03-01T12:00:00Z (required)")
	c.fs.Var(&to, "to", "end of the call window, an RFC 3339 `TIME` (required)")
	c.fs.Var(&ttl, "ttl", "lifetime of the link, a `DURATION` such as 15m, at most the server's --token-max-ttl")
	c.fs.Var(&scopes, "scope", "extra right granted to the link, a `SCOPE`: pcap (the PCAP download); repeatable (the variable: comma-separated)")
	stringFlag(c.fs, c.getenv, &publicURL, sPublicURL)
	stringFlag(c.fs, c.getenv, &maxTTL, sTokenTTL)
	stringFlag(c.fs, c.getenv, &maxWindow, sTokenWindow)
	sealer := secretFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	if from.t.IsZero() {
		return c.required("from", "the start of the call window, an RFC 3339 time such as 2026-03-01T12:00:00Z")
	}
	if to.t.IsZero() {
		return c.required("to", "the end of the call window, an RFC 3339 time such as 2026-03-01T13:00:00Z")
	}
	if err := checkPublicURL(publicURL); err != nil {
		return err
	}
	lim := auth.DefaultLimits()
	if lim.MaxLifetime, err = time.ParseDuration(maxTTL); err != nil || lim.MaxLifetime <= 0 {
		return fmt.Errorf("%s: %q must be a positive duration such as 1h", sTokenTTL.env, maxTTL)
	}
	if lim.MaxWindow, err = time.ParseDuration(maxWindow); err != nil || lim.MaxWindow <= 0 {
		return fmt.Errorf("%s: %q must be a positive duration such as 24h", sTokenWindow.env, maxWindow)
	}
	req := auth.MintRequest{CallID: pos[1], WindowStart: from.t, WindowEnd: to.t, TTL: time.Duration(ttl), Scopes: scopes, IssuedBy: "cli"}
	// The API's own check, before anything is opened; its fields are
	// JSON members, which mintError turns into the flags they came from.
	if err := auth.NewMinter(nil, nil, lim, "").Check(&req); err != nil {
		return mintError(c, err, req, lim)
	}
	s, err := sealer()
	if err != nil {
		return err
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
		keys := auth.NewKeyStore(d, s)
		if err := keys.EnsureActive(ctx); err != nil {
			return err
		}
		m := auth.NewMinter(keys, auth.NewTokens(d, ts, nil), lim, strings.TrimRight(publicURL, "/"))
		tok, claims, err := m.Mint(ctx, t, req)
		if err != nil {
			return mintError(c, err, req, lim)
		}
		detail := fmt.Sprintf("call %q, window %s to %s, expires %s, scopes %s", claims.CallID, claims.WindowStart.UTC().Format(time.RFC3339),
			claims.WindowEnd.UTC().Format(time.RFC3339), claims.Expiry.UTC().Format(time.RFC3339), orNone(claims.Scopes))
		if err := audited(ctx, d, adminaudit.LinkShare, t.ID, claims.ID, detail); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, m.URL(tok))
		fmt.Fprintf(c.stderr, "jti %s, expires %s\n", claims.ID, claims.Expiry.UTC().Format(time.RFC3339))
		return nil
	})
}

// mintError says a refused mint request in the flags' terms: the minter
// names the JSON members of the mint API (ttl_seconds, window_end).
func mintError(c *cmdline, err error, r auth.MintRequest, lim auth.Limits) error {
	if !callscope.Is(err, callscope.Invalid) {
		return err
	}
	field, msg := callscope.Public(err)
	from, to := c.source("from"), c.source("to")
	switch field {
	case "ttl_seconds":
		return usagef("%s %s: must be from 1s to %s (the server's --token-max-ttl)", c.source("ttl"), fmtDuration(r.TTL), fmtDuration(lim.MaxLifetime))
	case "window_start", "window_end":
		if !r.WindowEnd.After(r.WindowStart) {
			return usagef("%s %s must be after %s %s", to, r.WindowEnd.Format(time.RFC3339), from, r.WindowStart.Format(time.RFC3339))
		}
		return usagef("%s to %s spans %s: a link's window may span at most %s (the server's --token-max-window)",
			from, to, fmtDuration(r.WindowEnd.Sub(r.WindowStart)), fmtDuration(lim.MaxWindow))
	case "scopes":
		for _, s := range r.Scopes {
			if !slices.Contains(auth.KnownScopes, s) {
				return usagef("%s %q: unknown scope; known: %s", c.source("scope"), s, strings.Join(auth.KnownScopes, ", "))
			}
		}
	case "call_id":
		return usagef("CALL_ID %q: %s", r.CallID, msg)
	}
	return err
}

func tokenList(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
		list, err := auth.NewTokens(d, ts, nil).ListTokens(ctx, t.ID, auth.TokenFilter{ActiveOnly: true})
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "JTI\tCALL ID\tISSUED BY\tISSUED\tEXPIRES")
		for _, it := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", it.JTI, it.CallID, it.IssuedBy, it.IssuedAt.UTC().Format(time.RFC3339), it.ExpiresAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	})
}

// withRevocations registers the Redis settings revocations need and
// returns a runner for after parsing: it opens Redis and the database and
// resolves the tenant.
func withRevocations(c *cmdline) func(ctx context.Context, slug string, fn func(d *db.DB, tokens *auth.Tokens, t tenant.Tenant) error) error {
	open := dbFlag(c.fs, c.env)
	var redisURL, redisPrefix string
	stringFlag(c.fs, c.getenv, &redisURL, sRedisURL)
	stringFlag(c.fs, c.getenv, &redisPrefix, sRedisPrefix)
	return func(ctx context.Context, slug string, fn func(d *db.DB, tokens *auth.Tokens, t tenant.Tenant) error) error {
		rdb, err := redisdb.Open(ctx, redisURL)
		if err != nil {
			return err
		}
		defer rdb.Close()
		return withTenant(ctx, open, slug, func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
			return fn(d, auth.NewTokens(d, ts, auth.NewRevocations(rdb, redisPrefix, nil)), t)
		})
	}
}

func tokenRevoke(ctx context.Context, c *cmdline) error {
	revocations := withRevocations(c)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	return revocations(ctx, pos[0], func(d *db.DB, tokens *auth.Tokens, t tenant.Tenant) error {
		err := tokens.RevokeToken(ctx, t.ID, pos[1])
		if callscope.Is(err, callscope.NotFound) {
			return callscope.Errorf(callscope.NotFound, "%s has no token with jti %q (callscope token list %s shows the live ones)", t.Slug, pos[1], t.Slug)
		}
		if err != nil {
			return err
		}
		if err := audited(ctx, d, adminaudit.LinkRevoke, t.ID, pos[1], ""); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "revoked token %s of %s\n", pos[1], t.Slug)
		return nil
	})
}

func tokenRevokeAll(ctx context.Context, c *cmdline) error {
	revocations := withRevocations(c)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	return revocations(ctx, pos[0], func(d *db.DB, tokens *auth.Tokens, t tenant.Tenant) error {
		at, err := tokens.RevokeAllTenantTokens(ctx, t.ID)
		if err != nil {
			return err
		}
		if err := audited(ctx, d, adminaudit.LinkRevokeAll, t.ID, "", ""); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "revoked every token of %s issued before %s\n", t.Slug, at.UTC().Format(time.RFC3339))
		return nil
	})
}
