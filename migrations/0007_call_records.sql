-- 0007: a record per call, where a correlation value came from, and the
-- tenant setting that lets a view token follow SIP-header correlation.
--
-- call_records holds one row per (tenant, Call-ID), kept current by ingest
-- in the same transaction that COPYs the call's messages (a replayed spool
-- batch is applied once, as its messages are): `state` is the call's
-- mergeable summary (package callrec), the other columns are read from it
-- for filtering and ordering. It is not partitioned by day: a call that
-- spans midnight, or a REGISTER refreshed under one Call-ID for days, is
-- still one row. Retention deletes rows by started_at, tenant by tenant.
--
-- Every key and index leads with tenant_id, as everywhere (0003 says why).
-- Ingest updates every index of call_records for every call, so it has
-- only those the calls API needs: time order, final status, the rare kinds,
-- legs. Its user filters (from/to/R-URI user: exact, prefix, suffix) ask
-- 0003's indexes on sip_messages for the Call-IDs instead: the users are
-- those of the call's first request, which 0003 indexes already.
-- started_at is the first SIP message's time, or, for a call known only
-- from media reports so far, the first report's (messages = 0; the calls
-- API lists calls with messages only).

CREATE TABLE call_records (
  tenant_id      bigint NOT NULL,
  call_id        text NOT NULL,
  started_at     timestamptz NOT NULL,
  ended_at       timestamptz NOT NULL,
  kind           text NOT NULL,
  final_status   smallint,
  -- 4 for 4xx: a class filter walks its own index in time order (a range
  -- of final_status cannot: its rows are ordered by status first).
  status_class   smallint GENERATED ALWAYS AS (final_status / 100) STORED,
  -- The value legs are found by: the capture node's correlation chunk when
  -- the call has one, else the first correlation header value.
  correlation_id text,
  messages       integer NOT NULL,
  state          bytea NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, call_id)
) WITH (fillfactor = 80); -- room on each page for the next version of a record (HOT updates)

CREATE INDEX call_records_started ON call_records (tenant_id, started_at DESC, call_id);
CREATE INDEX call_records_status ON call_records (tenant_id, final_status, started_at DESC, call_id);
CREATE INDEX call_records_status_class ON call_records (tenant_id, status_class, started_at DESC, call_id);
-- INVITEs are most calls: a kind=invite listing walks call_records_started.
CREATE INDEX call_records_kind ON call_records (tenant_id, kind, started_at DESC, call_id) WHERE kind <> 'invite';
CREATE INDEX call_records_correlation ON call_records (tenant_id, correlation_id) WHERE correlation_id IS NOT NULL;

ALTER TABLE call_records ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON call_records USING (callscope_visible(tenant_id));
GRANT SELECT ON call_records TO callscope_app;

-- Where a message's correlation_id came from: 'hep' when the capture node
-- set it in HEP's correlation chunk (0x0011), else the SIP header it was
-- read from, in lower case ('x-cid', 'p-charging-vector'). NULL for rows
-- stored before this column existed, which count as header values. A view
-- token follows only what the capture node set, or values naming its own
-- call; header values that point elsewhere are the endpoints' word.
ALTER TABLE sip_messages ADD COLUMN correlation_source text;

-- A tenant whose own equipment writes the correlation headers (its B2BUA
-- sets X-CID) may let view tokens follow them too.
ALTER TABLE tenants ADD COLUMN follow_header_correlation boolean NOT NULL DEFAULT false;
