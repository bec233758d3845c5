// Tests for the OpenSSL ciphers: RFC 3602 §4 AES-CBC cases 1-4, RFC 3686 §6 AES-CTR vectors 1-3,
// FIPS-197 and SP 800-38A known answers, in-place behaviour, bad parameters and clone().
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "crypto/cipher.hpp"
#include "crypto/crypto_test_support.hpp"

namespace uipsec {
namespace {

using Bytes = std::vector<std::uint8_t>;
using crypto_test::ascii;
using crypto_test::hex;

std::unique_ptr<Cipher> make_cipher(CipherAlgorithm algorithm, ByteSpan key) {
  auto cipher = make_openssl_cipher(algorithm, key);
  EXPECT_TRUE(cipher.ok()) << (cipher.ok() ? "" : cipher.error().message());
  return cipher.ok() ? std::move(cipher).value() : nullptr;
}

struct KnownAnswer {
  const char* name;
  const char* key;
  const char* iv;
  Bytes plaintext;
  const char* ciphertext;
};

void expect_known_answer(CipherAlgorithm algorithm, const KnownAnswer& v) {
  SCOPED_TRACE(v.name);
  auto cipher = make_cipher(algorithm, hex(v.key));
  ASSERT_NE(cipher, nullptr);
  const Bytes iv = hex(v.iv);
  Bytes buffer = v.plaintext;
  ASSERT_TRUE(cipher->encrypt(iv, buffer));
  EXPECT_EQ(to_hex(buffer), v.ciphertext);
  ASSERT_TRUE(cipher->decrypt(iv, buffer));
  EXPECT_EQ(buffer, v.plaintext);
}

Bytes counting(std::uint8_t first, std::size_t count) {
  Bytes out(count);
  for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<std::uint8_t>(first + i);
  return out;
}

TEST(OpensslCipher, CbcMatchesRfc3602Cases) {
  const KnownAnswer vectors[] = {
      {"case 1", "06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41",
       ascii("Single block msg"), "e353779c1079aeb82708942dbe77181a"},
      {"case 2", "c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
       counting(0x00, 32), "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"},
      {"case 3", "6c3ea0477630ce21a2ce334aa746c2cd", "c782dc4c098c66cbd9cd27d825682c81",
       ascii("This is a 48-byte message (exactly 3 AES blocks)"),
       "d0a02b3836451753d493665d33f0e8862dea54cdb293abc7506939276772f8d5"
       "021c19216bad525c8579695d83ba2684"},
      {"case 4", "56e47a38c5598974bc46903dba290349", "8ce82eefbea0da3c44699ed7db51b7d9",
       counting(0xa0, 64),
       "c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e"
       "35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55"},
      // NIST SP 800-38A F.2.5, first block: a 256-bit key.
      {"SP 800-38A CBC-AES256", "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
       "000102030405060708090a0b0c0d0e0f", hex("6bc1bee22e409f96e93d7e117393172a"),
       "f58c4c04d6e5f1ba779eabfb5f7bfbd6"},
  };
  for (const auto& v : vectors) expect_known_answer(CipherAlgorithm::kAesCbc, v);
}

// The IV is the whole counter block: nonce || IV || 00000001.
TEST(OpensslCipher, CtrMatchesRfc3686Vectors) {
  const KnownAnswer vectors[] = {
      {"vector 1", "ae6852f8121067cc4bf7a5765577f39e", "00000030000000000000000000000001",
       ascii("Single block msg"), "e4095d4fb7a7b3792d6175a3261311b8"},
      {"vector 2", "7e24067817fae0d743d6ce1f32539163", "006cb6dbc0543b59da48d90b00000001",
       counting(0x00, 32), "5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df9141be28"},
      {"vector 3", "7691be035e5020a8ac6e618529f9a0dc", "00e0017b27777f3f4a1786f000000001",
       counting(0x00, 36),
       "c1cf48a89f2ffdd9cf4652e9efdb72d74540a42bde6d7836d59a5ceaaef3105325b2072f"},
  };
  for (const auto& v : vectors) expect_known_answer(CipherAlgorithm::kAesCtr, v);
}

TEST(OpensslCipher, EcbMatchesFips197) {
  // FIPS-197 appendix C.1.
  expect_known_answer(CipherAlgorithm::kAesEcb, {"FIPS-197 C.1", "000102030405060708090a0b0c0d0e0f",
                                                 "", hex("00112233445566778899aabbccddeeff"),
                                                 "69c4e0d86a7b0430d8cdb78070b4c55a"});
}

// A call that ends mid-block must not leave CTR's keystream position behind for the next call.
TEST(OpensslCipher, CtrStartsEveryCallAtItsCounterBlock) {
  auto cipher = make_cipher(CipherAlgorithm::kAesCtr, hex("7691be035e5020a8ac6e618529f9a0dc"));
  ASSERT_NE(cipher, nullptr);
  const Bytes iv = hex("00e0017b27777f3f4a1786f000000001");
  Bytes odd = counting(0x00, 5);
  ASSERT_TRUE(cipher->encrypt(iv, odd));
  EXPECT_EQ(to_hex(odd), "c1cf48a89f");
  Bytes full = counting(0x00, 36);
  ASSERT_TRUE(cipher->encrypt(iv, full));
  EXPECT_EQ(to_hex(full),
            "c1cf48a89f2ffdd9cf4652e9efdb72d74540a42bde6d7836d59a5ceaaef3105325b2072f");
  ASSERT_TRUE(cipher->decrypt(iv, odd));
  EXPECT_EQ(odd, counting(0x00, 5));
}

// Encrypt then decrypt interleaved on one instance, every key size, CBC chaining reset per call.
TEST(OpensslCipher, AllModesAndKeySizesRoundTripOnOneInstance) {
  std::mt19937 rng(3602);
  for (CipherAlgorithm algorithm :
       {CipherAlgorithm::kAesCbc, CipherAlgorithm::kAesCtr, CipherAlgorithm::kAesEcb}) {
    for (std::size_t key_size : {16u, 24u, 32u}) {
      SCOPED_TRACE(testing::Message() << static_cast<int>(algorithm) << "/" << key_size);
      Bytes key(key_size);
      for (auto& b : key) b = static_cast<std::uint8_t>(rng());
      auto cipher = make_cipher(algorithm, key);
      ASSERT_NE(cipher, nullptr);
      Bytes iv(cipher->iv_size());
      for (std::size_t size : {0u, 16u, 48u, 1392u}) {
        for (auto& b : iv) b = static_cast<std::uint8_t>(rng());
        Bytes plaintext(size + (cipher->block_size() == 1 ? 3 : 0));
        for (auto& b : plaintext) b = static_cast<std::uint8_t>(rng());
        Bytes first = plaintext;
        ASSERT_TRUE(cipher->encrypt(iv, first));
        Bytes second = plaintext;
        ASSERT_TRUE(cipher->encrypt(iv, second));
        EXPECT_EQ(first, second) << "state carried over between calls";
        if (!plaintext.empty()) {
          EXPECT_NE(first, plaintext);
        }
        ASSERT_TRUE(cipher->decrypt(iv, first));
        EXPECT_EQ(first, plaintext);
      }
    }
  }
}

TEST(OpensslCipher, RefusesPartialBlocksAndMisSizedIv) {
  auto cbc = make_cipher(CipherAlgorithm::kAesCbc, Bytes(16, 1));
  ASSERT_NE(cbc, nullptr);
  Bytes partial(17);
  EXPECT_FALSE(cbc->encrypt(Bytes(16), partial));
  EXPECT_FALSE(cbc->decrypt(Bytes(16), partial));
  Bytes block(16);
  EXPECT_FALSE(cbc->encrypt(Bytes(8), block));
  auto ecb = make_cipher(CipherAlgorithm::kAesEcb, Bytes(16, 1));
  ASSERT_NE(ecb, nullptr);
  EXPECT_FALSE(ecb->encrypt(Bytes(16), block)) << "ECB takes no IV";
  EXPECT_TRUE(ecb->encrypt({}, block));
}

TEST(OpensslCipher, ReportsSizes) {
  auto cbc = make_cipher(CipherAlgorithm::kAesCbc, Bytes(16, 1));
  auto ctr = make_cipher(CipherAlgorithm::kAesCtr, Bytes(24, 1));
  auto ecb = make_cipher(CipherAlgorithm::kAesEcb, Bytes(32, 1));
  ASSERT_TRUE(cbc && ctr && ecb);
  EXPECT_EQ(cbc->algorithm(), CipherAlgorithm::kAesCbc);
  EXPECT_EQ(cbc->iv_size(), 16u);
  EXPECT_EQ(cbc->block_size(), 16u);
  EXPECT_EQ(ctr->algorithm(), CipherAlgorithm::kAesCtr);
  EXPECT_EQ(ctr->iv_size(), 16u);
  EXPECT_EQ(ctr->block_size(), 1u);
  EXPECT_EQ(ecb->algorithm(), CipherAlgorithm::kAesEcb);
  EXPECT_EQ(ecb->iv_size(), 0u);
  EXPECT_EQ(ecb->block_size(), 16u);
}

TEST(OpensslCipher, RejectsBadKeySizeNamingAlgorithmAndExpectedSizes) {
  for (auto [algorithm, label] : {std::pair{CipherAlgorithm::kAesCbc, "AES-CBC"},
                                  std::pair{CipherAlgorithm::kAesCtr, "AES-CTR"},
                                  std::pair{CipherAlgorithm::kAesEcb, "AES-ECB"}}) {
    auto cipher = make_openssl_cipher(algorithm, Bytes(20));
    ASSERT_FALSE(cipher.ok());
    const std::string& message = cipher.error().message();
    EXPECT_NE(message.find(label), std::string::npos) << message;
    EXPECT_NE(message.find("16, 24 or 32"), std::string::npos) << message;
    EXPECT_NE(message.find("got 20"), std::string::npos) << message;
  }
  EXPECT_FALSE(make_openssl_cipher(static_cast<CipherAlgorithm>(9), Bytes(16)).ok());
}

TEST(OpensslCipher, CloneIsIndependentWorkingInstance) {
  for (CipherAlgorithm algorithm :
       {CipherAlgorithm::kAesCbc, CipherAlgorithm::kAesCtr, CipherAlgorithm::kAesEcb}) {
    SCOPED_TRACE(static_cast<int>(algorithm));
    auto original = make_cipher(algorithm, hex("06a9214036b8a15b512e03d534120006"));
    ASSERT_NE(original, nullptr);
    auto copy = original->clone();
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->algorithm(), algorithm);
    const Bytes iv(original->iv_size(), 0x3d);
    const Bytes plaintext = counting(0x10, 64);
    Bytes by_original = plaintext;
    ASSERT_TRUE(original->encrypt(iv, by_original));
    original.reset();
    Bytes by_copy = plaintext;
    ASSERT_TRUE(copy->encrypt(iv, by_copy));
    EXPECT_EQ(by_copy, by_original);
    ASSERT_TRUE(copy->decrypt(iv, by_copy));
    EXPECT_EQ(by_copy, plaintext);
  }
}

}  // namespace
}  // namespace uipsec
