package e2e

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// ladderPage is what a viewer page shows of its ladder, read through the
// page's hooks: data-testid="call-id", "ladder" (its title),
// "ladder-column" (the label, and the address under a name),
// "ladder-arrow" (class, aria-label, href, data-from and data-to, the
// label and the lines under it) and "message-detail" (its "detail-meta"
// names endpoints, transport and node).
type ladderPage struct {
	CallID  string
	Title   string
	Columns []string
	Arrows  []pageArrow
}

// pageArrow is one arrow of the ladder as the page shows it.
type pageArrow struct {
	From, To        string // column addresses
	Label           string
	Transport, Node string // from the heading of its raw message
	Hop, Retrans    bool
	Sub             []string // the lines under the arrow
}

// readLadderPage parses a viewer page. It fails when a hook is missing or
// when the page disagrees with itself (an arrow's accessible name and its
// message's detail naming other endpoints, a retransmission marked one way
// and not another).
func readLadderPage(page []byte) (ladderPage, error) {
	var p ladderPage
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return p, err
	}
	ids := findAll(doc, byTestID("call-id"))
	if len(ids) != 1 {
		return p, fmt.Errorf("%d call-id elements, want 1", len(ids))
	}
	p.CallID = textOf(ids[0])
	svgs := findAll(doc, byTestID("ladder"))
	if len(svgs) != 1 {
		return p, fmt.Errorf("%d ladders, want 1", len(svgs))
	}
	titles := findAll(svgs[0], func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "title" })
	if len(titles) == 0 {
		return p, fmt.Errorf("the ladder has no title")
	}
	p.Title = textOf(titles[0])
	for _, c := range findAll(doc, byTestID("ladder-column")) {
		labels := findAll(c, byClass("column-label"))
		if len(labels) != 1 {
			return p, fmt.Errorf("a column with %d labels", len(labels))
		}
		col := textOf(labels[0])
		// A name (an alias, a capture node) has the address under it.
		if addrs := findAll(c, byClass("column-addr")); len(addrs) == 1 {
			col = textOf(addrs[0]) + " (" + col + ")"
		}
		p.Columns = append(p.Columns, col)
	}

	details := map[string]*html.Node{} // anchor -> the message detail's meta line
	for _, d := range findAll(doc, byTestID("message-detail")) {
		metas := findAll(d, byTestID("detail-meta"))
		if len(metas) != 1 {
			return p, fmt.Errorf("message detail %s: %d meta lines", attr(d, "id"), len(metas))
		}
		details[attr(d, "id")] = metas[0]
	}
	for i, a := range findAll(doc, byTestID("ladder-arrow")) {
		meta, ok := details[strings.TrimPrefix(attr(a, "href"), "#")]
		if !ok {
			return p, fmt.Errorf("arrow %d links to %q, which is no message detail on the page", i+1, attr(a, "href"))
		}
		m, err := parseRawMeta(textOf(meta))
		if err != nil {
			return p, fmt.Errorf("arrow %d: %w", i+1, err)
		}
		from, to, retrans, err := parseArrowSummary(attr(a, "aria-label"))
		if err != nil {
			return p, fmt.Errorf("arrow %d: %w", i+1, err)
		}
		if from != m.from || to != m.to {
			return p, fmt.Errorf("arrow %d: aria-label says %s -> %s, its raw message %s -> %s", i+1, from, to, m.from, m.to)
		}
		labels := findAll(a, byClass("label"))
		if len(labels) != 1 || firstElement(labels[0]) == nil {
			return p, fmt.Errorf("arrow %d: %d labels", i+1, len(labels))
		}
		classes := strings.Fields(attr(a, "class"))
		classed := slices.Contains(classes, "retransmission")
		tagged := len(findAll(a, byTestID("retransmission"))) > 0
		if classed != tagged || classed != retrans {
			return p, fmt.Errorf("arrow %d: retransmission in class %v, tag %v, aria-label %v: the page disagrees with itself", i+1, classed, tagged, retrans)
		}
		pa := pageArrow{From: attr(a, "data-from"), To: attr(a, "data-to"), Label: textOf(firstElement(labels[0])), Transport: m.transport, Node: m.node,
			Hop: slices.Contains(classes, "hop"), Retrans: retrans}
		for _, s := range findAll(a, byClass("sub")) {
			pa.Sub = append(pa.Sub, textOf(s))
		}
		p.Arrows = append(p.Arrows, pa)
	}
	return p, nil
}

