// Package query is callscope's internal query service: the Store that
// searches and reads calls in PostgreSQL, and the HTTP handlers of the
// internal listener. Its callers present their own credentials (Credentials):
// the console's opens the admin routes, the viewer's only the routes the
// public edge needs; view routes answer to the customer's view token,
// re-verified here, and only inside its tenant, call and window. It also
// serves the token API orchestrators call (TokenAPI), since it holds the
// signing keys. Its Go client and wire types are package queryapi, which
// opens no database.
//
// Tenancy: every store method runs in db.InTenant (or, for the one-batch
// call read, db.ReadInTenant) and says WHERE tenant_id;
// only admin search across tenants (Filter.TenantID == 0) uses
// db.AllTenants, and it still names the tenants it reads.
package query
