// Tests of ESN inference (RFC 4303 Appendix A2.2), against hand-worked cases and a brute-force
// definition, and of the outbound counter (never wraps, unique under concurrency).
#include "esp/sequence_number.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "esp/replay_window.hpp"

namespace uipsec {
namespace {

constexpr std::uint64_t kWrap = std::uint64_t{1} << 32;  // 2^32: first number of subspace 1
constexpr std::uint32_t kMax32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

std::uint64_t seq(std::uint64_t high, std::uint32_t low) { return (high << 32) | low; }

// --- infer_esn, worked cases -------------------------------------------------------------------

TEST(EsnInference, PacketsJustAfterTheWrapMoveToTheNextSubspace) {
  // Case A: top = 0:fffffff0, window [0:ffffffb1, 0:fffffff0].
  const std::uint64_t top = kWrap - 16;
  EXPECT_EQ(infer_esn(5, top, 64), seq(1, 5));
  EXPECT_EQ(infer_esn(0, top, 64), seq(1, 0));  // 2^32 itself, sent on the wire as 0
  EXPECT_EQ(infer_esn(0xfffffff5, top, 64), seq(0, 0xfffffff5));  // ahead, same subspace
  EXPECT_EQ(infer_esn(kMax32, top, 64), seq(0, kMax32));          // 2^32 - 1
  EXPECT_EQ(infer_esn(0xfffffff0, top, 64), seq(0, 0xfffffff0));  // top
  EXPECT_EQ(infer_esn(0xffffffb1, top, 64), seq(0, 0xffffffb1));  // left edge
  EXPECT_EQ(infer_esn(0xffffffb0, top, 64), seq(1, 0xffffffb0));  // below: next subspace
}

TEST(EsnInference, LatePacketsFromBeforeTheWrapStayInThePreviousSubspace) {
  // Case B: top = 1:00000005, window [0:ffffffc6, 1:00000005].
  const std::uint64_t top = kWrap + 5;
  EXPECT_EQ(infer_esn(0xfffffff0, top, 64), seq(0, 0xfffffff0));
  EXPECT_EQ(infer_esn(kMax32, top, 64), seq(0, kMax32));
  EXPECT_EQ(infer_esn(0xffffffc6, top, 64), seq(0, 0xffffffc6));  // left edge
  EXPECT_EQ(infer_esn(0xffffffc5, top, 64), seq(1, 0xffffffc5));  // below it: far ahead instead
  EXPECT_EQ(infer_esn(0, top, 64), seq(1, 0));
  EXPECT_EQ(infer_esn(3, top, 64), seq(1, 3));
  EXPECT_EQ(infer_esn(5, top, 64), seq(1, 5));
  EXPECT_EQ(infer_esn(6, top, 64), seq(1, 6));
}

TEST(EsnInference, NeverPlacesAPacketBelowZeroAtTheStartOfAnSa) {
  // Th == 0 and Tl < W - 1 (Case B): Seqh = Th - 1 would be -1; the packet is ahead instead.
  for (std::uint64_t top : {0ULL, 1ULL, 10ULL, 62ULL}) {
    for (std::uint32_t low : {0U, 1U, 63U, 64U, 0x7fffffffU, 0x80000000U, 0xffffffc6U, kMax32}) {
      EXPECT_EQ(infer_esn(low, top, 64), low) << top << " " << low;
      EXPECT_EQ(infer_esn(low, top, 0), low) << top << " " << low;
      EXPECT_EQ(infer_esn(low, top, ReplayWindow::kMaxSize), low) << top << " " << low;
    }
  }
  // Tl == W - 1 is Case A: the window [1, 63] lies in subspace 0, and 0 means 2^32.
  EXPECT_EQ(infer_esn(0, 63, 63), seq(1, 0));
  EXPECT_EQ(infer_esn(1, 63, 63), seq(0, 1));
}

TEST(EsnInference, WindowZeroTakesHalfTheSpaceEachWay) {
  // Anti-replay off: W = 2^31. top = 2:00000010; Case B, Bl = 0x80000011.
  const std::uint64_t top = seq(2, 0x10);
  EXPECT_EQ(infer_esn(0x80000010, top, 0), seq(2, 0x80000010));  // 2^31 ahead
  EXPECT_EQ(infer_esn(0x80000011, top, 0), seq(1, 0x80000011));  // 2^31 - 1 behind
  EXPECT_EQ(infer_esn(0x11, top, 0), seq(2, 0x11));
  EXPECT_EQ(infer_esn(0x0f, top, 0), seq(2, 0x0f));
  // Case A: top = 2:90000000, Bl = 0x10000001.
  const std::uint64_t top_a = seq(2, 0x90000000);
  EXPECT_EQ(infer_esn(0x10000001, top_a, 0), seq(2, 0x10000001));
  EXPECT_EQ(infer_esn(0x10000000, top_a, 0), seq(3, 0x10000000));
}

TEST(EsnInference, SaturatesInsteadOfWrappingAtTheEndOfThe64BitSpace) {
  // Th = 2^32 - 1 and a packet "below" the window: Seqh = 2^32 does not exist (the sender stops
  // at 2^64 - 1). The number stays in subspace Th, left of the window, and is too old there.
  const std::uint64_t top = kMax64 - 15;
  const std::uint64_t inferred = infer_esn(5, top, 64);
  EXPECT_EQ(inferred, seq(kMax32, 5));
  ReplayWindow window(64, top);
  EXPECT_EQ(window.check(inferred), ReplayWindow::Check::kTooOld);
  // Inside and ahead of the window, inference works as usual up to 2^64 - 1.
  EXPECT_EQ(infer_esn(kMax32, top, 64), kMax64);
  EXPECT_EQ(infer_esn(0xffffffb1, top, 64), kMax64 - 78);
}

// --- infer_esn against a brute-force definition -----------------------------------------------

__extension__ using Int128 = __int128;

// RFC 4303 A2.2 as one statement: with B = top - W + 1 the bottom of the window, the packet is
// the one number with low half seq_low in [B, B + 2^32): from the left edge of the window up to
// 2^32 - W numbers ahead of top. Only Th - 1, Th, Th + 1 can hold it. The two edges where that
// number does not exist (below 0, at or above 2^64) are clamped to subspace Th as documented.
std::uint64_t brute_force_esn(std::uint32_t seq_low, std::uint64_t top, std::uint32_t window) {
  const Int128 w = window == 0 ? Int128{1} << 31 : Int128{window};
  const Int128 bottom = Int128{top} - w + 1;
  const Int128 th = static_cast<Int128>(top >> 32);
  int found = 0;
  Int128 high = 0;
  for (Int128 h = th - 1; h <= th + 1; ++h) {
    const Int128 candidate = h * (Int128{1} << 32) + seq_low;
    if (candidate >= bottom && candidate < bottom + (Int128{1} << 32)) {
      high = h;
      ++found;
    }
  }
  EXPECT_EQ(found, 1) << "exactly one number with that low half lies in 2^32 consecutive ones";
  if (high < 0 || high > kMax32) high = th;
  return static_cast<std::uint64_t>(high) << 32 | seq_low;
}

TEST(EsnInference, AgreesWithBruteForceDefinition) {
  std::mt19937_64 random(4303);
  const std::vector<std::uint32_t> windows = {
      0,    1,    2,     31,         32,         63,         64,         65,
      1024, 4096, 65536, 0x7fffffff, 0x80000000, 0x80000001, kMax32 - 1, kMax32};
  const std::vector<std::uint32_t> highs = {0, 1, 2, 0x7fffffff, 0x80000000, kMax32 - 1, kMax32};
  int compared = 0;
  for (int i = 0; i < 200000; ++i) {
    const std::uint32_t window =
        i % 3 == 0 ? static_cast<std::uint32_t>(random()) : windows[random() % windows.size()];
    const std::uint64_t w = window == 0 ? std::uint64_t{1} << 31 : window;
    // Low half of top: random, or near the Case A/B boundary W - 1, or near 0 or 2^32 - 1.
    std::uint32_t tl = static_cast<std::uint32_t>(random());
    switch (random() % 4) {
      case 0:
        tl = static_cast<std::uint32_t>(w - 1 + random() % 5 - 2);
        break;
      case 1:
        tl = static_cast<std::uint32_t>(random() % 3 - 1);
        break;
      default:
        break;
    }
    const std::uint32_t th =
        random() % 2 == 0 ? highs[random() % highs.size()] : static_cast<std::uint32_t>(random());
    const std::uint64_t top = seq(th, tl);
    // seq_low: random, or near Bl (the left edge), near Tl, or near 0 / 2^32 - 1.
    const auto bl = static_cast<std::uint32_t>(tl - w + 1);
    std::uint32_t low = static_cast<std::uint32_t>(random());
    switch (random() % 5) {
      case 0:
        low = bl + static_cast<std::uint32_t>(random() % 5) - 2;
        break;
      case 1:
        low = tl + static_cast<std::uint32_t>(random() % 5) - 2;
        break;
      case 2:
        low = static_cast<std::uint32_t>(random() % 3) - 1;
        break;
      default:
        break;
    }
    const std::uint64_t expected = brute_force_esn(low, top, window);
    ASSERT_EQ(infer_esn(low, top, window), expected)
        << "low " << low << " top " << top << " window " << window;
    ++compared;
  }
  EXPECT_EQ(compared, 200000);
}

TEST(EsnInference, ReceiverRecoversSenderNumbersAcrossTheWrapWithReordering) {
  // A sender crossing 2^32 with ESN, packets reordered by up to 40 places; the receiver infers
  // each number from its low half and its window of 64, and must get every one right.
  std::mt19937_64 random(17);
  std::vector<std::uint64_t> sent;
  for (std::uint64_t s = kWrap - 3000; s < kWrap + 3000; ++s) sent.push_back(s);
  for (std::size_t i = 0; i + 40 < sent.size(); i += 20) {
    std::shuffle(sent.begin() + static_cast<std::ptrdiff_t>(i),
                 sent.begin() + static_cast<std::ptrdiff_t>(i + 40), random);
  }
  ReplayWindow window(64, kWrap - 3001);
  for (std::uint64_t s : sent) {
    const std::uint64_t inferred = infer_esn(static_cast<std::uint32_t>(s), window.top(), 64);
    if (s + 64 <= window.top()) continue;  // too old for the window: its number doesn't matter
    ASSERT_EQ(inferred, s) << "top " << window.top();
    ASSERT_EQ(window.check(inferred), ReplayWindow::Check::kOk);
    window.accept(inferred);
  }
  EXPECT_EQ(window.top(), kWrap + 2999);
}

// --- OutboundSequence
// -----------------------------------------------------------------------------

TEST(OutboundSequence, StartsAtOneByDefault) {
  OutboundSequence sequence;
  EXPECT_EQ(sequence.last(), 0U);
  EXPECT_EQ(sequence.next(), 1U);
  EXPECT_EQ(sequence.next(), 2U);
  EXPECT_EQ(sequence.last(), 2U);
}

TEST(OutboundSequence, StartsAfterLastSent) {
  OutboundSequence sequence(41);
  EXPECT_EQ(sequence.last(), 41U);
  EXPECT_EQ(sequence.next(), 42U);
  EXPECT_EQ(sequence.last(), 42U);
}

TEST(OutboundSequence, ExhaustsAt2To32Minus1WithoutEsnAndStaysExhausted) {
  OutboundSequence sequence(0xfffffffe);
  EXPECT_EQ(sequence.limit(), kMax32);
  EXPECT_EQ(sequence.remaining(), 1U);
  EXPECT_EQ(sequence.next(), kMax32);
  EXPECT_EQ(sequence.remaining(), 0U);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(sequence.next(), std::nullopt);
  EXPECT_EQ(sequence.last(), kMax32);
  EXPECT_EQ(sequence.remaining(), 0U);
}

TEST(OutboundSequence, CrossesTwoToThe32WithEsn) {
  OutboundSequence sequence(0xfffffffe, true);
  EXPECT_EQ(sequence.next(), kMax32);
  EXPECT_EQ(sequence.next(), kWrap);
  EXPECT_EQ(sequence.next(), kWrap + 1);
}

TEST(OutboundSequence, ExhaustsAt2To64Minus1WithEsnWithoutWrapping) {
  OutboundSequence sequence(kMax64 - 1, true);
  EXPECT_EQ(sequence.limit(), kMax64);
  EXPECT_EQ(sequence.next(), kMax64);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(sequence.next(), std::nullopt);
  EXPECT_EQ(sequence.last(), kMax64);
  EXPECT_EQ(sequence.remaining(), 0U);
}

TEST(OutboundSequence, RemainingCountsWhatIsLeft) {
  OutboundSequence plain;
  EXPECT_EQ(plain.remaining(), kMax32);
  (void)plain.next();
  EXPECT_EQ(plain.remaining(), kMax32 - 1);
  OutboundSequence esn(0, true);
  EXPECT_EQ(esn.remaining(), kMax64);
  OutboundSequence started(kWrap + 10, true);
  EXPECT_EQ(started.remaining(), kMax64 - kWrap - 10);
}

// Every thread draws numbers until told how many, or until exhaustion; together they must have
// drawn each number of the range once.
std::vector<std::uint64_t> draw_concurrently(OutboundSequence& sequence, int threads,
                                             int per_thread) {
  std::vector<std::vector<std::uint64_t>> drawn(static_cast<std::size_t>(threads));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&sequence, &out = drawn[static_cast<std::size_t>(t)], per_thread] {
      for (int i = 0; i < per_thread; ++i) {
        const std::optional<std::uint64_t> number = sequence.next();
        if (!number) break;
        out.push_back(*number);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  std::vector<std::uint64_t> all;
  for (const auto& part : drawn) all.insert(all.end(), part.begin(), part.end());
  std::sort(all.begin(), all.end());
  return all;
}

TEST(OutboundSequence, ConcurrentNextYieldsUniqueNumbersWithoutGaps) {
  OutboundSequence sequence(100);
  const std::vector<std::uint64_t> all = draw_concurrently(sequence, 4, 50000);
  ASSERT_EQ(all.size(), 200000U);
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], 101 + i);
  EXPECT_EQ(sequence.last(), 200100U);
}

TEST(OutboundSequence, ConcurrentNextStopsExactlyAtTheLimit) {
  for (bool esn : {false, true}) {
    const std::uint64_t limit = esn ? kMax64 : kMax32;
    OutboundSequence sequence(limit - 20000, esn);
    const std::vector<std::uint64_t> all = draw_concurrently(sequence, 4, 10000);
    ASSERT_EQ(all.size(), 20000U);
    for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], limit - 19999 + i);
    EXPECT_EQ(sequence.last(), limit);
    EXPECT_EQ(sequence.next(), std::nullopt);
  }
}

}  // namespace
}  // namespace uipsec
