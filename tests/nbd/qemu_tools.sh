#!/usr/bin/env bash
# qemu-img info/convert/compare and qemu-io (write/read/discard/zero with patterns) against
# `vbsd nbd-serve`, over a unix socket and over TCP with TLS (client certificate from a test CA).
source "$(dirname "$0")/lib.sh"
need_tools qemu-img qemu-io openssl python3 cmp

disk=$data/disk.img  # on the backing (VBS_NBD_BACKING, see lib.sh)
truncate -s 64M "$disk"
head -c 8M /dev/urandom >"$work/src.raw"
truncate -s 64M "$work/src.raw"

qemu_io_patterns() {  # ARGS...: how to open the image
  log "qemu-io patterns"
  qemu-io "$@" \
    -c 'write -P 0x5a 0 1M' -c 'read -P 0x5a 0 1M' \
    -c 'write -P 0xa5 -f 1M 64k' -c 'read -P 0xa5 1M 64k' \
    -c 'write -z 2M 512k' -c 'read -P 0 2M 512k' \
    -c 'write -P 0x11 3M 1M' -c 'discard 3M 1M' \
    -c 'write -P 0x22 5M 4k' -c 'aio_write -P 0x33 6M 4k' -c 'aio_flush' -c 'read -P 0x33 6M 4k' \
    -c 'read -P 0x22 5M 4k' -c 'flush' >"$work/qio.out" 2>&1 || { cat "$work/qio.out"; die "qemu-io failed"; }
  grep -qiE 'pattern verification failed|error' "$work/qio.out" && { cat "$work/qio.out"; die "qemu-io verification"; }
  return 0
}

# --- unix socket
sock=$work/nbd.sock
serve "$disk" --socket "$sock"
uri="nbd+unix:///?socket=$sock"
log "qemu-img info (unix)"
qemu-img info "$uri" | grep -q 'virtual size: 64 MiB' || die "qemu-img info"
log "qemu-img convert into the export, then compare"
qemu-img convert -n -f raw -O raw "$work/src.raw" "$uri" || die "convert in"
qemu-img compare -f raw -F raw "$work/src.raw" "$uri" || die "compare after convert"
log "qemu-img convert out of the export"
qemu-img convert -f raw -O raw "$uri" "$work/out.raw" || die "convert out"
cmp "$work/src.raw" "$work/out.raw" || die "converted copy differs"
qemu_io_patterns -f raw "$uri"
stop_server
# What the clients saw is what is in the file.
qemu-io -f raw -c 'read -P 0x5a 0 1M' -c 'read -P 0xa5 1M 64k' -c 'read -P 0 2M 512k' \
  -c 'read -P 0x22 5M 4k' "$disk" | grep -q 'verification failed' && die "file content"

# --- TCP + TLS
certs=$work/certs
make_certs "$certs"
port=$(free_port)
# shellcheck disable=SC2046
serve "$disk" --listen "127.0.0.1:$port" $(tls_args "$certs")
obj="tls-creds-x509,id=tls0,endpoint=client,dir=$certs"
img="driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=$port,tls-creds=tls0"
log "qemu-img info (TLS)"
qemu-img info --object "$obj" --image-opts "$img" | grep -q 'virtual size: 64 MiB' || die "TLS info"
qemu_io_patterns --object "$obj" --image-opts "$img"
log "qemu-img compare (TLS)"
qemu-img compare --object "$obj" --image-opts "driver=file,filename=$disk" "$img" || die "TLS compare"
log "plain TCP client is refused on the TLS listener"
if qemu-img info "nbd://127.0.0.1:$port" >/dev/null 2>&1; then die "non-TLS client was served"; fi
log "client without a certificate is refused"
mkdir -p "$work/nocert" && cp "$certs/ca-cert.pem" "$work/nocert/"
if qemu-img info --object "tls-creds-x509,id=tls0,endpoint=client,dir=$work/nocert" \
  --image-opts "$img" >/dev/null 2>&1; then die "client without certificate was served"; fi
echo PASS
