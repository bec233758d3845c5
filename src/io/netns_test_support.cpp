#include "io/netns_test_support.hpp"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/bytes.hpp"

namespace uipsec::test {

namespace {

constexpr int kSkipExit = 77;
constexpr unsigned kChildTimeoutSeconds = 60;
int skip_pipe = -1;  // the child's end of the pipe that carries a skip reason

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint32_t add_bytes(std::uint32_t sum, const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += load_be16(p + i);
  if (n % 2) sum += std::uint32_t{p[n - 1]} << 8;
  return sum;
}

// The kernel installs the local route of a new IPv6 address from a work queue, even with
// nodad: until then the address is configured but packets to it are not delivered. Asks the
// kernel's route lookup until it answers "local" (at most ~2 s).
std::string wait_until_local(mnl_socket* nl, const IpAddress& address) {
  for (int attempt = 0; attempt < 2000; ++attempt) {
    alignas(nlmsghdr) char buffer[512] = {};
    nlmsghdr* header = mnl_nlmsg_put_header(buffer);
    header->nlmsg_type = RTM_GETROUTE;
    header->nlmsg_flags = NLM_F_REQUEST;
    header->nlmsg_seq = static_cast<std::uint32_t>(100 + attempt);
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(rtmsg)));
    rtm->rtm_family = AF_INET6;
    rtm->rtm_dst_len = 128;
    mnl_attr_put(header, RTA_DST, 16, address.data());
    if (mnl_socket_sendto(nl, header, header->nlmsg_len) < 0) return "route lookup send failed";
    alignas(nlmsghdr) char reply[8192];
    const ssize_t n = mnl_socket_recvfrom(nl, reply, sizeof(reply));
    const auto* answer = reinterpret_cast<const nlmsghdr*>(reply);
    if (n >= static_cast<ssize_t>(NLMSG_LENGTH(sizeof(rtmsg))) &&
        answer->nlmsg_type == RTM_NEWROUTE &&
        static_cast<const rtmsg*>(mnl_nlmsg_get_payload(answer))->rtm_type == RTN_LOCAL) {
      return {};
    }
    ::usleep(1000);
  }
  return "address " + address.to_string() + " never became local";
}

}  // namespace

NetnsOutcome run_in_netns(const std::function<void()>& body, int extra_flags) {
  if (::geteuid() != 0) return {true, false, "needs root (network namespaces, TUN, routes)"};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {false, false, "pipe2 failed"};
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return {false, false, "fork failed"};
  if (pid == 0) {
    ::close(fds[0]);
    skip_pipe = fds[1];
    ::alarm(kChildTimeoutSeconds);
    if (::unshare(CLONE_NEWNET | extra_flags) != 0) {
      skip_in_child(std::string("cannot create a network namespace: ") + std::strerror(errno));
    }
    if (std::string error = set_link_up("lo"); !error.empty()) skip_in_child(error);
    body();
    std::fflush(nullptr);
    ::_exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  ::close(fds[1]);
  std::string reason;
  char buffer[256];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof(buffer))) > 0)
    reason.append(buffer, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == kSkipExit) return {true, false, reason};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {false, true, ""};
  if (WIFSIGNALED(status)) {
    return {false, false,
            "the namespace child died from signal " + std::to_string(WTERMSIG(status))};
  }
  return {false, false, "the namespace child reported failures (see above)"};
}

void skip_in_child(const std::string& reason) {
  if (skip_pipe >= 0) write_all(skip_pipe, reason);
  std::fflush(nullptr);
  ::_exit(kSkipExit);
}

std::string set_link_up(const std::string& ifname) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return "socket: " + std::string(std::strerror(errno));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  std::string error;
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    error = "SIOCGIFFLAGS " + ifname + ": " + std::strerror(errno);
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
      error = "SIOCSIFFLAGS " + ifname + ": " + std::strerror(errno);
    }
  }
  ::close(s);
  return error;
}

