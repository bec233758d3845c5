#include "esp/tunnel_tos.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "wire/ipv4_header.hpp"
#include "wire/ipv6_header.hpp"

namespace uipsec {
namespace {

constexpr TosOptions kDefault{};

TEST(TunnelTos, EncapsulationCopiesDscpAndEcnIncludingCe) {
  // RFC 6040 §4.1 normal mode: the outer ECN field is a copy, CE too.
  for (std::uint8_t ecn : {kNotEct, kEct1, kEct0, kCe}) {
    EXPECT_EQ(encapsulated_tos(static_cast<std::uint8_t>(0xb8 | ecn), kDefault), 0xb8 | ecn);
  }
}

TEST(TunnelTos, EncapsulationFlags) {
  EXPECT_EQ(encapsulated_tos(0xb8 | kEct0, TosOptions{.no_ecn = true}), 0xb8);
  EXPECT_EQ(encapsulated_tos(0xb8 | kCe, TosOptions{.dont_encap_dscp = true}), kCe);
  EXPECT_EQ(encapsulated_tos(0xb9, TosOptions{.no_ecn = true, .dont_encap_dscp = true}), 0);
}

// RFC 6040 §4.2, Figure 4: rows are the inner ECN field, columns the outer one.
TEST(TunnelTos, DecapsulationFollowsRfc6040Figure4) {
  const std::uint8_t inner_values[] = {kNotEct, kEct0, kEct1, kCe};
  const std::uint8_t outer_values[] = {kNotEct, kEct0, kEct1, kCe};
  // nullopt: drop.
  const std::optional<std::uint8_t> expected[4][4] = {
      /* inner Not-ECT */ {kNotEct, kNotEct, kNotEct, std::nullopt},
      /* inner ECT(0)  */ {kEct0, kEct0, kEct1, kCe},
      /* inner ECT(1)  */ {kEct1, kEct1, kEct1, kCe},
      /* inner CE      */ {kCe, kCe, kCe, kCe},
  };
  for (int i = 0; i < 4; ++i) {
    for (int o = 0; o < 4; ++o) {
      const auto got = decapsulated_tos(static_cast<std::uint8_t>(0x28 | inner_values[i]),
                                        static_cast<std::uint8_t>(0xb8 | outer_values[o]), {});
      ASSERT_EQ(got.has_value(), expected[i][o].has_value()) << "inner " << i << " outer " << o;
      if (got) {
        EXPECT_EQ(*got, 0x28 | *expected[i][o])
            << "inner " << i << " outer " << o << ": the inner DSCP stays";
      }
    }
  }
}

TEST(TunnelTos, DecapsulationFlags) {
  // noecn: the outer ECN field is ignored, even CE over Not-ECT.
  EXPECT_EQ(decapsulated_tos(0x28 | kNotEct, 0xb8 | kCe, TosOptions{.no_ecn = true}), 0x28);
  EXPECT_EQ(decapsulated_tos(0x28 | kEct0, 0xb8 | kCe, TosOptions{.no_ecn = true}), 0x28 | kEct0);
  // decap-dscp: the outer DSCP replaces the inner one; ECN as usual.
  EXPECT_EQ(decapsulated_tos(0x28 | kEct0, 0xb8 | kCe, TosOptions{.decap_dscp = true}), 0xb8 | kCe);
  EXPECT_EQ(decapsulated_tos(0x28 | kNotEct, 0xb8 | kCe, TosOptions{.decap_dscp = true}),
            std::nullopt);
}

TEST(TunnelTos, WritesIpv4TosKeepingTheChecksumValid) {
  std::vector<std::uint8_t> p(40, 0);
  Ipv4HeaderFields f;
  f.tos = 0x2a;
  f.total_length = 40;
  f.ttl = 64;
  f.protocol = 17;
  f.src = *IpAddress::parse("198.18.0.1");
  f.dst = *IpAddress::parse("198.18.0.2");
  write_ipv4_header(p.data(), f);
  ASSERT_EQ(read_tos(p), 0x2a);
  for (std::uint8_t tos : {0x2b, 0x00, 0xff, 0xb8}) {
    write_tos(p, tos);
    EXPECT_EQ(read_tos(p), tos);
    EXPECT_TRUE(ipv4_header_checksum_valid(p)) << int(tos);
  }
}

TEST(TunnelTos, WritesIpv6TrafficClassAroundVersionAndFlowLabel) {
  std::vector<std::uint8_t> p(48, 0);
  Ipv6Header h;
  h.traffic_class = 0x2a;
  h.flow_label = 0xabcde;
  h.payload_length = 8;
  h.next_header = 59;
  h.hop_limit = 64;
  h.src = *IpAddress::parse("2001:db8::1");
  h.dst = *IpAddress::parse("2001:db8::2");
  write_ipv6_header(p.data(), h);
  ASSERT_EQ(read_tos(p), 0x2a);
  write_tos(p, 0xb9);
  const auto parsed = parse_ipv6_header(p);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->traffic_class, 0xb9);
  EXPECT_EQ(parsed->flow_label, 0xabcdeu);
  EXPECT_EQ(p[0] >> 4, 6);
}

}  // namespace
}  // namespace uipsec
