package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
)

func cmdAdmin(ctx context.Context, e env, args []string) error {
	const usageLine = "admin create EMAIL   (the password is read from the first line of standard input)"
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("%w: callscope %s", errUsage, usageLine)
	}
	fs := newFlagSet(e, "admin create", usageLine)
	open := dbFlag(fs, e)
	pos, err := parse(fs, e, args[1:])
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, usageLine); err != nil {
		return err
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return fmt.Errorf("%w: no password on standard input: echo 'a long passphrase' | callscope admin create %s", errUsage, pos[0])
	}
	_ = err // io.EOF after a last line without newline is fine
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	a, err := authdb.NewAdminStore(d, auth.DefaultParams()).Create(ctx, pos[0], password)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created admin %s (id %d)\n", a.Email, a.ID)
	return nil
}
