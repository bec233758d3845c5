#include "dataplane/acquire_hold.hpp"

#include <algorithm>

#include "packet/packet_batch.hpp"

namespace uipsec {

AcquireHold::AcquireHold(Limits limits) : limits_(limits) {
  limits_.total = std::min(limits_.total, kMaxBatch);
  entries_.reserve(limits_.total);
}

std::size_t AcquireHold::held_for(PolicyIndex policy) const {
  return static_cast<std::size_t>(std::count_if(
      entries_.begin(), entries_.end(), [&](const Entry& e) { return e.policy == policy; }));
}

bool AcquireHold::admit(PacketBuffer* packet, PolicyIndex policy, Timestamp now) {
  if (entries_.size() >= limits_.total || held_for(policy) >= limits_.per_policy) return false;
  entries_.push_back(Entry{packet, policy, now});  // within the reserved capacity
  return true;
}

}  // namespace uipsec
