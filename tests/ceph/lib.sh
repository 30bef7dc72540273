# shellcheck shell=bash
# Helpers for the ceph-labelled system tests that run VBS on a micro-ceph cluster. Source it
# after tests/system/lib.sh and t_init:
#   ceph_start NAME   installs the ceph list, starts a fresh cluster in /tmp/vbs-ceph-NAME-XXXXXX
#                     (CEPH_DIR) and sets CEPH_CONF, CEPH_KEYRING, CEPH_POOL; from then on the
#                     EXIT trap kills our vbsd and T_PIDS first, then stops the cluster, then
#                     runs t_cleanup
#   rbdc ARGS...      the rbd CLI on the test's pool
CEPH_DIR=""

ceph_stop() {
  [ -n "$CEPH_DIR" ] || return 0
  "$VBS_SRC/tests/ceph/micro-ceph.sh" stop "$CEPH_DIR" >/dev/null 2>&1
  rm -rf "$CEPH_DIR"
  CEPH_DIR=""
}

# The EXIT trap: VBS processes before the cluster they talk to (a dying cluster would keep
# them waiting on Ceph), and the test's exit code kept for t_cleanup.
ceph_cleanup() {
  local rc=$? p
  set +e
  if [ -n "$VBSD_PID" ]; then kill -KILL "$VBSD_PID" 2>/dev/null; wait "$VBSD_PID" 2>/dev/null; VBSD_PID=""; fi
  for p in "${T_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  T_PIDS=()
  ceph_stop
  (exit $rc)
  t_cleanup
}

ceph_start() {  # NAME
  "$VBS_SRC/scripts/install-deps.sh" ceph >&2
  CEPH_DIR=$(mktemp -d "/tmp/vbs-ceph-$1-XXXXXX")
  trap ceph_cleanup EXIT
  local env
  env=$("$VBS_SRC/tests/ceph/micro-ceph.sh" start "$CEPH_DIR") || fail "micro-ceph did not start"
  eval "$env"
}

rbdc() { timeout 60 rbd --conf "$CEPH_CONF" -p "$CEPH_POOL" "$@"; }
