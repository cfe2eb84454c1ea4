# shellcheck shell=bash
# Finds PostgreSQL and Redis on their usual loopback ports, or installs
# Debian's packages (when root) and starts throwaway instances in a
# project-local data directory. Sourced by scripts/run and scripts/test.
#
# After `ensure_services`, CALLSCOPE_PG_URL_BASE and CALLSCOPE_REDIS_URL
# point at servers that answer; `stop_services` stops only what this
# script started.

STATE_DIR="${CALLSCOPE_STATE_DIR:-$(pwd)/.callscope}"
STARTED_PG=""
STARTED_REDIS=""

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

pg_answers() { # host port
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$1" -p "$2" -U postgres -d postgres >/dev/null 2>&1 && return 0
  fi
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

redis_answers() { # host port
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h "$1" -p "$2" ping 2>/dev/null)" = "PONG" ] && return 0
    return 1
  fi
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "missing $*: install it (sudo apt-get install -y $*) or run as root"
    return 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null || true
    APT_UPDATED=1
  fi
  say "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

free_port() { # preferred
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && echo "$d"
}

# pg_ingest_settings prints the server settings BENCHMARKS.md recommends for
# ingest, as postgres -c options: WAL may grow to 8 GB between checkpoints
# (the stock 1 GB forced a checkpoint every ~2 s at 60,000 messages/s, each
# followed by full-page images of every index page touched again), and is
# compressed (lz4 from PostgreSQL 15, pglz before).
pg_ingest_settings() { # bin dir
  local major compression=on
  major=$(basename "$(dirname "$1")" | cut -d. -f1)
  if [ "${major:-0}" -ge 15 ] 2>/dev/null; then compression=lz4; fi
  echo "-c max_wal_size=8GB -c min_wal_size=1GB -c checkpoint_timeout=15min -c checkpoint_completion_target=0.9 -c wal_compression=$compression"
}

ensure_postgres() {
  if [ -n "${CALLSCOPE_PG_URL_BASE:-}" ]; then return 0; fi
  if pg_answers 127.0.0.1 5432; then
    CALLSCOPE_PG_URL_BASE="postgres://postgres@127.0.0.1:5432"
    export CALLSCOPE_PG_URL_BASE
    return 0
  fi
  [ -n "$(pg_bin)" ] || apt_install postgresql || return 1
  local bin port data owner
  bin=$(pg_bin)
  port=$(free_port 5432)
  data="$STATE_DIR/postgres"
  mkdir -p "$STATE_DIR"
  owner=""
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root: the postgres user runs it, and
    # must be able to reach the data directory (not the case under /root).
    owner="postgres"
    mkdir -p "$data"
    if ! runuser -u postgres -- test -x "$data/.." 2>/dev/null; then
      data="/var/lib/postgresql/callscope-$(printf '%s' "$STATE_DIR" | md5sum | cut -c1-12)"
      mkdir -p "$data"
    fi
  fi
  run_pg() { if [ -n "$owner" ]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }
  if [ ! -f "$data/PG_VERSION" ]; then
    say "creating a throwaway PostgreSQL in $data"
    mkdir -p "$data"
    [ -n "$owner" ] && chown -R "$owner" "$data"
    run_pg "$bin/initdb" -D "$data" -U postgres --auth=trust >/dev/null
  fi
  [ -n "$owner" ] && chown -R "$owner" "$data"
  say "starting PostgreSQL on 127.0.0.1:$port (ingest settings: $(pg_ingest_settings "$bin"))"
  run_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $data $(pg_ingest_settings "$bin")" start >/dev/null
  STARTED_PG="$bin/pg_ctl -D $data"
  STARTED_PG_OWNER="$owner"
  CALLSCOPE_PG_URL_BASE="postgres://postgres@127.0.0.1:$port"
  export CALLSCOPE_PG_URL_BASE
}

ensure_redis() {
  if [ -n "${CALLSCOPE_REDIS_URL:-}" ]; then return 0; fi
  if redis_answers 127.0.0.1 6379; then
    CALLSCOPE_REDIS_URL="redis://127.0.0.1:6379/0"
    export CALLSCOPE_REDIS_URL
    return 0
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server || return 1
  local port dir
  port=$(free_port 6379)
  dir="$STATE_DIR/redis"
  mkdir -p "$dir"
  say "starting Redis on 127.0.0.1:$port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 50); do redis_answers 127.0.0.1 "$port" && break; sleep 0.1; done
  STARTED_REDIS="$dir/redis.pid"
  CALLSCOPE_REDIS_URL="redis://127.0.0.1:$port/0"
  export CALLSCOPE_REDIS_URL
}

ensure_services() {
  ensure_postgres && ensure_redis
}

stop_services() {
  if [ -n "$STARTED_REDIS" ] && [ -f "$STARTED_REDIS" ]; then
    kill "$(cat "$STARTED_REDIS")" 2>/dev/null || true
    STARTED_REDIS=""
  fi
  if [ -n "$STARTED_PG" ]; then
    if [ -n "${STARTED_PG_OWNER:-}" ]; then
      runuser -u "$STARTED_PG_OWNER" -- $STARTED_PG -m fast stop >/dev/null 2>&1 || true
    else
      $STARTED_PG -m fast stop >/dev/null 2>&1 || true
    fi
    STARTED_PG=""
  fi
}

ensure_go() {
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null 2>&1; then
    say "Go 1.26 or newer is needed: https://go.dev/doc/install"
    return 1
  fi
  local v
  v=$(go env GOVERSION | sed 's/^go//')
  case "$v" in
    1.2[6-9]*|1.[3-9]*|[2-9].*) ;;
    *) say "Go $v found; callscope needs Go 1.26 or newer"; return 1 ;;
  esac
}
