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
// It speaks HTTP/1.1 itself (a request line, Host, then the status line,
// headers and a Content-Length or chunked body read to the end) rather than
// through net/http's client: on a small benchmark machine the load tool
// shares the CPU with the viewer, and the less it spends per request the
// more of the machine measures the viewer.
//
//	viewload -base http://127.0.0.1:8080 -tokens tokens.txt -c 64 -d 40s
//
// Any status but 200 is counted and reported, never hidden in the rate.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
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
	u, err := url.Parse(*base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fmt.Fprintln(os.Stderr, "viewload: -base must be an http:// URL:", *base)
		os.Exit(2)
	}
	prefix := strings.TrimRight(u.Path, "/")
	clients := make([]*client, *nIPs)
	for i := range clients {
		local := &net.TCPAddr{IP: net.IPv4(127, 1, byte((i+1)>>8), byte((i+1)&0xff))}
		clients[i] = &client{host: u.Host, dialer: &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}, idle: make(chan *conn, 2)}
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
				path := prefix + "/v/" + tokens[n%uint64(len(tokens))] + *suffix
				if *miss {
					path += fmt.Sprintf("?page=%d", 1000+n)
				}
				start := time.Now()
				code, err := clients[n%uint64(len(clients))].get(path)
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

// client is one loopback source address and its keep-alive connections.
type client struct {
	host   string
	dialer *net.Dialer
	idle   chan *conn
}

type conn struct {
	c net.Conn
	r *bufio.Reader
}

// get sends GET path and reads the whole response; it returns the status.
// A connection that fails or that the server closes is not reused.
func (cl *client) get(path string) (int, error) {
	var cn *conn
	select {
	case cn = <-cl.idle:
	default:
		c, err := cl.dialer.Dial("tcp", cl.host)
		if err != nil {
			return 0, err
		}
		cn = &conn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
	}
	_ = cn.c.SetDeadline(time.Now().Add(10 * time.Second))
	code, keep, err := cn.roundTrip(cl.host, path)
	if err != nil || !keep {
		cn.c.Close()
		return code, err
	}
	select {
	case cl.idle <- cn:
	default:
		cn.c.Close()
	}
	return code, nil
}

func (cn *conn) roundTrip(host, path string) (code int, keep bool, err error) {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: viewload\r\n\r\n"
	if _, err := io.WriteString(cn.c, req); err != nil {
		return 0, false, err
	}
	line, err := cn.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || string(line[:5]) != "HTTP/" {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	if code, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		h, err := cn.r.ReadSlice('\n')
		if err != nil {
			return code, false, err
		}
		hs := strings.TrimRight(string(h), "\r\n")
		if hs == "" {
			break
		}
		name, value, _ := strings.Cut(hs, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			if length, err = strconv.Atoi(value); err != nil || length < 0 {
				return code, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
		case "connection":
			keep = !strings.EqualFold(value, "close")
		}
	}
	switch {
	case chunked:
		err = cn.discardChunks()
	case length >= 0:
		_, err = cn.r.Discard(length)
	default:
		_, err = io.Copy(io.Discard, cn.r) // the body runs to the close
		keep = false
	}
	return code, keep, err
}

func (cn *conn) discardChunks() error {
	for {
		line, err := cn.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		hex, _, _ := strings.Cut(strings.TrimSpace(string(line)), ";") // no chunk extensions
		size, err := strconv.ParseInt(hex, 16, 32)
		if err != nil || size < 0 {
			return errors.New("bad chunk size")
		}
		if size == 0 {
			// Trailers, then the blank line.
			for {
				t, err := cn.r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if strings.TrimSpace(string(t)) == "" {
					return nil
				}
			}
		}
		if _, err := cn.r.Discard(int(size) + 2); err != nil { // the chunk and its CRLF
			return err
		}
	}
}
