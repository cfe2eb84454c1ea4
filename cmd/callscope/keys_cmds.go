package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

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
			return nil, errors.New("CALLSCOPE_SECRET_KEY is required: it encrypts the server's signing keys (at least 32 characters; try: openssl rand -hex 32)")
		}
		return auth.NewSealer(secret)
	}
}

// withTenant opens the database and resolves slug.
func withTenant(ctx context.Context, open func(context.Context) (*db.DB, error), slug string, fn func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error) error {
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	ts := tenant.NewStore(d)
	t, err := ts.BySlug(ctx, slug)
	if err != nil {
		return err
	}
	return fn(d, ts, t)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func cmdKey(ctx context.Context, e env, args []string) error {
	const usageLine = "key add SLUG --jwk FILE | key list [SLUG] | key disable SLUG KID | key rotate | key retire KID"
	if len(args) == 0 {
		return fmt.Errorf("%w: callscope %s", errUsage, usageLine)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(e, "key "+sub, usageLine)
	open := dbFlag(fs, e)
	var jwkFile string
	var sealer func() (*auth.Sealer, error)
	switch sub {
	case "add":
		fs.StringVar(&jwkFile, "jwk", "", "file holding the tenant's public JWK (Ed25519 or P-256); - for standard input ($CALLSCOPE_JWK)")
	case "rotate":
		sealer = secretFlag(fs, e)
	}
	pos, err := parse(fs, e, args)
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		if err := wantArgs(pos, 1, "key add SLUG --jwk FILE"); err != nil {
			return err
		}
		if jwkFile == "" {
			return fmt.Errorf("%w: --jwk FILE is required: callscope key add SLUG --jwk FILE", errUsage)
		}
		data, err := readSmallFile(e, jwkFile)
		if err != nil {
			return err
		}
		return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
			k, err := auth.NewTenantKeys(d, ts).AddTenantKey(ctx, t.ID, data)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "registered %s key %s for %s: tokens it signs must say \"iss\":%q and \"tid\":%q\n", k.Alg, k.KID, t.Slug, t.Slug, t.Slug)
			return nil
		})
	case "list":
		if len(pos) > 1 {
			return fmt.Errorf("%w: callscope key list [SLUG]", errUsage)
		}
		if len(pos) == 1 {
			return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
				keys, err := auth.NewTenantKeys(d, ts).ListTenantKeys(ctx, t.ID)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "KID\tALG\tENABLED\tCREATED")
				for _, k := range keys {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k.KID, k.Alg, yesNo(k.Enabled, "yes", "no"), k.CreatedAt.UTC().Format(time.RFC3339))
				}
				return w.Flush()
			})
		}
		d, err := open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		keys, err := auth.NewKeyStore(d, nil).List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
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
	case "disable":
		if err := wantArgs(pos, 2, "key disable SLUG KID"); err != nil {
			return err
		}
		return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
			if err := auth.NewTenantKeys(d, ts).DisableTenantKey(ctx, t.ID, pos[1]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "disabled key %s of %s (replicas stop accepting it within %s)\n", pos[1], t.Slug, auth.DefaultKeyCacheTTL)
			return nil
		})
	case "rotate":
		if err := wantArgs(pos, 0, "key rotate"); err != nil {
			return err
		}
		s, err := sealer()
		if err != nil {
			return err
		}
		d, err := open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		k, err := auth.NewKeyStore(d, s).Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "new signing key %s signs from now on (replicas switch within %s); older keys keep verifying until `callscope key retire KID`\n", k.KID, auth.DefaultKeyCacheTTL)
		return nil
	case "retire":
		if err := wantArgs(pos, 1, "key retire KID"); err != nil {
			return err
		}
		d, err := open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := auth.NewKeyStore(d, nil).Retire(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "retired signing key %s: tokens it signed are refused from now on\n", pos[0])
		return nil
	}
	return fmt.Errorf("%w: unknown subcommand %q: callscope %s", errUsage, sub, usageLine)
}

