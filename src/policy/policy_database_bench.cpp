// SPD lookup and change costs (RFC 4301 §4.4.1) at 1, 1000 and 100000 policies: the indexed
// PolicyDatabase next to the linear scan of uipsec's first SPD (LinearPolicyTable) in the same
// binary, and what one add/remove costs at 100000.
//
// Policy sets (fixed seeds):
//   mixed    source and destination prefixes of random addresses, lengths uniform in /8../32,
//            a third TCP with one destination port, a third UDP with a port range, a third any
//            protocol; random priorities 0..999; PROTECT, transport mode.
//   gateway  what a large gateway holds: host-to-host (/32 -> /32) policies, one per peer, plus
//            one wide BYPASS and one wide DISCARD of worse priority.
// Flows: 65536 pre-drawn packets, each inside a policy drawn uniformly (random host bits, ports
// inside the ranges), looked up in turn; lookups are independent, so at large sizes cache misses
// can overlap (a throughput figure). The reader passes a QSBR quiescent point every 1024 lookups.
//
//   BM_Lookup/<set>/<n>         PolicyDatabase::lookup
//   BM_LinearLookup/<set>/<n>   LinearPolicyTable::lookup (the old SPD's scan)
//   BM_AddRemove/<n>            add one /32 -> /32 policy to n mixed ones, then remove it; per
//                               change (two per iteration); QSBR reclamation every 64 iterations
//   BM_Update/<n>               update one policy's priority among n
//   BM_OldPublish/<n>           what the old SPD did on every change: copy the n policy pointers
//                               into per-direction lists and stable-sort them by priority
//
// Run: bench/run_micro.sh (figures in docs/BENCHMARKS.md).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "policy/linear_policy_table.hpp"
#include "policy/policy_database.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

enum class Shape { kMixed = 0, kGateway = 1 };

std::uint32_t host_bits(std::uint8_t length) { return length >= 32 ? 0 : 0xffffffffu >> length; }

PolicyConfig mixed_policy(std::mt19937& rng, std::uint32_t reqid) {
  PolicyConfig c;
  const auto src_length = static_cast<std::uint8_t>(8 + rng() % 25);
  const auto dst_length = static_cast<std::uint8_t>(8 + rng() % 25);
  c.selector.source = IpPrefix(IpAddress::v4(static_cast<std::uint32_t>(rng())), src_length);
  c.selector.destination = IpPrefix(IpAddress::v4(static_cast<std::uint32_t>(rng())), dst_length);
  switch (rng() % 3) {
    case 0:
      c.selector.protocol = ip_protocol::kTcp;
      c.selector.destination_ports =
          PortRange::single(static_cast<std::uint16_t>(1 + rng() % 1024));
      break;
    case 1: {
      c.selector.protocol = ip_protocol::kUdp;
      const auto first = static_cast<std::uint16_t>(1024 + rng() % 30000);
      c.selector.destination_ports = PortRange{first, static_cast<std::uint16_t>(first + 100)};
      break;
    }
    default:
      break;
  }
  c.priority = static_cast<std::uint32_t>(rng() % 1000);
  c.action = PolicyAction::kProtect;
  c.tmpl = PolicyTemplate{Reqid(reqid), TemplateMode::kTransport, {}, {}};
  return c;
}

PolicyConfig gateway_policy(std::mt19937& rng, std::uint32_t reqid) {
  PolicyConfig c;
  c.selector.source = IpPrefix::host(IpAddress::v4(0x0a000000u | (rng() & 0x00ffffffu)));
  c.selector.destination = IpPrefix::host(IpAddress::v4(0xac100000u | (rng() & 0x000fffffu)));
  c.priority = 1000;
  c.action = PolicyAction::kProtect;
  c.tmpl = PolicyTemplate{Reqid(reqid), TemplateMode::kTransport, {}, {}};
  return c;
}

std::vector<PolicyConfig> policy_set(Shape shape, std::size_t n) {
  std::mt19937 rng(static_cast<std::uint32_t>(n) * 2 + static_cast<std::uint32_t>(shape));
  std::vector<PolicyConfig> out;
  if (shape == Shape::kGateway && n > 2) {
    PolicyConfig bypass;
    bypass.selector.source = *IpPrefix::parse("10.0.0.0/8");
    bypass.selector.destination = *IpPrefix::parse("10.0.0.0/8");
    bypass.action = PolicyAction::kBypass;
    bypass.priority = 5000;
    out.push_back(bypass);
    PolicyConfig discard;
    discard.action = PolicyAction::kDiscard;
    discard.priority = 9000;
    out.push_back(discard);
  }
  while (out.size() < n) {
    const auto reqid = static_cast<std::uint32_t>(out.size() + 1);
    out.push_back(shape == Shape::kMixed ? mixed_policy(rng, reqid) : gateway_policy(rng, reqid));
  }
  return out;
}

// A packet inside `c`'s selector.
IpPacketInfo flow_in(const PolicyConfig& c, std::mt19937& rng) {
  IpPacketInfo p;
  const IpPrefix& s = c.selector.source;
  const IpPrefix& d = c.selector.destination;
  p.src = IpAddress::v4(s.address().v4_host_order() |
                        (static_cast<std::uint32_t>(rng()) & host_bits(s.length())));
  p.dst = IpAddress::v4(d.address().v4_host_order() |
                        (static_cast<std::uint32_t>(rng()) & host_bits(d.length())));
  p.protocol = c.selector.protocol != 0 ? c.selector.protocol : ip_protocol::kTcp;
  p.ports_known = true;
  p.src_port = static_cast<std::uint16_t>(32768 + rng() % 28000);
  const PortRange& r = c.selector.destination_ports;
  p.dst_port = static_cast<std::uint16_t>(r.first + rng() % (r.last - r.first + 1u));
  return p;
}

