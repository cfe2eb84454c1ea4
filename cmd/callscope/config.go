package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callscope/callscope/tenant"
)

// Config is every setting of callscope, parsed once from flags and
// environment variables and validated once. Each flag's default is its
// CALLSCOPE_* variable when set; the README's settings table is the same list.
type Config struct {
	DatabaseURL string
	RedisURL    string
	RedisPrefix string
	PublicURL   string
	SecretKey   string

	HEPAddr         string
	HEPTLSAddr      string
	HEPTLSCert      string
	HEPTLSKey       string
	HEPTLSClientCA  string
	HEPConnsPerSrc  int
	ViewerAddr      string
	QueryAddr       string
	QueryURL        string
	queryURLDerived bool // QueryURL came from QueryAddr, not from the user
	QueryToken      string
	ViewerToken     string
	ConsoleAddr     string
	ConsoleSecure   bool
	MetricsAddr     string
	LogFormat       string
	LogLevel        string
	Roles           []string
	SpoolDir        string
	SpoolMaxBytes   int64
	BatchSize       int
	FlushInterval   time.Duration
	QueueSize       int
	QueueBytes      int64
	Writers         int
	UDPReadBuffer   int
	CorrelationHdrs []string
	DedupWindow     time.Duration
	TokenMaxTTL     time.Duration
	TokenMaxWindow  time.Duration
	RetentionMax    int
	TrustedProxies  []netip.Prefix
}

// AllRoles are the roles `serve` can run, in start order.
var AllRoles = []string{"ingest", "query", "viewer", "console"}

// setting describes one flag and its environment variable.
type setting struct {
	flag, env, def, help string
}

// showAs says, for the settings that hold secrets, how their value may
// appear in --help and messages: never as it is.
var showAs = map[string]func(string) string{}

// shown records how s's value appears.
func shown(show func(string) string, s setting) setting { showAs[s.flag] = show; return s }

// hidden shows a secret as "(set)", never its value.
func hidden(v string) string {
	if v == "" {
		return ""
	}
	return "(set)"
}

// withoutPassword shows a database or Redis URL with the password inside it
// replaced by "(set)".
func withoutPassword(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return hidden(v) // unparsable: it may hold anything
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "(set)")
		// Keep "(set)" readable rather than percent-encoded.
		return strings.Replace(u.String(), "%28set%29", "(set)", 1)
	}
	return v
}

var settings = map[string]setting{}

func addSetting(s setting) setting { settings[s.flag] = s; return s }

