#!/usr/bin/env bash
# boto3 (python3-boto3) against `vbsd dev`: ClientToken idempotency, a second user who can
# neither see nor touch the first one's objects, paginators, and bad input of every kind sent
# as raw signed requests (each answered with the EC2 code and HTTP status of the reference,
# and nothing changed). The REST face still wants its client certificate.
. "$(dirname "$0")/lib.sh"
ec2_init boto3_checks
ec2_start
make_user alice
make_user bob

# The REST face on the same listener still refuses a request without a client certificate.
code=$(curl -sS -o "$T/rest.body" -w '%{http_code}' --cacert "$ADMIN_CA" "$ENDPOINT/v1/volumes")
assert_eq 401 "$code" "REST without a client certificate"
assert_contains MissingClientCertificate "$(cat "$T/rest.body")" "REST error code"
# vbs.env gives the bootstrap admin an access key too: the lines it prints work as they are.
out=$( (. "$DATA/vbs.env" && "$AWS_BIN" --endpoint-url "$VBS_ENDPOINT" --output json ec2 \
  describe-availability-zones) 2>&1) || fail "aws with vbs.env's admin credentials: $out"
assert_eq default "$(jq -r '.AvailabilityZones[0].ZoneName' <<<"$out")" "admin's zones"
assert_eq 600 "$(stat -c %a "$DATA/admin.aws-credentials")" "admin credentials file mode"
# The secret is never in the server's log.
secret=$(sed -n 's/^aws_secret_access_key = //p' "$T/creds/alice.aws-credentials")
[ -n "$secret" ] || fail "no secret in alice's credentials file"

ENDPOINT=$ENDPOINT CA=$ADMIN_CA CREDS=$T/creds "$PY" "$(dirname "$0")/boto3_checks.py" ||
  fail "boto3 checks failed"
if grep -rqF -- "$secret" "$T"/vbsd.*.log "$T"/vbsd.*.out; then fail "the secret is in vbsd's log"; fi
