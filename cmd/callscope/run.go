package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
)

// Version and Commit are set at build time with -ldflags "-X main.Version=...".
var (
	Version = "dev"
	Commit  = "unknown"
)

// env is what a command sees of the outside world; tests pass their own.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// commands is the command tree; `callscope --help` prints its first level
// and `callscope GROUP --help` each group.
func commands() command {
	return command{subs: []command{
		{name: "serve", summary: "run roles: ingest, query, viewer, console (all by default)", run: cmdServe},
		{name: "migrate", summary: "apply pending database migrations", run: cmdMigrate},
		{name: "tenant", summary: "create, list, suspend or resume tenants; name endpoints in their ladders", subs: tenantCommands()},
		{name: "node", summary: "register, list and remove capture nodes; list unclaimed capture IDs", subs: nodeCommands()},
		{name: "admin", summary: "console administrators: create, list, disable, enable, reset a password", subs: adminCommands()},
		{name: "key", summary: "tenant public keys for client-signed tokens; rotate or retire the server's signing key", subs: keyCommands()},
		{name: "apikey", summary: "create, list and revoke orchestrators' API keys", subs: apiKeyCommands()},
		{name: "token", summary: "mint a viewer link, list live links, revoke one or all of a tenant's", subs: tokenCommands()},
		{name: "retention", summary: "retention by hand (serve runs it hourly)", subs: []command{
			{name: "run", summary: "run retention once: partitions ahead, drop past the maximum, tenants' deletes, storage", run: cmdRetentionRun},
		}},
		{name: "demo", summary: "provision a demo tenant, node and admin and send demo calls to the local ingest", run: cmdDemo},
		{name: "version", summary: "print the version and commit", run: cmdVersion},
	}}
}

func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// run is the whole program: main only adds signals and os.Exit. Tests call
// it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	return dispatch(ctx, e, commands(), "", args)
}

// flagEnv names the variable of a command flag: --auth-key → CALLSCOPE_AUTH_KEY.
func flagEnv(name string) string {
	return "CALLSCOPE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// listFlag is a repeatable flag (--cidr A --cidr B); its variable holds a
// comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmdVersion(_ context.Context, c *cmdline) error {
	if _, err := c.parse(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "callscope %s (commit %s)\n", Version, Commit)
	return nil
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
