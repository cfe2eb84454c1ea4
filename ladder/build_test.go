package ladder

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// msg is a compact constructor for test messages: "INVITE" or "200 OK".
func msg(seq int, at time.Duration, src, dst, line string) Message {
	m := Message{
		Seq:       seq,
		Time:      t0.Add(at),
		Src:       netip.MustParseAddrPort(src),
		Dst:       netip.MustParseAddrPort(dst),
		Transport: "udp",
		CaptureID: 1,
		NodeName:  "edge",
		CallID:    "call-1",
		Raw:       fmt.Sprintf("%s seq=%d\r\n", line, seq),
	}
	var code int
	if _, err := fmt.Sscanf(line, "%d", &code); err == nil {
		m.StatusCode = code
		m.Reason = strings.TrimSpace(strings.TrimPrefix(line, fmt.Sprint(code)))
	} else {
		m.Request, m.Method = true, line
	}
	return m
}

// unnamed removes the capture node's name from msgs, so that no column is
// labelled with it.
func unnamed(msgs []Message) {
	for i := range msgs {
		msgs[i].NodeName = ""
	}
}

func labels(cols []Column) []string {
	var out []string
	for _, c := range cols {
		out = append(out, c.Label)
	}
	return out
}

func TestBuildColumns(t *testing.T) {
	msgs := []Message{
		msg(1, 0, "10.0.0.10:5060", "10.0.0.1:5060", "INVITE"),
		msg(2, time.Millisecond, "10.0.0.1:5060", "[2001:db8::20]:5080", "INVITE"),
		msg(3, 2*time.Millisecond, "[2001:db8::20]:5080", "10.0.0.1:5060", "180 Ringing"),
		msg(4, 3*time.Millisecond, "[::ffff:10.0.0.10]:5060", "10.0.0.1:5060", "ACK"),
	}
	unnamed(msgs) // TestBuildDateAndNodeColumns covers named nodes
	d := Build(msgs, nil, Options{})
	want := []string{"10.0.0.10:5060", "10.0.0.1:5060", "[2001:db8::20]:5080"}
	if got := labels(d.Columns); !slices.Equal(got, want) {
		t.Fatalf("columns = %q, want %q", got, want)
	}
	for i, c := range d.Columns {
		if c.Index != i || c.X != Gutter+ColumnWidth/2+i*ColumnWidth {
			t.Errorf("column %d: index %d x %d", i, c.Index, c.X)
		}
	}
	if d.Width != Gutter+3*ColumnWidth+RightMargin {
		t.Errorf("width = %d", d.Width)
	}
	dirs := []Direction{Right, Right, Left, Right}
	for i, r := range d.Rows {
		if r.Direction != dirs[i] {
			t.Errorf("row %d direction %s, want %s", i, r.Direction, dirs[i])
		}
	}
	if d.Rows[3].From != 0 { // a v4-mapped address is the same endpoint
		t.Errorf("mapped address got column %d", d.Rows[3].From)
	}
}

