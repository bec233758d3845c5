// The selector words of `ip xfrm` (src, dst, proto, sport, dport, type, code) as `state ... sel`
// and `policy` take them, and their printed form. Internal to the xfrm module.
//
// uipsec extension: `src` and `dst` also take an address range FIRST-LAST ("src
// 198.18.0.1-198.18.0.9", RFC 4301 §4.4.1.1), which `ip xfrm` cannot express.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/traffic_selector.hpp"
#include "xfrm/xfrm_reader.hpp"

namespace uipsec::xfrm {

// Collects selector words in any order, each at most once.
class SelectorBuilder {
 public:
  // `context` prefixes error messages ("sel: ", or "" for a policy).
  explicit SelectorBuilder(std::string context) : context_(std::move(context)) {}

  // True for the words take() handles: src, dst, proto, sport, dport, type, code, dev, key.
  static bool is_word(std::string_view keyword);
  // Reads the value of selector word `keyword` (already taken from `reader`). Errors: duplicates,
  // bad values, words uipsec does not implement (dev, key).
  Result<void> take(std::string_view keyword, ArgumentReader& reader);

  bool empty() const { return !source_ && !destination_ && !protocol_ && !ports_given(); }
  bool has_addresses() const { return source_ || destination_; }
  // The selector; a prefix not given is the whole of its family: the other prefix's, else
  // `family`. Ports need a protocol that has them, type and code need ICMP.
  Result<TrafficSelector> build(IpFamily family) const;

 private:
  bool ports_given() const { return sport_ || dport_ || type_ || code_; }
  Error error(const std::string& message) const { return Error(context_ + message); }

  // A prefix, or a range with its covering prefix.
  struct Side {
    IpPrefix prefix;
    std::optional<AddressRange> range;
    IpFamily family() const { return prefix.family(); }
  };
  Result<Side> read_side(const std::string& name, ArgumentReader& reader) const;

  std::string context_;
  std::optional<Side> source_;
  std::optional<Side> destination_;
  std::optional<std::uint8_t> protocol_;
  std::optional<std::uint16_t> sport_;
  std::optional<std::uint16_t> dport_;
  std::optional<std::uint16_t> type_;
  std::optional<std::uint16_t> code_;
};

// As `ip xfrm` prints a selector: "src 10.0.0.0/24 dst 10.0.1.0/24 proto tcp sport 80".
// Port ranges, which the input syntax lacks, print as "sport 1024-65535"; address ranges as
// "src 10.0.0.1-10.0.0.9" (which parses back).
std::string format_selector(const TrafficSelector& selector);
// The same as separate arguments.
void append_selector_arguments(const TrafficSelector& selector, std::vector<std::string>& out);

}  // namespace uipsec::xfrm
