// Sealing and opening one ESP packet in place (RFC 4303 §3.3 outbound, §3.4 inbound): header,
// IV, padding (§2.4) and ICV are added in the buffer's head- and tailroom, and removed again on
// the way in. Mode handling (tunnel, transport) sits on top of this, in esp_encapsulation.
//
// Flow, outbound (esp_seal):
//   1. pad the payload so that payload + padding + 2 is a multiple of the block size (§2.4),
//      padding bytes 1, 2, 3, ...; append pad length and next header
//   2. prepend the ESP header (SPI, low 32 bits of the sequence number) and the IV
//   3. encrypt and append the ICV (EspTransform::seal)
// Flow, inbound (esp_open):
//   1. check the length against the SA's IV, ICV and block size
//   2. infer the full sequence number (ESN, Appendix A) and check the replay window — before
//      spending any time on crypto (§3.4.3)
//   3. verify the ICV and decrypt (EspTransform::open); only then move the replay window
//   4. check the trailer: pad length within the payload, pad bytes monotonic (§2.4)
//   5. strip header, IV, trailer and ICV; next header 59 is a dummy packet (§2.6), dropped
#pragma once

#include <cstdint>
#include <optional>

#include "base/strong_int.hpp"
#include "esp/esp_transform.hpp"
#include "esp/replay_window.hpp"
#include "packet/packet_buffer.hpp"
#include "packet/verdict.hpp"

namespace uipsec {

struct SealOptions {
  // Pad to this exact length instead of the minimum (0..255; must keep the block alignment).
  // For known-answer tests and for traffic-flow shaping; nullopt = minimal padding.
  std::optional<std::uint8_t> pad_length;
};

// Bytes esp_seal() adds in front of and behind the payload for this transform at most.
std::size_t esp_overhead_front(const EspTransform& transform);
std::size_t esp_overhead_back(const EspTransform& transform);

// Before: packet.data() is the payload. After kSendToPeer: packet.data() is the ESP packet from
// SPI to ICV. On a drop (kNoRoom, kCryptoFailure) the buffer content is unspecified.
// `seq` is the full sequence number the caller reserved (OutboundSequence::next()).
Verdict esp_seal(EspTransform& transform, Spi spi, std::uint64_t seq, bool esn,
                 std::uint8_t next_header, PacketBuffer& packet, const SealOptions& options = {});

struct OpenResult {
  Verdict verdict;               // kDeliverToTun on success (the caller decides where it goes)
  std::uint64_t sequence = 0;    // full sequence number, when it was determined
  std::uint8_t next_header = 0;  // on success
};

// Before: packet.data() is the ESP packet from SPI to ICV, and the caller found the SA by the
// SPI. After success: packet.data() is the payload; the replay window has moved.
OpenResult esp_open(EspTransform& transform, ReplayWindow& window, bool esn, PacketBuffer& packet);

}  // namespace uipsec
