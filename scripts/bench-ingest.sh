#!/usr/bin/env bash
# Drives an in-process ingest server on a fresh database (callscope_bench) at
# RATE SIP messages/s for DURATION over UDP, then TCP, and prints hepload's
# JSON reports (sent, stored, loss, ingest-to-queryable latency, peak RSS).
# Needs PostgreSQL at 127.0.0.1:5432 (trust auth). Loopback only.
set -euo pipefail
RATE=${RATE:-60000}
DURATION=${DURATION:-60s}
cd "$(dirname "$0")/.."
go build -o /tmp/hepload ./cmd/hepload
echo "# $(date -u +%FT%TZ) nproc=$(nproc) cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for proto in udp tcp; do
	/tmp/hepload -serve -proto "$proto" -rate "$RATE" -duration "$DURATION"
done
