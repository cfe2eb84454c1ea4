package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/hep"
)

// legMsg is one SIP message a test call sends through ingest.
type legMsg struct {
	callID, headers string
	// chunk is the HEP correlation chunk the capture node sets, if any.
	chunk string
	at    time.Time
}

// sendLegs sends each message as an INVITE of its Call-ID, From and
// User-Agent naming the call (so the text export shows whose it is), over
// HEP/UDP from capture node 2001.
func sendLegs(t *testing.T, hepAddr string, msgs []legMsg) {
	t.Helper()
	c, err := net.Dial("udp", hepAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, m := range msgs {
		user := strings.NewReplacer("@", "-", ".", "-").Replace(m.callID)
		sip := fmt.Sprintf("INVITE sip:bob@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK%d\r\n"+
			"From: <sip:%s@a.example>;tag=f%d\r\nTo: <sip:bob@b.example>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"+
			"User-Agent: phone-of-%s\r\n%sContent-Length: 0\r\n\r\n", i, user, i, m.callID, user, m.headers)
		p := hep.Packet{Version: 3, Family: hep.FamilyIPv4, Protocol: hep.ProtoUDP,
			Src: netip.MustParseAddrPort("192.0.2.10:5060"), Dst: netip.MustParseAddrPort("192.0.2.20:5060"),
			PayloadType: hep.PayloadSIP, CaptureID: 2001, Payload: []byte(sip)}
		p.SetTime(m.at)
		if m.chunk != "" {
			p.CorrelationID = []byte(m.chunk)
		}
		if _, err := c.Write(p.AppendV3(nil)); err != nil {
			t.Fatal(err)
		}
	}
}

// viewText fetches a link's text export through the real viewer.
func viewText(t *testing.T, cs *Callscope, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, cs.PublicURL+"/v/"+token+"/text", nil)
	resp, b := do1(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v/{token}/text: %s\n%s", resp.Status, b)
	}
	return string(b)
}

// TestTokenReachesItsCallOnly is issue 12's section 4 through real ingest
// and the real viewer: a call whose own SIP headers point at another call
// (X-CID: <victim's Call-ID>, a Call-ID "<victim>_b2b-1", a shared
// correlation value) does not give its token holder that call's messages;
// the legs that point at the call, and those its capture node joined to it
// with HEP's correlation chunk, are still shown. The tenant can opt in to
// following headers.
func TestTokenReachesItsCallOnly(t *testing.T) {
	t.Parallel()
	cs := newCallscope(t)
	cs.CLI(t, "tenant", "create", "acme")
	cs.CLI(t, "node", "add", "acme", "2001", "--name", "proxy-a")
	cs.Start(t)
	key := createAPIKey(t, cs, "acme")

	now := time.Now().UTC()
	at := func(ms int) time.Time { return now.Add(time.Duration(ms) * time.Millisecond) }
	const (
		victim   = "victim-1@v.example"
		attacker = "attacker-1@a.example"
	)
	sendLegs(t, cs.HEPAddr, []legMsg{
		{callID: victim, at: at(0)},
		// The attacker's call names the victim in its own header; its
		// capture node joins it to another leg with the HEP chunk.
		{callID: attacker, headers: "X-CID: " + victim + "\r\n", at: at(10)},
		{callID: attacker, chunk: "node-corr-7", at: at(11)},
		// Legs that point at the attacker's call, or that the node joined.
		{callID: attacker + "_b2b-1", at: at(20)},
		{callID: "pointer-1@p.example", headers: "X-CID: " + attacker + "\r\n", at: at(30)},
		{callID: "joined-1@j.example", chunk: "node-corr-7", at: at(40)},
		// A call sharing the attacker's header value: shared, not joined.
		{callID: "sharer-1@s.example", headers: "X-CID: " + victim + "\r\n", at: at(50)},
		// A call named as if it were the victim's B leg.
		{callID: victim + "_b2b-1", at: at(60)},
	})
	if err := eventually(15*time.Second, func() error {
		if n := countStored(t, cs.DatabaseURL, "true"); n != 8 {
			return fmt.Errorf("%d messages stored, want 8", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	victimUA := "User-Agent: phone-of-victim-1-v-example\n"
	for _, tc := range []struct {
		name, callID string
		shown        []string
	}{
		{"HeaderPointsAtVictim", attacker, []string{"phone-of-attacker-1-a-example", "phone-of-attacker-1-a-example_b2b-1",
			"phone-of-pointer-1-p-example", "phone-of-joined-1-j-example"}},
		{"CallIDNamesVictim", victim + "_b2b-1", []string{"phone-of-victim-1-v-example_b2b-1"}},
		{"SharedHeaderValue", "sharer-1@s.example", []string{"phone-of-sharer-1-s-example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := viewText(t, cs, mintToken(t, cs, key, tc.callID, 5*time.Minute).Token)
			if strings.Contains(text, victimUA) || strings.Contains(text, "Call-ID: "+victim+"\n") {
				t.Errorf("the link of %s shows the victim's call:\n%s", tc.callID, text)
			}
			for _, want := range tc.shown {
				if !strings.Contains(text, "User-Agent: "+want+"\n") {
					t.Errorf("the link of %s lacks %s:\n%s", tc.callID, want, text)
				}
			}
			if strings.Contains(text, "phone-of-sharer") != (tc.callID == "sharer-1@s.example") {
				t.Errorf("the link of %s and the sharer's call:\n%s", tc.callID, text)
			}
		})
	}

	t.Run("VictimSeesWhoPointsAtIt", func(t *testing.T) {
		// The attacker's and the sharer's calls say they belong with the
		// victim's: its own link may show them (their senders chose to).
		text := viewText(t, cs, mintToken(t, cs, key, victim, 5*time.Minute).Token)
		if !strings.Contains(text, victimUA) || !strings.Contains(text, "phone-of-attacker-1-a-example\n") {
			t.Errorf("the victim's link:\n%s", text)
		}
	})

	t.Run("TenantOptsIn", func(t *testing.T) {
		cs.CLI(t, "tenant", "follow-headers", "acme", "on")
		tok := mintToken(t, cs, key, attacker, 5*time.Minute).Token
		// The query service caches tenant rows for a few seconds.
		err := eventually(15*time.Second, func() error {
			if !strings.Contains(viewText(t, cs, tok), victimUA) {
				return fmt.Errorf("the victim's call is not followed yet")
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
}