func TestBuildAliases(t *testing.T) {
	msgs := []Message{
		msg(1, 0, "10.0.0.10:5060", "10.0.0.1:5060", "INVITE"),
		msg(2, time.Millisecond, "10.0.0.1:5060", "10.0.0.1:5070", "INVITE"),
		msg(3, 2*time.Millisecond, "10.0.0.1:5070", "[2001:db8::20]:5060", "INVITE"),
	}
	unnamed(msgs) // TestBuildDateAndNodeColumns covers named nodes
	tests := []struct {
		name    string
		aliases map[string]string
		group   bool
		want    []string
	}{
		{"None", nil, false, []string{"10.0.0.10:5060", "10.0.0.1:5060", "10.0.0.1:5070", "[2001:db8::20]:5060"}},
		{"IP", map[string]string{"10.0.0.1": "SBC"}, false, []string{"10.0.0.10:5060", "SBC", "SBC", "[2001:db8::20]:5060"}},
		{"IPPortWins", map[string]string{"10.0.0.1": "SBC", "10.0.0.1:5070": "SBC core"}, false,
			[]string{"10.0.0.10:5060", "SBC", "SBC core", "[2001:db8::20]:5060"}},
		{"IPv6", map[string]string{"[2001:db8::20]:5060": "PBX", "2001:db8::99": "x"}, false,
			[]string{"10.0.0.10:5060", "10.0.0.1:5060", "10.0.0.1:5070", "PBX"}},
		{"IPv6Bare", map[string]string{"2001:db8::20": "PBX"}, false,
			[]string{"10.0.0.10:5060", "10.0.0.1:5060", "10.0.0.1:5070", "PBX"}},
		{"Garbage", map[string]string{"not an address": "x", "": "y"}, false,
			[]string{"10.0.0.10:5060", "10.0.0.1:5060", "10.0.0.1:5070", "[2001:db8::20]:5060"}},
		{"GroupedIPWins", map[string]string{"10.0.0.1": "SBC", "10.0.0.1:5060": "SBC edge"}, true,
			[]string{"10.0.0.10", "SBC", "[2001:db8::20]"}},
		{"GroupedFirstPort", map[string]string{"10.0.0.1:5060": "SBC edge"}, true,
			[]string{"10.0.0.10", "SBC edge", "[2001:db8::20]"}},
		{"CleanedLabel", map[string]string{"10.0.0.10:5060": "Alice\r\n\u202eevil"}, false,
			[]string{"Alice evil", "10.0.0.1:5060", "10.0.0.1:5070", "[2001:db8::20]:5060"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Build(msgs, nil, Options{Aliases: tt.aliases, GroupByIP: tt.group})
			if got := labels(d.Columns); !slices.Equal(got, tt.want) {
				t.Fatalf("labels = %q, want %q", got, tt.want)
			}
			for _, c := range d.Columns {
				if c.Aliased != (c.Label != c.Key) {
					t.Errorf("column %q aliased = %v", c.Label, c.Aliased)
				}
			}
		})
	}
}

func TestBuildGroupByIP(t *testing.T) {
	// A TCP peer answers from an ephemeral port: two columns per IP unless grouped.
	msgs := []Message{
		msg(1, 0, "10.0.0.10:40123", "10.0.0.1:5060", "INVITE"),
		msg(2, time.Millisecond, "10.0.0.1:5060", "10.0.0.10:40123", "100 Trying"),
		msg(3, 2*time.Millisecond, "10.0.0.1:51000", "10.0.0.10:5060", "BYE"),
	}
	if d := Build(msgs, nil, Options{}); len(d.Columns) != 4 {
		t.Fatalf("ungrouped: %d columns, want 4", len(d.Columns))
	}
	d := Build(msgs, nil, Options{GroupByIP: true})
	if got, want := labels(d.Columns), []string{"10.0.0.10", "10.0.0.1"}; !slices.Equal(got, want) {
		t.Fatalf("grouped labels = %q, want %q", got, want)
	}
	if r := d.Rows[2]; r.From != 1 || r.To != 0 || r.Direction != Left {
		t.Errorf("BYE row = %d->%d %s", r.From, r.To, r.Direction)
	}
}

