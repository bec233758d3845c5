// Installing and removing many SAs and policies through the IpsecBackend interface (the calls an
// IKE daemon or the control socket makes), in-process: LocalBackend over the SA and policy
// databases. The target (issue): 100 000 SAs and 100 000 policies installed in under a second
// each.
//
// What one iteration does (n = the argument):
//   BM_AddSas/<n>         add_sa of n SAs: AES-128-GCM-16, tunnel mode, each its own reqid and
//                         peer address (n tunnels' outbound SAs), random SPIs. Includes building
//                         each SA's crypto contexts (one worker). The teardown is not timed.
//   BM_DeleteSas/<n>      delete_sa of the n SAs, then tick(): after the grace period the SAs
//                         are freed there (QSBR), so the freeing is timed too. Installing them
//                         is not timed.
//   BM_AddPolicies/<n>    add_policy of n PROTECT policies, direction out: each a /32 -> /32
//                         selector to its own tunnel (reqid). Teardown not timed.
//   BM_DeletePolicies/<n> delete_policy of the n policies, then tick().
// Every timed loop frees what the databases retired (QsbrDomain::reclaim, which uipsecd's 1 s
// tick() does between control requests) after each 1024 calls, and ends with one tick().
// Without that a database that publishes a copy per change keeps every retired copy until the
// end: with the linear SPD, 100 000 snapshots of up to 100 000 pointers, more memory than the
// machine had. (tick() itself also walks every SA for time lifetimes, a per-second cost that
// does not belong to installing, so the loop reclaims directly.)
// Configurations are built before the timed loop. The "per_item" counter is CPU time per SA or
// policy; items_per_second the rate. One iteration per repetition: the work is the whole set.
//
// Run: bench/run_micro.sh (figures in docs/BENCHMARKS.md).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <unordered_set>
#include <vector>

#include "backend/local_backend.hpp"
#include "sa/sa_test_support.hpp"

