// Tests of ReplayWindow: the window edges step by step for several sizes, and a differential test
// against a naive model (a set of received numbers) over random walks.
#include "esp/replay_window.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace uipsec {
namespace {

using Check = ReplayWindow::Check;
constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

std::string name(Check c) {
  switch (c) {
    case Check::kOk:
      return "kOk";
    case Check::kDuplicate:
      return "kDuplicate";
    case Check::kTooOld:
      return "kTooOld";
  }
  return "?";
}

// The RFC 4303 §3.4.3 rules written as plainly as possible: every accepted number is kept in a
// set (pruned to the window so long runs stay small).
class NaiveWindow {
 public:
  NaiveWindow(std::uint32_t size, std::uint64_t top) : size_(size), top_(top) {}

  Check check(std::uint64_t seq) const {
    if (seq == 0) return Check::kTooOld;
    if (size_ == 0) return Check::kOk;
    if (seq > top_) return Check::kOk;
    if (top_ >= size_ && seq <= top_ - size_) return Check::kTooOld;  // seq + size <= top
    return received_.contains(seq) ? Check::kDuplicate : Check::kOk;
  }

  void accept(std::uint64_t seq) {
    top_ = std::max(top_, seq);
    if (size_ == 0) return;
    received_.insert(seq);
    if (top_ >= size_) received_.erase(received_.begin(), received_.lower_bound(top_ - size_ + 1));
  }

  std::uint64_t top() const { return top_; }

