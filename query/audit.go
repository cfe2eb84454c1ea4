package query

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

// ViewRecord is one successful public view, reported by the viewer (which
// holds no database credential) for the tenant's view audit.
type ViewRecord struct {
	At        time.Time `json:"at"`
	Tenant    string    `json:"tenant"`
	CallID    string    `json:"call_id"`
	JTI       string    `json:"jti"`
	ClientIP  string    `json:"client_ip"`
	UserAgent string    `json:"user_agent"`
}

// ViewRecorder queues audit entries without blocking; auth.AuditWriter is one.
type ViewRecorder interface {
	Record(e auth.AuditEntry) bool
}

// SetViewRecorder sets where reported views are recorded; without one the
// audit route refuses (Unavailable).
func (s *Server) SetViewRecorder(r ViewRecorder) { s.views = r }

// maxViewRecords bounds one report; the viewer sends at most this many.
const maxViewRecords = 1000

func (s *Server) recordViews(c echo.Context) error {
	if s.views == nil {
		return callscope.Errorf(callscope.Unavailable, "view audit not configured")
	}
	var in []ViewRecord
	body := http.MaxBytesReader(c.Response(), c.Request().Body, 2<<20)
	if err := json.NewDecoder(body).Decode(&in); err != nil {
		return callscope.FieldError("body", "a JSON array of view records is required")
	}
	if len(in) > maxViewRecords {
		return callscope.FieldError("body", "at most %d records per report", maxViewRecords)
	}
	for _, v := range in {
		ip, _ := netip.ParseAddr(v.ClientIP)
		s.views.Record(auth.AuditEntry{Tenant: v.Tenant, ViewedAt: v.At, JTI: v.JTI, CallID: v.CallID,
			ClientIP: ip, UserAgent: truncate(v.UserAgent, 512)})
	}
	return c.NoContent(http.StatusNoContent)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// RecordViews reports successful views to the query service's audit.
func (c *Client) RecordViews(ctx context.Context, views []ViewRecord) error {
	body, err := json.Marshal(views)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, "/internal/v1/audit/views", c.token, body)
	return err
}