std::string add_address(const std::string& ifname, const char* prefix_text) {
  auto prefix = IpPrefix::parse(prefix_text);
  if (!prefix.ok()) return prefix.error().message();
  // IpPrefix clears host bits; the address itself is needed here.
  const std::string text(prefix_text);
  auto address = IpAddress::parse(text.substr(0, text.find('/')));
  if (!address.ok()) return address.error().message();
  const unsigned index = ::if_nametoindex(ifname.c_str());
  if (index == 0) return "no device " + ifname;

  mnl_socket* nl = mnl_socket_open(NETLINK_ROUTE);
  if (nl == nullptr) return "mnl_socket_open failed";
  std::string error;
  alignas(nlmsghdr) char buffer[512] = {};
  nlmsghdr* header = mnl_nlmsg_put_header(buffer);
  header->nlmsg_type = RTM_NEWADDR;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  header->nlmsg_seq = 1;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifaddrmsg)));
  ifa->ifa_family = address->is_v4() ? AF_INET : AF_INET6;
  ifa->ifa_prefixlen = prefix->length();
  ifa->ifa_index = index;
  ifa->ifa_flags = address->is_v6() ? IFA_F_NODAD : 0;
  mnl_attr_put(header, IFA_LOCAL, address->size(), address->data());
  mnl_attr_put(header, IFA_ADDRESS, address->size(), address->data());
  if (address->is_v6()) mnl_attr_put_u32(header, IFA_FLAGS, IFA_F_NODAD);
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
      mnl_socket_sendto(nl, header, header->nlmsg_len) < 0) {
    error = "netlink send failed";
  } else {
    alignas(nlmsghdr) char reply[8192];
    const ssize_t n = mnl_socket_recvfrom(nl, reply, sizeof(reply));
    if (n < 0 || mnl_cb_run(reply, static_cast<std::size_t>(n), 1, 0, nullptr, nullptr) < 0) {
      error =
          "add address " + std::string(prefix_text) + " on " + ifname + ": " + std::strerror(errno);
    } else if (address->is_v6()) {
      error = wait_until_local(nl, *address);
    }
  }
  mnl_socket_close(nl);
  return error;
}

std::string command_output(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {};
  std::string output;
  char buffer[512];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  ::pclose(pipe);
  return output;
}

bool have_ip_command() {
  return ::access("/usr/sbin/ip", X_OK) == 0 || ::access("/sbin/ip", X_OK) == 0 ||
         ::access("/usr/bin/ip", X_OK) == 0 || ::access("/bin/ip", X_OK) == 0;
}

std::vector<std::uint8_t> udp_packet(const IpAddress& source, std::uint16_t source_port,
                                     const IpAddress& destination, std::uint16_t destination_port,
                                     const std::vector<std::uint8_t>& payload) {
  const bool v4 = source.is_v4();
  const std::size_t ip_header = v4 ? 20 : 40;
  const std::size_t udp_length = 8 + payload.size();
  std::vector<std::uint8_t> p(ip_header + udp_length, 0);
  std::uint8_t* udp = p.data() + ip_header;
  if (v4) {
    p[0] = 0x45;
    store_be16(&p[2], static_cast<std::uint16_t>(p.size()));
    p[8] = 64;  // TTL
    p[9] = 17;  // UDP
    std::memcpy(&p[12], source.data(), 4);
    std::memcpy(&p[16], destination.data(), 4);
    store_be16(&p[10], static_cast<std::uint16_t>(~fold(add_bytes(0, p.data(), 20))));
  } else {
    p[0] = 0x60;
    store_be16(&p[4], static_cast<std::uint16_t>(udp_length));
    p[6] = 17;
    p[7] = 64;
    std::memcpy(&p[8], source.data(), 16);
    std::memcpy(&p[24], destination.data(), 16);
  }
  store_be16(udp, source_port);
  store_be16(udp + 2, destination_port);
  store_be16(udp + 4, static_cast<std::uint16_t>(udp_length));
  if (!payload.empty()) std::memcpy(udp + 8, payload.data(), payload.size());
  // Checksum over the pseudo-header and the datagram (mandatory for IPv6).
  std::uint32_t sum = add_bytes(0, source.data(), source.size());
  sum = add_bytes(sum, destination.data(), destination.size());
  sum += 17 + static_cast<std::uint32_t>(udp_length);
  sum = add_bytes(sum, udp, udp_length);
  std::uint16_t checksum = static_cast<std::uint16_t>(~fold(sum));
  if (checksum == 0) checksum = 0xffff;
  store_be16(udp + 6, checksum);
  return p;
}

}  // namespace uipsec::test
