package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/tenant"
)

// tenantDetail is what the audit keeps of a tenant's settings.
func tenantDetail(t tenant.Tenant) string {
	return fmt.Sprintf("name %q, retention %d days, embed origins %s, internal events %s", t.Name, t.RetentionDays,
		orDash(strings.Join(t.EmbedOrigins, " ")), onOff(t.ShowInternalEvents))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// TenantForm is the create form as typed.
type TenantForm struct {
	Slug, Name, Retention, Origins string
}

// TenantsProps is the tenant list with the create form.
type TenantsProps struct {
	Chrome
	Tenants []tenant.Tenant
	Form    TenantForm
	Errors  map[string]string
	Notice  string
}

// lines splits a textarea into trimmed, non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// fieldErrors records err under its field when it is an Invalid error and
// reports whether it did; any other error is the caller's to return.
func fieldErrors(errs map[string]string, err error, fallback string) bool {
	if !callscope.Is(err, callscope.Invalid) && !callscope.Is(err, callscope.Conflict) {
		return false
	}
	field, msg := callscope.Public(err)
	if field == "" {
		field = fallback
	}
	errs[field] = sentence(msg)
	return true
}

func (s *Server) tenantsPage(c echo.Context) error {
	return s.renderTenants(c, http.StatusOK, TenantForm{Retention: strconv.Itoa(tenant.DefaultRetentionDays)}, nil, c.QueryParam("created"))
}

func (s *Server) renderTenants(c echo.Context, status int, f TenantForm, errs map[string]string, created string) error {
	ts, err := s.tenants.List(ctx(c))
	if err != nil {
		return err
	}
	p := TenantsProps{Chrome: s.page(c, "Tenants", "tenants"), Tenants: ts, Form: f, Errors: errs}
	if created != "" {
		p.Notice = "Tenant " + created + " created."
	}
	if p.Errors == nil {
		p.Errors = map[string]string{}
	}
	return s.render(c, status, TenantsPage(p))
}

func (s *Server) createTenant(c echo.Context) error {
	f := TenantForm{Slug: strings.TrimSpace(c.FormValue("slug")), Name: strings.TrimSpace(c.FormValue("name")),
		Retention: strings.TrimSpace(c.FormValue("retention_days")), Origins: c.FormValue("embed_origins")}
	errs := map[string]string{}
	days, err := strconv.Atoi(f.Retention)
	if f.Retention != "" && (err != nil || days < 1 || days > 3650) {
		errs["retention_days"] = "Keep messages between 1 and 3650 days."
	}
	if len(errs) == 0 {
		t, err := s.tenants.Create(ctx(c), tenant.New{Slug: f.Slug, Name: f.Name, RetentionDays: days, EmbedOrigins: lines(f.Origins)})
		if err == nil {
			s.audit(c, adminaudit.TenantCreate, t.ID, t.Slug, tenantDetail(t))
			return c.Redirect(http.StatusSeeOther, "/tenants?created="+t.Slug)
		}
		if !fieldErrors(errs, err, "slug") {
			return err
		}
		if errs["embed_origin"] != "" {
			errs["embed_origins"] = errs["embed_origin"]
		}
	}
	return s.renderTenants(c, http.StatusBadRequest, f, errs, "")
}

// SettingsForm is the tenant settings form as typed.
type SettingsForm struct {
	Name, Retention, Origins, Aliases string
	// InternalEvents: tenant.Tenant.ShowInternalEvents.
	InternalEvents bool
}

// TenantProps is one tenant's page.
type TenantProps struct {
	Chrome
	Tenant   tenant.Tenant
	Nodes    []tenant.Node
	Health   NodeHealth
	Settings SettingsForm
	Errors   map[string]string
	Notice   string
}

func aliasText(a map[string]string) string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + " = " + a[k] + "\n")
	}
	return b.String()
}

func settingsOf(t tenant.Tenant) SettingsForm {
	return SettingsForm{Name: t.Name, Retention: strconv.Itoa(t.RetentionDays),
		Origins: strings.Join(t.EmbedOrigins, "\n"), Aliases: aliasText(t.Aliases), InternalEvents: t.ShowInternalEvents}
}

func (s *Server) tenantBySlug(c echo.Context) (tenant.Tenant, error) {
	slug := c.Param("slug")
	if tenant.ValidateSlug(slug) != nil {
		return tenant.Tenant{}, callscope.Errorf(callscope.NotFound, "No such tenant.")
	}
	return s.tenants.BySlug(ctx(c), slug)
}

