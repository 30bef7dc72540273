#!/usr/bin/env bash
# Restarting an agent drops no connection (issue 11): `kill -USR2` makes `vbsd agent` execute
# itself again (same PID, the binary at its path), handing its NBD listener and every client
# connection to the new program, which goes on serving them. Two consumers that never
# reconnect run across 5 restarts: a libnbd client writing random blocks and reading each one
# back (nbd_verifier.py), and an ext4 file system mounted through nbdfuse and a loop device,
# written by a shell loop. Shown: zero errors, every read-back equal, progress after every
# restart, the files' checksums and a clean e2fsck -fn at the end, and a new agent epoch per
# restart (each successor says hello). Then the same once for `vbsd dev`, whose server part
# restarts with the process while its NBD client goes on.
. "$(dirname "$0")/../system/lib.sh"
. "$(dirname "$0")/lib.sh"
t_init agent_reexec
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH  # Debian's python3 has the nbd module
python3 -c 'import nbd' 2>/dev/null || fail "python3-libnbd is missing after scripts/install-deps.sh"
for tool in nbdfuse mkfs.ext4 e2fsck mount umount sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh"
done
HERE=$(cd "$(dirname "$0")" && pwd)
RESTARTS=5

ha_server
cfg=$(ha_agent_config node-a "$EP")
mkdir -p "$T/pool"
cat >>"$cfg" <<TOML
[[agent.pool]]
name = "local"
path = "$T/pool"
capacity = "4G"
TOML
setpriv --pdeathsig KILL -- "$VBSD" agent --config "$cfg" >"$T/agent.out" 2>"$T/agent.log" &
AGENT=$!; T_PIDS+=("$AGENT")
deadline=$((SECONDS + WAIT_TIMEOUT))
until api GET /v1/nodes && [ "$(jf '[.nodes[] | select(.state=="up")] | length')" = 1 ]; do
  [ $SECONDS -lt $deadline ] || fail "the agent did not register: $BODY"; sleep 0.2
done

attach_volume() {  # SIZE: creates, attaches to host-node-a; sets VOL and URI
  api POST /v1/volumes "{\"size\":\"$1\"}"; assert_status 202 "create a $1 volume"
  VOL=$(jf .id)
  wait_state volume "$VOL" available
  api POST "/v1/volumes/$VOL/attach" '{"instance_id":"host-node-a"}'; assert_status 202 "attach $VOL"
  local deadline=$((SECONDS + WAIT_TIMEOUT))
  until get_obj volume "$VOL" && [ "$(jf '.attachments[0].state')" = attached ]; do
    [ $SECONDS -lt $deadline ] || fail "attach $VOL: $BODY"; sleep 0.1
  done
  URI=$(jf '.attachments[0].nbd_uri')
}

# Consumer 1: verified writes over one connection.
attach_volume 64M
URI1=$URI
python3 "$HERE/nbd_verifier.py" "$URI1" "$T/verifier.log" "$T/stop" &
VERIFIER=$!; T_PIDS+=("$VERIFIER")

# Consumer 2: ext4 through nbdfuse + a loop device, written all along.
attach_volume 256M
mkdir -p "$T/fuse" "$T/mnt"
nbdfuse "$T/fuse" "$URI" &  # ends when its mount is unmounted (cleanup does that)
T_MOUNTS+=("$T/fuse")
for _ in $(seq 100); do [ -e "$T/fuse/nbd" ] && break; sleep 0.1; done
[ -e "$T/fuse/nbd" ] || fail "nbdfuse did not expose $URI"
mkfs.ext4 -q -F "$T/fuse/nbd" || fail "mkfs.ext4 through nbdfuse"
mount -o loop "$T/fuse/nbd" "$T/mnt" || fail "loop mount"
T_MOUNTS=("$T/mnt" "${T_MOUNTS[@]}")
(
  i=0
  while [ ! -e "$T/stop" ] && [ $i -lt 100000 ]; do
    head -c $((40000 + i * 97 % 200000)) /dev/urandom >"$T/mnt/f$i" || { echo "write f$i failed"; exit 1; }
    [ $((i % 10)) = 0 ] && { sync -f "$T/mnt" || { echo "sync failed at f$i"; exit 1; }; }
    echo "$i" >"$T/fs.progress"
    i=$((i + 1)); sleep 0.02
  done
) >"$T/fs.out" 2>&1 &
WRITER=$!; T_PIDS+=("$WRITER")

progress() {  # prints "VERIFIED FILES"
  local v; v=$(grep -c ' ok ' "$T/verifier.log" 2>/dev/null || true)
  echo "${v:-0} $(cat "$T/fs.progress" 2>/dev/null || echo 0)"
}
wait_progress() {  # WHAT: both consumers move on from where they are now
  local before after deadline=$((SECONDS + WAIT_TIMEOUT))
  read -r v0 f0 <<<"$(progress)"
  while true; do
    read -r v1 f1 <<<"$(progress)"
    [ "${v1:-0}" -gt "${v0:-0}" ] && [ "${f1:-0}" -gt "${f0:-0}" ] && return 0
    [ $SECONDS -lt $deadline ] || fail "$1: no progress (verified ${v0}->${v1}, files ${f0}->${f1})"
    sleep 0.1
  done
}
wait_progress "before any restart"
log "consumers running: $(progress) (verified blocks, files)"

