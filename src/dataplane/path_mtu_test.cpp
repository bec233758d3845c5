// Path MTU: the table (bounded, expiring, lock-free reads), the ICMP token bucket, the sealed
// size arithmetic against real esp_seal output, and the outbound path's decisions.
#include "dataplane/path_mtu.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>

#include "dataplane/dataplane_test_support.hpp"
#include "esp/esp_packet.hpp"
#include "esp/esp_transform.hpp"

namespace uipsec {
namespace {

using test::addr;
using test::Host;
using test::protect;
using test::udp_packet;

const Timestamp kT0 = Timestamp::from_seconds(1000);

TEST(PathMtuTable, LearnsLooksUpAndExpires) {
  PathMtuTable table;
  EXPECT_TRUE(table.empty());
  EXPECT_FALSE(table.lookup(addr("198.18.0.2"), kT0));
  table.learn(addr("198.18.0.2"), 1380, kT0);
  EXPECT_FALSE(table.empty());
  EXPECT_EQ(table.lookup(addr("198.18.0.2"), kT0), 1380u);
  EXPECT_FALSE(table.lookup(addr("198.18.0.3"), kT0));
  // Same bytes, other family: another key.
  EXPECT_FALSE(table.lookup(addr("::c612:2"), kT0));
  table.learn(addr("198.18.0.2"), 1300, kT0.plus_seconds(1));  // a newer report replaces it
  EXPECT_EQ(table.lookup(addr("198.18.0.2"), kT0.plus_seconds(1)), 1300u);
  EXPECT_EQ(table.size(kT0), 1u);
  // Ten minutes after the last report it is gone (Linux's mtu_expires).
  const Timestamp last = kT0.plus_seconds(1);
  EXPECT_TRUE(table.lookup(addr("198.18.0.2"), last.plus_seconds(599)));
  EXPECT_FALSE(table.lookup(addr("198.18.0.2"), last.plus_seconds(600)));
  EXPECT_EQ(table.size(last.plus_seconds(600)), 0u);
}

TEST(PathMtuTable, RaisesTinyReportsToTheFamilyMinimumAndForgetsNoLimit) {
  PathMtuTable table;
  table.learn(addr("198.18.0.2"), 68, kT0);
  EXPECT_EQ(table.lookup(addr("198.18.0.2"), kT0), PathMtuTable::kMinIpv4);
  table.learn(addr("2001:db8::2"), 600, kT0);
  EXPECT_EQ(table.lookup(addr("2001:db8::2"), kT0), PathMtuTable::kMinIpv6);
  table.learn(addr("198.18.0.2"), 65535, kT0);
  EXPECT_FALSE(table.lookup(addr("198.18.0.2"), kT0));
  EXPECT_EQ(table.lookup(addr("2001:db8::2"), kT0), PathMtuTable::kMinIpv6);
}

TEST(PathMtuTable, StaysBoundedAndKeepsTheNewest) {
  PathMtuTable table;
  // Four times the capacity: the table never holds more, and the last report for each address
  // is what a lookup finds if the address is still there.
  Timestamp now = kT0;
  std::size_t found_newest = 0;
  for (std::uint32_t i = 0; i < 4 * PathMtuTable::kCapacity; ++i) {
    const IpAddress a = addr(("2001:db8::" + std::to_string(i % 0xffff + 1)).c_str());
    now = Timestamp::from_nanoseconds(now.nanoseconds() + 1000);
    table.learn(a, 1280 + i % 200, now);
    ASSERT_LE(table.size(now), PathMtuTable::kCapacity);
    if (table.lookup(a, now) == 1280 + i % 200) ++found_newest;
  }
  EXPECT_EQ(found_newest, 4 * PathMtuTable::kCapacity);  // the entry just learned is always there
}

TEST(PathMtuTable, ReadersOnOtherThreadsNeverSeeTornEntries) {
  PathMtuTable table;
  std::atomic<bool> stop{false};
  // Two writers (two workers reading their sockets' error queues) alternate two MTUs, each for
  // its own address and both for a shared one; a torn read would pair an address with a value
  // it never had.
  std::thread reader([&] {
    while (!stop.load()) {
      const auto a = table.lookup(addr("198.18.0.2"), kT0);
      const auto b = table.lookup(addr("198.18.0.3"), kT0);
      const auto c = table.lookup(addr("2001:db8::9"), kT0);
      if (a) {
        ASSERT_TRUE(*a == 1300 || *a == 1301) << *a;
      }
      if (b) {
        ASSERT_TRUE(*b == 1400 || *b == 1401) << *b;
      }
      if (c) {
        ASSERT_TRUE(*c >= 1300 && *c <= 1401) << *c;
      }
    }
  });
  auto writer = [&](const char* own, std::uint32_t base) {
    for (std::uint32_t i = 0; i < 10000; ++i) {
      table.learn(addr(own), base + i % 2, kT0);
      table.learn(addr("2001:db8::9"), base + i % 2, kT0);
    }
  };
  std::thread second(writer, "198.18.0.3", 1400);
  writer("198.18.0.2", 1300);
  second.join();
  stop = true;
  reader.join();
  // The shared address has one entry, not one per writer.
  EXPECT_EQ(table.size(kT0), 3u);
}

TEST(IcmpRateLimiter, AllowsABurstThenTheRate) {
  IcmpRateLimiter limit(10, 3);  // 10 per second, 3 at once
  Timestamp t = kT0;
  EXPECT_TRUE(limit.allow(t));
  EXPECT_TRUE(limit.allow(t));
  EXPECT_TRUE(limit.allow(t));
  EXPECT_FALSE(limit.allow(t));
  t = Timestamp::from_nanoseconds(t.nanoseconds() + 50'000'000);  // half a token
  EXPECT_FALSE(limit.allow(t));
  t = Timestamp::from_nanoseconds(t.nanoseconds() + 50'000'000);  // one token
  EXPECT_TRUE(limit.allow(t));
  EXPECT_FALSE(limit.allow(t));
  // Over ten seconds at most 10 per second (plus the burst).
  int allowed = 0;
  for (int ms = 0; ms < 10'000; ++ms) {
    if (limit.allow(Timestamp::from_nanoseconds(t.nanoseconds() + std::int64_t{ms} * 1'000'000))) {
      ++allowed;
    }
  }
  EXPECT_GE(allowed, 99);
  EXPECT_LE(allowed, 103);
}

TEST(IcmpRateLimiter, ZeroNeverAllows) {
  IcmpRateLimiter limit(0, 50);
  EXPECT_FALSE(limit.allow(kT0));
  EXPECT_FALSE(limit.allow(kT0.plus_seconds(100)));
}

EspTransform transform_for(EspCipher cipher) {
  EspAlgorithms a;
  a.cipher = cipher;
  if (cipher == EspCipher::kAesGcm) {
    a.cipher_key = SecretBytes(std::vector<std::uint8_t>(20, 7));
    a.icv_bits = 128;
  } else {
    a.cipher_key = SecretBytes(std::vector<std::uint8_t>(16, 7));
    a.integrity = EspIntegrity::kHmacSha256;
    a.integrity_key = SecretBytes(std::vector<std::uint8_t>(32, 9));
    a.icv_bits = 128;
  }
  auto t = EspTransform::create(a);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message());
  return std::move(*t);
}

TEST(PathMtuSize, SealedSizeIsWhatEspSealMakes) {
  for (EspCipher cipher : {EspCipher::kAesGcm, EspCipher::kAesCbc}) {
    EspTransform t = transform_for(cipher);
    PacketPool pool(1);
    for (std::size_t payload = 0; payload < 300; ++payload) {
      PacketBuffer* p = pool.acquire();
      std::vector<std::uint8_t> data(payload, 0x11);
      ASSERT_TRUE(p->assign(data));
      ASSERT_EQ(esp_seal(t, Spi(0x100), 1, false, 4, *p), Verdict::send_to_peer());
      // The ESP packet, plus the outer headers the socket adds.
      EXPECT_EQ(sealed_size(t, payload, IpFamily::kV4, true), p->size() + 20 + 8);
      EXPECT_EQ(sealed_size(t, payload, IpFamily::kV6, false), p->size() + 40);
      pool.release(p);
    }
  }
}

TEST(PathMtuSize, LargestPayloadIsTheLargestThatFits) {
  for (EspCipher cipher : {EspCipher::kAesGcm, EspCipher::kAesCbc}) {
    EspTransform t = transform_for(cipher);
    for (std::uint32_t mtu = 200; mtu < 1600; ++mtu) {
      for (IpFamily f : {IpFamily::kV4, IpFamily::kV6}) {
        for (bool udp : {true, false}) {
          const std::size_t p = largest_payload(t, mtu, f, udp);
          ASSERT_GT(p, 0u);
          EXPECT_LE(sealed_size(t, p, f, udp), mtu);
          EXPECT_GT(sealed_size(t, p + 1, f, udp), mtu);
        }
      }
    }
  }
  // GCM-16 in UDP over IPv4: 20 + 8 + 8 (ESP) + 8 (IV) + 16 (ICV) and the 2-byte trailer in
  // 4-byte blocks: a 1380-byte path carries 1318-byte packets.
  EXPECT_EQ(largest_payload(transform_for(EspCipher::kAesGcm), 1380, IpFamily::kV4, true), 1318u);
}

// The outbound path with a learned path MTU towards the tunnel peer 198.18.0.2.
class PathMtuPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_.dataplane.path_mtu = &path_mtu_;
    ASSERT_TRUE(
        a_.spd.add(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2"), now_)
            .ok());
    ASSERT_TRUE(
        a_.spd
            .add(protect("2001:db8:10::/48", "2001:db8:20::/48", "198.18.0.1", "198.18.0.2"), now_)
            .ok());
    ASSERT_TRUE(a_.sad.add(test::sa_config("198.18.0.1", "198.18.0.2", 0x1000), now_).ok());
  }

