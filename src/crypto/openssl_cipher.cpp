// OpenSSL 3 implementation of Cipher: AES-CBC (RFC 3602), AES-CTR (RFC 3686) and AES-ECB (for
// deriving CBC IVs), without padding: ESP pads the payload itself.
//
// At construction: one context per direction with the key set, so the key schedule (which
// differs between CBC/ECB encryption and decryption) is computed once. Per call, with no
// allocation:
//   1. set the IV or counter block on the keyed context (not for ECB, which has none);
//   2. transform the whole span in place with one update. No final: with padding off and whole
//      blocks, nothing is held back.
#include <openssl/err.h>
#include <openssl/evp.h>

#include <climits>
#include <string>
#include <utility>

#include "crypto/cipher.hpp"
#include "crypto/openssl_handles.hpp"
#include "crypto/secret_bytes.hpp"

namespace uipsec {
namespace {

constexpr std::size_t kMaxCallLength = INT_MAX;  // EVP_CipherUpdate takes an int length
constexpr std::size_t kAesBlockSize = 16;

const char* algorithm_label(CipherAlgorithm algorithm) {
  switch (algorithm) {
    case CipherAlgorithm::kAesCbc:
      return "AES-CBC";
    case CipherAlgorithm::kAesCtr:
      return "AES-CTR";
    case CipherAlgorithm::kAesEcb:
      return "AES-ECB";
  }
  return "unknown cipher";
}

Result<std::string> openssl_cipher_name(CipherAlgorithm algorithm, std::size_t key_size) {
  const char* mode = nullptr;
  switch (algorithm) {
    case CipherAlgorithm::kAesCbc:
      mode = "CBC";
      break;
    case CipherAlgorithm::kAesCtr:
      mode = "CTR";
      break;
    case CipherAlgorithm::kAesEcb:
      mode = "ECB";
      break;
    default:
      return Error("unknown cipher algorithm " + std::to_string(static_cast<int>(algorithm)));
  }
  if (key_size != 16 && key_size != 24 && key_size != 32) {
    return Error(std::string(algorithm_label(algorithm)) +
                 ": key must be 16, 24 or 32 bytes (without the nonce), got " +
                 std::to_string(key_size));
  }
  return "AES-" + std::to_string(key_size * 8) + "-" + mode;
}

// A context keyed for one direction (`encrypt` 1 or 0), padding off.
Result<EvpCipherCtxPtr> make_keyed_context(const EVP_CIPHER* cipher, ByteSpan key, int encrypt,
                                           const std::string& label) {
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key.data(), nullptr, encrypt) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    return Error(label + ": cannot set up the cipher context: " + take_openssl_error());
  }
  return ctx;
}

// Owner: one thread at a time.
class OpensslCipher final : public Cipher {
 public:
  OpensslCipher(CipherAlgorithm algorithm, SecretBytes key, EvpCipherCtxPtr encrypt_ctx,
                EvpCipherCtxPtr decrypt_ctx)
      : algorithm_(algorithm),
        iv_size_(algorithm == CipherAlgorithm::kAesEcb ? 0 : kAesBlockSize),
        block_size_(algorithm == CipherAlgorithm::kAesCtr ? 1 : kAesBlockSize),
        key_(std::move(key)),
        encrypt_ctx_(std::move(encrypt_ctx)),
        decrypt_ctx_(std::move(decrypt_ctx)) {}

  CipherAlgorithm algorithm() const override { return algorithm_; }
  std::size_t iv_size() const override { return iv_size_; }
  std::size_t block_size() const override { return block_size_; }

  bool encrypt(ByteSpan iv, MutableByteSpan inout) override {
    return transform(encrypt_ctx_.get(), iv, inout);
  }
  // CTR decryption is its encryption: CTR has no decrypt context.
  bool decrypt(ByteSpan iv, MutableByteSpan inout) override {
    return transform(decrypt_ctx_ ? decrypt_ctx_.get() : encrypt_ctx_.get(), iv, inout);
  }

  // A fresh instance keyed from the kept key (see OpensslAead::clone for why not a copy).
  // Returns null only if OpenSSL cannot allocate.
  std::unique_ptr<Cipher> clone() const override {
    auto copy = make_openssl_cipher(algorithm_, key_.span());
    return copy.ok() ? std::move(copy).value() : nullptr;
  }

 private:
  bool transform(EVP_CIPHER_CTX* ctx, ByteSpan iv, MutableByteSpan inout) {
    if (iv.size() != iv_size_ || inout.size() % block_size_ != 0 || inout.size() > kMaxCallLength) {
      return false;
    }
    // Setting the IV also restarts CTR at the beginning of a block.
    if (iv_size_ != 0 &&
        EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, iv.data(), /*enc=unchanged*/ -1) != 1) {
      return false;
    }
    if (inout.empty()) return true;
    int length = 0;
    return EVP_CipherUpdate(ctx, inout.data(), &length, inout.data(),
                            static_cast<int>(inout.size())) == 1 &&
           static_cast<std::size_t>(length) == inout.size();
  }

  const CipherAlgorithm algorithm_;
  const std::size_t iv_size_;
  const std::size_t block_size_;
  const SecretBytes key_;
  const EvpCipherCtxPtr encrypt_ctx_;
  const EvpCipherCtxPtr decrypt_ctx_;  // null for CTR
};

}  // namespace

Result<std::unique_ptr<Cipher>> make_openssl_cipher(CipherAlgorithm algorithm, ByteSpan key) {
  auto name = openssl_cipher_name(algorithm, key.size());
  if (!name.ok()) return name.error();
  const std::string label = algorithm_label(algorithm);
  ERR_clear_error();  // so that a failure below reports its own cause
  EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, name->c_str(), nullptr));
  if (!cipher) return Error(label + ": cannot load " + *name + ": " + take_openssl_error());

  auto encrypt_ctx = make_keyed_context(cipher.get(), key, 1, label);
  if (!encrypt_ctx.ok()) return encrypt_ctx.error();
  EvpCipherCtxPtr decrypt_ctx;
  if (algorithm != CipherAlgorithm::kAesCtr) {
    auto keyed = make_keyed_context(cipher.get(), key, 0, label);
    if (!keyed.ok()) return keyed.error();
    decrypt_ctx = std::move(keyed).value();
  }
  std::unique_ptr<Cipher> result = std::make_unique<OpensslCipher>(
      algorithm, SecretBytes(key), std::move(encrypt_ctx).value(), std::move(decrypt_ctx));
  return result;
}

}  // namespace uipsec
