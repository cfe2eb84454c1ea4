// Command viewload drives a running viewer with GET /v/{token} for a fixed
// time and prints throughput and latency percentiles. It is the load tool
// of BENCHMARKS.md ("Viewer and search").
//
// The viewer's public rate limits are part of what is measured, so the
// load looks like many people opening many links rather than one client
// hammering one link (which the per-token and per-IP budgets would turn
// into 429s after a second): each request uses the next of -tokens links
// (one per line, as `callscope token mint` prints them, or bare tokens) and
// comes from the next of -ips loopback source addresses (127.1.0.1 on), one
// keep-alive connection per address.
//
//	viewload -base http://127.0.0.1:8080 -tokens tokens.txt -c 64 -d 40s
//
// Any status but 200 is counted and reported, never hidden in the rate.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:8080", "viewer base URL")
	tokensFile := flag.String("tokens", "tokens.txt", "file of view links or tokens, one per line")
	conc := flag.Int("c", 64, "concurrent requests")
	dur := flag.Duration("d", 40*time.Second, "how long to run")
	warm := flag.Duration("warmup", 3*time.Second, "run this long before measuring")
	nIPs := flag.Int("ips", 1000, "loopback source addresses to spread requests over")
	suffix := flag.String("suffix", "", "appended to /v/{token}, e.g. ?theme=dark")
	miss := flag.Bool("miss", false, "defeat the viewer's render cache: ask for ?page=N, N new each time (past the last page the ladder shows the last page, so the work is a full render)")
	flag.Parse()

	tokens, err := readTokens(*tokensFile)
	if err != nil || len(tokens) == 0 {
		fmt.Fprintln(os.Stderr, "viewload: no tokens:", err)
		os.Exit(2)
	}
	clients := make([]*http.Client, *nIPs)
	for i := range clients {
		local := &net.TCPAddr{IP: net.IPv4(127, 1, byte((i+1)>>8), byte((i+1)&0xff))}
		d := &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
		clients[i] = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: d.DialContext, MaxIdleConnsPerHost: 2, DisableCompression: true}}
	}

	var (
		next    atomic.Uint64
		measure atomic.Bool
		mu      sync.Mutex
		lat     []time.Duration
		status  = map[int]int{}
		errs    int
	)
	ctx, cancel := context.WithTimeout(context.Background(), *warm+*dur)
	defer cancel()
	time.AfterFunc(*warm, func() { measure.Store(true) })
	var measuredFrom time.Time
	var once sync.Once
	var wg sync.WaitGroup
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var my []time.Duration
			myStatus := map[int]int{}
			myErrs := 0
			for ctx.Err() == nil {
				n := next.Add(1)
				url := *base + "/v/" + tokens[n%uint64(len(tokens))] + *suffix
				if *miss {
					url += fmt.Sprintf("?page=%d", 1000+n)
				}
				start := time.Now()
				resp, err := clients[n%uint64(len(clients))].Get(url)
				code := 0
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				took := time.Since(start)
				if !measure.Load() {
					continue
				}
				once.Do(func() { mu.Lock(); measuredFrom = start; mu.Unlock() })
				if err != nil {
					if ctx.Err() == nil {
						myErrs++
					}
					continue
				}
				myStatus[code]++
				if code == http.StatusOK {
					my = append(my, took)
				}
			}
			mu.Lock()
			lat = append(lat, my...)
			for k, v := range myStatus {
				status[k] += v
			}
			errs += myErrs
			mu.Unlock()
		}()
	}
	wg.Wait()
	mu.Lock()
	elapsed := time.Since(measuredFrom)
	mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("duration %.1fs  concurrency %d  tokens %d  source IPs %d\n", elapsed.Seconds(), *conc, len(tokens), len(clients))
	fmt.Printf("200 OK: %d  (%.0f/s)\n", len(lat), float64(len(lat))/elapsed.Seconds())
	for k, v := range status {
		if k != http.StatusOK {
			fmt.Printf("status %d: %d\n", k, v)
		}
	}
	if errs > 0 {
		fmt.Printf("transport errors: %d\n", errs)
	}
	fmt.Printf("latency of 200s: p50 %v  p90 %v  p99 %v  max %v\n",
		pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond),
		pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond))
}

// readTokens takes the token out of each line: a whole link
// (.../v/<token>) or the bare token.
func readTokens(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.LastIndex(line, "/v/"); i >= 0 {
			line = line[i+3:]
		}
		if strings.Count(line, ".") == 2 && !strings.ContainsAny(line, " \t") {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}
