#!/usr/bin/env bash
# A real file system over the export: nbdfuse exposes it as a file, mkfs.ext4, loop mount,
# write files, unmount, e2fsck -fn must be clean and the files must read back.
source "$(dirname "$0")/lib.sh"
need_tools nbdfuse mkfs.ext4 e2fsck mount umount losetup sha256sum

[ "$(id -u)" = 0 ] || die "needs root (loop mount)"
disk=$data/disk.img  # on the backing (VBS_NBD_BACKING, see lib.sh)
truncate -s 256M "$disk"
sock=$work/nbd.sock
serve "$disk" --socket "$sock"

fusedir=$work/fuse
mkdir -p "$fusedir" "$work/mnt"
nbdfuse "$fusedir" "nbd+unix:///?socket=$sock" &
pids+=($!)
mounts+=("$fusedir")
for _ in $(seq 1 100); do [ -e "$fusedir/nbd" ] && break; sleep 0.1; done
[ -e "$fusedir/nbd" ] || die "nbdfuse did not expose the export"

log "mkfs.ext4"
mkfs.ext4 -q -F "$fusedir/nbd" || die "mkfs"
log "mount, write files"
mount -o loop "$fusedir/nbd" "$work/mnt" || die "mount"
mounts=("$work/mnt" "${mounts[@]}")
for i in $(seq 1 20); do head -c $((i * 100000)) /dev/urandom >"$work/mnt/f$i"; done
mkdir -p "$work/mnt/dir/sub" && cp -r /usr/share/doc/e2fsprogs "$work/mnt/dir/sub/"
(cd "$work/mnt" && sha256sum f* >"$work/sums")
sync
umount "$work/mnt" || die "umount"
mounts=("$fusedir")
log "e2fsck -fn"
e2fsck -fn "$fusedir/nbd" || die "e2fsck found problems"
log "remount read-only, verify"
mount -o loop,ro "$fusedir/nbd" "$work/mnt" || die "remount"
mounts=("$work/mnt" "${mounts[@]}")
(cd "$work/mnt" && sha256sum -c --quiet "$work/sums") || die "file contents"
umount "$work/mnt"
mounts=("$fusedir")
umount "$fusedir"
mounts=()
echo PASS
