// Mac: a keyed message authentication code — HMAC-SHA1 (RFC 2404) and HMAC-SHA2 (RFC 4868) —
// for ESP's integrity check value, truncated by the caller's choice of output length.
//
// Thread safety: as Aead — one thread at a time per instance; clone() for another thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace uipsec {

enum class MacAlgorithm : std::uint8_t {
  kHmacSha1,    // digest 20
  kHmacSha256,  // digest 32
  kHmacSha384,  // digest 48
  kHmacSha512,  // digest 64
};

class Mac {
 public:
  virtual ~Mac() = default;
  virtual MacAlgorithm algorithm() const = 0;
  virtual std::size_t digest_size() const = 0;

  // MAC over the concatenation of `parts`, truncated to out.size() bytes (the leftmost ones).
  // Returns false only when the library fails. Precondition: out.size() <= digest_size().
  virtual bool compute(std::span<const ByteSpan> parts, MutableByteSpan out) = 0;

  virtual std::unique_ptr<Mac> clone() const = 0;
};

Result<std::unique_ptr<Mac>> make_openssl_mac(MacAlgorithm algorithm, ByteSpan key);

}  // namespace uipsec
