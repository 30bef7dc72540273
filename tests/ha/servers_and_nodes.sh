#!/usr/bin/env bash
# No single point of failure (issue 6): two `vbsd server`s on one real PostgreSQL, each with a
# certificate for its own listen address (127.0.0.1 and 127.0.0.2), and two agents (node-a,
# node-b) with their own data dirs, node certificates and QMP directories that both declare
# one shared `dir` pool (node-b also has a local pool). Shown:
#   1. a race of rw attaches to one volume, four contenders across both servers, has exactly
#      one winner in each of 200 tries (and the database holds exactly one rw attachment);
#   2. clients spread over both servers (the CLI with an endpoint list) create, attach to
#      host-node-a / host-node-b, write and read through the NBD URI, detach and delete
#      concurrently; server 1 is killed with -9 mid-run; every client finishes through server
#      2, and nothing stays in a transitional state; the reconciler's duty moved to server 2;
#   3. after kill -9 of node-b: its local pool answers NodeUnavailable, new work of the shared
#      pool goes to node-a, and a new attachment of a shared volume (written through node-b
#      before) is served from node-a with the same bytes.
. "$(dirname "$0")/../system/lib.sh"
t_init ha
for tool in qemu-io nbdcopy stress-ng; do
  command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh system"
done
PG="$VBS_SRC/tests/pg/pg-server.sh"
PSQL=$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)
MiB=$((1 << 20))

free_port() {  # HOST
  python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1"
}

# --- PostgreSQL, servers, certificates ------------------------------------------------------
# The server runs as the postgres user, which cannot enter our private temp dir; its watchdog
# (VBS_PG_OWNER_PID) stops it and removes its dir when this script ends, however it ends.
pgdir=$(mktemp -d /tmp/vbs-ha-pg-XXXXXX); chmod 755 "$pgdir"
DB=$(VBS_PG_OWNER_PID=$$ "$PG" start "$pgdir" | tail -1)
[ -x "$PSQL" ] || fail "psql is missing after tests/pg/pg-server.sh start"
sql() { "$PSQL" "$DB" -v ON_ERROR_STOP=1 -Atc "$1"; }

declare -A HOST PORT SPID
HOST[1]=127.0.0.1; HOST[2]=127.0.0.2
for n in 1 2; do PORT[$n]=$(free_port "${HOST[$n]}"); done
EP1="https://${HOST[1]}:${PORT[1]}"; EP2="https://${HOST[2]}:${PORT[2]}"

start_server() {  # N
  local n=$1
  cat >"$T/server$n.toml" <<TOML
[server]
id = "api-$n"
listen = "${HOST[$n]}:${PORT[$n]}"
database = "$T/unused.db"
pki_dir = "$T/pki"
op_timeout = 60
# Short on purpose: a heartbeat has its own thread, connection and database connection and
# never waits behind work, so even the race below (800 attaches at once) with stress-ng
# taking both cores never counts a live node down (lease 4 s, renewed every second).
node_timeout = 6
TOML
  : >"$T/server$n.out"
  # Server 2's clock runs 10 s ahead (libfaketime): more than node_timeout. Node liveness is
  # stamped and judged by the database's clock, so neither server takes a live node for dead.
  # (Only the wall clock: FAKETIME_DONT_FAKE_MONOTONIC keeps timed waits working. The library
  # is preloaded by `env`, which execs vbsd in place: the faketime wrapper would fork, and
  # vbsd would lose --pdeathsig and outlive the test.)
  local skew=()
  if [ "$n" = 2 ]; then
    local lib; lib=$(dpkg -L libfaketime | grep '/libfaketimeMT\.so\.1$' | head -1)
    [ -n "$lib" ] || fail "libfaketime is missing after scripts/install-deps.sh system"
    skew=(env LD_PRELOAD="$lib" FAKETIME="+10s" FAKETIME_DONT_FAKE_MONOTONIC=1)
  fi
  setpriv --pdeathsig KILL -- "${skew[@]}" "$VBSD" server --config "$T/server$n.toml" --db "$DB" \
    >"$T/server$n.out" 2>>"$T/server$n.log" &
  SPID[$n]=$!; T_PIDS+=("${SPID[$n]}")
  for _ in $(seq 300); do grep -q listening "$T/server$n.out" && break; sleep 0.1; done
  grep -q listening "$T/server$n.out" || fail "server $n did not start: $(tail -5 "$T/server$n.log")"
  log "server $n (api-$n) listening on ${HOST[$n]}:${PORT[$n]}"
}
start_server 1  # makes the deployment CA in pki_dir; the second server reuses it
start_server 2

