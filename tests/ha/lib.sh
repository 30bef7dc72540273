# shellcheck shell=bash
# Helpers for the tests/ha scripts that run one `vbsd server` on SQLite and agents of their
# own. Source after tests/system/lib.sh and t_init.
#   free_port                     a free TCP port on 127.0.0.1
#   ha_server [TOML LINES]        starts `vbsd server` (extra [server] lines from the argument),
#                                 sets PORT, EP, ENDPOINT and an admin identity for `api`
#   ha_agent_config NODE URL      writes $T/NODE/agent.toml (its certificate, NBD socket) and
#                                 prints its path; the caller appends [[agent.pool]] sections

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

ha_server() {
  PORT=$(free_port)
  EP="https://127.0.0.1:$PORT"
  cat >"$T/server.toml" <<TOML
[server]
id = "api-1"
listen = "127.0.0.1:$PORT"
database = "$T/meta.db"
pki_dir = "$T/pki"
${1:-}
TOML
  setpriv --pdeathsig KILL -- "$VBSD" server --config "$T/server.toml" >"$T/server.out" 2>"$T/server.log" &
  T_PIDS+=($!)
  for _ in $(seq 300); do grep -q listening "$T/server.out" && break; sleep 0.1; done
  grep -q listening "$T/server.out" || fail "server did not start: $(tail -5 "$T/server.log")"
  "$VBSD" pki issue --pki-dir "$T/pki" --role admin --name boss --out-dir "$T/boss" >/dev/null
  ID_CERT=$T/boss/boss.crt; ID_KEY=$T/boss/boss.key; ID_CA=$T/boss/ca.crt
  ENDPOINT=$EP
}

ha_agent_config() {  # NODE URL
  local node=$1 url=$2
  mkdir -p "$T/$node"
  "$VBSD" pki issue --pki-dir "$T/pki" --role node --name "$node" --out-dir "$T/$node/cert" >/dev/null
  cat >"$T/$node/agent.toml" <<TOML
[agent]
node = "$node"
servers = ["$url"]
ca = "$T/$node/cert/ca.crt"
cert = "$T/$node/cert/$node.crt"
key = "$T/$node/cert/$node.key"
nbd_socket = "$T/$node/nbd.sock"
TOML
  echo "$T/$node/agent.toml"
}
