#include "base/hex.hpp"

#include <gtest/gtest.h>

namespace uipsec {
namespace {

TEST(Hex, ParsesWithAndWithoutPrefix) {
  auto a = parse_hex("0x00fF10");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (std::vector<std::uint8_t>{0x00, 0xff, 0x10}));
  auto b = parse_hex("abCD");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<std::uint8_t>{0xab, 0xcd}));
  auto empty = parse_hex("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(Hex, RejectsOddLengthAndNonDigits) {
  auto odd = parse_hex("0xabc");
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.error().message().find("even number"), std::string::npos);
  auto bad = parse_hex("12zz");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("'z' at position 2"), std::string::npos);
}

TEST(Hex, RoundTrips) {
  const std::vector<std::uint8_t> bytes{0, 1, 0x7f, 0x80, 0xff};
  EXPECT_EQ(to_hex(bytes), "00017f80ff");
  EXPECT_EQ(*parse_hex(to_hex(bytes)), bytes);
}

}  // namespace
}  // namespace uipsec
