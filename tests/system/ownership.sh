#!/usr/bin/env bash
# System test: per-user ownership. The admin enrols alice and bob with `vbs admin user create`
# (private key 0600); alice's volume and snapshot are invisible to bob — 404 exactly like an id
# that does not exist, never 403 — on every call that names them, and absent from his lists;
# the admin sees everything; bob's attempts change nothing of alice's. Private keys are 0600.
. "$(dirname "$0")/lib.sh"
t_init ownership
vbsd_start
as_admin

# --- secrets at rest: 0600 (design §8) ---------------------------------------------------------
for f in "$DATA"/pki/*.key "$DATA/vbs.env"; do
  assert_eq 600 "$(stat -c %a "$f")" "mode of ${f#"$DATA"/}"
done
[ "$(ls "$DATA"/pki/*.key | wc -l)" -ge 4 ] || fail "expected ca, server, admin and node keys in $DATA/pki"

# --- enrolment ---------------------------------------------------------------------------------
make_user alice
make_user bob
for u in alice bob; do
  assert_file "$T/creds/$u.crt" "$u's certificate"
  assert_eq 600 "$(stat -c %a "$T/creds/$u.key")" "mode of $u's private key"
  subj=$(openssl x509 -in "$T/creds/$u.crt" -noout -subject -nameopt RFC2253)
  assert_contains "CN=$u" "$subj" "subject of $u's certificate"
  openssl verify -CAfile "$ADMIN_CA" "$T/creds/$u.crt" >/dev/null 2>&1 ||
    fail "$u's certificate does not verify against the deployment CA"
done
assert_eq "$(sha256sum <"$ADMIN_CA")" "$(sha256sum <"$T/creds/ca.crt")" "ca.crt written for users"
assert_contains "export VBS_CERT=" "$OUT" "user create prints the export lines"
assert_not_contains "PRIVATE KEY" "$OUT$ERR" "user create never prints the private key"

vbsc -o json admin user list
assert_rc 0 "admin user list"
assert_eq "alice bob" "$(jq -r '[.[] | select(.role=="user") | .name] | sort | join(" ")' <<<"$OUT")" "users listed"

# Duplicate: through the CLI (exit 1, code on stderr) and raw (409 UserAlreadyExists).
mkdir -p "$T/dup"
vbsc admin user create alice --out-dir "$T/dup"
assert_rc 1 "duplicate vbs admin user create"
assert_contains UserAlreadyExists "$ERR" "stderr of a duplicate user create"
assert_no_file "$T/dup/alice.key" "no key written for a refused duplicate"
api POST /v1/users '{"name":"bob"}'
assert_status 409 UserAlreadyExists "duplicate POST /v1/users"
# alice's certificate still works after the refused duplicate
as_user alice
vbsc whoami
assert_rc 0 "alice whoami"
assert_contains alice "$OUT" "whoami output"

# --- alice's objects -------------------------------------------------------------------------
vbsc -o json volume create --size 8M --name alice-data --wait
assert_rc 0 "alice creates a volume"
AV=$(jf .id "$OUT")
assert_eq alice "$(jf .owner "$OUT")" "owner of alice's volume"
write_pattern "$(vol_file "$AV")" 12345 200000 alice
vbsc -o json snapshot create "$AV" --wait
assert_rc 0 "alice snapshots her volume"
AS=$(jf .id "$OUT")
assert_eq alice "$(jf .owner "$OUT")" "owner of alice's snapshot"
assert_same "$(vol_file "$AV")" "$(snap_file "$AS")" "alice's snapshot"
api GET "/v1/volumes/$AV"; AV_JSON=$BODY
api GET "/v1/snapshots/$AS"; AS_JSON=$BODY
AV_SUM=$(sha256sum <"$(vol_file "$AV")")

# --- bob: 404 for every call naming alice's ids, nothing in his lists ---------------------------
as_user bob
vbsc -o json volume create --size 4M --name bob-data --wait
assert_rc 0 "bob creates his own volume"
BV=$(jf .id "$OUT")

api GET "/v1/volumes/$AV"
assert_status 404 InvalidVolume.NotFound "bob GETs alice's volume"
unknown_body=$(sed "s/$AV/ID/" <<<"$BODY")
api GET /v1/volumes/vol-00000000000000000
assert_eq "$unknown_body" "$(sed "s/vol-00000000000000000/ID/" <<<"$BODY")" \
  "bob's answer for alice's id vs for a missing id (no leak of existence)"
api DELETE "/v1/volumes/$AV"
assert_status 404 InvalidVolume.NotFound "bob DELETEs alice's volume"
api POST /v1/snapshots "{\"volume_id\":\"$AV\"}"
assert_status 404 InvalidVolume.NotFound "bob snapshots alice's volume"
api GET "/v1/snapshots/$AS"
assert_status 404 InvalidSnapshot.NotFound "bob GETs alice's snapshot"
api DELETE "/v1/snapshots/$AS"
assert_status 404 InvalidSnapshot.NotFound "bob DELETEs alice's snapshot"
api POST /v1/volumes "{\"snapshot_id\":\"$AS\"}"
assert_status 404 InvalidSnapshot.NotFound "bob makes a volume from alice's snapshot"
api POST /v1/volumes "{\"snapshot_id\":\"$AS\",\"size\":\"64M\"}"
assert_status 404 InvalidSnapshot.NotFound "bob makes a bigger volume from alice's snapshot"
api GET "/v1/snapshots?volume_id=$AV"
assert_status 200 "bob lists snapshots of alice's volume id"
assert_field '.snapshots | length' 0 "bob's snapshot list filtered by alice's volume"
for q in "" "?all=true" "?state=available" "?tag=Name=alice-data"; do
  api GET "/v1/volumes$q"
  assert_status 200 "bob lists volumes$q"
  assert_not_contains "$AV" "$BODY" "bob's volume list$q"
done
api GET /v1/volumes
assert_field '[.volumes[].id] | join(" ")' "$BV" "bob's list holds exactly his volume"
api GET '/v1/snapshots?all=true'
assert_field '.snapshots | length' 0 "bob's snapshot list"
# the CLI says the same
vbsc volume show "$AV"
assert_rc 1 "vbs volume show of alice's volume as bob"
assert_contains InvalidVolume.NotFound "$ERR" "CLI error for alice's volume as bob"
vbsc snapshot delete "$AS"
assert_rc 1 "vbs snapshot delete of alice's snapshot as bob"
vbsc -o json volume list --all
assert_eq "$BV" "$(jq -r '[.[].id] | join(" ")' <<<"$OUT")" "bob's vbs volume list --all"

# --- alice sees only hers; the admin sees both ---------------------------------------------------
as_user alice
api GET '/v1/volumes?all=true'
assert_field '[.volumes[].id] | join(" ")' "$AV" "alice's list"
api GET "/v1/volumes/$BV"
assert_status 404 InvalidVolume.NotFound "alice GETs bob's volume"
as_admin
api GET /v1/volumes
assert_field '[.volumes[].id] | sort | join(" ")' "$(printf '%s\n' "$AV" "$BV" | sort | tr '\n' ' ' | sed 's/ $//')" "admin's list holds both"
assert_field "[.volumes[] | select(.id==\"$BV\") | .owner] | join(\"\")" bob "owner of bob's volume as admin sees it"
api GET "/v1/snapshots/$AS"
assert_status 200 "admin GETs alice's snapshot"
assert_field .owner alice "owner seen by the admin"

# --- alice's objects are unchanged -------------------------------------------------------------
as_user alice
api GET "/v1/volumes/$AV"
assert_eq "$AV_JSON" "$BODY" "alice's volume after bob's attempts"
api GET "/v1/snapshots/$AS"
assert_eq "$AS_JSON" "$BODY" "alice's snapshot after bob's attempts"
assert_eq "$AV_SUM" "$(sha256sum <"$(vol_file "$AV")")" "alice's data after bob's attempts"
assert_same "$(vol_file "$AV")" "$(snap_file "$AS")" "alice's snapshot file after bob's attempts"
n=$(ls "$(pool_dir)/volumes" | wc -l)
assert_eq 2 "$n" "volume files (alice's + bob's; bob's attempts created none)"
# and alice can still use all of it
vbsc -o json volume create --snapshot "$AS" --wait
assert_rc 0 "alice clones her snapshot"
assert_eq "$AV_SUM" "$(sha256sum <"$(vol_file "$(jf .id "$OUT")")")" "alice's clone"
vbsc volume delete "$AV" --wait
assert_rc 0 "alice deletes her volume"
assert_no_file "$(vol_file "$AV")" "alice's deleted volume file"
# nothing secret in the service's log
if grep -l "PRIVATE KEY" "$T"/vbsd.*.log; then fail "a private key was logged"; fi
