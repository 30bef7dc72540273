#!/usr/bin/env bash
# Host attach over NBD, end to end: `vbs attach VOL host-local --wait` makes `vbsd dev` serve
# the volume on its unix socket, and real NBD clients (nbdinfo, qemu-io, qemu-img, nbdcopy,
# fio's nbd engine) read and write it; the bytes land in the volume's file. A rw attachment is
# exclusive and blocks delete; detach fences (the URI stops working at once); ro refuses
# writes; a kill -9 keeps the attachment and the agent re-exports it under the same URI; a
# snapshot of the in-use volume holds the data written before it; an online resize reaches
# the clients, which learn the new size when they (re)connect.
. "$(dirname "$0")/lib.sh"
t_init host_attach
for tool in nbdinfo nbdcopy qemu-io qemu-img fio; do
  command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh system"
done
fio --enghelp=nbd >/dev/null 2>&1 || fail "this fio has no nbd engine"
# libnbd's Python binding (a Debian package: the system python) for what the command-line
# clients cannot do: a write the client does not stop itself, a connection held across detach.
PY=/usr/bin/python3
"$PY" -c 'import nbd' 2>/dev/null || fail "python3-libnbd is missing after install-deps.sh system"

# py_raw_write URI: a write sent to the server even though the export says read-only
# (libnbd's own check is off), so it is the server that must refuse it.
py_raw_write() {
  "$PY" - "$1" <<'PYEOF'
import nbd, sys
h = nbd.NBD()
h.set_strict_mode(0)  # no client-side check: the write must reach the server
h.connect_uri(sys.argv[1])
if not h.is_read_only():
    sys.exit("the export does not say it is read-only")
try:
    h.pwrite(b"\xee" * 4096, 0)
except nbd.Error as e:
    print("refused by the server:", e.string)
    sys.exit(0)
sys.exit("a write through the read-only export succeeded")
PYEOF
}
# py_hold URI: connects and reads, says "ready", waits for a line on fd 3, reads again and
# prints "cut off" (exit 0) when that read fails. Run in the background.
py_hold() {
  "$PY" -c '
import nbd, os, sys
h = nbd.NBD()
h.connect_uri(sys.argv[1])
h.pread(4096, 0)
print("ready", flush=True)
os.fdopen(3).readline()
try:
    h.pread(4096, 0)
except nbd.Error as e:
    print("cut off:", e.string, flush=True)
    sys.exit(0)
print("still connected", flush=True)
sys.exit(1)
' "$1"
}

MiB=$((1 << 20))
SIZE=$((128 * MiB))

# attach_wait VOL [ARGS...]: attach to host-local and wait; sets ATT (json) and URI.
attach_wait() {
  local vol=$1; shift
  vbsc -o json attach "$vol" host-local --wait "$@"
  assert_rc 0 "vbs attach $vol host-local --wait $*"
  ATT=$OUT
  assert_eq attached "$(jf .state "$ATT")" "attachment state after --wait"
  URI=$(jf .nbd_uri "$ATT")
  assert_match '^nbd\+unix:///vbs-[0-9a-f]+\?socket=/' "$URI" "nbd_uri of the attachment"
}
detach_wait() {  # VOL
  vbsc -o json detach "$1" --wait
  assert_rc 0 "vbs detach $1 --wait"
  assert_eq detached "$(jf .state "$OUT")" "attachment state after detach --wait"
}
# qio ARGS...: qemu-io on the current URI; sets RC and OUT (never exits by itself).
qio() {
  RC=0
  OUT=$(qemu-io -f raw "$@" 2>&1) || RC=$?
  if [ $RC -eq 0 ] && [[ $OUT == *"verification failed"* || $OUT == *"failed:"* ]]; then RC=99; fi
}
# expect_bytes FILE OFFSET_MIB LEN_MIB BYTE_OCTAL WHAT: the range holds only that byte.
expect_bytes() {
  local r
  r=$(cmp <(dd if="$1" bs=1M skip="$2" count="$3" status=none) \
          <(head -c $(($3 * MiB)) /dev/zero | tr '\0' "\\$4") 2>&1) ||
    fail "$5: $1 at ${2}MiB+${3}MiB: $r"
}

vbsd_start
make_user alice
allow_on_node local alice   # host-local is for admins and allowed users
as_user alice

vbsc -o json volume create --size 128M --name nbd --wait
assert_rc 0 "volume create"
VID=$(jf .id "$OUT")
VOLF=$(vol_file "$VID")
assert_file "$VOLF" "volume file"

vbsc instance list
assert_rc 0 "instance list"
assert_match 'host-local +local +host +- +running' "$OUT" "instance list shows the node's host instance"

