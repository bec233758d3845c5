// Reload: the difference between two configurations and how it is applied (see the header).
#include "daemon/reload.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace uipsec {

namespace {

constexpr std::string_view kStates = "uipsec.states.";
constexpr std::string_view kPolicies = "uipsec.policies.";

std::string state_where(const Declared<SaConfig>& d) {
  return d.origin + ": " + std::string(kStates) + d.name;
}
std::string policy_where(const Declared<PolicyConfig>& d) {
  return d.origin + ": " + std::string(kPolicies) + d.name;
}

// Equal once the source address and the UDP encapsulation are taken from `after`: only what
// update_sa() can change differs (the destination is part of the SA's id).
bool moved_only(const SaConfig& before, const SaConfig& after) {
  SaConfig moved = before;
  moved.endpoints.source = after.endpoints.source;
  moved.endpoints.encapsulation = after.endpoints.encapsulation;
  return moved == after;
}

template <class T>
const Declared<T>* by_name(const std::vector<Declared<T>>& list, const std::string& name) {
  const auto it =
      std::find_if(list.begin(), list.end(), [&](const Declared<T>& d) { return d.name == name; });
  return it == list.end() ? nullptr : &*it;
}

template <class T, class Same>
std::vector<ReloadItem<T>> diff(const std::vector<Declared<T>>& running,
                                const std::vector<Declared<T>>& next, Same classify) {
  std::vector<ReloadItem<T>> items;
  for (const Declared<T>& after : next) {
    ReloadItem<T> item;
    item.after = &after;
    item.before = by_name(running, after.name);
    item.change = item.before == nullptr ? ReloadChange::kAdded : classify(*item.before, after);
    items.push_back(item);
  }
  for (const Declared<T>& before : running) {
    if (by_name(next, before.name) == nullptr) {
      items.push_back(ReloadItem<T>{ReloadChange::kRemoved, &before, nullptr});
    }
  }
  return items;
}

bool restart_relevant(const std::string& path, const std::vector<std::string>& ignored) {
  if (std::find(ignored.begin(), ignored.end(), path) != ignored.end()) return false;
  if (path.rfind("uipsec.", 0) == 0) {
    return path.rfind(kStates, 0) != 0 && path.rfind(kPolicies, 0) != 0 &&
           path != "uipsec.replay_window" && path != "uipsec.sequence_margin";
  }
  return path.rfind("charon.plugins.kernel-libipsec.", 0) == 0 ||
         path == "charon.plugins.socket-default.fwmark" ||
         path == "charon.plugins.kernel-netlink.fwmark";
}

void flatten(const SettingsSection& section, const std::vector<std::string>& ignored,
             std::vector<const SettingsKey*>& out) {
  for (const SettingsKey& key : section.keys()) {
    if (!key.value.empty() && restart_relevant(key.path, ignored)) out.push_back(&key);
  }
  for (const SettingsSection& sub : section.sections()) flatten(sub, ignored, out);
}

}  // namespace

std::string_view to_string(ReloadChange change) {
  switch (change) {
    case ReloadChange::kUnchanged:
      return "unchanged";
    case ReloadChange::kAdded:
      return "added";
    case ReloadChange::kMoved:
      return "moved";
    case ReloadChange::kReplaced:
      return "replaced";
    case ReloadChange::kRemoved:
      return "removed";
  }
  return "?";
}

std::size_t ReloadPlan::count(ReloadChange change) const {
  const auto is = [change](const auto& item) { return item.change == change; };
  return static_cast<std::size_t>(std::count_if(states.begin(), states.end(), is) +
                                  std::count_if(policies.begin(), policies.end(), is));
}

std::string ReloadPlan::summary() const {
  const auto part = [](const char* what, const auto& items) {
    std::string text = what;
    text += ":";
    bool any = false;
    for (ReloadChange c : {ReloadChange::kUnchanged, ReloadChange::kAdded, ReloadChange::kMoved,
                           ReloadChange::kReplaced, ReloadChange::kRemoved}) {
      const auto n = std::count_if(items.begin(), items.end(),
                                   [c](const auto& item) { return item.change == c; });
      if (n == 0) continue;
      text += (any ? ", " : " ") + std::to_string(n) + " " + std::string(to_string(c));
      any = true;
    }
    return any ? text : text + " none";
  };
  return part("states", states) + "; " + part("policies", policies);
}

