#!/usr/bin/env bash
# Security test: users' certificates are known by serial and can be revoked, on the REST face
# (curl, the vbs CLI) and on NBD over TLS (`vbsd nbd-serve --database`, with nbdinfo, qemu-io
# and a libnbd client that stays connected); and a server runs with the CA key kept offline.
#   1. The serial `vbs admin user create` hands out is the one recorded (openssl reads it).
#   2. `vbs admin user reissue`: the old certificate and an offline one issued before it (never
#      presented) answer 401 CertificateRevoked on the next request; the new one and an offline
#      one issued afterwards work. A user cannot reissue or revoke; nothing changes.
#   3. nbd-serve checks the users table: a revoked certificate is refused with its code, a
#      connected client is cut off within seconds of being disabled; a valid one reads.
#   4. Without ca.key the server starts, enrols users without certificates (saying how to issue
#      them offline), refuses reissue with CertificateAuthorityOffline and changes nothing;
#      `vbs admin user revoke` still revokes; the CA is not replaced behind the operator's back.
. "$(dirname "$0")/../system/lib.sh"
t_init sec-certificates
PY=/usr/bin/python3
vbsd_start
make_user erin
make_user fred

ok() { echo "ok: $*"; }
admin_cli() { local saved=("$ID_CERT" "$ID_KEY" "$ID_CA"); as_admin; vbsc "$@"; ID_CERT=${saved[0]}; ID_KEY=${saved[1]}; ID_CA=${saved[2]}; }
serial_of() { openssl x509 -noout -serial -in "$1" | sed 's/^serial=//' | tr 'A-F' 'a-f'; }
# whoami_cert CERT KEY: GET /v1/whoami with that certificate.
whoami_cert() { ID_CERT=$1; ID_KEY=$2; ID_CA=$T/creds/ca.crt; api GET /v1/whoami; as_admin; }
# cert_states USER: "SERIAL:STATE" lines from vbs admin user show, sorted.
cert_states() {
  admin_cli -o json admin user show "$1"; assert_rc 0 "show $1"
  jq -r '.certificates[] | "\(.serial):\(.state)"' <<<"$OUT" | sort
}

# --- 1. the serial handed out is the one recorded ------------------------------------------
S1=$(serial_of "$T/creds/erin.crt")
assert_match '^[0-9a-f]{32}$' "$S1" "erin's serial"
assert_eq "$S1:valid" "$(cert_states erin)" "the certificate of user create is recorded at issue"
whoami_cert "$T/creds/erin.crt" "$T/creds/erin.key"; assert_status 200 "erin's first certificate"
ok "user create records the serial it hands out ($S1)"

# --- 2. reissue revokes the old ones ---------------------------------------------------------
mkdir -p "$T/old" "$T/offline1" "$T/offline2"
cp "$T/creds/erin.crt" "$T/creds/erin.key" "$T/old/"
# Issued offline before the reissue and never presented to any server.
"$VBSD" pki issue --pki-dir "$DATA/pki" --role user --name erin --out-dir "$T/offline1" >/dev/null
# A user may not reissue or revoke, not even their own; nothing changes.
as_user fred
api POST /v1/users/erin/reissue; assert_status 403 UnauthorizedOperation "fred reissues erin"
api POST /v1/users/erin/revoke; assert_status 403 UnauthorizedOperation "fred revokes erin"
as_user erin
api POST /v1/users/erin/reissue; assert_status 403 UnauthorizedOperation "erin reissues herself"
as_admin
api POST /v1/users/nobody/reissue; assert_status 404 InvalidUser.NotFound "reissue of an unknown user"
api POST /v1/users/erin/reissue '{"x":1}'; assert_status 400 "reissue with an unknown field"
assert_eq "$S1:valid" "$(cert_states erin)" "nothing changed after the refused calls"
whoami_cert "$T/old/erin.crt" "$T/old/erin.key"; assert_status 200 "erin's certificate after the refused calls"

admin_cli admin user reissue erin --out-dir "$T/creds" --force; assert_rc 0 "vbs admin user reissue erin"
assert_contains "every older one revoked" "$OUT" "reissue says what it did"
S2=$(serial_of "$T/creds/erin.crt")
assert_ne "$S1" "$S2" "the new certificate's serial"
assert_contains "$S2" "$OUT" "reissue prints the new serial"
whoami_cert "$T/old/erin.crt" "$T/old/erin.key"
assert_status 401 CertificateRevoked "the old certificate, on its next request"
whoami_cert "$T/offline1/erin.crt" "$T/offline1/erin.key"
assert_status 401 CertificateRevoked "an offline certificate issued before the reissue"
ID_CERT=$T/old/erin.crt; ID_KEY=$T/old/erin.key; ID_CA=$T/creds/ca.crt
vbsc volume list; assert_rc 1 "vbs volume list with the revoked certificate"
assert_contains "CertificateRevoked" "$ERR" "the CLI names the reason"
as_admin
whoami_cert "$T/creds/erin.crt" "$T/creds/erin.key"; assert_status 200 "the reissued certificate"
assert_field .user erin "the reissued certificate is erin's"
sleep 1.1  # certificates carry whole seconds: one issued in the revocation's second is refused
"$VBSD" pki issue --pki-dir "$DATA/pki" --role user --name erin --out-dir "$T/offline2" >/dev/null
S3=$(serial_of "$T/offline2/erin.crt")
whoami_cert "$T/offline2/erin.crt" "$T/offline2/erin.key"; assert_status 200 "an offline certificate issued after the reissue"
assert_eq "$(printf '%s\n' "$S1:revoked" "$S2:valid" "$S3:valid" | sort)" "$(cert_states erin)" \
  "erin's certificates: the first revoked, the reissued and the later offline one valid"