// Text describes the ladder for a person to read and a golden file to
// hold:
//
//	Call-ID <call-id>
//	Ladder diagram of 28 SIP messages between 6 endpoints
//
//	columns:
//	  127.0.0.51:5060
//	  127.0.0.52:5060 (proxy-a)     a column named after its capture node or alias
//	  ...
//
//	arrows:
//	   1  127.0.0.51:5060 -> 127.0.0.52:5060  INVITE  udp  capture 5301  -
//	          audio 127.0.0.51:40000 PCMU/8000 PCMA/8000 telephone-event/8000 sendrecv
//	  ...
//
// One line per arrow, in the page's order: its number, the columns it
// joins, its label, the transport and capture node of its message, and
// its markers ("hop", "retransmission", "-" for none); under it, the lines
// the page writes under the arrow (SDP media, "also captured by").
//
// What changes from run to run and means nothing is replaced: the Call-ID
// by <call-id>, and a port in the kernel's ephemeral range (a TCP or TLS
// connection's, see ephemeralPorts) by <port-N>, N in order of first
// appearance. Times and deltas are left out.
func (p ladderPage) Text(ephemeral func(port uint16) bool) []byte {
	norm := endpointNormaliser(ephemeral)
	var b bytes.Buffer
	fmt.Fprintln(&b, "Call-ID <call-id>")
	fmt.Fprintln(&b, p.Title)
	fmt.Fprintln(&b, "\ncolumns:")
	for _, c := range p.Columns {
		addr, name, named := strings.Cut(c, " (")
		if named {
			name = " (" + name
		}
		fmt.Fprintf(&b, "  %s%s\n", norm(addr), name)
	}
	fmt.Fprintln(&b, "\narrows:")
	rows := make([]arrowLine, len(p.Arrows))
	for i, a := range p.Arrows {
		var marks []string
		if a.Hop {
			marks = append(marks, "hop")
		}
		if a.Retrans {
			marks = append(marks, "retransmission")
		}
		if len(marks) == 0 {
			marks = []string{"-"}
		}
		rows[i] = arrowLine{cells: []string{fmt.Sprint(i + 1), norm(a.From) + " -> " + norm(a.To), a.Label,
			orDash(a.Transport), orDash(a.Node), strings.Join(marks, ",")}, sub: a.Sub}
	}
	writeArrows(&b, rows)
	if p.CallID == "" {
		return b.Bytes()
	}
	return bytes.ReplaceAll(b.Bytes(), []byte(p.CallID), []byte("<call-id>"))
}

// arrowLine is one arrow of ladderText: its cells, aligned in columns,
// and the lines under it.
type arrowLine struct {
	cells []string
	sub   []string
}

// writeArrows writes rows with their cells aligned, each sub-line under
// its arrow's columns.
func writeArrows(b *bytes.Buffer, rows []arrowLine) {
	var widths []int
	for _, r := range rows {
		for i, c := range r.cells {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		line := "  "
		for i, c := range r.cells {
			if i == 0 { // the number, aligned right
				line += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)) + c
				continue
			}
			line += "  " + c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
		}
		fmt.Fprintln(b, strings.TrimRight(line, " "))
		for _, s := range r.sub {
			fmt.Fprintf(b, "  %s      %s\n", strings.Repeat(" ", widths[0]), s)
		}
	}
}

