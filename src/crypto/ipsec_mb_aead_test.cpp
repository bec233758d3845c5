// Tests for the intel-ipsec-mb AES-GCM: a differential test against the OpenSSL implementation
// (same ciphertext and tag over random keys, nonces, AAD splits and lengths 0..9000, each opens
// the other's output, any flipped bit fails), GMAC through long multi-part AAD, the documented
// AAD-joining limit, bad parameters, clone(), and which implementation make_aead() picks. The
// McGrew-Viega known answers run against both implementations in openssl_aead_test.cpp.
#include "crypto/ipsec_mb_aead.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/aead.hpp"

namespace uipsec {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Skips the calling test where the library cannot run (not built in, or no AES-NI).
#define SKIP_WITHOUT_IPSEC_MB()                                        \
  do {                                                                 \
    if (!ipsec_mb_available()) GTEST_SKIP() << ipsec_mb_description(); \
  } while (false)

std::unique_ptr<Aead> make_checked(AeadImplementation implementation, ByteSpan key,
                                   std::size_t tag_size) {
  auto aead = implementation == AeadImplementation::kIpsecMb
                  ? make_ipsec_mb_aead(AeadAlgorithm::kAesGcm, key, tag_size)
                  : make_openssl_aead(AeadAlgorithm::kAesGcm, key, tag_size);
  EXPECT_TRUE(aead.ok()) << (aead.ok() ? "" : aead.error().message());
  return aead.ok() ? std::move(aead).value() : nullptr;
}

Bytes random_bytes(std::mt19937& rng, std::size_t size) {
  Bytes bytes(size);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  return bytes;
}

// Mostly short and odd lengths around block edges, sometimes anything up to 9000.
std::size_t random_length(std::mt19937& rng) {
  switch (rng() % 4) {
    case 0:
      return rng() % 40;
    case 1:
      return 1400 + rng() % 80;
    default:
      return rng() % 9001;
  }
}

// Splits `whole` into 1 to 4 parts, some of them empty.
std::vector<ByteSpan> random_split(std::mt19937& rng, const Bytes& whole) {
  std::vector<ByteSpan> parts;
  const std::size_t count = 1 + rng() % 4;
  std::size_t offset = 0;
  for (std::size_t i = 0; i + 1 < count; ++i) {
    const std::size_t size = rng() % (whole.size() - offset + 1);
    parts.emplace_back(whole.data() + offset, size);
    offset += size;
  }
  parts.emplace_back(whole.data() + offset, whole.size() - offset);
  return parts;
}

#if UIPSEC_HAVE_IPSEC_MB
// A build with the library must use it on every CPU that has what its GCM code needs, or the
// differential tests below would silently skip.
TEST(IpsecMbAead, BuiltWithTheLibraryIsAvailableOnAesNiCpus) {
  if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("pclmul")) {
    GTEST_SKIP() << "CPU without AES-NI/PCLMULQDQ";
  }
  EXPECT_TRUE(ipsec_mb_available()) << ipsec_mb_description();
  EXPECT_NE(ipsec_mb_description().find("intel-ipsec-mb 1."), std::string::npos)
      << ipsec_mb_description();
  // UIPSEC_IPSEC_MB_ARCH picks older code (CTest runs these tests with sse and avx2 too).
  const char* forced = std::getenv("UIPSEC_IPSEC_MB_ARCH");
  if (forced != nullptr && std::string_view(forced) == "sse") {
    EXPECT_NE(ipsec_mb_description().find(", SSE"), std::string::npos) << ipsec_mb_description();
  }
  if (forced != nullptr && std::string_view(forced) == "avx2" && __builtin_cpu_supports("avx2")) {
    EXPECT_NE(ipsec_mb_description().find(", AVX2"), std::string::npos) << ipsec_mb_description();
  }
}
#endif

struct Config {
  std::size_t key_size;
  std::size_t tag_size;
};
constexpr Config kConfigs[] = {{16, 16}, {16, 12}, {16, 8},  {24, 16}, {24, 12},
                               {24, 8},  {32, 16}, {32, 12}, {32, 8}};

