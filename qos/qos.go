// Package qos reads the media-quality reports capture agents send beside
// SIP: RTCP as JSON (HEP payload type 5, heplify and Kamailio's rtcp
// modules) and QoS reports as JSON (34 full, 35 short; captagent's and
// rtpagent's). It is pure: bytes in, figures out.
//
// RTCP JSON, one packet (SR 200 or RR 201) with a block per source it
// heard, and optionally an XR VoIP-metrics block (RFC 3611 4.7):
//
//	{"type":200, "ssrc":451916597,
//	 "report_blocks":[{"source_ssrc":898343773, "fraction_lost":0,   <- /256
//	                   "packets_lost":0, "ia_jitter":1, ...}],        <- timestamp units
//	 "report_blocks_xr":{"type":7, "id":898343773, "mos_cq":42, ...}} <- MOS x10
//
// QoS report, one stream summary, keys in upper case:
//
//	{"CORRELATION_ID":"...", "SSRC":..., "SRC_IP":"10.0.0.1", "SRC_PORT":4000,
//	 "DST_IP":"10.0.0.2", "DST_PORT":5000, "MOS":4.2, "MIN_MOS":3.9,
//	 "JITTER":1.5, "MAX_JITTER":4.0,       <- ms
//	 "PACKET_LOSS":3, "EXPECTED_PK":1500}  <- packets
package qos

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// HEP payload types this package reads.
const (
	PayloadRTCP      = 5
	PayloadQoSFull   = 34
	PayloadQoSReport = 35
)

// ErrReport is wrapped by every error of Parse.
var ErrReport = errors.New("qos: unreadable report")

// Fields says which figures of a Report were reported.
type Fields uint8

const (
	HasJitter Fields = 1 << iota
	HasLoss          // LossPct
	HasLost          // Lost
	HasMOS
)

// Report is what one report says about one media stream at one time.
type Report struct {
	// Stream names the stream the figures describe: "ssrc 0x1a2b3c4d", or
	// "10.0.0.1:4000 > 10.0.0.2:5000" when a report names no SSRC.
	Stream string
	At     time.Time
	// Jitter is the interarrival jitter in milliseconds. RTCP gives it in
	// RTP timestamp units; they are read at 8 kHz, the clock of every
	// narrowband voice codec (a wideband stream's jitter reads doubled).
	Jitter float64
	// LossPct is the share of packets lost, 0-100: RTCP's fraction lost
	// since the previous report, or a QoS report's lost/expected.
	LossPct float64
	// Lost is the cumulative number of packets lost.
	Lost int64
	// MOS is the mean opinion score, 1-5 (the worst a report gives).
	MOS float64
	Has Fields
}

// rtpClockKHz is the clock RTCP jitter is converted at (see Report.Jitter).
const rtpClockKHz = 8

// maxReports bounds what one payload yields: RTCP allows 31 blocks.
const maxReports = 31

// Parse reads a report of HEP payload type payloadType captured at at.
// An RTCP packet gives one Report per report block (with the XR MOS on
// the block of the same source, or a Report of its own); a QoS report
// gives one. A report that carries no figure gives none.
//
// Returns an error wrapping ErrReport for a payload type it does not read
// or a payload that is not a JSON object; fields of the wrong type or out
// of range are ignored, not fatal, so that one vendor's odd field does not
// hide the others.
func Parse(payloadType int, payload []byte, at time.Time) ([]Report, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(payload, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("qos.Parse: payload type %d: not a JSON object: %w", payloadType, ErrReport)
	}
	switch payloadType {
	case PayloadRTCP:
		return rtcp(lower(obj), at), nil
	case PayloadQoSFull, PayloadQoSReport:
		return qosReport(lower(obj), at), nil
	}
	return nil, fmt.Errorf("qos.Parse: payload type %d: %w", payloadType, ErrReport)
}

// lower keys obj by lower-case name: senders disagree on case. Of two keys
// differing only in case, the one that sorts first wins, so that the
// result does not depend on map order.
func lower(obj map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(obj))
	orig := make(map[string]string, len(obj))
	for k, v := range obj {
		lk := strings.ToLower(k)
		if o, dup := orig[lk]; !dup || k < o {
			out[lk], orig[lk] = v, k
		}
	}
	return out
}

