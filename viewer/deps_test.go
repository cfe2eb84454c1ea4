package viewer_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDatabaseInTheEdge: the viewer holds no database credential, and
// nothing it is built from could use one. go list -deps ./viewer names
// neither pgx nor any package of ours that opens PostgreSQL or holds its
// stores, nor the query service itself (only its pgx-free client).
func TestNoDatabaseInTheEdge(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/jackc/pgx",
		"github.com/callscope/callscope/db",
		"github.com/callscope/callscope/tenant/tenantdb",
		"github.com/callscope/callscope/auth/authdb",
		"github.com/callscope/callscope/query",
		"github.com/callscope/callscope/ingest",
		"github.com/callscope/callscope/retention",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), deps)
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") && !strings.HasPrefix(d, "github.com/callscope/callscope/query/queryapi") {
				t.Errorf("the viewer depends on %s", d)
			}
		}
	}
}
