#include "esp/esp_packet.hpp"

#include <cstring>
#include <optional>

#include "esp/sequence_number.hpp"
#include "wire/esp_header.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {

std::size_t esp_overhead_front(const EspTransform& t) { return kEspHeaderSize + t.iv_size(); }
std::size_t esp_overhead_back(const EspTransform& t) { return 255 + 2 + t.icv_size(); }

Verdict esp_seal(EspTransform& t, Spi spi, std::uint64_t seq, bool esn, std::uint8_t next_header,
                 PacketBuffer& packet, const SealOptions& options) {
  const std::size_t data_size = packet.size();
  // Block sizes are powers of two (4 or 16): masks, not divisions, on the per-packet path.
  const std::size_t block_mask = t.block_size() - 1;
  std::size_t pad = (t.block_size() - ((data_size + 2) & block_mask)) & block_mask;
  if (options.pad_length) {
    pad = *options.pad_length;
    if (((data_size + pad + 2) & block_mask) != 0) return Verdict::drop(DropReason::kNoRoom);
  }
  const std::size_t front = kEspHeaderSize + t.iv_size();
  if (packet.headroom() < front || packet.tailroom() < pad + 2 + t.icv_size()) {
    return Verdict::drop(DropReason::kNoRoom);
  }

  std::uint8_t* trailer = packet.push_back(pad + 2);
  for (std::size_t i = 0; i < pad; ++i) trailer[i] = static_cast<std::uint8_t>(i + 1);
  trailer[pad] = static_cast<std::uint8_t>(pad);
  trailer[pad + 1] = next_header;
  const std::size_t payload_size = packet.size();

  std::uint8_t* header = packet.push_front(front);
  write_esp_header(header, spi, static_cast<std::uint32_t>(seq));
  const EspLayout layout{header, MutableByteSpan(header + kEspHeaderSize, t.iv_size()),
                         MutableByteSpan(header + front, payload_size),
                         MutableByteSpan(packet.push_back(t.icv_size()), t.icv_size())};
  if (!t.make_iv(seq, layout.iv) || !t.seal(layout, static_cast<std::uint32_t>(seq >> 32), esn)) {
    return Verdict::drop(DropReason::kCryptoFailure);
  }
  return Verdict::send_to_peer();
}

namespace {

// The drop a replay-window answer means; nullopt for kOk.
std::optional<Verdict> replay_drop(ReplayWindow::Check check) {
  switch (check) {
    case ReplayWindow::Check::kOk:
      return std::nullopt;
    case ReplayWindow::Check::kDuplicate:
      return Verdict::drop(DropReason::kReplayDuplicate);
    case ReplayWindow::Check::kTooOld:
      return Verdict::drop(DropReason::kReplayTooOld);
  }
  return Verdict::drop(DropReason::kReplayTooOld);
}

}  // namespace

OpenResult esp_open(EspTransform& t, ReplayWindow& window, bool esn, PacketBuffer& packet) {
  OpenResult result;
  const std::size_t front = kEspHeaderSize + t.iv_size();
  const std::size_t icv_size = t.icv_size();
  // The smallest payload is pad length and next header; CBC needs whole blocks.
  if (packet.size() < front + 2 + icv_size) {
    result.verdict = Verdict::drop(DropReason::kTruncated);
    return result;
  }
  const std::size_t payload_size = packet.size() - front - icv_size;
  if ((payload_size & (t.block_size() - 1)) != 0 && t.block_size() > 4) {
    result.verdict = Verdict::drop(DropReason::kTruncated);
    return result;
  }

  std::uint8_t* header = packet.data();
  const std::uint32_t seq_low = load_be32(header + 4);
  const std::uint64_t seq = esn ? infer_esn(seq_low, window.top(), window.size()) : seq_low;
  result.sequence = seq;
  if (const auto refused = replay_drop(window.check(seq))) {
    result.verdict = *refused;
    return result;
  }

  const EspLayout layout{header, MutableByteSpan(header + kEspHeaderSize, t.iv_size()),
                         MutableByteSpan(header + front, payload_size),
                         MutableByteSpan(header + front + payload_size, icv_size)};
  if (!t.open(layout, static_cast<std::uint32_t>(seq >> 32), esn)) {
    result.verdict = Verdict::drop(DropReason::kAuthenticationFailed);
    return result;
  }
  // Checked again: another worker may have accepted this number (or moved past it) meanwhile.
  if (const auto refused = replay_drop(window.accept(seq))) {
    result.verdict = *refused;
    return result;
  }

  const std::uint8_t* payload = layout.payload.data();
  const std::uint8_t next_header = payload[payload_size - 1];
  const std::uint8_t pad = payload[payload_size - 2];
  if (std::size_t{pad} + 2 > payload_size) {
    result.verdict = Verdict::drop(DropReason::kBadTrailer);
    return result;
  }
  const std::uint8_t* padding = payload + payload_size - 2 - pad;
  for (std::size_t i = 0; i < pad; ++i) {
    if (padding[i] != i + 1) {
      result.verdict = Verdict::drop(DropReason::kBadPadding);
      return result;
    }
  }
  if (next_header == ip_protocol::kNoNextHeader) {
    result.verdict = Verdict::drop(DropReason::kDummyPacket);
    return result;
  }
  packet.pull_front(front);
  packet.trim_back(icv_size + 2 + pad);
  result.next_header = next_header;
  result.verdict = Verdict::deliver_to_tun();
  return result;
}

}  // namespace uipsec
