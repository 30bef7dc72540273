#!/usr/bin/env bash
# Security test: an NBD export opens only for its consumer (design.md §6). `vbsd dev` serves
# every attachment on one unix socket (mode 0666); knowing an export's name must not be enough.
# Each attack uses a real client and shows both the refusal at the handshake and that nothing
# was read or written (a pattern written by the rightful consumer is unchanged and the volume
# file is byte-identical afterwards); each has a positive control with the same tool.
#
#   1. NBD_OPT_LIST (nbdinfo --list, raw) on the agent socket: ERR_POLICY, no names, for root
#      and for another uid; nbdinfo --list does list a plain `vbsd nbd-serve` socket
#   2. host attachment, default uid 0: uid 65534 with the exact nbd_uri is refused (qemu-io
#      read and write, nbdinfo, raw GO/INFO/META/EXPORT_NAME); root reads it fine
#   3. host attachment --uid 65534: that uid reads and writes through the printed nbd_uri,
#      root is refused; `vbs attach` and `vbs volume show -o json` report uid 65534
#   4. 200 random names vbs-<32 hex> (libnbd) per uid: refused exactly like the real name
#      from the wrong uid (and the raw replies are identical, the empty name too)
#   5. two TCG guests: a volume attached rw to VM A; VM B's QEMU told the export over QMP
#      (blockdev-add driver nbd) is refused, as is root's qemu-io with the nbd_uri; VM A goes
#      on working and its data is unchanged
#   6. `vbsd nbd-serve --listen`: no --tls-ca → refuses to start unless --no-client-auth; with
#      --tls-ca a client certificate with OU=server is cut off after TLS, OU=user is served
#
# Env: VBSD, VBS (binaries), VBS_SYSTEM_KEEP=1 (keep a failed run's temp dir).
# Runs as root (setpriv to act as uid 65534). Installs what it needs; a missing tool fails.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH   # the system python3 has libnbd's binding
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../system/lib.sh
. "$here/../system/lib.sh"
"$VBS_SRC/scripts/install-deps.sh" vm >&2
t_init nbd_consumers
[ "$(id -u)" = 0 ] || fail "run as root (acts as uid 65534 with setpriv)"
for t in qemu-system-x86_64 qemu-io qemu-img nbdinfo setpriv python3 openssl timeout; do
  command -v "$t" >/dev/null || fail "$t is missing after scripts/install-deps.sh vm system"
done
PY=/usr/bin/python3
"$PY" -c 'import nbd' 2>/dev/null || fail "python3-libnbd is missing after install-deps.sh system"
guest=$("$VBS_SRC/tests/vm/build-guest.sh") || fail "build-guest.sh failed"
VM_KERNEL=$(sed -n 's/^KERNEL=//p' <<<"$guest")
VM_INITRD=$(sed -n 's/^INITRD=//p' <<<"$guest")
QMP=$T/qmp
export VM_QMP_DIR=$QMP VM_RUN_DIR=$T/vms VM_KERNEL VM_INITRD
# shellcheck source=../vm/vm.sh
source "$VBS_SRC/tests/vm/vm.sh"