func rtcp(obj map[string]json.RawMessage, at time.Time) []Report {
	var blocks []map[string]json.RawMessage
	_ = json.Unmarshal(obj["report_blocks"], &blocks) // absent or malformed: no blocks
	var out []Report
	for _, b := range blocks {
		if len(out) == maxReports {
			break
		}
		b = lower(b)
		ssrc, ok := uintField(b, "source_ssrc")
		if !ok {
			continue
		}
		r := Report{Stream: ssrcName(ssrc), At: at}
		if f, ok := number(b, "fraction_lost"); ok && f >= 0 && f <= 255 {
			r.LossPct, r.Has = f*100/256, r.Has|HasLoss
		}
		lost, ok := number(b, "packets_lost")
		if !ok {
			lost, ok = number(b, "packet_lost") // homer-app's spelling
		}
		if ok && lost >= -(1<<23) && lost < 1<<23 { // a signed 24-bit field
			r.Lost, r.Has = int64(lost), r.Has|HasLost
		}
		if j, ok := number(b, "ia_jitter"); ok && j >= 0 && j < 1<<32 {
			r.Jitter, r.Has = j/rtpClockKHz, r.Has|HasJitter
		}
		if r.Has != 0 {
			out = append(out, r)
		}
	}
	var xr map[string]json.RawMessage
	_ = json.Unmarshal(obj["report_blocks_xr"], &xr)
	if xr = lower(xr); len(xr) > 0 {
		// MOS-CQ (conversational) when given, else MOS-LQ; 127 is
		// "unavailable" (RFC 3611 4.7.5), values are MOS x 10.
		mos := 0.0
		for _, k := range []string{"mos_cq", "mos_lq"} {
			if v, ok := number(xr, k); ok && v >= 10 && v <= 50 {
				mos = v / 10
				break
			}
		}
		if mos > 0 {
			stream := ""
			if id, ok := uintField(xr, "id"); ok {
				stream = ssrcName(id)
			} else if id, ok := uintField(xr, "ssrc"); ok {
				stream = ssrcName(id)
			}
			out = withMOS(out, stream, mos, at)
		}
	}
	if v, ok := number(obj, "mos"); ok && validMOS(v) {
		stream := ""
		if id, ok := uintField(obj, "ssrc"); ok {
			stream = ssrcName(id)
		}
		out = withMOS(out, stream, v, at)
	}
	return out
}

// withMOS sets mos on the report of stream (the worse of two), or adds a
// report for it.
func withMOS(out []Report, stream string, mos float64, at time.Time) []Report {
	for i := range out {
		if out[i].Stream == stream {
			if out[i].Has&HasMOS == 0 || mos < out[i].MOS {
				out[i].MOS, out[i].Has = mos, out[i].Has|HasMOS
			}
			return out
		}
	}
	if len(out) == maxReports {
		return out
	}
	return append(out, Report{Stream: stream, At: at, MOS: mos, Has: HasMOS})
}

func qosReport(obj map[string]json.RawMessage, at time.Time) []Report {
	r := Report{At: at}
	if ssrc, ok := uintField(obj, "ssrc"); ok {
		r.Stream = ssrcName(ssrc)
	} else if src, dst := endpoint(obj, "src"), endpoint(obj, "dst"); src != "" || dst != "" {
		r.Stream = src + " > " + dst
	}
	// The worst figure a report gives: its minimum MOS and maximum jitter
	// when it has them.
	for _, k := range []string{"min_mos", "mos", "mean_mos"} {
		if v, ok := number(obj, k); ok && validMOS(v) {
			r.MOS, r.Has = v, r.Has|HasMOS
			break
		}
	}
	for _, k := range []string{"max_jitter", "jitter", "mean_jitter"} {
		if v, ok := number(obj, k); ok && v >= 0 && v < 1e6 {
			r.Jitter, r.Has = v, r.Has|HasJitter
			break
		}
	}
	if lost, ok := number(obj, "packet_loss"); ok && lost >= 0 && lost < 1<<53 {
		r.Lost, r.Has = int64(lost), r.Has|HasLost
		if exp, ok := number(obj, "expected_pk"); ok && exp >= lost && exp > 0 {
			r.LossPct, r.Has = lost*100/exp, r.Has|HasLoss
		}
	}
	if r.Has == 0 {
		return nil
	}
	return []Report{r}
}

func validMOS(v float64) bool { return v >= 1 && v <= 5 }

// number reads obj[key] as a finite number, written as a JSON number or
// as a numeric string.
func number(obj map[string]json.RawMessage, key string) (float64, bool) {
	raw, ok := obj[key]
	if !ok {
		return 0, false
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		if f, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return 0, false
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func uintField(obj map[string]json.RawMessage, key string) (uint32, bool) {
	v, ok := number(obj, key)
	if !ok || v < 0 || v > math.MaxUint32 || v != math.Trunc(v) {
		return 0, false
	}
	return uint32(v), true
}

func ssrcName(ssrc uint32) string { return fmt.Sprintf("ssrc 0x%08x", ssrc) }

// endpoint reads <side>_ip and <side>_port as "ip:port" (IPv6 in brackets).
func endpoint(obj map[string]json.RawMessage, side string) string {
	var ip string
	if json.Unmarshal(obj[side+"_ip"], &ip) != nil || ip == "" || len(ip) > 64 {
		return ""
	}
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	if p, ok := number(obj, side+"_port"); ok && p >= 0 && p <= 65535 && p == math.Trunc(p) {
		return ip + ":" + strconv.Itoa(int(p))
	}
	return ip
}
