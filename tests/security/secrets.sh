#!/usr/bin/env bash
# Security test: access-key secrets rest sealed. A copy of the database (and its WAL) holds no
# secret: not the admin's, not a new user's. A database of schema version 7 (before user states,
# quotas, owners, certificate records and sealing) is migrated and sealed at the next start,
# and carol's key (aws CLI) and certificate (curl) keep working. A
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

# A database from before the control-plane work: schema version 7 (no user states, quotas,
# instance owners, certificate records or mount points; secrets in plain text). Made from this
# one by taking out what migrations 8-12 add; the next start must carry it forward with carol
# still working.
vbsd_stop
"$PY" - "$db" "$carol_key" "$carol_secret" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("UPDATE access_keys SET secret = ? WHERE id = ?", (sys.argv[3], sys.argv[2]))
for sql in ["ALTER TABLE attachments DROP COLUMN fs_size",                         # 13
            "ALTER TABLE attachments DROP COLUMN fs_used",
            "ALTER TABLE attachments DROP COLUMN fs_free",
            "ALTER TABLE attachments DROP COLUMN fs_reported_at",
            "ALTER TABLE attachments DROP COLUMN mount_point",                     # 12
            "ALTER TABLE users DROP COLUMN certificates_revoked_before",
            "DROP TABLE certificates",                                              # 11
            "ALTER TABLE instances DROP COLUMN owner", "DROP TABLE node_users",     # 10
            "DROP TABLE quotas",                                                    # 9
            "ALTER TABLE users DROP COLUMN state",
            "ALTER TABLE users DROP COLUMN updated_at",                             # 8
            "DELETE FROM meta WHERE key = 'secrets_key_id'",
            "UPDATE meta SET value = '7' WHERE key = 'schema_version'"]:
    c.execute(sql)
PY
grep -qaF -- "$carol_secret" "$db" "$db-wal" 2>/dev/null || fail "the plain-text secret did not land in the database"
ec2_start
assert_contains "sealed 1 access-key secret" "$(cat "$T/vbsd.$VBSD_LOGN.log")" "the start seals the old secret"
as_aws_user carol; aws_ok "carol's key after the migration" describe-volumes
as_user carol; api GET /v1/whoami; assert_status 200 "carol's certificate after the migration"
assert_field .role user "carol's role after the migration"; as_admin
version=$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT value FROM meta WHERE key = '"'schema_version'"'").fetchone()[0])' "$db")
[ "$version" -ge 11 ] || fail "schema version after the migration: $version"
api GET /v1/users/carol; assert_status 200 "show carol after the migration"
assert_field .state active "carol's state after the migration"
assert_field '.certificates | length' 1 "carol's certificate is recorded at first sight"
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