on_exit() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ]; then
    for f in "$VM_RUN_DIR"/*/qemu.log; do
      [ -f "$f" ] && { echo "---- $f (tail)" >&2; tail -n 10 "$f" >&2; }
    done
  fi
  vm_cleanup_all >/dev/null 2>&1
  (exit $rc)
  t_cleanup
}
trap on_exit EXIT

ok() { echo "ok: $*"; }
MiB=$((1 << 20))
NOBODY=65534
# as_nobody CMD...: run as uid/gid 65534 with no supplementary groups.
as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$@"; }
# The attack clients, readable by uid 65534 wherever the source tree lives.
ATK=$T/nbd_attack.py
install -m 0644 "$here/nbd_attack.py" "$ATK"
raw() { "$PY" "$ATK" raw "$@"; }                 # raw SOCKET MODE [NAME]
qmp_call() { "$PY" "$ATK" qmp "$(vm_harness_qmp "$1")" "$2" "${3:-null}"; }

# qio [PREFIX...] -- QEMU-IO ARGS...: sets RC and OUT (qemu-io's output, both streams).
qio() {
  local pre=()
  while [ "$1" != -- ]; do pre+=("$1"); shift; done
  shift
  RC=0
  OUT=$("${pre[@]}" qemu-io "$@" 2>&1) || RC=$?
  if [ $RC -eq 0 ] && [[ $OUT == *"verification failed"* || $OUT == *"failed:"* ]]; then RC=99; fi
}
# refused_qio WHAT [PREFIX...] -- ARGS...: qemu-io must fail to open the export, refused at
# the handshake exactly as an unknown name is (not a socket or permission problem).
refused_qio() {
  local what=$1; shift
  qio "$@"
  [ "$RC" = 1 ] || fail "$what: expected qemu-io to exit 1, got $RC: $OUT"
  assert_contains "Requested export not available" "$OUT" "$what"
  assert_contains "server reported: no such export" "$OUT" "$what"
  assert_not_contains "bytes at offset" "$OUT" "$what"
}
# What the raw client gets for each option when the name is not open to it (as for an unknown name).
REFUSED_RAW="go: ERR_UNKNOWN 'no such export'
info: ERR_UNKNOWN 'no such export'
set_meta: ERR_UNKNOWN 'no such export'
list_meta: ERR_UNKNOWN 'no such export'
export_name: disconnected"
# same_file FILE COPY WHAT
same_file() { assert_same "$2" "$1" "$3"; }

# ------------------------------------------------------------------ setup: VMs, vbsd, socket
VMA=i-00000000000000a0a
VMB=i-00000000000000b0b
log "boot $VMA and $VMB (TCG)"
for vm in "$VMA" "$VMB"; do vm_boot "$vm" || fail "vm_boot $vm"; done
# The platform says whose VM A is (docs/hypervisor.md); VM B has no owner file.
echo carol >"$QMP/$VMA.owner"
vbsd_start --qmp-dir "$QMP"
SOCK=$DATA/run/nbd.sock
[ -S "$SOCK" ] || fail "no NBD socket at $SOCK"
assert_eq 666 "$(stat -c %a "$SOCK")" "mode of the agent's NBD socket"
# uid 65534 must be able to reach the socket (so its refusals are the server's doing).
chmod o+x "$T" "$DATA" "$DATA/run"
got=$(as_nobody "$PY" "$ATK" raw "$SOCK" greeting) || fail "uid $NOBODY cannot reach $SOCK: $got"
assert_eq "greeting: ok" "$got" "uid $NOBODY talks NBD on the agent socket"
ok "uid $NOBODY reaches the agent's NBD socket $SOCK (mode 0666) and gets the NBD greeting"

# host_attach VOL [ARGS...]: vbs attach VOL host-local --wait; sets ATT, URI, EXP.
host_attach() {
  local vol=$1; shift
  vbsc -o json attach "$vol" host-local --wait "$@"
  assert_rc 0 "vbs attach $vol host-local --wait $*"
  ATT=$OUT
  assert_eq attached "$(jf .state "$ATT")" "attachment state after --wait"
  URI=$(jf .nbd_uri "$ATT")
  EXP=$(jf .export_name "$ATT")
  assert_match '^vbs-[0-9a-f]{32}$' "$EXP" "export name of the attachment"
  assert_eq "nbd+unix:///$EXP?socket=$SOCK" "$URI" "nbd_uri of the attachment"
}
new_volume() {  # SIZE: sets VID
  vbsc -o json volume create --size "$1" --wait
  assert_rc 0 "vbs volume create --size $1"
  VID=$(jf .id "$OUT")
}

# ------------------------------------------------------------------ 2 (first half). V1, uid 0
new_volume 64M
V1=$VID
V1F=$(vol_file "$V1")
host_attach "$V1"
URI1=$URI EXP1=$EXP
assert_eq 0 "$(jf .uid "$ATT")" "consumer uid of a default host attachment"
# The consumer (root) writes the pattern the attacks must leave alone.
qio -- -f raw "$URI1" -c "write -P 0xa1 0 1M" -c "read -P 0xa1 0 1M"
[ $RC -eq 0 ] || fail "root writing V1 through $URI1: exit $RC: $OUT"
cp "$V1F" "$T/v1.before"

# ------------------------------------------------------------------ 1. listing
log "1. NBD_OPT_LIST on the agent socket"
for who in root "uid $NOBODY"; do
  pre=(); [ "$who" = root ] || pre=(as_nobody)
  rc=0; out=$("${pre[@]}" nbdinfo --list "nbd+unix:///?socket=$SOCK" 2>&1) || rc=$?
  [ $rc = 1 ] || fail "nbdinfo --list as $who: expected exit 1, got $rc: $out"
  assert_contains "nbd_opt_list: server replied with error to list request" "$out" "nbdinfo --list as $who"
  assert_not_contains "$EXP1" "$out" "nbdinfo --list as $who"
  assert_not_contains "$V1" "$out" "nbdinfo --list as $who"
  assert_not_contains "vbs-" "$out" "nbdinfo --list as $who"
  got=$("${pre[@]}" "$PY" "$ATK" raw "$SOCK" list) || fail "raw NBD_OPT_LIST as $who: $got"
  assert_eq "list: ERR_POLICY 'listing exports is not allowed', 0 name(s)" "$got" "raw NBD_OPT_LIST as $who"
  ok "NBD_OPT_LIST as $who: nbdinfo --list fails (exit 1), raw reply ERR_POLICY with 0 names; no export name or volume id shown"
done
# Controls: the same nbdinfo lists a server that allows listing; the consumer opens its URI.
truncate -s 1M "$T/plain.img"
setpriv --pdeathsig KILL -- "$VBSD" nbd-serve "$T/plain.img" --socket "$T/plain.sock" \
  --export-name plain-export >"$T/plain.out" 2>&1 &
PLAIN_PID=$!
T_PIDS+=("$PLAIN_PID")
deadline=$((SECONDS + 20))
until grep -q ready "$T/plain.out"; do
  [ $SECONDS -lt $deadline ] || fail "vbsd nbd-serve --socket did not start: $(cat "$T/plain.out")"
  sleep 0.1
done
out=$(nbdinfo --list "nbd+unix:///?socket=$T/plain.sock" 2>&1) || fail "control nbdinfo --list: $out"
assert_match 'export="plain-export"' "$out" "nbdinfo --list of a plain nbd-serve socket"
assert_eq "list: ACK, 1 name(s)" "$(raw "$T/plain.sock" list)" "raw NBD_OPT_LIST on a plain nbd-serve socket"
kill "$PLAIN_PID"; wait "$PLAIN_PID" 2>/dev/null || true
assert_eq $((64 * MiB)) "$(nbdinfo --size "$URI1")" "nbdinfo --size of the consumer's own URI"
ok "control: nbdinfo --list (and the raw NBD_OPT_LIST) lists a plain nbd-serve socket; root (the consumer) opens $URI1 with nbdinfo"

# ------------------------------------------------------------------ 2. wrong uid, default uid 0
log "2. uid $NOBODY against V1's export (consumer uid 0)"
refused_qio "qemu-io read by uid $NOBODY" as_nobody -- -f raw -r "$URI1" -c "read -P 0xa1 0 1M"
refused_qio "qemu-io write by uid $NOBODY" as_nobody -- -f raw "$URI1" -c "write -P 0x66 0 1M"
rc=0; out=$(as_nobody nbdinfo "$URI1" 2>&1) || rc=$?
[ $rc = 1 ] || fail "nbdinfo $URI1 as uid $NOBODY: expected exit 1, got $rc: $out"
assert_contains "server replied with error to opt_go request: No such file or directory" "$out" "nbdinfo as uid $NOBODY"
assert_not_contains "export-size" "$out" "nbdinfo as uid $NOBODY"
RAW_WRONG_UID=$(as_nobody "$PY" "$ATK" raw "$SOCK" all "$EXP1") || fail "raw probes as uid $NOBODY: $RAW_WRONG_UID"
assert_eq "$REFUSED_RAW" "$RAW_WRONG_UID" "raw options for V1's name from uid $NOBODY"
same_file "$V1F" "$T/v1.before" "V1 after uid $NOBODY's attempts"
qio -- -f raw -r "$URI1" -c "read -P 0xa1 0 1M" -c "read -P 0 1M 63M"
[ $RC -eq 0 ] || fail "root reading V1 after the attacks: exit $RC: $OUT"
got=$(raw "$SOCK" all "$EXP1")
assert_eq "go: ok size=$((64 * MiB))
info: ok size=$((64 * MiB))
set_meta: ok base:allocation
list_meta: ok base:allocation
export_name: ok size=$((64 * MiB))" "$got" "raw options for V1's name from root (the consumer)"
ok "uid $NOBODY with V1's exact nbd_uri: qemu-io read and write 'Requested export not available', nbdinfo ENOENT, raw GO/INFO/META ERR_UNKNOWN and EXPORT_NAME disconnected"
ok "V1 unchanged (volume file byte-identical); root re-reads its 0xa1 pattern with qemu-io and passes every raw option"

# ------------------------------------------------------------------ 3. --uid 65534
log "3. V2 attached for uid $NOBODY"
new_volume 64M
V2=$VID
V2F=$(vol_file "$V2")
# As a user sees it: the table `vbs attach --wait` prints (nbd uri and consumer uid rows).
vbsc attach "$V2" host-local --uid $NOBODY --wait
assert_rc 0 "vbs attach $V2 host-local --uid $NOBODY --wait"
URI2=$(sed -n 's/^nbd uri: *//p' <<<"$OUT")
EXP2=$(sed -n 's/^export: *//p' <<<"$OUT")
assert_eq "nbd+unix:///$EXP2?socket=$SOCK" "$URI2" "nbd uri printed by vbs attach --uid"
grep -qE "^consumer uid: +$NOBODY\$" <<<"$OUT" || fail "vbs attach --uid $NOBODY does not print 'consumer uid: $NOBODY': $OUT"
vbsc -o json volume show "$V2"
assert_rc 0 "vbs volume show -o json"
assert_eq "$NOBODY $URI2 attached" "$(jq -r '.attachments[0] | "\(.uid) \(.nbd_uri) \(.state)"' <<<"$OUT")" \
  "uid, nbd_uri and state in vbs volume show -o json"
