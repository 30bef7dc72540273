#!/usr/bin/env python3
"""A TCP forwarder for partition tests: LISTEN_PORT on 127.0.0.1 -> TARGET_HOST:TARGET_PORT.
Prints "listening" once it accepts. Killing the process cuts every forwarded connection at
once (the partition); starting it again on the same port heals it.

usage: tcp_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT
"""
import socket
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    port, host, target = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    print("listening", flush=True)
    while True:
        client, _ = ls.accept()
        try:
            upstream = socket.create_connection((host, target), timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    main()
