#!/usr/bin/env bash
# System test: the libvirt driver (LibvirtConnection, LibvirtAttach) against a real libvirtd
# (tests/vm/libvirt.sh starts one) running two TCG domains, with qemu-nbd standing in for the
# agent's NBD export (unix socket, export "x").
#
#   1. bad input: an unknown domain, a malformed id → clear errors
#   2. list-domains: instance ids derived from the UUIDs, owners from the VBS metadata (also
#      one set live afterwards), pids that are really the domains' QEMUs
#   3. rw attach to A by instance id (idempotent; ro over rw is AttachConflict) → the guest
#      writes 1 MiB, the host file has the same bytes; an attach to a missing export fails
#      and leaves nothing behind
#   4. detach waits for DEVICE_REMOVED: the disk is gone from dumpxml at once and from the
#      guest; detaching again succeeds. A suspended guest cannot release the disk:
#      GuestDidNotReleaseDevice, and detaching again after resume completes
#   5. ro attach to A and B at once → both read the data, writes fail in the guest
#   6. resize: grow the file, restart qemu-nbd, resize → the guest sees the new size; shrink
#      is refused
#   7. one long-lived connection keeps working across a libvirtd restart (list, detach)
#   8. virsh destroy A while attached → list-domains no longer shows it, calls on it fail
#      with NotFound
#
# Usage: libvirt_attach_e2e.sh PATH/TO/vbs_libvirt_attach_e2e   (KEEP=1 keeps the work dir)
# Installs what it needs (scripts/install-deps.sh libvirt vm); anything missing is a failure.
set -euo pipefail
drv=${1:?usage: $0 vbs_libvirt_attach_e2e}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
t0=$(date +%s)

"$repo/scripts/install-deps.sh" libvirt vm
for t in qemu-nbd python3 truncate virsh libvirtd; do
  command -v "$t" >/dev/null || { echo "FAIL: $t missing after install-deps" >&2; exit 1; }
done
guest=$("$here/build-guest.sh")
VM_KERNEL=$(sed -n 's/^KERNEL=//p' <<<"$guest")
VM_INITRD=$(sed -n 's/^INITRD=//p' <<<"$guest")

work=$(mktemp -d /tmp/vbs-lv-XXXXXX)  # short: unix socket paths are limited to 107 bytes
export VM_RUN_DIR="$work/run" LV_DIR="$work/lv" VM_KERNEL VM_INITRD
# shellcheck source=libvirt.sh
source "$here/libvirt.sh"