 private:
  std::uint32_t size_;
  std::uint64_t top_;
  std::set<std::uint64_t> received_;
};

std::string size_name(const ::testing::TestParamInfo<std::uint32_t>& param) {
  return "Size" + std::to_string(param.param);
}

// --- Edges, step by step ---------------------------------------------------------------------

struct Step {
  std::string what;
  std::uint64_t seq;
  Check expected;
  bool accept;  // accept() after a kOk check (false: the ICV failed, or just a probe)
};

// One scenario for a window of `s` packets: start, then walk the left and right edges.
std::vector<Step> edge_steps(std::uint64_t s) {
  const std::uint64_t t = 1000 * s + 100;  // far enough from 0 for every edge to exist
  const Check left_edge = s == 1 ? Check::kDuplicate : Check::kOk;  // with s == 1 it is top
  std::vector<Step> steps = {
      {"sequence number 0 is never sent", 0, Check::kTooOld, false},
      {"first packet", 1, Check::kOk, true},
      {"first packet again", 1, Check::kDuplicate, false},
      {"second packet", 2, Check::kOk, true},
      {"forged packet far ahead, ICV fails", kMax64, Check::kOk, false},
      {"jump to t", t, Check::kOk, true},
      {"t again", t, Check::kDuplicate, false},
      {"left edge t - s + 1, unseen", t - s + 1, left_edge, s != 1},
      {"left edge again", t - s + 1, Check::kDuplicate, false},
      {"one left of the left edge", t - s, Check::kTooOld, false},
      {"far left", 3, Check::kTooOld, false},
      {"jump of exactly s", t + s, Check::kOk, true},
      {"old top is now one left of the edge", t, Check::kTooOld, false},
      {"old top + 1 is the new left edge", t + 1, left_edge, false},
      {"jump of s + 1", t + 2 * s + 1, Check::kOk, true},
      {"previous top is out", t + s, Check::kTooOld, false},
      {"previous top + 1 is out", t + s + 1, Check::kTooOld, false},
      {"previous top + 2 is the left edge", t + s + 2, left_edge, s != 1},
      {"one right of the top", t + 2 * s + 2, Check::kOk, true},
      {"late packet inside the window", t + 2 * s + 2 - (s - 1) / 2,
       (s - 1) / 2 == 0 ? Check::kDuplicate : Check::kOk, (s - 1) / 2 != 0},
      {"late packet again", t + 2 * s + 2 - (s - 1) / 2, Check::kDuplicate, false},
      {"huge jump, 2^40 ahead", t + (std::uint64_t{1} << 40), Check::kOk, true},
      {"everything before the jump is too old", t + 2 * s + 2, Check::kTooOld, false},
      {"the window after the jump is empty", t + (std::uint64_t{1} << 40) - s + 1, left_edge,
       false},
      {"jump to 2^64 - 2", kMax64 - 1, Check::kOk, true},
      {"2^64 - 1", kMax64, Check::kOk, true},
      {"2^64 - 1 again", kMax64, Check::kDuplicate, false},
      {"2^64 - 2 again", kMax64 - 1, s == 1 ? Check::kTooOld : Check::kDuplicate, false},
      {"left edge below 2^64 - 1", kMax64 - s + 1, s <= 2 ? Check::kDuplicate : Check::kOk, false},
      {"one left of it", kMax64 - s, Check::kTooOld, false},
  };
  return steps;
}

class ReplayWindowEdges : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(ReplayWindowEdges, AcceptsAndRejectsAtTheEdges) {
  const std::uint32_t s = GetParam();
  ReplayWindow window(s);
  for (const Step& step : edge_steps(s)) {
    SCOPED_TRACE(step.what + " (seq " + std::to_string(step.seq) + ")");
    const std::uint64_t top_before = window.top();
    ASSERT_EQ(name(window.check(step.seq)), name(step.expected));
    // check() changes nothing: same answer twice, same top.
    ASSERT_EQ(name(window.check(step.seq)), name(step.expected));
    ASSERT_EQ(window.top(), top_before);
    if (step.accept) {
      ASSERT_EQ(step.expected, Check::kOk) << "a test step may only accept after kOk";
      window.accept(step.seq);
      EXPECT_EQ(window.top(), std::max(top_before, step.seq));
      EXPECT_EQ(name(window.check(step.seq)), name(Check::kDuplicate));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, ReplayWindowEdges, ::testing::Values(1, 32, 64, 65, 128, 4096),
                         size_name);

// --- Single behaviours ---------------------------------------------------------------------------

TEST(ReplayWindow, SequenceNumberZeroIsAlwaysTooOld) {
  for (std::uint32_t size : {0U, 1U, 64U, ReplayWindow::kMaxSize}) {
    ReplayWindow window(size);
    EXPECT_EQ(window.check(0), Check::kTooOld) << size;
    window.accept(5);
    EXPECT_EQ(window.check(0), Check::kTooOld) << size;
  }
}

TEST(ReplayWindow, RejectsDuplicateInsideWindow) {
  ReplayWindow window(64);
  window.accept(10);
  window.accept(7);
  EXPECT_EQ(window.check(7), Check::kDuplicate);
  EXPECT_EQ(window.check(10), Check::kDuplicate);
  EXPECT_EQ(window.check(8), Check::kOk);
  EXPECT_EQ(window.check(11), Check::kOk);
}

TEST(ReplayWindow, InitialTopMarksNothingReceived) {
  // As `replay-seq 1000` on Linux: numbers above 1000 are new, and the window below is empty.
  ReplayWindow window(64, 1000);
  EXPECT_EQ(window.top(), 1000U);
  EXPECT_EQ(window.check(1000), Check::kOk);
  EXPECT_EQ(window.check(937), Check::kOk);  // left edge: 1000 - 64 + 1
  EXPECT_EQ(window.check(936), Check::kTooOld);
  EXPECT_EQ(window.check(1001), Check::kOk);
  window.accept(1000);
  EXPECT_EQ(window.top(), 1000U);
  EXPECT_EQ(window.check(1000), Check::kDuplicate);
}

TEST(ReplayWindow, SizeZeroTurnsAntiReplayOffButStillAdvancesTop) {
  ReplayWindow window(0);
  EXPECT_EQ(window.check(1), Check::kOk);
  window.accept(1);
  EXPECT_EQ(window.check(1), Check::kOk);  // duplicates too
  window.accept(1);
  window.accept(1000000);
  EXPECT_EQ(window.top(), 1000000U);
  window.accept(3);  // late: top stays
  EXPECT_EQ(window.top(), 1000000U);
  EXPECT_EQ(window.check(2), Check::kOk);
  EXPECT_EQ(window.check(0), Check::kTooOld);
}

TEST(ReplayWindow, FailedIcvDoesNotMoveTheWindow) {
  ReplayWindow window(64);
  window.accept(100);
  // A forged packet far ahead is checked (kOk) but never accepted: the window stays.
  EXPECT_EQ(window.check(1U << 30), Check::kOk);
  EXPECT_EQ(window.top(), 100U);
  EXPECT_EQ(window.check(40), Check::kOk);
}

TEST(ReplayWindow, HugeJumpClearsEveryBlock) {
  ReplayWindow window(ReplayWindow::kMaxSize);
  for (std::uint64_t seq = 1; seq <= ReplayWindow::kMaxSize; ++seq) window.accept(seq);
  // A jump of 2^63: the ring must be cleared at once, not block by block.
  const std::uint64_t far = std::uint64_t{1} << 63;
  window.accept(far);
  for (std::uint64_t seq = far - ReplayWindow::kMaxSize + 1; seq < far; ++seq) {
    ASSERT_EQ(window.check(seq), Check::kOk) << seq;
  }
  EXPECT_EQ(window.check(far), Check::kDuplicate);
  EXPECT_EQ(window.check(far - ReplayWindow::kMaxSize), Check::kTooOld);
}

TEST(ReplayWindow, JumpsOfEveryLengthAroundTheRingSizeKeepOnlyTheWindow) {
  // Jumps that leave the ring partly or just not cleared: 64-bit blocks, 2 to 2048 of them.
  for (std::uint32_t size : {1U, 63U, 64U, 65U, 127U, 128U, 129U, 1000U}) {
    for (std::uint64_t jump = 1; jump <= 3 * 64 + 2 * size; ++jump) {
      ReplayWindow window(size, 5000);
      for (std::uint64_t seq = 5000 - size + 1; seq <= 5000; ++seq) window.accept(seq);
      window.accept(5000 + jump);
      for (std::uint64_t seq = 5000 + jump - size + 1; seq <= 5000 + jump; ++seq) {
        const Check expected = seq <= 5000 || seq == 5000 + jump ? Check::kDuplicate : Check::kOk;
        ASSERT_EQ(name(window.check(seq)), name(expected))
            << "size " << size << " jump " << jump << " seq " << seq;
      }
      ASSERT_EQ(window.check(5000 + jump - size), Check::kTooOld);
    }
  }
}

TEST(ReplayWindow, WorksAtTheEndOfThe64BitSpace) {
  ReplayWindow window(128, kMax64 - 200);
  window.accept(kMax64);
  EXPECT_EQ(window.check(kMax64), Check::kDuplicate);
  EXPECT_EQ(window.check(kMax64 - 127), Check::kOk);
  EXPECT_EQ(window.check(kMax64 - 128), Check::kTooOld);
  window.accept(kMax64 - 127);
  EXPECT_EQ(window.check(kMax64 - 127), Check::kDuplicate);
  EXPECT_EQ(window.top(), kMax64);
}

TEST(ReplayWindow, WindowCoversSequenceNumbersAcrossTwoToThe32) {
  const std::uint64_t wrap = std::uint64_t{1} << 32;
  ReplayWindow window(64, wrap - 10);
  window.accept(wrap + 20);
  EXPECT_EQ(window.check(wrap - 43), Check::kOk);  // left edge: wrap + 20 - 63
  EXPECT_EQ(window.check(wrap - 44), Check::kTooOld);
  window.accept(wrap - 1);
  EXPECT_EQ(window.check(wrap - 1), Check::kDuplicate);
  EXPECT_EQ(window.check(wrap), Check::kOk);
}

TEST(ReplayWindow, AcceptChecksAgainAndRefusesADuplicate) {
  // Two workers both passed check(3) before either accepted: only the first accept() wins.
  ReplayWindow window(64);
  EXPECT_EQ(window.accept(3), Check::kOk);
  EXPECT_EQ(window.accept(3), Check::kDuplicate);
  EXPECT_EQ(window.top(), 3U);
}

TEST(ReplayWindow, AcceptOfANumberThatFellOutMarksNothing) {
  // Ring of 2 blocks for size 64: 71 (too old by now) shares its bit with 199 (inside, unseen).
  ReplayWindow window(64);
  EXPECT_EQ(window.check(71), Check::kOk);
  EXPECT_EQ(window.accept(200), Check::kOk);  // another worker moved the window meanwhile
  EXPECT_EQ(window.accept(71), Check::kTooOld);
  EXPECT_EQ(window.check(199), Check::kOk);
  EXPECT_EQ(window.top(), 200U);
}

// Workers racing on one SA (a GRO train of two SAs, a NAT rebinding): every number is accepted
// exactly once, whatever the interleaving (run under TSan in CI).
TEST(ReplayWindow, ConcurrentAcceptsTakeEachNumberOnce) {
  constexpr std::uint64_t kNumbers = 20000;
  ReplayWindow window(1024);
  std::atomic<std::uint64_t> accepted{0};
  auto worker = [&] {
    std::uint64_t mine = 0;
    for (std::uint64_t seq = 1; seq <= kNumbers; ++seq) {
      if (window.check(seq) == Check::kOk && window.accept(seq) == Check::kOk) ++mine;
    }
    accepted += mine;
  };
  std::thread a(worker);
  std::thread b(worker);
  a.join();
  b.join();
  EXPECT_EQ(accepted.load(), kNumbers);
  EXPECT_EQ(window.top(), kNumbers);
}

TEST(ReplayWindow, IsMovable) {
  ReplayWindow window(64);
  window.accept(9);
  ReplayWindow moved = std::move(window);
  EXPECT_EQ(moved.check(9), Check::kDuplicate);
  EXPECT_EQ(moved.size(), 64U);
}

// --- Differential test against the naive model --------------------------------------------------

class ReplayWindowModel : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(ReplayWindowModel, AgreesWithNaiveModelOnRandomWalks) {
  const std::uint32_t size = GetParam();
  const std::uint64_t reach = std::uint64_t{size} + 70;  // how far behind top the walk looks
  std::array<int, 3> outcomes{};  // how often each Check came up: the walk must reach them all
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    std::mt19937_64 random(seed * 7919 + size);
    auto below = [&random](std::uint64_t n) { return n == 0 ? 0 : random() % n; };
    // Start at 0, at a random initial top, near 2^32 or near 2^64.
    const std::array<std::uint64_t, 4> starts = {0, below(1U << 20), (std::uint64_t{1} << 32) - 30,
                                                 kMax64 - 4 * reach - 200000};
    const std::uint64_t start = starts[seed - 1];
    ReplayWindow window(size, start);
    NaiveWindow model(size, start);
    std::array<std::uint64_t, 16> recent{};
    const int steps = size >= 4096 ? 60000 : 20000;
    for (int i = 0; i < steps; ++i) {
      const std::uint64_t top = model.top();
      const std::uint64_t room = kMax64 - top;
      std::uint64_t seq = 0;
      const std::uint64_t kind = below(100);
      if (kind < 40) {
        seq = top + std::min<std::uint64_t>(room, 1 + below(4));  // in order, small gaps
      } else if (kind < 50) {
        seq = top + std::min<std::uint64_t>(room, 1 + below(2 * reach));  // jump around size
      } else if (kind < 52) {
        seq = top + std::min<std::uint64_t>(room, below(std::uint64_t{1} << 34));  // huge jump
      } else if (kind < 77) {
        seq = top - below(std::min(top, reach) + 1);  // late, around the left edge
      } else if (kind < 87) {
        seq = recent[below(recent.size())];  // repeat
      } else if (kind < 95) {
        const std::uint64_t edge = top - std::min<std::uint64_t>(top, size);
        seq = edge + below(3);  // one left of the left edge, the edge, one right of it
      } else if (kind < 97) {
        seq = random();  // anything
      } else {
        seq = below(3);  // 0, 1, 2
      }
      recent[i % recent.size()] = seq;
      const Check expected = model.check(seq);
      ++outcomes[static_cast<std::size_t>(expected)];
      ASSERT_EQ(name(window.check(seq)), name(expected))
          << "size " << size << " seed " << seed << " step " << i << " seq " << seq << " top "
          << top;
      // One in ten kOk packets fails its ICV and is never accepted.
      if (expected == Check::kOk && below(10) != 0) {
        window.accept(seq);
        model.accept(seq);
      }
      ASSERT_EQ(window.top(), model.top());
    }
  }
  const int total = outcomes[0] + outcomes[1] + outcomes[2];
  EXPECT_GT(outcomes[static_cast<std::size_t>(Check::kOk)], total / 5);
  EXPECT_GT(outcomes[static_cast<std::size_t>(Check::kTooOld)], total / 100);
  if (size != 0) {
    EXPECT_GT(outcomes[static_cast<std::size_t>(Check::kDuplicate)], total / 20);
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, ReplayWindowModel,
                         ::testing::Values(0, 1, 7, 64, 100, 128, 1000, 4096, 65536), size_name);

}  // namespace
}  // namespace uipsec
