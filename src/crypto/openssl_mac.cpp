// OpenSSL 3 implementation of Mac: HMAC (RFC 2104) with SHA-1 (RFC 2404) and SHA-2 (RFC 4868),
// truncated to the caller's length.
//
// At construction the key is absorbed once: two digest states, after H's first block of
// (K0 xor ipad) and of (K0 xor opad). Per call:
//   1. copy the inner state, hash the parts, finish: inner hash;
//   2. copy the outer state, hash the inner hash, finish: the MAC; keep its leftmost bytes.
// The states are OpenSSL's low-level SHA contexts (SHA_CTX, SHA256_CTX, SHA512_CTX), plain
// structs that are copied by assignment. The EVP route (EVP_MD_CTX_copy_ex, or EVP_MAC re-init)
// allocates a digest state on every call in OpenSSL 3.0 and costs ~80 ns more per packet; the
// packet path allocates nothing. These functions are deprecated in 3.0 but present (the same
// SHA-NI/AVX assembly underneath), hence OPENSSL_SUPPRESS_DEPRECATED for this file only.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <cstring>
#include <string>
#include <utility>

#include "crypto/mac.hpp"
#include "crypto/openssl_handles.hpp"

namespace uipsec {
namespace {

constexpr std::size_t kMaxBlockSize = 128;  // SHA-384/512
constexpr std::uint8_t kInnerPad = 0x36;
constexpr std::uint8_t kOuterPad = 0x5c;

struct HmacSpec {
  const char* label;
  const char* digest;
  std::size_t digest_size;
};

Result<HmacSpec> spec_of(MacAlgorithm algorithm) {
  switch (algorithm) {
    case MacAlgorithm::kHmacSha1:
      return HmacSpec{"HMAC-SHA-1", "SHA1", 20};
    case MacAlgorithm::kHmacSha256:
      return HmacSpec{"HMAC-SHA-256", "SHA256", 32};
    case MacAlgorithm::kHmacSha384:
      return HmacSpec{"HMAC-SHA-384", "SHA384", 48};
    case MacAlgorithm::kHmacSha512:
      return HmacSpec{"HMAC-SHA-512", "SHA512", 64};
  }
  return Error("unknown MAC algorithm " + std::to_string(static_cast<int>(algorithm)));
}

// The low-level SHA functions of one digest.
template <class Ctx>
struct ShaFunctions {
  int (*init)(Ctx*);
  int (*update)(Ctx*, const void*, std::size_t);
  int (*final)(unsigned char*, Ctx*);
};

// Owner: one thread at a time.
template <class Ctx>
class OpensslMac final : public Mac {
 public:
  OpensslMac(MacAlgorithm algorithm, std::size_t digest_size, ShaFunctions<Ctx> sha)
      : algorithm_(algorithm), digest_size_(digest_size), sha_(sha) {}
  ~OpensslMac() override {
    OPENSSL_cleanse(&inner_, sizeof(inner_));
    OPENSSL_cleanse(&outer_, sizeof(outer_));
  }

  // Absorbs one padded key block into each state. False if the library fails.
  bool set_padded_key(const std::uint8_t* inner_block, const std::uint8_t* outer_block,
                      std::size_t block_size) {
    return sha_.init(&inner_) == 1 && sha_.update(&inner_, inner_block, block_size) == 1 &&
           sha_.init(&outer_) == 1 && sha_.update(&outer_, outer_block, block_size) == 1;
  }

  MacAlgorithm algorithm() const override { return algorithm_; }
  std::size_t digest_size() const override { return digest_size_; }

  bool compute(std::span<const ByteSpan> parts, MutableByteSpan out) override {
    if (out.size() > digest_size_) return false;
    std::array<std::uint8_t, 64> inner_hash;
    std::array<std::uint8_t, 64> mac;
    Ctx work = inner_;
    bool ok = true;
    for (ByteSpan part : parts) {
      if (!part.empty()) ok &= sha_.update(&work, part.data(), part.size()) == 1;
    }
    ok &= sha_.final(inner_hash.data(), &work) == 1;
    work = outer_;
    ok &= sha_.update(&work, inner_hash.data(), digest_size_) == 1;
    ok &= sha_.final(mac.data(), &work) == 1;
    if (ok && !out.empty()) std::memcpy(out.data(), mac.data(), out.size());
    OPENSSL_cleanse(&work, sizeof(work));
    return ok;
  }