vbsc attach "$VID" i-0123456789abcdef0
assert_rc 1 "attach to an unknown instance"
assert_contains "error: InvalidInstanceID.NotFound:" "$ERR" "unknown instance"
vbsc attach "$VID" host-local --mode rx
assert_rc 2 "attach --mode rx (checked locally)"
api POST "/v1/volumes/$VID/attach" '{"instance_id":"host-local","mode":"rx"}'
assert_status 400 InvalidParameterValue "attach with mode rx"

# --- attach rw -------------------------------------------------------------------------------
log "attach rw"
attach_wait "$VID"
assert_eq rw "$(jf .mode "$ATT")" "default mode"
vbsc volume show "$VID"
assert_rc 0 "volume show"
assert_match 'state: +in-use' "$OUT" "volume show state"
assert_match 'host-local +rw +vbs-[0-9a-f]+ +attached +nbd' "$OUT" "volume show lists the attachment"
assert_contains "attached  $URI" "$OUT" "volume show prints the NBD URI"
vbsc volume list
assert_match "$VID .* in-use +host-local " "$OUT" "volume list ATTACHED column"

got=$(nbdinfo --size "$URI") || fail "nbdinfo --size $URI failed"
assert_eq "$SIZE" "$got" "nbdinfo size"

# qemu-io: a pattern at 96 MiB, read back and verified through NBD.
qio "$URI" -c "write -P 0xab $((96 * MiB)) 1M" -c "read -P 0xab $((96 * MiB)) 1M"
[ $RC -eq 0 ] || fail "qemu-io write+verify: exit $RC: $OUT"

# nbdcopy: 64 MiB of random data into the first 64 MiB, and back out.
head -c $((64 * MiB)) /dev/urandom >"$T/rand.bin"
nbdcopy "$T/rand.bin" "$URI" || fail "nbdcopy into $URI failed"
nbdcopy "$URI" "$T/out.img" || fail "nbdcopy out of $URI failed"
cmp -n $((64 * MiB)) "$T/rand.bin" "$T/out.img" || fail "nbdcopy round trip differs"

# fio's nbd engine: 2 jobs on separate 8 MiB ranges at 64 MiB, verified with crc32c.
(cd "$T" && fio --name=nbdverify --ioengine=nbd --uri="$URI" --rw=randwrite --bs=4k \
  --size=8M --offset=64M --offset_increment=8M --numjobs=2 --iodepth=8 --verify=crc32c \
  --do_verify=1 --verify_fatal=1 --verify_state_save=0 --output="$T/fio.out") ||
  fail "fio nbd verify failed: $(cat "$T/fio.out")"
grep -q 'err= 0' "$T/fio.out" && ! grep -q 'err= *[1-9]' "$T/fio.out" ||
  fail "fio reported errors: $(cat "$T/fio.out")"

# The bytes are in the volume's file.
cmp -n $((64 * MiB)) "$T/rand.bin" "$VOLF" || fail "nbdcopy data is not in $VOLF"
expect_bytes "$VOLF" 96 1 253 "qemu-io pattern 0xab in the volume file"
cmp <(dd if="$T/out.img" bs=1M count=64 status=none) <(head -c $((64 * MiB)) "$VOLF") ||
  fail "what NBD read differs from the file"
qemu-img compare -U -f raw -F raw "$URI" "$VOLF" >"$T/cmp.out" 2>&1 ||
  fail "qemu-img compare NBD vs $VOLF: $(cat "$T/cmp.out")"

# --- exclusivity, delete refused, snapshot allowed --------------------------------------------
vbsc attach "$VID" host-local
assert_rc 1 "a second rw attach to host-local"
assert_contains "error: VolumeInUse:" "$ERR" "second attach error"
vbsc volume delete "$VID"
assert_rc 1 "delete of an attached volume"
assert_contains "error: VolumeInUse:" "$ERR" "delete error"

log "snapshot of the attached volume"
cp "$VOLF" "$T/before-snap.img"
vbsc -o json snapshot create "$VID" --wait
assert_rc 0 "snapshot create of an in-use volume"
SID=$(jf .id "$OUT")
assert_eq completed "$(jf .state "$OUT")" "snapshot state"
assert_same "$T/before-snap.img" "$(snap_file "$SID")" "snapshot holds the data written before it"
qio "$URI" -c "write -P 0xcd 0 1M"   # after the snapshot: must not show up in it
[ $RC -eq 0 ] || fail "qemu-io write after snapshot: $OUT"
assert_same "$T/before-snap.img" "$(snap_file "$SID")" "snapshot unchanged by later writes"
expect_bytes "$VOLF" 0 1 315 "write after the snapshot is in the volume"

