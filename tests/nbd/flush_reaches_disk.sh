#!/usr/bin/env bash
# A write the server acknowledged as durable (FLUSH after it, or FUA on it) is on the disk,
# not only in the page cache. The served file is on a file system on a loop device
# (VBS_NBD_BACKING=ext4-loop or xfs, see lib.sh), so the "disk" is an image file this test
# can read: at the physical place of the file's blocks (filefrag -v) it must find the
# pattern right after the acknowledgement, with the server killed -9 before the look.
#
# A negative control in the same run shows that the look can fail: a write without FLUSH is
# in the file (the page cache) but, right after its reply, not yet in the image.
source "$(dirname "$0")/lib.sh"
need_tools nbdsh filefrag python3

[ -n "$backing_img" ] ||
  die "VBS_NBD_BACKING=$backing has no disk image to read: use ext4-loop or xfs"

# The kernel writes dirty pages back by itself once they are dirty_expire_centisecs old (30
# s), checked every dirty_writeback_centisecs (5 s): far from the few milliseconds between
# the unflushed write's reply and the look at the image, but on a loaded machine the flusher
# may already be due. An hour for both while the test runs; cleanup puts the old values back.
# (CTest runs this test alone, RUN_SERIAL: no other test changes these values meanwhile, or
# syncs every file system with `sync` as some do.)
vm=/proc/sys/vm
hold=360000
old_expire=$(cat $vm/dirty_expire_centisecs)
old_writeback=$(cat $vm/dirty_writeback_centisecs)
if [ "$old_expire" = $hold ] && [ "$old_writeback" = $hold ]; then
  # A run killed before its cleanup left them so: restore the kernel's defaults instead.
  old_expire=3000 old_writeback=500
fi
restore_vm() {
  echo "$old_expire" >$vm/dirty_expire_centisecs
  echo "$old_writeback" >$vm/dirty_writeback_centisecs
}
trap 'restore_vm; cleanup' EXIT

