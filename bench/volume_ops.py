#!/usr/bin/env python3
"""Volume creation and snapshot times of VBS's dir backend, against the original system's
methods (dd to create, cp --sparse=always to snapshot) in the same run, on one file system.

Usage: volume_ops.py --vbsd PATH --work DIR --label NAME  (DIR on the file system to measure)
Prints one markdown table row per measurement on stdout.
"""
import argparse, http.client, json, os, signal, ssl, subprocess, sys, time

def start_vbsd(vbsd, data):
    env = dict(os.environ)
    proc = subprocess.Popen([vbsd, "dev", "--data-dir", data, "--listen", "127.0.0.1:0",
                             "--pool-capacity", "4T"], stdout=subprocess.PIPE,
                            stderr=open(os.path.join(data + ".log"), "w"), env=env)
    envfile = os.path.join(data, "vbs.env")
    for _ in range(600):
        if os.path.exists(envfile):
            break
        time.sleep(0.05)
    vals = {}
    for line in open(envfile):
        k, _, v = line.strip().removeprefix("export ").partition("=")
        vals[k] = v
    return proc, vals

class Api:
    def __init__(self, env):
        host, port = env["VBS_ENDPOINT"].removeprefix("https://").rsplit(":", 1)
        ctx = ssl.create_default_context(cafile=env["VBS_CA"])
        ctx.load_cert_chain(env["VBS_CERT"], env["VBS_KEY"])
        self.conn = http.client.HTTPSConnection(host, int(port), context=ctx)

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        r = self.conn.getresponse()
        data = json.loads(r.read())
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {data}")
        return data

    def wait(self, path, done):
        while True:
            obj = self.call("GET", path)
            if obj["state"] in done:
                return obj
            if obj["state"] == "error":
                raise RuntimeError(f"{path}: {obj}")
            time.sleep(0.002)

def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t

def write_data(path, total_mib, chunk_mib=64):
    """Writes total_mib of random data spread over the file (holes between chunks)."""
    size = os.path.getsize(path)
    chunks = total_mib // chunk_mib
    stride = size // chunks
    block = os.urandom(chunk_mib << 20)
    with open(path, "r+b") as f:
        for i in range(chunks):
            f.seek(i * stride)
            f.write(block)
        f.flush()
        os.fsync(f.fileno())

def fmt(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vbsd", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--label", required=True)
    a = ap.parse_args()
    data = os.path.join(a.work, "vbs")
    proc, env = start_vbsd(a.vbsd, data)
    rows = []
    try:
        api = Api(env)
        for _ in range(300):  # the agent registers its pool right after start
            try:
                if api.call("GET", "/v1/pools")["pools"]:
                    break
            except Exception:
                pass
            time.sleep(0.05)
        for label, size in (("1 MiB", "1M"), ("1 GiB", "1G"), ("1 TiB", "1T")):
            def create():
                v = api.call("POST", "/v1/volumes", {"size": size})
                api.wait(f"/v1/volumes/{v['id']}", ("available",))
            vbs_t = timed(create)
            dd_t = None
            if size != "1T":  # the original system's create: write the whole file with dd
                target = os.path.join(a.work, "dd.img")
                count = 1 if size == "1M" else 1024
                dd_t = timed(lambda: subprocess.run(
                    ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={count}",
                     "conv=fsync", "status=none"], check=True))
                os.unlink(target)
            rows.append((a.label, f"create {label} volume → available", fmt(vbs_t),
                         "dd: " + (fmt(dd_t) if dd_t is not None else "n/a (would write 1 TiB)")))
        v = api.call("POST", "/v1/volumes", {"size": "4G"})
        api.wait(f"/v1/volumes/{v['id']}", ("available",))
        vol_file = os.path.join(data, "pools/default/volumes", v["id"] + ".img")
        write_data(vol_file, 1024)
        subprocess.run(["sync"], check=True)
        def snap():
            s = api.call("POST", "/v1/snapshots", {"volume_id": v["id"]})
            api.wait(f"/v1/snapshots/{s['id']}", ("completed",))
        snap_t = timed(snap)
        copy = os.path.join(a.work, "cp-copy.img")
        cp_t = timed(lambda: subprocess.run(["cp", "--sparse=always", vol_file, copy], check=True)
                     or subprocess.run(["sync", copy], check=True))
        os.unlink(copy)
        rows.append((a.label, "snapshot 4 GiB volume, 1 GiB written → completed", fmt(snap_t),
                     "cp --sparse=always (+sync): " + fmt(cp_t)))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    for r in rows:
        print("| " + " | ".join(r) + " |")

if __name__ == "__main__":
    main()
