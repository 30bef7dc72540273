#!/usr/bin/env bash
# System test: the whole volume/snapshot lifecycle of tests/system/cli_lifecycle.sh on the rbd
# backend — `vbsd dev --rbd-pool` on a fresh micro-ceph cluster — with every byte checked
# through NBD (host attach), since an RBD volume has no file to look at: thin create, data at
# scattered offsets, a snapshot taken while attached holds exactly the data written before it,
# clones (same size, larger, from a snapshot whose volume is deleted) read the snapshot's
# bytes, the deleted volume's image stays hidden until its snapshot goes, deleting the
# snapshot flattens its clones in the background (they keep their data), resize grows the
# image (also while attached), and real NBD clients
# (nbdcopy, qemu-io, fio with verify=crc32c) read and write RBD volumes through VBS. The Ceph
# side is checked with the `rbd` CLI: image names, snapshots, protection, nothing half-made.
. "$(dirname "$0")/../system/lib.sh"
. "$(dirname "$0")/lib.sh"
t_init rbd_lifecycle
ceph_start lifecycle
for tool in rbd ceph nbdinfo nbdcopy qemu-io qemu-img fio; do
  command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh ceph"
done
fio --enghelp=nbd >/dev/null 2>&1 || fail "this fio has no nbd engine"

vbsd_start --rbd-pool "$CEPH_POOL" --ceph-conf "$CEPH_CONF" --pool-capacity 4T
as_admin
MiB=$((1 << 20))

api GET /v1/pools
assert_field '.pools[0].type' rbd "pool type"
assert_field '.pools[0].shared' true "an rbd pool is shared"

attach_wait() {  # VOL [ARGS...]: sets URI
  local vol=$1; shift
  vbsc -o json attach "$vol" host-local --wait "$@"
  assert_rc 0 "vbs attach $vol host-local --wait $*"
  assert_eq attached "$(jf .state "$OUT")" "attachment state"
  URI=$(jf .nbd_uri "$OUT")
  assert_match '^nbd\+unix:///vbs-[0-9a-f]+\?socket=/' "$URI" "nbd_uri"
}
detach_wait() {
  vbsc -o json detach "$1" --wait
  assert_rc 0 "vbs detach $1 --wait"
}
# read_volume VOL FILE: the volume's bytes, through a read-only NBD attachment.
read_volume() {
  attach_wait "$1" --mode ro
  nbdcopy "$URI" "$2" || fail "nbdcopy out of $1"
  detach_wait "$1"
}
images() { rbdc ls | tr '\n' ' '; }

# --- create: thin, in Ceph under the volume's id -----------------------------------------------
vbsc -o json volume create --size 64M --name data1 --wait
assert_rc 0 "volume create --size 64M --wait"
V1=$(jf .id "$OUT")
assert_eq available "$(jf .state "$OUT")" "state"
assert_eq 67108864 "$(rbdc info --format json "$V1" | jq -r .size)" "rbd image size of $V1"
vbsc -o json volume create --size 1T --name big --wait
assert_rc 0 "volume create --size 1T"
VBIG=$(jf .id "$OUT")
assert_eq 1099511627776 "$(rbdc info --format json "$VBIG" | jq -r .size)" "rbd image size of 1T"
used=$(rbdc du --format json "$VBIG" | jq -r '.images[0].used_size')
assert_eq 0 "$used" "bytes used by a new 1 TiB volume (thin)"
vbsc volume delete "$VBIG" --wait
assert_rc 0 "delete the 1T volume"

