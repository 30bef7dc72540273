#!/usr/bin/env bash
# `vbsd server` and `vbsd agent` as separate processes, configured by TOML files, with a
# node certificate from `vbsd pki issue`, on SQLite and on PostgreSQL (`--db postgresql://`):
# the agent registers its pool, volumes and snapshots go through their lifecycle, and after
# kill -9 of the agent mid-operation and its restart the work still finishes.
. "$(dirname "$0")/../system/lib.sh"
t_init separate_roles
PG="$VBS_SRC/tests/pg/pg-server.sh"
SERVER_PID=""; AGENT_PID=""

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_agent() {  # [ENV=VAL...]
  env "$@" "$VBSD" agent --config "$T/agent.toml" >>"$T/agent.out" 2>>"$T/agent.log" &
  AGENT_PID=$!; T_PIDS+=("$AGENT_PID")
}

run_case() {  # DB-DESCRIPTION DB-STRING
  local what=$1 db=$2 port
  port=$(free_port)
  rm -rf "$T/pki" "$T/pool" "$T/node" "$T/boss"
  cat >"$T/server.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
database = "$T/meta.db"
pki_dir = "$T/pki"
op_timeout = 60
TOML
  "$VBSD" server --config "$T/server.toml" --db "$db" >"$T/server.out" 2>"$T/server.log" &
  SERVER_PID=$!; T_PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do grep -q listening "$T/server.out" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "$T/server.out" || fail "$what: server did not start: $(cat "$T/server.log")"
  "$VBSD" pki issue --pki-dir "$T/pki" --role node --name node1 --out-dir "$T/node" >/dev/null
  "$VBSD" pki issue --pki-dir "$T/pki" --role admin --name boss --out-dir "$T/boss" >/dev/null
  assert_eq 600 "$(stat -c %a "$T/node/node1.key")" "$what: node key mode"
  cat >"$T/agent.toml" <<TOML
[agent]
node = "node1"
servers = ["https://127.0.0.1:$port"]
ca = "$T/node/ca.crt"
cert = "$T/node/node1.crt"
key = "$T/node/node1.key"
nbd_socket = "$T/nbd.sock"
[[agent.pool]]
name = "p1"
path = "$T/pool"
capacity = "8G"
TOML
  ENDPOINT="https://127.0.0.1:$port"
  ID_CERT=$T/boss/boss.crt; ID_KEY=$T/boss/boss.key; ID_CA=$T/boss/ca.crt

  # A node certificate is no user: it may call only agent endpoints.
  local saved_cert=$ID_CERT saved_key=$ID_KEY
  ID_CERT=$T/node/node1.crt; ID_KEY=$T/node/node1.key
  api GET /v1/volumes; assert_status 403 UnauthorizedOperation "$what: node cert on user API"
  ID_CERT=$saved_cert; ID_KEY=$saved_key

  start_agent
  for _ in $(seq 100); do api GET /v1/pools; [ "$(jf '.pools | length')" = 1 ] && break; sleep 0.1; done
  assert_field '.pools[0].name' p1 "$what: the agent registered its pool"
  assert_field '.pools[0].node' node1 "$what: pool's node"
  assert_field '.pools[0].capacity' $((8 << 30)) "$what: pool capacity from the agent's config"

  api POST /v1/volumes '{"size":"64M","tags":{"Name":"r1"}}'; assert_status 202 "" "$what: create"
  local vol; vol=$(jf .id)
  wait_state volume "$vol" available
  assert_file "$T/pool/volumes/$vol.img" "$what: volume file"
  dd if=/dev/urandom of="$T/pool/volumes/$vol.img" bs=1M count=8 seek=4 conv=notrunc,fsync status=none
  api POST /v1/snapshots "{\"volume_id\":\"$vol\"}"; assert_status 202 "" "$what: snapshot"
  local snap; snap=$(jf .id)
  wait_state snapshot "$snap" completed
  assert_same "$T/pool/volumes/$vol.img" "$T/pool/snapshots/$snap.img" "$what: snapshot content"

  # kill -9 of the agent while it holds a claimed operation; a new agent finishes it.
  kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
  start_agent VBS_FAULT_OP_DELAY_MS=60000
  api POST /v1/volumes "{\"snapshot_id\":\"$snap\"}"; assert_status 202 "" "$what: clone"
  local clone; clone=$(jf .id)
  for _ in $(seq 100); do grep -q "$clone" "$T/agent.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "$clone" "$T/agent.log" || fail "$what: the agent never took the clone's operation"
  kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
  get_obj volume "$clone"; assert_field .state creating "$what: clone while the agent is down"
  start_agent
  wait_state volume "$clone" available
  assert_same "$T/pool/snapshots/$snap.img" "$T/pool/volumes/$clone.img" "$what: clone content"

  for v in "$vol" "$clone"; do api DELETE "/v1/volumes/$v"; assert_status 202 "" "$what: delete"; done
  for v in "$vol" "$clone"; do wait_state volume "$v" deleted; assert_no_file "$T/pool/volumes/$v.img" "$what: deleted file"; done
  api GET /v1/pools; assert_field '.pools[0].reserved' 0 "$what: reservations released"
  pool_has_no_partials "$what"

  kill -TERM "$AGENT_PID" "$SERVER_PID"
  wait "$AGENT_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  log "$what: passed"
}

pool_has_no_partials() { [ -z "$(find "$T/pool" -name '*.partial')" ] || fail "$1: .partial files left"; }

run_case "SQLite" "$T/meta.db"
# The server runs as the postgres user, which cannot enter our private temp dir; its watchdog
# (VBS_PG_OWNER_PID) stops it and removes its dir when this script ends, however it ends.
pgdir=$(mktemp -d /tmp/vbs-roles-pg-XXXXXX); chmod 755 "$pgdir"
conninfo=$(VBS_PG_OWNER_PID=$$ "$PG" start "$pgdir" | tail -1)
run_case "PostgreSQL" "$conninfo"
"$PG" stop "$pgdir" >/dev/null 2>&1 || true
echo "PASS separate_roles"
