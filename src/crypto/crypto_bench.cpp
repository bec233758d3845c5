// Per-packet cost of the OpenSSL crypto module next to the bare OpenSSL call sequence on the
// same bytes, so any overhead our layer adds shows: AES-128-GCM and ChaCha20-Poly1305 seal (and
// GCM open), HMAC-SHA-256-128 three ways; and AES-GCM seal and open through intel-ipsec-mb next
// to OpenSSL in the same binary (BM_AesGcm{Seal,Open}/<impl>/<key bits>/<bytes>). ESP-like
// inputs: 12-byte nonce with a counter, 8-byte AAD (SPI + sequence number), payload encrypted in
// place.
//
// Run: cmake --preset release && cmake --build --preset release --target uipsec_crypto_bench
//      build/release/src/crypto/uipsec_crypto_bench
// The low-level SHA256_* calls are deprecated in OpenSSL 3; they are here only as a yardstick.
#define OPENSSL_SUPPRESS_DEPRECATED

#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "base/bytes.hpp"
#include "crypto/aead.hpp"
#include "crypto/ipsec_mb_aead.hpp"
#include "crypto/mac.hpp"
#include "crypto/openssl_handles.hpp"

namespace uipsec {
namespace {

constexpr std::array<std::uint8_t, 32> kKey = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
constexpr std::array<std::uint8_t, 8> kAad = {0x00, 0x00, 0xa5, 0xf0, 0x00, 0x00, 0x00, 0x01};
constexpr std::size_t kTagSize = 16;

void sizes(benchmark::internal::Benchmark* b) { b->Arg(64)->Arg(512)->Arg(1400)->Arg(9000); }

// ESP nonce: 4-byte salt || 8-byte IV, the IV a counter.
struct Nonce {
  std::array<std::uint8_t, 12> bytes{0xca, 0xfe, 0xba, 0xbe};
  std::uint64_t counter = 0;
  const std::uint8_t* next() {
    store_be64(bytes.data() + 4, ++counter);
    return bytes.data();
  }
};

void seal_with_our_aead(benchmark::State& state, AeadAlgorithm algorithm, std::size_t key_size) {
  auto aead = make_openssl_aead(algorithm, ByteSpan(kKey.data(), key_size), kTagSize);
  if (!aead.ok()) {
    state.SkipWithError(aead.error().message().c_str());
    return;
  }
  std::vector<std::uint8_t> payload(static_cast<std::size_t>(state.range(0)), 0x5a);
  std::array<std::uint8_t, kTagSize> tag{};
  const ByteSpan aad[] = {kAad};
  Nonce nonce;
  for (auto _ : state) {
    const bool ok = (*aead)->seal(ByteSpan(nonce.next(), 12), aad, payload, tag);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

// The sequence our Aead wraps, written out with nothing around it: the floor for "ESP seal
// within 1.3x of bare EVP".
// The cipher takes as many bytes of kKey as its key length.
void seal_with_bare_evp(benchmark::State& state, const char* cipher_name) {
  EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, cipher_name, nullptr));
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!cipher || !ctx ||
      EVP_EncryptInit_ex(ctx.get(), cipher.get(), nullptr, kKey.data(), nullptr) != 1) {
    state.SkipWithError("OpenSSL setup failed");
    return;
  }
  std::vector<std::uint8_t> payload(static_cast<std::size_t>(state.range(0)), 0x5a);
  std::array<std::uint8_t, kTagSize> tag{};
  Nonce nonce;
  for (auto _ : state) {
    int length = 0;
    int ok = EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, nullptr, nonce.next());
    ok &= EVP_EncryptUpdate(ctx.get(), nullptr, &length, kAad.data(), kAad.size());
    ok &= EVP_EncryptUpdate(ctx.get(), payload.data(), &length, payload.data(),
                            static_cast<int>(payload.size()));
    ok &= EVP_EncryptFinal_ex(ctx.get(), payload.data() + length, &length);
    ok &= EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTagSize, tag.data());
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void BM_Aes128GcmSeal_Ours(benchmark::State& state) {
  seal_with_our_aead(state, AeadAlgorithm::kAesGcm, 16);
}
void BM_Aes128GcmSeal_BareEvp(benchmark::State& state) { seal_with_bare_evp(state, "AES-128-GCM"); }
void BM_ChaCha20Poly1305Seal_Ours(benchmark::State& state) {
  seal_with_our_aead(state, AeadAlgorithm::kChaCha20Poly1305, 32);
}
void BM_ChaCha20Poly1305Seal_BareEvp(benchmark::State& state) {
  seal_with_bare_evp(state, "ChaCha20-Poly1305");
}
BENCHMARK(BM_Aes128GcmSeal_Ours)->Apply(sizes);
BENCHMARK(BM_Aes128GcmSeal_BareEvp)->Apply(sizes);
BENCHMARK(BM_ChaCha20Poly1305Seal_Ours)->Apply(sizes);
BENCHMARK(BM_ChaCha20Poly1305Seal_BareEvp)->Apply(sizes);

// Inbound: open of a genuine packet (tag verified by OpenSSL's final).
void BM_Aes128GcmOpen_Ours(benchmark::State& state) {
  auto aead = make_openssl_aead(AeadAlgorithm::kAesGcm, ByteSpan(kKey.data(), 16), kTagSize);
  if (!aead.ok()) {
    state.SkipWithError(aead.error().message().c_str());
    return;
  }
  const std::vector<std::uint8_t> plaintext(static_cast<std::size_t>(state.range(0)), 0x5a);
  std::vector<std::uint8_t> sealed = plaintext;
  std::array<std::uint8_t, kTagSize> tag{};
  const ByteSpan aad[] = {kAad};
  Nonce nonce;
  const std::array<std::uint8_t, 12> fixed_nonce = nonce.bytes;
  if (!(*aead)->seal(fixed_nonce, aad, sealed, tag)) {
    state.SkipWithError("seal failed");
    return;
  }
  std::vector<std::uint8_t> buffer(sealed.size());
  for (auto _ : state) {
    std::memcpy(buffer.data(), sealed.data(), sealed.size());  // open decrypts in place
    const bool ok = (*aead)->open(fixed_nonce, aad, buffer, tag);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Aes128GcmOpen_Ours)->Apply(sizes);

// AES-GCM through either implementation behind the same Aead interface (what EspTransform
// calls). Args: implementation (0 OpenSSL, 1 intel-ipsec-mb), key bytes, payload bytes.
std::unique_ptr<Aead> gcm_for(benchmark::State& state) {
  const auto implementation = static_cast<AeadImplementation>(state.range(0));
  const ByteSpan key(kKey.data(), static_cast<std::size_t>(state.range(1)));
  auto aead = implementation == AeadImplementation::kIpsecMb
                  ? make_ipsec_mb_aead(AeadAlgorithm::kAesGcm, key, kTagSize)
                  : make_openssl_aead(AeadAlgorithm::kAesGcm, key, kTagSize);
  if (!aead.ok()) {
    state.SkipWithError(aead.error().message().c_str());
    return nullptr;
  }
  state.SetLabel(implementation == AeadImplementation::kIpsecMb ? ipsec_mb_description()
                                                                : "OpenSSL 3 EVP");
  return std::move(aead).value();
}

void gcm_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"ipsecmb", "key", "bytes"});
  for (std::int64_t implementation : {0, 1}) {
    for (std::int64_t key : {16, 32}) {
      for (std::int64_t bytes : {64, 512, 1400, 9000}) b->Args({implementation, key, bytes});
    }
  }
}

