// Path MTU table, ICMP rate limit and the outbound size check (flow: path_mtu.hpp).
#include "dataplane/path_mtu.hpp"

#include <algorithm>

#include "base/bytes.hpp"
#include "dataplane/icmp_too_big.hpp"
#include "esp/esp_transform.hpp"
#include "sa/security_association.hpp"
#include "wire/esp_header.hpp"

namespace uipsec {

namespace {

constexpr std::size_t kUdpHeaderSize = 8;
constexpr std::uint32_t kNoLimit = 65535;
// The smallest IPv4 MTU (RFC 791): below it an ICMP error makes no sense; carry it instead.
constexpr std::size_t kMinInnerIpv4 = 68;

std::size_t outer_header_size(IpFamily family) { return family == IpFamily::kV4 ? 20 : 40; }

struct Key {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  std::uint32_t family = 0;
};

Key key_of(const IpAddress& a) {
  Key k;
  std::uint8_t bytes[16] = {};
  std::copy(a.data(), a.data() + a.size(), bytes);
  k.high = load_be64(bytes);
  k.low = load_be64(bytes + 8);
  k.family = a.is_v4() ? 4 : 6;
  return k;
}

std::size_t home_of(const Key& k) {
  // A 64-bit mix (splitmix64's finaliser) of the address words.
  std::uint64_t x = k.high ^ (k.low * 0x9e3779b97f4a7c15ull) ^ k.family;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<std::size_t>(x) % PathMtuTable::kCapacity;
}

}  // namespace

PathMtuTable::PathMtuTable() : slots_(std::make_unique<std::array<Slot, kCapacity>>()) {}

PathMtuTable::Entry PathMtuTable::read(const Slot& slot) {
  for (;;) {
    const std::uint64_t before = slot.sequence.load(std::memory_order_acquire);
    if ((before & 1) != 0) continue;  // the writer is in the middle of it
    Entry e;
    e.key_high = slot.key_high.load(std::memory_order_relaxed);
    e.key_low = slot.key_low.load(std::memory_order_relaxed);
    e.family = slot.family.load(std::memory_order_relaxed);
    e.mtu = slot.mtu.load(std::memory_order_relaxed);
    e.expires_ns = slot.expires_ns.load(std::memory_order_relaxed);
    e.never_written = before == 0;
    std::atomic_thread_fence(std::memory_order_acquire);
    if (slot.sequence.load(std::memory_order_relaxed) == before) return e;
  }
}

void PathMtuTable::write(Slot& slot, const Entry& e) {
  const std::uint64_t s = slot.sequence.load(std::memory_order_relaxed);
  slot.sequence.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  slot.key_high.store(e.key_high, std::memory_order_relaxed);
  slot.key_low.store(e.key_low, std::memory_order_relaxed);
  slot.family.store(e.family, std::memory_order_relaxed);
  slot.mtu.store(e.mtu, std::memory_order_relaxed);
  slot.expires_ns.store(e.expires_ns, std::memory_order_relaxed);
  slot.sequence.store(s + 2, std::memory_order_release);
}

void PathMtuTable::learn(const IpAddress& destination, std::uint32_t mtu, Timestamp now) {
  const std::lock_guard<std::mutex> lock(writer_);
  const Key k = key_of(destination);
  const std::size_t home = home_of(k);
  const std::uint32_t floor = destination.is_v4() ? kMinIpv4 : kMinIpv6;
  const bool remove = mtu >= kNoLimit;
  Entry entry{k.high, k.low, k.family, std::max(mtu, floor), now.nanoseconds() + kExpiryNs};
  // The key's own slot if it has one, else the first free or expired one, else the one that
  // expires first.
  std::size_t victim = home;
  std::int64_t victim_expiry = INT64_MAX;
  for (std::size_t i = 0; i < kProbe; ++i) {
    Slot& slot = (*slots_)[(home + i) % kCapacity];
    const Entry e = read(slot);  // under the writers' lock: no retry happens
    if (e.family == k.family && e.key_high == k.high && e.key_low == k.low) {
      if (remove) entry = Entry{};
      write(slot, entry);
      return;
    }
    const std::int64_t expiry = e.family == 0 ? INT64_MIN : e.expires_ns;
    if (expiry < victim_expiry) {
      victim = (home + i) % kCapacity;
      victim_expiry = expiry;
    }
  }
  if (remove) return;
  if (victim_expiry == INT64_MIN) used_.fetch_add(1, std::memory_order_relaxed);
  write((*slots_)[victim], entry);
}

std::optional<std::uint32_t> PathMtuTable::lookup(const IpAddress& destination,
                                                  Timestamp now) const {
  const Key k = key_of(destination);
  const std::size_t home = home_of(k);
  for (std::size_t i = 0; i < kProbe; ++i) {
    const Entry e = read((*slots_)[(home + i) % kCapacity]);
    if (e.family == k.family && e.key_high == k.high && e.key_low == k.low) {
      if (now.nanoseconds() >= e.expires_ns) return std::nullopt;
      return e.mtu;
    }
    // learn() fills the first free slot of a key's window, and slots are never unwritten: the
    // key is not beyond a slot that was never written. (A miss in a sparse table reads one.)
    if (e.never_written) return std::nullopt;
  }
  return std::nullopt;
}

std::size_t PathMtuTable::size(Timestamp now) const {
  std::size_t n = 0;
  for (const Slot& slot : *slots_) {
    const Entry e = read(slot);
    if (e.family != 0 && now.nanoseconds() < e.expires_ns) ++n;
  }
  return n;
}

IcmpRateLimiter::IcmpRateLimiter(std::uint32_t per_second, std::uint32_t burst) {
  if (per_second == 0) return;
  interval_ns_ = std::max<std::int64_t>(1, 1'000'000'000 / per_second);
  tolerance_ns_ = interval_ns_ * static_cast<std::int64_t>(std::max<std::uint32_t>(burst, 1));
}

bool IcmpRateLimiter::allow(Timestamp now) {
  if (interval_ns_ == 0) return false;
  const std::int64_t t = now.nanoseconds();
  std::int64_t next = next_ns_.load(std::memory_order_relaxed);
  for (;;) {
    // GCRA: each token moves the theoretical arrival time on by one interval; a request may
    // come up to `burst` intervals early.
    const std::int64_t after = std::max(next, t) + interval_ns_;
    if (after - t > tolerance_ns_) return false;
    if (next_ns_.compare_exchange_weak(next, after, std::memory_order_relaxed)) return true;
  }
}

std::size_t sealed_size(const EspTransform& transform, std::size_t payload_size, IpFamily outer,
                        bool udp) {
  const std::size_t block_mask = transform.block_size() - 1;
  const std::size_t encrypted = (payload_size + 2 + block_mask) & ~block_mask;
  return outer_header_size(outer) + (udp ? kUdpHeaderSize : 0) + kEspHeaderSize +
         transform.iv_size() + encrypted + transform.icv_size();
}

std::size_t largest_payload(const EspTransform& transform, std::uint32_t path_mtu, IpFamily outer,
                            bool udp) {
  const std::size_t fixed = outer_header_size(outer) + (udp ? kUdpHeaderSize : 0) + kEspHeaderSize +
                            transform.iv_size() + transform.icv_size();
  if (path_mtu < fixed + 2) return 0;
  const std::size_t encrypted = (path_mtu - fixed) & ~(transform.block_size() - 1);
  return encrypted < 2 ? 0 : encrypted - 2;
}

std::optional<Verdict> enforce_path_mtu(PathMtu& path_mtu, SecurityAssociation& sa,
                                        const IpPacketInfo& info, PacketBuffer& packet,
                                        std::size_t worker, Timestamp now) {
  if (path_mtu.table.empty()) return std::nullopt;
  const SaEndpoints& endpoints = sa.endpoints();
  const auto mtu = path_mtu.table.lookup(endpoints.destination, now);
  if (!mtu) return std::nullopt;
  const EspTransform& transform = sa.transform(worker);
  const bool udp = endpoints.encapsulation.has_value();
  const IpFamily outer = endpoints.destination.family();
  // Tunnel mode seals the whole packet; transport mode what follows its IP header, which the
  // outer header (built by the socket) replaces.
  const bool tunnel = sa.mode() == IpsecMode::kTunnel;
  const std::size_t stripped = tunnel ? 0 : std::min(info.header_length, packet.size());
  if (sealed_size(transform, packet.size() - stripped, outer, udp) <= *mtu) return std::nullopt;

  const std::size_t payload = largest_payload(transform, *mtu, outer, udp);
  const std::size_t inner_mtu = payload == 0 ? 0 : payload + (tunnel ? 0 : info.header_length);
  if (info.family == IpFamily::kV4) {
    if (!ipv4_dont_fragment(packet.span()) || inner_mtu < kMinInnerIpv4) return std::nullopt;
  } else if (inner_mtu < PathMtuTable::kMinIpv6) {
    return std::nullopt;  // IPv6 below 1280: the outer packet goes in fragments (RFC 8200 §5)
  }
  if (!may_answer_with_icmp_error(info)) return Verdict::drop(DropReason::kPacketTooBig);
  if (!path_mtu.icmp_limit.allow(now)) return Verdict::drop(DropReason::kPacketTooBigRateLimited);
  if (!build_icmp_too_big(packet, info, static_cast<std::uint32_t>(inner_mtu))) {
    return Verdict::drop(DropReason::kPacketTooBig);
  }
  return Verdict{Disposition::kDeliverToTun, DropReason::kPacketTooBig};
}

}  // namespace uipsec
