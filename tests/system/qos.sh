#!/usr/bin/env bash
# Volume QoS, end to end through a real NBD client (fio's nbd engine on host-local): an io2
# volume with 1000 IOPS stays near 1000 while an unlimited (standard) neighbour on the same
# node runs far above it at the same time; `vbs volume modify --iops 3000 --wait` changes the
# limit of the attached volume online (same attachment, no reconnect needed; a client running
# through the change sees no error) and the next run gets ~3000; a gp3 volume with
# --throughput 50 writes 1M blocks at ~50 MiB/s. Bad limits are refused with EC2's codes and
# change nothing.
# Timing is asserted only loosely: a limited run at most 15 % above its limit and at least
# half of it (the limit must not collapse); the neighbour against its own baseline and a
# floor far above the limit. Requests are delayed, never failed: every fio run ends with error 0.
. "$(dirname "$0")/lib.sh"
t_init qos
command -v fio >/dev/null || fail "fio is missing after scripts/install-deps.sh system"
fio --enghelp=nbd >/dev/null 2>&1 || fail "this fio has no nbd engine"

SECS=5          # per fio run
SLACK=1.15      # a limited run may measure at most this much of its limit
FLOOR=0.5       # ... and at least this much
NEIGHBOUR_MIN=5000   # IOPS the unlimited neighbour must beat next to the 1000-IOPS volume
                     # (this 2-core machine gives ~40k; busy with a compile, still >> 5000)

# fio_run NAME URI RW BS QD: fio's nbd engine for SECS seconds; JSON in $T/fio.NAME.json
fio_run() {
  local name=$1 uri=$2 rw=$3 bs=$4 qd=$5
  (cd "$T" && fio --name="$name" --ioengine=nbd --uri="$uri" --rw="$rw" --bs="$bs" \
    --iodepth="$qd" --time_based --runtime="$SECS" --size=1G --norandommap --randrepeat=0 \
    --output-format=json >"$T/fio.$name.raw" 2>"$T/fio.$name.err") ||
    fail "fio $name ($rw $bs qd$qd on $uri) failed: $(cat "$T/fio.$name.err" "$T/fio.$name.raw")"
  # fio's nbd engine prints "fio: connected to NBD server" on stdout before the JSON
  sed -n '/^{/,$p' "$T/fio.$name.raw" >"$T/fio.$name.json"
  local err
  err=$(jq -r '.jobs[0].error' "$T/fio.$name.json") || fail "fio $name: no JSON: $(cat "$T/fio.$name.raw")"
  [ "$err" = 0 ] || fail "fio $name: requests failed (error $err): $(cat "$T/fio.$name.err")"
}
# fio_iops NAME DIR / fio_mibs NAME DIR (DIR read|write): integer results of a run
fio_iops() { jq -r ".jobs[0].$2.iops | floor" "$T/fio.$1.json"; }
fio_mibs() { jq -r ".jobs[0].$2.bw_bytes / 1048576 | floor" "$T/fio.$1.json"; }
# within GOT LIMIT WHAT: FLOOR*LIMIT <= GOT <= SLACK*LIMIT
within() {
  local got=$1 limit=$2 what=$3 lo hi
  lo=$(jq -n "$limit * $FLOOR | floor"); hi=$(jq -n "$limit * $SLACK | floor")
  [ "$got" -le "$hi" ] || fail "$what: $got is above the limit $limit (allowed up to $hi)"
  [ "$got" -ge "$lo" ] || fail "$what: $got is far below the limit $limit (expected >= $lo)"
  log "$what: $got (limit $limit)"
}
attach_uri() {  # VOL: attach rw to host-local, wait; sets URI
  vbsc -o json attach "$1" host-local --wait
  assert_rc 0 "vbs attach $1 host-local --wait"
  assert_eq attached "$(jf .state "$OUT")" "attachment of $1"
  URI=$(jf .nbd_uri "$OUT")
  assert_match '^nbd\+unix:///vbs-[0-9a-f]+\?socket=/' "$URI" "nbd_uri of $1"
}
volume_count() {
  vbsc -o json volume list
  assert_rc 0 "volume list"
  jq length <<<"$OUT"
}

vbsd_start
make_user alice
allow_on_node local alice   # host-local is for admins and allowed users
as_user alice