# Each server has its own certificate, valid for its own address only (besides loopback 1).
san() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -1; }
assert_contains "IP Address:127.0.0.2" "$(san "$T/pki/server-api-2.crt")" "server 2's certificate"
assert_not_contains "127.0.0.2" "$(san "$T/pki/server-api-1.crt")" "server 1's certificate"

"$VBSD" pki issue --pki-dir "$T/pki" --role admin --name boss --out-dir "$T/boss" >/dev/null
ID_CERT=$T/boss/boss.crt; ID_KEY=$T/boss/boss.key; ID_CA=$T/boss/ca.crt
ENDPOINT=$EP2
api GET /v1/pools; assert_status 200 "server 2 answers over its own certificate"
ENDPOINT=$EP1

# --- agents ----------------------------------------------------------------------------------
mkdir -p "$T/shared"
declare -A APID
start_agent() {  # NODE
  local node=$1 servers
  # Each agent prefers a different server; both fail over to the other.
  if [ "$node" = node-a ]; then servers="\"$EP1\", \"$EP2\""; else servers="\"$EP2\", \"$EP1\""; fi
  mkdir -p "$T/$node/qmp" "$T/$node/local"
  [ -f "$T/$node/cert/$node.crt" ] ||
    "$VBSD" pki issue --pki-dir "$T/pki" --role node --name "$node" --out-dir "$T/$node/cert" >/dev/null
  cat >"$T/$node/agent.toml" <<TOML
[agent]
node = "$node"
servers = [$servers]
ca = "$T/$node/cert/ca.crt"
cert = "$T/$node/cert/$node.crt"
key = "$T/$node/cert/$node.key"
nbd_socket = "$T/$node/nbd.sock"
qmp_dir = "$T/$node/qmp"
[[agent.pool]]
name = "shared"
path = "$T/shared"
capacity = "64G"
shared = true
TOML
  if [ "$node" = node-b ]; then
    cat >>"$T/$node/agent.toml" <<TOML
[[agent.pool]]
name = "local-b"
path = "$T/$node/local"
capacity = "8G"
TOML
  fi
  # Every operation lingers a little after its claim (fault injection), so that the kill of a
  # server below lands while work is in flight.
  VBS_FAULT_OP_DELAY_MS=150 setpriv --pdeathsig KILL -- "$VBSD" agent --config "$T/$node/agent.toml" \
    >>"$T/$node/agent.out" 2>>"$T/$node/agent.log" &
  APID[$node]=$!; T_PIDS+=("${APID[$node]}")
}
start_agent node-a
start_agent node-b
deadline=$((SECONDS + WAIT_TIMEOUT))
while true; do
  api GET /v1/pools
  [ "$CODE" = 200 ] && [ "$(jf '[.pools[] | select(.name=="shared") | .nodes | length] | .[0]')" = 2 ] &&
    [ "$(jf '[.pools[] | select(.state=="up")] | length')" = 2 ] && break
  [ $SECONDS -lt $deadline ] || fail "agents did not register: $BODY"
  sleep 0.2
done
log "agents node-a and node-b registered; the shared pool has both"

# capi EP METHOD PATH [BODY]: curl for background jobs (no shared files); prints "CODE BODY".
capi() {
  local ep=$1 method=$2 path=$3 out
  local args=(-sS --max-time 30 -w '\n%{http_code}' -X "$method" --cacert "$ID_CA" --cert "$ID_CERT" --key "$ID_KEY")
  if [ -n "${4-}" ]; then args+=(-H "Content-Type: application/json" --data-binary "$4"); fi
  out=$(curl "${args[@]}" "$ep$path" 2>/dev/null) || true
  echo "${out##*$'\n'} ${out%$'\n'*}"
}

