#include "backend/local_backend.hpp"

#include <gtest/gtest.h>

#include <set>

#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

using test::addr;

struct RecordingListener : EventListener {
  void on_event(const IpsecEvent& e) override { events.push_back(e); }
  std::vector<IpsecEvent> events;
};

class LocalBackendTest : public ::testing::Test {
 protected:
  LocalBackend make(LocalBackend::Options options = {}) {
    return LocalBackend(domain_, sad_, spd_, events_, {&worker0_, &worker1_}, clock_, options);
  }

  QsbrDomain domain_;
  SaDatabase sad_{domain_, 2};
  PolicyDatabase spd_{domain_};
  EventQueue events_{16};
  WorkerCounters worker0_, worker1_;
  FakeClock clock_;
  LocalBackend backend_ = make();
};

TEST_F(LocalBackendTest, AllocatesDistinctSpisInTheRange) {
  LocalBackend::Options options;
  options.spi_range = {0x1000, 0x10ff};
  LocalBackend backend = make(options);
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 100; ++i) {
    auto spi = backend.allocate_spi(addr("198.18.0.2"), addr("198.18.0.1"));
    ASSERT_TRUE(spi.ok()) << spi.error().message();
    EXPECT_GE(spi->value(), 0x1000u);
    EXPECT_LE(spi->value(), 0x10ffu);
    EXPECT_TRUE(seen.insert(spi->value()).second) << "handed out twice while reserved";
  }
}

TEST_F(LocalBackendTest, SpiReservationsLapseAndSaSpisStayTaken) {
  LocalBackend::Options options;
  options.spi_range = {0x1000, 0x1001};
  options.spi_reservation_seconds = 30;
  LocalBackend backend = make(options);
  auto first = backend.allocate_spi(addr("198.18.0.2"), addr("198.18.0.1"));
  auto second = backend.allocate_spi(addr("198.18.0.2"), addr("198.18.0.1"));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*first, *second);
  auto third = backend.allocate_spi(addr("198.18.0.2"), addr("198.18.0.1"));
  ASSERT_FALSE(third.ok()) << "both SPIs are reserved";
  EXPECT_NE(third.error().message().find("no free SPI"), std::string::npos);

  // One becomes an SA; the other reservation lapses.
  ASSERT_TRUE(backend.add_sa(test::sa_config("198.18.0.2", "198.18.0.1", first->value())).ok());
  clock_.advance_seconds(31);
  backend.tick();
  auto again = backend.allocate_spi(addr("198.18.0.2"), addr("198.18.0.1"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *second);
}

TEST_F(LocalBackendTest, RefusesAnSpiRangeWithReservedValues) {
  LocalBackend::Options options;
  options.spi_range = {0, 0x1000};
  LocalBackend backend = make(options);
  EXPECT_FALSE(backend.allocate_spi(addr("198.18.0.2"), addr("198.18.0.1")).ok());
}

TEST_F(LocalBackendTest, SaLifecycleAndKeyDisclosure) {
  const SaConfig config = test::sa_config("198.18.0.1", "198.18.0.2", 0x1234, 9);
  ASSERT_TRUE(backend_.add_sa(config).ok());
  EXPECT_FALSE(backend_.add_sa(config).ok());

  auto info = backend_.query_sa(config.id(), KeyDisclosure::kOmit);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->config.algorithms.cipher_key.empty()) << "keys only when asked for";
  EXPECT_EQ(info->config.reqid, Reqid(9));
  EXPECT_EQ(info->added, clock_.now());
  EXPECT_FALSE(info->first_use.has_value());
  auto with_keys = backend_.query_sa(config.id(), KeyDisclosure::kInclude);
  ASSERT_TRUE(with_keys.ok());
  EXPECT_EQ(with_keys->config.algorithms.cipher_key, config.algorithms.cipher_key);

  SaEndpoints moved = config.endpoints;
  moved.encapsulation->destination_port = 4501;
  ASSERT_TRUE(backend_.update_sa(config.id(), moved).ok());
  EXPECT_EQ(backend_.query_sa(config.id(), KeyDisclosure::kOmit)->config.endpoints, moved);

  ASSERT_TRUE(backend_.add_sa(test::sa_config("198.18.0.2", "198.18.0.1", 0x1234, 9)).ok());
  EXPECT_EQ(backend_.list_sas(KeyDisclosure::kOmit)->size(), 2u);
  ASSERT_TRUE(backend_.delete_sa(config.id()).ok());
  EXPECT_FALSE(backend_.query_sa(config.id(), KeyDisclosure::kOmit).ok());
  EXPECT_FALSE(backend_.delete_sa(config.id()).ok());
  EXPECT_EQ(*backend_.flush_sas(), 1u);
  EXPECT_TRUE(backend_.list_sas(KeyDisclosure::kOmit)->empty());
}