// rawMeta is what the heading of a raw message says about it:
// "FROM → TO · 15:04:05.000000 · tls · proxy-a", transport and node each
// optional.
type rawMeta struct {
	from, to, transport, node string
}

func parseRawMeta(s string) (rawMeta, error) {
	parts := strings.Split(s, "·")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	ends := strings.Split(parts[0], " → ")
	if len(parts) < 2 || len(ends) != 2 {
		return rawMeta{}, fmt.Errorf("message detail line %q: want FROM → TO · TIME [· TRANSPORT] [· NODE]", s)
	}
	m := rawMeta{from: ends[0], to: ends[1]}
	rest := parts[2:]
	if len(rest) > 0 && isTransport(rest[0]) {
		m.transport, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		m.node, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return rawMeta{}, fmt.Errorf("message detail line %q: more than FROM → TO · TIME · TRANSPORT · NODE", s)
	}
	return m, nil
}

// isTransport reports whether s is how stored rows name a transport: the
// names ingest gives IP protocols 6, 17, 22 and 132, or proto-N.
func isTransport(s string) bool {
	switch s {
	case "udp", "tcp", "tls", "sctp", "ws", "wss":
		return true
	}
	return strings.HasPrefix(s, "proto-")
}

// arrowSummaryRe matches an arrow's aria-label: "LABEL, CLASS, from FROM
// to TO, at TIME[, retransmission]".
var arrowSummaryRe = regexp.MustCompile(`, from (.+) to (.+), at \d\d:\d\d:\d\d\.\d{3}(, retransmission)?$`)

func parseArrowSummary(s string) (from, to string, retrans bool, err error) {
	m := arrowSummaryRe.FindStringSubmatch(s)
	if m == nil {
		return "", "", false, fmt.Errorf("aria-label %q: want LABEL, CLASS, from FROM to TO, at TIME", s)
	}
	return m[1], m[2], m[3] != "", nil
}

// endpointNormaliser returns a function that replaces the port of an
// IP:port label by <port-N> when ephemeral says it is one the kernel
// picks, numbered in the order of the calls; other labels stay as they are.
func endpointNormaliser(ephemeral func(uint16) bool) func(string) string {
	ports := map[netip.AddrPort]string{}
	return func(s string) string {
		ap, err := netip.ParseAddrPort(s)
		if err != nil || !ephemeral(ap.Port()) {
			return s
		}
		p, ok := ports[ap]
		if !ok {
			p = fmt.Sprintf("<port-%d>", len(ports)+1)
			ports[ap] = p
		}
		ip := ap.Addr().String()
		if ap.Addr().Is6() {
			ip = "[" + ip + "]"
		}
		return ip + ":" + p
	}
}

// ephemeralPorts reports whether a port is in the range the kernel picks
// local ports from (net.ipv4.ip_local_port_range; Linux's default when it
// cannot be read). The peers' own ports (5060, 5061) are outside it.
func ephemeralPorts() func(uint16) bool {
	lo, hi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var l, h int
		if n, _ := fmt.Sscan(string(b), &l, &h); n == 2 {
			lo, hi = l, h
		}
	}
	return func(p uint16) bool { return int(p) >= lo && int(p) <= hi }
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// findAll returns the nodes under n (n included) that match, in document
// order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if match(d) {
			out = append(out, d)
		}
	}
	if match(n) {
		out = append([]*html.Node{n}, out...)
	}
	return out
}

func byTestID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Type == html.ElementNode && attr(n, "data-testid") == id }
}

func byClass(c string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		return n.Type == html.ElementNode && slices.Contains(strings.Fields(attr(n, "class")), c)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

// textOf is the text of n and its descendants, as a browser's textContent.
func textOf(n *html.Node) string {
	if n == nil {
		return ""
	}
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// firstElement is n's first child element.
func firstElement(n *html.Node) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			return c
		}
	}
	return nil
}
