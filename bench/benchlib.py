"""Shared pieces of the benchmarks under bench/ (nbd, rbd, vbsfs); not a program of its own.

- log, run, wait_for, free_port, port_open, pids_matching, kill_pids, spawn, stop_proc:
  running and stopping what a benchmark starts.
- Cleanup: a stack of undo steps that runs at the end, also after an exception, Ctrl-C,
  SIGTERM or SIGHUP (handle_signals() turns the latter two into SystemExit).
- WORKLOADS, fio(), value(): the fio cells the data path benchmarks share.
- Ceph: a throw-away single-host cluster (tests/ceph/micro-ceph.sh), optionally with an MDS,
  a CephFS and ceph-fuse mounts.
- VbsDev: `vbsd dev` serving RBD volumes of such a cluster, driven with the `vbs` CLI.

The scripts import it with sys.path set to their own directory (bench/).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICRO_CEPH = os.path.join(REPO, "tests", "ceph", "micro-ceph.sh")

WORKLOADS = [  # name, fio rw, bs, iodepth, unit
    ("4k randread qd32", "randread", "4k", 32, "kIOPS"),
    ("4k randwrite qd32", "randwrite", "4k", 32, "kIOPS"),
    ("1M seqread qd8", "read", "1M", 8, "MiB/s"),
    ("1M seqwrite qd8", "write", "1M", 8, "MiB/s"),
]


def log(*a):
    print(time.strftime("[%H:%M:%S]"), *a, file=sys.stderr, flush=True)


def run(cmd, check=True, timeout=1800, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {r.returncode}: "
                           f"{r.stderr.strip()[-2000:]}")
    return r


def wait_for(check, what, timeout=120, proc=None, daemonizes=False):
    """Polls check() (an exception counts as not yet) until it holds. With proc: fails as soon
    as that process exits (exit 0 is fine for one that daemonizes)."""
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None and not (
                daemonizes and proc.returncode == 0):
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not happen in {timeout}s")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def pids_matching(pred):
    """Pids whose command line (args joined by spaces) and owner uid satisfy pred(cmd, uid)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            st = os.stat(f"/proc/{d}")
        except OSError:
            continue
        if pred(cmd, st.st_uid):
            out.append(int(d))
    return out


