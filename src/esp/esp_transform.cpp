#include "esp/esp_transform.hpp"

#include <cassert>
#include <cstring>

#include "crypto/random.hpp"
#include "wire/esp_header.hpp"

namespace uipsec {

MacAlgorithm mac_algorithm(EspIntegrity integrity) {
  switch (integrity) {
    case EspIntegrity::kHmacSha1:
      return MacAlgorithm::kHmacSha1;
    case EspIntegrity::kHmacSha384:
      return MacAlgorithm::kHmacSha384;
    case EspIntegrity::kHmacSha512:
      return MacAlgorithm::kHmacSha512;
    case EspIntegrity::kHmacSha256:
    case EspIntegrity::kNone:
      break;
  }
  return MacAlgorithm::kHmacSha256;
}

namespace {

// AAD of the combined modes (RFC 4106 §5, RFC 7634 §2.1): SPI and sequence number as sent, or
// with ESN the SPI, the high half and the low half (the high half is never sent).
struct Aad {
  std::array<std::uint8_t, 12> bytes;
  std::size_t size;
};

Aad make_aad(const std::uint8_t* header, std::uint32_t seq_high, bool esn) {
  Aad aad{};
  if (esn) {
    std::memcpy(aad.bytes.data(), header, 4);
    store_be32(aad.bytes.data() + 4, seq_high);
    std::memcpy(aad.bytes.data() + 8, header + 4, 4);
    aad.size = 12;
  } else {
    std::memcpy(aad.bytes.data(), header, 8);
    aad.size = 8;
  }
  return aad;
}

}  // namespace

EspTransform::~EspTransform() = default;

Result<EspTransform> EspTransform::create(const EspAlgorithms& a) {
  UIPSEC_TRY(validate(a));
  EspTransform t;
  t.cipher_ = a.cipher;
  t.salt_size_ = salt_size(a.cipher);
  const ByteSpan key = a.cipher_key.first(a.cipher_key.size() - t.salt_size_);
  if (t.salt_size_ != 0) {
    std::memcpy(t.salt_.data(), a.cipher_key.subspan(key.size()).data(), t.salt_size_);
  }
  t.icv_size_ = a.icv_bits / 8;

  switch (a.cipher) {
    case EspCipher::kAesGcm:
    case EspCipher::kAesGmac:
    case EspCipher::kAesCcm:
    case EspCipher::kChaCha20Poly1305: {
      const AeadAlgorithm algorithm = a.cipher == EspCipher::kAesCcm ? AeadAlgorithm::kAesCcm
                                      : a.cipher == EspCipher::kChaCha20Poly1305
                                          ? AeadAlgorithm::kChaCha20Poly1305
                                          : AeadAlgorithm::kAesGcm;
      // intel-ipsec-mb for AES-GCM/GMAC where available, else OpenSSL (crypto/aead.hpp).
      auto aead = make_aead(algorithm, key, t.icv_size_);
      if (!aead) return aead.error();
      t.aead_ = std::move(*aead);
      t.iv_size_ = 8;
      break;
    }
    case EspCipher::kAesCbc:
    case EspCipher::kAesCtr: {
      const bool cbc = a.cipher == EspCipher::kAesCbc;
      auto cipher =
          make_openssl_cipher(cbc ? CipherAlgorithm::kAesCbc : CipherAlgorithm::kAesCtr, key);
      if (!cipher) return cipher.error();
      t.cipher_ctx_ = std::move(*cipher);
      t.iv_size_ = cbc ? 16 : 8;
      t.block_size_ = cbc ? 16 : 4;
      if (cbc) {
        SecretBytes iv_key(16);
        UIPSEC_TRY(fill_random(iv_key.mutable_span()));
        auto iv_cipher = make_openssl_cipher(CipherAlgorithm::kAesEcb, iv_key.span());
        if (!iv_cipher) return iv_cipher.error();
        t.iv_cipher_ = std::move(*iv_cipher);
      }
      break;
    }
    case EspCipher::kNull:
      t.iv_size_ = 0;
      break;
  }
  if (!is_combined_mode(a.cipher)) {
    auto mac = make_openssl_mac(mac_algorithm(a.integrity), a.integrity_key.span());
    if (!mac) return mac.error();
    t.mac_ = std::move(*mac);
  }
  UIPSEC_TRY(fill_random(t.iv_salt_));
  return t;
}

bool EspTransform::make_iv(std::uint64_t seq, MutableByteSpan iv) {
  assert(iv.size() == iv_size_);
  if (fixed_iv_) {
    std::memcpy(iv.data(), fixed_iv_->data(), iv.size());
    return true;
  }
  if (iv_size_ == 0) return true;
  std::uint8_t counter[8];
  store_be64(counter, seq);
  if (iv_cipher_ == nullptr) {
    for (std::size_t i = 0; i < 8; ++i) iv[i] = counter[i] ^ iv_salt_[i];
    return true;
  }
  // CBC: encrypt the unique block (salt, seq) under the SA's private IV key.
  std::memcpy(iv.data(), iv_salt_.data(), 8);
  std::memcpy(iv.data() + 8, counter, 8);
  return iv_cipher_->encrypt({}, iv);
}

namespace {

// The nonce of the combined modes: salt from the key, then the packet's IV (RFC 4106 §4,
// RFC 4309 §4, RFC 7634 §2).
struct Nonce {
  std::array<std::uint8_t, 12> bytes;
  std::size_t size;
  ByteSpan span() const { return {bytes.data(), size}; }
};

Nonce make_nonce(ByteSpan salt, ByteSpan iv) {
  Nonce n{};
  std::memcpy(n.bytes.data(), salt.data(), salt.size());
  std::memcpy(n.bytes.data() + salt.size(), iv.data(), iv.size());
  n.size = salt.size() + iv.size();
  return n;
}

}  // namespace

bool EspTransform::aead_apply(const EspLayout& p, std::uint32_t seq_high, bool esn, bool sealing) {
  const Nonce nonce = make_nonce(ByteSpan(salt_.data(), salt_size_), p.iv);
  const Aad aad = make_aad(p.header, seq_high, esn);
  const ByteSpan aad_span(aad.bytes.data(), aad.size);
  // RFC 4543 §3.3: GMAC authenticates header, IV and payload and encrypts nothing.
  const bool gmac = cipher_ == EspCipher::kAesGmac;
  const ByteSpan gmac_parts[] = {aad_span, p.iv, p.payload};
  const std::span<const ByteSpan> parts =
      gmac ? std::span<const ByteSpan>(gmac_parts) : std::span<const ByteSpan>(&aad_span, 1);
  const MutableByteSpan text = gmac ? MutableByteSpan() : p.payload;
  return sealing ? aead_->seal(nonce.span(), parts, text, p.icv)
                 : aead_->open(nonce.span(), parts, text, p.icv);
}

bool EspTransform::cipher_apply(const EspLayout& p, bool encrypting) {
  if (cipher_ctx_ == nullptr) return true;  // NULL encryption
  ByteSpan iv = p.iv;
  std::uint8_t block[16];
  if (cipher_ == EspCipher::kAesCtr) {
    // RFC 3686 §4: counter block = nonce, IV, block counter starting at 1.
    std::memcpy(block, salt_.data(), 4);
    std::memcpy(block + 4, p.iv.data(), 8);
    store_be32(block + 12, 1);
    iv = ByteSpan(block, 16);
  }
  return encrypting ? cipher_ctx_->encrypt(iv, p.payload) : cipher_ctx_->decrypt(iv, p.payload);
}

bool EspTransform::compute_icv(const EspLayout& p, std::uint32_t seq_high, bool esn,
                               MutableByteSpan icv) {
  // Encrypt-then-MAC over header, IV and ciphertext, plus the ESN high half, which is appended
  // for the ICV computation only (RFC 4303 §2.2.1, §3.3.2).
  std::uint8_t high[4];
  store_be32(high, seq_high);
  const ByteSpan parts[] = {ByteSpan(p.header, kEspHeaderSize), p.iv, p.payload,
                            ByteSpan(high, esn ? 4 : 0)};
  return mac_->compute(parts, icv);
}

bool EspTransform::seal(const EspLayout& p, std::uint32_t seq_high, bool esn) {
  if (aead_ != nullptr) return aead_apply(p, seq_high, esn, /*sealing=*/true);
  return cipher_apply(p, /*encrypting=*/true) && compute_icv(p, seq_high, esn, p.icv);
}

bool EspTransform::open(const EspLayout& p, std::uint32_t seq_high, bool esn) {
  if (aead_ != nullptr) return aead_apply(p, seq_high, esn, /*sealing=*/false);
  std::uint8_t expected[64];
  const MutableByteSpan expected_icv(expected, p.icv.size());
  if (!compute_icv(p, seq_high, esn, expected_icv)) return false;
  if (!equal_constant_time(expected_icv, p.icv)) return false;
  return cipher_apply(p, /*encrypting=*/false);
}

Result<EspTransform> EspTransform::clone() const {
  EspTransform t;
  t.cipher_ = cipher_;
  t.iv_size_ = iv_size_;
  t.icv_size_ = icv_size_;
  t.block_size_ = block_size_;
  t.salt_size_ = salt_size_;
  t.salt_ = salt_;
  t.iv_salt_ = iv_salt_;
  t.fixed_iv_ = fixed_iv_;
  if (aead_) t.aead_ = aead_->clone();
  if (cipher_ctx_) t.cipher_ctx_ = cipher_ctx_->clone();
  if (mac_) t.mac_ = mac_->clone();
  if (iv_cipher_) t.iv_cipher_ = iv_cipher_->clone();
  if ((aead_ && !t.aead_) || (cipher_ctx_ && !t.cipher_ctx_) || (mac_ && !t.mac_) ||
      (iv_cipher_ && !t.iv_cipher_)) {
    return Error("cannot copy the SA's crypto contexts (OpenSSL failure)");
  }
  return t;
}

void EspTransform::set_fixed_iv_for_testing(ByteSpan iv) {
  assert(iv.size() == iv_size_);
  fixed_iv_.emplace();
  std::memcpy(fixed_iv_->data(), iv.data(), iv.size());
}

}  // namespace uipsec
