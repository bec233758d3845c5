// Path MTU of the outer path: what the ESP socket learned from ICMP "fragmentation needed" /
// "packet too big" (RFC 1191, RFC 8201) per outer destination, and what an inner packet that no
// longer fits gets instead of being sealed (RFC 4459 §3; the ICMP itself: icmp_too_big.hpp).
//
// Flow, per outbound packet that has its SA (enforce_path_mtu, called by OutboundPath before a
// sequence number is taken):
//   1. nothing learned for any destination -> carry on (one relaxed load)
//   2. the SA's outer destination has a live entry, and the sealed size (outer IP + UDP + ESP
//      header + IV + payload padded to the cipher block + pad length/next header + ICV) of this
//      packet — a segment, never a super-packet: the TUN read splits those first — exceeds it
//   3. IPv4 without DF, or an inner MTU below what the family allows (IPv6: 1280) -> carry on:
//      sealed and sent, and the kernel fragments the outer packet (IP_PMTUDISC_WANT)
//   4. an ICMP error would be wrong (the packet is an ICMP error, from no unicast source, to an
//      IPv4 multicast or broadcast) -> kPacketTooBig drop, no answer (RFC 1122 §3.2.2)
//   5. the rate limit (token bucket) says no -> kPacketTooBigRateLimited drop
//   6. otherwise the packet becomes, in its own buffer, an ICMP "fragmentation needed" / ICMPv6
//      "packet too big" with the usable inner MTU, for the TUN device (kDeliverToTun with
//      reason kPacketTooBig; the caller counts it as a drop of the original packet)
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "base/clock.hpp"
#include "base/ip_address.hpp"
#include "packet/packet_buffer.hpp"
#include "packet/verdict.hpp"
#include "wire/ip_packet.hpp"

namespace uipsec {

class EspTransform;
class SecurityAssociation;

// Learned outer path MTUs by destination address: bounded (kCapacity entries), each expiring
// kExpiryNs after it was learned (Linux: net.ipv4.route.mtu_expires, 10 minutes).
//
// Threads: writers are the workers, each draining its own ESP socket's error queue; learn()
// serialises them with a mutex (it runs per ICMP report, never per packet). Readers on any
// thread take no lock: every slot is a seqlock of atomics, a reader retries while the slot
// changes under it.
class PathMtuTable {
 public:
  static constexpr std::size_t kCapacity = 1024;
  // A key lives in one of the kProbe slots from its hash: lookups read at most kProbe slots.
  static constexpr std::size_t kProbe = 8;
  static constexpr std::int64_t kExpiryNs = 600'000'000'000;
  // The smallest MTU taken from a report: Linux's net.ipv4.route.min_pmtu (552) and IPv6's
  // minimum link MTU (RFC 8200 §5). A smaller report is raised to these, as Linux does.
  static constexpr std::uint32_t kMinIpv4 = 552;
  static constexpr std::uint32_t kMinIpv6 = 1280;

  PathMtuTable();

  // Any thread (serialised inside). Records that `destination` has path MTU `mtu` (raised to the
  // family's minimum; 65535 and above mean "no limit" and remove the entry) until now + kExpiryNs.
  // When the key's slots are all taken, the one that expires first is replaced.
  void learn(const IpAddress& destination, std::uint32_t mtu, Timestamp now);
  // Any thread. The live MTU learned for `destination`, if any.
  std::optional<std::uint32_t> lookup(const IpAddress& destination, Timestamp now) const;
  // Any thread. Whether anything was ever learned (expired entries included): when not, the
  // packet path skips the lookup.
  bool empty() const { return used_.load(std::memory_order_relaxed) == 0; }
  // Any thread. Entries alive at `now` (for statistics and tests).
  std::size_t size(Timestamp now) const;

 private:
  struct Slot {
    std::atomic<std::uint64_t> sequence{0};  // odd while the writer changes the slot
    std::atomic<std::uint64_t> key_high{0};
    std::atomic<std::uint64_t> key_low{0};
    std::atomic<std::uint32_t> family{0};  // 0: empty; 4 or 6
    std::atomic<std::uint32_t> mtu{0};
    std::atomic<std::int64_t> expires_ns{0};
  };
  struct Entry {
    std::uint64_t key_high = 0;
    std::uint64_t key_low = 0;
    std::uint32_t family = 0;
    std::uint32_t mtu = 0;
    std::int64_t expires_ns = 0;
    bool never_written = false;  // the slot's sequence is still 0
  };
  static Entry read(const Slot& slot);
  static void write(Slot& slot, const Entry& entry);

  std::mutex writer_;
  std::unique_ptr<std::array<Slot, kCapacity>> slots_;
  std::atomic<std::size_t> used_{0};  // slots ever written (never decreases)
};

// A token bucket for the ICMP errors the packet path sends, as the generic cell rate algorithm
// (one atomic: the theoretical arrival time), so several workers may share it without a lock.
class IcmpRateLimiter {
 public:
  // `per_second`: tokens added per second (0: never allow); `burst`: bucket size (at least 1).
  IcmpRateLimiter(std::uint32_t per_second, std::uint32_t burst);
  // Takes a token if one is there at `now`. Any thread.
  bool allow(Timestamp now);

 private:
  std::int64_t interval_ns_ = 0;  // 0: never allow
  std::int64_t tolerance_ns_ = 0;
  std::atomic<std::int64_t> next_ns_{0};
};

// What the data plane knows about path MTUs: the table and the rate of ICMP errors. Built by
// the composition root and reached through Dataplane::path_mtu.
struct PathMtu {
  // Linux: net.ipv4.icmp_msgs_per_sec 1000 with a burst of 50.
  explicit PathMtu(std::uint32_t icmp_per_second = 1000, std::uint32_t icmp_burst = 50)
      : icmp_limit(icmp_per_second, icmp_burst) {}
  PathMtuTable table;
  IcmpRateLimiter icmp_limit;
};

// Bytes that sealing `payload_size` bytes of payload makes, with an outer IPv4 or IPv6 header
// without options and, when `udp`, the RFC 3948 UDP header.
std::size_t sealed_size(const EspTransform& transform, std::size_t payload_size, IpFamily outer,
                        bool udp);
// The largest payload whose sealed size is at most `path_mtu` (0 when none fits).
std::size_t largest_payload(const EspTransform& transform, std::uint32_t path_mtu, IpFamily outer,
                            bool udp);

// Steps 1-6 above for `packet` (an inner IP packet described by `info`) and the SA that would
// seal it. nullopt: seal and send it. Otherwise the verdict; kDeliverToTun means `packet` now
// holds the ICMP error for the TUN device. Worker thread, no allocation.
std::optional<Verdict> enforce_path_mtu(PathMtu& path_mtu, SecurityAssociation& sa,
                                        const IpPacketInfo& info, PacketBuffer& packet,
                                        std::size_t worker, Timestamp now);

}  // namespace uipsec
