// Known-answer tests: esp_seal reproduces published ESP packets byte for byte (with the vector's
// IV), esp_open recovers their contents, and any single-bit change is rejected.
// Vectors: draft-mcgrew-gcm-test-01 §4 (AES-GCM and the AES-GMAC case), RFC 7634 App. A,
// RFC 3602 §4 (see esp_test_vectors.hpp); and at the ESP level RFC 3686 §6 (AES-CTR: the
// ciphertext part of the packet is the RFC's) and RFC 4868 §2.7 (HMAC-SHA-256/384/512 ICVs
// against an independent HMAC) — below.
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

// ---- RFC 3686 §6 at the ESP level ----------------------------------------------------------
// Each of the RFC's nine AES-CTR test vectors as an ESP packet: the cipher key is the RFC's
// key followed by its 4-byte nonce, the IV the RFC's 8-byte IV, the payload the RFC's
// plaintext (next header 4, SPI 0x1000, sequence 1), with HMAC-SHA-256-128 under
// kCbcTestAuthKey. The encrypted part starts with exactly the RFC's ciphertext (same counter
// blocks); the whole packet — trailer encrypted with the next counter block, and the ICV — was
// computed independently with Python's `cryptography` and `hmac` (AES-CTR over payload ||
// padding || pad length || next header with the counter block nonce || IV || 00000001;
// HMAC-SHA-256 over SPI || sequence || IV || ciphertext, first 16 bytes).
struct CtrVector {
  const char* key_and_nonce;
  const char* iv;
  const char* plaintext;   // the RFC's
  const char* ciphertext;  // the RFC's
  const char* packet;      // SPI .. ICV, computed independently
};

// RFC 3686 §6, Test Vectors #1-#9 (AES-128, -192, -256; 16, 32 and 36 bytes).
constexpr CtrVector kRfc3686Vectors[] = {
    {"ae6852f8121067cc4bf7a5765577f39e00000030", "0000000000000000",
     "53696e676c6520626c6f636b206d7367", "e4095d4fb7a7b3792d6175a3261311b8",
     "00001000000000010000000000000000e4095d4fb7a7b3792d6175a3261311b853ea2fdcbfb1b737b76d9461e08"
     "358ebe5cedb40"},
    {"7e24067817fae0d743d6ce1f32539163006cb6db", "c0543b59da48d90b",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df9141be28",
     "0000100000000001c0543b59da48d90b5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df914"
     "1be28d810077de14a51a6678130d4a6bbf30a963d1980"},
    {"7691be035e5020a8ac6e618529f9a0dc00e0017b", "27777f3f4a1786f0",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223",
     "c1cf48a89f2ffdd9cf4652e9efdb72d74540a42bde6d7836d59a5ceaaef3105325b2072f",
     "000010000000000127777f3f4a1786f0c1cf48a89f2ffdd9cf4652e9efdb72d74540a42bde6d7836d59a5ceaaef"
     "3105325b2072f1657340423b71b1d04a30f6ed8b97f2ca692e9ab"},
    {"16af5b145fc9f579c175f93e3bfb0eed863d06ccfdb7851500000048", "36733c147d6d93cb",
     "53696e676c6520626c6f636b206d7367", "4b55384fe259c9c84e7935a003cbe928",
     "000010000000000136733c147d6d93cb4b55384fe259c9c84e7935a003cbe928a4efab3e58d55d6672e7b3bfa7c"
     "7ab39ddf86df0"},
    {"7c5cb2401b3dc33c19e7340819e0f69c678c3db8e6f6a91a0096b03b", "020c6eadc2cb500d",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "453243fc609b23327edfaafa7131cd9f8490701c5ad4a79cfc1fe0ff42f4fb00",
     "0000100000000001020c6eadc2cb500d453243fc609b23327edfaafa7131cd9f8490701c5ad4a79cfc1fe0ff42f"
     "4fb00aab083ee84680273448b5de2040310f3af64484a"},
    {"02bf391ee8ecb159b959617b0965279bf59b60a786d3e0fe0007bdfd", "5cbd60278dcc0912",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223",
     "96893fc55e5c722f540b7dd1ddf7e758d288bc95c69165884536c811662f2188abee0935",
     "00001000000000015cbd60278dcc091296893fc55e5c722f540b7dd1ddf7e758d288bc95c69165884536c811662"
     "f2188abee0935389bb0226c529454f82bd6f10a202235937535b7"},
    {"776beff2851db06f4c8a0542c8696f6c6a81af1eec96b4d37fc1d689e6c1c10400000060", "db5672c97aa8f0b2",
     "53696e676c6520626c6f636b206d7367", "145ad01dbf824ec7560863dc71e3e0c0",
     "0000100000000001db5672c97aa8f0b2145ad01dbf824ec7560863dc71e3e0c07283690171b7a75faad9dc5eae7"
     "5aa787f47e0c0"},
    {"f6d66d6bd52d59bb0796365879eff886c66dd51a5b6a99744b50590c87a2388400faac24", "c1585ef15a43d875",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "f05e231b3894612c49ee000b804eb2a9b8306b508f839d6a5530831d9344af1c",
     "0000100000000001c1585ef15a43d875f05e231b3894612c49ee000b804eb2a9b8306b508f839d6a5530831d934"
     "4af1cd49d1f49fca99333846512f7e1724ccbc76f2481"},
    {"ff7a617ce69148e4f1726e2f43581de2aa62d9f805532edff1eed687fb54153d001cc5b7", "51a51d70a1c11148",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223",
     "eb6c52821d0bbbf7ce7594462aca4faab407df866569fd07f48cc0b583d6071f1ec0e6b8",
     "000010000000000151a51d70a1c11148eb6c52821d0bbbf7ce7594462aca4faab407df866569fd07f48cc0b583d"
     "6071f1ec0e6b8c7bbc8255aa4fa9c1b273430ecd660ba3bdd20f6"},
};

