package viewer_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/query/querytest"
)

// SIP is attacker-controlled. Every hostile string below must come out as
// text: no element, attribute or URL of its own.
func TestHostileSIPRendersInert(t *testing.T) {
	b := setup(t, options{})
	hostile := []string{
		`<script>alert(1)</script>`,
		`"><svg onload=alert(1)>`,
		`javascript:alert(1)`,
		`'><img src=x onerror=alert(1)>`,
		"</textarea></pre><script>alert(2)</script>",
		strings.Repeat("𝕳𝖔𝖘𝖙𝖎𝖑𝖊 ", 400) + "\u202e\u0000",
	}
	var headers []string
	for i, h := range hostile {
		headers = append(headers, "X-Evil-"+string(rune('A'+i))+": "+h)
	}
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: `evil"><script>alert(3)</script>`, Start: t0,
		FromUser: `"><svg onload=alert(4)>`, ToUser: "javascript:alert(5)", UserAgent: `<script>alert(6)</script>`,
		Headers: headers,
		Body: "v=0\r\no=- 1 1 IN IP4 <script>alert(7)</script>\r\ns=-\r\nc=IN IP4 \"><svg onload=alert(8)>\r\nt=0 0\r\n" +
			"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 <img src=x onerror=alert(9)>/8000\r\na=sendrecv\r\n"})
	tok := mint(t, b.server, b.claims("acme", `evil"><script>alert(3)</script>`, auth.ScopePCAP))
	for _, q := range []string{"", "?group=ip", "?theme=%22%3E%3Cscript%3E", "?page=%3Cscript%3E"} {
		r := get(t, b.viewer.URL+"/v/"+tok+q)
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d", q, r.status)
		}
		low := strings.ToLower(r.body)
		// onload= and onerror= may appear as escaped text; the DOM walk
		// below proves none is an attribute.
		for _, bad := range []string{"<script", "<svg onload", "<img", `href="javascript:`, `href='javascript:`} {
			if strings.Contains(low, bad) {
				t.Errorf("%s: page contains %q", q, bad)
			}
		}
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		doc.Find("*").Each(func(_ int, s *goquery.Selection) {
			tag := goquery.NodeName(s)
			if tag == "script" || tag == "img" || tag == "iframe" || tag == "object" {
				t.Errorf("%s: element <%s> in the page", q, tag)
			}
			for _, a := range s.Nodes[0].Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") {
					t.Errorf("%s: event handler attribute %s on <%s>", q, a.Key, tag)
				}
				if (a.Key == "href" || a.Key == "src" || a.Key == "xlink:href") && strings.Contains(strings.ToLower(a.Val), "javascript:") {
					t.Errorf("%s: %s=%q", q, a.Key, a.Val)
				}
			}
		})
		// The hostile text is shown, escaped, for whoever debugs the call.
		if !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the raw message is not shown escaped", q)
		}
	}
}

// A whole request cycle, refusals included, never writes the token to a log.
func TestTokenNeverLogged(t *testing.T) {
	b := setup(t, options{})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "c1", Start: t0})
	good := mint(t, b.server, b.claims("acme", "c1", auth.ScopePCAP))
	expired := b.claims("acme", "c1")
	expired.IssuedAt, expired.Expiry = b.now.Add(-time.Hour), b.now.Add(-50*time.Minute)
	exp := mint(t, b.server, expired)
	missing := mint(t, b.server, b.claims("acme", "nope"))
	tokens := []string{good, exp, missing, good[:len(good)-3] + "xyz"}
	for _, tok := range tokens {
		for _, sub := range []string{"", "/text", "/pcap", "/bogus"} {
			get(t, b.viewer.URL+"/v/"+tok+sub)
		}
	}
	logs := b.logs.String()
	if !strings.Contains(logs, `"route":"/v/:token"`) {
		t.Fatalf("no access log of the viewer route:\n%s", logs)
	}
	for _, tok := range tokens {
		// Any signature segment is unique to its token: look for it alone too.
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(logs, tok) || strings.Contains(logs, sig) {
			t.Fatalf("a token appears in the logs:\n%s", logs)
		}
	}
}
