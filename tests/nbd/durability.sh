#!/usr/bin/env bash
# Data acknowledged after FUA writes and after FLUSH survives kill -9 of `vbsd nbd-serve`:
# write through real clients, kill -9 the server right after the acknowledgement, check the
# file. Then a new server serves the same bytes.
source "$(dirname "$0")/lib.sh"
need_tools qemu-io nbdsh

disk=$data/disk.img  # on the backing (VBS_NBD_BACKING, see lib.sh)
truncate -s 64M "$disk"
sock=$work/nbd.sock
serve "$disk" --socket "$sock"
uri="nbd+unix:///?socket=$sock"

log "FUA writes via qemu-io, then kill -9"
qemu-io -f raw -c 'write -f -P 0x7e 0 1M' -c 'write -f -P 0x3c 10M 4k' "$uri" >/dev/null ||
  die "qemu-io write"
kill -9 "$server_pid"
wait "$server_pid" 2>/dev/null || true
qemu-io -f raw -c 'read -P 0x7e 0 1M' -c 'read -P 0x3c 10M 4k' "$disk" | grep -q 'verification failed' &&
  die "FUA data lost"

log "writes + FLUSH via nbdsh with the server killed right after the flush reply"
serve "$disk" --socket "$sock"
nbdsh -u "$uri" -c '
h.pwrite(b"\x42" * 65536, 20 * 1048576)
h.pwrite(b"\x43" * 4096, 30 * 1048576)
h.flush()
' || die "nbdsh"
kill -9 "$server_pid"
wait "$server_pid" 2>/dev/null || true
python3 - "$disk" <<'PY' || die "flushed data lost"
import sys
with open(sys.argv[1], "rb") as f:
    f.seek(20 << 20); assert f.read(65536) == b"\x42" * 65536
    f.seek(30 << 20); assert f.read(4096) == b"\x43" * 4096
PY
log "a new server serves the same bytes"
serve "$disk" --socket "$sock"
qemu-io -f raw -c 'read -P 0x7e 0 1M' -c 'read -P 0x42 20M 64k' "$uri" | grep -q 'verification failed' &&
  die "restart lost data"
echo PASS
