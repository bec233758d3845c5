// Tests for the OpenSSL HMACs: RFC 2202 (SHA-1) and RFC 4231 (SHA-2) known answers, the RFC 4868
// §2.7.2 truncated ESP authenticators, multi-part input, bad parameters and clone().
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/crypto_test_support.hpp"
#include "crypto/mac.hpp"

namespace uipsec {
namespace {

using Bytes = std::vector<std::uint8_t>;
using crypto_test::ascii;
using crypto_test::repeated;

std::unique_ptr<Mac> make_mac(MacAlgorithm algorithm, ByteSpan key) {
  auto mac = make_openssl_mac(algorithm, key);
  EXPECT_TRUE(mac.ok()) << (mac.ok() ? "" : mac.error().message());
  return mac.ok() ? std::move(mac).value() : nullptr;
}

struct KnownAnswer {
  const char* name;
  Bytes key;
  Bytes data;
  const char* mac;  // hex; its length is the (possibly truncated) output length
};

void expect_known_answers(MacAlgorithm algorithm, const std::vector<KnownAnswer>& vectors) {
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.name);
    auto mac = make_mac(algorithm, v.key);
    ASSERT_NE(mac, nullptr);
    Bytes out(std::string(v.mac).size() / 2);
    const ByteSpan parts[] = {v.data};
    ASSERT_TRUE(mac->compute(parts, out));
    EXPECT_EQ(to_hex(out), v.mac);
    // Again on the same instance: nothing carries over from the previous call.
    ASSERT_TRUE(mac->compute(parts, out));
    EXPECT_EQ(to_hex(out), v.mac);
  }
}

const Bytes kHiThere = ascii("Hi There");
const Bytes kJefeData = ascii("what do ya want for nothing?");
const Bytes kTruncationData = ascii("Test With Truncation");
const Bytes kLongKeyData = ascii("Test Using Larger Than Block-Size Key - Hash Key First");

