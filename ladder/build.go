package ladder

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Build lays out one page of the ladder diagram of msgs, with events as
// notes at their time position.
//
// Rows follow Message.Seq (capture order), except that a packet two capture
// nodes saw is drawn as the sender's copy first (see senderFirst): clocks
// of different nodes are not causal, and a receiving node often stamps a
// packet before the sending node, which stamps it once sent, does. Columns are computed
// over the whole call, so they stay put while paging. The result depends
// only on the arguments; Build never fails: a message without addresses
// lands in an "unknown" column.
func Build(msgs []Message, events []Event, opt Options) Diagram {
	loc := opt.Location
	if loc == nil {
		loc = time.UTC
	}
	sorted := inDrawingOrder(msgs)

	d := Diagram{Total: len(sorted), HeaderHeight: HeaderHeight, Zone: loc.String(), Compact: opt.Compact}
	if len(sorted) > 0 {
		d.Date = sorted[0].Time.In(loc).Format(dateLayout)
	}
	d.PageSize = opt.PageSize
	if d.PageSize <= 0 {
		d.PageSize = DefaultPageSize
	}
	d.PageSize = min(d.PageSize, MaxPageSize)
	d.Pages = max(1, (d.Total+d.PageSize-1)/d.PageSize)
	d.Page = min(max(opt.Page, 1), d.Pages)

	aliases := parseAliases(opt.Aliases)
	cols := columnSet{byAddr: map[netip.AddrPort]int{}, group: opt.GroupByIP, aliases: aliases}
	for _, m := range sorted {
		cols.add(m.Src)
		cols.add(m.Dst)
	}
	d.Columns = cols.list
	nameNodeColumns(d.Columns, sorted, opt.GroupByIP)
	for i := range d.Columns {
		d.Columns[i].X = Gutter + ColumnWidth/2 + i*ColumnWidth
	}
	d.Width = Gutter + max(len(d.Columns), 1)*ColumnWidth + RightMargin
	d.Legs = legs(sorted)

	kinds := classify(sorted)

	start := (d.Page - 1) * d.PageSize
	end := min(start+d.PageSize, d.Total)
	if start < end {
		d.First, d.Last = start+1, end
	}

	// Events go before the first message that is later than they are, so
	// an event belongs to the page of that message (the last page when no
	// message is later).
	notesAt := placeEvents(sorted, events)
	nodes := nodeNames(sorted)

	y := HeaderHeight
	addNotes := func(at int) {
		for _, e := range notesAt[at] {
			d.Notes = append(d.Notes, note(e, y, d.Width, loc, nodes))
			y += NoteHeight
		}
	}
	d.Rows = make([]Row, 0, end-start)
	for i := start; i < end; i++ {
		addNotes(i)
		var prev *Message
		if i > 0 {
			prev = &sorted[i-1]
		}
		r := row(sorted[i], prev, kinds[i], cols, loc, y, opt.Compact)
		if len(d.Legs) > 1 {
			r.LegMarkerX = d.Columns[r.From].X
		}
		d.Rows = append(d.Rows, r)
		y = r.Bottom
	}
	if end == d.Total { // the last page (or an empty call) takes the trailing events
		addNotes(d.Total)
	}
	d.Height = y + BottomMargin
	widen(&d)
	return d
}

// Approximate advance widths of the fonts the stylesheet uses, enough to
// keep text that runs past the last lifeline inside the SVG, where it would
// otherwise be clipped.
const (
	subCharWidth   = 6.5 // 10.5px monospace
	labelCharWidth = 7.5 // 12px bold sans
)

// widen grows the diagram to the right so SDP lines under arrows near the
// last column and labels of self-loops on it stay visible.
func widen(d *Diagram) {
	need := d.Width
	for _, r := range d.Rows {
		for _, s := range r.Sub {
			need = max(need, r.SubX+int(float64(utf8.RuneCountInString(s))*subCharWidth)+RightMargin/2)
		}
		if r.Direction == Self {
			need = max(need, r.LabelX+int(float64(utf8.RuneCountInString(r.Short))*labelCharWidth)+RightMargin/2)
		}
	}
	if need == d.Width {
		return
	}
	for i := range d.Notes {
		d.Notes[i].Width += need - d.Width
	}
	d.Width = need
}

