#include "cli/cli.hpp"

#include <iomanip>
#include <ostream>
#include <sstream>

#include "base/clock.hpp"
#include "xfrm/xfrm_policy.hpp"
#include "xfrm/xfrm_state.hpp"

namespace uipsec {

namespace {

std::string hex32(std::uint32_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << std::setw(8) << std::setfill('0') << v;
  return s.str();
}

// Parses `src A dst B [proto esp]` for allocspi.
Result<std::pair<IpAddress, IpAddress>> parse_allocspi(std::span<const std::string_view> args) {
  std::optional<IpAddress> src, dst;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view word = args[i];
    if ((word == "src" || word == "dst") && i + 1 < args.size()) {
      auto a = IpAddress::parse(args[++i]);
      if (!a) return a.error().with_context(std::string(word));
      (word == "src" ? src : dst) = *a;
    } else if (word == "proto" && i + 1 < args.size()) {
      if (args[++i] != "esp")
        return Error("proto: only esp is supported, got '" + std::string(args[i]) + "'");
    } else if (word == "min" || word == "max") {
      return Error(std::string(word) +
                   ": a per-call SPI range is not supported; set uipsec.spi_min/spi_max");
    } else {
      return Error("unknown argument '" + std::string(word) + "' (expected src, dst, proto)");
    }
  }
  if (!src || !dst) return Error(std::string("missing '") + (src ? "dst" : "src") + "'");
  return std::pair{*src, *dst};
}

}  // namespace

std::string Cli::usage() {
  return "usage: uipsec [-S PATH] [--json] [-s] [--keys] OBJECT COMMAND [ARGUMENTS]\n"
         "\n"
         "Drives uipsecd like `ip xfrm` drives the kernel: the arguments are ip-xfrm's.\n"
         "\n"
         "  uipsec state add|update ID [reqid N] [mode tunnel|transport] [replay-window N]\n"
         "               [replay-seq N] [replay-oseq N] [replay-seq-hi N] [replay-oseq-hi N]\n"
         "               [flag esn] ALGORITHMS [encap espinudp SPORT DPORT OADDR] [sel ...]\n"
         "               [limit ...] [dir in|out]\n"
         "        ID := src ADDR dst ADDR proto esp spi SPI\n"
         "        ALGORITHMS := aead 'rfc4106(gcm(aes))' KEY ICVBITS\n"
         "                    | aead 'rfc7539esp(chacha20,poly1305)' KEY 128\n"
         "                    | enc 'cbc(aes)' KEY auth-trunc 'hmac(sha256)' KEY 128 | ...\n"
         "  uipsec state delete|get ID\n"
         "  uipsec state list|flush|count\n"
         "  uipsec state allocspi src ADDR dst ADDR [proto esp]\n"
         "  uipsec policy add|update SELECTOR dir in|out|fwd [priority N] [action allow|block]\n"
         "               [tmpl src ADDR dst ADDR proto esp reqid N mode tunnel|transport]\n"
         "  uipsec policy delete|get SELECTOR dir in|out|fwd\n"
         "  uipsec policy list|flush|count\n"
         "  uipsec stats      every counter, including each drop reason\n"
         "  uipsec monitor    acquire, expire and mapping events, IKE packets seen (an IKE\n"
         "                   daemon registers for their payloads: docs/CONTROL_PROTOCOL.md)\n"
         "  uipsec ike watch  register as the IKE handler and print each IKE message (hex)\n"
         "  uipsec ike send src ADDR sport PORT dst ADDR dport PORT HEX\n"
         "                   send an IKE message through uipsecd (sport 4500: with the marker)\n"
         "  uipsec address add|del ADDR[/32|/128]\n"
         "                   put a virtual IP on uipsecd's TUN device, or take it off\n"
         "  uipsec address list\n"
         "                   the TUN device's addresses (\"uipsec\": added through uipsec)\n"
         "\n"
         "  -S PATH   uipsecd's control socket (default /run/uipsec/uipsec.ctl)\n"
         "  --json    machine-readable output\n"
         "  -s        with list/get: counters and lifetimes (like ip -s xfrm)\n"
         "  --keys    with list/get: show keys\n"
         "\n"
         "The full grammar: docs/XFRM_SYNTAX.md. Exit status: 0 done, 1 refused by uipsecd,\n"
         "2 bad arguments (nothing was sent).\n";
}

int Cli::usage_error(const std::string& message) {
  err_ << "uipsec: " << message << "\n(see uipsec --help)\n";
  return 2;
}

int Cli::daemon_error(const Error& error) {
  err_ << "uipsec: " << error.message() << "\n";
  return 1;
}

int Cli::ok() {
  if (output_.json) out_ << "{\"ok\": true}\n";
  return 0;
}

