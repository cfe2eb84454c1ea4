// Package scenario turns one captured call into SIPp scenarios that replay
// it: the caller side (uac), that sent the call's first request, and the
// callee side (uas), where that request stopped past every proxy the
// capture saw. It is a pure function of the stored messages: no database,
// no network.
//
//	captured messages (every capture node's copies, resends)
//	   │ ladder.Unique: each packet once, the sender's copy first
//	   v
//	the first request ── its copies hop by hop ──> uac … proxies … uas
//	   │
//	   v  one endpoint's messages, in order
//	sent      -> <send>  headers templated with SIPp keywords
//	received  -> <recv>  provisional answers optional where SIPp allows it
//	gaps      -> <pause> (Options.NoPauses drops them)
//	   │
//	   v  encoding/xml, captured text only inside CDATA, escaped for SIPp
//	uac.xml / uas.xml  (sipp -sf FILE ...)
//
// A flow SIPp cannot replay faithfully (a fork, reliable provisional
// answers, a capture that starts inside a dialog, ...) is refused with an
// *UnsupportedError naming the reason, never exported half right.
//
// Captured text is hostile: a header may hold "]]>" to end the CDATA
// section, "[file name=/etc/passwd]" for SIPp to expand, or bytes XML
// cannot carry. Every captured byte outside printable ASCII, and every
// '[', ']' and '\', is written as SIPp's \xHH escape, so the only keywords
// and the only markup in a scenario are the ones this package writes.
package scenario
