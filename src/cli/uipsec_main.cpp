// uipsec: the command-line tool for uipsecd, with `ip xfrm` syntax. See `uipsec --help`.
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.hpp"
#include "control/control_client.hpp"

int main(int argc, char** argv) {
  std::string socket = uipsec::kDefaultControlSocket;
  uipsec::CliOutput output;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-S") {
      if (i + 1 >= argc) {
        std::cerr << "uipsec: -S needs a PATH\n(see uipsec --help)\n";
        return 2;
      }
      socket = argv[++i];
    } else if (arg == "--json" || arg == "-j") {
      output.json = true;
    } else if (arg == "-s" || arg == "--stats") {
      output.show_stats = true;
    } else if (arg == "--keys") {
      output.show_keys = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << uipsec::Cli::usage();
      return 0;
    } else if (arg == "--version") {
      std::cout << "uipsec 0.1.0\n";
      return 0;
    } else if (!arg.empty() && arg[0] == '-') {
      std::cerr << "uipsec: unknown option '" << arg << "'\n(see uipsec --help)\n";
      return 2;
    } else {
      break;
    }
  }
  std::vector<std::string_view> words(argv + i, argv + argc);
  if (words.empty()) {
    std::cerr << uipsec::Cli::usage();
    return 2;
  }

  auto client = uipsec::ControlClient::connect(socket);
  if (!client) {
    std::cerr << "uipsec: " << client.error().message() << "\n";
    return 1;
  }
  uipsec::ControlClient& c = **client;
  uipsec::Cli cli(
      c, [&](const std::function<bool(const uipsec::Json&)>& on) { return c.monitor(on); }, output,
      uipsec::XfrmStateDefaults{c.hello().default_replay_window}, std::cout, std::cerr);
  cli.set_raw_call([&](std::string_view op, const uipsec::Json& args) { return c.call(op, args); });
  return cli.run(words);
}
