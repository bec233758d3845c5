// Helpers for the crypto module's tests: known-answer vectors written as hex or ASCII text.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/hex.hpp"

namespace uipsec::crypto_test {

// The bytes of a hex string (spaces not allowed); a test failure if it does not parse.
inline std::vector<std::uint8_t> hex(std::string_view text) {
  auto bytes = parse_hex(text);
  EXPECT_TRUE(bytes.ok()) << "bad hex in test vector: " << text;
  return bytes.ok() ? *bytes : std::vector<std::uint8_t>{};
}

// The bytes of an ASCII string, without a terminator.
inline std::vector<std::uint8_t> ascii(std::string_view text) {
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

// `count` copies of `byte`.
inline std::vector<std::uint8_t> repeated(std::uint8_t byte, std::size_t count) {
  return std::vector<std::uint8_t>(count, byte);
}

}  // namespace uipsec::crypto_test
