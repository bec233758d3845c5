// Per-packet cost of the packet path (RFC 4301 §5.1 outbound, §5.2 inbound) on batches of 64
// inner packets of 1400 bytes through one AES-128-GCM-16 tunnel-mode SA and one policy, and the
// raw cost of the inbound SA lookup by SPI with 1, 1000 and 100000 SAs installed.
//
// Two hosts as in dataplane_test.cpp: A (198.18.0.1) seals, B (198.18.0.2) opens; each has its
// own databases, event queue, counters and QSBR reader (this thread), which passes a quiescent
// point after every batch as a worker does.
//
// What one iteration does:
//   BM_OutboundBatch   refill: copy the 1400-byte cleartext packet into each of the 64 buffers
//                      (PacketBuffer::assign), then OutboundPath::process on the batch.
//   BM_OutboundRefill  the refill alone. Outbound per packet = (Batch - Refill) / 64.
//   BM_InboundBatch    refill: copy one of 64 pre-sealed ESP packets (sequence numbers 1..64)
//                      into each buffer and set its metadata, then InboundPath::process. B's SA
//                      has anti-replay off (window 0) so the same 64 packets open every time;
//                      the window costs a few ns per packet (replay_window_bench).
//   BM_InboundRefill   the refill alone. Inbound per packet = (Batch - Refill) / 64.
//   BM_FindInbound/<n> SaDatabase::find_inbound for one of 65536 pre-drawn random SPIs present in
//                      a database of n SAs with random SPIs (lookups are independent, so cache
//                      misses at large n overlap: a throughput figure, not a latency).
//   BM_OutboundAtScale/<shape>/<policies>/<sas>
//                      OutboundPath::process on 64-packet batches where each packet's flow is
//                      drawn uniformly from `policies` policies, each pointing (by reqid) at one
//                      of `sas` tunnel-mode AES-128-GCM-16 SAs. Shapes: 0 "road warriors" —
//                      policy i is 198.18.10.0/24 -> 100.64.0.0+i/32 through the SA with reqid i+1
//                      to peer 172.16.0.0+i (policies = sas), or all through one SA; 1 "mixed" —
//                      random source and destination prefixes /8../32, random priorities (the
//                      policy benchmark's mixed set), all through one SA. Refill: copy the
//                      1400-byte packet, then write the flow's addresses and ports into it.
//   BM_OutboundRefillFlows  that refill alone. Per packet = (AtScale - RefillFlows) / 64.
//   BM_InboundAtScale/<sas> InboundPath::process on batches of packets that the road-warrior
//                      setup of `sas` SAs sealed (SPIs uniform over the SAs), with an IN policy
//                      per SA; BM_InboundRefillAtScale the refill alone.
// The "per_packet" counter is CPU time per packet (per lookup for BM_FindInbound).
//
// Run: bench/run_micro.sh (figures in docs/BENCHMARKS.md).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "dataplane/dataplane_test_support.hpp"
#include "wire/inet_checksum.hpp"