ok "vbs attach --uid $NOBODY --wait prints 'consumer uid: $NOBODY' and the nbd uri; volume show -o json has uid $NOBODY and the same nbd_uri"
qio as_nobody -- -f raw "$URI2" -c "write -P 0xb2 $((8 * MiB)) 1M" -c "read -P 0xb2 $((8 * MiB)) 1M"
[ $RC -eq 0 ] || fail "uid $NOBODY writing V2 through $URI2: exit $RC: $OUT"
cmp <(dd if="$V2F" bs=1M skip=8 count=1 status=none) <(head -c $MiB /dev/zero | tr '\0' '\262') >/dev/null ||
  fail "the host file of V2 does not hold uid $NOBODY's 0xb2 MiB at 8 MiB"
ok "uid $NOBODY writes and reads V2 through the printed nbd_uri (qemu-io); the bytes are in the volume file"
cp "$V2F" "$T/v2.before"
refused_qio "qemu-io read by root" -- -f raw -r "$URI2" -c "read -P 0xb2 $((8 * MiB)) 1M"
refused_qio "qemu-io write by root" -- -f raw "$URI2" -c "write -P 0x66 $((8 * MiB)) 1M"
RAW_ROOT_WRONG=$(raw "$SOCK" all "$EXP2") || fail "raw probes as root: $RAW_ROOT_WRONG"
assert_eq "$REFUSED_RAW" "$RAW_ROOT_WRONG" "raw options for V2's name from root"
same_file "$V2F" "$T/v2.before" "V2 after root's attempts"
qio as_nobody -- -f raw -r "$URI2" -c "read -P 0xb2 $((8 * MiB)) 1M" -c "read -P 0 0 8M"
[ $RC -eq 0 ] || fail "uid $NOBODY re-reading V2: exit $RC: $OUT"
ok "root (uid 0) with V2's nbd_uri: qemu-io read and write refused, raw options ERR_UNKNOWN/disconnected; V2 unchanged, uid $NOBODY re-reads its pattern"

