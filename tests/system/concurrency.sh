#!/usr/bin/env bash
# System test: capacity is reserved in the same transaction as the create, so concurrent
# creates never over-commit. A 100M pool; 40 concurrent creates of 7M: exactly 14 are
# accepted (202) and 26 refused with 409 InsufficientVolumeCapacity; the pool's reserved bytes
# equal the sum of the live volumes' sizes. Deletes give the capacity back, and a second
# concurrent wave again fills it exactly.
. "$(dirname "$0")/lib.sh"
t_init concurrency
MiB=1048576
vbsd_start --pool-capacity 100M
as_admin
make_user u1
make_user u2

# burst N SIZE: N creates at once (half as u1, half as u2); codes in $T/burst/*.
burst() {
  local n=$1 size=$2 pids=()
  rm -rf "$T/burst"; mkdir -p "$T/burst"
  for i in $(seq 1 "$n"); do
    local u=u$((i % 2 + 1))
    curl -sS --max-time 60 --cacert "$T/creds/ca.crt" --cert "$T/creds/$u.crt" \
      --key "$T/creds/$u.key" -H 'Content-Type: application/json' \
      --data-binary "{\"size\":\"$size\",\"tags\":{\"n\":\"$i\"}}" \
      -o "$T/burst/$i.body" -w '%{http_code}' "$ENDPOINT/v1/volumes" >"$T/burst/$i.code" \
      2>"$T/burst/$i.err" &
    pids+=($!)
  done
  T_PIDS+=("${pids[@]}")
  for p in "${pids[@]}"; do wait "$p" || true; done
  T_PIDS=()
}
count_code() { grep -lx "$1" "$T"/burst/*.code 2>/dev/null | wc -l; }
check_burst() {  # N_OK N_REFUSED WHAT
  local ok refused other
  ok=$(count_code 202); refused=$(count_code 409)
  other=$(grep -Lx -e 202 -e 409 "$T"/burst/*.code | while read -r f; do
    echo "$(basename "$f" .code): $(cat "$f") $(cat "${f%.code}.body" "${f%.code}.err")"; done)
  assert_eq "" "$other" "$3: answers other than 202/409"
  assert_eq "$1" "$ok" "$3: accepted (202)"
  assert_eq "$2" "$refused" "$3: refused (409)"
  for f in $(grep -lx 409 "$T"/burst/*.code); do
    assert_eq InsufficientVolumeCapacity "$(jq -r .error.code "${f%.code}.body")" "$3: code of refusal $(basename "$f")"
  done
}
# check_accounting WHAT: reserved == sum of the live volumes' sizes <= capacity
check_accounting() {
  as_admin
  api GET '/v1/volumes?all=true'
  local live
  live=$(jq '[.volumes[] | select(.state != "deleted") | .size] | add // 0' <<<"$BODY")
  api GET /v1/pools
  local cap reserved
  cap=$(jf '.pools[0].capacity'); reserved=$(jf '.pools[0].reserved')
  assert_eq $((100 * MiB)) "$cap" "$1: capacity"
  [ "$live" -le "$cap" ] || fail "$1: over-committed: live volumes hold $live bytes in a $cap-byte pool"
  assert_eq "$live" "$reserved" "$1: reserved vs the sum of the live volumes"
}

# --- wave 1: 40 x 7M into 100M -----------------------------------------------------------------
burst 40 7M
check_burst 14 26 "wave 1 (40 x 7M in 100M)"
check_accounting "after wave 1"
api GET /v1/volumes
assert_field '.volumes | length' 14 "volumes after wave 1"
ids=$(jf '.volumes[].id')
for id in $ids; do wait_state volume "$id" available; done
for id in $ids; do
  assert_eq $((7 * MiB)) "$(stat -c %s "$(vol_file "$id")")" "file size of $id"
done
assert_eq 14 "$(ls "$(pool_dir)/volumes" | wc -l)" "volume files after wave 1"
api GET /v1/pools
assert_field '.pools[0].reserved' $((98 * MiB)) "reserved after wave 1 (14 x 7M)"
# Full: even 3M more does not fit (2M does).
api POST /v1/volumes '{"size":"3M"}'
assert_status 409 InsufficientVolumeCapacity "3M into the 2M that is left"

# --- concurrent deletes give the capacity back ---------------------------------------------------
del=$(head -7 <<<"$ids")
pids=()
for id in $del; do
  curl -sS --max-time 60 --cacert "$ADMIN_CA" --cert "$ADMIN_CERT" --key "$ADMIN_KEY" -X DELETE \
    -o /dev/null -w '%{http_code}\n' "$ENDPOINT/v1/volumes/$id" >>"$T/deletes" 2>&1 &
  pids+=($!)
done
T_PIDS+=("${pids[@]}")
for p in "${pids[@]}"; do wait "$p" || true; done
T_PIDS=()
assert_eq "202 202 202 202 202 202 202" "$(tr '\n' ' ' <"$T/deletes" | sed 's/ $//')" "concurrent deletes"
for id in $del; do wait_state volume "$id" deleted; assert_no_file "$(vol_file "$id")" "file of $id"; done
check_accounting "after the deletes"
api GET /v1/pools
assert_field '.pools[0].reserved' $((49 * MiB)) "reserved after deleting 7 of 14"

# --- wave 2: 20 x 7M into the 51M now free -------------------------------------------------------
burst 20 7M
check_burst 7 13 "wave 2 (20 x 7M in 51M free)"
check_accounting "after wave 2"
api GET /v1/volumes
for id in $(jf '.volumes[].id'); do wait_state volume "$id" available; done
assert_eq 14 "$(ls "$(pool_dir)/volumes" | wc -l)" "volume files after wave 2"

# --- wave 3: mixed sizes, 30 at once, into the 2M left: only 1M and 2M creates can fit -----------
rm -rf "$T/burst"; mkdir -p "$T/burst"
pids=()
for i in $(seq 1 30); do
  size=$(( (i % 3) + 1 ))M
  curl -sS --max-time 60 --cacert "$ADMIN_CA" --cert "$ADMIN_CERT" --key "$ADMIN_KEY" \
    -H 'Content-Type: application/json' --data-binary "{\"size\":\"$size\"}" \
    -o "$T/burst/$i.body" -w '%{http_code}' "$ENDPOINT/v1/volumes" >"$T/burst/$i.code" 2>&1 &
  pids+=($!)
done
T_PIDS+=("${pids[@]}")
for p in "${pids[@]}"; do wait "$p" || true; done
T_PIDS=()
check_accounting "after wave 3"
api GET /v1/pools
r=$(jf '.pools[0].reserved')
[ "$r" -ge $((99 * MiB)) ] || fail "wave 3: the 2M left should be (at least half) used, reserved is $r"
ok3=$(count_code 202)
[ "$ok3" -ge 1 ] && [ "$ok3" -le 2 ] || fail "wave 3: expected 1 or 2 creates to fit in 2M, got $ok3"