// senderFirst reorders msgs so that of a packet two capture nodes saw
// within its hop window (hopWindowOf), the copy of the node that sent it
// comes before the copy of the node that received it. Kamailio's siptrace stamps an outgoing
// message after sending it, so by timestamps the next proxy often "receives"
// an INVITE before the previous one "sends" it. A node's own address is the
// one IP every message it captured has as source or destination (see
// nodeAddrs); a node whose address cannot be told keeps its order.
func senderFirst(msgs []Message) {
	own := nodeAddrs(msgs)
	if len(own) < 2 {
		return
	}
	for i := 0; i < len(msgs); i++ {
		m := msgs[i]
		ip, ok := own[m.CaptureID]
		if !ok || m.Dst.Addr() != ip || m.Src.Addr() == ip {
			continue // not a copy its node received
		}
		for j := i + 1; j < len(msgs); j++ {
			s := msgs[j]
			if s.Time.Sub(m.Time) > reliableHopWindow {
				break
			}
			sent, ok := own[s.CaptureID]
			if !ok || s.CaptureID == m.CaptureID || s.Src.Addr() != sent || s.Raw != m.Raw || s.Time.Sub(m.Time) > hopWindowOf(m, s) {
				continue
			}
			copy(msgs[i+1:j+1], msgs[i:j])
			msgs[i] = s
			break
		}
	}
}

// nodeAddrs finds each capture node's own IP: a proxy is the source or the
// destination of every message it captures, so the IPs common to all of
// them are its own. Nodes with more than one candidate (one message, or
// always the same two peers) or none (several interfaces) are left out.
func nodeAddrs(msgs []Message) map[uint32]netip.Addr {
	common := map[uint32][]netip.Addr{}
	for _, m := range msgs {
		pair := []netip.Addr{m.Src.Addr(), m.Dst.Addr()}
		c, seen := common[m.CaptureID]
		if !seen {
			common[m.CaptureID] = slices.Compact(pair)
			continue
		}
		common[m.CaptureID] = slices.DeleteFunc(c, func(a netip.Addr) bool { return !slices.Contains(pair, a) })
	}
	own := make(map[uint32]netip.Addr, len(common))
	for id, c := range common {
		if len(c) == 1 {
			own[id] = c[0]
		}
	}
	return own
}

// hopWindowOf is how far apart a and b, the same bytes seen by two capture
// nodes, may be and still be one packet: reliableHopWindow when both went
// over a reliable transport, which SIP never resends on, else hopWindow.
func hopWindowOf(a, b Message) time.Duration {
	if reliable(a.Transport) && reliable(b.Transport) {
		return reliableHopWindow
	}
	return hopWindow
}

// reliable reports whether SIP over transport t leaves retransmission to
// the transport (RFC 3261 §17.1.1.2, RFC 4168 for SCTP, RFC 7118 for
// WebSocket).
func reliable(t string) bool {
	switch strings.ToLower(t) {
	case "tcp", "tls", "sctp", "ws", "wss":
		return true
	}
	return false
}

// kind is what classify found out about one message.
type kind struct {
	retransmission, hop bool
}

// classify tells retransmissions from second hops. A message is a
// retransmission when an earlier message had the same source, destination
// and bytes and was seen by the same node, or more than the hop window
// (hopWindowOf) apart. Otherwise, the same bytes seen by another capture
// node within that window
// — earlier or later, since node clocks disagree by a few milliseconds —
// are one packet captured twice: a hop, drawn normally.
func classify(msgs []Message) []kind {
	out := make([]kind, len(msgs))
	seen := make(map[string][]int, len(msgs)) // Raw -> earlier indexes
	for i, m := range msgs {
		for _, j := range seen[m.Raw] {
			p := msgs[j]
			near := absDur(m.Time.Sub(p.Time)) <= hopWindowOf(p, m)
			switch {
			case p.Src == m.Src && p.Dst == m.Dst && (p.CaptureID == m.CaptureID || !near):
				out[i].retransmission = true
			case p.CaptureID != m.CaptureID && near:
				out[i].hop = true
			}
		}
		if out[i].retransmission {
			out[i].hop = false
		}
		seen[m.Raw] = append(seen[m.Raw], i)
	}
	return out
}

