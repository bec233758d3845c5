#include "base/qsbr.hpp"

#include <cassert>
#include <thread>

namespace uipsec {

QsbrReader::~QsbrReader() {
  auto& slot = domain_.slots_[slot_];
  slot.seen.store(0, std::memory_order_release);
  std::lock_guard lock(domain_.registration_);
  slot.in_use.store(false, std::memory_order_relaxed);
}

void QsbrReader::quiescent() {
  // Acquire pairs with the writer's epoch increment, so pointers read after this point are the
  // ones published before that increment (or newer). Release publishes "done with the old ones".
  auto& slot = domain_.slots_[slot_];
  slot.seen.store(domain_.epoch_.load(std::memory_order_acquire), std::memory_order_release);
}

void QsbrReader::offline() { domain_.slots_[slot_].seen.store(0, std::memory_order_release); }

void QsbrReader::online() {
  auto& slot = domain_.slots_[slot_];
  slot.seen.store(domain_.epoch_.load(std::memory_order_acquire), std::memory_order_relaxed);
  // Store-load barrier: either the writer sees us online, or we see what it published before it
  // looked (the writer has the matching fence in advance_epoch()).
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

QsbrDomain::~QsbrDomain() {
  for (auto& r : retired_) r.free();
}

std::unique_ptr<QsbrReader> QsbrDomain::register_reader() {
  std::lock_guard lock(registration_);
  for (std::size_t i = 0; i < kMaxReaders; ++i) {
    if (!slots_[i].in_use.load(std::memory_order_relaxed)) {
      slots_[i].in_use.store(true, std::memory_order_relaxed);
      std::unique_ptr<QsbrReader> reader(new QsbrReader(*this, i));
      reader->online();
      return reader;
    }
  }
  return nullptr;
}

std::uint64_t QsbrDomain::advance_epoch() {
  const std::uint64_t target = epoch_.fetch_add(1, std::memory_order_acq_rel) + 1;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return target;
}

bool QsbrDomain::grace_period_over(std::uint64_t target) const {
  for (const auto& slot : slots_) {
    const std::uint64_t seen = slot.seen.load(std::memory_order_acquire);
    if (seen != 0 && seen < target) return false;
  }
  return true;
}

void QsbrDomain::retire(std::function<void()> free) {
  retired_.push_back(Retired{advance_epoch(), std::move(free)});
}

std::size_t QsbrDomain::reclaim() {
  std::size_t freed = 0;
  // Targets grow with the retire order, so the list is sorted by target.
  std::size_t done = 0;
  while (done < retired_.size() && grace_period_over(retired_[done].target)) ++done;
  for (std::size_t i = 0; i < done; ++i) {
    retired_[i].free();
    ++freed;
  }
  retired_.erase(retired_.begin(), retired_.begin() + static_cast<std::ptrdiff_t>(done));
  return freed;
}

void QsbrDomain::synchronize() {
  const std::uint64_t target = advance_epoch();
  while (!grace_period_over(target)) std::this_thread::yield();
  reclaim();
  assert(retired_.empty() && "every retired object predates the completed grace period");
}

}  // namespace uipsec
