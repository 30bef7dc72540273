#!/usr/bin/env bash
# fio's nbd engine (libnbd) with verify=crc32c, several jobs (one connection each) writing
# and verifying disjoint regions, deep queues; then a random read/write mix, all against
# `vbsd nbd-serve` on a unix socket.
source "$(dirname "$0")/lib.sh"
need_tools fio

# Twice: a file on the disk file system (reads/writes through the page cache with
# RWF_NOWAIT on the loop) and one on tmpfs (large reads spliced or sent from a mapping,
# large write payloads written in place as they arrive).
shm=$(mktemp -d /dev/shm/vbs-fio-verify.XXXXXX)
trap 'rm -rf "$shm"; cleanup' EXIT
for dir in "$work" "$shm"; do
  disk=$dir/disk.img
  truncate -s 256M "$disk"
  sock=$work/nbd.sock
  rm -f "$sock"
  serve "$disk" --socket "$sock"
  cd "$work"  # fio leaves verify state files in the current directory

  log "$dir: fio write+verify, 4 jobs, iodepth 16"
  fio --name=verify --ioengine=nbd --uri="nbd+unix:///?socket=$sock" --rw=randwrite \
    --bsrange=4k-1M --size=48M --offset_increment=64M --numjobs=4 --iodepth=16 \
    --verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting \
    --output="$work/fio1.txt" || { cat "$work/fio1.txt"; die "fio verify"; }
  grep -q 'err= 0' "$work/fio1.txt" || { cat "$work/fio1.txt"; die "fio reported errors"; }

  log "$dir: fio mixed random read/write, 2 jobs, iodepth 32"
  fio --name=mix --ioengine=nbd --uri="nbd+unix:///?socket=$sock" --rw=randrw --bs=4k \
    --size=16M --numjobs=2 --offset_increment=128M --iodepth=32 --time_based --runtime=3 \
    --group_reporting --output="$work/fio2.txt" || { cat "$work/fio2.txt"; die "fio mix"; }
  grep -q 'err= 0' "$work/fio2.txt" || { cat "$work/fio2.txt"; die "fio mix reported errors"; }
  stop_server
  if [ "$dir" = "$shm" ]; then
    # TCP takes its own path on tmpfs: large reads are sent from the mapping (not spliced).
    port=$(free_port)
    serve "$disk" --listen "127.0.0.1:$port" --no-tls --no-client-auth
    log "$dir: fio write+verify over TCP, 2 jobs, iodepth 16"
    fio --name=verify --ioengine=nbd --uri="nbd://127.0.0.1:$port/" --rw=randwrite \
      --bsrange=4k-1M --size=48M --offset_increment=64M --numjobs=2 --iodepth=16 \
      --verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting \
      --output="$work/fio3.txt" || { cat "$work/fio3.txt"; die "fio verify (TCP)"; }
    grep -q 'err= 0' "$work/fio3.txt" || { cat "$work/fio3.txt"; die "fio reported errors"; }
    stop_server
  fi
  rm -f "$disk"
done
echo PASS
