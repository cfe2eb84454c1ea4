package scenario

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// hostileHeaders are captured header lines that try to close the CDATA
// section and add steps, have SIPp expand keywords (reading a local file
// into the message, choosing the password), or carry bytes XML cannot.
var hostileHeaders = []string{
	"X-Inject: ]]></send><send><![CDATA[INVITE sip:evil@example.com SIP/2.0",
	`X-Keyword: [file name="/etc/passwd"] [authentication username=x password=y] [$1] [last_Via:] \x41 \\ [`,
	"X-Bytes: \x01\x07\x1b[31m red \xff\xfe ça -- -->",
	`X-Quote: "</recv> & <pause milliseconds='99999'/>`,
}

// hostileCall is message.txt with the hostile headers in both the MESSAGE
// and its answer, and a display name full of markup.
func hostileCall(t testing.TB) []Message {
	extra := []byte("\r\n" + string(bytes.Join(toBytes(hostileHeaders), []byte("\r\n"))))
	return edit(loadCall(t, "message.txt"), func(b []byte) []byte {
		b = bytes.Replace(b, []byte(`From: "Alice"`), []byte(`From: "Eve ]]> [pid] <x>"`), 1)
		cseq := bytes.Index(b, []byte("\r\nCSeq:"))
		return append(b[:cseq:cseq], append(extra, b[cseq:]...)...)
	})
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// keyword matches every keyword the generator writes; any other "[...]"
// in a scenario would be captured text SIPp expands.
var keyword = regexp.MustCompile(`^\[(service|remote_ip|remote_port|local_ip|local_port|transport|branch(-[0-9]+)?|call_id|len|pid|call_number|peer_tag_param|next_url|routes|media_ip|media_ip_type|media_port(\+[0-9]+)?|last_(Via|From|To|Call-ID|CSeq|Record-Route):|last_cseq_number|authentication( username=[^\] ]+)?|\$(inv_via|caller))\]$`)

// checkText fails t unless text is what the generator may write: printable
// ASCII and line breaks, with only its own keywords.
func checkText(t testing.TB, text string) {
	t.Helper()
	for i := 0; i < len(text); i++ {
		if c := text[i]; (c < 0x20 || c > 0x7e) && c != '\n' {
			t.Fatalf("byte %#x at %d in a <send>:\n%s", c, i, text)
		}
	}
	for _, kw := range regexp.MustCompile(`\[[^\]]*\]?`).FindAllString(text, -1) {
		if !keyword.MatchString(kw) {
			t.Fatalf("SIPp would expand %q:\n%s", kw, text)
		}
	}
}

func TestHostileHeaders(t *testing.T) {
	uac, uas, err := Pair(hostileCall(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := outline(t, uac.XML), []string{"send MESSAGE", "recv 202"}; !slices.Equal(got, want) {
		t.Fatalf("uac steps %q, want %q:\n%s", got, want, uac.XML)
	}
	if got, want := outline(t, uas.XML), []string{"recv MESSAGE", "send 202"}; !slices.Equal(got, want) {
		t.Fatalf("uas steps %q, want %q:\n%s", got, want, uas.XML)
	}
	for _, s := range []*Scenario{uac, uas} {
		for _, text := range sendTexts(t, s.XML) {
			checkText(t, text)
		}
	}
}

// TestSIPpCarriesHostileHeadersVerbatim plays the hostile call: SIPp must
// load both scenarios, and each side must receive every hostile header
// byte for byte as it was captured, and the body too.
func TestSIPpCarriesHostileHeadersVerbatim(t *testing.T) {
	needSIPp(t)
	uac, uas, err := Pair(hostileCall(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sippParses(t, uac)
	sippParses(t, uas)
	dir := play(t, uac, uas)
	for _, side := range []string{"uac", "uas"} {
		log, err := os.ReadFile(filepath.Join(dir, side+".messages"))
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hostileHeaders {
			if !bytes.Contains(log, []byte("\r\n"+h+"\r\n")) {
				t.Errorf("the %s did not receive %q as captured:\n%s", side, h, log)
			}
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "uas.messages"))
	for _, want := range []string{`From: "Eve ]]> [pid] <x>" <sip:alice@`, "\r\nHello [service] & <b>bob</b> ]]> \\x41 — ça va?\r\n  indented line\r\n"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("the callee did not receive %q:\n%s", want, log)
		}
	}
}
