#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/deps/*.txt (or the lists named as arguments:
# "build", "test"). Idempotent: packages already installed are skipped quickly.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lists=("$@")
[ ${#lists[@]} -gt 0 ] || lists=(build)
pkgs=()
for l in "${lists[@]}"; do
  if [ "$l" = all ]; then files=("$here"/deps/*.txt); else files=("$here/deps/$l.txt"); fi
  for f in "${files[@]}"; do
    [ -f "$f" ] || { echo "install-deps: no package list $f" >&2; exit 2; }
    while read -r p; do pkgs+=("$p"); done < <(sed -e 's/#.*//' -e '/^\s*$/d' "$f")
  done
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
