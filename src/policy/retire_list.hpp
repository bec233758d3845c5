// RetireList: the objects one control-path change unlinked from a lock-free structure, handed
// to the QsbrDomain as a single retire() so they are freed together after a grace period.
//
// Owner: the control thread (the QSBR writer), one list per change.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "base/qsbr.hpp"

namespace uipsec {

class RetireList {
 public:
  RetireList() = default;
  RetireList(const RetireList&) = delete;
  RetireList& operator=(const RetireList&) = delete;
  // Precondition: retire_to() ran (or nothing was added).
  ~RetireList() = default;

  // Queues `object` to be freed with `free(object)`.
  void add(void (*free)(void*), void* object) { items_.emplace_back(free, object); }
  template <class T>
  void add_delete(T* object) {
    add([](void* p) { delete static_cast<T*>(p); }, object);
  }
  std::size_t size() const { return items_.size(); }

  // Frees everything queued now. Precondition: no reader can reach any of it (a destructor
  // whose owner has synchronized).
  void free_now() {
    for (const auto& [free, object] : items_) free(object);
    items_.clear();
  }

  // Hands everything queued to `domain` in one retire(); nothing when the list is empty.
  void retire_to(QsbrDomain& domain) {
    if (items_.empty()) return;
    domain.retire([items = std::move(items_)] {
      for (const auto& [free, object] : items) free(object);
    });
    items_.clear();
  }

 private:
  std::vector<std::pair<void (*)(void*), void*>> items_;
};

}  // namespace uipsec
