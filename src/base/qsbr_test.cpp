#include "base/qsbr.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace uipsec {
namespace {

TEST(Qsbr, FreesAtOnceWithoutReaders) {
  QsbrDomain domain;
  int freed = 0;
  domain.retire([&] { ++freed; });
  EXPECT_EQ(domain.reclaim(), 1u);
  EXPECT_EQ(freed, 1);
}

TEST(Qsbr, WaitsForAnOnlineReaderToPassAQuiescentPoint) {
  QsbrDomain domain;
  auto reader = domain.register_reader();
  ASSERT_NE(reader, nullptr);
  int freed = 0;
  domain.retire([&] { ++freed; });
  EXPECT_EQ(domain.reclaim(), 0u);
  EXPECT_EQ(freed, 0);
  reader->quiescent();
  EXPECT_EQ(domain.reclaim(), 1u);
  EXPECT_EQ(freed, 1);
}

TEST(Qsbr, OfflineReaderDoesNotHoldUpReclamation) {
  QsbrDomain domain;
  auto reader = domain.register_reader();
  reader->offline();
  int freed = 0;
  domain.retire([&] { ++freed; });
  EXPECT_EQ(domain.reclaim(), 1u);
  reader->online();
  domain.retire([&] { ++freed; });
  EXPECT_EQ(domain.reclaim(), 0u);
  reader->quiescent();
  EXPECT_EQ(domain.reclaim(), 1u);
  EXPECT_EQ(freed, 2);
}

TEST(Qsbr, QuiescentBeforeRetireDoesNotCount) {
  QsbrDomain domain;
  auto reader = domain.register_reader();
  reader->quiescent();
  int freed = 0;
  domain.retire([&] { ++freed; });
  EXPECT_EQ(domain.reclaim(), 0u) << "the reader may have loaded the pointer after quiescing";
  reader->quiescent();
  EXPECT_EQ(domain.reclaim(), 1u);
}

TEST(Qsbr, ReclaimsInRetireOrderAndKeepsLaterOnes) {
  QsbrDomain domain;
  auto reader = domain.register_reader();
  std::vector<int> order;
  domain.retire([&] { order.push_back(1); });
  reader->quiescent();
  domain.retire([&] { order.push_back(2); });
  EXPECT_EQ(domain.reclaim(), 1u);
  EXPECT_EQ(domain.pending(), 1u);
  reader->quiescent();
  EXPECT_EQ(domain.reclaim(), 1u);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(Qsbr, UnregisteredReaderSlotIsReused) {
  QsbrDomain domain;
  std::vector<std::unique_ptr<QsbrReader>> readers;
  for (std::size_t i = 0; i < QsbrDomain::kMaxReaders; ++i) {
    readers.push_back(domain.register_reader());
    ASSERT_NE(readers.back(), nullptr);
  }
  EXPECT_EQ(domain.register_reader(), nullptr);
  readers.pop_back();
  EXPECT_NE(domain.register_reader(), nullptr);
}

// A reader thread keeps dereferencing the published object; the writer swaps and retires
// objects and synchronizes. Under ASan (or TSan) a use-after-free would be reported.
TEST(Qsbr, ConcurrentReaderNeverSeesFreedObject) {
  struct Box {
    explicit Box(int v) : value(v) {}
    std::atomic<int> value;
  };
  QsbrDomain domain;
  std::atomic<Box*> published{new Box(0)};
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::atomic<bool> registered{false};
  std::thread reader_thread([&] {
    auto reader = domain.register_reader();
    registered = true;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 64; ++i) {
        Box* b = published.load(std::memory_order_acquire);
        if (b->value.load(std::memory_order_relaxed) < 0) std::abort();
      }
      reads.fetch_add(64, std::memory_order_relaxed);
      reader->quiescent();
      if (reads.load(std::memory_order_relaxed) % 4096 == 0) {
        reader->offline();
        std::this_thread::yield();
        reader->online();
      }
    }
  });
  while (!registered.load()) std::this_thread::yield();
  for (int i = 1; i <= 2000; ++i) {
    Box* old = published.exchange(new Box(i), std::memory_order_acq_rel);
    domain.retire([old] {
      old->value.store(-1, std::memory_order_relaxed);  // poison before freeing
      delete old;
    });
    if (i % 100 == 0) domain.synchronize();
    domain.reclaim();
  }
  while (reads.load() == 0) std::this_thread::yield();
  stop = true;
  reader_thread.join();
  domain.synchronize();
  delete published.load();
  EXPECT_GT(reads.load(), 0);
}

}  // namespace
}  // namespace uipsec
