#!/usr/bin/env bash
# micro-ceph.sh: a throw-away single-host Ceph cluster on 127.0.0.1 for VBS's rbd tests and
# bench/rbd. One mon, one mgr, one OSD (memstore: data in RAM), cephx on, an RBD pool ready.
#
#   micro-ceph.sh start DIR   make and start a fresh cluster in DIR (DIR must be empty or one
#                             of ours); prints CEPH_CONF=…, CEPH_KEYRING=…, CEPH_POOL=… on stdout
#   micro-ceph.sh stop DIR    stop the daemons started from DIR (by pid file; never by name)
#
# Environment: RBD_POOL [rbd]; MEMSTORE_BYTES [4 GiB]; OBJECTSTORE [memstore|bluestore];
# MON_PORT/MON_V1_PORT [free ports picked at random, so clusters can run side by side];
# HEALTH_TIMEOUT [120 s]. Callers stop from an EXIT trap:
#   eval "$(tests/ceph/micro-ceph.sh start "$dir")"; trap 'tests/ceph/micro-ceph.sh stop "$dir"' EXIT
set -Eeuo pipefail

die() { echo "micro-ceph: $*" >&2; exit 1; }
log() { echo "micro-ceph: $*" >&2; }

cmd=${1:-}; dir_arg=${2:-}
[[ $cmd == start || $cmd == stop ]] && [ -n "$dir_arg" ] || die "usage: $0 start|stop DIR"
DIR=$(realpath -m -- "$dir_arg")
[ "$DIR" != / ] || die "refusing to use /"
CONF=$DIR/ceph.conf
KEYRING=$DIR/ceph.client.admin.keyring
MARKER=$DIR/.vbs-micro-ceph
POOL=${RBD_POOL:-rbd}

our_pid() {  # pid from a pid file, only if that process runs with OUR ceph.conf
  local pid; pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF" || return 1
  echo "$pid"
}

stop_cluster() {
  [ -d "$DIR/run" ] || return 0
  local g f pid pids
  for g in osd mgr mon; do  # OSDs first, while the mon can still hear them go
    pids=()
    for f in "$DIR"/run/"$g".*.pid; do
      [ -e "$f" ] || continue
      if pid=$(our_pid "$f"); then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
      rm -f "$f"
    done
    for pid in "${pids[@]}"; do
      for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
      [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    done
  done
  log "stopped $DIR"
}

if [ "$cmd" = stop ]; then stop_cluster; exit 0; fi

for b in ceph-mon ceph-osd ceph-mgr ceph ceph-authtool monmaptool rbd; do
  command -v "$b" >/dev/null || die "$b not found (bash scripts/install-deps.sh ceph)"
done
if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
  [ -e "$MARKER" ] || die "$DIR is not empty and was not made by micro-ceph.sh"
  stop_cluster
  rm -rf -- "$DIR"
fi
mkdir -p "$DIR"/{run,log,crash}
touch "$MARKER"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MON_PORT=${MON_PORT:-$(free_port)}
MON_V1_PORT=${MON_V1_PORT:-$(free_port)}
OBJECTSTORE=${OBJECTSTORE:-memstore}
MEMSTORE_BYTES=${MEMSTORE_BYTES:-$((4 << 30))}
T0=$SECONDS

on_error() {
  local rc=$?
  log "start failed (rc=$rc); log tails:"
  for f in "$DIR"/log/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 20 "$f"; } >&2; done
  stop_cluster
  exit $rc
}
trap on_error ERR

FSID=$(cat /proc/sys/kernel/random/uuid)
MON_ADDRS="[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]"
cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = $MON_ADDRS
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $DIR/run
crash dir = $DIR/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
[mon]
mon data = $DIR/mon.\$id
[mgr]
mgr data = $DIR/mgr.\$id
keyring = $DIR/mgr.\$id/keyring
[osd]
osd data = $DIR/osd.\$id
keyring = $DIR/osd.\$id/keyring
osd objectstore = $OBJECTSTORE
osd class load list = *
osd class default list = *
memstore device bytes = $MEMSTORE_BYTES
bluestore block create = true
bluestore block size = $((20 << 30))
bluestore fsck on mount = false
osd memory target = 1073741824
[client]
keyring = $KEYRING
log file = $DIR/log/client.log
CONF

ceph_() { timeout 60 ceph --conf "$CONF" --connect-timeout 20 "$@"; }

ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$KEYRING" --gen-key -n client.admin --cap mon 'allow *' \
  --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$DIR/mon.keyring" --import-keyring "$KEYRING" >/dev/null
monmaptool --create --fsid "$FSID" --addv a "$MON_ADDRS" "$DIR/monmap" >/dev/null
ceph-mon --conf "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring"
ceph-mon --conf "$CONF" -i a >&2
ceph_ mon stat >/dev/null

mkdir -p "$DIR/mgr.x"
ceph_ auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' -o "$DIR/mgr.x/keyring"
ceph-mgr --conf "$CONF" -i x >&2

uuid=$(cat /proc/sys/kernel/random/uuid)
key=$(ceph-authtool --gen-print-key)
mkdir -p "$DIR/osd.0"
printf '{"cephx_secret": "%s"}\n' "$key" >"$DIR/osd.0/new.json"
id=$(ceph_ osd new "$uuid" -i "$DIR/osd.0/new.json")
[ "$id" = 0 ] || die "expected osd id 0, got '$id'"
printf '[osd.0]\n\tkey = %s\n' "$key" >"$DIR/osd.0/keyring"
ceph-osd --conf "$CONF" -i 0 --mkfs --osd-uuid "$uuid" --key "$key" >"$DIR/log/osd.0.mkfs.log" 2>&1
ceph-osd --conf "$CONF" -i 0 >&2 2>>"$DIR/log/osd.0.stderr"

ceph_ osd pool create "$POOL" 8 >/dev/null 2>&1
timeout 60 rbd --conf "$CONF" pool init "$POOL" >&2

deadline=$((SECONDS + ${HEALTH_TIMEOUT:-120}))
all_pgs_active_clean() {  # every PG (of every pool, the mgr's own too) is active+clean
  ceph_ pg stat -f json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin); d = d.get("pg_summary", d)
n = d.get("num_pgs", 0)
ok = sum(s["num"] for s in d.get("num_pg_by_state", []) if s["name"] == "active+clean")
sys.exit(0 if n > 0 and ok == n else 1)'
}
until ceph_ health 2>/dev/null | grep -q '^HEALTH_OK' && all_pgs_active_clean; do
  [ $SECONDS -lt $deadline ] || { ceph_ -s >&2 || true; false; }
  sleep 0.5
done
trap - ERR
log "cluster in $DIR ready in $((SECONDS - T0)) s (mon 127.0.0.1:$MON_PORT, pool $POOL)"
echo "CEPH_CONF=$CONF"
echo "CEPH_KEYRING=$KEYRING"
echo "CEPH_POOL=$POOL"