// readSmallFile reads a JWK from path or standard input ("-"), refusing
// anything far larger than a key.
func readSmallFile(e env, path string) ([]byte, error) {
	var r io.Reader = e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--jwk: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("--jwk: %w", err)
	}
	return data, nil
}

func cmdAPIKey(ctx context.Context, e env, args []string) error {
	const usageLine = "apikey create SLUG [--name N] | apikey list SLUG | apikey revoke SLUG PREFIX"
	if len(args) == 0 {
		return fmt.Errorf("%w: callscope %s", errUsage, usageLine)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(e, "apikey "+sub, usageLine)
	open := dbFlag(fs, e)
	var name string
	if sub == "create" {
		fs.StringVar(&name, "name", "", "what the key is for, shown in listings ($CALLSCOPE_NAME)")
	}
	pos, err := parse(fs, e, args)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if err := wantArgs(pos, 1, "apikey create SLUG [--name N]"); err != nil {
			return err
		}
		return withTenant(ctx, open, pos[0], func(d *db.DB, _ *tenant.Store, t tenant.Tenant) error {
			plain, k, err := auth.NewAPIKeys(d).CreateAPIKey(ctx, t.ID, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s\n", plain)
			fmt.Fprintf(e.stderr, "API key %s for %s: shown once, store it now (only its hash is kept)\n", k.Prefix, t.Slug)
			return nil
		})
	case "list":
		if err := wantArgs(pos, 1, "apikey list SLUG"); err != nil {
			return err
		}
		return withTenant(ctx, open, pos[0], func(d *db.DB, _ *tenant.Store, t tenant.Tenant) error {
			keys, err := auth.NewAPIKeys(d).ListAPIKeys(ctx, t.ID)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PREFIX\tNAME\tCREATED\tLAST USED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.Prefix, orDash(k.Name), k.CreatedAt.UTC().Format(time.RFC3339), fmtTime(k.LastUsedAt), fmtTime(k.RevokedAt))
			}
			return w.Flush()
		})
	case "revoke":
		if err := wantArgs(pos, 2, "apikey revoke SLUG PREFIX"); err != nil {
			return err
		}
		return withTenant(ctx, open, pos[0], func(d *db.DB, _ *tenant.Store, t tenant.Tenant) error {
			if err := auth.NewAPIKeys(d).RevokeAPIKey(ctx, t.ID, strings.TrimPrefix(pos[1], "cs_")); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked API key %s of %s\n", pos[1], t.Slug)
			return nil
		})
	}
	return fmt.Errorf("%w: unknown subcommand %q: callscope %s", errUsage, sub, usageLine)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdToken(ctx context.Context, e env, args []string) error {
	const usageLine = "token mint SLUG CALL_ID --from RFC3339 --to RFC3339 [--ttl 15m] [--scope pcap] | token list SLUG | token revoke SLUG JTI | token revoke-all SLUG"
	if len(args) == 0 {
		return fmt.Errorf("%w: callscope %s", errUsage, usageLine)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(e, "token "+sub, usageLine)
	open := dbFlag(fs, e)
	var (
		from, to, publicURL, redisURL, redisPrefix, maxTTL, maxWindow string
		ttl                                                           time.Duration
		scopes                                                        listFlag
		sealer                                                        func() (*auth.Sealer, error)
	)
	switch sub {
	case "mint":
		fs.StringVar(&from, "from", "", "start of the call window, RFC 3339 ($CALLSCOPE_FROM)")
		fs.StringVar(&to, "to", "", "end of the call window, RFC 3339 ($CALLSCOPE_TO)")
		fs.DurationVar(&ttl, "ttl", auth.DefaultTTL, "lifetime of the link ($CALLSCOPE_TTL)")
		fs.Var(&scopes, "scope", "extra right granted to the link: pcap (download the PCAP), scenario (download a SIPp test); repeatable ($CALLSCOPE_SCOPE, comma-separated)")
		stringFlag(fs, e.getenv, &publicURL, sPublicURL)
		stringFlag(fs, e.getenv, &maxTTL, sTokenTTL)
		stringFlag(fs, e.getenv, &maxWindow, sTokenWindow)
		sealer = secretFlag(fs, e)
	case "revoke", "revoke-all":
		stringFlag(fs, e.getenv, &redisURL, sRedisURL)
		stringFlag(fs, e.getenv, &redisPrefix, sRedisPrefix)
	}
	pos, err := parse(fs, e, args)
	if err != nil {
		return err
	}
	switch sub {
	case "mint":
		if err := wantArgs(pos, 2, "token mint SLUG CALL_ID --from RFC3339 --to RFC3339 [--ttl 15m] [--scope pcap]"); err != nil {
			return err
		}
		req := auth.MintRequest{CallID: pos[1], TTL: ttl, Scopes: scopes, IssuedBy: "cli"}
		if req.WindowStart, err = time.Parse(time.RFC3339, from); err != nil {
			return fmt.Errorf("%w: --from %q must be an RFC 3339 time such as 2026-03-01T12:00:00Z", errUsage, from)
		}
		if req.WindowEnd, err = time.Parse(time.RFC3339, to); err != nil {
			return fmt.Errorf("%w: --to %q must be an RFC 3339 time such as 2026-03-01T13:00:00Z", errUsage, to)
		}
		lim := auth.DefaultLimits()
		if lim.MaxLifetime, err = time.ParseDuration(maxTTL); err != nil || lim.MaxLifetime <= 0 {
			return fmt.Errorf("%s: %q is not a positive duration", sTokenTTL.env, maxTTL)
		}
		if lim.MaxWindow, err = time.ParseDuration(maxWindow); err != nil || lim.MaxWindow <= 0 {
			return fmt.Errorf("%s: %q is not a positive duration", sTokenWindow.env, maxWindow)
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
			tok, c, err := m.Mint(ctx, t, req)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, m.URL(tok))
			fmt.Fprintf(e.stderr, "jti %s, expires %s\n", c.ID, c.Expiry.UTC().Format(time.RFC3339))
			return nil
		})
	case "list":
		if err := wantArgs(pos, 1, "token list SLUG"); err != nil {
			return err
		}
		return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
			list, err := auth.NewTokens(d, ts, nil).ListTokens(ctx, t.ID, auth.TokenFilter{ActiveOnly: true})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "JTI\tCALL ID\tISSUED BY\tISSUED\tEXPIRES")
			for _, it := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", it.JTI, it.CallID, it.IssuedBy, it.IssuedAt.UTC().Format(time.RFC3339), it.ExpiresAt.UTC().Format(time.RFC3339))
			}
			return w.Flush()
		})
	case "revoke", "revoke-all":
		n := 2
		line := "token revoke SLUG JTI"
		if sub == "revoke-all" {
			n, line = 1, "token revoke-all SLUG"
		}
		if err := wantArgs(pos, n, line); err != nil {
			return err
		}
		rdb, err := redisdb.Open(ctx, redisURL)
		if err != nil {
			return err
		}
		defer rdb.Close()
		return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
			tokens := auth.NewTokens(d, ts, auth.NewRevocations(rdb, redisPrefix, nil))
			if sub == "revoke" {
				if err := tokens.RevokeToken(ctx, t.ID, pos[1]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "revoked token %s of %s\n", pos[1], t.Slug)
				return nil
			}
			at, err := tokens.RevokeAllTenantTokens(ctx, t.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked every token of %s issued before %s\n", t.Slug, at.UTC().Format(time.RFC3339))
			return nil
		})
	}
	return fmt.Errorf("%w: unknown subcommand %q: callscope %s", errUsage, sub, usageLine)
}
