// libFuzzer target: esp_open (RFC 4303 §3.4) on untrusted bytes under a fixed SA, then tunnel
// and transport decapsulation of whatever it accepts. Random bytes almost never authenticate, so
// a second mode seals a fuzzer-chosen plaintext (data, padding, pad length, next header) first:
// the code behind the ICV check — trailer, padding, dummy packets, decapsulation — then runs on
// attacker-shaped decrypted bytes, and its verdict is checked against a model of RFC 4303 §2.4.
//
// Input: [control] [rest]
//   control bits 0-1  suite: AES-128-GCM-16, ChaCha20-Poly1305, AES-128-CBC + HMAC-SHA-256-128,
//                     AES-128-CTR + HMAC-SHA-1-96 (fixed keys, see suites()). NULL encryption
//                     is left out while EspTransform::create() hands memcpy the null data
//                     pointer of its empty key, which UBSan stops at before the first input.
//           bit 2     ESN
//           bits 3-4  replay window: 0, 32, 64, 1024 packets
//           bits 5-6  initial window top: 0, 1000, 2^32 - 16, 3 * 2^32 + 5 (without ESN: low half)
//           bit 7     seal mode
//   open mode: rest = an ESP packet, SPI to ICV (SPI and sequence number as the SA would see them)
//   seal mode: rest = [seq delta: int8] [tamper] [plaintext]: sequence number top + delta; the
//              plaintext is encrypted as is (for CBC, zero bytes in front fill whole blocks);
//              tamper != 0 flips bit (tamper - 1) % 8 of byte (tamper - 1) / 8 of the sealed
//              packet, which must then fail like any forgery.
// Every expectation that fails traps. ASan sees the head- and tailroom as unaddressable while
// esp_open runs, so a read or write outside the packet is reported too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "esp/esp_encapsulation.hpp"
#include "esp/esp_packet.hpp"
#include "esp/replay_window.hpp"
#include "esp/sequence_number.hpp"
#include "wire/esp_header.hpp"
#include "wire/ip_packet.hpp"
#include "wire/ip_protocol.hpp"
#include "wire/ipv4_header.hpp"
#include "wire/ipv6_header.hpp"

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

constexpr Spi kSpi(0x1000);

void expect(bool condition) {
  if (!condition) __builtin_trap();
}

std::vector<std::uint8_t> key_bytes(std::size_t size, std::uint8_t seed) {
  std::vector<std::uint8_t> key(size);
  for (std::size_t i = 0; i < size; ++i) key[i] = static_cast<std::uint8_t>(i * 7 + seed);
  return key;
}

EspAlgorithms algorithms(EspCipher cipher, std::size_t cipher_key, EspIntegrity integrity,
                         std::size_t integrity_key, std::uint16_t icv_bits, std::uint8_t seed) {
  EspAlgorithms a;
  a.cipher = cipher;
  a.cipher_key = SecretBytes(key_bytes(cipher_key, seed));
  a.integrity = integrity;
  a.integrity_key = SecretBytes(key_bytes(integrity_key, static_cast<std::uint8_t>(seed + 100)));
  a.icv_bits = icv_bits;
  return a;
}

// Built once: the SA's crypto contexts are reused by every input, as on the packet path.
std::vector<EspTransform>& suites() {
  static std::vector<EspTransform> transforms = [] {
    std::vector<EspTransform> t;
    const EspAlgorithms all[] = {
        algorithms(EspCipher::kAesGcm, 20, EspIntegrity::kNone, 0, 128, 1),
        algorithms(EspCipher::kChaCha20Poly1305, 36, EspIntegrity::kNone, 0, 128, 2),
        algorithms(EspCipher::kAesCbc, 16, EspIntegrity::kHmacSha256, 32, 128, 3),
        algorithms(EspCipher::kAesCtr, 20, EspIntegrity::kHmacSha1, 20, 96, 4),
    };
    for (const EspAlgorithms& a : all) {
      auto created = EspTransform::create(a);
      expect(created.ok());
      t.push_back(std::move(*created));
    }
    return t;
  }();
  return transforms;
}

// One region for every input: headroom, the largest packet, tailroom. Aligned so that the packet
// start (after the headroom) begins an ASan granule.
alignas(64) std::uint8_t g_storage[kLargeBufferCapacity];
// The sealed packet, kept to open it a second time.
std::uint8_t g_copy[kMaxPacketSize];

