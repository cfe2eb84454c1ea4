package console

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/tenant"
)

// audit records an action of the session's admin; tenantID is 0 for an
// action that concerns no one tenant.
func (s *Server) audit(c echo.Context, a adminaudit.Action, tenantID int64, target, detail string) {
	sess := session(c)
	s.auditAs(c, sess.AdminID, sess.Email, a, tenantID, target, detail)
}

// auditAs records an action of the admin adminID (login has no session
// yet). It runs after the action succeeded, so it cannot fail the request:
// a row that could not be written is logged as an error with everything it
// held. Every action is also an info line of the log.
func (s *Server) auditAs(c echo.Context, adminID int64, email string, a adminaudit.Action, tenantID int64, target, detail string) {
	ip, _ := netip.ParseAddr(clientIP(c))
	attrs := []any{"action", string(a), "admin_id", adminID, "tenant_id", tenantID, "target", target,
		"request_id", c.Get("request_id")}
	s.log.InfoContext(ctx(c), "admin action", attrs...)
	if s.stores.AdminLog == nil {
		return
	}
	err := s.stores.AdminLog.Record(ctx(c), adminaudit.Record{AdminID: adminID, Actor: email, Action: a,
		TenantID: tenantID, Target: target, Detail: detail, ClientIP: ip})
	if err != nil {
		s.log.ErrorContext(ctx(c), "admin action not audited", append(attrs, "detail", detail, "err", err)...)
	}
}

// auditShown is how many entries the audit page shows at once.
const auditShown = 100

// AuditFilter is the audit page's filter form as typed.
type AuditFilter struct {
	Actor, Action, Tenant string
}

func (f AuditFilter) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"actor": f.Actor, "action": f.Action, "tenant": f.Tenant} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// AuditProps is the admin audit page.
type AuditProps struct {
	Chrome
	Available bool
	Filter    AuditFilter
	Actors    []string // every admin's email, and the CLI
	Actions   []adminaudit.Action
	Tenants   []tenant.Tenant
	Errors    map[string]string
	Entries   []adminaudit.Entry
	NextURL   string
}

func (s *Server) auditPage(c echo.Context) error {
	p := AuditProps{Chrome: s.page(c, "Audit", "audit"), Available: s.stores.AdminLog != nil,
		Actions: adminaudit.Actions, Errors: map[string]string{},
		Filter: AuditFilter{Actor: c.QueryParam("actor"), Action: c.QueryParam("action"), Tenant: c.QueryParam("tenant")}}
	admins, err := s.admins.List(ctx(c))
	if err != nil {
		return err
	}
	for _, a := range admins {
		p.Actors = append(p.Actors, a.Email)
	}
	p.Actors = append(p.Actors, adminaudit.CLI)
	if p.Tenants, err = s.tenants.List(ctx(c)); err != nil {
		return err
	}
	f := adminaudit.Filter{Actor: p.Filter.Actor, Action: adminaudit.Action(p.Filter.Action), Limit: auditShown}
	if f.Actor != "" && !slices.Contains(p.Actors, f.Actor) {
		p.Errors["actor"] = "Choose an administrator from the list."
	}
	if f.Action != "" && !slices.Contains(adminaudit.Actions, f.Action) {
		p.Errors["action"] = "Choose an action from the list."
	}
	if p.Filter.Tenant != "" {
		i := slices.IndexFunc(p.Tenants, func(t tenant.Tenant) bool { return t.Slug == p.Filter.Tenant })
		if i < 0 {
			p.Errors["tenant"] = "Choose a tenant from the list."
		} else {
			f.TenantID = p.Tenants[i].ID
		}
	}
	if b := c.QueryParam("before"); b != "" {
		if f.Before, err = strconv.ParseInt(b, 10, 64); err != nil || f.Before <= 0 {
			p.Errors["form"] = "This page link is broken; start again from the first page."
		}
	}
	if !p.Available || len(p.Errors) > 0 {
		status := http.StatusOK
		if len(p.Errors) > 0 {
			status = http.StatusBadRequest
		}
		return s.render(c, status, AuditPage(p))
	}
	if p.Entries, err = s.stores.AdminLog.List(ctx(c), f); err != nil {
		return err
	}
	if len(p.Entries) == auditShown {
		v := p.Filter.values()
		v.Set("before", strconv.FormatInt(p.Entries[len(p.Entries)-1].ID, 10))
		p.NextURL = "/audit?" + v.Encode()
	}
	return s.render(c, http.StatusOK, AuditPage(p))
}
