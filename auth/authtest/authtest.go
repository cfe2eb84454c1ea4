// Package authtest is what the tests of auth and its adapters share: keys,
// tokens made member by member (including ones no honest signer would
// make), and in-memory stand-ins for the stores a Verifier reads. Tests
// only: nothing else imports it.
package authtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

// Now is the fixed clock of every verification test.
var Now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Keys is an in-memory KeyResolver that records the kids it was asked
// for, to prove a hostile kid reaches the store verbatim and only as a key.
type Keys struct {
	mu     sync.Mutex
	Server map[string]crypto.PublicKey
	Tenant map[string]map[string]crypto.PublicKey
	Asked  []string
	Err    error // returned by every call when set
}

func (m *Keys) ServerKey(_ context.Context, kid string) (crypto.PublicKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Asked = append(m.Asked, kid)
	if m.Err != nil {
		return nil, m.Err
	}
	if k, ok := m.Server[kid]; ok {
		return k, nil
	}
	return nil, callscope.Errorf(callscope.NotFound, "no such key")
}

func (m *Keys) TenantKey(_ context.Context, tenant, kid string) (crypto.PublicKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Asked = append(m.Asked, tenant+"/"+kid)
	if m.Err != nil {
		return nil, m.Err
	}
	if k, ok := m.Tenant[tenant][kid]; ok {
		return k, nil
	}
	return nil, callscope.Errorf(callscope.NotFound, "no such key")
}

// Tenants: slug -> active. Unknown slugs are NotFound.
type Tenants map[string]bool

func (m Tenants) TenantActive(_ context.Context, slug string) (bool, error) {
	active, ok := m[slug]
	if !ok {
		return false, callscope.Errorf(callscope.NotFound, "no such tenant")
	}
	return active, nil
}

// Revocations is an in-memory RevocationChecker with the semantics of the
// Redis one: a jti revoked, or an epoch before which every token is.
type Revocations struct {
	mu     sync.Mutex
	jtis   map[string]bool
	epochs map[string]time.Time
	Err    error // returned by every check when set
}

func (r *Revocations) RevokeJTI(_ context.Context, tenant, jti string, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jtis == nil {
		r.jtis = map[string]bool{}
	}
	r.jtis[tenant+"/"+jti] = true
	return nil
}

func (r *Revocations) RevokeAllBefore(_ context.Context, tenant string, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.epochs == nil {
		r.epochs = map[string]time.Time{}
	}
	if at.After(r.epochs[tenant]) {
		r.epochs[tenant] = at
	}
	return nil
}

func (r *Revocations) CheckRevoked(_ context.Context, tenant, jti string, issuedAt time.Time) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Err != nil {
		return false, r.Err
	}
	return r.jtis[tenant+"/"+jti] || issuedAt.Before(r.epochs[tenant]), nil
}

// NoRevocations isolates the crypto in benchmarks.
type NoRevocations struct{}

func (NoRevocations) CheckRevoked(context.Context, string, string, time.Time) (bool, error) {
	return false, nil
}

// Bundle is what most verification tests need: keys for the server and two
// tenants, in-memory stores, and a verifier on the fixed clock with a memo.
type Bundle struct {
	Server  auth.SigningKey
	AcmeEd  auth.SigningKey   // acme's registered Ed25519 key
	AcmeEC  *ecdsa.PrivateKey // acme's registered P-256 key
	AcmeECK string
	BetaEd  auth.SigningKey
	Keys    *Keys
	Tenants Tenants
	Revs    *Revocations
	V       *auth.Verifier
}

