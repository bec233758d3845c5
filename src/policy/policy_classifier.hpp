// PolicyClassifier: the SPD's index (RFC 4301 §4.4.1) — for a packet and a direction, the
// matching policy with the lowest priority value, the older one among equals — searched by the
// packet path without locks while the control thread adds and removes policies one at a time.
//
// Structure, two levels, each split between a hash table for host prefixes and a prefix trie
// for the rest (Linux's xfrm makes the same split between "exact" and "inexact" policies):
//   host pairs   a policy whose source and destination are both host prefixes (/32 -> /32,
//                /128 -> /128: transport mode, host-to-host tunnels) lives in `host_pairs_`,
//                one hash table keyed by (direction, family, destination, source) — one probe.
//   destination  a host prefix (/32, /128) is found in `destination_hosts_`, a hash table keyed
//                by (direction, family, address); any other prefix in that direction's and
//                family's PrefixTrie. Each stored destination prefix owns a SourceSet.
//   source       within a SourceSet, a host source prefix is found in `source_hosts_`, one hash
//                table for all sets keyed by (set, address); any other in the set's PrefixTrie.
//                Each stored (destination, source) pair owns an immutable CandidateList: the
//                policies with exactly those two prefixes, sorted by (priority, age), each with
//                its protocol and port ranges inline.
//
//   lookup: probe the host pair table (its list's first priority becomes the bound to beat);
//   collect the SourceSets whose destination prefix contains the packet's destination
//   (a trie walk plus one hash probe), each with `best_priority`, a lower bound on every
//   priority inside it. Visit them best bound first; stop at the first whose bound is worse
//   than the best match so far. In each, walk the source trie along the packet's source and
//   probe the source host table (only if the set has host sources); in each CandidateList
//   found (pruned again by its first priority), take the first candidate that matches protocol
//   and ports.
//
// Why this shape: a walk costs O(W/4) trie steps (W = 32 or 128) whatever the number of
// policies and whatever mix of prefix lengths — tuple-space search pays per distinct (source
// length, destination length) class, and a mixed SPD has hundreds. The common large SPD is host
// policies: a gateway's road warriors (subnet -> peer/32 out, peer/32 -> subnet in) or
// host-to-host transport policies; their host side costs one hash probe instead of a deep trie
// walk, so 100 000 of them add a few cache misses to a lookup, not a few per trie level. The
// priority bounds make overlapping policies cheap: a SourceSet or list that cannot beat what was
// found is never entered. Address ranges are indexed under their covering prefix and checked
// exactly on the candidate (TrafficSelector::matches).
//
// Changes: inserting or removing one policy walks two tries (O(W/4)) or probes the tables,
// builds at most two trie nodes per trie, one CandidateList (a copy of the one with the same
// two prefixes: usually one entry) and possibly one SourceSet; replaced objects are retired
// through QSBR. The hash tables grow by doubling (amortised O(1)). The writer keeps each
// SourceSet's bound at or below every priority inside it at every moment (it lowers the bound
// before inserting and raises it after removing), so pruning never hides a present policy.
// Known limit: policies that share both prefixes and differ only in protocol or ports share one
// list, scanned in order and copied on change — O(k) for k such policies.
//
// Threads: the control thread is the only writer; packet-path threads registered with the
// QsbrDomain call lookup() and may use the result until their next quiescent point.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>

#include "base/qsbr.hpp"
#include "base/rcu_hash_map.hpp"
#include "policy/policy.hpp"
#include "policy/prefix_trie.hpp"
#include "wire/ip_packet.hpp"

namespace uipsec {

class PolicyClassifier {
 public:
  explicit PolicyClassifier(QsbrDomain& domain);
  PolicyClassifier(const PolicyClassifier&) = delete;
  PolicyClassifier& operator=(const PolicyClassifier&) = delete;
  // Frees the index (not the policies). Precondition: no reader uses it any more.
  ~PolicyClassifier();