# ------------------------------------------------------------------ 4. guessing
log "4. 200 random export names per uid (libnbd)"
# Controls: the same libnbd client opens each export from its consumer's uid.
out=$("$PY" "$ATK" guess "$SOCK" "$EXP1" 0) || fail "libnbd control, root opening V1: $out"
assert_eq "NAME: OPENED size=$((64 * MiB))" "$out" "libnbd: root opens V1 by name"
out=$(as_nobody "$PY" "$ATK" guess "$SOCK" "$EXP2" 0) || fail "libnbd control, uid $NOBODY opening V2: $out"
assert_eq "NAME: OPENED size=$((64 * MiB))" "$out" "libnbd: uid $NOBODY opens V2 by name"
WANT="NAME: refused: nbd_connect_unix: handshake: server has no export named 'NAME': No such file or directory (errno ENOENT)
200 guesses, 0 answered otherwise"
out=$(as_nobody "$PY" "$ATK" guess "$SOCK" "$EXP1" 200) || fail "libnbd guesses as uid $NOBODY: $out"
assert_eq "$WANT" "$out" "libnbd: V1's name and 200 guesses from uid $NOBODY"
out=$("$PY" "$ATK" guess "$SOCK" "$EXP2" 200) || fail "libnbd guesses as root: $out"
assert_eq "$WANT" "$out" "libnbd: V2's name and 200 guesses from root"
for name in "vbs-$(openssl rand -hex 16)" ""; do
  got=$(as_nobody "$PY" "$ATK" raw "$SOCK" all "$name") || fail "raw probes for '$name': $got"
  assert_eq "$RAW_WRONG_UID" "$got" "raw options for the name '$name' from uid $NOBODY"
done
same_file "$V1F" "$T/v1.before" "V1 after the guesses"
same_file "$V2F" "$T/v2.before" "V2 after the guesses"
ok "200 random vbs-<32 hex> names from uid $NOBODY and 200 from root: all refused with the wrong-uid error (libnbd: 'server has no export named', ENOENT)"
ok "raw GO/INFO/META/EXPORT_NAME for a random name and for the empty name answer byte-for-byte what the real name from the wrong uid got; V1 and V2 unchanged"

