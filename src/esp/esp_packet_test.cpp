#include "esp/esp_packet.hpp"

#include <gtest/gtest.h>

#include <set>

#include "esp/esp_test_support.hpp"
#include "wire/esp_header.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

using test::OwnedBuffer;
using test::pattern;

constexpr Spi kSpi(0x1000);

// Seals `payload` and returns the ESP packet.
std::vector<std::uint8_t> seal(EspTransform& t, std::uint64_t seq, bool esn,
                               const std::vector<std::uint8_t>& payload,
                               std::uint8_t next_header = ip_protocol::kIpv4) {
  OwnedBuffer b;
  EXPECT_TRUE(b->assign(payload));
  const Verdict v = esp_seal(t, kSpi, seq, esn, next_header, *b);
  EXPECT_EQ(v, Verdict::send_to_peer());
  return b.bytes();
}

OpenResult open(EspTransform& t, ReplayWindow& w, bool esn, const std::vector<std::uint8_t>& packet,
                std::vector<std::uint8_t>* payload = nullptr) {
  OwnedBuffer b;
  EXPECT_TRUE(b->assign(packet));
  OpenResult r = esp_open(t, w, esn, *b);
  if (payload != nullptr) *payload = b.bytes();
  return r;
}

class EspPacketSuite : public ::testing::TestWithParam<test::Suite> {};

TEST_P(EspPacketSuite, RoundTripsEverySizeAndAlignsPadding) {
  EspTransform sender = test::make_transform(GetParam().algorithms);
  EspTransform receiver = test::make_transform(GetParam().algorithms);
  ReplayWindow window(64);
  std::uint64_t seq = 0;
  for (std::size_t size : {0, 1, 2, 3, 4, 13, 15, 16, 17, 63, 64, 100, 1400, 1500, 9000, 65000}) {
    const auto payload = pattern(size, static_cast<std::uint8_t>(size));
    const auto packet = seal(sender, ++seq, false, payload, ip_protocol::kTcp);
    const std::size_t encrypted = packet.size() - 8 - sender.iv_size() - sender.icv_size();
    EXPECT_EQ(encrypted % sender.block_size(), 0u) << size;
    EXPECT_LT(encrypted - size - 2, sender.block_size()) << "minimal padding, size " << size;
    EXPECT_EQ(load_be32(packet.data()), kSpi.value());
    EXPECT_EQ(load_be32(packet.data() + 4), seq);

    std::vector<std::uint8_t> opened;
    const OpenResult r = open(receiver, window, false, packet, &opened);
    ASSERT_EQ(r.verdict, Verdict::deliver_to_tun())
        << to_string(r.verdict.reason) << " size " << size;
    EXPECT_EQ(r.sequence, seq);
    EXPECT_EQ(r.next_header, ip_protocol::kTcp);
    EXPECT_EQ(opened, payload) << size;
  }
}

