#include "io/tun_group.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "io/fake_tun.hpp"

namespace uipsec {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// An IP packet to `destination` with `tag` as its last byte, so a test can tell packets apart.
std::vector<std::uint8_t> packet_to(const IpAddress& destination, std::uint8_t tag) {
  std::vector<std::uint8_t> p(destination.is_v4() ? 21 : 41, 0);
  p[0] = destination.is_v4() ? 0x45 : 0x60;
  std::copy(destination.data(), destination.data() + destination.size(),
            p.begin() + (destination.is_v4() ? 16 : 24));
  p.back() = tag;
  return p;
}

// Buffers holding `packets`, taken from `pool`.
std::vector<PacketBuffer*> buffers(PacketPool& pool,
                                   const std::vector<std::vector<std::uint8_t>>& packets) {
  std::vector<PacketBuffer*> out;
  for (const auto& p : packets) {
    PacketBuffer* b = pool.acquire();
    if (!p.empty()) std::memcpy(b->push_back(p.size()), p.data(), p.size());
    out.push_back(b);
  }
  return out;
}

std::vector<std::uint8_t> tags(const std::vector<std::vector<std::uint8_t>>& packets) {
  std::vector<std::uint8_t> out;
  for (const auto& p : packets) out.push_back(p.empty() ? 0 : p.back());
  return out;
}

struct Group {
  QsbrDomain domain;
  FakeTun main{"uipsec0"};
  std::unique_ptr<TunGroup> group = std::move(*TunGroup::open(main, domain));
  // Adds a FakeTun for `address` and returns it (owned by the group).
  FakeTun* add(const char* address, const char* name) {
    auto device = std::make_unique<FakeTun>(name);
    FakeTun* raw = device.get();
    EXPECT_TRUE(group->add(ip(address), std::move(device)).ok());
    return raw;
  }
};

TEST(TunGroup, DeliversByIpv4AndIpv6DestinationElseToTheMainDevice) {
  Group g;
  FakeTun* v4 = g.add("198.18.50.1", "uipsec0v1");
  FakeTun* v6 = g.add("2001:db8:50::1", "uipsec0v2");
  PacketPool pool(16, 2048);
  auto out = buffers(pool, {packet_to(ip("198.18.50.1"), 1), packet_to(ip("2001:db8:50::1"), 2),
                            packet_to(ip("198.18.50.2"), 3), packet_to(ip("2001:db8:50::2"), 4),
                            packet_to(ip("198.18.50.1"), 5),
                            // An IPv6 packet whose bytes 16..19 hold the IPv4 member's address:
                            // the family decides, so it goes to the main device.
                            [] {
                              auto p = packet_to(ip("2001:db8::9"), 6);
                              const std::uint8_t a[] = {198, 18, 50, 1};
                              std::copy(a, a + 4, p.begin() + 16);
                              return p;
                            }()});
  EXPECT_EQ(g.group->write_batch(out), 6u);
  EXPECT_EQ(tags(v4->take_written()), (std::vector<std::uint8_t>{1, 5}));
  EXPECT_EQ(tags(v6->take_written()), (std::vector<std::uint8_t>{2}));
  EXPECT_EQ(tags(g.main.take_written()), (std::vector<std::uint8_t>{3, 4, 6}));
}

TEST(TunGroup, ShortOrGarbledPacketsGoToTheMainDevice) {
  Group g;
  FakeTun* v4 = g.add("198.18.50.1", "uipsec0v1");
  PacketPool pool(16, 2048);
  auto truncated = packet_to(ip("198.18.50.1"), 1);
  truncated.resize(19);  // one byte short of an IPv4 header
  auto version5 = packet_to(ip("198.18.50.1"), 2);
  version5[0] = 0x55;
  auto short6 = packet_to(ip("2001:db8:50::1"), 3);
  short6.resize(39);
  auto out = buffers(pool, {truncated, version5, short6, {}});
  EXPECT_EQ(g.group->write_batch(out), 4u);
  EXPECT_TRUE(v4->take_written().empty());
  EXPECT_EQ(g.main.take_written().size(), 4u);
}

TEST(TunGroup, WithoutMembersEverythingIsTheMainDevices) {
  Group g;
  EXPECT_EQ(g.group->name(), "uipsec0");
  EXPECT_EQ(g.group->mtu(), g.main.mtu());
  EXPECT_EQ(&g.group->counters(), &g.main.counters());
  PacketPool pool(16, 2048);
  auto out = buffers(pool, {packet_to(ip("198.18.50.1"), 1)});
  EXPECT_EQ(g.group->write_batch(out), 1u);
  EXPECT_EQ(g.main.take_written().size(), 1u);
  const auto p = packet_to(ip("198.18.0.1"), 7);
  g.main.inject(p);
  PacketBatch batch;
  EXPECT_EQ(g.group->read_batch(pool, batch), 1u);
  EXPECT_EQ(batch.packets[0]->data()[20], 7);
}

TEST(TunGroup, ReadsEveryDeviceAndStartsOneFurtherEachCall) {
  Group g;
  FakeTun* v1 = g.add("198.18.50.1", "uipsec0v1");
  FakeTun* v2 = g.add("198.18.50.2", "uipsec0v2");
  // More than one batch waits in each device: whoever is read first fills the batch.
  for (int i = 0; i < 200; ++i) {
    g.main.inject(packet_to(ip("198.18.0.1"), 1));
    v1->inject(packet_to(ip("198.18.0.1"), 2));
    v2->inject(packet_to(ip("198.18.0.1"), 3));
  }
  PacketPool pool(kMaxBatch, 2048);
  std::vector<std::uint8_t> first_tags;
  int reads = 0;
  while ((g.main.pending() + v1->pending() + v2->pending()) > 0 && reads < 20) {
    PacketBatch batch;
    const std::size_t n = g.group->read_batch(pool, batch);
    ++reads;
    ASSERT_GT(n, 0u);
    first_tags.push_back(batch.packets[0]->data()[20]);
    for (std::size_t i = 0; i < batch.size; ++i) pool.release(batch.packets[i]);
  }
  EXPECT_EQ(g.main.pending() + v1->pending() + v2->pending(), 0u);
  // 600 packets, 128 a batch: 5 reads, and every device led at least once.
  EXPECT_EQ(reads, 5);
  for (std::uint8_t tag : {1, 2, 3}) {
    EXPECT_NE(std::find(first_tags.begin(), first_tags.end(), tag), first_tags.end())
        << "device " << int(tag) << " never read first";
  }
  // A readable member is read although the main device is idle.
  v2->inject(packet_to(ip("198.18.0.1"), 9));
  PacketBatch batch;
  EXPECT_EQ(g.group->read_batch(pool, batch), 1u);
  EXPECT_EQ(batch.packets[0]->data()[20], 9);
}

TEST(TunGroup, RefusesADuplicateAndMoreThanTheMaximum) {
  Group g;
  g.add("198.18.50.1", "uipsec0v1");
  auto duplicate = g.group->add(ip("198.18.50.1"), std::make_unique<FakeTun>("x"));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error().message().find("has a TUN device already (uipsec0v1)"),
            std::string::npos);
  for (std::size_t i = 2; i <= TunGroup::kMaxMembers; ++i) {
    const std::string address = "198.18.50." + std::to_string(i);
    ASSERT_TRUE(g.group->add(ip(address.c_str()), std::make_unique<FakeTun>("v")).ok()) << i;
  }
  auto more = g.group->add(ip("198.18.51.1"), std::make_unique<FakeTun>("v"));
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.error().message().find("at most 16"), std::string::npos);
  EXPECT_EQ(g.group->members().size(), TunGroup::kMaxMembers);
  // A freed slot is used again.
  EXPECT_TRUE(g.group->remove(ip("198.18.50.7")));
  EXPECT_FALSE(g.group->remove(ip("198.18.50.7")));
  EXPECT_TRUE(g.group->add(ip("198.18.51.1"), std::make_unique<FakeTun>("v")).ok());
}