# ------------------------------------------------------------------ 5. VM attachments
log "5. $VMA and $VMB"
deadline=$((SECONDS + 30))
while true; do
  vbsc -o json instance list
  assert_rc 0 "vbs instance list"
  running=$(jq -r '[.. | objects | select(has("kind") and .state == "running") | .id] | sort | join(" ")' <<<"$OUT")
  [ "$running" = "host-local $VMA $VMB" ] && break
  [ $SECONDS -lt $deadline ] || fail "vbs instance list: expected host-local and both VMs running, got '$running'"
  sleep 1
done

# (0) Owned instances: a user sees and attaches to their own VMs only. dave's attach to carol's
# VM answers as for an unknown instance, and nothing is made; carol's own attach works.
make_user carol
make_user dave
as_user dave
vbsc -o json instance list; assert_rc 0 "dave's instance list"
assert_eq "" "$(jq -r '[.[] | .id] | join(" ")' <<<"$OUT")" "dave sees no instance (not carol's VM, not the unowned one, not the host)"
vbsc -o json volume create --size 16M --wait; assert_rc 0 "dave's volume"
DV=$(jf .id "$OUT")
for target in "$VMA" "$VMB" host-local; do
  vbsc attach "$DV" "$target"; assert_rc 1 "dave attaches to $target"
  assert_contains "InvalidInstanceID.NotFound" "$ERR" "dave attaching to $target"
done
vbsc -o json volume show "$DV"
assert_eq available "$(jf .state "$OUT")" "dave's volume after the refused attaches"
assert_eq 0 "$(jf '.attachments | length' "$OUT")" "no attachment was made"
as_user carol
vbsc -o json instance list; assert_rc 0 "carol's instance list"
assert_eq "$VMA" "$(jq -r '[.[] | .id] | join(" ")' <<<"$OUT")" "carol sees her VM only"
vbsc -o json volume create --size 16M --wait; CV=$(jf .id "$OUT")
vbsc -o json attach "$CV" "$VMA" --wait; assert_rc 0 "carol attaches to her VM"
assert_eq attached "$(jf .state "$OUT")" "carol's attachment"
vbsc detach "$CV" --wait; assert_rc 0 "carol detaches"
as_admin
vbsc admin instance assign "$VMB" --owner dave; assert_rc 0 "assign $VMB to dave"
as_user dave
vbsc -o json instance list
assert_eq "$VMB" "$(jq -r '[.[] | .id] | join(" ")' <<<"$OUT")" "dave sees the VM assigned to him"
as_admin
ok "owned instances: dave (not the owner) sees no VM and his attach to $VMA, $VMB and host-local answers InvalidInstanceID.NotFound with nothing made; carol attaches to her $VMA; an admin gives $VMB to dave"