void BM_AesGcmSeal(benchmark::State& state) {
  auto aead = gcm_for(state);
  if (!aead) return;
  std::vector<std::uint8_t> payload(static_cast<std::size_t>(state.range(2)), 0x5a);
  std::array<std::uint8_t, kTagSize> tag{};
  const ByteSpan aad[] = {kAad};
  Nonce nonce;
  for (auto _ : state) {
    const bool ok = aead->seal(ByteSpan(nonce.next(), 12), aad, payload, tag);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(2));
}
BENCHMARK(BM_AesGcmSeal)->Apply(gcm_args);

// Open of a genuine packet; the copy back into the buffer (open decrypts in place) is part of
// each iteration for both implementations alike.
void BM_AesGcmOpen(benchmark::State& state) {
  auto aead = gcm_for(state);
  if (!aead) return;
  const std::vector<std::uint8_t> plaintext(static_cast<std::size_t>(state.range(2)), 0x5a);
  std::vector<std::uint8_t> sealed = plaintext;
  std::array<std::uint8_t, kTagSize> tag{};
  const ByteSpan aad[] = {kAad};
  const std::array<std::uint8_t, 12> fixed_nonce = Nonce().bytes;
  if (!aead->seal(fixed_nonce, aad, sealed, tag)) {
    state.SkipWithError("seal failed");
    return;
  }
  std::vector<std::uint8_t> buffer(sealed.size());
  for (auto _ : state) {
    std::memcpy(buffer.data(), sealed.data(), sealed.size());
    const bool ok = aead->open(fixed_nonce, aad, buffer, tag);
    if (!ok) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(2));
}
BENCHMARK(BM_AesGcmOpen)->Apply(gcm_args);

