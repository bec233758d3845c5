// OpenSSL 3 implementation of Aead: AES-GCM (RFC 4106), AES-CCM (RFC 4309) and
// ChaCha20-Poly1305 (RFC 7634), as ESP uses them.
//
// At construction (control path): fetch the EVP_CIPHER, make one EVP_CIPHER_CTX per direction
// and set the key on each, so the key schedule is computed once. Per packet, with no allocation:
//   1. set the nonce on that direction's keyed context (EVP_{En,De}cryptInit_ex, IV only);
//   2. feed the AAD parts;
//   3. encrypt or decrypt in place;
//   4. seal: final, then read the tag. open: hand OpenSSL the expected tag, then final, which
//      compares it.
// AES-CCM has another call order (message length before the AAD, all AAD in one call, all data
// in one call, tag computed during the data call), so it has its own class.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <climits>
#include <cstring>
#include <string>
#include <utility>

#include "crypto/aad_parts.hpp"
#include "crypto/aead.hpp"
#include "crypto/openssl_handles.hpp"
#include "crypto/secret_bytes.hpp"

namespace uipsec {
namespace {

// EVP_*Update take int lengths.
constexpr std::size_t kMaxCallLength = INT_MAX;
constexpr std::size_t kGcmNonceSize = 12;     // RFC 4106: 4-byte salt + 8-byte IV
constexpr std::size_t kCcmNonceSize = 11;     // RFC 4309: 3-byte salt + 8-byte IV
constexpr std::size_t kChaChaNonceSize = 12;  // RFC 7634: 4-byte salt + 8-byte IV

const char* algorithm_label(AeadAlgorithm algorithm) {
  switch (algorithm) {
    case AeadAlgorithm::kAesGcm:
      return "AES-GCM";
    case AeadAlgorithm::kAesCcm:
      return "AES-CCM";
    case AeadAlgorithm::kChaCha20Poly1305:
      return "ChaCha20-Poly1305";
  }
  return "unknown AEAD";
}

// The OpenSSL name of the cipher for `algorithm` with this key and tag size, or an error that
// names the algorithm and the sizes it accepts.
Result<const char*> openssl_cipher_name(AeadAlgorithm algorithm, std::size_t key_size,
                                        std::size_t tag_size) {
  const std::string label = algorithm_label(algorithm);
  switch (algorithm) {
    case AeadAlgorithm::kAesGcm:
    case AeadAlgorithm::kAesCcm: {
      const bool gcm = algorithm == AeadAlgorithm::kAesGcm;
      if (tag_size != 8 && tag_size != 12 && tag_size != 16) {
        return Error(label + ": tag must be 8, 12 or 16 bytes, got " + std::to_string(tag_size));
      }
      switch (key_size) {
        case 16:
          return gcm ? "AES-128-GCM" : "AES-128-CCM";
        case 24:
          return gcm ? "AES-192-GCM" : "AES-192-CCM";
        case 32:
          return gcm ? "AES-256-GCM" : "AES-256-CCM";
        default:
          return Error(label + ": key must be 16, 24 or 32 bytes (without the salt), got " +
                       std::to_string(key_size));
      }
    }
    case AeadAlgorithm::kChaCha20Poly1305:
      if (key_size != 32) {
        return Error(label + ": key must be 32 bytes (without the salt), got " +
                     std::to_string(key_size));
      }
      if (tag_size != 16) {
        return Error(label + ": tag must be 16 bytes, got " + std::to_string(tag_size));
      }
      return "ChaCha20-Poly1305";
  }
  return Error("unknown AEAD algorithm " + std::to_string(static_cast<int>(algorithm)));
}

std::size_t nonce_size_of(AeadAlgorithm algorithm) {
  switch (algorithm) {
    case AeadAlgorithm::kAesGcm:
      return kGcmNonceSize;
    case AeadAlgorithm::kAesCcm:
      return kCcmNonceSize;
    case AeadAlgorithm::kChaCha20Poly1305:
      return kChaChaNonceSize;
  }
  return 0;
}

// What both implementations keep: one context per direction with the key already set, and a
// copy of the key for clone(). One per direction because OpenSSL's CCM chooses its encrypt or
// decrypt routine when the key is set, and an ESP SA only ever seals or only ever opens.
struct KeyedAeadContexts {
  AeadAlgorithm algorithm;
  std::size_t tag_size;
  SecretBytes key;
  EvpCipherCtxPtr seal_ctx;
  EvpCipherCtxPtr open_ctx;
};

// A context keyed for `encrypt` (1) or decryption (0). Null on failure, with OpenSSL's error
// queued.
EvpCipherCtxPtr make_direction_context(const EVP_CIPHER* cipher, AeadAlgorithm algorithm,
                                       ByteSpan key, std::size_t tag_size, int encrypt) {
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  // The context takes its own reference to `cipher`.
  if (!ctx || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, encrypt) != 1) {
    return nullptr;
  }
  if (algorithm == AeadAlgorithm::kAesCcm) {
    // Both are baked into the CCM state when the key is set, so they come first. An 11-byte
    // nonce leaves 4 bytes for the length field (L = 4), as RFC 4309 requires.
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(kCcmNonceSize),
                            nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_size),
                            nullptr) != 1) {
      return nullptr;
    }
  }
  if (EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), nullptr, encrypt) != 1) {
    return nullptr;
  }
  return ctx;
}

