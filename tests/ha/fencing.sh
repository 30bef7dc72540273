#!/usr/bin/env bash
# No split brain (issue 11): node leases, write fencing and automatic takeover, with real
# processes. One `vbsd server` (node_timeout 6 s: a lease of 4 s, renewed every second, and
# a margin of 2 s), two agents (node-a, node-b) that declare one shared `dir` pool; node-a
# reaches the server only through a TCP proxy that the test can cut. A client that never
# reconnects (nbd_writer.py) writes 0xAA blocks through node-a's export all along.
#   a. pause: kill -STOP node-a's agent. Without --force, its attachment ends by itself (the
#      reason is recorded), the volume attaches rw on node-b and is filled with 0x55 there;
#      kill -CONT: the writes that waited in the paused agent fail, the client is cut off,
#      and not one 0xAA byte reaches the volume afterwards. Takeover time is printed.
#   b. partition: the proxy dies, the agent keeps its client: its writes fail within the
#      lease; the volume moves to node-b as above; the proxy comes back: node-a says hello
#      again and does not export the volume again.
# With FENCING_POOL=rbd (ctest ceph_fencing) the shared pool is a Ceph RBD pool of a fresh
# micro-ceph cluster instead, and each takeover also shows node-a's Ceph client in
# `ceph osd blocklist ls` before node-b writes; the entry is lifted once node-a is back.
. "$(dirname "$0")/../system/lib.sh"
. "$(dirname "$0")/lib.sh"
t_init fencing
POOL_KIND=${FENCING_POOL:-dir}
if [ "$POOL_KIND" = rbd ]; then
  . "$(dirname "$0")/../ceph/lib.sh"
  ceph_start fencing
fi
# Debian's tools first: the nbd module is the system python3's.
export PATH=/usr/bin:/bin:$PATH
python3 -c 'import nbd' 2>/dev/null || fail "python3-libnbd is missing after scripts/install-deps.sh"
for tool in nbdcopy nbdinfo; do
  command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh"
done
HERE=$(cd "$(dirname "$0")" && pwd)
MiB=$((1 << 20))
NODE_TIMEOUT=6

ha_server "node_timeout = $NODE_TIMEOUT"

# node-a's only way to the server: a proxy the test can cut (the partition).
PROXY_PORT=$(free_port)
PROXY_PID=""
proxy_start() {
  python3 "$HERE/tcp_proxy.py" "$PROXY_PORT" 127.0.0.1 "$PORT" >"$T/proxy.out" 2>&1 &
  PROXY_PID=$!; T_PIDS+=("$PROXY_PID")
  for _ in $(seq 100); do grep -q listening "$T/proxy.out" 2>/dev/null && return 0; sleep 0.05; done
  fail "the proxy did not start"
}
proxy_start

mkdir -p "$T/shared"
declare -A APID
start_agent() {  # NODE SERVER-URL
  local node=$1 url=$2 cfg
  cfg=$(ha_agent_config "$node" "$url")
  if [ "$POOL_KIND" = rbd ]; then
    cat >>"$cfg" <<TOML
[[agent.pool]]
name = "shared"
type = "rbd"
ceph_conf = "$CEPH_CONF"
rbd_pool = "$CEPH_POOL"
capacity = "8G"
TOML
  else
    cat >>"$cfg" <<TOML
[[agent.pool]]
name = "shared"
path = "$T/shared"
capacity = "8G"
shared = true
TOML
  fi
  # In a process group of its own: a stopped process in an orphaned process group gets
  # SIGHUP and SIGCONT from the kernel whenever a process of that group exits, which happens
  # when the test itself runs in one (e.g. under a CI runner's fresh session).
  python3 -c 'import os, sys; os.setpgid(0, 0); os.execvp(sys.argv[1], sys.argv[1:])' \
    setpriv --pdeathsig KILL -- "$VBSD" agent --config "$T/$node/agent.toml" \
    >>"$T/$node/agent.out" 2>>"$T/$node/agent.log" &
  APID[$node]=$!; T_PIDS+=("${APID[$node]}")
}
start_agent node-a "https://127.0.0.1:$PROXY_PORT"
start_agent node-b "$EP"
deadline=$((SECONDS + WAIT_TIMEOUT))
until api GET /v1/nodes && [ "$(jf '[.nodes[] | select(.state=="up")] | length')" = 2 ]; do
  [ $SECONDS -lt $deadline ] || fail "agents did not register: $BODY"; sleep 0.2
done
log "server (node_timeout ${NODE_TIMEOUT}s), node-a (through the proxy) and node-b are up"