admin_cli admin user show erin; assert_rc 0 "show erin (table)"
assert_match "certificate: +$S1 revoked" "$OUT" "the table shows the revoked certificate"
ok "reissue: the old certificate and an older offline one answer 401 CertificateRevoked (curl, vbs); the new one and a later offline one work; users cannot reissue or revoke"

# --- 3. NBD over TLS checks the users table --------------------------------------------------
log "3. vbsd nbd-serve --database"
mkdir -p "$T/nbdsrv"
"$VBSD" pki issue --pki-dir "$DATA/pki" --role server --name nbd-serve --san 127.0.0.1,localhost \
  --out-dir "$T/nbdsrv" >/dev/null || fail "issuing the nbd-serve certificate"
# tls_dir DIR CERT KEY: the file names QEMU's tls-creds-x509 and libnbd's tls-certificates use.
tls_dir() { mkdir -p "$1"; cp "$2" "$1/client-cert.pem"; cp "$3" "$1/client-key.pem"; cp "$T/creds/ca.crt" "$1/ca-cert.pem"; }
tls_dir "$T/tls-new" "$T/creds/erin.crt" "$T/creds/erin.key"
tls_dir "$T/tls-old" "$T/old/erin.crt" "$T/old/erin.key"
tls_dir "$T/tls-fred" "$T/creds/fred.crt" "$T/creds/fred.key"
F=$T/serve.img
truncate -s 16M "$F"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
setpriv --pdeathsig KILL -- "$VBSD" nbd-serve "$F" --listen "127.0.0.1:$PORT" \
  --tls-cert "$T/nbdsrv/nbd-serve.crt" --tls-key "$T/nbdsrv/nbd-serve.key" \
  --tls-ca "$T/creds/ca.crt" --database "$DATA/meta.db" >"$T/serve.out" 2>&1 &
SERVE_PID=$!
T_PIDS+=("$SERVE_PID")
deadline=$((SECONDS + 30))
until grep -q '^ready' "$T/serve.out"; do
  kill -0 "$SERVE_PID" 2>/dev/null || fail "nbd-serve exited: $(cat "$T/serve.out")"
  [ $SECONDS -lt $deadline ] || fail "nbd-serve not ready in 30 s"
  sleep 0.1
done
# --database checks client certificates: without a CA to verify them it refuses to start.
rc=0; out=$(timeout 20 "$VBSD" nbd-serve "$F" --socket "$T/nodb.sock" --database "$DATA/meta.db" 2>&1) || rc=$?
[ $rc = 1 ] || fail "nbd-serve --database without --tls-ca: expected exit 1, got $rc: $out"
assert_contains "needs --tls-ca" "$out" "nbd-serve --database without --tls-ca"
assert_not_contains "ready" "$out" "nbd-serve --database without --tls-ca"
URI="nbds://127.0.0.1:$PORT/"
out=$(nbdinfo --size "$URI?tls-certificates=$T/tls-new" 2>&1) || fail "nbdinfo with erin's valid certificate: $out"
assert_eq $((16 * 1024 * 1024)) "$out" "nbdinfo --size with erin's valid certificate"
rc=0; out=$(nbdinfo --size "$URI?tls-certificates=$T/tls-old" 2>&1) || rc=$?
[ $rc = 1 ] || fail "nbdinfo with the revoked certificate: expected exit 1, got $rc: $out"
assert_contains "server policy prevents NBD_OPT_GO" "$out" "nbdinfo with the revoked certificate"
# QEMU shows the server's reason.
rc=0
out=$(qemu-io --object "tls-creds-x509,id=tls0,endpoint=client,dir=$T/tls-old" --image-opts \
  "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=$PORT,tls-creds=tls0" \
  -c "write -P 0x66 0 1M" 2>&1) || rc=$?
[ $rc != 0 ] || fail "qemu-io with the revoked certificate wrote: $out"
assert_contains "CertificateRevoked" "$out" "qemu-io with the revoked certificate shows the reason"
assert_not_contains "bytes at offset" "$out" "qemu-io with the revoked certificate"
assert_eq 0 "$(tr -d '\0' <"$F" | wc -c)" "the served file is untouched by the revoked certificate"
ok "nbd-serve --database: the revoked certificate is refused (nbdinfo exit 1; qemu-io: '$(grep -m1 CertificateRevoked <<<"$out")'); the reissued one reads"