def kill_pids(pids, sig=signal.SIGTERM, wait=10):
    """Sends sig, waits up to `wait` seconds for them to go, then SIGKILLs what is left."""
    for p in pids:
        try:
            os.kill(p, sig)
        except OSError:
            pass
    end = time.time() + wait
    while time.time() < end and any(os.path.exists(f"/proc/{p}") for p in pids):
        time.sleep(0.1)
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def spawn(cmd, log_path, env=None, out_path=None):
    """Starts a long-running child in its own session (Ctrl-C reaches this script, which stops
    it in order) that dies with this script should the script be SIGKILLed. Its stderr, and
    its stdout unless out_path is given, go to log_path."""
    with open(log_path, "a") as err, open(out_path or os.devnull, "a") as out:
        return subprocess.Popen(["setpriv", "--pdeathsig", "KILL", "--", *cmd],
                                stdout=out if out_path else err, stderr=err,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def stop_proc(p, timeout=30):
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def handle_signals():
    """SIGTERM and SIGHUP end the script like Ctrl-C does: through its finally blocks. Ctrl-C
    works also when the script was started in the background (where SIGINT is ignored)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, lambda n, _f: sys.exit(128 + n))


class Cleanup:
    """Undo steps, run last-in first-out by run_all() (from a finally block), or one of them
    earlier by now(token). A failing step is logged and the others still run."""

    def __init__(self):
        self.steps = []

    def add(self, fn, what):
        token = object()
        self.steps.append((token, fn, what))
        return token

    def now(self, token):
        for i, (t, fn, what) in enumerate(self.steps):
            if t is token:
                del self.steps[i]
                self._do(fn, what)
                return

    def run_all(self):
        # A second Ctrl-C while undoing would leave things behind: ignore it until done.
        old = {s: signal.signal(s, signal.SIG_IGN)
               for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            while self.steps:
                _, fn, what = self.steps.pop()
                self._do(fn, what)
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    @staticmethod
    def _do(fn, what):
        try:
            fn()
        except Exception as e:
            log(f"cleanup: {what}: {e}")


def mounted(mp):
    """From the mount table, not by stat: a FUSE mount whose daemon hangs would hang a stat."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == mp for line in f)


def umount(mp, timeout=60):
    """Unmounts mp (lazily if it is busy). -c: no stat of the path, which would wait on a
    hanging FUSE daemon."""
    for lazy in ([], ["-l"]):
        if not mounted(mp):
            return True
        try:
            if run(["umount", "-c", *lazy, mp], check=False, timeout=timeout).returncode == 0:
                return True
        except subprocess.TimeoutExpired:
            pass
    return not mounted(mp)


def machine():
    """'N cores, M GiB RAM, kernel K' of this machine."""
    mem = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 30
    return f"{os.cpu_count()} cores, {mem} GiB RAM, kernel {os.uname().release}"


def load_line(load0):
    """The load average at the start (load0 = os.getloadavg() then) and now, for a results
    file: the machine is shared, and a loaded one gives low and noisy cells."""
    load1 = os.getloadavg()
    return (f"Load average (1/5/15 min) at the start {load0[0]:.1f}/{load0[1]:.1f}/"
            f"{load0[2]:.1f}, at the end {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}.")


# --- fio ---------------------------------------------------------------------------------------
def fio_job(args, runtime, size, rw, bs, depth, jobs=1, env=None, ramp=1):
    """One time-based fio run of RUNTIME seconds after RAMP seconds (floats are fine); returns
    fio's JSON for the jobs (group-reported: one) and the direction RW measured."""
    cmd = ["fio", "--name=b", f"--rw={rw}", f"--bs={bs}", f"--iodepth={depth}",
           f"--numjobs={jobs}", "--time_based", f"--runtime={round(runtime * 1000)}ms",
           f"--ramp_time={round(ramp * 1000)}ms",
           f"--size={size}", "--group_reporting", "--output-format=json", "--norandommap",
           "--randrepeat=0"] + args
    out = run(cmd, env=env, timeout=runtime + ramp + 120).stdout
    j = json.loads(out[out.index("{"):])["jobs"][0]
    return j, (j["read"] if rw in ("read", "randread") else j["write"])


def fio(args, runtime, size, rw, bs, depth, jobs=1, env=None, ramp=1):
    """fio_job's run; returns (IOPS, bytes/s) summed over the jobs and fio's own CPU use
    (usr+sys, % of one core per job)."""
    j, d = fio_job(args, runtime, size, rw, bs, depth, jobs, env, ramp)
    return d["iops"], d["bw_bytes"], j["usr_cpu"] + j["sys_cpu"]


def value(unit, iops, bw):
    return iops / 1000 if unit == "kIOPS" else bw / 2**20


def fio_rbd_args(pool, image, cache=True):
    """fio's rbd engine on POOL/IMAGE as client.admin (CEPH_CONF in the environment).
    cache=True: fio flushes once at open, which turns librbd's cache to write-back, so writes
    are acknowledged from the cache. cache=False (--direct=1: fio sets rbd_cache=false):
    writes are acknowledged once the OSD has them, as an NBD server's librbd does until its
    client's first flush (rbd_cache_writethrough_until_flush)."""
    return (["--ioengine=rbd", "--clientname=admin", f"--pool={pool}", f"--rbdname={image}"] +
            ([] if cache else ["--direct=1"]))


# --- Ceph --------------------------------------------------------------------------------------
class Ceph:
    """A single-host cluster started by tests/ceph/micro-ceph.sh in DIR (one OSD, cephx, an RBD
    pool), optionally with an MDS and a CephFS (micro-ceph.sh makes none) mounted with
    ceph-fuse. stop() undoes all of it, also after a start that failed half way."""

    def __init__(self, dir):
        self.dir = dir
        self.conf = os.path.join(dir, "ceph.conf")
        self.pool = None
        self.mounts = []

    def start(self, objectstore="memstore", memstore_bytes=None):
        env = dict(os.environ, OBJECTSTORE=objectstore)
        if memstore_bytes:
            env["MEMSTORE_BYTES"] = str(memstore_bytes)
        out = run([MICRO_CEPH, "start", self.dir], env=env, timeout=300).stdout
        cfg = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
        self.pool = cfg["CEPH_POOL"]
        return self

    def env(self):
        return dict(os.environ, CEPH_CONF=self.conf)

    def ceph(self, *args, timeout=60):
        return run(["timeout", str(timeout), "ceph", "--conf", self.conf, "--connect-timeout",
                    "20", *args], timeout=timeout + 10).stdout

    def add_rbd_pool(self, name):
        self.ceph("osd", "pool", "create", name, "8")
        run(["timeout", "60", "rbd", "--conf", self.conf, "pool", "init", name])
        return name

    def start_cephfs(self):
        """An MDS of our own (its data and keyring in DIR/mds.a), two pools and a CephFS;
        client.admin gets the mds caps ceph-fuse needs."""
        mdsd = os.path.join(self.dir, "mds.a")
        os.makedirs(mdsd, exist_ok=True)
        self.ceph("auth", "get-or-create", "mds.a", "mon", "allow profile mds", "osd",
                  "allow rwx", "mds", "allow *", "mgr", "allow profile mds", "-o",
                  os.path.join(mdsd, "keyring"))
        self.ceph("auth", "caps", "client.admin", "mon", "allow *", "osd", "allow *", "mgr",
                  "allow *", "mds", "allow *")
        self.ceph("osd", "pool", "create", "cephfs_meta", "8")
        self.ceph("osd", "pool", "create", "cephfs_data", "8")
        self.ceph("fs", "new", "cephfs", "cephfs_meta", "cephfs_data")
        # Daemons in sessions of their own: a Ctrl-C for the benchmark must not stop them
        # before the benchmark has unmounted what depends on them.
        run(["ceph-mds", "--conf", self.conf, "-i", "a", "--mds-data", mdsd, "--keyring",
             os.path.join(mdsd, "keyring")], start_new_session=True)
        wait_for(lambda: "up:active" in self.ceph("mds", "stat"), "the MDS going active")

    def mount(self, mp):
        os.makedirs(mp, exist_ok=True)
        self.mounts.append(mp)
        run(["timeout", "60", "ceph-fuse", "--conf", self.conf, "-n", "client.admin", mp],
            start_new_session=True)
        wait_for(lambda: mounted(mp), "ceph-fuse mount")

    def fuse_pids(self, mp=None):
        return pids_matching(lambda c, u: c.startswith("ceph-fuse") and self.conf in c and
                             (mp is None or mp in c.split()))

    def umount(self, mp):
        """Unmounts and waits for that ceph-fuse to exit, so that a remount is a fresh client;
        one that does not exit (say, its MDS is gone) is killed."""
        if not umount(mp):
            raise RuntimeError(f"could not unmount {mp}")
        if mp in self.mounts:
            self.mounts.remove(mp)
        try:
            wait_for(lambda: not self.fuse_pids(mp), "ceph-fuse exit", 30)
        except RuntimeError:
            kill_pids(self.fuse_pids(mp), wait=5)

    def stop(self):
        for mp in reversed(self.mounts):
            if not umount(mp):  # a ceph-fuse that hangs: kill it, then the mount can go
                kill_pids(self.fuse_pids(mp), signal.SIGKILL, 5)
                umount(mp)
        self.mounts = []
        kill_pids(self.fuse_pids())
        # The MDS: SIGKILL. On SIGTERM it shuts down, is blocklisted and respawns itself (a
        # fresh daemon with a new pid); its data is throw-away anyway. Found by our ceph.conf
        # in its command line (unique to this cluster's directory).
        for _ in range(3):
            kill_pids(pids_matching(lambda c, u: c.startswith("ceph-mds") and self.conf in c),
                      signal.SIGKILL, 5)
        run([MICRO_CEPH, "stop", self.dir], check=False, timeout=120)


# --- VBS on RBD --------------------------------------------------------------------------------
class VbsDev:
    """`vbsd dev` (API, agent and NBD server in one process) with its volumes in an RBD pool,
    driven with the `vbs` CLI; volumes are attached to the node itself (host-local), which
    gives an NBD unix socket URI."""

    def __init__(self, vbsd, vbs, data_dir, ceph, pool):
        self.vbsd, self.vbs_bin, self.data = vbsd, vbs, data_dir
        self.ceph, self.pool = ceph, pool
        self.proc = None
        self.venv = None

    def start(self):
        os.makedirs(os.path.dirname(self.data), exist_ok=True)
        self.proc = spawn([self.vbsd, "dev", "--data-dir", self.data, "--listen", "127.0.0.1:0",
                           "--rbd-pool", self.pool, "--ceph-conf", self.ceph.conf,
                           "--pool-capacity", "1T"], self.data + ".log")
        envf = os.path.join(self.data, "vbs.env")
        wait_for(lambda: os.path.exists(envf), "vbsd dev start", 60, proc=self.proc)
        venv = dict(os.environ)
        for line in open(envf):
            if line.startswith("export VBS_"):
                k, v = line[len("export "):].strip().split("=", 1)
                venv[k] = v
        self.venv = venv
        wait_for(lambda: run([self.vbs_bin, "volume", "list"], check=False, env=venv,
                             timeout=30).returncode == 0, "the API of vbsd dev", 60,
                 proc=self.proc)
        return self

    def vbs(self, *args):
        r = run([self.vbs_bin, "-o", "json", *args], check=False, env=self.venv, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"vbs {' '.join(args)}: {r.stderr.strip()}")
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def create_volume(self, size_mib, fill=True):
        """A volume of SIZE_MIB, written once in full through librbd (so that every read hits
        a real object); returns its id (= the RBD image's name)."""
        vol = self.vbs("volume", "create", "--size", f"{size_mib}M", "--wait")["id"]
        if fill:
            run(["fio", "--name=fill", "--rw=write", "--bs=4M", "--iodepth=8",
                 f"--size={size_mib}M", "--output=/dev/null"] +
                fio_rbd_args(self.pool, vol), env=self.ceph.env())
        return vol

    def attach(self, vol):
        return self.vbs("attach", vol, "host-local", "--wait")["nbd_uri"]

    def detach(self, vol):
        self.vbs("detach", vol, "--wait")

    def stop(self):
        stop_proc(self.proc)
        self.proc = None
