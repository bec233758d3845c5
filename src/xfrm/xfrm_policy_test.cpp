#include "xfrm/xfrm_policy.hpp"

#include <gtest/gtest.h>

#include "wire/ip_protocol.hpp"
#include "xfrm/xfrm_arguments.hpp"
#include "xfrm/xfrm_test_support.hpp"

namespace uipsec {
namespace {

Result<PolicyConfig> policy(std::string_view line) {
  auto words = split_arguments(line);
  if (!words) return words.error();
  return parse_policy(argument_views(*words));
}

PolicyConfig ok_policy(std::string_view line) {
  auto p = policy(line);
  EXPECT_TRUE(p.ok()) << line << "\n" << p.error().message();
  return p.ok() ? std::move(p).value() : PolicyConfig{};
}

std::string policy_error(std::string_view line) {
  auto p = policy(line);
  EXPECT_FALSE(p.ok()) << "parsed: " << line;
  return p.ok() ? "" : p.error().message();
}

constexpr const char* kTunnelOut =
    "src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 1000 tmpl src 198.18.0.1 dst 198.18.0.2 "
    "proto esp reqid 1 mode tunnel";

TEST(XfrmPolicy, AllowWithATemplateIsProtect) {
  const PolicyConfig p = ok_policy(kTunnelOut);
  EXPECT_EQ(p.selector.source.to_string(), "10.1.0.0/16");
  EXPECT_EQ(p.selector.destination.to_string(), "10.2.0.0/16");
  EXPECT_EQ(p.direction, PolicyDirection::kOut);
  EXPECT_EQ(p.priority, 1000u);
  EXPECT_EQ(p.action, PolicyAction::kProtect);
  ASSERT_TRUE(p.tmpl.has_value());
  EXPECT_EQ(p.tmpl->reqid, Reqid(1));
  EXPECT_EQ(p.tmpl->mode, TemplateMode::kTunnel);
  EXPECT_EQ(p.tmpl->source.to_string(), "198.18.0.1");
  EXPECT_EQ(p.tmpl->destination.to_string(), "198.18.0.2");
}

TEST(XfrmPolicy, AllowWithoutATemplateIsBypassAndBlockIsDiscard) {
  const PolicyConfig bypass = ok_policy("src 10.0.0.0/8 dst 10.0.0.0/8 dir in action allow");
  EXPECT_EQ(bypass.action, PolicyAction::kBypass);
  EXPECT_FALSE(bypass.tmpl.has_value());
  EXPECT_EQ(ok_policy("src 0.0.0.0/0 dir fwd").action, PolicyAction::kBypass);
  const PolicyConfig discard = ok_policy("dst ::/0 dir out action block priority 5");
  EXPECT_EQ(discard.action, PolicyAction::kDiscard);
  EXPECT_EQ(discard.selector.family(), IpFamily::kV6);
  EXPECT_EQ(discard.selector.source.to_string(), "::/0");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out action block tmpl proto esp"),
            "action block: a blocking policy takes no template (remove tmpl ..., or use action "
            "allow)");
}

TEST(XfrmPolicy, TransportTemplatesAndDefaults) {
  const PolicyConfig p = ok_policy(
      "src 2001:db8::1 dst 2001:db8::2 proto tcp dport 443 dir out tmpl proto esp reqid 5");
  ASSERT_TRUE(p.tmpl.has_value());
  EXPECT_EQ(p.tmpl->mode, TemplateMode::kTransport) << "Linux's default template mode";
  EXPECT_EQ(p.tmpl->source.to_string(), "::") << "the unspecified address of the selector's family";
  EXPECT_EQ(p.selector.protocol, ip_protocol::kTcp);
  EXPECT_EQ(p.selector.destination_ports, PortRange::single(443));
  EXPECT_EQ(p.priority, 0u);
  EXPECT_EQ(ok_policy("src 10.0.0.1 dst 10.0.0.2 dir in tmpl proto esp level required spi 0 "
                      "ptype main")
                .tmpl->mode,
            TemplateMode::kTransport);
}

TEST(XfrmPolicy, PolicyWordsMayFollowTheTemplate) {
  const PolicyConfig p = ok_policy(
      "dir out tmpl src 198.18.0.1 dst 198.18.0.2 proto esp mode tunnel reqid 9 priority 7 src "
      "10.0.0.0/8");
  EXPECT_EQ(p.priority, 7u);
  EXPECT_EQ(p.tmpl->source.to_string(), "198.18.0.1");
  EXPECT_EQ(p.selector.source.to_string(), "10.0.0.0/8");
  EXPECT_EQ(p.tmpl->reqid, Reqid(9));
}

TEST(XfrmPolicy, Errors) {
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dst 10.0.0.0/8"), "missing 'dir' (in, out or fwd)");
  EXPECT_EQ(policy_error("dir out"),
            "missing 'src' or 'dst' (they give the address family; use src 0.0.0.0/0 or src ::/0 "
            "to select any address)");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir sideways"),
            "dir: expected in, out or fwd, got 'sideways'");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out dir in"), "duplicate 'dir'");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out action deny"),
            "action: expected allow or block, got 'deny'");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out priority high"),
            "priority: expected a number 0..4294967295, got 'high'");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out bogus 1"),
            "unknown argument 'bogus' (expected one of: src, dst, proto, sport, dport, type, code, "
            "dir, priority, action, ptype, tmpl)");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out tmpl src 1.2.3.4 dst 1.2.3.5 mode tunnel"),
            "tmpl: missing 'proto esp'");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out tmpl proto ah"),
            "tmpl proto: only esp is implemented by uipsec, got 'ah'");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out tmpl proto esp level use"),
            "tmpl level: use (an optional SA) is not implemented by uipsec; templates are always "
            "required");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out tmpl proto esp tmpl proto esp"),
            "tmpl: only one template is supported (uipsec does not nest SAs)");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out tmpl proto esp spi 0x1000"),
            "tmpl spi: templates naming one SPI are not implemented by uipsec (the SA is found by "
            "reqid and addresses)");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out tmpl proto esp mode tunnel"),
            "tmpl: a tunnel-mode template needs src and dst addresses");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out tmpl src 1.2.3.4 dst 2001:db8::1 proto esp mode "
                         "tunnel"),
            "tmpl: tunnel source and destination are of different address families");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out ptype sub"),
            "ptype: sub policies (MIGRATE) are not implemented by uipsec; use main");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out index 8"),
            "'index' is not implemented by uipsec: policies are named by selector and dir");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out mark 1"), "'mark' is not implemented by uipsec");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dev eth0 dir out"),
            "dev: selecting by interface is not implemented by uipsec");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 proto udp sport 1-2 dir out"),
            "sport: expected a port number 0..65535, got '1-2'");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dst ::/0 dir out"),
            "selector: source 10.0.0.0/8 and destination ::/0 are of different address families");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 proto dccp sport 5 dir out"),
            "selector: ports need a protocol with ports (tcp, udp, sctp, udplite) or ICMP "
            "(type/code), got proto 33");
  EXPECT_EQ(policy_error("src 10.0.0.0/8 dir out tmpl proto esp mode tunnel src"),
            "tmpl src: missing value (expected an IPv4 or IPv6 address)");
}