  // Control thread. `order` ranks policies of equal priority (lower: older, wins); the caller
  // keeps the policy alive while it is indexed and retires it after remove().
  //
  // Precondition: `policy` is valid (PolicyConfig::validate) and not indexed.
  void insert(Policy& policy, std::uint64_t order);
  // Swaps `old` for `fresh`, which has the same selector and direction, in one step for readers.
  void replace(const Policy& old, Policy& fresh, std::uint64_t order);
  // Precondition: `policy` is indexed.
  void remove(const Policy& policy);
  // Removes everything.
  void clear();

  // Packet path: the winning policy for `packet` in `direction`, or nullptr.
  Policy* lookup(PolicyDirection direction, const IpPacketInfo& packet) const;

  // Packet path, for batches (base/prefetch.hpp): four steps, each one pass over the batch
  // after the one before, that start loading what lookup() with the same arguments reads for
  // a destination host prefix (road warriors, transport mode) — the host tables' slots; the
  // SourceSet and host pair list found there; the set's source trie root and its source host
  // slot; the CandidateLists on the source's path. Hints only: nothing changes, and no step
  // waits on memory the step before prefetched (if it did, it would only be slower). The
  // destination tries (prefixes other than hosts) are not prefetched.
  void prefetch_slots(PolicyDirection direction, const IpPacketInfo& packet) const;
  void prefetch_sets(PolicyDirection direction, const IpPacketInfo& packet) const;
  void prefetch_sources(PolicyDirection direction, const IpPacketInfo& packet) const;
  void prefetch_lists(PolicyDirection direction, const IpPacketInfo& packet) const;

  // What the index holds, for tests and memory accounting; walks the tries.
  struct Stats {
    std::size_t source_sets = 0;      // distinct (direction, destination prefix)
    std::size_t candidate_lists = 0;  // distinct (direction, destination, source prefix)
    std::size_t host_sets = 0;        // of the SourceSets, those in the destination host table
    std::size_t host_lists = 0;       // of the lists, those in the source host table
    std::size_t host_pairs = 0;       // lists in the host pair table (not counted above)
    std::size_t trie_nodes = 0;
    std::size_t max_trie_depth = 0;  // deepest destination trie plus deepest source trie
  };
  Stats stats() const;
  // Objects (trie nodes, SourceSets, CandidateLists) built since construction: what a change
  // costs, counted without a clock.
  std::uint64_t objects_built() const;

 private:
  // What the packet path checks of a policy besides the prefixes, inline so that rejecting a
  // candidate does not touch the Policy object.
  struct Candidate {
    std::uint32_t priority;
    std::uint8_t protocol;
    bool has_range;  // an address range: check the Policy's whole selector too
    PortRange source_ports;
    PortRange destination_ports;
    std::uint64_t order;
    Policy* policy;
  };
  static_assert(sizeof(Candidate) == 32);

  // Where a host prefix sits in a hash table: the address and what it belongs to (the
  // direction and family for a destination, the SourceSet for a source); for a host pair, the
  // destination, the source and the direction and family.
  struct HostKey {
    TrieKey address;
    TrieKey source;  // host pairs only
    std::uintptr_t context = 0;
    friend bool operator==(const HostKey&, const HostKey&) = default;
  };
  struct HostKeyHash {
    std::size_t operator()(const HostKey& k) const;
  };

  // Immutable after publication; a change builds a new list. Allocated on a cache line
  // boundary: the key, the count and the first candidate's priority, protocol and ports share
  // the first line.
  struct alignas(Candidate) CandidateList {
    HostKey host_key;  // in source_hosts_ or host_pairs_ only
    std::uint32_t count = 0;
    Candidate* items() { return reinterpret_cast<Candidate*>(this + 1); }
    const Candidate* items() const { return reinterpret_cast<const Candidate*>(this + 1); }
  };
  static_assert(sizeof(CandidateList) % alignof(Candidate) == 0);

  // What a reader touches — the key, the bound, the host count, the trie's root and width — is
  // the first 64 bytes: one cache line.
  struct alignas(64) SourceSet {
    UIPSEC_HUGE_ARENA_ALLOCATED
    SourceSet(IpFamily family, std::uint64_t* nodes_built) : sources(family, nodes_built) {}
    HostKey host_key;  // in destination_hosts_ only
    // At or below every priority in the set (the pruning bound readers use).
    std::atomic<std::uint32_t> best_priority{0};
    // Lists of this set in source_hosts_; readers probe the table only when it is not 0.
    std::atomic<std::uint32_t> host_sources{0};
    PrefixTrie sources;  // source prefixes other than hosts -> CandidateList*
    // Control thread only: every priority in the set, with multiplicity.
    std::map<std::uint32_t, std::uint32_t> priorities;
  };