  // Copies the keyed digest states: no key is kept.
  std::unique_ptr<Mac> clone() const override {
    auto copy = std::make_unique<OpensslMac>(algorithm_, digest_size_, sha_);
    copy->inner_ = inner_;
    copy->outer_ = outer_;
    return copy;
  }

 private:
  const MacAlgorithm algorithm_;
  const std::size_t digest_size_;
  const ShaFunctions<Ctx> sha_;
  Ctx inner_{};  // after the (K0 xor ipad) block; key-equivalent, wiped on destruction
  Ctx outer_{};  // after the (K0 xor opad) block
};

template <class Ctx>
std::unique_ptr<Mac> keyed(MacAlgorithm algorithm, std::size_t digest_size, ShaFunctions<Ctx> sha,
                           const std::uint8_t* inner_block, const std::uint8_t* outer_block,
                           std::size_t block_size) {
  auto mac = std::make_unique<OpensslMac<Ctx>>(algorithm, digest_size, sha);
  if (!mac->set_padded_key(inner_block, outer_block, block_size)) return nullptr;
  return mac;
}

// Builds the Mac for `algorithm` from the two padded key blocks; null if the library fails.
std::unique_ptr<Mac> make_keyed(MacAlgorithm algorithm, std::size_t digest_size,
                                const std::uint8_t* inner, const std::uint8_t* outer,
                                std::size_t block_size) {
  switch (algorithm) {
    case MacAlgorithm::kHmacSha1:
      return keyed(algorithm, digest_size,
                   ShaFunctions<SHA_CTX>{SHA1_Init, SHA1_Update, SHA1_Final}, inner, outer,
                   block_size);
    case MacAlgorithm::kHmacSha256:
      return keyed(algorithm, digest_size,
                   ShaFunctions<SHA256_CTX>{SHA256_Init, SHA256_Update, SHA256_Final}, inner, outer,
                   block_size);
    case MacAlgorithm::kHmacSha384:
      return keyed(algorithm, digest_size,
                   ShaFunctions<SHA512_CTX>{SHA384_Init, SHA384_Update, SHA384_Final}, inner, outer,
                   block_size);
    case MacAlgorithm::kHmacSha512:
      return keyed(algorithm, digest_size,
                   ShaFunctions<SHA512_CTX>{SHA512_Init, SHA512_Update, SHA512_Final}, inner, outer,
                   block_size);
  }
  return nullptr;
}

}  // namespace

Result<std::unique_ptr<Mac>> make_openssl_mac(MacAlgorithm algorithm, ByteSpan key) {
  auto spec = spec_of(algorithm);
  if (!spec.ok()) return spec.error();
  const std::string label = spec->label;
  if (key.empty()) return Error(label + ": key must not be empty");

  ERR_clear_error();  // so that a failure below reports its own cause
  EvpMdPtr md(EVP_MD_fetch(nullptr, spec->digest, nullptr));
  if (!md) return Error(label + ": cannot load " + spec->digest + ": " + take_openssl_error());
  const auto block_size = static_cast<std::size_t>(EVP_MD_get_block_size(md.get()));
  if (block_size == 0 || block_size > kMaxBlockSize) {
    return Error(label + ": unexpected digest block size " + std::to_string(block_size));
  }

  // RFC 2104: K0 is the key, hashed first if longer than a block, zero-padded to a block.
  std::array<std::uint8_t, kMaxBlockSize> k0{};
  std::array<std::uint8_t, kMaxBlockSize> padded{};
  bool ok = true;
  if (key.size() > block_size) {
    unsigned int length = 0;
    ok = EVP_Digest(key.data(), key.size(), k0.data(), &length, md.get(), nullptr) == 1;
  } else {
    std::memcpy(k0.data(), key.data(), key.size());
  }
  std::unique_ptr<Mac> mac;
  if (ok) {
    std::array<std::uint8_t, kMaxBlockSize> outer_padded{};
    for (std::size_t i = 0; i < block_size; ++i) {
      padded[i] = k0[i] ^ kInnerPad;
      outer_padded[i] = k0[i] ^ kOuterPad;
    }
    mac = make_keyed(algorithm, spec->digest_size, padded.data(), outer_padded.data(), block_size);
    OPENSSL_cleanse(outer_padded.data(), outer_padded.size());
  }
  OPENSSL_cleanse(k0.data(), k0.size());
  OPENSSL_cleanse(padded.data(), padded.size());
  if (!mac) return Error(label + ": cannot set the key: " + take_openssl_error());
  return mac;
}

}  // namespace uipsec
