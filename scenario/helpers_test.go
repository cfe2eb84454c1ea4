package scenario

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// loadCall reads a captured call from testdata. A message starts with
//
//	@ MS SRC > DST [node=N] [tcp|tls] [same|same=K]
//
// MS is its capture time in milliseconds after t0, N the capture node (1
// by default). "same" repeats the previous message's bytes (another node's
// copy, or a resend), "same=K" those of the K-th message of the file. The
// text follows, LF line ends becoming CRLF; Content-Length is set to the
// body's length.
func loadCall(t testing.TB, name string) []Message {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := parseCall(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return msgs
}

func parseCall(data []byte) ([]Message, error) {
	var (
		msgs []Message
		text []string
		cur  *Message
	)
	flush := func() {
		if cur == nil {
			return
		}
		if cur.Payload == nil {
			cur.Payload = sipText(text)
		}
		msgs = append(msgs, *cur)
		cur, text = nil, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "@ ") {
			if cur != nil {
				text = append(text, line)
			}
			continue
		}
		flush()
		f := strings.Fields(line[2:])
		if len(f) < 4 || f[2] != ">" {
			return nil, fmt.Errorf("bad message line %q", line)
		}
		ms, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", line, err)
		}
		m := Message{Time: t0.Add(time.Duration(ms * float64(time.Millisecond))), Transport: "udp", CaptureID: 1,
			Src: netip.MustParseAddrPort(f[1]), Dst: netip.MustParseAddrPort(f[3])}
		for _, opt := range f[4:] {
			k, v, _ := strings.Cut(opt, "=")
			switch k {
			case "node":
				n, _ := strconv.Atoi(v)
				m.CaptureID, m.NodeName = uint32(n), "node-"+v
			case "tcp", "tls", "sctp", "ws":
				m.Transport = k
			case "same":
				i := len(msgs)
				if v != "" {
					i, _ = strconv.Atoi(v)
				}
				if i < 1 || i > len(msgs) {
					return nil, fmt.Errorf("%q: no message %d to repeat", line, i)
				}
				m.Payload = msgs[i-1].Payload
			default:
				return nil, fmt.Errorf("%q: unknown option %q", line, opt)
			}
		}
		cur = &m
	}
	flush()
	return msgs, sc.Err()
}

var contentLength = regexp.MustCompile(`(?mi)^(Content-Length|l):.*$`)

// sipText joins lines with CRLF, the header block ended by an empty line,
// and sets Content-Length.
func sipText(lines []string) []byte {
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	head, body := lines, []string(nil)
	for i, l := range lines {
		if l == "" {
			head, body = lines[:i], lines[i+1:]
			break
		}
	}
	b := ""
	if len(body) > 0 {
		b = strings.Join(body, "\r\n") + "\r\n"
	}
	h := strings.Join(head, "\r\n")
	h = contentLength.ReplaceAllString(h, "${1}: "+strconv.Itoa(len(b)))
	return []byte(h + "\r\n\r\n" + b)
}

// decodedStep is a scenario element as the tests read it back.
type decodedStep struct {
	XMLName  xml.Name
	Response string `xml:"response,attr"`
	Request  string `xml:"request,attr"`
	Optional string `xml:"optional,attr"`
	MS       string `xml:"milliseconds,attr"`
	Text     string `xml:",chardata"`
}

// decode reads a generated scenario's elements, failing t when it is not
// XML.
func decode(t testing.TB, doc []byte) []decodedStep {
	t.Helper()
	var s struct {
		Steps []decodedStep `xml:",any"`
	}
	if err := xml.Unmarshal(doc, &s); err != nil {
		t.Fatalf("generated XML does not parse: %v\n%s", err, doc)
	}
	return s.Steps
}

// outline describes a scenario's steps for comparison:
// "send INVITE", "recv 180 optional", "pause 300", "recv ACK".
func outline(t testing.TB, doc []byte) []string {
	t.Helper()
	var out []string
	for _, st := range decode(t, doc) {
		switch st.XMLName.Local {
		case "send":
			first := strings.Fields(strings.TrimSpace(st.Text))
			w := first[0]
			if w == "SIP/2.0" {
				w = first[1]
			}
			out = append(out, "send "+w)
		case "recv":
			d := "recv " + st.Response + st.Request
			if st.Optional == "true" {
				d += " optional"
			}
			out = append(out, d)
		case "pause":
			out = append(out, "pause "+st.MS)
		}
	}
	return out
}

// sendTexts returns the text of every <send> of a scenario.
func sendTexts(t testing.TB, doc []byte) []string {
	t.Helper()
	var s struct {
		Sends []string `xml:"send"`
	}
	if err := xml.Unmarshal(doc, &s); err != nil {
		t.Fatalf("generated XML does not parse: %v", err)
	}
	return s.Sends
}
