# vm.sh — helpers to run throwaway QEMU test VMs (source this file from bash).
#
# Each VM boots tests/vm/build-guest.sh's kernel + busybox initramfs under TCG (no boot disk,
# so the first hot-plugged disk is vda) and gets:
#   $VM_QMP_DIR/ID.qmp        QMP for the code under test (the agent); instance discovery
#                             finds VMs by these sockets
#   $VM_RUN_DIR/ID/harness.qmp a second QMP socket for the test harness: one QMP socket
#                             serves one client at a time
#   $VM_RUN_DIR/ID/serial.sock the serial console (wait=on: QEMU starts the guest only once
#                             console.py is connected, so no output is lost)
#   $VM_RUN_DIR/ID/console.log everything the guest printed; qemu.log = QEMU's own output
#
# Functions (all return non-zero on failure and say why on stderr; safe under set -e):
#   vm_boot ID [QEMU_ARGS...]   start a VM and wait for its shell (VM_BOOT_TIMEOUT, 180 s)
#   vm_exec ID [-t SECS] CMD    run CMD (any sh text) in the guest; prints its stdout+stderr,
#                               returns its exit code; 124 = timed out (^C sent), 125 = the
#                               harness failed (VM gone, no bridge)
#   vm_alive ID                 is QEMU still running
#   vm_shutdown ID [SECS]       poweroff in the guest, wait for QEMU to exit, else kill it
#   vm_kill ID                  SIGKILL QEMU (a crashed VM: its QMP socket file stays behind)
#   vm_cleanup_all              kill every VM this shell started (call from an EXIT trap)
#   vm_tie_to_shell PID         kill PID when this shell dies (VMs are tied automatically)
#   vm_qmp ID / vm_harness_qmp ID   socket paths
# Env: VM_QMP_DIR, VM_RUN_DIR (required), VM_MEM (256), VM_BOOT_TIMEOUT (180),
#      VM_EXEC_TIMEOUT (60), VM_KERNEL / VM_INITRD (else build-guest.sh is run once).
# Unix socket paths are limited to 107 bytes: keep VM_RUN_DIR and VM_QMP_DIR short.

VM_SH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_STARTED=()
VM_EXEC_SEQ=0

vm__err() { echo "vm.sh: $*" >&2; }
vm_qmp() { echo "$VM_QMP_DIR/$1.qmp"; }
vm_harness_qmp() { echo "$VM_RUN_DIR/$1/harness.qmp"; }

vm__guest() {
  [ -n "${VM_KERNEL:-}" ] && [ -n "${VM_INITRD:-}" ] && return 0
  local out
  out=$("$VM_SH_DIR/build-guest.sh") || { vm__err "build-guest.sh failed"; return 1; }
  VM_KERNEL=$(sed -n 's/^KERNEL=//p' <<<"$out")
  VM_INITRD=$(sed -n 's/^INITRD=//p' <<<"$out")
  [ -r "$VM_KERNEL" ] && [ -r "$VM_INITRD" ] || { vm__err "no kernel/initrd from build-guest.sh"; return 1; }
}

# vm__send ID TEXT — write raw bytes to the guest console. <> never blocks on open, even if
# the bridge is gone.
vm__send() {
  local fd
  exec {fd}<>"$VM_RUN_DIR/$1/console.in" || return 1
  printf '%s' "$2" >&"$fd"
  exec {fd}>&-
}

# vm_tie_to_shell PID — SIGKILL PID if this shell dies first (even by SIGKILL, where no EXIT
# trap runs), so a killed test never leaves a VM or server running.
vm_tie_to_shell() {
  local pid=$1 shell=$$
  (
    trap '' TERM INT HUP
    while kill -0 "$pid" 2>/dev/null; do
      kill -0 "$shell" 2>/dev/null || { kill -9 "$pid" 2>/dev/null; exit 0; }
      sleep 1
    done
  ) </dev/null >/dev/null 2>&1 &
}

