-- 0010: administrators can be disabled and have their password reset, and
-- what administrators do is kept in an audit log.

-- Raised when an admin is disabled or their password is reset. A console
-- session remembers the epoch it was created under; the console ends any
-- session whose epoch is older, on its next request. A counter rather than
-- a time: no clock of the CLI's machine can let an old session through.
ALTER TABLE admins ADD COLUMN session_epoch integer NOT NULL DEFAULT 0;

-- One row per admin action: logins, tenant, node and key changes, shared
-- links, revocations, admin management. Append-only for the application.
-- tenant_id is NULL for actions that concern no one tenant (a login, a new
-- admin, a server signing key). actor keeps the email as it was then, or
-- 'cli' for the command line (admin_id NULL).
CREATE TABLE admin_audit (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  admin_id  bigint REFERENCES admins (id),
  actor     text NOT NULL,
  action    text NOT NULL,
  tenant_id bigint REFERENCES tenants (id) ON DELETE CASCADE,
  target    text NOT NULL DEFAULT '',
  detail    text NOT NULL DEFAULT '',
  client_ip inet
);
-- The console pages newest first, by actor, by action or by tenant.
CREATE INDEX admin_audit_actor ON admin_audit (actor, id DESC);
CREATE INDEX admin_audit_action ON admin_audit (action, id DESC);
CREATE INDEX admin_audit_tenant ON admin_audit (tenant_id, id DESC) WHERE tenant_id IS NOT NULL;

-- A tenant's rows are that tenant's; global rows belong to no tenant.
ALTER TABLE admin_audit ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON admin_audit
  USING (tenant_id IS NULL OR callscope_visible(tenant_id));

GRANT SELECT, INSERT ON admin_audit TO callscope_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO callscope_app;
