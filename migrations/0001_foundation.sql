-- 0001: tenants, capture nodes, admins, the partitioned message store, and
-- the row-level security that is the second guard behind every WHERE tenant_id.
--
-- Row-level security is keyed on two transaction-local settings that only
-- package db sets (db.InTenant / db.AllTenants):
--   callscope.tenant_id    the one tenant this transaction may see;
--   callscope.all_tenants  'on' only on the explicit cross-tenant paths
--                          (ingest's writer, admin search in the console).
-- Every application query runs as callscope_app (package db SET ROLEs to it
-- on connect), which owns no table and has no BYPASSRLS, so the policies
-- always apply to it. The table owner — the role that migrates — bypasses
-- RLS as PostgreSQL owners do; it is used only for migrations, partition
-- maintenance and ingest's COPY writer (COPY FROM refuses RLS-checked tables).

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'callscope_app') THEN
    CREATE ROLE callscope_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- another database on this cluster created it at the same moment
END
$$;

-- The migrating role must be able to SET ROLE callscope_app.
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT callscope_app TO %I', current_user);
  END IF;
END
$$;

CREATE FUNCTION callscope_visible(row_tenant bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(current_setting('callscope.all_tenants', true), '') = 'on'
      OR row_tenant = nullif(current_setting('callscope.tenant_id', true), '')::bigint
$$;

CREATE TABLE tenants (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slug           text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{2,40}$'),
  name           text NOT NULL,
  status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  retention_days integer NOT NULL DEFAULT 30 CHECK (retention_days BETWEEN 1 AND 3650),
  embed_origins  text[] NOT NULL DEFAULT '{}',
  aliases        jsonb NOT NULL DEFAULT '{}',
  tokens_valid_after timestamptz, -- tenant-wide revocation epoch, mirrored in Redis
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE capture_nodes (
  tenant_id     bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  capture_id    bigint NOT NULL CHECK (capture_id BETWEEN 0 AND 4294967295),
  name          text NOT NULL DEFAULT '',
  auth_key_hash bytea,
  allowed_cidrs cidr[] NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, capture_id),
  -- A capture ID is how ingest finds the tenant: it belongs to one tenant only.
  CONSTRAINT capture_nodes_capture_id_key UNIQUE (capture_id)
);

-- Capture IDs ingest saw that no tenant owns, for an admin to claim.
CREATE TABLE unclaimed_nodes (
  capture_id  bigint PRIMARY KEY,
  last_source inet,
  last_reason text NOT NULL,
  packets     bigint NOT NULL DEFAULT 0,
  first_seen  timestamptz NOT NULL DEFAULT now(),
  last_seen   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admins (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email         text NOT NULL,
  password_hash text NOT NULL,
  disabled      boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX admins_email_key ON admins (lower(email));

-- One row per SIP message, partitioned by UTC day of the capture time.
-- Text columns are sanitised to valid UTF-8 by ingest; payload keeps the
-- exact bytes that arrived.
CREATE TABLE sip_messages (
  tenant_id      bigint NOT NULL,
  captured_at    timestamptz NOT NULL,
  received_at    timestamptz NOT NULL,
  call_id        text NOT NULL,
  correlation_id text,
  method         text,
  status         smallint,
  reason         text,
  cseq           bigint,
  cseq_method    text,
  from_user      text,
  from_tag       text,
  to_user        text,
  to_tag         text,
  ruri_user      text,
  user_agent     text,
  src_ip         inet NOT NULL,
  src_port       integer NOT NULL,
  dst_ip         inet NOT NULL,
  dst_port       integer NOT NULL,
  transport      text NOT NULL,
  capture_id     bigint NOT NULL,
  node_name      text,
  has_sdp        boolean NOT NULL DEFAULT false,
  payload        bytea NOT NULL
) PARTITION BY RANGE (captured_at);

-- Rows for a day without its partition land here instead of vanishing; the
-- partition maintainer moves them out when it creates that day.
CREATE TABLE sip_messages_default PARTITION OF sip_messages DEFAULT;

CREATE INDEX sip_messages_call ON sip_messages (tenant_id, call_id, captured_at);
CREATE INDEX sip_messages_time ON sip_messages (tenant_id, captured_at DESC);
CREATE INDEX sip_messages_correlation ON sip_messages (tenant_id, correlation_id)
  WHERE correlation_id IS NOT NULL;

-- Non-SIP HEP payloads that belong to a call: LOG (100), RTCP JSON (5), QoS (34, 35).
CREATE TABLE hep_events (
  tenant_id      bigint NOT NULL,
  captured_at    timestamptz NOT NULL,
  received_at    timestamptz NOT NULL,
  payload_type   smallint NOT NULL,
  call_id        text,
  correlation_id text,
  src_ip         inet NOT NULL,
  src_port       integer NOT NULL,
  dst_ip         inet NOT NULL,
  dst_port       integer NOT NULL,
  capture_id     bigint NOT NULL,
  payload        bytea NOT NULL
) PARTITION BY RANGE (captured_at);
CREATE TABLE hep_events_default PARTITION OF hep_events DEFAULT;
CREATE INDEX hep_events_call ON hep_events (tenant_id, call_id, captured_at) WHERE call_id IS NOT NULL;
CREATE INDEX hep_events_correlation ON hep_events (tenant_id, correlation_id, captured_at)
  WHERE correlation_id IS NOT NULL;

-- Batches ingest committed, so that a spooled batch replayed after an
-- ambiguous commit is written exactly once.
CREATE TABLE ingest_batches (
  batch_id   uuid PRIMARY KEY,
  rows       integer NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants USING (callscope_visible(id));

ALTER TABLE capture_nodes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON capture_nodes USING (callscope_visible(tenant_id));

ALTER TABLE sip_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sip_messages USING (callscope_visible(tenant_id));

ALTER TABLE hep_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON hep_events USING (callscope_visible(tenant_id));

GRANT USAGE ON SCHEMA public TO callscope_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
  tenants, capture_nodes, unclaimed_nodes, admins, sip_messages, hep_events, ingest_batches
  TO callscope_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO callscope_app;
