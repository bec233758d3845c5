#include "policy/policy_database.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "policy/linear_policy_table.hpp"
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

TEST(PolicyDatabase, GetAndForEachFollowIdsAndInsertionOrder) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  const Timestamp now;
  const auto a = policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kBypass, 5);
  const auto b =
      policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kBypass, 1, PolicyDirection::kIn);
  const auto c = policy("2001:db8::/64", "2001:db8:1::/64", PolicyAction::kDiscard, 3);
  ASSERT_TRUE(spd.add(a, now).ok());
  ASSERT_TRUE(spd.add(b, now).ok());
  ASSERT_TRUE(spd.add(c, now).ok());
  ASSERT_TRUE(spd.update(a, now).ok());
  std::vector<PolicyId> order;
  spd.for_each([&](const Policy& p) { order.push_back(p.config().id()); });
  EXPECT_EQ(order, (std::vector<PolicyId>{a.id(), b.id(), c.id()})) << "an update keeps the place";
  ASSERT_NE(spd.get(b.id()), nullptr);
  EXPECT_EQ(spd.get(b.id())->config().direction, PolicyDirection::kIn);
  EXPECT_EQ(spd.get(policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kBypass, 5,
                           PolicyDirection::kFwd)
                        .id()),
            nullptr);
}

TEST(PolicyDatabase, UpdateKeepsTheAgeForTieBreaks) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  const Timestamp now;
  auto older = policy("198.18.0.0/16", "198.19.0.0/16", PolicyAction::kDiscard, 9);
  auto younger = policy("198.18.0.0/24", "198.19.0.0/24", PolicyAction::kBypass, 5);
  ASSERT_TRUE(spd.add(older, now).ok());
  ASSERT_TRUE(spd.add(younger, now).ok());
  const auto p = packet("198.18.0.1", "198.19.0.1");
  EXPECT_EQ(spd.lookup(PolicyDirection::kOut, p)->config().id(), younger.id());
  older.priority = 5;  // now tied: the older policy wins although it was updated last
  ASSERT_TRUE(spd.update(older, now).ok());
  EXPECT_EQ(spd.lookup(PolicyDirection::kOut, p)->config().id(), older.id());
  older.priority = 6;
  ASSERT_TRUE(spd.update(older, now).ok());
  EXPECT_EQ(spd.lookup(PolicyDirection::kOut, p)->config().id(), younger.id());
}

TEST(PolicyDatabase, AddressRangesSelectExactly) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  const Timestamp now;
  auto narrow = policy("0.0.0.0/0", "198.19.0.0/16", PolicyAction::kDiscard, 1);
  narrow.selector.set_source(*AddressRange::parse("198.18.0.10-198.18.0.20"));
  ASSERT_TRUE(spd.add(narrow, now).ok());
  ASSERT_TRUE(
      spd.add(policy("198.18.0.0/24", "198.19.0.0/16", PolicyAction::kBypass, 2), now).ok());
  EXPECT_EQ(spd.lookup(PolicyDirection::kOut, packet("198.18.0.15", "198.19.0.1"))->config().action,
            PolicyAction::kDiscard);
  EXPECT_EQ(spd.lookup(PolicyDirection::kOut, packet("198.18.0.21", "198.19.0.1"))->config().action,
            PolicyAction::kBypass)
      << "inside the covering prefix /27 but outside the range";
  ASSERT_TRUE(spd.remove(narrow.id()).ok());
  EXPECT_EQ(spd.lookup(PolicyDirection::kOut, packet("198.18.0.15", "198.19.0.1"))->config().action,
            PolicyAction::kBypass);
}