disk=$data/disk.img
# Every block written and synced before the test: with delayed allocation an unflushed write
# to a new block may have no physical place yet (nothing to look at), and fallocate leaves
# unwritten extents. Overwrites of written blocks stay in place on ext4 and on XFS (nothing
# is shared here), so filefrag's map, taken while the file is clean, holds for the test.
# Each 4 KiB block says what and where it is, so finding it in the image proves the map.
log "16 MiB of marked blocks, fsync'ed"
python3 - "$disk" <<'PY' || die "preparing $disk"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for b in range(16 * 256):
    os.write(fd, (b"vbs-old-block-%08d;" % b) * (4096 // 23) + b"\n" * (4096 % 23))
os.fsync(fd)
os.close(fd)
PY

echo $hold >$vm/dirty_expire_centisecs
echo $hold >$vm/dirty_writeback_centisecs
sock=$work/nbd.sock
serve "$disk" --socket "$sock"
uri="nbd+unix:///?socket=$sock"

# The checks, for nbdsh (-c; `h` is the connected handle). Nothing here syncs the file
# system between a write and the look at the image: no sync, no filefrag (FIEMAP may flush),
# only reads of the file and of the image.
cat >"$work/lib.py" <<'PY'
import os, re, signal, subprocess, time
DISK, IMG, SERVER = os.environ["DISK"], os.environ["IMG"], int(os.environ["SERVER_PID"])
BAD_FLAGS = ("unknown_loc", "delalloc", "unwritten", "encoded", "inline")

def fail(msg):
    raise SystemExit("FAIL: " + msg)

def file_map():
    """filefrag -v of DISK: (block size, [(first logical, last logical, first physical)])."""
    out = subprocess.run(["filefrag", "-v", DISK], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"blocks? of (\d+) bytes", out)
    if not m:
        fail("filefrag printed no block size:\n" + out)
    bs, ext = int(m.group(1)), []
    for line in out.splitlines():
        e = re.match(r"\s*\d+:\s*(\d+)\.\.\s*(\d+):\s*(\d+)\.\.\s*(\d+):\s*\d+:(.*)", line)
        if not e:
            continue
        bad = [f for f in BAD_FLAGS if f in e.group(5)]
        if bad:
            fail(f"extent without a fixed written place ({bad}):\n{out}")
        ext.append((int(e.group(1)), int(e.group(2)), int(e.group(3))))
    if not ext:
        fail("filefrag printed no extents:\n" + out)
    return bs, ext

def image_offsets(fmap, off, length):
    """The byte offset in IMG of each file system block of DISK's [off, off+length)."""
    bs, ext = fmap
    assert off % bs == 0 and length % bs == 0
    places = []
    for lb in range(off // bs, (off + length) // bs):
        pb = [p + lb - lo for lo, hi, p in ext if lo <= lb <= hi]
        if not pb:
            fail(f"file block {lb} has no physical block")
        places.append(pb[0] * bs)
    return bs, places

def on_image(where):
    """What the disk (the loop device's image) holds at those places."""
    bs, places = where
    with open(IMG, "rb") as f:
        return b"".join(os.pread(f.fileno(), bs, p) for p in places)

def in_file(off, length):
    """What a reader of DISK sees: the page cache."""
    with open(DISK, "rb") as f:
        return os.pread(f.fileno(), length, off)

def old(off, length):
    return b"".join((b"vbs-old-block-%08d;" % b) * (4096 // 23) + b"\n" * (4096 % 23)
                    for b in range(off // 4096, (off + length) // 4096))

def pattern(tag, length):
    unit = b"<vbs %s pattern>" % tag
    return (unit * (length // len(unit) + 1))[:length]

def kill_server():
    """kill -9, and wait until it is gone (a zombie: its parent, the test, reaps it)."""
    os.kill(SERVER, signal.SIGKILL)
    for _ in range(500):
        try:
            with open(f"/proc/{SERVER}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return
        except FileNotFoundError:
            return
        time.sleep(0.01)
    fail("the server outlived kill -9")

def show(name, where):
    bs, places = where
    print(f"--- {name}: file blocks of {bs} bytes at image offsets "
          f"{places[0]}..{places[-1] + bs} ({len(places)} blocks)", flush=True)
PY

off=$((4 << 20)) len=65536
log "unflushed write (negative control), then FLUSH, kill -9, look at the image"
DISK=$disk IMG=$backing_img SERVER_PID=$server_pid OFF=$off LEN=$len nbdsh -u "$uri" -c "
exec(open('$work/lib.py').read())
off, length = int(os.environ['OFF']), int(os.environ['LEN'])
fmap = file_map()
assert h.can_flush(), 'the export does not advertise FLUSH'
# Up to three tries, each on blocks of its own: one stray write-back (a sync elsewhere on
# the machine) must not fail the test, but one try must show the write in the page cache
# and not on the disk, or the look at the disk after the FLUSH proves nothing.
for attempt in range(3):
    where = image_offsets(fmap, off, length)
    show(f'unflushed write, try {attempt + 1}', where)
    if on_image(where) != old(off, length):
        fail('the image does not hold the file block at the place filefrag gives')
    data = pattern(b'unflushed %d' % attempt, length)
    h.pwrite(data, off)
    # Right after the reply: the image first (the shorter the gap, the less can write back).
    disk_now, file_now = on_image(where), in_file(off, length)
    if file_now != data:
        fail('the acknowledged write is not even in the file')
    if disk_now == old(off, length):
        break
    print('--- the unflushed write already reached the disk' if disk_now == data else
          '--- part of the unflushed write already reached the disk', flush=True)
    off += length
else:
    fail('negative control: each unflushed write was already on the disk right after its '
         'reply, so this test cannot tell a FLUSH from none')
print('--- negative control holds: in the page cache, not yet on the disk', flush=True)
h.flush()
kill_server()
if on_image(where) != data:
    fail('FLUSH was acknowledged but the write is not on the disk (the loop image)')
print('--- after the FLUSH reply and kill -9 the write is on the disk', flush=True)
with open('$work/flushed', 'w') as f:
    f.write(f'{off} {attempt}\n')
" || die "FLUSH"
wait "$server_pid" 2>/dev/null || true
read -r off attempt <"$work/flushed"

# The map again, now that the flushed write is on the disk: the block did not move (if a
# file system relocated it, the negative control above would have looked at a stale place).
DISK=$disk IMG=$backing_img SERVER_PID=$server_pid OFF=$off LEN=$len ATTEMPT=$attempt python3 -c "
exec(open('$work/lib.py').read())
off, length = int(os.environ['OFF']), int(os.environ['LEN'])
attempt = int(os.environ['ATTEMPT'])
if on_image(image_offsets(file_map(), off, length)) != pattern(b'unflushed %d' % attempt, length):
    fail('after the FLUSH the file block is elsewhere on the disk than before it')
" || die "the flushed block moved"

off=$((8 << 20)) len=65536
log "FUA write, kill -9, look at the image"
rm -f "$sock"  # the killed server's
serve "$disk" --socket "$sock"
DISK=$disk IMG=$backing_img SERVER_PID=$server_pid OFF=$off LEN=$len nbdsh -u "$uri" -c "
exec(open('$work/lib.py').read())
off, length = int(os.environ['OFF']), int(os.environ['LEN'])
where = image_offsets(file_map(), off, length)
show('FUA write', where)
if on_image(where) != old(off, length):
    fail('the image does not hold the file block at the place filefrag gives')
assert h.can_fua(), 'the export does not advertise FUA'
data = pattern(b'FUA', length)
h.pwrite(data, off, flags=nbd.CMD_FLAG_FUA)
kill_server()
if on_image(where) != data:
    fail('a FUA write was acknowledged but is not on the disk (the loop image)')
print('--- after the FUA reply and kill -9 the write is on the disk', flush=True)
" || die "FUA"
wait "$server_pid" 2>/dev/null || true
echo PASS
