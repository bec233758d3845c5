#include "daemon/daemon_config.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "esp/replay_window.hpp"
#include "xfrm/xfrm_arguments.hpp"
#include "xfrm/xfrm_policy.hpp"
#include "xfrm/xfrm_state.hpp"

namespace uipsec {

namespace {

constexpr std::array<std::string_view, 21> kUipsecKeys = {"workers",
                                                          "ike_port",
                                                          "nat_keepalive_interval",
                                                          "nat_t_port",
                                                          "raw_esp",
                                                          "control_socket",
                                                          "replay_window",
                                                          "spi_min",
                                                          "spi_max",
                                                          "socket_buffer",
                                                          "buffers",
                                                          "sequence_margin",
                                                          "offload",
                                                          "udp_gso",
                                                          "udp_gro",
                                                          "gro",
                                                          "state_directory",
                                                          "sequence_reservation",
                                                          "icmp_too_big_rate",
                                                          "tun_per_virtual_ip",
                                                          "busy_poll"};
constexpr std::array<std::string_view, 4> kUipsecSections = {"tun", "routes", "states", "policies"};
constexpr std::array<std::string_view, 3> kTunKeys = {"name", "mtu", "mode"};
constexpr std::array<std::string_view, 7> kRoutesKeys = {
    "manage", "table", "priority", "bypass_priority", "allow_peer_ts", "socket_mark", "fwmark"};

// "[!]VALUE[/MASK]" (strongSwan's kernel-netlink fwmark): a mark to match, "!" inverting it.
Result<void> parse_rule_mark(const SettingsKey& key, std::optional<FirewallMark>& mark,
                             bool& invert) {
  std::string_view text = key.value;
  invert = !text.empty() && text.front() == '!';
  if (invert) text.remove_prefix(1);
  const std::size_t slash = text.find('/');
  const auto number = [](std::string_view t, std::uint32_t& out) {
    if (t.empty()) return false;
    try {
      std::size_t used = 0;
      const unsigned long long v = std::stoull(std::string(t), &used, 0);
      if (used != t.size() || v > 0xffffffffull) return false;
      out = static_cast<std::uint32_t>(v);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  };
  FirewallMark m;
  if (!number(text.substr(0, slash), m.value) ||
      (slash != std::string_view::npos && !number(text.substr(slash + 1), m.mask))) {
    return key.error("expected a mark [!]VALUE[/MASK] such as !0x42 or 0x42/0xff, got '" +
                     key.value + "'");
  }
  mark = m;
  return {};
}
constexpr std::array<std::string_view, 0> kNone = {};

// Parses every key of `section` (a states or policies section) as ip-xfrm arguments.
template <class T, class Parse>
Result<void> load_declared(const SettingsSection* section, std::vector<Declared<T>>& out,
                           Parse parse) {
  if (section == nullptr) return {};
  if (!section->sections().empty()) {
    const SettingsSection& nested = section->sections().front();
    return Error(nested.where().to_string() + ": " + nested.path() +
                 ": expected `name = ip xfrm arguments`, not a section");
  }
  for (const SettingsKey& key : section->keys()) {
    auto words = split_arguments(key.value);
    if (!words) return key.error(words.error().message());
    const auto views = argument_views(*words);
    auto config = parse(std::span<const std::string_view>(views));
    if (!config) return key.error(config.error().message());
    out.push_back(Declared<T>{key.name, key.where.to_string(), std::move(*config)});
  }
  return {};
}

}  // namespace

std::uint32_t workers_for(unsigned cpus) {
  if (cpus <= 2) return 1;
  return std::min(cpus / 2, 8u);
}

Result<DaemonConfig> load_daemon_config(const Settings& settings) {
  DaemonConfig c;
  // strongswan.conf's `charon` section is shared with strongSwan: only the routing options of
  // kernel-libipsec, socket-default and kernel-netlink are read there, the rest is not ours.
  UIPSEC_TRY(settings.check_known(kNone, std::array<std::string_view, 2>{"uipsec", "charon"}));
  if (const SettingsSection* plugins = settings.find_section("charon.plugins")) {
    auto allow = plugins->get_bool("kernel-libipsec.allow_peer_ts", c.allow_peer_ts);
    if (!allow) return allow.error();
    c.allow_peer_ts = *allow;
    auto mark = plugins->get_uint("socket-default.fwmark", 0, 0xffffffff, 0);
    if (!mark) return mark.error();
    if (*mark != 0) c.socket_mark = static_cast<std::uint32_t>(*mark);
    if (const SettingsKey* key = plugins->find_key("kernel-netlink.fwmark");
        key != nullptr && !key->value.empty()) {
      UIPSEC_TRY(parse_rule_mark(*key, c.route_rule_mark, c.route_rule_mark_invert));
    }
  }
  const SettingsSection* u = settings.find_section("uipsec");
  if (u == nullptr) return c;  // everything at its default
  UIPSEC_TRY(u->check_known(kUipsecKeys, kUipsecSections));

  if (const SettingsSection* tun = u->find_section("tun")) {
    UIPSEC_TRY(tun->check_known(kTunKeys, kNone));
    c.tun_name = tun->get_string("name", c.tun_name);
    if (c.tun_name.empty() || c.tun_name.size() > 15) {
      return tun->find_key("name")->error("expected an interface name of 1..15 characters");
    }
    auto mtu = tun->get_uint("mtu", 576, 65535, c.tun_mtu);
    if (!mtu) return mtu.error();
    c.tun_mtu = static_cast<std::uint32_t>(*mtu);
    const std::string mode = tun->get_string("mode", "create");
    if (mode == "create") {
      c.tun_mode = TunMode::kCreate;
    } else if (mode == "attach") {
      c.tun_mode = TunMode::kAttach;
    } else {
      return tun->find_key("mode")->error("expected 'create' or 'attach', got '" + mode + "'");
    }
  }
  if (const SettingsSection* routes = u->find_section("routes")) {
    UIPSEC_TRY(routes->check_known(kRoutesKeys, kNone));
    auto manage = routes->get_bool("manage", c.manage_routes);
    if (!manage) return manage.error();
    c.manage_routes = *manage;
    auto table = routes->get_uint("table", 1, 0xfffffffe, c.route_table);
    if (!table) return table.error();
    c.route_table = static_cast<std::uint32_t>(*table);
    auto priority = routes->get_uint("priority", 1, 32765, c.route_rule_priority);
    if (!priority) return priority.error();
    c.route_rule_priority = static_cast<std::uint32_t>(*priority);
    // uipsec's own keys win over the charon.plugins ones.
    auto bypass = routes->get_uint("bypass_priority", 1, c.route_rule_priority - 1,
                                   c.route_rule_priority - 1);
    if (!bypass) return bypass.error();
    c.route_bypass_priority = static_cast<std::uint32_t>(*bypass);
    auto allow = routes->get_bool("allow_peer_ts", c.allow_peer_ts);
    if (!allow) return allow.error();
    c.allow_peer_ts = *allow;
    auto mark = routes->get_uint("socket_mark", 1, 0xffffffff, c.socket_mark.value_or(0));
    if (!mark) return mark.error();
    if (*mark != 0) c.socket_mark = static_cast<std::uint32_t>(*mark);
    if (const SettingsKey* key = routes->find_key("fwmark");
        key != nullptr && !key->value.empty()) {
      UIPSEC_TRY(parse_rule_mark(*key, c.route_rule_mark, c.route_rule_mark_invert));
    }
  }

  auto port = u->get_uint("nat_t_port", 1, 65535, c.nat_t_port);
  if (!port) return port.error();
  c.nat_t_port = static_cast<std::uint16_t>(*port);
  if (const SettingsKey* key = u->find_key("workers"); key != nullptr && key->value != "auto") {
    auto workers = u->get_uint("workers", 1, kMaxWorkers, c.workers);
    if (!workers) return key->error("expected auto or 1.." + std::to_string(kMaxWorkers));
    c.workers = static_cast<std::uint32_t>(*workers);
  }
  auto ike_port = u->get_uint("ike_port", 0, 65535, c.ike_port);
  if (!ike_port) return ike_port.error();
  c.ike_port = static_cast<std::uint16_t>(*ike_port);
  c.ike_port_explicit = u->find_key("ike_port") != nullptr;
  if (c.ike_port == c.nat_t_port) {
    return u->find_key("ike_port")
        ->error("the IKE port must differ from nat_t_port (or be 0: off)");
  }
  auto keepalive = u->get_uint("nat_keepalive_interval", 0, 3600, c.nat_keepalive_interval);
  if (!keepalive) return keepalive.error();
  c.nat_keepalive_interval = static_cast<std::uint32_t>(*keepalive);
  if (const SettingsKey* key = u->find_key("raw_esp"); key != nullptr && key->value == "auto") {
    c.raw_esp = RawEspMode::kAuto;
  } else if (key != nullptr) {
    auto on = u->get_bool("raw_esp", false);
    if (!on) return key->error("expected yes, no or auto");
    c.raw_esp = *on ? RawEspMode::kYes : RawEspMode::kNo;
  }
  c.control_socket = u->get_string("control_socket", c.control_socket);
  if (c.control_socket.empty() || c.control_socket.size() > 107) {
    return u->find_key("control_socket")->error("expected a socket path of 1..107 bytes");
  }
  auto window = u->get_uint("replay_window", 0, ReplayWindow::kMaxSize, c.replay_window);
  if (!window) return window.error();
  c.replay_window = static_cast<std::uint32_t>(*window);
  auto spi_min = u->get_uint("spi_min", 0x100, 0xffffffff, c.spi_range.min);
  if (!spi_min) return spi_min.error();
  auto spi_max = u->get_uint("spi_max", 0x100, 0xffffffff, c.spi_range.max);
  if (!spi_max) return spi_max.error();
  if (*spi_min > *spi_max) {
    return u->find_key("spi_min")->error("spi_min is above spi_max");
  }
  c.spi_range =
      SpiRange{static_cast<std::uint32_t>(*spi_min), static_cast<std::uint32_t>(*spi_max)};
  auto buffer = u->get_size("socket_buffer", 64u << 10, 256u << 20, c.socket_buffer);
  if (!buffer) return buffer.error();
  c.socket_buffer = static_cast<std::uint32_t>(*buffer);
  auto buffers = u->get_uint("buffers", 2 * kMaxBatch, 65536, c.packet_buffers);
  if (!buffers) return buffers.error();
  c.packet_buffers = static_cast<std::uint32_t>(*buffers);
  // Up to the whole 32-bit space: such a margin raises the soft expire at an SA's first packet.
  auto margin = u->get_uint("sequence_margin", 0, 0xffffffff, c.sequence_margin);
  if (!margin) return margin.error();
  c.sequence_margin = *margin;
  // Present but empty turns the reservations off (get_string would give the default).
  if (const SettingsKey* key = u->find_key("state_directory")) c.state_directory = key->value;
  if (!c.state_directory.empty() && c.state_directory.front() != '/') {
    return u->find_key("state_directory")->error("expected an absolute path (or nothing: off)");
  }
  auto reservation =
      u->get_uint("sequence_reservation", 2, std::uint64_t{1} << 31, c.sequence_reservation);
  if (!reservation) return reservation.error();
  c.sequence_reservation = *reservation;
  auto icmp_rate = u->get_uint("icmp_too_big_rate", 0, 1'000'000, c.icmp_too_big_rate);
  if (!icmp_rate) return icmp_rate.error();
  c.icmp_too_big_rate = static_cast<std::uint32_t>(*icmp_rate);
  auto busy_poll = u->get_uint("busy_poll", 0, kMaxBusyPollMicroseconds, c.busy_poll_us);
  if (!busy_poll) return busy_poll.error();
  c.busy_poll_us = static_cast<std::uint32_t>(*busy_poll);

  for (auto [key, value] : {std::pair<const char*, bool*>{"offload", &c.offload},
                            {"udp_gso", &c.udp_gso},
                            {"udp_gro", &c.udp_gro},
                            {"gro", &c.gro},
                            {"tun_per_virtual_ip", &c.tun_per_virtual_ip}}) {
    auto on = u->get_bool(key, *value);
    if (!on) return on.error();
    *value = *on;
  }

  UIPSEC_TRY(load_declared(u->find_section("states"), c.states,
                           [&](std::span<const std::string_view> args) -> Result<SaConfig> {
                             return parse_state(args, XfrmStateDefaults{c.replay_window});
                           }));
  UIPSEC_TRY(
      load_declared(u->find_section("policies"), c.policies,
                    [](std::span<const std::string_view> args) { return parse_policy(args); }));
  return c;
}

}  // namespace uipsec
