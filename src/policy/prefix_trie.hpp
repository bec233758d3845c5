// PrefixTrie: a map from IP prefixes of one family to object pointers that packet-path threads
// search without locks — "every stored prefix that contains this address, shortest first" —
// while one control thread changes it. The SPD index (policy_classifier.hpp) is two levels of
// these: destination prefixes, then source prefixes.
//
// Shape: a multibit trie with a stride of 4 bits and path compression, nodes in the manner of
// Tree Bitmap (Eatherton, Varghese, Dittia 2004). A node at depth d (a multiple of 4) stores the
// prefixes of length d..d+3 that begin with the node's key — up to 15, found through a 15-bit
// "internal" bitmap — and up to 16 children, one per value of the next 4 bits ("external"
// bitmap); both slot arrays are packed (indexed by popcount) and follow the node header in one
// allocation of 24 + 8 per slot bytes. A child may sit deeper than d+4 when nothing branches in
// between (path compression), so every node carries its key and the reader checks it. Every node
// stores a prefix or has two children or more.
//
// Costs, W = 32 (IPv4) or 128 (IPv6), n prefixes:
//   search  at most W/4+1 nodes (9 / 33), in practice the branching ones: about log16(n) plus
//           the nodes that hold a matching prefix; no allocation, no lock, no atomic RMW.
//   insert, erase  O(W/4) to find the place, then at most two nodes are built (each at most
//           31 slots) and at most two unlinked; nothing else is copied.
//   assign  one atomic store.
//
// Concurrency: one writer (the control thread), any number of QSBR readers. A node's bitmaps
// never change after it is published; a change that needs other bitmaps builds a new node and
// swings one pointer (the parent's slot or the root), so readers see the old or the new node,
// never a mix. Child and value slots are atomics that the writer may also swing in place.
// Unlinked nodes go to a RetireList that the caller hands to the QsbrDomain. Values are not
// owned: whoever erases or replaces one retires it.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "base/bytes.hpp"
#include "base/huge_arena.hpp"
#include "base/ip_address.hpp"
#include "base/prefetch.hpp"
#include "policy/retire_list.hpp"

namespace uipsec {

// An address as 128 big-endian bits; IPv4 fills the first 32.
struct TrieKey {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;

  static TrieKey of(const IpAddress& a) {
    if (a.is_v4()) return TrieKey{std::uint64_t{a.v4_host_order()} << 32, 0};
    return TrieKey{load_be64(a.data()), load_be64(a.data() + 8)};
  }
  // The 4 bits at bit position `at` (a multiple of 4, below 128).
  unsigned nibble(unsigned at) const {
    return at < 64 ? static_cast<unsigned>(hi >> (60 - at)) & 0xf
                   : static_cast<unsigned>(lo >> (124 - at)) & 0xf;
  }
  // True when the first `length` bits (0..128) of both keys agree.
  static bool same_prefix(const TrieKey& a, const TrieKey& b, unsigned length) {
    if (length == 0) return true;
    if (length <= 64) return ((a.hi ^ b.hi) >> (64 - length)) == 0;
    return a.hi == b.hi && ((a.lo ^ b.lo) >> (128 - length)) == 0;
  }
  // The number of leading bits the keys share (0..128).
  static unsigned common_length(const TrieKey& a, const TrieKey& b) {
    if (a.hi != b.hi) return static_cast<unsigned>(std::countl_zero(a.hi ^ b.hi));
    if (a.lo != b.lo) return 64 + static_cast<unsigned>(std::countl_zero(a.lo ^ b.lo));
    return 128;
  }
  // The first `length` bits, the rest cleared.
  TrieKey masked(unsigned length) const {
    if (length == 0) return {};
    if (length <= 64) return {length == 64 ? hi : hi & ~(~std::uint64_t{0} >> length), 0};
    return {hi, length == 128 ? lo : lo & ~(~std::uint64_t{0} >> (length - 64))};
  }
  friend bool operator==(const TrieKey&, const TrieKey&) = default;
};

// The number of set bits of a 16-bit value. std::popcount compiles to a libgcc call on the
// x86-64 baseline (no POPCNT instruction), which costs more than this whole sum.
constexpr unsigned popcount16(unsigned x) {
  x = x - ((x >> 1) & 0x5555u);
  x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
  x = (x + (x >> 4)) & 0x0f0fu;
  return (x + (x >> 8)) & 0x1fu;
}
static_assert(popcount16(0) == 0 && popcount16(0xffff) == 16 && popcount16(0x8421) == 4);

class PrefixTrie {
 public:
  // `family` fixes the key width (32 or 128 bits). When `nodes_built` is given, every node the
  // trie builds adds one to it (tests count what a change costs with it).
  explicit PrefixTrie(IpFamily family, std::uint64_t* nodes_built = nullptr)
      : width_(family == IpFamily::kV4 ? 32 : 128), nodes_built_(nodes_built) {}
  PrefixTrie(const PrefixTrie&) = delete;
  PrefixTrie& operator=(const PrefixTrie&) = delete;
  // Frees the nodes (not the values). Precondition: no reader can still be inside.
  ~PrefixTrie();

