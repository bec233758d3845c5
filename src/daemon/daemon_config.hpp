// DaemonConfig: everything uipsecd is told at start, with its defaults — what
// /etc/uipsec/uipsec.conf (strongSwan's settings syntax) can set. docs/CONFIGURATION.md documents
// every key; load_daemon_config() reads them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/ipsec_backend.hpp"
#include "control/control_client.hpp"
#include "io/route.hpp"
#include "packet/packet_batch.hpp"
#include "policy/policy.hpp"
#include "sa/sa_config.hpp"
#include "sa/security_association.hpp"
#include "settings/settings.hpp"

namespace uipsec {

inline constexpr const char* kDefaultConfigPath = "/etc/uipsec/uipsec.conf";

enum class TunMode : std::uint8_t {
  kCreate,  // create the device, set its MTU, bring it up (needs CAP_NET_ADMIN)
  kAttach,  // open a device made beforehand (`ip tuntap add ... user NAME`): no privilege needed
};

// uipsec.raw_esp: whether uipsecd carries ESP without UDP (IP protocol 50) for SAs without
// encapsulation, on raw sockets that need CAP_NET_RAW.
enum class RawEspMode : std::uint8_t {
  kNo,    // never: SAs without encapsulation are refused
  kYes,   // open the raw sockets; failing to is an error
  kAuto,  // open them when the process may (CAP_NET_RAW); else go on without, saying so
};

// A state or policy declared in the configuration file, with where it was declared.
template <class T>
struct Declared {
  std::string name;
  std::string origin;  // "file:line"
  T config;
};

inline constexpr std::uint32_t kMaxWorkers = 64;
// Upper bound of uipsec.busy_poll, in microseconds (10 ms: beyond that it is polling, not a wait).
inline constexpr std::uint32_t kMaxBusyPollMicroseconds = 10000;

// The number of workers `uipsec.workers = auto` gives on a host with `cpus` CPUs: one on two or
// fewer (both tunnel ends and the applications share them), else one per two CPUs, at most 8.
std::uint32_t workers_for(unsigned cpus);

struct DaemonConfig {
  // uipsec.tun
  std::string tun_name = "ipsec0";
  std::uint32_t tun_mtu = 1400;
  TunMode tun_mode = TunMode::kCreate;
  // uipsec.routes
  bool manage_routes = true;
  std::uint32_t route_table = 220;
  std::uint32_t route_rule_priority = 220;
  // uipsec.routes.bypass_priority: rules of port/protocol-specific BYPASS policies (lookup main)
  std::uint32_t route_bypass_priority = 219;
  // uipsec.routes.allow_peer_ts / charon.plugins.kernel-libipsec.allow_peer_ts: permit a remote
  // selector equal to the peer (host-to-host tunnels; needs socket_mark)
  bool allow_peer_ts = false;
  // uipsec.routes.socket_mark / charon.plugins.socket-default.fwmark: SO_MARK on the ESP socket
  std::optional<std::uint32_t> socket_mark;
  // uipsec.routes.fwmark / charon.plugins.kernel-netlink.fwmark: "[!]VALUE[/MASK]", the fwmark
  // selector of the rules at route_rule_priority ("!": packets without that mark)
  std::optional<FirewallMark> route_rule_mark;
  bool route_rule_mark_invert = false;
  // uipsec.nat_t_port
  std::uint16_t nat_t_port = 4500;
  // uipsec.ike_port: UDP port of the IKE socket relayed to the IKE handler (0: none)
  std::uint16_t ike_port = 500;
  // Whether the configuration names uipsec.ike_port: then a socket that cannot be bound stops
  // start-up; with the default (500) uipsecd warns and goes on without it.
  bool ike_port_explicit = false;
  // uipsec.nat_keepalive_interval: seconds without ESP to a peer before a NAT-keepalive goes to
  // it, for SAs with `flag nat-keepalive` (0: never)
  std::uint32_t nat_keepalive_interval = 20;
  // uipsec.raw_esp
  RawEspMode raw_esp = RawEspMode::kAuto;
  // uipsec.control_socket
  std::string control_socket = kDefaultControlSocket;
  // uipsec.replay_window: used by SAs that do not set one (strongSwan's default is 32)
  std::uint32_t replay_window = 32;
  // uipsec.spi_min / uipsec.spi_max
  SpiRange spi_range;
  // uipsec.socket_buffer: SO_RCVBUF/SO_SNDBUF of the ESP socket, bytes. 8 MiB (the kernel
  // allows twice that in buffer memory) holds the windows of four TCP streams queued in front of a
  // busy worker (~11 MB measured); with 4 MiB that queue overflowed (docs/BENCHMARKS.md).
  std::uint32_t socket_buffer = 8u << 20;
  // uipsec.buffers: packet buffers per worker (the memory budget: buffers x buffer size)
  std::uint32_t packet_buffers = 512;
  // uipsec.sequence_margin: an SA raises its soft expire when at most this many outbound
  // sequence numbers are left (0: never; see kDefaultSequenceMargin)
  std::uint64_t sequence_margin = kDefaultSequenceMargin;
  // uipsec.state_directory: the static SAs' outbound sequence reservations, one file each, so
  // that a restart continues above every number sent ("": not kept; docs/OPERATIONS.md)
  std::string state_directory = "/var/lib/uipsec";
  // uipsec.sequence_reservation: outbound sequence numbers reserved on disk at a time
  std::uint64_t sequence_reservation = std::uint64_t{1} << 20;
  // uipsec.offload: TUN checksum and segmentation offloads (IFF_VNET_HDR, TSO/USO split in
  // user space); off: one packet per TUN read and write
  bool offload = true;
  // uipsec.udp_gso / uipsec.udp_gro: UDP_SEGMENT on sends, UDP_GRO on receives of the ESP socket
  bool udp_gso = true;
  bool udp_gro = true;
  // uipsec.gro: decrypted TCP segments of one flow coalesced into one TUN write (needs offload)
  bool gro = true;
  // uipsec.tun_per_virtual_ip: every virtual IP (address.add) gets a TUN device of its own, and
  // decrypted packets go to the device whose address is their destination (io/tun_group.hpp)
  bool tun_per_virtual_ip = false;
  // uipsec.workers: packet-path threads, each with its own TUN queue and ESP socket ("auto", 0
  // here: workers_for(CPUs) — see docs/ARCHITECTURE.md "Several workers")
  std::uint32_t workers = 0;
  // uipsec.icmp_too_big_rate: ICMP "fragmentation needed" / "packet too big" errors per second
  // for inner packets over the learned path MTU (burst 50; 0: none, they are only dropped)
  std::uint32_t icmp_too_big_rate = 1000;
  // uipsec.busy_poll: microseconds a worker keeps polling after moving packets before it sleeps
  // again (Worker::Options::busy_poll_ns; 0: sleeps at once)
  std::uint32_t busy_poll_us = 50;

  // uipsec.states.NAME / uipsec.policies.NAME, in `ip xfrm` syntax
  std::vector<Declared<SaConfig>> states;
  std::vector<Declared<PolicyConfig>> policies;
};

// Reads the `uipsec` section of `settings`; unknown keys and sections, values out of range and
// states or policies that do not parse are errors naming file, line and key. Absent keys keep
// their defaults.
Result<DaemonConfig> load_daemon_config(const Settings& settings);

}  // namespace uipsec
