package tenant

import (
	"net/netip"
	"strings"
	"time"

	"github.com/callscope/callscope"
)

// New describes a tenant to create.
type New struct {
	Slug          string
	Name          string
	EmbedOrigins  []string
	RetentionDays int // 0 means DefaultRetentionDays
}

// Update describes a change to a tenant; nil fields stay as they are.
type Update struct {
	Name          *string
	Status        *string
	RetentionDays *int
	EmbedOrigins  []string // replaced when non-nil
	Aliases       map[string]string
	// FollowHeaderCorrelation: see Tenant.
	FollowHeaderCorrelation *bool
	// ShowInternalEvents: see Tenant.
	ShowInternalEvents *bool
}

// NewNode describes a capture node to register.
type NewNode struct {
	CaptureID int64 // int64 so that out-of-range input gets a clear error
	Name      string
	AuthKey   string   // empty: no auth key required
	CIDRs     []string // empty: any sender
	// CertSHA256 binds the node to one TLS client certificate: the SHA-256
	// of its DER form, in hex (colons allowed). Empty: not bound.
	CertSHA256 string
}

// NodeUpdate describes a change to a capture node; nil fields stay as they
// are.
type NodeUpdate struct {
	Name *string
	// AuthKey replaces the auth key; "" removes the requirement.
	AuthKey *string
	// CIDRs replaces the allowed sources when non-nil; an empty non-nil
	// slice accepts any sender.
	CIDRs []string
	// CertSHA256 binds the node to another certificate (hex SHA-256 of its
	// DER form); "" unbinds it.
	CertSHA256 *string
}

// Unclaimed is a capture ID ingest saw that no tenant owns.
type Unclaimed struct {
	CaptureID  int64      `db:"capture_id"`
	LastSource netip.Addr `db:"last_source"`
	LastReason string     `db:"last_reason"`
	Packets    int64      `db:"packets"`
	FirstSeen  time.Time  `db:"first_seen"`
	LastSeen   time.Time  `db:"last_seen"`
}

// ValidateAliases checks that every key is an IP or IP:port and every name
// is short and printable.
func ValidateAliases(a map[string]string) error {
	for k, v := range a {
		if _, err := netip.ParseAddr(k); err != nil {
			if _, err := netip.ParseAddrPort(k); err != nil {
				return callscope.FieldError("aliases", "%q is not an IP or IP:port", k)
			}
		}
		if v == "" || len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return callscope.FieldError("aliases", "name for %s must be 1 to 64 printable characters", k)
		}
	}
	return nil
}

// NormalizeOrigins normalizes each origin with NormalizeOrigin and drops
// duplicates, keeping the first occurrence's order.
func NormalizeOrigins(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, o := range in {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}
