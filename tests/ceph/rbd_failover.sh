#!/usr/bin/env bash
# System test (issue 6, step 3): an RBD volume outlives the node agent that served it. One
# `vbsd server` (SQLite) and two agents, node-a and node-b (own node certificates, data dirs,
# QMP dirs), that both declare one RBD pool of a fresh micro-ceph cluster. A volume is attached
# to host-node-b and written through node-b's NBD URI; node-b's agent is killed (-9) while the
# volume is attached. Once the server counts node-b as down, the dead node's attachment ends by
# itself, no --force needed (its lease ran out; the reason stays on the volume), the volume attaches to
# host-node-a, and node-a serves the bytes node-b wrote, read back byte for byte; the `rbd`
# CLI shows the image is the volume's, in the cluster's pool. A volume created after the kill
# is made by node-a. Nothing is left in a transitional state.
. "$(dirname "$0")/../system/lib.sh"
. "$(dirname "$0")/lib.sh"
t_init rbd_failover
ceph_start failover
for tool in rbd ceph nbdcopy nbdinfo qemu-io sqlite3; do
  command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh ceph"
done
MiB=$((1 << 20))
sql() { sqlite3 -cmd ".timeout 5000" "$T/meta.db" "$1"; }

# --- one server, two agents on one RBD pool -------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/server.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
database = "$T/meta.db"
pki_dir = "$T/pki"
op_timeout = 60
node_timeout = 5
TOML
: >"$T/server.out"
setpriv --pdeathsig KILL -- "$VBSD" server --config "$T/server.toml" >"$T/server.out" 2>"$T/server.log" &
T_PIDS+=($!)
for _ in $(seq 300); do grep -q listening "$T/server.out" && break; sleep 0.1; done
grep -q listening "$T/server.out" || fail "server did not start: $(tail -5 "$T/server.log")"
ENDPOINT="https://127.0.0.1:$port"
"$VBSD" pki issue --pki-dir "$T/pki" --role admin --name boss --out-dir "$T/boss" >/dev/null
ID_CERT=$T/boss/boss.crt; ID_KEY=$T/boss/boss.key; ID_CA=$T/boss/ca.crt

declare -A APID
start_agent() {  # NODE
  local node=$1
  mkdir -p "$T/$node/qmp"
  "$VBSD" pki issue --pki-dir "$T/pki" --role node --name "$node" --out-dir "$T/$node/cert" >/dev/null
  cat >"$T/$node/agent.toml" <<TOML
[agent]
node = "$node"
servers = ["$ENDPOINT"]
ca = "$T/$node/cert/ca.crt"
cert = "$T/$node/cert/$node.crt"
key = "$T/$node/cert/$node.key"
nbd_socket = "$T/$node/nbd.sock"
qmp_dir = "$T/$node/qmp"
[[agent.pool]]
name = "ceph"
type = "rbd"
ceph_conf = "$CEPH_CONF"
rbd_pool = "$CEPH_POOL"
capacity = "64G"
TOML
  setpriv --pdeathsig KILL -- "$VBSD" agent --config "$T/$node/agent.toml" \
    >>"$T/$node/agent.out" 2>>"$T/$node/agent.log" &
  APID[$node]=$!; T_PIDS+=("${APID[$node]}")
}
start_agent node-a
start_agent node-b
deadline=$((SECONDS + WAIT_TIMEOUT))
until api GET /v1/pools && [ "$CODE" = 200 ] &&
  [ "$(jf '[.pools[] | select(.name=="ceph")][0] | "\(.type) \(.shared) \(.state) \(.nodes | sort | join(","))"')" = "rbd true up node-a,node-b" ]; do
  [ $SECONDS -lt $deadline ] || fail "the agents did not both register the rbd pool: $BODY"
  sleep 0.2
done
log "node-a and node-b both serve RBD pool '$CEPH_POOL' as pool 'ceph'"

# wait_attachment VOL STATE...: until the volume's only attachment is in one of STATEs; sets ATT.
wait_attachment() {
  local vol=$1; shift
  local deadline=$((SECONDS + WAIT_TIMEOUT)) st
  while true; do
    get_obj volume "$vol"
    st=$(jf '.attachments[0].state // "none"')
    for want in "$@"; do [ "$st" = "$want" ] && { ATT=$(jf '.attachments[0]'); return 0; }; done
    [ $SECONDS -lt $deadline ] || fail "attachment of $vol: expected one of {$*}, last: $BODY"
    sleep 0.2
  done
}

