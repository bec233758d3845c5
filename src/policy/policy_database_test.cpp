#include "policy/policy_database.hpp"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

IpPacketInfo packet(const char* src, const char* dst) {
  IpPacketInfo p;
  p.src = *IpAddress::parse(src);
  p.dst = *IpAddress::parse(dst);
  p.family = p.src.family();
  return p;
}

PolicyConfig policy(const char* src, const char* dst, PolicyAction action, std::uint32_t priority,
                    PolicyDirection dir = PolicyDirection::kOut) {
  PolicyConfig c;
  c.selector.source = *IpPrefix::parse(src);
  c.selector.destination = *IpPrefix::parse(dst);
  c.direction = dir;
  c.action = action;
  c.priority = priority;
  if (action == PolicyAction::kProtect) {
    c.tmpl = PolicyTemplate{Reqid(1), TemplateMode::kTunnel, *IpAddress::parse("198.18.0.1"),
                            *IpAddress::parse("198.18.0.2")};
  }
  return c;
}

TEST(PolicyDatabase, LowestPriorityValueWinsThenOlderPolicy) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  const Timestamp now;
  ASSERT_TRUE(
      spd.add(policy("198.18.0.0/16", "198.19.0.0/16", PolicyAction::kProtect, 100), now).ok());
  ASSERT_TRUE(
      spd.add(policy("198.18.1.0/24", "198.19.0.0/16", PolicyAction::kDiscard, 50), now).ok());
  ASSERT_TRUE(
      spd.add(policy("198.18.1.0/24", "198.19.1.0/24", PolicyAction::kBypass, 50), now).ok());
  Policy* p = spd.lookup(PolicyDirection::kOut, packet("198.18.1.1", "198.19.1.1"));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->config().action, PolicyAction::kDiscard) << "same priority: the older policy wins";
  p = spd.lookup(PolicyDirection::kOut, packet("198.18.2.1", "198.19.1.1"));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->config().action, PolicyAction::kProtect);
  EXPECT_EQ(spd.lookup(PolicyDirection::kOut, packet("198.20.0.1", "198.19.1.1")), nullptr);
  EXPECT_EQ(spd.lookup(PolicyDirection::kIn, packet("198.18.2.1", "198.19.1.1")), nullptr)
      << "directions are separate";
}

TEST(PolicyDatabase, AddRefusesDuplicatesUpdateReplaces) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  const Timestamp now;
  auto first = spd.add(policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kProtect, 1), now);
  ASSERT_TRUE(first.ok());
  auto dup = spd.add(policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kBypass, 2), now);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message().find("exists"), std::string::npos);
  auto updated =
      spd.update(policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kBypass, 2), now);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(*updated, *first) << "an update keeps the policy's index";
  EXPECT_EQ(spd.size(), 1u);
  EXPECT_EQ(spd.lookup(PolicyDirection::kOut, packet("198.18.0.1", "198.19.0.1"))->config().action,
            PolicyAction::kBypass);
  ASSERT_TRUE(
      spd.remove(policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kBypass, 0).id()).ok());
  EXPECT_EQ(spd.size(), 0u);
  EXPECT_FALSE(
      spd.remove(policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kBypass, 0).id()).ok());
}

TEST(PolicyDatabase, RefusesInvalidPolicies) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  auto protect_without_template =
      policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kProtect, 1);
  protect_without_template.tmpl.reset();
  EXPECT_FALSE(spd.add(protect_without_template, Timestamp()).ok());
  auto discard_with_template = policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kProtect, 1);
  discard_with_template.action = PolicyAction::kDiscard;
  EXPECT_FALSE(spd.add(discard_with_template, Timestamp()).ok());
  EXPECT_EQ(spd.size(), 0u);
}

// Differential test: lookups agree with a naive "best by (priority, age)" scan.
TEST(PolicyDatabase, MatchesNaiveModel) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  std::mt19937 engine(7);
  auto rng = [&] { return static_cast<unsigned>(engine()); };
  std::vector<PolicyConfig> model;
  for (int i = 0; i < 200; ++i) {
    char src[32], dst[32];
    std::snprintf(src, sizeof(src), "198.18.%u.0/%u", rng() % 4, 22 + rng() % 3);
    std::snprintf(dst, sizeof(dst), "198.19.%u.0/%u", rng() % 4, 22 + rng() % 3);
    auto c = policy(src, dst, static_cast<PolicyAction>(rng() % 3), rng() % 5);
    if (spd.add(c, Timestamp()).ok()) model.push_back(c);
  }
  for (int i = 0; i < 2000; ++i) {
    char src[32], dst[32];
    std::snprintf(src, sizeof(src), "198.18.%u.%u", rng() % 5, rng() % 256);
    std::snprintf(dst, sizeof(dst), "198.19.%u.%u", rng() % 5, rng() % 256);
    const auto p = packet(src, dst);
    const PolicyConfig* expected = nullptr;
    for (const auto& c : model) {
      if (c.selector.matches(p) && (expected == nullptr || c.priority < expected->priority)) {
        expected = &c;
      }
    }
    const Policy* found = spd.lookup(PolicyDirection::kOut, p);
    ASSERT_EQ(found == nullptr, expected == nullptr) << src << " -> " << dst;
    if (found) {
      EXPECT_EQ(found->config().id(), expected->id());
    }
  }
}

TEST(PolicyDatabase, ReadersSeeConsistentSnapshotsWhileTheWriterChurns) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  ASSERT_TRUE(
      spd.add(policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kProtect, 10), Timestamp())
          .ok());
  std::atomic<bool> stop{false}, registered{false};
  std::atomic<int> misses{0};
  std::thread reader_thread([&] {
    auto reader = domain.register_reader();
    registered = true;
    const auto p = packet("198.18.0.1", "198.19.0.1");
    while (!stop.load()) {
      for (int i = 0; i < 100; ++i) {
        const Policy* found = spd.lookup(PolicyDirection::kOut, p);
        if (found == nullptr || found->config().priority != 10) misses.fetch_add(1);
      }
      reader->quiescent();
    }
  });
  while (!registered.load()) std::this_thread::yield();
  for (int i = 0; i < 300; ++i) {
    auto c = policy("198.18.0.0/24", "198.20.0.0/24", PolicyAction::kBypass, 20);
    ASSERT_TRUE(spd.update(c, Timestamp()).ok());
    ASSERT_TRUE(spd.remove(c.id()).ok());
    domain.reclaim();
  }
  stop = true;
  reader_thread.join();
  domain.synchronize();
  EXPECT_EQ(misses.load(), 0);
}

}  // namespace
}  // namespace uipsec
