#!/usr/bin/env bash
# Security test: unauthenticated clients cannot crowd out authenticated ones. 1000 idle TCP
# connections from one address (127.0.0.2) — the server keeps at most
# max_unauthenticated_per_peer (32) of them and drops those after the first-request deadline
# (10 s) — while an authenticated client from another address is served within a second. A
# failed authentication closes its connection.
. "$(dirname "$0")/../system/lib.sh"
t_init sec-connections
PY=/usr/bin/python3
vbsd_start
port=${ENDPOINT##*:}

"$PY" - "$port" "$T/flood" <<'PY' &
import resource, socket, sys, time, json
port, out = int(sys.argv[1]), sys.argv[2]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
socks = []
for _ in range(1000):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    socks.append(s)
def still_open():
    n = 0
    for s in socks:
        if s.fileno() < 0:
            continue
        try:
            if s.recv(1) == b"":
                s.close()
            else:
                n += 1
        except BlockingIOError:
            n += 1
        except OSError:
            s.close()
    return n
time.sleep(1)
first = still_open()
open(out + ".ready", "w").write(str(first))
t0 = time.time()
while still_open() > 0 and time.time() - t0 < 60:
    time.sleep(0.2)
json.dump({"open_after_1s": first, "all_closed_after_s": round(time.time() - t0 + 1, 1),
           "left": still_open()}, open(out, "w"))
PY
FLOOD=$!
T_PIDS+=("$FLOOD")
deadline=$((SECONDS + 60))
until [ -e "$T/flood.ready" ]; do
  kill -0 "$FLOOD" 2>/dev/null || fail "the flood script died"
  [ $SECONDS -lt $deadline ] || fail "the flood never got going"
  sleep 0.1
done
held=$(cat "$T/flood.ready")
log "1000 idle connections from 127.0.0.2: $held still open after 1 s"
[ "$held" -le 32 ] || fail "the server kept $held unauthenticated connections from one address (limit 32)"
[ "$held" -ge 1 ] || fail "the server kept none: the test did not reach the per-peer limit"

# The authenticated client, while the flood's connections are held.
best=999999
for i in 1 2 3; do
  ms=$(curl -sS --max-time 10 -o "$T/who.json" -w '%{time_total}' --cacert "$ADMIN_CA" \
    --cert "$ADMIN_CERT" --key "$ADMIN_KEY" "$ENDPOINT/v1/whoami" | awk '{printf "%d", $1 * 1000}')
  assert_eq admin "$(jq -r .user "$T/who.json")" "whoami during the flood ($i)"
  [ "$ms" -lt "$best" ] && best=$ms
done
log "an authenticated whoami during the flood: best of 3 in ${best} ms"
[ "$best" -lt 1000 ] || fail "the authenticated client waited ${best} ms (more than a second)"

wait "$FLOOD" || fail "the flood script failed"
log "flood: $(cat "$T/flood")"
assert_eq 0 "$(jq -r .left "$T/flood")" "every idle unauthenticated connection was closed"
closed_after=$(jq -r '.all_closed_after_s | floor' "$T/flood")
[ "$closed_after" -le 30 ] || fail "idle unauthenticated connections lived ${closed_after} s (deadline 10 s)"

# A failed authentication ends its connection: curl reuses a kept-alive connection for two URLs
# on one command line, and reports a new one for the second URL when the first was closed.
curl -sS -v --cacert "$ADMIN_CA" "$ENDPOINT/v1/whoami" "$ENDPOINT/v1/whoami" >/dev/null 2>"$T/unauth.err" || true
assert_eq 2 "$(grep -c '^\* Connected to' "$T/unauth.err")" "two connections for two unauthenticated requests"
curl -sS -v --cacert "$ADMIN_CA" --cert "$ADMIN_CERT" --key "$ADMIN_KEY" \
  "$ENDPOINT/v1/whoami" "$ENDPOINT/v1/whoami" >/dev/null 2>"$T/auth.err"
assert_eq 1 "$(grep -c '^\* Connected to' "$T/auth.err")" "one kept-alive connection for an authenticated caller"
