package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
)

func adminCommands() []command {
	return []command{
		{name: "create", args: "EMAIL", summary: "create a console administrator; the password is the first line of standard input", run: adminCreate},
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

func adminCreate(ctx context.Context, c *cmdline) error {
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
		a, err := auth.NewAdminStore(d, auth.DefaultParams()).Create(ctx, pos[0], password)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "created admin %s (id %d)\n", a.Email, a.ID)
		return nil
	})
}