# --- io2 at 1000 IOPS next to an unlimited neighbour ------------------------------------------
# A is 8 GiB so that 3000 IOPS (the modify below) is within io2's 500 per GiB.
vbsc -o json volume create --size 8G --type io2 --iops 1000 --name limited --wait
assert_rc 0 "volume create --type io2 --iops 1000"
A=$(jf .id "$OUT")
assert_eq io2 "$(jf .volume_type "$OUT")" "A's type"
assert_eq 1000 "$(jf .iops "$OUT")" "A's iops"
vbsc -o json volume create --size 2G --name neighbour --wait
assert_rc 0 "volume create (standard)"
B=$(jf .id "$OUT")
assert_eq standard "$(jf .volume_type "$OUT")" "B's type (the default)"
assert_eq null "$(jf .iops "$OUT")" "B has no IOPS limit"
vbsc volume show "$A"
assert_match 'type: +io2, 1000 IOPS' "$OUT" "volume show of A"

attach_uri "$A"; UA=$URI
attach_uri "$B"; UB=$URI

log "4k randread qd32, ${SECS}s: A alone, B alone, then both at once"
fio_run a_alone "$UA" randread 4k 32
within "$(fio_iops a_alone read)" 1000 "A (io2, 1000 IOPS) alone"
fio_run b_alone "$UB" randread 4k 32
b_alone=$(fio_iops b_alone read)
log "B (standard) alone: $b_alone IOPS"
[ "$b_alone" -ge "$NEIGHBOUR_MIN" ] ||
  fail "the unlimited volume alone gives only $b_alone IOPS (< $NEIGHBOUR_MIN): machine too slow or throttled?"

fio_run a_both "$UA" randread 4k 32 &
pa=$!
T_PIDS+=("$pa")
fio_run b_both "$UB" randread 4k 32
wait "$pa" || fail "fio on A (next to B) failed"
a_both=$(fio_iops a_both read)
b_both=$(fio_iops b_both read)
within "$a_both" 1000 "A next to B"
log "B next to A: $b_both IOPS (alone: $b_alone)"
[ "$b_both" -ge "$NEIGHBOUR_MIN" ] ||
  fail "B next to the limited A: $b_both IOPS, expected far above A's 1000 (>= $NEIGHBOUR_MIN)"
# Unaffected: B keeps at least a quarter of its own baseline while sharing the 2 cores with
# a second fio (A's fio is mostly idle: its requests wait for tokens).
[ $((b_both * 4)) -ge "$b_alone" ] ||
  fail "B next to A: $b_both IOPS, less than a quarter of its $b_alone alone"

# --- modify online: 1000 -> 3000 on the same attachment ---------------------------------------
log "volume modify A --iops 3000 --wait while fio runs on A"
SECS=6 fio_run a_during "$UA" randread 4k 32 &
pa=$!
T_PIDS+=("$pa")
sleep 2
vbsc -o json volume modify "$A" --iops 3000 --wait
assert_rc 0 "volume modify --iops 3000 --wait of the attached A"
assert_eq completed "$(jf .state "$OUT")" "modification state after --wait"
assert_eq 1000 "$(jf .original_iops "$OUT")" "modification original_iops"
assert_eq 3000 "$(jf .target_iops "$OUT")" "modification target_iops"
MOD=$(jf .id "$OUT")
wait "$pa" || fail "fio on A during the modify failed"
# The run spanned the change: between the old and the new limit over its whole length.
a_during=$(fio_iops a_during read)
if [ "$a_during" -gt $((3000 * 115 / 100)) ] || [ "$a_during" -lt 500 ]; then
  fail "A during the modify: $a_during IOPS, expected between 500 and 3450"
fi
log "A across the modify: $a_during IOPS"

vbsc -o json volume show "$A"
assert_rc 0 "volume show A -o json"
assert_eq 3000 "$(jf .iops "$OUT")" "A's iops after modify"
assert_eq io2 "$(jf .volume_type "$OUT")" "A's type after modify"
assert_eq in-use "$(jf .state "$OUT")" "A still attached after modify"
assert_eq "$UA" "$(jf '.attachments[0].nbd_uri' "$OUT")" "A's attachment unchanged by modify"
assert_eq "$MOD" "$(jf .modification.id "$OUT")" "A's last modification"
assert_eq completed "$(jf .modification.state "$OUT")" "A's last modification state"
vbsc volume show "$A"
assert_match 'type: +io2, 3000 IOPS' "$OUT" "volume show of A after modify"

