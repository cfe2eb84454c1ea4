package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
)

// ShareForm is "share this call" as typed.
type ShareForm struct {
	Tenant, CallID, From, To, TTL string
	PCAP                          bool
}

// shareTTLs are the lifetimes offered; the server's own maximum (1 h by
// default) still applies when the link is minted.
var shareTTLs = []struct{ Value, Label string }{
	{"5m", "5 minutes"}, {"15m", "15 minutes"}, {"30m", "30 minutes"}, {"1h", "1 hour"},
}

func validTTL(v string) (time.Duration, bool) {
	for _, t := range shareTTLs {
		if t.Value == v {
			d, err := time.ParseDuration(v)
			return d, err == nil
		}
	}
	return 0, false
}

// ShareProps is the page showing a minted link (or the form's errors).
type ShareProps struct {
	Chrome
	Form       ShareForm
	Errors     map[string]string
	TenantSlug string
	URL        string
	Snippet    string
	ExpiresAt  time.Time
	BackURL    string
}

func (s *Server) share(c echo.Context) error {
	f := ShareForm{Tenant: c.FormValue("tenant"), CallID: c.FormValue("call_id"), From: strings.TrimSpace(c.FormValue("from")),
		To: strings.TrimSpace(c.FormValue("to")), TTL: c.FormValue("ttl"), PCAP: c.FormValue("pcap") == "on"}
	p := ShareProps{Chrome: s.page(c, "Share a call", "calls"), Form: f, Errors: map[string]string{}}
	if s.stores.Minter == nil {
		return callscope.Errorf(callscope.Unavailable, "Sharing is not available: this console cannot mint viewer links.")
	}
	tid, err := strconv.ParseInt(f.Tenant, 10, 64)
	if err != nil || tid <= 0 {
		return callscope.Errorf(callscope.Invalid, "The tenant of this call is missing.")
	}
	t, err := s.tenants.ByID(ctx(c), tid)
	if err != nil {
		return err
	}
	p.TenantSlug = t.Slug
	from, ok1 := parseFormTime(f.From)
	to, ok2 := parseFormTime(f.To)
	if !ok1 {
		p.Errors["from"] = "Enter a time such as 2026-03-01T09:00:00 (UTC)."
	}
	if !ok2 {
		p.Errors["to"] = "Enter a time such as 2026-03-01T10:00:00 (UTC)."
	}
	if ok1 && ok2 && !to.After(from) {
		p.Errors["to"] = "The window must end after it starts."
	}
	ttl, ok := validTTL(f.TTL)
	if !ok {
		p.Errors["ttl"] = "Choose one of the offered lifetimes."
	}
	if f.CallID == "" {
		p.Errors["call_id"] = "A Call-ID is required."
	}
	ref := callRef{TenantID: tid, CallID: f.CallID, From: from, To: to}
	p.BackURL = "/calls/view?" + ref.values().Encode()
	if len(p.Errors) > 0 {
		return s.render(c, http.StatusBadRequest, SharePage(p))
	}
	r := auth.MintRequest{CallID: f.CallID, WindowStart: from, WindowEnd: to, TTL: ttl, IssuedBy: "console:" + session(c).Email}
	if f.PCAP {
		r.Scopes = []string{auth.ScopePCAP}
	}
	tok, claims, err := s.stores.Minter.Mint(ctx(c), t, r)
	if callscope.Is(err, callscope.Invalid) || callscope.Is(err, callscope.Forbidden) {
		field, msg := callscope.Public(err)
		switch field {
		case "window_start":
			field = "from"
		case "window_end":
			field = "to"
		case "ttl_seconds":
			field = "ttl"
		default:
			field = "form"
		}
		p.Errors[field] = sentence(msg)
		return s.render(c, http.StatusBadRequest, SharePage(p))
	}
	if err != nil {
		return err
	}
	p.URL = s.stores.Minter.URL(tok)
	if s.cfg.PublicURL != "" {
		p.URL = strings.TrimRight(s.cfg.PublicURL, "/") + "/v/" + tok
	}
	p.Snippet = `<iframe src="` + p.URL + `" title="SIP call" width="100%" height="640" loading="lazy" referrerpolicy="no-referrer"></iframe>`
	p.ExpiresAt = claims.Expiry
	s.audit(c, adminaudit.LinkShare, t.ID, claims.ID, fmt.Sprintf("call %q, window %s to %s, expires %s, scopes %s",
		claims.CallID, fmtTime(claims.WindowStart), fmtTime(claims.WindowEnd), fmtTime(claims.Expiry), orDash(strings.Join(claims.Scopes, " "))))
	return s.render(c, http.StatusOK, SharePage(p))
}
