// uipsecd: the userland IPsec daemon. See `uipsecd --help` and docs/CONFIGURATION.md.
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "daemon/daemon.hpp"
#include "daemon/privileges.hpp"
#include "daemon/sequence_store.hpp"

namespace {

constexpr const char* kVersion = "0.1.0";

void usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: uipsecd [-c FILE] [-S PATH] [--check] [--version] [--help]\n"
      "\n"
      "A userland IPsec (ESP) data plane: a TUN device for cleartext, ESP in UDP on the\n"
      "NAT-T port, routes into the TUN device, and a control socket for `uipsec`.\n"
      "\n"
      "Options:\n"
      "  -c FILE    configuration in strongswan.conf syntax (default %s;\n"
      "             when the default file is missing, built-in defaults are used)\n"
      "  -S PATH    control socket (overrides uipsec.control_socket; default %s)\n"
      "  --check    read and check the configuration, print a summary, and exit\n"
      "             (exit 0: usable; 1: the message names file, line and key)\n"
      "  --version  print the version and exit\n"
      "  --help     print this text and exit\n"
      "\n"
      "Configuration (every key with its default: %s/uipsec.conf.example,\n"
      "docs/CONFIGURATION.md): the TUN device (uipsec.tun.name, mtu, mode create|attach),\n"
      "routes in table 220 (uipsec.routes), the NAT-T port (uipsec.nat_t_port), static SAs\n"
      "and policies in `ip xfrm` syntax (uipsec.states.NAME, uipsec.policies.NAME).\n"
      "\n"
      "Restarts: static SAs continue their outbound sequence numbers above everything sent\n"
      "before, from reservations kept in uipsec.state_directory (default %s; empty: off),\n"
      "%llu numbers at a time (uipsec.sequence_reservation).\n"
      "\n"
      "Privileges: needs CAP_NET_ADMIN to create the TUN device and manage routes (none in\n"
      "attach mode with uipsec.routes.manage = no), CAP_NET_RAW for raw ESP (uipsec.raw_esp).\n"
      "Once set up it keeps only CAP_NET_ADMIN (and CAP_NET_RAW unless raw_esp = no),\n"
      "drops the bounding set, sets no-new-privs and is not dumpable (no core dumps: key\n"
      "material lives in OpenSSL's contexts too).\n"
      "\n"
      "Runs in the foreground until SIGTERM or SIGINT; logs to standard error. Under systemd\n"
      "(Type=notify) it sends READY=1 once the control socket and the tunnel are up.\n"
      "\n"
      "SIGHUP reads the configuration file again: a file that does not load changes nothing\n"
      "(the log names file and line); otherwise states and policies follow it (unchanged ones\n"
      "keep running, changed ones are replaced, removed ones deleted; those added with\n"
      "`uipsec` are never touched), uipsec.replay_window and sequence_margin apply to SAs\n"
      "added from then on, and other changed keys are logged as needing a restart.\n"
      "\n"
      "Exit status: 0 stopped by a signal, 1 set-up or run-time error, 2 bad command line.\n",
      uipsec::kDefaultConfigPath, uipsec::kDefaultControlSocket, UIPSEC_EXAMPLES_DIR,
      uipsec::DaemonConfig{}.state_directory.c_str(),
      static_cast<unsigned long long>(uipsec::kDefaultSequenceReservation));
}

// systemd's readiness notification (sd_notify(3) without libsystemd): one datagram to
// $NOTIFY_SOCKET, a path or an abstract name ('@'). Nothing to do outside systemd.
void notify_ready() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::size_t length = std::strlen(path);
  if (length >= sizeof(address.sun_path) || (path[0] != '/' && path[0] != '@')) return;
  std::memcpy(address.sun_path, path, length);
  if (path[0] == '@') address.sun_path[0] = '\0';
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  static constexpr char kReady[] = "READY=1";
  (void)sendto(fd, kReady, sizeof(kReady) - 1, 0, reinterpret_cast<const sockaddr*>(&address),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length));
  close(fd);
}

// Keeps CAP_NET_ADMIN (routes follow policies added later) and, with raw ESP, CAP_NET_RAW,
// before the worker starts.
uipsec::Result<void> drop_privileges(bool raw_esp) {
  auto report = uipsec::drop_privileges(uipsec::daemon_capabilities(raw_esp));
  if (!report) return report.error().with_context("cannot drop privileges");
  if (!report->note.empty()) std::fprintf(stderr, "uipsecd: %s\n", report->note.c_str());
  return {};
}

int fail(const std::string& message) {
  std::fprintf(stderr, "uipsecd: %s\n", message.c_str());
  return 1;
}

