#!/usr/bin/env python3
"""A client that never reconnects and checks every byte: over one NBD connection, writes a
block of fresh random bytes, reads it back and compares, round-robin over the first
REGION_BYTES, until STOPFILE exists. Logs "TIME ok N" or "TIME err N MESSAGE" for each round
(an error is a failed call or a read-back that differs) and, at the end, "done OK ERRORS".

usage: nbd_verifier.py URI LOG STOPFILE [REGION_BYTES]
"""
import os
import sys
import time

import nbd

BLOCK = 256 * 1024


def main():
    uri, log, stopfile = sys.argv[1], sys.argv[2], sys.argv[3]
    region = int(sys.argv[4]) if len(sys.argv) > 4 else 32 << 20
    h = nbd.NBD()
    h.connect_uri(uri)
    blocks = region // BLOCK
    ok = errors = 0
    deadline = time.monotonic() + 600  # a bound, whatever the test does
    with open(log, "w", buffering=1) as out:
        i = 0
        while not os.path.exists(stopfile) and time.monotonic() < deadline:
            data = os.urandom(BLOCK)
            off = (i % blocks) * BLOCK
            try:
                h.pwrite(data, off)
                if i % 4 == 0:
                    h.flush()
                back = h.pread(BLOCK, off)
                if back != data:
                    raise RuntimeError("read-back differs at offset %d" % off)
                ok += 1
                out.write("%.3f ok %d\n" % (time.time(), i))
            except Exception as e:  # nbd.Error or the comparison
                errors += 1
                out.write("%.3f err %d %s\n" % (time.time(), i, str(e).replace("\n", " ")))
            i += 1
            time.sleep(0.005)
        out.write("done %d %d\n" % (ok, errors))


if __name__ == "__main__":
    main()
