#!/usr/bin/env bash
# System test (issue 16): tests/nbd's data-path checks on an RBD volume, served by VBS over
# its NBD unix socket through the asynchronous RBD path (rbd_aio_read/rbd_aio_write answered
# from librbd's completion callback, FUA as a chained aio flush). One
# micro-ceph cluster, one `vbsd dev --rbd-pool`, one 1 GiB volume attached host-local:
#   1. fio's nbd engine with verify=crc32c (verify_fatal): 4k random writes at iodepth 32 from
#      2 jobs on disjoint ranges, 1M sequential writes at iodepth 8, a random read/write mix of
#      4k/64k/1M blocks; each job reads everything it wrote back and checks it. fio's exit
#      status, and its JSON report (every job ran, wrote what it should, read it back, error 0).
#   2. A 1 MiB range never written reads as zeroes (qemu-io read -P 0).
#   2b. Two NBD connections open at once share one librbd handle: `rbd status` counts one
#      watcher on the image (a handle per connection passed the exclusive lock back and forth
#      on every write), the export advertises CAN_MULTI_CONN, a write on one is read back on
#      the other, and with both closed no watcher is left.
#   3. nbdfuse exposes the volume as a file: mkfs.ext4, loop mount, files, sync, unmount;
#      then through a fresh nbdfuse e2fsck -fn is clean and, remounted, the checksums match.
#   4. Durability: a write + FLUSH, then a FUA write (across an RBD object boundary), through
#      nbdsh; vbsd is killed (-9) by the client right after the FUA reply. `rbd export` of the
#      image (named after the volume id) holds both patterns: what VBS acknowledged was in
#      Ceph, not in the dead process's librbd cache; and the whole image equals what VBS
#      served before (read with nbdcopy) plus those two writes. Last step: vbsd stays down.
. "$(dirname "$0")/../system/lib.sh"
. "$(dirname "$0")/lib.sh"
t_init rbd_nbd_data
"$VBS_SRC/scripts/install-deps.sh" nbd >&2   # nbdsh (python3-libnbd), nbdfuse, fuse3, e2fsprogs
# Debian's tools first: nbdsh needs the system python3, the one with the nbd module.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
[ "$(id -u)" = 0 ] || fail "needs root (loop mount of the ext4 image)"
ceph_start nbddata   # installs the ceph list, then starts the cluster
for tool in rbd ceph fio qemu-io nbdinfo nbdcopy nbdsh nbdfuse mkfs.ext4 e2fsck mount umount mountpoint; do
  command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh ceph nbd"
