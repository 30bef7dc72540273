#!/usr/bin/env bash
# Ops test: a real Prometheus (Debian's) scrapes a server and an agent over mTLS with a
# monitor certificate while fio writes to a volume through the agent's NBD export; the rate
# of written bytes that Prometheus computes for that volume is within 10 % of what fio
# reports. Both expositions pass `promtool check metrics`.
. "$(dirname "$0")/../system/lib.sh"
t_init ops-prometheus
"$VBS_SRC/scripts/install-deps.sh" ops >&2
for t in prometheus promtool fio; do command -v $t >/dev/null || fail "$t is missing after install-deps.sh"; done
PY=/usr/bin/python3
ok() { echo "ok: $*"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
vbsd_start
SERVER_HOSTPORT=${ENDPOINT#https://}

# A second node, n2, whose agent serves /metrics (its certificate carries subjectAltNames).
"$VBSD" pki issue --pki-dir "$DATA/pki" --role node --name n2 --san 127.0.0.1,localhost \
  --out-dir "$T/n2" >/dev/null || fail "issuing n2's certificate"
"$VBSD" pki issue --pki-dir "$DATA/pki" --role monitor --name prometheus --out-dir "$T/mon" >/dev/null \
  || fail "issuing the monitor certificate"
AGENT_METRICS=127.0.0.1:$(free_port)
mkdir -p "$T/pool2"
cat >"$T/agent.toml" <<TOML
[agent]
node = "n2"
servers = ["$ENDPOINT"]
ca = "$T/n2/ca.crt"
cert = "$T/n2/n2.crt"
key = "$T/n2/n2.key"
nbd_socket = "$T/n2.sock"
metrics_listen = "$AGENT_METRICS"
[[agent.pool]]
name = "p2"
type = "dir"
path = "$T/pool2"
capacity = "4G"
TOML
setpriv --pdeathsig KILL -- "$VBSD" agent --config "$T/agent.toml" >"$T/agent.out" 2>"$T/agent.log" &
T_PIDS+=($!)
deadline=$((SECONDS + 30))
until grep -q "registered" "$T/agent.log"; do
  [ $SECONDS -lt $deadline ] || fail "agent n2 did not register: $(tail -5 "$T/agent.log")"
  sleep 0.2
done

# Both expositions, as the monitor certificate reads them, are clean.
mon=(--cacert "$T/mon/ca.crt" --cert "$T/mon/prometheus.crt" --key "$T/mon/prometheus.key")
for target in "$SERVER_HOSTPORT" "$AGENT_METRICS"; do
  curl -sS --max-time 10 "${mon[@]}" "https://$target/metrics" >"$T/scrape.txt" || fail "scraping $target"
  out=$(promtool check metrics <"$T/scrape.txt" 2>&1) || fail "promtool check metrics on $target: $out"
  [ -z "$out" ] || fail "promtool on $target: $out"
done
# The agent's own numbers: its lease renewals (the first comes a renew interval after the
# hello) and the pool's disk.
deadline=$((SECONDS + 20))
until agent_metrics=$(curl -sS --max-time 10 "${mon[@]}" "https://$AGENT_METRICS/metrics") &&
  grep -Eq 'vbs_agent_lease_renewals_total\{node="n2",result="ok"\} [1-9]' <<<"$agent_metrics"; do
  [ $SECONDS -lt $deadline ] || fail "n2 reports no lease renewal: $(grep lease <<<"$agent_metrics")"
  sleep 0.5
done
assert_match 'vbs_agent_lease_renewals_total\{node="n2",result="ok"\} [1-9]' "$agent_metrics" "n2 counts its lease renewals"
assert_match 'vbs_agent_leases_lost_total\{node="n2"\} 0' "$agent_metrics" "n2 never lost its lease"
assert_match 'vbs_pool_used_bytes\{pool="p2",node="n2"\} [1-9]' "$agent_metrics" "the used bytes of p2's file system"
assert_match 'vbs_pool_size_bytes\{pool="p2",node="n2"\} [1-9]' "$agent_metrics" "the size of p2's file system"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$T/mon/ca.crt" --cert "$T/n2/n2.crt" --key "$T/n2/n2.key" "https://$AGENT_METRICS/metrics")
assert_eq 403 "$code" "a node certificate on the agent's /metrics"
ok "promtool check metrics: clean on the server and the agent; the agent refuses other certificates (403)"

# A volume on n2, attached to the node itself.
create_volume 1G '"pool":"p2"'; wait_state volume "$VID" available
api POST "/v1/volumes/$VID/attach" '{"instance_id":"host-n2"}'
[ "$CODE" = 202 ] || [ "$CODE" = 200 ] || fail "attach to host-n2: $CODE $BODY"
deadline=$((SECONDS + 60))
while :; do
  api GET "/v1/volumes/$VID"
  URI=$(jq -r '[.attachments[]? | select(.nbd_uri != null) | .nbd_uri][0] // empty' <<<"$BODY")
  [ -n "$URI" ] && break
  [ $SECONDS -lt $deadline ] || fail "no NBD URI for $VID: $BODY"
  sleep 0.2
done

# Prometheus scrapes both every second, with the monitor certificate.
PROM=127.0.0.1:$(free_port)
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vbs
    scheme: https
    tls_config:
      ca_file: $T/mon/ca.crt
      cert_file: $T/mon/prometheus.crt
      key_file: $T/mon/prometheus.key
    static_configs:
      - targets: ["$SERVER_HOSTPORT", "$AGENT_METRICS"]
YML
promtool check config "$T/prometheus.yml" >/dev/null || fail "promtool check config"
setpriv --pdeathsig KILL -- prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
  --web.listen-address="$PROM" >"$T/prometheus.log" 2>&1 &
T_PIDS+=($!)
query() {  # PROMQL: the first result's value, or empty
  curl -s --max-time 10 --get --data-urlencode "query=$1" "http://$PROM/api/v1/query" |
    jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
deadline=$((SECONDS + 60))
until [ "$(query 'count(up == 1)')" = 2 ]; do
  [ $SECONDS -lt $deadline ] || fail "Prometheus does not see both targets up: $(curl -sS "http://$PROM/api/v1/targets" | head -c 800)"
  sleep 1
done
ok "Prometheus scrapes the server and the agent over mTLS (both up)"

# fio writes at a steady rate for 30 s; Prometheus' rate over the last 10 s of it is compared.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
fio --name=w --ioengine=nbd --uri="$URI" --rw=write --bs=1M --iodepth=8 --rate=40m \
  --time_based --runtime=30 --size=1G --output-format=json >"$T/fio.json" 2>"$T/fio.err" &
FIO=$!
sleep 24
PROM_RATE=$(query "rate(vbs_volume_bytes_total{volume=\"$VID\",op=\"write\"}[10s])")
wait $FIO || fail "fio: $(cat "$T/fio.err")"
FIO_RATE=$(sed -n '/^{/,$p' "$T/fio.json" | jq -r '.jobs[0].write.bw_bytes')  # fio prints a line before its JSON
[ -n "$PROM_RATE" ] || fail "Prometheus has no write rate for $VID"
log "fio: $FIO_RATE B/s; Prometheus rate(vbs_volume_bytes_total{op=write}[10s]): $PROM_RATE B/s"
"$PY" - "$FIO_RATE" "$PROM_RATE" <<'PY' || fail "Prometheus' rate is not within 10 % of fio's"
import sys
fio, prom = float(sys.argv[1]), float(sys.argv[2])
print("prometheus / fio = %.3f" % (prom / fio))
sys.exit(0 if abs(prom - fio) <= 0.10 * fio else 1)
PY
total=$(query "vbs_volume_bytes_total{volume=\"$VID\",op=\"write\"}")
ok "during fio (40 MiB/s for 30 s) Prometheus' write rate for $VID is within 10 % of fio's ($PROM_RATE vs $FIO_RATE B/s; $total bytes counted)"
