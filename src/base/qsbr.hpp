// Quiescent-state-based reclamation (QSBR, the scheme of liburcu-qsbr): how the control thread
// frees SA and policy tables that packet-path threads may still be reading, without any lock or
// reference count on the packet path.
//
// Readers (packet-path threads) hold pointers into published tables only *between* quiescent
// points: a worker calls quiescent() after each batch, and offline() before it blocks in
// epoll_wait. The writer (the control thread, only one) publishes a new pointer, retires the old
// object, and frees it once every online reader has passed a quiescent point since.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace uipsec {

class QsbrDomain;

// One packet-path thread's registration. Owned and used by that thread only; destroying it
// takes the thread out of the domain.
class QsbrReader {
 public:
  QsbrReader(const QsbrReader&) = delete;
  QsbrReader& operator=(const QsbrReader&) = delete;
  ~QsbrReader();

  // Declares that this thread holds no pointer obtained from a published table. Cheap: one
  // load and one store, no fence.
  void quiescent();
  // Before blocking: the writer need not wait for this thread while it is offline.
  void offline();
  // After waking; pointers may be read again afterwards.
  void online();

 private:
  friend class QsbrDomain;
  QsbrReader(QsbrDomain& domain, std::size_t slot) : domain_(domain), slot_(slot) {}
  QsbrDomain& domain_;
  std::size_t slot_;
};

class QsbrDomain {
 public:
  static constexpr std::size_t kMaxReaders = 64;

  QsbrDomain() = default;
  QsbrDomain(const QsbrDomain&) = delete;
  QsbrDomain& operator=(const QsbrDomain&) = delete;
  // Frees everything still retired. Precondition: no reader is registered any more.
  ~QsbrDomain();

  // Registers the calling thread as a reader, online. Returns nullptr when kMaxReaders are
  // registered already. Any thread may call it.
  std::unique_ptr<QsbrReader> register_reader();

  // Writer side; one thread (the control thread) at a time.
  //
  // Queues `free` to run once every reader online now has passed a quiescent point. Call it
  // after the old object has been unlinked from what readers can reach.
  void retire(std::function<void()> free);
  // Runs the frees whose grace period has ended; never blocks. Returns how many ran.
  std::size_t reclaim();
  // Blocks until every reader online now has passed a quiescent point, then frees everything
  // retired before the call. Must not be called from a registered, online reader thread.
  void synchronize();
  // Retired objects not yet freed (for tests and the memory budget).
  std::size_t pending() const { return retired_.size(); }

 private:
  friend class QsbrReader;
  // Starts a grace period: returns the epoch every online reader must reach.
  std::uint64_t advance_epoch();
  bool grace_period_over(std::uint64_t target) const;

  struct alignas(64) Slot {
    // 0: offline or unused; otherwise the epoch this reader saw at its last quiescent point.
    std::atomic<std::uint64_t> seen{0};
    std::atomic<bool> in_use{false};
  };
  struct Retired {
    std::uint64_t target;
    std::function<void()> free;
  };

  alignas(64) std::atomic<std::uint64_t> epoch_{1};
  std::array<Slot, kMaxReaders> slots_;
  std::mutex registration_;  // taken only to register and unregister readers
  std::vector<Retired> retired_;
};

}  // namespace uipsec
