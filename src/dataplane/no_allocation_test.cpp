// The packet path allocates nothing per packet: after warm-up, sealing and opening batches
// through OutboundPath and InboundPath makes no heap allocation — neither ours (operator new)
// nor OpenSSL's (CRYPTO_malloc). A binary of its own, because it replaces the allocators.
#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "dataplane/dataplane_test_support.hpp"
#include "esp/esp_test_support.hpp"

namespace {

std::atomic<long> g_allocations{0};

void* counting_malloc(std::size_t n, const char*, int) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* counting_realloc(void* p, std::size_t n, const char*, int) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void counting_free(void* p, const char*, int) { std::free(p); }

// OpenSSL accepts new memory functions only before its first allocation.
__attribute__((constructor)) void install_openssl_counter() {
  CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free);
}

}  // namespace

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UIPSEC_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UIPSEC_SANITIZED 1
#endif

#ifndef UIPSEC_SANITIZED
#define UIPSEC_COUNT_NEW 1
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace uipsec {
namespace {

using test::Host;

long allocations() { return g_allocations.load(std::memory_order_relaxed); }

class NoAllocation : public ::testing::TestWithParam<test::Suite> {};

TEST(NoAllocationCounter, SeesOursAndOpenssls) {
#ifndef UIPSEC_COUNT_NEW
  GTEST_SKIP() << "sanitizer builds bring their own allocator";
#endif
  const long before = allocations();
  auto ours = std::make_unique<int>(1);
  OPENSSL_free(OPENSSL_malloc(16));
  EXPECT_EQ(allocations() - before, 2)
      << "the counter must see both kinds, or the test below proves nothing";
}

TEST_P(NoAllocation, SealingAndOpeningBatchesAllocatesNothing) {
#ifndef UIPSEC_COUNT_NEW
  GTEST_SKIP() << "sanitizer builds bring their own allocator";
#endif
  Host a{"198.18.0.1"}, b{"198.18.0.2"};
  const Timestamp now = Timestamp::from_seconds(10);
  auto sa = test::sa_config("198.18.0.1", "198.18.0.2", 0x1001);
  sa.algorithms = GetParam().algorithms;
  ASSERT_TRUE(a.sad.add(sa, now).ok());
  ASSERT_TRUE(b.sad.add(sa, now).ok());
  ASSERT_TRUE(
      a.spd.add(test::protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2"), now)
          .ok());
  PacketPool pool(32);
  const auto inner = test::udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 1300);
  std::vector<PacketBuffer*> packets;
  for (int i = 0; i < 32; ++i) packets.push_back(pool.acquire());

  PacketBatch batch;
  auto round_trip = [&] {
    batch.clear();
    for (PacketBuffer* p : packets) {
      p->assign(inner);
      batch.push(p);
    }
    a.outbound.process(batch, now);
    for (std::size_t i = 0; i < batch.size; ++i)
      std::swap(batch.packets[i]->meta.local, batch.packets[i]->meta.remote);
    b.inbound.process(batch, now);
    a.reader->quiescent();
    b.reader->quiescent();
  };
  round_trip();  // warm-up: OpenSSL may initialise lazily on first use
  const long before = allocations();
  for (int i = 0; i < 20; ++i) round_trip();
  EXPECT_EQ(allocations() - before, 0) << "allocations in 640 seal + 640 open";
  for (std::size_t i = 0; i < batch.size; ++i) {
    ASSERT_EQ(batch.verdicts[i], Verdict::deliver_to_tun()) << to_string(batch.verdicts[i].reason);
  }
}

// Holding packets for an acquire, looking them up again and releasing them once the SA came
// allocates nothing either (the hold's storage is reserved when it is made).
TEST(NoAllocationHold, HoldingAndReleasingAllocatesNothing) {
#ifndef UIPSEC_COUNT_NEW
  GTEST_SKIP() << "sanitizer builds bring their own allocator";
#endif
  Host a{"198.18.0.1"};
  Timestamp now = Timestamp::from_seconds(10);
  ASSERT_TRUE(
      a.spd.add(test::protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2"), now)
          .ok());
  AcquireHold hold(AcquireHold::Limits{4, 64, 1'000'000'000});
  OutboundPath path(a.dataplane, 0, a.counters, &hold);
  PacketPool pool(8);
  const auto inner = test::udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 1300);
  PacketBatch batch, out;
  auto hold_four = [&] {
    batch.clear();
    for (int i = 0; i < 4; ++i) {
      PacketBuffer* p = pool.acquire();
      p->assign(inner);
      batch.push(p);
    }
    path.process(batch, now);
    a.reader->quiescent();
  };
  hold_four();  // warm-up: the first acquire event, lazy initialisation
  now = now.plus_seconds(1);
  out.clear();
  path.release_held(out, now);  // they expire
  for (std::size_t i = 0; i < out.size; ++i) pool.release(out.packets[i]);
  a.drain_events();

  long before = allocations();
  hold_four();
  now = Timestamp::from_nanoseconds(now.nanoseconds() + OutboundPath::kHoldRecheckNs);
  out.clear();
  path.release_held(out, now);  // looked up again, still waiting
  EXPECT_EQ(allocations() - before, 0) << "holding and rechecking";
  EXPECT_EQ(hold.size(), 4u);
  EXPECT_EQ(out.size, 0u);

  ASSERT_TRUE(a.sad.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x1001), now).ok());
  out.clear();
  before = allocations();
  path.release_held(out, now);
  a.reader->quiescent();
  EXPECT_EQ(allocations() - before, 0) << "releasing";
  ASSERT_EQ(out.size, 4u);
  for (std::size_t i = 0; i < out.size; ++i) {
    EXPECT_EQ(out.verdicts[i], Verdict::send_to_peer());
    pool.release(out.packets[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, NoAllocation, ::testing::ValuesIn(test::all_suites()),
                         [](const auto& param_info) {
                           std::string n = param_info.param.name;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace uipsec
