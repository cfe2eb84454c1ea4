package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/redisdb/redistest"
)

// leaf is one runnable command of the tree with its path ("token mint").
type leaf struct {
	path string
	cmd  command
}

func leaves() []leaf {
	var out []leaf
	var walk func(path string, c command)
	walk = func(path string, c command) {
		if c.run != nil {
			out = append(out, leaf{path, c})
			return
		}
		for _, s := range c.subs {
			walk(strings.TrimSpace(path+" "+s.name), s)
		}
	}
	walk("", commands())
	return out
}

// flagsOf runs a leaf with --help and returns the flags it registered.
func flagsOf(t *testing.T, l leaf) []*flag.Flag {
	t.Helper()
	e := env{getenv: func(string) string { return "" }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	c := newCmdline(e, l.path, l.cmd, []string{"--help"})
	if err := l.cmd.run(context.Background(), c); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("%s --help: %v", l.path, err)
	}
	var fs []*flag.Flag
	c.fs.VisitAll(func(f *flag.Flag) { fs = append(fs, f) })
	return fs
}

// Every command and group answers --help (and -h, and `help`) on standard
// output with exit status 0, and lists every flag it has.
func TestEveryCommandHasHelp(t *testing.T) {
	c := &cli{t: t, env: map[string]string{}}
	groups := [][]string{{}}
	for _, g := range commands().subs {
		if g.subs != nil {
			groups = append(groups, []string{g.name})
		}
	}
	for _, g := range groups {
		for _, help := range []string{"--help", "-h", "help"} {
			var out, errOut strings.Builder
			err := run(context.Background(), append(slices.Clone(g), help), func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
			if err != nil || errOut.Len() != 0 || !strings.Contains(out.String(), "Usage: callscope "+strings.Join(g, " ")) {
				t.Errorf("callscope %v %s: %v\nstdout:\n%s\nstderr:\n%s", g, help, err, out.String(), errOut.String())
			}
		}
	}
	for _, l := range leaves() {
		for _, help := range [][]string{{"--help"}, {"-h"}, {"-help"}} {
			args := append(strings.Fields(l.path), help...)
			var out, errOut strings.Builder
			err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
			if err != nil || errOut.Len() != 0 || !strings.HasPrefix(out.String(), "Usage: callscope "+l.path) {
				t.Errorf("callscope %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
			}
			for _, f := range flagsOf(t, l) {
				if !strings.Contains(out.String(), "--"+f.Name) {
					t.Errorf("callscope %s does not list --%s", strings.Join(args, " "), f.Name)
				}
			}
		}
		if out := c.mustRun(append([]string{"help"}, strings.Fields(l.path)...)...); !strings.HasPrefix(out, "Usage: callscope "+l.path) {
			t.Errorf("callscope help %s:\n%s", l.path, out)
		}
	}
}

// Help shows where each value comes from, never a secret.
func TestHelpHidesSecrets(t *testing.T) {
	c := &cli{t: t, env: map[string]string{
		"CALLSCOPE_SECRET_KEY":   "s3cret-s3cret-s3cret-s3cret-s3cret-s3cret",
		"CALLSCOPE_QUERY_TOKEN":  "qt-s3cret",
		"CALLSCOPE_DATABASE_URL": "postgres://app:pa55word@db.example:5432/callscope",
	}}
	for _, l := range leaves() {
		out := c.mustRun(append(strings.Fields(l.path), "--help")...)
		for _, secret := range []string{"s3cret", "pa55word"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s --help shows a secret:\n%s", l.path, out)
			}
		}
	}
}

// validArgs are arguments each leaf accepts, so that a bad flag value added
// to them is the one fault of the command line.
func validArgs(from, to string) map[string][]string {
	return map[string][]string{
		"serve":                  nil,
		"migrate":                nil,
		"tenant create":          {"newco"},
		"tenant list":            nil,
		"tenant suspend":         {"acme"},
		"tenant resume":          {"acme"},
		"tenant alias":           {"acme", "10.0.0.1", "PBX"},
		"tenant unalias":         {"acme", "10.0.0.1"},
		"tenant aliases":         {"acme"},
		"tenant follow-headers":  {"acme", "on"},
		"tenant internal-events": {"acme", "off"},
		"calls rebuild":          {"--from", from, "--to", to},
		"calls refresh":          nil,
		"node add":               {"acme", "7001"},
		"node update":            {"acme", "7001", "--name", "edge-7001"},
		"node list":              nil,
		"node remove":            {"acme", "7001"},
		"node unclaimed":         nil,
		"admin create":           {"ops@example.com"},
		"admin list":             nil,
		"admin disable":          {"ops@example.com"},
		"admin enable":           {"ops@example.com"},
		"admin reset":            {"ops@example.com"},
		"key add":                {"acme", "--jwk", "../../auth/testdata/jwk/ed25519_public.json"},
		"key list":               nil,
		"key disable":            {"acme", "tenant-ed-1"},
		"key rotate":             nil,
		"key retire":             {"some-kid"},
		"apikey create":          {"acme"},
		"apikey list":            {"acme"},
		"apikey revoke":          {"acme", "abcdefgh"},
		"token mint":             {"acme", "c1@x", "--from", from, "--to", to},
		"token list":             {"acme"},
		"token revoke":           {"acme", "some-jti"},
		"token revoke-all":       {"acme"},
		"retention run":          nil,
		"scenario":               {"acme", "c1@x", "--from", from, "--to", to, "--side", "uac"},
		"demo":                   nil,
		"version":                nil,
	}
}

// badValue is a wrong value for a flag and what the error must say besides
// naming the flag as typed.
type badValue struct{ value, says string }

// badValues: by "path --flag" where a flag means something else in one
// command, else by "--flag".
var badValues = map[string]badValue{
	"--ttl":                            {"900", `"900": a duration needs a unit, such as 900s, 15m or 1h`},
	"--from":                           {"yesterday", `"yesterday": must be an RFC 3339 time such as`},
	"--to":                             {"2026-13-01T00:00:00Z", "must be an RFC 3339 time such as"},
	"--scope":                          {"admin", `"admin": unknown scope; known: pcap`},
	"--retention-days":                 {"0", `"0": must be a whole number from 1 to 3650`},
	"--embed-origin":                   {"app.example", `"app.example" is not an origin (scheme://host[:port])`},
	"--cidr":                           {"10.0.0.0/40", `"10.0.0.0/40" is not a CIDR such as 127.0.0.0/8`},
	"--cert-sha256":                    {"0A:1B", `"0A:1B" is not a SHA-256 fingerprint`},
	"--jwk":                            {"testdata/no-such-file.json", "no such file"},
	"--database-url":                   {"postgres://postgres@127.0.0.1:1/x?sslmode=disable", "cannot reach 127.0.0.1:1"},
	"--redis-url":                      {"redis://127.0.0.1:1/0", "cannot reach 127.0.0.1:1"},
	"--secret-key":                     {"short", "must be at least 32 characters"},
	"--public-url":                     {"ftp://view.example.com", "must be an http(s) URL"},
	"--token-max-ttl":                  {"forever", `"forever" must be a positive duration`},
	"--token-max-window":               {"-1h", `"-1h" must be a positive duration`},
	"--retention-max-days":             {"-1", `"-1" must be a whole number of days`},
	"--hep-addr":                       {"9060", `"9060" must be HOST:PORT or :PORT`},
	"--console-addr":                   {"localhost", `"localhost" must be HOST:PORT or :PORT`},
	"apikey create --name":             {strings.Repeat("k", 101), "must be at most 100 printable characters"},
	"scenario --side":                  {"both", `"both": want uac (the caller) or uas (the callee)`},
	"serve --log-format":               {"xml", `"xml" must be text or json`},
	"serve --log-level":                {"loud", `"loud" must be debug, info, warn or error`},
	"serve --console-secure-cookies":   {"yes please", `"yes please" must be true or false`},
	"serve --roles":                    {"ingest,web", `unknown role "web"`},
	"serve --batch-size":               {"lots", `"lots" is not a non-negative integer`},
	"serve --queue-size":               {"0", "must be positive"},
	"serve --spool-max-bytes":          {"1GB", `"1GB" is not a non-negative integer`},
	"serve --queue-bytes":              {"-5", `"-5" is not a non-negative integer`},
	"serve --writers":                  {"two", `"two" is not a non-negative integer`},
	"serve --hep-max-conns-per-source": {"many", `"many" is not a non-negative integer`},
	"serve --udp-read-buffer":          {"32M", `"32M" is not a non-negative integer`},
	"serve --flush-interval":           {"200", `"200" is not a duration`},
	"serve --dedup-window":             {"1 ms", `"1 ms" is not a duration`},
	"serve --token-max-ttl":            {"0s", "must be positive"},
	"serve --token-max-window":         {"soon", `"soon" is not a duration`},
	"serve --retention-max-days":       {"ninety", `"ninety" is not a non-negative integer`},
	"serve --public-url":               {"view.example.com", "must be an http(s) URL"},
	"serve --secret-key":               {"short", "must be at least 32 characters"},
	"serve --trusted-proxies":          {"10.0.0.0/33", "10.0.0.0/33"},
	"serve --hep-tls-addr":             {":9061", "needs CALLSCOPE_HEP_TLS_CERT and CALLSCOPE_HEP_TLS_KEY"},
}

// anyValue are flags whose every value is accepted where it is parsed:
// names and keys are free text; serve's addresses, files and URLs are
// checked when serve binds or opens them, which names the role and value.
var anyValue = map[string]string{
	"--name":                      "free text",
	"--auth-key":                  "free text: whatever the capture agent is configured with",
	"--redis-prefix":              "free text",
	"scenario --o":                "created when the scenario is written, which names -o",
	"scenario --no-pauses":        "a switch: what follows it is an argument",
	"calls rebuild --tenant":      "a slug, looked up when the command runs (an unknown one is refused then)",
	"serve --hep-tls-cert":        "read when ingest starts",
	"serve --hep-tls-key":         "read when ingest starts",
	"serve --hep-tls-client-ca":   "read when ingest starts",
	"serve --viewer-addr":         "bound when serve starts",
	"serve --query-addr":          "bound when serve starts",
	"serve --hep-addr":            "bound when serve starts",
	"serve --console-addr":        "bound when serve starts",
	"serve --metrics-addr":        "bound when serve starts",
	"serve --query-url":           "dialled when serve starts",
	"serve --query-token":         "a secret of any shape",
	"serve --viewer-query-token":  "a secret of any shape",
	"serve --spool-dir":           "created when ingest starts",
	"serve --correlation-headers": "free text: header names",
	"serve --database-url":        "opened when serve starts",
	"serve --redis-url":           "opened when serve starts",
}

// Every flag of every command: a wrong value is refused with an error that
// names the flag as typed and says what is accepted, exit status 2 for a
// value refused on parsing, and no usage dump.
func TestEveryBadFlagValueNamesTheFlag(t *testing.T) {
	c := newCLI(t)
	c.env["CALLSCOPE_REDIS_URL"] = redistest.URL()
	c.env["CALLSCOPE_SECRET_KEY"] = cliSecret
	for _, s := range []setting{sHEPAddr, sViewerAddr, sQueryAddr, sConsoleAddr, sMetricsAddr} {
		c.env[s.env] = "127.0.0.1:0"
	}
	c.env["CALLSCOPE_SPOOL_DIR"] = t.TempDir()
	c.mustRun("tenant", "create", "acme")
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	to := time.Now().UTC().Format(time.RFC3339)
	valid := validArgs(from, to)
	for _, l := range leaves() {
		args, ok := valid[l.path]
		if !ok {
			t.Errorf("validArgs has no entry for %q", l.path)
			continue
		}
		for _, f := range flagsOf(t, l) {
			key := l.path + " --" + f.Name
			bad, ok := badValues[key]
			if anyValue[key] != "" {
				continue
			}
			if !ok {
				bad, ok = badValues["--"+f.Name]
			}
			if !ok {
				if anyValue["--"+f.Name] == "" {
					t.Errorf("%s: no bad value for --%s, and it is not listed as taking any value", l.path, f.Name)
				}
				continue
			}
			for _, spelled := range []string{"--" + f.Name, "-" + f.Name} {
				cmdline := append(append(strings.Fields(l.path), args...), spelled, bad.value)
				// A value this test failed to make bad would start serve:
				// on loopback port 0, and only until the deadline.
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				out, err := c.runCtx(ctx, "a long passphrase\n", cmdline...)
				cancel()
				if err == nil {
					t.Errorf("callscope %q succeeded:\n%s", cmdline, out)
					continue
				}
				if !strings.Contains(err.Error(), spelled) || !strings.Contains(err.Error(), bad.says) || strings.Contains(err.Error(), flagEnv(f.Name)) {
					t.Errorf("callscope %q:\n  got  %v\n  want %s and %q", cmdline, err, spelled, bad.says)
				}
				if strings.Contains(out, "Usage:") {
					t.Errorf("callscope %q printed its usage:\n%s", cmdline, out)
				}
			}
		}
	}
}

// The same faults from the environment name the variable.
func TestBadVariableNamesTheVariable(t *testing.T) {
	c := newCLI(t)
	c.mustRun("tenant", "create", "acme")
	c.env["CALLSCOPE_SECRET_KEY"] = cliSecret
	c.env["CALLSCOPE_TTL"] = "900"
	_, err := c.run("", "token", "mint", "acme", "c1", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T01:00:00Z")
	if err == nil || !strings.Contains(err.Error(), `CALLSCOPE_TTL "900": a duration needs a unit`) {
		t.Errorf("CALLSCOPE_TTL=900: %v", err)
	}
	delete(c.env, "CALLSCOPE_TTL")
	c.env["CALLSCOPE_TOKEN_MAX_TTL"] = "forever"
	if _, err := c.run("", "token", "mint", "acme", "c1", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T01:00:00Z"); err == nil || !strings.HasPrefix(err.Error(), `CALLSCOPE_TOKEN_MAX_TTL: "forever"`) {
		t.Errorf("CALLSCOPE_TOKEN_MAX_TTL=forever: %v", err)
	}
}

// Every leaf refuses an unknown flag and a stray argument by name, with
// exit status 2 and no usage dump.
func TestEveryCommandRefusesStrayArguments(t *testing.T) {
	c := &cli{t: t, env: map[string]string{}}
	valid := validArgs("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
	for _, l := range leaves() {
		base := append(strings.Fields(l.path), valid[l.path]...)
		out, err := c.run("", append(base, "--no-such-flag")...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "unknown flag --no-such-flag for "+l.path) || strings.Contains(out, "Usage:") {
			t.Errorf("%s --no-such-flag: %v\n%s", l.path, err, out)
		}
		extra := append(base, "stray", "stray", "stray")
		if out, err := c.run("", extra...); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `"stray" is one argument too many`) {
			t.Errorf("%q: %v\n%s", extra, err, out)
		}
	}
}

// The messages of the issue that asked for all this, word for word.
func TestCLIErrorsSpeakFlags(t *testing.T) {
	c := newCLI(t)
	c.mustRun("tenant", "create", "acme")
	c.env["CALLSCOPE_SECRET_KEY"] = cliSecret
	mint := []string{"token", "mint", "acme", "c1"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T01:00:00Z", "--ttl", "48h"}, "--ttl 48h: must be from 1s to 1h (the server's --token-max-ttl)"},
		{[]string{"--from", "2026-01-01T02:00:00Z", "--to", "2026-01-01T01:00:00Z"}, "--to 2026-01-01T01:00:00Z must be after --from 2026-01-01T02:00:00Z"},
		{[]string{"--from", "2026-01-01T00:00:00Z", "--to", "2026-01-03T00:00:00Z"}, "--from to --to spans 48h: a link's window may span at most 24h"},
		{[]string{"--to", "2026-01-01T01:00:00Z"}, "--from is required: the start of the call window, an RFC 3339 time such as 2026-03-01T12:00:00Z"},
		{[]string{"--from", "2026-01-01T00:00:00Z"}, "--to is required"},
		{[]string{"--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T01:00:00Z", "--ttl", "900"}, `--ttl "900": a duration needs a unit, such as 900s, 15m or 1h`},
	} {
		out, err := c.run("", append(mint, tt.args...)...)
		if err == nil || err.Error() != tt.want && !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%v:\n  got  %v\n  want %s", tt.args, err, tt.want)
		}
		if strings.Contains(out, "Usage:") || strings.Contains(out, "parse error") {
			t.Errorf("%v printed:\n%s", tt.args, out)
		}
	}
	if _, err := c.run("", "tenant", "create", "zero", "--retention-days", "0"); err == nil || err.Error() != `--retention-days "0": must be a whole number from 1 to 3650` {
		t.Errorf("--retention-days 0: %v", err)
	}
	if out := c.mustRun("tenant", "create", "thirty"); !strings.Contains(out, "keeps 30 days") {
		t.Errorf("default retention: %s", out)
	}
	for _, group := range []string{"token", "node", "tenant", "key", "apikey", "admin", "retention"} {
		if out, err := c.run("", group, "--help"); err != nil || !strings.Contains(out, "Subcommands:") {
			t.Errorf("%s --help: %v\n%s", group, err, out)
		}
	}
}