// Same ciphertext and tag as OpenSSL; each opens the other's output; a flipped bit in the
// ciphertext, tag, AAD or nonce fails both.
TEST(IpsecMbAead, AgreesWithOpensslBothWaysOverRandomInputs) {
  SKIP_WITHOUT_IPSEC_MB();
  std::mt19937 rng(4106);
  for (const Config& config : kConfigs) {
    for (int round = 0; round < 60; ++round) {
      const Bytes key = random_bytes(rng, config.key_size);
      auto fast = make_checked(AeadImplementation::kIpsecMb, key, config.tag_size);
      auto reference = make_checked(AeadImplementation::kOpenssl, key, config.tag_size);
      ASSERT_NE(fast, nullptr);
      ASSERT_NE(reference, nullptr);
      const Bytes nonce = random_bytes(rng, 12);
      // ESP's AAD is 8 or 12 bytes; other sizes up to the 64-byte join limit and, in one part,
      // beyond it.
      const std::size_t aad_size = round % 5 == 4 ? rng() % 300 : rng() % 65;
      const Bytes aad = random_bytes(rng, aad_size);
      std::vector<ByteSpan> aad_parts =
          aad_size <= 64 ? random_split(rng, aad) : std::vector<ByteSpan>{ByteSpan(aad)};
      const Bytes plaintext = random_bytes(rng, random_length(rng));
      SCOPED_TRACE(testing::Message() << "key " << config.key_size << ", tag " << config.tag_size
                                      << ", round " << round << ", text " << plaintext.size()
                                      << ", aad " << aad_size << " in " << aad_parts.size());

      Bytes by_fast = plaintext;
      Bytes fast_tag(config.tag_size);
      ASSERT_TRUE(fast->seal(nonce, aad_parts, by_fast, fast_tag));
      Bytes by_reference = plaintext;
      Bytes reference_tag(config.tag_size);
      ASSERT_TRUE(reference->seal(nonce, aad_parts, by_reference, reference_tag));
      ASSERT_EQ(by_fast, by_reference);
      ASSERT_EQ(fast_tag, reference_tag);
      if (!plaintext.empty()) {
        EXPECT_NE(by_fast, plaintext);
      }

      Bytes opened = by_reference;
      ASSERT_TRUE(fast->open(nonce, aad_parts, opened, reference_tag));
      EXPECT_EQ(opened, plaintext);
      opened = by_fast;
      ASSERT_TRUE(reference->open(nonce, aad_parts, opened, fast_tag));
      EXPECT_EQ(opened, plaintext);

      // One flipped bit anywhere: both refuse, and ipsec-mb leaves no plaintext behind.
      const auto both_refuse = [&](const Bytes& n, std::span<const ByteSpan> a, const Bytes& c,
                                   const Bytes& t) {
        Bytes buffer = c;
        EXPECT_FALSE(fast->open(n, a, buffer, t));
        if (plaintext.size() > 8) {
          EXPECT_NE(buffer, plaintext);
        }
        buffer = c;
        EXPECT_FALSE(reference->open(n, a, buffer, t));
      };
      Bytes bad_tag = fast_tag;
      bad_tag[rng() % bad_tag.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      both_refuse(nonce, aad_parts, by_fast, bad_tag);
      Bytes bad_nonce = nonce;
      bad_nonce[rng() % 12] ^= 0x80;
      both_refuse(bad_nonce, aad_parts, by_fast, fast_tag);
      if (!by_fast.empty()) {
        Bytes bad_text = by_fast;
        bad_text[rng() % bad_text.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        both_refuse(nonce, aad_parts, bad_text, fast_tag);
      }
      if (!aad.empty()) {
        Bytes bad_aad = aad;
        bad_aad[rng() % bad_aad.size()] ^= 0x01;
        const ByteSpan bad_aad_parts[] = {bad_aad};
        both_refuse(nonce, bad_aad_parts, by_fast, fast_tag);
      }
    }
  }
}

// RFC 4543 GMAC as ESP uses it: empty text, the AAD is header, IV and the whole payload in three
// parts of any length (the GMAC update path), the same tags as OpenSSL.
TEST(IpsecMbAead, GmacOverLongMultiPartAadAgreesWithOpenssl) {
  SKIP_WITHOUT_IPSEC_MB();
  std::mt19937 rng(4543);
  for (const Config& config : kConfigs) {
    const Bytes key = random_bytes(rng, config.key_size);
    auto fast = make_checked(AeadImplementation::kIpsecMb, key, config.tag_size);
    auto reference = make_checked(AeadImplementation::kOpenssl, key, config.tag_size);
    ASSERT_NE(fast, nullptr);
    ASSERT_NE(reference, nullptr);
    for (std::size_t payload_size : {0u, 1u, 15u, 16u, 17u, 45u, 64u, 100u, 1400u, 1403u, 9000u}) {
      for (std::size_t header_size : {8u, 12u}) {
        SCOPED_TRACE(testing::Message() << "key " << config.key_size << ", payload " << payload_size
                                        << ", header " << header_size);
        const Bytes nonce = random_bytes(rng, 12);
        const Bytes header = random_bytes(rng, header_size);
        const Bytes iv = random_bytes(rng, 8);
        const Bytes payload = random_bytes(rng, payload_size);
        const ByteSpan parts[] = {header, iv, payload};
        Bytes fast_tag(config.tag_size);
        Bytes reference_tag(config.tag_size);
        ASSERT_TRUE(fast->seal(nonce, parts, {}, fast_tag));
        ASSERT_TRUE(reference->seal(nonce, parts, {}, reference_tag));
        EXPECT_EQ(fast_tag, reference_tag);
        EXPECT_TRUE(fast->open(nonce, parts, {}, reference_tag));
        Bytes bad_payload = payload;
        bad_payload.push_back(0);
        const ByteSpan bad_parts[] = {header, iv, bad_payload};
        EXPECT_FALSE(fast->open(nonce, bad_parts, {}, reference_tag));
      }
    }
  }
}

// The documented limit: several AAD parts may total 64 bytes when there is text; one part may be
// any length.
TEST(IpsecMbAead, JoinsAadPartsUpTo64BytesWithTextAndTakesOneLongPart) {
  SKIP_WITHOUT_IPSEC_MB();
  std::mt19937 rng(64);
  const Bytes key = random_bytes(rng, 16);
  auto fast = make_checked(AeadImplementation::kIpsecMb, key, 16);
  ASSERT_NE(fast, nullptr);
  const Bytes nonce = random_bytes(rng, 12);
  const Bytes aad = random_bytes(rng, 65);
  Bytes buffer = random_bytes(rng, 20);
  Bytes tag(16);
  const ByteSpan at_limit[] = {ByteSpan(aad).first(30), ByteSpan(aad).subspan(30, 34)};
  EXPECT_TRUE(fast->seal(nonce, at_limit, buffer, tag));
  const ByteSpan over_limit[] = {ByteSpan(aad).first(30), ByteSpan(aad).subspan(30)};
  EXPECT_FALSE(fast->seal(nonce, over_limit, buffer, tag));
  EXPECT_FALSE(fast->open(nonce, over_limit, buffer, tag));
  const ByteSpan one_long[] = {ByteSpan(), ByteSpan(aad), ByteSpan()};
  EXPECT_TRUE(fast->seal(nonce, one_long, buffer, tag));
  EXPECT_TRUE(fast->open(nonce, one_long, buffer, tag));
}

TEST(IpsecMbAead, RejectsOtherAlgorithmsAndBadSizesNamingExpectedSizes) {
  SKIP_WITHOUT_IPSEC_MB();
  const Bytes key16(16, 1);
  auto ccm = make_ipsec_mb_aead(AeadAlgorithm::kAesCcm, key16, 16);
  ASSERT_FALSE(ccm.ok());
  EXPECT_NE(ccm.error().message().find("only AES-GCM"), std::string::npos);
  EXPECT_FALSE(make_ipsec_mb_aead(AeadAlgorithm::kChaCha20Poly1305, Bytes(32, 1), 16).ok());
  auto bad_key = make_ipsec_mb_aead(AeadAlgorithm::kAesGcm, Bytes(20, 1), 16);
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.error().message().find("16, 24 or 32"), std::string::npos);
  EXPECT_NE(bad_key.error().message().find("got 20"), std::string::npos);
  auto bad_tag = make_ipsec_mb_aead(AeadAlgorithm::kAesGcm, key16, 4);
  ASSERT_FALSE(bad_tag.ok());
  EXPECT_NE(bad_tag.error().message().find("8, 12 or 16"), std::string::npos);
}

TEST(IpsecMbAead, SealAndOpenRefuseMisSizedNonceOrTag) {
  SKIP_WITHOUT_IPSEC_MB();
  auto fast = make_checked(AeadImplementation::kIpsecMb, Bytes(16, 7), 12);
  ASSERT_NE(fast, nullptr);
  EXPECT_EQ(fast->algorithm(), AeadAlgorithm::kAesGcm);
  EXPECT_EQ(fast->implementation(), AeadImplementation::kIpsecMb);
  EXPECT_EQ(fast->nonce_size(), 12u);
  EXPECT_EQ(fast->tag_size(), 12u);
  Bytes buffer(10, 0);
  Bytes tag(12);
  const ByteSpan no_aad[] = {ByteSpan()};
  EXPECT_FALSE(fast->seal(Bytes(11), no_aad, buffer, tag));
  Bytes long_tag(16);
  EXPECT_FALSE(fast->seal(Bytes(12), no_aad, buffer, long_tag));
  EXPECT_FALSE(fast->open(Bytes(12), no_aad, buffer, long_tag));
  EXPECT_TRUE(fast->seal(Bytes(12), no_aad, buffer, tag));
}

// A clone computes the same as its original and outlives it (its own copy of the key block).
TEST(IpsecMbAead, CloneIsIndependentWorkingInstance) {
  SKIP_WITHOUT_IPSEC_MB();
  std::mt19937 rng(1);
  const Bytes key = random_bytes(rng, 32);
  auto original = make_checked(AeadImplementation::kIpsecMb, key, 16);
  ASSERT_NE(original, nullptr);
  auto copy = original->clone();
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->implementation(), AeadImplementation::kIpsecMb);
  const Bytes nonce = random_bytes(rng, 12);
  const Bytes aad = random_bytes(rng, 8);
  const ByteSpan aad_parts[] = {aad};
  const Bytes plaintext = random_bytes(rng, 333);
  Bytes by_original = plaintext;
  Bytes tag(16);
  ASSERT_TRUE(original->seal(nonce, aad_parts, by_original, tag));
  original.reset();
  Bytes by_copy = plaintext;
  Bytes copy_tag(16);
  ASSERT_TRUE(copy->seal(nonce, aad_parts, by_copy, copy_tag));
  EXPECT_EQ(by_copy, by_original);
  EXPECT_EQ(copy_tag, tag);
  ASSERT_TRUE(copy->open(nonce, aad_parts, by_copy, tag));
  EXPECT_EQ(by_copy, plaintext);
}

