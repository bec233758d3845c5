// Per-packet cost of esp_seal and esp_open (RFC 4303 §3.3, §3.4) for every algorithm suite
// uipsec implements (test::all_suites(): AES-GCM 8/12/16 with 128/192/256-bit keys,
// ChaCha20-Poly1305, AES-CCM, AES-GMAC, AES-CBC and AES-CTR with HMAC-SHA1/SHA-2, NULL with
// HMAC), next to the bare crypto call on the same bytes, in the same binary: on a shared, noisy
// machine only the ratio ours / bare within one run means something. The target: AES-128-GCM
// seal at 1400 bytes within 1.3x of the bare call. Payloads of 64, 512, 1400 and 9000 bytes;
// throughput (SetBytesProcessed) counts payload bytes, in both ours and bare.
//
// What one iteration does:
//   BM_Seal/<suite>/<n>            esp_seal of an n-byte payload in place, then pull_front and
//                                  truncate back to the payload region. No copy: each seal
//                                  encrypts the previous ciphertext, always n bytes, with a new
//                                  sequence number (so a new IV).
//   BM_CryptoSeal/<suite>/<n>      the crypto module's objects (crypto/aead.hpp, cipher.hpp,
//                                  mac.hpp), keyed once, called directly on the bytes esp_seal
//                                  protects — the AEAD with the salt || IV nonce and the 8-byte
//                                  AAD (GMAC: AAD = header, IV and payload; nothing encrypted);
//                                  or the cipher (CBC: IV from a counter; CTR: the RFC 3686
//                                  counter block) and the HMAC over header || IV || ciphertext.
//                                  No ESP framing: no padding, trailer, header or IV generation.
//                                  Ours / this is the cost of the ESP layer alone.
//   BM_BareOpensslSeal/<suite>/<n> (AES-128/256-GCM-16, ChaCha20-Poly1305, AES-128-CBC +
//                                  HMAC-SHA-256-128 only) the EVP call sequence our crypto module
//                                  wraps, on the same bytes: ours / this adds the crypto module's
//                                  own wrapping (virtual call, AAD parts, parameter checks).
//   BM_Open/<suite>/<n>            memcpy of one sealed ESP packet into the buffer (open decrypts
//                                  in place, so the ciphertext must come back), then esp_open.
//                                  Anti-replay is off (window size 0): the same packet opens every
//                                  time. The window check it skips costs a few ns
//                                  (replay_window_bench).
//   BM_CryptoOpen, BM_BareOpensslOpen
//                                  the same memcpy (same length: header to ICV), then the crypto
//                                  module's open (AEAD, or HMAC, constant-time compare, decrypt),
//                                  or the EVP sequence; the copy is in both, so the ratio stays
//                                  fair.
//   BM_MakeIv/<suite>              EspTransform::make_iv alone.
//
// The bare EVP sequences use the same API choices as our crypto module, so that the ratio
// measures our layers and not an OpenSSL API choice:
//   AEAD: EVP_{En,De}cryptInit_ex with the nonce only on a context keyed once; the 8-byte AAD
//         (SPI || sequence); update in place; tag read or set with EVP_CIPHER_CTX_{get,set}_params
//         (as openssl_aead.cpp does); final.
//   CBC + HMAC: EVP_EncryptInit_ex with the IV only on a keyed context, update in place; HMAC as
//         openssl_mac.cpp does it: copy the pre-keyed inner digest state, hash header || IV ||
//         ciphertext, finish, copy the outer state, hash, finish, keep 16 bytes. Open: the same
//         HMAC, CRYPTO_memcmp, then decrypt.
// The CBC baselines take a counter as IV; esp_seal makes a CBC IV by encrypting (salt, seq) with
// AES (one EVP call), which therefore shows as ESP overhead — BM_MakeIv measures it alone.
//
// Run: bench/run_micro.sh (figures in docs/BENCHMARKS.md).
#include <benchmark/benchmark.h>
// The HMAC baseline keeps low-level SHA-256 contexts, as openssl_mac.cpp does (deprecated in
// OpenSSL 3.0 but present; the EVP route allocates on every call).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "crypto/aead.hpp"
#include "crypto/cipher.hpp"
#include "crypto/mac.hpp"
#include "esp/esp_packet.hpp"
#include "esp/esp_test_support.hpp"
#include "wire/esp_header.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

