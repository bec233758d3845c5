// How the packet path hands events to the control thread: through the bounded event queue,
// counting the event as lost when the queue is full, and at most once per interval where a
// flood of packets would otherwise raise a flood of events.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include "dataplane/dataplane_context.hpp"

namespace uipsec {

inline void report(Dataplane& dataplane, WorkerCounters& counters, IpsecEvent&& event) {
  if (!dataplane.events.try_push(std::move(event))) counters.events_lost.add();
}

// Raises the expire event a lifetime check asked for, if any.
inline void report_lifetime(Dataplane& dataplane, WorkerCounters& counters,
                            const SecurityAssociation& sa, LifetimeEvent what) {
  if (what == LifetimeEvent::kNone) return;
  report(dataplane, counters, ExpireEvent{sa.id(), sa.reqid(), what == LifetimeEvent::kHard});
}

// True for the one caller that claims this interval; `last` holds when the last claim was made.
inline bool claim_interval(std::atomic<std::int64_t>& last, std::int64_t now,
                           std::int64_t interval) {
  std::int64_t previous = last.load(std::memory_order_relaxed);
  if (previous != 0 && now - previous < interval) return false;
  return last.compare_exchange_strong(previous, now, std::memory_order_relaxed);
}

}  // namespace uipsec
