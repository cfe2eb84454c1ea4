package console

import (
	"context"
	"time"

	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/tenant"
)

// The console's view of its collaborators: the smallest interfaces it uses.
// *queryapi.Client implements Calls; *authdb.APIKeys, *authdb.TenantKeys,
// *auth.Minter, *authdb.Tokens, *authdb.AuditWriter and *adminaudit.Store
// the rest. Every tenant-owned method takes the tenant id and answers NotFound
// for another tenant's row.

// Calls is what the call pages need of the query service.
type Calls interface {
	ListCalls(ctx context.Context, f queryapi.CallFilter) (queryapi.CallPage, error)
	CallStats(ctx context.Context, f queryapi.CallFilter) (queryapi.CallStats, error)
	Call(ctx context.Context, tenantID int64, callID string, from, to time.Time) (*queryapi.Call, error)
	PCAP(ctx context.Context, tenantID int64, callID string, from, to time.Time) ([]byte, error)
	Text(ctx context.Context, tenantID int64, callID string, from, to time.Time) ([]byte, error)
}

// APIKeyStore keeps tenants' API keys; CreateAPIKey returns the plaintext,
// which the console shows once.
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, tenantID int64, name string) (string, authdb.APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID int64) ([]authdb.APIKey, error)
	RevokeAPIKey(ctx context.Context, tenantID int64, prefix string) error
}

// TenantKeyStore keeps tenants' registered public keys.
type TenantKeyStore interface {
	AddTenantKey(ctx context.Context, tenantID int64, jwk []byte) (authdb.TenantKey, error)
	ListTenantKeys(ctx context.Context, tenantID int64) ([]authdb.TenantKey, error)
	DisableTenantKey(ctx context.Context, tenantID int64, kid string) error
}

// LinkMinter signs viewer links ("share this call").
type LinkMinter interface {
	Mint(ctx context.Context, t tenant.Tenant, r auth.MintRequest) (string, auth.Claims, error)
	URL(token string) string
}

// LinkStore lists and revokes the viewer links the server issued.
type LinkStore interface {
	ListTokens(ctx context.Context, tenantID int64, f authdb.TokenFilter) ([]auth.IssuedToken, error)
	RevokeToken(ctx context.Context, tenantID int64, jti string) error
	RevokeAllTenantTokens(ctx context.Context, tenantID int64) (time.Time, error)
}

// ViewAudit lists who opened a tenant's links.
type ViewAudit interface {
	ListAudit(ctx context.Context, tenantID int64, limit int) ([]authdb.AuditRecord, error)
}

// AdminLog is the admin audit log: every action of the console's admins is
// recorded there, and the audit page lists it.
type AdminLog interface {
	Record(ctx context.Context, r adminaudit.Record) error
	List(ctx context.Context, f adminaudit.Filter) ([]adminaudit.Entry, error)
}

var (
	_ AdminLog       = (*adminaudit.Store)(nil)
	_ Calls          = (*queryapi.Client)(nil)
	_ APIKeyStore    = (*authdb.APIKeys)(nil)
	_ TenantKeyStore = (*authdb.TenantKeys)(nil)
	_ LinkMinter     = (*auth.Minter)(nil)
	_ LinkStore      = (*authdb.Tokens)(nil)
	_ ViewAudit      = (*authdb.AuditWriter)(nil)
)