// Where the configuration comes from, at start and at each SIGHUP.
struct ConfigSource {
  std::string path;
  bool explicit_path = false;  // -c: the file must exist
  std::string socket_path;     // -S: overrides uipsec.control_socket

  // The file's settings, or the built-in defaults when the default file does not exist.
  uipsec::Result<uipsec::Settings> read(bool quiet) const {
    struct stat st;
    if (explicit_path || stat(path.c_str(), &st) == 0) return uipsec::Settings::parse_file(path);
    if (!quiet)
      std::fprintf(stderr, "uipsecd: %s not found, using built-in defaults\n", path.c_str());
    return uipsec::Settings::parse_string("", "<defaults>");
  }
  uipsec::Result<uipsec::DaemonConfig> load(const uipsec::Settings& settings) const {
    auto config = uipsec::load_daemon_config(settings);
    if (config.ok() && !socket_path.empty()) config->control_socket = socket_path;
    return config;
  }
};

// SIGHUP: reads the file again. A file that does not load changes nothing (the message names
// file and line); otherwise the states and policies follow it (daemon/reload.hpp) and keys that
// only take effect at a start are named. `started`: the settings the daemon started with.
void reload(uipsec::Daemon& daemon, const ConfigSource& source, const uipsec::Settings& started) {
  const auto log = [](const std::string& line) {
    std::fprintf(stderr, "uipsecd: reload: %s\n", line.c_str());
  };
  auto settings = source.read(true);
  if (!settings) return log(settings.error().message() + "; nothing changed");
  auto config = source.load(*settings);
  if (!config) return log(config.error().message() + "; nothing changed");
  const std::vector<std::string> overridden =
      source.socket_path.empty() ? std::vector<std::string>{}
                                 : std::vector<std::string>{"uipsec.control_socket"};
  for (const auto& key : uipsec::restart_keys(started, *settings, overridden)) {
    log(key.where + ": " + key.path + " changed: needs a restart, the running value stays");
  }
  const uipsec::ReloadPlan plan = uipsec::plan_reload(daemon.config(), *config);
  const std::string summary = plan.summary();
  auto outcome = daemon.reload(*config);
  if (!outcome) return log(outcome.error().message() + "; nothing changed");
  for (const std::string& line : outcome->lines) log(line);
  std::string done = "done: " + summary;
  if (outcome->failures != 0) done += " (" + std::to_string(outcome->failures) + " failed)";
  log(done);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = uipsec::kDefaultConfigPath;
  bool explicit_config = false;
  std::string socket_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "uipsecd: %s needs a value\n\n", name);
        usage(stderr);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "-c") {
      config_path = value("-c");
      explicit_config = true;
    } else if (arg == "-S") {
      socket_path = value("-S");
    } else if (arg == "--check") {
      check_only = true;
    } else if (arg == "--version") {
      std::printf("uipsecd %s\n", kVersion);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "uipsecd: unknown argument '%s'\n\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }

  const ConfigSource source{config_path, explicit_config, socket_path};
  auto settings = source.read(false);
  if (!settings) return fail(settings.error().message());
  auto config = source.load(*settings);
  if (!config) return fail(config.error().message());
  if (check_only) {
    std::printf(
        "configuration OK: tun %s (%s, mtu %u), routes %s, nat-t port %u, control %s, "
        "%zu states, %zu policies\n",
        config->tun_name.c_str(),
        config->tun_mode == uipsec::TunMode::kCreate ? "create" : "attach", config->tun_mtu,
        config->manage_routes ? "managed" : "not managed", config->nat_t_port,
        config->control_socket.c_str(), config->states.size(), config->policies.size());
    return 0;
  }

  // uipsec.raw_esp = auto without CAP_NET_RAW opens no raw socket and keeps nothing more: what
  // the process did not have is not kept.
  const bool raw_esp = config->raw_esp != uipsec::RawEspMode::kNo;
  auto daemon =
      uipsec::Daemon::start(*config, kVersion, [raw_esp] { return drop_privileges(raw_esp); });
  if (!daemon) return fail(daemon.error().message());
  std::fprintf(stderr, "uipsecd: running: tun %s, ESP in UDP on port %u, control socket %s\n",
               config->tun_name.c_str(), config->nat_t_port, config->control_socket.c_str());
  (*daemon)->set_reload_handler(
      [&daemon, &source, &settings] { reload(**daemon, source, *settings); });
  notify_ready();
  auto result = (*daemon)->run();
  daemon->reset();
  if (!result) return fail(result.error().message());
  std::fprintf(stderr, "uipsecd: stopped\n");
  return 0;
}
