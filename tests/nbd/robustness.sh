#!/usr/bin/env bash
# Hostile NBD traffic (tests/nbd/robustness.py) against `vbsd nbd-serve`: bad magic,
# unknown options/commands/flags, oversize lengths, offsets past the end, half headers,
# vanishing clients, 2000 connections at once, 300 that never finish the handshake, and
# clients that ask for gigabytes of replies they never read (RSS measured against its
# bound). The server must survive, serve a well-behaved client throughout, and still pass
# qemu-img compare at the end. Then a tmpfs that fills up under large writes.
source "$(dirname "$0")/lib.sh"
need_tools python3 qemu-img qemu-io

ulimit -n 16384
disk=$data/disk.img  # on the backing (VBS_NBD_BACKING, see lib.sh)
truncate -s 64M "$disk"
sock=$work/nbd.sock
# Request memory 256 MiB: the server's RSS may grow by that plus, per connection, its
# allowance (2 MiB), receive buffer and buffer pool (16 MiB): under 400 MiB with the hogs. (An
# ASan build keeps freed memory in a quarantine: a small one, so that freeing is seen.)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
serve "$disk" --socket "$sock" --request-memory 256
chmod o+x "$work" && chmod 666 "$sock"  # the handshake-slot case connects as another uid too
SERVER_PID=$server_pid RSS_GROWTH_MIB=400 python3 "$here/robustness.py" "$sock" 2000 ||
  die "robustness cases"
kill -0 "$server_pid" || die "server died"
qemu-io -f raw -c 'read -P 0x5a 0 4k' "nbd+unix:///?socket=$sock" | grep -q verification && die "data"
qemu-img compare -f raw -F raw "$disk" "nbd+unix:///?socket=$sock" || die "compare"
stop_server

# A sparse volume on a tmpfs that fills up: large writes land in place as they arrive, so
# the one that finds no room must get ENOSPC (not kill the server), and what fitted stays.
small=$work/small
mkdir -p "$small"
mount -t tmpfs -o size=2M tmpfs "$small" || die "mount tmpfs"
mounts+=("$small")
for transport in unix tcp; do
  rm -f "$small/disk.img"
  truncate -s 16M "$small/disk.img"
  serve_on $transport "$small/disk.img"
  out=$(qemu-io -f raw -c 'write -P 0x33 0 1M' -c 'write -P 0x44 4M 4M' "$uri" 2>&1 || true)
  echo "$out" >&2
  echo "$out" | grep -q 'wrote 1048576/1048576' || die "$transport: the first write should fit"
  echo "$out" | grep -q 'No space left on device' || die "$transport: no ENOSPC on a full tmpfs"
  kill -0 "$server_pid" || die "$transport: server died on a full tmpfs"
  qemu-io -f raw -c 'read -P 0x33 0 1M' "$uri" | grep -q 'read 1048576/1048576' ||
    die "$transport: the write that fitted is gone"
  stop_server
done
echo PASS
