#!/usr/bin/env bash
# Ops test: logs an operator can follow. With --log-format json every line vbsd writes is one
# JSON object; the lines about a REST call carry the request id that the answer's
# X-Request-Id header gave the client, and the caller; the agent's lines about the operation
# the call queued carry the same request id and the volume's id. The text format shows the
# same fields in braces; an unknown format is refused.
. "$(dirname "$0")/../system/lib.sh"
t_init ops-logs
ok() { echo "ok: $*"; }

# An unknown format: a clear refusal, before anything starts.
rc=0; "$VBSD" --log-format xml dev --data-dir "$T/never" >"$T/bad.out" 2>&1 || rc=$?
assert_ne 0 "$rc" "vbsd --log-format xml exits non-zero"
assert_contains "--log-format" "$(cat "$T/bad.out")" "the refusal names the option"
[ ! -e "$T/never" ] || fail "vbsd --log-format xml made its data directory"
ok "an unknown log format is refused ($(head -1 "$T/bad.out"))"

# vbsd as a log shipper would run it.
REAL_VBSD=$VBSD
VBSD=$T/vbsd-json
printf '#!/bin/sh\nexec "%s" --log-format json "$@"\n' "$REAL_VBSD" >"$VBSD"
chmod +x "$VBSD"
vbsd_start
LOG=$T/vbsd.$VBSD_LOGN.log
make_user carol
as_user carol
api POST /v1/volumes '{"size":"1M"}'
assert_status 202 "carol creates a volume"
VID=$(jf .id)
RID=$(sed -n 's/^[Xx]-[Rr]equest-[Ii]d: *\([0-9a-f-]*\).*/\1/p' "$T/resp.headers")
[[ $RID =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
  fail "no request id in the answer's headers: $(cat "$T/resp.headers")"
wait_state volume "$VID" available

# Every line is a JSON object with the standard fields.
/usr/bin/python3 - "$LOG" <<'PY' || fail "vbsd's log is not one JSON object per line"
import json, sys
n = 0
for i, line in enumerate(open(sys.argv[1], encoding="utf-8", errors="strict"), 1):
    rec = json.loads(line)
    for k in ("time", "level", "logger", "thread", "message"):
        assert k in rec, f"line {i} lacks {k}: {line}"
    n += 1
assert n > 5, f"only {n} lines"
print(f"{n} lines, all JSON objects", file=sys.stderr)
PY
ok "every log line is a JSON object ($(wc -l <"$LOG") lines)"

lines_of() { jq -c --arg rid "$1" 'select(.request_id == $rid)' "$LOG"; }
mine=$(lines_of "$RID")
[ -n "$mine" ] || fail "no log line carries the request id $RID"
assert_match '"message":"rest POST /v1/volumes -> 202' "$mine" "the API's line about the call"
assert_eq carol "$(jq -r 'select(.message | startswith("rest POST /v1/volumes")) | .user' <<<"$mine")" "the caller is on the API's line"
agent_line=$(jq -c 'select(.op != null)' <<<"$mine" | head -1)
[ -n "$agent_line" ] || fail "the agent's lines about the create carry no request id: $(jq -c 'select(.op != null)' "$LOG" | head -3)"
assert_eq "$VID" "$(jq -r .volume <<<"$agent_line")" "the agent's line names the volume"
assert_match "create_volume $VID" "$(jq -r .message <<<"$agent_line")" "the agent's line is about the create"
ok "request $RID: the API's line (user carol) and the agent's (op, volume $VID) carry its id"

vbsd_stop
ok "json logs follow a request from the API to the agent"

# The text format shows the same fields in braces.
VBSD=$REAL_VBSD
vbsd_start
LOG=$T/vbsd.$VBSD_LOGN.log
as_user carol
api POST /v1/volumes '{"size":"1M"}'; assert_status 202 "a second volume"
VID2=$(jf .id)
RID=$(sed -n 's/^[Xx]-[Rr]equest-[Ii]d: *\([0-9a-f-]*\).*/\1/p' "$T/resp.headers")
wait_state volume "$VID2" available
grep -q "rest POST /v1/volumes -> 202 .*{request_id=$RID user=carol}$" "$LOG" ||
  fail "the text line of the call lacks its context: $(grep 'rest POST' "$LOG" | tail -2)"
grep -q "create_volume $VID2 .*{request_id=$RID op=op-[0-9a-f]* volume=$VID2}$" "$LOG" ||
  fail "the agent's text line lacks the context: $(grep "create_volume $VID2" "$LOG")"
ok "text lines end with {request_id=… user=…} and {request_id=… op=… volume=…}"
echo "PASS ops logs"
