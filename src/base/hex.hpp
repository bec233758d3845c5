// Hexadecimal text <-> bytes, as `ip xfrm` writes keys ("0x0123..."), for the CLI, the config
// loader and tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace uipsec {

// Accepts an optional "0x"/"0X" prefix and an even number of hex digits.
Result<std::vector<std::uint8_t>> parse_hex(std::string_view text);
// Lower-case digits without a prefix.
std::string to_hex(ByteSpan bytes);

}  // namespace uipsec