attach_on() {  # VOLUME NODE: attaches rw and waits; sets URI
  local deadline=$((SECONDS + WAIT_TIMEOUT))
  # Refused only while the old node is being fenced out of the storage (RBD), and so said.
  until api POST "/v1/volumes/$1/attach" "{\"instance_id\":\"host-$2\"}" && [ "$CODE" != 409 ]; do
    assert_contains "fencing that node out of the storage" "$BODY" "attach $1 on $2 while fencing"
    [ $SECONDS -lt $deadline ] || fail "attach $1 on $2: $BODY"; sleep 0.3
  done
  assert_status 202 "attach $1 on $2"
  deadline=$((SECONDS + WAIT_TIMEOUT))
  until get_obj volume "$1" && [ "$(jf '.attachments[0].state')" = attached ]; do
    [ $SECONDS -lt $deadline ] || fail "attach $1 on $2: $BODY"; sleep 0.1
  done
  URI=$(jf '.attachments[0].nbd_uri')
  assert_contains "$T/$2/nbd.sock" "$URI" "$2 serves the attachment"
}

# wait_taken_over VOLUME: until the attachment on node-a has ended by itself (no --force).
wait_taken_over() {
  local deadline=$((SECONDS + WAIT_TIMEOUT))
  until get_obj volume "$1" && [ "$(jf .state)" = available ]; do
    [ $SECONDS -lt $deadline ] || fail "the attachment of $1 on node-a never ended: $BODY"
    sleep 0.1
  done
}

# check_only_b VOLUME: every byte of the writer's region is node-b's 0x55, read from the
# volume's file in the shared pool (no export in between).
check_only_b() {
  local img="$T/shared/volumes/$1.img"
  if [ "$POOL_KIND" = rbd ]; then
    img=$T/export.img; rm -f "$img"
    rbdc export "$1" "$img" >/dev/null 2>&1 || fail "rbd export $1"
  fi
  [ -f "$img" ] || fail "no volume file $img"
  head -c $((8 * MiB)) /dev/zero | tr '\0' '\125' >"$T/expect"
  cmp -n $((8 * MiB)) "$img" "$T/expect" ||
    fail "bytes other than node-b's reached $1 after the takeover (a write from node-a landed)"
}

