#!/usr/bin/python3
"""Clients for tests/security/nbd_consumers.sh, run as root or as another uid (setpriv).

  nbd_attack.py raw SOCKET MODE [NAME]
      One fresh connection per option, spoken byte by byte (no client library in between, so
      nothing is retried, downgraded or checked on the client side). MODE:
        greeting      read the server's greeting (is the socket reachable at all)
        list          NBD_OPT_LIST
        go, info      NBD_OPT_GO / NBD_OPT_INFO for NAME
        set_meta, list_meta   NBD_OPT_SET/LIST_META_CONTEXT base:allocation for NAME
                      (structured replies negotiated first)
        export_name   NBD_OPT_EXPORT_NAME NAME (the server's only refusal is to hang up)
        all           go, info, set_meta, list_meta, export_name in turn
      Prints one line per option, e.g. "go: ERR_UNKNOWN 'no such export'" or "go: ok size=N";
      the lines never hold NAME, so the outcome for two names can be compared as text.
  nbd_attack.py guess SOCKET NAME N
      libnbd: opens NAME (prints "NAME: OPENED size=…" or "NAME: refused: …"), then N random
      names vbs-<32 hex>; exits 0 only if every guess was refused exactly as NAME was
      (N=0: just open NAME).
  nbd_attack.py qmp SOCKET COMMAND [ARGS_JSON]
      One QMP command; prints the whole response object ({"return": …} or {"error": …}).
Exit 2 (and a message) when the tool itself could not do its job (no socket, bad greeting).
"""
import json
import os
import socket
import struct
import sys

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
OPT = {"export_name": 1, "list": 3, "info": 6, "go": 7, "structured": 8,
       "list_meta": 9, "set_meta": 10}
REP_ACK, REP_SERVER, REP_INFO, REP_META = 1, 2, 3, 4
REP_ERR = {0x80000001: "ERR_UNSUP", 0x80000002: "ERR_POLICY", 0x80000003: "ERR_INVALID",
           0x80000004: "ERR_PLATFORM", 0x80000005: "ERR_TLS_REQD", 0x80000006: "ERR_UNKNOWN",
           0x80000007: "ERR_SHUTDOWN", 0x80000008: "ERR_BLOCK_SIZE_REQD",
           0x80000009: "ERR_TOO_BIG"}


def tool_error(msg):
    print("nbd_attack.py: " + msg, file=sys.stderr)
    sys.exit(2)


def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    try:
        s.connect(path)
        magic, opt, _flags = struct.unpack(">QQH", recvn(s, 18))
    except (OSError, EOFError) as e:
        tool_error("no NBD greeting on %s: %r" % (path, e))
    if magic != NBDMAGIC or opt != IHAVEOPT:
        tool_error("not a newstyle NBD server on %s" % path)
    s.sendall(struct.pack(">I", 3))  # FIXED_NEWSTYLE | NO_ZEROES
    return s


def send_opt(s, name, data=b""):
    s.sendall(struct.pack(">QII", IHAVEOPT, OPT[name], len(data)) + data)


def replies(s, name):
    """(type, data) for each reply to the option, up to and including ACK or an error."""
    while True:
        magic, opt, typ, ln = struct.unpack(">QIII", recvn(s, 20))
        if magic != REPLY_MAGIC or opt != OPT[name]:
            tool_error("bad option reply (magic %x, option %d)" % (magic, opt))
        data = recvn(s, ln)
        yield typ, data
        if typ == REP_ACK or typ & 0x80000000:
            return


def err_text(typ, data):
    return "%s %r" % (REP_ERR.get(typ, hex(typ)), data.decode("utf-8", "replace"))


