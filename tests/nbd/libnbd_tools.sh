#!/usr/bin/env bash
# nbdinfo (--list, --map shows holes), nbdcopy (in and out) and nbdsh against
# `vbsd nbd-serve`, over a unix socket and over TCP with TLS.
source "$(dirname "$0")/lib.sh"
need_tools nbdinfo nbdcopy nbdsh openssl python3 cmp

certs=$work/certs
make_certs "$certs"
sock=$work/nbd.sock

check_suite() {  # URI
  local uri=$1
  log "nbdinfo $uri"
  nbdinfo "$uri" >"$work/info.txt" || die "nbdinfo"
  grep -q 'export-size: 33554432' "$work/info.txt" || die "size"
  grep -q 'base:allocation' "$work/info.txt" || die "no base:allocation context"
  grep -q 'can_multi_conn: true' "$work/info.txt" || die "multi-conn not advertised"
  log "nbdinfo --list"
  nbdinfo --list "$uri" | grep -q 'export="vol-test"' || die "--list lacks export"
  log "nbdinfo --map"
  nbdinfo --map "$uri" >"$work/map.txt" || die "--map"
  cat "$work/map.txt" >&2
  grep -qE '^ +0 +1048576 +3 +hole,zero' "$work/map.txt" || die "map: no leading hole"
  grep -qE '^ +1048576 +1048576 +0 +data' "$work/map.txt" || die "map: no data extent"
  log "nbdcopy out, compare"
  nbdcopy "$uri" "$work/copy.raw" || die "nbdcopy out"
  cmp "$disk" "$work/copy.raw" || die "nbdcopy copy differs"
  log "nbdcopy in (4 connections), compare"
  head -c 32M /dev/urandom >"$work/new.raw"
  nbdcopy --connections=4 "$work/new.raw" "$uri" || die "nbdcopy in"
  nbdcopy "$uri" "$work/back.raw" && cmp "$work/new.raw" "$work/back.raw" || die "round trip"
  log "nbdsh: zero, trim, block status"
  nbdsh -c 'h.set_uri_allow_local_file(True)' -c "h.connect_uri('$uri')" -c '
h.zero(65536, 0)
h.trim(1048576, 4*1048576)
assert h.pread(65536, 0) == bytearray(65536)
assert h.pread(4096, 4*1048576) == bytearray(4096)
h.flush()
' || die "nbdsh"
}

# The file on the backing (VBS_NBD_BACKING, see lib.sh): a disk file system reads through
# the page cache and finds holes with SEEK_HOLE, tmpfs takes other paths (large reads
# spliced to unix sockets or sent from a mapping under TLS, large writes received straight
# into the mapping, hole probes that may stop when slow).
disk=$data/disk.img
rm -f "$disk"
truncate -s 32M "$disk"
# Data at [1M,2M) and [8M,8M+64k); holes elsewhere.
dd if=/dev/urandom of="$disk" bs=1M seek=1 count=1 conv=notrunc status=none
dd if=/dev/urandom of="$disk" bs=64k seek=128 count=1 conv=notrunc status=none
serve "$disk" --socket "$sock" --export-name vol-test --description "a test volume"
check_suite "nbd+unix:///vol-test?socket=$sock"
nbdinfo "nbd+unix:///vol-test?socket=$sock" | grep -q 'description: a test volume' ||
  die "description"
stop_server

# Restore the sparse layout for the TLS round.
truncate -s 0 "$disk"; truncate -s 32M "$disk"
dd if=/dev/urandom of="$disk" bs=1M seek=1 count=1 conv=notrunc status=none
port=$(free_port)
# shellcheck disable=SC2046
serve "$disk" --listen "127.0.0.1:$port" --export-name vol-test $(tls_args "$certs")
check_suite "nbds://localhost:$port/vol-test?tls-certificates=$certs"
log "a client insisting on no TLS gets nothing"
if nbdinfo "nbd://localhost:$port/vol-test" >/dev/null 2>&1; then die "plain client served"; fi
stop_server

log "unix socket with certificates: TLS offered, not required"
# shellcheck disable=SC2046
serve "$disk" --socket "$sock" --export-name vol-test $(tls_args "$certs")
nbdinfo "nbds+unix:///vol-test?socket=$sock&tls-certificates=$certs" | grep -q 'with TLS' ||
  die "TLS over unix socket"
nbdinfo "nbd+unix:///vol-test?socket=$sock" | grep -q 'without TLS' || die "plain over unix socket"
echo PASS
