package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/callscope/callscope"
	"golang.org/x/crypto/hkdf"
)

// Sealer encrypts private keys at rest with AES-256-GCM under a key derived
// from CALLSCOPE_SECRET_KEY. A sealed blob:
//
//	+------+------------------+-------------------------------+
//	| 0x01 | nonce (12 bytes) | ciphertext || GCM tag (16 B)  |
//	+------+------------------+-------------------------------+
//
// The version byte leaves room for key rotation. The additional data (the
// kid) is authenticated, not stored: a sealed key copied onto another row
// fails to open.
type Sealer struct {
	aead cipher.AEAD
}

const (
	sealVersion     = 0x01
	minSecretLength = 32
	// hkdfInfo separates this use of the secret from any other; bump it
	// together with sealVersion.
	hkdfInfo = "callscope/auth/sealer/v1 aes-256-gcm"
)

// NewSealer derives the sealing key from secret with HKDF-SHA256. It returns
// an Invalid callscope error if secret is shorter than 32 characters.
func NewSealer(secret string) (*Sealer, error) {
	if len(secret) < minSecretLength {
		return nil, callscope.FieldError("CALLSCOPE_SECRET_KEY", "must be at least %d characters", minSecretLength)
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, []byte(secret), nil, []byte(hkdfInfo)), key); err != nil {
		return nil, fmt.Errorf("auth.NewSealer: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("auth.NewSealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("auth.NewSealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain bound to aad (the kid). Random 96-bit nonces are safe
// for the few thousand keys a deployment will ever seal.
func (s *Sealer) Seal(plain, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1 : 1+ns])
	return s.aead.Seal(out, out[1:1+ns], plain, aad), nil
}

// Open decrypts a blob made by Seal with the same aad. It returns an
// Internal callscope error when the blob is damaged, was sealed under
// another secret, or belongs to another kid.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, callscope.Errorf(callscope.Internal, "sealed key is malformed")
	}
	plain, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad)
	if err != nil {
		return nil, &callscope.Error{Kind: callscope.Internal, Message: "sealed key does not open (wrong secret or kid)", Err: err}
	}
	return plain, nil
}