  struct SetKey {
    const HostKey& operator()(const SourceSet& s) const { return s.host_key; }
  };
  struct ListKey {
    const HostKey& operator()(const CandidateList& l) const { return l.host_key; }
  };
  using DestinationHosts = RcuHashMap<SourceSet, SetKey, HostKeyHash>;
  using ListTable = RcuHashMap<CandidateList, ListKey, HostKeyHash>;

  struct Tries {
    explicit Tries(std::uint64_t* nodes_built)
        : v4(IpFamily::kV4, nodes_built), v6(IpFamily::kV6, nodes_built) {}
    PrefixTrie v4;  // destination prefix other than hosts -> SourceSet*
    PrefixTrie v6;
    PrefixTrie& of(IpFamily family) { return family == IpFamily::kV4 ? v4 : v6; }
    const PrefixTrie& of(IpFamily family) const { return family == IpFamily::kV4 ? v4 : v6; }
  };

  static Candidate candidate_of(Policy& policy, std::uint64_t order);
  static bool is_host(const IpPrefix& prefix) {
    return prefix.length() == prefix.address().size() * 8;
  }
  static std::uintptr_t context_of(PolicyDirection direction, const IpAddress& address) {
    return static_cast<std::uintptr_t>(direction) * 2 + (address.is_v6() ? 1 : 0);
  }
  static HostKey destination_key(PolicyDirection direction, const IpAddress& address) {
    return HostKey{TrieKey::of(address), {}, context_of(direction, address)};
  }
  static HostKey source_key(const SourceSet& set, const IpAddress& address) {
    return HostKey{TrieKey::of(address), {}, reinterpret_cast<std::uintptr_t>(&set)};
  }
  static HostKey pair_key(PolicyDirection direction, const IpAddress& destination,
                          const IpAddress& source) {
    return HostKey{TrieKey::of(destination), TrieKey::of(source),
                   context_of(direction, destination)};
  }
  static bool is_host_pair(const TrafficSelector& s) {
    return is_host(s.source) && is_host(s.destination);
  }

  CandidateList* make_list(std::uint32_t count);
  static void free_list(void* list);
  static void free_source_set(void* set);
  // The list with `add` inserted in (priority, order) place and `drop` left out (either may be
  // null/absent); nullptr when that leaves it empty.
  CandidateList* rebuilt(const CandidateList* old, const Candidate* add, const Policy* drop);
  static void set_bound(SourceSet& set);

  // Writer-side finds; nullptr when absent.
  SourceSet* find_set(const PolicyConfig& config) const;
  CandidateList* find_list(const SourceSet& set, const IpPrefix& source) const;
  // Puts `list` (not null) in the set's place for `source`, replacing `old` (may be null),
  // which goes to `retired`; a null `list` removes the place.
  void put_list(SourceSet& set, const IpPrefix& source, CandidateList* old, CandidateList* list,
                RetireList& retired);
  // Unlinks every set and list (to `retired`).
  void unlink_all(RetireList& retired);

  QsbrDomain& domain_;
  std::uint64_t objects_built_ = 0;  // trie nodes, SourceSets, CandidateLists
  std::array<Tries, kPolicyDirectionCount> tries_{Tries(&objects_built_), Tries(&objects_built_),
                                                  Tries(&objects_built_)};
  DestinationHosts destination_hosts_{domain_};
  ListTable source_hosts_{domain_};
  ListTable host_pairs_{domain_};
  // Entries of host_pairs_ and destination_hosts_ per direction; readers skip a table whose
  // count is 0 (counted before an entry is linked, uncounted after it is unlinked).
  std::array<std::atomic<std::uint32_t>, kPolicyDirectionCount> pair_lists_{};
  std::array<std::atomic<std::uint32_t>, kPolicyDirectionCount> host_sets_{};
};

}  // namespace uipsec