TEST(EspKnownAnswer, AesCtrPacketsCarryTheRfc3686Ciphertext) {
  constexpr std::size_t kHeaderAndIv = 16;
  for (std::size_t i = 0; i < std::size(kRfc3686Vectors); ++i) {
    const CtrVector& v = kRfc3686Vectors[i];
    SCOPED_TRACE("RFC 3686 test vector #" + std::to_string(i + 1));
    EspAlgorithms a;
    a.cipher = EspCipher::kAesCtr;
    a.cipher_key = SecretBytes(hex(v.key_and_nonce));
    a.integrity = EspIntegrity::kHmacSha256;
    a.integrity_key = SecretBytes(hex(test_vectors::kCbcTestAuthKey));
    a.icv_bits = 128;
    EspTransform t = test::make_transform(a);
    t.set_fixed_iv_for_testing(hex(v.iv));
    OwnedBuffer b;
    ASSERT_TRUE(b->assign(hex(v.plaintext)));
    ASSERT_EQ(esp_seal(t, Spi(0x1000), 1, false, 4, *b), Verdict::send_to_peer());
    const std::string sealed = to_hex(b->span());
    const std::string ciphertext = v.ciphertext;
    EXPECT_EQ(sealed.substr(2 * kHeaderAndIv, ciphertext.size()), ciphertext);
    EXPECT_EQ(sealed, v.packet);

    ReplayWindow window(64);
    const OpenResult r = esp_open(t, window, false, *b);
    ASSERT_EQ(r.verdict, Verdict::deliver_to_tun()) << to_string(r.verdict.reason);
    EXPECT_EQ(to_hex(b->span()), v.plaintext);
  }
}

// ---- RFC 4868 §2.7 at the ESP level --------------------------------------------------------
// The ICV esp_seal appends equals HMAC-SHA-256-128 / -384-192 / -512-256 computed independently
// (Python's `hmac` and `hashlib`; AES-CBC from `cryptography`) over the packet — SPI, sequence,
// IV, ciphertext, and with ESN the high half of the sequence number appended (RFC 4303 §2.2.1).
// Keys: RFC 4868 §2.7.2.1's (0x0b repeated, as long as the hash) with NULL encryption and the
// payload "Hi There"; §2.7.2.2's ("Jefe" repeated) with AES-128-CBC (RFC 3602 case 4's key and
// IV) and the payload "what do ya want for nothing?". Next header 6, SPI 0x1000.
struct IcvVector {
  const char* name;
  EspCipher cipher;
  EspIntegrity integrity;
  std::uint16_t icv_bits;
  bool esn;
  std::uint64_t sequence;
  const char* packet;  // SPI .. ICV
};