TEST(PolicyDatabase, RemovingEverythingLeavesAnEmptyIndex) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  std::vector<PolicyConfig> all;
  for (int i = 0; i < 300; ++i) {
    char src[48], dst[48];
    std::snprintf(src, sizeof(src), "198.18.%d.0/%d", i % 7, 16 + i % 17);
    std::snprintf(dst, sizeof(dst), "2001:db8:%x::%x/%d", i % 5, i, 32 + i % 97);
    auto c = policy(i % 2 ? src : "198.18.0.0/16", i % 2 ? "198.19.0.0/16" : "198.19.1.0/24",
                    PolicyAction::kBypass, static_cast<std::uint32_t>(i % 3),
                    static_cast<PolicyDirection>(i % 3));
    c.selector.protocol = ip_protocol::kUdp;
    c.selector.destination_ports = PortRange::single(static_cast<std::uint16_t>(i));
    if (i % 4 == 0) {
      c.selector = TrafficSelector::any(IpFamily::kV6);
      c.selector.source = *IpPrefix::parse("2001:db8::/32");
      c.selector.destination = *IpPrefix::parse(dst);
    }
    if (spd.add(c, Timestamp()).ok()) all.push_back(c);
  }
  EXPECT_GT(spd.classifier().stats().trie_nodes, 0u);
  for (const auto& c : all) ASSERT_TRUE(spd.remove(c.id()).ok());
  const auto stats = spd.classifier().stats();
  EXPECT_EQ(stats.trie_nodes, 0u);
  EXPECT_EQ(stats.source_sets, 0u);
  EXPECT_EQ(stats.candidate_lists, 0u);
  EXPECT_EQ(spd.size(), 0u);
}

// --- Differential test against LinearPolicyTable -------------------------------------------------

// Random selectors, policies and packets over a small address universe per family, so that
// prefixes nest, overlap and collide; priorities from a small set, so that ties are common.
class RandomSpd {
 public:
  explicit RandomSpd(std::uint32_t seed) : rng_(seed) {}

  unsigned below(unsigned n) { return static_cast<unsigned>(rng_() % n); }

  IpAddress address(IpFamily family) {
    std::uint8_t bytes[16] = {};
    if (family == IpFamily::kV4) {
      bytes[0] = 10;
      bytes[1] = static_cast<std::uint8_t>(below(2));
      bytes[2] = static_cast<std::uint8_t>(below(4));
      bytes[3] = static_cast<std::uint8_t>(below(256));
    } else {
      bytes[0] = 0x20;
      bytes[1] = 0x01;
      bytes[5] = static_cast<std::uint8_t>(below(2));
      bytes[14] = static_cast<std::uint8_t>(below(4));
      bytes[15] = static_cast<std::uint8_t>(below(256));
    }
    return IpAddress::from_bytes(family, bytes);
  }

  std::uint8_t length(IpFamily family) {
    const unsigned width = family == IpFamily::kV4 ? 32 : 128;
    switch (below(6)) {
      case 0:
        return static_cast<std::uint8_t>(below(9));  // wide: /0../8
      case 1:
        return static_cast<std::uint8_t>(width);  // host
      default:
        return static_cast<std::uint8_t>(width - below(12));  // /21../32, /117../128
    }
  }

  void side(IpFamily family, IpPrefix& prefix, std::optional<AddressRange>& range) {
    range.reset();
    if (below(8) == 0) {
      IpAddress a = address(family), b = address(family);
      if (b < a) std::swap(a, b);
      TrafficSelector scratch;
      scratch.set_source(AddressRange{a, b});
      prefix = scratch.source;
      range = scratch.source_range;
      return;
    }
    prefix = IpPrefix(address(family), length(family));
  }

  PortRange ports(unsigned universe) {
    if (below(2) == 0) return PortRange::any();
    const auto a = static_cast<std::uint16_t>(below(universe));
    const auto b = static_cast<std::uint16_t>(below(universe));
    return PortRange{std::min(a, b), std::max(a, b)};
  }