// Setup returns a fresh Bundle: tenants acme and beta active, frozen
// suspended.
func Setup(tb testing.TB) *Bundle {
	tb.Helper()
	b := &Bundle{Server: MustSigningKey(tb), AcmeEd: MustSigningKey(tb), BetaEd: MustSigningKey(tb)}
	b.AcmeEC, b.AcmeECK = MustP256(tb), "acme-ec-1"
	b.Keys = &Keys{
		Server: map[string]crypto.PublicKey{b.Server.KID: b.Server.Private.Public()},
		Tenant: map[string]map[string]crypto.PublicKey{
			"acme": {b.AcmeEd.KID: b.AcmeEd.Private.Public(), b.AcmeECK: &b.AcmeEC.PublicKey},
			"beta": {b.BetaEd.KID: b.BetaEd.Private.Public()},
		},
	}
	b.Tenants = Tenants{"acme": true, "beta": true, "frozen": false}
	b.Revs = &Revocations{}
	b.V = &auth.Verifier{
		Keys: b.Keys, Tenants: b.Tenants, Revocations: b.Revs,
		Limits: auth.DefaultLimits(), Now: func() time.Time { return Now }, Memo: auth.NewMemo(),
	}
	return b
}

// MustSigningKey returns a fresh Ed25519 server key.
func MustSigningKey(tb testing.TB) auth.SigningKey {
	tb.Helper()
	k, err := auth.NewSigningKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// MustP256 returns a fresh P-256 key.
func MustP256(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// ValidClaims is a token for call "c1@acme" of tenant, 15 min, 1 h window,
// issued at Now.
func ValidClaims(iss, tenant string) auth.Claims {
	return auth.Claims{
		Issuer: iss, Tenant: tenant, CallID: "c1@acme",
		WindowStart: Now.Add(-time.Hour), WindowEnd: Now,
		IssuedAt: Now, Expiry: Now.Add(15 * time.Minute),
		ID: auth.NewJTI(),
	}
}

// MustMint signs c with key.
func MustMint(tb testing.TB, key auth.SigningKey, c auth.Claims) string {
	tb.Helper()
	tok, err := auth.Mint(key, c)
	if err != nil {
		tb.Fatalf("Mint: %v", err)
	}
	return tok
}

// ClaimsMap is ValidClaims as the JSON members a token carries, for tests
// that forge tokens member by member.
func ClaimsMap(iss, tenant string) map[string]any {
	c := ValidClaims(iss, tenant)
	return map[string]any{
		"iss": c.Issuer, "aud": auth.Audience, "tid": c.Tenant, "call_id": c.CallID,
		"window_start": c.WindowStart.Unix(), "window_end": c.WindowEnd.Unix(),
		"iat": c.IssuedAt.Unix(), "exp": c.Expiry.Unix(), "jti": c.ID,
	}
}

// Header is a valid view-token header.
func Header(alg, kid string) map[string]any {
	return map[string]any{"alg": alg, "typ": auth.TokenType, "kid": kid}
}

// MustJSON encodes v, or returns it when it already is a string of JSON.
func MustJSON(tb testing.TB, v any) string {
	tb.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// Signer produces a raw JWS signature over the signing input.
type Signer func(input []byte) []byte

// EdSigner signs with an Ed25519 key.
func EdSigner(k ed25519.PrivateKey) Signer {
	return func(in []byte) []byte { return ed25519.Sign(k, in) }
}

// ECSigner signs with a P-256 key, R || S as JWS wants it.
func ECSigner(tb testing.TB, k *ecdsa.PrivateKey) Signer {
	return func(in []byte) []byte {
		sum := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			tb.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

// Forge builds a compact JWS from arbitrary header and claims (maps or raw
// JSON strings), signed by sign. It is how tests make tokens no honest
// signer would.
func Forge(tb testing.TB, hdr, claims any, sign Signer) string {
	tb.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(MustJSON(tb, hdr))) + "." + enc.EncodeToString([]byte(MustJSON(tb, claims)))
	return input + "." + enc.EncodeToString(sign([]byte(input)))
}

// Segments are the parts of a token long enough to recognise, for
// asserting that no error message repeats any.
func Segments(token string) []string {
	var out []string
	for _, s := range strings.Split(token, ".") {
		if len(s) >= 8 {
			out = append(out, s)
		}
	}
	return out
}

// DecodeSegment decodes one base64url segment of a token as JSON into dst.
func DecodeSegment(tb testing.TB, seg string, dst any) {
	tb.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		tb.Fatal(err)
	}
}