Result<KeyedAeadContexts> make_keyed_contexts(AeadAlgorithm algorithm, ByteSpan key,
                                              std::size_t tag_size) {
  auto name = openssl_cipher_name(algorithm, key.size(), tag_size);
  if (!name.ok()) return name.error();
  const std::string label = algorithm_label(algorithm);

  ERR_clear_error();  // so that a failure below reports its own cause
  EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, *name, nullptr));
  if (!cipher) {
    return Error(label + ": cannot load " + *name + " from OpenSSL: " + take_openssl_error());
  }
  EvpCipherCtxPtr seal_ctx = make_direction_context(cipher.get(), algorithm, key, tag_size, 1);
  EvpCipherCtxPtr open_ctx = make_direction_context(cipher.get(), algorithm, key, tag_size, 0);
  if (!seal_ctx || !open_ctx) {
    return Error(label + ": cannot set up " + *name + " with this key: " + take_openssl_error());
  }
  return KeyedAeadContexts{algorithm, tag_size, SecretBytes(key), std::move(seal_ctx),
                           std::move(open_ctx)};
}

// Feeds every non-empty AAD part to a context set up for `encrypt` (1) or decrypt (0).
bool feed_aad(EVP_CIPHER_CTX* ctx, std::span<const ByteSpan> aad, bool encrypt) {
  for (ByteSpan part : aad) {
    if (part.empty()) continue;
    if (part.size() > kMaxCallLength) return false;
    int out_length = 0;
    const int length = static_cast<int>(part.size());
    const int ok = encrypt ? EVP_EncryptUpdate(ctx, nullptr, &out_length, part.data(), length)
                           : EVP_DecryptUpdate(ctx, nullptr, &out_length, part.data(), length);
    if (ok != 1) return false;
  }
  return true;
}

// The tag goes through EVP_CIPHER_CTX_{get,set}_params: the same provider call that
// EVP_CIPHER_CTX_ctrl(EVP_CTRL_AEAD_{GET,SET}_TAG) ends in, without ctrl's translation layer,
// which costs ~15-20 ns per call on OpenSSL 3.0 here (AES-128-GCM, 64 bytes: 270 -> 252 ns).
bool read_tag(EVP_CIPHER_CTX* ctx, MutableByteSpan tag) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag.data(), tag.size()),
      OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_get_params(ctx, params) == 1;
}

bool set_expected_tag(EVP_CIPHER_CTX* ctx, ByteSpan tag) {
  // OpenSSL copies the tag and never writes through this pointer.
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                        const_cast<std::uint8_t*>(tag.data()), tag.size()),
      OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_set_params(ctx, params) == 1;
}

