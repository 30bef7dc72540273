#!/usr/bin/env bash
# build-guest.sh — the test guest for tests/vm: Debian's cloud kernel (downloaded with
# `apt-get download`, unpacked with dpkg-deb, never installed into the host's /boot) and a busybox
# initramfs whose init loads the virtio modules, mounts proc/sys/dev and runs a shell on the
# serial console (ttyS0).
#
# Usage: build-guest.sh            (prints KERNEL=… and INITRD=… on stdout)
# Env:   VM_GUEST_DIR  cache directory (default: tests/work/guest in the repository)
#        KERNEL_PKG    kernel package name (default: what linux-image-cloud-amd64 depends on)
# Idempotent: a complete cache is reused; the initramfs is rebuilt only when this script or
# the kernel changed. Missing host packages are installed (scripts/install-deps.sh vm): a
# missing tool is a failure, never a skip.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${VM_GUEST_DIR:-$repo/tests/work/guest}
log() { echo "[build-guest] $*" >&2; }
die() { echo "build-guest: FAIL: $*" >&2; exit 1; }

"$repo/scripts/install-deps.sh" vm
for t in apt-get apt-cache dpkg-deb cpio gzip; do
  command -v "$t" >/dev/null || die "$t missing after install-deps"
done
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || die "no busybox at $busybox (package busybox-static)"
# A dynamically linked busybox would need its libraries inside the initramfs.
if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is not statically linked (busybox-static)"; fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9  # two test runs building the same cache at once would corrupt it

# ---- kernel package
kpkg=${KERNEL_PKG:-}
if [ -z "$kpkg" ]; then
  kpkg=$(ls "$dir"/deb/linux-image-*-cloud-amd64_*.deb 2>/dev/null | grep -v unsigned |
         head -1 | xargs -r -n1 basename | cut -d_ -f1 || true)
fi
if [ -z "$kpkg" ]; then
  kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
         awk '/Depends: linux-image-/{print $2; exit}')
  if [ -z "$kpkg" ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
           awk '/Depends: linux-image-/{print $2; exit}')
  fi
  [ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 to a kernel package"
fi
mkdir -p "$dir/deb"
deb=$(ls "$dir"/deb/"$kpkg"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  log "downloading $kpkg"
  (cd "$dir/deb" && timeout 600 apt-get download "$kpkg" >&2) || die "apt-get download $kpkg failed"
  deb=$(ls "$dir"/deb/"$kpkg"_*.deb | head -1)
fi

# ---- unpack only what the guest needs (vmlinuz, modules.builtin, the virtio drivers)
kx="$dir/kernel"
if ! [ -f "$kx/.complete" ] || [ "$(cat "$kx/.complete")" != "$(basename "$deb")" ]; then
  log "unpacking $(basename "$deb")"
  rm -rf "$kx" && mkdir -p "$kx"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kx" --wildcards \
    './boot/vmlinuz-*' './lib/modules/*/modules.builtin' \
    './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/virtio_blk.ko*' \
    || die "unpacking $deb failed"
  basename "$deb" >"$kx/.complete"
fi
kernel=$(ls "$kx"/boot/vmlinuz-* | head -1)
kmod=$(ls -d "$kx"/lib/modules/* | head -1)
[ -r "$kernel" ] && [ -d "$kmod" ] || die "kernel unpack incomplete in $kx"

# ---- initramfs, rebuilt when its inputs change
initrd="$dir/initramfs.cpio.gz"
stamp=$(cat "$0" "$busybox" "$kx/.complete" | sha256sum | cut -c1-16)
if [ -f "$initrd" ] && [ "$(cat "$dir/initramfs.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "KERNEL=$kernel"; echo "INITRD=$initrd"; exit 0
fi
r=$(mktemp -d)
trap 'rm -rf "$r"' EXIT
mkdir -p "$r"/{bin,dev,proc,sys,tmp,mnt,lib/modules}
cp "$busybox" "$r/bin/busybox"
# Load order = dependency order (the modules' .modinfo depends= fields). A module may also be
# built in (modules.builtin), then there is nothing to load.
mods="virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev virtio/virtio_pci_modern_dev
      virtio/virtio_pci block/virtio_blk"
: >"$r/lib/modules/order"
for m in $mods; do
  f=$(ls "$kmod/kernel/drivers/$m".ko* 2>/dev/null | head -1 || true)
  if [ -n "$f" ]; then
    case "$f" in
      *.ko) cp "$f" "$r/lib/modules/" ;;
      *.ko.xz) xz -dc "$f" >"$r/lib/modules/$(basename "$m").ko" ;;
      *) die "unsupported module compression: $f" ;;
    esac
    echo "$(basename "$m").ko" >>"$r/lib/modules/order"
  elif ! grep -qx "kernel/drivers/$m.ko" "$kmod/modules.builtin"; then
    die "module $m is neither in $kmod nor built in"
  fi
done
cat >"$r/init" <<'INIT'
#!/bin/busybox sh
# Test guest init: virtio modules, proc/sys/dev, then a shell on the serial console forever.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m || echo "VBS-INSMOD-FAIL $m"; done
echo 1 >/proc/sys/kernel/printk  # keep kernel chatter off the command channel
stty -echo -onlcr 2>/dev/null    # the harness reads output verbatim; input is never echoed
export PS1='' PS2=''
echo "VBS-GUEST-READY"
# setsid+cttyhack give the shell ttyS0 as controlling terminal, so ^C from the harness
# interrupts a hung command instead of killing nothing.
while true; do setsid cttyhack sh; stty -echo -onlcr 2>/dev/null; echo "VBS-SHELL-RESTART"; done
INIT
chmod +x "$r/init"
(cd "$r" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$initrd.tmp"
mv "$initrd.tmp" "$initrd"
echo "$stamp" >"$dir/initramfs.stamp"
log "built $initrd ($(stat -c %s "$initrd") bytes) for $(basename "$kmod")"
echo "KERNEL=$kernel"
echo "INITRD=$initrd"
