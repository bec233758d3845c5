// Fuzzes the strongswan.conf parser: any text must parse or fail with an error, never crash or
// hang; whatever parses must print (to_string) as text that parses to an equal tree.
#include <cstdint>
#include <string_view>

#include "settings/settings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  uipsec::SettingsParseOptions options;
  options.allow_include = false;  // the fuzzer must not read files
  auto settings = uipsec::Settings::parse_string(text, "<fuzz>", options);
  if (!settings.ok()) return 0;
  const std::string printed = settings->to_string();
  auto again = uipsec::Settings::parse_string(printed, "<printed>", options);
  // Printing may grow the text (indentation, escapes) past the size limit for huge inputs only.
  if (printed.size() <= uipsec::kSettingsMaxFileSize) {
    if (!again.ok() || !(*again == *settings)) __builtin_trap();
    if (again->to_string() != printed) __builtin_trap();
  }
  return 0;
}
