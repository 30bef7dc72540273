# Shared helpers for the NBD system tests (source it). Each test:
#   - installs its Debian packages via scripts/install-deps.sh nbd and FAILS if a tool is
#     still missing (never skips);
#   - runs the built `vbsd nbd-serve` (path in $VBSD, set by CTest) in a scratch dir that an
#     EXIT trap removes along with every process the test started (by pid);
#   - keeps the files it serves in $data, on the file system VBS_NBD_BACKING names (see
#     below), so that every fast path of the server runs on every backing a volume can have.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${VBSD:?VBSD must point at the built vbsd binary}"
# Debian's tools first: nbdsh needs the system python3 that has the nbd module.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

die() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "--- $*" >&2; }

need_tools() {
  "$repo/scripts/install-deps.sh" nbd
  local t
  for t in "$@"; do command -v "$t" >/dev/null || die "required tool '$t' is missing"; done
}

work=$(mktemp -d /tmp/vbs-nbd-test.XXXXXX)
pids=()
mounts=()
backing_mnt=""  # the backing's own mount (tmpfs, loop), unmounted after the servers are gone
backing_dev=""  # its loop device, detached after that
cleanup() {
  local m p
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # The servers held files on the backing open: only now can it be unmounted. A lazy unmount
  # still lets the loop device go (losetup -d then detaches it when the last user leaves).
  if [ -n "$backing_mnt" ] && mountpoint -q "$backing_mnt"; then
    umount "$backing_mnt" 2>/dev/null || umount -l "$backing_mnt" 2>/dev/null || true
  fi
  [ -z "$backing_dev" ] || losetup -d "$backing_dev" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The file system under $data, where the tests put the files they serve (VBS_NBD_BACKING):
#   ext4       a directory on the root disk's file system (/tmp; the default, and what every
#              test did before the matrix): page cache, RWF_NOWAIT reads on the loop
#   tmpfs      a fresh tmpfs mount: the memory-backed paths (splice, sends from the mapping,
#              payloads received in place)
#   xfs        a fresh XFS in a sparse image file, loop-mounted: another disk file system's
#              page cache, extents (SEEK_HOLE), fallocate and fdatasync
#   ext4-loop  the same with ext4: a disk file system whose "disk" (the image) a test can read
#   xfs-direct xfs, served with --direct-io (a direct_io pool: O_DIRECT, no page cache paths)
#   fuse       a FUSE file system (bindfs over a directory of the root disk): a page cache that
#              refuses RWF_NOWAIT, as ceph-fuse's does, so only reads that cachestat finds
#              resident run on the loop
# For the loop backings $backing_img is the image file and $backing_dev the loop device.
backing=${VBS_NBD_BACKING:-ext4}
backing_img=""
serve_extra=()  # what every `serve` adds for this backing
data=$work/data
mkdir "$data"
# Sized for the largest test (256 MiB images); sparse and tmpfs cost only what is written.
backing_size=1G
case $backing in
  ext4) want_fs=ext2/ext3 ;;  # stat -f names the ext2/3/4 magic so
  tmpfs)
    want_fs=tmpfs
    [ "$(id -u)" = 0 ] || die "VBS_NBD_BACKING=tmpfs needs root (mount)"
    mount -t tmpfs -o size=$backing_size,mode=0755 vbs-nbd-test "$data" || die "mount tmpfs"
    backing_mnt=$data
    ;;
  xfs | xfs-direct | ext4-loop)
    [ "$(id -u)" = 0 ] || die "VBS_NBD_BACKING=$backing needs root (loop mount)"
    "$repo/scripts/install-deps.sh" nbd
    if [ "$backing" != ext4-loop ]; then
      mkfs=(mkfs.xfs -q -f)
      want_fs=xfs
      [ "$backing" = xfs ] || serve_extra=(--direct-io)
    else
      mkfs=(mkfs.ext4 -q -F)
      want_fs=ext2/ext3
    fi
    for t in "${mkfs[0]}" losetup mount umount mountpoint findmnt; do
      command -v "$t" >/dev/null || die "required tool '$t' is missing"
    done
    backing_img=$work/backing.img
    truncate -s $backing_size "$backing_img"
    "${mkfs[@]}" "$backing_img" >&2 || die "${mkfs[0]}"
    # An explicit loop device (not mount -o loop) so that cleanup knows what to detach.
    backing_dev=$(losetup --find --show "$backing_img") || die "losetup"
    mount "$backing_dev" "$data" || die "mount $backing_dev"
    backing_mnt=$data
    [ "$(findmnt -n -o SOURCE --mountpoint "$data")" = "$backing_dev" ] ||
      die "$data is not mounted from $backing_dev"
    ;;
  fuse)
    [ "$(id -u)" = 0 ] || die "VBS_NBD_BACKING=fuse needs root (mount)"
    "$repo/scripts/install-deps.sh" nbd
    command -v bindfs >/dev/null || die "required tool 'bindfs' is missing"
    want_fs=fuseblk  # what stat -f calls bindfs's mount
    mkdir "$work/fuse-under"
    bindfs "$work/fuse-under" "$data" || die "bindfs"
    backing_mnt=$data
    /usr/bin/python3 - "$data" <<'PY' || die "the fuse backing accepts RWF_NOWAIT: not the case it is for"
