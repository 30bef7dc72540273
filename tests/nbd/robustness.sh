#!/usr/bin/env bash
# Hostile NBD traffic (tests/nbd/robustness.py) against `vbsd nbd-serve`: bad magic,
# unknown options/commands/flags, oversize lengths, offsets past the end, half headers,
# vanishing clients, 2000 connections at once. The server must survive, serve a well-behaved
# client throughout, and still pass qemu-img compare at the end.
source "$(dirname "$0")/lib.sh"
need_tools python3 qemu-img qemu-io

ulimit -n 16384
disk=$work/disk.img
truncate -s 64M "$disk"
sock=$work/nbd.sock
serve "$disk" --socket "$sock"
python3 "$here/robustness.py" "$sock" 2000 || die "robustness cases"
kill -0 "$server_pid" || die "server died"
qemu-io -f raw -c 'read -P 0x5a 0 4k' "nbd+unix:///?socket=$sock" | grep -q verification && die "data"
qemu-img compare -f raw -F raw "$disk" "nbd+unix:///?socket=$sock" || die "compare"
echo PASS
