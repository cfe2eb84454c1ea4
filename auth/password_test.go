package auth_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

// cheapParams keep tests fast; DefaultParams are exercised once below.
var cheapParams = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func MustHashPassword(tb testing.TB, pw string, p auth.Params) string {
	tb.Helper()
	h, err := auth.HashPassword(pw, p)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func TestPassword(t *testing.T) {
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)

	t.Run("RoundTrip", func(t *testing.T) {
		h := MustHashPassword(t, "correct horse", cheapParams)
		if !phc.MatchString(h) {
			t.Fatalf("not PHC: %q", h)
		}
		if ok, err := auth.VerifyPassword(h, "correct horse"); !ok || err != nil {
			t.Errorf("right password: %v %v", ok, err)
		}
		if ok, err := auth.VerifyPassword(h, "correct horsE"); ok || err != nil {
			t.Errorf("wrong password: %v %v", ok, err)
		}
		if h2 := MustHashPassword(t, "correct horse", cheapParams); h2 == h {
			t.Error("same salt twice")
		}
	})
	t.Run("Default", func(t *testing.T) {
		h := MustHashPassword(t, "pw", auth.DefaultParams())
		if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=1,p=2$") {
			t.Errorf("hash = %q", h)
		}
		if ok, _ := auth.VerifyPassword(h, "pw"); !ok {
			t.Error("does not verify")
		}
		if auth.NeedsRehash(h, auth.DefaultParams()) || !auth.NeedsRehash(h, cheapParams) {
			t.Error("NeedsRehash wrong")
		}
	})
	t.Run("WeakParamsRefused", func(t *testing.T) {
		if _, err := auth.HashPassword("pw", auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}); err == nil {
			t.Error("4-byte salt accepted")
		}
	})
	good := MustHashPassword(t, "pw", cheapParams)
	parts := strings.Split(good, "$")
	for name, enc := range map[string]string{
		"Empty":         "",
		"Bcrypt":        "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"Argon2i":       strings.Replace(good, "argon2id", "argon2i", 1),
		"OldVersion":    strings.Replace(good, "v=19", "v=16", 1),
		"HugeMemory":    strings.Join([]string{"", parts[1], parts[2], "m=4194304,t=1,p=1", parts[4], parts[5]}, "$"),
		"HugeTime":      strings.Join([]string{"", parts[1], parts[2], "m=64,t=1000,p=1", parts[4], parts[5]}, "$"),
		"ZeroThreads":   strings.Join([]string{"", parts[1], parts[2], "m=64,t=1,p=0", parts[4], parts[5]}, "$"),
		"BadSalt":       strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		"ShortHash":     strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
		"TrailingField": good + "$x",
	} {
		t.Run("Refuses"+name, func(t *testing.T) {
			if ok, err := auth.VerifyPassword(enc, "pw"); ok || !callscope.Is(err, callscope.Invalid) {
				t.Errorf("VerifyPassword = %v, %v; want false, Invalid", ok, err)
			}
		})
	}
}