TEST(TunGroup, ARemovedDeviceGetsNothingMore) {
  Group g;
  FakeTun* v1 = g.add("198.18.50.1", "uipsec0v1");
  PacketPool pool(16, 2048);
  auto out = buffers(pool, {packet_to(ip("198.18.50.1"), 1)});
  EXPECT_EQ(g.group->write_batch(out), 1u);
  EXPECT_EQ(v1->take_written().size(), 1u);
  std::unique_ptr<TunDevice> unlinked = g.group->unlink(ip("198.18.50.1"));
  ASSERT_EQ(unlinked.get(), v1);
  EXPECT_TRUE(g.group->members().empty());
  v1->inject(packet_to(ip("198.18.0.1"), 2));  // no longer polled
  PacketBatch batch;
  EXPECT_EQ(g.group->read_batch(pool, batch), 0u);
  EXPECT_EQ(g.group->write_batch(out), 1u);
  EXPECT_TRUE(v1->take_written().empty());
  EXPECT_EQ(g.main.take_written().size(), 1u);
  g.domain.synchronize();
}

// Devices added and removed by this (control) thread while a worker thread writes and reads
// through the group: every packet lands in exactly one device, none in a removed one after its
// removal, and nothing is used after it is freed (run under TSan and ASan).
TEST(TunGroup, MembersComeAndGoWhileAWorkerWritesAndReads) {
  Group g;
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> written{0};
  std::thread worker([&] {
    auto reader = g.domain.register_reader();
    PacketPool pool(64, 256);
    const IpAddress targets[] = {ip("198.18.50.1"), ip("2001:db8:50::1"), ip("198.18.0.9")};
    std::size_t round = 0;
    while (!stop.load()) {
      std::vector<std::vector<std::uint8_t>> packets;
      for (int i = 0; i < 12; ++i) packets.push_back(packet_to(targets[(round + i) % 3], 1));
      auto out = buffers(pool, packets);
      written += g.group->write_batch(out);
      for (PacketBuffer* b : out) pool.release(b);
      PacketBatch batch;
      g.group->read_batch(pool, batch);
      for (std::size_t i = 0; i < batch.size; ++i) pool.release(batch.packets[i]);
      reader->quiescent();
      ++round;
    }
    reader->offline();
  });
  std::size_t seen = 0;
  for (int round = 0; round < 300; ++round) {
    auto v4 = std::make_unique<FakeTun>("uipsec0v1");
    auto v6 = std::make_unique<FakeTun>("uipsec0v2");
    FakeTun* raw4 = v4.get();
    v4->inject(packet_to(ip("198.18.0.1"), 1));
    ASSERT_TRUE(g.group->add(ip("198.18.50.1"), std::move(v4)).ok());
    ASSERT_TRUE(g.group->add(ip("2001:db8:50::1"), std::move(v6)).ok());
    std::this_thread::yield();
    auto d4 = g.group->unlink(ip("198.18.50.1"));
    auto d6 = g.group->unlink(ip("2001:db8:50::1"));
    ASSERT_EQ(d4.get(), raw4);
    g.domain.synchronize();  // the worker is done with both now
    seen += static_cast<FakeTun&>(*d4).take_written().size();
    seen += static_cast<FakeTun&>(*d6).take_written().size();
    EXPECT_TRUE(static_cast<FakeTun&>(*d4).take_written().empty());
  }
  stop = true;
  worker.join();
  seen += g.main.take_written().size();
  EXPECT_EQ(seen, written.load());
  EXPECT_GT(written.load(), 0u);
}

}  // namespace
}  // namespace uipsec