done
fio --enghelp=nbd >/dev/null 2>&1 || fail "this fio has no nbd engine"
# Mounts go first at exit, while nbdfuse and vbsd still answer (an ext4 over a dead FUSE file
# could not write back), then ceph_cleanup: processes, cluster, temp dir.
unmount_all() {
  local m i
  for ((i = ${#T_MOUNTS[@]} - 1; i >= 0; i--)); do
    m=${T_MOUNTS[i]}
    if mountpoint -q "$m" 2>/dev/null; then umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; fi
  done
  T_MOUNTS=()
}
trap 'rc=$?; set +e; unmount_all; (exit $rc); ceph_cleanup' EXIT
T0=$SECONDS
MiB=$((1 << 20))
step() { log "[+$((SECONDS - T0))s] $*"; }

vbsd_start --rbd-pool "$CEPH_POOL" --ceph-conf "$CEPH_CONF" --pool-capacity 64G
as_admin
vbsc -o json volume create --size 1G --name nbddata --wait
assert_rc 0 "volume create --size 1G --wait"
VOL=$(jf .id "$OUT")
assert_eq $((1024 * MiB)) "$(rbdc info --format json "$VOL" | jq -r .size)" "RBD image $VOL (named after the volume)"
vbsc -o json attach "$VOL" host-local --wait
assert_rc 0 "vbs attach $VOL host-local --wait"
assert_eq attached "$(jf .state "$OUT")" "attachment state"
URI=$(jf .nbd_uri "$OUT")
assert_match '^nbd\+unix:///vbs-[0-9a-f]+\?socket=/' "$URI" "nbd_uri"
assert_eq $((1024 * MiB)) "$(nbdinfo --size "$URI")" "export size through NBD"

# --- 1. fio verify on the async path ----------------------------------------------------------
# fio_verify NAME JOBS WRITE_BYTES_PER_JOB FIO_ARGS...: one fio run with verify=crc32c and
# verify_fatal; fails unless fio exits 0 and its JSON report has JOBS jobs, each with error 0,
# WRITE_BYTES_PER_JOB written (or, for "any", some), and at least as much read (the verify pass
# reads back every block written). Parsing the report also fails when fio did not run at all.
fio_verify() {
  local name=$1 jobs=$2 wbytes=$3 rc=0 r
  shift 3
  step "fio $name: $*"
  (cd "$T" && fio --name="$name" --ioengine=nbd --uri="$URI" --verify=crc32c --do_verify=1 \
    --verify_fatal=1 --verify_state_save=0 --output-format=json --output="$T/fio-$name.json" "$@" \
    >"$T/fio-$name.stdout" 2>"$T/fio-$name.stderr") || rc=$?
  [ $rc -eq 0 ] || fail "fio $name exited $rc: $(cat "$T/fio-$name.stderr" "$T/fio-$name.json" 2>/dev/null | tail -40)"
  r=$(python3 - "$T/fio-$name.json" "$jobs" "$wbytes" <<'PY' 2>&1
import json, sys
path, jobs, wbytes = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = open(path).read()
start = text.find("{")  # fio may put notes before the JSON
if start < 0:
    sys.exit("no JSON report in fio's output: %r" % text[:500])
d = json.loads(text[start:])
js = d.get("jobs", [])
if len(js) != jobs:
    sys.exit("expected %d jobs in the report, got %d" % (jobs, len(js)))
for j in js:
    w, r = j["write"]["io_bytes"], j["read"]["io_bytes"]
    if j["error"] != 0:
        sys.exit("job %s: error %d" % (j["jobname"], j["error"]))
    if (wbytes == "any" and w <= 0) or (wbytes != "any" and w != int(wbytes)):
        sys.exit("job %s: wrote %d bytes, expected %s" % (j["jobname"], w, wbytes))
    if r < w:
        sys.exit("job %s: read back %d bytes < %d written (no verify pass?)" % (j["jobname"], r, w))
    print("%s: wrote %d MiB (%d ios), read %d MiB (%d ios)" % (j["jobname"], w >> 20,
          j["write"]["total_ios"], r >> 20, j["read"]["total_ios"]))
PY
) || fail "fio $name: $r"
  log "fio $name ok: $r"
}
# Layout of the 1 GiB volume: [0,64M) 4k random (two 32M ranges), [64M,192M) 1M sequential,
# [192M,320M) the mix; the zero check reads [1023M,1G) (before ext4 spreads its metadata over
# the whole volume).
fio_verify randwrite4k 2 $((32 * MiB)) --rw=randwrite --bs=4k --iodepth=32 --numjobs=2 \
  --size=32M --offset=0 --offset_increment=32M
fio_verify seqwrite1m 1 $((128 * MiB)) --rw=write --bs=1M --iodepth=8 --size=128M --offset=64M
fio_verify randrw-mix 1 any --rw=randrw --bssplit=4k/50:64k/30:1M/20 --iodepth=16 \
  --size=128M --offset=192M

# --- 2. never-written range reads zeroes --------------------------------------------------------
step "qemu-io read -P 0 of a never-written 1M at 1023M"
qemu-io -f raw "$URI" -c "read -P 0 1023M 1M" >"$T/qio.out" 2>&1 ||
  fail "never-written range at 1023M does not read as zeroes: $(cat "$T/qio.out")"
grep -q "^read 1048576/1048576 bytes at offset $((1023 * MiB))" "$T/qio.out" ||
  fail "qemu-io did not read the 1M at 1023M: $(cat "$T/qio.out")"

# --- 2b. two connections, one librbd handle ------------------------------------------------------
step "two NBD connections at once: one watcher on the image"
# watchers: how many librbd handles have the image open (each open watches its header).
watchers() { rbdc status --format json "$VOL" | jq '.watchers | length'; }
# wait_watchers N WHAT: a closed connection lets go of its device just after the client has gone.
wait_watchers() {
  for _ in $(seq 50); do [ "$(watchers)" = "$1" ] && break; sleep 0.2; done
  assert_eq "$1" "$(watchers)" "watchers $2"
}
wait_watchers 0 "with no NBD connection open"
/usr/bin/python3 - "$URI" >"$T/two.out" 2>&1 <<'PY' &
import sys, time, nbd
a, b = nbd.NBD(), nbd.NBD()
a.connect_uri(sys.argv[1])
b.connect_uri(sys.argv[1])
assert a.can_multi_conn() and b.can_multi_conn(), "CAN_MULTI_CONN is not advertised"
data = bytes(range(256)) * 16
a.pwrite(data, 1000 << 20)
b.flush()  # multi-conn: a flush on one connection covers writes completed on the others
assert b.pread(len(data), 1000 << 20) == data, "connection b does not read a's write"
print("both open", flush=True)
time.sleep(4)  # while the shell counts watchers
a.shutdown()
b.shutdown()
print("closed", flush=True)
PY
TWO_PID=$!
for _ in $(seq 100); do grep -q "both open" "$T/two.out" && break; sleep 0.1; done
grep -q "both open" "$T/two.out" || fail "two NBD connections: $(cat "$T/two.out")"
assert_eq 1 "$(watchers)" "watchers with two NBD connections open"
wait "$TWO_PID" || fail "two NBD connections: $(cat "$T/two.out")"
grep -q closed "$T/two.out" || fail "two NBD connections did not close: $(cat "$T/two.out")"
wait_watchers 0 "once both connections closed"

# --- 3. nbdfuse + ext4 ----------------------------------------------------------------------------
# fuse_up / fuse_down: the volume as the file $T/fuse/nbd through an nbdfuse of our own. The
# remount goes through a fresh nbdfuse: no page cache of the first one can answer its reads.
mkdir -p "$T/fuse" "$T/mnt"
fuse_up() {
  nbdfuse "$T/fuse" "$URI" 2>"$T/nbdfuse.err" &
  FUSE_PID=$!
  T_PIDS+=("$FUSE_PID")
  T_MOUNTS+=("$T/fuse")
  for _ in $(seq 100); do [ -e "$T/fuse/nbd" ] && break; sleep 0.1; done
  [ -e "$T/fuse/nbd" ] || fail "nbdfuse did not expose the export: $(cat "$T/nbdfuse.err")"
  assert_eq $((1024 * MiB)) "$(stat -c %s "$T/fuse/nbd")" "size of nbdfuse's file"
}
fuse_down() {
  umount "$T/fuse" || fail "umount of nbdfuse"
  T_MOUNTS=()
  wait "$FUSE_PID" || fail "nbdfuse exited $? after its unmount: $(cat "$T/nbdfuse.err")"
  T_PIDS=()
}
step "nbdfuse + mkfs.ext4 + loop mount, files, sync, unmount"
fuse_up
mkfs.ext4 -q -F "$T/fuse/nbd" || fail "mkfs.ext4 on the RBD volume (nbdfuse)"
mount -o loop "$T/fuse/nbd" "$T/mnt" || fail "loop mount of the ext4"
T_MOUNTS+=("$T/mnt")
for i in $(seq 1 20); do head -c $((i * 100000)) /dev/urandom >"$T/mnt/f$i"; done
mkdir -p "$T/mnt/dir/sub" || fail "mkdir on the ext4"
cp -r /usr/share/doc/e2fsprogs "$T/mnt/dir/sub/" || fail "cp into the ext4"
(cd "$T/mnt" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/sums" || fail "sha256sum"
[ "$(wc -l <"$T/sums")" -ge 21 ] || fail "expected at least 21 files on the ext4: $(cat "$T/sums")"
sync
umount "$T/mnt" || fail "umount of the ext4"
T_MOUNTS=("$T/fuse")
fuse_down
step "fresh nbdfuse: e2fsck -fn, remount, checksums"
fuse_up
e2fsck -fn "$T/fuse/nbd" >"$T/fsck.out" 2>&1 || fail "e2fsck -fn found problems: $(cat "$T/fsck.out")"
mount -o loop,ro "$T/fuse/nbd" "$T/mnt" || fail "remount of the ext4"
T_MOUNTS+=("$T/mnt")
(cd "$T/mnt" && sha256sum -c --quiet "$T/sums") >"$T/sums.check" 2>&1 ||
  fail "files on the ext4 read back wrong after remount: $(cat "$T/sums.check")"
umount "$T/mnt" || fail "umount of the ext4 (ro)"
T_MOUNTS=("$T/fuse")
fuse_down
log "ext4 on the RBD volume: $(wc -l <"$T/sums") files read back after remount, e2fsck clean"
# The whole volume as VBS serves it now (fio's data, the ext4, zeroes): with step 4's two
# writes patched in, what the RBD image must hold byte for byte.
step "nbdcopy of the whole volume (the expected image)"
nbdcopy "$URI" "$T/expect.img" || fail "nbdcopy of the volume after the ext4 step"

# --- 4. FLUSH and FUA durability over kill -9 -------------------------------------------------------
step "write + FLUSH, FUA write, kill -9 of vbsd right after the FUA reply"
FLUSH_OFF=$((600 * MiB + 8192)) FLUSH_LEN=$((320 * 1024))
FUA_OFF=$((804 * MiB - 65536)) FUA_LEN=$((192 * 1024))  # across the 4 MiB object boundary at 804M
head -c "$FLUSH_LEN" /dev/urandom >"$T/flush.pat"
head -c "$FUA_LEN" /dev/urandom >"$T/fua.pat"
PAT_FLUSH=$T/flush.pat PAT_FUA=$T/fua.pat FLUSH_OFF=$FLUSH_OFF FUA_OFF=$FUA_OFF KILL_PID=$VBSD_PID \
  nbdsh -u "$URI" -c '
import os, signal
env = os.environ
h.pwrite(open(env["PAT_FLUSH"], "rb").read(), int(env["FLUSH_OFF"]))
h.flush()
h.pwrite(open(env["PAT_FUA"], "rb").read(), int(env["FUA_OFF"]), nbd.CMD_FLAG_FUA)
os.kill(int(env["KILL_PID"]), signal.SIGKILL)  # no time for anything after the FUA reply
' >"$T/nbdsh.out" 2>&1 || fail "nbdsh write/flush/FUA: $(cat "$T/nbdsh.out")"
rc=0
wait "$VBSD_PID" 2>/dev/null || rc=$?
VBSD_PID=""
assert_eq 137 "$rc" "vbsd's exit status (killed by SIGKILL from the NBD client)"
nbdinfo --size "$URI" >/dev/null 2>&1 && fail "the NBD export still answers after vbsd's kill -9"
step "rbd export of $VOL"
rbdc export --no-progress "$VOL" "$T/export.img" >"$T/export.out" 2>&1 ||
  fail "rbd export $VOL: $(cat "$T/export.out")"
assert_eq $((1024 * MiB)) "$(stat -c %s "$T/export.img")" "size of the exported image"
r=$(cmp -n "$FLUSH_LEN" -i "$FLUSH_OFF:0" "$T/export.img" "$T/flush.pat" 2>&1) ||
  fail "the flushed write at $FLUSH_OFF is not in the RBD image after kill -9: $r"
r=$(cmp -n "$FUA_LEN" -i "$FUA_OFF:0" "$T/export.img" "$T/fua.pat" 2>&1) ||
  fail "the FUA write at $FUA_OFF is not in the RBD image after kill -9: $r"
dd if="$T/flush.pat" of="$T/expect.img" bs=64k seek="$FLUSH_OFF" oflag=seek_bytes conv=notrunc status=none
dd if="$T/fua.pat" of="$T/expect.img" bs=64k seek="$FUA_OFF" oflag=seek_bytes conv=notrunc status=none
assert_same "$T/expect.img" "$T/export.img" "the RBD image (rbd export) against what VBS served plus the two writes"
step "done"
