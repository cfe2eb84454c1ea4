#!/usr/bin/env bash
# Two ingest processes on one host writing to one database: do they keep
# zero loss at the combined rate?
#
#   1. recreates the database callscope_bench_two (not callscope_bench,
#      which hepload -serve owns) with `callscope migrate`, a tenant "bench"
#      and capture IDs 2001-2003 (what hepload -measure expects);
#   2. starts two `callscope serve --roles ingest` on 127.0.0.1:$PORT1 and
#      :$PORT2 (UDP and TCP), each with its own spool and metrics port;
#   3. runs two `hepload -measure` senders at once, RATE/2 SIP messages/s
#      each, one per ingest, with distinct Call-ID prefixes, and waits for
#      both to report stored, loss and latency;
#   4. prints what each ingest spilled to its spool and replayed (its
#      metrics), stops both with SIGTERM (they drain) and prints the
#      combined figure, with the duplicate rows found (0: exactly once).
# Loopback only. PostgreSQL at 127.0.0.1:5432 with trust auth.
#
#   RATE=60000 DURATION=60s PROTO=udp scripts/two-ingests.sh
set -euo pipefail
RATE=${RATE:-60000}
DURATION=${DURATION:-60s}
PROTO=${PROTO:-udp}
PORT1=${PORT1:-9261}
PORT2=${PORT2:-9262}
PGBASE=${PGBASE:-postgres://postgres@127.0.0.1:5432}
DB=${DB:-callscope_bench_two}
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/callscope" ./cmd/callscope
go build -o "$work/hepload" ./cmd/hepload
echo "# $(date -u +%FT%TZ) nproc=$(nproc) cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) loadavg=$(cut -d' ' -f1-3 /proc/loadavg) rate=$RATE duration=$DURATION proto=$PROTO"

psql "$PGBASE/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
export CALLSCOPE_DATABASE_URL="$PGBASE/$DB?sslmode=disable"
"$work/callscope" migrate >/dev/null
"$work/callscope" tenant create bench >/dev/null
for id in 2001 2002 2003; do "$work/callscope" node add bench "$id" >/dev/null; done

start_ingest() { # n port metrics-port
	mkdir -p "$work/spool$1"
	"$work/callscope" serve --roles ingest --hep-addr "127.0.0.1:$2" --metrics-addr "127.0.0.1:$3" \
		--spool-dir "$work/spool$1" >"$work/ingest$1.out" 2>"$work/ingest$1.log" &
	pids+=($!)
	for _ in $(seq 300); do
		grep -q "callscope ready" "$work/ingest$1.out" 2>/dev/null && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/ingest$1.log" >&2; exit 1; }
		sleep 0.1
	done
	echo "ingest $1 not ready after 30s" >&2
	exit 1
}
start_ingest 1 "$PORT1" 9291
start_ingest 2 "$PORT2" 9292

half=$((RATE / 2))
"$work/hepload" -addr "127.0.0.1:$PORT1" -proto "$PROTO" -rate "$half" -duration "$DURATION" \
	-prefix two1 -db "$CALLSCOPE_DATABASE_URL" -measure >"$work/send1.json" &
s1=$!
"$work/hepload" -addr "127.0.0.1:$PORT2" -proto "$PROTO" -rate "$half" -duration "$DURATION" \
	-prefix two2 -db "$CALLSCOPE_DATABASE_URL" -measure >"$work/send2.json" &
s2=$!
wait "$s1" "$s2" || true

for m in 9291 9292; do
	echo "# ingest metrics :$m: $(curl -s "127.0.0.1:$m/metrics" | grep -E '^callscope_ingest_(spool_batches_total|dropped_total|write_errors_total)' | grep -v ' 0$' | tr '\n' ' ')"
done
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()

cat "$work/send1.json" "$work/send2.json"
total_sent=$(cat "$work/send1.json" "$work/send2.json" | jq -s 'map(.messages) | add')
total_stored=$(cat "$work/send1.json" "$work/send2.json" | jq -s 'map(.measured.stored) | add')
in_db=$(psql "$PGBASE/$DB" -tAc "SELECT count(*) FROM sip_messages")
dups=$(psql "$PGBASE/$DB" -tAc "SELECT count(*) - count(DISTINCT (call_id, cseq, coalesce(method, ''), coalesce(status, 0))) FROM sip_messages")
echo "combined: sent=$total_sent stored=$total_stored rows_in_db=$in_db duplicates=$dups loss=$(jq -n "($total_sent - $total_stored) * 100 / $total_sent")%"