TEST(XfrmPolicyId, SelectorAndDirection) {
  auto parse = [](std::string_view line) {
    auto words = split_arguments(line);
    return parse_policy_id(argument_views(*words));
  };
  auto id = parse("src 10.1.0.0/16 dst 10.2.0.0/16 proto udp dport 53 dir out ptype main");
  ASSERT_TRUE(id.ok()) << id.error().message();
  EXPECT_EQ(id->direction, PolicyDirection::kOut);
  EXPECT_EQ(id->selector.destination_ports, PortRange::single(53));
  EXPECT_EQ(parse("src 10.1.0.0/16 dir out tmpl proto esp").error().message(),
            "unknown argument 'tmpl' (expected one of: src, dst, proto, sport, dport, type, code, "
            "dir, ptype)");
  EXPECT_EQ(parse("src 10.1.0.0/16").error().message(), "missing 'dir' (in, out or fwd)");
  EXPECT_EQ(parse("dir in index 3").error().message(),
            "'index' is not implemented by uipsec: policies are named by selector and dir");
}

// Realistic policies: a site-to-site pair, host-to-host transport, bypass and drop.
const char* const kRealisticPolicies[] = {
    kTunnelOut,
    "src 10.2.0.0/16 dst 10.1.0.0/16 dir in priority 1000 tmpl src 198.18.0.2 dst 198.18.0.1 "
    "proto esp reqid 1 mode tunnel",
    "src 10.2.0.0/16 dst 10.1.0.0/16 dir fwd priority 1000 tmpl src 198.18.0.2 dst 198.18.0.1 "
    "proto esp reqid 1 mode tunnel",
    "src 192.168.1.1/32 dst 192.168.1.2/32 proto tcp sport 1234 dport 443 dir out tmpl proto esp "
    "reqid 2",
    "src 2001:db8::/32 dst 2001:db8::/32 proto ipv6-icmp type 135 code 0 dir in action allow "
    "priority 1",
    "src 0.0.0.0/0 dst 0.0.0.0/0 dir out action block priority 4294967295",
    "src 0.0.0.0/0 dst 198.18.0.0/15 proto udp dport 500 dir out priority 10",
    "src 0.0.0.0/0 dst 0.0.0.0/0 proto icmp dir in action allow",
    "src ::/0 dst ::/0 proto ipv6-icmp code 3 dir fwd",
    "src 198.18.0.1-198.18.0.9 dst 198.18.2.0/24 dir out action block",
    "src 10.0.0.0/8 dst 198.18.1.10-198.18.1.20 proto tcp dport 22 dir in tmpl proto esp reqid 3",
};

