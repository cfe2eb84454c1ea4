// Package ingest is callscope's HEP collector: it receives HEP over UDP,
// TCP and TLS, finds the tenant that owns each packet's capture node, and
// writes SIP messages and call events to PostgreSQL in batches, losing
// nothing it accepted.
//
//	UDP (recvmmsg batches) --.
//	TCP (length-delimited) ---+--> decode (hep) --> resolve node --> extract (sip)
//	TLS (same, over TLS) ----'     drop+count       auth key, CIDR,  drop+count
//	                                                certificate:     (per node)
//	                                                drop+count per
//	                                                node, refusals
//	                                                logged 1/min
//	                                                                     |
//	                          owned, pooled row (text sanitised, payload exact)
//	                                                                     v
//	   queue bounded in bytes (full: UDP drops, counted "queue_full", or
//	   "spool_full" when the spool is full too; TCP/TLS readers wait, so
//	   TCP pushes back) --> writer: batch by size or interval, id = UUID
//	                                                                     |
//	     one line, oldest first:  retry | head (memory) | spool (disk) | tail
//	     a new batch joins head while nothing is spooled, no write fails and
//	     memory is under half the bound; else it is spilled to the spool
//	     (sequential, checksummed segments) behind everything there
//	                                                                     |
//	     Writers copiers take batches from the front, each a transaction   v
//	     of INSERT ingest_batches(id) + binary COPY sip_messages/hep_events;
//	     a copier commits only after the batch before it did (batches become
//	     visible in the order they were formed), merging the batch's calls
//	     into call_records (records.go) once that batch committed; a failure
//	     rolls back the ones behind it and all go back to the front after
//	     RetryInterval; a batch whose id is already in ingest_batches is
//	     skipped (exactly once, also when a spool is replayed by the next
//	     process).
//
// Durability: a batch spilled to the spool survives a crash of the process
// once write(2) returned; the spool is fsync'd within a second, so a power
// cut can lose the last second of spilled batches. What is still in memory
// (the queue, at most Config.QueueBytes, and batches being written) is lost
// by any crash; on shutdown it is written or spooled, ahead of the spool.
//
// Every drop is counted by reason on callscope_ingest_dropped_total, and,
// once the node is known, in the node's health: per-node counts by outcome
// kept in memory (two atomic writes a packet) and added to per-minute
// buckets in PostgreSQL every Config.HealthFlush, where the counts of every
// ingest process sum up. The same upkeep writes how far behind PostgreSQL
// this process is (callscope_ingest_lag_seconds, and a "behind by 40 s,
// catching up" log line and status), so that a slow database is seen
// rather than guessed. Unknown capture IDs are reported to the tenant
// store for admins to claim.
package ingest