namespace uipsec {
namespace {

using test::protect;
using test::udp_packet;

constexpr std::size_t kBatch = 64;
constexpr std::size_t kInnerSize = 1400;  // whole inner IPv4 packet: 20 + 8 + 1372
constexpr std::uint32_t kSpi = 0x1001;
const Timestamp kNow = Timestamp::from_seconds(100);

// CPU time per packet, as a counter.
void set_per_packet(benchmark::State& state, std::size_t packets_per_iteration) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * packets_per_iteration));
  state.counters["per_packet"] = benchmark::Counter(
      static_cast<double>(packets_per_iteration),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// A protects 198.18.10.0/24 -> 198.18.20.0/24 through one tunnel-mode SA A -> B, installed on
// both hosts.
struct Tunnel {
  Tunnel() {
    SaConfig sa = test::sa_config("198.18.0.1", "198.18.0.2", kSpi);  // AES-128-GCM-16, tunnel
    sa.replay_window = 0;  // B opens the same 64 packets again and again
    ok = a.spd.add(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2"), kNow)
             .ok() &&
         a.sad.add(sa, kNow).ok() && b.sad.add(sa, kNow).ok();
  }

  test::Host a{"198.18.0.1"};
  test::Host b{"198.18.0.2"};
  bool ok = false;
};

std::vector<std::uint8_t> cleartext_packet() {
  return udp_packet("198.18.10.5", "198.18.20.7", 1000, 2000, kInnerSize - 28);
}

// Batch of kBatch buffers from `pool` (default capacity: any packet up to 64 KiB).
PacketBatch make_batch(PacketPool& pool) {
  PacketBatch batch;
  for (std::size_t i = 0; i < kBatch; ++i) batch.push(pool.acquire());
  return batch;
}

void refill_cleartext(PacketBatch& batch, const std::vector<std::uint8_t>& packet) {
  for (std::size_t i = 0; i < batch.size; ++i) batch.packets[i]->assign(packet);
}

void BM_OutboundBatch(benchmark::State& state) {
  Tunnel tunnel;
  PacketPool pool(kBatch);
  PacketBatch batch = make_batch(pool);
  const std::vector<std::uint8_t> packet = cleartext_packet();
  if (!tunnel.ok) {
    state.SkipWithError("tunnel setup failed");
    return;
  }
  for (auto _ : state) {
    refill_cleartext(batch, packet);
    tunnel.a.outbound.process(batch, kNow);
    tunnel.a.reader->quiescent();
    benchmark::ClobberMemory();
  }
  const std::uint64_t expected = static_cast<std::uint64_t>(state.iterations()) * kBatch;
  if (tunnel.a.counters.sealed.get() != expected || tunnel.a.counters.drops.total() != 0) {
    state.SkipWithError("outbound dropped packets");
  }
  set_per_packet(state, kBatch);
}

void BM_OutboundRefill(benchmark::State& state) {
  PacketPool pool(kBatch);
  PacketBatch batch = make_batch(pool);
  const std::vector<std::uint8_t> packet = cleartext_packet();
  for (auto _ : state) {
    refill_cleartext(batch, packet);
    benchmark::ClobberMemory();
  }
  set_per_packet(state, kBatch);
}

// ESP packets as they arrive at B: bytes from SPI to ICV, metadata of a UDP datagram A -> B.
struct SealedPackets {
  std::vector<std::vector<std::uint8_t>> bytes;
  std::vector<PacketMeta> meta;
};

// Appends the ESP packets of a batch the outbound path sealed, as B receives them; false if any
// packet was not sealed.
bool capture_sealed(const PacketBatch& batch, SealedPackets& out) {
  for (std::size_t i = 0; i < batch.size; ++i) {
    if (batch.verdicts[i] != Verdict::send_to_peer()) return false;
    const PacketBuffer& p = *batch.packets[i];
    out.bytes.emplace_back(p.data(), p.data() + p.size());
    PacketMeta meta = p.meta;
    std::swap(meta.local, meta.remote);  // what B sees of A's datagram
    out.meta.push_back(meta);
  }
  return true;
}

// Seals one batch on A; empty on failure.
SealedPackets seal_batch(Tunnel& tunnel, PacketBatch& batch) {
  refill_cleartext(batch, cleartext_packet());
  tunnel.a.outbound.process(batch, kNow);
  tunnel.a.reader->quiescent();
  SealedPackets out;
  return capture_sealed(batch, out) ? out : SealedPackets{};
}

void refill_sealed(PacketBatch& batch, const SealedPackets& sealed) {
  for (std::size_t i = 0; i < batch.size; ++i) {
    PacketBuffer& p = *batch.packets[i];
    p.assign(sealed.bytes[i]);
    p.meta = sealed.meta[i];
  }
}

void BM_InboundBatch(benchmark::State& state) {
  Tunnel tunnel;
  PacketPool pool(kBatch);
  PacketBatch batch = make_batch(pool);
  const SealedPackets sealed = tunnel.ok ? seal_batch(tunnel, batch) : SealedPackets{};
  if (sealed.bytes.size() != kBatch) {
    state.SkipWithError("tunnel setup failed");
    return;
  }
  for (auto _ : state) {
    refill_sealed(batch, sealed);
    tunnel.b.inbound.process(batch, kNow);
    tunnel.b.reader->quiescent();
    benchmark::ClobberMemory();
  }
  const std::uint64_t expected = static_cast<std::uint64_t>(state.iterations()) * kBatch;
  if (tunnel.b.counters.opened.get() != expected || tunnel.b.counters.drops.total() != 0) {
    state.SkipWithError("inbound dropped packets");
  }
  set_per_packet(state, kBatch);
}

void BM_InboundRefill(benchmark::State& state) {
  Tunnel tunnel;
  PacketPool pool(kBatch);
  PacketBatch batch = make_batch(pool);
  const SealedPackets sealed = tunnel.ok ? seal_batch(tunnel, batch) : SealedPackets{};
  if (sealed.bytes.size() != kBatch) {
    state.SkipWithError("tunnel setup failed");
    return;
  }
  for (auto _ : state) {
    refill_sealed(batch, sealed);
    benchmark::ClobberMemory();
  }
  set_per_packet(state, kBatch);
}

BENCHMARK(BM_OutboundBatch);
BENCHMARK(BM_OutboundRefill);
BENCHMARK(BM_InboundBatch);
BENCHMARK(BM_InboundRefill);

// n inbound SAs A -> B with distinct random SPIs (AES-128-GCM, keys from the SPI). Built once
// per n and kept for the whole run: 100000 SAs take a while to create.
struct LookupTable {
  explicit LookupTable(std::size_t n) {
    std::mt19937 rng(static_cast<std::uint32_t>(n));
    std::unordered_set<std::uint32_t> used;
    while (spis.size() < n) {
      const std::uint32_t spi = rng();
      if (spi < 256 || !used.insert(spi).second) continue;
      SaConfig config = test::sa_config("198.18.0.1", "198.18.0.2", spi);
      config.direction = SaDirection::kIn;
      if (!sad.add(std::move(config), kNow).ok()) {
        spis.clear();
        return;
      }
      spis.push_back(Spi(spi));
    }
    // Frees the tables outgrown while filling; no reader is registered yet.
    domain.synchronize();
  }

  QsbrDomain domain;
  SaDatabase sad{domain, 1};
  std::vector<Spi> spis;
};

LookupTable& lookup_table(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<LookupTable>> tables;
  std::unique_ptr<LookupTable>& table = tables[n];
  if (!table) table = std::make_unique<LookupTable>(n);
  return *table;
}

void BM_FindInbound(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  LookupTable& table = lookup_table(n);
  if (table.spis.size() != n) {
    state.SkipWithError("SA setup failed");
    return;
  }
  constexpr std::size_t kKeys = 1 << 16;
  std::vector<Spi> keys(kKeys);
  std::mt19937 rng(12345);
  std::uniform_int_distribution<std::size_t> pick(0, n - 1);
  for (Spi& key : keys) key = table.spis[pick(rng)];
  const IpAddress destination = test::addr("198.18.0.2");
  const std::unique_ptr<QsbrReader> reader = table.domain.register_reader();
  std::size_t i = 0;
  std::size_t misses = 0;
  for (auto _ : state) {
    const SecurityAssociation* sa = table.sad.find_inbound(keys[i & (kKeys - 1)], destination);
    benchmark::DoNotOptimize(sa);
    misses += sa == nullptr ? 1 : 0;
    if ((++i & 1023) == 0) reader->quiescent();
  }
  if (misses != 0) state.SkipWithError("lookup missed a present SPI");
  set_per_packet(state, 1);
}
BENCHMARK(BM_FindInbound)->Arg(1)->Arg(1000)->Arg(100000);

// --- The outbound path with many policies and SAs ------------------------------------------------

// A packet's addresses and ports, written into the cleartext template.
struct Flow {
  std::uint32_t src;
  std::uint32_t dst;
  std::uint16_t sport;
  std::uint16_t dport;
};
constexpr std::size_t kFlows = 1 << 16;

std::uint32_t host_bits(unsigned length) { return length >= 32 ? 0 : 0xffffffffu >> length; }

// Host A with `policies` OUT policies and `sas` SAs (see the file comment), and flows drawn
// uniformly from the policies. Built once per configuration and kept for the run.
struct ScaleSetup {
  ScaleSetup(int shape, std::size_t policies, std::size_t sas) {
    std::mt19937 rng(
        static_cast<std::uint32_t>(policies * 3 + sas + static_cast<std::size_t>(shape)));
    std::vector<PolicyConfig> configs;
    for (std::size_t i = 0; i < sas; ++i) {
      const std::string peer =
          IpAddress::v4(0xac100000u + static_cast<std::uint32_t>(i)).to_string();
      if (!host.sad
               .add(test::sa_config("198.18.0.1", peer.c_str(),
                                    0x1000 + static_cast<std::uint32_t>(i),
                                    static_cast<std::uint32_t>(i + 1)),
                    kNow)
               .ok()) {
        return;
      }
    }
    for (std::size_t i = 0; i < policies; ++i) {
      const std::size_t sa = sas == policies ? i : 0;
      PolicyConfig c;
      c.action = PolicyAction::kProtect;
      c.tmpl = PolicyTemplate{Reqid(static_cast<std::uint32_t>(sa + 1)), TemplateMode::kTunnel,
                              test::addr("198.18.0.1"),
                              IpAddress::v4(0xac100000u + static_cast<std::uint32_t>(sa))};
      if (shape == 0) {
        c.selector.source = *IpPrefix::parse("198.18.10.0/24");
        c.selector.destination =
            IpPrefix::host(IpAddress::v4(0x64400000u + static_cast<std::uint32_t>(i)));
        c.priority = 1000;
      } else {
        c.selector.source = IpPrefix(IpAddress::v4(static_cast<std::uint32_t>(rng())),
                                     static_cast<std::uint8_t>(8 + rng() % 25));
        c.selector.destination = IpPrefix(IpAddress::v4(static_cast<std::uint32_t>(rng())),
                                          static_cast<std::uint8_t>(8 + rng() % 25));
        c.priority = static_cast<std::uint32_t>(rng() % 1000);
      }
      if (host.spd.add(c, kNow).ok()) configs.push_back(c);
    }
    flows.reserve(kFlows);
    for (std::size_t i = 0; i < kFlows && !configs.empty(); ++i) {
      const PolicyConfig& c = configs[rng() % configs.size()];
      const IpPrefix& s = c.selector.source;
      const IpPrefix& d = c.selector.destination;
      flows.push_back(Flow{
          s.address().v4_host_order() | (static_cast<std::uint32_t>(rng()) & host_bits(s.length())),
          d.address().v4_host_order() | (static_cast<std::uint32_t>(rng()) & host_bits(d.length())),
          static_cast<std::uint16_t>(1024 + rng() % 60000),
          static_cast<std::uint16_t>(1 + rng() % 60000)});
    }
    // Frees what the tables outgrew while filling; the Host's reader is this thread.
    host.reader->quiescent();
    host.domain.reclaim();
    ok = flows.size() == kFlows;
  }

  test::Host host{"198.18.0.1"};
  std::vector<Flow> flows;
  bool ok = false;
};

ScaleSetup& scale_setup(int shape, std::size_t policies, std::size_t sas) {
  static std::map<std::tuple<int, std::size_t, std::size_t>, std::unique_ptr<ScaleSetup>> all;
  auto& slot = all[{shape, policies, sas}];
  if (!slot) slot = std::make_unique<ScaleSetup>(shape, policies, sas);
  return *slot;
}

// Copies the template into each buffer, then the next flows' addresses and ports (IPv4 header
// bytes 12-19, UDP ports; the outbound path reads, and does not check, the header checksum).
void refill_flows(PacketBatch& batch, const std::vector<std::uint8_t>& packet,
                  const std::vector<Flow>& flows, std::size_t& next) {
  for (std::size_t i = 0; i < batch.size; ++i) {
    PacketBuffer& p = *batch.packets[i];
    p.assign(packet);
    const Flow& f = flows[next++ & (kFlows - 1)];
    std::uint8_t* b = p.data();
    store_be32(b + 12, f.src);
    store_be32(b + 16, f.dst);
    store_be16(b + 20, f.sport);
    store_be16(b + 22, f.dport);
  }
}

void BM_OutboundAtScale(benchmark::State& state) {
  ScaleSetup& setup =
      scale_setup(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)),
                  static_cast<std::size_t>(state.range(2)));
  if (!setup.ok) {
    state.SkipWithError("setup failed");
    return;
  }
  PacketPool pool(kBatch);
  PacketBatch batch = make_batch(pool);
  const std::vector<std::uint8_t> packet = cleartext_packet();
  test::Host& host = setup.host;
  const std::uint64_t sealed_before = host.counters.sealed.get();
  const std::uint64_t drops_before = host.counters.drops.total();
  std::size_t next = 0;
  for (auto _ : state) {
    refill_flows(batch, packet, setup.flows, next);
    host.outbound.process(batch, kNow);
    host.reader->quiescent();
    benchmark::ClobberMemory();
  }
  const std::uint64_t expected = static_cast<std::uint64_t>(state.iterations()) * kBatch;
  if (host.counters.sealed.get() - sealed_before != expected ||
      host.counters.drops.total() != drops_before) {
    state.SkipWithError("outbound dropped packets");
  }
  set_per_packet(state, kBatch);
}
BENCHMARK(BM_OutboundAtScale)
    ->ArgNames({"mixed", "policies", "sas"})
    ->Args({0, 1, 1})
    ->Args({0, 1000, 1000})
    ->Args({0, 100000, 100000})
    ->Args({0, 100000, 1})
    ->Args({1, 1000, 1})
    ->Args({1, 100000, 1});