  TrafficSelector selector() {
    const IpFamily family = below(3) == 0 ? IpFamily::kV6 : IpFamily::kV4;
    TrafficSelector s = TrafficSelector::any(family);
    side(family, s.source, s.source_range);
    side(family, s.destination, s.destination_range);
    switch (below(5)) {
      case 0:
      case 1:
        break;
      case 2:
        s.protocol = ip_protocol::kTcp;
        s.source_ports = ports(8);
        s.destination_ports = ports(8);
        break;
      case 3:
        s.protocol = ip_protocol::kUdp;
        s.destination_ports = ports(8);
        break;
      default:
        s.protocol = family == IpFamily::kV4 ? ip_protocol::kIcmp : ip_protocol::kIcmpv6;
        s.source_ports = ports(4);
        s.destination_ports = ports(4);
    }
    return s;
  }

  PolicyConfig config() {
    PolicyConfig c;
    c.selector = selector();
    c.direction = static_cast<PolicyDirection>(below(3));
    c.action = static_cast<PolicyAction>(below(3));
    c.priority = below(6);
    if (c.action == PolicyAction::kProtect) {
      c.tmpl = PolicyTemplate{Reqid(below(100)), TemplateMode::kTransport, {}, {}};
    }
    return c;
  }

  // A packet, often inside `near` (when given) so that lookups hit.
  IpPacketInfo packet(const TrafficSelector* near) {
    IpPacketInfo p;
    const IpFamily family = near ? near->family() : (below(3) == 0 ? IpFamily::kV6 : IpFamily::kV4);
    p.family = family;
    p.src = address(family);
    p.dst = address(family);
    if (near != nullptr && below(4) != 0) {
      // Inside the selector's addresses, or at a range's ends.
      if (near->source_range) {
        p.src = below(2) ? near->source_range->first : near->source_range->last;
      } else if (below(2)) {
        p.src = near->source.address();
      }
      if (near->destination_range) {
        p.dst = below(2) ? near->destination_range->first : near->destination_range->last;
      } else if (below(2)) {
        p.dst = near->destination.address();
      }
    }
    const unsigned kind = near != nullptr && near->protocol != 0 && below(3) != 0 ? 10 : below(4);
    const std::uint8_t icmp = family == IpFamily::kV4 ? ip_protocol::kIcmp : ip_protocol::kIcmpv6;
    p.protocol = kind == 10  ? near->protocol
                 : kind == 0 ? ip_protocol::kTcp
                 : kind == 1 ? ip_protocol::kUdp
                 : kind == 2 ? icmp
                             : std::uint8_t{47};
    if (p.protocol == ip_protocol::kTcp || p.protocol == ip_protocol::kUdp) {
      p.ports_known = below(8) != 0;  // sometimes a later fragment: OPAQUE ports
      p.src_port = static_cast<std::uint16_t>(below(9));
      p.dst_port = static_cast<std::uint16_t>(below(9));
    } else if (p.protocol == icmp) {
      p.icmp_known = below(8) != 0;
      p.icmp_type = static_cast<std::uint8_t>(below(5));
      p.icmp_code = static_cast<std::uint8_t>(below(5));
    }
    return p;
  }

 private:
  std::mt19937 rng_;
};

// Compares one lookup of each direction; returns false (after a gtest failure) on a difference.
bool same_answers(const PolicyDatabase& spd, LinearPolicyTable& model, const IpPacketInfo& p) {
  for (std::size_t d = 0; d < kPolicyDirectionCount; ++d) {
    const auto dir = static_cast<PolicyDirection>(d);
    const Policy* found = spd.lookup(dir, p);
    const PolicyConfig* expected = model.lookup(dir, p);
    EXPECT_EQ(found == nullptr, expected == nullptr)
        << "dir " << to_string(dir) << " packet " << p.src.to_string() << " -> "
        << p.dst.to_string() << " proto " << int{p.protocol} << " expected "
        << (expected ? expected->selector.to_string() : "none") << " found "
        << (found ? found->config().selector.to_string() : "none");
    if ((found == nullptr) != (expected == nullptr)) return false;
    if (found != nullptr) {
      EXPECT_EQ(found->config().id(), expected->id())
          << "packet " << p.src.to_string() << " -> " << p.dst.to_string() << " expected "
          << expected->selector.to_string() << " prio " << expected->priority << " found "
          << found->config().selector.to_string() << " prio " << found->config().priority;
      if (!(found->config().id() == expected->id())) return false;
      EXPECT_EQ(found->config().priority, expected->priority);
    }
  }
  return true;
}

