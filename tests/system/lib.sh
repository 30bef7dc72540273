# shellcheck shell=bash
# Shared helpers for the system tests of "The service runs" (tests/system/*.sh).
# Source it first thing: `. "$(dirname "$0")/lib.sh"; t_init NAME`.
#
# What it gives a script:
#   t_init NAME            temp dir $T (removed at exit), cleanup trap, tools installed
#   vbsd_start [ARGS...]   start `vbsd dev --data-dir $DATA` (first start: a free port; later
#                          starts: the same port), wait until the API answers; $VBSD_PID
#   vbsd_stop / vbsd_kill  SIGTERM (and wait for a clean exit) / kill -9 of our own vbsd
#   as_admin / as_user N   choose the identity used by `api` and `vbsc`
#   api METHOD PATH [BODY] HTTPS call with curl + client certificate: sets $CODE and $BODY
#   vbsc ARGS...           run the `vbs` CLI: sets $RC, $OUT, $ERR (never exits by itself)
#   assert_* / fail        print expected vs got and exit 1
#   wait_state KIND ID STATE...   poll until the object is in one of STATEs (bounded)
# Environment: VBSD, VBS (binaries; default build-sys/), WAIT_TIMEOUT, VBS_SYSTEM_KEEP=1 (keep
# the temp dir of a failed run; its mounts are still unmounted).
# Only processes this script started are ever killed; only its own mounts are unmounted.

set -euo pipefail

VBS_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VBSD=${VBSD:-$VBS_SRC/build-sys/src/bin/vbsd}
VBS=${VBS:-$VBS_SRC/build-sys/src/bin/vbs}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-60}   # seconds for any wait; a bound, never an assertion

T=""            # the test's temp dir
DATA=""         # vbsd's data dir
VBSD_PID=""     # our vbsd, if running
VBSD_PORT=""    # fixed after the first start
VBSD_LOGN=0
ENDPOINT=""
T_MOUNTS=()     # mount points to unmount at exit
T_PIDS=()       # other background processes we started
ID_CERT=""; ID_KEY=""; ID_CA=""
CODE=""; BODY=""; RC=0; OUT=""; ERR=""

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

fail() {
  echo "FAIL: $*" >&2
  if [ -n "$T" ] && ls "$T"/vbsd.*.log >/dev/null 2>&1; then
    local last
    last=$(ls -t "$T"/vbsd.*.log | head -1)
    echo "--- last 30 lines of $last ---" >&2
    tail -30 "$last" >&2 || true
  fi
  exit 1
}

t_cleanup() {
  local rc=$?
  set +e
  if [ -n "$VBSD_PID" ] && kill -0 "$VBSD_PID" 2>/dev/null; then
    kill -KILL "$VBSD_PID" 2>/dev/null   # its data dir goes away with $T: no need to be gentle
    wait "$VBSD_PID" 2>/dev/null
  fi
  for p in "${T_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for m in "${T_MOUNTS[@]}"; do
    if mountpoint -q "$m" 2>/dev/null; then umount "$m" 2>/dev/null || umount -l "$m"; fi
  done
  if [ $rc -ne 0 ] && [ "${VBS_SYSTEM_KEEP:-0}" = 1 ]; then
    echo "kept $T for a look (VBS_SYSTEM_KEEP=1)" >&2
  elif [ -n "$T" ] && [ -d "$T" ]; then
    rm -rf "$T"
  fi
  if [ $rc -eq 0 ]; then echo "PASS: $T_NAME" >&2; else echo "FAILED: $T_NAME (exit $rc)" >&2; fi
  exit $rc
}

# t_init NAME: temp dir, trap, tools.
t_init() {
  T_NAME=$1
  "$VBS_SRC/scripts/install-deps.sh" system >&2
  for tool in curl jq openssl cmp dd truncate du stat sha256sum setpriv; do
    command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh system"
  done
  [ -x "$VBSD" ] || fail "vbsd binary not found at $VBSD (set VBSD=)"
  [ -x "$VBS" ] || fail "vbs binary not found at $VBS (set VBS=)"
  T=$(mktemp -d "/tmp/vbs-sys-$T_NAME-XXXXXX")
  DATA=$T/data
  trap t_cleanup EXIT
  trap 'exit 130' INT TERM
  log "$T_NAME: working in $T"
}

