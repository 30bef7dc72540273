#!/usr/bin/env bash
# Ops test: the server's /metrics as Prometheus reads it. A monitor certificate
# (`vbsd pki issue --role monitor`) reads /metrics and nothing else; a user's certificate gets
# 403 there; the exposition passes `promtool check metrics`; API requests are counted by
# face, action and status; operations, node heartbeats and pools are reported from the
# metadata at scrape time.
. "$(dirname "$0")/../system/lib.sh"
t_init ops-metrics
"$VBS_SRC/scripts/install-deps.sh" ops >&2
command -v promtool >/dev/null || fail "promtool is missing after install-deps.sh ops"
ok() { echo "ok: $*"; }
vbsd_start
make_user carol
"$VBSD" pki issue --pki-dir "$DATA/pki" --role monitor --name prometheus --out-dir "$T/mon" >/dev/null \
  || fail "issuing a monitor certificate"
as_monitor() { ID_CERT=$T/mon/prometheus.crt; ID_KEY=$T/mon/prometheus.key; ID_CA=$T/mon/ca.crt; }

# Some traffic on both faces first.
as_user carol
create_volume 1M; wait_state volume "$VID" available
api GET /v1/volumes/vol-0123456789abcdef0; assert_status 404 "a missing volume"
as_admin

as_monitor
api GET /metrics; assert_status 200 "GET /metrics with the monitor certificate"
METRICS=$BODY
printf '%s\n' "$METRICS" >"$T/metrics.txt"
out=$(promtool check metrics <"$T/metrics.txt" 2>&1) || fail "promtool check metrics: $out"
[ -z "$out" ] || fail "promtool check metrics complains: $out"
ok "promtool check metrics: clean ($(wc -l <"$T/metrics.txt") lines)"
assert_match 'vbs_api_requests_total\{face="rest",action="POST /v1/volumes",code="202"\} [1-9]' "$METRICS" "the create is counted"
assert_match 'vbs_api_requests_total\{face="rest",action="GET /v1/volumes/\{id\}",code="404"\} [1-9]' "$METRICS" "the 404 is counted under its route, not the id"
assert_not_contains "vol-0123456789abcdef0" "$METRICS" "no id a client made up becomes a label"
assert_match 'vbs_api_request_duration_seconds_count\{face="rest",action="POST /v1/volumes"\} [1-9]' "$METRICS" "latency histogram"
assert_match 'vbs_node_heartbeat_age_seconds\{node="local"\} [0-9.e+-]+' "$METRICS" "the node's heartbeat age"
assert_match 'vbs_pool_capacity_bytes\{pool="default"\} [1-9]' "$METRICS" "the pool's capacity"
assert_match 'vbs_pool_reserved_bytes\{pool="default"\} [1-9]' "$METRICS" "the pool's reservation (carol's volume)"
assert_contains "vbs_operation_oldest_pending_age_seconds 0" "$METRICS" "nothing waits"
assert_contains "vbs_reconciler_leader 1" "$METRICS" "the only server leads the sweep"
assert_contains "vbs_reconciler_leadership_acquired_total 1" "$METRICS" "it took the leader lease once"
ok "API requests by face, action and status (routes, never ids), latency, heartbeat age, pool capacity and reservation, the sweep's leader lease"

# The monitor certificate reads nothing else, and users do not read the metrics.
api GET /v1/volumes; assert_status 403 UnauthorizedOperation "the monitor certificate on /v1/volumes"
api GET /v1/whoami; assert_status 403 UnauthorizedOperation "the monitor certificate on /v1/whoami"
api POST /metrics '{}'; assert_status 405 "POST /metrics"
as_user carol
api GET /metrics; assert_status 403 UnauthorizedOperation "a user's certificate on /metrics"
as_admin
api GET /metrics; assert_status 200 "an admin reads /metrics"
api GET /v1/users; assert_status 200 "admin lists users"
assert_not_contains '"prometheus"' "$BODY" "the monitor certificate enrolled no user"
ok "the monitor certificate gets 403 outside /metrics and enrols no user; a user's certificate gets 403 on /metrics; admins read it"
