// `ip xfrm policy` arguments <-> PolicyConfig, and the `ip xfrm policy list` format.
//
// Parsing: the selector words and the policy's own words in any order until `tmpl`; after
// `tmpl` the template's words (src, dst, proto, spi, reqid, mode, level) belong to the template,
// anything else goes back to the policy, as in iproute2. Then PolicyConfig::validate().
#include "xfrm/xfrm_policy.hpp"

#include <array>
#include <optional>
#include <set>

#include "xfrm/xfrm_reader.hpp"
#include "xfrm/xfrm_selector.hpp"

namespace uipsec {

namespace {

using xfrm::ArgumentReader;
using xfrm::quote;

constexpr std::array<std::string_view, 12> kPolicyWords = {"src",      "dst",    "proto", "sport",
                                                           "dport",    "type",   "code",  "dir",
                                                           "priority", "action", "ptype", "tmpl"};

constexpr std::array<std::string_view, 9> kPolicyIdWords = {
    "src", "dst", "proto", "sport", "dport", "type", "code", "dir", "ptype"};

constexpr std::array<std::string_view, 7> kTemplateWords = {"src",   "dst",  "proto", "spi",
                                                            "reqid", "mode", "level"};

// iproute2 words uipsec knows and does not implement.
constexpr std::array<std::string_view, 9> kNotImplemented = {
    "ctx", "mark", "mask", "index", "flag", "if_id", "offload", "limit", "nosock"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& words, std::string_view word) {
  for (std::string_view w : words) {
    if (w == word) return true;
  }
  return false;
}

template <std::size_t N>
Error unknown_argument(std::string_view argument, const std::array<std::string_view, N>& words) {
  if (argument == "index") {
    return Error("'index' is not implemented by uipsec: policies are named by selector and dir");
  }
  if (argument == "limit") {
    return Error("'limit' is not implemented by uipsec for policies (SAs take limits)");
  }
  if (contains(kNotImplemented, argument)) {
    return Error("'" + std::string(argument) + "' is not implemented by uipsec");
  }
  std::string list;
  for (std::string_view w : words) list += (list.empty() ? "" : ", ") + std::string(w);
  return Error("unknown argument " + quote(argument) + " (expected one of: " + list + ")");
}

IpAddress unspecified(IpFamily family) {
  const std::uint8_t zero[16] = {};
  return IpAddress::from_bytes(family, zero);
}

std::string_view mode_name(TemplateMode mode) {
  return mode == TemplateMode::kTunnel ? "tunnel" : "transport";
}

// The words shared by `policy add` and `policy get|delete`: selector, dir, ptype.
class PolicyWords {
 public:
  PolicyWords() : selector_("") {}

  // Reads `keyword` if it is a selector word, dir or ptype; false if it is none of these.
  Result<bool> take(std::string_view keyword, ArgumentReader& reader) {
    if (xfrm::SelectorBuilder::is_word(keyword)) {
      UIPSEC_TRY(selector_.take(keyword, reader));
      return true;
    }
    if (keyword == "dir") {
      if (direction_) return Error("duplicate 'dir'");
      auto value = reader.value("dir", "in, out or fwd");
      if (!value) return value.error();
      if (*value == "in") {
        direction_ = PolicyDirection::kIn;
      } else if (*value == "out") {
        direction_ = PolicyDirection::kOut;
      } else if (*value == "fwd") {
        direction_ = PolicyDirection::kFwd;
      } else {
        return Error("dir: expected in, out or fwd, got " + quote(*value));
      }
      return true;
    }
    if (keyword == "ptype") {
      if (ptype_) return Error("duplicate 'ptype'");
      auto value = reader.value("ptype", "main");
      if (!value) return value.error();
      if (*value == "sub") {
        return Error("ptype: sub policies (MIGRATE) are not implemented by uipsec; use main");
      }
      if (*value != "main") return Error("ptype: expected main, got " + quote(*value));
      ptype_ = true;
      return true;
    }
    return false;
  }

  // The selector and direction, checked for presence.
  Result<PolicyId> finish() const {
    if (!selector_.has_addresses()) {
      return Error(
          "missing 'src' or 'dst' (they give the address family; use src 0.0.0.0/0 or "
          "src ::/0 to select any address)");
    }
    if (!direction_) return Error("missing 'dir' (in, out or fwd)");
    auto selector = selector_.build(IpFamily::kV4);  // the family comes from src or dst
    if (!selector) return selector.error();
    return PolicyId{*selector, *direction_};
  }

