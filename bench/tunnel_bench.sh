#!/usr/bin/env bash
# End-to-end tunnel benchmark (docs/BENCHMARKS.md, "End-to-end tunnel throughput"): installs
# strongSwan (kernel-libipsec), wireguard-go, OpenVPN and iperf3 with apt-get, builds uipsecd and
# uipsec with the release preset, and runs bench/tunnel_bench.py (as root) with the arguments
# given here.
#
#   bench/tunnel_bench.sh                          # full run: 3 rounds, ~45 min on 2 vCPUs
#   bench/tunnel_bench.sh --quick                  # check the harness end to end (~3 min)
#   bench/tunnel_bench.sh --systems uipsec,strongswan --rounds 5 --out /tmp/tunnel.md
#
# Environment:
#   UIPSEC_SNAPSHOT=REV   build the committed tree at REV (e.g. HEAD) from `git archive` in
#                         build/tunnel-bench-src instead of the working tree, so that uncommitted
#                         edits in src/ do not end up in the measurement
#   UIPSEC_WERROR=OFF     configure without -Werror (for a compiler warning that is not ours)
#   JOBS                  build parallelism (default 2)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "tunnel_bench: run as root (network namespaces, apt-get)" >&2
  exit 1
fi

# --- packages --------------------------------------------------------------------------------
scripts/install-deps.sh   # the build's own dependencies, iproute2, ping, unshare, python3
packages=(
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins
  wireguard-go wireguard-tools openvpn iperf3 openssl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tunnel_bench: installing ${missing[*]}"
  # No daemon of these packages may start in the host namespace: strongswan-charon pulls in
  # strongswan-starter, and openvpn ships openvpn.service. A policy-rc.d that answers 101 makes
  # invoke-rc.d (and deb-systemd-invoke) skip every start during this install; it is removed
  # again afterwards unless it was there before. On a systemd host the units stay *enabled* for
  # the next boot (the packages do that); disable them yourself if that host should not run them.
  created_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=yes
  fi
  trap 'if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
  created_policy=""
fi

# --- uipsec, release preset --------------------------------------------------------------------
src="$root"
source_note="working tree $root"
if [ -n "${UIPSEC_SNAPSHOT:-}" ]; then
  rev=$(git rev-parse --verify "${UIPSEC_SNAPSHOT}^{commit}")
  src="$root/build/tunnel-bench-src"
  # Extracted once per commit; its build/release stays for incremental rebuilds.
  if [ "$(cat "$src/.snapshot" 2>/dev/null)" != "$rev" ]; then
    rm -rf "$src"
    mkdir -p "$src"
    git archive "$rev" | tar -x -C "$src"
    echo "$rev" >"$src/.snapshot"
  fi
  source_note="git archive of commit ${rev:0:12}"
fi
configure=(cmake --preset release)
if [ "${UIPSEC_WERROR:-ON}" = "OFF" ]; then
  configure+=(-DUIPSEC_WERROR=OFF)
  source_note="$source_note, -DUIPSEC_WERROR=OFF"
fi
mkdir -p "$root/build"
build_log="$root/build/tunnel-bench-build.log"
echo "tunnel_bench: building uipsecd and uipsec (release preset) from the $source_note" \
  "(log: $build_log)"
if ! (cd "$src" && "${configure[@]}" && cmake --build --preset release --parallel "${JOBS:-2}" \
  --target uipsecd uipsec) >"$build_log" 2>&1; then
  grep -E -B2 -A8 'error|FAILED' "$build_log" | tail -40 >&2
  echo "tunnel_bench: the build failed (full log: $build_log)." >&2
  echo "  UIPSEC_SNAPSHOT=HEAD builds the committed tree without uncommitted edits;" >&2
  echo "  UIPSEC_WERROR=OFF configures without -Werror." >&2
  exit 1
fi

exec "$root/bench/tunnel_bench.py" \
  --uipsecd "$src/build/release/src/daemon/uipsecd" \
  --uipsec "$src/build/release/src/cli/uipsec" \
  --source "$source_note" "$@"
