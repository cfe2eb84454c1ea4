// Package queryapi is the query service as its callers see it: the Client
// that the viewer and the console use, and the types on the wire (Call and
// its messages and events, search filters and results, what the viewer may
// know of a tenant, view records for the audit). It opens no database, so
// the public edge can hold it without holding anything that could.
//
// A call crosses the wire as JSON; Call.Ladder, Call.Text and Call.PCAP
// turn it into what viewer and console render and export.
package queryapi
