// Command callscope is the multi-tenant SIP monitoring backend: HEP ingest,
// the internal query service, the public viewer and the admin console, in
// one binary that runs any set of them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "callscope:", err)
		os.Exit(exitCode(err))
	}
}
