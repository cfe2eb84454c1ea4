#!/usr/bin/env bash
# Measures HEP ingest as it is deployed: the ingest server and the load
# generator run as two processes on this machine, with PostgreSQL at
# 127.0.0.1:5432 (trust auth). For each transport in PROTOS it
#   1. starts `hepload -serve` (fresh database callscope_bench, a tenant
#      owning capture IDs 2001-2003, ingest on 127.0.0.1:$PORT),
#   2. runs `hepload -measure` against it: RATE SIP messages/s for DURATION,
#      then waits for the rows and reports stored, loss and latency,
#   3. stops the server with SIGTERM; it drains and reports accepted,
#      dropped by reason and its own peak RSS (VmHWM).
# Both JSON reports go to stdout. Loopback only. Nothing is pinned to a CPU:
# the scheduler shares two cores between sender, ingest and PostgreSQL, as
# it would on a small box running all three.
#
# With BUSY=1 another process keeps one core busy for the whole run (a
# shell spinning in a loop), as a box doing other work would.
#
#   RATE=60000 DURATION=60s PROTOS="udp tcp" WRITERS=2 scripts/bench-ingest.sh
#   RATE=60000 DURATION=60s PROTOS=udp BUSY=1 scripts/bench-ingest.sh
#   SERVE_FLAGS="-cpuprofile /tmp/ingest.pprof" PROTOS=udp scripts/bench-ingest.sh
#   DB=postgres://postgres@127.0.0.1:5499/callscope_bench scripts/bench-ingest.sh  # another server
set -euo pipefail
RATE=${RATE:-60000}
DURATION=${DURATION:-60s}
PROTOS=${PROTOS:-udp tcp}
WRITERS=${WRITERS:-0}
BUSY=${BUSY:-}
PORT=${PORT:-9160}
SERVE_FLAGS=${SERVE_FLAGS:-}
DB=${DB:-postgres://postgres@127.0.0.1:5432/callscope_bench?sslmode=disable}
BIN=${BIN:-/tmp/hepload}
cd "$(dirname "$0")/.."
if [[ -z ${NOBUILD:-} ]]; then
	go build -o "$BIN" ./cmd/hepload
fi
echo "# $(date -u +%FT%TZ) nproc=$(nproc) cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) loadavg=$(cut -d' ' -f1-3 /proc/loadavg) rate=$RATE duration=$DURATION writers=$WRITERS busy=${BUSY:-0} commit=$(git rev-parse --short HEAD 2>/dev/null)"
ready=$(mktemp -u)
for proto in $PROTOS; do
	rm -f "$ready"
	# shellcheck disable=SC2086 # SERVE_FLAGS is a list of flags
	"$BIN" -serve -db "$DB" -listen "127.0.0.1:$PORT" -writers "$WRITERS" -ready-file "$ready" $SERVE_FLAGS &
	srv=$!
	for _ in $(seq 300); do
		[[ -s $ready ]] && break
		kill -0 "$srv" 2>/dev/null || { echo "hepload -serve exited" >&2; exit 1; }
		sleep 0.1
	done
	[[ -s $ready ]] || { echo "hepload -serve not ready after 30s" >&2; kill "$srv"; exit 1; }
	busy=""
	if [[ -n $BUSY ]]; then
		sh -c 'while :; do :; done' &
		busy=$!
	fi
	"$BIN" -db "$DB" -addr "127.0.0.1:$PORT" -proto "$proto" -rate "$RATE" -duration "$DURATION" -measure || true
	[[ -n $busy ]] && kill "$busy"
	echo "# after $proto: loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
	kill -TERM "$srv"
	wait "$srv" || true
done
rm -f "$ready"