// Shared by both classes: properties and clone() from the kept key.
class OpensslAeadCommon : public Aead {
 public:
  explicit OpensslAeadCommon(KeyedAeadContexts keyed)
      : algorithm_(keyed.algorithm),
        tag_size_(keyed.tag_size),
        nonce_size_(nonce_size_of(keyed.algorithm)),
        key_(std::move(keyed.key)),
        seal_ctx_(std::move(keyed.seal_ctx)),
        open_ctx_(std::move(keyed.open_ctx)) {}

  AeadAlgorithm algorithm() const final { return algorithm_; }
  AeadImplementation implementation() const final { return AeadImplementation::kOpenssl; }
  std::size_t nonce_size() const final { return nonce_size_; }
  std::size_t tag_size() const final { return tag_size_; }

  // Fresh contexts keyed from the kept copy of the key, not EVP_CIPHER_CTX_copy: a copied
  // provider context is independent of this one only if every OpenSSL 3.0.x dupctx fixes up its
  // internal key pointers, and re-keying costs two key schedules on the control path only.
  // Returns null only if OpenSSL cannot allocate.
  std::unique_ptr<Aead> clone() const final {
    auto copy = make_openssl_aead(algorithm_, key_.span(), tag_size_);
    return copy.ok() ? std::move(copy).value() : nullptr;
  }

 protected:
  bool sizes_ok(ByteSpan nonce, std::size_t tag_size, std::size_t data_size) const {
    return nonce.size() == nonce_size_ && tag_size == tag_size_ && data_size <= kMaxCallLength;
  }

  const AeadAlgorithm algorithm_;
  const std::size_t tag_size_;
  const std::size_t nonce_size_;
  const SecretBytes key_;
  const EvpCipherCtxPtr seal_ctx_;
  const EvpCipherCtxPtr open_ctx_;
};

// AES-GCM and ChaCha20-Poly1305: the plain EVP AEAD sequence. Owner: one thread at a time.
class OpensslAead final : public OpensslAeadCommon {
 public:
  using OpensslAeadCommon::OpensslAeadCommon;

  bool seal(ByteSpan nonce, std::span<const ByteSpan> aad, MutableByteSpan inout,
            MutableByteSpan tag) override {
    if (!sizes_ok(nonce, tag.size(), inout.size())) return false;
    EVP_CIPHER_CTX* ctx = seal_ctx_.get();
    int length = 0;
    if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) != 1) return false;
    if (!feed_aad(ctx, aad, true)) return false;
    if (!inout.empty() && EVP_EncryptUpdate(ctx, inout.data(), &length, inout.data(),
                                            static_cast<int>(inout.size())) != 1) {
      return false;
    }
    // GCM and ChaCha20-Poly1305 are stream modes: final writes no bytes.
    std::uint8_t no_output = 0;
    if (EVP_EncryptFinal_ex(ctx, &no_output, &length) != 1) return false;
    return read_tag(ctx, tag);
  }

  bool open(ByteSpan nonce, std::span<const ByteSpan> aad, MutableByteSpan inout,
            ByteSpan tag) override {
    if (!sizes_ok(nonce, tag.size(), inout.size())) return false;
    EVP_CIPHER_CTX* ctx = open_ctx_.get();
    int length = 0;
    if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) != 1) return false;
    if (!feed_aad(ctx, aad, false)) return false;
    if (!inout.empty() && EVP_DecryptUpdate(ctx, inout.data(), &length, inout.data(),
                                            static_cast<int>(inout.size())) != 1) {
      return false;
    }
    if (!set_expected_tag(ctx, tag)) return false;
    // Final compares the tags in constant time and fails on a mismatch; it writes no bytes.
    std::uint8_t no_output = 0;
    if (EVP_DecryptFinal_ex(ctx, &no_output, &length) != 1) {
      // Unauthenticated plaintext must not outlive the failure, whatever the caller does.
      if (!inout.empty()) OPENSSL_cleanse(inout.data(), inout.size());
      return false;
    }
    return true;
  }
};

