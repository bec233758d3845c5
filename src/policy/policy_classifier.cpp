#include "policy/policy_classifier.hpp"

#include <algorithm>
#include <cassert>
#include <new>
#include <vector>

namespace uipsec {

namespace {

// A path holds at most one stored prefix per length: 0..128.
constexpr std::size_t kMaxMatches = 129;

bool before(std::uint32_t priority, std::uint64_t order, std::uint32_t other_priority,
            std::uint64_t other_order) {
  return priority < other_priority || (priority == other_priority && order < other_order);
}

}  // namespace

PolicyClassifier::PolicyClassifier(QsbrDomain& domain) : domain_(domain) {}

PolicyClassifier::~PolicyClassifier() {
  RetireList everything;
  unlink_all(everything);
  everything.free_now();
}

std::size_t PolicyClassifier::HostKeyHash::operator()(const HostKey& k) const {
  // Each word times its own odd constant, then murmur3's 64-bit finaliser: every input bit
  // reaches the low bits the table indexes with.
  std::uint64_t x = k.address.hi * 0x9e3779b97f4a7c15ull ^ k.address.lo * 0xc2b2ae3d27d4eb4full ^
                    k.source.hi * 0x165667b19e3779f9ull ^ k.source.lo * 0x27d4eb2f165667c5ull ^
                    static_cast<std::uint64_t>(k.context) * 0x85ebca77c2b2ae63ull;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return static_cast<std::size_t>(x ^ (x >> 33));
}

PolicyClassifier::Candidate PolicyClassifier::candidate_of(Policy& policy, std::uint64_t order) {
  const TrafficSelector& s = policy.config().selector;
  return Candidate{policy.config().priority,
                   s.protocol,
                   s.source_range.has_value() || s.destination_range.has_value(),
                   s.source_ports,
                   s.destination_ports,
                   order,
                   &policy};
}

PolicyClassifier::CandidateList* PolicyClassifier::make_list(std::uint32_t count) {
  // From the shared HugeArena (cache-line aligned): lists are read per packet.
  void* memory = huge_arena_allocate(sizeof(CandidateList) + count * sizeof(Candidate));
  auto* list = new (memory) CandidateList;
  list->count = count;
  ++objects_built_;
  return list;
}

void PolicyClassifier::free_list(void* list) {
  auto* typed = static_cast<CandidateList*>(list);
  const std::size_t bytes = sizeof(CandidateList) + typed->count * sizeof(Candidate);
  typed->~CandidateList();
  huge_arena_deallocate(list, bytes);
}

void PolicyClassifier::free_source_set(void* set) { delete static_cast<SourceSet*>(set); }

PolicyClassifier::CandidateList* PolicyClassifier::rebuilt(const CandidateList* old,
                                                           const Candidate* add,
                                                           const Policy* drop) {
  const std::uint32_t old_count = old != nullptr ? old->count : 0;
  std::uint32_t count = old_count + (add != nullptr ? 1 : 0);
  if (drop != nullptr) {
    const bool present = std::any_of(old->items(), old->items() + old_count,
                                     [&](const Candidate& c) { return c.policy == drop; });
    assert(present && "the dropped policy is in the list");
    if (present) --count;
  }
  if (count == 0) return nullptr;
  CandidateList* list = make_list(count);
  Candidate* out = list->items();
  bool added = add == nullptr;
  for (std::uint32_t i = 0; i < old_count; ++i) {
    const Candidate& c = old->items()[i];
    if (c.policy == drop) continue;
    if (!added && before(add->priority, add->order, c.priority, c.order)) {
      new (out++) Candidate(*add);
      added = true;
    }
    new (out++) Candidate(c);
  }
  if (!added) new (out++) Candidate(*add);
  assert(out == list->items() + count);
  return list;
}

void PolicyClassifier::set_bound(SourceSet& set) {
  set.best_priority.store(set.priorities.begin()->first, std::memory_order_release);
}

PolicyClassifier::SourceSet* PolicyClassifier::find_set(const PolicyConfig& config) const {
  const IpPrefix& destination = config.selector.destination;
  if (is_host(destination)) {
    return destination_hosts_.find(destination_key(config.direction, destination.address()));
  }
  return static_cast<SourceSet*>(tries_[static_cast<std::size_t>(config.direction)]
                                     .of(destination.family())
                                     .find(destination));
}

PolicyClassifier::CandidateList* PolicyClassifier::find_list(const SourceSet& set,
                                                             const IpPrefix& source) const {
  if (is_host(source)) return source_hosts_.find(source_key(set, source.address()));
  return static_cast<CandidateList*>(set.sources.find(source));
}

void PolicyClassifier::put_list(SourceSet& set, const IpPrefix& source, CandidateList* old,
                                CandidateList* list, RetireList& retired) {
  if (old != nullptr) retired.add(&free_list, old);
  if (is_host(source)) {
    if (list == nullptr) {
      source_hosts_.erase(old->host_key);
      set.host_sources.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    list->host_key = source_key(set, source.address());
    if (old == nullptr) {
      // Counted before it is reachable, so a reader never skips a present list.
      set.host_sources.fetch_add(1, std::memory_order_release);
      source_hosts_.insert(list);
    } else {
      source_hosts_.insert_or_assign(list);
    }
    return;
  }
  if (list == nullptr) {
    set.sources.erase(source, retired);
  } else if (old == nullptr) {
    set.sources.insert(source, list, retired);
  } else {
    set.sources.assign(source, list);
  }
}

void PolicyClassifier::insert(Policy& policy, std::uint64_t order) {
  const PolicyConfig& config = policy.config();
  const Candidate candidate = candidate_of(policy, order);
  RetireList retired;
  if (is_host_pair(config.selector)) {
    const HostKey key = pair_key(config.direction, config.selector.destination.address(),
                                 config.selector.source.address());
    CandidateList* old = host_pairs_.find(key);
    CandidateList* list = rebuilt(old, &candidate, nullptr);
    list->host_key = key;
    if (old == nullptr) {
      pair_lists_[static_cast<std::size_t>(config.direction)].fetch_add(1,
                                                                        std::memory_order_release);
    }
    host_pairs_.insert_or_assign(list);
    if (old != nullptr) retired.add(&free_list, old);
    retired.retire_to(domain_);
    return;
  }
  SourceSet* set = find_set(config);
  if (set == nullptr) {
    // Built whole before anything links it.
    set = new SourceSet(config.selector.family(), &objects_built_);
    ++objects_built_;
    set->priorities[candidate.priority] = 1;
    set->best_priority.store(candidate.priority, std::memory_order_relaxed);
    put_list(*set, config.selector.source, nullptr, rebuilt(nullptr, &candidate, nullptr), retired);
    const IpPrefix& destination = config.selector.destination;
    if (is_host(destination)) {
      set->host_key = destination_key(config.direction, destination.address());
      host_sets_[static_cast<std::size_t>(config.direction)].fetch_add(1,
                                                                       std::memory_order_release);
      destination_hosts_.insert(set);
    } else {
      tries_[static_cast<std::size_t>(config.direction)]
          .of(destination.family())
          .insert(destination, set, retired);
    }
  } else {
    // Lower the bound first: it must never exceed a priority readers can find.
    if (candidate.priority < set->best_priority.load(std::memory_order_relaxed)) {
      set->best_priority.store(candidate.priority, std::memory_order_release);
    }
    ++set->priorities[candidate.priority];
    CandidateList* old = find_list(*set, config.selector.source);
    put_list(*set, config.selector.source, old, rebuilt(old, &candidate, nullptr), retired);
  }
  retired.retire_to(domain_);
}

void PolicyClassifier::replace(const Policy& old_policy, Policy& fresh, std::uint64_t order) {
  const PolicyConfig& config = fresh.config();
  assert(config.id() == old_policy.config().id());
  if (is_host_pair(config.selector)) {
    const Candidate candidate = candidate_of(fresh, order);
    const HostKey key = pair_key(config.direction, config.selector.destination.address(),
                                 config.selector.source.address());
    CandidateList* old = host_pairs_.find(key);
    assert(old != nullptr && "replace() of an indexed policy");
    CandidateList* list = rebuilt(old, &candidate, &old_policy);
    list->host_key = key;
    host_pairs_.insert_or_assign(list);
    RetireList retired;
    retired.add(&free_list, old);
    retired.retire_to(domain_);
    return;
  }
  SourceSet* set = find_set(config);
  assert(set != nullptr && "replace() of an indexed policy");
  const Candidate candidate = candidate_of(fresh, order);
  if (candidate.priority < set->best_priority.load(std::memory_order_relaxed)) {
    set->best_priority.store(candidate.priority, std::memory_order_release);
  }
  ++set->priorities[candidate.priority];
  RetireList retired;
  CandidateList* old = find_list(*set, config.selector.source);
  put_list(*set, config.selector.source, old, rebuilt(old, &candidate, &old_policy), retired);
  auto it = set->priorities.find(old_policy.config().priority);
  if (--it->second == 0) set->priorities.erase(it);
  set_bound(*set);
  retired.retire_to(domain_);
}

void PolicyClassifier::remove(const Policy& policy) {
  const PolicyConfig& config = policy.config();
  RetireList retired;
  if (is_host_pair(config.selector)) {
    const HostKey key = pair_key(config.direction, config.selector.destination.address(),
                                 config.selector.source.address());
    CandidateList* old = host_pairs_.find(key);
    assert(old != nullptr && "remove() of an indexed policy");
    if (CandidateList* list = rebuilt(old, nullptr, &policy)) {
      list->host_key = key;
      host_pairs_.insert_or_assign(list);
    } else {
      host_pairs_.erase(key);
      pair_lists_[static_cast<std::size_t>(config.direction)].fetch_sub(1,
                                                                        std::memory_order_relaxed);
    }
    retired.add(&free_list, old);
    retired.retire_to(domain_);
    return;
  }
  SourceSet* set = find_set(config);
  assert(set != nullptr && "remove() of an indexed policy");
  CandidateList* old = find_list(*set, config.selector.source);
  assert(old != nullptr && "remove() of an indexed policy");
  put_list(*set, config.selector.source, old, rebuilt(old, nullptr, &policy), retired);
  auto it = set->priorities.find(config.priority);
  if (--it->second == 0) set->priorities.erase(it);
  if (set->priorities.empty()) {
    const IpPrefix& destination = config.selector.destination;
    if (is_host(destination)) {
      destination_hosts_.erase(set->host_key);
      host_sets_[static_cast<std::size_t>(config.direction)].fetch_sub(1,
                                                                       std::memory_order_relaxed);
    } else {
      tries_[static_cast<std::size_t>(config.direction)]
          .of(destination.family())
          .erase(destination, retired);
    }
    retired.add(&free_source_set, set);
  } else {
    // Raise the bound only now that the policy is out of reach.
    set_bound(*set);
  }
  retired.retire_to(domain_);
}

void PolicyClassifier::unlink_all(RetireList& retired) {
  // Readers still inside a set may see its sources vanish: the index is being emptied.
  for (ListTable* table : {&host_pairs_, &source_hosts_}) {
    std::vector<CandidateList*> lists;
    table->for_each([&](CandidateList& list) { lists.push_back(&list); });
    for (CandidateList* list : lists) {
      table->erase(list->host_key);
      retired.add(&free_list, list);
    }
  }
  auto drop_set = [&](SourceSet* set) {
    set->sources.clear(retired, [&](void* list) { retired.add(&free_list, list); });
    set->host_sources.store(0, std::memory_order_relaxed);
    set->priorities.clear();
    retired.add(&free_source_set, set);
  };
  std::vector<SourceSet*> host_sets;
  destination_hosts_.for_each([&](SourceSet& set) { host_sets.push_back(&set); });
  for (SourceSet* set : host_sets) {
    destination_hosts_.erase(set->host_key);
    drop_set(set);
  }
  for (auto& count : pair_lists_) count.store(0, std::memory_order_relaxed);
  for (auto& count : host_sets_) count.store(0, std::memory_order_relaxed);
  for (Tries& tries : tries_) {
    for (PrefixTrie* destinations : {&tries.v4, &tries.v6}) {
      destinations->clear(retired, [&](void* value) { drop_set(static_cast<SourceSet*>(value)); });
    }
  }
}

void PolicyClassifier::clear() {
  RetireList retired;
  unlink_all(retired);
  retired.retire_to(domain_);
}

Policy* PolicyClassifier::lookup(PolicyDirection direction, const IpPacketInfo& packet) const {
  // The SourceSets whose destination prefix contains the destination, best bound first
  // (insertion sort: a handful of entries).
  struct Hit {
    std::uint32_t bound;
    const SourceSet* set;
  };
  std::array<Hit, kMaxMatches + 1> hits;
  std::size_t n = 0;
  auto add_hit = [&](const SourceSet* set) {
    const Hit hit{set->best_priority.load(std::memory_order_acquire), set};
    std::size_t i = n++;
    for (; i > 0 && hits[i - 1].bound > hit.bound; --i) hits[i] = hits[i - 1];
    hits[i] = hit;
  };
  const TrieKey destination = TrieKey::of(packet.dst);
  tries_[static_cast<std::size_t>(direction)]
      .of(packet.family)
      .for_each_match(destination, [&](void* value) {
        assert(n < kMaxMatches);
        add_hit(static_cast<const SourceSet*>(value));
      });
  const auto d = static_cast<std::size_t>(direction);
  if (host_sets_[d].load(std::memory_order_acquire) != 0) {
    if (const SourceSet* set = destination_hosts_.find(destination_key(direction, packet.dst))) {
      add_hit(set);
    }
  }

  std::uint64_t best_priority = std::uint64_t{1} << 32;  // worse than any priority
  std::uint64_t best_order = 0;
  Policy* best = nullptr;
  auto scan = [&](const CandidateList& list) {
    for (const Candidate *c = list.items(), *end = c + list.count; c != end; ++c) {
      // Sorted by (priority, order): nothing further on can win.
      if (c->priority > best_priority || (c->priority == best_priority && c->order >= best_order)) {
        return;
      }
      if (!TrafficSelector::matches_upper_layer(c->protocol, c->source_ports, c->destination_ports,
                                                packet)) {
        continue;
      }
      if (c->has_range && !c->policy->config().selector.matches(packet)) continue;
      best_priority = c->priority;
      best_order = c->order;
      best = c->policy;
      return;
    }
  };
  // The host pair first: the most specific policy, whose priority then prunes the sets.
  if (pair_lists_[d].load(std::memory_order_acquire) != 0) {
    if (const CandidateList* list = host_pairs_.find(pair_key(direction, packet.dst, packet.src))) {
      scan(*list);
    }
  }
  const TrieKey source = TrieKey::of(packet.src);
  for (std::size_t i = 0; i < n && hits[i].bound <= best_priority; ++i) {
    const SourceSet& set = *hits[i].set;
    set.sources.for_each_match(
        source, [&](void* value) { scan(*static_cast<const CandidateList*>(value)); });
    if (set.host_sources.load(std::memory_order_acquire) != 0) {
      if (const CandidateList* list = source_hosts_.find(source_key(set, packet.src))) scan(*list);
    }
  }
  return best;
}

void PolicyClassifier::prefetch_slots(PolicyDirection direction, const IpPacketInfo& packet) const {
  const auto d = static_cast<std::size_t>(direction);
  if (pair_lists_[d].load(std::memory_order_relaxed) != 0) {
    host_pairs_.prefetch_slot(pair_key(direction, packet.dst, packet.src));
  }
  if (host_sets_[d].load(std::memory_order_relaxed) != 0) {
    destination_hosts_.prefetch_slot(destination_key(direction, packet.dst));
  }
}

void PolicyClassifier::prefetch_sets(PolicyDirection direction, const IpPacketInfo& packet) const {
  const auto d = static_cast<std::size_t>(direction);
  if (pair_lists_[d].load(std::memory_order_relaxed) != 0) {
    host_pairs_.prefetch_value(pair_key(direction, packet.dst, packet.src),
                               sizeof(CandidateList) + sizeof(Candidate));
  }
  if (host_sets_[d].load(std::memory_order_relaxed) != 0) {
    destination_hosts_.prefetch_value(destination_key(direction, packet.dst));
  }
}

void PolicyClassifier::prefetch_sources(PolicyDirection direction,
                                        const IpPacketInfo& packet) const {
  const auto d = static_cast<std::size_t>(direction);
  if (host_sets_[d].load(std::memory_order_relaxed) == 0) return;
  // The one hash probe is cached by now; the trie sets (not prefetched) are few and shared.
  const SourceSet* set = destination_hosts_.find(destination_key(direction, packet.dst));
  if (set == nullptr) return;
  set->sources.prefetch_root();
  if (set->host_sources.load(std::memory_order_relaxed) != 0) {
    source_hosts_.prefetch_slot(source_key(*set, packet.src));
  }
}

void PolicyClassifier::prefetch_lists(PolicyDirection direction, const IpPacketInfo& packet) const {
  const auto d = static_cast<std::size_t>(direction);
  if (host_sets_[d].load(std::memory_order_relaxed) == 0) return;
  const SourceSet* set = destination_hosts_.find(destination_key(direction, packet.dst));
  if (set == nullptr) return;
  // A list's header and first candidate (what scan() reads first) span two lines.
  constexpr std::size_t kListHead = sizeof(CandidateList) + sizeof(Candidate);
  set->sources.for_each_match(TrieKey::of(packet.src),
                              [](void* list) { prefetch_bytes(list, kListHead); });
  if (set->host_sources.load(std::memory_order_relaxed) != 0) {
    source_hosts_.prefetch_value(source_key(*set, packet.src), kListHead);
  }
}

PolicyClassifier::Stats PolicyClassifier::stats() const {
  Stats s;
  std::size_t deepest_destination = 0;
  std::size_t deepest_source = 0;
  auto count_set = [&](const SourceSet& set) {
    ++s.source_sets;
    s.candidate_lists += set.sources.size() + set.host_sources.load(std::memory_order_relaxed);
    s.trie_nodes += set.sources.node_count();
    deepest_source = std::max(deepest_source, set.sources.depth());
  };
  for (const Tries& tries : tries_) {
    for (const PrefixTrie* destinations : {&tries.v4, &tries.v6}) {
      s.trie_nodes += destinations->node_count();
      deepest_destination = std::max(deepest_destination, destinations->depth());
      destinations->for_each_value(
          [&](void* value) { count_set(*static_cast<const SourceSet*>(value)); });
    }
  }
  destination_hosts_.for_each([&](const SourceSet& set) { count_set(set); });
  s.host_sets = destination_hosts_.size();
  s.host_lists = source_hosts_.size();
  s.host_pairs = host_pairs_.size();
  s.max_trie_depth = deepest_destination + deepest_source;
  return s;
}

std::uint64_t PolicyClassifier::objects_built() const { return objects_built_; }

}  // namespace uipsec
