// Fuzzes the ip-xfrm argument grammar: the input is split like a configuration line and parsed
// as `state add` and as `policy add` arguments (and as their get/delete forms). Nothing may
// crash; whatever parses must print, both as canonical arguments and as the listing, in a form
// that parses back to an equal configuration.
#include <cstdint>
#include <string_view>

#include "xfrm/xfrm_arguments.hpp"
#include "xfrm/xfrm_policy.hpp"
#include "xfrm/xfrm_state.hpp"
#include "xfrm/xfrm_test_support.hpp"

namespace {

using namespace uipsec;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

template <class Parse, class Same>
void round_trip_line(const std::string& line, const auto& original, Parse parse, Same same) {
  auto words = split_arguments(line);
  check(words.ok());
  auto views = argument_views(*words);
  auto again = parse(views);
  check(again.ok());
  check(same(*again, original));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto words = split_arguments(text);
  if (!words.ok()) return 0;
  const auto views = argument_views(*words);

  auto same_sa = [](const SaConfig& a, const SaConfig& b) { return test::same_config(a, b); };
  auto same_policy = [](const PolicyConfig& a, const PolicyConfig& b) {
    return test::same_config(a, b);
  };
  auto parse_sa = [](std::span<const std::string_view> v) { return parse_state(v); };
  auto parse_sp = [](std::span<const std::string_view> v) { return parse_policy(v); };

  if (auto state = parse_state(views); state.ok()) {
    round_trip_line(join_arguments(state_arguments(*state)), *state, parse_sa, same_sa);
    SaInfo info;
    info.config = *state;
    round_trip_line(format_state(info, true), *state, parse_sa, same_sa);
    XfrmListOptions stats;
    stats.show_stats = true;
    check(!format_state(info, stats).empty());
  }
  if (auto policy = parse_policy(views); policy.ok()) {
    round_trip_line(join_arguments(policy_arguments(*policy)), *policy, parse_sp, same_policy);
    PolicyInfo info;
    info.config = *policy;
    round_trip_line(format_policy(info), *policy, parse_sp, same_policy);
  }
  if (auto id = parse_state_id(views); id.ok()) check(!id->to_string().empty());
  if (auto id = parse_policy_id(views); id.ok()) check(!id->to_string().empty());
  return 0;
}