using test::make_suite;
using test::make_transform;
using test::OwnedBuffer;

// Owners for the baselines' OpenSSL objects (crypto/openssl_handles.hpp is internal to crypto).
template <auto kFree>
struct OpensslFree {
  template <class T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using EvpCipherPtr = std::unique_ptr<EVP_CIPHER, OpensslFree<&EVP_CIPHER_free>>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, OpensslFree<&EVP_CIPHER_CTX_free>>;

// The suites that also have a raw EVP baseline (the same keys as in test::all_suites()).
enum class SuiteId { kAes128Gcm, kAes256Gcm, kChaCha20Poly1305, kAes128CbcSha256 };

test::Suite suite_of(SuiteId id) {
  switch (id) {
    case SuiteId::kAes128Gcm:
      return make_suite("aes128gcm16", EspCipher::kAesGcm, 20);
    case SuiteId::kAes256Gcm:
      return make_suite("aes256gcm16", EspCipher::kAesGcm, 36);
    case SuiteId::kChaCha20Poly1305:
      return make_suite("chacha20poly1305", EspCipher::kChaCha20Poly1305, 36);
    case SuiteId::kAes128CbcSha256:
      break;
  }
  return make_suite("aes128cbc-sha256", EspCipher::kAesCbc, 16, EspIntegrity::kHmacSha256, 128);
}

constexpr Spi kSpi(0x1000);
constexpr std::size_t kIcvSize = 16;  // every suite with a raw EVP baseline has a 128-bit ICV

void sizes(benchmark::internal::Benchmark* b) { b->Arg(64)->Arg(512)->Arg(1400)->Arg(9000); }

std::size_t payload_size(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

void set_throughput(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

// An OwnedBuffer holding an n-byte payload (a fixed pattern).
void fill_payload(OwnedBuffer& buffer, std::size_t n) {
  const std::vector<std::uint8_t> bytes = test::pattern(n, 7);
  std::memcpy(buffer->push_back(n), bytes.data(), n);
}

// ---- ours -----------------------------------------------------------------------------------

void BM_Seal(benchmark::State& state, const test::Suite& suite) {
  EspTransform transform = make_transform(suite.algorithms);
  const std::size_t n = payload_size(state);
  const std::size_t front = esp_overhead_front(transform);
  OwnedBuffer buffer;
  fill_payload(buffer, n);
  std::uint64_t seq = 0;
  bool ok = true;
  for (auto _ : state) {
    const Verdict v = esp_seal(transform, kSpi, ++seq, false, ip_protocol::kIpv4, *buffer);
    ok &= v == Verdict::send_to_peer();
    // Back to the payload region: the next iteration encrypts n bytes again, without a copy.
    buffer->pull_front(front);
    buffer->truncate(n);
    benchmark::ClobberMemory();
  }
  if (!ok) state.SkipWithError("esp_seal failed");
  set_throughput(state);
}

void BM_Open(benchmark::State& state, const test::Suite& suite) {
  EspTransform transform = make_transform(suite.algorithms);
  const std::size_t n = payload_size(state);
  OwnedBuffer buffer;
  fill_payload(buffer, n);
  if (esp_seal(transform, kSpi, 1, false, ip_protocol::kIpv4, *buffer) != Verdict::send_to_peer()) {
    state.SkipWithError("esp_seal failed");
    return;
  }
  const std::vector<std::uint8_t> sealed = buffer.bytes();
  ReplayWindow window(0);  // anti-replay off: the same packet is accepted every time
  bool ok = true;
  for (auto _ : state) {
    buffer->reset(kPacketHeadroom);
    std::memcpy(buffer->push_back(sealed.size()), sealed.data(), sealed.size());
    const OpenResult r = esp_open(transform, window, false, *buffer);
    ok &= r.verdict == Verdict::deliver_to_tun() && buffer->size() == n;
    benchmark::ClobberMemory();
  }
  if (!ok) state.SkipWithError("esp_open failed");
  set_throughput(state);
}

// EspTransform::make_iv alone: an XOR for the counter modes, one AES block through EVP for CBC,
// nothing for NULL.
void BM_MakeIv(benchmark::State& state, const test::Suite& suite) {
  EspTransform transform = make_transform(suite.algorithms);
  std::array<std::uint8_t, 16> iv{};
  const MutableByteSpan span(iv.data(), transform.iv_size());
  std::uint64_t seq = 0;
  bool ok = true;
  for (auto _ : state) {
    ok &= transform.make_iv(++seq, span);
    benchmark::ClobberMemory();
  }
  if (!ok) state.SkipWithError("make_iv failed");
}

// ---- bare OpenSSL -----------------------------------------------------------------------------

// The bytes esp_seal encrypts for an n-byte payload: payload, minimal padding, pad length, next
// header.
std::size_t encrypted_size(std::size_t n, std::size_t block) {
  return n + 2 + (block - (n + 2) % block) % block;
}

// A packet laid out as ESP lays it out, at the same offset in a buffer of the same kind:
// [ header (8) ][ iv ][ encrypted ][ icv (16) ].
struct BareLayout {
  BareLayout(std::size_t iv_bytes, std::size_t encrypted, std::size_t icv_bytes = kIcvSize)
      : storage(kPacketHeadroom + kEspHeaderSize + iv_bytes + encrypted + icv_bytes + 64),
        header(storage.data() + kPacketHeadroom),
        iv(header + kEspHeaderSize),
        text(iv + iv_bytes),
        icv(text + encrypted),
        packet_size(kEspHeaderSize + iv_bytes + encrypted + icv_bytes),
        text_size(encrypted),
        iv_size(iv_bytes),
        icv_size(icv_bytes) {}
  std::vector<std::uint8_t> storage;
  std::uint8_t* header;
  std::uint8_t* iv;
  std::uint8_t* text;
  std::uint8_t* icv;
  std::size_t packet_size;
  std::size_t text_size;
  std::size_t iv_size;
  std::size_t icv_size;
};

bool read_tag(EVP_CIPHER_CTX* ctx, std::uint8_t* tag) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kIcvSize),
      OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_get_params(ctx, params) == 1;
}

bool set_tag(EVP_CIPHER_CTX* ctx, std::uint8_t* tag) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kIcvSize),
      OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_set_params(ctx, params) == 1;
}

