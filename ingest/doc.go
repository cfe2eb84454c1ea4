// Package ingest is callscope's HEP collector: it receives HEP over UDP,
// TCP and TLS, finds the tenant that owns each packet's capture node, and
// writes SIP messages and call events to PostgreSQL in batches, losing
// nothing it accepted.
//
//	UDP (recvmmsg batches) --.
//	TCP (length-delimited) ---+--> decode (hep) --> resolve node --> extract (sip)
//	TLS (same, over TLS) ----'     drop+count        drop+count       drop+count
//	                                                                     |
//	                          owned, pooled row (text sanitised, payload exact)
//	                                                                     v
//	   queue bounded in bytes (full: UDP drops, counted "queue_full";
//	   TCP/TLS readers wait, so TCP pushes back) --> writer
//	                                                                     |
//	     batch by size or interval, id = UUID: one transaction of        |
//	     INSERT ingest_batches(id) + binary COPY sip_messages/hep_events,|
//	     Writers transactions in flight at once while the spool is empty v
//	     failure --> disk spool (checksummed, fsync'd, bounded) --> replayed in
//	     order when PostgreSQL answers again, and by the next process; a batch
//	     whose id is already in ingest_batches is skipped (exactly once).
//
// Every drop is counted by reason on callscope_ingest_dropped_total; unknown
// capture IDs are also reported to the tenant store for admins to claim.
package ingest
