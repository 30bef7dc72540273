#!/usr/bin/env bash
# System test: the whole product against a real libvirtd. `vbsd dev --libvirt-uri
# qemu:///system` takes its instances from libvirt (tests/vm/libvirt.sh starts a private
# libvirtd and two TCG domains whose VBS owner metadata says alice); everything goes through
# the `vbs` CLI as the normal user alice (bob for the security step).
#
#   1. `vbs instance list` shows both domains: kind libvirt, running, i- ids from the UUIDs
#   2. rw attach to A (--wait) → the guest finds the disk by serial, writes 1 MiB (fsync);
#      the host's volume file has the bytes; dumpxml has alias ua-vbs-VOL, serial, cache=none
#   3. detach --wait → the disk is gone in the guest and in dumpxml; the agent logged it
#   4. ro attach to A and B at once → both read the data, writes fail in both; an rw attach
#      meanwhile is refused (VolumeInUse); detach both
#   5. `vbs volume resize` while attached rw to A → the guest (doing I/O, so QEMU's NBD client
#      reconnects) sees the new size; the modification completes
#   6. bob cannot attach his volume to alice's domain (error code asserted); dumpxml unchanged
#   7. kill -9 vbsd while attached rw to A, restart on the same data dir → after the restart a
#      read and a write+fsync in the guest work again (retried briefly: libvirt 9.0 gives QEMU
#      no reconnect-delay, so I/O during the gap may see EIO) and the data from before is intact
#   8. virsh destroy B while it has an attachment → the server ends it, the volume is available
#
# Env: VBSD, VBS (binaries), VBS_SYSTEM_KEEP=1 (keep a failed run's temp dir),
# VBS_E2E_LOG_DIR (copy vbsd's logs there, pass or fail).
# Installs what it needs (scripts/install-deps.sh libvirt vm system); missing = failure.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../system/lib.sh"
"$VBS_SRC/scripts/install-deps.sh" libvirt vm >&2
t_init libvirt_vbs_e2e
for t in qemu-system-x86_64 python3 virsh libvirtd; do
  command -v "$t" >/dev/null || fail "$t is missing after scripts/install-deps.sh libvirt vm"
done
guest=$("$here/build-guest.sh") || fail "build-guest.sh failed"
VM_KERNEL=$(sed -n 's/^KERNEL=//p' <<<"$guest")
VM_INITRD=$(sed -n 's/^INITRD=//p' <<<"$guest")
export VM_RUN_DIR=$T/run LV_DIR=$T/lv VM_KERNEL VM_INITRD
# shellcheck source=libvirt.sh
source "$here/libvirt.sh"
t0=$SECONDS