for r in $(seq "$RESTARTS"); do
  kill -USR2 "$AGENT"
  deadline=$((SECONDS + WAIT_TIMEOUT))
  until [ "$(grep -c 'took over' "$T/agent.log")" -ge "$r" ]; do
    kill -0 "$AGENT" 2>/dev/null || fail "restart $r: the agent died: $(tail -5 "$T/agent.log")"
    [ $SECONDS -lt $deadline ] || fail "restart $r: no successor took over: $(tail -5 "$T/agent.log")"
    sleep 0.1
  done
  # Every connection the old program had was taken over (nbdfuse opens several).
  handed=$(grep -o 'handing over [0-9]* export(s), [0-9]* connection' "$T/agent.log" | tail -1 | awk '{print $5}')
  took=$(grep -o 'took over [0-9]* connection' "$T/agent.log" | tail -1 | awk '{print $3}')
  [ "${handed:-0}" -ge 2 ] && [ "$took" = "$handed" ] ||
    fail "restart $r: $handed connection(s) handed over, $took taken over"
  wait_progress "after restart $r"
  log "restart $r: all $took connections kept, consumers at $(progress)"
done
# Every successor said hello (a new epoch each time) and the node stayed up.
assert_eq $((RESTARTS + 1)) "$(grep -c 'registered (epoch' "$T/agent.log")" "hellos (one per process)"
api GET /v1/nodes; assert_eq up "$(jf '.nodes[0].state')" "the node after the restarts"

touch "$T/stop"
wait "$VERIFIER" || fail "the verifier failed"
wait "$WRITER" || fail "the file writer failed: $(cat "$T/fs.out")"
read -r _ ok errors < <(grep '^done' "$T/verifier.log")
assert_eq 0 "$errors" "verifier errors across $RESTARTS restarts ($(grep ' err ' "$T/verifier.log" | head -3))"
[ "$ok" -gt 0 ] || fail "the verifier verified nothing"
(cd "$T/mnt" && sha256sum f* >"$T/sums")
umount "$T/mnt" || fail "umount"
T_MOUNTS=("$T/fuse")
e2fsck -fn "$T/fuse/nbd" >"$T/fsck.out" 2>&1 || fail "e2fsck -fn after the restarts: $(cat "$T/fsck.out")"
mount -o loop,ro "$T/fuse/nbd" "$T/mnt" || fail "remount"
T_MOUNTS=("$T/mnt" "${T_MOUNTS[@]}")
(cd "$T/mnt" && sha256sum -c --quiet "$T/sums") || fail "file contents after the restarts"
umount "$T/mnt"; T_MOUNTS=("$T/fuse")
log "$RESTARTS restarts: $ok blocks verified, 0 errors, $(wc -l <"$T/sums") files intact, e2fsck clean"
umount "$T/fuse"; T_MOUNTS=()

# --- vbsd dev: server and agent in one process ----------------------------------------------
kill -TERM "$AGENT"; wait "$AGENT" 2>/dev/null || true
DEVPORT=$(free_port)
VBSD_PORT=$DEVPORT
vbsd_start
create_volume 32M; wait_state volume "$VID" available
api POST "/v1/volumes/$VID/attach" '{"instance_id":"host-local"}'; assert_status 202 "dev attach"
deadline=$((SECONDS + WAIT_TIMEOUT))
until get_obj volume "$VID" && [ "$(jf '.attachments[0].state')" = attached ]; do
  [ $SECONDS -lt $deadline ] || fail "dev attach: $BODY"; sleep 0.1
done
rm -f "$T/stop"
python3 "$HERE/nbd_verifier.py" "$(jf '.attachments[0].nbd_uri')" "$T/dev.log" "$T/stop" 8388608 &
DEVV=$!; T_PIDS+=("$DEVV")
deadline=$((SECONDS + WAIT_TIMEOUT)); n=0
until [ "$n" -ge 20 ]; do
  n=$(grep -c ' ok ' "$T/dev.log" 2>/dev/null || true); n=${n:-0}
  [ $SECONDS -lt $deadline ] || fail "vbsd dev: the verifier made no progress"; sleep 0.1
done
for r in $(seq "$RESTARTS"); do
  kill -USR2 "$VBSD_PID"
  deadline=$((SECONDS + WAIT_TIMEOUT))
  until [ "$(cat "$T"/vbsd.*.log | grep -c "took over 1 connection")" -ge "$r" ]; do
    kill -0 "$VBSD_PID" 2>/dev/null || fail "vbsd dev restart $r: the process died"
    [ $SECONDS -lt $deadline ] || fail "vbsd dev restart $r: no successor took over: $(tail -5 "$T"/vbsd.1.log)"
    sleep 0.1
  done
  # The server part is back on the same port, and the NBD client goes on.
  deadline=$((SECONDS + WAIT_TIMEOUT))
  until api GET /v1/volumes && [ "$CODE" = 200 ]; do
    [ $SECONDS -lt $deadline ] || fail "vbsd dev restart $r: the API did not come back"; sleep 0.2
  done
  n0=$(grep -c ' ok ' "$T/dev.log"); deadline=$((SECONDS + WAIT_TIMEOUT))
  until [ "$(grep -c ' ok ' "$T/dev.log")" -gt "$n0" ]; do
    [ $SECONDS -lt $deadline ] || fail "vbsd dev restart $r: the NBD client made no progress"; sleep 0.1
  done
done
touch "$T/stop"; wait "$DEVV" || true
read -r _ ok errors < <(grep '^done' "$T/dev.log")
assert_eq 0 "$errors" "vbsd dev: verifier errors across $RESTARTS re-execs"
log "vbsd dev: $RESTARTS re-execs, API back on its port each time, the NBD client verified $ok blocks with 0 errors"
echo "PASS ha agent_reexec"
