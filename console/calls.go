package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/ladder"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/scenario"
)

// Times in console forms are UTC, as <input type="datetime-local"> sends
// them (no zone); RFC 3339 is accepted too for pasted values.
const formTime = "2006-01-02T15:04"

func parseFormTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{formTime, "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func fmtFormTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// formField maps a query field name to the console form's.
func formField(f string) string {
	switch f {
	case "tenant_id":
		return "tenant"
	case "":
		return "form"
	}
	return f
}

// sentence capitalises a store's message for display.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// callRef names one call of one tenant inside a window: the parameters of
// the call page and its downloads.
type callRef struct {
	TenantID int64
	CallID   string
	From, To time.Time
}

func (r callRef) values() url.Values {
	return url.Values{"tenant": {strconv.FormatInt(r.TenantID, 10)}, "call_id": {r.CallID},
		"from": {r.From.UTC().Format(time.RFC3339)}, "to": {r.To.UTC().Format(time.RFC3339)}}
}

func parseCallRef(c echo.Context) (callRef, error) {
	var r callRef
	tid, err := strconv.ParseInt(c.QueryParam("tenant"), 10, 64)
	if err != nil || tid <= 0 {
		return r, callscope.FieldError("tenant", "choose a tenant")
	}
	r.TenantID, r.CallID = tid, c.QueryParam("call_id")
	if r.CallID == "" {
		return r, callscope.FieldError("call_id", "a Call-ID is required")
	}
	var ok1, ok2 bool
	r.From, ok1 = parseFormTime(c.QueryParam("from"))
	r.To, ok2 = parseFormTime(c.QueryParam("to"))
	if !ok1 || !ok2 || r.To.Before(r.From) {
		return r, callscope.FieldError("window", "the time window is not valid")
	}
	return r, nil
}

func (s *Server) needCalls() error {
	if s.calls == nil {
		return callscope.Errorf(callscope.Unavailable, "The query service is not configured.")
	}
	return nil
}

// CallProps is the call page.
type CallProps struct {
	Chrome
	Ref       callRef
	Call      *queryapi.Call
	Diagram   ladder.Diagram
	Events    []ladder.Event
	GroupByIP bool
	PageURL   func(int) string
	GroupURL  string
	TextURL   string
	PCAPURL   string
	// ScenarioURL is the call as a SIPp test: a zip of uac.xml, uas.xml
	// and README.txt.
	ScenarioURL string
	Share       ShareForm
	CanShare    bool
}

// readCall reads the call the request's parameters name.
func (s *Server) readCall(c echo.Context) (callRef, *queryapi.Call, error) {
	if err := s.needCalls(); err != nil {
		return callRef{}, nil, err
	}
	ref, err := parseCallRef(c)
	if err != nil {
		return ref, nil, err
	}
	call, err := s.calls.Call(ctx(c), ref.TenantID, ref.CallID, ref.From, ref.To)
	return ref, call, err
}

func (s *Server) callPage(c echo.Context) error {
	ref, call, err := s.readCall(c)
	if err != nil {
		return err
	}
	page, _ := strconv.Atoi(c.QueryParam("page"))
	group := c.QueryParam("group") == "ip"
	msgs, events := call.Ladder()
	d := ladder.Build(msgs, events, ladder.Options{GroupByIP: group, Aliases: call.Tenant.Aliases, Page: page})
	base := ref.values()
	withPage := func(p int) string {
		q := ref.values()
		if group {
			q.Set("group", "ip")
		}
		q.Set("page", strconv.Itoa(p))
		return "/calls/view?" + q.Encode()
	}
	flip := ref.values()
	if !group {
		flip.Set("group", "ip")
	}
	p := CallProps{
		Chrome: s.page(c, "Call "+shorten(ref.CallID, 40), "calls"), Ref: ref, Call: call, Diagram: d, Events: events,
		GroupByIP: group, PageURL: withPage, GroupURL: "/calls/view?" + flip.Encode(),
		TextURL: "/calls/text?" + base.Encode(), PCAPURL: "/calls/pcap?" + base.Encode(),
		ScenarioURL: "/calls/scenario?" + base.Encode(),
		CanShare:    s.stores.Minter != nil,
		Share: ShareForm{Tenant: strconv.FormatInt(ref.TenantID, 10), CallID: ref.CallID,
			From: fmtFormTime(ref.From), To: fmtFormTime(ref.To), TTL: "15m"},
	}
	return s.render(c, http.StatusOK, CallPage(p))
}

// downloadName is a safe file name for a call: the Call-ID is
// attacker-controlled, so only a conservative alphabet survives.
func downloadName(callID, ext string) string {
	var b strings.Builder
	for _, r := range shorten(callID, 60) {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "call." + ext
	}
	return "call-" + b.String() + "." + ext
}

func (s *Server) callPCAP(c echo.Context) error { return s.download(c, "pcap") }
func (s *Server) callText(c echo.Context) error { return s.download(c, "txt") }

func (s *Server) download(c echo.Context, ext string) error {
	if err := s.needCalls(); err != nil {
		return err
	}
	ref, err := parseCallRef(c)
	if err != nil {
		return err
	}
	get, ctype := s.calls.Text, "text/plain; charset=utf-8"
	if ext == "pcap" {
		get, ctype = s.calls.PCAP, "application/vnd.tcpdump.pcap"
	}
	b, err := get(ctx(c), ref.TenantID, ref.CallID, ref.From, ref.To)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+downloadName(ref.CallID, ext)+`"`)
	return c.Blob(http.StatusOK, ctype, b)
}

// callScenario downloads the call as a SIPp test. A call SIPp cannot
// replay is a 422 page saying why.
func (s *Server) callScenario(c echo.Context) error {
	ref, call, err := s.readCall(c)
	if err != nil {
		return err
	}
	b, err := call.ScenarioZip(scenario.Options{NoPauses: c.QueryParam("no_pauses") == "true"})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+downloadName(ref.CallID, "sipp.zip")+`"`)
	return c.Blob(http.StatusOK, "application/zip", b)
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