namespace uipsec {
namespace {

// 10.<i / 65536>.<i / 256 % 256>.<i % 256>, distinct for i < 2^24.
IpAddress host(std::uint32_t base, std::uint32_t i) {
  const std::uint32_t a = base + i;
  return *IpAddress::parse(std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
                           std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255));
}

constexpr std::uint32_t kLocal = 0x0a000001;   // 10.0.0.1: our outer address
constexpr std::uint32_t kPeers = 0x0b000000;   // 11.0.0.0 + i: the peers
constexpr std::uint32_t kInside = 0xac100000;  // 172.16.0.0 + i: our inner hosts
constexpr std::uint32_t kRemote = 0xc0a80000;  // 192.168.0.0 + i: theirs

std::vector<SaConfig> sa_configs(std::size_t n) {
  std::mt19937_64 rng(8221);
  std::unordered_set<std::uint32_t> spis;
  std::vector<SaConfig> out;
  out.reserve(n);
  const IpAddress local = host(kLocal, 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t spi = 0;
    do {
      spi = static_cast<std::uint32_t>(rng()) | 0x1000;
    } while (!spis.insert(spi).second);
    SaConfig c = test::sa_config("10.0.0.1", "11.0.0.1", spi, static_cast<std::uint32_t>(i + 1));
    c.endpoints.source = local;
    c.endpoints.destination = host(kPeers, static_cast<std::uint32_t>(i));
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<PolicyConfig> policy_configs(std::size_t n) {
  std::vector<PolicyConfig> out;
  out.reserve(n);
  const IpAddress local = host(kLocal, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::uint32_t>(i);
    PolicyConfig p;
    p.selector.source = IpPrefix::host(host(kInside, k));
    p.selector.destination = IpPrefix::host(host(kRemote, k));
    p.direction = PolicyDirection::kOut;
    p.action = PolicyAction::kProtect;
    p.priority = 1000;
    p.tmpl = PolicyTemplate{Reqid(k + 1), TemplateMode::kTunnel, local, host(kPeers, k)};
    out.push_back(std::move(p));
  }
  return out;
}

// One control plane: databases, event queue, backend.
struct ControlPlane {
  QsbrDomain domain;
  SaDatabase sad{domain, 1};
  PolicyDatabase spd{domain};
  EventQueue events{1024};
  WorkerCounters worker;
  MonotonicClock clock;
  LocalBackend local{domain, sad, spd, events, {&worker}, clock, LocalBackend::Options{}};
  IpsecBackend& backend = local;

  ~ControlPlane() { domain.synchronize(); }
};

// Calls f(item) for every item, reclaiming retired objects after each 1024; then one tick().
template <class T, class F>
bool apply_all(ControlPlane& plane, const std::vector<T>& items, F&& f) {
  bool ok = true;
  std::size_t since_tick = 0;
  for (const T& item : items) {
    ok &= f(item);
    if (++since_tick == 1024) {
      plane.domain.reclaim();
      since_tick = 0;
    }
  }
  plane.local.tick();
  return ok;
}

void set_per_item(benchmark::State& state) {
  const auto n = state.range(0);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n);
  state.counters["per_item"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate |
                                                     benchmark::Counter::kInvert);
}

void BM_AddSas(benchmark::State& state) {
  const auto configs = sa_configs(static_cast<std::size_t>(state.range(0)));
  bool ok = true;
  for (auto _ : state) {
    state.PauseTiming();
    auto plane = std::make_unique<ControlPlane>();
    state.ResumeTiming();
    ok &= apply_all(*plane, configs,
                    [&](const SaConfig& c) { return plane->backend.add_sa(c).ok(); });
    state.PauseTiming();
    ok &= plane->sad.size() == configs.size();
    plane.reset();
    state.ResumeTiming();
  }
  if (!ok) state.SkipWithError("add_sa failed");
  set_per_item(state);
}

void BM_DeleteSas(benchmark::State& state) {
  const auto configs = sa_configs(static_cast<std::size_t>(state.range(0)));
  bool ok = true;
  for (auto _ : state) {
    state.PauseTiming();
    auto plane = std::make_unique<ControlPlane>();
    ok &= apply_all(*plane, configs,
                    [&](const SaConfig& c) { return plane->backend.add_sa(c).ok(); });
    state.ResumeTiming();
    // No reader is registered: everything retired is freed at the next tick.
    ok &= apply_all(*plane, configs,
                    [&](const SaConfig& c) { return plane->backend.delete_sa(c.id()).ok(); });
    state.PauseTiming();
    ok &= plane->sad.size() == 0 && plane->domain.pending() == 0;
    plane.reset();
    state.ResumeTiming();
  }
  if (!ok) state.SkipWithError("delete_sa failed");
  set_per_item(state);
}

void BM_AddPolicies(benchmark::State& state) {
  const auto configs = policy_configs(static_cast<std::size_t>(state.range(0)));
  bool ok = true;
  for (auto _ : state) {
    state.PauseTiming();
    auto plane = std::make_unique<ControlPlane>();
    state.ResumeTiming();
    ok &= apply_all(*plane, configs,
                    [&](const PolicyConfig& p) { return plane->backend.add_policy(p).ok(); });
    state.PauseTiming();
    ok &= plane->spd.size() == configs.size();
    plane.reset();
    state.ResumeTiming();
  }
  if (!ok) state.SkipWithError("add_policy failed");
  set_per_item(state);
}

void BM_DeletePolicies(benchmark::State& state) {
  const auto configs = policy_configs(static_cast<std::size_t>(state.range(0)));
  bool ok = true;
  for (auto _ : state) {
    state.PauseTiming();
    auto plane = std::make_unique<ControlPlane>();
    ok &= apply_all(*plane, configs,
                    [&](const PolicyConfig& p) { return plane->backend.add_policy(p).ok(); });
    state.ResumeTiming();
    ok &= apply_all(*plane, configs, [&](const PolicyConfig& p) {
      return plane->backend.delete_policy(p.id()).ok();
    });
    state.PauseTiming();
    ok &= plane->spd.size() == 0;
    plane.reset();
    state.ResumeTiming();
  }
  if (!ok) state.SkipWithError("delete_policy failed");
  set_per_item(state);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Arg(1000)->Arg(10000)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_AddSas)->Apply(sizes);
BENCHMARK(BM_DeleteSas)->Apply(sizes);
BENCHMARK(BM_AddPolicies)->Apply(sizes);
BENCHMARK(BM_DeletePolicies)->Apply(sizes);

}  // namespace
}  // namespace uipsec
