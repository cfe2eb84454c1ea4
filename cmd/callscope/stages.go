package main

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
)

// runStages runs every service of every stage until ctx ends or one
// fails, then stops them in stage order: stage i's context is cancelled
// only once every service of stage i-1 has returned. started is called
// once everything runs.
func runStages(ctx context.Context, stages [][]service, started func()) error {
	g, gctx := errgroup.WithContext(ctx)
	stop := gctx.Done()
	for _, services := range stages {
		sctx, cancel := context.WithCancel(context.WithoutCancel(gctx))
		go func(stop <-chan struct{}) { <-stop; cancel() }(stop)
		var wg sync.WaitGroup
		for _, s := range services {
			wg.Add(1)
			g.Go(func() error { defer wg.Done(); return s.Run(sctx) })
		}
		done := make(chan struct{})
		go func(stop <-chan struct{}) { <-stop; wg.Wait(); close(done) }(stop)
		stop = done
	}
	started()
	return g.Wait()
}
