#include "daemon/privileges.hpp"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

namespace uipsec {
namespace {

// Runs `body` in a child process (dropping privileges is for good) and returns its exit status:
// 0 when every check passed, otherwise the number of the first failed check.
template <class F>
int in_child(F body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(Privileges, KeepsOnlyNetAdminInEveryThreadWithNoWayBack) {
  auto before = current_capabilities();
  ASSERT_TRUE(before.ok());
  if ((before->effective & capability_bit(CAP_SETPCAP)) == 0) {
    GTEST_SKIP() << "needs root (CAP_SETPCAP)";
  }
  const int status = in_child([] {
    auto report = drop_privileges(capability_bit(CAP_NET_ADMIN));
    if (!report) return 1;
    if (report->kept != capability_bit(CAP_NET_ADMIN) || !report->bounding_dropped) return 2;
    auto caps = current_capabilities();
    if (!caps || caps->effective != capability_bit(CAP_NET_ADMIN) ||
        caps->permitted != capability_bit(CAP_NET_ADMIN) || caps->inheritable != 0) {
      return 3;
    }
    if (prctl(PR_CAPBSET_READ, CAP_NET_ADMIN, 0, 0, 0) != 1) return 4;
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0) return 5;
    if (prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) != 0) return 6;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 7;
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) return 8;
    // A thread started afterwards (the worker) has the same sets.
    int thread_result = 9;
    std::thread([&] {
      auto t = current_capabilities();
      thread_result = t && t->effective == capability_bit(CAP_NET_ADMIN) ? 0 : 9;
    }).join();
    if (thread_result != 0) return thread_result;
    // And it cannot get anything back.
    if (setuid(0) != 0) return 10;  // still uid 0, but that grants no capability now
    auto again = current_capabilities();
    if (!again || again->effective != capability_bit(CAP_NET_ADMIN)) return 11;
    return 0;
  });
  EXPECT_EQ(status, 0);
}

TEST(Privileges, RawEspKeepsNetRawAndTheRawSocketsStillWork) {
  EXPECT_EQ(daemon_capabilities(false), capability_bit(CAP_NET_ADMIN));
  EXPECT_EQ(daemon_capabilities(true), capability_bit(CAP_NET_ADMIN) | capability_bit(CAP_NET_RAW));
  auto before = current_capabilities();
  ASSERT_TRUE(before.ok());
  if ((before->effective & capability_bit(CAP_SETPCAP)) == 0) {
    GTEST_SKIP() << "needs root (CAP_SETPCAP)";
  }
  const int status = in_child([] {
    const int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, 50);  // opened during set-up
    if (raw < 0) return 1;
    auto report = drop_privileges(daemon_capabilities(true));
    if (!report) return 2;
    const CapabilityMask both = capability_bit(CAP_NET_ADMIN) | capability_bit(CAP_NET_RAW);
    if (report->kept != both) return 3;
    auto caps = current_capabilities();
    if (!caps || caps->effective != both || caps->permitted != both) return 4;
    if (prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0) != 1) return 5;
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0) return 6;
    close(raw);
    // Without raw ESP, CAP_NET_RAW goes: no new raw socket.
    auto narrower = drop_privileges(daemon_capabilities(false));
    if (!narrower || narrower->kept != capability_bit(CAP_NET_ADMIN)) return 7;
    const int refused = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, 50);
    if (refused >= 0) return 8;
    return 0;
  });
  EXPECT_EQ(status, 0);
}

TEST(Privileges, AProcessWithoutCapabilitiesStaysWithout) {
  const int status = in_child([] {
    // Become the unprivileged process of the attach-mode case: no capabilities at all.
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (syscall(SYS_capset, &header, data) != 0) return 1;
    auto report = drop_privileges(capability_bit(CAP_NET_ADMIN));
    if (!report) return 2;
    if (report->kept != 0) return 3;
    auto caps = current_capabilities();
    if (!caps || caps->effective != 0 || caps->permitted != 0) return 4;
    // The bounding set could not be narrowed without CAP_SETPCAP: said, not failed.
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 1 &&
        (report->bounding_dropped || report->note.empty())) {
      return 5;
    }
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 6;
    return 0;
  });
  EXPECT_EQ(status, 0);
}

}  // namespace
}  // namespace uipsec
