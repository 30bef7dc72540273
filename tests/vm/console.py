#!/usr/bin/env python3
"""Serial-console bridge for a test VM (used by tests/vm/vm.sh).

Usage: console.py SERIAL_SOCK LOG FIFO [CONNECT_TIMEOUT_S]
       console.py --listen SERIAL_SOCK LOG FIFO [CONNECT_TIMEOUT_S]

Connects to QEMU's serial chardev (a unix socket served with wait=on, so QEMU does not start
the guest before this bridge is connected and no output is lost), appends every byte the
guest prints to LOG, and forwards every byte written to FIFO to the guest. Exits 0 when QEMU
closes the socket (the VM is gone), 1 when it cannot connect in time. Nothing is interpreted
here: vm.sh frames commands and parses their output from LOG.

--listen: the bridge serves SERIAL_SOCK and QEMU connects to it (a libvirt <serial type='unix'>
with <source mode='connect'>, tests/vm/libvirt.sh): libvirt starts QEMU with a server socket
that never waits, so a bridge connecting later would miss the boot; listening first loses
nothing. The harness waits for SERIAL_SOCK to exist before it starts the domain.
"""
import errno
import os
import select
import socket
import sys
import time


def accept(sock_path, timeout):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    srv.settimeout(timeout)
    try:
        s, _ = srv.accept()
    except socket.timeout:
        print("console.py: nobody connected to %s" % sock_path, file=sys.stderr)
        return None
    finally:
        srv.close()
    s.settimeout(None)
    return s


def main():
    args = sys.argv[1:]
    listen = bool(args) and args[0] == "--listen"
    if listen:
        args = args[1:]
    sock_path, log_path, fifo_path = args[0:3]
    timeout = float(args[3]) if len(args) > 3 else 30.0
    deadline = time.monotonic() + timeout
    if listen:
        s = accept(sock_path, timeout)
        if s is None:
            return 1
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    while not listen:
        try:
            s.connect(sock_path)
            break
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ECONNREFUSED) or time.monotonic() > deadline:
                print("console.py: cannot connect to %s: %s" % (sock_path, e), file=sys.stderr)
                return 1
            time.sleep(0.02)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    # O_RDWR: the FIFO never reports EOF when a writer closes, and opening never blocks.
    fifo = os.open(fifo_path, os.O_RDWR | os.O_NONBLOCK)
    while True:
        ready, _, _ = select.select([s, fifo], [], [])
        if s in ready:
            data = s.recv(65536)
            if not data:
                return 0
            os.write(log, data)
        if fifo in ready:
            try:
                data = os.read(fifo, 65536)
            except BlockingIOError:
                data = b""
            if data:
                try:
                    s.sendall(data)
                except OSError:
                    return 0


if __name__ == "__main__":
    sys.exit(main())
