#include "esp/esp_transform.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "esp/esp_packet.hpp"
#include "esp/esp_test_support.hpp"
#include "wire/esp_header.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

using test::OwnedBuffer;
using test::pattern;
using Bytes = std::vector<std::uint8_t>;

constexpr Spi kSpi(0x3000);

bool is_counter_mode(EspCipher cipher) {
  return cipher != EspCipher::kAesCbc && cipher != EspCipher::kNull;
}

std::string test_name(const ::testing::TestParamInfo<test::Suite>& info) {
  std::string n = info.param.name;
  for (char& c : n) {
    if (c == '-') c = '_';
  }
  return n;
}

// An ESP packet for `t` in a vector of its own: header, IV, payload and ICV, and where they lie.
struct RawPacket {
  Bytes bytes;
  EspLayout layout;
};

RawPacket raw_packet(const EspTransform& t, std::uint32_t seq_low, const Bytes& payload) {
  RawPacket p;
  p.bytes.resize(kEspHeaderSize + t.iv_size());
  write_esp_header(p.bytes.data(), kSpi, seq_low);
  p.bytes.insert(p.bytes.end(), payload.begin(), payload.end());
  p.bytes.resize(p.bytes.size() + t.icv_size());
  std::uint8_t* h = p.bytes.data();
  p.layout =
      EspLayout{h, MutableByteSpan(h + kEspHeaderSize, t.iv_size()),
                MutableByteSpan(h + kEspHeaderSize + t.iv_size(), payload.size()),
                MutableByteSpan(h + kEspHeaderSize + t.iv_size() + payload.size(), t.icv_size())};
  return p;
}

// Seals with `from` and opens with `to` through esp_seal/esp_open; true when `to` recovers it.
bool seal_then_open(EspTransform& from, EspTransform& to, std::uint64_t seq) {
  const Bytes payload = pattern(77, static_cast<std::uint8_t>(seq));
  OwnedBuffer b;
  EXPECT_TRUE(b->assign(payload));
  EXPECT_EQ(esp_seal(from, kSpi, seq, false, ip_protocol::kUdp, *b), Verdict::send_to_peer());
  ReplayWindow window(64);
  const OpenResult r = esp_open(to, window, false, *b);
  return r.verdict == Verdict::deliver_to_tun() && r.next_header == ip_protocol::kUdp &&
         b.bytes() == payload;
}

class EspTransformSuite : public ::testing::TestWithParam<test::Suite> {};

TEST_P(EspTransformSuite, SizesFollowTheAlgorithm) {
  const EspAlgorithms& a = GetParam().algorithms;
  const EspTransform t = test::make_transform(a);
  EXPECT_EQ(t.cipher(), a.cipher);
  switch (a.cipher) {
    case EspCipher::kAesGcm:
    case EspCipher::kAesCcm:
    case EspCipher::kAesGmac:
    case EspCipher::kChaCha20Poly1305:
    case EspCipher::kAesCtr:
      EXPECT_EQ(t.iv_size(), 8u) << "RFC 4106/4309/4543/7634/3686: 8-byte explicit IV";
      EXPECT_EQ(t.block_size(), 4u);
      break;
    case EspCipher::kAesCbc:
      EXPECT_EQ(t.iv_size(), 16u) << "RFC 3602: one AES block";
      EXPECT_EQ(t.block_size(), 16u);
      break;
    case EspCipher::kNull:
      EXPECT_EQ(t.iv_size(), 0u);
      EXPECT_EQ(t.block_size(), 4u);
      break;
  }
  EXPECT_EQ(t.icv_size(), a.icv_bits / 8u);
}

TEST_P(EspTransformSuite, CloneOpensWhatTheOriginalSealedAndViceVersa) {
  EspTransform original = test::make_transform(GetParam().algorithms);
  auto cloned = original.clone();
  ASSERT_TRUE(cloned.ok()) << cloned.error().message();
  EspTransform& copy = *cloned;
  EXPECT_EQ(copy.cipher(), original.cipher());
  EXPECT_EQ(copy.iv_size(), original.iv_size());
  EXPECT_EQ(copy.icv_size(), original.icv_size());
  EXPECT_EQ(copy.block_size(), original.block_size());
  EXPECT_TRUE(seal_then_open(original, copy, 1));
  EXPECT_TRUE(seal_then_open(copy, original, 2));
  EXPECT_TRUE(seal_then_open(copy, copy, 3));
}

