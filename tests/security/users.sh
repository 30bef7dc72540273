#!/usr/bin/env bash
# Security test: users can be disabled, demoted, deleted and their keys rotated, and each
# change holds on the very next request — on the REST face (curl and the vbs CLI with the
# user's certificate) and the EC2 face (the stock aws CLI with the user's access key). The role
# is the database's, never the certificate's OU. Authentication reads do not queue behind a
# writer: with the database's write lock held by another process, an unknown access key and a
# known certificate are still answered at once.
. "$(dirname "$0")/../ec2/lib.sh"
ec2_init sec-users
ec2_start
make_user carol
make_user dave

# whoami_as NAME: GET /v1/whoami with NAME's certificate.
whoami_as() { as_user "$1"; api GET /v1/whoami; as_admin; }
# volumes_of NAME: how many live volumes NAME owns (as the admin sees them).
volumes_of() {
  api GET /v1/volumes
  assert_status 200 "admin lists volumes"
  jf "[.volumes[] | select(.owner == \"$1\")] | length"
}
admin_cli() { local saved=("$ID_CERT" "$ID_KEY" "$ID_CA"); as_admin; vbsc "$@"; ID_CERT=${saved[0]}; ID_KEY=${saved[1]}; ID_CA=${saved[2]}; }

# --- both faces work for carol ------------------------------------------------------------
whoami_as carol; assert_status 200 "carol's certificate"; assert_field .role user "carol's role"
as_aws_user carol; aws_ok "carol's access key" describe-volumes

# --- disable: refused on the very next request, on both faces; nothing changes ----------------
admin_cli admin user disable carol; assert_rc 0 "vbs admin user disable carol"
assert_contains "disabled" "$OUT" "disable prints the new state"
before=$(volumes_of carol)
as_user carol
api POST /v1/volumes '{"size":"1M"}'; assert_status 403 UserDisabled "a disabled user's create"
api GET /v1/whoami; assert_status 403 UserDisabled "a disabled user's whoami"
vbsc volume list; assert_rc 1 "vbs volume list as a disabled user"
assert_contains "UserDisabled" "$ERR" "the CLI names the reason"
as_admin
as_aws_user carol
aws_err UserDisabled "a disabled user's EC2 call" create-volume --size 1 --availability-zone default
aws_err UserDisabled "a disabled user's EC2 describe" describe-volumes
assert_eq "$before" "$(volumes_of carol)" "a disabled user created nothing"
# A disabled user cannot enable themselves, nor can another user.
as_user dave; api POST /v1/users/carol/enable; assert_status 403 UnauthorizedOperation "dave enables carol"
as_admin
admin_cli admin user show carol; assert_rc 0 "show carol"
assert_match "state: +disabled" "$OUT" "carol is still disabled"
admin_cli admin user enable carol; assert_rc 0 "vbs admin user enable carol"
whoami_as carol; assert_status 200 "carol after enable"
as_aws_user carol; aws_ok "carol's EC2 call after enable" describe-volumes

# --- the role is the database's --------------------------------------------------------------
as_user carol; api GET /v1/users; assert_status 403 UnauthorizedOperation "carol lists users"
admin_cli admin user set-role carol admin; assert_rc 0 "promote carol"
as_user carol; api GET /v1/users; assert_status 200 "carol, promoted, lists users at once"
admin_cli admin user set-role carol user; assert_rc 0 "demote carol"
as_user carol; api GET /v1/users; assert_status 403 UnauthorizedOperation "carol, demoted, on her next request"
as_admin
admin_cli admin user set-role carol root; assert_rc 2 "an unknown role is a usage error"
# Malformed bodies get a specific error and change nothing.
api POST /v1/users/carol/role '{}'; assert_status 400 MissingParameter "set-role without a role"
api POST /v1/users/carol/role '{"role":"root"}'; assert_status 400 InvalidParameterValue "set-role to root"
api POST /v1/users/carol/role '{"role":1}'; assert_status 400 "set-role with a number"
api POST /v1/users/carol/role 'not json'; assert_status 400 "set-role with a body that is not JSON"
api POST /v1/users '{"admin":true}'; assert_status 400 MissingParameter "user create without a name"
api POST /v1/instances/i-0123456789abcdef0/owner '{}'; assert_status 400 MissingParameter "instance assign without an owner"
api POST /v1/nodes/nowhere/users '{"usr":"carol"}'; assert_status 400 "node allow with a misspelt field"
as_user carol; api GET /v1/whoami; assert_field .role user "carol is still a user after the malformed calls"; as_admin
# An admin certificate (OU=admin) issued offline enrols its name once, as admin; a demotion in
# the database then outranks the certificate's OU.
"$VBSD" pki issue --pki-dir "$DATA/pki" --role admin --name boss --out-dir "$T/creds" >/dev/null
as_user boss; api GET /v1/users; assert_status 200 "an offline-issued admin certificate"
admin_cli admin user set-role boss user; assert_rc 0 "demote boss"
as_user boss; api GET /v1/users; assert_status 403 UnauthorizedOperation "OU=admin, role user"
api GET /v1/whoami; assert_field .role user "boss's role is the database's"
as_admin

# --- access keys rotate without an admin; a deleted key fails on its next use ------------------
old_key=$(sed -n 's/^aws_access_key_id = //p' "$T/creds/carol.aws-credentials")
as_user carol
vbsc -o json key create; assert_rc 0 "carol creates a key"
new_key=$(jq -r .access_key_id <<<"$OUT"); new_secret=$(jq -r .secret_access_key <<<"$OUT")
assert_match '^AKIA[A-Z2-7]{16}$' "$new_key" "new key id"
assert_eq 40 "${#new_secret}" "new secret length"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$new_key" "$new_secret" \
  >"$T/creds/carol-new.aws-credentials"
