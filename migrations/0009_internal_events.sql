-- 0009: whether a tenant's customers see the internal events of its calls.
--
-- Capture agents send, beside SIP, the proxy's own LOG lines (HEP payload
-- type 100) and other payloads that speak of the operator's equipment,
-- not of the call as the customer knows it. A view link shows them only
-- when the tenant turned this on; the console always shows them. Media
-- reports (RTCP, QoS) are not internal: the customer sees their figures.
ALTER TABLE tenants ADD COLUMN show_internal_events boolean NOT NULL DEFAULT false;