# A connected client is cut off once its user is disabled.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
"$PY" - "$URI" "$T/tls-fred" "$T/connected" >"$T/held.out" 2>&1 <<'PY' &
import nbd, sys, time, pathlib
h = nbd.NBD()
h.set_tls(nbd.TLS_REQUIRE)
h.set_tls_certificates(sys.argv[2])
h.connect_uri(sys.argv[1])
h.pread(4096, 0)
pathlib.Path(sys.argv[3]).touch()
start = time.time()
while time.time() - start < 60:
    try:
        h.pread(4096, 0)
    except nbd.Error as e:
        print("cut off: %s" % e)
        sys.exit(0)
    time.sleep(0.1)
print("still connected after 60 s")
sys.exit(1)
PY
HELD=$!
T_PIDS+=("$HELD")
deadline=$((SECONDS + 30))
until [ -e "$T/connected" ]; do
  kill -0 "$HELD" 2>/dev/null || fail "the libnbd client did not connect: $(cat "$T/held.out")"
  [ $SECONDS -lt $deadline ] || fail "the libnbd client did not connect in 30 s"
  sleep 0.1
done
kill -0 "$HELD" 2>/dev/null || fail "fred's client ended before fred was disabled: $(cat "$T/held.out")"
admin_cli admin user disable fred; assert_rc 0 "disable fred"
rc=0; wait "$HELD" || rc=$?
[ $rc = 0 ] || fail "fred's connected client was not cut off: $(cat "$T/held.out")"
rc=0; out=$(nbdinfo --size "$URI?tls-certificates=$T/tls-fred" 2>&1) || rc=$?
[ $rc = 1 ] || fail "nbdinfo as disabled fred: expected exit 1, got $rc: $out"
grep -q "UserDisabled" "$T/serve.out" || fail "nbd-serve did not log the UserDisabled refusal: $(cat "$T/serve.out")"
admin_cli admin user enable fred; assert_rc 0 "enable fred"
out=$(nbdinfo --size "$URI?tls-certificates=$T/tls-fred" 2>&1) || fail "nbdinfo as fred, enabled again: $out"
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
ok "nbd-serve --database: fred's connected libnbd client is cut off after 'vbs admin user disable' ($(cat "$T/held.out")); new connections are refused until enable"

# --- 4. the CA key kept offline ---------------------------------------------------------------
log "4. a server without ca.key"
vbsd_stop
mkdir -p "$T/offline-ca"
mv "$DATA/pki/ca.key" "$T/offline-ca/ca.key"
cp "$DATA/pki/ca.crt" "$T/offline-ca/ca.crt"
ca_before=$(sha256sum <"$DATA/pki/ca.crt")
vbsd_start
assert_no_file "$DATA/pki/ca.key" "no new CA key after a start without one"
assert_eq "$ca_before" "$(sha256sum <"$DATA/pki/ca.crt")" "the CA certificate is kept"
whoami_cert "$T/creds/erin.crt" "$T/creds/erin.key"; assert_status 200 "erin's certificate on the CA-less server"
admin_cli admin user create gina --out-dir "$T/creds"; assert_rc 0 "user create without the CA key"
assert_contains "without a certificate" "$OUT" "user create says there is no certificate"
assert_contains "vbsd pki issue" "$OUT" "user create says how to issue one"
assert_no_file "$T/creds/gina.crt" "no certificate file for gina"
assert_file "$T/creds/gina.aws-credentials" "gina's access key is written"
admin_cli admin user reissue erin --out-dir "$T/none"; assert_rc 1 "reissue without the CA key"
assert_contains "CertificateAuthorityOffline" "$ERR" "reissue names the reason"
assert_no_file "$T/none/erin.crt" "no file written by the refused reissue"
whoami_cert "$T/creds/erin.crt" "$T/creds/erin.key"; assert_status 200 "erin's certificate after the refused reissue"
# Issued where the CA key is kept, gina's certificate works on the server.
"$VBSD" pki issue --pki-dir "$T/offline-ca" --role user --name gina --out-dir "$T/creds" >/dev/null
whoami_cert "$T/creds/gina.crt" "$T/creds/gina.key"; assert_status 200 "gina's offline certificate"
assert_field .user gina "gina's identity"
admin_cli admin user revoke erin; assert_rc 0 "revoke without the CA key"
whoami_cert "$T/creds/erin.crt" "$T/creds/erin.key"; assert_status 401 CertificateRevoked "erin after revoke"
whoami_cert "$T/offline2/erin.crt" "$T/offline2/erin.key"; assert_status 401 CertificateRevoked "erin's later offline certificate after revoke"
ok "without ca.key: the server runs, user create enrols gina and says how to issue her certificate offline, reissue is refused (CertificateAuthorityOffline) and changes nothing, revoke works"
