package auth_test

import (
	"strings"
	"testing"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

func TestAPIKey(t *testing.T) {
	plain, prefix, hash := auth.NewAPIKey()
	if !strings.HasPrefix(plain, "cs_") || len(plain) != 46 {
		t.Fatalf("key %q", plain)
	}
	if prefix != plain[3:11] {
		t.Errorf("prefix %q", prefix)
	}
	gotPrefix, gotHash, err := auth.ParseAPIKey(plain)
	if err != nil || gotPrefix != prefix || !auth.EqualAPIKeyHash(gotHash, hash) {
		t.Fatalf("ParseAPIKey = %q, %x, %v", gotPrefix, gotHash, err)
	}
	other, _, otherHash := auth.NewAPIKey()
	if other == plain || auth.EqualAPIKeyHash(otherHash, hash) {
		t.Error("two keys collide")
	}
	if auth.EqualAPIKeyHash(nil, nil) {
		t.Error("empty hashes compare equal")
	}

	body := plain[3:]
	for name, in := range map[string]string{
		"Empty":        "",
		"NoMarker":     body,
		"WrongMarker":  "sk_" + body,
		"Short":        plain[:len(plain)-1],
		"Long":         plain + "A",
		"StdBase64":    "cs_" + strings.NewReplacer("-", "+", "_", "/").Replace(body[:42]) + "+",
		"Padded":       "cs_" + body[:42] + "=",
		"NonCanonical": "cs_" + body[:42] + "B", // last char carries bits beyond 256
		"Newline":      "cs_" + body[:20] + "\n" + body[21:],
		"Space":        " " + plain,
	} {
		t.Run("Refuses"+name, func(t *testing.T) {
			_, _, err := auth.ParseAPIKey(in)
			if !callscope.Is(err, callscope.Unauthorized) {
				t.Fatalf("err = %v, want Unauthorized", err)
			}
			if len(in) > 8 && strings.Contains(err.Error(), in[3:]) {
				t.Error("error repeats the key")
			}
		})
	}
}