void BM_OutboundRefillFlows(benchmark::State& state) {
  ScaleSetup& setup = scale_setup(0, 1, 1);
  PacketPool pool(kBatch);
  PacketBatch batch = make_batch(pool);
  const std::vector<std::uint8_t> packet = cleartext_packet();
  std::size_t next = 0;
  for (auto _ : state) {
    refill_flows(batch, packet, setup.flows, next);
    benchmark::ClobberMemory();
  }
  set_per_packet(state, kBatch);
}
BENCHMARK(BM_OutboundRefillFlows);

// --- The inbound path with many SAs and policies -------------------------------------------------

// Host B receiving from the road warriors of scale_setup(0, n, n): the same n SAs (anti-replay off,
// so that the same packets open again), and for each an IN policy mirroring A's OUT policy with
// the same template, so that the inbound policy check (RFC 4301 5.2) does a real lookup. The
// packets: kSealedBatches batches that A sealed for flows drawn uniformly from its policies, so
// their SPIs are uniform over the n SAs.
constexpr std::size_t kSealedBatches = 64;

struct InboundScaleSetup {
  explicit InboundScaleSetup(std::size_t n) {
    ScaleSetup& a = scale_setup(0, n, n);
    if (!a.ok) return;
    for (std::size_t i = 0; i < n; ++i) {
      const auto index = static_cast<std::uint32_t>(i);
      const std::string peer = IpAddress::v4(0xac100000u + index).to_string();
      SaConfig sa = test::sa_config("198.18.0.1", peer.c_str(), 0x1000 + index, index + 1);
      sa.replay_window = 0;
      if (!b.sad.add(std::move(sa), kNow).ok()) return;
      PolicyConfig c;
      c.direction = PolicyDirection::kIn;
      c.action = PolicyAction::kProtect;
      c.tmpl = PolicyTemplate{Reqid(index + 1), TemplateMode::kTunnel, test::addr("198.18.0.1"),
                              IpAddress::v4(0xac100000u + index)};
      c.selector.source = *IpPrefix::parse("198.18.10.0/24");
      c.selector.destination = IpPrefix::host(IpAddress::v4(0x64400000u + index));
      c.priority = 1000;
      if (!b.spd.add(c, kNow).ok()) return;
    }
    PacketPool pool(kBatch);
    PacketBatch batch = make_batch(pool);
    const std::vector<std::uint8_t> packet = cleartext_packet();
    std::size_t next = 0;
    for (std::size_t round = 0; round < kSealedBatches; ++round) {
      refill_flows(batch, packet, a.flows, next);
      // B checks the inner header that A only read: give it the right checksum again.
      for (std::size_t i = 0; i < batch.size; ++i) {
        std::uint8_t* header = batch.packets[i]->data();
        store_be16(header + 10, 0);
        store_be16(header + 10, inet_checksum(ByteSpan(header, 20)));
      }
      a.host.outbound.process(batch, kNow);
      a.host.reader->quiescent();
      if (!capture_sealed(batch, sealed)) return;
    }
    b.reader->quiescent();
    b.domain.reclaim();
    ok = true;
  }

