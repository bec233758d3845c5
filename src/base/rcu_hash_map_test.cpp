#include "base/rcu_hash_map.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace uipsec {
namespace {

struct Item {
  std::uint32_t key;
  int payload;
};
struct KeyOfItem {
  std::uint32_t operator()(const Item& i) const { return i.key; }
};
// A deliberately poor hash so that probe chains and tombstones get exercised.
struct ClusteringHash {
  std::size_t operator()(std::uint32_t k) const { return k % 7; }
};
struct GoodHash {
  std::size_t operator()(std::uint32_t k) const { return k * 0x9e3779b97f4a7c15ull; }
};

template <class Hash>
using Map = RcuHashMap<Item, KeyOfItem, Hash>;

TEST(RcuHashMap, InsertFindErase) {
  QsbrDomain domain;
  Map<GoodHash> map(domain);
  Item a{1, 10}, b{2, 20}, a2{1, 11};
  EXPECT_TRUE(map.insert(&a));
  EXPECT_TRUE(map.insert(&b));
  EXPECT_FALSE(map.insert(&a2)) << "duplicate keys are refused";
  EXPECT_EQ(map.find(1), &a);
  EXPECT_EQ(map.find(2), &b);
  EXPECT_EQ(map.find(3), nullptr);
  EXPECT_EQ(map.insert_or_assign(&a2), &a);
  EXPECT_EQ(map.find(1), &a2);
  EXPECT_EQ(map.erase(1), &a2);
  EXPECT_EQ(map.find(1), nullptr);
  EXPECT_EQ(map.erase(1), nullptr);
  EXPECT_EQ(map.size(), 1u);
}

// Differential test against std::map over random operations, with a hash that collides a lot.
template <class Hash>
void run_against_model(std::uint32_t key_space, int steps) {
  QsbrDomain domain;
  Map<Hash> map(domain);
  std::map<std::uint32_t, std::unique_ptr<Item>> model;
  std::vector<std::unique_ptr<Item>> graveyard;
  std::mt19937 rng(42);
  for (int step = 0; step < steps; ++step) {
    const std::uint32_t key = rng() % key_space;
    switch (rng() % 3) {
      case 0: {
        auto item = std::make_unique<Item>(Item{key, step});
        const bool inserted = map.insert(item.get());
        ASSERT_EQ(inserted, model.count(key) == 0);
        if (inserted) model[key] = std::move(item);
        break;
      }
      case 1: {
        Item* removed = map.erase(key);
        auto it = model.find(key);
        ASSERT_EQ(removed, it == model.end() ? nullptr : it->second.get());
        if (it != model.end()) {
          graveyard.push_back(std::move(it->second));
          model.erase(it);
        }
        break;
      }
      default: {
        Item* found = map.find(key);
        auto it = model.find(key);
        ASSERT_EQ(found, it == model.end() ? nullptr : it->second.get());
      }
    }
    ASSERT_EQ(map.size(), model.size());
    domain.reclaim();
  }
  std::size_t visited = 0;
  map.for_each([&](Item& i) {
    ++visited;
    EXPECT_EQ(model.at(i.key).get(), &i);
  });
  EXPECT_EQ(visited, model.size());
  EXPECT_LE(map.size() * 2, map.capacity());
}

TEST(RcuHashMap, MatchesModelWithCollidingHash) { run_against_model<ClusteringHash>(64, 20000); }
TEST(RcuHashMap, MatchesModelWithGoodHash) { run_against_model<GoodHash>(5000, 50000); }

TEST(RcuHashMap, GrowsToHundredThousandEntries) {
  QsbrDomain domain;
  Map<GoodHash> map(domain);
  std::vector<Item> items(100000);
  for (std::uint32_t i = 0; i < items.size(); ++i) {
    items[i] = Item{i * 2654435761u, static_cast<int>(i)};
    ASSERT_TRUE(map.insert(&items[i]));
  }
  domain.reclaim();
  EXPECT_EQ(domain.pending(), 0u);
  for (std::uint32_t i = 0; i < items.size(); ++i) ASSERT_EQ(map.find(items[i].key), &items[i]);
}

// Readers look up keys that are always present while the writer inserts, erases and grows the
// table; a reader must never miss a permanent key or touch a freed table.
TEST(RcuHashMap, ConcurrentReadersAlwaysFindStableKeys) {
  QsbrDomain domain;
  Map<GoodHash> map(domain);
  std::vector<Item> stable(100);
  for (std::uint32_t i = 0; i < stable.size(); ++i) {
    stable[i] = Item{i, 1};
    ASSERT_TRUE(map.insert(&stable[i]));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> misses{0};
  std::atomic<bool> registered{false};
  std::thread reader_thread([&] {
    auto reader = domain.register_reader();
    registered = true;
    std::uint32_t k = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 256; ++i, k = (k + 1) % 100) {
        Item* found = map.find(k);
        if (found == nullptr || found->key != k) misses.fetch_add(1);
      }
      reader->quiescent();
    }
  });
  while (!registered.load()) std::this_thread::yield();
  std::vector<std::unique_ptr<Item>> churn;
  for (std::uint32_t round = 0; round < 50; ++round) {
    for (std::uint32_t i = 0; i < 2000; ++i) {
      churn.push_back(std::make_unique<Item>(Item{1000 + round * 2000 + i, 2}));
      ASSERT_TRUE(map.insert(churn.back().get()));
    }
    for (std::uint32_t i = 0; i < 2000; ++i) map.erase(1000 + round * 2000 + i);
    domain.reclaim();
  }
  stop = true;
  reader_thread.join();
  domain.synchronize();
  EXPECT_EQ(misses.load(), 0);
}

}  // namespace
}  // namespace uipsec