 private:
  xfrm::SelectorBuilder selector_;
  std::optional<PolicyDirection> direction_;
  bool ptype_ = false;
};

class PolicyParser {
 public:
  explicit PolicyParser(std::span<const std::string_view> args) : reader_(args) {}

  Result<PolicyConfig> parse() {
    while (!reader_.at_end()) {
      const std::string_view keyword = reader_.next();
      auto taken = words_.take(keyword, reader_);
      if (!taken) return taken.error();
      if (*taken) continue;
      if (keyword == "priority") {
        if (priority_) return Error("duplicate 'priority'");
        auto value = xfrm::read_number(reader_, "priority", 0xffffffff, "a number 0..4294967295");
        if (!value) return value.error();
        priority_ = static_cast<std::uint32_t>(*value);
      } else if (keyword == "action") {
        if (action_) return Error("duplicate 'action'");
        auto value = reader_.value("action", "allow or block");
        if (!value) return value.error();
        if (*value != "allow" && *value != "block") {
          return Error("action: expected allow or block, got " + quote(*value));
        }
        action_ = *value == "block" ? PolicyAction::kDiscard : PolicyAction::kProtect;
      } else if (keyword == "tmpl") {
        UIPSEC_TRY(parse_template());
      } else {
        return unknown_argument(keyword, kPolicyWords);
      }
    }
    return finish();
  }

 private:
  Result<void> parse_template();
  Result<PolicyConfig> finish();

