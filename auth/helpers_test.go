package auth_test

import (
	"encoding/json"

	"github.com/callscope/callscope/auth/authtest"
)

// The shared helpers under the names these tests use.
var (
	testNow           = authtest.Now
	setup             = authtest.Setup
	MustSigningKey    = authtest.MustSigningKey
	mustDecodeSegment = authtest.DecodeSegment
	validClaims       = authtest.ValidClaims
	MustMint          = authtest.MustMint
	claimsMap         = authtest.ClaimsMap
	header            = authtest.Header
	mustJSON          = authtest.MustJSON
	edSigner          = authtest.EdSigner
	ecSigner          = authtest.ECSigner
	Forge             = authtest.Forge
	segments          = authtest.Segments
	mustP256          = authtest.MustP256
)

type (
	bundle        = authtest.Bundle
	memKeys       = authtest.Keys
	memTenants    = authtest.Tenants
	noRevocations = authtest.NoRevocations
)

func jsonEncode(w interface{ Write([]byte) (int, error) }, v any) error {
	return json.NewEncoder(w).Encode(v)
}
