// Package tenantdb is the PostgreSQL store of tenants, capture nodes and
// unclaimed capture IDs (the types and rules are package tenant).
//
// Tenancy: reads and writes of one tenant run in db.InTenant and say WHERE
// tenant_id; slug lookups, listings and the node map span tenants by nature
// and run in db.AllTenants.
package tenantdb
