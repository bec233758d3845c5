// RcuHashMap: a hash map from a key to an object pointer that packet-path threads read without
// locks while one control thread changes it — the O(1) SA lookup by SPI and by reqid.
//
// Open addressing with linear probing over slots of {tag, value}. A slot's value only ever goes
// empty -> object -> tombstone -> object ..., never back to empty, so a reader that meets an
// empty slot knows the key is absent. When tombstones and entries fill half the slots, the
// writer builds a fresh table and retires the old one through the QsbrDomain; lookups never see
// a half-built table. Objects themselves are not owned: whoever erases one retires it.
#pragma once

#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>

#include "base/huge_arena.hpp"
#include "base/prefetch.hpp"
#include "base/qsbr.hpp"

namespace uipsec {

// KeyOf: a functor returning the key of a Value (by value or const reference); the key must not
// change while the object is in the map. Hash: hashes a Key.
template <class Value, class KeyOf, class Hash>
class RcuHashMap {
 public:
  using Key = std::remove_cvref_t<std::invoke_result_t<KeyOf, const Value&>>;

  explicit RcuHashMap(QsbrDomain& domain, std::size_t expected = 0) : domain_(domain) {
    table_.store(new Table(capacity_for(expected)), std::memory_order_relaxed);
  }
  RcuHashMap(const RcuHashMap&) = delete;
  RcuHashMap& operator=(const RcuHashMap&) = delete;
  // Precondition: no reader can still be inside the table (the owner has synchronized).
  ~RcuHashMap() { delete table_.load(std::memory_order_relaxed); }

  // Reader side: any thread, between its quiescent points. The pointer stays valid until the
  // caller's next quiescent point even if the writer erases the object meanwhile.
  Value* find(const Key& key) const {
    const Table* table = table_.load(std::memory_order_acquire);
    const std::size_t hash = Hash{}(key);
    const std::uint32_t tag = tag_of(hash);
    std::size_t i = hash & table->mask;
    for (std::size_t probes = 0; probes <= table->mask; ++probes, i = (i + 1) & table->mask) {
      const Slot& slot = table->slots[i];
      const std::uintptr_t v = slot.value.load(std::memory_order_acquire);
      if (v == kEmpty) return nullptr;
      if (v == kTombstone || slot.tag.load(std::memory_order_relaxed) != tag) continue;
      Value* object = reinterpret_cast<Value*>(v);
      if (KeyOf{}(*object) == key) return object;
    }
    return nullptr;
  }

  // Reader side, for batches (base/prefetch.hpp): two steps that start loading what find(key)
  // will read, without waiting for memory or changing anything. prefetch_slot() loads the line
  // of the key's first slot; prefetch_value(), called after the slot line had time to arrive
  // (one pass over the batch later), loads the first `bytes` of the object whose slot has the
  // key's tag, without comparing keys, and returns that object — most likely the key's, but
  // only find() knows (nullptr: none seen); the caller may read it until its next quiescent
  // point, to prefetch what find() will read behind it. Afterwards find() hits the caches.
  void prefetch_slot(const Key& key) const {
    const Table* table = table_.load(std::memory_order_acquire);
    prefetch(&table->slots[Hash{}(key)&table->mask]);
  }
  const Value* prefetch_value(const Key& key, std::size_t bytes = kCacheLine) const {
    const Table* table = table_.load(std::memory_order_acquire);
    const std::size_t hash = Hash{}(key);
    const std::uint32_t tag = tag_of(hash);
    std::size_t i = hash & table->mask;
    // A few probes at most: a half-full table's runs are short, and this is only a hint.
    for (std::size_t probes = 0; probes < 4; ++probes, i = (i + 1) & table->mask) {
      const Slot& slot = table->slots[i];
      const std::uintptr_t v = slot.value.load(std::memory_order_acquire);
      if (v == kEmpty) return nullptr;
      if (v == kTombstone || slot.tag.load(std::memory_order_relaxed) != tag) continue;
      prefetch_bytes(reinterpret_cast<const void*>(v), bytes);
      return reinterpret_cast<const Value*>(v);
    }
    return nullptr;
  }

  // Writer side: one thread at a time.
  //
  // Adds `object` unless its key is present. Returns false (and changes nothing) if present.
  bool insert(Value* object) {
    assert(object != nullptr);
    if (find(KeyOf{}(*object)) != nullptr) return false;
    reserve_one();
    place(*table_.load(std::memory_order_relaxed), object);
    ++size_;
    return true;
  }

  // Adds `object` or replaces the object with the same key; returns the replaced object (for
  // the caller to retire) or nullptr.
  Value* insert_or_assign(Value* object) {
    assert(object != nullptr);
    Table& table = *table_.load(std::memory_order_relaxed);
    if (Slot* slot = slot_of(table, KeyOf{}(*object))) {
      Value* old = reinterpret_cast<Value*>(slot->value.load(std::memory_order_relaxed));
      slot->value.store(reinterpret_cast<std::uintptr_t>(object), std::memory_order_release);
      return old;
    }
    insert(object);
    return nullptr;
  }

