"""Malformed and hostile NBD traffic against a running server (path of its unix socket).

Every case must end in the spec's error reply or a clean disconnect of that client only;
a well-behaved connection opened first must keep working, and its data must be intact.
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time

SOCK = sys.argv[1]
N_CONNS = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
IHAVEOPT = 0x49484156454F5054
REQ = 0x25609513


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(SOCK)
    return s


def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return b
        b += c
    return b


def opt(o, data=b""):
    return struct.pack(">QII", IHAVEOPT, o, len(data)) + data


def go(s, name=b""):
    recvn(s, 18)
    s.sendall(struct.pack(">I", 3) + opt(7, struct.pack(">I", len(name)) + name + b"\0\0"))
    while True:
        h = recvn(s, 20)
        assert len(h) == 20, "handshake cut"
        _, o, typ, ln = struct.unpack(">QIII", h)
        recvn(s, ln)
        if typ == 1:
            return
        assert typ == 3, "GO refused: %x" % typ


def req(t, handle, off, ln, flags=0, payload=b""):
    return struct.pack(">IHHQQI", REQ, flags, t, handle, off, ln) + payload


def simple_reply(s):
    h = recvn(s, 16)
    assert len(h) == 16, "no reply"
    magic, err, handle = struct.unpack(">IIQ", h)
    assert magic == 0x67446698, hex(magic)
    return err, handle


def at_eof(s):
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return True


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


good = connect()
go(good)
good.sendall(req(1, 1, 0, 4096, 0, b"\x5a" * 4096))
check(simple_reply(good) == (0, 1), "good client writes")

# Handshake abuse.
s = connect(); recvn(s, 18); s.sendall(struct.pack(">I", 0x80)); check(at_eof(s), "unknown client flags -> disconnect")
s = connect(); recvn(s, 18); s.sendall(struct.pack(">I", 3) + b"\x00" * 16); check(at_eof(s), "bad option magic -> disconnect")
s = connect(); recvn(s, 18); s.sendall(struct.pack(">I", 3) + opt(0xdead, b"xyz"))
h = recvn(s, 20); recvn(s, struct.unpack(">QIII", h)[3])
check(struct.unpack(">QIII", h)[2] == 0x80000001, "unknown option -> NBD_REP_ERR_UNSUP")
s.sendall(opt(1, b"no-such-export")); check(at_eof(s), "EXPORT_NAME of unknown export -> disconnect")
s = connect(); recvn(s, 18); s.sendall(struct.pack(">I", 3) + struct.pack(">QII", IHAVEOPT, 7, 0xFFFFFFF0) + b"x" * 1000)
s.close(); print("ok: huge option then vanish")

# Transmission abuse.
s = connect(); go(s)
s.sendall(req(0, 2, 0, 64 << 20)); check(simple_reply(s) == (22, 2), "read over max payload -> EINVAL")
s.sendall(req(0, 3, 1 << 40, 512)); check(simple_reply(s) == (22, 3), "read past end -> EINVAL")
s.sendall(req(1, 4, (64 << 20) - 10, 20, 0, b"y" * 20)); check(simple_reply(s) == (28, 4), "write across end -> ENOSPC")
s.sendall(req(0, 5, 2**64 - 100, 512)); check(simple_reply(s) == (22, 5), "offset overflow -> EINVAL")
s.sendall(req(42, 6, 0, 0)); check(simple_reply(s) == (22, 6), "unknown command -> EINVAL")
s.sendall(req(3, 7, 0, 0, 0x4000)); check(simple_reply(s) == (22, 7), "unknown flag -> EINVAL")
s.sendall(req(7, 8, 0, 4096)); check(simple_reply(s) == (22, 8), "BLOCK_STATUS without context -> EINVAL")
s.sendall(b"\x11" * 28); check(at_eof(s), "bad request magic -> disconnect")
s = connect(); go(s); s.sendall(req(1, 9, 0, 48 << 20)); check(at_eof(s), "write over max payload -> disconnect")
s = connect(); go(s); s.sendall(req(0, 10, 0, 4096)[:13]); s.close(); print("ok: half header then vanish")
s = connect(); go(s); s.sendall(req(1, 11, 0, 1 << 20) + b"z" * 5000); s.close(); print("ok: half payload then vanish")
s = connect(); go(s)
s.sendall(b"".join(req(0, i, 0, 1 << 20) for i in range(200))); s.close(); print("ok: 200 MiB of reads requested, never read")

# Thousands of connections at once in transmission.
conns = []
for i in range(N_CONNS):
    c = connect()
    go(c)
    conns.append(c)
print("ok: %d connections open" % len(conns))
for i, c in enumerate(conns):
    c.sendall(req(0, i, 0, 512))
for i, c in enumerate(conns):
    err, h = simple_reply(c)
    assert err == 0 and h == i
    recvn(c, 512)
check(True, "every transmitting connection got its reply")
for c in conns:
    c.close()


# Clients that never finish the handshake hold a slot each until the deadline: one uid gets
# at most its share (64) and the rest are closed at once, while another uid still gets in.
def handshake_as(uid):
    """Forks a child that drops to `uid`, connects, negotiates and reads; True if served."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid); os.setuid(uid)
            c = connect(); go(c)
            c.sendall(req(0, 1, 0, 4096))
            os._exit(0 if simple_reply(c) == (0, 1) and len(recvn(c, 4096)) == 4096 else 1)
        except Exception:
            os._exit(2)
    return os.waitpid(pid, 0)[1] == 0


