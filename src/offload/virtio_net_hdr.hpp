// VirtioNetHdr: the 10-byte header (struct virtio_net_hdr, virtio spec 1.x §5.1.6) in front of
// every packet read from or written to a TUN device opened with IFF_VNET_HDR. It says whether
// the packet is a GSO super-packet (and its segment size) and whether its L4 checksum is only
// partial (NEEDS_CSUM: the field holds the pseudo-header sum; the rest is ours to add).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "base/bytes.hpp"

namespace uipsec {

// The header without num_buffers: what TUN uses unless TUNSETVNETHDRSZ says otherwise.
inline constexpr std::size_t kVirtioNetHdrSize = 10;

struct VirtioNetHdr {
  static constexpr std::uint8_t kFlagNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr std::uint8_t kFlagDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID

  static constexpr std::uint8_t kGsoNone = 0;    // VIRTIO_NET_HDR_GSO_NONE
  static constexpr std::uint8_t kGsoTcpV4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
  static constexpr std::uint8_t kGsoUdp = 3;     // VIRTIO_NET_HDR_GSO_UDP (UFO: fragments)
  static constexpr std::uint8_t kGsoTcpV6 = 4;   // VIRTIO_NET_HDR_GSO_TCPV6
  static constexpr std::uint8_t kGsoUdpL4 = 5;   // VIRTIO_NET_HDR_GSO_UDP_L4 (USO)
  static constexpr std::uint8_t kGsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN: CWR set on the first

  std::uint8_t flags = 0;
  std::uint8_t gso_type = kGsoNone;
  std::uint16_t hdr_len = 0;      // bytes of headers (a hint only: never trusted)
  std::uint16_t gso_size = 0;     // payload bytes per segment
  std::uint16_t csum_start = 0;   // where the checksummed region starts (the L4 header)
  std::uint16_t csum_offset = 0;  // where the checksum field is, from csum_start

  friend bool operator==(const VirtioNetHdr&, const VirtioNetHdr&) = default;

  // The fields are in the host's byte order: TUN's default (no TUNSETVNETLE/BE) on a
  // little-endian host, and the legacy virtio rule everywhere else.
  static VirtioNetHdr read(const std::uint8_t* p) {
    VirtioNetHdr h;
    h.flags = p[0];
    h.gso_type = p[1];
    std::memcpy(&h.hdr_len, p + 2, 2);
    std::memcpy(&h.gso_size, p + 4, 2);
    std::memcpy(&h.csum_start, p + 6, 2);
    std::memcpy(&h.csum_offset, p + 8, 2);
    return h;
  }
  // Writes kVirtioNetHdrSize bytes at `p`.
  void write(std::uint8_t* p) const {
    p[0] = flags;
    p[1] = gso_type;
    std::memcpy(p + 2, &hdr_len, 2);
    std::memcpy(p + 4, &gso_size, 2);
    std::memcpy(p + 6, &csum_start, 2);
    std::memcpy(p + 8, &csum_offset, 2);
  }
  // Parses the header at the front of `bytes`; nullopt when there are fewer than 10 bytes.
  static std::optional<VirtioNetHdr> parse(ByteSpan bytes) {
    if (bytes.size() < kVirtioNetHdrSize) return std::nullopt;
    return read(bytes.data());
  }
};

}  // namespace uipsec
