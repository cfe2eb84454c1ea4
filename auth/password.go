package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/callscope/callscope"
	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams: 64 MiB, one pass, two lanes (RFC 9106 §4, second
// recommended option, with t lowered to 1 because console logins are rate
// limited and a login should take well under 100 ms).
func DefaultParams() Params {
	return Params{Memory: 64 * 1024, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}
}

// Upper bounds accepted from a stored hash, so a tampered row cannot make
// one login allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 16
	maxKeyLen    = 128
	maxSaltLen   = 64
)

// HashPassword returns password hashed with argon2id under p, in PHC form:
//
//	$argon2id$v=19$m=65536,t=1,p=2$<salt b64>$<hash b64>   (standard base64, no padding)
func HashPassword(password string, p Params) (string, error) {
	if p.Memory < 8*uint32(p.Threads) || p.Time < 1 || p.Threads < 1 || p.SaltLen < 8 || p.KeyLen < 16 {
		return "", fmt.Errorf("auth.HashPassword: %w", callscope.Errorf(callscope.Internal, "weak argon2id parameters"))
	}
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC hash encoded,
// comparing in constant time. It returns an Invalid callscope error when
// encoded is not an argon2id PHC string this package can read.
func VerifyPassword(encoded, password string) (bool, error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, fmt.Errorf("auth.VerifyPassword: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters than
// p, so the console can upgrade a hash after a successful login.
func NeedsRehash(encoded string, p Params) bool {
	got, salt, key, err := parsePHC(encoded)
	return err != nil || got.Memory != p.Memory || got.Time != p.Time || got.Threads != p.Threads ||
		uint32(len(salt)) != p.SaltLen || uint32(len(key)) != p.KeyLen
}

func parsePHC(encoded string) (p Params, salt, key []byte, err error) {
	bad := callscope.FieldError("password_hash", "not an argon2id PHC string")
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, bad
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, bad
	}
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil || n != 3 {
		return p, nil, nil, bad
	}
	if p.Memory < 8 || p.Memory > maxMemoryKiB || p.Time < 1 || p.Time > maxTime || threads < 1 || threads > 255 ||
		p.Memory < 8*threads {
		return p, nil, nil, bad
	}
	p.Threads = uint8(threads)
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(salt) < 8 || len(salt) > maxSaltLen {
		return p, nil, nil, bad
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return p, nil, nil, bad
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