  ArgumentReader reader_;
  PolicyWords words_;
  std::optional<std::uint32_t> priority_;
  std::optional<PolicyAction> action_;
  bool has_template_ = false;
  PolicyTemplate template_;
  std::optional<IpAddress> template_source_;
  std::optional<IpAddress> template_destination_;
};

Result<void> PolicyParser::parse_template() {
  if (has_template_) {
    return Error("tmpl: only one template is supported (uipsec does not nest SAs)");
  }
  has_template_ = true;
  template_.mode = TemplateMode::kTransport;  // Linux's default
  std::set<std::string, std::less<>> seen;
  bool esp = false;
  while (!reader_.at_end() && contains(kTemplateWords, reader_.peek())) {
    const std::string_view keyword = reader_.next();
    const std::string name = "tmpl " + std::string(keyword);
    if (!seen.emplace(keyword).second)
      return Error("tmpl: duplicate '" + std::string(keyword) + "'");
    if (keyword == "src" || keyword == "dst") {
      auto address = xfrm::read_address(reader_, name);
      if (!address) return address.error();
      (keyword == "src" ? template_source_ : template_destination_) = *address;
    } else if (keyword == "proto") {
      auto value = reader_.value(name, "esp");
      if (!value) return value.error();
      if (*value == "ah" || *value == "comp" || *value == "route2" || *value == "hao") {
        return Error("tmpl proto: only esp is implemented by uipsec, got " + quote(*value));
      }
      if (*value != "esp") return Error("tmpl proto: expected esp, got " + quote(*value));
      esp = true;
    } else if (keyword == "spi") {
      auto value = xfrm::read_number(reader_, name, 0xffffffff, "a number");
      if (!value) return value.error();
      if (*value != 0) {
        return Error(
            "tmpl spi: templates naming one SPI are not implemented by uipsec (the SA is "
            "found by reqid and addresses)");
      }
    } else if (keyword == "reqid") {
      auto value = xfrm::read_number(reader_, name, 0xffffffff, "a number 0..4294967295");
      if (!value) return value.error();
      template_.reqid = Reqid(static_cast<std::uint32_t>(*value));
    } else if (keyword == "mode") {
      auto value = reader_.value(name, "tunnel or transport");
      if (!value) return value.error();
      if (*value == "tunnel") {
        template_.mode = TemplateMode::kTunnel;
      } else if (*value == "transport") {
        template_.mode = TemplateMode::kTransport;
      } else if (*value == "beet" || *value == "ro" || *value == "in_trigger") {
        return Error("tmpl mode: " + std::string(*value) +
                     " is not implemented by uipsec (tunnel or transport)");
      } else {
        return Error("tmpl mode: expected tunnel or transport, got " + quote(*value));
      }
    } else {  // level
      auto value = reader_.value(name, "required");
      if (!value) return value.error();
      if (*value == "use") {
        return Error(
            "tmpl level: use (an optional SA) is not implemented by uipsec; templates are "
            "always required");
      }
      if (*value != "required") return Error("tmpl level: expected required, got " + quote(*value));
    }
  }
  if (!esp) return Error("tmpl: missing 'proto esp'");
  return {};
}

Result<PolicyConfig> PolicyParser::finish() {
  auto id = words_.finish();
  if (!id) return id.error();
  PolicyConfig config;
  config.selector = id->selector;
  config.direction = id->direction;
  config.priority = priority_.value_or(0);
  const PolicyAction action = action_.value_or(PolicyAction::kProtect);
  if (action == PolicyAction::kDiscard) {
    if (has_template_) {
      return Error(
          "action block: a blocking policy takes no template (remove tmpl ..., or use "
          "action allow)");
    }
    config.action = PolicyAction::kDiscard;
  } else if (has_template_) {
    config.action = PolicyAction::kProtect;
    // Addresses not given (transport mode) are the unspecified address of the given one's
    // family, else the selector's, as Linux prints them.
    const IpFamily family = template_source_        ? template_source_->family()
                            : template_destination_ ? template_destination_->family()
                                                    : config.selector.family();
    template_.source = template_source_.value_or(unspecified(family));
    template_.destination = template_destination_.value_or(unspecified(family));
    config.tmpl = template_;
  } else {
    config.action = PolicyAction::kBypass;
  }
  UIPSEC_TRY(config.validate());
  return config;
}

}  // namespace

Result<PolicyConfig> parse_policy(std::span<const std::string_view> args) {
  PolicyParser parser(args);
  return parser.parse();
}

Result<PolicyId> parse_policy_id(std::span<const std::string_view> args) {
  ArgumentReader reader(args);
  PolicyWords words;
  while (!reader.at_end()) {
    const std::string_view keyword = reader.next();
    auto taken = words.take(keyword, reader);
    if (!taken) return taken.error();
    if (!*taken) return unknown_argument(keyword, kPolicyIdWords);
  }
  auto id = words.finish();
  if (!id) return id.error();
  UIPSEC_TRY(id->selector.validate());
  return id;
}

std::vector<std::string> policy_arguments(const PolicyConfig& c) {
  std::vector<std::string> out;
  xfrm::append_selector_arguments(c.selector, out);
  out.insert(out.end(), {"dir", std::string(to_string(c.direction))});
  if (c.action == PolicyAction::kDiscard) out.insert(out.end(), {"action", "block"});
  out.insert(out.end(), {"priority", std::to_string(c.priority)});
  if (c.tmpl) {
    out.insert(out.end(),
               {"tmpl", "src", c.tmpl->source.to_string(), "dst", c.tmpl->destination.to_string(),
                "proto", "esp", "reqid", std::to_string(c.tmpl->reqid.value()), "mode",
                std::string(mode_name(c.tmpl->mode))});
  }
  return out;
}

std::string format_policy(const PolicyInfo& info) { return format_policy(info, XfrmListOptions{}); }

std::string format_policy(const PolicyInfo& info, const XfrmListOptions& options) {
  const PolicyConfig& c = info.config;
  std::string out = xfrm::format_selector(c.selector) + "\n";
  out += "\tdir " + std::string(to_string(c.direction));
  if (c.action == PolicyAction::kDiscard) {
    out += " action block";
  } else if (options.show_stats) {
    out += " action allow";
  }
  if (options.show_stats) out += " index " + std::to_string(info.index.value());
  out += " priority " + std::to_string(c.priority) + " ptype main\n";
  if (options.show_stats) {
    auto age = [&](const std::optional<Timestamp>& at) -> std::string {
      if (!at) return "-";
      if (*at > options.now) return "0s ago";
      return std::to_string((options.now.nanoseconds() - at->nanoseconds()) / 1'000'000'000) +
             "s ago";
    };
    out += "\tlifetime current:\n";
    out += "\t  " + std::to_string(info.bytes) + "(bytes), " + std::to_string(info.packets) +
           "(packets)\n";
    out += "\t  add " + age(info.added) + " use " + age(info.last_use) + "\n";
  }
  if (c.tmpl) {
    out += "\ttmpl src " + c.tmpl->source.to_string() + " dst " + c.tmpl->destination.to_string() +
           "\n";
    out += "\t\tproto esp reqid " + std::to_string(c.tmpl->reqid.value()) + " mode " +
           std::string(mode_name(c.tmpl->mode)) + "\n";
  }
  return out;
}

}  // namespace uipsec
