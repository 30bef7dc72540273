# Shared helpers for the NBD system tests (source it). Each test:
#   - installs its Debian packages via scripts/install-deps.sh nbd and FAILS if a tool is
#     still missing (never skips);
#   - runs the built `vbsd nbd-serve` (path in $VBSD, set by CTest) in a scratch dir that an
#     EXIT trap removes along with every process the test started (by pid).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${VBSD:?VBSD must point at the built vbsd binary}"
# Debian's tools first: nbdsh needs the system python3 that has the nbd module.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

die() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "--- $*" >&2; }

need_tools() {
  "$repo/scripts/install-deps.sh" nbd
  local t
  for t in "$@"; do command -v "$t" >/dev/null || die "required tool '$t' is missing"; done
}

work=$(mktemp -d /tmp/vbs-nbd-test.XXXXXX)
pids=()
mounts=()
cleanup() {
  local m p
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# serve FILE ARGS... : starts vbsd nbd-serve, waits for "ready"; sets $server_pid.
serve() {
  # A fresh file per start: an earlier server's "ready" must not be taken for this one's.
  local out
  out=$(mktemp "$work/serve.XXXXXX.out")
  "$VBSD" nbd-serve "$@" >"$out" 2>"$out.err" &
  server_pid=$!
  pids+=("$server_pid")
  local i
  for i in $(seq 1 100); do
    grep -q ready "$out" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$out.err" >&2; die "nbd-serve exited"; }
    sleep 0.1
  done
  die "nbd-serve did not become ready"
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# make_certs DIR: a test CA, a server certificate for localhost/127.0.0.1 and a client
# certificate, in the file names both QEMU (tls-creds-x509 dir=) and libnbd
# (tls-certificates=) look for.
make_certs() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=vbs-test-ca" \
      -keyout ca-key.pem -out ca-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
      -days 2 -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=vbs-test-client/OU=user" \
      -keyout client-key.pem -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
      -days 2 -extfile client.ext -out client-cert.pem 2>/dev/null
    chmod 600 ./*-key.pem
  )
}

# tls_args DIR: nbd-serve options for the certificates in DIR.
tls_args() { echo "--tls-cert $1/server-cert.pem --tls-key $1/server-key.pem --tls-ca $1/ca-cert.pem"; }
