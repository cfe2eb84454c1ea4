package console

import (
	"encoding/csv"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/query/queryapi"
)

// maxExport bounds a CSV export: a day of a busy tenant, not the database.
const maxExport = 100_000

// csvHeader are the export's columns.
var csvHeader = []string{"started_at", "tenant", "call_id", "kind", "from_user", "to_user", "ruri_user",
	"final_status", "final_reason", "outcome", "class", "answered_at", "ended_at", "duration_ms", "pdd_ms",
	"source", "destination", "user_agents", "capture_nodes", "worst_mos", "messages"}

// exportCSV writes the filtered list as CSV, every page of it up to
// maxExport calls, in the list's order. The first page is read before
// anything is written, so a bad filter is still a clean error page.
func (s *Server) exportCSV(c echo.Context) error {
	if err := s.needCalls(); err != nil {
		return err
	}
	f := listFormFrom(c.QueryParams())
	f.after, f.before = "", ""
	qf, errs := f.filter(s.now())
	if len(errs) > 0 {
		fields := slices.Sorted(maps.Keys(errs))
		return callscope.FieldError(fields[0], "%s", errs[fields[0]])
	}
	qf.Limit = queryapi.MaxListLimit
	page, err := s.calls.ListCalls(ctx(c), qf)
	if err != nil {
		return err
	}
	name := "calls-" + s.now().UTC().Format("20060102-150405") + ".csv"
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write(csvHeader); err != nil {
		return nil // the client went away
	}
	n := 0
	for {
		for _, r := range page.Calls {
			if err := w.Write(csvRecord(r)); err != nil {
				return nil
			}
			n++
		}
		w.Flush()
		if page.Next == "" || n >= maxExport {
			break
		}
		qf.After = page.Next
		if page, err = s.calls.ListCalls(ctx(c), qf); err != nil {
			// Too late for an error page: the file ends short, and the log
			// says why.
			s.log.ErrorContext(ctx(c), "CSV export cut short", "err", err, "rows", n)
			break
		}
	}
	w.Flush()
	return nil
}

func csvRecord(r queryapi.CallRow) []string {
	t := func(v *time.Time) string {
		if v == nil {
			return ""
		}
		return v.UTC().Format(time.RFC3339Nano)
	}
	i64 := func(v *int64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatInt(*v, 10)
	}
	status := ""
	if r.FinalStatus != nil {
		status = strconv.Itoa(*r.FinalStatus)
	}
	mos := ""
	if r.WorstMOS != nil {
		mos = strconv.FormatFloat(*r.WorstMOS, 'f', 2, 64)
	}
	rec := []string{r.StartedAt.UTC().Format(time.RFC3339Nano), r.TenantSlug, r.CallID, r.Kind,
		deref(r.FromUser), deref(r.ToUser), deref(r.RURIUser), status, deref(r.FinalReason), r.Outcome, r.Class,
		t(r.AnsweredAt), r.EndedAt.UTC().Format(time.RFC3339Nano), i64(r.DurationMs), i64(r.PDDMs),
		r.Source, r.Dest, strings.Join(r.UserAgents, "; "), strings.Join(r.CaptureNodes, "; "), mos,
		strconv.FormatInt(r.Messages, 10)}
	for i, v := range rec {
		rec[i] = csvCell(v)
	}
	return rec
}

// csvCell defuses a cell a spreadsheet would run as a formula: SIP fields
// are attacker-controlled, and "=HYPERLINK(...)" in a From user must stay
// text. A leading =, +, -, @, tab or carriage return gets a ' in front
// (OWASP's advice); encoding/csv does the quoting.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
