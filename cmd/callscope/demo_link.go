package main

import (
	"context"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/demo"
	"github.com/callscope/callscope/tenant"
)

// demoLinkTTL is how long the demo's viewer link works.
const demoLinkTTL = time.Hour

// demoLink mints a viewer link for the answered demo call and prints it with
// an HTML snippet that iframes it. Minting signs with the server key, so it
// needs the secret key that `serve` uses.
func demoLink(ctx context.Context, e env, d *db.DB, t tenant.Tenant, call demo.Call, start time.Time, publicURL string, sealer *auth.Sealer) error {
	if sealer == nil {
		fmt.Fprintf(e.stdout, "\nset CALLSCOPE_SECRET_KEY (as for serve) and run the demo again to get a viewer link\n")
		return nil
	}
	keys := auth.NewKeyStore(d, sealer)
	if err := keys.EnsureActive(ctx); err != nil {
		return err
	}
	m := auth.NewMinter(keys, auth.NewTokens(d, tenant.NewStore(d), nil), auth.DefaultLimits(), strings.TrimRight(publicURL, "/"))
	tok, claims, err := m.Mint(ctx, t, auth.MintRequest{
		CallID:      call.CallID,
		WindowStart: start.Add(-time.Minute),
		WindowEnd:   start.Add(10 * time.Minute),
		TTL:         demoLinkTTL,
		Scopes:      []string{auth.ScopePCAP},
		IssuedBy:    "cli",
	})
	if err != nil {
		return err
	}
	url := m.URL(tok)
	fmt.Fprintf(e.stdout, "viewer (works until %s): %s\n", claims.Expiry.UTC().Format(time.RFC3339), url)
	fmt.Fprintf(e.stdout, "\nembed it: save this as index.html, serve it with `python3 -m http.server 8000`\n"+
		"and open http://127.0.0.1:8000/ (the demo tenant's embed origins allow that page):\n\n"+
		"<iframe src=\"%s\" width=\"100%%\" height=\"700\" style=\"border:0\" title=\"SIP call ladder\"></iframe>\n",
		html.EscapeString(url))
	return nil
}