constexpr IcvVector kRfc4868Vectors[] = {
    {"NULL + HMAC-SHA-256-128", EspCipher::kNull, EspIntegrity::kHmacSha256, 128, false, 1,
     "0000100000000001486920546865726501020206cf0c7120092549640569e7059d054724"},
    {"NULL + HMAC-SHA-256-128, ESN", EspCipher::kNull, EspIntegrity::kHmacSha256, 128, true,
     0x500000007, "00001000000000074869205468657265010202065f92d99788fdc048a5f72e51d5e9fd56"},
    {"NULL + HMAC-SHA-384-192", EspCipher::kNull, EspIntegrity::kHmacSha384, 192, false, 1,
     "00001000000000014869205468657265010202065306584ebde17658d5b54db10cdc16f6f310e501ded6b506"},
    {"NULL + HMAC-SHA-384-192, ESN", EspCipher::kNull, EspIntegrity::kHmacSha384, 192, true,
     0x500000007,
     "0000100000000007486920546865726501020206fab233ac67ffac4a5dfe13b64ef1b8c9c07489b4597c9aad"},
    {"NULL + HMAC-SHA-512-256", EspCipher::kNull, EspIntegrity::kHmacSha512, 256, false, 1,
     "0000100000000001486920546865726501020206347a6926771ff441655f339892947ddfeceeeda8e4ce3f0b05"
     "7b954711db4822"},
    {"NULL + HMAC-SHA-512-256, ESN", EspCipher::kNull, EspIntegrity::kHmacSha512, 256, true,
     0x500000007,
     "00001000000000074869205468657265010202061ba5e940e0fa9b15de3a575ea46f9dce682b2fe6219d4de7aa"
     "984269d36cd35b"},
    {"AES-128-CBC + HMAC-SHA-384-192", EspCipher::kAesCbc, EspIntegrity::kHmacSha384, 192, false, 1,
     "00001000000000018ce82eefbea0da3c44699ed7db51b7d902bd8fb0ba0f37985a2800dcb03b836982b3b81cd3"
     "9cd2543bed885c128b180b984b87707066cbd5daad41d1dc1ca88ccca812bdf33842a6"},
    {"AES-128-CBC + HMAC-SHA-384-192, ESN", EspCipher::kAesCbc, EspIntegrity::kHmacSha384, 192,
     true, 0x500000007,
     "00001000000000078ce82eefbea0da3c44699ed7db51b7d902bd8fb0ba0f37985a2800dcb03b836982b3b81cd3"
     "9cd2543bed885c128b180b25ddf99703017128459f4ab184532570e9ae0495262c3214"},
    {"AES-128-CBC + HMAC-SHA-512-256", EspCipher::kAesCbc, EspIntegrity::kHmacSha512, 256, false, 1,
     "00001000000000018ce82eefbea0da3c44699ed7db51b7d902bd8fb0ba0f37985a2800dcb03b836982b3b81cd3"
     "9cd2543bed885c128b180b75fa38efa91da2b0e1d20aa598fcc4a7362a97f8a07ac7ae364e0a0983cefc60"},
    {"AES-128-CBC + HMAC-SHA-512-256, ESN", EspCipher::kAesCbc, EspIntegrity::kHmacSha512, 256,
     true, 0x500000007,
     "00001000000000078ce82eefbea0da3c44699ed7db51b7d902bd8fb0ba0f37985a2800dcb03b836982b3b81cd3"
     "9cd2543bed885c128b180bd46e847399d126282dc24f9c3ffe447f83d811d50c9926b61af4b24546611e82"},
};

TEST(EspKnownAnswer, HmacIcvsMatchAnIndependentHmacWithRfc4868Keys) {
  for (const IcvVector& v : kRfc4868Vectors) {
    SCOPED_TRACE(v.name);
    const bool null = v.cipher == EspCipher::kNull;
    const std::size_t key_size = v.icv_bits / 4;  // RFC 4868 keys are as long as the hash
    std::vector<std::uint8_t> key;
    if (null) {
      key.assign(key_size, 0x0b);
    } else {
      for (std::size_t i = 0; i < key_size; ++i) key.push_back("Jefe"[i % 4]);
    }
    EspAlgorithms a;
    a.cipher = v.cipher;
    if (!null) a.cipher_key = SecretBytes(hex("56e47a38c5598974bc46903dba290349"));
    a.integrity = v.integrity;
    a.integrity_key = SecretBytes(key);
    a.icv_bits = v.icv_bits;
    EspTransform t = test::make_transform(a);
    if (!null) t.set_fixed_iv_for_testing(hex("8ce82eefbea0da3c44699ed7db51b7d9"));
    const std::string text = null ? "Hi There" : "what do ya want for nothing?";
    OwnedBuffer b;
    ASSERT_TRUE(b->assign(std::vector<std::uint8_t>(text.begin(), text.end())));
    ASSERT_EQ(esp_seal(t, Spi(0x1000), v.sequence, v.esn, 6, *b), Verdict::send_to_peer());
    EXPECT_EQ(to_hex(b->span()), v.packet);

    ReplayWindow window(64, v.sequence - 1);
    const OpenResult r = esp_open(t, window, v.esn, *b);
    ASSERT_EQ(r.verdict, Verdict::deliver_to_tun()) << to_string(r.verdict.reason);
    EXPECT_EQ(r.sequence, v.sequence);
    EXPECT_EQ(std::string(b->data(), b->data() + b->size()), text);
  }
}

}  // namespace
}  // namespace uipsec