// One keyed context per direction, as OpensslAead keeps them.
struct BareAead {
  explicit BareAead(SuiteId id) {
    const test::Suite suite = suite_of(id);
    const char* name = id == SuiteId::kAes128Gcm   ? "AES-128-GCM"
                       : id == SuiteId::kAes256Gcm ? "AES-256-GCM"
                                                   : "ChaCha20-Poly1305";
    const ByteSpan key = suite.algorithms.cipher_key.first(suite.algorithms.cipher_key.size() - 4);
    std::memcpy(nonce.data(), suite.algorithms.cipher_key.subspan(key.size()).data(), 4);
    EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, name, nullptr));
    seal_ctx.reset(EVP_CIPHER_CTX_new());
    open_ctx.reset(EVP_CIPHER_CTX_new());
    ok = cipher && seal_ctx && open_ctx &&
         EVP_EncryptInit_ex(seal_ctx.get(), cipher.get(), nullptr, key.data(), nullptr) == 1 &&
         EVP_DecryptInit_ex(open_ctx.get(), cipher.get(), nullptr, key.data(), nullptr) == 1;
  }

  // Seals layout.text in place; the AAD is the packet's header, the nonce salt || seq.
  bool seal(BareLayout& p, std::uint64_t seq) {
    store_be32(p.header + 4, static_cast<std::uint32_t>(seq));
    store_be64(nonce.data() + 4, seq);
    EVP_CIPHER_CTX* ctx = seal_ctx.get();
    int length = 0;
    std::uint8_t no_output = 0;
    return EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
           EVP_EncryptUpdate(ctx, nullptr, &length, p.header, kEspHeaderSize) == 1 &&
           EVP_EncryptUpdate(ctx, p.text, &length, p.text, static_cast<int>(p.text_size)) == 1 &&
           EVP_EncryptFinal_ex(ctx, &no_output, &length) == 1 && read_tag(ctx, p.icv);
  }

  // Opens a packet sealed with seal(p, seq).
  bool open(BareLayout& p, std::uint64_t seq) {
    store_be64(nonce.data() + 4, seq);
    EVP_CIPHER_CTX* ctx = open_ctx.get();
    int length = 0;
    std::uint8_t no_output = 0;
    return EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
           EVP_DecryptUpdate(ctx, nullptr, &length, p.header, kEspHeaderSize) == 1 &&
           EVP_DecryptUpdate(ctx, p.text, &length, p.text, static_cast<int>(p.text_size)) == 1 &&
           set_tag(ctx, p.icv) && EVP_DecryptFinal_ex(ctx, &no_output, &length) == 1;
  }

  std::array<std::uint8_t, 12> nonce{};
  EvpCipherCtxPtr seal_ctx;
  EvpCipherCtxPtr open_ctx;
  bool ok = false;
};

