#include "base/result.hpp"

#include <gtest/gtest.h>

namespace uipsec {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) return Error("expected an even number, got " + std::to_string(x));
  return x / 2;
}

Result<void> quarter_is_even(int x) {
  auto h = half(x);
  if (!h) return h.error().with_context("first half");
  UIPSEC_TRY(half(*h));
  return {};
}

TEST(Result, CarriesValueOrError) {
  auto ok = half(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "expected an even number, got 3");
}

TEST(Result, VoidResultPropagatesWithContext) {
  EXPECT_TRUE(quarter_is_even(8).ok());
  auto first = quarter_is_even(3);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().message(), "first half: expected an even number, got 3");
  auto second = quarter_is_even(6);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message(), "expected an even number, got 3");
}

}  // namespace
}  // namespace uipsec
