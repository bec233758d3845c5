// EspTransform: the cryptography of one SA applied to one ESP packet (RFC 4303 §3.3.2, §3.4.4):
// builds nonce, AAD and ICV input as RFC 4106 (GCM), RFC 4309 (CCM), RFC 4543 (GMAC),
// RFC 7634 (ChaCha20-Poly1305), RFC 3602/3686 with RFC 2404/4868 (CBC/CTR + HMAC) and
// RFC 2410 (NULL) prescribe, including the ESN high bits (RFC 4303 §2.2.1).
//
// Owner: one thread at a time (it holds OpenSSL contexts); clone() gives a worker its own copy.
// Built on the control path when the SA is installed; nothing here allocates per packet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/aead.hpp"
#include "crypto/cipher.hpp"
#include "crypto/mac.hpp"
#include "esp/esp_algorithms.hpp"

namespace uipsec {

// The HMAC behind an ESP integrity algorithm (SHA-256 for kNone, which has no MAC).
MacAlgorithm mac_algorithm(EspIntegrity integrity);

// Where the parts of one ESP packet lie, all inside the caller's buffer:
// [ header: SPI, sequence (8) ][ iv ][ payload: data, padding, pad length, next header ][ icv ]
struct EspLayout {
  std::uint8_t* header;
  MutableByteSpan iv;
  MutableByteSpan payload;
  MutableByteSpan icv;
};

class EspTransform {
 public:
  // Validates the algorithms (see validate()) and builds the crypto contexts. Draws the SA's
  // random IV salt, so the IVs of two SAs with the same key differ.
  static Result<EspTransform> create(const EspAlgorithms& algorithms);

  EspTransform(EspTransform&&) noexcept = default;
  EspTransform& operator=(EspTransform&&) noexcept = default;
  ~EspTransform();

  EspCipher cipher() const { return cipher_; }
  // Bytes of explicit IV in each packet: 8 for the counter modes, 16 for CBC, 0 for NULL.
  std::size_t iv_size() const { return iv_size_; }
  std::size_t icv_size() const { return icv_size_; }
  // The payload length (data + padding + 2) must be a multiple of this: 16 for CBC, else 4
  // (always a power of two).
  std::size_t block_size() const { return block_size_; }

  // Writes the IV for outbound sequence number `seq`. Counter modes must never repeat an IV
  // under a key, also across restarts that reuse a static key and restart the sequence: the IV
  // is seq XOR a random per-SA salt, as Linux's seqiv does. CBC needs unpredictable IVs: AES
  // under a random per-SA key over (salt, seq). Returns false only if the library fails.
  bool make_iv(std::uint64_t seq, MutableByteSpan iv);

  // Encrypts the payload in place and writes the ICV. `seq_high` is the ESN high half and is
  // ignored unless `esn`. The header and IV must already be written.
  bool seal(const EspLayout& packet, std::uint32_t seq_high, bool esn);
  // Verifies the ICV, then decrypts the payload in place. False: authentication failed (or the
  // library failed); the payload is then garbage.
  bool open(const EspLayout& packet, std::uint32_t seq_high, bool esn);

  // Packet path, for batches (base/prefetch.hpp), one pass apart: start loading the AEAD object
  // (combined modes), then, once it arrived, its key state (Aead::prefetch_state). Hints only.
  void prefetch_aead() const {
    if (aead_) __builtin_prefetch(aead_.get(), 0, 3);
  }
  void prefetch_aead_state() const {
    if (aead_) aead_->prefetch_state();
  }

  // An independent copy with the same keys and IV salt, for another worker.
  Result<EspTransform> clone() const;

  // Test seam: every later make_iv() writes exactly `iv` (known-answer vectors).
  void set_fixed_iv_for_testing(ByteSpan iv);

 private:
  EspTransform() = default;
  bool aead_apply(const EspLayout& packet, std::uint32_t seq_high, bool esn, bool sealing);
  bool cipher_apply(const EspLayout& packet, bool encrypting);
  bool compute_icv(const EspLayout& packet, std::uint32_t seq_high, bool esn, MutableByteSpan icv);

  EspCipher cipher_ = EspCipher::kAesGcm;
  std::size_t iv_size_ = 0;
  std::size_t icv_size_ = 0;
  std::size_t block_size_ = 4;
  std::size_t salt_size_ = 0;
  std::array<std::uint8_t, 4> salt_{};  // nonce prefix from the key (GCM, CCM, GMAC, ChaCha, CTR)
  std::array<std::uint8_t, 8> iv_salt_{};  // random per SA: IV = seq XOR iv_salt_
  std::unique_ptr<Aead> aead_;             // combined modes
  std::unique_ptr<Cipher> cipher_ctx_;     // CBC, CTR
  std::unique_ptr<Mac> mac_;               // HMAC for the non-combined modes
  std::unique_ptr<Cipher> iv_cipher_;      // CBC only: AES-ECB that makes IVs
  std::optional<std::array<std::uint8_t, 16>> fixed_iv_;
};

}  // namespace uipsec