func row(m Message, prev *Message, k kind, cols columnSet, loc *time.Location, top int, compact bool) Row {
	r := Row{
		Seq:            m.Seq,
		Anchor:         "m" + strconv.Itoa(m.Seq),
		From:           cols.index(m.Src),
		To:             cols.index(m.Dst),
		Class:          classOf(m),
		Dashed:         !m.Request,
		Label:          clean(label(m), MaxLabel),
		Time:           m.Time.In(loc).Format(clockLayout),
		Retransmission: k.retransmission,
		Hop:            k.hop,
		Node:           nodeName(m),
		Message:        m,
		Top:            top,
	}
	r.Short = clean(r.Label, ShortLabel)
	if prev != nil {
		r.Delta = delta(m.Time.Sub(prev.Time))
	}
	if m.SDP != nil && !compact {
		for _, md := range m.SDP.Media {
			r.Sub = append(r.Sub, clean(md.String(), ShortSub))
		}
	}
	if r.Hop && r.Node != "" && !compact {
		r.Sub = append(r.Sub, clean("also captured by "+r.Node, ShortSub))
	}

	r.Y = top + 26
	r.Bottom = top + RowHeight + len(r.Sub)*SubLineHeight
	r.TimeY = r.Y - 4
	if compact {
		r.Y = top + CompactRowHeight - 6
		r.Bottom = top + CompactRowHeight
		r.TimeY = r.Y + 4
	}
	r.LabelY = r.Y - 7
	r.SubY = r.Y + SubLineHeight + 1

	x1 := Gutter + ColumnWidth/2 + r.From*ColumnWidth
	x2 := Gutter + ColumnWidth/2 + r.To*ColumnWidth
	switch {
	case r.From == r.To:
		r.Direction = Self
		// Out to the right, down, and back into the lifeline.
		yb := r.Y + LoopHeight
		r.Path = pathData(x1, r.Y, step{'H', x1 + LoopWidth}, step{'V', yb}, step{'H', x1 + HeadLength})
		r.Head = head(x1, yb, -1, m.Request)
		r.LabelX, r.LabelAnchor = x1+LoopWidth+6, "start"
		r.SubX, r.SubAnchor = x1+LoopWidth+6, "start"
		r.SubY = yb + SubLineHeight
		r.Bottom += LoopHeight
	case x2 > x1:
		r.Direction = Right
		r.Path = pathData(x1, r.Y, step{'H', x2 - HeadLength})
		r.Head = head(x2, r.Y, 1, m.Request)
		r.LabelX, r.LabelAnchor = (x1+x2)/2, "middle"
		r.SubX, r.SubAnchor = x1+8, "start"
	default:
		r.Direction = Left
		r.Path = pathData(x1, r.Y, step{'H', x2 + HeadLength})
		r.Head = head(x2, r.Y, -1, m.Request)
		r.LabelX, r.LabelAnchor = (x1+x2)/2, "middle"
		r.SubX, r.SubAnchor = x2+HeadLength+4, "start"
	}
	return r
}

// head returns the points of an arrowhead whose tip is at (x, y) pointing
// in direction dir (+1 right, -1 left). Requests get a closed triangle
// (drawn filled), responses an open chevron.
func head(x, y, dir int, closed bool) string {
	bx := x - dir*HeadLength
	if closed {
		return Points(bx, y-HeadHalf, x, y, bx, y+HeadHalf, bx, y-HeadHalf)
	}
	return Points(bx, y-HeadHalf, x, y, bx, y+HeadHalf)
}

// step is one command of SVG path data after the initial move: 'H' or 'V'
// and its coordinate.
type step struct {
	cmd byte
	at  int
}

// pathData writes "M x y" and each step, "M 10 20 H 30 V 40", without fmt:
// a view formats a few of these per message.
func pathData(x, y int, steps ...step) string {
	b := make([]byte, 0, 48)
	b = append(b, 'M', ' ')
	b = strconv.AppendInt(b, int64(x), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(y), 10)
	for _, s := range steps {
		b = append(b, ' ', s.cmd, ' ')
		b = strconv.AppendInt(b, int64(s.at), 10)
	}
	return string(b)
}

// Points writes SVG points from x, y pairs: "1,2 3,4", without fmt. The
// renderer draws leg markers with it too.
func Points(xy ...int) string {
	b := make([]byte, 0, 64)
	for i := 0; i+1 < len(xy); i += 2 {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(xy[i]), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(xy[i+1]), 10)
	}
	return string(b)
}

func label(m Message) string {
	if m.Request {
		if m.Method == "" {
			return "request"
		}
		return m.Method
	}
	s := strconv.Itoa(m.StatusCode)
	if m.Reason != "" {
		s += " " + m.Reason
	}
	return s
}

func classOf(m Message) Class {
	if m.Request {
		return ClassRequest
	}
	switch c := m.StatusCode; {
	case c >= 100 && c < 200:
		return ClassProvisional
	case c >= 200 && c < 300:
		return ClassSuccess
	case c >= 300 && c < 400:
		return ClassRedirect
	case c >= 400 && c < 500:
		return ClassClientError
	case c >= 500 && c < 700:
		return ClassServerError
	}
	return ClassUnknown
}

