// Benchmarks of the inbound anti-replay path: check() + accept() per packet for several window
// sizes, in order and with small reordering, and ESN inference.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <random>

#include "esp/replay_window.hpp"
#include "esp/sequence_number.hpp"

namespace {

using uipsec::ReplayWindow;

// Offsets within each group of 16 packets: identity (in order), or a fixed shuffle (packets
// arrive up to 15 places late or early, as behind a multi-queue NIC).
std::array<std::uint64_t, 16> arrival_order(bool reordered) {
  std::array<std::uint64_t, 16> order{};
  std::iota(order.begin(), order.end(), 0);
  if (reordered) std::shuffle(order.begin(), order.end(), std::mt19937(6479));
  return order;
}

void check_and_accept(benchmark::State& state, bool reordered) {
  const auto size = static_cast<std::uint32_t>(state.range(0));
  const std::array<std::uint64_t, 16> order = arrival_order(reordered);
  ReplayWindow window(size);
  std::uint64_t i = 0;
  std::uint64_t dropped = 0;
  for (auto _ : state) {
    const std::uint64_t seq = (i & ~std::uint64_t{15}) + order[i & 15] + 1;
    ++i;
    if (window.check(seq) == ReplayWindow::Check::kOk) {
      window.accept(seq);
    } else {
      ++dropped;
    }
    benchmark::DoNotOptimize(window);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["dropped"] = static_cast<double>(dropped);
}

void BM_CheckAcceptInOrder(benchmark::State& state) { check_and_accept(state, false); }
void BM_CheckAcceptReordered(benchmark::State& state) { check_and_accept(state, true); }

BENCHMARK(BM_CheckAcceptInOrder)->Arg(64)->Arg(1024)->Arg(4096)->Arg(65536);
BENCHMARK(BM_CheckAcceptReordered)->Arg(64)->Arg(1024)->Arg(4096)->Arg(65536);

// A duplicate flood: every packet is the same, already received number (rejected by check()).
void BM_CheckDuplicate(benchmark::State& state) {
  ReplayWindow window(static_cast<std::uint32_t>(state.range(0)));
  window.accept(1000);
  for (auto _ : state) {
    benchmark::DoNotOptimize(window.check(1000));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckDuplicate)->Arg(64)->Arg(65536);

// Inference for a stream crossing 2^32, top following the packets as the receiver's would.
void BM_InferEsn(benchmark::State& state) {
  const auto window = static_cast<std::uint32_t>(state.range(0));
  std::uint64_t top = (std::uint64_t{1} << 32) - (std::uint64_t{1} << 20);
  for (auto _ : state) {
    const std::uint64_t seq = uipsec::infer_esn(static_cast<std::uint32_t>(top + 1), top, window);
    benchmark::DoNotOptimize(seq);
    top = seq;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InferEsn)->Arg(0)->Arg(64)->Arg(65536);

}  // namespace
