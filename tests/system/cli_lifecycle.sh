#!/usr/bin/env bash
# System test: the whole volume/snapshot lifecycle through the `vbs` CLI against a real
# `vbsd dev`, checked on the server's answers (table and JSON) AND on the files in the pool:
# create (units, name, tags, --wait), list filters, show, known data at scattered offsets,
# snapshot byte-identical to its volume, volumes from a snapshot (same and larger size), the
# snapshot outliving its volume, deletes removing the files, CLI error exit codes, and a 1 TiB
# volume that is sparse on disk.
. "$(dirname "$0")/lib.sh"
t_init cli_lifecycle
vbsd_start --pool-capacity 4T   # thin: a 1 TiB volume must fit whatever the disk
as_admin

vol_json() { vbsc -o json volume show "$1"; assert_rc 0 "volume show $1"; }
list_ids() { jq -r '[.[].id] | sort | join(" ")' <<<"$OUT"; }

# --- create: table output, --name, --tag, --wait ---------------------------------------------
vbsc volume create --size 64M --name data1 --tag env=test --tag team=a --wait
assert_rc 0 "volume create --size 64M --wait"
V1=$(sed -n 's/^id: *//p' <<<"$OUT")
assert_match '^vol-[0-9a-f]{17}$' "$V1" "id of the new volume"
assert_match 'state: +available' "$OUT" "create --wait table output"
assert_match 'size: +64M \(67108864 bytes\)' "$OUT" "create table size"
assert_match 'name: +data1' "$OUT" "create table name"
assert_match 'tags: +Name=data1, env=test, team=a' "$OUT" "create table tags"
vol_json "$V1"
assert_eq 67108864 "$(jf .size "$OUT")" "JSON size of 64M"
assert_eq available "$(jf .state "$OUT")" "JSON state"
assert_eq data1 "$(jf .tags.Name "$OUT")" "tag Name from --name"
assert_eq test "$(jf .tags.env "$OUT")" "tag env"
assert_eq default "$(jf .pool "$OUT")" "pool"
assert_eq null "$(jf .snapshot_id "$OUT")" "snapshot_id of an empty volume"
F1=$(vol_file "$V1")
assert_file "$F1" "volume file of $V1"
assert_eq 67108864 "$(stat -c %s "$F1")" "size of $F1"
assert_eq 0 "$(du -k "$F1" | cut -f1)" "allocated KiB of a new (sparse) 64M volume"

# --- sizes with units -----------------------------------------------------------------------
for spec in "1G:1073741824" "1GiB:1073741824" "2097152:2097152" "3m:3145728"; do
  vbsc -o json volume create --size "${spec%%:*}" --tag units=yes --wait
  assert_rc 0 "volume create --size ${spec%%:*}"
  assert_eq "${spec#*:}" "$(jf .size "$OUT")" "size of --size ${spec%%:*}"
  assert_eq available "$(jf .state "$OUT")" "state of --size ${spec%%:*}"
  assert_eq "${spec#*:}" "$(stat -c %s "$(vol_file "$(jf .id "$OUT")")")" "file size for ${spec%%:*}"
done

# --- a 1 TiB volume: available at once, sparse on disk --------------------------------------
vbsc -o json volume create --size 1T --name big --wait
assert_rc 0 "volume create --size 1T"
VBIG=$(jf .id "$OUT")
assert_eq 1099511627776 "$(jf .size "$OUT")" "size of 1T"
assert_eq available "$(jf .state "$OUT")" "state of the 1T volume"
assert_eq 1099511627776 "$(stat -c %s "$(vol_file "$VBIG")")" "apparent size of the 1T file"
kb=$(du -k "$(vol_file "$VBIG")" | cut -f1)
[ "$kb" -lt 1024 ] || fail "1 TiB volume file should be sparse: expected < 1024 KiB allocated, got $kb KiB"