var notices = map[string]string{
	"saved":     "Settings saved.",
	"aliases":   "Endpoint aliases saved.",
	"suspended": "Tenant suspended: its capture nodes and viewer links are refused until it is resumed.",
	"active":    "Tenant resumed.",
}

func (s *Server) tenantPage(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	return s.renderTenant(c, http.StatusOK, t, settingsOf(t), nil, notices[c.QueryParam("done")])
}

func (s *Server) renderTenant(c echo.Context, status int, t tenant.Tenant, f SettingsForm, errs map[string]string, notice string) error {
	nodes, err := s.tenants.Nodes(ctx(c), t.ID)
	if err != nil {
		return err
	}
	health := NodeHealth{Now: s.now()}
	if health.ByNode, err = s.tenants.NodeHealth(ctx(c), t.ID, health.Now.Add(-time.Hour)); err != nil {
		return err
	}
	if errs == nil {
		errs = map[string]string{}
	}
	return s.render(c, status, TenantPage(TenantProps{Chrome: s.page(c, "Tenant "+t.Slug, "tenants"),
		Tenant: t, Nodes: nodes, Health: health, Settings: f, Errors: errs, Notice: notice}))
}

func (s *Server) setStatus(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	st := c.FormValue("status")
	if _, err := s.tenants.Update(ctx(c), t.ID, tenant.Update{Status: &st}); err != nil {
		return err
	}
	action := adminaudit.TenantResume
	if st == tenant.Suspended {
		action = adminaudit.TenantSuspend
	}
	s.audit(c, action, t.ID, t.Slug, "")
	return c.Redirect(http.StatusSeeOther, "/tenants/"+t.Slug+"?done="+st)
}

func (s *Server) updateSettings(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	f := settingsOf(t)
	f.Name, f.Retention, f.Origins = strings.TrimSpace(c.FormValue("name")), strings.TrimSpace(c.FormValue("retention_days")), c.FormValue("embed_origins")
	f.InternalEvents = c.FormValue("internal_events") == "on"
	errs := map[string]string{}
	days, err := strconv.Atoi(f.Retention)
	if err != nil || days < 1 || days > 3650 {
		errs["retention_days"] = "Keep messages between 1 and 3650 days."
	}
	if f.Name == "" {
		errs["name"] = "A tenant needs a name."
	}
	if len(errs) == 0 {
		origins := lines(f.Origins)
		if origins == nil {
			origins = []string{} // non-nil: clearing every origin is a change
		}
		var saved tenant.Tenant
		saved, err = s.tenants.Update(ctx(c), t.ID, tenant.Update{Name: &f.Name, RetentionDays: &days, EmbedOrigins: origins,
			ShowInternalEvents: &f.InternalEvents})
		if err == nil {
			s.audit(c, adminaudit.TenantSettings, t.ID, t.Slug, tenantDetail(saved))
			return c.Redirect(http.StatusSeeOther, "/tenants/"+t.Slug+"?done=saved")
		}
		if !fieldErrors(errs, err, "form") {
			return err
		}
		if errs["embed_origin"] != "" {
			errs["embed_origins"] = errs["embed_origin"]
		}
	}
	return s.renderTenant(c, http.StatusBadRequest, t, f, errs, "")
}

// parseAliases reads "IP[:port] = name" lines.
func parseAliases(text string) (map[string]string, error) {
	out := map[string]string{}
	for i, l := range lines(text) {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, callscope.FieldError("aliases", "line %d: write IP[:port] = name", i+1)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, dup := out[k]; dup {
			return nil, callscope.FieldError("aliases", "line %d: %s is named twice", i+1, k)
		}
		out[k] = v
	}
	if err := tenant.ValidateAliases(out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) updateAliases(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	f := settingsOf(t)
	f.Aliases = c.FormValue("aliases")
	errs := map[string]string{}
	a, err := parseAliases(f.Aliases)
	if err == nil {
		_, err = s.tenants.Update(ctx(c), t.ID, tenant.Update{Aliases: a})
		if err == nil {
			s.audit(c, adminaudit.TenantAliases, t.ID, t.Slug, strings.ReplaceAll(strings.TrimSpace(aliasText(a)), "\n", "; "))
			return c.Redirect(http.StatusSeeOther, "/tenants/"+t.Slug+"?done=aliases")
		}
	}
	if !fieldErrors(errs, err, "aliases") {
		return err
	}
	return s.renderTenant(c, http.StatusBadRequest, t, f, errs, "")
}
