#!/usr/bin/env bash
# System test: `vbs attach VOL i-…` reaches real QEMU guests, end to end. Everything goes
# through the `vbs` CLI against `vbsd dev --qmp-dir DIR`; three TCG VMs have their agent QMP
# sockets in DIR (tests/vm/vm.sh), so the agent discovers them and reports them as instances.
#
#   0. `vbs instance list` shows the three VMs running
#   1. rw attach to VM1 → the guest finds the disk by serial; mkfs.ext2, files + checksums;
#      detach → the disk is gone in the guest; the host sees the guest's file system
#   2. ro attach to VM2 and VM3 at once → both read the same checksums, writes fail in both;
#      an rw attach to VM1 meanwhile is refused (VolumeInUse); detach both
#   4. rw attach to VM1, a write loop in the guest, kill -9 vbsd, restart it on the same data
#      dir → the agent re-exports under the old name, QEMU reconnects (reconnect-delay), the
#      guest's writes all complete and the data verifies on the host; the restarted agent
#      removes vbs- devices/nodes that no attachment accounts for (planted in VM2)
#   3. a second volume, ext4 made on the host, rw to VM1, mounted; the guest writes files in a
#      loop (each fsync'd, then listed with its checksum in a manifest) while `vbs snapshot
#      create` runs: the agent holds the export's writes for the snapshot (logged) and the
#      loop goes on; a volume made from the snapshot, attached to VM2, mounts (journal replay)
#      and every file in its manifest checks out; host e2fsck -fn is clean afterwards
#   5. `vbs volume resize` of the volume attached to VM1 (still mounted): the guest sees the new
#      size in /sys/block/vdX/size and writes past the old end; the host reads the same bytes
#   +  detach --force from a paused VM (it cannot release the disk): the export goes anyway
#   +  kill VM3's QEMU while attached → the agent stops reporting it, the server ends the
#      attachment and the volume is available again (agents report every ~10 s)
#
# Env: VBSD, VBS (binaries), VBS_SYSTEM_KEEP=1 (keep a failed run's temp dir),
# VBS_E2E_LOG_DIR (copy vbsd's logs there, pass or fail).
# Installs what it needs (scripts/install-deps.sh vm system); anything missing is a failure.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../system/lib.sh"
"$VBS_SRC/scripts/install-deps.sh" vm >&2
t_init vbs_attach_e2e
for t in qemu-system-x86_64 python3 e2fsck debugfs mkfs.ext4; do
  command -v "$t" >/dev/null || fail "$t is missing after scripts/install-deps.sh vm"
done
guest=$("$here/build-guest.sh") || fail "build-guest.sh failed"
VM_KERNEL=$(sed -n 's/^KERNEL=//p' <<<"$guest")
VM_INITRD=$(sed -n 's/^INITRD=//p' <<<"$guest")
QMP=$T/qmp
export VM_QMP_DIR=$QMP VM_RUN_DIR=$T/run VM_KERNEL VM_INITRD
# shellcheck source=vm.sh
source "$here/vm.sh"

on_exit() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ]; then
    for f in "$VM_RUN_DIR"/*/console.log "$VM_RUN_DIR"/*/qemu.log; do
      [ -f "$f" ] && { echo "---- $f (tail)" >&2; tail -n 20 "$f" >&2; }
    done
    for f in "$T"/vbsd.*.log; do
      [ -f "$f" ] && { echo "---- $f (agent lines)" >&2; grep -E "agent|error" "$f" | tail -n 30 >&2; }
    done
  fi
  if [ -n "${VBS_E2E_LOG_DIR:-}" ]; then mkdir -p "$VBS_E2E_LOG_DIR" && cp "$T"/vbsd.*.log "$VBS_E2E_LOG_DIR"/; fi
  vm_cleanup_all >/dev/null 2>&1
  (exit $rc)
  t_cleanup
}
trap on_exit EXIT

VM1=i-00000000000000a01
VM2=i-00000000000000b02
VM3=i-00000000000000c03

