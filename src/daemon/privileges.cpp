// Privileges: capability and prctl calls through the raw syscalls (no libcap needed).
#include "daemon/privileges.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace uipsec {

namespace {

Error errno_error(const std::string& what) { return Error(what + ": " + std::strerror(errno)); }

// The highest capability this kernel knows.
int last_capability() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = 0;
  if (in >> last && last > 0 && last < 64) return last;
  return CAP_LAST_CAP;
}

Result<void> set_capabilities(const ThreadCapabilities& caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<std::uint32_t>(caps.effective >> (32 * i));
    data[i].permitted = static_cast<std::uint32_t>(caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<std::uint32_t>(caps.inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &header, data) != 0) return errno_error("capset");
  return {};
}

}  // namespace

Result<ThreadCapabilities> current_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return errno_error("capget");
  ThreadCapabilities caps;
  for (int i = 0; i < 2; ++i) {
    caps.effective |= CapabilityMask{data[i].effective} << (32 * i);
    caps.permitted |= CapabilityMask{data[i].permitted} << (32 * i);
    caps.inheritable |= CapabilityMask{data[i].inheritable} << (32 * i);
  }
  return caps;
}

CapabilityMask daemon_capabilities(bool raw_esp) {
  return capability_bit(CAP_NET_ADMIN) | (raw_esp ? capability_bit(CAP_NET_RAW) : 0);
}

Result<PrivilegeReport> drop_privileges(CapabilityMask keep) {
  PrivilegeReport report;
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return errno_error("prctl(PR_SET_DUMPABLE)");

  auto before = current_capabilities();
  if (!before) return before.error();
  const bool can_drop_bounding = (before->effective & capability_bit(CAP_SETPCAP)) != 0;
  const int last = last_capability();
  report.bounding_dropped = true;
  for (int cap = 0; cap <= last; ++cap) {
    if ((keep & capability_bit(cap)) != 0) continue;
    const int in_bounding = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (in_bounding != 1) continue;  // absent (or unknown to this kernel)
    if (!can_drop_bounding) {
      report.bounding_dropped = false;
      continue;
    }
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return errno_error("prctl(PR_CAPBSET_DROP, " + std::to_string(cap) + ")");
    }
  }
  if (!report.bounding_dropped) {
    report.note =
        "the bounding set keeps capabilities beyond the ones needed (no CAP_SETPCAP to drop "
        "them); no-new-privs still stops execve from granting them";
  }
  // EINVAL: a kernel before 4.3 without ambient capabilities — nothing to clear.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return errno_error("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }

  ThreadCapabilities after;
  after.permitted = before->permitted & keep;
  after.effective = after.permitted;
  UIPSEC_TRY(set_capabilities(after));
  report.kept = after.permitted;

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno_error("prctl(PR_SET_NO_NEW_PRIVS)");
  return report;
}

}  // namespace uipsec
