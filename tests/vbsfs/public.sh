#!/usr/bin/env bash
# VBSFS's public volume end to end (core/public_service.h, agent/host_role_home.cc): one
# `vbsd server`, two agents (n1, n2) sharing a `dir` pool, the vbs CLI as an admin and a user:
#   1. create the draft (admins only: a user is refused); edit it on n1: ext4 read-write at
#      n1's public_root.draft, root's, 0755; the admin writes version 1's software.
#   2. publish version 1 while the draft is mounted (the snapshot freezes it); attach it on n1
#      and n2: read-only (ro,noload) at public_root, readable by a user; writes fail EROFS.
#   3. change the draft, publish version 2; attach on n2: n2 moves to version 2, n1 keeps
#      version 1 (its jobs are not disturbed); the list shows which node mounts which.
#   4. a sealed version is never attached read-write; deleting a mounted version is refused;
#      detached, it is deleted; nothing is left mounted or running on the nodes.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
VBS_SRC=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
vbsfs_init vbsfs_public
LOCAL_USER=vbsfsreader
local_user $LOCAL_USER
start_agent n1
start_agent n2
wait_nodes_up 2
make_user vbsfsuser
mount_opts() { findmnt -rn -o FSTYPE,OPTIONS --mountpoint "$1" 2>/dev/null || true; }
DRAFT=$T/n1/public.draft

# --- 1. the draft ------------------------------------------------------------------------------
log "1. create and edit the draft"
as_user vbsfsuser
vbsc public create --size 128M
assert_rc 1 "a user creates the public volume"
assert_contains UnauthorizedOperation "$ERR" "a user's public create"
as_admin
vbsc public create --size 128M --wait -o json
assert_rc 0 "public create ($ERR)"
assert_eq draft "$(jf .version "$OUT")" "what public create makes"
vbsc public create --size 128M
assert_contains PublicVolumeExists "$ERR" "a second draft"
vbsc public edit --node n1 --wait
assert_rc 0 "public edit on n1 ($ERR)"
case "$(mount_opts "$DRAFT")" in ext4\ rw,*) ;; *) fail "the draft on n1: '$(mount_opts "$DRAFT")'" ;; esac
assert_eq "root 755" "$(stat -c '%U %a' "$DRAFT")" "the draft's root directory"
mkdir -p "$DRAFT/bin" && printf '#!/bin/sh\necho tool v1\n' >"$DRAFT/bin/tool" && chmod 755 "$DRAFT/bin/tool"
head -c 5000000 /dev/urandom >"$DRAFT/data.bin"
sha256sum "$DRAFT/data.bin" | cut -d' ' -f1 >"$T/data.sum"
ok "draft created (a user refused) and mounted read-write on n1 at $DRAFT"

# --- 2. version 1 on both nodes ----------------------------------------------------------------
log "2. publish version 1; attach on n1 and n2"
vbsc public publish --wait -o json
assert_rc 0 "publish version 1 ($ERR)"
assert_eq 1 "$(jf .version "$OUT")" "the first version"
V1=$(jf .volume_id "$OUT")
grep -q "of .* with its file system frozen" "$T/n1/agent.log" ||
  fail "n1 did not freeze the draft for the snapshot"
for n in n1 n2; do
  vbsc public attach --node $n --wait
  assert_rc 0 "public attach on $n ($ERR)"
  case "$(mount_opts "$T/$n/public")" in ext4\ ro,*) ;; *) fail "version 1 on $n: '$(mount_opts "$T/$n/public")'" ;; esac
  assert_eq "tool v1" "$(runuser -u $LOCAL_USER -- "$T/$n/public/bin/tool")" "a user runs the tool on $n"
  assert_eq "$(cat "$T/data.sum")" "$(sha256sum "$T/$n/public/data.bin" | cut -d' ' -f1)" "data on $n"
  if out=$(echo x 2>&1 >"$T/$n/public/new"); then fail "root wrote to version 1 on $n"; fi
  assert_contains "Read-only file system" "$out" "a write to version 1 on $n"
done
ok "version 1 ($V1) mounted read-only on n1 and n2: the user runs its tool; writes fail with EROFS"

# --- 3. version 2; n2 moves, n1 keeps version 1 ------------------------------------------------
log "3. publish version 2; n2 moves to it"
printf '#!/bin/sh\necho tool v2\n' >"$DRAFT/bin/tool"
vbsc public publish --wait -o json
assert_rc 0 "publish version 2 ($ERR)"
V2=$(jf .volume_id "$OUT")
vbsc public attach --node n2 --wait
assert_rc 0 "public attach on n2 again ($ERR)"
assert_contains "detached version 1 from n2" "$ERR" "the move of n2"
assert_eq "tool v2" "$("$T/n2/public/bin/tool")" "n2 after the move"
assert_eq "tool v1" "$("$T/n1/public/bin/tool")" "n1 keeps version 1"
vbsc public list -o json
assert_rc 0 "public list ($ERR)"
assert_eq "draft:n1 2:n2 1:n1" \
  "$(jq -r '[.[] | "\(.version):\([.attachments[].node] | join(","))"] | join(" ")' <<<"$OUT")" \
  "versions and their nodes"
ok "version 2 ($V2) on n2, version 1 still on n1; the list says so"

# --- 4. sealed; delete ------------------------------------------------------------------------
log "4. sealed versions; delete"
api POST /v1/volumes/$V2/attach '{"instance_id":"host-n1","mode":"rw"}'
assert_status 400 "a read-write attach of version 2"
assert_contains InvalidParameterCombination "$BODY" "a read-write attach of version 2"
vbsc public delete 1
assert_rc 1 "delete a mounted version"
assert_contains "VolumeInUse" "$ERR" "delete a mounted version"
vbsc public detach --node n1 --wait
assert_rc 0 "public detach on n1 ($ERR)"
[ -z "$(mount_opts "$T/n1/public")" ] || fail "version 1 still mounted on n1"
vbsc public delete 1 --wait
assert_rc 0 "delete version 1 ($ERR)"
vbsc public detach --node n2 --wait
assert_rc 0 "public detach on n2 ($ERR)"
vbsc public detach --node n1 --draft --wait
assert_rc 0 "detach the draft ($ERR)"
for n in n1 n2; do
  assert_eq 0 "$(qsd_count $n)" "qemu-storage-daemons left on $n"
  [ -z "$(findmnt -rn -o TARGET | grep "^$T/$n/")" ] || fail "mounts left on $n"
done
ok "read-write attach of a version refused; a mounted version is not deleted; detached, it is; nothing left on the nodes"
