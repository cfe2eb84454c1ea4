package sip

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseSDP(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want SDP
	}{
		{
			name: "RTPMapsAndDisabledVideo",
			in:   sdpOf(t, "invite_sdp.sip"),
			want: SDP{
				Origin:      "Zoiper 1700000000 1 IN IP4 192.0.2.10",
				SessionAddr: "192.0.2.10",
				Media: []Media{
					{Type: "audio", Port: 40000, Proto: "RTP/AVP", Addr: "192.0.2.10", Direction: "sendrecv",
						Codecs: []string{"PCMA/8000", "PCMU/8000", "G722/8000", "G729/8000", "telephone-event/8000"}},
					{Type: "video", Port: 0, Proto: "RTP/AVP", Addr: "192.0.2.10", Direction: "sendrecv",
						Codecs: []string{"H264/90000"}},
				},
			},
		},
		{
			name: "IPv6SessionSendonly",
			in:   sdpOf(t, "invite_kamailio_rr.sip"),
			want: SDP{
				Origin:      "user1 53655765 2353687637 IN IP6 2001:db8::10",
				SessionAddr: "2001:db8::10",
				Media: []Media{{Type: "audio", Port: 6000, Proto: "RTP/AVP", Addr: "2001:db8::10",
					Direction: "sendonly", Codecs: []string{"PCMU/8000"}}},
			},
		},
		{
			name: "MultipartPart",
			in:   sdpOf(t, "multipart_invite.sip"),
			want: SDP{
				Origin:      "mgc 2890844526 2890842807 IN IP4 192.0.2.60",
				SessionAddr: "192.0.2.61",
				Media: []Media{{Type: "audio", Port: 20000, Proto: "RTP/AVP", Addr: "192.0.2.61",
					Direction: "sendrecv", Codecs: []string{"PCMU/8000"}}},
			},
		},
		{
			name: "StaticWithoutRTPMapAndDynamicUnknown",
			in:   []byte("v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0 8 18 9 3 96 101\na=rtpmap:101 telephone-event/8000\n"),
			want: SDP{
				Origin: "- 1 1 IN IP4 10.0.0.1", SessionAddr: "10.0.0.1",
				Media: []Media{{Type: "audio", Port: 4000, Proto: "RTP/AVP", Addr: "10.0.0.1", Direction: "sendrecv",
					Codecs: []string{"PCMU/8000", "PCMA/8000", "G729/8000", "G722/8000", "GSM/8000", "96", "telephone-event/8000"}}},
			},
		},
		{
			name: "RTPMapOverridesStaticName",
			in:   []byte("v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 pcmu/8000\r\n"),
			want: SDP{Media: []Media{{Type: "audio", Port: 4000, Proto: "RTP/AVP", Direction: "sendrecv", Codecs: []string{"pcmu/8000"}}}},
		},
		{
			name: "DirectionMediaOverridesSession",
			in: []byte("v=0\r\no=- 2 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=recvonly\r\n" +
				"m=audio 4000 RTP/AVP 0\r\na=inactive\r\n" +
				"m=audio 4002 RTP/AVP 8\r\n" +
				"m=video 5000/2 RTP/AVPF 97\r\nc=IN IP4 233.252.0.1/127/2\r\na=rtpmap:97 VP8/90000\r\na=SENDONLY\r\n"),
			want: SDP{
				Origin: "- 2 2 IN IP4 10.0.0.1", SessionAddr: "10.0.0.1",
				Media: []Media{
					{Type: "audio", Port: 4000, Proto: "RTP/AVP", Addr: "10.0.0.1", Direction: "inactive", Codecs: []string{"PCMU/8000"}},
					{Type: "audio", Port: 4002, Proto: "RTP/AVP", Addr: "10.0.0.1", Direction: "recvonly", Codecs: []string{"PCMA/8000"}},
					{Type: "video", Port: 5000, Proto: "RTP/AVPF", Addr: "233.252.0.1", Direction: "sendonly", Codecs: []string{"VP8/90000"}},
				},
			},
		},
		{
			name: "T38ImageAndOddLinesSkipped",
			in:   []byte("\r\nv=0\r\nthis is not sdp\r\nx\r\nm=image 0 udptl t38\r\nc=IN\r\n"),
			want: SDP{Media: []Media{{Type: "image", Port: 0, Proto: "udptl", Direction: "sendrecv", Codecs: []string{"t38"}}}},
		},
		{
			name: "MediaWithoutFormats",
			in:   []byte("v=0\nm=audio 9 RTP/AVP\n"),
			want: SDP{Media: []Media{{Type: "audio", Port: 9, Proto: "RTP/AVP", Direction: "sendrecv"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSDP(tt.in)
			if err != nil {
				t.Fatalf("ParseSDP: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSDP:\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSDPErrors(t *testing.T) {
	for name, in := range map[string]string{
		"Empty":          "",
		"Blank":          "\r\n \r\n",
		"NoVersion":      "o=- 1 1 IN IP4 10.0.0.1\r\nv=0\r\n",
		"NotSDP":         "<html>",
		"MediaTooShort":  "v=0\r\nm=audio 4000\r\n",
		"PortNotNumber":  "v=0\r\nm=audio x RTP/AVP 0\r\n",
		"PortOutOfRange": "v=0\r\nm=audio 70000 RTP/AVP 0\r\n",
		"PortNegative":   "v=0\r\nm=audio -1 RTP/AVP 0\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseSDP([]byte(in)); !errors.Is(err, ErrSDP) {
				t.Errorf("ParseSDP(%q): err = %v, want ErrSDP", in, err)
			}
		})
	}
}

func TestSDPBody(t *testing.T) {
	x := NewExtractor(nil)
	tests := []struct {
		file string
		want string // prefix of the SDP; "" for none
	}{
		{"invite_sdp.sip", "v=0\r\no=Zoiper"},
		{"multipart_invite.sip", "v=0\r\no=mgc"},
		{"register.sip", ""},
		{"hostile.sip", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := MustReadFixture(t, tt.file)
			var m Message
			if err := x.Extract(b, &m); err != nil {
				t.Fatal(err)
			}
			got := SDPBody(&m)
			if tt.want == "" {
				if got != nil {
					t.Errorf("SDPBody = %q, want nil", got)
				}
				return
			}
			if len(got) < len(tt.want) || string(got[:len(tt.want)]) != tt.want {
				t.Errorf("SDPBody = %q, want prefix %q", got, tt.want)
			}
		})
	}
}

func TestSDPPart(t *testing.T) {
	tests := []struct {
		name, ct, body, want string
	}{
		{"SecondPart", "multipart/mixed;boundary=XX",
			"preamble\r\n--XX\r\nContent-Type: application/isup\r\n\r\n--XX inside\r\n--XX\r\ncontent-type:APPLICATION/SDP\r\n\r\nv=0\r\n\r\n--XX--\r\n", "v=0\r\n"},
		{"LFOnlyQuotedBoundary", `multipart/alternative; boundary="a b"`,
			"--a b\nContent-Type: application/sdp\n\nv=0\n--a b--\n", "v=0"},
		{"TruncatedLastPart", "multipart/mixed;boundary=XX",
			"--XX\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio", "v=0\r\nm=audio"},
		{"PartWithoutHeadersIsText", "multipart/mixed;boundary=XX", "--XX\r\n\r\nv=0\r\n--XX--", ""},
		{"BlankSDPPart", "multipart/mixed;boundary=XX", "--XX\r\nContent-Type: application/sdp\r\n\r\n\r\n--XX--", ""},
		{"NoBoundaryParam", "multipart/mixed", "--XX\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--XX--", ""},
		{"EmptyBoundary", "multipart/mixed;boundary=", "--\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n----", ""},
		{"BoundaryMidLine", "multipart/mixed;boundary=XX", "x--XX\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			got := sdpBody([]byte(tt.ct), body)
			if string(got) != tt.want || (tt.want == "" && got != nil) {
				t.Errorf("sdpBody = %q, want %q", got, tt.want)
			}
			if !inside(got, body) {
				t.Errorf("sdpBody result lies outside the body")
			}
		})
	}
}

// sdpOf returns the SDP of a fixture message.
func sdpOf(tb testing.TB, file string) []byte {
	tb.Helper()
	var m Message
	if err := NewExtractor(nil).Extract(MustReadFixture(tb, file), &m); err != nil {
		tb.Fatalf("Extract(%s): %v", file, err)
	}
	sdp := SDPBody(&m)
	if sdp == nil {
		tb.Fatalf("%s has no SDP", file)
	}
	return sdp
}