// delta formats the time since the previous message: milliseconds with µs
// precision below ten seconds, seconds above. Negative deltas happen when
// two capture nodes disagree; they are shown as they are.
// delta is a gap between two messages as a person reads it, to the
// precision that matters at its size: "+2.4 s", "+120 ms", "+4.7 ms",
// "+0.3 ms". The message table and the raw text keep the exact times.
func delta(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	switch us := d.Microseconds(); {
	case d >= time.Second:
		return sign + fixed((us+50_000)/100_000, 10, 1) + " s"
	case d >= 10*time.Millisecond:
		return sign + strconv.FormatInt((us+500)/1000, 10) + " ms"
	default:
		return sign + fixed((us+50)/100, 10, 1) + " ms"
	}
}

// fixed formats n/unit with digits decimals: fixed(12345, 1000, 3) is
// "12.345". n is not negative.
func fixed(n, unit int64, digits int) string {
	b := make([]byte, 0, 24)
	b = strconv.AppendInt(b, n/unit, 10)
	b = append(b, '.')
	frac := strconv.AppendInt(make([]byte, 0, 8), n%unit, 10)
	for range digits - len(frac) {
		b = append(b, '0')
	}
	return string(append(b, frac...))
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func nodeName(m Message) string {
	if m.NodeName != "" {
		return clean(m.NodeName, 64)
	}
	if m.CaptureID != 0 {
		return "capture " + strconv.FormatUint(uint64(m.CaptureID), 10)
	}
	return ""
}

// nodeNames maps capture IDs to the node names messages carry, so notes
// from events (which only have the ID) can be labelled the same way.
func nodeNames(msgs []Message) map[uint32]string {
	out := map[uint32]string{}
	for _, m := range msgs {
		if _, ok := out[m.CaptureID]; !ok {
			out[m.CaptureID] = nodeName(m)
		}
	}
	return out
}

// nameNodeColumns labels each column that has no alias and stands for a
// capture node's own address (see nodeAddrs) with the node's name, the
// address going under it as under an alias. Only named nodes count, and
// an address two nodes claim names neither.
func nameNodeColumns(cols []Column, msgs []Message, group bool) {
	byIP := map[netip.Addr]string{}
	for id, ip := range nodeAddrs(msgs) {
		name := ""
		for _, m := range msgs {
			if m.CaptureID == id {
				name = m.NodeName
				break
			}
		}
		if prev, dup := byIP[ip]; dup && prev != name {
			name = ""
		}
		byIP[ip] = name
	}
	for i := range cols {
		c := &cols[i]
		if c.Aliased {
			continue
		}
		ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(c.Address, "["), "]"))
		if err != nil && !group {
			ap, perr := netip.ParseAddrPort(c.Address)
			ip, err = ap.Addr(), perr
		}
		if err != nil {
			continue
		}
		if name := byIP[ip.Unmap()]; name != "" {
			c.Label, c.Aliased = clean(name, MaxLabel), true
			c.Short = clean(c.Label, ShortColumn)
		}
	}
}

func legs(msgs []Message) []Leg {
	byLeg := map[int]int{}
	var out []Leg
	for _, m := range msgs {
		i, ok := byLeg[m.Leg]
		if !ok {
			i = len(out)
			byLeg[m.Leg] = i
			out = append(out, Leg{Index: m.Leg, CallID: clean(m.CallID, MaxLabel)})
		}
		out[i].Count++
	}
	slices.SortFunc(out, func(a, b Leg) int { return cmp.Compare(a.Index, b.Index) })
	for i := range out {
		out[i].Marker = markers[i%len(markers)]
		out[i].Colour = i % 6
	}
	return out
}

// placeEvents groups events by the index of the first message later than
// each of them (len(msgs) when none is). Messages are in capture order, not
// strictly in time order, so the search runs over the running maximum of
// message times, which is sorted.
func placeEvents(msgs []Message, events []Event) map[int][]Event {
	out := map[int][]Event{}
	if len(events) == 0 {
		return out
	}
	runMax := make([]time.Time, len(msgs))
	for i, m := range msgs {
		runMax[i] = m.Time
		if i > 0 && runMax[i-1].After(m.Time) {
			runMax[i] = runMax[i-1]
		}
	}
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b Event) int { return a.Time.Compare(b.Time) })
	for _, e := range evs {
		at, _ := slices.BinarySearchFunc(runMax, e.Time, func(t, target time.Time) int {
			if t.After(target) {
				return 1
			}
			return -1
		})
		out[at] = append(out[at], e)
	}
	return out
}

