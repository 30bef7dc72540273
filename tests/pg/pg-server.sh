#!/usr/bin/env bash
# pg-server.sh start|stop|kill|status DIR — a private PostgreSQL 15 server for tests.
#
# start: creates a cluster in DIR/data on first use (trust auth, C locale so text sorts like
# SQLite's), then starts it listening on 127.0.0.1 only, on a free port chosen once and kept
# in DIR/port (a restart gets the same address, so clients can reconnect), and on a unix
# socket in DIR when the path is short enough. Prints the conninfo (also in DIR/conninfo).
# Starting a running server just prints its conninfo. stop: fast shutdown (the data is kept);
# kill: immediate shutdown (like a crash). status: exit 0 if running.
#
# As root the server runs as the `postgres` user (PostgreSQL refuses to run as root), so DIR
# must be reachable by that user (anything under /tmp is). Installs the server with
# scripts/install-deps.sh pg when it is missing; fails (never skips) if it cannot start one.
# fsync is off: these servers hold test data only, and it keeps 2-core machines fast.
# With VBS_PG_OWNER_PID set, start also leaves a watchdog that stops the server and removes
# DIR when that process ends, so a test binary killed by a timeout leaves nothing running.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop|kill|status DIR" >&2
  exit 2
fi
bindir=${VBS_PG_BINDIR:-/usr/lib/postgresql/15/bin}
if [ ! -x "$bindir/pg_ctl" ]; then
  "$here/../../scripts/install-deps.sh" pg >&2
fi
if [ ! -x "$bindir/pg_ctl" ]; then
  echo "pg-server: no PostgreSQL 15 binaries in $bindir" >&2
  exit 1
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data
cd "$dir"  # the server user may not be able to read the caller's working directory

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
running() { [ -f "$data/PG_VERSION" ] && as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }
conninfo() { echo "host=127.0.0.1 port=$(cat "$dir/port") user=postgres dbname=postgres"; }

case "$cmd" in
  start)
    if running; then
      conninfo
      exit 0
    fi
    if [ "$(id -u)" = 0 ]; then
      chown postgres: "$dir"
      if ! runuser -u postgres -- test -w "$dir"; then
        echo "pg-server: the postgres user cannot write $dir (put it under /tmp)" >&2
        exit 1
      fi
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
      if ! as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        exit 1
      fi
      # Local only: nothing but loopback TCP and the socket may connect (trust auth).
      cat >"$data/pg_hba.conf" <<'HBA'
local all all trust
host all all 127.0.0.1/32 trust
HBA
    fi
    sock=$dir
    [ ${#sock} -le 90 ] || sock=""  # a unix socket path must fit in 107 bytes
    for attempt in $(seq 1 20); do
      own_port=false
      if [ -f "$dir/port" ]; then
        own_port=true
        port=$(cat "$dir/port")
      else
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
      fi
      log_lines=0
      [ ! -f "$dir/server.log" ] || log_lines=$(wc -l <"$dir/server.log")
      if as_pg "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -k '$sock' -c fsync=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null 2>&1; then
        echo "$port" >"$dir/port"
        if [ -n "${VBS_PG_OWNER_PID:-}" ]; then
          owner=$VBS_PG_OWNER_PID
          setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
            "$0" kill "$2"; rm -rf "$2"' "$here/pg-server.sh" "$owner" "$dir" </dev/null >/dev/null 2>&1 &
        fi
        conninfo | tee "$dir/conninfo"
        exit 0
      fi
      new_log=$(tail -n +"$((log_lines + 1))" "$dir/server.log" 2>/dev/null || true)
      if $own_port && [ "$attempt" -lt 10 ]; then
        sleep 0.5  # our own port, briefly held by the previous server's last clients
        continue
      fi
      if ! $own_port && grep -q "could not bind\|could not create any TCP" <<<"$new_log"; then
        continue  # someone else's port: pick another
      fi
      echo "pg-server: PostgreSQL did not start; its log says:" >&2
      echo "$new_log" | tail -n 20 >&2
      exit 1
    done
    echo "pg-server: no free port found" >&2
    exit 1
    ;;
  stop | kill)
    mode=fast
    [ "$cmd" = kill ] && mode=immediate
    if running; then
      as_pg "$bindir/pg_ctl" -D "$data" -m "$mode" -w -t 60 stop >/dev/null
    fi
    ;;
  status)
    running
    ;;
  *)
    echo "usage: $0 start|stop|kill|status DIR" >&2
    exit 2
    ;;
esac
