#!/usr/bin/env bash
# Runs the ingest targets one after the other and prints one summary line
# per run (the full JSON reports go to $OUT, default /tmp/ingest-targets.log):
#
#   udp-quiet   60,000 messages/s over UDP for 60 s
#   udp-busy    the same while another process keeps one core busy
#   tcp         60,000 messages/s over TCP for 60 s
#   burst       100,000 messages/s over UDP for 10 s, then quiet
#   two-ingests two ingest processes, 30,000/s each over UDP for 60 s
#
# Targets: < 0.1 % loss over UDP (quiet and busy), nothing lost over TCP and
# in the burst, every row visible within 3 minutes after the blast
# (drain_s), p99 send-to-visible < 1 s in the quiet run, and two ingests
# storing exactly what was sent. PostgreSQL at 127.0.0.1:5432 (trust);
# loopback only. On a shared box run it under the heavy-run lock:
#
#   flock /tmp/callscope-heavy.lock scripts/ingest-targets.sh
#   RUNS="udp-quiet burst" scripts/ingest-targets.sh
set -euo pipefail
RUNS=${RUNS:-udp-quiet udp-busy tcp burst two-ingests}
OUT=${OUT:-/tmp/ingest-targets.log}
cd "$(dirname "$0")/.."
go build -o /tmp/hepload-targets ./cmd/hepload
: >"$OUT"

summary() { # name: reads the sender's and the server's JSON reports from $OUT's last run
	local name=$1 file=$2
	jq -rs --arg name "$name" --arg load "$3" '
		(map(select(.measured)) | .[0]) as $s | (map(select(.peak_rss_mib)) | .[0]) as $v |
		"\($name)\trate=\($s.target_rate)/s sent=\($s.messages) (\($s.sent_rate|floor)/s) stored=\($s.measured.stored) loss=\($s.measured.loss_percent)% drain_s=\($s.measured.drain_seconds*10|round/10) p50_ms=\($s.measured.latency_p50_ms|round) p99_ms=\($s.measured.latency_p99_ms|round) p99_all_ms=\($s.measured.latency_p99_all_ms|round) unseen=\($s.measured.latency_unseen) dropped=\($v.dropped|tostring) spool_batches=\($v.spool_batches|tostring) peak_spool_mib=\($v.peak_spool_mib|round) peak_lag_s=\($v.peak_lag_seconds*10|round/10) rss_mib=\($v.peak_rss_mib|round) load=\($load)"
	' "$file"
}

for run in $RUNS; do
	tmp=$(mktemp)
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	case $run in
	udp-quiet) NOBUILD=1 BIN=/tmp/hepload-targets RATE=60000 DURATION=60s PROTOS=udp scripts/bench-ingest.sh >"$tmp" 2>>"$OUT" ;;
	udp-busy) NOBUILD=1 BIN=/tmp/hepload-targets RATE=60000 DURATION=60s PROTOS=udp BUSY=1 scripts/bench-ingest.sh >"$tmp" 2>>"$OUT" ;;
	tcp) NOBUILD=1 BIN=/tmp/hepload-targets RATE=60000 DURATION=60s PROTOS=tcp scripts/bench-ingest.sh >"$tmp" 2>>"$OUT" ;;
	burst) NOBUILD=1 BIN=/tmp/hepload-targets RATE=100000 DURATION=10s PROTOS=udp scripts/bench-ingest.sh >"$tmp" 2>>"$OUT" ;;
	two-ingests)
		RATE=60000 DURATION=60s PROTO=udp scripts/two-ingests.sh >"$tmp" 2>>"$OUT"
		{ echo "== $run"; cat "$tmp"; } >>"$OUT"
		printf '%s\t%s load_before=%s load_after=%s\n' "$run" "$(grep '^combined:' "$tmp")" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
		rm -f "$tmp"
		continue
		;;
	*) echo "unknown run $run" >&2; exit 2 ;;
	esac
	{ echo "== $run"; cat "$tmp"; } >>"$OUT"
	grep -v '^#' "$tmp" | grep -v '^hepload' | summary "$run" /dev/stdin "$load_before -> $(cut -d' ' -f1-3 /proc/loadavg)"
	rm -f "$tmp"
done