# --- known data at scattered offsets through NBD, snapshot while attached ----------------------
attach_wait "$V1"
head -c $((64 * MiB)) /dev/zero >"$T/expect.img"
write_pattern "$T/expect.img" 0 4096 a
write_pattern "$T/expect.img" $((5 * MiB + 123)) 100000 b
write_pattern "$T/expect.img" $((33 * MiB)) $MiB c
write_pattern "$T/expect.img" $((64 * MiB - 4096)) 4096 d
nbdcopy --flush "$T/expect.img" "$URI" || fail "nbdcopy into $V1"
vbsc -o json snapshot create "$V1" --description "first snap" --wait
assert_rc 0 "snapshot create of the attached volume"
S1=$(jf .id "$OUT")
assert_eq completed "$(jf .state "$OUT")" "snapshot state"
assert_eq 100 "$(jf .progress "$OUT")" "snapshot progress"
snaps=$(rbdc snap ls --format json "$V1")
assert_eq "$S1" "$(jq -r '.[0].name' <<<"$snaps")" "RBD snapshot named after the snapshot id"
assert_eq true "$(jq -r '.[0].protected' <<<"$snaps")" "RBD snapshot is protected"
qemu-io -f raw "$URI" -c "write -P 0xcd 0 1M" >/dev/null || fail "write after the snapshot"
detach_wait "$V1"
read_volume "$V1" "$T/v1.img"
cp "$T/expect.img" "$T/after.img"
head -c "$MiB" /dev/zero | tr '\0' '\315' | dd of="$T/after.img" conv=notrunc status=none
assert_same "$T/after.img" "$T/v1.img" "volume bytes through NBD"

# --- clones: same size, larger, too small ------------------------------------------------------
vbsc -o json volume create --snapshot "$S1" --wait
assert_rc 0 "volume create --snapshot"
V2=$(jf .id "$OUT")
assert_eq "$S1" "$(jf .snapshot_id "$OUT")" "clone snapshot_id"
assert_eq "$CEPH_POOL/$V1@$S1" "$(rbdc info --format json "$V2" | jq -r '.parent | "\(.pool)/\(.image)@\(.snapshot)"')" "the clone is an RBD clone of the snapshot"
read_volume "$V2" "$T/v2.img"
assert_same "$T/expect.img" "$T/v2.img" "clone (same size) holds the snapshot's bytes"

vbsc -o json volume create --snapshot "$S1" --size 128M --wait
assert_rc 0 "volume create --snapshot --size 128M"
V3=$(jf .id "$OUT")
assert_eq 134217728 "$(jf .size "$OUT")" "larger clone size"
read_volume "$V3" "$T/v3.img"
assert_eq 134217728 "$(stat -c %s "$T/v3.img")" "larger clone through NBD"
r=$(cmp -n $((64 * MiB)) "$T/expect.img" "$T/v3.img" 2>&1) || fail "larger clone: first 64M: $r"
assert_zero_from "$T/v3.img" $((64 * MiB)) "larger clone beyond the snapshot"

vbsc volume create --snapshot "$S1" --size 32M
assert_rc 1 "clone smaller than the snapshot"
assert_contains InvalidParameterValue "$ERR" "too-small clone"

# --- delete the source: hidden in Ceph, the snapshot still clones ------------------------------
vbsc -o json volume delete "$V1" --wait
assert_rc 0 "volume delete $V1"
imgs=$(images)
assert_not_contains "$V1 " "$imgs" "rbd ls after deleting $V1"
assert_contains "$V1.deleted" "$imgs" "the deleted volume's image waits for its snapshot"
vbsc -o json snapshot show "$S1"
assert_eq completed "$(jf .state "$OUT")" "snapshot after its volume was deleted"
vbsc -o json volume create --snapshot "$S1" --wait
assert_rc 0 "clone from a snapshot whose volume is deleted"
V4=$(jf .id "$OUT")
read_volume "$V4" "$T/v4.img"
assert_same "$T/expect.img" "$T/v4.img" "clone after the source's deletion"

# --- NBD clients writing and reading an RBD clone through VBS ----------------------------------
attach_wait "$V4"
head -c $((16 * MiB)) /dev/urandom >"$T/rand.bin"
nbdcopy "$T/rand.bin" "$URI" || fail "nbdcopy random data into $V4"
nbdcopy "$URI" "$T/rand.out" || fail "nbdcopy out of $V4"
cmp -n $((16 * MiB)) "$T/rand.bin" "$T/rand.out" || fail "nbdcopy round trip on RBD differs"
cmp -i $((16 * MiB)) -n $((48 * MiB)) "$T/expect.img" "$T/rand.out" ||
  fail "the clone's untouched part no longer reads the snapshot's bytes"