// HMAC-SHA-256-128 (RFC 4868), 32-byte key, output truncated to 16 bytes.
void BM_HmacSha256_Ours(benchmark::State& state) {
  auto mac = make_openssl_mac(MacAlgorithm::kHmacSha256, kKey);
  if (!mac.ok()) {
    state.SkipWithError(mac.error().message().c_str());
    return;
  }
  const std::vector<std::uint8_t> data(static_cast<std::size_t>(state.range(0)), 0x5a);
  const ByteSpan parts[] = {data};
  std::array<std::uint8_t, 16> out{};
  for (auto _ : state) {
    const bool ok = (*mac)->compute(parts, out);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HmacSha256_Ours)->Apply(sizes);

// The alternative our Mac did not take: EVP_MAC keyed once, re-initialised with a null key per
// call (which OpenSSL 3.0 supports: it restarts from the kept ipad state).
void BM_HmacSha256_BareEvpMacReinit(benchmark::State& state) {
  EvpMacPtr hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  EvpMacCtxPtr ctx(hmac ? EVP_MAC_CTX_new(hmac.get()) : nullptr);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  if (!ctx || EVP_MAC_init(ctx.get(), kKey.data(), kKey.size(), params) != 1) {
    state.SkipWithError("OpenSSL setup failed");
    return;
  }
  const std::vector<std::uint8_t> data(static_cast<std::size_t>(state.range(0)), 0x5a);
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> full{};
  std::array<std::uint8_t, 16> out{};
  for (auto _ : state) {
    std::size_t length = 0;
    int ok = EVP_MAC_init(ctx.get(), nullptr, 0, nullptr);
    ok &= EVP_MAC_update(ctx.get(), data.data(), data.size());
    ok &= EVP_MAC_final(ctx.get(), full.data(), &length, full.size());
    std::memcpy(out.data(), full.data(), out.size());
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HmacSha256_BareEvpMacReinit)->Apply(sizes);

// The sequence our Mac wraps: precomputed ipad/opad digest states copied per call.
void BM_HmacSha256_BareMdCtxCopy(benchmark::State& state) {
  EvpMdPtr md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  EvpMdCtxPtr inner(EVP_MD_CTX_new());
  EvpMdCtxPtr outer(EVP_MD_CTX_new());
  EvpMdCtxPtr work(EVP_MD_CTX_new());
  std::array<std::uint8_t, 64> ipad{};
  std::array<std::uint8_t, 64> opad{};
  for (std::size_t i = 0; i < 64; ++i) {
    const std::uint8_t k = i < kKey.size() ? kKey[i] : 0;
    ipad[i] = k ^ 0x36;
    opad[i] = k ^ 0x5c;
  }
  if (!md || !inner || !outer || !work || EVP_DigestInit_ex(inner.get(), md.get(), nullptr) != 1 ||
      EVP_DigestUpdate(inner.get(), ipad.data(), ipad.size()) != 1 ||
      EVP_DigestInit_ex(outer.get(), md.get(), nullptr) != 1 ||
      EVP_DigestUpdate(outer.get(), opad.data(), opad.size()) != 1) {
    state.SkipWithError("OpenSSL setup failed");
    return;
  }
  const std::vector<std::uint8_t> data(static_cast<std::size_t>(state.range(0)), 0x5a);
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> inner_hash{};
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> full{};
  std::array<std::uint8_t, 16> out{};
  for (auto _ : state) {
    unsigned int length = 0;
    int ok = EVP_MD_CTX_copy_ex(work.get(), inner.get());
    ok &= EVP_DigestUpdate(work.get(), data.data(), data.size());
    ok &= EVP_DigestFinal_ex(work.get(), inner_hash.data(), &length);
    ok &= EVP_MD_CTX_copy_ex(work.get(), outer.get());
    ok &= EVP_DigestUpdate(work.get(), inner_hash.data(), length);
    ok &= EVP_DigestFinal_ex(work.get(), full.data(), &length);
    std::memcpy(out.data(), full.data(), out.size());
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HmacSha256_BareMdCtxCopy)->Apply(sizes);

// Yardstick only: the same construction on the deprecated low-level SHA256_CTX, which is a plain
// struct copied by assignment (no allocation, no provider dispatch).
void BM_HmacSha256_LowLevelSha256(benchmark::State& state) {
  SHA256_CTX inner;
  SHA256_CTX outer;
  std::array<std::uint8_t, 64> ipad{};
  std::array<std::uint8_t, 64> opad{};
  for (std::size_t i = 0; i < 64; ++i) {
    const std::uint8_t k = i < kKey.size() ? kKey[i] : 0;
    ipad[i] = k ^ 0x36;
    opad[i] = k ^ 0x5c;
  }
  SHA256_Init(&inner);
  SHA256_Update(&inner, ipad.data(), ipad.size());
  SHA256_Init(&outer);
  SHA256_Update(&outer, opad.data(), opad.size());
  const std::vector<std::uint8_t> data(static_cast<std::size_t>(state.range(0)), 0x5a);
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> inner_hash{};
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> full{};
  std::array<std::uint8_t, 16> out{};
  for (auto _ : state) {
    SHA256_CTX work = inner;
    SHA256_Update(&work, data.data(), data.size());
    SHA256_Final(inner_hash.data(), &work);
    work = outer;
    SHA256_Update(&work, inner_hash.data(), inner_hash.size());
    SHA256_Final(full.data(), &work);
    std::memcpy(out.data(), full.data(), out.size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HmacSha256_LowLevelSha256)->Apply(sizes);

}  // namespace
}  // namespace uipsec
