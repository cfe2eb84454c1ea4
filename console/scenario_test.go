package console_test

import (
	"archive/zip"
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/query/querytest"
)

func TestCallScenarioExport(t *testing.T) {
	b := setup(t)
	now := b.clock.Now().Truncate(time.Second)
	b.insertCall(t, b.acme, "export-1@acme", now.Add(-time.Hour), 486)
	querytest.MustInsert(t, b.db.Owner(), querytest.Call{TenantID: b.acme.ID, CallID: "mid-dialog@acme", Start: now.Add(-time.Hour)}.FromBYE()...)
	br := b.MustAdminBrowser(t)
	ref := url.Values{"tenant": {strconv.FormatInt(b.acme.ID, 10)}, "call_id": {"export-1@acme"},
		"from": {now.Add(-2 * time.Hour).Format(time.RFC3339)}, "to": {now.Format(time.RFC3339)}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for key, vs := range ref {
			q[key] = vs
		}
		q.Set(k, v)
		return q
	}

	t.Run("OK", func(t *testing.T) {
		page := br.get("/calls/view?" + ref.Encode())
		mustStatus(t, page, http.StatusOK)
		href, ok := page.testid("scenario-download").Attr("href")
		if !ok || page.testid("scenario-download").Text() != "Export as SIPp test" {
			t.Fatal("no Export as SIPp test link on the call page")
		}
		d := br.get(href)
		mustStatus(t, d, http.StatusOK)
		if d.header.Get("Content-Type") != "application/zip" ||
			!strings.Contains(d.header.Get("Content-Disposition"), `filename="call-export-1_acme.sipp.zip"`) {
			t.Errorf("%s %s", d.header.Get("Content-Type"), d.header.Get("Content-Disposition"))
		}
		zr, err := zip.NewReader(bytes.NewReader(d.body), int64(len(d.body)))
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]bool{}
		for _, f := range zr.File {
			files[f.Name] = true
		}
		if !files["uac.xml"] || !files["uas.xml"] || !files["README.txt"] || len(files) != 3 {
			t.Errorf("zip holds %v", files)
		}
	})

	t.Run("OtherTenantIsNotFound", func(t *testing.T) {
		mustStatus(t, br.get("/calls/scenario?"+with("tenant", strconv.FormatInt(b.beta.ID, 10)).Encode()), http.StatusNotFound)
	})

	t.Run("NotReproducibleSaysWhy", func(t *testing.T) {
		p := br.get("/calls/scenario?" + with("call_id", "mid-dialog@acme").Encode())
		mustStatus(t, p, http.StatusUnprocessableEntity)
		if !strings.Contains(string(p.body), "starts inside a dialog") {
			t.Errorf("the page does not say why:\n%s", p.body)
		}
	})

	t.Run("NeedsAnAdmin", func(t *testing.T) {
		p := b.browser(t).get("/calls/scenario?" + ref.Encode())
		if p.status != http.StatusSeeOther || bytes.Contains(p.body, []byte("PK")) {
			t.Errorf("anonymous export: %d", p.status)
		}
	})

	t.Run("ShareWithScenario", func(t *testing.T) {
		page := br.get("/calls/view?" + ref.Encode())
		form := url.Values{}
		page.testid("share-form").Find("input").Each(func(_ int, s *goquery.Selection) {
			if n, ok := s.Attr("name"); ok && n != "pcap" && n != "scenario" {
				v, _ := s.Attr("value")
				form.Set(n, v)
			}
		})
		form.Set("ttl", "15m")
		form.Set("scenario", "on")
		mustStatus(t, br.post("/calls/share", form), http.StatusOK)
		toks, err := b.tokens.ListTokens(t.Context(), b.acme.ID, authdb.TokenFilter{ActiveOnly: true})
		if err != nil || len(toks) != 1 || len(toks[0].Scopes) != 1 || toks[0].Scopes[0] != "scenario" {
			t.Fatalf("minted %+v, %v", toks, err)
		}
	})
}
