package scenario

import (
	"slices"
	"strings"
	"testing"
)

// flows are the captured calls of testdata with the steps each side's
// scenario must have.
var flows = []struct {
	file     string
	uac, uas []string
}{
	{
		file: "answered.txt", // two proxies, three capture nodes, a resend
		uac:  []string{"send INVITE", "recv 100 optional", "recv 180 optional", "recv 200", "send ACK", "pause 500", "send BYE", "recv 200"},
		uas:  []string{"recv INVITE", "send 100", "pause 18", "send 180", "pause 300", "send 200", "recv ACK", "recv BYE", "send 200"},
	},
	{
		file: "busy.txt",
		uac:  []string{"send INVITE", "recv 100 optional", "recv 486", "send ACK"},
		uas:  []string{"recv INVITE", "send 100", "send 486", "recv ACK"},
	},
	{
		file: "cancelled.txt", // the 180 before the CANCEL cannot be optional: a mandatory reception must end the run
		uac:  []string{"send INVITE", "recv 100 optional", "recv 180", "pause 398", "send CANCEL", "recv 200", "recv 487", "send ACK"},
		uas:  []string{"recv INVITE", "send 180", "recv CANCEL", "send 200", "send 487", "recv ACK"},
	},
	{
		file: "reinvite.txt", // a hold, then the callee hangs up
		uac:  []string{"send INVITE", "recv 200", "send ACK", "pause 200", "send INVITE", "recv 200", "send ACK", "recv BYE", "send 200"},
		uas:  []string{"recv INVITE", "send 200", "recv ACK", "recv INVITE", "send 200", "recv ACK", "pause 200", "send BYE", "recv 200"},
	},
	{
		file: "register.txt",
		uac:  []string{"send REGISTER", "recv 401", "send REGISTER", "recv 200"},
		uas:  []string{"recv REGISTER", "send 401", "recv REGISTER", "send 200"},
	},
	{
		file: "options.txt", // over TCP, from an ephemeral port
		uac:  []string{"send OPTIONS", "recv 200"},
		uas:  []string{"recv OPTIONS", "send 200"},
	},
	{
		file: "message.txt",
		uac:  []string{"send MESSAGE", "recv 202"},
		uas:  []string{"recv MESSAGE", "send 202"},
	},
}

func TestGenerateSteps(t *testing.T) {
	for _, f := range flows {
		t.Run(f.file, func(t *testing.T) {
			msgs := loadCall(t, f.file)
			for _, tc := range []struct {
				side Side
				want []string
			}{{UAC, f.uac}, {UAS, f.uas}} {
				s, err := Generate(msgs, tc.side, Options{})
				if err != nil {
					t.Fatalf("%s: %v", tc.side, err)
				}
				if got := outline(t, s.XML); !slices.Equal(got, tc.want) {
					t.Errorf("%s steps\n got %q\nwant %q\n%s", tc.side, got, tc.want, s.XML)
				}
				quick, err := Generate(msgs, tc.side, Options{NoPauses: true})
				if err != nil {
					t.Fatal(err)
				}
				want := slices.DeleteFunc(slices.Clone(tc.want), func(s string) bool { return len(s) > 6 && s[:6] == "pause " })
				if got := outline(t, quick.XML); !slices.Equal(got, want) {
					t.Errorf("%s steps without pauses\n got %q\nwant %q", tc.side, got, want)
				}
			}
		})
	}
}

// TestSIPpPlays has SIPp load every generated scenario, then play each
// pair against itself on loopback, caller straight to callee: both must
// exit 0, with and without the captured pauses.
func TestSIPpPlays(t *testing.T) {
	needSIPp(t)
	for _, f := range flows {
		t.Run(f.file, func(t *testing.T) {
			t.Parallel()
			msgs := loadCall(t, f.file)
			for _, opt := range []Options{{}, {NoPauses: true}} {
				uac, uas, err := Pair(msgs, opt)
				if err != nil {
					t.Fatal(err)
				}
				sippParses(t, uac)
				sippParses(t, uas)
				play(t, uac, uas)
			}
		})
	}
}

// TestSIPpPlaysUnfinished plays calls the capture window cut short: SIPp
// must load an INVITE that was never answered, or only rang.
func TestSIPpPlaysUnfinished(t *testing.T) {
	needSIPp(t)
	msgs := loadCall(t, "cancelled.txt")
	for _, tc := range []struct {
		name string
		n    int // messages kept
		uac  []string
	}{
		{"Unanswered", 1, []string{"send INVITE"}},
		{"Ringing", 5, []string{"send INVITE", "recv 100 optional", "recv 180"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// With the INVITE alone, the callee is the proxy that got it.
			uac, uas, err := Pair(msgs[:tc.n], Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := outline(t, uac.XML); !slices.Equal(got, tc.uac) {
				t.Errorf("uac steps %q, want %q", got, tc.uac)
			}
			sippParses(t, uac)
			sippParses(t, uas)
			play(t, uac, uas)
		})
	}
}

// TestProxyChallenge: a proxy answers the first INVITE 407; the caller
// acknowledges it and sends the INVITE again with credentials, which alone
// reaches the callee. The caller answers the challenge with the captured
// username and the run's password, never the captured credentials. (A
// direct replay cannot work: the challenge was the proxy's.)
func TestProxyChallenge(t *testing.T) {
	uac, uas, err := Pair(loadCall(t, "challenged.txt"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"send INVITE", "recv 407", "send ACK", "send INVITE", "recv 200", "send ACK", "pause 55", "send BYE", "recv 200"}
	if got := outline(t, uac.XML); !slices.Equal(got, want) {
		t.Errorf("uac steps\n got %q\nwant %q", got, want)
	}
	if got, want := outline(t, uas.XML), []string{"recv INVITE", "send 200", "recv ACK", "recv BYE", "send 200"}; !slices.Equal(got, want) {
		t.Errorf("uas steps\n got %q\nwant %q", got, want)
	}
	sends := sendTexts(t, uac.XML)
	if !strings.Contains(sends[1], "branch=[branch-2]") || !strings.Contains(sends[1], "ACK sip:[service]@example.com SIP/2.0") {
		t.Errorf("the ACK of the 407 is not the INVITE's transaction:\n%s", sends[1])
	}
	if !strings.Contains(sends[2], "\n[authentication username=alice]\n") || strings.Contains(string(uac.XML), "00112233445566778899aabbccddeeff") {
		t.Errorf("the second INVITE does not answer the challenge with the run's password:\n%s", sends[2])
	}
	if !uac.Challenge || uac.AuthUser != "alice" || uas.Local.String() != "10.0.0.20:5060" {
		t.Errorf("challenge %v user %q callee %s", uac.Challenge, uac.AuthUser, uas.Local)
	}
	needSIPp(t)
	sippParses(t, uac)
	sippParses(t, uas)
}
