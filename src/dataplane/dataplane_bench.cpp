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
// The "per_packet" counter is CPU time per packet (per lookup for BM_FindInbound).
//
// Run: bench/run_micro.sh (figures in docs/BENCHMARKS.md).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <unordered_set>
#include <vector>

#include "dataplane/dataplane_test_support.hpp"

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

// Seals one batch on A; empty on failure.
SealedPackets seal_batch(Tunnel& tunnel, PacketBatch& batch) {
  refill_cleartext(batch, cleartext_packet());
  tunnel.a.outbound.process(batch, kNow);
  tunnel.a.reader->quiescent();
  SealedPackets out;
  for (std::size_t i = 0; i < batch.size; ++i) {
    if (batch.verdicts[i] != Verdict::send_to_peer()) return {};
    const PacketBuffer& p = *batch.packets[i];
    out.bytes.emplace_back(p.data(), p.data() + p.size());
    PacketMeta meta = p.meta;
    std::swap(meta.local, meta.remote);  // what B sees of A's datagram
    out.meta.push_back(meta);
  }
  return out;
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

}  // namespace
}  // namespace uipsec
