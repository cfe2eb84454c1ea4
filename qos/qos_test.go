package qos

import (
	"errors"
	"math"
	"testing"
	"time"
)

var at = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		pt      int
		payload string
		want    []Report
	}{
		{
			// The RTCP JSON report of sipcapture/hep-wireshark's hep.pcap.
			name: "RTCPSenderReport", pt: PayloadRTCP,
			payload: `{"sender_information":{"ntp_timestamp_sec":3650797214,"packets":106,"ntp_timestamp_usec":13217348104192,"octets":16960,"rtp_timestamp":16960},"ssrc":451916597,"type":200,"report_blocks":[{"source_ssrc":898343773,"highest_seq_no":20881,"fraction_lost":0,"ia_jitter":1,"packets_lost":0,"lsr":-1097006646,"dlsr":7733}],"report_count":0}`,
			want:    []Report{{Stream: "ssrc 0x358ba35d", At: at, Jitter: 0.125, Has: HasJitter | HasLoss | HasLost}},
		},
		{
			name: "RTCPLossAndXR", pt: PayloadRTCP,
			payload: `{"type":201,"ssrc":1,"report_blocks":[{"source_ssrc":2,"fraction_lost":64,"packets_lost":12,"ia_jitter":160},{"source_ssrc":3,"fraction_lost":0,"packet_lost":1,"ia_jitter":8}],"report_blocks_xr":{"type":7,"id":3,"mos_lq":41,"mos_cq":38}}`,
			want: []Report{
				{Stream: "ssrc 0x00000002", At: at, LossPct: 25, Lost: 12, Jitter: 20, Has: HasJitter | HasLoss | HasLost},
				{Stream: "ssrc 0x00000003", At: at, Lost: 1, Jitter: 1, MOS: 3.8, Has: HasJitter | HasLoss | HasLost | HasMOS},
			},
		},
		{
			name: "RTCPXRUnavailableMOS", pt: PayloadRTCP,
			payload: `{"type":207,"report_blocks_xr":{"type":7,"id":3,"mos_lq":127,"mos_cq":127}}`,
		},
		{
			name: "QoSFull", pt: PayloadQoSFull,
			payload: `{"CORRELATION_ID":"abc@h","SRC_IP":"10.0.0.1","SRC_PORT":4000,"DST_IP":"2001:db8::2","DST_PORT":5000,"MOS":4.2,"MIN_MOS":3.9,"JITTER":1.5,"MAX_JITTER":4,"PACKET_LOSS":3,"EXPECTED_PK":1500}`,
			want:    []Report{{Stream: "10.0.0.1:4000 > [2001:db8::2]:5000", At: at, MOS: 3.9, Jitter: 4, Lost: 3, LossPct: 0.2, Has: HasMOS | HasJitter | HasLost | HasLoss}},
		},
		{
			name: "QoSShortLowerCaseAndStrings", pt: PayloadQoSReport,
			payload: `{"ssrc":"305419896","mos":"4.3"}`,
			want:    []Report{{Stream: "ssrc 0x12345678", At: at, MOS: 4.3, Has: HasMOS}},
		},
		{
			name: "QoSOutOfRangeIgnored", pt: PayloadQoSFull,
			payload: `{"MOS":9,"JITTER":-1,"PACKET_LOSS":"many"}`,
		},
		{
			name: "QoSMixedCaseDuplicateKeys", pt: PayloadQoSFull,
			payload: `{"Mos":2.0,"MOS":3.0}`,
			want:    []Report{{At: at, MOS: 3.0, Has: HasMOS}}, // "MOS" sorts before "Mos"
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.pt, []byte(tc.payload), at)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d reports %+v, want %d %+v", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.Stream != w.Stream || !g.At.Equal(w.At) || g.Has != w.Has || g.Lost != w.Lost ||
					!near(g.Jitter, w.Jitter) || !near(g.LossPct, w.LossPct) || !near(g.MOS, w.MOS) {
					t.Errorf("report %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pt      int
		payload string
	}{
		{"NotJSON", PayloadRTCP, "RTCP binary"},
		{"Array", PayloadQoSFull, "[1,2]"},
		{"Null", PayloadQoSFull, "null"},
		{"LogLine", 100, `{"mos":4}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.pt, []byte(tc.payload), at); !errors.Is(err, ErrReport) {
				t.Errorf("err = %v, want ErrReport", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(PayloadRTCP, []byte(`{"type":201,"ssrc":1,"report_blocks":[{"source_ssrc":2,"fraction_lost":64,"packets_lost":12,"ia_jitter":160}],"report_blocks_xr":{"id":2,"mos_cq":38},"mos":4.1}`))
	f.Add(PayloadQoSFull, []byte(`{"SRC_IP":"10.0.0.1","SRC_PORT":4000,"MOS":4.2,"JITTER":1.5,"PACKET_LOSS":3,"EXPECTED_PK":1500}`))
	f.Add(PayloadQoSReport, []byte(`{"ssrc":"1","mos":"4.3"}`))
	f.Fuzz(func(t *testing.T, pt int, payload []byte) {
		reports, err := Parse(pt, payload, at)
		if err != nil {
			if !errors.Is(err, ErrReport) || reports != nil {
				t.Fatalf("error %v with %d reports", err, len(reports))
			}
			return
		}
		if len(reports) > maxReports {
			t.Fatalf("%d reports", len(reports))
		}
		for _, r := range reports {
			switch {
			case r.Has == 0:
				t.Fatalf("a report without figures: %+v", r)
			case r.Has&HasMOS != 0 && !validMOS(r.MOS):
				t.Fatalf("MOS %v", r.MOS)
			case r.Has&HasLoss != 0 && (r.LossPct < 0 || r.LossPct > 100 || math.IsNaN(r.LossPct)):
				t.Fatalf("loss %v", r.LossPct)
			case r.Has&HasJitter != 0 && (r.Jitter < 0 || math.IsNaN(r.Jitter) || math.IsInf(r.Jitter, 0)):
				t.Fatalf("jitter %v", r.Jitter)
			case !r.At.Equal(at):
				t.Fatalf("time %v", r.At)
			}
		}
	})
}
