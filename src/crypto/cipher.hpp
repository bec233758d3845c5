// Cipher: an unauthenticated block cipher mode with a fixed key, for ESP's cipher + integrity
// suites — AES-CBC (RFC 3602) and AES-CTR (RFC 3686) — and for making CBC IVs. The ESP layer
// builds the IV or counter block.
//
// Thread safety: as Aead — one thread at a time per instance; clone() for another thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace uipsec {

enum class CipherAlgorithm : std::uint8_t {
  kAesCbc,  // key 16/24/32, iv 16, length a multiple of 16
  kAesCtr,  // key 16/24/32, iv = the full 16-byte initial counter block, any length
  kAesEcb,  // key 16/24/32, no iv, length a multiple of 16 (used to derive CBC IVs)
};

class Cipher {
 public:
  virtual ~Cipher() = default;
  virtual CipherAlgorithm algorithm() const = 0;
  virtual std::size_t iv_size() const = 0;     // 16, or 0 for ECB
  virtual std::size_t block_size() const = 0;  // 16 for CBC/ECB, 1 for CTR

  // Transform `inout` in place. Returns false only when the library fails.
  // Preconditions: iv.size() == iv_size(); inout.size() % block_size() == 0.
  virtual bool encrypt(ByteSpan iv, MutableByteSpan inout) = 0;
  virtual bool decrypt(ByteSpan iv, MutableByteSpan inout) = 0;

  virtual std::unique_ptr<Cipher> clone() const = 0;
};

Result<std::unique_ptr<Cipher>> make_openssl_cipher(CipherAlgorithm algorithm, ByteSpan key);

}  // namespace uipsec