ReloadPlan plan_reload(const DaemonConfig& running, const DaemonConfig& next) {
  ReloadPlan plan;
  plan.states = diff(running.states, next.states,
                     [](const Declared<SaConfig>& before, const Declared<SaConfig>& after) {
                       if (before.config == after.config) return ReloadChange::kUnchanged;
                       return moved_only(before.config, after.config) ? ReloadChange::kMoved
                                                                      : ReloadChange::kReplaced;
                     });
  plan.policies = diff(
      running.policies, next.policies,
      [](const Declared<PolicyConfig>& before, const Declared<PolicyConfig>& after) {
        return before.config == after.config ? ReloadChange::kUnchanged : ReloadChange::kReplaced;
      });
  return plan;
}

std::vector<RestartKey> restart_keys(const SettingsSection& running, const SettingsSection& next,
                                     const std::vector<std::string>& ignored) {
  std::vector<const SettingsKey*> before;
  std::vector<const SettingsKey*> after;
  flatten(running, ignored, before);
  flatten(next, ignored, after);
  const auto find = [](const std::vector<const SettingsKey*>& keys, const std::string& path) {
    const auto it = std::find_if(keys.begin(), keys.end(),
                                 [&](const SettingsKey* k) { return k->path == path; });
    return it == keys.end() ? nullptr : *it;
  };
  std::vector<RestartKey> changed;
  for (const SettingsKey* key : after) {
    const SettingsKey* old = find(before, key->path);
    if (old == nullptr || old->value != key->value) {
      changed.push_back(RestartKey{key->path, key->where.to_string()});
    }
  }
  for (const SettingsKey* key : before) {
    if (find(after, key->path) == nullptr) {
      changed.push_back(RestartKey{key->path, key->where.to_string()});
    }
  }
  return changed;
}

namespace {

// Everything apply_reload checks before it changes anything.
Result<void> check_plan(const ReloadPlan& plan, IpsecBackend& backend) {
  std::map<SaId, const Declared<SaConfig>*> new_sas;
  std::set<SaId> old_sas;
  for (const auto& item : plan.states) {
    if (item.before != nullptr) old_sas.insert(item.before->config.id());
    if (item.after == nullptr) continue;
    const Declared<SaConfig>& d = *item.after;
    if (auto [it, inserted] = new_sas.emplace(d.config.id(), &d); !inserted) {
      return Error(state_where(d) + ": the same SA (" + d.config.id().to_string() + ") as " +
                   std::string(kStates) + it->second->name + " (" + it->second->origin + ")");
    }
    if (item.change == ReloadChange::kUnchanged) continue;
    if (auto r = d.config.validate(); !r.ok())
      return Error(state_where(d) + ": " + r.error().message());
  }
  for (const auto& [id, d] : new_sas) {
    if (old_sas.count(id) == 0 && backend.query_sa(id, KeyDisclosure::kOmit).ok()) {
      return Error(state_where(*d) + ": SA " + id.to_string() +
                   " exists already and is not from the configuration (added over the control "
                   "socket); delete it first");
    }
  }

  std::vector<std::pair<PolicyId, const Declared<PolicyConfig>*>> new_policies;
  std::vector<PolicyId> old_policies;
  for (const auto& item : plan.policies) {
    if (item.before != nullptr) old_policies.push_back(item.before->config.id());
    if (item.after == nullptr) continue;
    const Declared<PolicyConfig>& d = *item.after;
    const PolicyId id = d.config.id();
    for (const auto& [other_id, other] : new_policies) {
      if (other_id == id) {
        return Error(policy_where(d) + ": the same selector and direction as " +
                     std::string(kPolicies) + other->name + " (" + other->origin + ")");
      }
    }
    new_policies.emplace_back(id, &d);
    if (item.change == ReloadChange::kUnchanged) continue;
    if (auto r = d.config.validate(); !r.ok()) {
      return Error(policy_where(d) + ": " + r.error().message());
    }
  }
  for (const auto& [id, d] : new_policies) {
    if (std::find(old_policies.begin(), old_policies.end(), id) == old_policies.end() &&
        backend.query_policy(id).ok()) {
      return Error(policy_where(*d) + ": policy " + id.to_string() +
                   " exists already and is not from the configuration (added over the control "
                   "socket); delete it first");
    }
  }
  return {};
}

// A replaced SA whose successor keeps its keys: where the successor's numbers continue.
struct Continuation {
  std::uint64_t outbound = 0;  // last number the old SA sent
  std::uint64_t inbound = 0;   // highest number it accepted
};

}  // namespace