fio_run a_3000 "$UA" randread 4k 32
within "$(fio_iops a_3000 read)" 3000 "A after modify (io2, 3000 IOPS, same attachment)"

# --- gp3 throughput 50 MiB/s -------------------------------------------------------------------
vbsc -o json volume create --size 2G --type gp3 --throughput 50 --name tput --wait
assert_rc 0 "volume create --type gp3 --throughput 50"
C=$(jf .id "$OUT")
assert_eq gp3 "$(jf .volume_type "$OUT")" "C's type"
assert_eq 3000 "$(jf .iops "$OUT")" "C's iops (gp3 default)"
assert_eq 50 "$(jf .throughput "$OUT")" "C's throughput"
vbsc volume show "$C"
assert_match 'type: +gp3, 3000 IOPS, 50 MiB/s' "$OUT" "volume show of C"
attach_uri "$C"; UC=$URI
log "1M seqwrite qd8 on C (gp3, 50 MiB/s)"
fio_run c_write "$UC" write 1M 8
within "$(fio_mibs c_write write)" 50 "C (gp3, 50 MiB/s) 1M seqwrite MiB/s"

# --- refusals: EC2's codes, nothing created or changed -----------------------------------------
n=$(volume_count)
# refuse CODE WHAT ARGS...: vbs ARGS fails with "error: CODE:" (exit 1), volume count the same
refuse() {
  local code=$1 what=$2; shift 2
  vbsc "$@"
  assert_rc 1 "$what"
  assert_contains "error: $code:" "$ERR" "$what"
  assert_eq "$n" "$(volume_count)" "volume count after: $what"
}
refuse InvalidParameterCombination "--iops on standard" volume create --size 2G --iops 1000
refuse InvalidParameterCombination "--iops on --type standard" \
  volume create --size 2G --type standard --iops 1000
refuse InvalidParameterCombination "io2 without --iops" volume create --size 2G --type io2
refuse InvalidParameterValue "io2 --iops 64001" volume create --size 200G --type io2 --iops 64001
refuse InvalidParameterValue "io2 --iops 2000 on 2G (> 500/GiB)" \
  volume create --size 2G --type io2 --iops 2000
refuse InvalidParameterValue "io2 --iops 0" volume create --size 2G --type io2 --iops 0
refuse InvalidParameterValue "io2 --iops -5" volume create --size 2G --type io2 --iops -5
refuse InvalidParameterValue "gp3 --iops 0" volume create --size 2G --type gp3 --iops 0
refuse InvalidParameterValue "--type nope" volume create --size 2G --type nope
refuse InvalidParameterValue "gp3 --throughput 1001" \
  volume create --size 2G --type gp3 --throughput 1001

vbsc volume modify "$A"
assert_rc 2 "volume modify with nothing to change (usage error)"
refuse InvalidParameterValue "modify A --iops 999999" volume modify "$A" --iops 999999
refuse InvalidParameterValue "modify A --iops 0" volume modify "$A" --iops 0
refuse InvalidParameterValue "modify A --type nope" volume modify "$A" --type nope
refuse InvalidParameterCombination "modify io2 A --throughput 50" \
  volume modify "$A" --throughput 50
vbsc -o json volume show "$A"
assert_eq io2 "$(jf .volume_type "$OUT")" "A's type after the refused modifies"
assert_eq 3000 "$(jf .iops "$OUT")" "A's iops after the refused modifies"
assert_eq "$MOD" "$(jf .modification.id "$OUT")" "A's last modification after the refusals"

# The limit in force on the attachment is still 3000 after the refusals (short run, same bounds).
SECS=3 fio_run a_after "$UA" randread 4k 32
within "$(fio_iops a_after read)" 3000 "A after the refused modifies"

for v in "$A" "$B" "$C"; do
  vbsc detach "$v" --wait
  assert_rc 0 "detach $v"
  vbsc volume delete "$v" --wait
  assert_rc 0 "delete $v"
done
