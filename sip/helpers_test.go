package sip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// MustReadFixture returns the bytes of testdata/name.
func MustReadFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read fixture: %v", err)
	}
	return b
}

// fixtures lists every *.sip file under testdata, for fuzz seeds and the
// allocation test.
func fixtures(tb testing.TB) []string {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.sip"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("glob fixtures: %v (%d found)", err, len(names))
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// crlf turns a readable "\n" test message into CRLF wire bytes.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// fields is a Message with strings, so table tests read and diff well.
type fields struct {
	Request                              bool
	Method, RequestURI, RURIUser         string
	StatusCode                           int
	Reason, CallID                       string
	CSeqNum                              uint32
	CSeqMethod                           string
	FromUser, FromHost, FromTag          string
	ToUser, ToHost, ToTag                string
	ViaBranch, UserAgent, Contact, CType string
	HasSDP                               bool
	Correlation, Body                    string
}

func fieldsOf(m *Message) fields {
	return fields{
		Request: m.Request, Method: string(m.Method), RequestURI: string(m.RequestURI), RURIUser: string(m.RURIUser),
		StatusCode: m.StatusCode, Reason: string(m.Reason), CallID: string(m.CallID),
		CSeqNum: m.CSeqNum, CSeqMethod: string(m.CSeqMethod),
		FromUser: string(m.FromUser), FromHost: string(m.FromHost), FromTag: string(m.FromTag),
		ToUser: string(m.ToUser), ToHost: string(m.ToHost), ToTag: string(m.ToTag),
		ViaBranch: string(m.ViaBranch), UserAgent: string(m.UserAgent), Contact: string(m.Contact),
		CType: string(m.ContentType), HasSDP: m.HasSDP, Correlation: string(m.Correlation), Body: string(m.Body),
	}
}

// slicesOf returns every byte-slice field of m, named.
func slicesOf(m *Message) map[string][]byte {
	return map[string][]byte{
		"Method": m.Method, "RequestURI": m.RequestURI, "RURIUser": m.RURIUser, "Reason": m.Reason,
		"CallID": m.CallID, "CSeqMethod": m.CSeqMethod,
		"FromUser": m.FromUser, "FromHost": m.FromHost, "FromTag": m.FromTag, "FromName": m.FromName,
		"ToUser": m.ToUser, "ToHost": m.ToHost, "ToTag": m.ToTag, "ToName": m.ToName,
		"ViaBranch": m.ViaBranch, "UserAgent": m.UserAgent, "Contact": m.Contact,
		"ContentType": m.ContentType, "Correlation": m.Correlation, "Body": m.Body,
		"SDPBody": SDPBody(m),
	}
}

// inside reports whether the non-empty slice s lies within b's bytes.
func inside(s, b []byte) bool {
	if len(s) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(b))
}

// checkAliases fails unless every field of m lies inside b.
func checkAliases(tb testing.TB, m *Message, b []byte) {
	tb.Helper()
	for name, s := range slicesOf(m) {
		if !inside(s, b) {
			tb.Errorf("%s = %q lies outside the input", name, s)
		}
	}
}
