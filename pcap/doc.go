// Package pcap reads packet captures (classic pcap and pcapng), extracts UDP
// and TCP payloads from the frames, and writes classic pcap files of
// synthesized IP packets, which is how a call is exported for Wireshark.
//
// Reading exists for tests and tools (the interop captures under
// shared/testdata); it loads the whole file, which is what those need.
// Writing is the call export: one IPv4 or IPv6 packet per SIP message with
// valid checksums, so that Wireshark and tshark dissect it as they would
// the real traffic.
package pcap