// AES-CCM (RFC 4309, L = 4). OpenSSL takes the AAD in one call, so AAD given in several parts is
// joined in a fixed buffer; ESP's AAD is 8 or 12 bytes. Owner: one thread at a time.
class OpensslCcmAead final : public OpensslAeadCommon {
 public:
  // Most AAD bytes that may come in more than one part (one part may be any length).
  static constexpr std::size_t kMaxJoinedAad = 64;

  using OpensslAeadCommon::OpensslAeadCommon;

  bool seal(ByteSpan nonce, std::span<const ByteSpan> aad, MutableByteSpan inout,
            MutableByteSpan tag) override {
    if (!sizes_ok(nonce, tag.size(), inout.size())) return false;
    EVP_CIPHER_CTX* ctx = seal_ctx_.get();
    int length = 0;
    ByteSpan joined_aad;
    if (!join_aad(aad, aad_buffer_, joined_aad)) return false;
    if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) != 1) return false;
    if (EVP_EncryptUpdate(ctx, nullptr, &length, nullptr, static_cast<int>(inout.size())) != 1) {
      return false;
    }
    if (!feed_aad(ctx, std::span<const ByteSpan>(&joined_aad, 1), true)) return false;
    // Called even for empty data: this call computes the tag. OpenSSL reads a null input as
    // "final", so empty data points at a local byte.
    std::uint8_t empty = 0;
    std::uint8_t* data = inout.empty() ? &empty : inout.data();
    if (EVP_EncryptUpdate(ctx, data, &length, data, static_cast<int>(inout.size())) != 1) {
      return false;
    }
    return read_tag(ctx, tag);
  }

  bool open(ByteSpan nonce, std::span<const ByteSpan> aad, MutableByteSpan inout,
            ByteSpan tag) override {
    if (!sizes_ok(nonce, tag.size(), inout.size())) return false;
    EVP_CIPHER_CTX* ctx = open_ctx_.get();
    int length = 0;
    ByteSpan joined_aad;
    if (!join_aad(aad, aad_buffer_, joined_aad)) return false;
    if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) != 1) return false;
    // CCM needs the expected tag before the data.
    if (!set_expected_tag(ctx, tag)) return false;
    if (EVP_DecryptUpdate(ctx, nullptr, &length, nullptr, static_cast<int>(inout.size())) != 1) {
      return false;
    }
    if (!feed_aad(ctx, std::span<const ByteSpan>(&joined_aad, 1), false)) return false;
    // Decrypts, compares the tags in constant time and fails on a mismatch (OpenSSL then wipes
    // the output). Empty data points at a local byte, as in seal().
    std::uint8_t empty = 0;
    std::uint8_t* data = inout.empty() ? &empty : inout.data();
    if (EVP_DecryptUpdate(ctx, data, &length, data, static_cast<int>(inout.size())) != 1) {
      // Unlike GCM's, CCM's mismatch queues an OpenSSL error; a forged packet leaves no trace.
      ERR_clear_error();
      return false;
    }
    return true;
  }

 private:
  std::array<std::uint8_t, kMaxJoinedAad> aad_buffer_{};
};

}  // namespace

Result<std::unique_ptr<Aead>> make_openssl_aead(AeadAlgorithm algorithm, ByteSpan key,
                                                std::size_t tag_size) {
  auto keyed = make_keyed_contexts(algorithm, key, tag_size);
  if (!keyed.ok()) return keyed.error();
  std::unique_ptr<Aead> aead;
  if (algorithm == AeadAlgorithm::kAesCcm) {
    aead = std::make_unique<OpensslCcmAead>(std::move(keyed).value());
  } else {
    aead = std::make_unique<OpensslAead>(std::move(keyed).value());
  }
  return aead;
}

}  // namespace uipsec