constexpr std::size_t kFlows = 1 << 16;

// Built once per (shape, n) and kept for the run.
struct Spd {
  Spd(Shape shape, std::size_t n) : configs(policy_set(shape, n)) {
    for (const PolicyConfig& c : configs) {
      if (spd.add(c, Timestamp()).ok()) linear.add(c);
    }
    std::mt19937 rng(1234);
    flows.reserve(kFlows);
    for (std::size_t i = 0; i < kFlows; ++i) flows.push_back(flow_in(configs[rng() % n], rng));
    domain.synchronize();
  }
  QsbrDomain domain;
  PolicyDatabase spd{domain};
  LinearPolicyTable linear;
  std::vector<PolicyConfig> configs;
  std::vector<IpPacketInfo> flows;
};

Spd& spd_of(Shape shape, std::size_t n) {
  static std::map<std::pair<Shape, std::size_t>, std::unique_ptr<Spd>> all;
  auto& slot = all[{shape, n}];
  if (!slot) slot = std::make_unique<Spd>(shape, n);
  return *slot;
}

void set_per_item(benchmark::State& state, std::size_t items_per_iteration) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * items_per_iteration));
  state.counters["per_item"] = benchmark::Counter(
      static_cast<double>(items_per_iteration),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_Lookup(benchmark::State& state) {
  Spd& s = spd_of(static_cast<Shape>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  const auto reader = s.domain.register_reader();
  std::size_t i = 0, misses = 0;
  for (auto _ : state) {
    const Policy* p = s.spd.lookup(PolicyDirection::kOut, s.flows[i & (kFlows - 1)]);
    benchmark::DoNotOptimize(p);
    misses += p == nullptr ? 1 : 0;
    if ((++i & 1023) == 0) reader->quiescent();
  }
  if (misses != 0) state.SkipWithError("a flow found no policy");
  set_per_item(state, 1);
}

void BM_LinearLookup(benchmark::State& state) {
  Spd& s = spd_of(static_cast<Shape>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  std::size_t i = 0, misses = 0;
  for (auto _ : state) {
    const PolicyConfig* p = s.linear.lookup(PolicyDirection::kOut, s.flows[i++ & (kFlows - 1)]);
    benchmark::DoNotOptimize(p);
    misses += p == nullptr ? 1 : 0;
  }
  if (misses != 0) state.SkipWithError("a flow found no policy");
  set_per_item(state, 1);
}

void BM_AddRemove(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Spd& s = spd_of(Shape::kMixed, n);
  std::mt19937 rng(77);
  std::vector<PolicyConfig> extra;
  for (std::size_t i = 0; i < 1024; ++i) {
    PolicyConfig c = gateway_policy(rng, static_cast<std::uint32_t>(n + i + 1));
    c.selector.source = IpPrefix::host(IpAddress::v4(0xc0000200u + static_cast<std::uint32_t>(i)));
    extra.push_back(c);
  }
  std::size_t i = 0, failures = 0;
  for (auto _ : state) {
    const PolicyConfig& c = extra[i & 1023];
    failures += s.spd.add(c, Timestamp()).ok() ? 0 : 1;
    failures += s.spd.remove(c.id()).ok() ? 0 : 1;
    if ((++i & 63) == 0) s.domain.reclaim();
  }
  s.domain.reclaim();
  if (failures != 0) state.SkipWithError("add or remove failed");
  set_per_item(state, 2);
}

void BM_Update(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Spd& s = spd_of(Shape::kMixed, n);
  const PolicyConfig original = s.configs[n / 2];
  PolicyConfig c = original;
  std::size_t i = 0, failures = 0;
  for (auto _ : state) {
    c.priority = static_cast<std::uint32_t>(i % 1000);
    failures += s.spd.update(c, Timestamp()).ok() ? 0 : 1;
    if ((++i & 63) == 0) s.domain.reclaim();
  }
  failures += s.spd.update(original, Timestamp()).ok() ? 0 : 1;  // as the lookups expect it
  s.domain.reclaim();
  if (failures != 0) state.SkipWithError("update failed");
  set_per_item(state, 1);
}

void BM_OldPublish(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Spd& s = spd_of(Shape::kMixed, n);
  std::vector<const Policy*> all;
  s.spd.for_each([&](const Policy& p) { all.push_back(&p); });
  for (auto _ : state) {
    std::array<std::vector<const Policy*>, kPolicyDirectionCount> by_direction;
    for (const Policy* p : all) {
      by_direction[static_cast<std::size_t>(p->config().direction)].push_back(p);
    }
    for (auto& list : by_direction) {
      std::stable_sort(list.begin(), list.end(), [](const Policy* a, const Policy* b) {
        return a->config().priority < b->config().priority;
      });
    }
    benchmark::DoNotOptimize(by_direction);
  }
  set_per_item(state, 1);
}

void sizes(benchmark::internal::Benchmark* b) {
  for (const auto shape : {Shape::kMixed, Shape::kGateway}) {
    for (const std::int64_t n : {1, 1000, 100000}) b->Args({static_cast<std::int64_t>(shape), n});
  }
  b->ArgNames({"gateway", "n"});
}

BENCHMARK(BM_Lookup)->Apply(sizes);
BENCHMARK(BM_LinearLookup)->Apply(sizes);
BENCHMARK(BM_AddRemove)->Arg(1000)->Arg(100000);
BENCHMARK(BM_Update)->Arg(1000)->Arg(100000);
BENCHMARK(BM_OldPublish)->Arg(1000)->Arg(100000);

}  // namespace
}  // namespace uipsec