int Cli::run(std::span<const std::string_view> args) {
  if (args.empty()) {
    return usage_error("missing OBJECT (state, policy, stats, monitor, ike or address)");
  }
  const std::string_view object = args[0];
  if (object == "stats") {
    if (args.size() > 1) return usage_error("stats takes no arguments");
    return stats();
  }
  if (object == "monitor") {
    if (args.size() > 1) return usage_error("monitor takes no arguments");
    return monitor();
  }
  if (object == "ike") {
    if (args.size() < 2) return usage_error("missing COMMAND after 'ike' (watch or send)");
    return ike(args[1], args.subspan(2));
  }
  if (object == "address") {
    if (args.size() < 2) return usage_error("missing COMMAND after 'address' (add, del or list)");
    return address(args[1], args.subspan(2));
  }
  if (object != "state" && object != "policy") {
    return usage_error("unknown object '" + std::string(object) +
                       "' (expected state, policy, stats, monitor, ike or address)");
  }
  if (args.size() < 2) return usage_error("missing COMMAND after '" + std::string(object) + "'");
  return object == "state" ? state(args[1], args.subspan(2)) : policy(args[1], args.subspan(2));
}

int Cli::state(std::string_view command, std::span<const std::string_view> args) {
  const KeyDisclosure keys = output_.show_keys ? KeyDisclosure::kInclude : KeyDisclosure::kOmit;
  const XfrmListOptions list_options{output_.show_keys, output_.show_stats, MonotonicClock().now()};
  if (command == "add" || command == "update") {
    auto config = parse_state(args, defaults_);
    if (!config)
      return usage_error("state " + std::string(command) + ": " + config.error().message());
    if (command == "add") {
      if (auto r = backend_.add_sa(*config); !r.ok()) return daemon_error(r.error());
      return ok();
    }
    // ip xfrm's update replaces the SA; uipsec changes addresses and encapsulation in place
    // (keeping sequence numbers and replay state) and refuses other changes.
    auto current = backend_.query_sa(config->id(), KeyDisclosure::kInclude);
    if (!current) return daemon_error(current.error());
    SaConfig wanted = *config;
    wanted.endpoints = current->config.endpoints;
    if (!(wanted == current->config)) {
      return daemon_error(
          Error("state update: only addresses and encapsulation can change in place; for other "
                "changes delete the SA and add it again (or add a new SA: rekeying)"));
    }
    if (auto r = backend_.update_sa(current->config.id(), config->endpoints); !r.ok()) {
      return daemon_error(r.error());
    }
    return ok();
  }
  if (command == "delete" || command == "get") {
    auto id = parse_state_id(args);
    if (!id) return usage_error("state " + std::string(command) + ": " + id.error().message());
    if (command == "delete") {
      if (auto r = backend_.delete_sa(*id); !r.ok()) return daemon_error(r.error());
      return ok();
    }
    auto info = backend_.query_sa(*id, keys);
    if (!info) return daemon_error(info.error());
    if (output_.json) {
      out_ << dump_json(to_json(*info, keys)) << "\n";
    } else {
      out_ << format_state(*info, list_options);
    }
    return 0;
  }
  if (command == "list" || command == "count" || command == "flush") {
    if (!args.empty()) return usage_error("state " + std::string(command) + " takes no arguments");
    if (command == "flush") {
      auto n = backend_.flush_sas();
      if (!n) return daemon_error(n.error());
      if (output_.json) out_ << "{\"flushed\": " << *n << "}\n";
      return 0;
    }
    auto all = backend_.list_sas(keys);
    if (!all) return daemon_error(all.error());
    if (command == "count") {
      if (output_.json) {
        out_ << "{\"count\": " << all->size() << "}\n";
      } else {
        out_ << "SAD count " << all->size() << "\n";
      }
      return 0;
    }
    if (output_.json) {
      Json array = Json::array();
      for (const SaInfo& info : *all) array.push_back(to_json(info, keys));
      out_ << dump_json(array) << "\n";
    } else {
      for (const SaInfo& info : *all) out_ << format_state(info, list_options);
    }
    return 0;
  }
  if (command == "allocspi") {
    auto addresses = parse_allocspi(args);
    if (!addresses) return usage_error("state allocspi: " + addresses.error().message());
    auto spi = backend_.allocate_spi(addresses->first, addresses->second);
    if (!spi) return daemon_error(spi.error());
    if (output_.json) {
      out_ << "{\"spi\": " << spi->value() << "}\n";
    } else {
      out_ << "src " << addresses->first.to_string() << " dst " << addresses->second.to_string()
           << "\n\tproto esp spi " << hex32(spi->value()) << "\n";
    }
    return 0;
  }
  return usage_error("unknown state command '" + std::string(command) +
                     "' (expected add, update, delete, get, list, flush, count or allocspi)");
}

