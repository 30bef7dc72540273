#!/usr/bin/env bash
# System test of the VM harness itself (tests/vm/vm.sh): boot, vm_exec's output, exit codes,
# quoting, stderr, a timed-out command that is interrupted without wedging the console, a
# larger command, shutdown. The attach tests rely on exactly these properties.
# Installs what it needs (scripts/install-deps.sh vm); anything missing is a failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../scripts/install-deps.sh" vm
work=$(mktemp -d /tmp/vbs-vmh-XXXXXX)
export VM_QMP_DIR="$work/qmp" VM_RUN_DIR="$work/run"
# shellcheck source=vm.sh
source "$here/vm.sh"
ok=0
cleanup() {
  set +e
  vm_cleanup_all
  [ $ok = 1 ] || tail -n 40 "$VM_RUN_DIR"/*/console.log "$VM_RUN_DIR"/*/qemu.log >&2
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
die() { echo "FAIL: $*" >&2; exit 1; }
ID=i-000000000000000c3

vm_boot "$ID"
vm_alive "$ID" || die "VM not alive after boot"
[ -S "$(vm_qmp "$ID")" ] && [ -S "$(vm_harness_qmp "$ID")" ] || die "QMP sockets missing"

out=$(vm_exec "$ID" 'echo one; echo two')
[ "$out" = $'one\ntwo' ] || die "output: $(printf %q "$out")"
set +e
out=$(vm_exec "$ID" 'echo to-stderr >&2; exit 7'); rc=$?
set -e
[ $rc = 7 ] && [ "$out" = to-stderr ] || die "exit code/stderr: rc=$rc out=$out"
out=$(vm_exec "$ID" "printf '%s|' \"it's\" 'a \"b\"' '\$HOME' '\\' '*'; echo")
[ "$out" = "it's|a \"b\"|\$HOME|\\|*|" ] || die "quoting: $(printf %q "$out")"
out=$(vm_exec "$ID" $'x=1\nif [ $x = 1 ]; then\n  echo multi-line\nfi')
[ "$out" = multi-line ] || die "multi-line: $out"
payload=$(head -c 1500 /dev/urandom | base64 -w0)
out=$(vm_exec "$ID" "echo $payload | md5sum | cut -d' ' -f1")
[ "$out" = "$(echo "$payload" | md5sum | cut -d' ' -f1)" ] || die "long command corrupted"
set +e
vm_exec "$ID" -t 2 'sleep 30; echo never' >/dev/null 2>&1; rc=$?
set -e
[ $rc = 124 ] || die "timeout: rc=$rc, expected 124"
[ "$(vm_exec "$ID" 'echo alive')" = alive ] || die "console wedged after a timeout"
out=$(vm_exec "$ID" 'cat /sys/block/*/serial 2>/dev/null; ls /sys/block | grep -c ^vd || true')
[ "$out" = 0 ] || die "a fresh VM has no virtio disks, got: $out"
vm_shutdown "$ID"
vm_alive "$ID" && die "VM alive after shutdown"
set +e
vm_exec "$ID" 'true' 2>/dev/null; rc=$?
set -e
[ $rc = 125 ] || die "vm_exec on a stopped VM: rc=$rc, expected 125"
ok=1
echo "PASS: vm_harness_test" >&2
