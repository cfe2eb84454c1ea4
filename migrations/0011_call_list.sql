-- 0011: what the console's calls list and statistics filter, sort and
-- count by, as columns of call_records (0007 kept only what the calls API
-- needed; the rest lived in `state` alone, which SQL cannot read).
--
-- Ingest writes these with the record (package calls, columns.add), from
-- the same state. Records written before this migration have them NULL
-- until `callscope calls rebuild` is run over the range retained.
--
--   cancelled      the caller gave up: CANCEL, or 487 (callrec's outcome)
--   pdd_ms         post-dial delay; duration_ms answer to BYE
--   from_user, to_user, ruri_user   of the call's first request
--   src_*, dst_*   where that request came from and went to
--   user_agents, nodes              every User-Agent/Server (lower-cased, as they
--                                  are matched and counted) and capture node
--   worst_mos      the lowest MOS any media report gave
ALTER TABLE call_records
  ADD COLUMN cancelled   boolean NOT NULL DEFAULT false,
  ADD COLUMN pdd_ms      bigint,
  ADD COLUMN duration_ms bigint,
  ADD COLUMN from_user   text,
  ADD COLUMN to_user     text,
  ADD COLUMN ruri_user   text,
  ADD COLUMN src_ip      inet,
  ADD COLUMN src_port    integer,
  ADD COLUMN dst_ip      inet,
  ADD COLUMN dst_port    integer,
  ADD COLUMN user_agents text[],
  ADD COLUMN nodes       text[],
  ADD COLUMN worst_mos   real;

-- The time index carries every fixed-size column the list filters on and
-- the statistics aggregate, so that a day of a tenant (or of all) is an
-- index-only scan, not a read of every record's state: the list checks
-- outcome, status, duration, PDD, addresses, ports and MOS there and reads
-- only its page's rows; the statistics' counts and delays never leave it.
-- (Text and arrays stay out: a long user agent must never make an index
-- entry too large for ingest to write. status_class stays out too: with it
-- here the planner walked every tenant's whole day for a class filter
-- instead of the class's own index, 1.2 s for 4xx of every tenant.) It
-- replaces 0007's, which listings walk the same way.
DROP INDEX call_records_started;
CREATE INDEX call_records_started ON call_records (tenant_id, started_at DESC, call_id)
  INCLUDE (kind, messages, final_status, cancelled, pdd_ms, duration_ms,
           src_ip, src_port, dst_ip, dst_port, worst_mos);

-- 0007's status and class indexes carry what every listing checks besides
-- them, so a count of a busy tenant's 4xx stays in the index.
DROP INDEX call_records_status;
CREATE INDEX call_records_status ON call_records (tenant_id, final_status, started_at DESC, call_id)
  INCLUDE (kind, messages, cancelled);
DROP INDEX call_records_status_class;
CREATE INDEX call_records_status_class ON call_records (tenant_id, status_class, started_at DESC, call_id)
  INCLUDE (kind, messages, cancelled);

-- A status implies its class; without knowing it the planner multiplies
-- the two conditions' selectivities and takes a bitmap of a whole class
-- for an exact status (5 s for 486 of every tenant, 26 ms with this).
CREATE STATISTICS call_records_status_dep (dependencies) ON final_status, status_class FROM call_records;

-- Cancelled calls are a few percent: a listing of them walks their own
-- index in time order rather than every record's.
CREATE INDEX call_records_cancelled ON call_records (tenant_id, started_at DESC, call_id) WHERE cancelled;

-- Users are searched case-insensitively, exactly, by prefix ("4420*") or by
-- suffix ("*1234"): lower() for the first two, reverse(lower()) for the
-- third, as 0003 does for sip_messages (text_pattern_ops makes LIKE
-- 'prefix%' a range whatever the collation).
CREATE INDEX call_records_from_user ON call_records (tenant_id, lower(from_user) text_pattern_ops, started_at);
CREATE INDEX call_records_from_user_rev ON call_records (tenant_id, reverse(lower(from_user)) text_pattern_ops, started_at);
CREATE INDEX call_records_to_user ON call_records (tenant_id, lower(to_user) text_pattern_ops, started_at);
CREATE INDEX call_records_to_user_rev ON call_records (tenant_id, reverse(lower(to_user)) text_pattern_ops, started_at);
CREATE INDEX call_records_ruri_user ON call_records (tenant_id, lower(ruri_user) text_pattern_ops, started_at);
CREATE INDEX call_records_ruri_user_rev ON call_records (tenant_id, reverse(lower(ruri_user)) text_pattern_ops, started_at);

-- Like sip_messages_search (0003): the same rows the policy shows, read
-- through a view so that LIKE, lower() and reverse() — not leakproof —
-- may still be index conditions. Every query through it says tenant_id too.
CREATE VIEW call_records_search AS
  SELECT * FROM call_records WHERE callscope_visible(tenant_id);
GRANT SELECT ON call_records_search TO callscope_app;
