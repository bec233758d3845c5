// Interface addresses over rtnetlink with libmnl: one acknowledged request at a time.
#include "io/interface_address.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "base/system_error.hpp"
#include "io/netlink_message.hpp"

namespace uipsec {

namespace {

constexpr std::size_t kReceiveBytes = 32 * 1024;
constexpr int kDumpAttempts = 3;

int collect_protocol(const nlattr* attribute, void* data) {
  if (mnl_attr_get_type(attribute) == IFA_PROTO &&
      mnl_attr_get_payload_len(attribute) >= sizeof(std::uint8_t)) {
    *static_cast<std::uint8_t*>(data) = mnl_attr_get_u8(attribute);
  }
  return MNL_CB_OK;
}

}  // namespace

std::string to_string(const InterfaceAddress& a) {
  return a.address.to_string() + "/" + std::to_string(a.prefix_length) + " dev " +
         std::to_string(a.ifindex.value()) + " proto " + std::to_string(a.protocol);
}

nlmsghdr* build_interface_address_request(void* buffer, std::uint16_t type, std::uint32_t seq,
                                          const InterfaceAddress& a) {
  std::memset(buffer, 0, kNetlinkRequestBytes);
  nlmsghdr* header = mnl_nlmsg_put_header(buffer);
  header->nlmsg_type = type;
  header->nlmsg_flags = static_cast<std::uint16_t>(
      NLM_F_REQUEST | NLM_F_ACK | (type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0));
  header->nlmsg_seq = seq;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifaddrmsg)));
  const bool v4 = a.address.family() == IpFamily::kV4;
  ifa->ifa_family = v4 ? AF_INET : AF_INET6;
  ifa->ifa_prefixlen = a.prefix_length;
  ifa->ifa_index = a.ifindex.value();
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  if (!v4) ifa->ifa_flags = IFA_F_NODAD;
  mnl_attr_put(header, IFA_LOCAL, a.address.size(), a.address.data());
  mnl_attr_put(header, IFA_ADDRESS, a.address.size(), a.address.data());
  if (type == RTM_NEWADDR) {
    if (!v4) mnl_attr_put_u32(header, IFA_FLAGS, IFA_F_NODAD);
    if (a.protocol != 0) mnl_attr_put_u8(header, IFA_PROTO, a.protocol);
  }
  return header;
}

std::optional<InterfaceAddress> parse_interface_address(const nlmsghdr* message) {
  const std::optional<AddressChange> change = parse_address_change(message);
  if (!change) return std::nullopt;
  InterfaceAddress a;
  a.ifindex = change->ifindex;
  a.address = change->address;
  a.prefix_length = change->prefix_length;
  a.protocol = 0;
  // parse_address_change checked the header and that every attribute fits.
  if (mnl_attr_parse(message, sizeof(ifaddrmsg), collect_protocol, &a.protocol) < MNL_CB_STOP) {
    return std::nullopt;
  }
  return a;
}

Result<InterfaceAddresses> InterfaceAddresses::open() {
  RtnetlinkOptions options;
  options.extended_acks = true;
  auto socket = open_rtnetlink(options);
  if (!socket) return socket.error();
  return InterfaceAddresses(std::move(*socket));
}

Result<int> InterfaceAddresses::transact(const nlmsghdr* request, const std::string& doing,
                                         const std::function<void(const nlmsghdr*)>& on_data,
                                         std::string& why) {
  if (mnl_socket_sendto(socket_.get(), request, request->nlmsg_len) < 0) {
    return system_error(doing + ": cannot send to rtnetlink", errno);
  }
  std::vector<std::uint8_t> buffer(kReceiveBytes);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_error(doing + ": cannot receive from rtnetlink", errno);
    }
    const WalkResult walk = walk_netlink(ByteSpan(buffer.data(), static_cast<std::size_t>(n)),
                                         request->nlmsg_seq, on_data);
    if (walk.status == WalkStatus::kMalformed) return Error(doing + ": malformed rtnetlink reply");
    if (walk.status == WalkStatus::kDone) {
      why = walk.ack.message;
      if (walk.ack.error == 0 && walk.interrupted) return EAGAIN;
      return walk.ack.error;
    }
  }
}

Result<void> InterfaceAddresses::add(const InterfaceAddress& address) {
  const std::string doing = "add address " + to_string(address);
  alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
  std::string why;
  auto error = transact(
      build_interface_address_request(buffer, RTM_NEWADDR, seq_++, address), doing,
      [](const nlmsghdr*) {}, why);
  if (!error) return error.error();
  if (*error == 0 || *error == EEXIST) return {};
  return Error(doing + ": " + errno_text(*error) + (why.empty() ? "" : " (kernel: " + why + ")"));
}

Result<void> InterfaceAddresses::remove(const InterfaceAddress& address) {
  const std::string doing = "delete address " + to_string(address);
  alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
  std::string why;
  auto error = transact(
      build_interface_address_request(buffer, RTM_DELADDR, seq_++, address), doing,
      [](const nlmsghdr*) {}, why);
  if (!error) return error.error();
  // Not there (any more): the device may have gone, or someone removed it.
  if (*error == 0 || *error == EADDRNOTAVAIL || *error == ENODEV) return {};
  return Error(doing + ": " + errno_text(*error) + (why.empty() ? "" : " (kernel: " + why + ")"));
}

Result<std::vector<InterfaceAddress>> InterfaceAddresses::list(InterfaceIndex ifindex) {
  const std::string doing = "list the addresses of interface " + std::to_string(ifindex.value());
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    std::vector<InterfaceAddress> found;
    bool complete = true;
    for (IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
      alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
      std::string why;
      auto error = transact(
          build_address_dump_request(buffer, seq_++, family), doing,
          [&](const nlmsghdr* message) {
            auto a = parse_interface_address(message);
            if (a && a->ifindex == ifindex && a->address.family() == family) {
              found.push_back(*a);
            }
          },
          why);
      if (!error) return error.error();
      if (*error == EAGAIN) {
        complete = false;
        break;
      }
      if (*error == EAFNOSUPPORT) continue;  // a kernel without IPv6
      if (*error != 0) return Error(doing + ": " + errno_text(*error));
    }
    if (complete) return found;
  }
  return Error(doing + ": the addresses kept changing during the dump; try again");
}

Result<LinkDrops> InterfaceAddresses::link_drops(InterfaceIndex ifindex) {
  const std::string doing = "read the counters of interface " + std::to_string(ifindex.value());
  alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
  std::optional<LinkDrops> found;
  std::string why;
  auto error = transact(
      build_link_request(buffer, seq_++, ifindex), doing,
      [&](const nlmsghdr* message) {
        auto drops = parse_link_drops(message);
        if (drops && drops->ifindex == ifindex) found = *drops;
      },
      why);
  if (!error) return error.error();
  if (*error != 0) {
    return Error(doing + ": " + errno_text(*error) + (why.empty() ? "" : " (kernel: " + why + ")"));
  }
  if (!found) return Error(doing + ": the kernel's answer carried no statistics");
  return *found;
}

Result<std::size_t> InterfaceAddresses::flush(InterfaceIndex ifindex, std::uint8_t protocol) {
  auto present = list(ifindex);
  if (!present) return present.error();
  std::size_t removed = 0;
  for (const InterfaceAddress& a : *present) {
    if (a.protocol != protocol) continue;
    UIPSEC_TRY(remove(a));
    ++removed;
  }
  return removed;
}

}  // namespace uipsec