# --- detach fences ---------------------------------------------------------------------------
log "detach"
mkfifo "$T/hold.in"
py_hold "$URI" 3<"$T/hold.in" >"$T/hold.out" 2>&1 &
HOLD_PID=$!
T_PIDS+=("$HOLD_PID")
exec 7>"$T/hold.in"   # opening the write end lets the client's open of fd 3 finish
deadline=$((SECONDS + WAIT_TIMEOUT))
until grep -q ready "$T/hold.out"; do
  kill -0 "$HOLD_PID" 2>/dev/null || fail "the NBD client did not connect: $(cat "$T/hold.out")"
  [ $SECONDS -lt $deadline ] || fail "the NBD client did not connect in ${WAIT_TIMEOUT}s"
  sleep 0.1
done
detach_wait "$VID"
echo go >&7
exec 7>&-
rc=0
wait "$HOLD_PID" || rc=$?
[ $rc -eq 0 ] || fail "a client connected during detach was not cut off: $(cat "$T/hold.out")"
assert_contains "cut off" "$(cat "$T/hold.out")" "connected client after detach"
if nbdinfo --size "$URI" >/dev/null 2>&1; then fail "nbdinfo still works after detach"; fi
get_obj volume "$VID"
assert_field .state available "volume after detach"
assert_field '.attachments | length' 0 "attachments after detach"
vbsc detach "$VID"
assert_rc 1 "detach of a volume that is not attached"
assert_contains "error: IncorrectState:" "$ERR" "detach when not attached"

# --- read-only -------------------------------------------------------------------------------
log "attach ro"
cp "$VOLF" "$T/before-ro.img"
attach_wait "$VID" --mode ro
assert_eq ro "$(jf .mode "$ATT")" "mode"
assert_eq true "$(nbdinfo --json "$URI" | jq -r '.exports[0]."is_read_only"')" "export is read-only"
qio "$URI" -c "write -P 0xee 0 1M"
[ $RC -ne 0 ] || fail "qemu-io write through a ro attachment succeeded: $OUT"
out=$(py_raw_write "$URI" 2>&1) || fail "ro export and a raw NBD write: $out"
assert_contains "refused by the server" "$out" "raw write to the ro export"
qio -r "$URI" -c "read -P 0xcd 0 1M" -c "read -P 0xab $((96 * MiB)) 1M"
[ $RC -eq 0 ] || fail "qemu-io read through a ro attachment: exit $RC: $OUT"
assert_same "$T/before-ro.img" "$VOLF" "volume unchanged by the ro attachment"
detach_wait "$VID"

# --- kill -9 while attached: the attachment survives and is re-exported ------------------------
log "attach rw, then kill -9"
attach_wait "$VID"
qio "$URI" -c "write -P 0x5a $((32 * MiB)) 2M"
[ $RC -eq 0 ] || fail "qemu-io write before the crash: $OUT"
cp "$VOLF" "$T/before-crash.img"
vbsd_kill
vbsd_start
as_user alice
get_obj volume "$VID"
assert_field .state in-use "volume after restart"
assert_field '.attachments[0].state' attached "attachment after restart"
assert_field '.attachments[0].nbd_uri' "$URI" "nbd_uri after restart"
deadline=$((SECONDS + WAIT_TIMEOUT))
until nbdinfo --size "$URI" >/dev/null 2>&1; do   # the agent re-exports once it reconciles
  [ $SECONDS -lt $deadline ] || fail "$URI not served again ${WAIT_TIMEOUT}s after the restart"
  sleep 0.2
done
qio "$URI" -c "read -P 0x5a $((32 * MiB)) 2M" -c "read -P 0xcd 0 1M"
[ $RC -eq 0 ] || fail "data through the re-exported URI: exit $RC: $OUT"
qemu-img compare -U -f raw -F raw "$URI" "$T/before-crash.img" >"$T/cmp.out" 2>&1 ||
  fail "after the restart the volume differs: $(cat "$T/cmp.out")"
detach_wait "$VID"
if nbdinfo --size "$URI" >/dev/null 2>&1; then fail "nbdinfo works after the last detach"; fi

# --- online resize: the export drops its clients; reconnecting, they see the new size --------
log "attach rw, resize to 192M"
attach_wait "$VID"
assert_eq $SIZE "$(nbdinfo --size "$URI")" "export size before the resize"
vbsc -o json volume resize "$VID" 192M --wait
assert_rc 0 "vbs volume resize --wait of a host attachment"
assert_eq completed "$(jf .state "$OUT")" "modification state"
assert_eq $((192 * MiB)) "$(nbdinfo --size "$URI")" "export size after the resize (same URI)"
qio "$URI" -c "write -P 0x7e $((160 * MiB)) 1M" -c "read -P 0x7e $((160 * MiB)) 1M"
[ $RC -eq 0 ] || fail "qemu-io past the old end after the resize: $OUT"
detach_wait "$VID"
assert_eq $((192 * MiB)) "$(stat -c %s "$VOLF")" "volume file after the resize"

vbsc volume delete "$VID" --wait
assert_rc 0 "delete after detach"
