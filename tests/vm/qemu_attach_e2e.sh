#!/usr/bin/env bash
# System test: the hypervisor layer (QmpClient, QemuAttach, InstanceDiscovery) against real
# QEMU guests, with qemu-nbd standing in for the agent's NBD export (unix socket, export "x").
#
#   1. two VMs are discovered by their QMP sockets
#   2. rw attach to VM A (idempotent) → the guest finds the disk by its serial; mkfs.ext2,
#      write a file, checksum
#   3. detach → DEVICE_DELETED, the disk is gone in the guest; detaching again succeeds
#   4. ro attach to VM B from a read-only export → same checksum, writes fail (EPERM/EROFS)
#   5. resize: grow the image, restart the export, block_resize → the guest sees the size
#   6. kill and restart qemu-nbd while attached → guest I/O continues (reconnect-delay)
#   7. List() + reconcile remove a leftover device and a half-attached node
#   8. a killed VM is discovered as gone, and QMP calls to it fail cleanly
# (also: an attach to a missing export fails without leaving anything behind, and a second
# client on the agent's QMP socket gets a clean timeout while the harness socket still works)
#
# Usage: qemu_attach_e2e.sh PATH/TO/vbs_qemu_attach_e2e    (KEEP=1 keeps the work directory)
# Installs what it needs (scripts/install-deps.sh vm); anything missing is a failure.
set -euo pipefail
drv=${1:?usage: $0 vbs_qemu_attach_e2e}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

"$repo/scripts/install-deps.sh" vm
for t in qemu-system-x86_64 qemu-nbd python3 e2fsck debugfs truncate; do
  command -v "$t" >/dev/null || { echo "FAIL: $t missing after install-deps" >&2; exit 1; }
done
guest=$("$here/build-guest.sh")
VM_KERNEL=$(sed -n 's/^KERNEL=//p' <<<"$guest")
VM_INITRD=$(sed -n 's/^INITRD=//p' <<<"$guest")

work=$(mktemp -d /tmp/vbs-vm-XXXXXX)  # short: unix socket paths are limited to 107 bytes
export VM_QMP_DIR="$work/qmp" VM_RUN_DIR="$work/run" VM_KERNEL VM_INITRD
# shellcheck source=vm.sh
source "$here/vm.sh"