  // Removes the object with `key`; returns it (for the caller to retire) or nullptr.
  Value* erase(const Key& key) {
    Table& table = *table_.load(std::memory_order_relaxed);
    Slot* slot = slot_of(table, key);
    if (slot == nullptr) return nullptr;
    Value* old = reinterpret_cast<Value*>(slot->value.load(std::memory_order_relaxed));
    slot->value.store(kTombstone, std::memory_order_release);
    --size_;
    return old;
  }

  std::size_t size() const { return size_; }
  // Slots in the current table. Any thread (readers between quiescent points): a reader may
  // size its work by it.
  std::size_t capacity() const { return table_.load(std::memory_order_acquire)->mask + 1; }

  // Writer side: calls f(Value&) for every object.
  template <class F>
  void for_each(F&& f) const {
    const Table& table = *table_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i <= table.mask; ++i) {
      const std::uintptr_t v = table.slots[i].value.load(std::memory_order_relaxed);
      if (v != kEmpty && v != kTombstone) f(*reinterpret_cast<Value*>(v));
    }
  }

 private:
  static constexpr std::uintptr_t kEmpty = 0;
  static constexpr std::uintptr_t kTombstone = 1;

  struct Slot {
    std::atomic<std::uint32_t> tag{0};
    std::atomic<std::uintptr_t> value{kEmpty};
  };
  // The slots come from the shared HugeArena: a table of 100 000 SAs' slots (8 MiB) lies in a
  // few huge pages, so a lookup's random slot costs no page walk.
  struct Table {
    explicit Table(std::size_t capacity)
        : mask(capacity - 1),
          slots(static_cast<Slot*>(huge_arena_allocate(capacity * sizeof(Slot)))) {
      for (std::size_t i = 0; i < capacity; ++i) new (&slots[i]) Slot;
    }
    Table(const Table&) = delete;
    Table& operator=(const Table&) = delete;
    ~Table() { huge_arena_deallocate(slots, (mask + 1) * sizeof(Slot)); }  // Slot: trivial
    std::size_t mask;
    std::size_t used = 0;  // slots that are not empty (entries and tombstones)
    Slot* const slots;
  };

  static std::uint32_t tag_of(std::size_t hash) {
    return static_cast<std::uint32_t>(hash >> 32) ^ static_cast<std::uint32_t>(hash);
  }
  // At most half the slots in use after a rebuild leaves room to grow.
  static std::size_t capacity_for(std::size_t entries) {
    return std::bit_ceil(std::max<std::size_t>(16, entries * 4));
  }

  Slot* slot_of(Table& table, const Key& key) {
    const std::size_t hash = Hash{}(key);
    const std::uint32_t tag = tag_of(hash);
    std::size_t i = hash & table.mask;
    for (std::size_t probes = 0; probes <= table.mask; ++probes, i = (i + 1) & table.mask) {
      Slot& slot = table.slots[i];
      const std::uintptr_t v = slot.value.load(std::memory_order_relaxed);
      if (v == kEmpty) return nullptr;
      if (v != kTombstone && slot.tag.load(std::memory_order_relaxed) == tag &&
          KeyOf{}(*reinterpret_cast<Value*>(v)) == key) {
        return &slot;
      }
    }
    return nullptr;
  }

  // Puts `object` in the first free slot of its probe sequence. Precondition: a free slot
  // exists and the key is absent.
  static void place(Table& table, Value* object) {
    const std::size_t hash = Hash{}(KeyOf{}(*object));
    std::size_t i = hash & table.mask;
    for (;; i = (i + 1) & table.mask) {
      Slot& slot = table.slots[i];
      const std::uintptr_t v = slot.value.load(std::memory_order_relaxed);
      if (v == kEmpty || v == kTombstone) {
        if (v == kEmpty) ++table.used;
        slot.tag.store(tag_of(hash), std::memory_order_relaxed);
        // Release: a reader that sees the object also sees its tag and contents.
        slot.value.store(reinterpret_cast<std::uintptr_t>(object), std::memory_order_release);
        return;
      }
    }
  }

  // Rebuilds into a fresh table when one more entry would fill more than half the slots.
  void reserve_one() {
    Table* old = table_.load(std::memory_order_relaxed);
    if ((old->used + 1) * 2 <= old->mask + 1) return;
    auto* fresh = new Table(capacity_for(size_ + 1));
    for (std::size_t i = 0; i <= old->mask; ++i) {
      const std::uintptr_t v = old->slots[i].value.load(std::memory_order_relaxed);
      if (v != kEmpty && v != kTombstone) place(*fresh, reinterpret_cast<Value*>(v));
    }
    table_.store(fresh, std::memory_order_release);
    domain_.retire([old] { delete old; });
  }

  QsbrDomain& domain_;
  std::atomic<Table*> table_;
  std::size_t size_ = 0;
};

}  // namespace uipsec