// AES-128-CBC with HMAC-SHA-256-128, the way openssl_cipher.cpp and openssl_mac.cpp call OpenSSL.
struct BareCbcHmac {
  BareCbcHmac() {
    const test::Suite suite = suite_of(SuiteId::kAes128CbcSha256);
    EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr));
    encrypt_ctx.reset(EVP_CIPHER_CTX_new());
    decrypt_ctx.reset(EVP_CIPHER_CTX_new());
    ok = cipher && encrypt_ctx && decrypt_ctx &&
         EVP_EncryptInit_ex(encrypt_ctx.get(), cipher.get(), nullptr,
                            suite.algorithms.cipher_key.data(), nullptr) == 1 &&
         EVP_DecryptInit_ex(decrypt_ctx.get(), cipher.get(), nullptr,
                            suite.algorithms.cipher_key.data(), nullptr) == 1 &&
         EVP_CIPHER_CTX_set_padding(encrypt_ctx.get(), 0) == 1 &&
         EVP_CIPHER_CTX_set_padding(decrypt_ctx.get(), 0) == 1;
    // RFC 2104 with a key shorter than the block: K0 = key, zero-padded to 64 bytes. Like
    // openssl_mac.cpp, keep the keyed inner and outer SHA-256 states as plain structs.
    std::array<std::uint8_t, 64> k0{};
    std::memcpy(k0.data(), suite.algorithms.integrity_key.data(),
                suite.algorithms.integrity_key.size());
    std::array<std::uint8_t, 64> padded{};
    for (std::size_t i = 0; i < 64; ++i) padded[i] = k0[i] ^ 0x36;
    ok = ok && SHA256_Init(&inner) == 1 && SHA256_Update(&inner, padded.data(), padded.size()) == 1;
    for (std::size_t i = 0; i < 64; ++i) padded[i] = k0[i] ^ 0x5c;
    ok = ok && SHA256_Init(&outer) == 1 && SHA256_Update(&outer, padded.data(), padded.size()) == 1;
  }

  // HMAC-SHA-256 over header || IV || ciphertext, leftmost 16 bytes to `out`.
  bool mac(const BareLayout& p, std::uint8_t* out) {
    std::array<std::uint8_t, 32> inner_hash;
    std::array<std::uint8_t, 32> full;
    SHA256_CTX w = inner;
    if (SHA256_Update(&w, p.header, kEspHeaderSize + 16 + p.text_size) != 1 ||
        SHA256_Final(inner_hash.data(), &w) != 1) {
      return false;
    }
    w = outer;
    if (SHA256_Update(&w, inner_hash.data(), inner_hash.size()) != 1 ||
        SHA256_Final(full.data(), &w) != 1) {
      return false;
    }
    std::memcpy(out, full.data(), kIcvSize);
    return true;
  }

  bool seal(BareLayout& p, std::uint64_t seq) {
    store_be32(p.header + 4, static_cast<std::uint32_t>(seq));
    store_be64(p.iv + 8, seq);
    int length = 0;
    return EVP_EncryptInit_ex(encrypt_ctx.get(), nullptr, nullptr, nullptr, p.iv) == 1 &&
           EVP_EncryptUpdate(encrypt_ctx.get(), p.text, &length, p.text,
                             static_cast<int>(p.text_size)) == 1 &&
           mac(p, p.icv);
  }

  // The IV travels in the packet; `seq` only mirrors BareAead::open.
  bool open(BareLayout& p, std::uint64_t /*seq*/) {
    std::array<std::uint8_t, kIcvSize> expected;
    int length = 0;
    return mac(p, expected.data()) && CRYPTO_memcmp(expected.data(), p.icv, kIcvSize) == 0 &&
           EVP_DecryptInit_ex(decrypt_ctx.get(), nullptr, nullptr, nullptr, p.iv) == 1 &&
           EVP_DecryptUpdate(decrypt_ctx.get(), p.text, &length, p.text,
                             static_cast<int>(p.text_size)) == 1;
  }

  EvpCipherCtxPtr encrypt_ctx;
  EvpCipherCtxPtr decrypt_ctx;
  SHA256_CTX inner{};
  SHA256_CTX outer{};
  bool ok = false;
};

