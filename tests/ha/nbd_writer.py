#!/usr/bin/env python3
"""A client that never reconnects: writes PATTERN blocks through one NBD connection until
STOPFILE exists, and logs each write's outcome with the times it was sent and answered
("SENT ANSWERED ok N" / "SENT ANSWERED err N MESSAGE").

usage: nbd_writer.py URI LOG STOPFILE PATTERN [REGION_BYTES]
Writes 64 KiB blocks round-robin over the first REGION_BYTES (default 8 MiB), each followed by
a flush, ten a second, so that a test can tell which writes the server took and when.
"""
import os
import sys
import time

import nbd

BLOCK = 64 * 1024


def main():
    uri, log, stopfile, pattern = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4], 0)
    region = int(sys.argv[5]) if len(sys.argv) > 5 else 8 << 20
    h = nbd.NBD()
    h.connect_uri(uri)
    data = bytes([pattern]) * BLOCK
    blocks = region // BLOCK
    deadline = time.monotonic() + 600  # a bound, whatever the test does
    with open(log, "w", buffering=1) as out:
        i = 0
        while not os.path.exists(stopfile) and time.monotonic() < deadline:
            sent = time.time()
            try:
                h.pwrite(data, (i % blocks) * BLOCK)
                h.flush()
                out.write("%.3f %.3f ok %d\n" % (sent, time.time(), i))
            except nbd.Error as e:
                msg = str(e).replace("\n", " ")
                out.write("%.3f %.3f err %d %s\n" % (sent, time.time(), i, msg))
            i += 1
            time.sleep(0.1)


if __name__ == "__main__":
    main()
