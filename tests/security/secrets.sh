#!/usr/bin/env bash
# Security test: access-key secrets rest sealed. A copy of the database (and its WAL) holds no
# secret: not the admin's, not a new user's. A database from before sealing (a secret put back
# in plain text) is sealed at the next start, and the key keeps working with the aws CLI. A
# server given another secrets key refuses to start instead of failing every signature.
. "$(dirname "$0")/../ec2/lib.sh"
ec2_init sec-secrets
ec2_start
make_user carol
db=$DATA/meta.db
secret_of() { sed -n 's/^aws_secret_access_key = //p' "$1"; }
key_of() { sed -n 's/^aws_access_key_id = //p' "$1"; }
admin_secret=$(secret_of "$DATA/admin.aws-credentials")
carol_secret=$(secret_of "$T/creds/carol.aws-credentials")
carol_key=$(key_of "$T/creds/carol.aws-credentials")
[ ${#admin_secret} = 40 ] && [ ${#carol_secret} = 40 ] || fail "no secrets to look for"

# A copy of the database files, as a thief would take them.
mkdir "$T/stolen"
cp "$db"* "$T/stolen/"
for s in "$admin_secret" "$carol_secret"; do
  if grep -rqaF -- "$s" "$T/stolen"; then fail "a secret is in the copied database files"; fi
done
"$PY" - "$T/stolen/meta.db" <<'PY' >"$T/stored"
import sqlite3, sys
for (id, secret) in sqlite3.connect(sys.argv[1]).execute("SELECT id, secret FROM access_keys"):
    print(id, secret)
PY
[ "$(wc -l <"$T/stored")" -ge 2 ] || fail "the copy has no access keys: $(cat "$T/stored")"
if grep -v ' enc1:[0-9a-f]*$' "$T/stored"; then fail "a stored secret is not sealed"; fi
as_aws_user carol; aws_ok "carol's key works" describe-volumes

# A database from before sealing: put carol's secret back in plain text, then restart.
vbsd_stop
"$PY" - "$db" "$carol_key" "$carol_secret" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE access_keys SET secret = ? WHERE id = ?", (sys.argv[3], sys.argv[2]))
c.commit()
PY
grep -qaF -- "$carol_secret" "$db" "$db-wal" 2>/dev/null || fail "the plain-text secret did not land in the database"
ec2_start
assert_contains "sealed 1 access-key secret" "$(cat "$T/vbsd.$VBSD_LOGN.log")" "the start seals the old secret"
as_aws_user carol; aws_ok "carol's key after the migration" describe-volumes
"$PY" - "$db" "$carol_key" <<'PY' >"$T/after"
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT secret FROM access_keys WHERE id = ?",
                                            (sys.argv[2],)).fetchone()[0])
PY
assert_match '^enc1:[0-9a-f]+$' "$(cat "$T/after")" "carol's secret after the migration"

# Another secrets key: a clear refusal at start.
vbsd_stop
cp "$DATA/pki/secrets.key" "$T/secrets.key.saved"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DATA/pki/secrets.key"
VBSD_LOGN=$((VBSD_LOGN + 1))
rc=0
timeout 60 "$VBSD" dev --data-dir "$DATA" --listen 127.0.0.1:0 >"$T/wrongkey.out" 2>"$T/wrongkey.err" || rc=$?
[ "$rc" != 0 ] || fail "vbsd started with another secrets key"
assert_contains "SecretsKeyMismatch" "$(cat "$T/wrongkey.out" "$T/wrongkey.err")" "the refusal names the problem"
cp "$T/secrets.key.saved" "$DATA/pki/secrets.key"
ec2_start
as_aws_user carol; aws_ok "carol's key with the right secrets key again" describe-volumes