  // Sends one packet of `payload` UDP bytes (IPv4 with DF if `df`); returns the verdict and
  // leaves the packet's bytes in last_.
  Verdict send(const char* src, const char* dst, std::size_t payload, bool df) {
    std::vector<std::uint8_t> bytes = udp_packet(src, dst, 1000, 2000, payload);
    if (df) {
      bytes[6] |= 0x40;
      bytes[10] = bytes[11] = 0;
      store_be16(&bytes[10], inet_checksum(ByteSpan(bytes.data(), 20)));
    }
    PacketBuffer* p = pool_.acquire();
    EXPECT_TRUE(p->assign(bytes));
    std::vector<PacketBuffer*> batch{p};
    const Verdict v = a_.send(batch, now_)[0];
    last_.assign(p->data(), p->data() + p->size());
    pool_.release(p);
    return v;
  }

  Timestamp now_ = Timestamp::from_seconds(100);
  PathMtu path_mtu_{1000, 2};
  Host a_{"198.18.0.1"};
  PacketPool pool_{4};
  std::vector<std::uint8_t> last_;
};

TEST_F(PathMtuPathTest, NothingLearnedEverythingIsSealed) {
  EXPECT_EQ(send("198.18.10.5", "198.18.20.7", 1400, true), Verdict::send_to_peer());
}