// ---- the crypto module alone -------------------------------------------------------------

// The crypto objects an EspTransform holds for `suite`, keyed once, called without ESP framing.
struct CryptoBaseline {
  explicit CryptoBaseline(const test::Suite& suite) {
    const EspAlgorithms& a = suite.algorithms;
    salt_size = salt_size_of(a.cipher);
    const ByteSpan key = a.cipher_key.first(a.cipher_key.size() - salt_size);
    std::memcpy(salt.data(), a.cipher_key.data() + key.size(), salt_size);
    icv_size = a.icv_bits / 8;
    gmac = a.cipher == EspCipher::kAesGmac;
    ctr = a.cipher == EspCipher::kAesCtr;
    switch (a.cipher) {
      case EspCipher::kAesGcm:
      case EspCipher::kAesGmac:
      case EspCipher::kAesCcm:
      case EspCipher::kChaCha20Poly1305: {
        const AeadAlgorithm algorithm = a.cipher == EspCipher::kAesCcm ? AeadAlgorithm::kAesCcm
                                        : a.cipher == EspCipher::kChaCha20Poly1305
                                            ? AeadAlgorithm::kChaCha20Poly1305
                                            : AeadAlgorithm::kAesGcm;
        auto made = make_openssl_aead(algorithm, key, icv_size);
        if (made) aead = std::move(*made);
        iv_size = 8;
        block = 4;
        ok = aead != nullptr;
        return;
      }
      case EspCipher::kAesCbc:
      case EspCipher::kAesCtr: {
        auto made =
            make_openssl_cipher(ctr ? CipherAlgorithm::kAesCtr : CipherAlgorithm::kAesCbc, key);
        if (made) cipher = std::move(*made);
        iv_size = ctr ? 8 : 16;
        block = ctr ? 4 : 16;
        break;
      }
      case EspCipher::kNull:
        iv_size = 0;
        block = 4;
        break;
    }
    auto made = make_openssl_mac(uipsec::mac_algorithm(a.integrity), a.integrity_key.span());
    if (made) mac = std::move(*made);
    ok = mac != nullptr && (a.cipher == EspCipher::kNull || cipher != nullptr);
  }

  static std::size_t salt_size_of(EspCipher cipher) { return uipsec::salt_size(cipher); }

