// IpsecBackend: the one interface through which everything above the data plane — the daemon's
// control socket, the CLI (over that socket), the configuration loader and an IKE daemon —
// manages uipsec. It is what strongSwan calls kernel_ipsec_t: SPIs, SAs, policies, queries,
// flushes, and a stream of acquire, expire and mapping events.
//
// Implementations: LocalBackend (in-process, over the data plane's databases); a control-socket
// client implements the same interface in another process. Every call returns a Result because
// a remote implementation can fail for reasons of its own. Calls are made from one thread (the
// owner's control thread); listeners are called on that thread too.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "packet/drop_reason.hpp"
#include "policy/policy.hpp"
#include "sa/ipsec_event.hpp"
#include "sa/sa_config.hpp"

namespace uipsec {

// The SPIs allocate_spi() draws from (strongSwan's spi_min/spi_max defaults).
struct SpiRange {
  std::uint32_t min = 0xc0000000;
  std::uint32_t max = 0xcfffffff;
};

// Whether query results carry the SA's keys (`ip xfrm state` shows them; logs never do).
enum class KeyDisclosure : std::uint8_t { kOmit, kInclude };

struct SaInfo {
  SaConfig config;  // keys empty unless KeyDisclosure::kInclude
  std::uint64_t bytes = 0;
  std::uint64_t packets = 0;
  std::uint64_t replay_drops = 0;
  std::uint64_t authentication_failures = 0;
  std::uint64_t other_drops = 0;
  std::uint64_t outbound_sequence = 0;  // last number sent
  std::uint64_t inbound_sequence = 0;   // highest number received
  Timestamp added;
  std::optional<Timestamp> first_use;
  std::optional<Timestamp> last_use;
  bool soft_expired = false;
  bool hard_expired = false;
};

struct PolicyInfo {
  PolicyConfig config;
  PolicyIndex index;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  Timestamp added;
  std::optional<Timestamp> last_use;
};

struct Statistics {
  std::array<std::uint64_t, kDropReasonCount> drops{};  // indexed by DropReason
  std::uint64_t sealed = 0;
  std::uint64_t opened = 0;
  std::uint64_t bypassed = 0;
  std::uint64_t ike = 0;
  std::uint64_t events_lost = 0;
  // Outbound packets kept while an acquire was pending, and those of them sent once the SA came
  // (the others are counted in drops: acquire-expired, or what their policy became).
  std::uint64_t held = 0;
  std::uint64_t released = 0;
  std::uint64_t sa_count = 0;
  std::uint64_t policy_count = 0;
  // Counters of the OS seams, by name ("tun.tx_queue_full", "socket.rx_kernel_drops"): packets
  // the kernel dropped or refused before or after uipsec had them. Empty in-process.
  std::map<std::string, std::uint64_t> io;
};

class EventListener {
 public:
  virtual ~EventListener() = default;
  virtual void on_event(const IpsecEvent& event) = 0;
};

class IpsecBackend {
 public:
  virtual ~IpsecBackend() = default;

  // A random SPI in the configured range that no SA to `destination` uses and that no earlier
  // call handed out recently (it stays reserved until an SA takes it or the reservation lapses).
  virtual Result<Spi> allocate_spi(const IpAddress& source, const IpAddress& destination) = 0;

  // A failed call changes nothing.
  virtual Result<void> add_sa(const SaConfig& config) = 0;
  // New addresses or ports for an SA, keys and sequence numbers kept (NAT, MOBIKE).
  virtual Result<void> update_sa(const SaId& id, const SaEndpoints& endpoints) = 0;
  virtual Result<SaInfo> query_sa(const SaId& id, KeyDisclosure keys) = 0;
  virtual Result<void> delete_sa(const SaId& id) = 0;
  virtual Result<std::vector<SaInfo>> list_sas(KeyDisclosure keys) = 0;
  virtual Result<std::size_t> flush_sas() = 0;

  virtual Result<void> add_policy(const PolicyConfig& config) = 0;
  // Replaces the policy with the same selector and direction, or adds it.
  virtual Result<void> update_policy(const PolicyConfig& config) = 0;
  virtual Result<PolicyInfo> query_policy(const PolicyId& id) = 0;
  virtual Result<void> delete_policy(const PolicyId& id) = 0;
  virtual Result<std::vector<PolicyInfo>> list_policies() = 0;
  virtual Result<std::size_t> flush_policies() = 0;

  virtual Result<Statistics> statistics() = 0;

  // `listener` must stay valid until removed.
  virtual void add_listener(EventListener& listener) = 0;
  virtual void remove_listener(EventListener& listener) = 0;
};

}  // namespace uipsec
