// Test support for checks that need root and kernel features: each runs in a forked child inside
// a private network namespace (unshare(CLONE_NEWNET)), so no interface, address, route or rule
// of the host is touched and everything made there disappears with the child.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "base/ip_address.hpp"

namespace uipsec::test {

struct NetnsOutcome {
  bool skipped = false;
  bool passed = false;
  std::string message;
};

// Forks; the child enters a new network namespace (plus the namespaces in `extra_flags`, e.g.
// CLONE_NEWNS), brings up `lo`, runs `body` (gtest assertions work and print from the child)
// and exits with its verdict; the parent waits. Skipped when not root or when namespaces are
// unavailable. The child is killed after 60 seconds.
NetnsOutcome run_in_netns(const std::function<void()>& body, int extra_flags = 0);

// Inside `body` only: ends the child and marks the test skipped with `reason`.
[[noreturn]] void skip_in_child(const std::string& reason);

// Inside `body` only (the calling process's namespace): configuration helpers over rtnetlink.
// Each returns an empty string on success, else the error.
std::string add_address(const std::string& ifname, const char* prefix);  // IPv6 with nodad
std::string set_link_up(const std::string& ifname);
// Output of a shell command, "" when it fails to run; for cross-checks with iproute2.
std::string command_output(const std::string& command);
bool have_ip_command();

// An IPv4 or IPv6 UDP packet with valid lengths and checksums.
std::vector<std::uint8_t> udp_packet(const IpAddress& source, std::uint16_t source_port,
                                     const IpAddress& destination, std::uint16_t destination_port,
                                     const std::vector<std::uint8_t>& payload);

inline IpAddress ip(const char* text) { return *IpAddress::parse(text); }

}  // namespace uipsec::test

// Runs `body` (a lambda) in a private network namespace and reports its verdict; use directly
// in a TEST body.
#define UIPSEC_IN_NETNS(...)                                              \
  do {                                                                    \
    const ::uipsec::test::NetnsOutcome uipsec_outcome_ =                  \
        ::uipsec::test::run_in_netns(__VA_ARGS__);                        \
    if (uipsec_outcome_.skipped) GTEST_SKIP() << uipsec_outcome_.message; \
    EXPECT_TRUE(uipsec_outcome_.passed) << uipsec_outcome_.message;       \
  } while (false)