on_exit() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ]; then
    for f in "$VM_RUN_DIR"/*/console.log "$LV_DIR/libvirtd.log"; do
      [ -f "$f" ] && { echo "---- $f (tail)" >&2; tail -n 20 "$f" >&2; }
    done
    for f in "$T"/vbsd.*.log; do
      [ -f "$f" ] && { echo "---- $f (agent lines)" >&2; grep -E "agent|error" "$f" | tail -n 30 >&2; }
    done
  fi
  if [ -n "${VBS_E2E_LOG_DIR:-}" ]; then mkdir -p "$VBS_E2E_LOG_DIR" && cp "$T"/vbsd.*.log "$VBS_E2E_LOG_DIR"/; fi
  lv_cleanup >/dev/null 2>&1
  (exit $rc)
  t_cleanup
}
trap on_exit EXIT

A=vbs-e2e-a
B=vbs-e2e-b
MiB=$((1 << 20))

# find_disk DOMAIN SERIAL: the guest's vdX whose serial is SERIAL (waits for it to show up).
find_disk() {
  lv_exec "$1" "i=0; while :; do
      for d in /sys/block/vd*; do
        [ -f \$d/serial ] && [ \"\$(cat \$d/serial)\" = $2 ] && [ -b /dev/\${d##*/} ] &&
          { echo \${d##*/}; exit 0; }
      done
      i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000
    done"
}
# disk_gone DOMAIN SERIAL: waits until no disk of the guest has SERIAL.
disk_gone() {
  lv_exec "$1" "i=0; while grep -qs $2 /sys/block/vd*/serial; do
      i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000; done"
}
# attach_wait VOL INSTANCE [ARGS...]: vbs attach --wait; sets ATT.
attach_wait() {
  local vol=$1 inst=$2; shift 2
  vbsc -o json attach "$vol" "$inst" --wait "$@"
  assert_rc 0 "vbs attach $vol $inst --wait $*"
  ATT=$OUT
  assert_eq attached "$(jf .state "$ATT")" "attachment state after attach --wait"
  assert_eq "ua-vbs-$vol" "$(jf .device "$ATT")" "libvirt alias of the attachment"
}
# detach_wait VOL [INSTANCE] [--force]
detach_wait() {
  vbsc -o json detach "$@" --wait
  assert_rc 0 "vbs detach $* --wait"
  assert_eq detached "$(jf .state "$OUT")" "attachment state after detach --wait"
}
# vbs_disks DOMAIN: the domain's disks with a ua-vbs- alias, one line each:
# "ALIAS SERIAL CACHE RO TARGET" (from the live XML).
vbs_disks() {
  lv_virsh dumpxml "$1" | python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
for d in root.findall("./devices/disk"):
    a = d.find("alias")
    if a is None or not a.get("name", "").startswith("ua-vbs-"):
        continue
    drv = d.find("driver")
    print(a.get("name"), d.findtext("serial", ""), drv.get("cache", "") if drv is not None else "",
          "ro" if d.find("readonly") is not None else "rw", d.find("target").get("dev"))'
}
# guest_write_fails DOMAIN DEV: a raw write to the ro /dev/DEV fails.
guest_write_fails() {
  local out rc=0
  out=$(lv_exec "$1" "dd if=/dev/zero of=/dev/$2 bs=4096 count=1 conv=fsync") || rc=$?
  [ $rc != 0 ] && [ $rc -lt 124 ] || fail "a write to the ro disk in $1 did not fail (rc=$rc: $out)"
  [[ $out =~ "Operation not permitted"|"Read-only" ]] || fail "ro write in $1 failed oddly: $out"
}
# guest_md5 DOMAIN DEV SKIP_64K COUNT_64K: md5 of a range of the disk, read past the page cache.
guest_md5() {
  lv_exec "$1" "echo 3 >/proc/sys/vm/drop_caches; dd if=/dev/$2 bs=64k skip=$3 count=$4 2>/dev/null | md5sum | cut -d' ' -f1"
}
host_md5() {  # VOL SKIP_64K COUNT_64K
  dd if="$(vol_file "$1")" bs=64k skip="$2" count="$3" 2>/dev/null | md5sum | cut -d' ' -f1
}
# instance_field ID FIELD: from the last `vbs -o json instance list`.
instance_field() { jq -r --arg id "$1" ".. | objects | select(.id? == \$id) | .$2" <<<"$OUT"; }

# ------------------------------------------------------------------ 0. libvirtd, domains, vbsd
log "start libvirtd; boot $A and $B (owner alice, TCG)"
lv_start_daemon || fail "lv_start_daemon"
lv_define_domain "$A" alice || fail "lv_define_domain $A"
lv_define_domain "$B" alice || fail "lv_define_domain $B"
vbsd_start --libvirt-uri "$LV_URI"
make_user alice
make_user bob
lv_wait_ready "$A" || fail "$A did not boot"
lv_wait_ready "$B" || fail "$B did not boot"
log "both guests are up ($((SECONDS - t0)) s)"
id_of() { echo "i-$(lv_virsh domuuid "$1" | tr -d ' \n-' | cut -c1-17)"; }
IA=$(id_of "$A")
IB=$(id_of "$B")
[[ $IA =~ ^i-[0-9a-f]{17}$ && $IB =~ ^i-[0-9a-f]{17}$ ]] || fail "ids from virsh domuuid: '$IA' '$IB'"

# ------------------------------------------------------------------ 1. instance list
log "1. vbs instance list shows $A ($IA) and $B ($IB)"
as_user alice
deadline=$((SECONDS + 30))
while true; do
  vbsc -o json instance list
  assert_rc 0 "vbs instance list"
  running=$(jq -r '[.. | objects | select(has("kind") and .kind == "libvirt" and .state == "running") | .id] | sort | join(" ")' <<<"$OUT")
  [ "$running" = "$(printf '%s\n' "$IA" "$IB" | sort | tr '\n' ' ' | sed 's/ $//')" ] && break
  [ $SECONDS -lt $deadline ] || fail "vbs instance list: expected $IA and $IB running (kind libvirt), got '$running' ($OUT)"
  sleep 1
done
for i in "$IA" "$IB"; do
  assert_eq libvirt "$(instance_field "$i" kind)" "kind of $i"
  assert_eq running "$(instance_field "$i" state)" "state of $i"
done
log "instances: $(jq -c '[.. | objects | select(has("kind"))]' <<<"$OUT")"

# ------------------------------------------------------------------ 2. rw attach to A
vbsc -o json volume create --size 64M --wait
assert_rc 0 "vbs volume create"
VOL=$(jf .id "$OUT")
SERIAL=${VOL/-/}
log "2. attach $VOL rw to $A"
# A second libvirt client, registered long before step 3's detach, sees the DEVICE_REMOVED
# event the agent's detach waits for (virsh event ends after the first one).
lv_virsh event --domain "$A" --event device-removed --timeout 120 >"$T/event.out" 2>&1 &
ev=$!
T_PIDS+=("$ev")
attach_wait "$VOL" "$IA"
dev=$(find_disk "$A" "$SERIAL") || fail "$A never showed a disk with serial $SERIAL"
assert_eq "0 131072" "$(lv_exec "$A" "cat /sys/block/$dev/ro /sys/block/$dev/size" | tr '\n' ' ' | sed 's/ $//')" \
  "ro flag and size of /dev/$dev in $A"
gsum=$(lv_exec "$A" -t 120 "dd if=/dev/urandom of=/tmp/pat bs=64k count=16 2>/dev/null &&
  dd if=/tmp/pat of=/dev/$dev bs=64k conv=fsync 2>/dev/null && sync && md5sum /tmp/pat | cut -d' ' -f1") ||
  fail "guest write in $A"
[ ${#gsum} = 32 ] || fail "no checksum from $A: $gsum"
PAT=$gsum
assert_eq "$PAT" "$(host_md5 "$VOL" 0 16)" "the guest's 1 MiB as the host's volume file has it"
assert_eq "ua-vbs-$VOL $SERIAL none rw $dev" "$(vbs_disks "$A")" "$A's VBS disk in virsh dumpxml"
lv_virsh dumpxml "$A" | grep -q "protocol='nbd'" || fail "$A's disk is not an NBD network disk"
grep -q "attached $VOL (rw) to libvirt domain $A ($IA)" "$T/vbsd.$VBSD_LOGN.log" ||
  fail "the agent did not log the libvirt attach"

# ------------------------------------------------------------------ 3. detach
log "3. detach $VOL"
t_det=$(date +%s%N)
detach_wait "$VOL"
log "detach --wait took $((($(date +%s%N) - t_det) / 1000000)) ms"
wait "$ev" || fail "virsh event saw no device-removed for $A: $(cat "$T/event.out")"
assert_contains "ua-vbs-$VOL" "$(cat "$T/event.out")" "libvirt's device-removed event for $A"
assert_eq "" "$(vbs_disks "$A")" "$A's VBS disks in dumpxml after detach"
disk_gone "$A" "$SERIAL" || fail "$A still has the disk after detach"
grep -q "detached $VOL from libvirt domain $A ($IA)" "$T/vbsd.$VBSD_LOGN.log" ||
  fail "the agent did not log the libvirt detach"
wait_state volume "$VOL" available

# ------------------------------------------------------------------ 4. ro to A and B at once
log "4. attach $VOL ro to $A and $B"
attach_wait "$VOL" "$IA" --mode ro
attach_wait "$VOL" "$IB" --mode ro
for d in "$A" "$B"; do
  g=$(find_disk "$d" "$SERIAL") || fail "$d never showed the ro disk"
  assert_eq 1 "$(lv_exec "$d" "cat /sys/block/$g/ro")" "ro flag in $d"
  assert_eq "$PAT" "$(guest_md5 "$d" "$g" 0 16)" "the pattern read in $d"
  guest_write_fails "$d" "$g"
  assert_eq "ua-vbs-$VOL $SERIAL none ro $g" "$(vbs_disks "$d")" "$d's ro disk in dumpxml"
done
vbsc attach "$VOL" "$IA"
assert_ne 0 "$RC" "an rw attach while attached ro to two domains"
assert_contains VolumeInUse "$ERR" "error of the refused rw attach"
assert_eq "$PAT" "$(host_md5 "$VOL" 0 16)" "the volume after the ro attachments"
detach_wait "$VOL" "$IA"
detach_wait "$VOL" "$IB"
disk_gone "$A" "$SERIAL" || fail "$A still has the ro disk after detach"
disk_gone "$B" "$SERIAL" || fail "$B still has the ro disk after detach"
wait_state volume "$VOL" available

# ------------------------------------------------------------------ 5. resize
log "5. grow $VOL from 64M to 96M while attached rw to $A"
attach_wait "$VOL" "$IA"
dev=$(find_disk "$A" "$SERIAL") || fail "$A never showed the disk again"
vbsc -o json volume resize "$VOL" 96M
assert_rc 0 "vbs volume resize"
# libvirt cannot poke QEMU's node: QEMU learns the size when its NBD client reconnects, on
# the guest's next I/O. Read (past the cache) until the size shows.
lv_exec "$A" -t 90 "i=0; while [ \$(cat /sys/block/$dev/size) != $((96 * MiB / 512)) ]; do
  echo 3 >/proc/sys/vm/drop_caches; dd if=/dev/$dev of=/dev/null bs=4096 count=1 skip=\$i 2>/dev/null
  i=\$((i+1)); [ \$i -gt 600 ] && exit 1; usleep 100000; done" ||
  fail "$A sees $(lv_exec "$A" "cat /sys/block/$dev/size") sectors, not $((96 * MiB / 512))"
deadline=$((SECONDS + 60))
while true; do
  vbsc -o json volume show "$VOL"
  assert_rc 0 "vbs volume show"
  got=$(jq -r '"\(.size) \(.modification.state)"' <<<"$OUT")
  [ "$got" = "$((96 * MiB)) completed" ] && break
  [ $SECONDS -lt $deadline ] || fail "the resize did not complete: $OUT"
  sleep 0.5
done
grep -q "domain $A now sees $VOL at $((96 * MiB)) bytes" "$T/vbsd.$VBSD_LOGN.log" ||
  fail "the agent did not log the libvirt resize"
# Past the old end: the guest writes 1 MiB at 80 MiB, the host reads the same bytes.
lv_exec "$A" "dd if=/dev/urandom of=/tmp/tail bs=64k count=16 2>/dev/null &&
  dd if=/tmp/tail of=/dev/$dev bs=64k seek=1280 conv=fsync 2>/dev/null" || fail "write past the old end in $A"
assert_eq "$(lv_exec "$A" "md5sum /tmp/tail | cut -d' ' -f1")" "$(host_md5 "$VOL" 1280 16)" \
  "bytes written past the old end, as the host sees them"

# ------------------------------------------------------------------ 6. bob vs alice's domain
log "6. bob attaches his volume to alice's $A: refused"
before=$(lv_virsh dumpxml "$A")
as_user bob
vbsc -o json volume create --size 16M --wait
assert_rc 0 "bob: vbs volume create"
BVOL=$(jf .id "$OUT")
vbsc -o json attach "$BVOL" "$IA" --wait
assert_eq 1 "$RC" "bob: vbs attach $BVOL to alice's $IA (exit code)"
assert_contains "InvalidInstanceID.NotFound" "$ERR" "bob: error of the attach to alice's domain"
log "bob was told: $ERR"
vbsc -o json volume show "$BVOL"
assert_eq available "$(jf .state "$OUT")" "bob's volume after the refused attach"
vbsc -o json instance list
assert_rc 0 "bob: vbs instance list"
assert_eq "" "$(jq -r '[.. | objects | select(.kind? == "libvirt") | .id] | join(" ")' <<<"$OUT")" \
  "libvirt instances bob can see"
assert_eq "$before" "$(lv_virsh dumpxml "$A")" "$A's dumpxml after bob's attempt"
as_user alice

# ------------------------------------------------------------------ 7. kill -9 vbsd while attached
log "7. kill -9 vbsd while $VOL is attached rw to $A; restart on the same data dir"
K=$(lv_exec "$A" -t 60 "dd if=/dev/urandom of=/tmp/k bs=64k count=32 2>/dev/null &&
  dd if=/tmp/k of=/dev/$dev bs=64k seek=320 conv=fsync 2>/dev/null && sync && md5sum /tmp/k | cut -d' ' -f1") ||
  fail "write before the kill in $A"
assert_eq "$K" "$(host_md5 "$VOL" 320 32)" "data written before the kill, on the host"
EXPORT=$(jf .export_name "$ATT")
vbsd_kill
vbsd_start --libvirt-uri "$LV_URI"
as_user alice
deadline=$((SECONDS + 30))  # the agent re-exports at start, from the server's attachments
until grep -q "re-exported $VOL for " "$T/vbsd.$VBSD_LOGN.log"; do
  [ $SECONDS -lt $deadline ] || fail "the restarted agent did not log re-exporting $VOL to $A's QEMU"
  sleep 0.2
done
# I/O after the restart: a request may meet the connection QEMU has not yet noticed is dead
# (EIO, reconnect-delay 0 on libvirt 9.0); retried every 0.5 s, it must work within 30 s.
t_io=$SECONDS
io=$(lv_exec "$A" -t 60 "i=0; r=-; w=-; f=
  while [ \$i -lt 60 ]; do
    echo 3 >/proc/sys/vm/drop_caches
    [ \$r = ok ] || { dd if=/dev/$dev of=/dev/null bs=64k count=16 2>/dev/null && r=ok || f=\"\$f r\$i\"; }
    [ \$w = ok ] || { dd if=/tmp/pat of=/dev/$dev bs=64k seek=640 conv=fsync 2>/dev/null && sync && w=ok || f=\"\$f w\$i\"; }
    [ \$r = ok ] && [ \$w = ok ] && { echo ok tries=\$((i+1)) failed:\${f:- none}; exit 0; }
    i=\$((i+1)); usleep 500000
  done; echo read=\$r write=\$w; exit 1") || fail "I/O in $A after the vbsd restart never worked: $io"
log "guest I/O after the restart: $io ($((SECONDS - t_io)) s)"
assert_eq "$K" "$(guest_md5 "$A" "$dev" 320 32)" "data written before the kill, read by $A after the restart"
assert_eq "$K" "$(host_md5 "$VOL" 320 32)" "data written before the kill, on the host after the restart"
assert_eq "$PAT" "$(host_md5 "$VOL" 640 16)" "data written after the restart, on the host"
assert_eq "$PAT" "$(host_md5 "$VOL" 0 16)" "the first pattern after the restart"
vbsc -o json volume show "$VOL"
assert_rc 0 "vbs volume show"
assert_eq "$EXPORT attached" "$(jq -r '.attachments[0] | "\(.export_name) \(.state)"' <<<"$OUT")" \
  "the attachment survives the restart under its export name"
assert_eq "ua-vbs-$VOL $SERIAL none rw $dev" "$(vbs_disks "$A")" "$A's disk in dumpxml after the restart"
detach_wait "$VOL"
disk_gone "$A" "$SERIAL" || fail "$A still has the disk after detach (after the restart)"
assert_eq "" "$(vbs_disks "$A")" "$A's VBS disks after the last detach"

# ------------------------------------------------------------------ 8. virsh destroy B
log "8. virsh destroy $B while $VOL is attached to it"
attach_wait "$VOL" "$IB"
find_disk "$B" "$SERIAL" >/dev/null || fail "$B never showed the disk"
t_d=$SECONDS
lv_destroy "$B"
WAIT_TIMEOUT=40 wait_state volume "$VOL" available
log "attachment ended $((SECONDS - t_d)) s after virsh destroy"
vbsc -o json volume show "$VOL"
assert_eq 0 "$(jq '[.attachments[]? | select(.state != "detached")] | length' <<<"$OUT")" \
  "live attachments of $VOL after $B was destroyed"
vbsc -o json instance list
st=$(instance_field "$IB" state)
[ -z "$st" ] || [ "$st" = gone ] || fail "state of the destroyed $IB: '$st' ($OUT)"
assert_eq running "$(instance_field "$IA" state)" "state of $IA after $B was destroyed"
# The volume is usable again: attach to A once more.
attach_wait "$VOL" "$IA"
find_disk "$A" "$SERIAL" >/dev/null || fail "$A did not get the volume after $B's end"
detach_wait "$VOL"
log "libvirt_vbs_e2e: all steps passed ($((SECONDS - t0)) s)"
