#!/usr/bin/env bash
# fio's nbd engine (libnbd) with verify=crc32c, several jobs (one connection each) writing
# and verifying disjoint regions, deep queues; then a random read/write mix, all against
# `vbsd nbd-serve` on a unix socket and then over TCP.
source "$(dirname "$0")/lib.sh"
need_tools fio

# One file on the backing (VBS_NBD_BACKING, see lib.sh): on a disk file system reads and
# writes go through the page cache with RWF_NOWAIT on the loop, on tmpfs large reads are
# spliced (unix) or sent from the mapping (TCP) and large write payloads land in place as
# they arrive. Both transports on every backing: each takes its own send path.
disk=$data/disk.img
sock=$work/nbd.sock
cd "$work"  # fio leaves verify state files in the current directory
for transport in unix tcp; do
  rm -f "$disk"
  truncate -s 256M "$disk"
  serve_on $transport "$disk"

  log "$backing/$transport: fio write+verify, 4 jobs, iodepth 16"
  fio --name=verify --ioengine=nbd --uri="$uri" --rw=randwrite \
    --bsrange=4k-1M --size=48M --offset_increment=64M --numjobs=4 --iodepth=16 \
    --verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting \
    --output="$work/fio1.txt" || { cat "$work/fio1.txt"; die "fio verify"; }
  grep -q 'err= 0' "$work/fio1.txt" || { cat "$work/fio1.txt"; die "fio reported errors"; }

  log "$backing/$transport: fio mixed random read/write, 2 jobs, iodepth 32"
  fio --name=mix --ioengine=nbd --uri="$uri" --rw=randrw --bs=4k \
    --size=16M --numjobs=2 --offset_increment=128M --iodepth=32 --time_based --runtime=3 \
    --group_reporting --output="$work/fio2.txt" || { cat "$work/fio2.txt"; die "fio mix"; }
  grep -q 'err= 0' "$work/fio2.txt" || { cat "$work/fio2.txt"; die "fio mix reported errors"; }
  stop_server
done
echo PASS