var (
	sDatabaseURL   = addSetting(shown(withoutPassword, setting{"database-url", "CALLSCOPE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/callscope?sslmode=disable", "PostgreSQL URL; the database is created and migrated when missing"}))
	sRedisURL      = addSetting(shown(withoutPassword, setting{"redis-url", "CALLSCOPE_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL"}))
	sRedisPrefix   = addSetting(setting{"redis-prefix", "CALLSCOPE_REDIS_PREFIX", "callscope:", "start of every Redis key; deployments (or test runs) sharing one Redis use different ones"})
	sPublicURL     = addSetting(setting{"public-url", "CALLSCOPE_PUBLIC_URL", "http://127.0.0.1:8080", "base URL of viewer links, as customers' browsers reach the viewer"})
	sSecretKey     = addSetting(shown(hidden, setting{"secret-key", "CALLSCOPE_SECRET_KEY", "", "at least 32 characters; encrypts signing keys at rest (required by the query and console roles, never by the viewer)"}))
	sHEPAddr       = addSetting(setting{"hep-addr", "CALLSCOPE_HEP_ADDR", ":9060", "HEP listener, UDP and TCP"})
	sHEPTLSAddr    = addSetting(setting{"hep-tls-addr", "CALLSCOPE_HEP_TLS_ADDR", "", "HEP over TLS listener; empty disables it"})
	sHEPTLSCert    = addSetting(setting{"hep-tls-cert", "CALLSCOPE_HEP_TLS_CERT", "", "PEM certificate for the HEP TLS listener"})
	sHEPTLSKey     = addSetting(setting{"hep-tls-key", "CALLSCOPE_HEP_TLS_KEY", "", "PEM private key for the HEP TLS listener"})
	sHEPTLSCA      = addSetting(setting{"hep-tls-client-ca", "CALLSCOPE_HEP_TLS_CLIENT_CA", "", "PEM CA bundle; when set, HEP TLS clients must present a certificate it signed (mutual TLS)"})
	sHEPPerSource  = addSetting(setting{"hep-max-conns-per-source", "CALLSCOPE_HEP_MAX_CONNS_PER_SOURCE", "64", "most HEP TCP/TLS connections from one source address (1,024 in all); beyond it new ones are closed at once"})
	sViewerAddr    = addSetting(setting{"viewer-addr", "CALLSCOPE_VIEWER_ADDR", ":8080", "public viewer listener"})
	sQueryAddr     = addSetting(setting{"query-addr", "CALLSCOPE_QUERY_ADDR", "127.0.0.1:8081", "internal query service listener"})
	sQueryURL      = addSetting(setting{"query-url", "CALLSCOPE_QUERY_URL", "", "where viewer and console reach query; default http://QUERY_ADDR"})
	sQueryToken    = addSetting(shown(hidden, setting{"query-token", "CALLSCOPE_QUERY_TOKEN", "", "the console's credential to query (admin routes); default derived from the secret key"}))
	sViewerToken   = addSetting(shown(hidden, setting{"viewer-query-token", "CALLSCOPE_VIEWER_QUERY_TOKEN", "", "the viewer's credential to query (the edge's routes only); default derived from the secret key"}))
	sProxies       = addSetting(setting{"trusted-proxies", "CALLSCOPE_TRUSTED_PROXIES", "", "CIDRs of the proxies in front of the viewer whose X-Forwarded-For is believed; empty: the socket peer is the client"})
	sConsoleAddr   = addSetting(setting{"console-addr", "CALLSCOPE_CONSOLE_ADDR", "127.0.0.1:8082", "internal admin console listener"})
	sConsoleSecure = addSetting(setting{"console-secure-cookies", "CALLSCOPE_CONSOLE_SECURE_COOKIES", "false", "mark console cookies Secure (set when the console is served over TLS)"})
	sMetricsAddr   = addSetting(setting{"metrics-addr", "CALLSCOPE_METRICS_ADDR", "127.0.0.1:9090", "Prometheus /metrics listener; empty disables it"})
	sLogFormat     = addSetting(setting{"log-format", "CALLSCOPE_LOG_FORMAT", "text", "text or json"})
	sLogLevel      = addSetting(setting{"log-level", "CALLSCOPE_LOG_LEVEL", "info", "debug, info, warn or error"})
	sRoles         = addSetting(setting{"roles", "CALLSCOPE_ROLES", strings.Join(AllRoles, ","), "roles this process runs: ingest, query, viewer, console"})
	sSpoolDir      = addSetting(setting{"spool-dir", "CALLSCOPE_SPOOL_DIR", "./callscope-spool", "where ingest keeps accepted batches while PostgreSQL is unavailable"})
	sSpoolMax      = addSetting(setting{"spool-max-bytes", "CALLSCOPE_SPOOL_MAX_BYTES", "4294967296", "spool size limit (about a minute of 60,000 messages/s); beyond it memory holds what the spool refuses, then UDP drops (counted) and TCP waits"})
	sBatchSize     = addSetting(setting{"batch-size", "CALLSCOPE_BATCH_SIZE", "5000", "rows per COPY batch"})
	sFlush         = addSetting(setting{"flush-interval", "CALLSCOPE_FLUSH_INTERVAL", "200ms", "longest a message waits before its batch is written"})
	sQueueSize     = addSetting(setting{"queue-size", "CALLSCOPE_QUEUE_SIZE", "200000", "most messages ingest holds in memory between readers and writers"})
	sQueueBytes    = addSetting(setting{"queue-bytes", "CALLSCOPE_QUEUE_BYTES", "67108864", "most bytes of messages ingest holds in memory; past it UDP drops (counted) and TCP waits"})
	sWriters       = addSetting(setting{"writers", "CALLSCOPE_WRITERS", "2", "COPY transactions ingest keeps in flight at once, one connection each"})
	sUDPBuf        = addSetting(setting{"udp-read-buffer", "CALLSCOPE_UDP_READ_BUFFER", "134217728", "UDP socket receive buffer in bytes"})
	sCorrelation   = addSetting(setting{"correlation-headers", "CALLSCOPE_CORRELATION_HEADERS", "X-CID,X-Call-ID,P-Charging-Vector", "SIP headers whose value correlates call legs, first found wins"})
	sDedup         = addSetting(setting{"dedup-window", "CALLSCOPE_DEDUP_WINDOW", "0", "drop an identical packet from the same node within this window (0 keeps all; 1ms is typical)"})
	sTokenTTL      = addSetting(setting{"token-max-ttl", "CALLSCOPE_TOKEN_MAX_TTL", "1h", "longest lifetime (exp - iat) a view token may have"})
	sTokenWindow   = addSetting(setting{"token-max-window", "CALLSCOPE_TOKEN_MAX_WINDOW", "24h", "longest call window a view token may cover"})
	sRetentionMax  = addSetting(setting{"retention-max-days", "CALLSCOPE_RETENTION_MAX_DAYS", "90", "partitions older than this many days are dropped whatever tenants ask"})
)