# --- an RBD volume attached to node-b, written through node-b --------------------------------
api POST /v1/volumes '{"size":"64M","pool":"ceph","tags":{"Name":"failover"}}'
assert_status 202 "create the RBD volume"
VOL=$(jf .id)
wait_state volume "$VOL" available
assert_eq $((64 * MiB)) "$(rbdc info --format json "$VOL" | jq -r .size)" "RBD image $VOL in pool $CEPH_POOL"
api POST "/v1/volumes/$VOL/attach" '{"instance_id":"host-node-b"}'
assert_status 202 "attach to host-node-b"
wait_attachment "$VOL" attached
URI_B=$(jf .nbd_uri "$ATT")
assert_contains "$T/node-b/nbd.sock" "$URI_B" "node-b serves the attachment"
head -c $((64 * MiB)) /dev/zero >"$T/expect.img"
write_pattern "$T/expect.img" 0 $((4 * MiB)) seed-b
write_pattern "$T/expect.img" $((29 * MiB + 4097)) 300000 tail-b
write_pattern "$T/expect.img" $((64 * MiB - 8192)) 8192 end-b
nbdcopy --flush "$T/expect.img" "$URI_B" || fail "nbdcopy into $URI_B"
nbdcopy "$URI_B" "$T/through-b.img" || fail "nbdcopy out of $URI_B"
assert_same "$T/expect.img" "$T/through-b.img" "bytes read back through node-b"

# --- node-b's agent dies while the volume is attached -----------------------------------------
kill -KILL "${APID[node-b]}"; wait "${APID[node-b]}" 2>/dev/null || true
log "node-b's agent killed (-9) with $VOL attached to host-node-b"
nbdcopy "$URI_B" "$T/dead.img" 2>/dev/null && fail "node-b's NBD URI still answers after its agent died"
deadline=$((SECONDS + WAIT_TIMEOUT))
until api GET /v1/nodes && [ "$(jf '.nodes[] | select(.name=="node-b") | .state')" = down ]; do
  [ $SECONDS -lt $deadline ] || fail "node-b never counted as down: $BODY"; sleep 0.5
done
log "the server counts node-b as down"
api POST /v1/volumes '{"size":"16M","pool":"ceph"}'
assert_status 202 "create in the RBD pool with node-b down"
NEW=$(jf .id)

# The dead node's attachment ends by itself (takeover): nobody forces anything. Before the
# volume moves, node-a fences node-b's Ceph client: `ceph osd blocklist ls` lists it.
wait_state volume "$VOL" available
get_obj volume "$VOL"
assert_field '.attachments | length' 0 "live attachments after the takeover"
assert_contains "node 'node-b' lost its lease" "$(jf .failed_attachment.error)" \
  "the ended attachment says why"
CLIENT_B=$(sed -n 's/.*pool ceph: storage client \([^ ]*\).*/\1/p' "$T/node-b/agent.log" | tail -1)
assert_match '^[0-9.]+:[0-9]+/[0-9]+$' "$CLIENT_B" "node-b's Ceph client address (from its log)"
deadline=$((SECONDS + WAIT_TIMEOUT))
until timeout 30 ceph --conf "$CEPH_CONF" osd blocklist ls 2>/dev/null | grep -qF "$CLIENT_B"; do
  [ $SECONDS -lt $deadline ] || fail "node-b's client $CLIENT_B was never blocklisted"; sleep 0.5
done
log "node-b's Ceph client $CLIENT_B is blocklisted"

# --- node-a serves the volume with node-b's bytes ---------------------------------------------
deadline=$((SECONDS + WAIT_TIMEOUT))
until api POST "/v1/volumes/$VOL/attach" '{"instance_id":"host-node-a"}' && [ "$CODE" = 202 ]; do
  # Refused only while the fence is under way, and then with that reason.
  assert_contains "fencing that node out of the storage" "$BODY" "attach during the fence"
  [ $SECONDS -lt $deadline ] || fail "attach to host-node-a: $BODY"; sleep 0.3
