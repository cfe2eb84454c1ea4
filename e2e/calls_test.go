package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// callKind is one kind of call the capture tests make, with the final
// answer it must show.
type callKind struct {
	Name     string
	UAS, UAC string // scenario files in testdata/
	Calls    int
	// Service is the Request-URI user (SIPp's -s); the rejecting UAS
	// answers "busy" with 486 and anyone else with 404.
	Service string
	// Final is the status code every call of this kind must carry to
	// the UAC (the last answer of its first transaction's kind).
	Final string
}

var callKinds = []callKind{
	{Name: "answered", UAS: "uas_answered.xml", UAC: "uac_answered.xml", Calls: 3, Service: "bob", Final: "200"},
	{Name: "busy", UAS: "uas_rejected.xml", UAC: "uac_rejected.xml", Calls: 2, Service: "busy", Final: "486"},
	{Name: "notfound", UAS: "uas_rejected.xml", UAC: "uac_rejected.xml", Calls: 2, Service: "nobody", Final: "404"},
	{Name: "register", UAS: "uas_register.xml", UAC: "uac_register.xml", Calls: 2, Service: "alice", Final: "401"},
}

// runCallKinds makes every kind of call from a UAC on uacIP through the
// proxy first to a UAS on uasIP, one SIPp pair per kind. Call-IDs are
// "<tag>-<kind>-<n>-<pid>@<ip>".
func runCallKinds(t *testing.T, tag string, first Proxy, uacIP, uasIP string, kinds []callKind) {
	t.Helper()
	uas, uac := freeSIPAddr(t, uasIP), freeSIPAddr(t, uacIP)
	for _, k := range kinds {
		runCalls(t,
			UA{Name: tag + " " + k.Name + " uas", Scenario: k.UAS, Local: uas, Calls: k.Calls},
			UA{Name: tag + " " + k.Name + " uac", Scenario: k.UAC, Local: uac, Remote: first.Addr, Calls: k.Calls,
				Service: k.Service, CallIDs: fmt.Sprintf("%s-%s-%%u-%%p@%%s", tag, k.Name),
				Keys: map[string]string{"uas": uas}})
	}
}

// checkCallKinds fails t unless the hops hold exactly the calls made for
// tag, each kind with its number of distinct Call-IDs, each call seen by
// every capture node in nodes and carrying its kind's final status.
func checkCallKinds(t *testing.T, tag string, hops []Hop, kinds []callKind, nodes ...uint32) {
	t.Helper()
	by := hopsByCallID(hops)
	for _, k := range kinds {
		prefix := tag + "-" + k.Name + "-"
		var ids []string
		for id := range by {
			if strings.HasPrefix(id, prefix) {
				ids = append(ids, id)
			}
		}
		if len(ids) != k.Calls {
			t.Errorf("%s calls: %d Call-IDs %v, want %d", k.Name, len(ids), ids, k.Calls)
		}
		for _, id := range ids {
			for _, n := range nodes {
				if by[id][n] == 0 {
					t.Errorf("call %s: nothing from capture node %d", id, n)
				}
			}
			final := false
			for _, h := range hops {
				if h.CallID == id && h.What == k.Final {
					final = true
					break
				}
			}
			if !final {
				t.Errorf("call %s: no %s answer", id, k.Final)
			}
		}
	}
}