// While alive, the storage outside [begin, end) is unaddressable for ASan.
class GuardOutside {
 public:
  GuardOutside(const std::uint8_t* begin, const std::uint8_t* end) {
#ifdef UIPSEC_FUZZ_ASAN
    ASAN_POISON_MEMORY_REGION(g_storage, static_cast<std::size_t>(begin - g_storage));
    ASAN_POISON_MEMORY_REGION(end, static_cast<std::size_t>(g_storage + sizeof g_storage - end));
#else
    (void)begin;
    (void)end;
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

bool is_post_authentication(DropReason reason) {
  return reason == DropReason::kBadTrailer || reason == DropReason::kBadPadding ||
         reason == DropReason::kDummyPacket;
}

bool is_open_reason(DropReason reason) {
  switch (reason) {
    case DropReason::kTruncated:
    case DropReason::kReplayDuplicate:
    case DropReason::kReplayTooOld:
    case DropReason::kAuthenticationFailed:
    case DropReason::kBadTrailer:
    case DropReason::kBadPadding:
    case DropReason::kDummyPacket:
      return true;
    default:
      return false;
  }
}

// Opens the packet in `packet` and checks what every verdict promises, whatever the input.
OpenResult checked_open(EspTransform& t, ReplayWindow& window, bool esn, PacketBuffer& packet) {
  const std::uint64_t top_before = window.top();
  const std::size_t size_before = packet.size();
  const std::uint8_t* start = packet.data();
  const std::size_t front = kEspHeaderSize + t.iv_size();
  const bool too_short =
      size_before < front + 2 + t.icv_size() ||
      (t.block_size() > 4 && (size_before - front - t.icv_size()) % t.block_size() != 0);

  OpenResult r;
  {
    const GuardOutside guard(packet.data(), packet.data() + packet.size());
    r = esp_open(t, window, esn, packet);
  }

  expect((r.verdict.reason == DropReason::kTruncated) == too_short);
  if (!r.verdict.dropped()) {
    expect(r.verdict == Verdict::deliver_to_tun());
    expect(r.next_header != ip_protocol::kNoNextHeader);
    // Header and IV come off the front, trailer and ICV off the back.
    expect(packet.data() == start + front);
    expect(packet.size() + front + t.icv_size() + 2 <= size_before);
  } else {
    expect(is_open_reason(r.verdict.reason));
  }
  if (r.verdict.dropped() && !is_post_authentication(r.verdict.reason)) {
    // A forged, truncated or replayed packet never moves the window.
    expect(window.top() == top_before);
  } else {
    // Authentic: the window moved to the packet, which is now received.
    expect(window.top() == std::max(top_before, r.sequence));
    expect(window.size() == 0 || window.check(r.sequence) == ReplayWindow::Check::kDuplicate);
  }
  return r;
}

// After a successful open: the payload through both modes; neither may accept what its mode
// forbids, and what they accept must be the packet they promise.
void check_decapsulation(std::uint8_t next_header, PacketBuffer& opened) {
  {
    PacketBuffer inner = opened;  // a view of the same bytes; tunnel mode only trims
    const std::size_t size_before = inner.size();
    Verdict v;
    {
      const GuardOutside guard(inner.data(), inner.data() + inner.size());
      v = decapsulate_tunnel(next_header, inner);
    }
    if (next_header != ip_protocol::kIpv4 && next_header != ip_protocol::kIpv6) {
      expect(v == Verdict::drop(DropReason::kBadNextHeader));
    } else if (!v.dropped()) {
      expect(v == Verdict::deliver_to_tun());
      expect(inner.data() == opened.data() && inner.size() <= size_before);
      const auto info = parse_ip_packet(inner.span());
      expect(info.has_value());
      expect(info->total_length == inner.size());
      expect(info->family == (next_header == ip_protocol::kIpv4 ? IpFamily::kV4 : IpFamily::kV6));
      if (info->family == IpFamily::kV4) expect(ipv4_header_checksum_valid(inner.span()));
    } else {
      expect(v.reason == DropReason::kBadInnerPacket);
    }
  }

  static const OuterHeader kOuter4{*IpAddress::parse("198.18.0.2"), *IpAddress::parse("198.18.0.1"),
                                   0x28, 61};
  static const OuterHeader kOuter6{*IpAddress::parse("2001:db8::2"),
                                   *IpAddress::parse("2001:db8::1"), 0x28, 61};
  for (const OuterHeader* outer : {&kOuter4, &kOuter6}) {
    PacketBuffer packet = opened;  // transport mode writes only in front of the payload
    const std::size_t payload = packet.size();
    const Verdict v = decapsulate_transport(next_header, *outer, packet);
    if (next_header == ip_protocol::kIpv4 || next_header == ip_protocol::kIpv6) {
      expect(v == Verdict::drop(DropReason::kBadNextHeader));
      continue;
    }
    // The rebuilt header must be able to state the length.
    if (payload + (outer->source.is_v4() ? kIpv4HeaderSize : 0) > 0xffff) {
      expect(v == Verdict::drop(DropReason::kBadInnerPacket));
      continue;
    }
    // What is delivered must parse as a whole packet; what would not is dropped instead (an
    // IPv6 next header naming a broken extension header, or an empty IPv6 payload).
    if (v.dropped()) {
      expect(v.reason == DropReason::kBadInnerPacket && !outer->source.is_v4());
      continue;
    }
    expect(v == Verdict::deliver_to_tun());
    expect(parse_ip_packet(packet.span()).has_value());
    if (outer->source.is_v4()) {
      const auto header = parse_ipv4_header(packet.span());
      expect(header.has_value() && ipv4_header_checksum_valid(packet.span()));
      expect(header->header_length == kIpv4HeaderSize);
      expect(header->total_length == payload + kIpv4HeaderSize && packet.size() == payload + 20);
      expect(header->protocol == next_header && !header->is_fragment());
      expect(header->src == outer->source && header->dst == outer->destination);
      expect(header->tos == outer->tos && header->ttl == outer->ttl);
    } else {
      const auto header = parse_ipv6_header(packet.span());
      expect(header.has_value());
      expect(header->payload_length == payload && packet.size() == payload + kIpv6HeaderSize);
      expect(header->next_header == next_header);
      expect(header->src == outer->source && header->dst == outer->destination);
      expect(header->traffic_class == outer->tos && header->hop_limit == outer->ttl);
    }
  }
}

// What RFC 4303 §2.4 makes of a decrypted payload: the verdict esp_open must reach once the
// packet authenticated, and the length of the data in front of the padding.
struct TrailerModel {
  DropReason reason = DropReason::kNone;
  std::size_t data_size = 0;
};

TrailerModel model_trailer(const std::uint8_t* payload, std::size_t size) {
  const std::size_t pad = payload[size - 2];
  if (pad + 2 > size) return {DropReason::kBadTrailer, 0};
  const std::size_t data_size = size - 2 - pad;
  for (std::size_t i = 0; i < pad; ++i) {
    if (payload[data_size + i] != i + 1) return {DropReason::kBadPadding, 0};
  }
  if (payload[size - 1] == ip_protocol::kNoNextHeader) return {DropReason::kDummyPacket, 0};
  return {DropReason::kNone, data_size};
}

std::uint64_t initial_top(unsigned selector, bool esn) {
  constexpr std::uint64_t kTops[] = {0, 1000, (std::uint64_t{1} << 32) - 16,
                                     (std::uint64_t{3} << 32) + 5};
  const std::uint64_t top = kTops[selector & 3];
  return esn ? top : top & 0xffffffffu;
}

// Opens the same packet a second time: an authentic packet is now a duplicate (anti-replay on),
// or gives the same verdict again (off).
void check_replayed(EspTransform& t, ReplayWindow& window, bool esn, PacketBuffer& packet,
                    const std::uint8_t* bytes, std::size_t size, const OpenResult& first) {
  if (first.verdict.dropped() && !is_post_authentication(first.verdict.reason)) return;
  expect(packet.assign(ByteSpan(bytes, size)));
  const OpenResult again = checked_open(t, window, esn, packet);
  if (window.size() != 0) {
    expect(again.verdict == Verdict::drop(DropReason::kReplayDuplicate));
  } else {
    expect(again.verdict == first.verdict && again.next_header == first.next_header);
  }
}

void run_open_mode(EspTransform& t, ReplayWindow& window, bool esn, const std::uint8_t* bytes,
                   std::size_t size) {
  size = std::min(size, kMaxPacketSize);
  PacketBuffer packet(g_storage, sizeof g_storage);
  expect(packet.assign(ByteSpan(bytes, size)));
  const OpenResult r = checked_open(t, window, esn, packet);
  if (!r.verdict.dropped()) check_decapsulation(r.next_header, packet);
  check_replayed(t, window, esn, packet, bytes, size, r);
}

void run_seal_mode(EspTransform& t, ReplayWindow& window, bool esn, const std::uint8_t* bytes,
                   std::size_t size) {
  const auto delta = static_cast<std::int8_t>(size > 0 ? bytes[0] : 0);
  const std::uint8_t tamper = size > 1 ? bytes[1] : 0;
  const std::uint8_t* plaintext = bytes + std::min<std::size_t>(size, 2);
  const std::size_t plaintext_size =
      std::min<std::size_t>(size - std::min<std::size_t>(size, 2), kMaxPacketSize - 64);

  const std::uint64_t top = window.top();
  std::uint64_t seq = delta < 0 ? (top > static_cast<std::uint64_t>(-delta)
                                       ? top - static_cast<std::uint64_t>(-delta)
                                       : 0)
                                : top + static_cast<std::uint64_t>(delta);
  if (!esn) seq &= 0xffffffffu;

  // The payload as esp_open will decrypt it: CBC needs whole blocks, filled in front so that the
  // fuzzer's trailer stays at the end.
  const std::size_t block = t.block_size();
  const std::size_t fill = block > 4 ? (block - plaintext_size % block) % block : 0;
  const std::size_t payload_size = fill + plaintext_size;
  const std::size_t front = kEspHeaderSize + t.iv_size();

  PacketBuffer packet(g_storage, sizeof g_storage);
  std::uint8_t* header = packet.push_back(front + payload_size + t.icv_size());
  expect(header != nullptr);
  write_esp_header(header, kSpi, static_cast<std::uint32_t>(seq));
  std::uint8_t* payload = header + front;
  std::memset(payload, 0, fill);
  if (plaintext_size > 0) std::memcpy(payload + fill, plaintext, plaintext_size);
  std::memset(payload + payload_size, 0, t.icv_size());
  // The model reads the plaintext before it is encrypted in place.
  const bool long_enough = payload_size >= 2;
  const TrailerModel trailer = long_enough ? model_trailer(payload, payload_size) : TrailerModel{};
  if (long_enough) {
    const EspLayout layout{header, MutableByteSpan(header + kEspHeaderSize, t.iv_size()),
                           MutableByteSpan(payload, payload_size),
                           MutableByteSpan(payload + payload_size, t.icv_size())};
    expect(t.make_iv(seq, layout.iv));
    expect(t.seal(layout, static_cast<std::uint32_t>(seq >> 32), esn));
  }
  bool tampered = false;
  if (tamper != 0 && static_cast<std::size_t>(tamper - 1) / 8 < packet.size()) {
    header[(tamper - 1) / 8] ^= static_cast<std::uint8_t>(1u << ((tamper - 1) % 8));
    tampered = true;
  }
  const std::size_t packet_size = packet.size();
  std::memcpy(g_copy, header, packet_size);

  // What the receiver will make of the sequence number, before any crypto.
  const std::uint32_t low = load_be32(header + 4);
  const std::uint64_t inferred = esn ? infer_esn(low, top, window.size()) : low;
  const ReplayWindow::Check check = window.check(inferred);

  const OpenResult r = checked_open(t, window, esn, packet);
  if (!long_enough) {
    expect(r.verdict == Verdict::drop(DropReason::kTruncated));
  } else if (check == ReplayWindow::Check::kDuplicate) {
    expect(r.verdict == Verdict::drop(DropReason::kReplayDuplicate));
  } else if (check == ReplayWindow::Check::kTooOld) {
    expect(r.verdict == Verdict::drop(DropReason::kReplayTooOld));
  } else if (tampered || inferred != seq) {
    // Any changed bit, or other ESN high bits than the sender's, fails the ICV.
    expect(r.verdict == Verdict::drop(DropReason::kAuthenticationFailed));
  } else if (trailer.reason != DropReason::kNone) {
    expect(r.verdict == Verdict::drop(trailer.reason));
  } else {
    expect(r.verdict == Verdict::deliver_to_tun());
    expect(r.sequence == seq);
    expect(r.next_header == plaintext[plaintext_size - 1]);
    expect(packet.size() == trailer.data_size);
    // The decrypted data is the plaintext's, behind the CBC fill.
    for (std::size_t i = 0; i < std::min(fill, trailer.data_size); ++i)
      expect(packet.data()[i] == 0);
    expect(trailer.data_size <= fill ||
           std::memcmp(packet.data() + fill, plaintext, trailer.data_size - fill) == 0);
    check_decapsulation(r.next_header, packet);
  }
  check_replayed(t, window, esn, packet, g_copy, packet_size, r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  EspTransform& t = suites()[control & 3];
  const bool esn = (control & 0x04) != 0;
  constexpr std::uint32_t kWindows[] = {0, 32, 64, 1024};
  // A fresh window per input keeps every run reproducible (one small allocation).
  ReplayWindow window(kWindows[(control >> 3) & 3], initial_top(control >> 5, esn));
  if ((control & 0x80) != 0) {
    run_seal_mode(t, window, esn, data + 1, size - 1);
  } else {
    run_open_mode(t, window, esn, data + 1, size - 1);
  }
  return 0;
}
