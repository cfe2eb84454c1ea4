package query

import (
	"context"

	"github.com/callscope/callscope/web"
)

// requestIDFrom forwards the caller's request id so query's logs line up
// with the viewer's and the console's.
func requestIDFrom(ctx context.Context) string { return web.RequestIDFrom(ctx) }
