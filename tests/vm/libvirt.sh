# libvirt.sh — a real libvirtd and TCG domains for tests (source this file from bash; it
# sources vm.sh, whose vm_exec runs commands in a domain's guest).
#
# The container has no systemd, so the test starts the monolithic libvirtd itself, as root,
# in a private mount namespace where /etc/libvirt/qemu.conf is bind-mounted from $LV_DIR:
# the host's file is never changed, and clients (virsh, the code under test) use the usual
# qemu:///system socket. qemu.conf: QEMU runs as root with no security driver, no cgroups
# and no private /dev namespace (none of which a container offers), and writes its stdio to a
# file (no virtlogd). One libvirt test runs at a time per machine (a lock), because there is
# only one qemu:///system.
#
# Domains boot tests/vm/build-guest.sh's kernel + busybox initramfs (type='qemu': TCG) with
# ACPI (PCI hot-plug needs it) and the VBS owner metadata. The serial console is
# <serial type='unix'> in client mode: console.py --listen serves the socket before QEMU
# starts, so nothing the guest prints is lost; the layout under $VM_RUN_DIR/NAME is vm.sh's.
#
# Functions (non-zero with a message on stderr on failure; safe under set -e):
#   lv_start_daemon            install scripts/deps/libvirt.txt, start libvirtd, wait for it
#   lv_restart_daemon          stop libvirtd and start it again (domains keep running)
#   lv_define_domain NAME [OWNER]  start a transient domain (does not wait for the boot)
#   lv_wait_ready NAME         wait for the guest's shell (VM_BOOT_TIMEOUT, 180 s)
#   lv_exec NAME [-t SECS] CMD run CMD in the guest (vm_exec: prints output, returns its rc)
#   lv_virsh ARGS...           virsh -c $LV_URI ARGS
#   lv_destroy NAME            virsh destroy; the console bridge ends with QEMU
#   lv_cleanup                 destroy every domain started here, stop libvirtd (EXIT trap)
# Env: LV_DIR (required: config, logs, lock-free scratch), VM_RUN_DIR (required, short:
#      unix socket paths are limited to 107 bytes), VM_KERNEL / VM_INITRD (else build-guest.sh).

LV_SH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=vm.sh
source "$LV_SH_DIR/vm.sh"
LV_URI=qemu:///system
LV_DOMAINS=()
LV_DAEMON_PID=
LV_LOCK=/run/vbs-libvirt-test.lock

lv__err() { echo "libvirt.sh: $*" >&2; }
lv_virsh() { virsh -q -c "$LV_URI" "$@"; }

lv_start_daemon() {
  : "${LV_DIR:?}" "${VM_RUN_DIR:?}"
  "$LV_SH_DIR/../../scripts/install-deps.sh" libvirt vm || { lv__err "install-deps failed"; return 1; }
  local t
  for t in libvirtd virsh unshare; do
    command -v "$t" >/dev/null || { lv__err "$t missing after install-deps"; return 1; }
  done
  mkdir -p "$LV_DIR"
  exec {LV_LOCK_FD}>"$LV_LOCK"
  flock -w 600 "$LV_LOCK_FD" || { lv__err "another libvirt test holds $LV_LOCK"; return 1; }
  # A daemon left by a killed run (or started by hand) would serve with other settings.
  if [ -S /run/libvirt/libvirt-sock ] && virsh -c "$LV_URI" version >/dev/null 2>&1; then
    lv__err "a libvirtd is already serving $LV_URI; this test starts its own: stop that one"
    return 1
  fi
  rm -f /run/libvirtd.pid
  cat >"$LV_DIR/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
EOF
  cat >"$LV_DIR/libvirtd.conf" <<'EOF'
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:stderr"
EOF
  lv__spawn_daemon
}

lv__spawn_daemon() {
  # shellcheck disable=SC2016
  unshare -m sh -c 'mount --bind "$1/qemu.conf" /etc/libvirt/qemu.conf &&
    exec libvirtd --config "$1/libvirtd.conf"' sh "$LV_DIR" </dev/null >>"$LV_DIR/libvirtd.log" 2>&1 &
  LV_DAEMON_PID=$!
  vm_tie_to_shell "$LV_DAEMON_PID"
  local i
  for i in $(seq 300); do
    virsh -c "$LV_URI" version >/dev/null 2>&1 && return 0
    kill -0 "$LV_DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  lv__err "libvirtd did not answer on $LV_URI; its log:"
  tail -n 20 "$LV_DIR/libvirtd.log" >&2
  return 1
}

