package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/tenant"
)

// KeysProps is a tenant's API keys and public keys. Everything listed is
// the tenant's own: the stores are asked with its id only.
type KeysProps struct {
	Chrome
	Tenant        tenant.Tenant
	APIKeys       []auth.APIKey
	TenantKeys    []auth.TenantKey
	HasAPIKeys    bool
	HasTenantKeys bool
	KeyName       string
	JWK           string
	Errors        map[string]string
	Notice        string
	// NewAPIKey is the plaintext of a key just created, shown this once.
	NewAPIKey string
}

var keyNotices = map[string]string{
	"revoked":  "API key revoked.",
	"disabled": "Public key disabled.",
	"added":    "Public key registered.",
}

func (s *Server) keysPage(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	return s.renderKeys(c, http.StatusOK, KeysProps{Tenant: t, Notice: keyNotices[c.QueryParam("done")]})
}

func (s *Server) renderKeys(c echo.Context, status int, p KeysProps) error {
	p.Chrome = s.page(c, "Keys of "+p.Tenant.Slug, "tenants")
	if p.Errors == nil {
		p.Errors = map[string]string{}
	}
	var err error
	if s.stores.APIKeys != nil {
		p.HasAPIKeys = true
		if p.APIKeys, err = s.stores.APIKeys.ListAPIKeys(ctx(c), p.Tenant.ID); err != nil {
			return err
		}
	}
	if s.stores.TenantKeys != nil {
		p.HasTenantKeys = true
		if p.TenantKeys, err = s.stores.TenantKeys.ListTenantKeys(ctx(c), p.Tenant.ID); err != nil {
			return err
		}
	}
	return s.render(c, status, KeysPage(p))
}

func unavailable(what string) error {
	return callscope.Errorf(callscope.Unavailable, "%s are not available in this console.", what)
}

func (s *Server) createAPIKey(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	if s.stores.APIKeys == nil {
		return unavailable("API keys")
	}
	name := strings.TrimSpace(c.FormValue("name"))
	p := KeysProps{Tenant: t, KeyName: name, Errors: map[string]string{}}
	if name == "" || len(name) > 100 {
		p.Errors["key_name"] = "Name the key (1 to 100 characters), e.g. after the system that uses it."
		return s.renderKeys(c, http.StatusBadRequest, p)
	}
	plain, k, err := s.stores.APIKeys.CreateAPIKey(ctx(c), t.ID, name)
	if err != nil {
		if fieldErrors(p.Errors, err, "key_name") {
			return s.renderKeys(c, http.StatusBadRequest, p)
		}
		return err
	}
	s.audit(c, adminaudit.APIKeyCreate, t.ID, k.Prefix, "name "+strconv.Quote(name))
	p.KeyName, p.NewAPIKey, p.Notice = "", plain, "API key "+k.Prefix+" created."
	return s.renderKeys(c, http.StatusOK, p)
}

func (s *Server) revokeAPIKey(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	if s.stores.APIKeys == nil {
		return unavailable("API keys")
	}
	prefix := c.FormValue("prefix")
	if prefix == "" || len(prefix) > 64 {
		return callscope.Errorf(callscope.Invalid, "This revoke button is broken; reload the page.")
	}
	if err := s.stores.APIKeys.RevokeAPIKey(ctx(c), t.ID, prefix); err != nil {
		return err
	}
	s.audit(c, adminaudit.APIKeyRevoke, t.ID, prefix, "")
	return c.Redirect(http.StatusSeeOther, "/tenants/"+t.Slug+"/keys?done=revoked")
}

func (s *Server) addTenantKey(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	if s.stores.TenantKeys == nil {
		return unavailable("Tenant public keys")
	}
	jwk := strings.TrimSpace(c.FormValue("jwk"))
	p := KeysProps{Tenant: t, JWK: jwk, Errors: map[string]string{}}
	if jwk == "" {
		p.Errors["jwk"] = "Paste the tenant's public key as a JWK (JSON)."
		return s.renderKeys(c, http.StatusBadRequest, p)
	}
	k, err := s.stores.TenantKeys.AddTenantKey(ctx(c), t.ID, []byte(jwk))
	if err != nil {
		if fieldErrors(p.Errors, err, "jwk") {
			if p.Errors["kid"] != "" {
				p.Errors["jwk"] = p.Errors["kid"]
			}
			return s.renderKeys(c, http.StatusBadRequest, p)
		}
		return err
	}
	s.audit(c, adminaudit.TenantKeyAdd, t.ID, k.KID, k.Alg)
	return c.Redirect(http.StatusSeeOther, "/tenants/"+t.Slug+"/keys?done=added")
}

func (s *Server) disableKey(c echo.Context) error {
	t, err := s.tenantBySlug(c)
	if err != nil {
		return err
	}
	if s.stores.TenantKeys == nil {
		return unavailable("Tenant public keys")
	}
	kid := c.FormValue("kid")
	if err := s.stores.TenantKeys.DisableTenantKey(ctx(c), t.ID, kid); err != nil {
		return err
	}
	s.audit(c, adminaudit.TenantKeyDisable, t.ID, kid, "")
	return c.Redirect(http.StatusSeeOther, "/tenants/"+t.Slug+"/keys?done=disabled")
}
