-- 0008: what an operator needs to see that capture works: a node bound to
-- a TLS client certificate, each node's traffic and drops over the last
-- hour, and how far each ingest process is behind PostgreSQL.

-- SHA-256 of the DER client certificate a node must present over HEP/TLS;
-- NULL: the node is not bound to a certificate.
ALTER TABLE capture_nodes
  ADD COLUMN cert_sha256 bytea CHECK (cert_sha256 IS NULL OR length(cert_sha256) = 32);

-- Per-node packet counts in one-minute buckets. Ingest processes are
-- several and keep no state: each adds its counts every few seconds, so a
-- bucket is the sum over every process. outcome is 'accepted' or a drop
-- reason (bad_auth_key, source_not_allowed, wrong_certificate, ...).
-- Buckets older than a few hours are deleted by ingest.
CREATE TABLE capture_node_stats (
  tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  capture_id bigint NOT NULL CHECK (capture_id BETWEEN 0 AND 4294967295),
  minute     timestamptz NOT NULL,
  outcome    text NOT NULL CHECK (outcome ~ '^[a-z_]{1,40}$'),
  packets    bigint NOT NULL CHECK (packets >= 0),
  last_seen  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, capture_id, minute, outcome)
);
CREATE INDEX capture_node_stats_minute ON capture_node_stats (minute);

ALTER TABLE capture_node_stats ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON capture_node_stats USING (callscope_visible(tenant_id));

-- One row per ingest process (host and HEP address), rewritten every few
-- seconds: how far behind PostgreSQL it is. Belongs to no tenant.
CREATE TABLE ingest_status (
  instance      text PRIMARY KEY CHECK (length(instance) BETWEEN 1 AND 300),
  started_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  lag_seconds   double precision NOT NULL,
  backlog_bytes bigint NOT NULL,
  spool_bytes   bigint NOT NULL,
  trend         text NOT NULL CHECK (trend IN ('caught_up', 'catching_up', 'falling_behind'))
);

GRANT SELECT, INSERT, UPDATE, DELETE ON capture_node_stats, ingest_status TO callscope_app;