func note(e Event, top, width int, loc *time.Location, nodes map[uint32]string) Note {
	n := Note{
		Kind:   clean(e.Kind, 16),
		Text:   clean(e.Text, MaxNote),
		Time:   e.Time.In(loc).Format(clockLayout),
		X:      Gutter + 8,
		Y:      top + 4,
		Width:  width - Gutter - 8 - RightMargin/2,
		Height: NoteHeight - 8,
	}
	n.Node = nodes[e.CaptureID]
	if n.Node == "" && e.CaptureID != 0 {
		n.Node = "capture " + strconv.FormatUint(uint64(e.CaptureID), 10)
	}
	n.TextX = n.X + 8
	n.TextY = n.Y + 15
	return n
}

// Short returns the note text shortened to fit in its box.
func (n Note) Short() string { return clean(n.Text, ShortNote) }

// columnSet assigns endpoints to columns in order of first appearance.
type columnSet struct {
	byAddr  map[netip.AddrPort]int // by columnAddr
	list    []Column
	group   bool
	aliases aliases
}

// columnAddr is the address a column stands for: mapped IPv4 unmapped, the
// port dropped when grouping by IP, the zero AddrPort for "unknown".
func (c *columnSet) columnAddr(ap netip.AddrPort) netip.AddrPort {
	if !ap.IsValid() {
		return netip.AddrPort{}
	}
	if c.group {
		return netip.AddrPortFrom(ap.Addr().Unmap(), 0)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// key names a column's address: "10.0.0.1:5060", or "10.0.0.1" and
// "[2001:db8::1]" by IP.
func (c *columnSet) key(ca netip.AddrPort) string {
	switch {
	case !ca.IsValid():
		return "unknown"
	case !c.group:
		return ca.String()
	case ca.Addr().Is6():
		return "[" + ca.Addr().String() + "]"
	}
	return ca.Addr().String()
}

func (c *columnSet) add(ap netip.AddrPort) {
	ca := c.columnAddr(ap)
	if _, ok := c.byAddr[ca]; ok {
		return
	}
	k := c.key(ca)
	col := Column{Index: len(c.list), Key: k, Address: k}
	if alias, ok := c.aliases.lookup(ap, c.group); ok {
		col.Label, col.Aliased = clean(alias, MaxLabel), true
	} else {
		col.Label = k
	}
	col.Short = clean(col.Label, ShortColumn)
	c.byAddr[ca] = col.Index
	c.list = append(c.list, col)
}

func (c columnSet) index(ap netip.AddrPort) int { return c.byAddr[c.columnAddr(ap)] }

// aliases are Options.Aliases with their keys parsed, so "10.0.0.1:5060",
// "[::ffff:10.0.0.1]:5060" and a mapped source address all meet.
type aliases struct {
	byAddrPort map[netip.AddrPort]string
	byAddr     map[netip.Addr]string
}

func parseAliases(in map[string]string) aliases {
	a := aliases{byAddrPort: map[netip.AddrPort]string{}, byAddr: map[netip.Addr]string{}}
	for k, v := range in {
		k = strings.TrimSpace(k)
		if ap, err := netip.ParseAddrPort(k); err == nil {
			a.byAddrPort[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] = v
			continue
		}
		if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(k, "["), "]")); err == nil {
			a.byAddr[ip.Unmap()] = v
		}
		// Anything else names nothing; ignoring it keeps a typo in one alias
		// from breaking the page.
	}
	return a
}

// lookup finds the alias of the endpoint that opened a column. When grouped
// by IP, the IP alias wins since the column stands for every port; the
// IP:port alias of the first port seen is the fallback.
func (a aliases) lookup(ap netip.AddrPort, group bool) (string, bool) {
	if !ap.IsValid() {
		return "", false
	}
	ip := ap.Addr().Unmap()
	byPort, okPort := a.byAddrPort[netip.AddrPortFrom(ip, ap.Port())]
	byIP, okIP := a.byAddr[ip]
	switch {
	case group && okIP:
		return byIP, true
	case okPort:
		return byPort, true
	case okIP:
		return byIP, true
	}
	return "", false
}

// Class is the note's kind when it is one callscope knows ("log", "rtcp",
// "qos") and "other" otherwise, so attacker-chosen kinds never reach a
// class attribute.
func (n Note) Class() string {
	switch n.Kind {
	case "log", "rtcp", "qos":
		return n.Kind
	}
	return "other"
}