new_volume 64M
V3=$VID
V3F=$(vol_file "$V3")
write_pattern "$V3F" 0 $((4 * MiB)) v3-before-attach   # on the host, before any attach
hsum0=$(head -c $((4 * MiB)) "$V3F" | md5sum | cut -d' ' -f1)
vbsc -o json attach "$V3" "$VMA" --wait
assert_rc 0 "vbs attach $V3 $VMA --wait"
assert_eq attached "$(jf .state "$OUT")" "attachment state"
EXP3=$(jf .export_name "$OUT")
URI3=$(jf .nbd_uri "$OUT")
assert_eq "nbd+unix:///$EXP3?socket=$SOCK" "$URI3" "nbd_uri of the VM attachment"
assert_eq null "$(jf .uid "$OUT")" "a VM attachment has no consumer uid"
# find_disk VM SERIAL: the guest's vdX whose serial is SERIAL (waits for it).
find_disk() {
  vm_exec "$1" "i=0; while :; do
      for d in /sys/block/vd*; do
        [ -f \$d/serial ] && [ \"\$(cat \$d/serial)\" = $2 ] && [ -b /dev/\${d##*/} ] &&
          { echo \${d##*/}; exit 0; }
      done
      i=\$((i+1)); [ \$i -gt 3000 ] && exit 1; usleep 10000
    done"
}
dev=$(find_disk "$VMA" "${V3/-/}") || fail "$VMA never showed a disk with serial ${V3/-/}"
gsum0=$(vm_exec "$VMA" "dd if=/dev/$dev bs=64k count=64 2>/dev/null | md5sum | cut -d' ' -f1") ||
  fail "reading /dev/$dev in $VMA: $gsum0"
assert_eq "$hsum0" "$gsum0" "the first 4 MiB of V3 as $VMA reads them"
gsum1=$(vm_exec "$VMA" "dd if=/dev/urandom of=/tmp/g bs=64k count=16 2>/dev/null &&
  dd if=/tmp/g of=/dev/$dev bs=64k seek=128 count=16 conv=fsync 2>/dev/null && md5sum /tmp/g | cut -d' ' -f1") ||
  fail "writing /dev/$dev in $VMA: $gsum1"
hsum1=$(dd if="$V3F" bs=64k skip=128 count=16 status=none | md5sum | cut -d' ' -f1)
assert_eq "$gsum1" "$hsum1" "the MiB $VMA wrote at 8 MiB, as the host file has it"
cp "$V3F" "$T/v3.before"
ok "V3 attached rw to $VMA: the guest reads the host's pattern (/dev/$dev) and its own write reaches the volume file"

# (a) VM B's QEMU is told the export over its QMP. Both QEMUs run as root: only the process
# (pid + start time) tells them apart.
for vm in "$VMA" "$VMB"; do
  assert_eq 0 "$(stat -c %u "/proc/$(cat "$VM_RUN_DIR/$vm/qemu.pid")")" "uid of $vm's QEMU"
done
nbd_node() {  # NODE EXPORT [READ_ONLY]: blockdev-add arguments for the agent socket
  jq -nc --arg n "$1" --arg s "$SOCK" --arg e "$2" --argjson ro "${3:-false}" \
    '{driver:"nbd", "node-name":$n, server:{type:"unix", path:$s}, export:$e, "read-only":$ro}'
}
resp=$(qmp_call "$VMB" blockdev-add "$(nbd_node steal "$EXP3")") || fail "QMP on $VMB: $resp"
jq -e '.error.class == "GenericError"' <<<"$resp" >/dev/null || fail "$VMB's blockdev-add of V3's export was not refused: $resp"
descB=$(jq -r .error.desc <<<"$resp")
assert_contains "Requested export not available" "$descB" "$VMB's blockdev-add of V3's export"
resp=$(qmp_call "$VMB" blockdev-add "$(nbd_node steal2 "$EXP3" true)") || fail "QMP on $VMB: $resp"
assert_eq "$descB" "$(jq -r .error.desc <<<"$resp")" "$VMB's read-only blockdev-add of V3's export"
guess=vbs-$(openssl rand -hex 16)
resp=$(qmp_call "$VMB" blockdev-add "$(nbd_node steal3 "$guess")") || fail "QMP on $VMB: $resp"
assert_eq "${descB//$EXP3/NAME}" "$(jq -r .error.desc <<<"$resp" | sed "s/$guess/NAME/g")" \
  "$VMB's blockdev-add of an unknown name (same error as V3's real name)"
nodes=$(qmp_call "$VMB" query-named-block-nodes '{"flat":true}') || fail "QMP on $VMB: $nodes"
assert_eq "" "$(jq -r '[.return[]["node-name"] | select(startswith("steal"))] | join(" ")' <<<"$nodes")" \
  "block nodes $VMB was left with"
# Control: the same command on VM A's QEMU (the consumer) opens the export.
resp=$(qmp_call "$VMA" blockdev-add "$(nbd_node control "$EXP3" true)") || fail "QMP on $VMA: $resp"
assert_eq '{"return":{}}' "$(jq -c . <<<"$resp")" "control: $VMA's QEMU blockdev-add of its own export"
resp=$(qmp_call "$VMA" blockdev-del '{"node-name":"control"}') || fail "QMP on $VMA: $resp"
assert_eq '{"return":{}}' "$(jq -c . <<<"$resp")" "control: blockdev-del on $VMA"
ok "$VMB's QEMU (uid 0, like $VMA's) given V3's export over QMP (blockdev-add driver nbd, rw and ro): refused, '$(head -1 <<<"$descB")', as an unknown name is; no node left in $VMB"
ok "control: the same blockdev-add from $VMA's QEMU (the consumer) succeeds"

# (b) root on the host, with the attachment's own nbd_uri.
refused_qio "qemu-io read of V3 by root" -- -f raw -r "$URI3" -c "read 0 1M"
refused_qio "qemu-io write of V3 by root" -- -f raw "$URI3" -c "write -P 0x66 0 1M"
refused_qio "qemu-io read of V3 by uid $NOBODY" as_nobody -- -f raw -r "$URI3" -c "read 0 1M"
got=$(raw "$SOCK" all "$EXP3") || fail "raw probes as root: $got"
assert_eq "$REFUSED_RAW" "$got" "raw options for V3's name from root"
ok "root (and uid $NOBODY) with V3's nbd_uri: qemu-io read and write refused, raw options ERR_UNKNOWN/disconnected"

# (c) nothing changed; VM A still reads and writes.
same_file "$V3F" "$T/v3.before" "V3 after the attacks"
got=$(vm_exec "$VMA" "echo 3 >/proc/sys/vm/drop_caches
  dd if=/dev/$dev bs=64k count=64 2>/dev/null | md5sum | cut -d' ' -f1
  dd if=/dev/$dev bs=64k skip=128 count=16 2>/dev/null | md5sum | cut -d' ' -f1") || fail "re-reading in $VMA: $got"
assert_eq "$hsum0
$gsum1" "$got" "what $VMA reads back after the attacks"
gsum2=$(vm_exec "$VMA" "dd if=/dev/urandom of=/tmp/g2 bs=64k count=16 2>/dev/null &&
  dd if=/tmp/g2 of=/dev/$dev bs=64k seek=192 count=16 conv=fsync 2>/dev/null && md5sum /tmp/g2 | cut -d' ' -f1") ||
  fail "writing /dev/$dev in $VMA after the attacks: $gsum2"
assert_eq "$gsum2" "$(dd if="$V3F" bs=64k skip=192 count=16 status=none | md5sum | cut -d' ' -f1)" \
  "the MiB $VMA wrote at 12 MiB after the attacks, in the volume file"
for vm in "$VMA" "$VMB"; do vm_alive "$vm" || fail "$vm died during the attacks"; done
ok "V3 byte-identical after the attacks; $VMA re-reads the same data (caches dropped) and writes on"
vbsc -o json detach "$V3" --wait
assert_rc 0 "vbs detach $V3 --wait"

# ------------------------------------------------------------------ 6. nbd-serve over TCP
log "6. vbsd nbd-serve --listen: client authentication"
# make_certs DIR: a CA, a server certificate for 127.0.0.1, and client directories (the file
# names QEMU's tls-creds-x509 dir= and libnbd's tls-certificates= look for): user/ (OU=user),
# server/ (OU=server), ca-only/ (no client certificate).
make_certs() {
  local d=$1 ou
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=vbs-test-ca" \
      -keyout ca-key.pem -out ca-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost/OU=server" \
      -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
      -days 2 -extfile server.ext -out server-cert.pem 2>/dev/null
    printf 'extendedKeyUsage=clientAuth,serverAuth\n' >client.ext
    for ou in user server; do
      mkdir -p "$ou" && cp ca-cert.pem "$ou/"
      openssl req -newkey rsa:2048 -nodes -subj "/CN=vbs-test-$ou/OU=$ou" \
        -keyout "$ou/client-key.pem" -out "$ou.csr" 2>/dev/null
      openssl x509 -req -in "$ou.csr" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
        -days 2 -extfile client.ext -out "$ou/client-cert.pem" 2>/dev/null
    done
    mkdir -p ca-only && cp ca-cert.pem ca-only/
  ) || fail "making test certificates"
  if ! [ -s "$d/user/client-cert.pem" ] || ! [ -s "$d/server/client-cert.pem" ]; then
    fail "no client certificates in $d"
  fi
}
PKI=$T/pki
make_certs "$PKI"
SRV=(--tls-cert "$PKI/server-cert.pem" --tls-key "$PKI/server-key.pem")
F=$T/serve.img
truncate -s 16M "$F"
qio -- -f raw "$F" -c "write -P 0xc3 0 1M"
[ $RC -eq 0 ] || fail "writing the pattern into $F: $OUT"
cp "$F" "$T/serve.before"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# serve_start ARGS...: vbsd nbd-serve $F --listen 127.0.0.1:$PORT ARGS, until "ready".
# Each start writes its own output file: the previous server's "ready" must not be taken for this
# one's (the redirection happens in the child, possibly after the first grep).
SERVE_N=0
serve_start() {
  SERVE_N=$((SERVE_N + 1))
  local out=$T/serve.$SERVE_N.out
  setpriv --pdeathsig KILL -- "$VBSD" nbd-serve "$F" --listen "127.0.0.1:$PORT" "$@" \
    >"$out" 2>&1 &
  SERVE_PID=$!
  T_PIDS+=("$SERVE_PID")
  local deadline=$((SECONDS + 20))
  until grep -qs '^ready' "$out"; do
    kill -0 "$SERVE_PID" 2>/dev/null || fail "nbd-serve $* exited: $(cat "$out")"
    [ $SECONDS -lt $deadline ] || fail "nbd-serve $* not ready in 20 s"
    sleep 0.1
  done
}
serve_stop() { kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; }
# tls_qio DIR ARGS...: qemu-io over TLS with the client credentials in DIR.
tls_qio() {
  local dir=$1; shift
  qio -- --object "tls-creds-x509,id=tls0,endpoint=client,dir=$dir" --image-opts \
    "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=$PORT,tls-creds=tls0" "$@"
}
# must_not_start WHAT ARGS...: nbd-serve exits non-zero at once, naming --tls-ca and --no-client-auth.
must_not_start() {
  local what=$1 rc=0 out; shift
  out=$(timeout 20 "$VBSD" nbd-serve "$F" --listen "127.0.0.1:$PORT" "$@" 2>&1) || rc=$?
  if [ $rc = 0 ] || [ $rc = 124 ]; then
    fail "nbd-serve $what: expected a non-zero exit at start, got $rc: $out"
  fi
  assert_contains "--tls-ca" "$out" "nbd-serve $what"
  assert_contains "--no-client-auth" "$out" "nbd-serve $what"
  assert_not_contains "ready" "$out" "nbd-serve $what"
  ok "nbd-serve --listen $what: exits $rc at start: $(head -1 <<<"$out")"
}
must_not_start "--tls-cert/--tls-key without --tls-ca" "${SRV[@]}"
must_not_start "--no-tls without --no-client-auth" --no-tls
serve_start "${SRV[@]}" --no-client-auth
tls_qio "$PKI/ca-only" -c "read -P 0xc3 0 1M"
[ $RC -eq 0 ] || fail "TLS client without a certificate on a --no-client-auth server: exit $RC: $OUT"
serve_stop
ok "nbd-serve --listen --tls-cert/--tls-key --no-client-auth starts and serves a TLS client without a certificate"

serve_start "${SRV[@]}" --tls-ca "$PKI/ca-cert.pem"
# refused_tls WHAT: the last tls_qio could not open the device (cut off after TLS).
refused_tls() {
  [ "$RC" = 1 ] || fail "$1: expected qemu-io to exit 1, got $RC: $OUT"
  # TLS came up (a bad certificate would fail the TLS handshake), then the server hung up.
  assert_contains "can't open: Failed to read option reply: Unexpected end-of-file" "$OUT" "$1"
  assert_not_contains "bytes at offset" "$OUT" "$1"
}
tls_qio "$PKI/server" -r -c "read -P 0xc3 0 1M"
refused_tls "qemu-io read with an OU=server certificate"
tls_qio "$PKI/server" -c "write -P 0x66 0 1M"
refused_tls "qemu-io write with an OU=server certificate"
QIO_SERVER_ERR=$OUT
rc=0; out=$(nbdinfo "nbds://127.0.0.1:$PORT/?tls-certificates=$PKI/server" 2>&1) || rc=$?
[ $rc = 1 ] || fail "nbdinfo with an OU=server certificate: expected exit 1, got $rc: $out"
assert_contains "server disconnected unexpectedly" "$out" "nbdinfo with an OU=server certificate"
assert_not_contains "export-size" "$out" "nbdinfo with an OU=server certificate"
kill -0 "$SERVE_PID" 2>/dev/null || fail "nbd-serve died"
same_file "$F" "$T/serve.before" "the served file after the OU=server attempts"
tls_qio "$PKI/user" -c "read -P 0xc3 0 1M"
[ $RC -eq 0 ] || fail "qemu-io with an OU=user certificate: exit $RC: $OUT"
out=$(nbdinfo --size "nbds://127.0.0.1:$PORT/?tls-certificates=$PKI/user" 2>&1) || fail "nbdinfo with an OU=user certificate: $out"
assert_eq $((16 * MiB)) "$out" "nbdinfo --size with an OU=user certificate"
serve_stop
ok "nbd-serve --tls-ca: an OU=server client certificate is cut off after TLS (qemu-io read/write: '$(grep -m1 "can't open" <<<"$QIO_SERVER_ERR")'; nbdinfo exit 1); file unchanged"
ok "control: an OU=user certificate reads the 0xc3 pattern (qemu-io) and the size (nbdinfo) through the same server"
# The OU=server certificate is valid: a server that admits that role serves it (and not OU=user).
serve_start "${SRV[@]}" --tls-ca "$PKI/ca-cert.pem" --tls-allow-role server
tls_qio "$PKI/server" -r -c "read -P 0xc3 0 1M"
[ $RC -eq 0 ] || fail "qemu-io with an OU=server certificate on a --tls-allow-role server server: exit $RC: $OUT"
tls_qio "$PKI/user" -r -c "read -P 0xc3 0 1M"
refused_tls "qemu-io with an OU=user certificate on a --tls-allow-role server server"
serve_stop
same_file "$F" "$T/serve.before" "the served file at the end"
ok "control: with --tls-allow-role server the same OU=server certificate is served and OU=user is cut off (the refusal is the role check)"
