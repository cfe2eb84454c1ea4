package query

import (
	"encoding/json"
	"net/http"
	"net/netip"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/query/queryapi"
)

// ViewRecorder queues audit entries without blocking; authdb.AuditWriter is one.
type ViewRecorder interface {
	Record(e authdb.AuditEntry) bool
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
	var in []queryapi.ViewRecord
	body := http.MaxBytesReader(c.Response(), c.Request().Body, 2<<20)
	if err := json.NewDecoder(body).Decode(&in); err != nil {
		return callscope.FieldError("body", "a JSON array of view records is required")
	}
	if len(in) > maxViewRecords {
		return callscope.FieldError("body", "at most %d records per report", maxViewRecords)
	}
	for _, v := range in {
		ip, _ := netip.ParseAddr(v.ClientIP)
		s.views.Record(authdb.AuditEntry{Tenant: v.Tenant, ViewedAt: v.At, JTI: v.JTI, CallID: v.CallID,
			ClientIP: ip, UserAgent: v.UserAgent})
	}
	return c.NoContent(http.StatusNoContent)
}
