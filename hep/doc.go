// Package hep decodes and encodes the Homer Encapsulation Protocol, the
// envelope in which capture agents (Kamailio siptrace, heplify, captagent,
// sngrep, OpenSIPS, FreeSWITCH) ship every SIP message they see.
//
// Decode is the hot path of ingest: for an uncompressed HEPv3 packet it does
// not allocate, and every slice in the resulting Packet aliases the input.
// It never panics on hostile input and never reads past a chunk's or the
// packet's declared length.
//
// HEPv3 (all integers big-endian):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+---------------------------------------------------------------+
//	|            "HEP3" (or "EEP3") 0x48 0x45 0x50 0x33             |
//	+-------------------------------+-------------------------------+
//	| total length (header incl.)   | chunk: vendor id              |
//	+-------------------------------+-------------------------------+
//	| chunk: type id                | chunk: length (6 + payload)   |
//	+-------------------------------+-------------------------------+
//	| chunk payload ...                                             |
//	+---------------------------------------------------------------+
//	| next chunk ...                                                |
//
// HEPv1 and HEPv2 (Kamailio's hep_version 1 and 2):
//
//	 0       1       2       3       4               6               8
//	+-------+-------+-------+-------+---------------+---------------+
//	|version|hdr len|family |ip prot| src port (BE) | dst port (BE) |
//	+-------+-------+-------+-------+---------------+---------------+
//	| src addr (4 or 16 bytes) | dst addr (4 or 16 bytes)           |
//	+-----------------------------------------------------------------+
//	| v2 only: secs u32 LE | usecs u32 LE | capture id u16 | pad u16  |
//	+-----------------------------------------------------------------+
//	| payload ...                                                     |
//
// The header length is 16 for IPv4 and 40 for IPv6 and does not count the
// v2 time block, so the payload starts at 16/40 (v1) or 28/52 (v2).
package hep
