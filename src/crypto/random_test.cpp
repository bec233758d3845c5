// Tests for fill_random: it fills the whole span, and two draws differ.
#include "crypto/random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace uipsec {
namespace {

TEST(FillRandom, FillsTheWholeSpanWithFreshBytes) {
  std::vector<std::uint8_t> a(4096, 0);
  std::vector<std::uint8_t> b(4096, 0);
  ASSERT_TRUE(fill_random(a).ok());
  ASSERT_TRUE(fill_random(b).ok());
  EXPECT_NE(a, b);
  // A 64-byte run of zeros at the end would mean the tail was left unfilled (chance 2^-512).
  EXPECT_FALSE(std::all_of(a.end() - 64, a.end(), [](std::uint8_t x) { return x == 0; }));
}

TEST(FillRandom, AcceptsAnEmptySpan) { EXPECT_TRUE(fill_random({}).ok()); }

}  // namespace
}  // namespace uipsec
