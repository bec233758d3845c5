// PolicyDatabase: the SPD (RFC 4301 §4.4.1) — policies by selector and direction, looked up by
// the packet path without locks. The index behind lookup() is a PolicyClassifier (two levels of
// prefix tries with priority bounds, policy_classifier.hpp); docs/POLICY.md describes the order
// and the costs. Per direction, the matching policy with the lowest priority value wins, and the
// older policy among equal priorities (an update keeps the policy's age).
//
// Costs with n policies: lookup O(W/4) trie steps (W = 32 or 128), independent of n; add,
// update and remove O(W/4 + log n) and a few allocations — nothing is rebuilt whole; get() is a
// hash lookup; flush() O(n).
//
// Threads: one control thread mutates; packet-path threads registered with the QsbrDomain call
// lookup() and may use the result until their next quiescent point. Policies removed or replaced
// are freed through QsbrDomain::retire.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>

#include "base/qsbr.hpp"
#include "policy/policy.hpp"
#include "policy/policy_classifier.hpp"
#include "wire/ip_packet.hpp"

namespace uipsec {

class PolicyDatabase {
 public:
  explicit PolicyDatabase(QsbrDomain& domain);
  PolicyDatabase(const PolicyDatabase&) = delete;
  PolicyDatabase& operator=(const PolicyDatabase&) = delete;
  // Precondition: no reader uses the database any more.
  ~PolicyDatabase();

  // Control thread. add() fails if a policy with the same selector and direction exists;
  // update() replaces one (its counters start again; its index and age stay), or adds it when
  // absent, as `ip xfrm policy update` does.
  Result<PolicyIndex> add(PolicyConfig config, Timestamp now);
  Result<PolicyIndex> update(PolicyConfig config, Timestamp now);
  Result<void> remove(const PolicyId& id);
  std::size_t flush();
  const Policy* get(const PolicyId& id) const;
  std::size_t size() const { return by_id_.size(); }
  // In the order the policies were added.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [order, policy] : by_order_) f(static_cast<const Policy&>(*policy));
  }

  // Packet path: the winning policy for `packet` in `direction`, or nullptr.
  Policy* lookup(PolicyDirection direction, const IpPacketInfo& packet) const {
    return classifier_.lookup(direction, packet);
  }

  // Packet path, for batches: the steps of PolicyClassifier::prefetch_*, one pass apart, before
  // lookup() with the same arguments.
  void prefetch_slots(PolicyDirection direction, const IpPacketInfo& packet) const {
    classifier_.prefetch_slots(direction, packet);
  }
  void prefetch_sets(PolicyDirection direction, const IpPacketInfo& packet) const {
    classifier_.prefetch_sets(direction, packet);
  }
  void prefetch_sources(PolicyDirection direction, const IpPacketInfo& packet) const {
    classifier_.prefetch_sources(direction, packet);
  }
  void prefetch_lists(PolicyDirection direction, const IpPacketInfo& packet) const {
    classifier_.prefetch_lists(direction, packet);
  }

  // Packet path: whether any policy of `direction` is installed (the inbound check tells an
  // SPD without IN and FWD policies from one whose policies do not match; docs/POLICY.md).
  bool has_policies(PolicyDirection direction) const { return count(direction) != 0; }
  // Packet path: how many policies of `direction` are installed.
  std::size_t count(PolicyDirection direction) const {
    return counts_[static_cast<std::size_t>(direction)].load(std::memory_order_relaxed);
  }

  // The index, for tests and benchmarks (Stats, objects_built).
  const PolicyClassifier& classifier() const { return classifier_; }

 private:
  struct Entry {
    std::unique_ptr<Policy> policy;
    std::uint64_t order = 0;  // insertion order: the tie-break among equal priorities
  };

  QsbrDomain& domain_;
  PolicyClassifier classifier_;
  std::unordered_map<PolicyId, Entry> by_id_;
  std::map<std::uint64_t, Policy*> by_order_;
  std::array<std::atomic<std::size_t>, kPolicyDirectionCount> counts_{};
  std::uint64_t next_order_ = 0;
  std::uint32_t next_index_ = 1;
};

}  // namespace uipsec
