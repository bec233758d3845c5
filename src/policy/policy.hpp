// Policy: one entry of the security policy database (RFC 4301 §4.4.1) — a selector, a direction,
// an action (PROTECT with a template naming the SA, BYPASS, DISCARD) and a priority — as
// `ip xfrm policy` and strongSwan's add_policy express it.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "base/clock.hpp"
#include "base/counter.hpp"
#include "base/huge_arena.hpp"
#include "base/ip_address.hpp"
#include "base/prefetch.hpp"
#include "base/result.hpp"
#include "base/strong_int.hpp"
#include "policy/traffic_selector.hpp"

namespace uipsec {

enum class PolicyDirection : std::uint8_t { kOut = 0, kIn = 1, kFwd = 2 };
inline constexpr std::size_t kPolicyDirectionCount = 3;

// `ip xfrm policy ... action allow` with a template is PROTECT, without one BYPASS;
// `action block` is DISCARD.
enum class PolicyAction : std::uint8_t { kProtect, kBypass, kDiscard };

enum class TemplateMode : std::uint8_t { kTunnel, kTransport };

// Which SA protects the traffic: the SA with this reqid and (tunnel mode) these outer addresses;
// in transport mode the packet's own addresses.
struct PolicyTemplate {
  Reqid reqid;
  TemplateMode mode = TemplateMode::kTunnel;
  IpAddress source;       // tunnel mode only
  IpAddress destination;  // tunnel mode only
  friend bool operator==(const PolicyTemplate&, const PolicyTemplate&) = default;
};

// Identifies a policy as Linux does: selector and direction.
struct PolicyId {
  TrafficSelector selector;
  PolicyDirection direction = PolicyDirection::kOut;
  friend bool operator==(const PolicyId&, const PolicyId&) = default;
  std::string to_string() const;
};

struct PolicyConfig {
  TrafficSelector selector;
  PolicyDirection direction = PolicyDirection::kOut;
  PolicyAction action = PolicyAction::kProtect;
  // Lower values win, as on Linux; among equal priorities the older policy wins.
  std::uint32_t priority = 0;
  std::optional<PolicyTemplate> tmpl;  // required for kProtect, refused otherwise

  PolicyId id() const { return PolicyId{selector, direction}; }
  // Selector valid; PROTECT has a template (tunnel-mode templates with addresses of one family);
  // BYPASS and DISCARD have none.
  Result<void> validate() const;

  friend bool operator==(const PolicyConfig&, const PolicyConfig&) = default;
};

struct PolicyCounters {
  SharedCounter packets;
  SharedCounter bytes;
  std::atomic<std::int64_t> last_use_ns{0};
  // Acquire rate limiting: when the last acquire event for this policy was raised.
  std::atomic<std::int64_t> last_acquire_ns{0};
};

// An installed policy. The configuration never changes (an update installs a new object);
// counters are updated by any packet-path thread.
// Cache-line aligned, with what a packet reads — counters, action, template — in the first two
// lines, ahead of the configuration (the batch prefetches just those: kHotBytes).
// Allocated from the shared HugeArena (base/huge_arena.hpp), as are the classifier's nodes.
class alignas(kCacheLine) Policy {
 public:
  UIPSEC_HUGE_ARENA_ALLOCATED
  static constexpr std::size_t kHotBytes = 2 * kCacheLine;

  Policy(PolicyConfig config, PolicyIndex index, Timestamp added_at)
      : index_(index),
        action_(config.action),
        tmpl_(config.tmpl.value_or(PolicyTemplate{})),
        config_(std::move(config)),
        added_at_(added_at) {}

  const PolicyConfig& config() const { return config_; }
  PolicyIndex index() const { return index_; }
  Timestamp added_at() const { return added_at_; }
  PolicyCounters& counters() { return counters_; }
  const PolicyCounters& counters() const { return counters_; }
  // Copies of config().action and *config().tmpl for the packet path. protect_template():
  // precondition action() == kProtect.
  PolicyAction action() const { return action_; }
  const PolicyTemplate& protect_template() const { return tmpl_; }

 private:
  PolicyCounters counters_;
  const PolicyIndex index_;
  const PolicyAction action_;
  const PolicyTemplate tmpl_;
  const PolicyConfig config_;
  const Timestamp added_at_;
};

std::string_view to_string(PolicyDirection direction);
std::string_view to_string(PolicyAction action);

}  // namespace uipsec

template <>
struct std::hash<uipsec::PolicyId> {
  std::size_t operator()(const uipsec::PolicyId& id) const noexcept {
    return std::hash<uipsec::TrafficSelector>{}(id.selector) * 3 +
           static_cast<std::size_t>(id.direction);
  }
};
