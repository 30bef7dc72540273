#!/usr/bin/env bash
# Builds the Debian packages from this tree (dpkg-buildpackage, debhelper 13), lints them
# (lintian: no errors), installs them with dpkg -i and checks the result: the binaries run,
# the vbs user exists, /etc/vbs files are conffiles, systemd-analyze verify accepts the
# installed units, and the installed server — run as the vbs user from the installed
# configuration, under a fake NOTIFY_SOCKET — becomes ready and answers its admin. Then purges
# them again. Needs root (dpkg -i). Leaves the .deb files in $VBS_PACKAGE_OUT (default: a
# temporary directory, printed).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/scripts/install-deps.sh" build package
[ "$(id -u)" = 0 ] || { echo "package.sh: dpkg -i needs root" >&2; exit 2; }
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
out=${VBS_PACKAGE_OUT:-$(mktemp -d /tmp/vbs-package-XXXXXX)}
work=$out/vbs-$version
rm -rf "$work"; mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# A copy without build trees or git metadata: dpkg-buildpackage writes next to the source.
tar -C "$src" --exclude=./build --exclude='./build-*' --exclude=./.git -cf - . | tar -C "$work" -xf -
(cd "$work" && dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$out/build.log" 2>&1 \
  || { tail -40 "$out/build.log" >&2; fail "dpkg-buildpackage (log $out/build.log)"; }
changes=$(ls "$out"/vbs_"$version"_*.changes)
debs=("$out"/vbs-{daemon,server,agent,cli}_"$version"_*.deb)
for d in "${debs[@]}"; do [ -f "$d" ] || fail "not built: $d"; done
ok "dpkg-buildpackage built $(cd "$out" && echo vbs-*_"$version"_*.deb)"

lintian --fail-on error "$changes" >"$out/lintian.log" 2>&1 || { cat "$out/lintian.log" >&2; fail "lintian reports errors"; }
ok "lintian: no errors ($(grep -c '^W:' "$out/lintian.log" || true) warnings, in $out/lintian.log)"

cleanup() { dpkg --purge vbs-server vbs-agent vbs-cli vbs-daemon >/dev/null 2>&1 || true; }
trap cleanup EXIT
dpkg -i "${debs[@]}" >"$out/install.log" 2>&1 || { cat "$out/install.log" >&2; fail "dpkg -i"; }
for p in vbs-daemon vbs-server vbs-agent vbs-cli; do
  [ "$(dpkg-query -W -f='${Status}' "$p")" = "install ok installed" ] || fail "$p is not installed"
done
/usr/bin/vbsd --help >/dev/null || fail "/usr/bin/vbsd --help"
/usr/bin/vbs --help >/dev/null || fail "/usr/bin/vbs --help"
getent passwd vbs >/dev/null || fail "no vbs user"
[ "$(stat -c %U:%a /var/lib/vbs)" = vbs:700 ] || fail "/var/lib/vbs is $(stat -c %U:%a /var/lib/vbs)"
grep -q " /etc/vbs/server.toml " <<<"$(dpkg-query -W -f='${Conffiles}\n' vbs-server) " \
  || fail "/etc/vbs/server.toml is not a conffile of vbs-server"
grep -q " /etc/vbs/agent.toml " <<<"$(dpkg-query -W -f='${Conffiles}\n' vbs-agent) " \
  || fail "/etc/vbs/agent.toml is not a conffile of vbs-agent"
for s in vbs-prolog vbs-epilog; do
  [ -x "/usr/share/vbs/slurm/$s" ] && [ "$(dpkg -S "/usr/share/vbs/slurm/$s" | cut -d: -f1)" = vbs-agent ] ||
    fail "/usr/share/vbs/slurm/$s is not vbs-agent's executable"
done
units=(/lib/systemd/system/vbsd-server.service /lib/systemd/system/vbsd-agent.service)
verify=$(systemd-analyze verify "${units[@]}" 2>&1) || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify warns: $verify"
ok "installed: vbsd, vbs, the vbs user (/var/lib/vbs vbs:700), conffiles in /etc/vbs, Slurm's prolog and epilog in /usr/share/vbs/slurm, units accepted by systemd-analyze verify"

# The installed server as its unit runs it: user vbs, /etc/vbs/server.toml, Type=notify.
pki=/var/lib/vbs/pki
probe="curl -sS --max-time 5 -o /dev/null -w '%{http_code}' --cacert $pki/ca.crt --cert $pki/admin.crt --key $pki/admin.key https://localhost:8443/v1/whoami | grep -qx 200"
mkdir -p "$out/notify" && chmod 0755 "$out" && chmod 0777 "$out/notify"
/usr/bin/python3 "$src/tests/ops/sd_notify_check.py" "$out/notify" "$probe" -- \
  setpriv --reuid vbs --regid vbs --clear-groups /usr/bin/vbsd server --config /etc/vbs/server.toml \
  || fail "the installed vbsd server under a fake systemd"
[ "$(stat -c %U "$pki/ca.key")" = vbs ] || fail "the server's PKI is not the vbs user's"
ok "the installed server runs as vbs from /etc/vbs/server.toml: READY when it answers, watchdog, STOPPING"

cleanup
trap - EXIT
[ ! -e /usr/bin/vbsd ] || fail "/usr/bin/vbsd left after purge"
[ ! -e /etc/vbs/server.toml ] || fail "/etc/vbs/server.toml left after purge"
ok "purged: no binaries or configuration left"
echo "packages in $out"
