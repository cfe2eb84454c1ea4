// Package query is callscope's internal query service: the Store that
// searches and reads calls in PostgreSQL, the HTTP handlers of the internal
// listener (admin routes behind a service token, token-scoped routes behind
// a view token re-verified here), and the Client that viewer and console
// use to call them.
//
// Tenancy: every store method runs in db.InTenant (or, for the one-batch
// call read, db.ReadInTenant) and says WHERE tenant_id;
// only admin search across tenants (Filter.TenantID == 0) uses
// db.AllTenants, and it still names the tenants it reads.
package query
