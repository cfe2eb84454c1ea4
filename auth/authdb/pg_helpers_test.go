package authdb_test

import (
	"crypto"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope/auth/authdb/authdbtest"
	"github.com/callscope/callscope/auth/authtest"
)

type pgBundle = authdbtest.Bundle

var (
	setupPG    = authdbtest.Setup
	MustTenant = authdbtest.MustTenant
	MustSealer = authdbtest.MustSealer
	mintReq    = authdbtest.MintRequest
)

const testSecret = authdbtest.Secret

// publicJWK renders pub as a JWK with kid, as a tenant would register it.
func publicJWK(tb testing.TB, pub crypto.PublicKey, kid string) []byte {
	tb.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: kid})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func suspend(tb testing.TB, b *pgBundle, tenantID int64) { b.Suspend(tb, tenantID) }

// DeadRedis returns a client pointed at a loopback port nothing listens on.
func DeadRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

var (
	MustSigningKey    = authtest.MustSigningKey
	mustDecodeSegment = authtest.DecodeSegment
	Forge             = authtest.Forge
	header            = authtest.Header
	edSigner          = authtest.EdSigner
	ecSigner          = authtest.ECSigner
	mustP256          = authtest.MustP256
	validClaims       = authtest.ValidClaims
	MustMint          = authtest.MustMint
)

// MustReadFile reads a JWK fixture of the auth package's testdata.
func MustReadFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
