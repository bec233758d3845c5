#!/usr/bin/env bash
# The whole test suite — the README's test command, and exactly what CI runs (.ci/run):
#   1. dev build (g++): every unit test, a replay of every fuzz corpus, and the integration tests
#      (network namespaces: uipsecd against uipsecd and against scapy's ESP; needs root)
#   2. ASan + UBSan build (clang), same tests — the daemons in the integration tests included
#   3. TSan build (clang), same tests (the QSBR and lock-free tables run threads)
#   4. libFuzzer build: every fuzz target runs for UIPSEC_FUZZ_SECONDS (default 15) seconds
#   5. clang-format check of every C++ file
# Benchmarks and long fuzzing are not part of it (see docs/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
fuzz_seconds=${UIPSEC_FUZZ_SECONDS:-15}
step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
scripts/install-deps.sh

for preset in dev asan tsan; do
  step "$preset: build and test"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done

step "fuzz: ${fuzz_seconds}s per target"
cmake --preset fuzz -DUIPSEC_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build --preset fuzz -j "$jobs" --target fuzzers
ctest --preset fuzz -L fuzz -j "$jobs"

step "clang-format"
scripts/check-format.sh

step "all passed"
