package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/callscope/callscope"
)

// freeText are the positional arguments whose values users paste from
// other systems (a tenant-signed token's jti, a Call-ID, a kid, an API key
// prefix). They may start with a dash: there, an argument that names no
// flag of the command is the value and not a mistyped flag.
var freeText = map[string]bool{"JTI": true, "CALL_ID": true, "KID": true, "PREFIX": true}

// usageError is a mistake in how a command was called: exit status 2, and
// a message that names the argument or flag as typed and says what is
// accepted. Usage is printed only when asked for (--help).
type usageError struct{ msg string }

func (u *usageError) Error() string        { return u.msg }
func (u *usageError) Is(target error) bool { return target == errUsage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errUsage marks an error caused by how the command was called.
var errUsage = errors.New("usage")

// cmdline is one leaf's invocation: its flags, its arguments, and how the
// user spelled each flag, so that errors can quote it.
type cmdline struct {
	env
	path  string // "token mint"
	cmd   command
	args  []string
	fs    *flag.FlagSet
	typed map[string]string // flag name → as typed ("--ttl", "-ttl")
}

func newCmdline(e env, path string, cmd command, args []string) *cmdline {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports every error itself
	return &cmdline{env: e, path: path, cmd: cmd, args: args, fs: fs, typed: map[string]string{}}
}

// slots returns the positional argument names and how many are required.
func (c *cmdline) slots() (names []string, required int) {
	for _, a := range strings.Fields(c.cmd.args) {
		if strings.HasPrefix(a, "[") {
			names = append(names, strings.Trim(a, "[]"))
			continue
		}
		names = append(names, a)
		required = len(names)
	}
	return names, required
}

// parse reads flags and positional arguments in any order (`tenant create
// acme --name Acme` as well as `--name Acme acme`); everything after "--" is
// positional. A dash argument that names no flag is a positional argument
// when the next one expected is free text (a jti like "-x3f"), else an
// unknown flag. -h, -help and --help print the usage and return
// flag.ErrHelp. Flags not given take their CALLSCOPE_<FLAG> variable.
func (c *cmdline) parse() ([]string, error) {
	slots, required := c.slots()
	var pos []string
	args := c.args
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		spelled, value, hasValue := strings.Cut(a, "=")
		name := strings.TrimPrefix(strings.TrimPrefix(spelled, "-"), "-")
		if name == "h" || name == "help" {
			c.usage(c.stdout)
			return nil, flag.ErrHelp
		}
		f := c.fs.Lookup(name)
		if f == nil || strings.HasPrefix(name, "-") {
			if len(pos) < len(slots) && freeText[slots[len(pos)]] {
				pos = append(pos, a)
				continue
			}
			return nil, usagef("unknown flag %s for %s (callscope %s --help lists its flags; put -- before an argument that starts with a dash)", spelled, c.path, c.path)
		}
		if !hasValue {
			if isBool(f) {
				value = "true"
			} else if i+1 < len(args) {
				i++
				value = args[i]
			} else {
				return nil, usagef("%s needs a value: %s", spelled, flagHelp(f))
			}
		}
		if err := c.fs.Set(name, value); err != nil {
			return nil, usagef("%s %q: %v", spelled, value, err)
		}
		c.typed[name] = spelled
	}
	switch {
	case len(pos) < required:
		return nil, usagef("%s needs %s (callscope %s --help)", c.path, strings.Join(slots[len(pos):required], " "), c.path)
	case len(pos) > len(slots):
		extra := pos[len(slots)]
		hint := ""
		for i, p := range pos[:len(slots)] {
			if strings.HasPrefix(p, "-") {
				hint = fmt.Sprintf(" (%q names no flag of %s, so it was read as %s)", p, c.path, slots[i])
			}
		}
		return nil, usagef("%s takes %s, and %q is one argument too many%s", c.path, orNothing(c.cmd.args), extra, hint)
	}
	var errs []error
	c.fs.VisitAll(func(f *flag.Flag) {
		if _, typed := c.typed[f.Name]; typed {
			return
		}
		if _, isSetting := settings[f.Name]; isSetting {
			return // its default is already its variable
		}
		if v := c.getenv(flagEnv(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, usagef("%s %q: %v", flagEnv(f.Name), v, err))
			}
		}
	})
	return pos, errors.Join(errs...)
}

