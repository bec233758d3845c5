// LinearPolicyTable: the SPD as uipsec's first version kept it — per direction, the policies in
// (priority, insertion order) and a linear scan for the first whose selector matches. Kept as
// the naive model the indexed PolicyDatabase is tested against (policy_database_test.cpp) and
// as the baseline of its benchmark (policy_database_bench.cpp). Test and benchmark helper only:
// one thread, no QSBR.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "policy/policy.hpp"

namespace uipsec {

class LinearPolicyTable {
 public:
  // Adds `config` unless its id is present; false then.
  bool add(const PolicyConfig& config) {
    if (find(config.id()) != nullptr) return false;
    auto entry = std::make_unique<Entry>(Entry{config, next_order_++});
    by_id_.emplace(config.id(), entry.get());
    list(config.direction).push_back(std::move(entry));
    dirty_[static_cast<std::size_t>(config.direction)] = true;
    return true;
  }
  // Replaces the policy with the same id, keeping its age, or adds it.
  void update(const PolicyConfig& config) {
    if (Entry* e = find(config.id())) {
      e->config = config;
      dirty_[static_cast<std::size_t>(config.direction)] = true;
      return;
    }
    add(config);
  }
  bool remove(const PolicyId& id) {
    Entry* e = find(id);
    if (e == nullptr) return false;
    by_id_.erase(id);
    auto& l = list(id.direction);
    l.erase(std::find_if(l.begin(), l.end(), [&](const auto& p) { return p.get() == e; }));
    return true;
  }
  void clear() {
    for (auto& l : by_direction_) l.clear();
    by_id_.clear();
  }
  std::size_t size() const { return by_id_.size(); }
  const PolicyConfig* get(const PolicyId& id) const {
    const Entry* e = find(id);
    return e != nullptr ? &e->config : nullptr;
  }
  // Every policy of every direction in insertion order.
  std::vector<const PolicyConfig*> in_insertion_order() const {
    std::vector<const Entry*> all;
    for (const auto& l : by_direction_) {
      for (const auto& e : l) all.push_back(e.get());
    }
    std::sort(all.begin(), all.end(),
              [](const Entry* a, const Entry* b) { return a->order < b->order; });
    std::vector<const PolicyConfig*> out;
    for (const Entry* e : all) out.push_back(&e->config);
    return out;
  }

  // The first policy in (priority, insertion order) whose selector matches, or nullptr.
  // Sorts the direction's list first when a change left it unsorted.
  const PolicyConfig* lookup(PolicyDirection direction, const IpPacketInfo& packet) {
    const auto d = static_cast<std::size_t>(direction);
    if (dirty_[d]) {
      std::sort(by_direction_[d].begin(), by_direction_[d].end(), [](const auto& a, const auto& b) {
        return a->config.priority != b->config.priority ? a->config.priority < b->config.priority
                                                        : a->order < b->order;
      });
      dirty_[d] = false;
    }
    for (const auto& e : by_direction_[d]) {
      if (e->config.selector.matches(packet)) return &e->config;
    }
    return nullptr;
  }

 private:
  struct Entry {
    PolicyConfig config;
    std::uint64_t order;
  };
  std::vector<std::unique_ptr<Entry>>& list(PolicyDirection d) {
    return by_direction_[static_cast<std::size_t>(d)];
  }
  Entry* find(const PolicyId& id) const {
    const auto it = by_id_.find(id);
    return it != by_id_.end() ? it->second : nullptr;
  }

  std::array<std::vector<std::unique_ptr<Entry>>, kPolicyDirectionCount> by_direction_;
  std::array<bool, kPolicyDirectionCount> dirty_{};
  std::unordered_map<PolicyId, Entry*> by_id_;
  std::uint64_t next_order_ = 0;
};

}  // namespace uipsec
