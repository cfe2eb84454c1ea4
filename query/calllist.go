package query

import (
	"context"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/query/queryapi"
)

// CallRecords lists and aggregates call records for the console
// (calls.Store): f.TenantID 0 reads every tenant, any other id that tenant
// alone.
type CallRecords interface {
	Find(ctx context.Context, f queryapi.CallFilter) (queryapi.CallPage, error)
	Stats(ctx context.Context, f queryapi.CallFilter) (queryapi.CallStats, error)
}

// SetCallRecords sets what the console's calls list and statistics read;
// without it their routes are Unavailable.
func (s *Server) SetCallRecords(r CallRecords) { s.records = r }

// callFilter reads the filter of the calls list and statistics routes; a
// filter with faults is refused naming the first field (the console shows
// every one, having checked the same filter itself).
func (s *Server) callFilter(c echo.Context) (queryapi.CallFilter, error) {
	if s.records == nil {
		return queryapi.CallFilter{}, callscope.Errorf(callscope.Unavailable, "call records are not configured")
	}
	f, bad := queryapi.ParseCallFilter(c.QueryParams())
	if bad != nil {
		fields := make([]string, 0, len(bad))
		for k := range bad {
			fields = append(fields, k)
		}
		slices.Sort(fields)
		return f, callscope.FieldError(fields[0], "%s", bad[fields[0]])
	}
	return f, nil
}

func (s *Server) adminCalls(c echo.Context) error {
	f, err := s.callFilter(c)
	if err != nil {
		return err
	}
	page, err := s.records.Find(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func (s *Server) adminStats(c echo.Context) error {
	f, err := s.callFilter(c)
	if err != nil {
		return err
	}
	st, err := s.records.Stats(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}
