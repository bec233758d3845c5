#!/usr/bin/env bash
# Builds the `release` preset (Release, -Werror, benchmarks on) and runs the micro-benchmarks of
# the ESP layer, the packet path, the crypto module, the backend and the SPD with the repetition
# flags the figures in docs/BENCHMARKS.md were taken with; results go to stdout.
#
#   bench/run_micro.sh                                  # everything
#   bench/run_micro.sh --benchmark_filter='aes128gcm16' # extra flags go to every binary
#
# Environment: JOBS (build parallelism, default 2), REPETITIONS (default 5), MIN_TIME (seconds per
# repetition, default 0.2), BENCH_OUT_DIR (if set, also writes <binary>.json there).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cmake --preset release
cmake --build --preset release --parallel "${JOBS:-2}" \
  --target uipsec_esp_bench uipsec_dataplane_bench uipsec_crypto_bench uipsec_backend_bench \
  uipsec_policy_bench

# Repetitions run in random order across benchmarks (ours and the bare baseline interleave), so a
# burst of load from a neighbour hits both sides instead of one; report medians.
flags=(
  --benchmark_repetitions="${REPETITIONS:-5}"
  --benchmark_report_aggregates_only=true
  --benchmark_min_time="${MIN_TIME:-0.2}"
  --benchmark_enable_random_interleaving=true
)

for bench in src/esp/uipsec_esp_bench src/dataplane/uipsec_dataplane_bench \
  src/crypto/uipsec_crypto_bench src/backend/uipsec_backend_bench src/policy/uipsec_policy_bench; do
  out=()
  if [[ -n "${BENCH_OUT_DIR:-}" ]]; then
    mkdir -p "$BENCH_OUT_DIR"
    out=(--benchmark_out="$BENCH_OUT_DIR/$(basename "$bench").json" --benchmark_out_format=json)
  fi
  echo "== $bench"
  "build/release/$bench" "${flags[@]}" "${out[@]}" "$@"
done
