package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/redis/go-redis/v9"
)

// testNow is the fixed clock of every verification test.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// MustRedis returns a client on the test Redis and a key prefix unique to
// this test; every key under it is deleted in t.Cleanup.
func MustRedis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redis at 127.0.0.1:6379: %v", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "test:auth:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		// redis_rate puts its own "rate:" in front of our prefix.
		iter := rdb.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleanup scan: %v", err)
		}
		rdb.Close()
	})
	return rdb, prefix
}

// DeadRedis returns a client pointed at a loopback port nothing listens on.
func DeadRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// memKeys is an in-memory KeyResolver that records the kids it was asked
// for, to prove a hostile kid reaches the store verbatim and only as a key.
type memKeys struct {
	mu     sync.Mutex
	server map[string]crypto.PublicKey
	tenant map[string]map[string]crypto.PublicKey
	asked  []string
	err    error // returned by every call when set
}

func (m *memKeys) ServerKey(_ context.Context, kid string) (crypto.PublicKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked = append(m.asked, kid)
	if m.err != nil {
		return nil, m.err
	}
	if k, ok := m.server[kid]; ok {
		return k, nil
	}
	return nil, callscope.Errorf(callscope.NotFound, "no such key")
}

func (m *memKeys) TenantKey(_ context.Context, tenant, kid string) (crypto.PublicKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked = append(m.asked, tenant+"/"+kid)
	if m.err != nil {
		return nil, m.err
	}
	if k, ok := m.tenant[tenant][kid]; ok {
		return k, nil
	}
	return nil, callscope.Errorf(callscope.NotFound, "no such key")
}

// memTenants: slug -> active. Unknown slugs are NotFound.
type memTenants map[string]bool

func (m memTenants) TenantActive(_ context.Context, slug string) (bool, error) {
	active, ok := m[slug]
	if !ok {
		return false, callscope.Errorf(callscope.NotFound, "no such tenant")
	}
	return active, nil
}

// noRevocations isolates the crypto in benchmarks.
type noRevocations struct{}

func (noRevocations) CheckRevoked(context.Context, string, string, time.Time) (bool, error) {
	return false, nil
}

// bundle is what most tests need: keys for the server and two tenants, the
// stores, and a verifier on a fixed clock backed by real Redis.
type bundle struct {
	server  auth.SigningKey
	acmeEd  auth.SigningKey   // acme's registered Ed25519 key
	acmeEC  *ecdsa.PrivateKey // acme's registered P-256 key
	acmeECK string
	betaEd  auth.SigningKey
	keys    *memKeys
	tenants memTenants
	revs    *auth.Revocations
	v       *auth.Verifier
}

func setup(tb testing.TB) *bundle {
	tb.Helper()
	rdb, prefix := MustRedis(tb)
	b := &bundle{
		server: MustSigningKey(tb),
		acmeEd: MustSigningKey(tb),
		betaEd: MustSigningKey(tb),
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	b.acmeEC, b.acmeECK = ec, "acme-ec-1"
	b.keys = &memKeys{
		server: map[string]crypto.PublicKey{b.server.KID: b.server.Private.Public()},
		tenant: map[string]map[string]crypto.PublicKey{
			"acme": {b.acmeEd.KID: b.acmeEd.Private.Public(), b.acmeECK: &ec.PublicKey},
			"beta": {b.betaEd.KID: b.betaEd.Private.Public()},
		},
	}
	b.tenants = memTenants{"acme": true, "beta": true, "frozen": false}
	b.revs = auth.NewRevocations(rdb, prefix, func() time.Time { return testNow })
	b.v = &auth.Verifier{
		Keys: b.keys, Tenants: b.tenants, Revocations: b.revs,
		Limits: auth.DefaultLimits(), Now: func() time.Time { return testNow }, Memo: auth.NewSigCache(),
	}
	return b
}

func MustSigningKey(tb testing.TB) auth.SigningKey {
	tb.Helper()
	k, err := auth.NewSigningKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// validClaims is a token for call "c1@acme" of tenant, 15 min, 1 h window.
func validClaims(iss, tenant string) auth.Claims {
	return auth.Claims{
		Issuer: iss, Tenant: tenant, CallID: "c1@acme",
		WindowStart: testNow.Add(-time.Hour), WindowEnd: testNow,
		IssuedAt: testNow, Expiry: testNow.Add(15 * time.Minute),
		ID: auth.NewJTI(),
	}
}

func MustMint(tb testing.TB, key auth.SigningKey, c auth.Claims) string {
	tb.Helper()
	tok, err := auth.Mint(key, c)
	if err != nil {
		tb.Fatalf("Mint: %v", err)
	}
	return tok
}

// claimsMap is validClaims as the JSON members a token carries, for tests
// that forge tokens member by member.
func claimsMap(iss, tenant string) map[string]any {
	c := validClaims(iss, tenant)
	return map[string]any{
		"iss": c.Issuer, "aud": auth.Audience, "tid": c.Tenant, "call_id": c.CallID,
		"window_start": c.WindowStart.Unix(), "window_end": c.WindowEnd.Unix(),
		"iat": c.IssuedAt.Unix(), "exp": c.Expiry.Unix(), "jti": c.ID,
	}
}

func header(alg, kid string) map[string]any {
	return map[string]any{"alg": alg, "typ": auth.TokenType, "kid": kid}
}

func mustJSON(tb testing.TB, v any) string {
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

// signer produces a raw JWS signature over the signing input.
type signer func(input []byte) []byte

func edSigner(k ed25519.PrivateKey) signer {
	return func(in []byte) []byte { return ed25519.Sign(k, in) }
}

func ecSigner(tb testing.TB, k *ecdsa.PrivateKey) signer {
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
func Forge(tb testing.TB, hdr, claims any, sign signer) string {
	tb.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(mustJSON(tb, hdr))) + "." + enc.EncodeToString([]byte(mustJSON(tb, claims)))
	return input + "." + enc.EncodeToString(sign([]byte(input)))
}

// segments of a token, for asserting no error message repeats any.
func segments(token string) []string {
	var out []string
	for _, s := range strings.Split(token, ".") {
		if len(s) >= 8 {
			out = append(out, s)
		}
	}
	return out
}

func jsonEncode(w interface{ Write([]byte) (int, error) }, v any) error {
	return json.NewEncoder(w).Encode(v)
}

func mustP256(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}
