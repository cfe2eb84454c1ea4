package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestScenario is the proof of the SIPp export: a call SIPp made through
// two Kamailio proxies and callscope stored is exported as the caller's and
// the callee's scenarios (by the API through the viewer, and by the CLI),
// and the exported pair replays it, through the same proxies with the
// callee where it was, and straight from caller to callee on loopback.
//
//	UAC 127.0.0.41 ─> A 127.0.0.42 ─> B 127.0.0.43 ─> UAS 127.0.0.44
//	                  │ HEP/UDP 2101   │ HEP/TCP 3101, both tenant acme
//	                  v                v
//	            callscope ingest ── export ──> uac.xml, uas.xml ── replay
//
// Both SIPp processes of every replay must exit 0, and callscope must store
// the replayed call hop for hop as it stored the original: the same
// messages on every hop each proxy reported, and the same final answers
// to the caller in the same order.
func TestScenario(t *testing.T) {
	needPeers(t)
	t.Parallel()
	cs := newCallscope(t)
	cs.CLI(t, "tenant", "create", "acme")
	cs.CLI(t, "node", "add", "acme", "2101", "--name", "proxy-a", "--auth-key", "acme-hep-key")
	cs.CLI(t, "node", "add", "acme", "3101", "--name", "proxy-b")
	cs.Start(t)
	apiKey := strings.TrimSpace(cs.CLI(t, "apikey", "create", "acme"))

	uac, uas := freeSIPAddr(t, "127.0.0.41"), freeSIPAddr(t, "127.0.0.44")
	a := Proxy{Name: "A", Addr: freeSIPAddr(t, "127.0.0.42"), HEPURI: "sip:" + cs.HEPAddr, CaptureID: 2101, AuthKey: "acme-hep-key"}
	b := Proxy{Name: "B", Addr: freeSIPAddr(t, "127.0.0.43"), HEPURI: "sip:" + cs.HEPAddr + ";transport=tcp", CaptureID: 3101}
	// B sends every new request to the callee: a replayed caller addresses
	// its Request-URI to the first hop it was given (SIPp's own idiom), so
	// only a static route, not the Request-URI, brings it to the callee.
	a.Next, b.Next = "sip:"+b.Addr, "sip:"+uas
	startKamailio(t, b)
	startKamailio(t, a)

	for _, k := range []struct {
		name, uas, uac, service string
		final                   []string // final answers to the caller, in order
		export                  string   // "api" or "cli"
		auth                    []string // the caller's credentials (-au, -ap)
	}{
		{name: "answered", uas: "uas_answered.xml", uac: "uac_answered.xml", service: "bob", final: []string{"200", "200"}, export: "api"},
		{name: "busy", uas: "uas_rejected.xml", uac: "uac_rejected.xml", service: "busy", final: []string{"486"}, export: "cli"},
		{name: "register", uas: "uas_register.xml", uac: "uac_register.xml", service: "alice", final: []string{"401", "200"}, export: "api",
			auth: []string{"-au", "alice", "-ap", "wonderland"}},
	} {
		t.Run(k.name, func(t *testing.T) {
			start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
			runCalls(t,
				UA{Name: "original " + k.name + " uas", Scenario: k.uas, Local: uas, Calls: 1},
				UA{Name: "original " + k.name + " uac", Scenario: k.uac, Local: uac, Remote: a.Addr, Calls: 1, Service: k.service,
					CallIDs: "orig-" + k.name + "-%u-%p@%s", Keys: map[string]string{"uas": uas}})
			origID, orig := waitStoredCall(t, cs, "orig-"+k.name+"-", uac, len(k.final))
			window := [2]time.Time{start, time.Now().Add(time.Minute).UTC().Truncate(time.Second)}

			dir := t.TempDir()
			for _, side := range []string{"uac", "uas"} {
				path := filepath.Join(dir, side+".xml")
				if k.export == "cli" {
					cs.CLI(t, "scenario", "acme", origID, "--from", window[0].Format(time.RFC3339), "--to", window[1].Format(time.RFC3339),
						"--side", side, "-o", path)
					continue
				}
				if err := os.WriteFile(path, exportScenario(t, cs, apiKey, origID, window, side), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			// The replay, through the proxies, the callee where it was.
			runCalls(t,
				UA{Name: "replayed " + k.name + " uas", Scenario: filepath.Join(dir, "uas.xml"), Local: uas, Calls: 1},
				UA{Name: "replayed " + k.name + " uac", Scenario: filepath.Join(dir, "uac.xml"), Local: uac, Remote: a.Addr, Calls: 1,
					Service: k.service, CallIDs: "replay-" + k.name + "-%u-%p@%s", Args: k.auth})
			_, replay := waitStoredCall(t, cs, "replay-"+k.name+"-", uac, len(k.final))
			for _, node := range []uint32{a.CaptureID, b.CaptureID} {
				if !slices.ContainsFunc(orig, func(h storedHop) bool { return h.CaptureID == node }) {
					t.Fatalf("the original call has nothing from capture node %d", node)
				}
			}
			if d := diffPerHop(orig, replay); d != "" {
				t.Errorf("the replay crossed the proxies unlike the original:\n%s", d)
			}
			for name, hops := range map[string][]storedHop{"original": orig, "replay": replay} {
				if got := finals(hops, uac); !slices.Equal(got, k.final) {
					t.Errorf("%s: final answers to the caller %v, want %v", name, got, k.final)
				}
			}

			// The same pair, caller straight to callee: no proxy, the
			// callee somewhere else.
			direct := freeSIPAddr(t, "127.0.0.45")
			runCalls(t,
				UA{Name: "direct " + k.name + " uas", Scenario: filepath.Join(dir, "uas.xml"), Local: direct, Calls: 1},
				UA{Name: "direct " + k.name + " uac", Scenario: filepath.Join(dir, "uac.xml"), Local: uac, Remote: direct, Calls: 1,
					Service: k.service, CallIDs: "direct-" + k.name + "-%u-%p@%s", Args: k.auth})
		})
	}
}

// exportScenario asks the public API (through the viewer) for one side of
// a call.
func exportScenario(t *testing.T, cs *Callscope, apiKey, callID string, window [2]time.Time, side string) []byte {
	t.Helper()
	q := url.Values{"from": {window[0].Format(time.RFC3339)}, "to": {window[1].Format(time.RFC3339)}, "side": {side}}
	req, _ := http.NewRequest(http.MethodGet, cs.PublicURL+"/api/v1/calls/"+url.PathEscape(callID)+"/scenario?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/xml" {
		t.Fatalf("GET scenario %s of %s: %d %s\n%s", side, callID, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return body
}

// storedHop is a stored message in capture order.
type storedHop struct {
	Hop
	at time.Time
}

// waitStoredCall waits until the tenant acme holds exactly one call whose
// Call-ID starts with prefix, with finals final answers to the caller and
// a message count that held still between two looks, and returns its
// Call-ID and messages.
func waitStoredCall(t *testing.T, cs *Callscope, prefix, caller string, finalAnswers int) (string, []storedHop) {
	t.Helper()
	var (
		callID string
		hops   []storedHop
		last   = -1
	)
	err := eventually(20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		callID, hops, err = storedCall(ctx, cs.DatabaseURL, prefix)
		if err != nil {
			return err
		}
		got := len(finals(hops, caller))
		if got < finalAnswers || len(hops) != last {
			last = len(hops)
			return fmt.Errorf("call %q: %d messages stored, %d of %d final answers to the caller", callID, len(hops), got, finalAnswers)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return callID, hops
}

// storedCall reads the messages of the one acme call whose Call-ID starts
// with prefix, in capture order. It reads as the schema owner, which
// row-level security does not confine: the tenant filter is the test's.
func storedCall(ctx context.Context, dbURL, prefix string) (string, []storedHop, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `
		SELECT m.call_id, m.captured_at, m.capture_id, host(m.src_ip) || ':' || m.src_port, host(m.dst_ip) || ':' || m.dst_port,
		       coalesce(m.method, m.status::text), coalesce(m.cseq, 0)
		FROM sip_messages m JOIN tenants t ON t.id = m.tenant_id
		WHERE t.slug = 'acme' AND starts_with(m.call_id, $1)
		ORDER BY m.captured_at`, prefix)
	if err != nil {
		return "", nil, err
	}
	ids := map[string]bool{}
	hops, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storedHop, error) {
		var h storedHop
		var capture int64
		var src, dst string
		if err := r.Scan(&h.CallID, &h.at, &capture, &src, &dst, &h.What, &h.CSeq); err != nil {
			return h, err
		}
		ids[h.CallID] = true
		h.CaptureID = uint32(capture)
		var err error
		if h.Src, err = netip.ParseAddrPort(src); err != nil {
			return h, err
		}
		h.Dst, err = netip.ParseAddrPort(dst)
		return h, err
	})
	if err != nil {
		return "", nil, err
	}
	if len(ids) != 1 {
		return "", nil, fmt.Errorf("Call-IDs starting with %q: %v, want one", prefix, ids)
	}
	return hops[0].CallID, hops, nil
}

// diffPerHop compares two calls hop by hop, Call-IDs aside: for every
// capture node and direction, the same messages. (Within a hop, two
// messages a few microseconds apart, such as a 100 and a 180, may be
// stamped in either order by Kamailio's workers, so each hop is compared
// as a multiset; the order of the final answers is checked apart.)
func diffPerHop(want, got []storedHop) string {
	key := func(h storedHop) string { return fmt.Sprintf("node %d %s -> %s", h.CaptureID, h.Src, h.Dst) }
	perHop := func(hops []storedHop) map[string][]string {
		out := map[string][]string{}
		for _, h := range hops {
			out[key(h)] = append(out[key(h)], fmt.Sprintf("%s cseq %d", h.What, h.CSeq))
		}
		for _, v := range out {
			sort.Strings(v)
		}
		return out
	}
	w, g := perHop(want), perHop(got)
	var keys []string
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var lines []string
	for _, k := range keys {
		if !slices.Equal(w[k], g[k]) {
			lines = append(lines, fmt.Sprintf("%s: original %v, replay %v", k, w[k], g[k]))
		}
	}
	return strings.Join(lines, "\n")
}

// finals are the final answers (2xx-6xx) the caller at addr received, in
// order: SIP separates them by a round trip at least.
func finals(hops []storedHop, caller string) []string {
	var out []string
	for _, h := range hops {
		if h.Dst.String() == caller && len(h.What) == 3 && h.What[0] >= '2' && h.What[0] <= '6' {
			out = append(out, h.What)
		}
	}
	return out
}
