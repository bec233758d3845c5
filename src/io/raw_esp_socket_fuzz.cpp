// Fuzzes what an IPv4 raw ESP socket hands over: an IPv4 header (options included) in front of
// the ESP bytes, which raw_ipv4_payload() reads and strips.
#include <cstdint>
#include <cstdlib>

#include "io/raw_esp_socket.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const uipsec::ByteSpan received(data, size);
  const auto payload = uipsec::raw_ipv4_payload(received);
  if (!payload) return 0;
  // What is handed on lies inside the bytes received, behind a header of 20..60 bytes that says
  // protocol 50 and is not a fragment.
  if (payload->offset < 20 || payload->offset > 60 || payload->offset % 4 != 0) __builtin_trap();
  if (payload->offset + payload->length > size) __builtin_trap();
  if (data[9] != 50 || (data[0] >> 4) != 4) __builtin_trap();
  if ((data[6] & 0x3f) != 0 || data[7] != 0) __builtin_trap();
  if (!payload->source.is_v4() || !payload->destination.is_v4()) __builtin_trap();
  if (payload->tos != data[1]) __builtin_trap();
  return 0;
}
