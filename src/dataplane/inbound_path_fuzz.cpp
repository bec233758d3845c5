// libFuzzer target: the whole inbound path (InboundPath::process, RFC 4301 §5.2, RFC 3948 §3) on
// untrusted datagrams, against two fixed inbound SAs on local address 198.18.0.1:
//   A  SPI 0x1001 from 198.18.0.2, ESP in UDP (4500), tunnel mode, AES-128-GCM-16, window 64,
//      selector 10.0.0.0/8 -> 10.0.0.0/8
//   B  SPI 0x1002 from 198.18.0.3, raw ESP, transport mode, ChaCha20-Poly1305, ESN, window 64,
//      starting just below the 2^32 boundary
// Random bytes almost never authenticate, so a second mode encrypts a fuzzer-chosen inner packet
// with the SA's key first: inner-packet validation, selectors and mapping events then run on
// attacker-shaped decrypted bytes, and the verdict is checked end to end.
//
// Input: [control] [rest]
//   control bits 0-1  sender: 198.18.0.2:4500, 198.18.0.2:31000, 198.18.0.3:4500, 198.18.0.9:4500
//           bit 2     ESP in UDP (else raw ESP, port 0)
//           bit 3     sent to 198.18.0.4 (no SA there) instead of 198.18.0.1
//           bit 4     an IKE daemon is registered
//           bit 5     seal mode
//           bit 6     seal mode: SA B (else A)
//           bit 7     seal mode: next header from the input (else the SA's mode decides)
//   datagram mode: rest = the datagram (for ESP in UDP, the bytes after the UDP header)
//   seal mode: rest = [seq delta: int8] [next header] [inner packet]: sealed with sequence number
//              (window top + delta), by encapsulate_tunnel/encapsulate_transport or, with bit 7 or
//              when those refuse the inner packet, by esp_seal with the given next header.
// Every expectation that fails traps. SA state that would make runs depend on earlier inputs
// (replay windows) is reset per input, and time advances past every rate limit.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "base/qsbr.hpp"
#include "dataplane/dataplane_context.hpp"
#include "dataplane/inbound_path.hpp"
#include "esp/esp_encapsulation.hpp"
#include "packet/packet_batch.hpp"
#include "policy/policy_database.hpp"
#include "sa/sa_database.hpp"
#include "sa/sa_test_support.hpp"
#include "wire/esp_header.hpp"
#include "wire/ip_packet.hpp"
#include "wire/ip_protocol.hpp"
#include "wire/ipv4_header.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UIPSEC_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(UIPSEC_FUZZ_ASAN)
#define UIPSEC_FUZZ_ASAN 1
#endif
#ifdef UIPSEC_FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace {

using namespace uipsec;

void expect(bool condition) {
  if (!condition) __builtin_trap();
}

IpAddress address(const char* text) { return *IpAddress::parse(text); }

constexpr std::uint32_t kSpiA = 0x1001;
constexpr std::uint32_t kSpiB = 0x1002;
constexpr std::uint64_t kInitialTopB = 0xfffffff0;
constexpr std::size_t kEventCapacity = 8;

SaConfig config_a() {
  SaConfig c = test::sa_config("198.18.0.2", "198.18.0.1", kSpiA, 1);
  c.direction = SaDirection::kIn;
  c.mode = IpsecMode::kTunnel;
  TrafficSelector selector;
  selector.source = *IpPrefix::parse("10.0.0.0/8");
  selector.destination = *IpPrefix::parse("10.0.0.0/8");
  c.selector = selector;
  return c;
}

SaConfig config_b() {
  SaConfig c = test::sa_config("198.18.0.3", "198.18.0.1", kSpiB, 2);
  c.direction = SaDirection::kIn;
  c.mode = IpsecMode::kTransport;
  c.endpoints.encapsulation.reset();
  c.algorithms.cipher = EspCipher::kChaCha20Poly1305;
  std::vector<std::uint8_t> key(36);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0xc0 + i);
  c.algorithms.cipher_key = SecretBytes(key);
  c.flags.esn = true;
  c.inbound_sequence = kInitialTopB;
  return c;
}

