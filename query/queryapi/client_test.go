package queryapi

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientKeepsConnections: many views at once reuse the client's
// connections to query instead of opening one per request, whether the
// caller gave no http.Client or one without a Transport (as serve does,
// to set a timeout).
func TestClientKeepsConnections(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond) // so that requests overlap
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	const concurrent, rounds = 16, 20
	for _, tc := range []struct {
		name string
		hc   *http.Client
	}{{"NoClient", nil}, {"ClientWithoutTransport", &http.Client{Timeout: 5 * time.Second}}} {
		t.Run(tc.name, func(t *testing.T) {
			opened.Store(0)
			c := NewClient(srv.URL, "token", tc.hc)
			for range rounds {
				var wg sync.WaitGroup
				for range concurrent {
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/internal/v1/health", nil)
						resp, err := c.hc.Do(req)
						if err != nil {
							t.Error(err)
							return
						}
						resp.Body.Close()
					}()
				}
				wg.Wait()
			}
			// A connection goes back to the pool just after its body is
			// closed, so a request of the next round may dial once more
			// than strictly needed; net/http's default of 2 idle
			// connections would open hundreds here.
			if n := opened.Load(); n > 2*concurrent {
				t.Errorf("%d requests, %d at a time, opened %d connections: want at most %d", concurrent*rounds, concurrent, n, 2*concurrent)
			}
			c.hc.CloseIdleConnections()
		})
	}
}