TEST_F(PathMtuPathTest, DontFragmentOverThePathMtuGetsFragmentationNeeded) {
  path_mtu_.table.learn(addr("198.18.0.2"), 1380, now_);
  // 20 + 8 + 1290 = 1318 bytes: the largest that fits.
  EXPECT_EQ(send("198.18.10.5", "198.18.20.7", 1290, true), Verdict::send_to_peer());
  const Verdict v = send("198.18.10.5", "198.18.20.7", 1291, true);
  EXPECT_EQ(v, (Verdict{Disposition::kDeliverToTun, DropReason::kPacketTooBig}));
  ASSERT_GE(last_.size(), 28u);
  EXPECT_EQ(last_[20], 3);
  EXPECT_EQ(last_[21], 4);
  EXPECT_EQ(load_be16(&last_[26]), 1318);
  EXPECT_EQ(IpAddress::from_bytes(IpFamily::kV4, &last_[16]), addr("198.18.10.5"));
  EXPECT_EQ(a_.counters.drops.get(DropReason::kPacketTooBig), 1u);
  EXPECT_EQ(a_.counters.sealed.get(), 1u);
}

TEST_F(PathMtuPathTest, WithoutDontFragmentItIsSealedForTheKernelToFragment) {
  path_mtu_.table.learn(addr("198.18.0.2"), 1380, now_);
  EXPECT_EQ(send("198.18.10.5", "198.18.20.7", 1400, false), Verdict::send_to_peer());
  EXPECT_EQ(a_.counters.drops.get(DropReason::kPacketTooBig), 0u);
}

TEST_F(PathMtuPathTest, Ipv6GetsPacketTooBigUnlessBelow1280) {
  path_mtu_.table.learn(addr("198.18.0.2"), 1380, now_);
  const Verdict v = send("2001:db8:10::5", "2001:db8:20::7", 1300, false);
  EXPECT_EQ(v, (Verdict{Disposition::kDeliverToTun, DropReason::kPacketTooBig}));
  ASSERT_GE(last_.size(), 48u);
  EXPECT_EQ(last_[40], 2);
  EXPECT_EQ(load_be32(&last_[44]), 1318u);
  // A path whose inner MTU would be below IPv6's 1280: carried, the outer packet fragmented.
  path_mtu_.table.learn(addr("198.18.0.2"), 1300, now_);
  EXPECT_EQ(send("2001:db8:10::5", "2001:db8:20::7", 1300, false), Verdict::send_to_peer());
}

TEST_F(PathMtuPathTest, RateLimitedErrorsAreCountedDrops) {
  path_mtu_.table.learn(addr("198.18.0.2"), 1380, now_);
  // Burst of 2, then nothing more at the same instant.
  EXPECT_EQ(send("198.18.10.5", "198.18.20.7", 1400, true).disposition, Disposition::kDeliverToTun);
  EXPECT_EQ(send("198.18.10.5", "198.18.20.7", 1400, true).disposition, Disposition::kDeliverToTun);
  EXPECT_EQ(send("198.18.10.5", "198.18.20.7", 1400, true),
            Verdict::drop(DropReason::kPacketTooBigRateLimited));
  EXPECT_EQ(a_.counters.drops.get(DropReason::kPacketTooBig), 2u);
  EXPECT_EQ(a_.counters.drops.get(DropReason::kPacketTooBigRateLimited), 1u);
  // An expired entry no longer applies.
  now_ = now_.plus_seconds(601);
  EXPECT_EQ(send("198.18.10.5", "198.18.20.7", 1400, true), Verdict::send_to_peer());
}

}  // namespace
}  // namespace uipsec