func TestBuildRetransmissionAndHop(t *testing.T) {
	const a, p, b = "10.0.0.10:5060", "10.0.0.1:5060", "10.0.0.20:5060"
	copyOf := func(m Message, seq int, at time.Duration, capture uint32, node string) Message {
		m.Seq, m.Time, m.CaptureID, m.NodeName = seq, t0.Add(at), capture, node
		return m
	}
	invite := msg(1, 0, a, p, "INVITE")
	tests := []struct {
		name        string
		msgs        []Message
		retrans     []bool
		hop         []bool
		wantSubNode string
	}{
		{
			name:    "SameNodeLater",
			msgs:    []Message{invite, copyOf(invite, 2, 500*time.Millisecond, 1, "edge")},
			retrans: []bool{false, true}, hop: []bool{false, false},
		},
		{
			name:    "SameNodeFast", // even 1 ms apart, one node seeing the same bytes twice is a resend
			msgs:    []Message{invite, copyOf(invite, 2, time.Millisecond, 1, "edge")},
			retrans: []bool{false, true}, hop: []bool{false, false},
		},
		{
			name:    "OtherNodeLater",
			msgs:    []Message{invite, copyOf(invite, 2, 2*time.Millisecond, 2, "core")},
			retrans: []bool{false, false}, hop: []bool{false, true}, wantSubNode: "core",
		},
		{
			name:    "OtherNodeOneMillisecondEarlier",
			msgs:    []Message{invite, copyOf(invite, 2, -time.Millisecond, 2, "core")},
			retrans: []bool{false, false}, hop: []bool{false, true}, wantSubNode: "core",
		},
		{
			name:    "OtherNodeTooLate", // outside the window, another node saw a resend
			msgs:    []Message{invite, copyOf(invite, 2, 500*time.Millisecond, 2, "core")},
			retrans: []bool{false, true}, hop: []bool{false, false},
		},
		{
			name:    "OtherNodeNoName",
			msgs:    []Message{invite, copyOf(invite, 2, 3*time.Millisecond, 7, "")},
			retrans: []bool{false, false}, hop: []bool{false, true}, wantSubNode: "capture 7",
		},
		{
			name: "ResendSeenByBothNodes",
			msgs: []Message{
				invite,
				copyOf(invite, 2, time.Millisecond, 2, "core"),
				copyOf(invite, 3, 500*time.Millisecond, 1, "edge"),
				copyOf(invite, 4, 501*time.Millisecond, 2, "core"),
			},
			retrans: []bool{false, false, true, true}, hop: []bool{false, true, false, false},
		},
		{
			name:    "DifferentBytes",
			msgs:    []Message{invite, msg(2, time.Millisecond, p, b, "INVITE")},
			retrans: []bool{false, false}, hop: []bool{false, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Build(tt.msgs, nil, Options{})
			if len(d.Rows) != len(tt.msgs) {
				t.Fatalf("%d rows, want %d", len(d.Rows), len(tt.msgs))
			}
			for i, r := range d.Rows {
				if r.Retransmission != tt.retrans[i] || r.Hop != tt.hop[i] {
					t.Errorf("row %d: retransmission %v hop %v, want %v %v", i, r.Retransmission, r.Hop, tt.retrans[i], tt.hop[i])
				}
			}
			if tt.wantSubNode != "" {
				last := d.Rows[len(d.Rows)-1]
				if want := "also captured by " + tt.wantSubNode; !slices.Contains(last.Sub, want) {
					t.Errorf("sub lines %q lack %q", last.Sub, want)
				}
				if last.Delta != delta(last.Message.Time.Sub(tt.msgs[0].Time)) {
					t.Errorf("delta %q", last.Delta)
				}
			}
		})
	}
}

// TestBuildHopWindowByTransport: SIP resends only over UDP, so two nodes'
// copies of one packet are paired within 200 ms over UDP and within
// seconds over a reliable transport, where a connection set up between
// the two captures can delay the second copy well past 200 ms.
func TestBuildHopWindowByTransport(t *testing.T) {
	const a, p = "10.0.0.10:5060", "10.0.0.1:5060"
	pair := func(transport string, apart time.Duration, capture uint32) []Message {
		first := msg(1, 0, a, p, "INVITE")
		first.Transport = transport
		second := first
		second.Seq, second.Time, second.CaptureID, second.NodeName = 2, t0.Add(apart), capture, "core"
		return []Message{first, second}
	}
	tests := []struct {
		name      string
		transport string
		apart     time.Duration
		capture   uint32 // of the second copy; the first is capture 1
		hop       bool
		retrans   bool
	}{
		{"UDPWithin", "udp", 150 * time.Millisecond, 2, true, false},
		{"UDPBeyond", "udp", 350 * time.Millisecond, 2, false, true},
		{"TCPBeyondUDPWindow", "tcp", 350 * time.Millisecond, 2, true, false},
		{"TLSSlowHandshake", "tls", 1800 * time.Millisecond, 2, true, false},
		{"TLSUpperCase", "TLS", 1800 * time.Millisecond, 2, true, false},
		{"SCTP", "sctp", time.Second, 2, true, false},
		{"WSS", "wss", time.Second, 2, true, false},
		{"TLSTooFar", "tls", 6 * time.Second, 2, false, true},
		{"TLSSameNode", "tls", 10 * time.Millisecond, 1, false, true}, // one node seeing the bytes twice is a resend on any transport
		{"Unknown", "", 350 * time.Millisecond, 2, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Build(pair(tt.transport, tt.apart, tt.capture), nil, Options{})
			last := d.Rows[len(d.Rows)-1]
			if last.Hop != tt.hop || last.Retransmission != tt.retrans {
				t.Errorf("second copy %v apart over %q: hop %v retransmission %v, want %v %v",
					tt.apart, tt.transport, last.Hop, last.Retransmission, tt.hop, tt.retrans)
			}
		})
	}

	// Mixed transports (a copy over UDP, one over TLS) are held to UDP's
	// window.
	m := pair("tls", 350*time.Millisecond, 2)
	m[0].Transport = "udp"
	if d := Build(m, nil, Options{}); d.Rows[1].Hop {
		t.Error("UDP and TLS copies 350 ms apart paired as one packet")
	}
}

