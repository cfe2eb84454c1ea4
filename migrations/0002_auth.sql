-- 0002: what package auth keeps in PostgreSQL: the server's signing keys,
-- tenants' registered public keys, API keys, the view tokens the server
-- issued (with their revocations) and the view audit.
--
-- Tenant-owned tables follow 0001: tenant_id first in every key and index,
-- row-level security on callscope_visible(tenant_id), callscope_app granted
-- only the statements it runs. signing_keys belongs to no tenant (the server
-- signs for everyone) and is read in db.NoTenant transactions.

CREATE TABLE signing_keys (
  kid            text PRIMARY KEY,
  alg            text NOT NULL DEFAULT 'EdDSA' CHECK (alg = 'EdDSA'),
  public_key     bytea NOT NULL CHECK (length(public_key) = 32),
  -- The Ed25519 seed sealed by auth.Sealer (AES-256-GCM under a key derived
  -- from CALLSCOPE_SECRET_KEY, the kid as additional data). Never in clear.
  private_sealed bytea NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  active         boolean NOT NULL DEFAULT false,
  retired_at     timestamptz,
  CHECK (NOT (active AND retired_at IS NOT NULL))
);
-- At most one key signs. Replicas starting together race an INSERT ... ON
-- CONFLICT on this index, so exactly one first key is created.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active) WHERE active;

CREATE TABLE tenant_keys (
  tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  kid        text NOT NULL CHECK (length(kid) BETWEEN 1 AND 128),
  jwk        jsonb NOT NULL, -- the public JWK only; auth.ParsePublicJWK refuses private members
  alg        text NOT NULL CHECK (alg IN ('EdDSA', 'ES256')),
  enabled    boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, kid)
);

CREATE TABLE api_keys (
  tenant_id    bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id           bigint GENERATED ALWAYS AS IDENTITY,
  -- The first 8 characters after "cs_": shown in listings, and how a
  -- presented key is found. Unique across tenants, since the key alone says
  -- whose it is.
  prefix       text NOT NULL CONSTRAINT api_keys_prefix_key UNIQUE,
  hash         bytea NOT NULL CHECK (length(hash) = 32), -- SHA-256 of the whole key
  name         text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz,
  PRIMARY KEY (tenant_id, id)
);

-- Tokens the server signed (API, CLI, console), so the console can list a
-- tenant's live links and revocations survive a Redis restart.
CREATE TABLE view_tokens (
  tenant_id    bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  jti          text NOT NULL,
  call_id      text NOT NULL,
  window_start timestamptz NOT NULL,
  window_end   timestamptz NOT NULL,
  issued_at    timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  scopes       text[] NOT NULL DEFAULT '{}',
  issued_by    text NOT NULL, -- 'apikey:<prefix>', 'cli', 'console:<email>'
  revoked_at   timestamptz,
  PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX view_tokens_expiry ON view_tokens (tenant_id, expires_at DESC);
-- SyncRevocations reads the revoked, unexpired tokens of every tenant.
CREATE INDEX view_tokens_revoked ON view_tokens (expires_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE view_audit (
  tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  viewed_at  timestamptz NOT NULL,
  jti        text NOT NULL,
  call_id    text NOT NULL,
  client_ip  inet,
  user_agent text NOT NULL DEFAULT ''
);
CREATE INDEX view_audit_time ON view_audit (tenant_id, viewed_at DESC);

ALTER TABLE tenant_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_keys USING (callscope_visible(tenant_id));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys USING (callscope_visible(tenant_id));

ALTER TABLE view_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON view_tokens USING (callscope_visible(tenant_id));

ALTER TABLE view_audit ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON view_audit USING (callscope_visible(tenant_id));

GRANT SELECT, INSERT, UPDATE ON signing_keys, tenant_keys, api_keys, view_tokens TO callscope_app;
-- The audit is append-only for the application.
GRANT SELECT, INSERT ON view_audit TO callscope_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO callscope_app;
