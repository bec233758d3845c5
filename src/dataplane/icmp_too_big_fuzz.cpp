// Fuzzes the ICMP "too big" builder with any inner packet the TUN device could deliver: what it
// builds must parse as ICMP (type 3 code 4, or ICMPv6 type 2), fit 576/1280 bytes, verify its
// checksums, and quote the packet's first bytes unchanged.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "dataplane/icmp_too_big.hpp"
#include "wire/inet_checksum.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace uipsec;
  if (size < 2 || size > 70000) return 0;
  const std::uint32_t mtu = 1280 + data[0];
  std::vector<std::uint8_t> storage(kLargeBufferCapacity + 8192);
  PacketBuffer packet(storage.data(), static_cast<std::uint32_t>(storage.size()));
  if (!packet.assign(ByteSpan(data + 1, size - 1))) return 0;
  const auto info = parse_ip_packet(packet.span());
  if (!info) return 0;
  (void)may_answer_with_icmp_error(*info);
  if (info->family == IpFamily::kV4) (void)ipv4_dont_fragment(packet.span());
  const std::vector<std::uint8_t> original(data + 1, data + size);
  if (!build_icmp_too_big(packet, *info, mtu)) __builtin_trap();  // the default headroom fits
  const bool v4 = info->family == IpFamily::kV4;
  const std::size_t head = v4 ? kIcmpTooBigHeadIpv4 : kIcmpTooBigHeadIpv6;
  if (packet.size() > (v4 ? kIcmpErrorMaxIpv4 : kIcmpErrorMaxIpv6)) __builtin_trap();
  if (packet.size() != head + std::min(original.size(), (v4 ? 576 : 1280) - head)) __builtin_trap();
  const auto icmp = parse_ip_packet(packet.span());
  if (!icmp || !icmp->icmp_known || icmp->icmp_type != (v4 ? 3 : 2)) __builtin_trap();
  const std::uint8_t* p = packet.data();
  const std::size_t ip = v4 ? 20 : 40;
  if (v4 && inet_checksum(ByteSpan(p, 20)) != 0) __builtin_trap();
  const std::uint16_t pseudo =
      v4 ? 0
         : pseudo_header_sum(icmp->src, icmp->dst, 58,
                             static_cast<std::uint32_t>(packet.size() - ip));
  if (inet_checksum_finish(inet_sum(ByteSpan(p + ip, packet.size() - ip), pseudo)) != 0) {
    __builtin_trap();
  }
  for (std::size_t i = head; i < packet.size(); ++i) {
    if (p[i] != original[i - head]) __builtin_trap();
  }
  return 0;
}