// TestBuildSenderFirstSlowTLS: over TLS the sender's copy comes first even
// when the receiving node stamped its copy more than 200 ms earlier.
func TestBuildSenderFirstSlowTLS(t *testing.T) {
	const uac, a, b, uas = "10.0.0.10:5060", "10.0.0.1:5061", "10.0.0.2:5061", "10.0.0.20:5060"
	on := func(m Message, capture uint32, at time.Duration) Message {
		m.CaptureID, m.NodeName, m.Time, m.Transport = capture, fmt.Sprintf("node-%d", capture), t0.Add(at), "tls"
		return m
	}
	inviteAB := msg(2, 0, a, b, "INVITE")
	sent := on(inviteAB, 1, 900*time.Millisecond)
	sent.Seq = 3
	msgs := []Message{
		on(msg(1, 0, uac, a, "INVITE"), 1, 0),
		on(inviteAB, 2, 600*time.Millisecond), // B stamped receiving it 300 ms before A stamped sending it
		sent,
		on(msg(4, 0, b, uas, "INVITE"), 2, 950*time.Millisecond),
	}
	var order []int
	for _, r := range Build(msgs, nil, Options{}).Rows {
		order = append(order, r.Seq)
	}
	if want := []int{1, 3, 2, 4}; !slices.Equal(order, want) {
		t.Fatalf("rows %v, want %v", order, want)
	}
}

func TestBuildLabelsAndClasses(t *testing.T) {
	tests := []struct {
		line  string
		label string
		class Class
	}{
		{"INVITE", "INVITE", ClassRequest},
		{"100 Trying", "100 Trying", ClassProvisional},
		{"183 Session Progress", "183 Session Progress", ClassProvisional},
		{"200 OK", "200 OK", ClassSuccess},
		{"302 Moved Temporarily", "302 Moved Temporarily", ClassRedirect},
		{"486 Busy Here", "486 Busy Here", ClassClientError},
		{"503 Service Unavailable", "503 Service Unavailable", ClassServerError},
		{"603 Decline", "603 Decline", ClassServerError},
		{"999 Odd", "999 Odd", ClassUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			d := Build([]Message{msg(1, 0, "10.0.0.1:5060", "10.0.0.2:5060", tt.line)}, nil, Options{})
			r := d.Rows[0]
			if r.Label != tt.label || r.Class != tt.class {
				t.Errorf("label %q class %q, want %q %q", r.Label, r.Class, tt.label, tt.class)
			}
			if r.Dashed == (tt.class == ClassRequest) {
				t.Errorf("dashed = %v for %s", r.Dashed, tt.class)
			}
			closed := strings.Count(r.Head, ",") == 4
			if closed != (tt.class == ClassRequest) {
				t.Errorf("head %q: closed = %v", r.Head, closed)
			}
			if r.Anchor != "m1" || r.Time != "09:26:53.589" || r.Delta != "" {
				t.Errorf("anchor %q time %q delta %q", r.Anchor, r.Time, r.Delta)
			}
		})
	}
	t.Run("EmptyMethod", func(t *testing.T) {
		m := msg(1, 0, "10.0.0.1:5060", "10.0.0.2:5060", "INVITE")
		m.Method = ""
		if got := Build([]Message{m}, nil, Options{}).Rows[0].Label; got != "request" {
			t.Errorf("label = %q", got)
		}
	})
	t.Run("LongLabel", func(t *testing.T) {
		m := msg(1, 0, "10.0.0.1:5060", "10.0.0.2:5060", "INVITE")
		m.Method = strings.Repeat("☎", 1000)
		r := Build([]Message{m}, nil, Options{}).Rows[0]
		if n := len([]rune(r.Label)); n != MaxLabel+1 {
			t.Errorf("label has %d runes", n)
		}
		if n := len([]rune(r.Short)); n != ShortLabel+1 || !strings.HasSuffix(r.Short, "…") {
			t.Errorf("short label %q has %d runes", r.Short, n)
		}
	})
}

