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

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run roles: ingest, query, viewer, console (all by default)", cmdServe},
		{"migrate", "apply pending database migrations", cmdMigrate},
		{"tenant", "create, list, suspend or resume tenants", cmdTenant},
		{"node", "register, list and remove capture nodes; list unclaimed capture IDs", cmdNode},
		{"admin", "create console administrators", cmdAdmin},
		{"key", "tenant public keys for client-signed tokens; rotate or retire the server's signing key", cmdKey},
		{"apikey", "create, list and revoke orchestrators' API keys", cmdAPIKey},
		{"token", "mint a viewer link, list live links, revoke one or all of a tenant's", cmdToken},
		{"retention", "run retention once: partitions ahead, drop past the maximum, tenants' deletes, storage", cmdRetention},
		{"scenario", "write a stored call as a SIPp scenario, the caller's (uac) or the callee's (uas)", cmdScenario},
		{"demo", "provision a demo tenant, node and admin and send demo calls to the local ingest", cmdDemo},
		{"version", "print the version and commit", cmdVersion},
	}
}

// errUsage marks an error caused by how the command was called.
var errUsage = errors.New("usage")

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
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return fmt.Errorf("%w: no command given", errUsage)
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	usage(stderr)
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "callscope — multi-tenant passive SIP monitoring (HEP ingest, query, viewer, console)")
	fmt.Fprintln(w, "\nUsage: callscope COMMAND [ARGS] [FLAGS]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nEvery flag also reads an environment variable; `callscope COMMAND --help` lists them.")
}

// newFlagSet returns a flag set that writes its help to e.stdout.
func newFlagSet(e env, name, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fs.SetOutput(e.stdout)
		fmt.Fprintf(e.stdout, "Usage: callscope %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and positional arguments in any order
// (`tenant create acme --name Acme` as well as `--name Acme acme`).
// Flags that were not given take their CALLSCOPE_<FLAG> variable.
func parse(fs *flag.FlagSet, e env, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v (put -- before arguments that start with a dash)", errUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...) // everything after -- is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if _, isSetting := settings[f.Name]; isSetting {
			return // already defaulted from its variable
		}
		if v := e.getenv(flagEnv(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", flagEnv(f.Name), err))
			}
		}
	})
	return pos, errors.Join(errs...)
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

func cmdVersion(_ context.Context, e env, args []string) error {
	fs := newFlagSet(e, "version", "version")
	if _, err := parse(fs, e, args); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "callscope %s (commit %s)\n", Version, Commit)
	return nil
}

// wantArgs checks the number of positional arguments.
func wantArgs(pos []string, n int, usageLine string) error {
	if len(pos) != n {
		return fmt.Errorf("%w: callscope %s", errUsage, usageLine)
	}
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
