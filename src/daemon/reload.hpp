// Reload: what uipsecd does on SIGHUP once the configuration file has been read again — the
// difference between the states and policies the running configuration declared
// (uipsec.states.NAME, uipsec.policies.NAME) and those of the new file, applied through the
// backend, and the keys that changed but only take effect at a restart. docs/OPERATIONS.md
// ("Reloading") states the rules.
//
// Declared states and policies are matched by NAME. Per name: equal → left alone (counters,
// replay window and sequence numbers go on); only the source address or the UDP ports differ →
// moved in place (update_sa, like a NAT or MOBIKE update); anything else → replaced (the old SA
// deleted, the new one added; a policy with the same selector and direction is updated in
// place); gone → deleted; new → added. SAs and policies that no configuration declared (added
// over the control socket) are never touched; a new declaration that collides with one of them
// refuses the whole reload before anything changes.
//
// A replaced SA with the same keys must never send a sequence number twice with them (RFC 4303
// §3.3.3): the old SA's outbound numbers are frozen (SecurityAssociation's reserved bound set to
// its last number, then a grace period so that no worker is still sealing with the old bound),
// and the new SA continues above the last number sent; inbound, its replay window starts at the
// highest number the old one accepted. With new keys the new SA starts at its configured numbers,
// and so does its reservation on disk (uipsec.state_directory): nothing was sent with those keys.
// A removed SA's reservation file stays (a later declaration under that name continues above).
//
// Owner: the control thread (every function).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/ipsec_backend.hpp"
#include "base/qsbr.hpp"
#include "base/result.hpp"
#include "daemon/daemon_config.hpp"
#include "daemon/sequence_store.hpp"
#include "sa/sa_database.hpp"
#include "settings/settings.hpp"

namespace uipsec {

enum class ReloadChange : std::uint8_t {
  kUnchanged,
  kAdded,
  kMoved,     // states only: new source address or UDP ports, nothing else (update_sa)
  kReplaced,  // deleted and added again (policies with the same selector: updated in place)
  kRemoved,
};

std::string_view to_string(ReloadChange change);

// One declared state or policy and what the reload does with it. `before`/`after` point into the
// two configurations given to plan_reload (null for an added / removed one).
template <class T>
struct ReloadItem {
  ReloadChange change = ReloadChange::kUnchanged;
  const Declared<T>* before = nullptr;
  const Declared<T>* after = nullptr;
  const std::string& name() const { return after != nullptr ? after->name : before->name; }
};

struct ReloadPlan {
  std::vector<ReloadItem<SaConfig>> states;  // in the new file's order, then the removed ones
  std::vector<ReloadItem<PolicyConfig>> policies;

  std::size_t count(ReloadChange change) const;  // states and policies together
  // "states: 2 unchanged, 1 replaced; policies: 1 removed"
  std::string summary() const;
};

// The plan for going from `running` to `next`. Both must outlive the plan. Pure.
ReloadPlan plan_reload(const DaemonConfig& running, const DaemonConfig& next);

// A key whose value differs between the running file and the new one but that uipsecd reads
// only at start (the TUN device, ports, buffers, routing set-up...): the running value stays.
struct RestartKey {
  std::string path;   // "uipsec.tun.name"
  std::string where;  // "file:line" of the new value, or of the old one when it was removed
};

// The keys that differ between the two files and need a restart: every key under `uipsec` and
// the charon.plugins options uipsecd reads, except the states, the policies, and the keys a
// reload applies (uipsec.replay_window, uipsec.sequence_margin) and those in `ignored` (a value
// the command line overrides). An empty value counts as absent (strongSwan: "not set"). Pure.
std::vector<RestartKey> restart_keys(const SettingsSection& running, const SettingsSection& next,
                                     const std::vector<std::string>& ignored = {});

// What applying a plan did.
struct ReloadOutcome {
  // One line per state or policy that changed, and one per failure ("file:line:
  // uipsec.states.NAME: replaced" / "...: cannot add: ...").
  std::vector<std::string> lines;
  std::size_t failures = 0;
  // The declarations now in effect — the running configuration's next lists: what was applied,
  // and for what failed, what is still installed (a failed add is absent, so the next reload
  // tries it again).
  std::vector<Declared<SaConfig>> states;
  std::vector<Declared<PolicyConfig>> policies;
};

// What apply_reload works on; all references outlive the call. `reservations` may be null
// (uipsec.state_directory empty).
struct ReloadTarget {
  IpsecBackend& backend;  // the daemon's (routes follow the policies)
  SaDatabase& sad;        // the same SAs, for freezing outbound sequence numbers
  QsbrDomain& domain;     // the workers' grace periods
  SequenceReservations* reservations = nullptr;
};

// Applies `plan`. First checks what can be checked without changing anything — two new
// declarations with the same SA id (destination, SPI) or policy id (selector, direction), a new
// declaration that collides with an SA or policy installed over the control socket, an invalid
// SA or policy — and returns the first such error (naming file:line and the declaration):
// nothing changed. Then applies, in an order that keeps traffic flowing: removed policies out,
// SAs out where their id is taken again, SAs in (replacements with the same reqid and addresses
// take over outbound traffic at once), the other replaced SAs out, policies in. A failure there
// (the backend refused one step) is reported in the outcome and the rest goes on.
Result<ReloadOutcome> apply_reload(const ReloadPlan& plan, ReloadTarget target);

}  // namespace uipsec
