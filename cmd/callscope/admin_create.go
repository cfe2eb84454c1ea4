package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
)

func adminCommands() []command {
	return []command{
		{name: "create", args: "EMAIL", summary: "create a console administrator; the password is the first line of standard input", run: adminPassword},
		{name: "list", summary: "list console administrators", run: adminList},
		{name: "disable", args: "EMAIL", summary: "disable an administrator: their console sessions end and they cannot log in", run: adminSetDisabled},
		{name: "enable", args: "EMAIL", summary: "enable a disabled administrator again, with the password they had", run: adminSetDisabled},
		{name: "reset", args: "EMAIL", summary: "set an administrator's password from the first line of standard input and end their console sessions", run: adminPassword},
	}
}

// readPassword reads the password from the first line of standard input.
func readPassword(c *cmdline, email string) (string, error) {
	line, _ := bufio.NewReader(c.stdin).ReadString('\n') // io.EOF after a last line without newline is fine
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", usagef("no password on standard input: echo 'a long passphrase' | callscope %s %s", c.path, email)
	}
	return password, nil
}

// audited records an action taken with the CLI in the admin audit log,
// once it succeeded.
func audited(ctx context.Context, d *db.DB, a adminaudit.Action, tenantID int64, target, detail string) error {
	err := adminaudit.NewStore(d).Record(ctx, adminaudit.Record{Actor: adminaudit.CLI, Action: a, TenantID: tenantID, Target: target, Detail: detail})
	if err != nil {
		return fmt.Errorf("%s done, but the admin audit did not record it: %w", a, err)
	}
	return nil
}

// adminError words an error of the admin store in the CLI's terms: the
// EMAIL argument, the password on standard input.
func adminError(err error, email string) error {
	field, msg := callscope.Public(err)
	switch {
	case callscope.Is(err, callscope.NotFound):
		return callscope.Errorf(callscope.NotFound, "no admin %s (callscope admin list shows them)", email)
	case !callscope.Is(err, callscope.Invalid):
		return err
	case field == "email":
		return usagef("EMAIL: %s", msg)
	case field == "password":
		return usagef("the password on standard input %s", msg)
	}
	return err
}

// adminPassword is create and reset, which both read a password from
// standard input.
func adminPassword(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	password, err := readPassword(c, pos[0])
	if err != nil {
		return err
	}
	return withDB(ctx, open, func(d *db.DB) error {
		s := auth.NewAdminStore(d, auth.DefaultParams())
		op, action, said := s.Create, adminaudit.AdminCreate, "created admin %s\n"
		if c.cmd.name == "reset" {
			op, action, said = s.ResetPassword, adminaudit.AdminReset, "new password for admin %s: their console sessions end at their next request\n"
		}
		a, err := op(ctx, pos[0], password)
		if err != nil {
			return adminError(err, pos[0])
		}
		if err := audited(ctx, d, action, 0, a.Email, ""); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, said, a.Email)
		return nil
	})
}

func adminList(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	if _, err := c.parse(); err != nil {
		return err
	}
	return withDB(ctx, open, func(d *db.DB) error {
		admins, err := auth.NewAdminStore(d, auth.DefaultParams()).List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "EMAIL\tSTATUS\tCREATED")
		for _, a := range admins {
			fmt.Fprintf(w, "%s\t%s\t%s\n", a.Email, yesNo(a.Disabled, "disabled", "active"), a.CreatedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	})
}

// adminSetDisabled is disable and enable.
func adminSetDisabled(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	disable := c.cmd.name == "disable"
	return withDB(ctx, open, func(d *db.DB) error {
		a, err := auth.NewAdminStore(d, auth.DefaultParams()).SetDisabled(ctx, pos[0], disable)
		if err != nil {
			return adminError(err, pos[0])
		}
		action, said := adminaudit.AdminEnable, "enabled admin %s: they can log in with the password they had\n"
		if disable {
			action, said = adminaudit.AdminDisable, "disabled admin %s: their console sessions end at their next request and they cannot log in\n"
		}
		if err := audited(ctx, d, action, 0, a.Email, ""); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, said, a.Email)
		return nil
	})
}