func TestBuildSelfLoop(t *testing.T) {
	d := Build([]Message{
		msg(1, 0, "10.0.0.1:5060", "10.0.0.1:5060", "OPTIONS"),
		msg(2, time.Millisecond, "10.0.0.1:5060", "10.0.0.1:5070", "200 OK"),
	}, nil, Options{GroupByIP: true})
	if len(d.Columns) != 1 {
		t.Fatalf("%d columns", len(d.Columns))
	}
	for i, r := range d.Rows {
		if r.Direction != Self || r.From != 0 || r.To != 0 {
			t.Errorf("row %d: %s %d->%d", i, r.Direction, r.From, r.To)
		}
		if !strings.Contains(r.Path, " V ") || r.LabelAnchor != "start" {
			t.Errorf("row %d: path %q anchor %q", i, r.Path, r.LabelAnchor)
		}
		if r.Bottom-r.Top != RowHeight+LoopHeight {
			t.Errorf("row %d: height %d", i, r.Bottom-r.Top)
		}
	}
	if d.Rows[1].Top != d.Rows[0].Bottom {
		t.Errorf("rows overlap: %d < %d", d.Rows[1].Top, d.Rows[0].Bottom)
	}
}

func TestBuildPagination(t *testing.T) {
	var msgs []Message
	for i := range 250 {
		line := "INFO"
		if i%2 == 1 {
			line = "200 OK"
		}
		msgs = append(msgs, msg(i+1, time.Duration(i)*10*time.Millisecond, "10.0.0.1:5060", "10.0.0.2:5060", line))
	}
	tests := []struct {
		name                    string
		page, size              int
		wantPage, wantPages, n  int
		wantFirstSeq, wantFirst int
		wantFirstDelta          string
	}{
		{"Default", 0, 0, 1, 3, 100, 1, 1, ""},
		{"Second", 2, 0, 2, 3, 100, 101, 101, "+10 ms"},
		{"LastShort", 3, 0, 3, 3, 50, 201, 201, "+10 ms"},
		{"Clamped", 99, 0, 3, 3, 50, 201, 201, "+10 ms"},
		{"Negative", -4, 0, 1, 3, 100, 1, 1, ""},
		{"Size25", 4, 25, 4, 10, 25, 76, 76, "+10 ms"},
		{"SizeCapped", 1, 1 << 30, 1, 1, 250, 1, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Build(msgs, nil, Options{Page: tt.page, PageSize: tt.size})
			if d.Page != tt.wantPage || d.Pages != tt.wantPages || len(d.Rows) != tt.n || d.Total != 250 {
				t.Fatalf("page %d/%d with %d rows of %d", d.Page, d.Pages, len(d.Rows), d.Total)
			}
			if d.Rows[0].Seq != tt.wantFirstSeq || d.First != tt.wantFirst || d.Last != tt.wantFirst+tt.n-1 {
				t.Errorf("first seq %d, first %d last %d", d.Rows[0].Seq, d.First, d.Last)
			}
			if d.Rows[0].Delta != tt.wantFirstDelta {
				t.Errorf("first delta %q, want %q", d.Rows[0].Delta, tt.wantFirstDelta)
			}
			if d.Rows[0].Top != HeaderHeight || d.Height != d.Rows[len(d.Rows)-1].Bottom+BottomMargin {
				t.Errorf("geometry: top %d height %d", d.Rows[0].Top, d.Height)
			}
		})
	}
	t.Run("Empty", func(t *testing.T) {
		d := Build(nil, nil, Options{})
		if d.Page != 1 || d.Pages != 1 || len(d.Rows) != 0 || d.First != 0 || d.Width <= Gutter {
			t.Errorf("empty diagram: %+v", d)
		}
	})
}