  // Reader side: any thread, between its quiescent points. Calls f(void* value) for every
  // stored prefix that contains `key`, shortest prefix first. Values stay valid until the
  // caller's next quiescent point.
  template <class F>
  void for_each_match(const TrieKey& key, F&& f) const {
    const Node* node = static_cast<const Node*>(root_.load(std::memory_order_acquire));
    while (node != nullptr) {
      if (!TrieKey::same_prefix(key, node->key, node->depth)) return;
      const unsigned next = node->depth < width_ ? key.nibble(node->depth) : 0;
      // The internal positions on the key's path, lengths depth+0..depth+3: 0, 1 + the first
      // bit, 3 + the first two, 7 + the first three. Stored ones come out shortest first.
      const unsigned on_path =
          1u | 1u << (1 + (next >> 3)) | 1u << (3 + (next >> 2)) | 1u << (7 + (next >> 1));
      for (unsigned found = node->internal & on_path; found != 0; found &= found - 1) {
        void* value = node->value_slot(static_cast<unsigned>(std::countr_zero(found)))
                          .load(std::memory_order_acquire);
        if (value != nullptr) f(value);
      }
      if ((node->external >> next & 1u) == 0) return;
      node = static_cast<const Node*>(node->child_slot(next).load(std::memory_order_acquire));
    }
  }

  // Reader side, for batches (base/prefetch.hpp): starts loading the root node, the first
  // node for_each_match() reads. A hint only.
  void prefetch_root() const { prefetch(root_.load(std::memory_order_acquire)); }

  // Writer side: one thread. `prefix` must be of the trie's family.
  //
  // The value stored for exactly `prefix`, or nullptr.
  void* find(const IpPrefix& prefix) const;
  // Stores `value` (not nullptr) for `prefix`. Precondition: find(prefix) == nullptr. Nodes
  // this unlinks go to `retired`.
  void insert(const IpPrefix& prefix, void* value, RetireList& retired);
  // Replaces the value of a stored prefix; returns the old one. Precondition: stored.
  void* assign(const IpPrefix& prefix, void* value);
  // Removes `prefix`; returns its value, or nullptr when absent.
  void* erase(const IpPrefix& prefix, RetireList& retired);
  // Unlinks everything: nodes go to `retired`, each value to `on_value`.
  template <class F>
  void clear(RetireList& retired, F&& on_value) {
    Node* root = static_cast<Node*>(root_.exchange(nullptr, std::memory_order_acq_rel));
    visit_nodes(root, [&](Node* node) {
      for (unsigned i = 0; i < node->value_count(); ++i) {
        on_value(node->slots()[node->child_count() + i].load(std::memory_order_relaxed));
      }
      retired.add(&free_node, node);
    });
    size_ = 0;
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  // Writer side: calls f(void* value) for every stored value.
  template <class F>
  void for_each_value(F&& f) const {
    visit_nodes(static_cast<Node*>(root_.load(std::memory_order_relaxed)), [&](Node* node) {
      for (unsigned i = 0; i < node->value_count(); ++i) {
        f(node->slots()[node->child_count() + i].load(std::memory_order_relaxed));
      }
    });
  }
  // Nodes reachable now; walks the trie.
  std::size_t node_count() const;
  // Longest root-to-leaf chain of nodes; walks the trie.
  std::size_t depth() const;

 private:
  static constexpr unsigned kStride = 4;

  struct Node {
    TrieKey key;                 // the node's first `depth` bits, the rest clear
    std::uint8_t depth = 0;      // bits consumed before this node: a multiple of kStride
    std::uint16_t internal = 0;  // bit 2^rel - 1 + v: prefix of length depth+rel, next bits v
    std::uint16_t external = 0;  // bit v: a child whose key continues with the 4 bits v

    unsigned child_count() const { return popcount16(external); }
    unsigned value_count() const { return popcount16(internal); }
    std::atomic<void*>* slots() { return reinterpret_cast<std::atomic<void*>*>(this + 1); }
    const std::atomic<void*>* slots() const {
      return reinterpret_cast<const std::atomic<void*>*>(this + 1);
    }
    unsigned child_index(unsigned v) const { return popcount16(external & ((1u << v) - 1)); }
    unsigned value_index(unsigned position) const {
      return child_count() + popcount16(internal & ((1u << position) - 1));
    }
    // Preconditions: the bit is set.
    const std::atomic<void*>& child_slot(unsigned v) const { return slots()[child_index(v)]; }
    std::atomic<void*>& child_slot(unsigned v) { return slots()[child_index(v)]; }
    const std::atomic<void*>& value_slot(unsigned position) const {
      return slots()[value_index(position)];
    }
    std::atomic<void*>& value_slot(unsigned position) { return slots()[value_index(position)]; }
  };
  static_assert(sizeof(Node) == 24 && alignof(Node) == alignof(std::atomic<void*>));

  // Where a prefix lives: the node depth and the internal bit.
  struct Place {
    TrieKey key;  // the prefix's bits, masked
    unsigned depth;
    unsigned position;
  };
  Place place_of(const IpPrefix& prefix) const;

  Node* make_node(const TrieKey& key, unsigned depth, unsigned internal, unsigned external);
  // A copy of `old` with other bitmaps: the slots both have are copied, new ones are null.
  Node* copy_node(const Node& old, unsigned internal, unsigned external);
  static void free_node(void* node);
  // A node's size with `slots` child and value slots (the bitmaps fix the count for life).
  static std::size_t node_bytes(std::size_t slots) {
    return sizeof(Node) + slots * sizeof(std::atomic<void*>);
  }
  template <class F>
  static void visit_nodes(Node* node, F&& f);

  const unsigned width_;
  std::atomic<void*> root_{nullptr};
  std::size_t size_ = 0;
  std::uint64_t* const nodes_built_;
};

template <class F>
void PrefixTrie::visit_nodes(Node* node, F&& f) {
  if (node == nullptr) return;
  for (unsigned i = 0; i < node->child_count(); ++i) {
    visit_nodes(static_cast<Node*>(node->slots()[i].load(std::memory_order_relaxed)), f);
  }
  f(node);
}

}  // namespace uipsec
