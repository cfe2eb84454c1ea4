package ladder

import "time"

// Class says what kind of message an arrow carries. It is used as a CSS
// class for colour, and it is always also shown without colour: by the
// label text, by a dashed line for responses and by the arrowhead shape
// (filled for requests, open for responses).
type Class string

const (
	ClassRequest     Class = "request"
	ClassProvisional Class = "provisional"  // 1xx
	ClassSuccess     Class = "success"      // 2xx
	ClassRedirect    Class = "redirect"     // 3xx
	ClassClientError Class = "client-error" // 4xx
	ClassServerError Class = "server-error" // 5xx and 6xx
	ClassUnknown     Class = "unknown"      // a status code outside 100..699
)

// Text is the class in words, for people who cannot tell the colours apart
// and for screen readers.
func (c Class) Text() string {
	switch c {
	case ClassRequest:
		return "request"
	case ClassProvisional:
		return "provisional response"
	case ClassSuccess:
		return "success response"
	case ClassRedirect:
		return "redirect response"
	case ClassClientError:
		return "client error response"
	case ClassServerError:
		return "server error response"
	}
	return "response"
}

// Direction of an arrow on the page.
type Direction string

const (
	Right Direction = "right"
	Left  Direction = "left"
	Self  Direction = "self" // source and destination share a column: a small loop
)

// Diagram is a laid-out page of a ladder diagram. All coordinates are SVG
// user units (CSS pixels at scale 1) with the origin at the top left.
type Diagram struct {
	Columns []Column
	Rows    []Row  // the messages on this page, in Seq order
	Notes   []Note // the events on this page
	Legs    []Leg  // every leg of the whole call, by Leg number

	Width, Height int
	HeaderHeight  int // lifelines start here

	Page, Pages, PageSize int
	Total                 int // messages in the whole call
	First, Last           int // 1-based positions of this page's first and last message; 0 when empty

	Zone string // the time zone of Row.Time and Note.Time: "UTC" unless Options.Location says otherwise
	Date string // the day of the first message in Zone, "Tue 2 Dec 2026"; "" for an empty call

	Compact bool // laid out with Options.Compact
}

// Column is one endpoint.
type Column struct {
	Index   int
	Key     string // "10.0.0.1:5060", or "10.0.0.1" when grouped by IP
	Address string // the address as shown; IPv6 in brackets
	Label   string // the alias, else the name of the capture node at Address, else Address; cleaned, not escaped
	Short   string // Label shortened to fit above the column
	Aliased bool   // Label is a name (alias or node), and Address is shown under it
	X       int    // centre of the lifeline
}

// Row is one message drawn as an arrow.
type Row struct {
	Seq    int
	Anchor string // "m12": the id of the raw message the arrow links to

	From, To  int // column indexes
	Direction Direction
	Class     Class
	Dashed    bool // responses are dashed so they read without colour

	Label string // "INVITE", "180 Ringing"; cleaned, at most MaxLabel runes
	Short string // Label shortened to fit on an arrow

	Time  string // clock time to the ms: "15:04:05.123"; the day is Diagram.Date
	Delta string // from the previous message, rounded to what matters: "+2.4 s", "+120 ms", "+0.3 ms"; "" for the first

	Retransmission bool   // same src, dst and bytes as an earlier message
	Hop            bool   // the same bytes seen earlier by another capture node
	Node           string // capture node name, or "capture 42"

	Sub []string // lines under the arrow: SDP media, the node of a hop

	// Geometry.
	Y           int    // the arrow's line
	Path        string // SVG path data of the line
	Head        string // SVG polygon/polyline points of the arrowhead
	LabelX      int    // label anchor point
	LabelY      int
	LabelAnchor string // SVG text-anchor of the label: "middle" or "start"
	SubX        int    // first sub-line's anchor; the others follow by SubLineHeight
	SubY        int
	SubAnchor   string
	TimeY       int // baseline of the time in the left gutter; the delta follows by SubLineHeight
	Top, Bottom int // the row's slot, for a hit area
	LegMarkerX  int // where the leg marker sits when the call has several legs
	Message     Message
}

// Note is an event drawn as a box across the lifelines.
type Note struct {
	Kind string
	Text string // cleaned, at most MaxNote runes
	Time string
	Node string

	X, Y, Width, Height int // the box
	TextX, TextY        int
}

// Leg is one Call-ID of the call and its correlated legs.
type Leg struct {
	Index  int    // Message.Leg
	CallID string // cleaned
	Count  int    // messages of this leg in the whole call
	Marker Marker // shape that marks this leg's arrows
	Colour int    // 0..5, for the CSS class leg-N
}

// Marker is the shape drawn at the start of an arrow of a leg, so legs are
// told apart without colour.
type Marker string

const (
	MarkerCircle   Marker = "circle"
	MarkerSquare   Marker = "square"
	MarkerDiamond  Marker = "diamond"
	MarkerTriangle Marker = "triangle"
)

var markers = [...]Marker{MarkerCircle, MarkerSquare, MarkerDiamond, MarkerTriangle}

// Column returns the column at index i; it exists so templates can look a
// row's endpoints up without index arithmetic.
func (d Diagram) Column(i int) Column {
	if i < 0 || i >= len(d.Columns) {
		return Column{}
	}
	return d.Columns[i]
}

// Leg returns the leg with number n.
func (d Diagram) Leg(n int) Leg {
	for _, l := range d.Legs {
		if l.Index == n {
			return l
		}
	}
	return Leg{Index: n}
}

// MultiLeg reports whether the call has correlated legs worth a legend.
func (d Diagram) MultiLeg() bool { return len(d.Legs) > 1 }

// Layout constants, in SVG user units.
const (
	Gutter       = 118 // left margin for times and deltas
	ColumnWidth  = 200
	RightMargin  = 24
	HeaderHeight = 58
	RowHeight    = 42
	// CompactRowHeight is a row of a compact diagram (Options.Compact).
	CompactRowHeight = 24
	SubLineHeight    = 14
	NoteHeight       = 30
	BottomMargin     = 16
	LoopWidth        = 36 // a self-message's loop
	LoopHeight       = 14
	HeadLength       = 9
	HeadHalf         = 5

	MaxLabel    = 200 // runes kept of a label
	ShortLabel  = 34  // runes of a label drawn on an arrow
	ShortColumn = 26  // runes of a column label
	ShortSub    = 90  // runes of a line under an arrow
	MaxNote     = 500
	ShortNote   = 120
	// hopWindow is how far apart two capture nodes' copies of one UDP
	// packet may be stamped. Below SIP's T1 (500 ms), the soonest a UDP
	// resend comes, and wide enough for clocks and a loaded capture agent:
	// copies 52 ms apart were seen with two Kamailio proxies on a busy
	// machine.
	hopWindow = 200 * time.Millisecond
	// reliableHopWindow is the same for TCP, TLS, SCTP and WebSocket. SIP
	// does not retransmit over a reliable transport (RFC 3261 §17.1.1.2:
	// timer A runs only for UDP), so identical bytes seen by two nodes are
	// one packet however far apart; the window only has to outlast a
	// connection set up between the two captures (a TLS handshake on a
	// loaded box can take longer than hopWindow) and bound the search.
	reliableHopWindow = 5 * time.Second
	// clockLayout is a time on the ladder: to the millisecond, the date
	// (dateLayout) shown once for the diagram.
	clockLayout = "15:04:05.000"
	dateLayout  = "Mon 2 Jan 2006"
)