  // The AEAD's nonce for IV `iv`: salt || IV (RFC 4106 §4, RFC 4309 §4, RFC 7634 §2).
  ByteSpan nonce(const std::uint8_t* iv) {
    std::memcpy(nonce_bytes.data(), salt.data(), salt_size);
    std::memcpy(nonce_bytes.data() + salt_size, iv, 8);
    return ByteSpan(nonce_bytes.data(), salt_size + 8);
  }
  // CTR's counter block: nonce || IV || 1 (RFC 3686 §4); CBC's IV as it is.
  ByteSpan cipher_iv(const BareLayout& p) {
    if (!ctr) return ByteSpan(p.iv, p.iv_size);
    std::memcpy(counter_block.data(), salt.data(), 4);
    std::memcpy(counter_block.data() + 4, p.iv, 8);
    store_be32(counter_block.data() + 12, 1);
    return ByteSpan(counter_block.data(), 16);
  }

  bool seal(BareLayout& p, std::uint64_t seq) {
    store_be32(p.header + 4, static_cast<std::uint32_t>(seq));
    if (p.iv_size != 0) store_be64(p.iv + p.iv_size - 8, seq);  // a counter as IV
    const MutableByteSpan text(p.text, p.text_size);
    const MutableByteSpan icv(p.icv, p.icv_size);
    const ByteSpan header(p.header, kEspHeaderSize);
    if (aead) {
      if (gmac) {
        const ByteSpan parts[] = {header, ByteSpan(p.iv, 8), text};
        return aead->seal(nonce(p.iv), parts, MutableByteSpan(), icv);
      }
      const ByteSpan parts[] = {header};
      return aead->seal(nonce(p.iv), parts, text, icv);
    }
    if (cipher && !cipher->encrypt(cipher_iv(p), text)) return false;
    const ByteSpan parts[] = {header, ByteSpan(p.iv, p.iv_size), text};
    return mac->compute(parts, icv);
  }

  // Opens a packet sealed with seal(p, seq).
  bool open(BareLayout& p, std::uint64_t /*seq*/) {
    const MutableByteSpan text(p.text, p.text_size);
    const ByteSpan icv(p.icv, p.icv_size);
    const ByteSpan header(p.header, kEspHeaderSize);
    if (aead) {
      if (gmac) {
        const ByteSpan parts[] = {header, ByteSpan(p.iv, 8), text};
        return aead->open(nonce(p.iv), parts, MutableByteSpan(), icv);
      }
      const ByteSpan parts[] = {header};
      return aead->open(nonce(p.iv), parts, text, icv);
    }
    const ByteSpan parts[] = {header, ByteSpan(p.iv, p.iv_size), text};
    const MutableByteSpan computed(expected.data(), p.icv_size);
    if (!mac->compute(parts, computed) || !equal_constant_time(computed, icv)) return false;
    return cipher == nullptr || cipher->decrypt(cipher_iv(p), text);
  }

  std::unique_ptr<Aead> aead;
  std::unique_ptr<Cipher> cipher;
  std::unique_ptr<Mac> mac;
  std::array<std::uint8_t, 4> salt{};
  std::array<std::uint8_t, 12> nonce_bytes{};
  std::array<std::uint8_t, 16> counter_block{};
  std::array<std::uint8_t, 64> expected{};
  std::size_t salt_size = 0;
  std::size_t iv_size = 0;
  std::size_t block = 4;
  std::size_t icv_size = 16;
  bool gmac = false;
  bool ctr = false;
  bool ok = false;
};

void init_packet(BareLayout& p, std::size_t n, std::size_t iv_size) {
  store_be32(p.header, kSpi.value());
  std::memset(p.iv, 0, iv_size);
  const std::vector<std::uint8_t> bytes = test::pattern(n, 7);
  std::memcpy(p.text, bytes.data(), n);
  std::memset(p.text + n, 0, p.text_size - n);
}

template <class Bare>
void bare_seal(benchmark::State& state, Bare& bare, std::size_t iv_size, std::size_t block,
               std::size_t icv_size = kIcvSize) {
  if (!bare.ok) {
    state.SkipWithError("OpenSSL setup failed");
    return;
  }
  const std::size_t n = payload_size(state);
  BareLayout packet(iv_size, encrypted_size(n, block), icv_size);
  init_packet(packet, n, iv_size);
  std::uint64_t seq = 0;
  bool ok = true;
  for (auto _ : state) {
    ok &= bare.seal(packet, ++seq);
    benchmark::ClobberMemory();
  }
  if (!ok) state.SkipWithError("bare seal failed");
  set_throughput(state);
}