nbd_pids=()
ok=0
cleanup() {
  set +e
  lv_cleanup
  local p
  for p in "${nbd_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ $ok != 1 ]; then
    for f in "$VM_RUN_DIR"/*/console.log "$work"/*.nbd.log "$LV_DIR/libvirtd.log"; do
      [ -f "$f" ] && { echo "---- $f (tail)" >&2; tail -n 30 "$f" >&2; }
    done
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step() { echo "== $(date +%T) $*" >&2; }
die() { echo "FAIL: $*" >&2; exit 1; }
# expect_error CODE CMD...: CMD fails (exit 1) with "error: CODE: …" on stderr.
expect_error() {
  local code=$1; shift
  local rc=0
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ $rc = 1 ] || die "expected failure $code from '$*', got rc=$rc: $(cat "$work/out" "$work/err")"
  grep -q "^error: $code: " "$work/err" || die "expected $code from '$*', got: $(cat "$work/err")"
  echo "   (expected) $(cat "$work/err")" >&2
}

URI=$LV_URI
A=vbs-lv-a
B=vbs-lv-b
VOL=vol-0123456789abcdef0
SERIAL=vol0123456789abcdef0
MiB=$((1 << 20))

# start_nbd NAME IMG [--read-only]: qemu-nbd on $work/NAME.sock, export "x", several clients,
# serving on after a client leaves (a detach, a reconnect).
start_nbd() {
  local name=$1 img=$2; shift 2
  rm -f "$work/$name.sock"
  qemu-nbd --socket="$work/$name.sock" --export-name=x -f raw --persistent --shared=8 \
    --cache=writeback "$@" "$img" >>"$work/$name.nbd.log" 2>&1 &
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
  lv_exec "$1" "i=0; while :; do
      for d in /sys/block/vd*; do
        [ -f \$d/serial ] && [ \"\$(cat \$d/serial)\" = $SERIAL ] && [ -b /dev/\${d##*/} ] &&
          { echo \${d##*/}; exit 0; }
      done
      i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000
    done"
}
disk_gone() {
  lv_exec "$1" "i=0; while grep -qs $SERIAL /sys/block/vd*/serial; do
      i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000; done"
}
json_check() {  # json_check JSON PYTHON_EXPR_ON_d ARGS...: exit status of the expression
  local j=$1 expr=$2; shift 2
  python3 -c "import json, sys; d = json.loads(sys.argv[1]); a = sys.argv[2:]; sys.exit(0 if ($expr) else 1)" "$j" "$@"
}

# ---------------------------------------------------------------- 0. libvirtd + domains
step "start libvirtd"
lv_start_daemon
step "boot $A (owner alice) and $B (no owner) in parallel"
lv_define_domain "$A" alice
lv_define_domain "$B"

# ---------------------------------------------------------------- 1. bad input (while booting)
step "bad input"
expect_error InvalidInstanceID.NotFound "$drv" disks "$URI" no-such-domain
expect_error InvalidInstanceID.NotFound "$drv" attach "$URI" i-0123456789abcdef0 "$VOL" "$work/rw.sock" x rw
expect_error InvalidInstanceID.NotFound "$drv" detach "$URI" 00000000-0000-0000-0000-000000000000 "$VOL"
expect_error InvalidParameterValue "$drv" attach "$URI" "$A" "bad/vol" "$work/rw.sock" x rw
expect_error LibvirtUnavailable "$drv" list-domains "qemu+unix:///system?socket=$work/nobody.sock"
if "$drv" attach "$URI" "$A" "$VOL" "$work/rw.sock" x maybe 2>/dev/null; then die "mode 'maybe' accepted"; fi

lv_wait_ready "$A"
lv_wait_ready "$B"
step "both guests are up ($(($(date +%s) - t0)) s since start)"

# ---------------------------------------------------------------- 2. list-domains
uuid_a=$(lv_virsh domuuid "$A" | tr -d ' \n')
uuid_b=$(lv_virsh domuuid "$B" | tr -d ' \n')
id_of() { echo "i-$(tr -d '-' <<<"$1" | cut -c1-17)"; }
IA=$(id_of "$uuid_a")
IB=$(id_of "$uuid_b")
pid_a=$(cat "/run/libvirt/qemu/$A.pid")
pid_b=$(cat "/run/libvirt/qemu/$B.pid")
doms=$("$drv" list-domains "$URI")
echo "$doms" >&2
json_check "$doms" '{x["instance_id"]: (x["name"], x["owner"], x["qemu_pid"], x["alive"]) for x in d} ==
  {a[0]: (a[1], "alice", int(a[2]), True), a[3]: (a[4], "", int(a[5]), True)}' \
  "$IA" "$A" "$pid_a" "$IB" "$B" "$pid_b" || die "list-domains: wrong ids, owners or pids"
for p in "$pid_a" "$pid_b"; do
  [ "$(cat /proc/$p/comm)" = qemu-system-x86 ] || die "pid $p is $(cat /proc/$p/comm), not QEMU"
done
tr '\0' ' ' <"/proc/$pid_a/cmdline" | grep -q "guest=$A," || die "pid $pid_a is not $A's QEMU"
step "the platform sets B's owner live; an invalid owner reads as none"
lv_virsh metadata "$B" https://vbs.dev/xmlns/libvirt/1 --key vbs --live \
  --set '<instance><owner>bob</owner></instance>'
json_check "$("$drv" list-domains "$URI")" '{x["name"]: x["owner"] for x in d} == {a[0]: "alice", a[1]: "bob"}' "$A" "$B" ||
  die "owner set live not seen"
lv_virsh metadata "$B" https://vbs.dev/xmlns/libvirt/1 --key vbs --live \
  --set '<instance><owner>Bob Smith</owner></instance>'
json_check "$("$drv" list-domains "$URI")" '{x["name"]: x["owner"] for x in d} == {a[0]: "alice", a[1]: ""}' "$A" "$B" ||
  die "an invalid owner name was reported"

# ---------------------------------------------------------------- 3. rw attach
img="$work/vol.img"
truncate -s $((64 * MiB)) "$img"
step "attach to an export that does not exist: a clear error, nothing left behind"
if "$drv" attach "$URI" "$IA" "$VOL" "$work/rw.sock" x rw 2>"$work/err"; then
  die "attach without an export succeeded"
fi
cat "$work/err" >&2
[ "$("$drv" disks "$URI" "$IA")" = "[]" ] || die "a failed attach left a disk behind"
start_nbd rw "$img"
step "attach $VOL rw to $A ($IA)"
"$drv" attach "$URI" "$IA" "$VOL" "$work/rw.sock" x rw
"$drv" attach "$URI" "$IA" "$VOL" "$work/rw.sock" x rw  # idempotent
expect_error AttachConflict "$drv" attach "$URI" "$IA" "$VOL" "$work/rw.sock" x ro
disks=$("$drv" disks "$URI" "$A")
echo "$disks" >&2
json_check "$disks" 'd == [{"volume_id": a[0], "alias": "ua-vbs-" + a[0], "target": "vda", "export": "x",
  "socket": a[1], "serial": a[2], "read_only": False}]' "$VOL" "$work/rw.sock" "$SERIAL" ||
  die "disks does not show the rw attachment"