import os, sys
p = os.path.join(sys.argv[1], "probe")
with open(p, "wb") as f:
    f.write(b"x" * 4096)
fd = os.open(p, os.O_RDONLY)
try:
    os.preadv(fd, [bytearray(4096)], 0, os.RWF_NOWAIT)
    sys.exit(1)
except OSError as e:
    sys.exit(0 if e.errno == 95 else 1)  # EOPNOTSUPP
finally:
    os.close(fd)
    os.unlink(p)
PY
    ;;
  *) die "VBS_NBD_BACKING=$backing: expected ext4, tmpfs, xfs, xfs-direct, ext4-loop or fuse" ;;
esac
# The run's log shows where the data really was; a backing that is not the one asked for
# (a /tmp on tmpfs, a mount that silently failed) fails the test rather than test the wrong
# file system under the right name.
have_fs=$(stat -f -c %T "$data")
log "backing $backing: $data is on $have_fs${backing_dev:+ ($backing_dev over $backing_img)}"
[ "$have_fs" = "$want_fs" ] || die "backing $backing: $data is on $have_fs, not $want_fs"

# serve FILE ARGS... : starts vbsd nbd-serve, waits for "ready"; sets $server_pid.
serve() {
  # A fresh file per start: an earlier server's "ready" must not be taken for this one's.
  local out
  out=$(mktemp "$work/serve.XXXXXX.out")
  "$VBSD" nbd-serve "$@" ${serve_extra[@]+"${serve_extra[@]}"} >"$out" 2>"$out.err" &
  server_pid=$!
  pids+=("$server_pid")
  local i
  for i in $(seq 1 100); do
    if grep -q ready "$out" 2>/dev/null; then
      [ ${#serve_extra[@]} -eq 0 ] || check_direct "$server_pid" "$1"
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$out.err" >&2; die "nbd-serve exited"; }
    sleep 0.1
  done
  die "nbd-serve did not become ready"
}

# check_direct PID FILE: the server holds FILE open with O_DIRECT (xfs-direct really is).
check_direct() {
  local fd target flags
  for fd in /proc/"$1"/fd/*; do
    target=$(readlink "$fd" 2>/dev/null) || continue
    [ "$target" = "$(realpath "$2")" ] || continue
    flags=$(awk '/^flags:/ {print $2}' /proc/"$1"/fdinfo/"${fd##*/}")
    (((8#$flags & 8#40000) != 0)) && return 0
  done
  die "nbd-serve $* has no O_DIRECT descriptor on $2"
}

# serve_on unix|tcp FILE ARGS...: serves FILE on $sock (unix) or plain TCP on a free port
# (--no-tls --no-client-auth); sets $uri.
serve_on() {
  local transport=$1 file=$2 port
  shift 2
  if [ "$transport" = unix ]; then
    rm -f "$sock"
    serve "$file" --socket "$sock" "$@"
    uri="nbd+unix:///?socket=$sock"
  else
    port=$(free_port)
    serve "$file" --listen "127.0.0.1:$port" --no-tls --no-client-auth "$@"
    uri="nbd://127.0.0.1:$port/"
  fi
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# make_certs DIR: a test CA, a server certificate for localhost/127.0.0.1 and a client
# certificate, in the file names both QEMU (tls-creds-x509 dir=) and libnbd
# (tls-certificates=) look for.
make_certs() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=vbs-test-ca" \
      -keyout ca-key.pem -out ca-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
      -days 2 -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=vbs-test-client/OU=user" \
      -keyout client-key.pem -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
      -days 2 -extfile client.ext -out client-cert.pem 2>/dev/null
    chmod 600 ./*-key.pem
  )
}

# tls_args DIR: nbd-serve options for the certificates in DIR.
tls_args() { echo "--tls-cert $1/server-cert.pem --tls-key $1/server-key.pem --tls-ca $1/ca-cert.pem"; }
