#include "policy/policy_database.hpp"

#include <vector>

namespace uipsec {

PolicyDatabase::PolicyDatabase(QsbrDomain& domain) : domain_(domain), classifier_(domain) {}

// The policies and the index go in either order: the index never reads a policy on the way out.
PolicyDatabase::~PolicyDatabase() = default;

Result<PolicyIndex> PolicyDatabase::add(PolicyConfig config, Timestamp now) {
  UIPSEC_TRY(config.validate());
  PolicyId id = config.id();
  if (by_id_.contains(id)) return Error("policy " + id.to_string() + " exists already");
  const PolicyIndex index(next_index_++);
  const std::uint64_t order = next_order_++;
  auto policy = std::make_unique<Policy>(std::move(config), index, now);
  classifier_.insert(*policy, order);
  counts_[static_cast<std::size_t>(policy->config().direction)].fetch_add(
      1, std::memory_order_relaxed);
  by_order_.emplace(order, policy.get());
  by_id_.emplace(std::move(id), Entry{std::move(policy), order});
  return index;
}

Result<PolicyIndex> PolicyDatabase::update(PolicyConfig config, Timestamp now) {
  UIPSEC_TRY(config.validate());
  const auto it = by_id_.find(config.id());
  if (it == by_id_.end()) return add(std::move(config), now);
  Entry& entry = it->second;
  const PolicyIndex index = entry.policy->index();
  auto fresh = std::make_unique<Policy>(std::move(config), index, now);
  classifier_.replace(*entry.policy, *fresh, entry.order);
  by_order_[entry.order] = fresh.get();
  Policy* old = entry.policy.release();
  entry.policy = std::move(fresh);
  domain_.retire([old] { delete old; });
  return index;
}

Result<void> PolicyDatabase::remove(const PolicyId& id) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return Error("no policy " + id.to_string());
  Policy* old = it->second.policy.release();
  classifier_.remove(*old);
  counts_[static_cast<std::size_t>(id.direction)].fetch_sub(1, std::memory_order_relaxed);
  by_order_.erase(it->second.order);
  by_id_.erase(it);
  domain_.retire([old] { delete old; });
  return {};
}

std::size_t PolicyDatabase::flush() {
  const std::size_t n = by_id_.size();
  classifier_.clear();
  std::vector<Policy*> old;
  old.reserve(n);
  for (auto& [id, entry] : by_id_) old.push_back(entry.policy.release());
  by_id_.clear();
  by_order_.clear();
  for (auto& count : counts_) count.store(0, std::memory_order_relaxed);
  domain_.retire([old = std::move(old)] {
    for (Policy* p : old) delete p;
  });
  return n;
}

const Policy* PolicyDatabase::get(const PolicyId& id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.policy.get();
}

}  // namespace uipsec