def probe(sock, mode, name):
    bname = name.encode()
    s = connect(sock)
    try:
        if mode == "greeting":
            return "greeting: ok"
        if mode == "list":
            send_opt(s, "list")
            names, end = 0, "no reply"
            for typ, data in replies(s, "list"):
                if typ == REP_SERVER:
                    names += 1
                elif typ == REP_ACK:
                    end = "ACK"
                else:
                    end = err_text(typ, data)
            return "list: %s, %d name(s)" % (end, names)
        if mode in ("go", "info"):
            send_opt(s, mode, struct.pack(">I", len(bname)) + bname + struct.pack(">H", 0))
            size = None
            for typ, data in replies(s, mode):
                if typ == REP_INFO and len(data) >= 10 and struct.unpack(">H", data[:2])[0] == 0:
                    size = struct.unpack(">Q", data[2:10])[0]
                elif typ & 0x80000000:
                    return "%s: %s" % (mode, err_text(typ, data))
            return "%s: ok size=%s" % (mode, size)
        if mode in ("set_meta", "list_meta"):
            send_opt(s, "structured")
            for typ, data in replies(s, "structured"):
                if typ != REP_ACK:
                    tool_error("structured replies refused: " + err_text(typ, data))
            q = b"base:allocation"
            send_opt(s, mode, struct.pack(">I", len(bname)) + bname + struct.pack(">I", 1) +
                     struct.pack(">I", len(q)) + q)
            contexts = []
            for typ, data in replies(s, mode):
                if typ == REP_META:
                    contexts.append(data[4:].decode())
                elif typ & 0x80000000:
                    return "%s: %s" % (mode, err_text(typ, data))
            return "%s: ok %s" % (mode, ",".join(contexts))
        if mode == "export_name":
            send_opt(s, "export_name", bname)
            try:
                size, _flags = struct.unpack(">QH", recvn(s, 10))
            except (EOFError, ConnectionResetError):
                return "export_name: disconnected"
            return "export_name: ok size=%d" % size
        tool_error("unknown mode " + mode)
    except socket.timeout:
        return "%s: no answer in 20 s" % mode
    except EOFError:
        return "%s: disconnected" % mode
    finally:
        s.close()


def guess(sock, real, n):
    import nbd

    def try_open(name):
        h = nbd.NBD()
        h.set_export_name(name)
        try:
            h.connect_unix(sock)
        except nbd.Error as e:
            return "refused: %s (errno %s)" % (e.string.replace(name, "NAME"), e.errno)
        size = h.get_size()
        h.shutdown()
        return "OPENED size=%d" % size

    want = try_open(real)
    print("NAME: " + want)
    if n == 0:
        return 0
    if not want.startswith("refused"):
        return 1
    differ = 0
    for _ in range(n):
        name = "vbs-" + os.urandom(16).hex()
        got = try_open(name)
        if got != want:
            differ += 1
            print("guess %s: %s" % (name, got))
    print("%d guesses, %d answered otherwise" % (n, differ))
    return 1 if differ else 0


def qmp(path, cmd, args):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    try:
        s.connect(path)
    except OSError as e:
        tool_error("QMP %s: %r" % (path, e))
    f = s.makefile("rw")

    def call(c, a=None):
        msg = {"execute": c}
        if a is not None:
            msg["arguments"] = a
        f.write(json.dumps(msg) + "\n")
        f.flush()
        while True:
            line = f.readline()
            if not line:
                tool_error("QMP %s closed the connection" % path)
            m = json.loads(line)
            if "return" in m or "error" in m:
                return m

    f.readline()  # greeting
    if "return" not in call("qmp_capabilities"):
        tool_error("qmp_capabilities failed")
    print(json.dumps(call(cmd, args)))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "raw":
        modes = ["go", "info", "set_meta", "list_meta", "export_name"] if argv[2] == "all" \
            else [argv[2]]
        for m in modes:
            print(probe(argv[1], m, argv[3] if len(argv) > 3 else ""), flush=True)
        return 0
    if len(argv) == 4 and argv[0] == "guess":
        return guess(argv[1], argv[2], int(argv[3]))
    if len(argv) in (3, 4) and argv[0] == "qmp":
        return qmp(argv[1], argv[2], json.loads(argv[3]) if len(argv) == 4 else None)
    tool_error("usage: see the docstring")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
