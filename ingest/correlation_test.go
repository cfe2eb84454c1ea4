package ingest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/callscope/callscope/tenant"
)

// TestCorrelationSource: every stored correlation value says where it came
// from, the capture node's HEP chunk or the SIP header, so that a view
// token can tell the node's word from the endpoints'.
func TestCorrelationSource(t *testing.T) {
	b := setup(t)
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 9})
	b.srv.nodes.refresh(context.Background(), true)

	chunk := sipPacket(9, withCallID(t, "src-chunk@x"))
	chunk.CorrelationID = []byte("set-by-node")
	header := sipPacket(9, withCallID(t, "src-header@x")) // the fixture's X-CID
	plain := withCallID(t, "src-none@x")
	i := bytes.Index(plain, []byte("X-CID:"))
	j := i + bytes.Index(plain[i:], []byte("\r\n")) + 2
	none := sipPacket(9, append(append([]byte{}, plain[:i]...), plain[j:]...))
	sendUDP(t, b.udp, chunk.AppendV3(nil), header.AppendV3(nil), none.AppendV3(nil))

	waitCount(t, b.db, 3, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id LIKE 'src-%'`)
	for _, tc := range []struct{ callID, value, source string }{
		{"src-chunk@x", "set-by-node", "hep"},
		{"src-header@x", "corr-7e1d2c3b", "x-cid"},
		{"src-none@x", "", ""},
	} {
		var value, source *string
		if err := b.db.Owner().QueryRow(context.Background(),
			`SELECT correlation_id, correlation_source FROM sip_messages WHERE call_id = $1`, tc.callID).Scan(&value, &source); err != nil {
			t.Fatal(err)
		}
		if deref(value) != tc.value || deref(source) != tc.source {
			t.Errorf("%s: correlation %q from %q, want %q from %q", tc.callID, deref(value), deref(source), tc.value, tc.source)
		}
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestCorrSourceNames(t *testing.T) {
	names := []string{"x-cid", "x-call-id", "p-charging-vector"}
	for _, tc := range []struct {
		fromHEP bool
		header  string
		want    string
	}{
		{true, "x-cid", "hep"},
		{false, "x-call-id", "x-call-id"},
		{false, "p-charging-vector", "p-charging-vector"},
		{false, "x-unknown", ""},
		{false, "", ""},
	} {
		if got := corrSourceName(names, corrSource(names, tc.fromHEP, tc.header)); got != tc.want {
			t.Errorf("corrSource(%v, %q) names %q, want %q", tc.fromHEP, tc.header, got, tc.want)
		}
	}
}