TEST_P(EspPacketSuite, RejectsEverySingleBitFlip) {
  EspTransform sender = test::make_transform(GetParam().algorithms);
  EspTransform receiver = test::make_transform(GetParam().algorithms);
  const auto packet = seal(sender, 7, false, pattern(40));
  for (std::size_t bit = 0; bit < packet.size() * 8; ++bit) {
    auto forged = packet;
    forged[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    ReplayWindow window(64);
    const OpenResult r = open(receiver, window, false, forged);
    ASSERT_TRUE(r.verdict.dropped()) << "bit " << bit;
    EXPECT_EQ(window.top(), 0u) << "a forged packet must not move the window (bit " << bit << ")";
  }
  ReplayWindow window(64);
  EXPECT_EQ(open(receiver, window, false, packet).verdict, Verdict::deliver_to_tun());
}

TEST_P(EspPacketSuite, EsnHighBitsAreAuthenticatedButNotSent) {
  EspTransform sender = test::make_transform(GetParam().algorithms);
  EspTransform receiver = test::make_transform(GetParam().algorithms);
  const std::uint64_t seq = (std::uint64_t{3} << 32) | 5;
  const auto payload = pattern(100);
  const auto packet = seal(sender, seq, true, payload);
  EXPECT_EQ(load_be32(packet.data() + 4), 5u) << "only the low half is on the wire";

  ReplayWindow right(128, (std::uint64_t{3} << 32) | 1);
  std::vector<std::uint8_t> opened;
  const OpenResult r = open(receiver, right, true, packet, &opened);
  ASSERT_EQ(r.verdict, Verdict::deliver_to_tun()) << to_string(r.verdict.reason);
  EXPECT_EQ(r.sequence, seq);
  EXPECT_EQ(opened, payload);

  // A receiver that infers other high bits computes another ICV.
  ReplayWindow wrong(128, (std::uint64_t{2} << 32) | 1);
  EXPECT_EQ(open(receiver, wrong, true, packet).verdict.reason, DropReason::kAuthenticationFailed);
  EXPECT_EQ(wrong.top(), (std::uint64_t{2} << 32) | 1);
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, EspPacketSuite, ::testing::ValuesIn(test::all_suites()),
                         [](const auto& param_info) {
                           std::string n = param_info.param.name;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

test::Suite gcm() { return test::make_suite("gcm", EspCipher::kAesGcm, 20); }
test::Suite cbc() {
  return test::make_suite("cbc", EspCipher::kAesCbc, 16, EspIntegrity::kHmacSha256, 128);
}

TEST(EspPacket, ReplayedPacketIsDroppedAsDuplicate) {
  EspTransform t = test::make_transform(gcm().algorithms);
  ReplayWindow window(32);
  const auto packet = seal(t, 1, false, pattern(20));
  EXPECT_EQ(open(t, window, false, packet).verdict, Verdict::deliver_to_tun());
  EXPECT_EQ(open(t, window, false, packet).verdict.reason, DropReason::kReplayDuplicate);
}

TEST(EspPacket, OldPacketIsDroppedBeforeCrypto) {
  EspTransform t = test::make_transform(gcm().algorithms);
  ReplayWindow window(32, 100);
  auto packet = seal(t, 60, false, pattern(20));
  packet.back() ^= 1;  // a broken ICV: the replay check must answer first
  EXPECT_EQ(open(t, window, false, packet).verdict.reason, DropReason::kReplayTooOld);
}

TEST(EspPacket, ReplayWindowOffAcceptsDuplicates) {
  EspTransform t = test::make_transform(gcm().algorithms);
  ReplayWindow window(0);
  const auto packet = seal(t, 9, false, pattern(20));
  EXPECT_EQ(open(t, window, false, packet).verdict, Verdict::deliver_to_tun());
  EXPECT_EQ(open(t, window, false, packet).verdict, Verdict::deliver_to_tun());
}

TEST(EspPacket, DummyPacketIsDroppedSilently) {
  EspTransform t = test::make_transform(gcm().algorithms);
  ReplayWindow window(32);
  const auto packet = seal(t, 1, false, pattern(30), ip_protocol::kNoNextHeader);
  EXPECT_EQ(open(t, window, false, packet).verdict.reason, DropReason::kDummyPacket);
  EXPECT_EQ(window.top(), 1u) << "a dummy packet is authentic: the window moves";
}

TEST(EspPacket, TfcPaddingBeyondMinimumIsAccepted) {
  EspTransform t = test::make_transform(cbc().algorithms);
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(pattern(10)));
  // 10 + 4 + 2 = 16 is the minimum; 19 bytes of padding would break the 16-byte alignment, 36 not.
  EXPECT_EQ(esp_seal(t, kSpi, 1, false, 4, *b, SealOptions{19}).reason, DropReason::kNoRoom);
  ASSERT_TRUE(b->assign(pattern(10)));
  ASSERT_EQ(esp_seal(t, kSpi, 1, false, 4, *b, SealOptions{36}), Verdict::send_to_peer());
  ReplayWindow window(32);
  std::vector<std::uint8_t> opened;
  EXPECT_EQ(open(t, window, false, b.bytes(), &opened).verdict, Verdict::deliver_to_tun());
  EXPECT_EQ(opened, pattern(10));
}

// Builds an authentic packet whose decrypted trailer is `trailer` (pad bytes, pad length,
// next header), bypassing esp_seal's padding.
std::vector<std::uint8_t> seal_raw_trailer(EspTransform& t, std::uint64_t seq,
                                           const std::vector<std::uint8_t>& data,
                                           const std::vector<std::uint8_t>& trailer) {
  std::vector<std::uint8_t> packet(8 + t.iv_size());
  write_esp_header(packet.data(), kSpi, static_cast<std::uint32_t>(seq));
  packet.insert(packet.end(), data.begin(), data.end());
  packet.insert(packet.end(), trailer.begin(), trailer.end());
  packet.resize(packet.size() + t.icv_size());
  const std::size_t payload = data.size() + trailer.size();
  const EspLayout layout{packet.data(), MutableByteSpan(packet.data() + 8, t.iv_size()),
                         MutableByteSpan(packet.data() + 8 + t.iv_size(), payload),
                         MutableByteSpan(packet.data() + 8 + t.iv_size() + payload, t.icv_size())};
  EXPECT_TRUE(t.make_iv(seq, layout.iv));
  EXPECT_TRUE(t.seal(layout, 0, false));
  return packet;
}

TEST(EspPacket, NonMonotonicPaddingIsDropped) {
  EspTransform t = test::make_transform(gcm().algorithms);
  ReplayWindow window(32);
  const auto good = seal_raw_trailer(t, 1, pattern(8), {1, 2, 2, 4});
  EXPECT_EQ(open(t, window, false, good).verdict, Verdict::deliver_to_tun());
  const auto bad = seal_raw_trailer(t, 2, pattern(8), {1, 2, 9, 0, 3, 4});
  EXPECT_EQ(open(t, window, false, bad).verdict.reason, DropReason::kBadPadding);
}

TEST(EspPacket, PadLengthBeyondPayloadIsDropped) {
  EspTransform t = test::make_transform(gcm().algorithms);
  ReplayWindow window(32);
  const auto bad = seal_raw_trailer(t, 1, pattern(2), {200, 4});
  EXPECT_EQ(open(t, window, false, bad).verdict.reason, DropReason::kBadTrailer);
}

TEST(EspPacket, TruncatedPacketsAreDropped) {
  EspTransform t = test::make_transform(cbc().algorithms);
  const auto packet = seal(t, 1, false, pattern(40));
  for (std::size_t size = 0; size < packet.size(); ++size) {
    ReplayWindow window(32);
    const std::vector<std::uint8_t> prefix(packet.begin(),
                                           packet.begin() + static_cast<long>(size));
    const OpenResult r = open(t, window, false, prefix);
    EXPECT_TRUE(r.verdict.dropped()) << size;
    EXPECT_EQ(window.top(), 0u);
  }
  ReplayWindow window(32);
  std::vector<std::uint8_t> misaligned(packet.begin(), packet.end());
  misaligned.insert(misaligned.begin() + 8 + 16, 0);  // 1 byte more ciphertext: not whole blocks
  EXPECT_EQ(open(t, window, false, misaligned).verdict.reason, DropReason::kTruncated);
}

TEST(EspPacket, NoRoomIsAVerdictNotACrash) {
  EspTransform t = test::make_transform(gcm().algorithms);
  OwnedBuffer small_headroom(256, 4);
  ASSERT_TRUE(small_headroom->assign(pattern(10), 4));
  EXPECT_EQ(esp_seal(t, kSpi, 1, false, 4, *small_headroom).reason, DropReason::kNoRoom);
  OwnedBuffer small_tailroom(140, 128);
  ASSERT_TRUE(small_tailroom->assign(pattern(10), 128));
  EXPECT_EQ(esp_seal(t, kSpi, 1, false, 4, *small_tailroom).reason, DropReason::kNoRoom);
}

TEST(EspPacket, IvsNeverRepeatAcrossSequenceNumbersOrSas) {
  // Two SAs with the same static key (a restart) and the same sequence numbers.
  EspTransform before_restart = test::make_transform(gcm().algorithms);
  EspTransform after_restart = test::make_transform(gcm().algorithms);
  std::set<std::vector<std::uint8_t>> ivs;
  for (std::uint64_t seq = 1; seq <= 1000; ++seq) {
    for (EspTransform* t : {&before_restart, &after_restart}) {
      std::vector<std::uint8_t> iv(t->iv_size());
      ASSERT_TRUE(t->make_iv(seq, iv));
      EXPECT_TRUE(ivs.insert(iv).second) << "IV repeated at seq " << seq;
    }
  }
}

TEST(EspPacket, CbcIvsAreUnpredictableAndUnique) {
  EspTransform t = test::make_transform(cbc().algorithms);
  std::set<std::vector<std::uint8_t>> ivs;
  std::vector<std::uint8_t> previous(16);
  for (std::uint64_t seq = 1; seq <= 1000; ++seq) {
    std::vector<std::uint8_t> iv(16);
    ASSERT_TRUE(t.make_iv(seq, iv));
    EXPECT_TRUE(ivs.insert(iv).second);
    // Consecutive IVs differ in many bits, not just a counter's last few.
    int differing = 0;
    for (std::size_t i = 0; i < 16; ++i) differing += __builtin_popcount(iv[i] ^ previous[i]);
    EXPECT_GT(differing, 20) << "seq " << seq;
    previous = iv;
  }
}

TEST(EspPacket, FixedIvSeamReproducesTheIv) {
  EspTransform t = test::make_transform(gcm().algorithms);
  const std::vector<std::uint8_t> iv = {1, 2, 3, 4, 5, 6, 7, 8};
  t.set_fixed_iv_for_testing(iv);
  const auto packet = seal(t, 42, false, pattern(10));
  EXPECT_EQ(std::vector<std::uint8_t>(packet.begin() + 8, packet.begin() + 16), iv);
}

}  // namespace
}  // namespace uipsec
