-- 0006: revocations by jti of tokens the server did not record.
--
-- DELETE /api/v1/view-tokens/{jti} revokes a token of the caller's tenant
-- whoever signed it. A token the server minted is marked in view_tokens; a
-- token the tenant signed with its own key was never seen, so its
-- revocation is recorded here. Redis is what verifiers read, PostgreSQL
-- the record it is rebuilt from when it loses its data: both tables feed
-- that rebuild.
CREATE TABLE token_revocations (
  tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  jti        text NOT NULL,
  revoked_at timestamptz NOT NULL DEFAULT now(),
  -- No token that could carry this jti outlives it: the server's maximum
  -- lifetime and leeway after the revocation.
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX token_revocations_expiry ON token_revocations (expires_at);

ALTER TABLE token_revocations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON token_revocations USING (callscope_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE ON token_revocations TO callscope_app;
