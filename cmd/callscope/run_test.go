package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/demo"
	"github.com/callscope/callscope/hep"
	"github.com/callscope/callscope/redisdb/redistest"
)

// cli runs the binary's run function with env vars and returns stdout and
// the error.
type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, env: map[string]string{"CALLSCOPE_DATABASE_URL": dbtest.NewURL(t)}}
}

func (c *cli) run(stdin string, args ...string) (string, error) {
	c.t.Helper()
	return c.runCtx(context.Background(), stdin, args...)
}

func (c *cli) runCtx(ctx context.Context, stdin string, args ...string) (string, error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	err := run(ctx, args, func(k string) string { return c.env[k] }, strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	return c.mustRunIn("", args...)
}

// mustRunIn runs a command that reads stdin (a password).
func (c *cli) mustRunIn(stdin string, args ...string) string {
	c.t.Helper()
	out, err := c.run(stdin, args...)
	if err != nil {
		c.t.Fatalf("callscope %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestTenantAndNodeCommands(t *testing.T) {
	c := newCLI(t)
	c.mustRun("migrate")
	c.mustRun("tenant", "create", "acme", "--embed-origin", "https://app.acme.example")
	c.mustRun("node", "add", "acme", "2001", "--auth-key", "s3cret", "--cidr", "127.0.0.0/8")
	c.mustRun("tenant", "create", "--name", "Globex Corp", "globex")

	t.Run("SecondTenantCannotTakeCaptureID", func(t *testing.T) {
		out, err := c.run("", "node", "add", "globex", "2001")
		if err == nil || !strings.Contains(err.Error(), "already registered") {
			t.Fatalf("want a conflict, got %v\n%s", err, out)
		}
	})
	t.Run("Lists", func(t *testing.T) {
		tenants := c.mustRun("tenant", "list")
		for _, want := range []string{"acme", "https://app.acme.example", "globex", "Globex Corp"} {
			if !strings.Contains(tenants, want) {
				t.Errorf("tenant list lacks %q:\n%s", want, tenants)
			}
		}
		nodes := c.mustRun("node", "list")
		if !regexp.MustCompile(`acme\s+2001\s+required\s+127\.0\.0\.0/8`).MatchString(nodes) {
			t.Errorf("node list:\n%s", nodes)
		}
		if strings.Contains(nodes, "s3cret") {
			t.Error("node list shows the auth key")
		}
	})
	t.Run("FlagsFromEnvironment", func(t *testing.T) {
		c.env["CALLSCOPE_AUTH_KEY"] = "from-env"
		c.env["CALLSCOPE_CIDR"] = "127.0.0.1,::1"
		defer delete(c.env, "CALLSCOPE_AUTH_KEY")
		defer delete(c.env, "CALLSCOPE_CIDR")
		out := c.mustRun("node", "add", "globex", "2002")
		if !strings.Contains(out, "required") || !strings.Contains(out, "127.0.0.1,::1") {
			t.Fatalf("env flags not applied: %s", out)
		}
	})
	t.Run("Update", func(t *testing.T) {
		const fp = "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9"
		c.mustRun("node", "add", "acme", "2010", "--name", "edge-1", "--auth-key", "k1", "--cert-sha256", fp)
		out := c.mustRun("node", "update", "acme", "2010", "--cidr", "10.0.0.1", "--auth-key", "")
		if !strings.Contains(out, "auth key: not required, sources: 10.0.0.1, certificate: "+fp) {
			t.Errorf("update output: %s", out)
		}
		out = c.mustRun("node", "update", "acme", "2010", "--cert-sha256", "", "--cidr", "")
		if !strings.Contains(out, "sources: any, certificate: any") {
			t.Errorf("update output: %s", out)
		}
		if !regexp.MustCompile(`acme\s+2010\s+edge-1\s+-\s+any`).MatchString(c.mustRun("node", "list", "acme")) {
			t.Errorf("node list after update:\n%s", c.mustRun("node", "list", "acme"))
		}
		for _, args := range [][]string{
			{"node", "update", "acme", "2010"},                           // nothing to change
			{"node", "update", "acme", "2010", "--cert-sha256", "0A:1B"}, // not a fingerprint
			{"node", "update", "globex", "2010", "--name", "x"},          // another tenant's node
			{"node", "update", "acme", "9999", "--name", "x"},            // no such node
		} {
			if out, err := c.run("", args...); err == nil {
				t.Errorf("callscope %v succeeded: %s", args, out)
			}
		}
		if out, _ := c.run("", "node", "update", "--help"); !strings.Contains(out, "--cert-sha256") || !strings.Contains(out, "only the flags given change") {
			t.Errorf("node update --help:\n%s", out)
		}
	})
	t.Run("Refusals", func(t *testing.T) {
		for _, args := range [][]string{
			{"tenant", "create", "Bad Slug"},
			{"tenant", "create", "ok-slug", "--embed-origin", "app.example"},
			{"node", "add", "acme", "4294967296"},
			{"node", "add", "acme", "77", "--cidr", "10.0.0.0/40"},
			{"node", "add", "nobody", "78"},
			{"tenant"},
			{"frobnicate"},
		} {
			if out, err := c.run("", args...); err == nil {
				t.Errorf("callscope %v succeeded: %s", args, out)
			}
		}
	})
	t.Run("Aliases", func(t *testing.T) {
		if out := c.mustRun("tenant", "alias", "acme", "10.0.0.1:5060", "Carrier SBC"); !strings.Contains(out, `10.0.0.1:5060 is now named "Carrier SBC"`) {
			t.Errorf("alias: %s", out)
		}
		c.mustRun("tenant", "alias", "acme", "[::ffff:10.0.0.2]", "PBX")
		if out := c.mustRun("tenant", "aliases", "acme"); !regexp.MustCompile(`10\.0\.0\.1:5060\s+Carrier SBC\n10\.0\.0\.2\s+PBX\n`).MatchString(out) {
			t.Errorf("aliases:\n%s", out)
		}
		if out := c.mustRun("tenant", "aliases", "globex"); strings.Count(out, "\n") != 1 {
			t.Errorf("globex lists acme's aliases:\n%s", out)
		}
		c.mustRun("tenant", "unalias", "acme", "10.0.0.2")
		if out := c.mustRun("tenant", "aliases", "acme"); strings.Contains(out, "PBX") {
			t.Errorf("after unalias:\n%s", out)
		}
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"tenant", "unalias", "acme", "10.0.0.2"}, "acme has no alias for 10.0.0.2 (callscope tenant aliases acme lists them)"},
			{[]string{"tenant", "alias", "acme", "sbc.example.com", "SBC"}, `IP[:PORT]: "sbc.example.com" is not an IP or IP:port such as 10.0.0.1 or 10.0.0.1:5060`},
			{[]string{"tenant", "alias", "acme", "10.0.0.3", " "}, "NAME: must be 1 to 64 printable characters"},
			{[]string{"tenant", "alias", "acme", "10.0.0.3"}, "tenant alias needs NAME"},
			{[]string{"tenant", "alias", "nobody", "10.0.0.3", "x"}, `tenant "nobody" not found`},
		} {
			if _, err := c.run("", tt.args...); err == nil || err.Error() != tt.want && !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("%q:\n  got  %v\n  want %s", tt.args, err, tt.want)
			}
		}
	})
	t.Run("Admin", func(t *testing.T) {
		if _, err := c.run("short\n", "admin", "create", "ops@example.com"); err == nil {
			t.Error("short password accepted")
		}
		out, err := c.run("correct horse battery staple\n", "admin", "create", "ops@example.com")
		if err != nil || !strings.Contains(out, "created admin ops@example.com") {
			t.Fatalf("admin create: %v %s", err, out)
		}
	})
}