idle = []
for i in range(300):
    c = connect()
    recvn(c, 18)
    idle.append(c)
held = 0
for c in idle:
    c.settimeout(0.5)
    try:
        if c.recv(1) != b"":
            held += 1  # (no byte comes before an option: a timeout means held)
    except socket.timeout:
        held += 1
    except ConnectionResetError:
        pass
check(1 <= held <= 64, "300 idle handshakes of one uid: %d held, the rest closed at once" % held)
check(handshake_as(65534), "another uid is served while one uid holds its handshake slots")
for c in idle:
    c.close()

# Many threads hammering concurrently while the good client still works.
def hammer(k):
    c = connect(); go(c)
    for j in range(50):
        c.sendall(req(1, j, (k + 1) * (1 << 20) + j * 4096, 4096, 1 if j % 10 == 0 else 0, bytes([k]) * 4096))
    for j in range(50):
        assert simple_reply(c)[0] == 0
    c.close()

ts = [threading.Thread(target=hammer, args=(k,)) for k in range(16)]
[t.start() for t in ts]; [t.join() for t in ts]
good.sendall(req(0, 99, 0, 4096))
err, h = simple_reply(good)
check(err == 0 and recvn(good, 4096) == b"\x5a" * 4096, "good client still served, data intact")


# Memory: hogs ask for far more than the server may hold (thousands of 32 MiB READs, a WRITE
# header whose payload never comes) and never read a reply. Backpressure must keep the
# server's RSS under its bound while a qemu-io read on another connection is answered.
SERVER_PID = int(os.environ["SERVER_PID"])
RSS_GROWTH_MIB = int(os.environ["RSS_GROWTH_MIB"])


def rss_mib():
    with open("/proc/%d/status" % SERVER_PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


before = rss_mib()
hogs = []
for k in range(4):
    c = connect(); go(c)
    c.setblocking(False)
    burst = b"".join(req(0, i, (i % 2) * (32 << 20), 32 << 20) for i in range(2000))
    try:
        c.sendall(burst)  # 64 KiB of headers asking for 62 GiB of replies
    except BlockingIOError:
        pass  # the server stopped reading: backpressure already
    hogs.append(c)
w = connect(); go(w); w.sendall(req(1, 1, 0, 32 << 20)); hogs.append(w)
peak = before
t_end = time.time() + 3
while time.time() < t_end:
    peak = max(peak, rss_mib())
    time.sleep(0.05)
t0 = time.time()
out = subprocess.run(["qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 4k",
                      "nbd+unix:///?socket=" + SOCK], capture_output=True, text=True)
took = time.time() - t0
peak = max(peak, rss_mib())
print("memory: RSS %d MiB before, %d MiB at most with the hogs (growth bound %d MiB); "
      "qemu-io answered in %.3f s" % (before, peak, RSS_GROWTH_MIB, took))
check("read 4096/4096" in out.stdout and "verification" not in out.stdout,
      "qemu-io read on another connection while hogs hold their budget")
check(took < 3, "that read waited no longer than a few seconds (%.3f s)" % took)
check(peak - before < RSS_GROWTH_MIB,
      "server RSS grew by %d MiB, under %d MiB" % (peak - before, RSS_GROWTH_MIB))
for c in hogs:
    c.close()