func orNothing(args string) string {
	if args == "" {
		return "no arguments"
	}
	return args
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// source names where a flag's value came from, as the user wrote it: the
// flag as typed, else its variable when that is set, else --name.
func (c *cmdline) source(name string) string {
	if s, ok := c.typed[name]; ok {
		return s
	}
	env := flagEnv(name)
	if s, ok := settings[name]; ok {
		env = s.env
	}
	if c.getenv(env) != "" {
		return env
	}
	return "--" + name
}

// explain rewrites a command's error in the terms the user typed: a field
// error whose field is a flag of the command names that flag (embed_origin
// → --embed-origin), and a setting's variable named in a message becomes
// the flag when the setting was given as one.
func (c *cmdline) explain(err error) error {
	if err == nil {
		return nil
	}
	var ce *callscope.Error
	if errors.As(err, &ce) && ce.Field != "" {
		if name := strings.ReplaceAll(ce.Field, "_", "-"); c.fs.Lookup(name) != nil {
			return &callscope.Error{Kind: ce.Kind, Field: c.source(name), Message: ce.Message, Err: ce.Err}
		}
	}
	msg := err.Error()
	// Longest first, so that no variable is replaced inside a longer one.
	names := sortedKeys(c.typed)
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	for _, name := range names {
		if s, ok := settings[name]; ok {
			msg = strings.ReplaceAll(msg, s.env, c.typed[name])
		}
	}
	if msg == err.Error() {
		return err
	}
	return &renamed{msg: msg, err: err}
}

// renamed is an error whose message names flags instead of variables; it
// keeps the original for errors.Is and errors.As.
type renamed struct {
	msg string
	err error
}

func (r *renamed) Error() string { return r.msg }
func (r *renamed) Unwrap() error { return r.err }

// usage prints a leaf's help: its line, what it does, its flags with their
// current values (a secret only as "set, not shown") and variables.
func (c *cmdline) usage(w io.Writer) {
	line := "callscope " + c.path
	if c.cmd.args != "" {
		line += " " + c.cmd.args
	}
	hasFlags := false
	c.fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		line += " [flags]"
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n", line, sentenceCase(c.cmd.summary))
	slots, _ := c.slots()
	for _, s := range slots {
		if freeText[s] {
			fmt.Fprintf(w, "\n%s may start with a dash; if it is also a flag name, put -- before it.\n", s)
			break
		}
	}
	if !hasFlags {
		return
	}
	fmt.Fprintln(w, "\nFlags (each also read from its variable):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	c.fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(tw, "  %s\t%s\n", flagSyntax(f), flagHelp(f))
	})
	tw.Flush()
}

// flagSyntax is "--ttl DURATION": the placeholder is the `back-quoted` word
// of the flag's usage, as in package flag.
func flagSyntax(f *flag.Flag) string {
	if isBool(f) {
		return "--" + f.Name
	}
	placeholder, _ := flag.UnquoteUsage(f)
	if placeholder == "" || placeholder == "string" || placeholder == "value" {
		placeholder = "VALUE"
	}
	return "--" + f.Name + " " + placeholder
}

// flagHelp is the flag's usage with its default and variable.
func flagHelp(f *flag.Flag) string {
	_, help := flag.UnquoteUsage(f)
	env := flagEnv(f.Name)
	if s, ok := settings[f.Name]; ok {
		env = s.env
	}
	help = strings.TrimSpace(strings.TrimSuffix(help, "($"+env+")"))
	if def := shownDefault(f); def != "" {
		help += " (default " + def + ")"
	}
	return help + " ($" + env + ")"
}

// secretFlags never show their value: --help output lands in terminals,
// tickets and CI logs.
var secretFlags = map[string]bool{"secret-key": true, "query-token": true, "viewer-query-token": true, "auth-key": true}

func shownDefault(f *flag.Flag) string {
	def := f.DefValue
	switch {
	case def == "" || isBool(f) && def == "false":
		return ""
	case secretFlags[f.Name]:
		return "set, not shown"
	}
	if u, err := url.Parse(def); err == nil && u.User != nil {
		return u.Redacted() // a database URL may hold a password
	}
	return def
}

func sentenceCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// required is the error of a flag the command cannot do without.
func (c *cmdline) required(name, what string) error {
	return usagef("--%s is required: %s", name, what)
}