EspTransform transform_for(const SaConfig& config) {
  auto t = EspTransform::create(config.algorithms);
  expect(t.ok());
  return std::move(*t);
}

// Everything a worker needs, built once. Never destroyed: the reader stays registered until exit.
struct Harness {
  Harness() {
    expect(sad.add(config_a(), Timestamp::from_seconds(1)).ok());
    expect(sad.add(config_b(), Timestamp::from_seconds(1)).ok());
    sa_a = sad.find_inbound(Spi(kSpiA), local);
    sa_b = sad.find_inbound(Spi(kSpiB), local);
    expect(sa_a != nullptr && sa_b != nullptr);
    expect(reader != nullptr);
  }

  QsbrDomain domain;
  SaDatabase sad{domain, 1};
  PolicyDatabase spd{domain};
  EventQueue events{kEventCapacity};
  Dataplane dataplane{sad, spd, events};
  WorkerCounters counters;
  InboundPath path{dataplane, 0, counters};
  std::unique_ptr<QsbrReader> reader = domain.register_reader();
  const IpAddress local = address("198.18.0.1");
  const IpAddress other_local = address("198.18.0.4");
  SecurityAssociation* sa_a = nullptr;
  SecurityAssociation* sa_b = nullptr;
  // The peers' side of each SA: same keys, their own contexts.
  EspTransform sealer_a = transform_for(config_a());
  EspTransform sealer_b = transform_for(config_b());
  // Advances by more than every rate limit per input, so each input sees the same limits.
  std::int64_t now_ns = 1'000'000'000'000;
};

Harness& harness() {
  static Harness* h = new Harness();
  return *h;
}

alignas(64) std::uint8_t g_storage[kLargeBufferCapacity];
// The datagram as received, to send it a second time.
std::uint8_t g_copy[kMaxPacketSize];

// While alive, the tailroom and all but the last 64 bytes of the headroom are unaddressable for
// ASan: the inbound path only ever trims the back and writes an IP header (20 or 40 bytes) in
// front of a payload that starts at least 16 bytes into the datagram.
class GuardOutside {
 public:
  explicit GuardOutside(const PacketBuffer& packet) {
#ifdef UIPSEC_FUZZ_ASAN
    const std::uint8_t* begin = packet.data();
    const std::uint8_t* end = begin + packet.size();
    ASAN_POISON_MEMORY_REGION(g_storage, static_cast<std::size_t>(begin - 64 - g_storage));
    ASAN_POISON_MEMORY_REGION(end, static_cast<std::size_t>(g_storage + sizeof g_storage - end));
#else
    (void)packet;
#endif
  }
  GuardOutside(const GuardOutside&) = delete;
  GuardOutside& operator=(const GuardOutside&) = delete;
  ~GuardOutside() {
#ifdef UIPSEC_FUZZ_ASAN
    ASAN_UNPOISON_MEMORY_REGION(g_storage, sizeof g_storage);
#endif
  }
};

// Drops that come before the ICV verified: nothing about them may change SA state or raise events.
bool is_before_authentication(DropReason reason) {
  switch (reason) {
    case DropReason::kTruncated:
    case DropReason::kNatKeepalive:
    case DropReason::kIkeNoHandler:
    case DropReason::kUnknownSpi:
    case DropReason::kEncapsulationMismatch:
    case DropReason::kSaExpired:
    case DropReason::kReplayDuplicate:
    case DropReason::kReplayTooOld:
    case DropReason::kAuthenticationFailed:
      return true;
    default:
      return false;
  }
}