func TestDatabaseUnreachableSaysWhatToDo(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"tenant", "list"}, func(k string) string {
		if k == "CALLSCOPE_DATABASE_URL" {
			return "postgres://postgres@127.0.0.1:1/x?sslmode=disable"
		}
		return ""
	}, strings.NewReader(""), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "CALLSCOPE_DATABASE_URL: cannot reach 127.0.0.1:1 (connection refused)") {
		t.Fatalf("got %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the serving goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestServeHealthAndShutdown(t *testing.T) {
	dbURL := dbtest.NewURL(t)
	_, redisPrefix := redistest.New(t)
	env := map[string]string{
		"CALLSCOPE_REDIS_PREFIX": redisPrefix,
		"CALLSCOPE_DATABASE_URL": dbURL,
		"CALLSCOPE_REDIS_URL":    redistest.URL(),
		"CALLSCOPE_SECRET_KEY":   strings.Repeat("k", 32),
		"CALLSCOPE_HEP_ADDR":     "127.0.0.1:0",
		"CALLSCOPE_VIEWER_ADDR":  "127.0.0.1:0",
		"CALLSCOPE_QUERY_ADDR":   "127.0.0.1:0",
		"CALLSCOPE_CONSOLE_ADDR": "127.0.0.1:0",
		"CALLSCOPE_METRICS_ADDR": "127.0.0.1:0",
		"CALLSCOPE_SPOOL_DIR":    t.TempDir(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), out, io.Discard)
	}()
	addr := regexp.MustCompile(`(\w+) listening on (http://[0-9.:]+)`)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "callscope ready") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	seen := 0
	for _, m := range addr.FindAllStringSubmatch(out.String(), -1) {
		if m[1] == "metrics" {
			continue
		}
		seen++
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(m[2] + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s: %d", m[1], path, resp.StatusCode)
			}
		}
	}
	if seen != 3 {
		t.Fatalf("want query, viewer and console listeners, got:\n%s", out.String())
	}

	// Ingest: a registered node's demo calls are stored under its tenant.
	c := &cli{t: t, env: env}
	c.mustRun("tenant", "create", "acme")
	c.mustRun("node", "add", "acme", "4343", "--auth-key", "k3y")
	udp := regexp.MustCompile(`ingest listening on udp://([0-9.:]+)`).FindStringSubmatch(out.String())
	if udp == nil {
		t.Fatalf("no ingest UDP address in:\n%s", out.String())
	}
	calls := demo.Calls(time.Now().Add(-time.Minute), "serve-test")
	want := 0
	for _, call := range calls {
		for _, m := range call.Messages {
			if m.Type == hep.PayloadSIP {
				want++
			}
		}
	}
	d := dbtest.Open(t, dbURL)
	got := 0
	for deadline := time.Now().Add(15 * time.Second); got < want && time.Now().Before(deadline); {
		// The node map follows changes within seconds: resend until it has.
		if err := demo.Send(ctx, udp[1], demo.Packets(demo.Node{CaptureID: 4343, AuthKey: "k3y"}, calls)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if err := d.Owner().QueryRow(ctx, `SELECT count(DISTINCT payload) FROM sip_messages
			WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'acme')`).Scan(&got); err != nil {
			t.Fatal(err)
		}
	}
	if got != want {
		t.Fatalf("stored %d distinct demo messages, want %d", got, want)
	}

	// A node sending with a mistyped auth key shows in `node list` with the
	// reason its packets are dropped, not as a node without traffic; and
	// the list says how far behind ingest is.
	c.mustRun("node", "add", "acme", "4344", "--auth-key", "right-key")
	health := regexp.MustCompile(`(?m)^acme\s+4344\s+required\s+any\s+-\s+\S+ \(\d+s ago\)\s+0\s+bad_auth_key=\d+$`)
	var list string
	for deadline := time.Now().Add(20 * time.Second); !health.MatchString(list) && time.Now().Before(deadline); {
		if err := demo.Send(ctx, udp[1], demo.Packets(demo.Node{CaptureID: 4344, AuthKey: "typo-key"}, calls[:1])); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		list = c.mustRun("node", "list", "acme")
	}
	if !health.MatchString(list) || !regexp.MustCompile(`(?m)^\S+ 127\.0\.0\.1:\d+\s+(caught up|behind by \d+ s \(.* waiting\), \S+ \S+)\s+\d+s ago$`).MatchString(list) {
		t.Errorf("node list does not show the wrong auth key, or ingest's status:\n%s", list)
	}

	// `callscope demo` against the running server provisions and sends.
	demoEnv := &cli{t: t, env: map[string]string{}}
	for k, v := range env {
		demoEnv.env[k] = v
	}
	demoEnv.env["CALLSCOPE_HEP_ADDR"] = udp[1]
	demoOut := demoEnv.mustRun("demo")
	for _, want := range []string{"tenant \"demo\"", "password", "sent ", "demo-answered-", "console: http://", "<iframe src="} {
		if !strings.Contains(demoOut, want) {
			t.Errorf("demo output lacks %q:\n%s", want, demoOut)
		}
	}
	// The printed viewer link works: it renders the answered call.
	link := regexp.MustCompile(`viewer \(works until [^)]*\): (\S+)`).FindStringSubmatch(demoOut)
	if link == nil {
		t.Fatalf("no viewer link in:\n%s", demoOut)
	}
	viewerURL := regexp.MustCompile(`viewer listening on (http://[0-9.:]+)`).FindStringSubmatch(out.String())[1]
	page := httpGet(t, viewerURL+link[1][strings.Index(link[1], "/v/"):])
	if !strings.Contains(page, "demo-answered-") || !strings.Contains(page, "data-testid=\"ladder\"") {
		t.Errorf("viewer page for the demo link lacks the call:\n%.2000s", page)
	}
	// The view is in the tenant's audit, with the browser's user agent:
	// the viewer reports it to query, which writes it in batches.
	var audited int
	for deadline := time.Now().Add(10 * time.Second); audited == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := d.Owner().QueryRow(ctx, `SELECT count(*) FROM view_audit a JOIN tenants t ON t.id = a.tenant_id
			WHERE t.slug = 'demo' AND a.call_id LIKE 'demo-answered-%' AND a.user_agent LIKE 'Go-http-client%'
			AND a.client_ip = '127.0.0.1'`).Scan(&audited); err != nil {
			t.Fatal(err)
		}
	}
	if audited == 0 {
		t.Error("the demo link's view was not audited")
	}

	// Every role reports to the one /metrics listener.
	metricsURL := regexp.MustCompile(`metrics listening on (http://[0-9.:]+)`).FindStringSubmatch(out.String())[1]
	metrics := httpGet(t, metricsURL+"/metrics")
	for _, want := range []string{`callscope_token_verifications_total{outcome="ok",role="viewer"}`,
		`callscope_http_request_duration_seconds_count{code="2xx",method="GET",role="viewer",route="/v/:token"}`,
		"callscope_ingest_", "callscope_retention_runs_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if again := demoEnv.mustRun("demo"); !strings.Contains(again, "already exists") {
		t.Errorf("second demo run:\n%s", again)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%.1000s", url, resp.StatusCode, b)
	}
	return string(b)
}