TEST_P(EspTransformSuite, CloneKeepsTheIvSalt) {
  EspTransform original = test::make_transform(GetParam().algorithms);
  auto copy = original.clone();
  ASSERT_TRUE(copy.ok());
  for (std::uint64_t seq : {1ull, 2ull, 0x123456789ull}) {
    Bytes a(original.iv_size());
    Bytes b(original.iv_size());
    ASSERT_TRUE(original.make_iv(seq, a));
    ASSERT_TRUE(copy->make_iv(seq, b));
    EXPECT_EQ(a, b) << "a clone is the same SA on another worker, not a new SA";
  }
}

TEST_P(EspTransformSuite, TransformsOfTheSameKeyInteroperate) {
  // The receiver's transform is built independently from the same configuration.
  EspTransform sender = test::make_transform(GetParam().algorithms);
  EspTransform receiver = test::make_transform(GetParam().algorithms);
  EXPECT_TRUE(seal_then_open(sender, receiver, 5));
}

TEST_P(EspTransformSuite, OtherKeysDoNotOpen) {
  EspTransform sender = test::make_transform(GetParam().algorithms);
  test::Suite other = GetParam();
  if (other.algorithms.cipher_key.empty()) {
    Bytes key(other.algorithms.integrity_key.span().begin(),
              other.algorithms.integrity_key.span().end());
    key[0] ^= 1;
    other.algorithms.integrity_key = SecretBytes(key);
  } else {
    Bytes key(other.algorithms.cipher_key.span().begin(), other.algorithms.cipher_key.span().end());
    key[0] ^= 1;
    other.algorithms.cipher_key = SecretBytes(key);
  }
  EspTransform receiver = test::make_transform(other.algorithms);
  EXPECT_FALSE(seal_then_open(sender, receiver, 5));
}

TEST_P(EspTransformSuite, EsnHighHalfIsAuthenticated) {
  EspTransform t = test::make_transform(GetParam().algorithms);
  const Bytes payload = pattern(32);
  RawPacket p = raw_packet(t, 9, payload);
  ASSERT_TRUE(t.make_iv((std::uint64_t{7} << 32) | 9, p.layout.iv));
  ASSERT_TRUE(t.seal(p.layout, 7, /*esn=*/true));
  const Bytes sealed = p.bytes;

  EXPECT_TRUE(t.open(p.layout, 7, true));
  EXPECT_EQ(Bytes(p.layout.payload.begin(), p.layout.payload.end()), payload);
  std::copy(sealed.begin(), sealed.end(), p.bytes.begin());  // the layout points into p.bytes
  EXPECT_FALSE(t.open(p.layout, 8, true)) << "other high bits";
  std::copy(sealed.begin(), sealed.end(), p.bytes.begin());
  EXPECT_FALSE(t.open(p.layout, 7, false)) << "without ESN the high bits are not in the ICV";
}

TEST_P(EspTransformSuite, WithoutEsnTheHighHalfIsIgnored) {
  EspTransform t = test::make_transform(GetParam().algorithms);
  RawPacket p = raw_packet(t, 9, pattern(32));  // whole blocks for CBC
  ASSERT_TRUE(t.make_iv(9, p.layout.iv));
  ASSERT_TRUE(t.seal(p.layout, 0, false));
  EXPECT_TRUE(t.open(p.layout, 0xdeadbeef, false));
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, EspTransformSuite, ::testing::ValuesIn(test::all_suites()),
                         test_name);

TEST(EspTransform, CreateFailsWithTheValidationMessageForABadKey) {
  std::vector<test::Suite> bad = {
      test::make_suite("gcm-without-salt", EspCipher::kAesGcm, 16),
      test::make_suite("chacha-short", EspCipher::kChaCha20Poly1305, 32),
      test::make_suite("cbc-odd", EspCipher::kAesCbc, 17, EspIntegrity::kHmacSha256),
  };
  test::Suite short_hmac =
      test::make_suite("cbc-short-hmac", EspCipher::kAesCbc, 16, EspIntegrity::kHmacSha256);
  short_hmac.algorithms.integrity_key = SecretBytes(pattern(20));
  bad.push_back(short_hmac);

  for (const test::Suite& s : bad) {
    const auto expected = validate(s.algorithms);
    ASSERT_FALSE(expected.ok()) << s.name;
    const auto t = EspTransform::create(s.algorithms);
    ASSERT_FALSE(t.ok()) << s.name;
    EXPECT_EQ(t.error().message(), expected.error().message()) << s.name;
  }
  const auto gcm = EspTransform::create(bad[0].algorithms);
  ASSERT_FALSE(gcm.ok());
  EXPECT_EQ(gcm.error().message(),
            "cipher key: rfc4106(gcm(aes)) expects 20, 28 or 36 bytes (AES key + 4-byte salt), "
            "got 16");
}