func TestBuildEvents(t *testing.T) {
	msgs := []Message{
		msg(1, 0, "10.0.0.1:5060", "10.0.0.2:5060", "INVITE"),
		msg(2, 10*time.Millisecond, "10.0.0.2:5060", "10.0.0.1:5060", "200 OK"),
		msg(3, 20*time.Millisecond, "10.0.0.1:5060", "10.0.0.2:5060", "ACK"),
		msg(4, 5*time.Second, "10.0.0.1:5060", "10.0.0.2:5060", "BYE"),
	}
	events := []Event{
		{Time: t0.Add(6 * time.Second), Kind: "qos", Text: "MOS 4.2", CaptureID: 1},
		{Time: t0.Add(-time.Second), Kind: "log", Text: "call\r\nstarted", CaptureID: 9},
		{Time: t0.Add(2 * time.Second), Kind: "rtcp", Text: "jitter 3 ms", CaptureID: 1},
	}
	t.Run("OnePage", func(t *testing.T) {
		d := Build(msgs, events, Options{})
		if len(d.Notes) != 3 {
			t.Fatalf("%d notes", len(d.Notes))
		}
		// Each note sits between the rows it falls between in time.
		wantBefore := []int{0, 3, 4} // index of the first row below each note
		for i, n := range d.Notes {
			if wantBefore[i] < len(d.Rows) && n.Y > d.Rows[wantBefore[i]].Top {
				t.Errorf("note %d (%s) at %d, below row %d", i, n.Text, n.Y, wantBefore[i])
			}
			if wantBefore[i] > 0 && n.Y < d.Rows[wantBefore[i]-1].Bottom {
				t.Errorf("note %d (%s) at %d, above row %d", i, n.Text, n.Y, wantBefore[i]-1)
			}
		}
		if d.Notes[0].Text != "call started" || d.Notes[0].Node != "capture 9" || d.Notes[1].Node != "edge" {
			t.Errorf("notes: %+v", d.Notes)
		}
	})
	t.Run("Paged", func(t *testing.T) {
		var got []string
		for page := 1; page <= 2; page++ {
			d := Build(msgs, events, Options{Page: page, PageSize: 2})
			for _, n := range d.Notes {
				got = append(got, fmt.Sprintf("%d:%s", page, n.Kind))
			}
		}
		if want := []string{"1:log", "2:rtcp", "2:qos"}; !slices.Equal(got, want) {
			t.Errorf("notes by page = %q, want %q", got, want)
		}
	})
	t.Run("NoMessages", func(t *testing.T) {
		if d := Build(nil, events, Options{}); len(d.Notes) != 3 {
			t.Errorf("%d notes", len(d.Notes))
		}
	})
}

func TestBuildLegs(t *testing.T) {
	a := msg(1, 0, "10.0.0.1:5060", "10.0.0.2:5060", "INVITE")
	b := msg(2, time.Millisecond, "10.0.0.2:5060", "10.0.0.3:5060", "INVITE")
	b.Leg, b.CallID = 1, "leg-b"
	c := msg(3, 2*time.Millisecond, "10.0.0.3:5060", "10.0.0.2:5060", "200 OK")
	c.Leg, c.CallID = 1, "leg-b"
	d := Build([]Message{c, a, b}, nil, Options{})
	if len(d.Legs) != 2 || !d.MultiLeg() {
		t.Fatalf("legs %+v", d.Legs)
	}
	if l := d.Leg(1); l.CallID != "leg-b" || l.Count != 2 || l.Marker != MarkerSquare || l.Colour != 1 {
		t.Errorf("leg 1 = %+v", l)
	}
	if d.Rows[0].LegMarkerX != d.Columns[0].X {
		t.Errorf("leg marker x %d", d.Rows[0].LegMarkerX)
	}
	if single := Build([]Message{a}, nil, Options{}); single.MultiLeg() || single.Rows[0].LegMarkerX != 0 {
		t.Errorf("single leg diagram: %+v", single.Legs)
	}
}

func TestBuildSDP(t *testing.T) {
	m := msg(1, 0, "10.0.0.1:5060", "10.0.0.2:5060", "INVITE")
	m.SDP = &SDPSummary{Media: []SDPMedia{
		{Type: "audio", Addr: "10.0.0.5", Port: 40000, Codecs: []string{"PCMU/8000", "PCMA/8000"}, Direction: "sendrecv"},
		{Type: "video", Addr: "2001:db8::5", Port: 40002, Codecs: []string{"H264/90000"}},
	}}
	r := Build([]Message{m}, nil, Options{}).Rows[0]
	want := []string{"audio 10.0.0.5:40000 PCMU/8000 PCMA/8000 sendrecv", "video [2001:db8::5]:40002 H264/90000"}
	if !slices.Equal(r.Sub, want) {
		t.Errorf("sub = %q, want %q", r.Sub, want)
	}
	if r.Bottom-r.Top != RowHeight+2*SubLineHeight {
		t.Errorf("row height %d", r.Bottom-r.Top)
	}

	// The SDP line under an arrow into the last column runs past it: the
	// diagram grows so the text is not clipped, and notes grow with it.
	base := Gutter + 2*ColumnWidth + RightMargin
	d := Build([]Message{m}, []Event{{Time: m.Time, Kind: "log", Text: "x"}}, Options{})
	if d.Width <= base {
		t.Errorf("width %d not grown past %d", d.Width, base)
	}
	if n := d.Notes[0]; n.X+n.Width != d.Width-RightMargin/2 {
		t.Errorf("note spans %d..%d in width %d", n.X, n.X+n.Width, d.Width)
	}
	if plain := Build([]Message{msg(1, 0, "10.0.0.1:5060", "10.0.0.2:5060", "INVITE")}, nil, Options{}); plain.Width != base {
		t.Errorf("plain width %d, want %d", plain.Width, base)
	}
}

