// Aead: an authenticated cipher with a fixed key (RFC 5116 style) — AES-GCM (RFC 4106),
// AES-CCM (RFC 4309), ChaCha20-Poly1305 (RFC 7634). The ESP layer builds nonce and AAD as its
// RFC says and calls one of these; a faster implementation (intel-ipsec-mb) can replace the
// OpenSSL one behind this interface.
//
// Two implementations: OpenSSL 3 (every algorithm; the reference) and intel-ipsec-mb (AES-GCM
// only, a lower fixed cost per packet and a compact per-SA state). make_aead() picks one.
//
// Thread safety: an instance keeps per-call state (an OpenSSL context) and is used by one thread
// at a time; clone() makes an independent instance for another thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace uipsec {

enum class AeadAlgorithm : std::uint8_t {
  kAesGcm,  // key 16/24/32 bytes, nonce 12, tag 8/12/16
  kAesCcm,  // key 16/24/32 bytes, nonce 11 (RFC 4309: 3-byte salt + 8-byte IV), tag 8/12/16
  kChaCha20Poly1305,  // key 32 bytes, nonce 12, tag 16
};

// Which library computes an Aead.
enum class AeadImplementation : std::uint8_t {
  kOpenssl,  // every algorithm
  kIpsecMb,  // AES-GCM only; when built with intel-ipsec-mb and the CPU has AES-NI
};

class Aead {
 public:
  virtual ~Aead() = default;

  virtual AeadAlgorithm algorithm() const = 0;
  virtual AeadImplementation implementation() const = 0;
  virtual std::size_t nonce_size() const = 0;
  virtual std::size_t tag_size() const = 0;

  // Encrypts `inout` in place and writes tag_size() bytes to `tag`. The AAD is the concatenation
  // of `aad` (ESN makes ESP's AAD non-contiguous). Returns false only when the crypto library
  // fails. Preconditions: nonce.size() == nonce_size(), tag.size() == tag_size().
  virtual bool seal(ByteSpan nonce, std::span<const ByteSpan> aad, MutableByteSpan inout,
                    MutableByteSpan tag) = 0;
  // Verifies `tag` and decrypts `inout` in place. Returns false when the tag does not verify (or
  // the library fails); `inout` is then unspecified and must be discarded.
  virtual bool open(ByteSpan nonce, std::span<const ByteSpan> aad, MutableByteSpan inout,
                    ByteSpan tag) = 0;

  virtual std::unique_ptr<Aead> clone() const = 0;

  // Packet path, for batches (base/prefetch.hpp): starts loading the key state a seal or open
  // reads, when it lies in this object (intel-ipsec-mb's key block); a hint, nothing else. The
  // caller has this object's first line in cache already, or the call waits for it.
  virtual void prefetch_state() const {}
};

// The implementation make_aead() uses for `algorithm`: intel-ipsec-mb for AES-GCM when
// ipsec_mb_available(), OpenSSL otherwise. The environment variable UIPSEC_AEAD=openssl forces
// OpenSSL for every algorithm (comparison benchmarks, or to rule the library out); it is read on
// each call (control path only).
AeadImplementation preferred_aead_implementation(AeadAlgorithm algorithm);

// Builds the preferred implementation. Errors as make_openssl_aead's.
Result<std::unique_ptr<Aead>> make_aead(AeadAlgorithm algorithm, ByteSpan key,
                                        std::size_t tag_size);

// OpenSSL 3 implementation. Errors name the algorithm and the expected key or tag size.
Result<std::unique_ptr<Aead>> make_openssl_aead(AeadAlgorithm algorithm, ByteSpan key,
                                                std::size_t tag_size);

}  // namespace uipsec
