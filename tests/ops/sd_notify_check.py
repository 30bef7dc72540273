#!/usr/bin/python3
"""Stands in for systemd's notify socket (Type=notify, WatchdogSec) around a vbsd process.

  sd_notify_check.py WORKDIR PROBE_SCRIPT -- VBSD ARGS...

Binds WORKDIR/notify.sock, starts VBSD ARGS with NOTIFY_SOCKET and WATCHDOG_USEC set, and
checks what a systemd unit relies on:
  - READY=1 comes, and the moment it comes the service answers: PROBE_SCRIPT (a shell command
    that must exit 0: an API call, or a connect to the NBD socket) is run once, with no retry;
  - WATCHDOG=1 arrives again and again, never more than the watchdog interval apart;
  - with --reexec: SIGUSR2 gives RELOADING=1 and then READY=1 again from the same PID, and the
    probe passes again;
  - SIGTERM gives STOPPING=1 and a clean exit 0.
Prints one "ok: ..." line per check and exits non-zero at the first failure.
"""
import os
import signal
import socket
import subprocess
import sys
import time

WATCHDOG_USEC = 2_000_000


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def main():
    args = sys.argv[1:]
    reexec = False
    if args and args[0] == "--reexec":
        reexec = True
        args = args[1:]
    if len(args) < 4 or args[2] != "--":
        fail("usage: sd_notify_check.py [--reexec] WORKDIR PROBE -- CMD...")
    workdir, probe, cmd = args[0], args[1], args[3:]
    path = os.path.join(workdir, "notify.sock")
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o777)  # the service may run as another user (scripts/package.sh: vbs)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(WATCHDOG_USEC))
    env.pop("WATCHDOG_PID", None)
    log = open(os.path.join(workdir, "vbsd.log"), "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    messages = []  # (monotonic time, message)

    def receive(until, want=None):
        """Collects messages until `until` (monotonic) or one containing `want`."""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            try:
                data = sock.recv(4096).decode()
            except socket.timeout:
                return None
            messages.append((time.monotonic(), data))
            if want is not None and want in data.split("\n"):
                return data
            if proc.poll() is not None and want != "STOPPING=1":
                fail("vbsd exited with %s before %s; log: %s" % (proc.returncode, want, tail()))

    def tail():
        log.flush()
        with open(os.path.join(workdir, "vbsd.log"), "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def expect_ready(what):
        got = receive(time.monotonic() + 90, "READY=1")
        if got is None:
            fail("no READY=1 within 90 s (%s); log: %s" % (what, tail()))
        rc = subprocess.run(["bash", "-c", probe]).returncode
        if rc != 0:
            fail("READY=1 came (%s) but the probe failed at once (exit %d)" % (what, rc))
        print("ok: READY=1 (%s), and the service answered the probe at that moment: %r"
              % (what, got.replace("\n", " | ")), flush=True)

    try:
        expect_ready("start")
        # The watchdog: pings keep coming, never further apart than the interval.
        start = time.monotonic()
        receive(start + 3 * WATCHDOG_USEC / 1e6)
        pings = [t for (t, m) in messages if t >= start and "WATCHDOG=1" in m.split("\n")]
        if len(pings) < 3:
            fail("%d WATCHDOG=1 in %.0f s (interval %.0f s)" % (len(pings), 3 * WATCHDOG_USEC / 1e6,
                                                             WATCHDOG_USEC / 1e6))
        gaps = [b - a for a, b in zip([start] + pings, pings)]
        if max(gaps) > WATCHDOG_USEC / 1e6:
            fail("WATCHDOG=1 gaps %s exceed the interval" % ["%.2f" % g for g in gaps])
        print("ok: %d WATCHDOG=1 in %.0f s, largest gap %.2f s (WatchdogSec %.0f s)"
              % (len(pings), 3 * WATCHDOG_USEC / 1e6, max(gaps), WATCHDOG_USEC / 1e6), flush=True)

        if reexec:
            pid = proc.pid
            proc.send_signal(signal.SIGUSR2)
            if receive(time.monotonic() + 60, "RELOADING=1") is None:
                fail("no RELOADING=1 after SIGUSR2; log: %s" % tail())
            expect_ready("after SIGUSR2, re-executed")
            if proc.poll() is not None or proc.pid != pid:
                fail("the process changed across the re-execution")
            print("ok: SIGUSR2: RELOADING=1, then READY=1 from the same PID %d" % pid, flush=True)

        proc.send_signal(signal.SIGTERM)
        if receive(time.monotonic() + 60, "STOPPING=1") is None:
            fail("no STOPPING=1 after SIGTERM; log: %s" % tail())
        rc = proc.wait(timeout=60)
        if rc != 0:
            fail("exit %d after SIGTERM; log: %s" % (rc, tail()))
        print("ok: SIGTERM: STOPPING=1 and exit 0", flush=True)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
