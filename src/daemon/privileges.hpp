// Privileges: what uipsecd keeps once it is set up — CAP_NET_ADMIN (routes and rules that follow
// policies, the socket buffers), CAP_NET_RAW with raw ESP (uipsec.raw_esp), and nothing else,
// in every thread, with no way back.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"

namespace uipsec {

// A set of capabilities as a bit mask: bit N is capability N (<linux/capability.h>).
using CapabilityMask = std::uint64_t;

inline constexpr CapabilityMask capability_bit(int capability) {
  return CapabilityMask{1} << capability;
}

// What uipsecd keeps: CAP_NET_ADMIN, plus CAP_NET_RAW when raw ESP (IP protocol 50) is on.
CapabilityMask daemon_capabilities(bool raw_esp);

struct PrivilegeReport {
  CapabilityMask kept = 0;        // permitted and effective afterwards
  bool bounding_dropped = false;  // false: the process lacked CAP_SETPCAP for it (see note)
  std::string note;               // a line for the log when something could not be narrowed
};

// Call before any other thread starts: capabilities are per thread, and threads started later
// inherit the caller's sets. In this order:
//   1. PR_SET_DUMPABLE 0: no core dump (and no ptrace by the same user), because the keys are not
//      only in our SecretBytes but also in OpenSSL's expanded key schedules and cipher contexts,
//      which MADV_DONTDUMP on our own buffers could not reach;
//   2. the bounding set down to `keep` (needs CAP_SETPCAP, dropped in step 4 anyway);
//   3. the ambient set cleared;
//   4. permitted = effective = `keep` ∩ what the process had; inheritable empty;
//   5. PR_SET_NO_NEW_PRIVS: execve can never grant more.
// A process that had less than `keep` (an unprivileged user in attach mode) keeps what it had.
// Errors: a prctl or capset call failed (the message names it).
Result<PrivilegeReport> drop_privileges(CapabilityMask keep);

// The calling thread's sets, for tests and the log.
struct ThreadCapabilities {
  CapabilityMask effective = 0;
  CapabilityMask permitted = 0;
  CapabilityMask inheritable = 0;
};
Result<ThreadCapabilities> current_capabilities();

}  // namespace uipsec
