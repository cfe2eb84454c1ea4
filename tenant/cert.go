package tenant

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/callscope/callscope"
)

// AllowsCert reports whether a packet that came with the TLS client
// certificate whose SHA-256 is sum (nil: not over TLS, or no certificate)
// may speak for this node. A node not bound to a certificate accepts any.
func (n Node) AllowsCert(sum []byte) bool {
	return n.CertSHA256 == nil || (len(sum) == sha256.Size && subtle.ConstantTimeCompare(sum, n.CertSHA256) == 1)
}

// ParseCertFingerprint parses the SHA-256 fingerprint of a certificate as
// openssl prints it (`openssl x509 -noout -fingerprint -sha256`: 32 hex
// bytes with colons, after "sha256 Fingerprint=") or as plain hex. "" is
// no fingerprint (nil).
func ParseCertFingerprint(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '='); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return nil, nil
	}
	sum, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil || len(sum) != sha256.Size {
		return nil, callscope.FieldError("cert_sha256", "%q is not a SHA-256 fingerprint: 64 hex digits, colons allowed (openssl x509 -noout -fingerprint -sha256 -in CERT)", s)
	}
	return sum, nil
}

// FormatCertFingerprint returns sum as openssl prints it: upper-case hex
// bytes separated by colons; "" for none.
func FormatCertFingerprint(sum []byte) string {
	if len(sum) == 0 {
		return ""
	}
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