func TestBuildDeterministic(t *testing.T) {
	msgs := []Message{
		msg(1, 0, "10.0.0.1:5060", "10.0.0.2:5060", "INVITE"),
		msg(2, time.Millisecond, "10.0.0.2:5060", "10.0.0.3:5060", "INVITE"),
		msg(3, 2*time.Millisecond, "10.0.0.3:5060", "10.0.0.2:5060", "180 Ringing"),
	}
	opt := Options{Aliases: map[string]string{"10.0.0.1": "A", "10.0.0.2": "B", "10.0.0.3": "C", "10.0.0.3:5060": "C1"}}
	want := Build(msgs, nil, opt)
	shuffled := []Message{msgs[2], msgs[0], msgs[1]}
	for range 20 {
		if got := Build(shuffled, nil, opt); !reflect.DeepEqual(got, want) {
			t.Fatal("Build is not deterministic")
		}
	}
	if shuffled[0].Seq != 3 {
		t.Error("Build reordered its input")
	}
}

func TestDelta(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "+0.0 ms"},
		{300 * time.Microsecond, "+0.3 ms"},
		{349 * time.Microsecond, "+0.3 ms"},
		{-time.Millisecond, "-1.0 ms"},
		{4750 * time.Microsecond, "+4.8 ms"},
		{9949 * time.Microsecond, "+9.9 ms"},
		{12345 * time.Microsecond, "+12 ms"},
		{120 * time.Millisecond, "+120 ms"},
		{999499 * time.Microsecond, "+999 ms"},
		{time.Second, "+1.0 s"},
		{2400 * time.Millisecond, "+2.4 s"},
		{32*time.Second + 5*time.Microsecond, "+32.0 s"},
		{-19444621 * time.Microsecond, "-19.4 s"},
		{2 * time.Hour, "+7200.0 s"},
	}
	for _, tt := range tests {
		if got := delta(tt.d); got != tt.want {
			t.Errorf("delta(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestBuildDateAndNodeColumns: the day is the diagram's, once; a column
// at a named capture node's own address reads the node's name with the
// address under it, an alias still winning.
func TestBuildDateAndNodeColumns(t *testing.T) {
	const uac, proxy, uas = "10.0.0.10:5060", "10.0.0.1:5060", "10.0.0.20:5060"
	on := func(m Message) Message { m.NodeName = "kamailio-edge"; return m }
	msgs := []Message{
		on(msg(1, 0, uac, proxy, "INVITE")),
		on(msg(2, time.Millisecond, proxy, uac, "100 Trying")),
		on(msg(3, 2*time.Millisecond, proxy, uas, "INVITE")),
		on(msg(4, 3*time.Millisecond, uas, proxy, "486 Busy Here")),
	}
	d := Build(msgs, nil, Options{})
	if d.Date != "Fri 14 Mar 2025" {
		t.Errorf("date %q", d.Date)
	}
	if got := labels(d.Columns); !slices.Equal(got, []string{"10.0.0.10:5060", "kamailio-edge", "10.0.0.20:5060"}) {
		t.Fatalf("columns %q", got)
	}
	if c := d.Columns[1]; !c.Aliased || c.Address != proxy {
		t.Errorf("node column %+v: want its address under the name", c)
	}
	d = Build(msgs, nil, Options{GroupByIP: true, Aliases: map[string]string{"10.0.0.20": "PBX"}})
	if got := labels(d.Columns); !slices.Equal(got, []string{"10.0.0.10", "kamailio-edge", "PBX"}) {
		t.Errorf("columns by IP %q", got)
	}
	d = Build(msgs, nil, Options{Aliases: map[string]string{"10.0.0.1": "SBC"}})
	if got := d.Columns[1].Label; got != "SBC" {
		t.Errorf("aliased node column %q, want the alias", got)
	}
	// A node without a name leaves its address as the label.
	for i := range msgs {
		msgs[i].NodeName = ""
	}
	if got := Build(msgs, nil, Options{}).Columns[1].Label; got != proxy {
		t.Errorf("unnamed node column %q", got)
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"INVITE", 10, "INVITE"},
		{"  a \r\n\t b  ", 10, "a b"},
		{"abcdef", 3, "abc…"},
		{"ab   cd", 3, "ab…"},
		{"abc   ", 3, "abc"},
		{"\u202egnp.exe", 20, "gnp.exe"},
		{"bad\xffutf8", 20, "bad\uFFFDutf8"},
		{"\x00\x1b[31m", 20, "[31m"},
	}
	for _, tt := range tests {
		if got := clean(tt.in, tt.max); got != tt.want {
			t.Errorf("clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestBuildSenderFirst: with two proxies A and B, each reporting what it
// receives and sends, the receiving node often stamps a packet before the
// sending node does. The ladder draws each packet's sending copy first,
// the receiving copy after it as the hop, and keeps everything else in
// capture order.
func TestBuildSenderFirst(t *testing.T) {
	const uac, a, b, uas = "10.0.0.10:5060", "10.0.0.1:5060", "10.0.0.2:5060", "10.0.0.20:5060"
	on := func(m Message, capture uint32) Message {
		m.CaptureID, m.NodeName = capture, fmt.Sprintf("node-%d", capture)
		return m
	}
	inviteAB := msg(2, time.Millisecond, a, b, "INVITE")
	okBA := msg(6, 11*time.Millisecond, b, a, "200 OK")
	sentInvite, sentOK := on(inviteAB, 1), on(okBA, 2)
	sentInvite.Seq, sentInvite.Time = 3, t0.Add(2*time.Millisecond)
	sentOK.Seq, sentOK.Time = 7, t0.Add(12*time.Millisecond)
	msgs := []Message{
		on(msg(1, 0, uac, a, "INVITE"), 1),
		on(inviteAB, 2), // B stamped receiving it ...
		sentInvite,      // ... before A stamped sending it
		on(msg(4, 3*time.Millisecond, b, uas, "INVITE"), 2),
		on(msg(5, 10*time.Millisecond, uas, b, "200 OK"), 2),
		on(okBA, 1), // A received the 200 ...
		sentOK,      // ... before B stamped sending it
		on(msg(8, 13*time.Millisecond, a, uac, "200 OK"), 1),
	}
	d := Build(msgs, nil, Options{})
	var order []int
	for _, r := range d.Rows {
		order = append(order, r.Seq)
	}
	if want := []int{1, 3, 2, 4, 5, 7, 6, 8}; !slices.Equal(order, want) {
		t.Fatalf("rows in Seq order %v, want %v (each packet's sender's copy first)", order, want)
	}
	for i, r := range d.Rows {
		if wantHop := r.Seq == 2 || r.Seq == 6; r.Hop != wantHop || r.Retransmission {
			t.Errorf("row %d (seq %d): hop %v retransmission %v, want hop %v", i, r.Seq, r.Hop, r.Retransmission, wantHop)
		}
	}

	// A node whose own address cannot be told (it saw one message, so
	// both ends are candidates) keeps capture order.
	lone := []Message{on(inviteAB, 2), sentInvite}
	lone[0].Seq, lone[1].Seq = 1, 2
	if d := Build(lone, nil, Options{}); d.Rows[0].Seq != 1 {
		t.Errorf("with no node address known, rows reordered: first is seq %d", d.Rows[0].Seq)
	}
}

// TestBuildCompact: compact rows are CompactRowHeight apart and carry no
// lines under their arrows, so 20 messages stay under 600 units tall.
func TestBuildCompact(t *testing.T) {
	var msgs []Message
	for i := range 20 {
		m := msg(i+1, time.Duration(i)*time.Millisecond, "10.0.0.10:5060", "10.0.0.20:5060", "INVITE")
		m.SDP = &SDPSummary{Media: []SDPMedia{{Type: "audio", Addr: "10.0.0.10", Port: 4000}}}
		msgs = append(msgs, m)
	}
	d := Build(msgs, nil, Options{Compact: true})
	if !d.Compact || d.Height > 600 {
		t.Errorf("compact diagram of 20 messages is %d tall", d.Height)
	}
	for _, r := range d.Rows {
		if r.Bottom-r.Top != CompactRowHeight || len(r.Sub) != 0 {
			t.Fatalf("row %d: height %d, sub %q", r.Seq, r.Bottom-r.Top, r.Sub)
		}
	}
	if full := Build(msgs, nil, Options{}); len(full.Rows[0].Sub) != 1 {
		t.Errorf("full diagram lost the SDP line")
	}
}
