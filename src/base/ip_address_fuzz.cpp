// Fuzzes the address and prefix parsers that read CLI arguments and configuration files.
#include <cstdint>
#include <string_view>

#include "base/ip_address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto prefix = uipsec::IpPrefix::parse(text); prefix.ok()) {
    // Whatever parses must format to something that parses to the same prefix.
    auto again = uipsec::IpPrefix::parse(prefix->to_string());
    if (!again.ok() || !(*again == *prefix)) __builtin_trap();
  }
  return 0;
}
