#include "base/huge_arena.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

namespace uipsec {
namespace {

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

int failing_advise(void*, std::size_t) { return -1; }

std::size_t advised = 0;
int counting_advise(void*, std::size_t) {
  ++advised;
  return 0;
}

TEST(HugeArena, BlocksAreCacheLineAlignedAndDisjoint) {
  HugeArena arena;
  std::vector<std::pair<char*, std::size_t>> blocks;
  for (std::size_t bytes : {1, 63, 64, 65, 640, 1088, 4000, 64 * 1024}) {
    auto* p = static_cast<char*>(arena.allocate(bytes));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(address(p) % HugeArena::kAlignment, 0u) << bytes;
    std::memset(p, 0xab, bytes);  // writable to its end
    blocks.emplace_back(p, bytes);
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    for (std::size_t j = i + 1; j < blocks.size(); ++j) {
      const bool apart = blocks[i].first + blocks[i].second <= blocks[j].first ||
                         blocks[j].first + blocks[j].second <= blocks[i].first;
      EXPECT_TRUE(apart) << i << " and " << j << " overlap";
    }
  }
  for (auto [p, bytes] : blocks) arena.deallocate(p, bytes);
  EXPECT_EQ(arena.stats().used_bytes, 0u);
}

TEST(HugeArena, ChunksAre2MiBAligned) {
  HugeArena arena;
  void* p = arena.allocate(64);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(address(p) % HugeArena::kHugePage, 0u) << "the first block starts its chunk";
  arena.deallocate(p, 64);
}

TEST(HugeArena, FreedBlocksAreReusedForTheSameSize) {
  HugeArena arena;
  void* a = arena.allocate(640);
  void* b = arena.allocate(640);
  arena.deallocate(a, 640);
  EXPECT_EQ(arena.allocate(600), a) << "600 rounds up to the same 640-byte class";
  void* c = arena.allocate(128);
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
  arena.deallocate(b, 640);
  arena.deallocate(a, 640);
  arena.deallocate(c, 128);
  const std::size_t chunks = arena.stats().chunks;
  // A churn of adds and removes of one size never grows the arena.
  for (int i = 0; i < 100000; ++i) arena.deallocate(arena.allocate(640), 640);
  EXPECT_EQ(arena.stats().chunks, chunks);
}

TEST(HugeArena, ManyObjectsFillSeveralChunksWithoutOverlap) {
  HugeArena arena;
  constexpr std::size_t kBytes = 1088;   // an ipsec-mb key block object
  constexpr std::size_t kCount = 10000;  // ~10.6 MiB: six chunks
  std::vector<std::uint32_t*> blocks;
  for (std::size_t i = 0; i < kCount; ++i) {
    auto* p = static_cast<std::uint32_t*>(arena.allocate(kBytes));
    ASSERT_NE(p, nullptr);
    p[0] = static_cast<std::uint32_t>(i);
    p[kBytes / 4 - 1] = static_cast<std::uint32_t>(~i);
    blocks.push_back(p);
  }
  for (std::size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(blocks[i][0], i);
    ASSERT_EQ(blocks[i][kBytes / 4 - 1], static_cast<std::uint32_t>(~i));
  }
  std::set<std::uint32_t*> unique(blocks.begin(), blocks.end());
  EXPECT_EQ(unique.size(), kCount);
  const HugeArena::Stats s = arena.stats();
  EXPECT_GE(s.chunks, kCount * kBytes / HugeArena::kChunkBytes);
  EXPECT_LE(s.chunks, kCount * kBytes / HugeArena::kChunkBytes + 2);
  EXPECT_EQ(s.used_bytes, kCount * 1088);
  for (auto* p : blocks) arena.deallocate(p, kBytes);
  EXPECT_EQ(arena.stats().used_bytes, 0u);
}

TEST(HugeArena, AdvisesOnlyPastTheNormalPageAllowance) {
  advised = 0;
  HugeArena::Options options;
  options.huge_after = 2 * HugeArena::kChunkBytes;
  options.advise = &counting_advise;
  HugeArena arena(options);
  std::vector<void*> blocks;
  constexpr std::size_t kBytes = 64 * 1024;
  // Two chunks' worth: still on normal pages (a small daemon's RSS grows by pages, not 2 MiB).
  for (std::size_t i = 0; i < 2 * HugeArena::kChunkBytes / kBytes; ++i) {
    blocks.push_back(arena.allocate(kBytes));
  }
  EXPECT_EQ(arena.stats().chunks, 2u);
  EXPECT_EQ(advised, 0u);
  EXPECT_EQ(arena.stats().advised_chunks, 0u);
  // The third chunk: the two earlier ones and itself are advised.
  blocks.push_back(arena.allocate(kBytes));
  EXPECT_EQ(arena.stats().chunks, 3u);
  EXPECT_EQ(advised, 3u);
  EXPECT_EQ(arena.stats().advised_chunks, 3u);
  for (void* p : blocks) arena.deallocate(p, kBytes);
}

TEST(HugeArena, FallsBackToNormalPagesWhenAdviceFails) {
  HugeArena::Options options;
  options.huge_after = 0;
  options.advise = &failing_advise;
  HugeArena arena(options);
  std::vector<void*> blocks;
  for (int i = 0; i < 5000; ++i) {
    void* p = arena.allocate(1024);
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, 1024);
    blocks.push_back(p);
  }
  const HugeArena::Stats s = arena.stats();
  EXPECT_GE(s.chunks, 2u);
  EXPECT_EQ(s.advised_chunks, 0u);
  EXPECT_EQ(s.advise_failures, s.chunks) << "each chunk's failure counted, nothing else changes";
  for (void* p : blocks) arena.deallocate(p, 1024);
}

TEST(HugeArena, NoAdviceWhenHugePagesAreOff) {
  advised = 0;
  HugeArena::Options options;
  options.huge_after = 0;
  options.huge_pages = false;
  options.advise = &counting_advise;
  HugeArena arena(options);
  void* p = arena.allocate(64);
  EXPECT_EQ(advised, 0u);
  EXPECT_EQ(arena.stats().advise_failures, 0u);
  arena.deallocate(p, 64);
}

TEST(HugeArena, LargeBlocksGetTheirOwnMapping) {
  advised = 0;
  HugeArena::Options options;
  options.advise = &counting_advise;
  HugeArena arena(options);
  constexpr std::size_t kTable = 8u << 20;  // a hash table of 2^19 16-byte slots
  auto* table = static_cast<char*>(arena.allocate(kTable));
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(address(table) % HugeArena::kHugePage, 0u);
  EXPECT_EQ(advised, 1u) << "a table of 2 MiB or more is advised at once";
  table[0] = 1;
  table[kTable - 1] = 2;
  EXPECT_EQ(arena.stats().large_blocks, 1u);
  EXPECT_EQ(arena.stats().chunks, 0u);
  void* medium = arena.allocate(100 * 1024);
  EXPECT_EQ(advised, 1u) << "below 2 MiB: normal pages";
  arena.deallocate(medium, 100 * 1024);
  arena.deallocate(table, kTable);
  EXPECT_EQ(arena.stats().large_blocks, 0u);
  EXPECT_EQ(arena.stats().mapped_bytes, 0u);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UIPSEC_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(UIPSEC_TEST_ASAN)
#define UIPSEC_TEST_ASAN 1
#endif

#if UIPSEC_TEST_ASAN
// Under AddressSanitizer freed blocks and the unused rest of a chunk are poisoned: a use after
// free through a stale SA pointer (a missed grace period) is reported, not silently read.
TEST(HugeArenaDeathTest, UseAfterFreeIsReportedUnderAsan) {
  HugeArena arena;
  auto* block = static_cast<volatile char*>(arena.allocate(640));
  block[0] = 1;
  arena.deallocate(const_cast<char*>(block), 640);
  EXPECT_DEATH(block[0] = 2, "use-after-poison");
  auto* next = static_cast<volatile char*>(arena.allocate(64));
  EXPECT_DEATH(next[64] = 2, "use-after-poison") << "past the block: the chunk's unused rest";
  arena.deallocate(const_cast<char*>(next), 64);
}
#endif

struct alignas(64) ArenaObject {
  UIPSEC_HUGE_ARENA_ALLOCATED
  std::uint64_t value[40];
};

struct VirtualBase {
  virtual ~VirtualBase() = default;
};
struct alignas(64) ArenaDerived final : VirtualBase {
  UIPSEC_HUGE_ARENA_ALLOCATED
  char bytes[1000];
};

TEST(HugeArena, ClassesUseTheSharedArena) {
  const std::size_t before = HugeArena::shared().stats().used_bytes;
  auto object = std::make_unique<ArenaObject>();
  EXPECT_EQ(HugeArena::shared().stats().used_bytes, before + sizeof(ArenaObject));
  EXPECT_EQ(address(object.get()) % 64, 0u);
  std::unique_ptr<VirtualBase> derived(new (std::nothrow) ArenaDerived());
  ASSERT_NE(derived, nullptr);
  EXPECT_EQ(HugeArena::shared().stats().used_bytes,
            before + sizeof(ArenaObject) + sizeof(ArenaDerived));
  derived.reset();  // through the virtual destructor: ArenaDerived's operator delete
  object.reset();
  EXPECT_EQ(HugeArena::shared().stats().used_bytes, before);
  std::vector<int, HugeArenaAllocator<int>> numbers(1000, 7);
  EXPECT_EQ(HugeArena::shared().stats().used_bytes, before + 4000 + 32);  // rounded to 4032
  EXPECT_EQ(numbers[999], 7);
}

}  // namespace
}  // namespace uipsec