int Cli::policy(std::string_view command, std::span<const std::string_view> args) {
  const XfrmListOptions list_options{false, output_.show_stats, MonotonicClock().now()};
  if (command == "add" || command == "update") {
    auto config = parse_policy(args);
    if (!config) {
      return usage_error("policy " + std::string(command) + ": " + config.error().message());
    }
    auto r = command == "add" ? backend_.add_policy(*config) : backend_.update_policy(*config);
    if (!r.ok()) return daemon_error(r.error());
    return ok();
  }
  if (command == "delete" || command == "get") {
    auto id = parse_policy_id(args);
    if (!id) return usage_error("policy " + std::string(command) + ": " + id.error().message());
    if (command == "delete") {
      if (auto r = backend_.delete_policy(*id); !r.ok()) return daemon_error(r.error());
      return ok();
    }
    auto info = backend_.query_policy(*id);
    if (!info) return daemon_error(info.error());
    if (output_.json) {
      out_ << dump_json(to_json(*info)) << "\n";
    } else {
      out_ << format_policy(*info, list_options);
    }
    return 0;
  }
  if (command == "list" || command == "count" || command == "flush") {
    if (!args.empty()) return usage_error("policy " + std::string(command) + " takes no arguments");
    if (command == "flush") {
      auto n = backend_.flush_policies();
      if (!n) return daemon_error(n.error());
      if (output_.json) out_ << "{\"flushed\": " << *n << "}\n";
      return 0;
    }
    auto all = backend_.list_policies();
    if (!all) return daemon_error(all.error());
    if (command == "count") {
      if (output_.json) {
        out_ << "{\"count\": " << all->size() << "}\n";
      } else {
        out_ << "SPD count " << all->size() << "\n";
      }
      return 0;
    }
    if (output_.json) {
      Json array = Json::array();
      for (const PolicyInfo& info : *all) array.push_back(to_json(info));
      out_ << dump_json(array) << "\n";
    } else {
      for (const PolicyInfo& info : *all) out_ << format_policy(info, list_options);
    }
    return 0;
  }
  return usage_error("unknown policy command '" + std::string(command) +
                     "' (expected add, update, delete, get, list, flush or count)");
}

int Cli::stats() {
  auto s = backend_.statistics();
  if (!s) return daemon_error(s.error());
  if (output_.json) {
    out_ << dump_json(to_json(*s)) << "\n";
    return 0;
  }
  out_ << "SAs " << s->sa_count << ", policies " << s->policy_count << "\n"
       << "packets: sealed " << s->sealed << ", opened " << s->opened << ", bypassed "
       << s->bypassed << ", ike " << s->ike << ", events lost " << s->events_lost << "\n"
       << "drops:\n";
  for (std::size_t i = 1; i < kDropReasonCount; ++i) {
    out_ << "  " << std::left << std::setw(22) << to_string(static_cast<DropReason>(i))
         << s->drops[i] << "\n";
  }
  if (!s->io.empty()) {
    out_ << "io:\n";
    for (const auto& [name, value] : s->io) {
      out_ << "  " << std::left << std::setw(26) << name << " " << value << "\n";
    }
  }
  return 0;
}

int Cli::ike(std::string_view command, std::span<const std::string_view> args) {
  if (!raw_call_) return daemon_error(Error("ike: not available with this backend"));
  if (command == "watch") {
    if (!args.empty()) return usage_error("ike watch takes no arguments");
    auto registered = raw_call_("ike.register", Json::object());
    if (!registered) return daemon_error(registered.error());
    auto r = monitor_([&](const Json& message) {
      if (message.value("event", std::string()) != "ike.message") return true;
      if (output_.json) {
        out_ << dump_json(message) << std::endl;
      } else if (auto m = parse_ike_message_event(message); m.ok()) {
        const auto text = [](const Endpoint& e) {
          return e.address.to_string() + " port " + std::to_string(e.port);
        };
        out_ << "ike from " << text(m->remote) << " to " << text(m->local) << " ("
             << m->payload.size() << " bytes) " << message["payload"].get<std::string>()
             << std::endl;
      }
      return static_cast<bool>(out_);
    });
    if (!r.ok()) return daemon_error(r.error());
    return 0;
  }
  if (command != "send") {
    return usage_error("unknown ike command '" + std::string(command) +
                       "' (expected watch or send)");
  }
  // src ADDR sport PORT dst ADDR dport PORT HEX
  if (args.size() != 9 || args[0] != "src" || args[2] != "sport" || args[4] != "dst" ||
      args[6] != "dport") {
    return usage_error("ike send: expected src ADDR sport PORT dst ADDR dport PORT HEX");
  }
  const auto endpoint = [](std::string_view address, std::string_view port) -> Result<Json> {
    auto a = IpAddress::parse(address);
    if (!a) return Error("expected an IP address, got '" + std::string(address) + "'");
    unsigned value = 0;
    for (char ch : port) {
      if (ch < '0' || ch > '9' || value > 65535) {
        return Error("expected a port 1..65535, got '" + std::string(port) + "'");
      }
      value = value * 10 + static_cast<unsigned>(ch - '0');
    }
    if (port.empty() || value == 0 || value > 65535) {
      return Error("expected a port 1..65535, got '" + std::string(port) + "'");
    }
    return Json{{"address", a->to_string()}, {"port", value}};
  };
  auto local = endpoint(args[1], args[3]);
  if (!local) return usage_error("ike send: src/sport: " + local.error().message());
  auto remote = endpoint(args[5], args[7]);
  if (!remote) return usage_error("ike send: dst/dport: " + remote.error().message());
  auto sent = raw_call_(
      "ike.send", Json{{"local", *local}, {"remote", *remote}, {"payload", std::string(args[8])}});
  if (!sent) return daemon_error(sent.error());
  return ok();
}