void BM_BareOpensslSeal(benchmark::State& state, SuiteId id) {
  if (id == SuiteId::kAes128CbcSha256) {
    BareCbcHmac bare;
    bare_seal(state, bare, 16, 16);
  } else {
    BareAead bare(id);
    bare_seal(state, bare, 8, 4);
  }
}

// The copy of the sealed packet is timed, as in BM_Open.
template <class Bare>
void bare_open(benchmark::State& state, Bare& bare, std::size_t iv_size, std::size_t block,
               std::size_t icv_size = kIcvSize) {
  const std::size_t n = payload_size(state);
  BareLayout packet(iv_size, encrypted_size(n, block), icv_size);
  init_packet(packet, n, iv_size);
  constexpr std::uint64_t kSeq = 1;
  if (!bare.ok || !bare.seal(packet, kSeq)) {
    state.SkipWithError("OpenSSL setup failed");
    return;
  }
  const std::vector<std::uint8_t> sealed(packet.header, packet.header + packet.packet_size);
  bool ok = true;
  for (auto _ : state) {
    std::memcpy(packet.header, sealed.data(), sealed.size());
    ok &= bare.open(packet, kSeq);
    benchmark::ClobberMemory();
  }
  if (!ok) state.SkipWithError("bare open failed");
  set_throughput(state);
}

void BM_BareOpensslOpen(benchmark::State& state, SuiteId id) {
  if (id == SuiteId::kAes128CbcSha256) {
    BareCbcHmac bare;
    bare_open(state, bare, 16, 16);
  } else {
    BareAead bare(id);
    bare_open(state, bare, 8, 4);
  }
}

void BM_CryptoSeal(benchmark::State& state, const test::Suite& suite) {
  CryptoBaseline bare(suite);
  bare_seal(state, bare, bare.iv_size, bare.block, bare.icv_size);
}

void BM_CryptoOpen(benchmark::State& state, const test::Suite& suite) {
  CryptoBaseline bare(suite);
  bare_open(state, bare, bare.iv_size, bare.block, bare.icv_size);
}

// The raw EVP baseline of a suite, if it has one.
std::optional<SuiteId> raw_baseline(const std::string& name) {
  if (name == "aes128gcm16") return SuiteId::kAes128Gcm;
  if (name == "aes256gcm16") return SuiteId::kAes256Gcm;
  if (name == "chacha20poly1305") return SuiteId::kChaCha20Poly1305;
  if (name == "aes128cbc-sha256") return SuiteId::kAes128CbcSha256;
  return std::nullopt;
}

// Ours next to the baselines for each suite, so that they run close together in time.
[[maybe_unused]] const bool kRegistered = [] {
  for (const test::Suite& suite : test::all_suites()) {
    const std::string& name = suite.name;
    auto with_sizes = [&](const char* what, auto fn) {
      benchmark::RegisterBenchmark((std::string(what) + "/" + name).c_str(), fn, suite)
          ->Apply(sizes);
    };
    const auto raw = raw_baseline(name);
    with_sizes("BM_Seal", BM_Seal);
    with_sizes("BM_CryptoSeal", BM_CryptoSeal);
    if (raw) {
      benchmark::RegisterBenchmark(("BM_BareOpensslSeal/" + name).c_str(), BM_BareOpensslSeal, *raw)
          ->Apply(sizes);
    }
    with_sizes("BM_Open", BM_Open);
    with_sizes("BM_CryptoOpen", BM_CryptoOpen);
    if (raw) {
      benchmark::RegisterBenchmark(("BM_BareOpensslOpen/" + name).c_str(), BM_BareOpensslOpen, *raw)
          ->Apply(sizes);
    }
    benchmark::RegisterBenchmark(("BM_MakeIv/" + name).c_str(), BM_MakeIv, suite);
  }
  return true;
}();

}  // namespace
}  // namespace uipsec
