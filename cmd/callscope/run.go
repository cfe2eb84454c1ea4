package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
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

// command is one node of the command tree: a group (tenant, token, ...)
// whose subcommands are subs, or a leaf that runs.
type command struct {
	name    string
	args    string // a leaf's positional arguments: "SLUG JTI"; "[SLUG]" is optional
	summary string
	run     func(ctx context.Context, c *cmdline) error
	subs    []command
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
		{name: "calls", summary: "call records: rebuild them from stored messages (after an upgrade, or an ingest error)", subs: []command{
			{name: "rebuild", summary: "recompute the call records of the calls with a message in [--from, --to)", run: cmdCallsRebuild},
			{name: "refresh", summary: "write every record's list and statistics columns again from its state (once, after upgrading past migration 0011)", run: cmdCallsRefresh},
		}},
		{name: "scenario", args: "SLUG CALL_ID", summary: "write a stored call as a SIPp scenario, the caller's (uac) or the callee's (uas)", run: cmdScenario},
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

// dispatch walks the command tree down args and runs the leaf it names.
// path is the words so far ("token"); a group answers --help with its
// subcommands.
func dispatch(ctx context.Context, e env, cmd command, path string, args []string) error {
	if cmd.run != nil {
		c := newCmdline(e, path, cmd, args)
		err := cmd.run(ctx, c)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return c.explain(err)
	}
	if len(args) > 0 && args[0] == "help" && len(args) > 1 {
		return dispatch(ctx, e, cmd, path, append(slices.Clone(args[1:]), "--help"))
	}
	if len(args) == 0 {
		if path == "" {
			groupUsage(e.stderr, cmd, path)
			return usagef("no command given")
		}
		return usagef("%s needs a subcommand: %s (callscope %s --help)", path, subNames(cmd), path)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		groupUsage(e.stdout, cmd, path)
		return nil
	}
	for _, s := range cmd.subs {
		if s.name == args[0] {
			return dispatch(ctx, e, s, strings.TrimSpace(path+" "+s.name), args[1:])
		}
	}
	if path == "" {
		return usagef("unknown command %q: callscope --help lists the commands", args[0])
	}
	return usagef("unknown subcommand %q of %s: want %s (callscope %s --help)", args[0], path, subNames(cmd), path)
}

func subNames(cmd command) string {
	names := make([]string, len(cmd.subs))
	for i, s := range cmd.subs {
		names[i] = s.name
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// groupUsage prints a group's subcommands (or, at the top, the commands).
func groupUsage(w io.Writer, cmd command, path string) {
	if path == "" {
		fmt.Fprintln(w, "callscope — multi-tenant passive SIP monitoring (HEP ingest, query, viewer, console)")
		fmt.Fprintln(w, "\nUsage: callscope COMMAND [ARGS] [FLAGS]\n\nCommands:")
	} else {
		fmt.Fprintf(w, "Usage: callscope %s SUBCOMMAND [ARGS] [FLAGS]\n\n%s.\n\nSubcommands:\n", path, sentenceCase(cmd.summary))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range cmd.subs {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(s.name+" "+s.args), s.summary)
	}
	tw.Flush()
	if path == "" {
		fmt.Fprintln(w, "\n`callscope COMMAND --help` describes a command and its flags; every flag also reads")
		fmt.Fprintln(w, "a variable (--hep-addr is CALLSCOPE_HEP_ADDR). -- ends the flags.")
		return
	}
	fmt.Fprintf(w, "\n`callscope %s SUBCOMMAND --help` describes one.\n", path)
}