TEST(XfrmPolicy, CanonicalArgumentsAndTheListingParseBack) {
  for (const char* line : kRealisticPolicies) {
    const PolicyConfig p = ok_policy(line);
    const std::string canonical = join_arguments(policy_arguments(p));
    auto again = policy(canonical);
    ASSERT_TRUE(again.ok()) << canonical << "\n" << again.error().message();
    EXPECT_TRUE(test::same_config(p, *again)) << line << "\n" << canonical;

    PolicyInfo info;
    info.config = p;
    const std::string listed = format_policy(info);
    auto relisted = policy(listed);
    ASSERT_TRUE(relisted.ok()) << listed << "\n" << relisted.error().message();
    EXPECT_TRUE(test::same_config(p, *relisted)) << line << "\n" << listed;
  }
}

TEST(XfrmPolicy, ListsLikeIpXfrmPolicy) {
  PolicyInfo info;
  info.config = ok_policy(kTunnelOut);
  EXPECT_EQ(format_policy(info),
            "src 10.1.0.0/16 dst 10.2.0.0/16\n"
            "\tdir out priority 1000 ptype main\n"
            "\ttmpl src 198.18.0.1 dst 198.18.0.2\n"
            "\t\tproto esp reqid 1 mode tunnel\n");
  PolicyInfo block;
  block.config = ok_policy("src 10.0.0.0/8 dst 0.0.0.0/0 proto tcp dport 25 dir out action block");
  EXPECT_EQ(format_policy(block),
            "src 10.0.0.0/8 dst 0.0.0.0/0 proto tcp dport 25\n"
            "\tdir out action block priority 0 ptype main\n");

  info.index = PolicyIndex(8);
  info.packets = 3;
  info.bytes = 300;
  info.added = Timestamp::from_seconds(10);
  XfrmListOptions options;
  options.show_stats = true;
  options.now = Timestamp::from_seconds(25);
  EXPECT_EQ(format_policy(info, options),
            "src 10.1.0.0/16 dst 10.2.0.0/16\n"
            "\tdir out action allow index 8 priority 1000 ptype main\n"
            "\tlifetime current:\n"
            "\t  300(bytes), 3(packets)\n"
            "\t  add 15s ago use -\n"
            "\ttmpl src 198.18.0.1 dst 198.18.0.2\n"
            "\t\tproto esp reqid 1 mode tunnel\n");
}

