#!/usr/bin/env bash
# uipsec's main job, on a fresh Debian 12 machine, as root: install what is needed, build uipsecd
# and uipsec, bring up a tunnel between two network namespaces, push a ping and a TCP transfer
# through it, show the SAs and counters, and remove everything again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$(nproc)" --target uipsecd uipsec
export UIPSECD="$PWD/build/dev/src/daemon/uipsecd" UIPSEC="$PWD/build/dev/src/cli/uipsec"
exec /usr/bin/python3 tests/integration/demo.py