// envDefault returns the variable's value when set, else the default.
func envDefault(getenv func(string) string, s setting) string {
	if v := getenv(s.env); v != "" {
		return v
	}
	return s.def
}

// stringFlag registers a string flag whose default comes from the environment.
func stringFlag(fs *flag.FlagSet, getenv func(string) string, p *string, s setting) {
	show, secret := showAs[s.flag]
	if !secret {
		fs.StringVar(p, s.flag, envDefault(getenv, s), s.help+" ($"+s.env+")")
		return
	}
	*p = envDefault(getenv, s)
	fs.Var(shownValue{p: p, show: show}, s.flag, s.help+" ($"+s.env+")")
}

// shownValue is a string flag whose value --help shows only as show says.
type shownValue struct {
	p    *string
	show func(string) string
}

func (v shownValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.show(*v.p)
}

func (v shownValue) Set(s string) error { *v.p = s; return nil }

// configFlags registers the settings named in names (all when empty) on fs
// and returns a function that completes and validates the Config after
// fs.Parse.
func configFlags(fs *flag.FlagSet, getenv func(string) string, c *Config, names ...string) func() error {
	raw := map[string]*string{}
	want := func(name string) bool { return len(names) == 0 || slices.Contains(names, name) }
	for name, s := range settings {
		if !want(name) {
			continue
		}
		v := new(string)
		raw[name] = v
		stringFlag(fs, getenv, v, s)
	}
	return func() error {
		get := func(s setting) string {
			if v, ok := raw[s.flag]; ok {
				return strings.TrimSpace(*v)
			}
			return envDefault(getenv, s)
		}
		var (
			errs []error
			err  error
		)
		dur := func(s setting) time.Duration {
			d, err := time.ParseDuration(get(s))
			if err != nil || d < 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 200ms or 1h", s.env, get(s)))
			}
			return d
		}
		num := func(s setting) int64 {
			n, err := strconv.ParseInt(get(s), 10, 64)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a non-negative integer", s.env, get(s)))
			}
			return n
		}
		c.DatabaseURL = get(sDatabaseURL)
		c.RedisURL = get(sRedisURL)
		c.RedisPrefix = get(sRedisPrefix)
		c.PublicURL = strings.TrimRight(get(sPublicURL), "/")
		c.SecretKey = get(sSecretKey)
		c.HEPAddr = get(sHEPAddr)
		c.HEPTLSAddr = get(sHEPTLSAddr)
		c.HEPTLSCert = get(sHEPTLSCert)
		c.HEPTLSKey = get(sHEPTLSKey)
		c.HEPTLSClientCA = get(sHEPTLSCA)
		c.HEPConnsPerSrc = int(num(sHEPPerSource))
		c.ViewerAddr = get(sViewerAddr)
		c.QueryAddr = get(sQueryAddr)
		c.QueryURL = strings.TrimRight(get(sQueryURL), "/")
		c.QueryToken = get(sQueryToken)
		c.ViewerToken = get(sViewerToken)
		c.ConsoleAddr = get(sConsoleAddr)
		secure, err := strconv.ParseBool(get(sConsoleSecure))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q must be true or false", sConsoleSecure.env, get(sConsoleSecure)))
		}
		c.ConsoleSecure = secure
		c.MetricsAddr = get(sMetricsAddr)
		c.LogFormat = get(sLogFormat)
		c.LogLevel = get(sLogLevel)
		c.Roles = splitList(get(sRoles))
		c.SpoolDir = get(sSpoolDir)
		c.SpoolMaxBytes = num(sSpoolMax)
		c.BatchSize = int(num(sBatchSize))
		c.FlushInterval = dur(sFlush)
		c.QueueSize = int(num(sQueueSize))
		c.QueueBytes = num(sQueueBytes)
		c.Writers = int(num(sWriters))
		c.UDPReadBuffer = int(num(sUDPBuf))
		c.CorrelationHdrs = splitList(get(sCorrelation))
		c.DedupWindow = dur(sDedup)
		c.TokenMaxTTL = dur(sTokenTTL)
		c.TokenMaxWindow = dur(sTokenWindow)
		c.RetentionMax = int(num(sRetentionMax))
		if c.TrustedProxies, err = tenant.ParseCIDRs(splitList(get(sProxies))); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sProxies.env, err))
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		return c.Validate()
	}
}

