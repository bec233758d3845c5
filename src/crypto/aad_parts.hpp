// ESP's AAD comes in parts (with ESN the high sequence half sits apart from the header, RFC 4303
// §2.2.1); the AEAD libraries take one span. Shared by the OpenSSL and intel-ipsec-mb AEADs.
#pragma once

#include <cstring>
#include <span>

#include "base/bytes.hpp"

namespace uipsec {

// Sets `joined` to the AAD as one span: the only non-empty part as it is (no copy), or all parts
// copied into `buffer`. False if several non-empty parts total more than buffer.size() bytes.
inline bool join_aad(std::span<const ByteSpan> aad, MutableByteSpan buffer, ByteSpan& joined) {
  std::size_t total = 0;
  std::size_t non_empty = 0;
  joined = ByteSpan();
  for (ByteSpan part : aad) {
    if (part.empty()) continue;
    joined = part;
    total += part.size();
    ++non_empty;
  }
  if (non_empty <= 1) return true;
  if (total > buffer.size()) return false;
  std::size_t offset = 0;
  for (ByteSpan part : aad) {
    if (part.empty()) continue;
    std::memcpy(buffer.data() + offset, part.data(), part.size());
    offset += part.size();
  }
  joined = ByteSpan(buffer.data(), total);
  return true;
}

}  // namespace uipsec