# wait_all FILTER COUNT WHAT: until `jq FILTER` over GET /v1/volumes?all=true gives COUNT.
wait_all() {
  local deadline=$((SECONDS + WAIT_TIMEOUT)) got=""
  while true; do
    api GET "/v1/volumes?all=true"
    [ "$CODE" = 200 ] && got=$(jf "$1") && [ "$got" = "$2" ] && return 0
    [ $SECONDS -lt $deadline ] || fail "$3: expected $2, got '$got' after ${WAIT_TIMEOUT}s"
    sleep 0.3
  done
}

# fanout METHOD PATH-TEMPLATE BODY WHAT ITEMS...: one call per item (%s in the path stands for
# the item), ten at a time, alternating between the servers; each must answer 202. Prints the
# answers' ids in item order.
fanout() {
  local method=$1 tmpl=$2 body=$3 what=$4; shift 4
  local d; d=$(mktemp -d "$T/fanout.XXXXXX")
  local items=("$@") i pids=()
  for i in "${!items[@]}"; do
    local ep=$EP1; [ $((i % 2)) = 0 ] || ep=$EP2
    capi "$ep" "$method" "${tmpl//%s/${items[$i]}}" "$body" >"$d/$i" &
    pids+=($!)
    if [ ${#pids[@]} = 10 ]; then wait "${pids[@]}"; pids=(); fi
  done
  [ ${#pids[@]} = 0 ] || wait "${pids[@]}"
  for i in "${!items[@]}"; do
    local answer; answer=$(cat "$d/$i")
    [[ $answer == "202 "* ]] || fail "$what ${items[$i]}: $answer"
    jq -r .id <<<"${answer#202 }"
  done
}

# --- 1. the rw attach race: 200 tries, four contenders over both servers ---------------------
# Beside it, stress-ng keeps both cores busy (bounded: it stops by itself): a live node must
# never count as down, whatever the load or the servers' clocks (server 2 is 10 s ahead; any
# NodeUnavailable fails the race below).
stress-ng --cpu 2 --timeout 240 --quiet >"$T/stress.out" 2>&1 &
STRESS_PID=$!; T_PIDS+=("$STRESS_PID")
TRIES=200
log "race: creating $TRIES volumes over both servers"
mapfile -t race_vols < <(fanout POST /v1/volumes \
  '{"size":"16M","pool":"shared","tags":{"Name":"race"}}' "race volume" $(seq "$TRIES"))
assert_eq "$TRIES" "${#race_vols[@]}" "race volumes made"
wait_all '[.volumes[] | select(.tags.Name=="race" and .state=="available")] | length' "$TRIES" \
  "race volumes available"

race_one() {  # VOLUME: four rw attaches at once, two per server; prints the 202 count
  local v=$1 d; d=$(mktemp -d "$T/race.XXXXXX")
  capi "$EP1" POST "/v1/volumes/$v/attach" '{"instance_id":"host-node-a"}' >"$d/1" &
  capi "$EP2" POST "/v1/volumes/$v/attach" '{"instance_id":"host-node-b"}' >"$d/2" &
  capi "$EP2" POST "/v1/volumes/$v/attach" '{"instance_id":"host-node-a"}' >"$d/3" &
  capi "$EP1" POST "/v1/volumes/$v/attach" '{"instance_id":"host-node-b"}' >"$d/4" &
  wait  # (in this background subshell: its four calls only)
  local won=0 lost=0 other=""
  for f in "$d"/*; do
    case "$(cat "$f")" in
      "202 "*) won=$((won + 1)) ;;
      "409 "*'"code":"VolumeInUse"'*) lost=$((lost + 1)) ;;
      *) other+="$(cat "$f"); " ;;
    esac
  done
  echo "$v $won $lost $other" >"$d/result"
}
log "race: $TRIES tries of 4 concurrent rw attaches"
for ((i = 0; i < TRIES; i += 5)); do
  pids=()
  for v in "${race_vols[@]:i:5}"; do race_one "$v" & pids+=($!); done
  wait "${pids[@]}"  # (a bare wait would wait for the servers and agents too)
done
winners=0
for r in "$T"/race.*/result; do
  read -r v won lost other <"$r"
  [ "$won" = 1 ] && [ "$lost" = 3 ] || fail "race on $v: $won winners, $lost VolumeInUse, other: $other"
  winners=$((winners + 1))
done
assert_eq "$TRIES" "$winners" "races with exactly one winner"
race_list=$(printf "'%s'," "${race_vols[@]}"); race_list=${race_list%,}
assert_eq "$TRIES" "$(sql "SELECT count(*) FROM attachments WHERE volume_id IN ($race_list)")" \
  "attachment rows of the race volumes (one per volume)"
assert_eq 0 "$(sql "SELECT count(*) FROM (SELECT volume_id FROM attachments WHERE mode = 'rw' AND volume_id IN ($race_list) GROUP BY volume_id HAVING count(*) > 1) x")" \
  "volumes with more than one rw attachment"
log "race: exactly one winner in each of $TRIES tries"
wait_all '[.volumes[] | select(.tags.Name=="race") | .attachments[] | select(.state=="attached")] | length' \
  "$TRIES" "race attachments attached (exported by both nodes)"
fanout POST /v1/volumes/%s/detach '{}' "detach" "${race_vols[@]}" >/dev/null
wait_all '[.volumes[] | select(.tags.Name=="race" and .state=="available")] | length' "$TRIES" \
  "race volumes detached"
fanout DELETE /v1/volumes/%s "" "delete" "${race_vols[@]}" >/dev/null
wait_all '[.volumes[] | select(.tags.Name=="race" and .state=="deleted")] | length' "$TRIES" \
  "race volumes deleted"

kill -TERM "$STRESS_PID" 2>/dev/null || true; wait "$STRESS_PID" 2>/dev/null || true
assert_eq 0 "$(cat "$T"/node-*/agent.log | grep -c 'lease renewal refused' || true)" \
  "lease renewals refused under the race's load"

# --- 2. clients over both servers; kill -9 of server 1 mid-run -------------------------------
# cli ENDPOINTS ARGS...: the vbs CLI with an endpoint list (it fails over in order).
cli() {
  local eps=$1; shift
  VBS_ENDPOINT=$eps VBS_CA=$ID_CA VBS_CERT=$ID_CERT VBS_KEY=$ID_KEY VBS_OUTPUT='' \
    "$VBS" --timeout 90 "$@"
}
# A client converges each step: a call that failed because its server died mid-call is
# checked against the volume's state and repeated (creates carry a client token, so a repeat
# answers with the same volume).
client() {  # N ENDPOINTS HOST-INSTANCE ROUNDS
  local n=$1 eps=$2 host=$3 rounds=$4 r vol json uri try
  for r in $(seq "$rounds"); do
    vol=""
    for try in $(seq 10); do
      json=$(cli "$eps" -o json volume create --size 64M --pool shared --name "load" \
        --client-token "c$n-r$r" --wait) && vol=$(jq -r .id <<<"$json") && break
      echo "client $n: create try $try failed" >&2; sleep 0.5
    done
    [ -n "$vol" ] || { echo "client $n: create never succeeded"; return 1; }
    uri=""
    for try in $(seq 10); do
      json=$(cli "$eps" -o json volume show "$vol") || { sleep 0.5; continue; }
      uri=$(jq -r '[.attachments[] | select(.state=="attached")][0].nbd_uri // empty' <<<"$json")
      [ -n "$uri" ] && break
      if [ "$(jq '.attachments | length' <<<"$json")" = 0 ]; then
        cli "$eps" -o json attach "$vol" "$host" --wait >/dev/null || echo "client $n: attach try $try failed" >&2
      else
        sleep 0.3
      fi
    done
    [ -n "$uri" ] || { echo "client $n: $vol never attached"; return 1; }
    qemu-io -f raw -c "write -P $((n * 16 + r)) 0 1M" "$uri" >/dev/null 2>&1 &&
      qemu-io -f raw -c "read -P $((n * 16 + r)) 0 1M" "$uri" 2>&1 | grep -q "read 1048576/1048576" ||
      { echo "client $n: data through $uri did not read back"; return 1; }
    for try in $(seq 10); do
      json=$(cli "$eps" -o json volume show "$vol") || { sleep 0.5; continue; }
      [ "$(jq '.attachments | length' <<<"$json")" = 0 ] && break
      if [ "$(jq -r '.attachments[0].state' <<<"$json")" = attached ]; then
        cli "$eps" detach "$vol" --wait >/dev/null || echo "client $n: detach try $try failed" >&2
      else
        sleep 0.3
      fi
    done
    for try in $(seq 10); do
      json=$(cli "$eps" -o json volume show "$vol") || { sleep 0.5; continue; }
      [ "$(jq -r .state <<<"$json")" = deleted ] && break
      if [ "$(jq -r .state <<<"$json")" = available ]; then
        cli "$eps" volume delete "$vol" --wait >/dev/null || echo "client $n: delete try $try failed" >&2
      else
        sleep 0.3
      fi
    done
    [ "$(jq -r .state <<<"$json")" = deleted ] || { echo "client $n: $vol not deleted: $json"; return 1; }
  done
  echo "client $n: ok"
}
CLIENTS=8; ROUNDS=3
log "load: $CLIENTS clients x $ROUNDS rounds over both servers"
cpids=()
for n in $(seq "$CLIENTS"); do
  if [ $((n % 2)) = 0 ]; then eps="$EP2,$EP1"; host=host-node-a; else eps="$EP1,$EP2"; host=host-node-b; fi
  client "$n" "$eps" "$host" "$ROUNDS" >"$T/client$n.out" 2>"$T/client$n.err" &
  cpids+=($!)
done
# kill -9 server 1 once the clients are in the middle of their work, with operations in flight.
deadline=$((SECONDS + WAIT_TIMEOUT))
while [ "$(sql "SELECT count(*) FROM volumes WHERE tags LIKE '%\"load\"%'")" -lt $((CLIENTS + 2)) ] ||
  [ "$(sql "SELECT count(*) FROM operations WHERE state IN ('pending','running')")" = 0 ]; do
  [ $SECONDS -lt $deadline ] || fail "the clients made no progress"
  sleep 0.2
done
kill -KILL "${SPID[1]}"; wait "${SPID[1]}" 2>/dev/null || true
log "server 1 killed (-9) with $(sql "SELECT count(*) FROM operations WHERE state IN ('pending','running')") operations in flight"
failed=0
for i in "${!cpids[@]}"; do
  wait "${cpids[$i]}" || { failed=1; echo "--- client $((i + 1)):" >&2; cat "$T/client$((i + 1)).out" "$T/client$((i + 1)).err" >&2; }
done
[ $failed = 0 ] || fail "a client did not finish its work after server 1 died"
log "load: every client finished through server 2 ($(cat "$T"/client*.err | grep -c failed || true) calls repeated)"
assert_eq "$((CLIENTS * ROUNDS))" "$(sql "SELECT count(*) FROM volumes WHERE tags LIKE '%\"load\"%' AND state = 'deleted'")" \
  "load volumes deleted (one per client round: no duplicate from a resent create)"

# Nothing transitional is left anywhere, and server 2 now runs the reconciler.
ENDPOINT=$EP2
assert_eq 0 "$(sql "SELECT count(*) FROM volumes WHERE state IN ('creating','deleting','in-use')")" "transitional volumes"
assert_eq 0 "$(sql "SELECT count(*) FROM attachments WHERE state <> 'detached'")" "live attachments"
assert_eq 0 "$(sql "SELECT count(*) FROM operations WHERE state IN ('pending','running')")" "unfinished operations"
# The reconciler's lease passes to server 2 once server 1's has run out (if it was 1's).
deadline=$((SECONDS + WAIT_TIMEOUT))
until [[ $(sql "SELECT holder FROM leases WHERE name = 'reconciler'") == api-2/* ]]; do
  [ $SECONDS -lt $deadline ] || fail "the reconciler lease stayed with $(sql "SELECT holder FROM leases")"
  sleep 0.5
done
grep -q "reconciler api-2/.*now leads the sweep" "$T/server2.log" || fail "server 2 never led the sweep"
# Each lease expiry was requeued once (by whichever server led then), never twice.
dups=$(cat "$T"/server*.log | sed -n 's/.*operation \(op-[0-9a-f]*\) .*lease expired, requeued.*/\1/p' | sort | uniq -d)
assert_eq "" "$dups" "operations requeued twice"

# Server 1 comes back and serves again.
start_server 1
ENDPOINT=$EP1
api GET /v1/volumes; assert_status 200 "server 1 after its restart"

# --- 3. kill -9 of node-b ---------------------------------------------------------------------
log "node-b: a shared volume written through node-b, and a local one"
ENDPOINT=$EP2
api POST /v1/volumes '{"size":"32M","pool":"shared"}'; assert_status 202 "shared volume"
SV=$(jf .id)
api POST /v1/volumes '{"size":"32M","pool":"local-b"}'; assert_status 202 "local volume"
LV=$(jf .id)
wait_state volume "$SV" available
wait_state volume "$LV" available
api POST "/v1/volumes/$SV/attach" '{"instance_id":"host-node-b"}'; assert_status 202 "attach on node-b"
wait_state volume "$SV" in-use
deadline=$((SECONDS + WAIT_TIMEOUT))
until get_obj volume "$SV" && [ "$(jf '.attachments[0].state')" = attached ]; do
  [ $SECONDS -lt $deadline ] || fail "attach on node-b: $BODY"; sleep 0.2
done
URI_B=$(jf '.attachments[0].nbd_uri')
assert_contains "$T/node-b/nbd.sock" "$URI_B" "node-b serves its attachment"
write_pattern "$T/pattern" 0 $((4 * MiB)) ha-seed
nbdcopy "$T/pattern" "$URI_B" || fail "nbdcopy to $URI_B"
api POST "/v1/volumes/$SV/detach" '{}'; assert_status 202 "detach from node-b"
wait_state volume "$SV" available

kill -KILL "${APID[node-b]}"; wait "${APID[node-b]}" 2>/dev/null || true
log "node-b killed (-9); waiting until the servers count it down"
deadline=$((SECONDS + WAIT_TIMEOUT))
until api GET /v1/nodes && [ "$(jf '.nodes[] | select(.name=="node-b") | .state')" = down ]; do
  [ $SECONDS -lt $deadline ] || fail "node-b never counted as down: $BODY"; sleep 0.5
done

log "node-b counts as down"
# Its local pool says so clearly, at once; nothing is queued for it.
api POST /v1/volumes '{"size":"32M","pool":"local-b"}'
assert_status 503 NodeUnavailable "create in a dead node's local pool"
assert_contains "node-b" "$BODY" "the error names the node"
api DELETE "/v1/volumes/$LV"
assert_status 503 NodeUnavailable "delete in a dead node's local pool"
get_obj volume "$LV"; assert_field .state available "the local volume is unchanged"
api POST "/v1/volumes/$SV/attach" '{"instance_id":"host-node-b"}'
assert_status 503 NodeUnavailable "attach to the dead node's host"
api GET /v1/pools
assert_eq down "$(jf '.pools[] | select(.name=="local-b") | .state')" "the local pool is down"
assert_eq up "$(jf '.pools[] | select(.name=="shared") | .state')" "the shared pool is up (node-a)"

# New work of the shared pool goes to node-a; a new attachment is served from node-a.
api POST /v1/volumes '{"size":"32M","pool":"shared"}'; assert_status 202 "shared volume with node-b down"
NV=$(jf .id)
wait_state volume "$NV" available
assert_eq node-a "$(sql "SELECT node FROM operations WHERE resource_id = '$NV'")" "node of the new volume's work"
log "a new shared volume was made by node-a"
ENDPOINT=$EP1
api POST "/v1/volumes/$SV/attach" '{"instance_id":"host-node-a"}'; assert_status 202 "attach on node-a"
deadline=$((SECONDS + WAIT_TIMEOUT))
until get_obj volume "$SV" && [ "$(jf '.attachments[0].state')" = attached ]; do
  [ $SECONDS -lt $deadline ] || fail "attach on node-a: $BODY"; sleep 0.2
done
URI_A=$(jf '.attachments[0].nbd_uri')
assert_contains "$T/node-a/nbd.sock" "$URI_A" "node-a serves the shared volume"
nbdcopy "$URI_A" "$T/readback" || fail "nbdcopy from $URI_A"
cmp -n $((4 * MiB)) "$T/pattern" "$T/readback" || fail "the shared volume's bytes through node-a differ"
qemu-io -f raw -c "write -P 0x5a 8M 1M" -c "read -P 0x5a 8M 1M" "$URI_A" >"$T/qio.out" 2>&1 &&
  grep -q "read 1048576/1048576" "$T/qio.out" || fail "write+read through node-a: $(cat "$T/qio.out")"
log "the shared volume is served from node-a with node-b's bytes"

kill -TERM "${SPID[1]}" "${SPID[2]}" "${APID[node-a]}"
"$PG" stop "$pgdir" >/dev/null 2>&1 || true
echo "PASS ha servers_and_nodes"
