#!/usr/bin/env bash
# Security test: per-user quotas hold under a race and on both faces. 20 concurrent creates
# (curl, each its own connection) against a volume quota of 5 give exactly 5 volumes; the rest
# are refused VolumeLimitExceeded (400) naming limit and usage. The aws CLI meets the same
# limits (VolumeLimitExceeded, SnapshotLimitExceeded), a resize past the gigabytes limit is
# refused and changes nothing, and `vbs quota` shows a user their usage and limits.
. "$(dirname "$0")/../ec2/lib.sh"
ec2_init sec-quotas
ec2_start
make_user carol
admin_cli() { local saved=("$ID_CERT" "$ID_KEY" "$ID_CA"); as_admin; vbsc "$@"; ID_CERT=${saved[0]}; ID_KEY=${saved[1]}; ID_CA=${saved[2]}; }
count_volumes() {
  as_admin; api GET /v1/volumes; assert_status 200 "admin lists volumes"
  jf '[.volumes[] | select(.owner == "carol")] | length'
}

admin_cli admin quota set carol --volumes 5 --gigabytes 2 --snapshots 1; assert_rc 0 "set carol's quota"
assert_match "volumes: +0 of 5" "$OUT" "the quota as set"
as_user carol
vbsc quota; assert_rc 0 "vbs quota"
assert_match "gigabytes: +0 GiB of 2 GiB" "$OUT" "carol sees her limits"
admin_cli admin quota set carol --volumes -3; assert_rc 1 "a negative limit"
assert_contains "InvalidParameterValue" "$ERR" "a negative limit is refused"
as_user carol; api PUT /v1/users/carol/quota '{"volumes":100}'
assert_status 403 UnauthorizedOperation "carol raises her own quota"

# --- the race: 20 creates at once, a quota of 5 -------------------------------------------------
as_user carol
pids=()
for i in $(seq 1 20); do
  curl -sS --max-time 60 -o "$T/race.$i.body" -w '%{http_code}' -X POST --cacert "$ID_CA" \
    --cert "$ID_CERT" --key "$ID_KEY" -H 'Content-Type: application/json' \
    --data "{\"size\":\"1M\",\"tags\":{\"race\":\"$i\"}}" "$ENDPOINT/v1/volumes" >"$T/race.$i.code" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
ok=0; refused=0
for i in $(seq 1 20); do
  code=$(cat "$T/race.$i.code")
  case "$code" in
    202) ok=$((ok + 1)) ;;
    400) assert_eq VolumeLimitExceeded "$(jq -r .error.code "$T/race.$i.body")" "refused create $i"
         assert_contains "of 5 volumes" "$(jq -r .error.message "$T/race.$i.body")" "the message names the limit"
         refused=$((refused + 1)) ;;
    *) fail "create $i answered $code: $(cat "$T/race.$i.body")" ;;
  esac
done
log "20 concurrent creates against a quota of 5: $ok created, $refused refused"
assert_eq 5 "$ok" "creates that passed"
assert_eq 15 "$refused" "creates refused"
assert_eq 5 "$(count_volumes)" "carol's volumes after the race"

# --- the EC2 face meets the same limits ---------------------------------------------------------
as_aws_user carol
aws_err VolumeLimitExceeded "a sixth volume through the aws CLI" create-volume --size 1 --availability-zone default
assert_eq 5 "$(count_volumes)" "the refused EC2 create made nothing"
as_user carol
api GET /v1/volumes; vol=$(jf '.volumes[0].id')
wait_state volume "$vol" available
aws_ok "one snapshot" create-snapshot --volume-id "$vol"
aws_err SnapshotLimitExceeded "a second snapshot" create-snapshot --volume-id "$vol"
as_user carol; api GET /v1/snapshots
assert_eq 1 "$(jf '.snapshots | length')" "the refused snapshot made nothing"

# --- gigabytes: a resize past the limit is refused and changes nothing ----------------------------
as_user carol
api POST "/v1/volumes/$vol/resize" '{"size":"3G"}'
assert_status 400 VolumeLimitExceeded "a resize past 2 GiB"
get_obj volume "$vol"; assert_field .size 1048576 "the size after the refused resize"
aws_err VolumeLimitExceeded "the same through ModifyVolume" modify-volume --volume-id "$vol" --size 3
vbsc quota; assert_rc 0 "vbs quota after the race"
assert_match "volumes: +5 of 5" "$OUT" "usage counts the 5 volumes"
assert_match "snapshots: +1 of 1" "$OUT" "usage counts the snapshot"
# Freeing a slot lets one more in; putting the default back lifts the limit.
# (A volume counts until it is deleted, so the test waits for that.)
as_user carol; api GET /v1/volumes; victim=$(jf '.volumes[1].id')
wait_state volume "$victim" available
api DELETE "/v1/volumes/$victim"; assert_status 202 "carol deletes a volume"
wait_state volume "$victim" deleted
create_volume 1M
admin_cli admin quota set carol --volumes default; assert_rc 0 "back to the default"
assert_match "volumes: +[0-9]+ of no limit" "$OUT" "no default limit in vbsd dev"
as_user carol; create_volume 1M