(cd "$T" && fio --name=rbdverify --ioengine=nbd --uri="$URI" --rw=randwrite --bs=4k \
  --size=8M --offset=32M --offset_increment=8M --numjobs=2 --iodepth=16 --verify=crc32c \
  --do_verify=1 --verify_fatal=1 --verify_state_save=0 --output="$T/fio.out") ||
  fail "fio nbd verify on RBD failed: $(cat "$T/fio.out")"
grep -q 'err= 0' "$T/fio.out" && ! grep -q 'err= *[1-9]' "$T/fio.out" ||
  fail "fio reported errors: $(cat "$T/fio.out")"
qemu-img compare -U -f raw -F raw "$URI" "$T/rand.bin" >/dev/null 2>&1 && fail "compare should differ past 16M"
nbdcopy "$URI" "$T/v4-final.img" || fail "nbdcopy out of $V4 after fio"
detach_wait "$V4"

# --- delete the snapshot: its clones are flattened in the background and keep their bytes ------
vbsc -o json snapshot delete "$S1" --wait
assert_rc 0 "snapshot delete --wait"
assert_eq deleted "$(jf .state "$OUT")" "snapshot state after delete"
vbsc volume create --snapshot "$S1"
assert_rc 1 "clone of a deleted snapshot"
assert_contains InvalidSnapshot.NotFound "$ERR" "clone of a deleted snapshot"
deadline=$((SECONDS + WAIT_TIMEOUT))
while [[ $(images) == *"$V1.deleted"* ]]; do
  [ $SECONDS -lt $deadline ] || fail "$V1.deleted still in Ceph ${WAIT_TIMEOUT}s after its last snapshot went: $(rbdc ls -l)"
  sleep 0.5
done
for v in "$V2" "$V3" "$V4"; do
  assert_eq null "$(rbdc info --format json "$v" | jq -r '.parent // "null"')" "$v is flattened"
done
read_volume "$V2" "$T/v2b.img"
assert_same "$T/expect.img" "$T/v2b.img" "flattened clone V2 keeps the snapshot's bytes"
read_volume "$V3" "$T/v3b.img"
assert_same "$T/v3.img" "$T/v3b.img" "flattened larger clone V3"
read_volume "$V4" "$T/v4b.img"
assert_same "$T/v4-final.img" "$T/v4b.img" "flattened clone V4 keeps what NBD clients wrote"

# --- resize grows the RBD image, also while attached (clients reconnect and see the size) ------
vbsc volume resize "$V2" 96M --wait
assert_rc 0 "vbs volume resize $V2 96M --wait (detached)"
assert_eq $((96 * MiB)) "$(rbdc info --format json "$V2" | jq -r .size)" "RBD image size after resize"
read_volume "$V2" "$T/v2r.img"
r=$(cmp -n $((64 * MiB)) "$T/expect.img" "$T/v2r.img" 2>&1) || fail "grown volume: first 64M: $r"
assert_zero_from "$T/v2r.img" $((64 * MiB)) "grown volume beyond its old size"
attach_wait "$V4"
vbsc volume resize "$V4" 80M --wait
assert_rc 0 "vbs volume resize $V4 80M --wait (attached)"
assert_eq $((80 * MiB)) "$(nbdinfo --size "$URI")" "the export's size after an online resize"
qemu-io -f raw "$URI" -c "write -P 0x77 $((79 * MiB)) 1M" -c "read -P 0x77 $((79 * MiB)) 1M" \
  >"$T/qio.out" 2>&1 || fail "I/O in the grown part: $(cat "$T/qio.out")"
grep -q "verification failed" "$T/qio.out" && fail "grown part read back wrong: $(cat "$T/qio.out")"
detach_wait "$V4"

# --- delete everything: nothing of ours left in Ceph -------------------------------------------
vbsc -o json volume list
for id in $(jq -r '.[].id' <<<"$OUT"); do
  vbsc volume delete "$id" --wait
  assert_rc 0 "volume delete $id"
done
vbsc -o json volume list
assert_eq 0 "$(jq length <<<"$OUT")" "volumes left"
imgs=$(images)
[[ $imgs != *vol-* ]] || fail "RBD images left in the pool: $imgs"
api GET /v1/pools
assert_field '.pools[0].reserved' 0 "pool reserved after deleting everything"
vbsd_stop
