package console

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/tenant"
)

// NodeForm is the add-node form as typed.
type NodeForm struct {
	Tenant, CaptureID, Name, AuthMode, AuthKey, CIDRs string
}

// NodesProps is the capture nodes page.
type NodesProps struct {
	Chrome
	Tenants   []tenant.Tenant
	Nodes     []tenant.Node
	Health    NodeHealth
	Ingest    []tenant.IngestStatus
	Unclaimed []tenant.Unclaimed
	Form      NodeForm
	Errors    map[string]string
	Notice    string
	// NewKey is a generated auth key, shown on this one response only: it
	// is stored hashed and cannot be displayed again.
	NewKey    string
	NewKeyFor string
}

func (s *Server) nodesPage(c echo.Context) error {
	notice := ""
	if id := c.QueryParam("removed"); id != "" {
		if _, err := strconv.ParseUint(id, 10, 32); err == nil {
			notice = "Capture node " + id + " removed."
		}
	}
	if id := c.QueryParam("added"); id != "" {
		if _, err := strconv.ParseUint(id, 10, 32); err == nil {
			notice = "Capture node " + id + " added."
		}
	}
	return s.renderNodes(c, http.StatusOK, NodesProps{Form: NodeForm{AuthMode: "generate"}, Notice: notice})
}

func (s *Server) renderNodes(c echo.Context, status int, p NodesProps) error {
	var err error
	if p.Tenants, err = s.tenants.List(ctx(c)); err != nil {
		return err
	}
	if p.Nodes, err = s.tenants.AllNodes(ctx(c)); err != nil {
		return err
	}
	now := s.now()
	p.Health.Now = now
	if p.Health.ByNode, err = s.tenants.AllNodeHealth(ctx(c), now.Add(-time.Hour)); err != nil {
		return err
	}
	if p.Ingest, err = s.tenants.IngestStatuses(ctx(c)); err != nil {
		return err
	}
	if p.Unclaimed, err = s.tenants.ListUnclaimed(ctx(c)); err != nil {
		return err
	}
	if p.Errors == nil {
		p.Errors = map[string]string{}
	}
	p.Chrome = s.page(c, "Capture nodes", "nodes")
	return s.render(c, status, NodesPage(p))
}

// NodeHealth is what capture nodes sent over the last hour, as the nodes
// tables show it.
type NodeHealth struct {
	Now    time.Time
	ByNode map[tenant.NodeKey]tenant.NodeHealth
}

func (h NodeHealth) of(n tenant.Node) tenant.NodeHealth {
	return h.ByNode[tenant.NodeKey{TenantID: n.TenantID, CaptureID: n.CaptureID}]
}

// ago says how long before now t was, coarsely: "12 s ago", "3 min ago".
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(max(d, 0)/time.Second)) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	}
	return fmtTime(t) + " UTC"
}

// newAuthKey returns a HEP auth key for a capture agent's config: 24
// random bytes, printable and free of characters configs need to quote.
func newAuthKey() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// addNode registers a node; the unclaimed list's "claim" buttons post here
// with a capture ID, a tenant and auth mode "none".
func (s *Server) addNode(c echo.Context) error {
	f := NodeForm{Tenant: c.FormValue("tenant"), CaptureID: strings.TrimSpace(c.FormValue("capture_id")),
		Name: strings.TrimSpace(c.FormValue("name")), AuthMode: c.FormValue("auth_mode"),
		AuthKey: c.FormValue("auth_key"), CIDRs: c.FormValue("cidrs")}
	errs := map[string]string{}
	p := NodesProps{Form: f, Errors: errs}
	tid, err := strconv.ParseInt(f.Tenant, 10, 64)
	if err != nil || tid <= 0 {
		errs["tenant"] = "Choose the tenant that owns this node."
	}
	capID, err := strconv.ParseInt(f.CaptureID, 10, 64)
	if err != nil {
		errs["capture_id"] = "A capture ID is a number from 0 to 4294967295 (the agent's HEP capture ID)."
	}
	key := ""
	switch f.AuthMode {
	case "generate":
		key = newAuthKey()
	case "custom":
		key = strings.TrimSpace(f.AuthKey)
		if len(key) < 16 {
			errs["auth_key"] = "Use at least 16 characters, or let the console generate a key."
		}
	case "none", "":
	default:
		errs["auth_mode"] = "Choose how the node authenticates."
	}
	var cidrs []string
	for _, l := range lines(strings.ReplaceAll(f.CIDRs, ",", "\n")) {
		cidrs = append(cidrs, l)
	}
	if len(errs) == 0 {
		n, err := s.tenants.AddNode(ctx(c), tid, tenant.NewNode{CaptureID: capID, Name: f.Name, AuthKey: key, CIDRs: cidrs})
		if err == nil {
			s.audit(c, adminaudit.NodeAdd, tid, u32(n.CaptureID), fmt.Sprintf("name %q, auth key %s, sources %s", n.Name, authText(n), cidrText(n)))
			if f.AuthMode != "generate" {
				return c.Redirect(http.StatusSeeOther, "/nodes?added="+u32(n.CaptureID))
			}
			p = NodesProps{Form: NodeForm{AuthMode: "generate"}, NewKey: key, NewKeyFor: u32(n.CaptureID),
				Notice: "Capture node " + u32(n.CaptureID) + " added to " + n.TenantSlug + "."}
			return s.renderNodes(c, http.StatusOK, p)
		}
		if callscope.Is(err, callscope.NotFound) {
			errs["tenant"] = "That tenant no longer exists."
		} else if !fieldErrors(errs, err, "capture_id") {
			return err
		}
		if errs["cidr"] != "" {
			errs["cidrs"] = errs["cidr"]
		}
	}
	return s.renderNodes(c, http.StatusBadRequest, p)
}

func (s *Server) removeNode(c echo.Context) error {
	tid, err1 := strconv.ParseInt(c.FormValue("tenant"), 10, 64)
	capID, err2 := strconv.ParseUint(c.FormValue("capture_id"), 10, 32)
	if err1 != nil || err2 != nil {
		return callscope.Errorf(callscope.Invalid, "This remove button is broken; reload the page.")
	}
	if err := s.tenants.RemoveNode(ctx(c), tid, uint32(capID)); err != nil {
		return err
	}
	s.audit(c, adminaudit.NodeRemove, tid, strconv.FormatUint(capID, 10), "")
	return c.Redirect(http.StatusSeeOther, "/nodes?removed="+strconv.FormatUint(capID, 10))
}