# find_disk VM SERIAL: the guest's vdX whose serial is SERIAL (waits for it to show up).
find_disk() {
  vm_exec "$1" "i=0; while :; do
      for d in /sys/block/vd*; do
        [ -f \$d/serial ] && [ \"\$(cat \$d/serial)\" = $2 ] && [ -b /dev/\${d##*/} ] &&
          { echo \${d##*/}; exit 0; }
      done
      i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000
    done"
}
# disk_gone VM SERIAL: waits until no disk of the guest has SERIAL.
disk_gone() {
  vm_exec "$1" "i=0; while grep -qs $2 /sys/block/vd*/serial; do
      i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000; done"
}
# attach_wait VOL VM [ARGS...]: vbs attach --wait; sets ATT.
attach_wait() {
  local vol=$1 vm=$2; shift 2
  vbsc -o json attach "$vol" "$vm" --wait "$@"
  assert_rc 0 "vbs attach $vol $vm --wait $*"
  ATT=$OUT
  assert_eq attached "$(jf .state "$ATT")" "attachment state after attach --wait"
  assert_eq "vbs-$vol" "$(jf .device "$ATT")" "QEMU device id of the attachment"
}
# detach_wait VOL [VM]
detach_wait() {
  vbsc -o json detach "$@" --wait
  assert_rc 0 "vbs detach $* --wait"
  assert_eq detached "$(jf .state "$OUT")" "attachment state after detach --wait"
}
# hqmp VM COMMAND [ARGS_JSON]: one QMP command on the VM's harness socket; prints "return".
hqmp() {
  python3 - "$(vm_harness_qmp "$1")" "$2" "${3:-null}" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
def call(cmd, args=None):
    msg = {"execute": cmd}
    if args is not None:
        msg["arguments"] = args
    f.write(json.dumps(msg) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if "error" in m:
            sys.exit("QMP %s: %s" % (cmd, m["error"]))
        if "return" in m:
            return m["return"]
f.readline()  # greeting
call("qmp_capabilities")
print(json.dumps(call(sys.argv[2], json.loads(sys.argv[3]))))
PY
}
# guest_write_fails VM DEV: a raw write to /dev/DEV fails with EPERM/EROFS.
guest_write_fails() {
  local out rc=0
  out=$(vm_exec "$1" "dd if=/dev/zero of=/dev/$2 bs=4096 count=1 conv=fsync") || rc=$?
  [ $rc != 0 ] && [ $rc -lt 124 ] || fail "a write to the ro disk in $1 did not fail (rc=$rc: $out)"
  [[ $out =~ "Operation not permitted"|"Read-only" ]] || fail "ro write in $1 failed oddly: $out"
}

# ------------------------------------------------------------------ 0. VMs become instances
log "boot $VM1 $VM2 $VM3 (TCG)"
for vm in "$VM1" "$VM2" "$VM3"; do vm_boot "$vm" || fail "vm_boot $vm"; done
mkdir -p "$QMP"
echo "not a VM" >"$QMP/README.qmp"  # other files in the directory are ignored
vbsd_start --qmp-dir "$QMP"
deadline=$((SECONDS + 30))
while true; do
  vbsc -o json instance list
  assert_rc 0 "vbs instance list"
  running=$(jq -r '[.. | objects | select(has("kind") and .state == "running") | .id] | sort | join(" ")' <<<"$OUT")
  [ "$running" = "host-local $VM1 $VM2 $VM3" ] && break
  [ $SECONDS -lt $deadline ] || fail "vbs instance list: expected the 3 VMs and host-local running, got '$running' ($OUT)"
  sleep 1
done
assert_eq qemu "$(jq -r ".. | objects | select(.id? == \"$VM1\") | .kind" <<<"$OUT")" "kind of $VM1"

# ------------------------------------------------------------------ 1. rw attach, write, detach
vbsc -o json volume create --size 64M --wait
assert_rc 0 "vbs volume create"
VOL=$(jf .id "$OUT")
SERIAL=${VOL/-/}
log "1. attach $VOL rw to $VM1"
attach_wait "$VOL" "$VM1"
dev=$(find_disk "$VM1" "$SERIAL") || fail "$VM1 never showed a disk with serial $SERIAL"
assert_eq "0 131072" "$(vm_exec "$VM1" "cat /sys/block/$dev/ro /sys/block/$dev/size" | tr '\n' ' ' | sed 's/ $//')" \
  "ro flag and size of /dev/$dev in $VM1"
vm_exec "$VM1" -t 120 "mke2fs -q -L vbs /dev/$dev && mount -t ext2 /dev/$dev /mnt &&
  dd if=/dev/urandom of=/mnt/a bs=64k count=32 2>/dev/null &&
  dd if=/dev/urandom of=/mnt/b bs=64k count=16 2>/dev/null &&
  echo hello-from-vbs >/mnt/hello && sync && umount /mnt" || fail "mkfs + writes in $VM1"
SUMS=$(vm_exec "$VM1" "mount -t ext2 -o ro /dev/$dev /mnt && cd /mnt && md5sum a b hello; cd /; umount /mnt")
[ "$(wc -l <<<"$SUMS")" = 3 ] || fail "no checksums from $VM1: $SUMS"
log "checksums: $(tr '\n' ' ' <<<"$SUMS")"
detach_wait "$VOL"
disk_gone "$VM1" "$SERIAL" || fail "$VM1 still has the disk after detach"
wait_state volume "$VOL" available
e2fsck -fn "$(vol_file "$VOL")" >/dev/null || fail "host e2fsck of the volume after the guest wrote"
debugfs -R "cat /hello" "$(vol_file "$VOL")" 2>/dev/null | grep -q hello-from-vbs ||
  fail "the host does not see the guest's file in the volume"

# ------------------------------------------------------------------ 2. ro to two VMs at once
log "2. attach $VOL ro to $VM2 and $VM3"
attach_wait "$VOL" "$VM2" --mode ro
attach_wait "$VOL" "$VM3" --mode ro
for vm in "$VM2" "$VM3"; do
  d=$(find_disk "$vm" "$SERIAL") || fail "$vm never showed the disk"
  assert_eq 1 "$(vm_exec "$vm" "cat /sys/block/$d/ro")" "ro flag in $vm"
  got=$(vm_exec "$vm" "mount -t ext2 -o ro /dev/$d /mnt && cd /mnt && md5sum a b hello; cd /; umount /mnt")
  assert_eq "$SUMS" "$got" "checksums read in $vm"
  guest_write_fails "$vm" "$d"
done
vbsc attach "$VOL" "$VM1"
assert_ne 0 "$RC" "an rw attach while attached ro elsewhere"
assert_contains VolumeInUse "$ERR" "error of the refused rw attach"
detach_wait "$VOL" "$VM2"
detach_wait "$VOL" "$VM3"
disk_gone "$VM2" "$SERIAL" || fail "$VM2 still has the disk after detach"
disk_gone "$VM3" "$SERIAL" || fail "$VM3 still has the disk after detach"
wait_state volume "$VOL" available

# ------------------------------------------------------------------ 4. kill -9 vbsd mid-write
log "4. attach $VOL rw to $VM1, write in a loop, kill -9 vbsd, restart"
attach_wait "$VOL" "$VM1"
EXPORT=$(jf .export_name "$ATT")
dev=$(find_disk "$VM1" "$SERIAL") || fail "$VM1 never showed the disk again"
N=40  # 64 KiB blocks written from offset 32 MiB, one fsync'd dd each
vm_exec "$VM1" "dd if=/dev/urandom of=/tmp/blk bs=64k count=$N 2>/dev/null; rm -f /tmp/loop.rc /tmp/loop.i
  (i=0; while [ \$i -lt $N ]; do
     dd if=/tmp/blk of=/dev/$dev bs=64k skip=\$i seek=\$((512 + i)) count=1 conv=fsync 2>/dev/null ||
       { echo \"fail at \$i\" >/tmp/loop.rc; exit; }
     i=\$((i+1)); echo \$i >/tmp/loop.i; usleep 100000
   done; echo 0 >/tmp/loop.rc) </dev/null >/dev/null 2>&1 &" || fail "starting the write loop in $VM1"
vm_exec "$VM1" "i=0; while [ \"\$(cat /tmp/loop.i 2>/dev/null || echo 0)\" -lt 3 ]; do
  i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000; done" || fail "the write loop did not start"
# Leftovers the store knows nothing of, in $VM2: a device with its node, and a lone node.
LEFT=vbs-vol-00000000000000003
hqmp "$VM2" blockdev-add "{\"driver\":\"null-co\",\"node-name\":\"$LEFT\",\"size\":1048576}" >/dev/null ||
  fail "adding a leftover node to $VM2"
hqmp "$VM2" device_add "{\"driver\":\"virtio-blk-pci\",\"id\":\"$LEFT\",\"drive\":\"$LEFT\"}" >/dev/null ||
  fail "adding a leftover device to $VM2"
hqmp "$VM2" blockdev-add '{"driver":"null-co","node-name":"vbs-vol-00000000000000004"}' >/dev/null ||
  fail "adding a lone leftover node to $VM2"
vbsd_kill
vm_exec "$VM1" "cat /tmp/loop.i /tmp/loop.rc 2>/dev/null" >&2 || true
vbsd_start --qmp-dir "$QMP"
vm_exec "$VM1" -t 120 "i=0; while [ ! -s /tmp/loop.rc ]; do i=\$((i+1)); [ \$i -gt 11000 ] && exit 1;
  usleep 10000; done; cat /tmp/loop.rc; [ \"\$(cat /tmp/loop.rc)\" = 0 ]" ||
  fail "guest writes across the vbsd restart did not all complete"
vbsc -o json volume show "$VOL"
assert_rc 0 "vbs volume show"
assert_eq "$EXPORT attached" "$(jq -r '.attachments[0] | "\(.export_name) \(.state)"' <<<"$OUT")" \
  "the attachment survives the restart under its export name"
# vbs_left VM: the vbs- block nodes and devices in the VM (via the harness socket).
vbs_left() {
  local nodes devs
  nodes=$(hqmp "$1" query-named-block-nodes '{"flat":true}') || return 1
  devs=$(hqmp "$1" qom-list '{"path":"/machine/peripheral"}') || return 1
  jq -r '[.[]["node-name"] | select(startswith("vbs-"))] | join(" ")' <<<"$nodes"
  jq -r '[.[].name | select(startswith("vbs-"))] | join(" ")' <<<"$devs"
}
deadline=$((SECONDS + 30))  # the agent cleans up at start, after re-exporting
until [ -z "$(vbs_left "$VM2" | tr -d '\n')" ]; do
  [ $SECONDS -lt $deadline ] || fail "vbs- leftovers still in $VM2: $(vbs_left "$VM2" | tr '\n' ' ')"
  sleep 0.5
done
gsum=$(vm_exec "$VM1" "md5sum /tmp/blk | cut -d' ' -f1")
hsum=$(dd if="$(vol_file "$VOL")" bs=64k skip=512 count=$N 2>/dev/null | md5sum | cut -d' ' -f1)
assert_eq "$gsum" "$hsum" "data written across the restart, as the host sees it"
grep -q "re-exported $VOL for pid " "$T/vbsd.$VBSD_LOGN.log" ||
  fail "the restarted agent did not log re-exporting $VOL to its QEMU"
# QEMU held the guest's I/O while the export was away (reconnect-delay): no I/O error recorded.
blocks=$(hqmp "$VM1" query-block) || fail "query-block on $VM1"
jq -e --arg n "vbs-$VOL" '[.[] | select(.inserted["node-name"]? == $n)] |
  length == 1 and all(.["io-status"] // "ok" | . == "ok")' <<<"$blocks" >/dev/null ||
  fail "QEMU recorded an I/O error on vbs-$VOL (or has no such node): $blocks"
vm_exec "$VM1" "dd if=/dev/$dev of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null ||
  dd if=/dev/$dev of=/dev/null bs=64k count=16 2>/dev/null" || fail "reads in $VM1 after the restart"
detach_wait "$VOL"
disk_gone "$VM1" "$SERIAL" || fail "$VM1 still has the disk after the last detach"

# ------------------------------------------------------------------ 3. snapshot while writing
log "3. ext4 volume rw to $VM1, files written in a loop, snapshot meanwhile"
vbsc -o json volume create --size 128M --wait
assert_rc 0 "vbs volume create (ext4 volume)"
VOL2=$(jf .id "$OUT")
SERIAL2=${VOL2/-/}
mkfs.ext4 -q -F -L vbs4 "$(vol_file "$VOL2")" || fail "mkfs.ext4 on the host"
attach_wait "$VOL2" "$VM1"
dev2=$(find_disk "$VM1" "$SERIAL2") || fail "$VM1 never showed $VOL2"
vm_exec "$VM1" "mount -t ext4 /dev/$dev2 /mnt && rm -f /tmp/w.stop /tmp/w.i /tmp/w.rc
  (i=0; while [ ! -e /tmp/w.stop ]; do
     dd if=/dev/urandom of=/mnt/f\$i bs=64k count=4 conv=fsync 2>/dev/null || break
     echo \"\$(md5sum /mnt/f\$i | cut -d' ' -f1) f\$i\" >>/mnt/manifest && sync
     i=\$((i+1)); echo \$i >/tmp/w.i
   done; echo \$i >/tmp/w.rc) </dev/null >/dev/null 2>&1 &" || fail "starting the file loop in $VM1"
# written_files: how many files the loop has finished (and listed) so far.
written_files() { vm_exec "$VM1" "cat /tmp/w.i 2>/dev/null || echo 0"; }
# wait_written N: until the loop has finished more than N files.
wait_written() {
  vm_exec "$VM1" -t 120 "i=0; while [ \"\$(cat /tmp/w.i 2>/dev/null || echo 0)\" -le $1 ]; do
    [ -s /tmp/w.rc ] && exit 2; i=\$((i+1)); [ \$i -gt 11000 ] && exit 1; usleep 10000; done" ||
    fail "the file loop in $VM1 did not get past $1 files"
}
wait_written 4
vbsc -o json snapshot create "$VOL2" --wait
assert_rc 0 "vbs snapshot create of the in-use volume"
SNAP=$(jf .id "$OUT")
assert_eq completed "$(jf .state "$OUT")" "snapshot state"
after=$(written_files)
grep -qE "snapshot $SNAP of $VOL2 held the writes of 1 export\(s\) for [0-9.]+ ms" "$T/vbsd.$VBSD_LOGN.log" ||
  fail "the agent did not hold the export's writes for the snapshot"
log "$(grep -oE "snapshot $SNAP of $VOL2 held .*" "$T/vbsd.$VBSD_LOGN.log")"
wait_written "$after"  # the guest kept running and writing
vm_exec "$VM1" -t 60 "touch /tmp/w.stop; i=0; while [ ! -s /tmp/w.rc ]; do i=\$((i+1));
  [ \$i -gt 5000 ] && exit 1; usleep 10000; done" || fail "the file loop in $VM1 did not stop"
vbsc -o json volume create --snapshot "$SNAP" --wait
assert_rc 0 "vbs volume create --snapshot"
VOL3=$(jf .id "$OUT")
attach_wait "$VOL3" "$VM2"
dev3=$(find_disk "$VM2" "${VOL3/-/}") || fail "$VM2 never showed $VOL3"
got=$(vm_exec "$VM2" -t 120 "mount -t ext4 /dev/$dev3 /mnt && cd /mnt && n=0 bad=0
  while read sum f; do [ -n \"\$f\" ] || continue
    [ \"\$(md5sum \$f | cut -d' ' -f1)\" = \"\$sum\" ] || { bad=\$((bad+1)); echo bad \$f; }
    n=\$((n+1)); done <manifest; echo files=\$n bad=\$bad; cd /; umount /mnt") ||
  fail "mounting the snapshot's volume in $VM2 failed: $got"
log "the snapshot's file system in $VM2: $(tail -n 1 <<<"$got")"
[[ $got =~ files=([0-9]+)\ bad=0$ ]] || fail "files in the snapshot do not check out: $got"
[ "${BASH_REMATCH[1]}" -ge 5 ] || fail "the snapshot lists fewer files than were written before it: $got"
detach_wait "$VOL3"
disk_gone "$VM2" "${VOL3/-/}" || fail "$VM2 still has $VOL3"
e2fsck -fn "$(vol_file "$VOL3")" >/dev/null || fail "host e2fsck -fn of the snapshot's volume"

# ------------------------------------------------------------------ 5. online resize
log "5. grow $VOL2 (attached to $VM1, mounted) from 128M to 192M"
assert_eq 262144 "$(vm_exec "$VM1" "cat /sys/block/$dev2/size")" "size of /dev/$dev2 before"
vbsc -o json volume resize "$VOL2" 192M --wait
assert_rc 0 "vbs volume resize --wait"
assert_eq completed "$(jf .state "$OUT")" "modification state"
vm_exec "$VM1" -t 60 "i=0; while [ \"\$(cat /sys/block/$dev2/size)\" != 393216 ]; do
  i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000; done" ||
  fail "$VM1 does not see the new size: $(vm_exec "$VM1" "cat /sys/block/$dev2/size")"
vbsc -o json volume show "$VOL2"
assert_eq "201326592 completed" "$(jq -r '"\(.size) \(.modification.state)"' <<<"$OUT")" "volume after the resize"
# Past the old end: the guest writes 1 MiB at 160 MiB and the host reads the same bytes.
vm_exec "$VM1" "dd if=/dev/urandom of=/tmp/tail bs=64k count=16 2>/dev/null &&
  dd if=/tmp/tail of=/dev/$dev2 bs=64k seek=2560 conv=fsync 2>/dev/null" ||
  fail "a write past the old end in $VM1"
gsum=$(vm_exec "$VM1" "md5sum /tmp/tail | cut -d' ' -f1")
hsum=$(dd if="$(vol_file "$VOL2")" bs=64k skip=2560 count=16 2>/dev/null | md5sum | cut -d' ' -f1)
assert_eq "$gsum" "$hsum" "bytes written past the old end, as the host sees them"
vm_exec "$VM1" "umount /mnt" || fail "umount in $VM1 after the resize"
detach_wait "$VOL2"
disk_gone "$VM1" "$SERIAL2" || fail "$VM1 still has $VOL2"
e2fsck -fn "$(vol_file "$VOL2")" >/dev/null || fail "host e2fsck -fn of the grown volume"

# ------------------------------------------------------------------ + force fences
log "+ a paused VM cannot release the disk: detach --force still fences it off the export"
attach_wait "$VOL" "$VM2"
URI=$(jf .nbd_uri "$ATT")
EXPORT2=$(jf .export_name "$ATT")
find_disk "$VM2" "$SERIAL" >/dev/null || fail "$VM2 never showed the disk"
# probe_export N: VM2's QEMU, the export's only consumer, opens it again as node probeN.
probe_export() {
  hqmp "$VM2" blockdev-add "{\"driver\":\"nbd\",\"node-name\":\"probe$1\",\"read-only\":true,
    \"server\":{\"type\":\"unix\",\"path\":\"$DATA/run/nbd.sock\"},\"export\":\"$EXPORT2\"}" >/dev/null
}
probe_export 1 || fail "the attachment's export does not open for its VM's QEMU while attached"
hqmp "$VM2" blockdev-del '{"node-name":"probe1"}' >/dev/null || fail "removing the probe node"
if nbdinfo --size "$URI" >/dev/null 2>&1; then fail "root opened $VM2's export: only its QEMU may"; fi
hqmp "$VM2" stop >/dev/null || fail "pausing $VM2"
detach_wait "$VOL" --force
if probe_export 2 2>/dev/null; then fail "the export is still served after detach --force"; fi
hqmp "$VM2" cont >/dev/null || fail "resuming $VM2"
disk_gone "$VM2" "$SERIAL" || fail "$VM2 did not drop the disk once resumed (its unplug was pending)"
wait_state volume "$VOL" available

# ------------------------------------------------------------------ + a VM that dies
log "+ kill $VM3's QEMU while $VOL is attached to it"
attach_wait "$VOL" "$VM3" --mode ro
find_disk "$VM3" "$SERIAL" >/dev/null || fail "$VM3 never showed the disk"
vm_kill "$VM3"
WAIT_TIMEOUT=45 wait_state volume "$VOL" available
vbsc -o json instance list
assert_eq gone "$(jq -r ".. | objects | select(.id? == \"$VM3\") | .state" <<<"$OUT")" "state of the killed VM"
log "vbs_attach_e2e: all steps passed"
