#include "policy/prefix_trie.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace uipsec {
namespace {

IpPrefix prefix(const char* text) { return *IpPrefix::parse(text); }
IpAddress address(const char* text) { return *IpAddress::parse(text); }

// Values are the addresses of these integers: something to compare, nothing to free.
std::vector<int> values(4096);
void* value(std::size_t i) { return &values[i]; }

std::vector<void*> matches(const PrefixTrie& trie, const IpAddress& a) {
  std::vector<void*> out;
  trie.for_each_match(TrieKey::of(a), [&](void* v) { out.push_back(v); });
  return out;
}

struct Fixture {
  QsbrDomain domain;
  RetireList retired;
  ~Fixture() { retired.retire_to(domain); }
};

TEST(TrieKey, NibblesPrefixesAndMasks) {
  const TrieKey k = TrieKey::of(address("198.18.0.1"));
  EXPECT_EQ(k.nibble(0), 0xcu);
  EXPECT_EQ(k.nibble(4), 0x6u);
  EXPECT_EQ(k.nibble(28), 0x1u);
  EXPECT_EQ(k.nibble(32), 0u) << "IPv4 fills only the first 32 bits";
  const TrieKey other = TrieKey::of(address("198.19.0.1"));
  EXPECT_EQ(TrieKey::common_length(k, other), 15u);
  EXPECT_TRUE(TrieKey::same_prefix(k, other, 15));
  EXPECT_FALSE(TrieKey::same_prefix(k, other, 16));
  EXPECT_EQ(k.masked(16), TrieKey::of(address("198.18.0.0")));
  const TrieKey v6 = TrieKey::of(address("2001:db8::ff"));
  EXPECT_EQ(v6.nibble(124), 0xfu);
  EXPECT_EQ(v6.masked(120), TrieKey::of(address("2001:db8::")));
  EXPECT_EQ(v6.masked(128), v6);
  EXPECT_EQ(TrieKey::common_length(v6, v6), 128u);
}

TEST(PrefixTrie, FindsEveryContainingPrefixShortestFirst) {
  Fixture f;
  PrefixTrie trie(IpFamily::kV4);
  trie.insert(prefix("198.18.0.0/15"), value(1), f.retired);
  trie.insert(prefix("0.0.0.0/0"), value(0), f.retired);
  trie.insert(prefix("198.18.0.0/24"), value(3), f.retired);
  trie.insert(prefix("198.18.0.7/32"), value(4), f.retired);
  trie.insert(prefix("198.18.0.0/17"), value(2), f.retired);
  trie.insert(prefix("198.19.0.0/16"), value(5), f.retired);
  EXPECT_EQ(matches(trie, address("198.18.0.7")),
            (std::vector<void*>{value(0), value(1), value(2), value(3), value(4)}));
  EXPECT_EQ(matches(trie, address("198.19.1.1")),
            (std::vector<void*>{value(0), value(1), value(5)}));
  EXPECT_EQ(matches(trie, address("10.0.0.1")), (std::vector<void*>{value(0)}));
  EXPECT_EQ(trie.find(prefix("198.18.0.0/17")), value(2));
  EXPECT_EQ(trie.find(prefix("198.18.0.0/16")), nullptr);
  EXPECT_EQ(trie.assign(prefix("198.18.0.0/17"), value(9)), value(2));
  EXPECT_EQ(trie.find(prefix("198.18.0.0/17")), value(9));
  EXPECT_EQ(trie.erase(prefix("198.18.0.0/15"), f.retired), value(1));
  EXPECT_EQ(trie.erase(prefix("198.18.0.0/15"), f.retired), nullptr);
  EXPECT_EQ(matches(trie, address("198.18.0.7")),
            (std::vector<void*>{value(0), value(9), value(3), value(4)}));
  EXPECT_EQ(trie.size(), 5u);
}

TEST(PrefixTrie, HostPrefixesOfBothWidths) {
  Fixture f;
  PrefixTrie v6(IpFamily::kV6);
  v6.insert(prefix("2001:db8::1/128"), value(1), f.retired);
  v6.insert(prefix("2001:db8::/127"), value(2), f.retired);
  v6.insert(prefix("::/0"), value(0), f.retired);
  EXPECT_EQ(matches(v6, address("2001:db8::1")),
            (std::vector<void*>{value(0), value(2), value(1)}));
  EXPECT_EQ(matches(v6, address("2001:db8::")), (std::vector<void*>{value(0), value(2)}));
  EXPECT_EQ(matches(v6, address("2001:db8::2")), (std::vector<void*>{value(0)}));
  PrefixTrie v4(IpFamily::kV4);
  v4.insert(prefix("255.255.255.255/32"), value(3), f.retired);
  EXPECT_EQ(matches(v4, address("255.255.255.255")), (std::vector<void*>{value(3)}));
  EXPECT_TRUE(matches(v4, address("255.255.255.254")).empty());
}

TEST(PrefixTrie, PathCompressionKeepsOneNodePerLonePrefix) {
  Fixture f;
  PrefixTrie trie(IpFamily::kV6);
  trie.insert(prefix("2001:db8::1/128"), value(1), f.retired);
  EXPECT_EQ(trie.node_count(), 1u) << "a lone /128 is one node, not 33";
  trie.insert(prefix("2001:db8::2/128"), value(2), f.retired);
  EXPECT_EQ(trie.node_count(), 3u) << "a branch and two leaves";
  EXPECT_EQ(trie.erase(prefix("2001:db8::1/128"), f.retired), value(1));
  EXPECT_EQ(trie.node_count(), 1u) << "the branch collapses into the remaining leaf";
  EXPECT_EQ(trie.erase(prefix("2001:db8::2/128"), f.retired), value(2));
  EXPECT_EQ(trie.node_count(), 0u);
  EXPECT_TRUE(trie.empty());
}

// Random inserts, erases and assigns against a map, with lookups against a brute-force scan of
// the map, in both families; every change builds at most two nodes.
void random_against_model(IpFamily family, std::uint32_t seed) {
  Fixture f;
  std::uint64_t built = 0;
  PrefixTrie trie(family, &built);
  std::map<std::pair<IpAddress, unsigned>, std::size_t> model;  // (address, length) -> value
  std::mt19937 rng(seed);
  const unsigned width = family == IpFamily::kV4 ? 32 : 128;
  // Addresses from a small universe so that prefixes nest and collide.
  auto random_address = [&] {
    std::uint8_t bytes[16] = {};
    bytes[0] = 0x20;
    bytes[1] = static_cast<std::uint8_t>(rng() % 3);
    const std::size_t last = family == IpFamily::kV4 ? 3 : 15;
    bytes[last] = static_cast<std::uint8_t>(rng());
    bytes[last - 1] = static_cast<std::uint8_t>(rng() % 4);
    return IpAddress::from_bytes(family, bytes);
  };
  auto random_prefix = [&] {
    const unsigned r = rng() % 10;
    const unsigned length = r == 0 ? 0 : r < 3 ? rng() % 12 : width - rng() % 20;
    return IpPrefix(random_address(), static_cast<std::uint8_t>(length));
  };
  for (int step = 0; step < 8000; ++step) {
    const IpPrefix p = random_prefix();
    const auto key = std::make_pair(p.address(), unsigned{p.length()});
    const auto it = model.find(key);
    const std::uint64_t before = built;
    const unsigned op = rng() % 10;
    if (op < 5) {
      if (it == model.end()) {
        const std::size_t v = rng() % values.size();
        trie.insert(p, value(v), f.retired);
        model.emplace(key, v);
      }
    } else if (op < 8) {
      ASSERT_EQ(trie.erase(p, f.retired), it == model.end() ? nullptr : value(it->second));
      if (it != model.end()) model.erase(it);
    } else if (it != model.end()) {
      const std::size_t v = rng() % values.size();
      ASSERT_EQ(trie.assign(p, value(v)), value(it->second));
      it->second = v;
    }
    ASSERT_LE(built - before, 2u) << "a change builds at most two nodes";
    ASSERT_EQ(trie.size(), model.size());
    for (int q = 0; q < 4; ++q) {
      const IpAddress a = random_address();
      std::vector<std::pair<unsigned, void*>> expected;
      for (const auto& [k, v] : model) {
        if (IpPrefix(k.first, static_cast<std::uint8_t>(k.second)).contains(a)) {
          expected.emplace_back(k.second, value(v));
        }
      }
      std::sort(expected.begin(), expected.end());
      std::vector<void*> expected_values;
      for (const auto& e : expected) expected_values.push_back(e.second);
      ASSERT_EQ(matches(trie, a), expected_values) << a.to_string() << " at step " << step;
    }
    if (step % 1000 == 0) {
      // Every node stores a prefix or branches: at most 2n - 1 nodes.
      ASSERT_LE(trie.node_count(), std::max<std::size_t>(1, 2 * model.size()));
      f.retired.retire_to(f.domain);
      f.domain.reclaim();
    }
  }
  for (const auto& [k, v] : model) {
    ASSERT_EQ(trie.find(IpPrefix(k.first, static_cast<std::uint8_t>(k.second))), value(v));
  }
}

TEST(PrefixTrie, MatchesAMapUnderRandomChangesIpv4) { random_against_model(IpFamily::kV4, 1); }
TEST(PrefixTrie, MatchesAMapUnderRandomChangesIpv6) { random_against_model(IpFamily::kV6, 2); }

TEST(PrefixTrie, ClearHandsBackEveryValueAndNode) {
  Fixture f;
  PrefixTrie trie(IpFamily::kV4);
  for (std::size_t i = 0; i < 100; ++i) {
    trie.insert(IpPrefix(IpAddress::v4(static_cast<std::uint32_t>(0xc6120000 + i * 7)), 32),
                value(i), f.retired);
  }
  const std::size_t nodes = trie.node_count();
  RetireList cleared;
  std::size_t seen = 0;
  trie.clear(cleared, [&](void*) { ++seen; });
  EXPECT_EQ(seen, 100u);
  EXPECT_EQ(cleared.size(), nodes);
  EXPECT_TRUE(trie.empty());
  EXPECT_TRUE(matches(trie, IpAddress::v4(0xc6120000)).empty());
  cleared.retire_to(f.domain);
}

}  // namespace
}  // namespace uipsec