TEST_F(LocalBackendTest, InvalidSaChangesNothing) {
  auto bad = test::sa_config("198.18.0.1", "198.18.0.2", 0x1234);
  bad.replay_window = 1u << 20;
  auto r = backend_.add_sa(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("replay-window"), std::string::npos);
  EXPECT_TRUE(backend_.list_sas(KeyDisclosure::kOmit)->empty());
}

TEST_F(LocalBackendTest, PolicyLifecycle) {
  const PolicyConfig p =
      test::protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2");
  ASSERT_TRUE(backend_.add_policy(p).ok());
  EXPECT_FALSE(backend_.add_policy(p).ok());
  PolicyConfig changed = p;
  changed.priority = 7;
  ASSERT_TRUE(backend_.update_policy(changed).ok());
  auto info = backend_.query_policy(p.id());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->config.priority, 7u);
  EXPECT_EQ(backend_.list_policies()->size(), 1u);
  ASSERT_TRUE(backend_.delete_policy(p.id()).ok());
  EXPECT_FALSE(backend_.query_policy(p.id()).ok());
  ASSERT_TRUE(backend_.add_policy(p).ok());
  EXPECT_EQ(*backend_.flush_policies(), 1u);
}

TEST_F(LocalBackendTest, StatisticsSumEveryWorker) {
  worker0_.drops.count(DropReason::kUnknownSpi, 3);
  worker1_.drops.count(DropReason::kUnknownSpi, 4);
  worker1_.drops.count(DropReason::kReplayDuplicate);
  worker0_.sealed.add(10);
  worker1_.opened.add(5);
  worker0_.held.add(4);
  worker1_.held.add(2);
  worker1_.released.add(3);
  ASSERT_TRUE(backend_.add_sa(test::sa_config("198.18.0.1", "198.18.0.2", 0x1234)).ok());
  auto s = backend_.statistics();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->drops[static_cast<std::size_t>(DropReason::kUnknownSpi)], 7u);
  EXPECT_EQ(s->drops[static_cast<std::size_t>(DropReason::kReplayDuplicate)], 1u);
  EXPECT_EQ(s->sealed, 10u);
  EXPECT_EQ(s->opened, 5u);
  EXPECT_EQ(s->held, 6u);
  EXPECT_EQ(s->released, 3u);
  EXPECT_EQ(s->sa_count, 1u);
}

TEST_F(LocalBackendTest, TickDeliversQueuedEventsAndTimeExpiries) {
  RecordingListener listener;
  backend_.add_listener(listener);
  auto config = test::sa_config("198.18.0.1", "198.18.0.2", 0x1234, 4);
  config.lifetimes.soft.add_seconds = 10;
  config.lifetimes.hard.add_seconds = 20;
  ASSERT_TRUE(backend_.add_sa(config).ok());
  ASSERT_TRUE(events_.try_push(
      AcquireEvent{Reqid(4), PolicyIndex(1), TrafficSelector::any(IpFamily::kV4)}));

  EXPECT_EQ(backend_.tick(), 1u);
  ASSERT_EQ(listener.events.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<AcquireEvent>(listener.events[0]));

  clock_.advance_seconds(10);
  EXPECT_EQ(backend_.tick(), 1u);
  ASSERT_EQ(listener.events.size(), 2u);
  EXPECT_FALSE(std::get<ExpireEvent>(listener.events[1]).hard);
  EXPECT_EQ(std::get<ExpireEvent>(listener.events[1]).sa, config.id());
  EXPECT_EQ(backend_.tick(), 0u) << "each limit fires once";

  clock_.advance_seconds(10);
  backend_.tick();
  ASSERT_EQ(listener.events.size(), 3u);
  EXPECT_TRUE(std::get<ExpireEvent>(listener.events[2]).hard);
  EXPECT_TRUE(backend_.query_sa(config.id(), KeyDisclosure::kOmit)->hard_expired);

  backend_.remove_listener(listener);
  ASSERT_TRUE(events_.try_push(AcquireEvent{}));
  backend_.tick();
  EXPECT_EQ(listener.events.size(), 3u);
}

}  // namespace
}  // namespace uipsec