Result<ReloadOutcome> apply_reload(const ReloadPlan& plan, ReloadTarget target) {
  UIPSEC_TRY(check_plan(plan, target.backend));
  IpsecBackend& backend = target.backend;
  SequenceReservations* reservations = target.reservations;
  ReloadOutcome out;
  const auto fail = [&out](const std::string& line) {
    out.lines.push_back(line);
    ++out.failures;
  };

  // The ids the new file declares for SAs to add: an old SA with one of them must go first.
  std::set<SaId> incoming;
  for (const auto& item : plan.states) {
    if (item.change == ReloadChange::kAdded || item.change == ReloadChange::kReplaced) {
      incoming.insert(item.after->config.id());
    }
  }

  // 0. Freeze the outbound numbers of replaced SAs whose keys stay, then wait until no worker
  //    can still be sealing past the frozen bound: the last number is final after that.
  std::vector<std::optional<Continuation>> continuation(plan.states.size());
  bool frozen = false;
  for (std::size_t i = 0; i < plan.states.size(); ++i) {
    const auto& item = plan.states[i];
    if (item.change != ReloadChange::kReplaced ||
        item.before->config.algorithms != item.after->config.algorithms) {
      continue;
    }
    SecurityAssociation* sa = target.sad.get(item.before->config.id());
    if (sa == nullptr) continue;  // deleted over the control socket: nothing to continue
    const std::uint64_t last = sa->outbound_sequence().last();
    sa->set_sequence_reserved(std::min(sa->sequence_reserved(), last));
    Continuation c;
    if (auto info = backend.query_sa(item.before->config.id(), KeyDisclosure::kOmit); info.ok()) {
      c.inbound = info->inbound_sequence;
    }
    continuation[i] = c;
    frozen = true;
  }
  if (frozen) target.domain.synchronize();
  for (std::size_t i = 0; i < plan.states.size(); ++i) {
    if (!continuation[i]) continue;
    if (SecurityAssociation* sa = target.sad.get(plan.states[i].before->config.id())) {
      continuation[i]->outbound = sa->outbound_sequence().last();
    }
  }

  // 1. Policies that go or change their id, out first: no traffic is steered to a missing SA.
  std::vector<bool> policy_done(plan.policies.size(), false);
  for (std::size_t i = 0; i < plan.policies.size(); ++i) {
    const auto& item = plan.policies[i];
    const bool moves_id = item.change == ReloadChange::kReplaced &&
                          !(item.before->config.id() == item.after->config.id());
    if (item.change != ReloadChange::kRemoved && !moves_id) continue;
    if (auto r = backend.delete_policy(item.before->config.id()); !r.ok()) {
      if (backend.query_policy(item.before->config.id()).ok()) {
        fail(policy_where(*item.before) + ": cannot delete: " + r.error().message());
        if (item.change == ReloadChange::kRemoved) {
          out.policies.push_back(*item.before);
          policy_done[i] = true;
        }
        continue;
      }
    }
    if (item.change == ReloadChange::kRemoved) {
      out.lines.push_back(policy_where(*item.before) + ": removed");
      policy_done[i] = true;
    }
  }

  // 2. The reservations of SAs that go or are replaced end here (a successor under the same name
  //    gets its own): a frozen SA's file says its final number, a successor with new keys's its
  //    configured start (nothing was sent with those keys), a removed SA's keeps its bound.
  if (reservations != nullptr) {
    for (std::size_t i = 0; i < plan.states.size(); ++i) {
      const auto& item = plan.states[i];
      if (item.change != ReloadChange::kRemoved && item.change != ReloadChange::kReplaced) continue;
      std::optional<std::uint64_t> last;
      if (continuation[i]) last = continuation[i]->outbound;
      if (item.change == ReloadChange::kReplaced &&
          item.before->config.algorithms != item.after->config.algorithms) {
        last = item.after->config.outbound_sequence;  // new keys: nothing sent with them yet
      }
      if (auto r = reservations->release(item.before->name, last); !r.ok()) {
        out.lines.push_back(state_where(*item.before) + ": " + r.error().message());
      }
    }
  }

  //    SAs that go, and replaced SAs whose id a new declaration takes.
  std::vector<bool> sa_deleted(plan.states.size(), false);
  const auto delete_old = [&](std::size_t i) {
    const auto& item = plan.states[i];
    const Declared<SaConfig>& before = *item.before;
    if (auto r = backend.delete_sa(before.config.id()); !r.ok()) {
      if (backend.query_sa(before.config.id(), KeyDisclosure::kOmit).ok()) {
        fail(state_where(before) + ": cannot delete: " + r.error().message());
        return;
      }
    }
    sa_deleted[i] = true;
  };
  for (std::size_t i = 0; i < plan.states.size(); ++i) {
    const auto& item = plan.states[i];
    if (item.change == ReloadChange::kRemoved ||
        (item.change == ReloadChange::kReplaced && incoming.count(item.before->config.id()) != 0)) {
      delete_old(i);
    }
  }

  // 3. SAs in: added, replaced (continuing where the old one stopped if the keys stay), moved.
  std::vector<bool> sa_added(plan.states.size(), false);
  for (std::size_t i = 0; i < plan.states.size(); ++i) {
    const auto& item = plan.states[i];
    if (item.change == ReloadChange::kMoved) {
      const SaConfig& after = item.after->config;
      if (auto r = backend.update_sa(after.id(), after.endpoints); !r.ok()) {
        fail(state_where(*item.after) + ": cannot move: " + r.error().message());
        out.states.push_back(*item.before);
      } else {
        out.lines.push_back(state_where(*item.after) + ": moved (source address or ports)");
        out.states.push_back(*item.after);
      }
      continue;
    }
    if (item.change == ReloadChange::kUnchanged) {
      out.states.push_back(*item.after);
      continue;
    }
    if (item.change != ReloadChange::kAdded && item.change != ReloadChange::kReplaced) continue;
    const Declared<SaConfig>& d = *item.after;
    SaConfig config = d.config;
    if (continuation[i]) {
      config.outbound_sequence = std::max(config.outbound_sequence, continuation[i]->outbound);
      config.inbound_sequence = std::max(config.inbound_sequence, continuation[i]->inbound);
    }
    if (reservations != nullptr) {
      auto prepared = reservations->prepare(d.name, config);
      if (prepared.ok()) prepared = reservations->persist(d.name);
      if (!prepared.ok()) {
        (void)reservations->release(d.name, std::nullopt);
        fail(state_where(d) + ": not added: " + prepared.error().message());
        continue;
      }
    }
    if (auto r = backend.add_sa(config); !r.ok()) {
      if (reservations != nullptr) (void)reservations->release(d.name, std::nullopt);
      fail(state_where(d) + ": cannot add: " + r.error().message());
      continue;
    }
    if (reservations != nullptr) reservations->enforce(d.name, target.sad);
    sa_added[i] = true;
    out.states.push_back(d);
    std::string line = state_where(d) + ": " + std::string(to_string(item.change));
    if (continuation[i]) {
      line +=
          " (same keys: outbound continues after " + std::to_string(config.outbound_sequence) + ")";
    }
    out.lines.push_back(line);
  }

  // 4. The other replaced SAs out: their successors carry the traffic already.
  for (std::size_t i = 0; i < plan.states.size(); ++i) {
    const auto& item = plan.states[i];
    if (item.change == ReloadChange::kReplaced && !sa_deleted[i] &&
        incoming.count(item.before->config.id()) == 0) {
      delete_old(i);
    }
  }
  for (std::size_t i = 0; i < plan.states.size(); ++i) {
    const auto& item = plan.states[i];
    if (item.change == ReloadChange::kRemoved) {
      if (sa_deleted[i]) {
        out.lines.push_back(state_where(*item.before) + ": removed");
      } else {
        out.states.push_back(*item.before);  // still installed; the next reload tries again
      }
    } else if (item.change == ReloadChange::kReplaced && !sa_added[i] && !sa_deleted[i]) {
      out.states.push_back(*item.before);
    }
  }

  // 5. Policies in: added, updated in place, or added under their new id.
  for (std::size_t i = 0; i < plan.policies.size(); ++i) {
    const auto& item = plan.policies[i];
    if (policy_done[i] || item.change == ReloadChange::kRemoved) continue;
    if (item.change == ReloadChange::kUnchanged) {
      out.policies.push_back(*item.after);
      continue;
    }
    const Declared<PolicyConfig>& d = *item.after;
    const bool in_place =
        item.change == ReloadChange::kReplaced && item.before->config.id() == d.config.id();
    auto r = in_place ? backend.update_policy(d.config) : backend.add_policy(d.config);
    if (!r.ok()) {
      fail(policy_where(d) + ": cannot " + (in_place ? "update" : "add") + ": " +
           r.error().message());
      if (in_place) out.policies.push_back(*item.before);
      continue;
    }
    out.policies.push_back(d);
    out.lines.push_back(policy_where(d) + ": " + std::string(to_string(item.change)));
  }
  return out;
}

}  // namespace uipsec