# --- list, filters, show --------------------------------------------------------------------
vbsc -o json volume list
assert_rc 0 "volume list"
assert_eq 6 "$(jq length <<<"$OUT")" "number of volumes listed"
vbsc -o json volume list --tag env=test
assert_eq "$V1" "$(list_ids)" "volume list --tag env=test"
vbsc -o json volume list --tag units=yes
assert_eq 4 "$(jq length <<<"$OUT")" "volume list --tag units=yes"
vbsc -o json volume list --state available
assert_eq 6 "$(jq length <<<"$OUT")" "volume list --state available"
vbsc -o json volume list --state creating
assert_eq 0 "$(jq length <<<"$OUT")" "volume list --state creating"
vbsc volume list --tag env=test
assert_rc 0 "volume list (table)"
assert_match '^ID +NAME +SIZE +STATE +ATTACHED +POOL +SNAPSHOT +CREATED' "$(head -1 <<<"$OUT")" "table header"
assert_match "^$V1 +data1 +64M +available +- +default +- +20[0-9-]+T" "$(sed -n 2p <<<"$OUT")" "table row"
vbsc volume list --tag big=no
assert_eq 1 "$(wc -l <<<"$OUT")" "an empty table has only its header"
vbsc volume show "$V1"
assert_match 'owner: +admin' "$OUT" "volume show owner"

# --- known data at scattered offsets, leaving holes -----------------------------------------
write_pattern "$F1" 0 4096 a
write_pattern "$F1" $((5 * 1048576 + 123)) 100000 b
write_pattern "$F1" $((33 * 1048576)) 1048576 c
write_pattern "$F1" $((64 * 1048576 - 4096)) 4096 d
assert_eq 67108864 "$(stat -c %s "$F1")" "volume file size after writes (conv=notrunc)"
kb=$(du -k "$F1" | cut -f1)
[ "$kb" -lt 8192 ] || fail "writes should leave holes: expected < 8 MiB allocated, got $kb KiB"
SUM1=$(sha256sum <"$F1")

# --- snapshot ---------------------------------------------------------------------------------
vbsc -o json snapshot create "$V1" --description "first snap" --tag k=v --wait
assert_rc 0 "snapshot create --wait"
S1=$(jf .id "$OUT")
assert_match '^snap-[0-9a-f]{17}$' "$S1" "snapshot id"
assert_eq completed "$(jf .state "$OUT")" "snapshot state after --wait"
assert_eq 100 "$(jf .progress "$OUT")" "snapshot progress after --wait"
assert_eq "$V1" "$(jf .volume_id "$OUT")" "snapshot volume_id"
assert_eq 67108864 "$(jf .size "$OUT")" "snapshot size"
assert_eq "first snap" "$(jf .description "$OUT")" "snapshot description"
SF1=$(snap_file "$S1")
assert_same "$F1" "$SF1" "snapshot file vs volume file"
vbsc snapshot show "$S1"
assert_match 'state: +completed' "$OUT" "snapshot show state"
assert_match 'progress: +100%' "$OUT" "snapshot show progress"
vbsc -o json snapshot list --volume "$V1"
assert_eq "$S1" "$(list_ids)" "snapshot list --volume"
vbsc -o json snapshot list --state completed
assert_eq "$S1" "$(list_ids)" "snapshot list --state completed"
vbsc snapshot list
assert_match "^$S1 +$V1 +completed +100% +64M +first snap" "$(sed -n 2p <<<"$OUT")" "snapshot table row"

# --- volume from snapshot: same size (size omitted) and larger -------------------------------
vbsc -o json volume create --snapshot "$S1" --wait
assert_rc 0 "volume create --snapshot"
V2=$(jf .id "$OUT")
assert_eq available "$(jf .state "$OUT")" "clone state"
assert_eq "$S1" "$(jf .snapshot_id "$OUT")" "clone snapshot_id"
assert_eq 67108864 "$(jf .size "$OUT")" "clone size defaults to the snapshot's"
assert_same "$F1" "$(vol_file "$V2")" "clone (same size) vs source volume"

vbsc -o json volume create --snapshot "$S1" --size 128M --wait
assert_rc 0 "volume create --snapshot --size 128M"
V3=$(jf .id "$OUT")
F3=$(vol_file "$V3")
assert_eq 134217728 "$(jf .size "$OUT")" "larger clone size"
assert_eq 134217728 "$(stat -c %s "$F3")" "larger clone file size"
r=$(cmp -n 67108864 "$F1" "$F3" 2>&1) || fail "larger clone: first 64M differ from the source: $r"
assert_zero_from "$F3" 67108864 "larger clone beyond the snapshot"

vbsc volume create --snapshot "$S1" --size 32M
assert_rc 1 "volume from snapshot smaller than the snapshot"
assert_contains InvalidParameterValue "$ERR" "stderr of a too-small clone"

