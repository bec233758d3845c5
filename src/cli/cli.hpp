// Cli: the `uipsec` command line — `ip xfrm state|policy` commands, `stats` and `monitor` —
// run against an IpsecBackend (a ControlClient to uipsecd, or anything else in tests).
//
//   uipsec [-S PATH] [--json] [-s|--stats] [--keys] state
//   add|update|delete|get|list|flush|count|allocspi ... uipsec ... policy
//   add|update|delete|get|list|flush|count ... uipsec ... stats | monitor
//
// Errors name the argument and what was expected and go to `err` with exit status 1 (the daemon
// refused) or 2 (usage: nothing was sent to the daemon).
#pragma once

#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>

#include "backend/ipsec_backend.hpp"
#include "control/codec.hpp"
#include "xfrm/xfrm_state.hpp"

namespace uipsec {

struct CliOutput {
  bool json = false;        // --json: machine-readable output
  bool show_stats = false;  // -s: counters and lifetimes in listings (ip -s xfrm)
  bool show_keys = false;   // --keys: keys in listings (ip xfrm shows them; uipsec asks first)
};

// Where `monitor` gets its messages: calls the callback per message until it returns false.
using MonitorSource = std::function<Result<void>(const std::function<bool(const Json&)>&)>;

class Cli {
 public:
  // `defaults`: what `state add` fills in for left-out arguments (the daemon's, from hello).
  Cli(IpsecBackend& backend, MonitorSource monitor, CliOutput output, XfrmStateDefaults defaults,
      std::ostream& out, std::ostream& err)
      : backend_(backend),
        monitor_(std::move(monitor)),
        output_(output),
        defaults_(defaults),
        out_(out),
        err_(err) {}

  // Raw control requests, for `uipsec ike ...` and `uipsec address ...` (ControlClient::call);
  // without one, those are refused.
  using RawCall = std::function<Result<Json>(std::string_view op, const Json& args)>;
  void set_raw_call(RawCall call) { raw_call_ = std::move(call); }

  // `args`: the words after the global options ("state", "add", ...). Returns the exit status.
  int run(std::span<const std::string_view> args);

  // The usage text for `uipsec --help`.
  static std::string usage();

 private:
  int state(std::string_view command, std::span<const std::string_view> args);
  int policy(std::string_view command, std::span<const std::string_view> args);
  int stats();
  int monitor();
  int ike(std::string_view command, std::span<const std::string_view> args);
  int address(std::string_view command, std::span<const std::string_view> args);
  int usage_error(const std::string& message);
  int daemon_error(const Error& error);
  int ok();

  IpsecBackend& backend_;
  MonitorSource monitor_;
  CliOutput output_;
  XfrmStateDefaults defaults_;
  std::ostream& out_;
  std::ostream& err_;
  RawCall raw_call_;
};

// One monitor message as a line of text ("expire soft dst 198.18.0.2 spi 0x1000 reqid 1").
std::string format_monitor_message(const Json& message);

}  // namespace uipsec