TEST(PolicyDatabase, MatchesALinearScanUnderRandomChanges) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  LinearPolicyTable model;
  RandomSpd random(20261127);
  std::vector<PolicyConfig> known;  // ids seen, present or not
  std::size_t lookups = 0, hits = 0;
  for (int step = 0; step < 6000; ++step) {
    const unsigned op = random.below(100);
    if (op < 40 || known.empty()) {
      PolicyConfig c = random.config();
      const bool added = spd.add(c, Timestamp()).ok();
      ASSERT_EQ(added, model.add(c)) << c.id().to_string();
      known.push_back(c);
    } else if (op < 60) {
      // Update: the same id with a new priority, action or ports — or a new one.
      PolicyConfig c = random.below(4) == 0
                           ? random.config()
                           : known[random.below(static_cast<unsigned>(known.size()))];
      c.priority = random.below(6);
      c.action = static_cast<PolicyAction>(random.below(3));
      c.tmpl.reset();
      if (c.action == PolicyAction::kProtect) {
        c.tmpl = PolicyTemplate{Reqid(random.below(100)), TemplateMode::kTransport, {}, {}};
      }
      ASSERT_TRUE(spd.update(c, Timestamp()).ok());
      model.update(c);
      known.push_back(c);
    } else if (op < 85) {
      const PolicyId id = known[random.below(static_cast<unsigned>(known.size()))].id();
      ASSERT_EQ(spd.remove(id).ok(), model.remove(id));
    } else if (op == 99 && random.below(20) == 0) {
      ASSERT_EQ(spd.flush(), model.size());
      model.clear();
    }
    ASSERT_EQ(spd.size(), model.size());
    for (int q = 0; q < 8; ++q) {
      const PolicyConfig* near = known.empty() || random.below(4) == 0
                                     ? nullptr
                                     : &known[random.below(static_cast<unsigned>(known.size()))];
      const IpPacketInfo p = random.packet(near ? &near->selector : nullptr);
      ++lookups;
      hits += spd.lookup(PolicyDirection::kOut, p) != nullptr ? 1 : 0;
      ASSERT_TRUE(same_answers(spd, model, p)) << "step " << step;
    }
    if (step % 500 == 0) {
      const PolicyId id = known[random.below(static_cast<unsigned>(known.size()))].id();
      const Policy* got = spd.get(id);
      const PolicyConfig* want = model.get(id);
      ASSERT_EQ(got == nullptr, want == nullptr);
      if (got != nullptr) {
        EXPECT_EQ(got->config().priority, want->priority);
      }
      std::vector<PolicyId> order, expected_order;
      spd.for_each([&](const Policy& p) { order.push_back(p.config().id()); });
      for (const PolicyConfig* c : model.in_insertion_order()) expected_order.push_back(c->id());
      ASSERT_EQ(order, expected_order);
      domain.reclaim();
    }
  }
  // The test means something only if lookups both hit and miss.
  EXPECT_GT(hits, lookups / 10);
  EXPECT_LT(hits, lookups);
}

// --- At scale
// -------------------------------------------------------------------------------------

