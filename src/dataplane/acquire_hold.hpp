// AcquireHold: the few outbound packets a worker keeps while the acquire for their policy is
// pending (RFC 4301 §5.1 leaves it open whether such packets wait or go; we let a handful wait,
// so the packet that starts a flow is not lost to the IKE exchange it triggered).
//
// Bounds: at most `per_policy` packets per policy, at most `total` in all (a worker's share of
// its pool, so held buffers never starve it), each for at most `timeout`. What does not fit is a
// counted drop (kNoSa); what waits too long is a counted drop (kAcquireExpired). The numbers and
// why they are what they are: worker.hpp (Worker::Options).
//
// Owner: one worker thread. The entries carry buffer pointers of that worker's pool and the
// index of the policy they matched — never a Policy pointer, which would not survive the next
// quiescent point. Storage is reserved at construction; nothing here allocates afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/clock.hpp"
#include "base/strong_int.hpp"
#include "packet/packet_buffer.hpp"

namespace uipsec {

class AcquireHold {
 public:
  struct Limits {
    std::size_t per_policy = 4;
    std::size_t total = 64;  // at most kMaxBatch: one batch takes every packet that leaves
    std::int64_t timeout_ns = 1'000'000'000;
  };
  struct Entry {
    PacketBuffer* packet;
    PolicyIndex policy;  // the PROTECT policy the packet matched when it was last looked up
    Timestamp since;     // when it was first held
  };

  // Clamps `total` to kMaxBatch.
  explicit AcquireHold(Limits limits);
  AcquireHold(const AcquireHold&) = delete;
  AcquireHold& operator=(const AcquireHold&) = delete;

  const Limits& limits() const { return limits_; }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Packets held for `policy` (a scan of at most `total` entries: the no-SA path only).
  std::size_t held_for(PolicyIndex policy) const;

  // Keeps `packet` (the caller gives up the buffer until it leaves again) unless the policy's
  // share or the whole hold is full. Entries stay in arrival order.
  bool admit(PacketBuffer* packet, PolicyIndex policy, Timestamp now);
  // Whether `entry` has waited `timeout` or longer.
  bool expired(const Entry& entry, Timestamp now) const {
    return now.nanoseconds() - entry.since.nanoseconds() >= limits_.timeout_ns;
  }

  // Visits the entries oldest first; `leaves(entry)` returns true to take the entry out (the
  // callee then owns its buffer) and may update a staying entry's policy. The staying entries
  // keep their order.
  template <class F>
  void remove_if(F&& leaves) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      Entry& e = entries_[i];
      if (leaves(e)) continue;
      if (kept != i) entries_[kept] = e;
      ++kept;
    }
    entries_.resize(kept);  // shrinking never allocates
  }

 private:
  Limits limits_;
  std::vector<Entry> entries_;  // capacity reserved once: limits_.total
};

}  // namespace uipsec
