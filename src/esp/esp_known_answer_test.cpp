// Known-answer tests: esp_seal reproduces published ESP packets byte for byte (with the vector's
// IV), esp_open recovers their contents, and any single-bit change is rejected.
// Vectors: draft-mcgrew-gcm-test-01 §4, RFC 7634 App. A, RFC 3602 §4 (see esp_test_vectors.hpp).
#include <gtest/gtest.h>

#include "esp/esp_packet.hpp"
#include "esp/esp_test_support.hpp"
#include "esp/esp_test_vectors.hpp"

namespace uipsec::test_vectors {
// Names the vector in test output instead of dumping its bytes.
inline void PrintTo(const EspKnownAnswer& v, std::ostream* os) { *os << v.source; }
}  // namespace uipsec::test_vectors

namespace uipsec {
namespace {

using test::hex;
using test::OwnedBuffer;
using test_vectors::EspKnownAnswer;
using test_vectors::kEspKnownAnswers;

EspAlgorithms algorithms_of(const EspKnownAnswer& v) {
  EspAlgorithms a;
  a.cipher = *parse_cipher_name(v.cipher);
  a.cipher_key = SecretBytes(hex(v.cipher_key));
  if (*v.auth != '\0') {
    a.integrity = *parse_integrity_name(v.auth);
    a.integrity_key = SecretBytes(hex(v.auth_key));
  }
  a.icv_bits = static_cast<std::uint16_t>(v.icv_bits);
  return a;
}

// A receiving window that has seen everything up to just below the vector's sequence number, so
// that ESN inference lands on the vector's high half.
ReplayWindow window_before(const EspKnownAnswer& v) { return ReplayWindow(64, v.sequence - 1); }

class EspKnownAnswerTest : public ::testing::TestWithParam<EspKnownAnswer> {};

TEST_P(EspKnownAnswerTest, SealReproducesThePacket) {
  const EspKnownAnswer& v = GetParam();
  EspTransform t = test::make_transform(algorithms_of(v));
  t.set_fixed_iv_for_testing(hex(v.iv));
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(hex(v.payload)));
  const Verdict verdict = esp_seal(t, Spi(v.spi), v.sequence, v.esn, v.next_header, *b,
                                   SealOptions{static_cast<std::uint8_t>(v.pad_length)});
  ASSERT_EQ(verdict, Verdict::send_to_peer()) << to_string(verdict.reason);
  EXPECT_EQ(to_hex(b->span()), to_hex(hex(v.packet)));
}

TEST_P(EspKnownAnswerTest, SealPadsMinimallyByItself) {
  // Every vector uses minimal padding, so sealing without a padding override gives the same bytes.
  const EspKnownAnswer& v = GetParam();
  EspTransform t = test::make_transform(algorithms_of(v));
  t.set_fixed_iv_for_testing(hex(v.iv));
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(hex(v.payload)));
  ASSERT_EQ(esp_seal(t, Spi(v.spi), v.sequence, v.esn, v.next_header, *b), Verdict::send_to_peer());
  EXPECT_EQ(to_hex(b->span()), to_hex(hex(v.packet)));
}

TEST_P(EspKnownAnswerTest, OpenRecoversThePayload) {
  const EspKnownAnswer& v = GetParam();
  EspTransform t = test::make_transform(algorithms_of(v));
  ReplayWindow window = window_before(v);
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(hex(v.packet)));
  const OpenResult r = esp_open(t, window, v.esn, *b);
  ASSERT_EQ(r.verdict, Verdict::deliver_to_tun()) << to_string(r.verdict.reason);
  EXPECT_EQ(r.sequence, v.sequence);
  EXPECT_EQ(r.next_header, v.next_header);
  EXPECT_EQ(to_hex(b->span()), to_hex(hex(v.payload)));
  EXPECT_EQ(window.top(), v.sequence);
}

TEST_P(EspKnownAnswerTest, EverySingleBitFlipIsRejected) {
  // Covers SPI, sequence number, IV, ciphertext and ICV.
  const EspKnownAnswer& v = GetParam();
  EspTransform t = test::make_transform(algorithms_of(v));
  const auto packet = hex(v.packet);
  for (std::size_t bit = 0; bit < packet.size() * 8; ++bit) {
    auto forged = packet;
    forged[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    ReplayWindow window = window_before(v);
    OwnedBuffer b;
    ASSERT_TRUE(b->assign(forged));
    const OpenResult r = esp_open(t, window, v.esn, *b);
    ASSERT_TRUE(r.verdict.dropped()) << "bit " << bit << " of " << v.source;
    EXPECT_EQ(window.top(), v.sequence - 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Published, EspKnownAnswerTest, ::testing::ValuesIn(kEspKnownAnswers),
                         [](const auto& param_info) {
                           return "vector" + std::to_string(param_info.index + 1);
                         });

TEST(EspKnownAnswer, CoversEverySourceTheIssueNames) {
  int gcm = 0, gmac = 0, chacha = 0, cbc = 0, esn = 0, seq_ffffffff = 0;
  for (const auto& v : kEspKnownAnswers) {
    const std::string cipher = v.cipher;
    gcm += cipher == "rfc4106(gcm(aes))";
    gmac += cipher == "rfc4543(gcm(aes))";
    chacha += cipher == "rfc7539esp(chacha20,poly1305)";
    cbc += cipher == "cbc(aes)";
    esn += v.esn;
    seq_ffffffff += !v.esn && v.sequence == 0xffffffffu;
  }
  EXPECT_EQ(gcm, 16);
  EXPECT_EQ(gmac, 1);
  EXPECT_EQ(chacha, 1);
  EXPECT_EQ(cbc, 4);
  EXPECT_GE(esn, 10);
  EXPECT_EQ(seq_ffffffff, 1);
}

}  // namespace
}  // namespace uipsec
