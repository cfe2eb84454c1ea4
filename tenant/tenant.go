// Package tenant holds callscope's customers, the capture nodes that tag
// their traffic, and the rules that keep a tenant's settings valid: types
// and validation only. It opens no database, so the public edge can use
// it; the PostgreSQL store of tenants and nodes is package tenantdb.
package tenant

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/callscope/callscope"
)

// Status values of a tenant. A suspended tenant's capture nodes are refused
// by ingest and its view tokens by the viewer.
const (
	Active    = "active"
	Suspended = "suspended"
)

// DefaultRetentionDays is how long a new tenant's messages are kept, and
// MaxRetentionDays the longest a tenant may ask for.
const (
	DefaultRetentionDays = 30
	MaxRetentionDays     = 3650
)

// Tenant is one customer of the operator.
type Tenant struct {
	ID               int64             `db:"id"`
	Slug             string            `db:"slug"`
	Name             string            `db:"name"`
	Status           string            `db:"status"`
	RetentionDays    int               `db:"retention_days"`
	EmbedOrigins     []string          `db:"embed_origins"`
	Aliases          map[string]string `db:"aliases"`
	TokensValidAfter *time.Time        `db:"tokens_valid_after"`
	CreatedAt        time.Time         `db:"created_at"`
	// FollowHeaderCorrelation lets the tenant's view tokens follow the
	// correlation headers (X-CID, P-Charging-Vector...) a call carries to
	// other calls; off, a token reaches only legs that point at its call or
	// that a capture node joined to it. For tenants whose own B2BUA writes
	// those headers.
	FollowHeaderCorrelation bool `db:"follow_header_correlation"`
	// ShowInternalEvents lets the tenant's view links show the internal
	// events of a call: the proxy's LOG lines and any HEP payload that is
	// neither SIP nor a media report. Off, a customer sees SIP and media
	// quality only. The console always shows everything.
	ShowInternalEvents bool `db:"show_internal_events"`
}

// Active reports whether the tenant may ingest and be viewed.
func (t Tenant) Active() bool { return t.Status == Active }

// Node is a capture agent (Kamailio, heplify, ...) identified by the HEP
// capture agent ID it sends in chunk 0x000c.
type Node struct {
	TenantID     int64
	TenantSlug   string
	TenantStatus string
	CaptureID    uint32
	Name         string
	AuthKeyHash  []byte // nil when the node needs no auth key
	AllowedCIDRs []netip.Prefix
	CertSHA256   []byte // nil when the node is not bound to a TLS client certificate
	CreatedAt    time.Time
}

// CheckAuthKey reports whether key matches the node's auth key, in
// constant time. A node without an auth key accepts any packet.
func (n Node) CheckAuthKey(key []byte) bool {
	if n.AuthKeyHash == nil {
		return true
	}
	sum := sha256.Sum256(key)
	return subtle.ConstantTimeCompare(sum[:], n.AuthKeyHash) == 1
}

// AllowsSource reports whether addr, the HEP packet's sender, may speak for
// this node. A node without CIDRs accepts any sender.
func (n Node) AllowsSource(addr netip.Addr) bool {
	if len(n.AllowedCIDRs) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range n.AllowedCIDRs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// HashAuthKey returns the stored form of a HEP auth key. Capture agents send
// the key in clear text in every packet, so the check must be cheap; a
// SHA-256 keeps the database from holding it in clear text.
func HashAuthKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

var slugRE = regexp.MustCompile(`^[a-z0-9-]{2,40}$`)

// ValidateSlug returns an Invalid error unless slug is 2 to 40 characters of
// lower-case letters, digits and dashes.
func ValidateSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return callscope.FieldError("slug", "%q must be 2 to 40 characters of a-z, 0-9 and '-' (no spaces or capitals)", slug)
	}
	return nil
}

// NormalizeOrigin checks that origin is scheme://host[:port] with an http or
// https scheme and nothing after it, and returns it in canonical form
// (lower-case scheme and host, no trailing slash), as browsers compare it in
// frame-ancestors.
func NormalizeOrigin(origin string) (string, error) {
	bad := func(why string) error {
		return callscope.FieldError("embed_origin", "%q is not an origin (scheme://host[:port]): %s", origin, why)
	}
	u, err := url.Parse(origin)
	if err != nil {
		return "", bad("does not parse")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return "", bad("no host")
	case u.User != nil:
		return "", bad("no user info allowed")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.Opaque != "":
		return "", bad("no path, query or fragment allowed")
	case strings.ContainsAny(u.Host, " *;'\""):
		return "", bad("invalid host")
	}
	if p := u.Port(); p != "" {
		if n, err := netip.ParseAddrPort("0.0.0.0:" + p); err != nil || n.Port() == 0 {
			return "", bad("invalid port")
		}
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// ParseCIDRs parses allowed source networks, e.g. "127.0.0.0/8" or a bare
// address (a /32 or /128).
func ParseCIDRs(in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, callscope.FieldError("cidr", "%q is not a CIDR such as 127.0.0.0/8", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ValidateCaptureID checks that id fits HEP's 32-bit capture agent ID.
func ValidateCaptureID(id int64) error {
	if id < 0 || id > 0xFFFFFFFF {
		return callscope.FieldError("capture_id", "%d is outside 0..4294967295 (HEP capture IDs are 32-bit)", id)
	}
	return nil
}