// The IV of the counter modes is seq XOR a per-SA random salt (Linux seqiv): unique per
// sequence number under one SA, and unrelated between two SAs that share a static key.
class EspTransformCounterIv : public ::testing::TestWithParam<test::Suite> {};

TEST_P(EspTransformCounterIv, IvIsSequenceXorSalt) {
  EspTransform t = test::make_transform(GetParam().algorithms);
  ASSERT_EQ(t.iv_size(), 8u);
  const std::uint64_t numbers[] = {
      0, 1, 2, 3, 255, 256, 0xffffffff, 0x100000000, 0x123456789, ~0ull >> 1, ~0ull - 1, ~0ull};
  for (std::uint64_t n : numbers) {
    for (std::uint64_t m : numbers) {
      std::uint8_t iv_n[8];
      std::uint8_t iv_m[8];
      ASSERT_TRUE(t.make_iv(n, iv_n));
      ASSERT_TRUE(t.make_iv(m, iv_m));
      EXPECT_EQ(load_be64(iv_n) ^ load_be64(iv_m), n ^ m) << n << " " << m;
    }
  }
  // Consecutive numbers differ only where the counter changed.
  std::uint8_t iv1[8];
  std::uint8_t iv2[8];
  ASSERT_TRUE(t.make_iv(6, iv1));
  ASSERT_TRUE(t.make_iv(7, iv2));
  EXPECT_EQ(Bytes(iv1, iv1 + 7), Bytes(iv2, iv2 + 7));
  EXPECT_EQ(iv1[7] ^ iv2[7], 1);
}

TEST_P(EspTransformCounterIv, TwoSasWithTheSameKeyUseDifferentSalts) {
  EspTransform a = test::make_transform(GetParam().algorithms);
  EspTransform b = test::make_transform(GetParam().algorithms);
  std::uint8_t iv_a[8];
  std::uint8_t iv_b[8];
  ASSERT_TRUE(a.make_iv(1, iv_a));
  ASSERT_TRUE(b.make_iv(1, iv_b));
  // 2^-64 chance of a false failure.
  EXPECT_NE(load_be64(iv_a), load_be64(iv_b)) << "a restart with a static key must not reuse IVs";
}

std::vector<test::Suite> counter_mode_suites() {
  std::vector<test::Suite> out;
  for (test::Suite& s : test::all_suites()) {
    if (is_counter_mode(s.algorithms.cipher)) out.push_back(std::move(s));
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(CounterModes, EspTransformCounterIv,
                         ::testing::ValuesIn(counter_mode_suites()), test_name);

TEST(EspTransform, CounterModeSuitesCoverEveryCounterCipher) {
  std::vector<EspCipher> seen;
  for (const test::Suite& s : counter_mode_suites()) seen.push_back(s.algorithms.cipher);
  for (EspCipher c : {EspCipher::kAesGcm, EspCipher::kAesCcm, EspCipher::kAesGmac,
                      EspCipher::kChaCha20Poly1305, EspCipher::kAesCtr}) {
    EXPECT_NE(std::find(seen.begin(), seen.end(), c), seen.end()) << xfrm_name(c);
  }
}

TEST(EspTransform, FixedIvSeamOverridesEverySequenceNumber) {
  EspTransform t = test::make_transform(test::all_suites().front().algorithms);
  const Bytes fixed = {9, 8, 7, 6, 5, 4, 3, 2};
  t.set_fixed_iv_for_testing(fixed);
  for (std::uint64_t seq : {1ull, 2ull, 1000ull}) {
    Bytes iv(8);
    ASSERT_TRUE(t.make_iv(seq, iv));
    EXPECT_EQ(iv, fixed);
  }
}

}  // namespace
}  // namespace uipsec