// n policies as a large gateway might hold them: mostly host-to-host (/32) PROTECT policies, a
// share of prefixes /8../31 on either side, ports on some, a few wide BYPASS/DISCARD ones.
std::vector<PolicyConfig> many_policies(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<PolicyConfig> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    PolicyConfig c;
    const auto src_length = static_cast<std::uint8_t>(i % 4 == 0 ? 32 : 8 + rng() % 25);
    const auto dst_length = static_cast<std::uint8_t>(i % 4 == 0 ? 32 : 8 + rng() % 25);
    c.selector.source = IpPrefix(IpAddress::v4(0x0a000000u | (rng() & 0x00ffffffu)), src_length);
    c.selector.destination =
        IpPrefix(IpAddress::v4(0xac100000u | (rng() & 0x000fffffu)), dst_length);
    if (i % 3 == 0) {
      c.selector.protocol = ip_protocol::kTcp;
      c.selector.destination_ports =
          PortRange::single(static_cast<std::uint16_t>(1 + rng() % 1024));
    }
    c.priority = static_cast<std::uint32_t>(rng() % 1000);
    c.action = PolicyAction::kProtect;
    c.tmpl =
        PolicyTemplate{Reqid(static_cast<std::uint32_t>(i + 1)), TemplateMode::kTransport, {}, {}};
    if (i % 997 == 0) {
      c.action = i % 2 ? PolicyAction::kBypass : PolicyAction::kDiscard;
      c.tmpl.reset();
      c.selector.source = IpPrefix(c.selector.source.address(), 4);
      c.priority = 500;
    }
    out.push_back(c);
  }
  return out;
}

TEST(PolicyDatabase, HundredThousandPoliciesLookupAndChangeCheaply) {
  constexpr std::size_t kPolicies = 100000;
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  LinearPolicyTable model;
  for (const auto& c : many_policies(kPolicies, 42)) {
    if (spd.add(c, Timestamp()).ok()) {
      ASSERT_TRUE(model.add(c));
    }
  }
  ASSERT_GT(spd.size(), kPolicies * 95 / 100);  // short prefixes collide now and then
  domain.reclaim();

  // Lookups of flows inside random policies agree with the linear scan.
  std::mt19937 rng(7);
  const auto sample = many_policies(kPolicies, 42);
  for (int i = 0; i < 300; ++i) {
    const PolicyConfig& c = sample[rng() % sample.size()];
    auto inside = [&](const IpPrefix& prefix) {
      const std::uint32_t host_bits = prefix.length() == 32 ? 0 : 0xffffffffu >> prefix.length();
      return IpAddress::v4(prefix.address().v4_host_order() | (rng() & host_bits));
    };
    IpPacketInfo p;
    p.src = inside(c.selector.source);
    p.dst = inside(c.selector.destination);
    p.protocol = ip_protocol::kTcp;
    p.ports_known = true;
    p.src_port = 40000;
    p.dst_port = c.selector.destination_ports.first;
    ASSERT_TRUE(same_answers(spd, model, p)) << "sample " << i;
  }

  // Structure: tries stay shallow, and the index is linear in size.
  const auto stats = spd.classifier().stats();
  EXPECT_LE(stats.max_trie_depth, 2u * (32 / 4 + 1));
  EXPECT_LE(stats.trie_nodes, 4 * spd.size());

  // One more add and one remove at 100 000 build a handful of objects — nothing is rebuilt whole.
  PolicyConfig extra = sample[0];
  extra.selector.source = *IpPrefix::parse("192.0.2.7/32");
  extra.selector.destination = *IpPrefix::parse("198.51.100.9/32");
  std::uint64_t before = spd.classifier().objects_built();
  ASSERT_TRUE(spd.add(extra, Timestamp()).ok());
  EXPECT_LE(spd.classifier().objects_built() - before, 6u);
  before = spd.classifier().objects_built();
  ASSERT_TRUE(spd.remove(sample[12345].id()).ok());
  EXPECT_LE(spd.classifier().objects_built() - before, 6u);
  before = spd.classifier().objects_built();
  auto changed = sample[777];
  changed.priority = 1;
  ASSERT_TRUE(spd.update(changed, Timestamp()).ok());
  EXPECT_LE(spd.classifier().objects_built() - before, 1u) << "an update builds one list";
}