pool_dir() { echo "$DATA/pools/default"; }
vol_file() { echo "$DATA/pools/default/volumes/$1.img"; }
snap_file() { echo "$DATA/pools/default/snapshots/$1.img"; }

# vbsd_start [EXTRA ARGS...]: environment (e.g. VBS_FAULT_OP_DELAY_MS) is inherited.
vbsd_start() {
  [ -z "$VBSD_PID" ] || ! kill -0 "$VBSD_PID" 2>/dev/null || fail "vbsd_start: already running"
  VBSD_LOGN=$((VBSD_LOGN + 1))
  local logf=$T/vbsd.$VBSD_LOGN.log
  rm -f "$DATA/vbs.env"
  mkdir -p "$DATA"
  # --pdeathsig: should this script be SIGKILLed (a ctest timeout), vbsd dies with it.
  setpriv --pdeathsig KILL -- "$VBSD" dev --data-dir "$DATA" --listen "127.0.0.1:${VBSD_PORT:-0}" "$@" \
    >"$T/vbsd.$VBSD_LOGN.out" 2>"$logf" &
  VBSD_PID=$!
  local deadline=$((SECONDS + WAIT_TIMEOUT))
  while [ ! -s "$DATA/vbs.env" ]; do
    kill -0 "$VBSD_PID" 2>/dev/null || { VBSD_PID=""; fail "vbsd exited at start (log $logf)"; }
    [ $SECONDS -lt $deadline ] || fail "vbsd did not write $DATA/vbs.env in ${WAIT_TIMEOUT}s"
    sleep 0.1
  done
  ENDPOINT=$(sed -n 's/^export VBS_ENDPOINT=//p' "$DATA/vbs.env")
  local port=${ENDPOINT##*:}
  if [ -n "$VBSD_PORT" ] && [ "$port" != "$VBSD_PORT" ]; then
    fail "vbsd restarted on port $port, expected the fixed port $VBSD_PORT"
  fi
  VBSD_PORT=$port
  ADMIN_CERT=$(sed -n 's/^export VBS_CERT=//p' "$DATA/vbs.env")
  ADMIN_KEY=$(sed -n 's/^export VBS_KEY=//p' "$DATA/vbs.env")
  ADMIN_CA=$(sed -n 's/^export VBS_CA=//p' "$DATA/vbs.env")
  as_admin
  # Ready = the API answers and the node agent has registered its pool.
  while true; do
    api GET /v1/pools
    if [ "$CODE" = 200 ] && [ "$(jq -r '[.pools[] | select(.state=="up")] | length' <<<"$BODY")" -ge 1 ]; then
      break
    fi
    kill -0 "$VBSD_PID" 2>/dev/null || { VBSD_PID=""; fail "vbsd exited while starting"; }
    [ $SECONDS -lt $deadline ] || fail "vbsd not ready in ${WAIT_TIMEOUT}s (last: $CODE $BODY)"
    sleep 0.2
  done
  log "vbsd started (pid $VBSD_PID, $ENDPOINT${*:+, $*})"
}

# vbsd_stop: SIGTERM, then a clean exit 0 (bounded by STOP_TIMEOUT: a hang guard, not a timing).
STOP_TIMEOUT=${STOP_TIMEOUT:-60}
vbsd_stop() {
  [ -n "$VBSD_PID" ] || fail "vbsd_stop: not running"
  kill -TERM "$VBSD_PID"
  local started=$SECONDS deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$VBSD_PID" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "vbsd still running ${STOP_TIMEOUT}s after SIGTERM"
    sleep 0.1
  done
  local rc=0
  wait "$VBSD_PID" || rc=$?
  VBSD_PID=""
  [ $rc -eq 0 ] || fail "vbsd exited with $rc after SIGTERM (expected a clean 0)"
  log "vbsd stopped (SIGTERM, exit 0, after ~$((SECONDS - started))s)"
}

vbsd_kill() {
  [ -n "$VBSD_PID" ] || fail "vbsd_kill: not running"
  kill -KILL "$VBSD_PID"
  wait "$VBSD_PID" 2>/dev/null || true
  VBSD_PID=""
  log "vbsd killed (SIGKILL)"
}

as_admin() { ID_CERT=$ADMIN_CERT; ID_KEY=$ADMIN_KEY; ID_CA=$ADMIN_CA; }
# as_user NAME: credentials written by `make_user NAME` (or any NAME.crt/.key in $T/creds).
as_user() {
  ID_CERT=$T/creds/$1.crt; ID_KEY=$T/creds/$1.key; ID_CA=$T/creds/ca.crt
  [ -f "$ID_CERT" ] || fail "as_user: no credentials for $1"
}

# make_user NAME: `vbs admin user create NAME --out-dir $T/creds` as admin.
make_user() {
  local saved=("$ID_CERT" "$ID_KEY" "$ID_CA")
  as_admin
  mkdir -p "$T/creds"
  vbsc admin user create "$1" --out-dir "$T/creds"
  assert_rc 0 "vbs admin user create $1"
  ID_CERT=${saved[0]}; ID_KEY=${saved[1]}; ID_CA=${saved[2]}
}

# allow_on_node NODE USER: as admin, let USER attach to the node itself (host-NODE).
allow_on_node() {
  local saved=("$ID_CERT" "$ID_KEY" "$ID_CA")
  as_admin
  api POST "/v1/nodes/$1/users" "{\"user\":\"$2\"}"
  assert_status 200 "allow $2 on node $1"
  ID_CERT=${saved[0]}; ID_KEY=${saved[1]}; ID_CA=${saved[2]}
}

# api METHOD PATH [BODY [CONTENT_TYPE]]: sets CODE and BODY (BODY "@FILE": the file's bytes).
api() {
  local method=$1 path=$2 body=${3-} ctype=${4:-application/json}
  local args=(-sS --max-time 30 -o "$T/resp.body" -D "$T/resp.headers" -w '%{http_code}' -X "$method"
    --cacert "$ID_CA")
  [ -n "$ID_CERT" ] && args+=(--cert "$ID_CERT" --key "$ID_KEY")
  if [ $# -ge 3 ]; then args+=(-H "Content-Type: $ctype" --data-binary "$body"); fi
  : >"$T/resp.body"
  CODE=$(curl "${args[@]}" "$ENDPOINT$path" 2>"$T/resp.err") || true
  BODY=""
  IFS= read -r -d '' BODY <"$T/resp.body" || true   # no fork: these run hundreds of times
  BODY=${BODY%$'\n'}
}

# vbsc ARGS...: the CLI with the current identity; sets RC, OUT, ERR.
vbsc() {
  RC=0
  VBS_ENDPOINT=$ENDPOINT VBS_CA=$ID_CA VBS_CERT=$ID_CERT VBS_KEY=$ID_KEY VBS_OUTPUT='' \
    "$VBS" --timeout "$WAIT_TIMEOUT" "$@" >"$T/cli.out" 2>"$T/cli.err" || RC=$?
  OUT=$(cat "$T/cli.out"); ERR=$(cat "$T/cli.err")
}

# --- assertions: each prints what was expected and what came ------------------------------
assert_eq() {  # EXPECTED GOT WHAT
  [ "$1" == "$2" ] || fail "$3: expected '$1', got '$2'"
}
assert_ne() {
  [ "$1" != "$2" ] || fail "$3: expected anything but '$1'"
}
assert_match() {  # REGEX TEXT WHAT
  [[ $2 =~ $1 ]] || fail "$3: expected to match /$1/, got '$2'"
}
assert_contains() {  # NEEDLE HAYSTACK WHAT
  [[ $2 == *"$1"* ]] || fail "$3: expected to contain '$1', got: $2"
}
assert_not_contains() {
  [[ $2 != *"$1"* ]] || fail "$3: expected NOT to contain '$1', got: $2"
}
# assert_rc EXPECTED WHAT (for the last vbsc)
assert_rc() {
  [ "$RC" == "$1" ] || fail "$2: expected exit $1, got $RC (stdout: $OUT; stderr: $ERR)"
}
# assert_status HTTP_STATUS [ERROR_CODE] WHAT (for the last api)
assert_status() {
  local want=$1 code=""
  if [ $# -ge 3 ]; then code=$2; shift; fi
  local what=$2
  [ "$CODE" == "$want" ] || fail "$what: expected HTTP $want${code:+ $code}, got $CODE: $BODY $(cat "$T/resp.err" 2>/dev/null)"
  if [ -n "$code" ]; then
    # {"error":{"code":"…","message":"…"}} (compact, as the server writes it; no jq: cheap)
    [[ $BODY =~ ^\{\"error\":\{\"code\":\"([^\"]*)\",\"message\":\"(.+)\"\}\}$ ]] ||
      fail "$what: expected an error body with code $code and a message, got: $BODY"
    [ "${BASH_REMATCH[1]}" == "$code" ] ||
      fail "$what: expected error code $code, got '${BASH_REMATCH[1]}' (body: $BODY)"
  fi
}
jf() { jq -r "$1" <<<"${2:-$BODY}"; }   # jf FILTER [JSON]: a field of the last body
assert_field() {  # FILTER EXPECTED WHAT (on $BODY)
  local got
  got=$(jq -r "$1" <<<"$BODY") || fail "$3: body is not JSON: $BODY"
  [ "$got" == "$2" ] || fail "$3: expected $1 == '$2', got '$got' (body: $BODY)"
}
assert_file() { [ -f "$1" ] || fail "$2: expected file $1 to exist"; }
assert_no_file() { [ ! -e "$1" ] || fail "$2: expected $1 NOT to exist"; }
assert_same() {  # FILE1 FILE2 WHAT: byte-identical
  local r
  r=$(cmp "$1" "$2" 2>&1) || fail "$3: $1 and $2 differ: $r"
}
# assert_zero_from FILE OFFSET WHAT: every byte from OFFSET to the end is zero
assert_zero_from() {
  local size n
  size=$(stat -c %s "$1"); n=$((size - $2))
  [ $n -ge 0 ] || fail "$3: $1 is shorter ($size) than $2"
  r=$(cmp -n "$n" -i "$2:0" "$1" /dev/zero 2>&1) || fail "$3: non-zero byte beyond $2: $r"
}
assert_no_partials() {  # WHAT
  local p
  p=$(find "$DATA/pools" -name '*.partial' 2>/dev/null)
  [ -z "$p" ] || fail "$1: half-made files left: $p"
}

# --- waiting ---------------------------------------------------------------------------------
# get_obj volume|snapshot ID: GET as the current identity
get_obj() { api GET "/v1/${1}s/$2"; }

# wait_state volume|snapshot ID STATE...: until the state is one of STATEs (404 counts as
# "deleted"); fails after WAIT_TIMEOUT with the last state seen.
wait_state() {
  local kind=$1 id=$2; shift 2
  local deadline=$((SECONDS + WAIT_TIMEOUT)) st=""
  while true; do
    get_obj "$kind" "$id"
    if [ "$CODE" = 200 ]; then st=$(jf .state); elif [ "$CODE" = 404 ]; then st=deleted; else st="HTTP $CODE"; fi
    for want in "$@"; do [ "$st" == "$want" ] && return 0; done
    [ $SECONDS -lt $deadline ] || fail "$kind $id: expected state in {$*} within ${WAIT_TIMEOUT}s, last: $st ($BODY)"
    sleep 0.2
  done
}

# Known data: write_pattern FILE OFFSET_BYTES LENGTH_BYTES SEED — deterministic bytes.
write_pattern() {
  local f=$1 off=$2 len=$3 seed=$4
  head -c "$len" /dev/zero |
    openssl enc -aes-128-ctr -nosalt -pass "pass:$seed" -pbkdf2 -iter 1 2>/dev/null |
    dd of="$f" bs=1M iflag=fullblock seek="$off" oflag=seek_bytes conv=notrunc status=none
}

# create_volume SIZE|"" [EXTRA_JSON_FIELDS]: POST, assert 202; sets VID
create_volume() {
  if [ -n "$1" ]; then api POST /v1/volumes "{\"size\":\"$1\"${2:+,$2}}"
  else api POST /v1/volumes "{${2:-}}"; fi
  assert_status 202 "create volume $1"
  VID=$(jf .id)
}
create_snapshot() {  # VOLUME_ID: sets SID
  api POST /v1/snapshots "{\"volume_id\":\"$1\"}"
  assert_status 202 "create snapshot of $1"
  SID=$(jf .id)
}
