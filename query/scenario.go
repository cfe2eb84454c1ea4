package query

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/scenario"
	"github.com/callscope/callscope/web"
)

// ScenarioAPI is GET /api/v1/calls/{call_id}/scenario for test
// orchestrators: an API key reads its own tenant's calls, like the calls
// API beside it. Mounted on the query listener; the viewer forwards it.
type ScenarioAPI struct {
	keys  APIKeyAuthenticator
	store *Store
}

// NewScenarioAPI returns the API over store, authenticating with keys.
func NewScenarioAPI(keys APIKeyAuthenticator, store *Store) *ScenarioAPI {
	return &ScenarioAPI{keys: keys, store: store}
}

// Routes mounts the API. Authorization per line.
func (a *ScenarioAPI) Routes(g *echo.Group) {
	g.GET("/api/v1/calls/:call_id/scenario", a.scenario) // API key: its tenant's calls only
}

// scenario answers ?from=RFC3339&to=RFC3339&side=uac|uas[&no_pauses=true]
// with the scenario as application/xml; 404 when the key's tenant has no
// such call in the window (whoever else has one), 422 with the reason for
// a flow SIPp cannot replay.
func (a *ScenarioAPI) scenario(c echo.Context) error {
	key, err := authenticateAPIKey(c, a.keys)
	if err != nil {
		return err
	}
	callID, err := url.PathUnescape(c.Param("call_id"))
	if err != nil || callID == "" {
		return errNoCall
	}
	var from, to = c.QueryParam("from"), c.QueryParam("to")
	if from == "" {
		return callscope.FieldError("from", "required (RFC 3339, e.g. 2026-03-01T12:00:00Z)")
	}
	if to == "" {
		return callscope.FieldError("to", "required (RFC 3339, e.g. 2026-03-01T13:00:00Z)")
	}
	start, err := timeParam(c, "from")
	if err != nil {
		return err
	}
	end, err := timeParam(c, "to")
	if err != nil {
		return err
	}
	side, err := scenario.ParseSide(c.QueryParam("side"))
	if err != nil {
		return callscope.FieldError("side", "must be uac (the caller) or uas (the callee)")
	}
	var opt scenario.Options
	if v := c.QueryParam("no_pauses"); v != "" {
		if opt.NoPauses, err = strconv.ParseBool(v); err != nil {
			return callscope.FieldError("no_pauses", "must be true or false")
		}
	}
	call, err := a.store.Call(c.Request().Context(), key.TenantID, callID, start, end)
	if err != nil {
		return err
	}
	s, err := call.Scenario(side, opt)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+s.FileName()+`"`)
	c.Response().Header().Set("Cache-Control", "no-store")
	return web.Blob(c, http.StatusOK, "application/xml", s.XML)
}
