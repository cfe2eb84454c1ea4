package auth_test

import (
	"bytes"
	"testing"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

const testSecret = "0123456789abcdef0123456789abcdef-test-only"

func MustSealer(tb testing.TB, secret string) *auth.Sealer {
	tb.Helper()
	s, err := auth.NewSealer(secret)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestSealer(t *testing.T) {
	s := MustSealer(t, testSecret)
	key := MustSigningKey(t)
	plain, aad := []byte(key.Private), []byte(key.KID)

	sealed, err := s.Seal(plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain[:16]) {
		t.Fatal("plaintext visible in sealed blob")
	}
	got, err := s.Open(sealed, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %x, %v", got, err)
	}
	again, _ := s.Seal(plain, aad)
	if bytes.Equal(again, sealed) {
		t.Error("nonce reused")
	}

	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	for _, tt := range []struct {
		name   string
		sealer *auth.Sealer
		blob   []byte
		aad    []byte
	}{
		{"OtherKid", s, sealed, []byte("other-kid")},
		{"OtherSecret", MustSealer(t, testSecret+"!"), sealed, aad},
		{"FlippedVersion", s, flip(0), aad},
		{"FlippedNonce", s, flip(3), aad},
		{"FlippedCiphertext", s, flip(20), aad},
		{"FlippedTag", s, flip(len(sealed) - 1), aad},
		{"Truncated", s, sealed[:20], aad},
		{"Empty", s, nil, aad},
	} {
		t.Run("Refuses"+tt.name, func(t *testing.T) {
			if _, err := tt.sealer.Open(tt.blob, tt.aad); err == nil {
				t.Error("opened")
			}
		})
	}
}

func TestNewSealer_ShortSecret(t *testing.T) {
	_, err := auth.NewSealer("0123456789abcdef0123456789abcde") // 31 chars
	if !callscope.Is(err, callscope.Invalid) {
		t.Fatalf("err = %v, want Invalid", err)
	}
	if f, _ := callscope.Public(err); f != "CALLSCOPE_SECRET_KEY" {
		t.Errorf("field = %q", f)
	}
}
