// Package console is callscope's internal admin UI, for the operator's
// administrators: login (argon2id passwords, sessions in Redis, login rate
// limits), the calls list of one tenant or all (filters, totals, sorting,
// columns, CSV, a live view) and its statistics (SVG charts whose figures
// open their calls), the call's ladder, tenants and
// their settings, capture nodes, API keys, tenants' signing keys, viewer
// links and their revocation, and the view audit.
//
// It reads calls through the query service with the console's own
// credential (CALLSCOPE_QUERY_TOKEN), the only one that opens query's
// admin routes, and tenants and keys from PostgreSQL. Every state-changing
// request passes the CSRF check (Sec-Fetch-Site, Origin, and the session's
// token from the form body); with secure cookies on, cookies are __Host-.
// Pages are templ components, rendered into memory before a byte is sent.
package console
