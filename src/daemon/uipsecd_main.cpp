// uipsecd: the userland IPsec daemon. See `uipsecd --help` and docs/CONFIGURATION.md.
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "daemon/daemon.hpp"

namespace {

constexpr const char* kVersion = "0.1.0";

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: uipsecd [-c FILE] [-S PATH] [--check] [--version] [--help]\n"
               "\n"
               "A userland IPsec (ESP) data plane: a TUN device for cleartext, ESP in UDP on the\n"
               "NAT-T port, routes into the TUN device, and a control socket for `uipsec`.\n"
               "\n"
               "  -c FILE    configuration in strongswan.conf syntax (default %s;\n"
               "             when the default file is missing, built-in defaults are used)\n"
               "  -S PATH    control socket (overrides uipsec.control_socket; default %s)\n"
               "  --check    read and check the configuration, print it, and exit\n"
               "  --version  print the version and exit\n"
               "\n"
               "Runs in the foreground until SIGTERM or SIGINT; logs to standard error.\n",
               uipsec::kDefaultConfigPath, uipsec::kDefaultControlSocket);
}

int fail(const std::string& message) {
  std::fprintf(stderr, "uipsecd: %s\n", message.c_str());
  return 1;
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

  uipsec::Result<uipsec::Settings> settings = uipsec::Settings::parse_string("", "<defaults>");
  struct stat st;
  if (explicit_config || stat(config_path.c_str(), &st) == 0) {
    settings = uipsec::Settings::parse_file(config_path);
    if (!settings) return fail(settings.error().message());
  } else {
    std::fprintf(stderr, "uipsecd: %s not found, using built-in defaults\n", config_path.c_str());
  }
  auto config = uipsec::load_daemon_config(*settings);
  if (!config) return fail(config.error().message());
  if (!socket_path.empty()) config->control_socket = socket_path;
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

  auto daemon = uipsec::Daemon::start(*config, kVersion);
  if (!daemon) return fail(daemon.error().message());
  std::fprintf(stderr, "uipsecd: running: tun %s, ESP in UDP on port %u, control socket %s\n",
               config->tun_name.c_str(), config->nat_t_port, config->control_socket.c_str());
  auto result = (*daemon)->run();
  daemon->reset();
  if (!result) return fail(result.error().message());
  std::fprintf(stderr, "uipsecd: stopped\n");
  return 0;
}
