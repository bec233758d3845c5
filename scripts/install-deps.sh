#!/usr/bin/env bash
# Installs what building and testing uipsec needs on Debian 12 (bookworm), as root, with apt-get.
# Does nothing when everything is present already.
set -euo pipefail

packages=(
  cmake ninja-build g++ clang clang-format libclang-rt-14-dev  # toolchain, sanitizers, libFuzzer
  libssl-dev                                                   # OpenSSL 3: the crypto
  libipsec-mb-dev                                              # intel-ipsec-mb: fast AES-GCM
  libmnl-dev                                                   # rtnetlink: routes and rules
  libgtest-dev libgmock-dev libbenchmark-dev                   # tests and benchmarks
  nlohmann-json3-dev                                           # control protocol (JSON)
  pkg-config                                                   # finds libmnl
  iproute2 iputils-ping util-linux                             # demo and integration tests
  python3 python3-scapy python3-cryptography                   # ... and their independent ESP peer
  nftables conntrack                                           # ... and the NAT in nat_test
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