vbsc key list; assert_rc 0 "carol lists her keys"
assert_contains "$old_key" "$OUT" "old key listed"; assert_contains "$new_key" "$OUT" "new key listed"
assert_not_contains "$new_secret" "$OUT" "a list never shows a secret"
vbsc key delete "$old_key"; assert_rc 0 "carol deletes her old key"
as_admin
as_aws_user carol
aws_err AuthFailure "the deleted key, on its next request" describe-volumes
export AWS_SHARED_CREDENTIALS_FILE=$T/creds/carol-new.aws-credentials
aws_ok "the new key" describe-volumes
# Another user's keys are out of reach: as if the user did not exist; nothing changes.
dave_key=$(sed -n 's/^aws_access_key_id = //p' "$T/creds/dave.aws-credentials")
as_user carol
api GET /v1/users/dave/keys; assert_status 404 InvalidUser.NotFound "carol lists dave's keys"
api DELETE "/v1/users/dave/keys/$dave_key"; assert_status 404 InvalidUser.NotFound "carol deletes dave's key"
api DELETE "/v1/keys/$dave_key"; assert_status 404 InvalidAccessKeyId.NotFound "dave's key as carol's own"
as_admin
as_aws_user dave; aws_ok "dave's key still works" describe-volumes
admin_cli admin key list dave; assert_rc 0 "admin lists dave's keys"
assert_contains "$dave_key" "$OUT" "dave's key is still there"

# --- delete: refused while the user owns volumes; afterwards the name is dead for good ----------
as_user dave; create_volume 1M; dvol=$VID; wait_state volume "$dvol" available; as_admin
admin_cli admin user delete dave; assert_rc 1 "delete a user who owns a volume"
assert_contains "DeleteConflict" "$ERR" "the CLI names the conflict"
whoami_as dave; assert_status 200 "dave is untouched by the refused delete"
as_user dave; api DELETE "/v1/volumes/$dvol"; assert_status 202 "dave deletes his volume"
wait_state volume "$dvol" deleted; as_admin
admin_cli admin user delete dave; assert_rc 0 "delete dave"
whoami_as dave; assert_status 401 UserDeleted "a deleted user's certificate"
as_aws_user dave; aws_err AuthFailure "a deleted user's key" describe-volumes
admin_cli admin user create dave --out-dir "$T/creds2"; assert_rc 1 "re-create a deleted name"
assert_contains "UserAlreadyExists" "$ERR" "a deleted name is never issued again"
whoami_as dave; assert_status 401 UserDeleted "the old certificate stays refused"

# --- the last admin stays -----------------------------------------------------------------------
admin_cli admin user disable admin; assert_rc 1 "disable the last admin"
assert_contains "LastAdmin" "$ERR" "the reason"
api GET /v1/whoami; assert_status 200 "the admin still works"

# --- authentication reads do not queue behind a writer -----------------------------------------
db=$DATA/meta.db
[ -f "$db" ] || fail "no SQLite database at $db"
"$PY" - "$db" "$T/locked" <<'PY' &
import sqlite3, sys, time, pathlib
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute("BEGIN IMMEDIATE")            # the write lock, as a long writer would hold it
pathlib.Path(sys.argv[2]).touch()
time.sleep(8)
c.execute("ROLLBACK")
PY
LOCKER=$!
T_PIDS+=("$LOCKER")
until [ -e "$T/locked" ]; do kill -0 "$LOCKER" 2>/dev/null || fail "the lock holder died"; sleep 0.05; done
start=$(date +%s%N)
export AWS_SHARED_CREDENTIALS_FILE=$T/unknown.aws-credentials
printf '[default]\naws_access_key_id = AKIAAAAAAAAAAAAAAAAA\naws_secret_access_key = %s\n' \
  "$(head -c 30 /dev/urandom | base64)" >"$AWS_SHARED_CREDENTIALS_FILE"
aws_err AuthFailure "an unknown key while the write lock is held" describe-volumes
log "unknown key answered after $(( ($(date +%s%N) - start) / 1000000 )) ms"
whoami_as carol; assert_status 200 "carol's certificate while the write lock is held"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill -0 "$LOCKER" 2>/dev/null || fail "the lock was released before the checks ended (${elapsed_ms} ms): the test proves nothing"
log "answered in ${elapsed_ms} ms with the write lock held"
wait "$LOCKER"

# --- secrets at rest: the database and the data directory are not for other users -------------
mode_of() { stat -c %a "$1"; }
for f in "$db" "$db-wal" "$db-shm"; do
  [ -e "$f" ] || continue
  assert_eq 600 "$(mode_of "$f")" "mode of $f"
done
assert_eq 711 "$(mode_of "$DATA")" "the data directory: no listing or reading by others"
assert_eq 700 "$(mode_of "$DATA/pki")" "the PKI directory"
as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups -- "$@"; }
out=$(as_nobody cat "$db" 2>&1 >/dev/null) && fail "uid 65534 read $db"
assert_contains "Permission denied" "$out" "uid 65534 reading the database"
out=$(as_nobody ls "$DATA" 2>&1) && fail "uid 65534 listed $DATA: $out"
assert_contains "Permission denied" "$out" "uid 65534 listing the data directory"
