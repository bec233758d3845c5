// Test-only: bytes from hex text with spaces, so tests can lay packets out field by field.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/hex.hpp"

namespace uipsec::testing {

inline std::vector<std::uint8_t> hex_bytes(std::string_view text) {
  std::string digits;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) == 0) digits.push_back(c);
  }
  auto bytes = parse_hex(digits);
  EXPECT_TRUE(bytes.ok()) << text;
  return bytes.ok() ? *bytes : std::vector<std::uint8_t>{};
}

}  // namespace uipsec::testing