TEST(XfrmPolicy, AnyIcmpTypeOrCode) {
  const PolicyConfig p = ok_policy("src 0.0.0.0/0 proto icmp dir in");
  EXPECT_EQ(p.selector.protocol, ip_protocol::kIcmp);
  EXPECT_TRUE(p.selector.source_ports.contains(0) && p.selector.source_ports.contains(255));
  EXPECT_TRUE(p.selector.destination_ports.contains(0) &&
              p.selector.destination_ports.contains(255));
  PolicyInfo info;
  info.config = p;
  EXPECT_EQ(format_policy(info),
            "src 0.0.0.0/0 dst 0.0.0.0/0 proto icmp\n"
            "\tdir in priority 0 ptype main\n");
}

TEST(XfrmPolicy, AddressRangesAreAUipsecExtension) {
  const PolicyConfig p = ok_policy("src 198.18.0.1-198.18.0.9 dst 198.18.1.0/24 dir out");
  ASSERT_TRUE(p.selector.source_range.has_value());
  EXPECT_EQ(p.selector.source_range->to_string(), "198.18.0.1-198.18.0.9");
  EXPECT_EQ(p.selector.source.to_string(), "198.18.0.0/28") << "the covering prefix";
  EXPECT_TRUE(p.selector.validate().ok());
  PolicyInfo info;
  info.config = p;
  EXPECT_EQ(format_policy(info),
            "src 198.18.0.1-198.18.0.9 dst 198.18.1.0/24\n"
            "\tdir out priority 0 ptype main\n");
  const PolicyConfig v6 = ok_policy("dst 2001:db8::1-2001:db8::ff dir fwd");
  EXPECT_EQ(v6.selector.source.to_string(), "::/0");
  EXPECT_EQ(v6.selector.destination_range->to_string(), "2001:db8::1-2001:db8::ff");
  const PolicyConfig exact = ok_policy("src 198.18.0.0-198.18.0.255 dir out");
  EXPECT_FALSE(exact.selector.source_range.has_value()) << "a range that is a prefix is one";
  EXPECT_EQ(exact.selector.source.to_string(), "198.18.0.0/24");
  EXPECT_EQ(exact.id(), ok_policy("src 198.18.0.0/24 dir out").id());
  auto id = parse_policy_id(
      argument_views(*split_arguments("src 198.18.0.1-198.18.0.9 dst 198.18.1.0/24 dir out")));
  ASSERT_TRUE(id.ok()) << id.error().message();
  EXPECT_EQ(*id, p.id());
}

TEST(XfrmPolicy, AddressRangeErrors) {
  EXPECT_EQ(policy_error("src 198.18.0.9-198.18.0.1 dir out"),
            "src: address range 198.18.0.9-198.18.0.1 is empty (first > last)");
  EXPECT_EQ(policy_error("src 198.18.0.1-2001:db8::1 dir out"),
            "src: address range 198.18.0.1-2001:db8::1 mixes IPv4 and IPv6");
  EXPECT_EQ(policy_error("dst 198.18.0.1-bogus dir out"),
            "dst: expected an IPv4 or IPv6 address, got 'bogus'");
  EXPECT_EQ(policy_error("src 198.18.0.1-198.18.0.9 dst 2001:db8::/32 dir out"),
            "selector: source 198.18.0.0/28 and destination 2001:db8::/32 are of different "
            "address families");
}

TEST(XfrmPolicy, PortRangesFromElsewherePrintAsRanges) {
  PolicyInfo info;
  info.config = ok_policy("src 10.0.0.0/8 proto tcp dir out");
  info.config.selector.source_ports = PortRange{1024, 65535};
  EXPECT_EQ(format_policy(info),
            "src 10.0.0.0/8 dst 0.0.0.0/0 proto tcp sport 1024-65535\n"
            "\tdir out priority 0 ptype main\n");
}

}  // namespace
}  // namespace uipsec
