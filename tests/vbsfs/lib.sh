# Shared by the VBSFS system tests: one `vbsd server` (ha_server) and agents sharing a `dir`
# pool ("shared") with their home_root, public_root and mount_state_dir under $T/NODE, local
# accounts that are removed again, and a cleanup that takes every mount and qsd under $T away.
#   vbsfs_init NAME [SERVER TOML LINES]   t_init, dependencies, root check, the server
#   local_user NAME                       a local account (no home directory)
#   start_agent NODE                      starts (or restarts) NODE's agent; APID[NODE]
#   wait_nodes_up N                       until N nodes are up
#   mounted_at DIR / qsd_count NODE / ok TEXT
source "$VBS_SRC/tests/system/lib.sh"
source "$VBS_SRC/tests/ha/lib.sh"

LOCAL_USERS=()
declare -A APID
vbsfs_cleanup() {
  local rc=$?
  set +e
  for m in $(findmnt -rn -o TARGET | grep "^$T/" | sort -r); do umount -l "$m" 2>/dev/null; done
  for p in $(pgrep -f "qemu-storage-daemon.*$T/" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  for u in "${LOCAL_USERS[@]}"; do pkill -KILL -u "$u" 2>/dev/null; userdel "$u" 2>/dev/null; done
  (exit "$rc"); t_cleanup  # t_cleanup reports and exits with the status it finds in $?
}

vbsfs_init() {  # NAME [SERVER TOML]
  t_init "$1"
  "$VBS_SRC/scripts/install-deps.sh" vbsfs >&2
  for tool in qemu-storage-daemon losetup mkfs.ext4 e2fsck useradd userdel runuser findmnt; do
    command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh vbsfs"
  done
  [ "$(id -u)" = 0 ] || fail "VBSFS mounts need root"
  trap vbsfs_cleanup EXIT
  chmod 755 "$T"  # the users reach their homes below it
  ha_server "${2:-}"
  ADMIN_CERT=$ID_CERT; ADMIN_KEY=$ID_KEY; ADMIN_CA=$ID_CA
  mkdir -p "$T/shared"
}

local_user() {
  id "$1" >/dev/null 2>&1 && userdel "$1" 2>/dev/null
  useradd --no-create-home --shell /bin/sh "$1" || fail "useradd $1"
  LOCAL_USERS+=("$1")
}

start_agent() {  # NODE
  local node=$1 cfg
  if [ ! -f "$T/$node/agent.toml" ]; then
    cfg=$(ha_agent_config "$node" "$EP")
    cat >>"$cfg" <<TOML
home_root = "$T/$node/home"
public_root = "$T/$node/public"
mount_state_dir = "$T/$node/mounts"
[[agent.pool]]
name = "shared"
path = "$T/shared"
capacity = "8G"
shared = true
TOML
  fi
  setpriv --pdeathsig KILL -- "$VBSD" agent --config "$T/$node/agent.toml" \
    >>"$T/$node/agent.out" 2>>"$T/$node/agent.log" &
  APID[$node]=$!; T_PIDS+=("${APID[$node]}")
}

wait_nodes_up() {  # N
  as_admin
  local deadline=$((SECONDS + WAIT_TIMEOUT))
  until api GET /v1/nodes && [ "$(jf '[.nodes[] | select(.state=="up")] | length')" = "$1" ]; do
    [ $SECONDS -lt $deadline ] || fail "$1 agents did not come up: $BODY"; sleep 0.2
  done
}

ok() { echo "ok: $*"; }
# mounted_at DIR: the mountinfo line of DIR ("" when nothing is mounted there).
mounted_at() { findmnt -rn -o FSTYPE,OPTIONS,SOURCE --mountpoint "$1" 2>/dev/null || true; }
qsd_count() { pgrep -fc "qemu-storage-daemon.*$T/$1/mounts" 2>/dev/null || true; }