// Sets an environment variable for one scope (tests run on one thread).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_.empty()) {
      unsetenv(name_);
    } else {
      setenv(name_, old_.c_str(), 1);
    }
  }

 private:
  const char* name_;
  std::string old_;
};

TEST(MakeAead, PicksIpsecMbForGcmOpensslForTheRestAndObeysUipsecAead) {
  SKIP_WITHOUT_IPSEC_MB();
  ScopedEnv automatic("UIPSEC_AEAD", "auto");
  auto gcm = make_aead(AeadAlgorithm::kAesGcm, Bytes(16, 1), 16);
  ASSERT_TRUE(gcm.ok());
  EXPECT_EQ((*gcm)->implementation(), AeadImplementation::kIpsecMb);
  auto ccm = make_aead(AeadAlgorithm::kAesCcm, Bytes(16, 1), 16);
  ASSERT_TRUE(ccm.ok());
  EXPECT_EQ((*ccm)->implementation(), AeadImplementation::kOpenssl);
  auto chacha = make_aead(AeadAlgorithm::kChaCha20Poly1305, Bytes(32, 1), 16);
  ASSERT_TRUE(chacha.ok());
  EXPECT_EQ((*chacha)->implementation(), AeadImplementation::kOpenssl);
  {
    ScopedEnv forced("UIPSEC_AEAD", "openssl");
    EXPECT_EQ(preferred_aead_implementation(AeadAlgorithm::kAesGcm), AeadImplementation::kOpenssl);
    auto forced_gcm = make_aead(AeadAlgorithm::kAesGcm, Bytes(16, 1), 16);
    ASSERT_TRUE(forced_gcm.ok());
    EXPECT_EQ((*forced_gcm)->implementation(), AeadImplementation::kOpenssl);
  }
  // Errors keep naming the expected sizes whichever library is behind.
  auto bad = make_aead(AeadAlgorithm::kAesGcm, Bytes(17, 1), 16);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("16, 24 or 32"), std::string::npos);
}

}  // namespace
}  // namespace uipsec
