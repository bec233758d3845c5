// PolicyDatabase: the SPD (RFC 4301 §4.4.1), one ordered list per direction, looked up by the
// packet path without locks. This first version publishes an immutable, priority-ordered
// snapshot of policy pointers on every change and scans it linearly: simple and correct, fine
// for the tens of policies a tunnel has. (An indexed SPD for 100 000 policies replaces the
// lookup behind the same interface later.)
//
// Threads: one control thread mutates; packet-path threads registered with the QsbrDomain call
// lookup() and may use the result until their next quiescent point.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "base/qsbr.hpp"
#include "policy/policy.hpp"
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
  // update() replaces one (its counters start again), or adds it when absent, as
  // `ip xfrm policy update` does.
  Result<PolicyIndex> add(PolicyConfig config, Timestamp now);
  Result<PolicyIndex> update(PolicyConfig config, Timestamp now);
  Result<void> remove(const PolicyId& id);
  std::size_t flush();
  const Policy* get(const PolicyId& id) const;
  std::size_t size() const { return policies_.size(); }
  template <class F>
  void for_each(F&& f) const {
    for (const auto& p : policies_) f(*p);
  }

  // Packet path: the first policy in priority order whose selector matches, or nullptr.
  Policy* lookup(PolicyDirection direction, const IpPacketInfo& packet) const;

 private:
  struct Snapshot {
    std::array<std::vector<Policy*>, kPolicyDirectionCount> by_direction;
  };
  void publish();
  // Position of the policy with `id` in policies_, or policies_.size().
  std::size_t position(const PolicyId& id) const;

  QsbrDomain& domain_;
  std::atomic<const Snapshot*> snapshot_;
  // Control-thread list in insertion order (the tie-break among equal priorities).
  std::vector<std::unique_ptr<Policy>> policies_;
  std::uint32_t next_index_ = 1;
};

}  // namespace uipsec