# --- delete the source: the snapshot survives and still clones ------------------------------
vbsc -o json volume delete "$V1" --wait
assert_rc 0 "volume delete --wait"
assert_eq deleted "$(jf .state "$OUT")" "state after delete --wait"
assert_no_file "$F1" "volume file after delete"
vbsc -o json volume list
assert_not_contains "$V1" "$OUT" "plain volume list after delete"
vbsc -o json volume list --all
assert_eq deleted "$(jq -r --arg id "$V1" '.[] | select(.id==$id) | .state' <<<"$OUT")" "volume list --all shows the deleted volume"
vbsc -o json volume list --state deleted
assert_eq "$V1" "$(list_ids)" "volume list --state deleted"
vbsc -o json snapshot show "$S1"
assert_eq completed "$(jf .state "$OUT")" "snapshot state after its volume was deleted"
assert_file "$SF1" "snapshot file after its volume was deleted"
vbsc -o json volume create --snapshot "$S1" --wait
assert_rc 0 "clone from a snapshot whose volume is deleted"
V4=$(jf .id "$OUT")
assert_eq "$SUM1" "$(sha256sum <"$(vol_file "$V4")")" "clone after the source's deletion vs the source's data"

# --- snapshot delete --------------------------------------------------------------------------
vbsc -o json snapshot delete "$S1" --wait
assert_rc 0 "snapshot delete --wait"
assert_eq deleted "$(jf .state "$OUT")" "snapshot state after delete --wait"
assert_no_file "$SF1" "snapshot file after delete"
vbsc -o json snapshot list
assert_not_contains "$S1" "$OUT" "snapshot list after delete"
vbsc volume create --snapshot "$S1"
assert_rc 1 "volume from a deleted snapshot"
assert_contains "InvalidSnapshot.NotFound" "$ERR" "stderr of a clone from a deleted snapshot"

# --- CLI errors: exit code, message on stderr, nothing created -------------------------------
vbsc -o json volume list --all
before=$(list_ids)
for bad in 10X 1.5G 1000K 0 -5M ""; do
  vbsc volume create --size "$bad"
  assert_rc 2 "volume create --size '$bad'"
  assert_match '^error: ' "$ERR" "stderr for --size '$bad'"
  assert_eq "" "$OUT" "stdout for --size '$bad'"
done
vbsc volume show vol-00000000000000000
assert_rc 1 "volume show of an unknown id"
assert_match '^error: InvalidVolume.NotFound: ' "$ERR" "stderr for an unknown id"
vbsc volume delete vol-0123456789abcdef0
assert_rc 1 "volume delete of an unknown id"
assert_contains InvalidVolume.NotFound "$ERR" "stderr for delete of an unknown id"
vbsc snapshot show snap-0123456789abcdef0
assert_rc 1 "snapshot show of an unknown id"
assert_contains InvalidSnapshot.NotFound "$ERR" "stderr for an unknown snapshot"
for bad in vol-123 VOL-0123456789ABCDEF0 vol-0123456789abcdefg; do
  vbsc volume show "$bad"
  assert_rc 1 "volume show $bad"
  assert_match '^error: InvalidVolumeID.Malformed: ' "$ERR" "stderr for malformed id $bad"
done
vbsc snapshot create vol-12
assert_rc 1 "snapshot create of a malformed volume id"
assert_contains InvalidVolumeID.Malformed "$ERR" "stderr for snapshot of a malformed id"
vbsc snapshot show snap-xyz
assert_rc 1 "snapshot show snap-xyz"
assert_contains InvalidSnapshotID.Malformed "$ERR" "stderr for a malformed snapshot id"
vbsc -o json volume list --all
assert_eq "$before" "$(list_ids)" "volumes after the failed commands"
assert_eq 8 "$(ls "$(pool_dir)/volumes" | wc -l)" "volume files after the failed commands"

# --- delete everything: files gone, capacity released ----------------------------------------
vbsc -o json volume list
for id in $(jq -r '.[].id' <<<"$OUT"); do
  vbsc volume delete "$id" --wait
  assert_rc 0 "volume delete $id --wait"
  assert_no_file "$(vol_file "$id")" "file of deleted volume $id"
done
vbsc -o json volume list
assert_eq 0 "$(jq length <<<"$OUT")" "volumes left"
api GET /v1/pools
assert_field '.pools[0].reserved' 0 "pool reserved after deleting everything"
assert_no_partials "end of the lifecycle"