  test::Host b{"198.18.0.2"};
  SealedPackets sealed;
  bool ok = false;
};

InboundScaleSetup& inbound_scale_setup(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<InboundScaleSetup>> all;
  auto& slot = all[n];
  if (!slot) slot = std::make_unique<InboundScaleSetup>(n);
  return *slot;
}

// Copies the next kBatch sealed packets (and their metadata) into the batch.
void refill_sealed_at(PacketBatch& batch, const SealedPackets& sealed, std::size_t& next) {
  const std::size_t total = sealed.bytes.size();
  for (std::size_t i = 0; i < batch.size; ++i, next = next + 1 == total ? 0 : next + 1) {
    PacketBuffer& p = *batch.packets[i];
    p.assign(sealed.bytes[next]);
    p.meta = sealed.meta[next];
  }
}

//   BM_InboundAtScale/<sas>  InboundPath::process on 64-packet batches whose SPIs are drawn
//                            uniformly from `sas` SAs (with as many IN policies), refill included;
//                            BM_InboundRefillAtScale/<sas> is the refill alone.
void BM_InboundAtScale(benchmark::State& state) {
  InboundScaleSetup& setup = inbound_scale_setup(static_cast<std::size_t>(state.range(0)));
  if (!setup.ok) {
    state.SkipWithError("setup failed");
    return;
  }
  PacketPool pool(kBatch);
  PacketBatch batch = make_batch(pool);
  test::Host& b = setup.b;
  const std::uint64_t opened_before = b.counters.opened.get();
  const std::uint64_t drops_before = b.counters.drops.total();
  std::size_t next = 0;
  for (auto _ : state) {
    refill_sealed_at(batch, setup.sealed, next);
    b.inbound.process(batch, kNow);
    b.reader->quiescent();
    benchmark::ClobberMemory();
  }
  const std::uint64_t expected = static_cast<std::uint64_t>(state.iterations()) * kBatch;
  if (b.counters.opened.get() - opened_before != expected ||
      b.counters.drops.total() != drops_before) {
    state.SkipWithError("inbound dropped packets");
  }
  set_per_packet(state, kBatch);
}
BENCHMARK(BM_InboundAtScale)->ArgName("sas")->Arg(1)->Arg(1000)->Arg(100000);

void BM_InboundRefillAtScale(benchmark::State& state) {
  InboundScaleSetup& setup = inbound_scale_setup(static_cast<std::size_t>(state.range(0)));
  if (!setup.ok) {
    state.SkipWithError("setup failed");
    return;
  }
  PacketPool pool(kBatch);
  PacketBatch batch = make_batch(pool);
  std::size_t next = 0;
  for (auto _ : state) {
    refill_sealed_at(batch, setup.sealed, next);
    benchmark::ClobberMemory();
  }
  set_per_packet(state, kBatch);
}
BENCHMARK(BM_InboundRefillAtScale)->ArgName("sas")->Arg(1)->Arg(100000);

}  // namespace
}  // namespace uipsec