# lv_restart_daemon: stop libvirtd (SIGTERM; its QEMUs keep running) and start it again; it
# reconnects to the running domains from its state in /run/libvirt/qemu.
lv_restart_daemon() {
  lv__stop_daemon
  lv__spawn_daemon
}

lv__stop_daemon() {
  [ -n "$LV_DAEMON_PID" ] || return 0
  kill "$LV_DAEMON_PID" 2>/dev/null || true
  local i
  for i in $(seq 100); do kill -0 "$LV_DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$LV_DAEMON_PID" 2>/dev/null || true
  wait "$LV_DAEMON_PID" 2>/dev/null || true
  LV_DAEMON_PID=
}

lv_define_domain() {
  local name=$1 owner=${2:-}
  vm__guest || return 1
  local d="$VM_RUN_DIR/$name"
  rm -rf "$d" && mkdir -p "$d" || return 1
  [ ${#d} -le 90 ] || { lv__err "VM_RUN_DIR too long for unix sockets: $d"; return 1; }
  mkfifo "$d/console.in" && : >"$d/console.log" || return 1
  python3 "$LV_SH_DIR/console.py" --listen "$d/serial.sock" "$d/console.log" "$d/console.in" 60 \
    </dev/null >>"$d/bridge.log" 2>&1 &
  echo $! >"$d/bridge.pid"
  vm_tie_to_shell "$(cat "$d/bridge.pid")"
  local i
  for i in $(seq 200); do [ -S "$d/serial.sock" ] && break; sleep 0.05; done
  [ -S "$d/serial.sock" ] || { lv__err "console bridge for $name did not listen"; return 1; }
  local meta=""
  [ -n "$owner" ] && meta="<metadata><vbs:instance xmlns:vbs='https://vbs.dev/xmlns/libvirt/1'><owner>$owner</owner></vbs:instance></metadata>"
  cat >"$d/domain.xml" <<EOF
<domain type='qemu'>
  <name>$name</name>
  $meta
  <memory unit='MiB'>${VM_MEM:-256}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$VM_KERNEL</kernel>
    <initrd>$VM_INITRD</initrd>
    <cmdline>console=ttyS0 panic=-1 loglevel=4</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='unix'><source mode='connect' path='$d/serial.sock'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
  lv_virsh create "$d/domain.xml" >/dev/null || { lv__err "virsh create $name failed"; return 1; }
  LV_DOMAINS+=("$name")
  local pid
  pid=$(cat "/run/libvirt/qemu/$name.pid" 2>/dev/null) || { lv__err "no pid file for $name"; return 1; }
  echo "$pid" >"$d/qemu.pid"  # vm.sh's vm_alive / vm_exec look here
  vm_tie_to_shell "$pid"
}

lv_wait_ready() {
  local name=$1 d="$VM_RUN_DIR/$1" rc=0
  local deadline=$(($(date +%s) + ${VM_BOOT_TIMEOUT:-180}))
  vm__wait_log "$name" 0 '^VBS-GUEST-READY' "$deadline" || rc=$?
  if [ $rc != 0 ]; then
    lv__err "domain $name did not boot ($([ $rc = 2 ] && echo "QEMU exited" || echo timeout))"
    tail -c 2000 "$d/console.log" >&2
    tail -n 20 "/var/log/libvirt/qemu/$name.log" >&2 2>/dev/null
    return 1
  fi
  if grep -q VBS-INSMOD-FAIL "$d/console.log"; then
    lv__err "virtio module load failed in guest $name:"; cat "$d/console.log" >&2; return 1
  fi
}

lv_exec() { vm_exec "$@"; }

lv_destroy() {
  local name=$1 d="$VM_RUN_DIR/$1"
  lv_virsh destroy "$name" >/dev/null 2>&1 || true
  local pid i
  pid=$(cat "$d/qemu.pid" 2>/dev/null) || return 0
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  kill "$(cat "$d/bridge.pid" 2>/dev/null)" 2>/dev/null || true
  return 0
}

lv_cleanup() {
  local name
  for name in "${LV_DOMAINS[@]}"; do lv_destroy "$name"; done
  LV_DOMAINS=()
  lv__stop_daemon
}