scenario() {  # NAME CUT-COMMAND HEAL-COMMAND
  local name=$1 cut=$2 heal=$3
  api POST /v1/volumes '{"size":"16M","pool":"shared"}'; assert_status 202 "volume for $name"
  local vol; vol=$(jf .id)
  wait_state volume "$vol" available
  attach_on "$vol" node-a
  local uri_a=$URI
  rm -f "$T/stop.$name"
  python3 "$HERE/nbd_writer.py" "$uri_a" "$T/writer.$name.log" "$T/stop.$name" 0xAA &
  local wpid=$!; T_PIDS+=("$wpid")
  local deadline=$((SECONDS + WAIT_TIMEOUT))
  local acked=0
  until [ "$acked" -ge 10 ]; do
    acked=$(grep -c ' ok ' "$T/writer.$name.log" 2>/dev/null || true); acked=${acked:-0}
    [ $SECONDS -lt $deadline ] || fail "$name: the writer made no progress: $(cat "$T/writer.$name.log")"
    sleep 0.1
  done
  grep -q ' err ' "$T/writer.$name.log" && fail "$name: writes failed before the cut: $(grep ' err ' "$T/writer.$name.log" | head -3)"
  eval "$cut"
  # The cut's time is taken after it took effect: a write sent while `kill -STOP` (or the
  # proxy's cut) was still on its way reached node-a before the cut and may be acknowledged.
  local t0; t0=$(date +%s.%N)
  log "$name: node-a cut off ($cut)"
  wait_taken_over "$vol"
  local t1; t1=$(date +%s.%N)
  local took; took=$(python3 -c "print('%.1f' % ($t1 - $t0))")
  log "$name: the attachment on node-a ended by itself ${took}s after the cut"
  echo "${name%%-*} $took" >>"$T/takeover_times"
  # The reason is on record, for `vbs volume show`.
  get_obj volume "$vol"
  assert_contains "lost its lease" "$(jf .failed_attachment.error)" "$name: the ended attachment says why"
  VBS_ENDPOINT=$EP VBS_CA=$ID_CA VBS_CERT=$ID_CERT VBS_KEY=$ID_KEY VBS_OUTPUT='' \
    "$VBS" volume show "$vol" >"$T/show" 2>&1 || fail "vbs volume show: $(cat "$T/show")"
  grep -q "last attach.*host-node-a (rw) ended: node 'node-a' lost its lease" "$T/show" ||
    fail "$name: vbs volume show does not say why: $(cat "$T/show")"
  if [ "$POOL_KIND" = rbd ]; then  # node-a's Ceph client is fenced before the volume moves
    local client; client=$(sed -n 's/.*pool shared: storage client \([^ ]*\).*/\1/p' "$T/node-a/agent.log" | tail -1)
    [ -n "$client" ] || fail "$name: node-a's Ceph client is not in its log"
    deadline=$((SECONDS + WAIT_TIMEOUT))
    until timeout 30 ceph --conf "$CEPH_CONF" osd blocklist ls 2>/dev/null | grep -qF "$client"; do
      [ $SECONDS -lt $deadline ] || fail "$name: node-a's client $client was never blocklisted"; sleep 0.3
    done
    log "$name: node-a's Ceph client $client is blocklisted"
  fi
  attach_on "$vol" node-b
  local uri_b=$URI
  head -c $((8 * MiB)) /dev/zero | tr '\0' '\125' >"$T/fill"
  nbdcopy "$T/fill" "$uri_b" || fail "$name: nbdcopy through node-b"
  log "$name: the volume is attached rw on node-b and filled with 0x55"
  eval "$heal"
  log "$name: node-a back ($heal)"
  # node-a says hello again; its writes were refused meanwhile; then the client is cut off.
  deadline=$((SECONDS + WAIT_TIMEOUT))
  until grep -q "registered (epoch [2-9]" "$T/node-a/agent.log" &&
    [ "$(grep -c "registered (epoch" "$T/node-a/agent.log")" -ge "$EXPECT_HELLOS" ]; do
    [ $SECONDS -lt $deadline ] || fail "$name: node-a never said hello again: $(tail -5 "$T/node-a/agent.log")"
    sleep 0.2
  done
  sleep 1  # the writer tries a few more times against whatever node-a still serves
  touch "$T/stop.$name"; wait "$wpid" || true
  # Writes sent after the cut (pause: any; partition: once the last lease can have run out)
  # were never acknowledged, and the client saw errors. (A write sent before the cut may be
  # acknowledged late: it reached the device before the cut. The bytes below are the proof.)
  local after; after=$(awk -v t0="$t0" '$1 > t0' "$T/writer.$name.log")
  assert_contains " err " "$after" "$name: the writer saw its writes fail after the cut"
  local late_ok
  late_ok=$(awk -v t="$(python3 -c "print($t0 + $ACK_GRACE)")" '$1 > t && $3 == "ok"' "$T/writer.$name.log" | wc -l)
  assert_eq 0 "$late_ok" "$name: writes sent more than ${ACK_GRACE}s after the cut and acknowledged"
  check_only_b "$vol"
  # node-a does not serve the volume again: no re-export, and its old URI is dead.
  if grep -q "re-exported $vol" "$T/node-a/agent.log"; then fail "$name: node-a re-exported $vol"; fi
  if nbdinfo "$uri_a" >/dev/null 2>&1; then fail "$name: node-a still serves $uri_a"; fi
  if [ "$POOL_KIND" = rbd ]; then  # node-a is back: its client is let in again
    deadline=$((SECONDS + WAIT_TIMEOUT))
    while timeout 30 ceph --conf "$CEPH_CONF" osd blocklist ls 2>/dev/null | grep -qF "$client"; do
      [ $SECONDS -lt $deadline ] || fail "$name: $client stayed blocklisted after node-a came back"
      sleep 0.3
    done
  fi
  api POST "/v1/volumes/$vol/detach" '{}'; assert_status 202 "$name: detach from node-b"
  wait_state volume "$vol" available
  log "$name: not one write from node-a reached the volume after the takeover"
}

# PAUSE_ROUNDS (default 1): bench/takeover repeats the pause to measure the takeover time.
EXPECT_HELLOS=1; ACK_GRACE=0
for round in $(seq "${PAUSE_ROUNDS:-1}"); do
  EXPECT_HELLOS=$((EXPECT_HELLOS + 1))
  scenario "pause-$round" 'kill -STOP ${APID[node-a]}' 'kill -CONT ${APID[node-a]}'
done
grep -q "lease renewal refused" "$T/node-a/agent.log" || fail "node-a never learnt it lost its lease"
EXPECT_HELLOS=$((EXPECT_HELLOS + 1)); ACK_GRACE=$((NODE_TIMEOUT * 2 / 3))  # the lease
scenario partition 'kill -KILL $PROXY_PID; wait $PROXY_PID 2>/dev/null || true' 'proxy_start'

# The server never took node-b for dead, and node-a is up again.
api GET /v1/nodes
assert_eq "up up" "$(jf '[.nodes[] | .state] | join(" ")')" "both nodes up at the end"
# Every takeover is in the server's metrics: one per scenario, each ending one attachment.
takeovers=$((${PAUSE_ROUNDS:-1} + 1))
api GET /metrics; assert_status 200 "the admin reads /metrics"
assert_contains "vbs_node_takeovers_total{node=\"node-a\"} $takeovers" "$BODY" "node-a's takeovers are counted"
assert_contains "vbs_takeover_attachments_ended_total{node=\"node-a\"} $takeovers" "$BODY" "the attachments they ended"
assert_not_contains 'vbs_node_takeovers_total{node="node-b"}' "$BODY" "node-b was never taken over"
cat "$T/takeover_times" >&2
[ -z "${TAKEOVER_TIMES_OUT:-}" ] || cp "$T/takeover_times" "$TAKEOVER_TIMES_OUT"
echo "PASS ha fencing"
