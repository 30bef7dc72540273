#!/usr/bin/env bash
# VBSFS under a real Slurm (contrib/slurm/vbs-prolog, vbs-epilog; docs/vbsfs.md): a
# single-host cluster (munge, slurmctld, slurmd from Debian, as the site's slurm.conf would
# name the scripts) beside `vbsd dev`. Shown with `srun` as two users with local accounts
# whose passwd home is the node's home_root/USER:
#   1. each job sees its own VBS home at $HOME: ext4, owned by the user, mode 0700, created on
#      first use by the prolog (VBS_CREATE_HOMES=yes);
#   2. two users' jobs at once each get their own home;
#   3. after the jobs end the epilog has detached both homes (nothing mounted, no qsd);
#   4. a second job of the same user finds what the first one wrote;
#   5. every job sees the public volume (VBS_PUBLIC=yes: the prolog mounts its newest version
#      read-only on the node once; it stays after the jobs).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
VBS_SRC=$(cd "$HERE/../.." && pwd)
source "$VBS_SRC/tests/system/lib.sh"
t_init vbsfs_slurm
"$VBS_SRC/scripts/install-deps.sh" vbsfs slurm >&2
for tool in slurmctld slurmd srun sinfo squeue munged qemu-storage-daemon useradd runuser flock jq; do
  command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh vbsfs slurm"
done
[ "$(id -u)" = 0 ] || fail "Slurm and VBSFS mounts need root"
ok() { echo "ok: $*"; }