// Drops after esp_open accepted the packet (decapsulation, selector): the SA saw an authentic
// packet, so a mapping change counts.
bool is_after_open(DropReason reason) {
  return reason == DropReason::kBadNextHeader || reason == DropReason::kBadInnerPacket ||
         reason == DropReason::kSelectorMismatch || reason == DropReason::kNoRoom;
}

// What the harness knows of a packet it sealed itself, to check the verdict end to end.
struct Sealed {
  SecurityAssociation* sa = nullptr;
  bool authentic = false;  // reaches the SA, passes the replay check and the ICV
  // encapsulate_transport sealed it: the delivered packet is known exactly.
  std::optional<IpPacketInfo> transport_inner;
  // encapsulate_tunnel sealed it: a delivered packet is the inner packet up to its total length.
  bool tunnel_auto = false;
  const std::uint8_t* inner = nullptr;
  std::size_t inner_size = 0;
};

// Seals `inner` for SA A or B into `packet`. Returns nullopt when nothing could be sealed.
std::optional<Sealed> seal(Harness& h, std::uint8_t control, bool to_us, const std::uint8_t* rest,
                           std::size_t size, PacketBuffer& packet) {
  if (size < 2) return std::nullopt;
  const auto delta = static_cast<std::int8_t>(rest[0]);
  const std::uint8_t next_header = rest[1];
  Sealed s;
  s.inner = rest + 2;
  s.inner_size = std::min(size - 2, kMaxPacketSize - 512);
  const bool use_b = (control & 0x40) != 0;
  s.sa = use_b ? h.sa_b : h.sa_a;
  EspTransform& sealer = use_b ? h.sealer_b : h.sealer_a;
  const Spi spi = s.sa->spi();
  const bool esn = s.sa->esn();

  const ReplayWindow& window = s.sa->replay_window();
  const std::uint64_t top = window.top();
  std::uint64_t seq =
      delta < 0 ? top - std::min(top, static_cast<std::uint64_t>(-static_cast<int>(delta)))
                : top + static_cast<std::uint64_t>(delta);
  if (!esn) seq &= 0xffffffffu;

  expect(packet.assign(ByteSpan(s.inner, s.inner_size)));
  Verdict v = Verdict::drop(DropReason::kNotIp);
  if ((control & 0x80) == 0) {
    const auto info = parse_ip_packet(packet.span());
    if (s.sa->mode() == IpsecMode::kTunnel) {
      v = encapsulate_tunnel(sealer, spi, seq, esn, packet);
      s.tunnel_auto = !v.dropped();
    } else {
      v = encapsulate_transport(sealer, spi, seq, esn, packet);
      if (!v.dropped()) s.transport_inner = info;
    }
  }
  if (v.dropped()) {
    expect(packet.assign(ByteSpan(s.inner, s.inner_size)));
    v = esp_seal(sealer, spi, seq, esn, next_header, packet);
  }
  expect(v == Verdict::send_to_peer());

  const std::uint32_t low = static_cast<std::uint32_t>(seq);
  const std::uint64_t inferred = esn ? infer_esn(low, top, window.size()) : low;
  s.authentic = to_us && inferred == seq && window.check(seq) == ReplayWindow::Check::kOk;
  return s;
}

