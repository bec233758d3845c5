// The ESP algorithms uipsec implements (RFC 8221's MUST/SHOULD set), their key, IV and ICV
// sizes, and the names `ip xfrm state` and strongSwan use for them.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.hpp"
#include "crypto/secret_bytes.hpp"

namespace uipsec {

enum class EspCipher : std::uint8_t {
  kNull,              // "ecb(cipher_null)": integrity only (RFC 2410)
  kAesCbc,            // "cbc(aes)" (RFC 3602)
  kAesCtr,            // "rfc3686(ctr(aes))": key followed by a 4-byte nonce
  kAesGcm,            // "rfc4106(gcm(aes))": key followed by a 4-byte salt
  kAesCcm,            // "rfc4309(ccm(aes))": key followed by a 3-byte salt
  kAesGmac,           // "rfc4543(gcm(aes))": integrity only, key followed by a 4-byte salt
  kChaCha20Poly1305,  // "rfc7539esp(chacha20,poly1305)": 32-byte key followed by a 4-byte salt
};

enum class EspIntegrity : std::uint8_t {
  kNone,        // only with combined-mode (AEAD) ciphers
  kHmacSha1,    // "hmac(sha1)", 96-bit ICV (RFC 2404)
  kHmacSha256,  // "hmac(sha256)", 128-bit ICV (RFC 4868)
  kHmacSha384,  // "hmac(sha384)", 192-bit ICV
  kHmacSha512,  // "hmac(sha512)", 256-bit ICV
};

// What an SA encrypts and authenticates with, in the form `ip xfrm state` takes it: for combined
// modes (GCM, CCM, GMAC, ChaCha20-Poly1305) `icv_bits` is the ICV length and integrity is kNone;
// otherwise `icv_bits` is the truncated HMAC length.
struct EspAlgorithms {
  EspCipher cipher = EspCipher::kAesGcm;
  SecretBytes cipher_key;  // AEAD/CTR keys carry their salt or nonce at the end, as on Linux
  EspIntegrity integrity = EspIntegrity::kNone;
  SecretBytes integrity_key;
  std::uint16_t icv_bits = 128;
  friend bool operator==(const EspAlgorithms&, const EspAlgorithms&) = default;
};

// True for ciphers that authenticate by themselves (no separate integrity algorithm).
bool is_combined_mode(EspCipher cipher);
// Bytes of salt or nonce at the end of the cipher key (4, or 3 for CCM; 0 for CBC and NULL).
std::size_t salt_size(EspCipher cipher);
// ICV length a plain `auth NAME KEY` gets on Linux (96 bits for SHA-1 and, historically, for
// SHA-256 too) versus the RFC length used with `auth-trunc`.
std::uint16_t rfc_icv_bits(EspIntegrity integrity);

// Checks key lengths, ICV length and the cipher/integrity combination; the message names the
// field and what was expected ("cipher key: rfc4106(gcm(aes)) expects 20, 28 or 36 bytes (key
// + 4-byte salt), got 16").
Result<void> validate(const EspAlgorithms& algorithms);

// Names as `ip xfrm` prints and takes them ("rfc4106(gcm(aes))", "hmac(sha256)"), and only
// those: strongSwan's proposal keywords ("aes128gcm16", "sha256") name a whole transform with
// its key and ICV size, which an IKE daemon turns into these names, keys and lengths itself;
// docs/ALGORITHMS.md maps one to the other. (The kernel's short names, "aes" or "sha256", are
// the ip-xfrm syntax's business: xfrm/xfrm_state.cpp.) Names of algorithms RFC 8221 retires
// (3DES, DES, Blowfish, MD5, XCBC) or leaves out (CAST, Camellia, ...) are refused with the
// reason.
std::string_view xfrm_name(EspCipher cipher);
std::string_view xfrm_name(EspIntegrity integrity);
Result<EspCipher> parse_cipher_name(std::string_view name);
Result<EspIntegrity> parse_integrity_name(std::string_view name);

}  // namespace uipsec
