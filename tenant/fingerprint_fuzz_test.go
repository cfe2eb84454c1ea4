package tenant_test

import (
	"bytes"
	"testing"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/tenant"
)

// FuzzParseCertFingerprint: operators paste fingerprints in many shapes;
// the parser answers Invalid or a 32-byte sum that formats and parses back
// to itself.
func FuzzParseCertFingerprint(f *testing.F) {
	for _, s := range []string{"", "sha256 Fingerprint=0A:1B", "SHA256 Fingerprint=" + string(bytes.Repeat([]byte("AB:"), 31)) + "AB",
		string(bytes.Repeat([]byte("0f"), 32)), "::::", "=", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sum, err := tenant.ParseCertFingerprint(s)
		if err != nil {
			if !callscope.Is(err, callscope.Invalid) {
				t.Fatalf("%q: %v is not Invalid", s, err)
			}
			return
		}
		if sum == nil {
			return // no fingerprint
		}
		if len(sum) != 32 {
			t.Fatalf("%q: %d bytes", s, len(sum))
		}
		back, err := tenant.ParseCertFingerprint(tenant.FormatCertFingerprint(sum))
		if err != nil || !bytes.Equal(back, sum) {
			t.Fatalf("%q: formatted and parsed back to %x, %v", s, back, err)
		}
	})
}
