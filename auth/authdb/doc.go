// Package authdb holds auth's PostgreSQL stores: the server's signing keys
// (sealed at rest under the secret key), tenants' registered public keys,
// API keys (hashed), issued view tokens and every revocation (the record
// Redis is rebuilt from), console administrators, and the view audit.
// The key stores keep a short cache of what they read, so that verifying a
// token costs no round trip; Resolver serves both as an auth.KeyResolver.
//
// Tenancy: a tenant's rows are read and written in db.InTenant and say
// WHERE tenant_id; looking up an API key by its prefix and rebuilding every
// tenant's revocation state span tenants by nature and run in
// db.AllTenants.
package authdb
