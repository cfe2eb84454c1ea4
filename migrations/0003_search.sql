-- 0003: indexes for the query service's admin search.
--
-- Every index here is paid for by ingest: each row COPYed into sip_messages
-- updates every index of its partition. So search indexes only the rows that
-- start a dialog or a transaction outside one — requests without a To tag
-- (the initial INVITE, REGISTER, OPTIONS, MESSAGE, SUBSCRIBE...), about one
-- row in ten or twenty of a call. Search looks calls up by that row and then
-- reads the call's other messages through sip_messages_call, so nothing is
-- lost: From, To and R-URI users are the dialog's, fixed by its first request.
-- Queries must repeat the predicate `method IS NOT NULL AND to_tag IS NULL`
-- word for word for the planner to pick these partial indexes.
--
-- Each index leads with tenant_id (the distribution column, see DESIGN.md
-- "Scale-out"); admin search across tenants says `tenant_id = ANY(<all ids>)`
-- so that the same indexes serve it.
--
-- Prefix search ("4420*") is a LIKE 'prefix%' that text_pattern_ops turns
-- into a range scan whatever the database collation; exact search uses the
-- same index (text_pattern_ops supports =). Suffix search ("*1234", the way
-- people look numbers up) cannot use a forward index at all, so the reversed
-- string is indexed too: reverse(from_user) LIKE reverse('1234') || '%' is a
-- prefix search again. captured_at rides along so the time range is checked
-- in the index before any heap access.

CREATE INDEX sip_messages_from_user ON sip_messages
  (tenant_id, from_user text_pattern_ops, captured_at)
  WHERE method IS NOT NULL AND to_tag IS NULL;
CREATE INDEX sip_messages_from_user_rev ON sip_messages
  (tenant_id, reverse(from_user) text_pattern_ops, captured_at)
  WHERE method IS NOT NULL AND to_tag IS NULL;

CREATE INDEX sip_messages_to_user ON sip_messages
  (tenant_id, to_user text_pattern_ops, captured_at)
  WHERE method IS NOT NULL AND to_tag IS NULL;
CREATE INDEX sip_messages_to_user_rev ON sip_messages
  (tenant_id, reverse(to_user) text_pattern_ops, captured_at)
  WHERE method IS NOT NULL AND to_tag IS NULL;

CREATE INDEX sip_messages_ruri_user ON sip_messages
  (tenant_id, ruri_user text_pattern_ops, captured_at)
  WHERE method IS NOT NULL AND to_tag IS NULL;
CREATE INDEX sip_messages_ruri_user_rev ON sip_messages
  (tenant_id, reverse(ruri_user) text_pattern_ops, captured_at)
  WHERE method IS NOT NULL AND to_tag IS NULL;

-- Newest-first listing with no user filter walks the dialog-initiating rows
-- only, instead of every message of the day through sip_messages_time.
CREATE INDEX sip_messages_initial ON sip_messages (tenant_id, captured_at DESC)
  WHERE method IS NOT NULL AND to_tag IS NULL;

-- Why search reads through this view rather than the table.
--
-- Under row-level security PostgreSQL evaluates the policy before any user
-- condition that is not LEAKPROOF, and only LEAKPROOF conditions may become
-- index conditions. LIKE (textlike) and reverse() are not leakproof, so on
-- the table itself `reverse(from_user) LIKE '4321%'` is a filter applied to
-- every dialog-initiating row of the range, and the indexes above would be
-- dead weight. Marking functions LEAKPROOF needs a superuser, so instead the
-- view applies the very same visibility function as an ordinary condition:
-- rows are still confined to the transaction's tenant (callscope_visible,
-- as the policy does), but the planner may now order conditions freely and
-- use the indexes. The view belongs to the schema owner, so the table's
-- policy does not apply a second time through it; callscope_app may only
-- read it. Search still says WHERE tenant_id = ... like every query. The
-- only thing given up is evaluation order, which matters against someone
-- who can write SQL of their own; the application's queries are fixed.
CREATE VIEW sip_messages_search AS
  SELECT * FROM sip_messages WHERE callscope_visible(tenant_id);
GRANT SELECT ON sip_messages_search TO callscope_app;