done
assert_status 202 "attach to host-node-a"
wait_attachment "$VOL" attached
URI_A=$(jf .nbd_uri "$ATT")
assert_contains "$T/node-a/nbd.sock" "$URI_A" "node-a serves the new attachment"
nbdcopy "$URI_A" "$T/through-a.img" || fail "nbdcopy out of $URI_A"
assert_same "$T/expect.img" "$T/through-a.img" "node-b's bytes read back through node-a"
qemu-io -f raw -c "write -P 0x5a 40M 1M" -c "read -P 0x5a 40M 1M" "$URI_A" >"$T/qio.out" 2>&1 &&
  grep -q "read 1048576/1048576" "$T/qio.out" && ! grep -q "verification failed" "$T/qio.out" ||
  fail "write+read through node-a: $(cat "$T/qio.out")"
cp "$T/expect.img" "$T/expect2.img"
head -c "$MiB" /dev/zero | tr '\0' '\132' |
  dd of="$T/expect2.img" bs=1M seek=40 conv=notrunc status=none
api POST "/v1/volumes/$VOL/detach" '{}'
assert_status 202 "detach from node-a"
wait_state volume "$VOL" available
log "node-a served node-b's bytes and took new writes"

# The same image in Ceph: the pool's image named after the volume holds exactly those bytes.
assert_eq $((64 * MiB)) "$(rbdc info --format json "$VOL" | jq -r .size)" "RBD image $VOL after the failover"
rbdc export "$VOL" "$T/rbd-export.img" >/dev/null 2>&1 || fail "rbd export $CEPH_POOL/$VOL"
assert_same "$T/expect2.img" "$T/rbd-export.img" "the RBD image in pool $CEPH_POOL"

# The volume created after the kill was made by node-a.
wait_state volume "$NEW" available
assert_eq node-a "$(sql "SELECT node FROM operations WHERE resource_id = '$NEW' AND kind = 'create_volume'")" \
  "node that made the volume created after the kill"
assert_eq $((16 * MiB)) "$(rbdc info --format json "$NEW" | jq -r .size)" "RBD image of $NEW"

# node-b comes back: the attachment ended while it was down is not exported again.
start_agent node-b
deadline=$((SECONDS + WAIT_TIMEOUT))
until api GET /v1/nodes && [ "$(jf '.nodes[] | select(.name=="node-b") | .state')" = up ]; do
  [ $SECONDS -lt $deadline ] || fail "node-b did not come back: $BODY"; sleep 0.5
done
for _ in $(seq 100); do [ -S "$T/node-b/nbd.sock" ] && break; sleep 0.1; done
[ -S "$T/node-b/nbd.sock" ] || fail "node-b's NBD socket did not come back"
old_export=$(sql "SELECT export_name FROM attachments WHERE volume_id = '$VOL' AND instance_id = 'host-node-b'")
assert_match '^vbs-' "$old_export" "export name of the ended attachment"
nbdinfo --size "nbd+unix:///$old_export?socket=$T/node-b/nbd.sock" >/dev/null 2>&1 &&
  fail "node-b exports $old_export again after its restart"
# Back clean (a new process, a new client): the fence of its old client is lifted.
deadline=$((SECONDS + WAIT_TIMEOUT))
while timeout 30 ceph --conf "$CEPH_CONF" osd blocklist ls 2>/dev/null | grep -qF "$CLIENT_B"; do
  [ $SECONDS -lt $deadline ] || fail "the blocklist entry of $CLIENT_B stayed after node-b came back"
  sleep 0.5
done
log "node-b is back: its old client $CLIENT_B is no longer blocklisted"

# Nothing transitional is left; deleting leaves nothing of ours in Ceph.
for v in "$VOL" "$NEW"; do
  api DELETE "/v1/volumes/$v"; assert_status 202 "delete $v"
done
for v in "$VOL" "$NEW"; do wait_state volume "$v" deleted; done
assert_eq 0 "$(sql "SELECT count(*) FROM volumes WHERE state IN ('creating','deleting','in-use')")" "transitional volumes"
assert_eq 0 "$(sql "SELECT count(*) FROM attachments WHERE state <> 'detached'")" "live attachments"
assert_eq 0 "$(sql "SELECT count(*) FROM operations WHERE state IN ('pending','running')")" "unfinished operations"
imgs=$(rbdc ls | tr '\n' ' ')
[[ $imgs != *vol-* ]] || fail "RBD images left in the pool: $imgs"
echo "PASS ceph rbd_failover"