func TestParseArguments(t *testing.T) {
	e := env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}
	parse := func(spec string, args ...string) ([]string, string, error) {
		c := newCmdline(e, "x", command{name: "x", args: spec}, args)
		name := c.fs.String("name", "", "")
		pos, err := c.parse()
		return pos, *name, err
	}
	for _, tt := range []struct {
		spec string
		args []string
		pos  string
		name string
	}{
		{"A B", []string{"a", "--name", "n", "--", "-dash"}, "a -dash", "n"},
		{"A [B] [C]", []string{"--name=n", "a", "--", "-dash", "--also"}, "a -dash --also", "n"},
		{"SLUG JTI", []string{"acme", "-abc"}, "acme -abc", ""},
		{"SLUG JTI", []string{"acme", "--abc", "--name", "n"}, "acme --abc", "n"},
		{"SLUG JTI", []string{"-name", "n", "acme", "-x=y"}, "acme -x=y", "n"},
		{"SLUG CALL_ID", []string{"acme", "-"}, "acme -", ""},
	} {
		pos, name, err := parse(tt.spec, tt.args...)
		if err != nil || strings.Join(pos, " ") != tt.pos || name != tt.name {
			t.Errorf("%s %q: pos=%q name=%q err=%v", tt.spec, tt.args, pos, name, err)
		}
	}
	for _, tt := range []struct {
		spec string
		args []string
		want string
	}{
		{"SLUG", []string{"acme", "-abc"}, "unknown flag -abc for x"},
		{"SLUG JTI", []string{"acme", "j", "-abc"}, "unknown flag -abc for x"},
		{"SLUG JTI", []string{"-abc", "acme"}, "unknown flag -abc for x"},
		{"SLUG JTI", []string{"acme"}, "x needs JTI"},
		{"SLUG JTI", []string{"acme", "--nmae", "n"}, `"n" is one argument too many ("--nmae" names no flag of x, so it was read as JTI)`},
		{"", []string{"extra"}, `x takes no arguments, and "extra" is one argument too many`},
		{"A", []string{"a", "--name"}, "--name needs a value"},
	} {
		if _, _, err := parse(tt.spec, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != 2 {
			t.Errorf("%s %q: %v, want %q (exit 2)", tt.spec, tt.args, err, tt.want)
		}
	}
}

// Whatever the arguments, parse returns or refuses without panicking, and
// what it returns fits the command: never more positional arguments than
// it takes, never fewer than it needs, every flag's value set.
func FuzzParseArguments(f *testing.F) {
	f.Add("acme\x00-abc\x00--name\x00n")
	f.Add("--\x00-x\x00--name=")
	f.Add("-name\x00\x00---x\x00-h")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		e := env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}
		c := newCmdline(e, "x", command{name: "x", args: "SLUG JTI [CALL_ID]"}, args)
		c.fs.String("name", "", "")
		c.fs.Bool("remove", false, "")
		pos, err := c.parse()
		if err != nil {
			return
		}
		if len(pos) < 2 || len(pos) > 3 {
			t.Fatalf("%q: %d positional arguments %q", args, len(pos), pos)
		}
		for name, spelled := range c.typed {
			if c.fs.Lookup(name) == nil || !strings.HasPrefix(spelled, "-") {
				t.Fatalf("%q: typed %q as %q", args, name, spelled)
			}
		}
	})
}
