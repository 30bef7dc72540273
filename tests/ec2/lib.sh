# shellcheck shell=bash
# Helpers for the EC2-face tests: tests/system/lib.sh (vbsd dev, users) plus the stock aws CLI
# pointed at it. Source after t_init:  . "$(dirname "$0")/lib.sh"; ec2_init NAME
. "$(dirname "${BASH_SOURCE[0]}")/../system/lib.sh"

AWS_BIN=/usr/bin/aws      # Debian's awscli, not whatever else is on PATH
PY=/usr/bin/python3       # Debian's python3 with python3-boto3

ec2_init() {
  t_init "$1"
  "$VBS_SRC/scripts/install-deps.sh" ec2 >&2
  [ -x "$AWS_BIN" ] || fail "$AWS_BIN is missing after scripts/install-deps.sh ec2"
  "$PY" -c 'import boto3' 2>/dev/null || fail "python3-boto3 is missing after install-deps.sh ec2"
  # Nothing from the machine's own AWS setup may leak in.
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
  export AWS_CONFIG_FILE=$T/aws-config AWS_PAGER="" AWS_DEFAULT_REGION=us-east-1
  : >"$AWS_CONFIG_FILE"
}

# ec2_start: vbsd dev, and the CA bundle the clients verify its certificate with.
ec2_start() {
  vbsd_start "$@"
  export AWS_CA_BUNDLE=$ADMIN_CA
}

# as_aws_user NAME: the access key `vbs admin user create NAME` wrote (make_user NAME first).
as_aws_user() {
  export AWS_SHARED_CREDENTIALS_FILE=$T/creds/$1.aws-credentials
  [ -f "$AWS_SHARED_CREDENTIALS_FILE" ] || fail "no aws credentials file for $1"
}

# aws_ec2 ARGS...: `aws ec2 ARGS` at vbsd; sets RC, OUT, ERR.
aws_ec2() {
  RC=0
  "$AWS_BIN" --endpoint-url "$ENDPOINT" --output json ec2 "$@" >"$T/aws.out" 2>"$T/aws.err" || RC=$?
  OUT=$(cat "$T/aws.out"); ERR=$(cat "$T/aws.err")
}
# aws_ok WHAT ARGS...: must succeed.
aws_ok() {
  local what=$1; shift
  aws_ec2 "$@"
  [ "$RC" = 0 ] || fail "$what: aws ec2 $* exited $RC: $ERR"
}
# aws_err CODE WHAT ARGS...: must fail with the EC2 error CODE (the CLI exits 254 for it).
aws_err() {
  local code=$1 what=$2; shift 2
  aws_ec2 "$@"
  [ "$RC" = 254 ] || fail "$what: expected exit 254 ($code), got $RC: $OUT $ERR"
  assert_contains "An error occurred ($code)" "$ERR" "$what"
}
jo() { jq -r "$1" <<<"$OUT"; }   # a field of the last aws output
