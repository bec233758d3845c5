#include "policy/policy_database.hpp"

#include <algorithm>

namespace uipsec {

PolicyDatabase::PolicyDatabase(QsbrDomain& domain) : domain_(domain), snapshot_(new Snapshot()) {}

PolicyDatabase::~PolicyDatabase() { delete snapshot_.load(std::memory_order_relaxed); }

std::size_t PolicyDatabase::position(const PolicyId& id) const {
  const auto it = std::find_if(policies_.begin(), policies_.end(),
                               [&](const auto& p) { return p->config().id() == id; });
  return static_cast<std::size_t>(it - policies_.begin());
}

void PolicyDatabase::publish() {
  auto next = std::make_unique<Snapshot>();
  for (const auto& p : policies_) {
    next->by_direction[static_cast<std::size_t>(p->config().direction)].push_back(p.get());
  }
  for (auto& list : next->by_direction) {
    std::stable_sort(list.begin(), list.end(), [](const Policy* a, const Policy* b) {
      return a->config().priority < b->config().priority;
    });
  }
  const Snapshot* old = snapshot_.exchange(next.release(), std::memory_order_acq_rel);
  domain_.retire([old] { delete old; });
}

Result<PolicyIndex> PolicyDatabase::add(PolicyConfig config, Timestamp now) {
  UIPSEC_TRY(config.validate());
  if (position(config.id()) != policies_.size()) {
    return Error("policy " + config.id().to_string() + " exists already");
  }
  const PolicyIndex index(next_index_++);
  policies_.push_back(std::make_unique<Policy>(std::move(config), index, now));
  publish();
  return index;
}

Result<PolicyIndex> PolicyDatabase::update(PolicyConfig config, Timestamp now) {
  UIPSEC_TRY(config.validate());
  const std::size_t at = position(config.id());
  if (at == policies_.size()) return add(std::move(config), now);
  const PolicyIndex index = policies_[at]->index();
  Policy* old = policies_[at].release();
  policies_[at] = std::make_unique<Policy>(std::move(config), index, now);
  publish();
  domain_.retire([old] { delete old; });
  return index;
}

Result<void> PolicyDatabase::remove(const PolicyId& id) {
  const std::size_t at = position(id);
  if (at == policies_.size()) return Error("no policy " + id.to_string());
  Policy* old = policies_[at].release();
  policies_.erase(policies_.begin() + static_cast<std::ptrdiff_t>(at));
  publish();
  domain_.retire([old] { delete old; });
  return {};
}

std::size_t PolicyDatabase::flush() {
  const std::size_t n = policies_.size();
  std::vector<Policy*> old;
  for (auto& p : policies_) old.push_back(p.release());
  policies_.clear();
  publish();
  domain_.retire([old] {
    for (Policy* p : old) delete p;
  });
  return n;
}

const Policy* PolicyDatabase::get(const PolicyId& id) const {
  const std::size_t at = position(id);
  return at == policies_.size() ? nullptr : policies_[at].get();
}

Policy* PolicyDatabase::lookup(PolicyDirection direction, const IpPacketInfo& packet) const {
  const Snapshot* s = snapshot_.load(std::memory_order_acquire);
  for (Policy* p : s->by_direction[static_cast<std::size_t>(direction)]) {
    if (p->config().selector.matches(packet)) return p;
  }
  return nullptr;
}

}  // namespace uipsec
