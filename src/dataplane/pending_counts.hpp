// Counting a run of packets on one SA or one policy at once.
//
// SA and policy packet and byte counters are shared by every worker (SharedCounter: an atomic
// read-modify-write). Counted per packet, that is four locked instructions per packet and
// direction, and each waits for the store buffer to drain the packet's ciphertext just written.
// The segments of one super-packet arrive as a run of consecutive packets on the same SA and
// policy, so a path keeps the counts of the current run here and adds them when the run ends: at
// a packet on another SA or policy, and at the end of every process() call (so the counters are
// exact between batches; a reader on the control thread may see up to one batch less meanwhile).
//
// SAs with byte or packet limits never go through here: their lifetime checks need every packet
// counted as it goes (SecurityAssociation::account).
//
// Owner: one packet path (one worker). The pointers kept are used only until flush(), which the
// path calls before its next quiescent point.
#pragma once

#include <cstdint>

#include "base/clock.hpp"
#include "base/counter.hpp"
#include "policy/policy.hpp"
#include "sa/security_association.hpp"

namespace uipsec {

// A run of packets counted on one policy.
class PendingPolicyCounts {
 public:
  void add(PolicyCounters& counters, std::uint64_t bytes) {
    if (&counters != counters_) {
      flush();
      counters_ = &counters;
    }
    ++packets_;
    bytes_ += bytes;
  }
  void flush() {
    if (counters_ == nullptr) return;
    counters_->packets.add(packets_);
    counters_->bytes.add(bytes_);
    counters_ = nullptr;
    packets_ = 0;
    bytes_ = 0;
  }

 private:
  PolicyCounters* counters_ = nullptr;
  std::uint64_t packets_ = 0;
  std::uint64_t bytes_ = 0;
};

// A run of packets counted on one SA without volume limits.
class PendingSaCounts {
 public:
  // Counts one packet of `bytes` on `sa` and returns what its lifetime check found: for an SA
  // with volume limits at once (account), otherwise kNone and the packet joins the run.
  LifetimeEvent account(SecurityAssociation& sa, std::uint64_t bytes, Timestamp now) {
    if (sa.has_volume_limits()) return sa.account(bytes, now);
    if (&sa != sa_) {
      flush();
      sa_ = &sa;
    }
    now_ = now;
    ++packets_;
    bytes_ += bytes;
    return LifetimeEvent::kNone;
  }
  void flush() {
    if (sa_ == nullptr) return;
    sa_->account_run(packets_, bytes_, now_);
    sa_ = nullptr;
    packets_ = 0;
    bytes_ = 0;
  }

 private:
  SecurityAssociation* sa_ = nullptr;
  Timestamp now_;
  std::uint64_t packets_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace uipsec
