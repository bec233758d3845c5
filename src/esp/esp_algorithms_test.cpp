#include "esp/esp_algorithms.hpp"

#include <gtest/gtest.h>

#include "esp/esp_test_support.hpp"

namespace uipsec {
namespace {

TEST(EspAlgorithms, NamesRoundTrip) {
  for (EspCipher c : {EspCipher::kNull, EspCipher::kAesCbc, EspCipher::kAesCtr, EspCipher::kAesGcm,
                      EspCipher::kAesCcm, EspCipher::kAesGmac, EspCipher::kChaCha20Poly1305}) {
    auto parsed = parse_cipher_name(xfrm_name(c));
    ASSERT_TRUE(parsed.ok()) << xfrm_name(c);
    EXPECT_EQ(*parsed, c);
  }
  for (EspIntegrity i : {EspIntegrity::kHmacSha1, EspIntegrity::kHmacSha256,
                         EspIntegrity::kHmacSha384, EspIntegrity::kHmacSha512}) {
    auto parsed = parse_integrity_name(xfrm_name(i));
    ASSERT_TRUE(parsed.ok()) << xfrm_name(i);
    EXPECT_EQ(*parsed, i);
  }
}

TEST(EspAlgorithms, RetiredAlgorithmsAreRefusedWithTheReason) {
  auto des3 = parse_cipher_name("cbc(des3_ede)");
  ASSERT_FALSE(des3.ok());
  EXPECT_NE(des3.error().message().find("RFC 8221"), std::string::npos);
  auto md5 = parse_integrity_name("hmac(md5)");
  ASSERT_FALSE(md5.ok());
  EXPECT_NE(md5.error().message().find("retired"), std::string::npos);
  auto unknown = parse_cipher_name("rot13");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("rfc4106(gcm(aes))"), std::string::npos)
      << "the message lists what is accepted";
}

// Every omission docs/ALGORITHMS.md lists is refused by its Linux name, with a reason that says
// why (not "unknown algorithm").
TEST(EspAlgorithms, EveryOmittedAlgorithmIsRefusedByNameWithItsReason) {
  struct Omitted {
    const char* name;
    bool cipher;
    const char* reason;
  };
  const Omitted omitted[] = {
      {"cbc(des3_ede)", true, "3DES is retired by RFC 8221"},
      {"cbc(des)", true, "DES is retired by RFC 8221"},
      {"cbc(blowfish)", true, "Blowfish is retired by RFC 8221"},
      {"cbc(cast5)", true, "CAST is not in RFC 8221"},
      {"cbc(camellia)", true, "Camellia is not in RFC 8221"},
      {"cbc(serpent)", true, "Serpent is not in RFC 8221"},
      {"cbc(twofish)", true, "Twofish is not in RFC 8221"},
      {"hmac(md5)", false, "HMAC-MD5 is retired by RFC 8221"},
      {"xcbc(aes)", false, "AES-XCBC is retired by RFC 8221"},
      {"hmac(rmd160)", false, "HMAC-RIPEMD-160 is not in RFC 8221"},
      {"digest_null", false, "integrity is required"},
  };
  for (const Omitted& o : omitted) {
    SCOPED_TRACE(o.name);
    const std::string message = o.cipher ? parse_cipher_name(o.name).error().message()
                                         : parse_integrity_name(o.name).error().message();
    EXPECT_EQ(message.find(std::string("algorithm '") + o.name + "' refused: "), 0u) << message;
    EXPECT_NE(message.find(o.reason), std::string::npos) << message;
  }
}

TEST(EspAlgorithms, AcceptsEverySupportedSuite) {
  for (const auto& suite : test::all_suites()) {
    EXPECT_TRUE(validate(suite.algorithms).ok()) << suite.name;
  }
}

TEST(EspAlgorithms, KeyLengthErrorsNameTheFieldAndTheExpectation) {
  auto gcm = test::make_suite("gcm", EspCipher::kAesGcm, 16);  // forgot the salt
  auto r = validate(gcm.algorithms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "cipher key: rfc4106(gcm(aes)) expects 20, 28 or 36 bytes (AES key + 4-byte salt), "
            "got 16");
  auto chacha = test::make_suite("chacha", EspCipher::kChaCha20Poly1305, 32);
  EXPECT_FALSE(validate(chacha.algorithms).ok());
  auto hmac = test::make_suite("cbc", EspCipher::kAesCbc, 16, EspIntegrity::kHmacSha256, 128);
  hmac.algorithms.integrity_key = SecretBytes(test::pattern(20));
  r = validate(hmac.algorithms);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("integrity key: hmac(sha256) expects 32 bytes, got 20"),
            std::string::npos);
}

TEST(EspAlgorithms, RefusesBadCombinationsAndIcvLengths) {
  auto no_integrity = test::make_suite("cbc", EspCipher::kAesCbc, 16);
  EXPECT_FALSE(validate(no_integrity.algorithms).ok()) << "encryption without integrity";
  auto gcm_with_hmac =
      test::make_suite("x", EspCipher::kAesGcm, 20, EspIntegrity::kHmacSha256, 128);
  EXPECT_FALSE(validate(gcm_with_hmac.algorithms).ok());
  auto gcm_icv = test::make_suite("x", EspCipher::kAesGcm, 20, EspIntegrity::kNone, 32);
  EXPECT_FALSE(validate(gcm_icv.algorithms).ok());
  auto chacha_icv =
      test::make_suite("x", EspCipher::kChaCha20Poly1305, 36, EspIntegrity::kNone, 96);
  EXPECT_FALSE(validate(chacha_icv.algorithms).ok());
  auto sha1_too_long = test::make_suite("x", EspCipher::kAesCbc, 16, EspIntegrity::kHmacSha1, 192);
  EXPECT_FALSE(validate(sha1_too_long.algorithms).ok());
  auto sha256_64 = test::make_suite("x", EspCipher::kAesCbc, 16, EspIntegrity::kHmacSha256, 64);
  EXPECT_FALSE(validate(sha256_64.algorithms).ok());
}

}  // namespace
}  // namespace uipsec
