#include "policy/prefix_trie.hpp"

#include <algorithm>
#include <cassert>
#include <new>

namespace uipsec {

PrefixTrie::~PrefixTrie() {
  visit_nodes(static_cast<Node*>(root_.load(std::memory_order_relaxed)),
              [](Node* node) { free_node(node); });
}

PrefixTrie::Place PrefixTrie::place_of(const IpPrefix& prefix) const {
  assert(prefix.address().size() * 8 == width_ && "a prefix of the trie's family");
  Place at;
  at.key = TrieKey::of(prefix.address());  // IpPrefix keeps its host bits clear
  const unsigned length = prefix.length();
  at.depth = length / kStride * kStride;
  const unsigned rel = length - at.depth;
  at.position = (1u << rel) - 1 + (rel == 0 ? 0 : at.key.nibble(at.depth) >> (kStride - rel));
  return at;
}

PrefixTrie::Node* PrefixTrie::make_node(const TrieKey& key, unsigned depth, unsigned internal,
                                        unsigned external) {
  const std::size_t slots = popcount16(internal) + popcount16(external);
  // From the shared HugeArena (cache-line aligned): nodes are read per packet.
  void* memory = huge_arena_allocate(node_bytes(slots));
  Node* node = new (memory) Node;
  node->key = key.masked(depth);
  node->depth = static_cast<std::uint8_t>(depth);
  node->internal = static_cast<std::uint16_t>(internal);
  node->external = static_cast<std::uint16_t>(external);
  for (std::size_t i = 0; i < slots; ++i) new (&node->slots()[i]) std::atomic<void*>(nullptr);
  if (nodes_built_ != nullptr) ++*nodes_built_;
  return node;
}

PrefixTrie::Node* PrefixTrie::copy_node(const Node& old, unsigned internal, unsigned external) {
  Node* copy = make_node(old.key, old.depth, internal, external);
  const unsigned children = external & old.external;
  for (unsigned v = 0; v < 16; ++v) {
    if ((children >> v & 1u) == 0) continue;
    copy->child_slot(v).store(old.child_slot(v).load(std::memory_order_relaxed),
                              std::memory_order_relaxed);
  }
  const unsigned values = internal & old.internal;
  for (unsigned p = 0; p < 15; ++p) {
    if ((values >> p & 1u) == 0) continue;
    copy->value_slot(p).store(old.value_slot(p).load(std::memory_order_relaxed),
                              std::memory_order_relaxed);
  }
  return copy;
}

void PrefixTrie::free_node(void* node) {
  auto* typed = static_cast<Node*>(node);
  const std::size_t bytes = node_bytes(typed->child_count() + typed->value_count());
  typed->~Node();
  huge_arena_deallocate(node, bytes);
}

void* PrefixTrie::find(const IpPrefix& prefix) const {
  const Place at = place_of(prefix);
  const Node* node = static_cast<const Node*>(root_.load(std::memory_order_relaxed));
  while (node != nullptr && node->depth <= at.depth &&
         TrieKey::same_prefix(at.key, node->key, node->depth)) {
    if (node->depth == at.depth) {
      if ((node->internal >> at.position & 1u) == 0) return nullptr;
      return node->value_slot(at.position).load(std::memory_order_relaxed);
    }
    const unsigned next = at.key.nibble(node->depth);
    if ((node->external >> next & 1u) == 0) return nullptr;
    node = static_cast<const Node*>(node->child_slot(next).load(std::memory_order_relaxed));
  }
  return nullptr;
}

void* PrefixTrie::assign(const IpPrefix& prefix, void* value) {
  assert(value != nullptr);
  const Place at = place_of(prefix);
  Node* node = static_cast<Node*>(root_.load(std::memory_order_relaxed));
  while (node != nullptr && node->depth <= at.depth &&
         TrieKey::same_prefix(at.key, node->key, node->depth)) {
    if (node->depth == at.depth) {
      assert((node->internal >> at.position & 1u) != 0 && "assign() needs a stored prefix");
      return node->value_slot(at.position).exchange(value, std::memory_order_acq_rel);
    }
    node = static_cast<Node*>(
        node->child_slot(at.key.nibble(node->depth)).load(std::memory_order_relaxed));
  }
  assert(false && "assign() needs a stored prefix");
  return nullptr;
}

void PrefixTrie::insert(const IpPrefix& prefix, void* value, RetireList& retired) {
  assert(value != nullptr);
  const Place at = place_of(prefix);
  auto make_leaf = [&] {
    Node* leaf = make_node(at.key, at.depth, 1u << at.position, 0);
    leaf->value_slot(at.position).store(value, std::memory_order_relaxed);
    return leaf;
  };
  // Every store that links a node is a release: a reader that finds the node sees its contents.
  std::atomic<void*>* slot = &root_;
  for (;;) {
    Node* node = static_cast<Node*>(slot->load(std::memory_order_relaxed));
    if (node == nullptr) {
      slot->store(make_leaf(), std::memory_order_release);
      break;
    }
    const unsigned common = TrieKey::common_length(at.key, node->key);
    if (node->depth <= at.depth && common >= node->depth) {
      // The node lies on the prefix's path.
      if (node->depth == at.depth) {
        assert((node->internal >> at.position & 1u) == 0 && "insert() of a stored prefix");
        Node* copy = copy_node(*node, node->internal | (1u << at.position), node->external);
        copy->value_slot(at.position).store(value, std::memory_order_relaxed);
        slot->store(copy, std::memory_order_release);
        retired.add(&free_node, node);
        break;
      }
      const unsigned next = at.key.nibble(node->depth);
      if ((node->external >> next & 1u) != 0) {
        slot = &node->child_slot(next);
        continue;
      }
      Node* copy = copy_node(*node, node->internal, node->external | (1u << next));
      copy->child_slot(next).store(make_leaf(), std::memory_order_relaxed);
      slot->store(copy, std::memory_order_release);
      retired.add(&free_node, node);
      break;
    }
    // The paths part above `node` (or the prefix ends above it): a new node where they part
    // takes its slot, with `node` below it.
    const unsigned branch_depth = std::min(common / kStride * kStride, at.depth);
    assert(branch_depth < node->depth);
    const unsigned old_next = node->key.nibble(branch_depth);
    Node* branch;
    if (branch_depth == at.depth) {
      branch = make_node(at.key, at.depth, 1u << at.position, 1u << old_next);
      branch->value_slot(at.position).store(value, std::memory_order_relaxed);
    } else {
      const unsigned new_next = at.key.nibble(branch_depth);
      assert(new_next != old_next);
      branch = make_node(at.key, branch_depth, 0, (1u << old_next) | (1u << new_next));
      branch->child_slot(new_next).store(make_leaf(), std::memory_order_relaxed);
    }
    branch->child_slot(old_next).store(node, std::memory_order_relaxed);
    slot->store(branch, std::memory_order_release);
    break;
  }
  ++size_;
}

void* PrefixTrie::erase(const IpPrefix& prefix, RetireList& retired) {
  const Place at = place_of(prefix);
  std::atomic<void*>* parent_slot = nullptr;  // where `parent` hangs
  Node* parent = nullptr;
  unsigned parent_next = 0;  // which of parent's children `node` is
  std::atomic<void*>* slot = &root_;
  Node* node = nullptr;
  for (;;) {
    node = static_cast<Node*>(slot->load(std::memory_order_relaxed));
    if (node == nullptr || node->depth > at.depth ||
        !TrieKey::same_prefix(at.key, node->key, node->depth)) {
      return nullptr;
    }
    if (node->depth == at.depth) break;
    const unsigned next = at.key.nibble(node->depth);
    if ((node->external >> next & 1u) == 0) return nullptr;
    parent_slot = slot;
    parent = node;
    parent_next = next;
    slot = &node->child_slot(next);
  }
  if ((node->internal >> at.position & 1u) == 0) return nullptr;
  void* value = node->value_slot(at.position).load(std::memory_order_relaxed);
  const unsigned internal = node->internal & ~(1u << at.position);
  retired.add(&free_node, node);
  if (internal != 0 || node->child_count() >= 2) {
    Node* copy = copy_node(*node, internal, node->external);
    slot->store(copy, std::memory_order_release);
  } else if (node->child_count() == 1) {
    // Nothing left here but one child: it takes the node's place (its key check covers the
    // bits the node checked).
    slot->store(node->slots()[0].load(std::memory_order_relaxed), std::memory_order_release);
  } else if (parent == nullptr) {
    slot->store(nullptr, std::memory_order_release);
  } else {
    // The node goes entirely: the parent loses a child, and collapses into its other child if
    // that leaves it with nothing of its own and one child.
    const unsigned external = parent->external & ~(1u << parent_next);
    retired.add(&free_node, parent);
    if (parent->internal == 0 && popcount16(external) == 1) {
      const auto other = static_cast<unsigned>(std::countr_zero(external));
      parent_slot->store(parent->child_slot(other).load(std::memory_order_relaxed),
                         std::memory_order_release);
    } else {
      parent_slot->store(copy_node(*parent, parent->internal, external), std::memory_order_release);
    }
  }
  --size_;
  return value;
}

std::size_t PrefixTrie::node_count() const {
  std::size_t n = 0;
  visit_nodes(static_cast<Node*>(root_.load(std::memory_order_relaxed)), [&](Node*) { ++n; });
  return n;
}

std::size_t PrefixTrie::depth() const {
  struct Walk {
    static std::size_t of(const Node* node) {
      if (node == nullptr) return 0;
      std::size_t deepest = 0;
      for (unsigned i = 0; i < node->child_count(); ++i) {
        deepest = std::max(
            deepest,
            of(static_cast<const Node*>(node->slots()[i].load(std::memory_order_relaxed))));
      }
      return deepest + 1;
    }
  };
  return Walk::of(static_cast<const Node*>(root_.load(std::memory_order_relaxed)));
}

}  // namespace uipsec