vm_alive() {
  local pid
  pid=$(cat "$VM_RUN_DIR/$1/qemu.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null
}

# vm__wait_log ID OFFSET REGEX DEADLINE_EPOCH — wait until the console log after OFFSET has a
# line matching REGEX (extended). Fails when the deadline passes or QEMU exits.
vm__wait_log() {
  local log="$VM_RUN_DIR/$1/console.log" off=$2 re=$3 deadline=$4
  while :; do
    if tail -c +"$((off + 1))" "$log" 2>/dev/null | grep -Eq "$re"; then return 0; fi
    if ! vm_alive "$1"; then
      tail -c +"$((off + 1))" "$log" 2>/dev/null | grep -Eq "$re" && return 0
      return 2
    fi
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

vm_boot() {
  local id=$1; shift
  : "${VM_QMP_DIR:?}" "${VM_RUN_DIR:?}"
  vm__guest || return 1
  local d="$VM_RUN_DIR/$id"
  if vm_alive "$id"; then vm__err "VM $id is already running"; return 1; fi
  rm -rf "$d" && mkdir -p "$d" "$VM_QMP_DIR" || return 1
  rm -f "$(vm_qmp "$id")"
  local sock
  for sock in "$(vm_qmp "$id")" "$d/harness.qmp" "$d/serial.sock"; do
    [ ${#sock} -le 107 ] || { vm__err "socket path too long (>107 bytes): $sock"; return 1; }
  done
  mkfifo "$d/console.in" && : >"$d/console.log" || return 1
  qemu-system-x86_64 -machine pc,accel=tcg -m "${VM_MEM:-256}" -smp 1 \
    -nodefaults -no-user-config -display none -no-reboot -name "$id" \
    -kernel "$VM_KERNEL" -initrd "$VM_INITRD" -append "console=ttyS0 panic=-1 loglevel=4" \
    -qmp "unix:$(vm_qmp "$id"),server=on,wait=off" \
    -qmp "unix:$d/harness.qmp,server=on,wait=off" \
    -chardev "socket,id=ser0,path=$d/serial.sock,server=on,wait=on" -serial chardev:ser0 \
    "$@" </dev/null >"$d/qemu.log" 2>&1 &
  echo $! >"$d/qemu.pid"
  VM_STARTED+=("$id")
  vm_tie_to_shell "$(cat "$d/qemu.pid")"
  python3 "$VM_SH_DIR/console.py" "$d/serial.sock" "$d/console.log" "$d/console.in" 30 \
    </dev/null >>"$d/qemu.log" 2>&1 &
  echo $! >"$d/bridge.pid"
  vm_tie_to_shell "$(cat "$d/bridge.pid")"
  local deadline=$(($(date +%s) + ${VM_BOOT_TIMEOUT:-180})) rc=0
  vm__wait_log "$id" 0 '^VBS-GUEST-READY' "$deadline" || rc=$?
  if [ $rc != 0 ]; then
    vm__err "VM $id did not boot ($([ $rc = 2 ] && echo "QEMU exited" || echo timeout)); qemu.log:"
    tail -n 20 "$d/qemu.log" >&2; tail -c 2000 "$d/console.log" >&2
    vm_kill "$id"
    return 1
  fi
  if grep -q VBS-INSMOD-FAIL "$d/console.log"; then
    vm__err "virtio module load failed in guest $id:"; cat "$d/console.log" >&2; return 1
  fi
}

vm_exec() {
  local id=$1; shift
  local t=${VM_EXEC_TIMEOUT:-60}
  if [ "${1:-}" = -t ]; then t=$2; shift 2; fi
  local cmd=$1 d="$VM_RUN_DIR/$id"
  vm_alive "$id" || { vm__err "vm_exec: VM $id is not running"; return 125; }
  kill -0 "$(cat "$d/bridge.pid" 2>/dev/null)" 2>/dev/null ||
    { vm__err "vm_exec: console bridge of $id is gone"; return 125; }
  VM_EXEC_SEQ=$((VM_EXEC_SEQ + 1))
  local n="$$-$VM_EXEC_SEQ" off
  off=$(stat -c %s "$d/console.log")
  # The command travels base64-encoded (no tty special characters or quoting can bite) and
  # runs from a file with stdin from /dev/null (it cannot eat later input). The markers are
  # split in the input ("VBS""END") so only the guest's output can contain them whole.
  local fd
  exec {fd}<>"$d/console.in"
  {
    echo "base64 -d >/tmp/vbs.cmd <<'VBSEOF'"
    printf '%s' "$cmd" | base64 -w 76
    echo "VBSEOF"
    echo "echo VBS\"\"BEGIN-$n; sh /tmp/vbs.cmd </dev/null 2>&1; echo \"VBS\"\"END-$n rc=\$?\""
  } >&"$fd"
  exec {fd}>&-
  local deadline=$(($(date +%s) + t)) rc=0
  vm__wait_log "$id" "$off" "^VBSEND-$n rc=[0-9]+" "$deadline" || rc=$?
  local out
  out=$(tail -c +"$((off + 1))" "$d/console.log")
  if [ $rc != 0 ]; then
    [ $rc = 1 ] && vm__send "$id" $'\003'  # interrupt the hung command
    awk -v b="VBSBEGIN-$n" 'f; $0 == b { f = 1 }' <<<"$out"
    vm__err "vm_exec $id: $([ $rc = 1 ] && echo "timed out after ${t}s" || echo "VM exited"): $cmd"
    [ $rc = 1 ] && return 124
    return 125
  fi
  awk -v b="VBSBEGIN-$n" -v e="^VBSEND-$n rc=" '$0 ~ e { exit } f; $0 == b { f = 1 }' <<<"$out"
  return "$(sed -n "s/^VBSEND-$n rc=\([0-9]*\).*/\1/p" <<<"$out" | head -1)"
}

vm_kill() {
  local id=$1 d="$VM_RUN_DIR/$1" pid
  for f in qemu.pid bridge.pid; do
    pid=$(cat "$d/$f" 2>/dev/null) || continue
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true  # reaps our child; harmless for one that is not
  done
  return 0
}

vm_shutdown() {
  local id=$1 t=${2:-20} d="$VM_RUN_DIR/$1"
  vm_alive "$id" || { vm_kill "$id"; return 0; }
  vm__send "$id" $'poweroff -f\n'
  local deadline=$(($(date +%s) + t))
  while vm_alive "$id" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
  if vm_alive "$id"; then vm__err "VM $id ignored poweroff; killing it"; fi
  vm_kill "$id"
}

vm_cleanup_all() {
  local id
  for id in "${VM_STARTED[@]}"; do vm_kill "$id"; done
  VM_STARTED=()
}