dev=$(find_disk "$A") || die "guest $A never showed a disk with serial $SERIAL"
step "guest $A sees /dev/$dev; it writes 1 MiB"
[ "$(lv_exec "$A" "cat /sys/block/$dev/ro /sys/block/$dev/size" | tr '\n' ' ')" = "0 131072 " ] ||
  die "unexpected ro/size for /dev/$dev"
gsum=$(lv_exec "$A" -t 120 "dd if=/dev/urandom of=/tmp/blk bs=64k count=16 2>/dev/null &&
  dd if=/tmp/blk of=/dev/$dev bs=64k conv=fsync 2>/dev/null && md5sum /tmp/blk | cut -d' ' -f1") ||
  die "guest write failed"
hsum=$(head -c $MiB "$img" | md5sum | cut -d' ' -f1)
[ ${#gsum} = 32 ] && [ "$gsum" = "$hsum" ] || die "host file ($hsum) does not hold the guest's data ($gsum)"

# ---------------------------------------------------------------- 4. detach
step "a guest that cannot answer (suspended): GuestDidNotReleaseDevice; detach again waits on"
lv_virsh suspend "$A" >/dev/null
expect_error GuestDidNotReleaseDevice "$drv" detach "$URI" "$IA" "$VOL" 2000
lv_virsh dumpxml "$A" | grep -q "ua-vbs-$VOL" || die "the disk went while the guest was paused"
lv_virsh resume "$A" >/dev/null
"$drv" detach "$URI" "$IA" "$VOL" 30000
if lv_virsh dumpxml "$A" | grep -q "ua-vbs-$VOL"; then die "dumpxml still shows the disk"; fi
disk_gone "$A" || die "guest $A still has the disk after the resumed detach"
"$drv" attach "$URI" "$IA" "$VOL" "$work/rw.sock" x rw
dev=$(find_disk "$A") || die "guest $A did not see the disk again"
step "detach from $A waits for DEVICE_REMOVED"
s=$(date +%s%N)
"$drv" detach "$URI" "$IA" "$VOL" 30000
step "detach took $((($(date +%s%N) - s) / 1000000)) ms"
if lv_virsh dumpxml "$A" | grep -q "ua-vbs-$VOL"; then die "dumpxml still shows the disk after detach"; fi
disk_gone "$A" || die "guest $A still has the disk after detach"
"$drv" detach "$URI" "$IA" "$VOL"  # idempotent
[ "$("$drv" disks "$URI" "$IA")" = "[]" ] || die "disks not empty after detach"
stop_nbd rw

# ---------------------------------------------------------------- 5. ro to A and B at once
start_nbd ro "$img" --read-only
step "attach $VOL ro to $A and $B at once"
"$drv" attach "$URI" "$IA" "$VOL" "$work/ro.sock" x ro &
pa=$!
"$drv" attach "$URI" "$uuid_b" "$VOL" "$work/ro.sock" x ro
wait "$pa" || die "ro attach to $A failed"
for vm in "$A" "$B"; do
  d=$(find_disk "$vm") || die "guest $vm never showed the ro disk"
  [ "$(lv_exec "$vm" "cat /sys/block/$d/ro")" = 1 ] || die "ro attach not read-only in $vm"
  s2=$(lv_exec "$vm" "dd if=/dev/$d bs=64k count=16 2>/dev/null | md5sum | cut -d' ' -f1")
  [ "$s2" = "$hsum" ] || die "$vm reads $s2, not the data written ($hsum)"
  set +e
  out=$(lv_exec "$vm" "dd if=/dev/zero of=/dev/$d bs=4096 count=1 conv=fsync")
  rc=$?
  set -e
  echo "   write on the ro disk in $vm: rc=$rc $out" >&2
  [ $rc != 0 ] && [ $rc -lt 124 ] || die "write to the ro disk in $vm did not fail (rc=$rc)"
done
[ "$(head -c $MiB "$img" | md5sum | cut -d' ' -f1)" = "$hsum" ] || die "the ro disks changed the file"
json_check "$("$drv" disks "$URI" "$B")" 'len(d) == 1 and d[0]["read_only"] is True' ||
  die "disks on $B does not show a read-only disk"
"$drv" detach "$URI" "$IA" "$VOL"
"$drv" detach "$URI" "$IB" "$VOL"
disk_gone "$A" && disk_gone "$B" || die "ro disks still in the guests after detach"
stop_nbd ro

# ---------------------------------------------------------------- 6. resize
start_nbd rw "$img"
step "resize while attached to $A"
"$drv" attach "$URI" "$A" "$VOL" "$work/rw.sock" x rw
dev=$(find_disk "$A") || die "disk did not reappear on $A"
expect_error AttachmentNotFound "$drv" resize "$URI" "$A" vol-00000000000000009 $((96 * MiB))
truncate -s $((96 * MiB)) "$img"
# NBD cannot announce a new size: the export drops its connection, and QEMU renegotiates
# when it reconnects, which it does on the guest's next I/O.
stop_nbd rw
start_nbd rw "$img"
"$drv" resize "$URI" "$A" "$VOL" $((96 * MiB)) 60000 >"$work/resize.out" 2>"$work/resize.err" &
rpid=$!
lv_exec "$A" -t 90 "i=0; while [ \$(cat /sys/block/$dev/size) != $((96 * MiB / 512)) ]; do
  echo 3 >/proc/sys/vm/drop_caches; dd if=/dev/$dev of=/dev/null bs=4096 count=1 skip=\$i 2>/dev/null
  i=\$((i+1)); [ \$i -gt 600 ] && exit 1; usleep 100000; done" ||
  die "guest size is $(lv_exec "$A" "cat /sys/block/$dev/size") sectors, not $((96 * MiB / 512))"
wait "$rpid" || die "resize failed: $(cat "$work/resize.err")"
cat "$work/resize.out" >&2
"$drv" resize "$URI" "$A" "$VOL" $((96 * MiB))  # the same size again: nothing to do
expect_error InvalidParameterValue "$drv" resize "$URI" "$A" "$VOL" $((32 * MiB))

# ---------------------------------------------------------------- 7. libvirtd restarts
step "one connection across a libvirtd restart"
coproc SESS { "$drv" session "$URI" 2>"$work/session.err"; }
vm_tie_to_shell "$SESS_PID"
ask() {  # ask LINE: one session command, its one line of output
  echo "$1" >&"${SESS[1]}"
  local reply
  read -r -t 60 reply <&"${SESS[0]}" || die "session: no answer to '$1': $(cat "$work/session.err")"
  echo "$reply"
}
before=$(ask list-domains)
json_check "$before" 'len(d) == 2' || die "session list-domains: $before"
lv_restart_daemon
after=$(ask list-domains)
echo "$after" >&2
json_check "$after" 'sorted((x["instance_id"], x["qemu_pid"]) for x in d) == sorted((x["instance_id"], x["qemu_pid"]) for x in json.loads(a[0]))' "$before" ||
  die "after the restart the session lists $after, not $before"
[ "$(ask "detach $IA $VOL")" = "{\"detached\":\"$VOL\"}" ] || die "session detach after the restart failed"
if lv_virsh dumpxml "$A" | grep -q "ua-vbs-$VOL"; then die "dumpxml still shows the disk"; fi
disk_gone "$A" || die "guest $A still has the disk after the session's detach"
[ "$(ask "disks $IA")" = "[]" ] || die "session disks not empty after detach"
s=$(date +%s%N)
exec {SESS[1]}>&-
wait "$SESS_PID" || die "session exited non-zero: $(cat "$work/session.err")"
# Closing waits (bounded: 5 s) until libvirt released every event registration, the old
# connection's included: a prompt exit means none was leaked.
ms=$((($(date +%s%N) - s) / 1000000))
step "the session closed in $ms ms"
[ $ms -lt 3000 ] || die "the session took $ms ms to close: an event registration was not released"
"$drv" attach "$URI" "$A" "$VOL" "$work/rw.sock" x rw
find_disk "$A" >/dev/null || die "disk did not reappear on $A"

# ---------------------------------------------------------------- 8. destroy while attached
step "virsh destroy $A while attached"
lv_virsh destroy "$A" >/dev/null
doms=$("$drv" list-domains "$URI")
echo "$doms" >&2
json_check "$doms" '[x["instance_id"] for x in d] == [a[0]]' "$IB" || die "$A still listed after destroy"
expect_error InvalidInstanceID.NotFound "$drv" disks "$URI" "$IA"
expect_error InvalidInstanceID.NotFound "$drv" detach "$URI" "$A" "$VOL"
[ "$("$drv" disks "$URI" "$IB")" = "[]" ] || die "$B has a disk left"

ok=1
echo "PASS: libvirt_attach_e2e ($(($(date +%s) - t0)) s)" >&2