int Cli::address(std::string_view command, std::span<const std::string_view> args) {
  if (!raw_call_) return daemon_error(Error("address: not available with this backend"));
  if (command == "list" || command == "show") {
    if (!args.empty()) return usage_error("address list takes no arguments");
    auto listed = raw_call_("address.list", Json::object());
    if (!listed) return daemon_error(listed.error());
    if (output_.json) {
      out_ << dump_json(*listed) << "\n";
      return 0;
    }
    if (!listed->is_array()) return daemon_error(Error("address.list: expected an array"));
    for (std::size_t i = 0; i < listed->size(); ++i) {
      auto entry = from_json<DeviceAddress>((*listed)[i], "result[" + std::to_string(i) + "]");
      if (!entry) return daemon_error(entry.error());
      out_ << entry->address.to_string() << "/" << static_cast<unsigned>(entry->prefix_length)
           << (entry->ours ? " uipsec" : "") << "\n";
    }
    return 0;
  }
  const bool add = command == "add";
  if (!add && command != "del" && command != "delete") {
    return usage_error("unknown address command '" + std::string(command) +
                       "' (expected add, del or list)");
  }
  const std::string name = add ? "add" : "del";
  if (args.size() != 1) return usage_error("address " + name + ": expected one ADDR[/32|/128]");
  // Checked here as uipsecd checks it, so that nothing is sent when it is bad.
  const std::string op = add ? "address.add" : "address.delete";
  const Json arguments{{"address", std::string(args[0])}};
  auto checked =
      decode_request(RequestEnvelope{0, Json{{"id", 0}, {"op", op}, {"args", arguments}}});
  if (!checked) return usage_error("address " + name + ": " + checked.error().message());
  auto done = raw_call_(op, arguments);
  if (!done) return daemon_error(done.error());
  return ok();
}

int Cli::monitor() {
  auto r = monitor_([&](const Json& message) {
    out_ << (output_.json ? dump_json(message) : format_monitor_message(message)) << std::endl;
    return static_cast<bool>(out_);
  });
  if (!r.ok()) return daemon_error(r.error());
  return 0;
}

std::string format_monitor_message(const Json& m) {
  if (!m.is_object() || !m.contains("event") || !m["event"].is_string()) return dump_json(m);
  const std::string kind = m["event"].get<std::string>();
  if (kind == "overflow") {
    return "overflow: " + dump_json(m.value("lost", Json(0))) +
           " events lost (uipsec was too slow)";
  }
  if (kind == "ike") {
    return "ike from " + m.value("remote", std::string("?")) + " to " +
           m.value("local", std::string("?")) + " (" + dump_json(m.value("size", Json(0))) +
           (m.value("handled", false) ? " bytes; handed to the IKE handler)"
                                      : " bytes; no IKE daemon registered)");
  }
  auto event = from_json<IpsecEvent>(m);
  if (!event) return dump_json(m);
  std::ostringstream out;
  if (const auto* a = std::get_if<AcquireEvent>(&*event)) {
    out << "acquire reqid " << a->reqid.value() << " policy " << a->policy.value() << " "
        << a->packet.to_string();
  } else if (const auto* e = std::get_if<ExpireEvent>(&*event)) {
    out << "expire " << (e->hard ? "hard " : "soft ") << e->sa.to_string() << " reqid "
        << e->reqid.value();
  } else if (const auto* mapping = std::get_if<MappingEvent>(&*event)) {
    auto endpoint = [](const Endpoint& ep) {
      return ep.address.to_string() + " port " + std::to_string(ep.port);
    };
    out << "mapping " << mapping->sa.to_string() << " reqid " << mapping->reqid.value() << " from "
        << endpoint(mapping->previous) << " to " << endpoint(mapping->current);
  }
  return out.str();
}

}  // namespace uipsec