// Readers (two threads, QSBR) look up flows of stable policies while the writer adds, updates
// and removes overlapping policies around them — in the same SourceSets, the same
// CandidateLists, wider and narrower — all of worse priority. Every lookup must return the
// stable policy.
TEST(PolicyDatabase, ReadersNeverMissAStablePolicyWhileTheWriterChurns) {
  QsbrDomain domain;
  PolicyDatabase spd(domain);
  constexpr int kStable = 32;
  std::vector<PolicyConfig> stable;
  std::vector<IpPacketInfo> flows;
  for (int i = 0; i < kStable; ++i) {
    char src[32], dst[32];
    std::snprintf(src, sizeof(src), "198.18.%d.0/24", i);
    std::snprintf(dst, sizeof(dst), "198.19.%d.%d/32", i % 4, i);
    auto c = policy(src, dst, PolicyAction::kBypass, 10);
    c.selector.protocol = ip_protocol::kUdp;
    c.selector.destination_ports = PortRange::single(static_cast<std::uint16_t>(100 + i));
    ASSERT_TRUE(spd.add(c, Timestamp()).ok());
    stable.push_back(c);
    IpPacketInfo p = packet(("198.18." + std::to_string(i) + ".5").c_str(),
                            ("198.19." + std::to_string(i % 4) + "." + std::to_string(i)).c_str());
    p.protocol = ip_protocol::kUdp;
    p.ports_known = true;
    p.src_port = 5;
    p.dst_port = static_cast<std::uint16_t>(100 + i);
    flows.push_back(p);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> registered{0};
  std::atomic<long> wrong{0}, done{0};
  auto reader_loop = [&] {
    auto reader = domain.register_reader();
    registered.fetch_add(1);
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < kStable; ++i) {
        const Policy* found = spd.lookup(PolicyDirection::kOut, flows[static_cast<std::size_t>(i)]);
        if (found == nullptr ||
            !(found->config().id() == stable[static_cast<std::size_t>(i)].id())) {
          wrong.fetch_add(1);
        }
      }
      done.fetch_add(1, std::memory_order_relaxed);
      reader->quiescent();
    }
  };
  std::thread r1(reader_loop), r2(reader_loop);
  while (registered.load() < 2) std::this_thread::yield();

  std::mt19937 rng(99);
  std::vector<PolicyConfig> churn;
  for (int step = 0; step < 4000; ++step) {
    const int i = static_cast<int>(rng() % kStable);
    PolicyConfig c = stable[static_cast<std::size_t>(i)];
    c.priority = 11 + rng() % 50;
    switch (rng() % 4) {
      case 0:  // same prefixes, other ports: shares the CandidateList
        c.selector.destination_ports =
            PortRange::single(static_cast<std::uint16_t>(2000 + rng() % 50));
        break;
      case 1:  // same destination, another source: shares the SourceSet
        c.selector.source =
            IpPrefix(IpAddress::v4(0xc6120000u | (rng() & 0xffff)), 16 + rng() % 17);
        break;
      case 2:  // wider, covering the stable flows
        c.selector.source =
            IpPrefix(c.selector.source.address(), static_cast<std::uint8_t>(rng() % 24));
        c.selector.destination =
            IpPrefix(c.selector.destination.address(), static_cast<std::uint8_t>(rng() % 32));
        break;
      default:  // the stable policy itself, replaced by an identical one (same priority)
        c = stable[static_cast<std::size_t>(i)];
    }
    if (c.id() == stable[static_cast<std::size_t>(i)].id()) c.priority = 10;
    if (rng() % 3 == 0 && !churn.empty()) {
      const std::size_t k = rng() % churn.size();
      ASSERT_TRUE(spd.remove(churn[k].id()).ok());
      churn.erase(churn.begin() + static_cast<std::ptrdiff_t>(k));
    } else if (c.priority == 10) {
      ASSERT_TRUE(spd.update(c, Timestamp()).ok());
    } else if (spd.add(c, Timestamp()).ok()) {
      churn.push_back(c);
    } else {
      ASSERT_TRUE(spd.update(c, Timestamp()).ok());
    }
    if (step % 16 == 0) domain.reclaim();
  }
  // Let the readers run over the final state too.
  const long seen = done.load();
  while (done.load() < seen + 10) std::this_thread::yield();
  stop = true;
  r1.join();
  r2.join();
  domain.synchronize();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(done.load(), 0);
}

}  // namespace
}  // namespace uipsec