TEST(OpensslMac, HmacSha1MatchesRfc2202Cases) {
  expect_known_answers(
      MacAlgorithm::kHmacSha1,
      {{"case 1", repeated(0x0b, 20), kHiThere, "b617318655057264e28bc0b6fb378c8ef146be00"},
       {"case 2", ascii("Jefe"), kJefeData, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"}});
}

// RFC 4231 test cases 1, 2, 5 (output truncated to 128 bits) and 6 (131-byte key, hashed first).
TEST(OpensslMac, HmacSha256MatchesRfc4231Cases) {
  expect_known_answers(
      MacAlgorithm::kHmacSha256,
      {{"case 1", repeated(0x0b, 20), kHiThere,
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
       {"case 2", ascii("Jefe"), kJefeData,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
       {"case 5", repeated(0x0c, 20), kTruncationData, "a3b6167473100ee06e0c796c2955552b"},
       {"case 6", repeated(0xaa, 131), kLongKeyData,
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"}});
}

TEST(OpensslMac, HmacSha384MatchesRfc4231Cases) {
  expect_known_answers(
      MacAlgorithm::kHmacSha384,
      {{"case 1", repeated(0x0b, 20), kHiThere,
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
        "faea9ea9076ede7f4af152e8b2fa9cb6"},
       {"case 2", ascii("Jefe"), kJefeData,
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
        "8e2240ca5e69e2c78b3239ecfab21649"},
       {"case 5", repeated(0x0c, 20), kTruncationData, "3abf34c3503b2a23a46efc619baef897"},
       {"case 6", repeated(0xaa, 131), kLongKeyData,
        "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
        "0c2ef6ab4030fe8296248df163f44952"}});
}

TEST(OpensslMac, HmacSha512MatchesRfc4231Cases) {
  expect_known_answers(
      MacAlgorithm::kHmacSha512,
      {{"case 1", repeated(0x0b, 20), kHiThere,
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
       {"case 2", ascii("Jefe"), kJefeData,
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
       {"case 5", repeated(0x0c, 20), kTruncationData, "415fad6271580a531d4179bc891d87a6"},
       {"case 6", repeated(0xaa, 131), kLongKeyData,
        "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
        "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"}});
}

// RFC 4868 §2.7.2.1-2.7.2.3: the ESP authenticators HMAC-SHA-256-128, HMAC-SHA-384-192 and
// HMAC-SHA-512-256, keyed with keys as long as the hash output.
TEST(OpensslMac, TruncatedOutputMatchesRfc4868Authenticators) {
  Bytes jefe;
  for (int i = 0; i < 16; ++i) jefe.insert(jefe.end(), {'J', 'e', 'f', 'e'});
  const Bytes jefe32(jefe.begin(), jefe.begin() + 32);
  const Bytes jefe48(jefe.begin(), jefe.begin() + 48);
  expect_known_answers(
      MacAlgorithm::kHmacSha256,
      {{"AUTH256-1", repeated(0x0b, 32), kHiThere, "198a607eb44bfbc69903a0f1cf2bbdc5"},
       {"AUTH256-2", jefe32, kJefeData, "167f928588c5cc2eef8e3093caa0e87c"}});
  expect_known_answers(
      MacAlgorithm::kHmacSha384,
      {{"AUTH384-1", repeated(0x0b, 48), kHiThere,
        "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973"},
       {"AUTH384-2", jefe48, kJefeData, "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d"}});
  expect_known_answers(MacAlgorithm::kHmacSha512,
                       {{"AUTH512-1", repeated(0x0b, 64), kHiThere,
                         "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"},
                        {"AUTH512-2", jefe, kJefeData,
                         "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454"}});
}

// ESP with ESN authenticates the packet followed by the high sequence bits, not contiguous.
TEST(OpensslMac, MultiPartInputEqualsConcatenatedInput) {
  auto mac = make_mac(MacAlgorithm::kHmacSha256, repeated(0x0b, 32));
  ASSERT_NE(mac, nullptr);
  const Bytes whole = ascii("what do ya want for nothing? (with ESN high bits)");
  const Bytes head(whole.begin(), whole.begin() + 17);
  const Bytes tail(whole.begin() + 17, whole.end());
  const ByteSpan one[] = {whole};
  const ByteSpan several[] = {ByteSpan(), head, ByteSpan(), tail};
  Bytes expected(16);
  Bytes got(16);
  ASSERT_TRUE(mac->compute(one, expected));
  ASSERT_TRUE(mac->compute(several, got));
  EXPECT_EQ(got, expected);
}

TEST(OpensslMac, EmptyInputAndEmptyOutputAreFine) {
  auto mac = make_mac(MacAlgorithm::kHmacSha1, repeated(0x0b, 20));
  ASSERT_NE(mac, nullptr);
  Bytes out(20);
  EXPECT_TRUE(mac->compute({}, out));
  // RFC 2104 over the empty message, computed in Python from hashlib.sha1 by the RFC's formula.
  EXPECT_EQ(to_hex(out), "123fd78bda0100786ae86b76f50f01bd18e477f3");
  EXPECT_TRUE(mac->compute({}, MutableByteSpan()));
}

TEST(OpensslMac, RefusesOutputLongerThanDigest) {
  auto mac = make_mac(MacAlgorithm::kHmacSha256, repeated(0x0b, 32));
  ASSERT_NE(mac, nullptr);
  Bytes out(33);
  EXPECT_FALSE(mac->compute({}, out));
}

TEST(OpensslMac, ReportsAlgorithmAndDigestSize) {
  const std::pair<MacAlgorithm, std::size_t> expected[] = {{MacAlgorithm::kHmacSha1, 20},
                                                           {MacAlgorithm::kHmacSha256, 32},
                                                           {MacAlgorithm::kHmacSha384, 48},
                                                           {MacAlgorithm::kHmacSha512, 64}};
  for (auto [algorithm, size] : expected) {
    auto mac = make_mac(algorithm, repeated(1, 16));
    ASSERT_NE(mac, nullptr);
    EXPECT_EQ(mac->algorithm(), algorithm);
    EXPECT_EQ(mac->digest_size(), size);
  }
}

TEST(OpensslMac, RejectsEmptyKeyAndUnknownAlgorithm) {
  auto empty = make_openssl_mac(MacAlgorithm::kHmacSha256, {});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message().find("HMAC-SHA-256"), std::string::npos)
      << empty.error().message();
  EXPECT_FALSE(make_openssl_mac(static_cast<MacAlgorithm>(42), repeated(1, 16)).ok());
}

TEST(OpensslMac, CloneIsIndependentWorkingInstance) {
  auto original = make_mac(MacAlgorithm::kHmacSha256, repeated(0x0b, 32));
  ASSERT_NE(original, nullptr);
  auto copy = original->clone();
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->algorithm(), MacAlgorithm::kHmacSha256);
  const ByteSpan other[] = {kJefeData};
  Bytes scratch(32);
  ASSERT_TRUE(original->compute(other, scratch));
  original.reset();
  const ByteSpan parts[] = {kHiThere};
  Bytes out(16);
  ASSERT_TRUE(copy->compute(parts, out));
  EXPECT_EQ(to_hex(out), "198a607eb44bfbc69903a0f1cf2bbdc5");  // RFC 4868 AUTH256-1
}

}  // namespace
}  // namespace uipsec
