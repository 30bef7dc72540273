#!/usr/bin/env bash
# A read-only export (--read-only) refuses writes from every client: qemu-io, qemu-img,
# nbdcopy, nbdsh, fio; reads still work and the file is unchanged.
source "$(dirname "$0")/lib.sh"
need_tools qemu-io qemu-img nbdcopy nbdsh nbdinfo fio sha256sum

disk=$data/disk.img  # on the backing (VBS_NBD_BACKING, see lib.sh)
head -c 16M /dev/urandom >"$disk"
sum=$(sha256sum <"$disk")
sock=$work/nbd.sock
serve "$disk" --socket "$sock" --read-only
uri="nbd+unix:///?socket=$sock"

nbdinfo "$uri" | grep -q 'is_read_only: true' || die "not advertised read-only"
qemu-io -r -f raw -c 'read 0 1M' "$uri" >/dev/null || die "read failed"
log "qemu-io write"
if qemu-io -f raw -c 'write -P 1 0 4k' "$uri" 2>&1 | grep -q '^wrote'; then die "qemu-io wrote"; fi
log "qemu-img convert into it"
head -c 16M /dev/zero >"$work/zero.raw"
if qemu-img convert -n -f raw -O raw "$work/zero.raw" "$uri" 2>/dev/null; then die "convert wrote"; fi
log "nbdcopy into it"
if nbdcopy "$work/zero.raw" "$uri" 2>/dev/null; then die "nbdcopy wrote"; fi
log "nbdsh pwrite/trim/zero bypassing the client's read-only check"
nbdsh -u "$uri" -c '
import errno
h.set_strict_mode(0)
for op in (lambda: h.pwrite(b"x" * 512, 0), lambda: h.trim(4096, 0), lambda: h.zero(4096, 0)):
    try:
        op()
    except nbd.Error as e:
        assert e.errnum == errno.EPERM, e
    else:
        raise SystemExit("write accepted on a read-only export")
' || die "nbdsh"
log "fio write"
if fio --name=w --ioengine=nbd --uri="$uri" --rw=write --bs=64k --size=1M \
  --output="$work/fio.txt" >/dev/null 2>&1 && grep -q 'err= 0' "$work/fio.txt"; then
  die "fio wrote"
fi
[ "$(sha256sum <"$disk")" = "$sum" ] || die "file changed"
echo PASS
