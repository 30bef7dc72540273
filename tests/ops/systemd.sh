#!/usr/bin/env bash
# Ops test: vbsd as systemd runs it. The shipped units (contrib/systemd) pass
# `systemd-analyze verify` without a single warning (and a broken copy does not, so the check
# is live). A fake NOTIFY_SOCKET (tests/ops/sd_notify_check.py) around `vbsd server`, started
# from the shipped example configuration, and around `vbsd dev` (server + agent) receives
# READY=1 only when the API (and the NBD socket) answer, WATCHDOG=1 within the interval,
# RELOADING=1 and READY=1 again across the agent's SIGUSR2 re-execution, STOPPING=1 on SIGTERM.
. "$(dirname "$0")/../system/lib.sh"
t_init ops-systemd
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing after install-deps.sh system"
PY=/usr/bin/python3
SRC=$VBS_SRC
ok() { echo "ok: $*"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- the units ------------------------------------------------------------------------------
mkdir -p "$T/units" "$T/broken"
for u in "$SRC"/contrib/systemd/*.service; do
  # verify checks that ExecStart's binary exists: point it at the one under test.
  sed "s|/usr/bin/vbsd|$VBSD|" "$u" >"$T/units/$(basename "$u")"
done
[ -f "$T/units/vbsd-server.service" ] && [ -f "$T/units/vbsd-agent.service" ] || fail "units missing"
rc=0; out=$(systemd-analyze verify "$T"/units/*.service 2>&1) || rc=$?
[ $rc = 0 ] || fail "systemd-analyze verify: exit $rc: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
sed 's/^Type=notify/Type=notfy\nWatchdogSecs=30/' "$T/units/vbsd-server.service" >"$T/broken/vbsd-server.service"
out=$(systemd-analyze verify "$T/broken/vbsd-server.service" 2>&1) || true
assert_contains "Unknown key" "$out" "control: verify reports a misspelt key"
assert_contains "service type" "$out" "control: verify reports a bad Type="
ok "systemd-analyze verify: vbsd-server.service and vbsd-agent.service without a warning (a broken copy: '$(head -1 <<<"$out")')"

# --- vbsd server from the example configuration ------------------------------------------------
PORT=$(free_port)
mkdir -p "$T/server"
sed -e "s|0.0.0.0:8443|127.0.0.1:$PORT|" -e "s|/var/lib/vbs|$T/server|g" \
  "$SRC/contrib/config/server.toml" >"$T/server.toml"
grep -q "$T/server/meta.db" "$T/server.toml" || fail "the example configuration changed shape: $(cat "$T/server.toml")"
PKI=$T/server/pki
probe="curl -sS --max-time 5 -o /dev/null -w '%{http_code}' --cacert $PKI/ca.crt --cert $PKI/admin.crt --key $PKI/admin.key https://127.0.0.1:$PORT/v1/whoami | grep -qx 200"
"$PY" "$SRC/tests/ops/sd_notify_check.py" "$T/server" "$probe" -- "$VBSD" server --config "$T/server.toml" \
  || fail "vbsd server under a fake systemd"
ok "vbsd server (the example configuration) under a fake systemd: READY when the API answers, watchdog, STOPPING"

# --- vbsd dev: the agent's NBD socket and its re-execution -------------------------------------
PORT=$(free_port)
mkdir -p "$T/dev"
probe="curl -sS --max-time 5 -o /dev/null -w '%{http_code}' --cacert $T/dev/data/pki/ca.crt --cert $T/dev/data/pki/admin.crt --key $T/dev/data/pki/admin.key https://127.0.0.1:$PORT/v1/pools | grep -qx 200 && $PY -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); assert s.recv(8) == b\"NBDMAGIC\"' $T/dev/data/run/nbd.sock"
"$PY" "$SRC/tests/ops/sd_notify_check.py" --reexec "$T/dev" "$probe" -- \
  "$VBSD" dev --data-dir "$T/dev/data" --listen "127.0.0.1:$PORT" || fail "vbsd dev under a fake systemd"
ok "vbsd dev under a fake systemd: READY when the API and the NBD socket answer, watchdog, RELOADING and READY again across SIGUSR2, STOPPING"
