package console

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/tenant"
)

// LinksProps is a tenant's active viewer links and view audit log.
type LinksProps struct {
	Chrome
	Tenant   tenant.Tenant
	HasLinks bool
	HasAudit bool
	Links    []auth.IssuedToken
	Views    []auth.AuditRecord
	Notice   string
}

// Bounds of the lists on the page.
const (
	linksShown = 500
	viewsShown = 200
)

var linkNotices = map[string]string{
	"revoked":     "Link revoked.",
	"revoked-all": "Every link of this tenant issued until now is revoked, its own signed links included. New links work as usual.",
}

func (s *Server) linksPage(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	p := LinksProps{Chrome: s.page(c, "Links of "+t.Slug, "tenants"), Tenant: t, Notice: linkNotices[c.QueryParam("done")]}
	if s.stores.Tokens != nil {
		p.HasLinks = true
		if p.Links, err = s.stores.Tokens.ListTokens(ctx(c), t.ID, auth.TokenFilter{ActiveOnly: true, Limit: linksShown}); err != nil {
			return err
		}
	}
	if s.stores.Audit != nil {
		p.HasAudit = true
		if p.Views, err = s.stores.Audit.ListAudit(ctx(c), t.ID, viewsShown); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, LinksPage(p))
}

func (s *Server) revokeLink(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	if s.stores.Tokens == nil {
		return unavailable("Viewer links")
	}
	jti := c.FormValue("jti")
	if jti == "" || len(jti) > 128 {
		return callscope.Errorf(callscope.Invalid, "This revoke button is broken; reload the page.")
	}
	if err := s.stores.Tokens.RevokeToken(ctx(c), t.ID, jti); err != nil {
		return err
	}
	s.audit(c, adminaudit.LinkRevoke, t.ID, jti, "")
	return c.Redirect(http.StatusSeeOther, "/tenants/"+t.Slug+"/links?done=revoked")
}

// revokeAll raises the tenant's token epoch (PostgreSQL, then Redis, which
// the viewer checks on every request): every link issued until now stops
// working, including links the tenant signed with its own keys.
func (s *Server) revokeAll(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	if s.stores.Tokens == nil {
		return unavailable("Link revocation")
	}
	if _, err := s.stores.Tokens.RevokeAllTenantTokens(ctx(c), t.ID); err != nil {
		return err
	}
	s.audit(c, adminaudit.LinkRevokeAll, t.ID, "", "")
	return c.Redirect(http.StatusSeeOther, "/tenants/"+t.Slug+"/links?done=revoked-all")
}
