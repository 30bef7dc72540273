#!/usr/bin/env bash
# System test: the native REST API over raw HTTPS (curl + client certificates), the whole
# lifecycle and every kind of bad input, each answered with the exact HTTP status and error
# code of docs/rest-api.md — and after each refusal, nothing changed (same objects, same files).
# The pool is made 1G so that capacity refusals are reachable.
. "$(dirname "$0")/lib.sh"
t_init http_api
vbsd_start --pool-capacity 1G
as_admin

# Everything a refused request must leave alone: objects (with states), the pool's reserved
# bytes, the pool's files. One curl (one TLS handshake) for the three lists, no jq: the
# lists come in a stable order, so their bytes are the fingerprint.
fingerprint() {
  curl -sS --max-time 30 --cacert "$ADMIN_CA" --cert "$ADMIN_CERT" --key "$ADMIN_KEY" \
    "$ENDPOINT/v1/volumes?all=true" "$ENDPOINT/v1/snapshots?all=true" "$ENDPOINT/v1/pools" \
    || fail "fingerprint: the API did not answer"
  echo "$(pool_dir)"/*/*
}
# refused STATUS CODE WHAT METHOD PATH [BODY [CTYPE]]: the call answers STATUS/CODE and
# changes nothing (compared with the state taken before the first refusal: none of these
# requests may change anything).
BASELINE=""
refused() {
  local status=$1 code=$2 what=$3; shift 3
  [ -n "$BASELINE" ] || BASELINE=$(fingerprint)
  api "$@"
  assert_status "$status" "$code" "$what"
  assert_eq "$BASELINE" "$(fingerprint)" "objects and files after a refused request ($what)"
}

# --- lifecycle ---------------------------------------------------------------------------------
api GET /v1/whoami
assert_status 200 "whoami"
assert_field .user admin "whoami user"
assert_field .role admin "whoami role"
api GET /v1/volumes
assert_status 200 "empty list"
assert_field '.volumes | length' 0 "volumes at start"

api POST /v1/volumes '{"size":"16M","tags":{"Name":"web","tier":"gold"}}'
assert_status 202 "create volume"
assert_field .state creating "state in the 202 answer"
assert_field .size 16777216 "size in the 202 answer"
assert_field .owner admin "owner"
assert_field .tags.tier gold "tags"
assert_field .attachments '[]' "attachments"
V1=$(jf .id)
assert_match '^vol-[0-9a-f]{17}$' "$V1" "volume id"
wait_state volume "$V1" available
assert_file "$(vol_file "$V1")" "volume file"
api GET /v1/volumes/"$V1"
assert_status 200 "get volume"
assert_field .state available "state"
assert_field .error null "error of a good volume"
assert_match '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' "$(jf .created_at)" "created_at"

api POST /v1/volumes '{"size":16777216}'
assert_status 202 "create volume with a numeric size"
V2=$(jf .id)
wait_state volume "$V2" available
api GET '/v1/volumes?tag=tier=gold'
assert_field '[.volumes[].id] | join(" ")' "$V1" "list ?tag=tier=gold"
api GET '/v1/volumes?state=available'
assert_field '.volumes | length' 2 "list ?state=available"
api GET /v1/pools
assert_status 200 "pools"
assert_field '.pools[0].capacity' 1073741824 "pool capacity from --pool-capacity 1G"
assert_field '.pools[0].reserved' 33554432 "pool reserved for two 16M volumes"
assert_field '.pools[0].state' up "pool state"
api GET /v1/nodes
assert_status 200 "nodes"
assert_field '.nodes[0].state' up "node state"

write_pattern "$(vol_file "$V1")" 1048576 3000000 http
api POST /v1/snapshots "{\"volume_id\":\"$V1\",\"description\":\"d1\"}"
assert_status 202 "create snapshot"
assert_field .state pending "snapshot state in the 202 answer"
S1=$(jf .id)
assert_match '^snap-[0-9a-f]{17}$' "$S1" "snapshot id"
wait_state snapshot "$S1" completed
assert_field .progress 100 "snapshot progress"
assert_same "$(vol_file "$V1")" "$(snap_file "$S1")" "snapshot vs volume"
api GET "/v1/snapshots?volume_id=$V1"
assert_field '[.snapshots[].id] | join(" ")' "$S1" "snapshot list ?volume_id"

api POST /v1/volumes "{\"snapshot_id\":\"$S1\"}"
assert_status 202 "volume from snapshot"
assert_field .snapshot_id "$S1" "snapshot_id of the clone"
V3=$(jf .id)
wait_state volume "$V3" available
assert_same "$(vol_file "$V1")" "$(vol_file "$V3")" "clone vs volume"

# Grow the clone: 16M → 32M; the file grows, the modification completes (no attachments).
api POST /v1/volumes/"$V3"/resize '{"size":"32M"}'
assert_status 202 "resize volume"
assert_field .state modifying "modification state in the 202 answer"
assert_field .original_size 16777216 "original size"
assert_field .target_size 33554432 "target size"
M1=$(jf .id)
assert_match '^mod-[0-9a-f]{17}$' "$M1" "modification id"
for _ in $(seq 100); do
  api GET /v1/volumes/"$V3"
  [ "$(jf .modification.state)" = completed ] && break
  sleep 0.1
done
assert_field .modification.id "$M1" "latest modification in the volume"
assert_field .modification.state completed "modification state"
assert_field .size 33554432 "size after the resize"
assert_eq 33554432 "$(stat -c %s "$(vol_file "$V3")")" "volume file size after the resize"
api GET /v1/volumes/"$V3"/modifications
assert_status 200 "list modifications"
assert_field '[.modifications[].id] | join(" ")' "$M1" "modifications of the volume"
api GET /v1/volumes/"$V1"
assert_field .modification null "a volume never resized"

api DELETE /v1/volumes/"$V2"
assert_status 202 "delete volume"
assert_match '^(deleting|deleted)$' "$(jf .state)" "state in the delete answer"
wait_state volume "$V2" deleted
api GET /v1/volumes/"$V2"
assert_status 200 "get a deleted volume"
assert_field .state deleted "state of a deleted volume"
assert_no_file "$(vol_file "$V2")" "file of a deleted volume"
api DELETE /v1/volumes/"$V2"
assert_status 202 "delete of a deleted volume (idempotent)"
api GET /v1/volumes
assert_not_contains "$V2" "$BODY" "deleted volume in the plain list"
api GET '/v1/volumes?all=true'
assert_contains "$V2" "$BODY" "deleted volume in ?all=true"

# --- bad sizes ----------------------------------------------------------------------------------
refused 400 InvalidParameterValue "size 0" POST /v1/volumes '{"size":0}'
refused 400 InvalidParameterValue "size \"0\"" POST /v1/volumes '{"size":"0"}'
refused 400 InvalidParameterValue "negative size" POST /v1/volumes '{"size":-1048576}'
refused 400 InvalidParameterValue "negative size string" POST /v1/volumes '{"size":"-1G"}'
refused 400 InvalidParameterValue "non-numeric size" POST /v1/volumes '{"size":"lots"}'
refused 400 InvalidParameterValue "boolean size" POST /v1/volumes '{"size":true}'
refused 400 InvalidParameterValue "fractional size" POST /v1/volumes '{"size":1.5}'
refused 400 InvalidParameterValue "fractional size string" POST /v1/volumes '{"size":"1.5G"}'
refused 400 InvalidParameterValue "size not a multiple of 1 MiB" POST /v1/volumes '{"size":1048577}'
refused 400 InvalidParameterValue "size 1000K" POST /v1/volumes '{"size":"1000K"}'
refused 400 InvalidParameterValue "size 512 bytes" POST /v1/volumes '{"size":512}'
refused 400 InvalidParameterValue "size beyond 64 TiB" POST /v1/volumes '{"size":"65T"}'
refused 400 InvalidParameterValue "size overflowing 64 bits" POST /v1/volumes '{"size":"99999999999999999999"}'
refused 400 MissingParameter "no size" POST /v1/volumes '{}'
refused 409 InsufficientVolumeCapacity "2G in a 1G pool" POST /v1/volumes '{"size":"2G"}'
refused 409 InsufficientVolumeCapacity "1G in a 1G pool already holding 32M" POST /v1/volumes '{"size":"1G"}'
refused 400 InvalidParameterValue "reserved tag key" POST /v1/volumes '{"size":"1M","tags":{"vbs:x":"y"}}'
refused 400 InvalidParameterValue "non-string tag value" POST /v1/volumes '{"size":"1M","tags":{"a":1}}'
refused 400 InvalidParameterValue "volume from a smaller size than the snapshot" POST /v1/volumes "{\"snapshot_id\":\"$S1\",\"size\":\"1M\"}"

# --- resize -----------------------------------------------------------------------------------------
refused 400 InvalidParameterValue "resize to the same size" POST "/v1/volumes/$V1/resize" '{"size":"16M"}'
refused 400 InvalidParameterValue "resize to a smaller size" POST "/v1/volumes/$V1/resize" '{"size":"8M"}'
refused 400 InvalidParameterValue "resize to a size not a multiple of 1 MiB" POST "/v1/volumes/$V1/resize" '{"size":16777217}'
refused 400 InvalidParameterValue "resize to a negative size" POST "/v1/volumes/$V1/resize" '{"size":-1}'
refused 400 InvalidParameterValue "resize to a non-numeric size" POST "/v1/volumes/$V1/resize" '{"size":"big"}'
refused 400 InvalidParameterValue "resize beyond 64 TiB" POST "/v1/volumes/$V1/resize" '{"size":"65T"}'
refused 400 MissingParameter "resize without a size" POST "/v1/volumes/$V1/resize" '{}'
refused 400 UnknownParameter "resize with an unknown field" POST "/v1/volumes/$V1/resize" '{"size":"32M","shrink":true}'
refused 409 InsufficientVolumeCapacity "resize past the pool" POST "/v1/volumes/$V1/resize" '{"size":"2G"}'
refused 409 IncorrectState "resize of a deleted volume" POST "/v1/volumes/$V2/resize" '{"size":"32M"}'
refused 400 InvalidVolumeID.Malformed "resize of a malformed id" POST /v1/volumes/vol-123/resize '{"size":"32M"}'
refused 404 InvalidVolume.NotFound "resize of an unknown volume" POST /v1/volumes/vol-00000000000000000/resize '{"size":"32M"}'
refused 404 InvalidVolume.NotFound "modifications of an unknown volume" GET /v1/volumes/vol-00000000000000000/modifications
refused 405 MethodNotAllowed "GET .../resize" GET "/v1/volumes/$V1/resize"

# --- ids ------------------------------------------------------------------------------------------
for id in vol-123 vol-0123456789ABCDEF0 vol-0123456789abcdef01 snap-0123456789abcdef0 x; do
  refused 400 InvalidVolumeID.Malformed "GET malformed id $id" GET "/v1/volumes/$id"
  refused 400 InvalidVolumeID.Malformed "DELETE malformed id $id" DELETE "/v1/volumes/$id"
done
# ../x inside the URL: the server percent-decodes the whole path before routing, so
# /v1/volumes/..%2Fx is "no such endpoint" (404 NotFound) rather than the volume id "../x"
# (400 InvalidVolumeID.Malformed) — either refuses and touches nothing (reported upstream).
for p in "/v1/volumes/..%2Fx" "/v1/volumes/..%2F..%2Fmeta.db"; do
  for m in GET DELETE; do
    api $m "$p"
    [[ "$CODE $(jf '.error.code')" =~ ^(400\ InvalidVolumeID.Malformed|404\ NotFound)$ ]] ||
      fail "$m $p: expected 400 InvalidVolumeID.Malformed (or 404 NotFound), got $CODE $BODY"
    assert_eq "$BASELINE" "$(fingerprint)" "objects and files after $m $p"
  done
done
refused 400 InvalidVolumeID.Malformed "GET ..x" GET "/v1/volumes/..x"
refused 400 InvalidVolumeID.Malformed "snapshot of ../x" POST /v1/snapshots '{"volume_id":"../x"}'
refused 400 InvalidVolumeID.Malformed "snapshot of vol-123" POST /v1/snapshots '{"volume_id":"vol-123"}'
refused 400 InvalidSnapshotID.Malformed "GET malformed snapshot id" GET /v1/snapshots/snap-1
refused 400 InvalidSnapshotID.Malformed "volume from ../x" POST /v1/volumes '{"snapshot_id":"../x"}'
refused 400 MissingParameter "snapshot without volume_id" POST /v1/snapshots '{}'
refused 404 InvalidVolume.NotFound "GET unknown id" GET /v1/volumes/vol-00000000000000000
refused 404 InvalidVolume.NotFound "DELETE unknown id" DELETE /v1/volumes/vol-fffffffffffffffff
refused 404 InvalidVolume.NotFound "snapshot of unknown volume" POST /v1/snapshots '{"volume_id":"vol-00000000000000001"}'
refused 404 InvalidSnapshot.NotFound "GET unknown snapshot" GET /v1/snapshots/snap-00000000000000000
refused 404 InvalidSnapshot.NotFound "DELETE unknown snapshot" DELETE /v1/snapshots/snap-00000000000000000
refused 404 InvalidSnapshot.NotFound "volume from unknown snapshot" POST /v1/volumes '{"snapshot_id":"snap-00000000000000000"}'
refused 409 IncorrectState "snapshot of a deleted volume" POST /v1/snapshots "{\"volume_id\":\"$V2\"}"

# --- bodies, media types, routes, methods -------------------------------------------------------
refused 400 MalformedJSON "malformed JSON" POST /v1/volumes '{"size":'
refused 400 MalformedJSON "not JSON at all" POST /v1/volumes 'size=1G'
refused 400 MalformedJSON "JSON array body" POST /v1/volumes '[{"size":"1G"}]'
refused 400 MalformedJSON "JSON string body" POST /v1/volumes '"1G"'
refused 400 UnknownParameter "unknown field" POST /v1/volumes '{"size":"1M","colour":"red"}'
refused 400 UnknownParameter "unknown snapshot field" POST /v1/snapshots "{\"volume_id\":\"$V1\",\"x\":1}"
refused 400 UnknownParameter "unknown query parameter" GET '/v1/volumes?colour=red'
refused 415 UnsupportedMediaType "text/plain body" POST /v1/volumes '{"size":"1M"}' text/plain
refused 415 UnsupportedMediaType "form body" POST /v1/volumes '{"size":"1M"}' application/x-www-form-urlencoded
{ printf '{"size":"1M","tags":{"a":"'; head -c 1100000 /dev/zero | tr '\0' x; printf '"}}'; } >"$T/big.json"
refused 413 RequestTooLarge "body over 1 MiB" POST /v1/volumes "@$T/big.json"
refused 404 NotFound "unknown path" GET /v1/nothing
refused 404 NotFound "unknown path under volumes" GET "/v1/volumes/$V1/nothing"
refused 404 NotFound "unversioned path" GET /volumes
refused 405 MethodNotAllowed "PUT /v1/volumes" PUT /v1/volumes '{"size":"1M"}'
refused 405 MethodNotAllowed "PATCH a volume" PATCH "/v1/volumes/$V1" '{}'
refused 405 MethodNotAllowed "DELETE /v1/volumes" DELETE /v1/volumes

# --- certificates and roles -----------------------------------------------------------------------
ID_CERT=""; ID_KEY=""
refused 401 MissingClientCertificate "no client certificate" GET /v1/volumes
refused 401 MissingClientCertificate "no client certificate, create" POST /v1/volumes '{"size":"1M"}'
# A certificate from another CA, with the admin's very subject.
o=$T/other; mkdir -p "$o"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$o/ca.key" -out "$o/ca.crt" -days 2 \
  -subj "/CN=Other CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$o/admin.key" -out "$o/admin.csr" \
  -subj "/OU=admin/CN=admin" 2>/dev/null
openssl x509 -req -in "$o/admin.csr" -CA "$o/ca.crt" -CAkey "$o/ca.key" -CAcreateserial \
  -out "$o/admin.crt" -days 2 2>/dev/null
ID_CERT=$o/admin.crt; ID_KEY=$o/admin.key; ID_CA=$ADMIN_CA
refused 401 InvalidClientCertificate "certificate from another CA" GET /v1/volumes
refused 401 InvalidClientCertificate "another CA, create" POST /v1/volumes '{"size":"1M"}'

as_admin
api POST /v1/users '{"name":"carol"}'
assert_status 201 "create user carol"
assert_field .user carol "new user name"
assert_field .role user "new user role"
mkdir -p "$T/creds"
jq -j .cert_pem <<<"$BODY" >"$T/creds/carol.crt"; jq -j .key_pem <<<"$BODY" >"$T/creds/carol.key"
 jq -j .ca_pem <<<"$BODY" >"$T/creds/ca.crt"
chmod 600 "$T/creds/carol.key"
assert_eq "$(sha256sum <"$ADMIN_CA")" "$(sha256sum <"$T/creds/ca.crt")" "ca_pem is the deployment CA"
refused 409 UserAlreadyExists "duplicate user" POST /v1/users '{"name":"carol"}'
as_user carol
api GET /v1/whoami
assert_status 200 "carol's whoami"
assert_field .user carol "carol's whoami"
assert_field .role user "carol's role"
refused 403 UnauthorizedOperation "user calling GET /v1/users" GET /v1/users
refused 403 UnauthorizedOperation "user calling POST /v1/users" POST /v1/users '{"name":"mallory"}'
refused 403 UnauthorizedOperation "user calling GET /v1/pools" GET /v1/pools
refused 403 UnauthorizedOperation "user calling force-state" POST "/v1/volumes/$V1/force-state" '{"state":"error"}'
refused 403 UnauthorizedOperation "user calling an agent endpoint" GET '/v1/agent/work?since=0&wait=0'
refused 404 InvalidVolume.NotFound "carol resizing admin's volume" POST "/v1/volumes/$V1/resize" '{"size":"32M"}'
refused 404 InvalidVolume.NotFound "carol listing admin's modifications" GET "/v1/volumes/$V1/modifications"
api GET /v1/volumes
assert_status 200 "carol lists her volumes"
assert_field '.volumes | length' 0 "carol sees none of admin's volumes"

"$VBSD" pki issue --pki-dir "$DATA/pki" --role node --name n9 --out-dir "$T/creds" >/dev/null
as_user n9
refused 403 UnauthorizedOperation "node cert calling GET /v1/volumes" GET /v1/volumes
refused 403 UnauthorizedOperation "node cert creating a volume" POST /v1/volumes '{"size":"1M"}'
refused 403 UnauthorizedOperation "node cert calling GET /v1/users" GET /v1/users

# --- the good objects are intact after all of that -------------------------------------------------
as_admin
for v in "$V1" "$V3"; do
  api GET "/v1/volumes/$v"
  assert_field .state available "state of $v at the end"
done
api GET "/v1/snapshots/$S1"
assert_field .state completed "snapshot state at the end"
assert_same "$(vol_file "$V1")" "$(snap_file "$S1")" "snapshot still equals its volume"
api DELETE "/v1/snapshots/$S1"
assert_status 202 "delete snapshot"
wait_state snapshot "$S1" deleted
assert_no_file "$(snap_file "$S1")" "snapshot file after delete"