nbd_pids=()
ok=0
cleanup() {
  set +e
  vm_cleanup_all
  local p
  for p in "${nbd_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ $ok != 1 ]; then
    for f in "$VM_RUN_DIR"/*/console.log "$VM_RUN_DIR"/*/qemu.log "$work"/*.nbd.log; do
      [ -f "$f" ] && { echo "---- $f (tail)" >&2; tail -n 30 "$f" >&2; }
    done
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step() { echo "== $(date +%T) $*" >&2; }
die() { echo "FAIL: $*" >&2; exit 1; }

A=i-00000000000000a01
B=i-00000000000000b02
VOL=vol-0123456789abcdef0
SERIAL=vol0123456789abcdef0
MiB=$((1 << 20))

# start_nbd NAME IMG [--read-only]: qemu-nbd on $work/NAME.sock, export "x". --persistent:
# it keeps serving after a client leaves (a detach, a reconnect); --shared: several clients.
start_nbd() {
  local name=$1 img=$2; shift 2
  rm -f "$work/$name.sock"
  qemu-nbd --socket="$work/$name.sock" --export-name=x -f raw --persistent --shared=8 --cache=writeback \
    "$@" "$img" >>"$work/$name.nbd.log" 2>&1 &
  local pid=$!
  nbd_pids+=("$pid")
  vm_tie_to_shell "$pid"
  eval "nbd_pid_$name=$pid"
  local i
  for i in $(seq 200); do [ -S "$work/$name.sock" ] && return 0; sleep 0.05; done
  die "qemu-nbd $name did not create its socket"
}
stop_nbd() {
  local var="nbd_pid_$1"
  kill -9 "${!var}" 2>/dev/null || true
  wait "${!var}" 2>/dev/null || true
}

# In the guest: the name (vdX) of the disk whose serial is $SERIAL, waiting for it to show up.
find_disk() {
  vm_exec "$1" "i=0; while :; do
      for d in /sys/block/vd*; do
        [ -f \$d/serial ] && [ \"\$(cat \$d/serial)\" = $SERIAL ] && [ -b /dev/\${d##*/} ] &&
          { echo \${d##*/}; exit 0; }
      done
      i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000
    done"
}
# In the guest: wait until no disk has serial $SERIAL.
disk_gone() {
  vm_exec "$1" "i=0; while grep -qs $SERIAL /sys/block/vd*/serial; do
      i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000; done"
}

# ---------------------------------------------------------------- 1. boot + discovery
step "boot $A and $B"
vm_boot "$A"
vm_boot "$B"
disc=$("$drv" discover "$VM_QMP_DIR")
echo "$disc"
python3 - "$disc" "$A" "$B" <<'PY' || die "discovery did not list both VMs alive"
import json, sys
d = {i["id"]: i["alive"] for i in json.loads(sys.argv[1])}
sys.exit(0 if d == {sys.argv[2]: True, sys.argv[3]: True} else 1)
PY

# ---------------------------------------------------------------- 2. rw attach, mkfs, write
img="$work/vol.img"
truncate -s $((64 * MiB)) "$img"
step "attach to an export that does not exist: a clear error, nothing left behind"
if "$drv" attach "$(vm_qmp "$A")" "$VOL" "$work/rw.sock" x rw 2>"$work/err"; then
  die "attach without an export succeeded"
fi
cat "$work/err" >&2
[ "$("$drv" list "$(vm_qmp "$A")")" = "[]" ] || die "a failed attach left something behind"
start_nbd rw "$img"
step "attach $VOL rw to $A"
"$drv" attach "$(vm_qmp "$A")" "$VOL" "$work/rw.sock" x rw
"$drv" attach "$(vm_qmp "$A")" "$VOL" "$work/rw.sock" x rw  # idempotent
if "$drv" attach "$(vm_qmp "$A")" "$VOL" "$work/rw.sock" x ro 2>"$work/err"; then
  die "attaching the same volume ro over an rw attachment succeeded"
fi
grep -q AttachConflict "$work/err" || die "expected AttachConflict, got: $(cat "$work/err")"
# The harness's own QMP socket sees the same device while the agent socket is free.
"$drv" qmp "$(vm_harness_qmp "$A")" query-block | grep -q "vbs-$VOL" ||
  die "query-block on the harness socket does not show vbs-$VOL"
step "another client holds the agent's QMP socket: a clean QmpTimeout, the harness socket works"
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.recv(65536)
open(sys.argv[2], "w").close(); time.sleep(120)' "$(vm_qmp "$A")" "$work/holder.ready" &
holder=$!
vm_tie_to_shell "$holder"
for i in $(seq 200); do [ -e "$work/holder.ready" ] && break; sleep 0.05; done
[ -e "$work/holder.ready" ] || die "the holder never got a QMP greeting"
if "$drv" list "$(vm_qmp "$A")" 2>"$work/err"; then die "a second QMP client was served"; fi
grep -q QmpTimeout "$work/err" || die "expected QmpTimeout, got: $(cat "$work/err")"
"$drv" qmp "$(vm_harness_qmp "$A")" query-status | grep -q '"running"' ||
  die "the harness QMP socket did not answer"
kill "$holder"; wait "$holder" 2>/dev/null || true
"$drv" list "$(vm_qmp "$A")" | grep -q "vbs-$VOL" || die "agent socket unusable after the holder left"
dev=$(find_disk "$A") || die "guest $A never showed a disk with serial $SERIAL"
step "guest $A sees /dev/$dev"
[ "$(vm_exec "$A" "cat /sys/block/$dev/ro /sys/block/$dev/size" | tr '\n' ' ')" = "0 131072 " ] ||
  die "unexpected ro/size for /dev/$dev"
vm_exec "$A" -t 120 "mke2fs -q -L vbs /dev/$dev && mount -t ext2 /dev/$dev /mnt &&
  dd if=/dev/urandom of=/mnt/data bs=64k count=64 2>/dev/null && md5sum /mnt/data >/mnt/data.md5 &&
  echo hello-from-guest >/mnt/hello && sync && umount /mnt" || die "mkfs/write in guest failed"
sum=$(vm_exec "$A" "mount -t ext2 -o ro /dev/$dev /mnt && md5sum /mnt/data | cut -d' ' -f1; umount /mnt")
[ ${#sum} = 32 ] || die "no checksum from guest: $sum"
step "checksum $sum"

# ---------------------------------------------------------------- 3. detach
step "detach from $A"
"$drv" detach "$(vm_qmp "$A")" "$VOL"
disk_gone "$A" || die "guest $A still has the disk after detach"
"$drv" detach "$(vm_qmp "$A")" "$VOL"  # idempotent
[ "$("$drv" list "$(vm_qmp "$A")")" = "[]" ] || die "List() not empty after detach"
stop_nbd rw
e2fsck -fn "$img" >/dev/null || die "host e2fsck found problems after the guest wrote"
debugfs -R "cat /hello" "$img" 2>/dev/null | grep -q hello-from-guest ||
  die "host cannot read the guest's file"

# ---------------------------------------------------------------- 4. ro attach to B
start_nbd ro "$img" --read-only
step "attach $VOL ro to $B"
"$drv" attach "$(vm_qmp "$B")" "$VOL" "$work/ro.sock" x ro
devb=$(find_disk "$B") || die "guest $B never showed the disk"
[ "$(vm_exec "$B" "cat /sys/block/$devb/ro")" = 1 ] || die "ro attach not read-only in the guest"
sumb=$(vm_exec "$B" "mount -t ext2 -o ro /dev/$devb /mnt && md5sum /mnt/data | cut -d' ' -f1; umount /mnt")
[ "$sumb" = "$sum" ] || die "checksum on $B ($sumb) differs from $A ($sum)"
set +e
out=$(vm_exec "$B" "dd if=/dev/zero of=/dev/$devb bs=4096 count=1 conv=fsync")
rc=$?
set -e
echo "write on ro disk: rc=$rc $out" >&2
[ $rc != 0 ] && [ $rc -lt 124 ] || die "write to the ro disk did not fail (rc=$rc)"
grep -Eq "Operation not permitted|Read-only" <<<"$out" || die "write failed, but not with EPERM/EROFS: $out"
"$drv" detach "$(vm_qmp "$B")" "$VOL"
disk_gone "$B" || die "guest $B still has the disk after detach"
stop_nbd ro

# ---------------------------------------------------------------- 5. resize
start_nbd rw "$img"
step "resize while attached to $A"
"$drv" attach "$(vm_qmp "$A")" "$VOL" "$work/rw.sock" x rw
dev=$(find_disk "$A") || die "disk did not reappear on $A"
truncate -s $((96 * MiB)) "$img"
# NBD cannot announce a new size: the export drops its connection and QEMU renegotiates.
stop_nbd rw
start_nbd rw "$img"
"$drv" resize "$(vm_qmp "$A")" "$VOL" $((96 * MiB))
vm_exec "$A" "i=0; while [ \$(cat /sys/block/$dev/size) != $((96 * MiB / 512)) ]; do
  i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000; done" ||
  die "guest size is $(vm_exec "$A" "cat /sys/block/$dev/size") sectors, not $((96 * MiB / 512))"
if "$drv" resize "$(vm_qmp "$A")" "$VOL" $((32 * MiB)) 2>/dev/null; then die "shrink accepted"; fi

# ---------------------------------------------------------------- 6. export restart
step "kill qemu-nbd while attached; guest I/O waits and continues"
stop_nbd rw
vm_exec "$A" "rm -f /tmp/dd.rc; (dd if=/dev/urandom of=/tmp/blk bs=64k count=16 2>/dev/null;
  dd if=/tmp/blk of=/dev/$dev bs=64k seek=1000 conv=fsync 2>/dev/null; echo \$? >/tmp/dd.rc) \
  </dev/null >/dev/null 2>&1 &"
sleep 1  # the write is now waiting for the export (not a timing assertion: any order passes)
start_nbd rw "$img"
vm_exec "$A" -t 90 "i=0; while [ ! -s /tmp/dd.rc ]; do i=\$((i+1)); [ \$i -gt 8000 ] && exit 1;
  usleep 10000; done; [ \$(cat /tmp/dd.rc) = 0 ]" || die "guest write across the export restart failed"
gsum=$(vm_exec "$A" "md5sum /tmp/blk | cut -d' ' -f1")
hsum=$(dd if="$img" bs=64k skip=1000 count=16 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$gsum" = "$hsum" ] || die "data written across the restart differs on the host ($hsum != $gsum)"
vm_exec "$A" "dd if=/dev/$dev of=/dev/null bs=64k count=16 2>/dev/null" || die "read after restart"
# QEMU kept the request waiting instead of failing it: no I/O error recorded on the device.
"$drv" qmp "$(vm_harness_qmp "$A")" query-block | python3 -c '
import json, sys
b = [x for x in json.load(sys.stdin) if x.get("inserted", {}).get("node-name") == sys.argv[1]]
sys.exit(0 if b and b[0].get("io-status", "ok") == "ok" else 1)' "vbs-$VOL" ||
  die "QEMU recorded an I/O error across the export restart"

# ---------------------------------------------------------------- 7. List + reconcile
step "leftovers: a second device and a half-attached node; reconcile keeps only $VOL"
truncate -s $((16 * MiB)) "$work/other.img"
start_nbd other "$work/other.img"
"$drv" attach "$(vm_qmp "$A")" vol-00000000000000002 "$work/other.sock" x rw
"$drv" qmp "$(vm_harness_qmp "$A")" blockdev-add \
  "{\"driver\":\"nbd\",\"node-name\":\"vbs-vol-00000000000000003\",\"server\":{\"type\":\"unix\",\"path\":\"$work/other.sock\"},\"export\":\"x\",\"read-only\":true}"
list=$("$drv" list "$(vm_qmp "$A")")
echo "$list"
python3 - "$list" <<'PY' || die "List() does not show the three VBS disks as expected"
import json, sys
d = {x["name"]: (x["has_device"], x["has_node"]) for x in json.loads(sys.argv[1])}
sys.exit(0 if d == {"vbs-vol-0123456789abcdef0": (True, True),
                    "vbs-vol-00000000000000002": (True, True),
                    "vbs-vol-00000000000000003": (False, True)} else 1)
PY
"$drv" reconcile "$(vm_qmp "$A")" "$VOL"
list=$("$drv" list "$(vm_qmp "$A")")
python3 -c 'import json,sys; l=json.loads(sys.argv[1]); sys.exit(0 if [x["name"] for x in l]==["vbs-vol-0123456789abcdef0"] else 1)' "$list" ||
  die "reconcile left: $list"
[ "$(vm_exec "$A" "ls /sys/block | grep -c ^vd")" = 1 ] || die "guest still sees the reconciled disk"
"$drv" detach "$(vm_qmp "$A")" "$VOL"
disk_gone "$A" || die "final detach: disk still in guest"

# ---------------------------------------------------------------- 8. a VM that is gone
step "kill $A: discovered as gone, QMP fails cleanly"
vm_kill "$A"
disc=$("$drv" discover "$VM_QMP_DIR")
echo "$disc"
python3 - "$disc" "$A" "$B" <<'PY' || die "discovery after kill: expected $A gone, $B alive"
import json, sys
d = {i["id"]: i["alive"] for i in json.loads(sys.argv[1])}
sys.exit(0 if d == {sys.argv[2]: False, sys.argv[3]: True} else 1)
PY
if "$drv" list "$(vm_qmp "$A")" 2>"$work/err"; then die "QMP to a dead VM succeeded"; fi
grep -q QmpConnectFailed "$work/err" || die "unexpected error for a dead VM: $(cat "$work/err")"
vm_shutdown "$B"

ok=1
echo "PASS: qemu_attach_e2e" >&2
