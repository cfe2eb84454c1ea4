package scenario

import (
	"strconv"
	"strings"
)

// sdpLines returns an SDP body as SIPp text lines. The addresses and ports
// become the run's media keywords, everything else (codecs, attributes,
// directions) stays as captured:
//
//	o=alice 2890844526 2890844526 IN IP4 10.0.0.5 -> ... IN IP[media_ip_type] [media_ip]
//	c=IN IP4 10.0.0.5                             -> c=IN IP[media_ip_type] [media_ip]
//	m=audio 40000 RTP/AVP 0 8 101                 -> m=audio [media_port] RTP/AVP 0 8 101
//	m=video 40002 RTP/AVP 96                      -> m=video [media_port+2] RTP/AVP 96
//
// SIPp accepts [media_port] on audio and video lines only, so an image
// (T.38) or application stream keeps its captured port, as does a
// rejected stream (port 0). The captured media address elsewhere (an
// a=rtcp line) becomes [media_ip].
func sdpLines(body []byte) []string {
	lines := bodyLines(body)
	var media []swap
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "c="); ok {
			if f := strings.Fields(v); len(f) == 3 {
				if ip, _, _ := strings.Cut(f[2], "/"); ip != "" {
					media = []swap{{from: ip, to: "[media_ip]"}}
				}
				break
			}
		}
	}
	out := make([]string, 0, len(lines))
	streams := 0
	for _, l := range lines {
		key, v, _ := strings.Cut(l, "=")
		switch key {
		case "o":
			if f := strings.Fields(v); len(f) == 6 && f[3] == "IN" {
				out = append(out, "o="+lit(strings.Join(f[:3], " "))+" IN IP[media_ip_type] [media_ip]")
				continue
			}
		case "c":
			if f := strings.Fields(v); len(f) == 3 && f[0] == "IN" {
				out = append(out, "c=IN IP[media_ip_type] [media_ip]")
				continue
			}
		case "m":
			f := strings.Fields(v)
			if len(f) >= 3 && (f[0] == "audio" || f[0] == "video") {
				port, count, _ := strings.Cut(f[1], "/")
				if n, err := strconv.Atoi(port); err == nil && n > 0 {
					kw := "[media_port]"
					if streams > 0 {
						kw = "[media_port+" + strconv.Itoa(2*streams) + "]"
					}
					streams++
					if count != "" {
						kw += "/" + lit(count)
					}
					out = append(out, "m="+f[0]+" "+kw+" "+lit(strings.Join(f[2:], " ")))
					continue
				}
			}
		}
		out = append(out, litSwap(l, media))
	}
	return out
}

// bodyLines splits a body into lines without their CR LF, leaving out the
// empty lines at its end.
func bodyLines(body []byte) []string {
	lines := strings.Split(string(body), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