// The delivered packet of an SA: sound, and — where the harness sealed it — the one it sent.
void check_delivered(const PacketBuffer& packet, const SecurityAssociation& sa,
                     const std::optional<Sealed>& sealed) {
  const auto info = parse_ip_packet(packet.span());
  expect(info.has_value());
  expect(info->total_length == packet.size());
  if (info->family == IpFamily::kV4) expect(ipv4_header_checksum_valid(packet.span()));
  expect(packet.meta.spi == sa.spi().value());
  if (sa.config().selector) expect(sa.config().selector->matches(*info));
  if (sa.mode() == IpsecMode::kTransport) {
    expect(info->src == sa.endpoints().source && info->dst == sa.endpoints().destination);
  }
  if (!sealed) return;
  if (sealed->tunnel_auto) {
    expect(packet.size() <= sealed->inner_size);
    expect(std::memcmp(packet.data(), sealed->inner, packet.size()) == 0);
  }
  if (sealed->transport_inner) {
    const IpPacketInfo& sent = *sealed->transport_inner;
    expect(info->protocol == sent.protocol);
    expect(packet.size() - info->header_length == sent.total_length - sent.header_length);
    expect(std::memcmp(packet.data() + info->header_length, sealed->inner + sent.header_length,
                       sent.total_length - sent.header_length) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Harness& h = harness();
  h.now_ns += 2 * h.dataplane.mapping_interval_ns;
  const Timestamp now = Timestamp::from_nanoseconds(h.now_ns);
  // Fresh replay windows: every input starts from the SAs as configured.
  h.sa_a->replay_window() = ReplayWindow(config_a().replay_window, config_a().inbound_sequence);
  h.sa_b->replay_window() = ReplayWindow(config_b().replay_window, config_b().inbound_sequence);

  const std::uint8_t control = data[0];
  const std::uint8_t* rest = data + 1;
  const std::size_t rest_size = std::min(size - 1, kMaxPacketSize);
  static const Endpoint kSenders[] = {{address("198.18.0.2"), 4500},
                                      {address("198.18.0.2"), 31000},
                                      {address("198.18.0.3"), 4500},
                                      {address("198.18.0.9"), 4500}};
  const bool udp = (control & 0x04) != 0;
  const bool to_us = (control & 0x08) == 0;
  h.dataplane.ike_handler_registered.store((control & 0x10) != 0, std::memory_order_relaxed);

  PacketBuffer packet(g_storage, sizeof g_storage);
  std::optional<Sealed> sealed;
  if ((control & 0x20) != 0) {
    sealed = seal(h, control, to_us, rest, rest_size, packet);
    if (!sealed) return 0;
  } else {
    expect(packet.assign(ByteSpan(rest, rest_size)));
  }
  packet.meta.encapsulation = udp ? Encapsulation::kEspInUdp : Encapsulation::kNone;
  packet.meta.remote = kSenders[control & 3];
  if (!udp) packet.meta.remote.port = 0;
  packet.meta.local =
      Endpoint{to_us ? h.local : h.other_local, static_cast<std::uint16_t>(udp ? 4500 : 0)};

  // What the path will look at, before it changes the buffer.
  const std::size_t datagram_size = packet.size();
  const std::uint8_t* datagram_start = packet.data();
  const bool keepalive = datagram_size == 1 && datagram_start[0] == 0xff;
  const bool marker = datagram_size > 4 && load_be32(datagram_start) == 0;
  SecurityAssociation* sa = nullptr;
  if (const auto header = parse_esp_header(packet.span())) {
    sa = h.sad.find_inbound(header->spi, packet.meta.local.address);
  }
  std::memcpy(g_copy, datagram_start, datagram_size);
  const PacketMeta meta = packet.meta;
  const std::uint64_t top_a = h.sa_a->replay_window().top();
  const std::uint64_t top_b = h.sa_b->replay_window().top();

  PacketBatch batch;
  batch.push(&packet);
  // Half the inputs through the staged (prefetching) lookup, which a real batch of one skips.
  h.dataplane.staging_min_entries = 0;
  h.dataplane.staging_min_batch = (rest_size & 1) != 0 ? 0 : kStagingMinBatch;
  const std::uint64_t dropped_before = h.counters.drops.total();
  {
    const GuardOutside guard(packet);
    h.path.process(batch, now);
  }
  const Verdict v = batch.verdicts[0];

  std::size_t events = 0;
  bool only_mapping = true;
  IpsecEvent event;
  while (h.events.try_pop(event)) {
    ++events;
    const auto* mapping = std::get_if<MappingEvent>(&event);
    only_mapping = only_mapping && mapping != nullptr && sa != nullptr && mapping->sa == sa->id() &&
                   mapping->current == packet.meta.remote;
  }
  expect(events <= kEventCapacity);
  expect(only_mapping);

  switch (v.disposition) {
    case Disposition::kDrop:
      expect(v.reason != DropReason::kNone);
      expect(h.counters.drops.total() == dropped_before + 1);
      if (v.reason == DropReason::kNatKeepalive) expect(udp && keepalive);
      if (v.reason == DropReason::kIkeNoHandler) {
        expect(udp && marker && !h.dataplane.ike_handler_registered.load());
      }
      if (is_before_authentication(v.reason)) {
        // A forged, replayed or misaddressed datagram changes nothing.
        expect(events == 0);
        expect(h.sa_a->replay_window().top() == top_a && h.sa_b->replay_window().top() == top_b);
      } else {
        expect(sa != nullptr);
      }
      if (v.reason == DropReason::kUnknownSpi) expect(sa == nullptr);
      if (v.reason == DropReason::kEncapsulationMismatch) {
        expect(sa != nullptr && sa->endpoints().encapsulation.has_value() != udp);
      }
      break;
    case Disposition::kDeliverToTun:
      expect(sa != nullptr);
      check_delivered(packet, *sa, sealed);
      break;
    case Disposition::kPassToIke:
      expect(udp && marker && h.dataplane.ike_handler_registered.load());
      expect(packet.data() == datagram_start + 4 && packet.size() == datagram_size - 4);
      expect(events == 0);
      break;
    default:
      __builtin_trap();
  }
  if (v.disposition != Disposition::kDrop) expect(h.counters.drops.total() == dropped_before);

  // A mapping event exactly when an authentic ESP-in-UDP datagram came from somewhere new.
  const bool opened = v.disposition == Disposition::kDeliverToTun ||
                      (v.disposition == Disposition::kDrop && is_after_open(v.reason));
  if (opened) {
    const SaEndpoints& e = sa->endpoints();
    const Endpoint expected{e.source,
                            e.encapsulation ? e.encapsulation->source_port : std::uint16_t{0}};
    expect(events == (udp && packet.meta.remote != expected ? 1u : 0u));
  }

  if (sealed) {
    if (!to_us) {
      expect(v == Verdict::drop(DropReason::kUnknownSpi));
    } else if (sealed->authentic && sa != nullptr &&
               sa->endpoints().encapsulation.has_value() != udp) {
      expect(v == Verdict::drop(DropReason::kEncapsulationMismatch));
    } else if (sealed->authentic) {
      // Our own packet under the right key: it must get past the ICV.
      expect(v.disposition == Disposition::kDeliverToTun || !is_before_authentication(v.reason));
      if (sealed->transport_inner) {
        const std::uint8_t protocol = sealed->transport_inner->protocol;
        if (protocol == ip_protocol::kIpv4 || protocol == ip_protocol::kIpv6) {
          expect(v == Verdict::drop(DropReason::kBadNextHeader));
        } else if (protocol == ip_protocol::kNoNextHeader) {
          expect(v == Verdict::drop(DropReason::kDummyPacket));
        } else {
          expect(v == Verdict::deliver_to_tun());
        }
      }
    } else {
      expect(v.dropped() && is_before_authentication(v.reason));
    }
  }

  // The same datagram again: once authentic, it is a replay, which changes nothing either.
  const bool authentic = opened || v.reason == DropReason::kBadTrailer ||
                         v.reason == DropReason::kBadPadding ||
                         v.reason == DropReason::kDummyPacket;
  if (authentic) {
    expect(packet.assign(ByteSpan(g_copy, datagram_size)));
    packet.meta = meta;
    const std::uint64_t top = sa->replay_window().top();
    h.path.process(batch, now);
    expect(batch.verdicts[0] == Verdict::drop(DropReason::kReplayDuplicate));
    expect(sa->replay_window().top() == top);
    expect(!h.events.try_pop(event));
  }

  h.reader->quiescent();
  return 0;
}