// Validate checks the rules that span fields.
func (c *Config) Validate() error {
	var errs []error
	for _, r := range c.Roles {
		if !slices.Contains(AllRoles, r) {
			errs = append(errs, fmt.Errorf("CALLSCOPE_ROLES: unknown role %q (want some of %s)", r, strings.Join(AllRoles, ",")))
		}
	}
	if c.QueryURL == "" && c.QueryAddr != "" {
		host, port, err := net.SplitHostPort(c.QueryAddr)
		if err == nil {
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			c.QueryURL = "http://" + net.JoinHostPort(host, port)
			c.queryURLDerived = true
		}
	}
	if c.PublicURL != "" {
		if err := checkPublicURL(c.PublicURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		errs = append(errs, errors.New("CALLSCOPE_SECRET_KEY: must be at least 32 characters (try: openssl rand -hex 32)"))
	}
	if (c.HEPTLSAddr != "") && (c.HEPTLSCert == "" || c.HEPTLSKey == "") {
		errs = append(errs, errors.New("CALLSCOPE_HEP_TLS_ADDR: needs CALLSCOPE_HEP_TLS_CERT and CALLSCOPE_HEP_TLS_KEY"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("CALLSCOPE_LOG_FORMAT: %q must be text or json", c.LogFormat))
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("CALLSCOPE_LOG_LEVEL: %q must be debug, info, warn or error", c.LogLevel))
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		errs = append(errs, fmt.Errorf("CALLSCOPE_LOG_LEVEL: %q must be debug, info, warn or error", c.LogLevel))
	}
	if c.BatchSize == 0 || c.QueueSize == 0 {
		errs = append(errs, errors.New("CALLSCOPE_BATCH_SIZE and CALLSCOPE_QUEUE_SIZE must be positive"))
	}
	if c.TokenMaxTTL == 0 || c.TokenMaxWindow == 0 {
		errs = append(errs, errors.New("CALLSCOPE_TOKEN_MAX_TTL and CALLSCOPE_TOKEN_MAX_WINDOW must be positive"))
	}
	return errors.Join(errs...)
}

// checkPublicURL refuses a base for viewer links that browsers could not open.
func checkPublicURL(s string) error {
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q must be an http(s) URL such as https://view.example.com", sPublicURL.env, s)
	}
	return nil
}

// HasRole reports whether the process runs role.
func (c *Config) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