SD=$T/slurm
LOCAL_USERS=()
cleanup_slurm() {
  local rc=$?
  set +e
  for f in "$SD/slurmd.pid" "$SD/slurmctld.pid"; do
    [ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
  done
  [ -n "${STARTED_MUNGE:-}" ] && pkill -x munged
  for m in $(findmnt -rn -o TARGET | grep "^$T/" | sort -r); do umount -l "$m" 2>/dev/null; done
  for p in $(pgrep -f "qemu-storage-daemon.*$T/" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  for u in "${LOCAL_USERS[@]}"; do pkill -KILL -u "$u" 2>/dev/null; userdel "$u" 2>/dev/null; done
  (exit "$rc"); t_cleanup  # t_cleanup reports and exits with the status it finds in $?
}
trap cleanup_slurm EXIT

vbsd_start
HOMES=$DATA/home
ALICE=vbsfsalice
BOB=vbsfsbob
for u in $ALICE $BOB; do
  id "$u" >/dev/null 2>&1 && userdel "$u" 2>/dev/null
  useradd --no-create-home --home-dir "$HOMES/$u" --shell /bin/sh "$u" || fail "useradd $u"
  LOCAL_USERS+=("$u")
  make_user "$u"
done

# --- a single-host Slurm --------------------------------------------------------------------
mkdir -p "$SD/state" "$SD/spool" "$SD/locks"
chmod 755 "$T" "$DATA"  # the users reach their homes below it
NODE=$(hostname -s)
port1=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$SD/vbs.conf" <<CONF
VBS_ENDPOINT=$ENDPOINT
VBS_CA=$ADMIN_CA
VBS_CERT=$ADMIN_CERT
VBS_KEY=$ADMIN_KEY
VBS_NODE=local
VBS_CREATE_HOMES=yes
VBS_HOME_SIZE=256M
VBS_BIN=$VBS
VBS_SLURM_LOCK_DIR=$SD/locks
VBS_PUBLIC=yes
CONF
for script in prolog epilog; do
  cat >"$SD/$script" <<SH
#!/bin/sh
export VBS_SLURM_CONF=$SD/vbs.conf SLURM_CONF=$SD/slurm.conf
exec "$VBS_SRC/contrib/slurm/vbs-$script" 2>>"$SD/$script.log"
SH
  chmod 755 "$SD/$script"
done
cat >"$SD/slurm.conf" <<CONF
ClusterName=vbsfs
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
ReturnToService=2
MpiDefault=none
StateSaveLocation=$SD/state
SlurmdSpoolDir=$SD/spool
SlurmctldPidFile=$SD/slurmctld.pid
SlurmdPidFile=$SD/slurmd.pid
SlurmctldPort=$port1
SlurmdPort=$port2
Prolog=$SD/prolog
Epilog=$SD/epilog
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$SD/slurm.conf
if ! pgrep -x munged >/dev/null; then
  STARTED_MUNGE=1
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
  chmod 700 /var/log/munge
  runuser -u munge -- munged || fail "munged did not start"
fi
slurmctld -L "$SD/slurmctld.log" || fail "slurmctld: $(tail -5 "$SD/slurmctld.log")"
slurmd -L "$SD/slurmd.log" || fail "slurmd: $(tail -5 "$SD/slurmd.log")"
deadline=$((SECONDS + WAIT_TIMEOUT))
until sinfo -h -o %T 2>/dev/null | grep -qx idle; do
  [ $SECONDS -lt $deadline ] || fail "the Slurm node is not idle: $(sinfo 2>&1; tail -5 "$SD/slurmd.log")"
  sleep 0.3
done
log "slurm is up (node $NODE)"

# job USER SCRIPT: srun as USER; output in $OUT, exit code in $RC.
job() {
  RC=0
  OUT=$(runuser -u "$1" -- env SLURM_CONF="$SLURM_CONF" srun -N1 --chdir=/tmp sh -c "$2" 2>&1) || RC=$?
}

# --- the public volume, version 1 (an admin's work) ------------------------------------------------
as_admin
vbsc public create --size 64M --wait -o json
assert_rc 0 "public create ($ERR)"
vbsc public edit --node local --wait
assert_rc 0 "public edit ($ERR)"
echo "public software v1" >"$DATA/public.draft/README"
vbsc public publish --wait -o json
assert_rc 0 "public publish ($ERR)"
PUBVOL=$(jf .volume_id "$OUT")
vbsc public detach --node local --draft --wait
assert_rc 0 "detach the draft ($ERR)"

# --- 1 + 2. two users' jobs at once ---------------------------------------------------------------
log "1. jobs of two users at once"
probe='echo HOME=$HOME; stat -c "owner=%U mode=%a" "$HOME"; findmnt -n -o FSTYPE --target "$HOME";
       echo "written by job $SLURM_JOB_ID" >"$HOME/from-job"; cat "$HOME/from-job"; ls "$HOME";
       cat '"$DATA/public/README"'; findmnt -n -o OPTIONS --target '"$DATA/public"' | cut -d, -f1'
( job $ALICE "$probe"; echo "$RC" >"$T/alice.rc"; echo "$OUT" >"$T/alice.out" ) &
A=$!
( job $BOB "$probe"; echo "$RC" >"$T/bob.rc"; echo "$OUT" >"$T/bob.out" ) &
B=$!
wait $A $B
for u in alice bob; do
  [ "$(cat "$T/$u.rc")" = 0 ] || fail "$u's job: $(cat "$T/$u.out"; cat "$SD/prolog.log")"
done
for u in $ALICE $BOB; do
  short=${u#vbsfs}
  out=$(cat "$T/$short.out")
  assert_contains "HOME=$HOMES/$u" "$out" "$u's job: \$HOME"
  assert_contains "owner=$u mode=700" "$out" "$u's job: its home"
  assert_contains "ext4" "$out" "$u's job: the file system at \$HOME"
  assert_contains "from-job" "$out" "$u's job wrote its home"
  assert_contains "public software v1" "$out" "$u's job reads the public volume"
  grep -qx ro <<<"$out" || fail "$u's job: the public volume is not mounted read-only: $out"
done
ok "alice's and bob's jobs ran at once, each with its own VBS home at \$HOME (ext4, 0700) and the public volume (ro)"

# --- 3. the epilog detached both --------------------------------------------------------------
log "3. after the jobs"
as_admin
for u in $ALICE $BOB; do
  deadline=$((SECONDS + WAIT_TIMEOUT))
  until vbsc -o json home show "$u" && [ "$(jf .attachment "$OUT")" = null ]; do
    [ $SECONDS -lt $deadline ] || fail "$u's home still attached after the job: $OUT $(cat "$SD/epilog.log")"
    sleep 0.3
  done
  findmnt -rn --mountpoint "$HOMES/$u" >/dev/null && fail "$u's home is still mounted"
done
[ "$(pgrep -f "qemu-storage-daemon.*$DATA/" | xargs -r ps -o args= -p | grep -vc "$PUBVOL" || true)" = 0 ] ||
  fail "a qemu-storage-daemon of a home is left"
findmnt -rn --mountpoint "$DATA/public" >/dev/null || fail "the public volume was unmounted"
ok "after the jobs the epilog detached both homes: nothing mounted, no qsd left; the public volume stays"

# --- 4. a second job finds the first one's file ------------------------------------------------
log "4. a second job of alice"
first=$(grep -o 'written by job [0-9]*' "$T/alice.out" || true)
job $ALICE 'cat "$HOME/from-job"'
[ "$RC" = 0 ] || fail "alice's second job: $OUT"
[ -n "$first" ] || fail "alice's first job did not say what it wrote: $(cat "$T/alice.out")"
assert_contains "$first" "$OUT" "alice's second job reads the first one's file"
ok "alice's second job read '$(grep -o 'written by job [0-9]*' <<<"$OUT")' left by the first"
