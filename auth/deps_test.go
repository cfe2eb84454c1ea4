package auth_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreImportsNoStorage: auth is the storage-independent core it says
// it is. go list -deps ./auth names no database driver, no Redis client and
// no HTTP framework, and none of its own adapters.
func TestCoreImportsNoStorage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), deps)
	}
	for _, d := range deps {
		for _, f := range []string{"github.com/jackc/pgx", "github.com/redis/go-redis", "github.com/go-redis/redis_rate",
			"github.com/labstack/echo", "github.com/callscope/callscope/db", "github.com/callscope/callscope/auth/"} {
			if strings.HasPrefix(d, f) {
				t.Errorf("auth depends on %s", d)
			}
		}
	}
}
