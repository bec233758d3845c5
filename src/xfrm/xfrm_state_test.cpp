#include "xfrm/xfrm_state.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "wire/ip_protocol.hpp"
#include "xfrm/xfrm_arguments.hpp"
#include "xfrm/xfrm_test_support.hpp"

namespace uipsec {
namespace {

// 20 bytes: an AES-128 key and a 4-byte salt.
constexpr const char* kGcmKey = "0x0102030405060708090a0b0c0d0e0f1011121314";
constexpr const char* kAes128 = "0x000102030405060708090a0b0c0d0e0f";
constexpr const char* kSha1Key = "0x1111111111111111111111111111111111111111";
constexpr const char* kSha256Key =
    "0x2222222222222222222222222222222222222222222222222222222222222222";

std::string with_keys(std::string line) {
  for (auto [name, key] : {std::pair{"GCMKEY", kGcmKey}, std::pair{"AESKEY", kAes128},
                           std::pair{"SHA1KEY", kSha1Key}, std::pair{"SHA256KEY", kSha256Key}}) {
    for (auto at = line.find(name); at != std::string::npos; at = line.find(name)) {
      line.replace(at, std::string_view(name).size(), key);
    }
  }
  return line;
}

Result<SaConfig> state(std::string_view line) {
  auto words = split_arguments(with_keys(std::string(line)));
  if (!words) return words.error();
  return parse_state(argument_views(*words));
}

SaConfig ok_state(std::string_view line) {
  auto s = state(line);
  EXPECT_TRUE(s.ok()) << line << "\n" << s.error().message();
  return s.ok() ? std::move(s).value() : SaConfig{};
}

std::string state_error(std::string_view line) {
  auto s = state(line);
  EXPECT_FALSE(s.ok()) << "parsed: " << line;
  return s.ok() ? "" : s.error().message();
}

// The usual host-to-host example, as strongSwan installs it with ESP in UDP.
constexpr const char* kHostToHost =
    "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1000 reqid 1 mode tunnel "
    "aead 'rfc4106(gcm(aes))' GCMKEY 128 encap espinudp 4500 4500 0.0.0.0";

TEST(XfrmState, ParsesTheHostToHostGcmExample) {
  const SaConfig c = ok_state(kHostToHost);
  EXPECT_EQ(c.endpoints.source.to_string(), "198.18.0.1");
  EXPECT_EQ(c.endpoints.destination.to_string(), "198.18.0.2");
  EXPECT_EQ(c.spi, Spi(0x1000));
  EXPECT_EQ(c.reqid, Reqid(1));
  EXPECT_EQ(c.mode, IpsecMode::kTunnel);
  EXPECT_EQ(c.direction, SaDirection::kAny);
  EXPECT_EQ(c.algorithms.cipher, EspCipher::kAesGcm);
  EXPECT_EQ(c.algorithms.cipher_key.size(), 20u);
  EXPECT_EQ(c.algorithms.cipher_key.data()[19], 0x14);
  EXPECT_EQ(c.algorithms.integrity, EspIntegrity::kNone);
  EXPECT_EQ(c.algorithms.icv_bits, 128);
  ASSERT_TRUE(c.endpoints.encapsulation.has_value());
  EXPECT_EQ(c.endpoints.encapsulation->source_port, 4500);
  EXPECT_EQ(c.endpoints.encapsulation->destination_port, 4500);
  EXPECT_FALSE(c.endpoints.encapsulation->original_address.has_value()) << "0.0.0.0 is none";
  EXPECT_FALSE(c.selector.has_value());
  EXPECT_EQ(c.replay_window, 0u);
  EXPECT_FALSE(c.flags.esn);
}

TEST(XfrmState, DefaultsAreLinuxs) {
  const SaConfig c = ok_state(
      "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1000 aead rfc4106(gcm(aes)) GCMKEY 96");
  EXPECT_EQ(c.mode, IpsecMode::kTransport) << "ip xfrm state add defaults to transport mode";
  EXPECT_EQ(c.reqid, Reqid(0));
  EXPECT_EQ(c.algorithms.icv_bits, 96);
  EXPECT_FALSE(c.endpoints.encapsulation.has_value()) << "raw ESP without encap";
  EXPECT_TRUE(c.lifetimes.soft.unlimited() && c.lifetimes.hard.unlimited());
}

TEST(XfrmState, ArgumentsComeInAnyOrder) {
  const SaConfig a = ok_state(kHostToHost);
  const SaConfig b = ok_state(
      "encap espinudp 4500 4500 0.0.0.0 aead 'rfc4106(gcm(aes))' GCMKEY 128 mode tunnel reqid 1 "
      "spi 0x1000 proto esp dst 198.18.0.2 src 198.18.0.1");
  EXPECT_TRUE(test::same_config(a, b));
}

TEST(XfrmState, NumbersAreDecimalHexOrOctalAsStrtoul) {
  for (const char* spi : {"4096", "0x1000", "0X1000", "010000"}) {
    const SaConfig c = ok_state(std::string("src 10.0.0.1 dst 10.0.0.2 proto esp spi ") + spi +
                                " aead rfc4106(gcm(aes)) GCMKEY 128");
    EXPECT_EQ(c.spi, Spi(4096)) << spi;
  }
  EXPECT_EQ(ok_state("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1000 reqid 0xffffffff aead "
                     "rfc4106(gcm(aes)) GCMKEY 128")
                .reqid,
            Reqid(0xffffffff));
}

TEST(XfrmState, CipherWithIntegrityAndLinuxsDefaultTruncation) {
  const SaConfig trunc = ok_state(
      "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x301 mode tunnel "
      "auth-trunc 'hmac(sha256)' SHA256KEY 128 enc 'cbc(aes)' AESKEY");
  EXPECT_EQ(trunc.algorithms.cipher, EspCipher::kAesCbc);
  EXPECT_EQ(trunc.algorithms.integrity, EspIntegrity::kHmacSha256);
  EXPECT_EQ(trunc.algorithms.integrity_key.size(), 32u);
  EXPECT_EQ(trunc.algorithms.icv_bits, 128);

  // `auth` without -trunc: Linux's algorithm table gives hmac(sha256) 96 bits (pre-RFC 4868),
  // hmac(sha1) 96, and the longer hashes their RFC lengths.
  EXPECT_EQ(ok_state("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x301 auth 'hmac(sha256)' "
                     "SHA256KEY enc 'cbc(aes)' AESKEY")
                .algorithms.icv_bits,
            96);
  EXPECT_EQ(ok_state("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x301 auth 'hmac(sha1)' SHA1KEY "
                     "enc 'cbc(aes)' AESKEY")
                .algorithms.icv_bits,
            96);
  const std::string sha512_key = "0x" + std::string(128, '3');
  EXPECT_EQ(ok_state("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x301 auth 'hmac(sha512)' " +
                     sha512_key + " enc 'cbc(aes)' AESKEY")
                .algorithms.icv_bits,
            256);
}

TEST(XfrmState, AcceptsTheKernelsCompatibilityNames) {
  // The classic example from iproute2 how-tos: `auth sha256 ... enc aes ...`.
  const SaConfig c = ok_state(
      "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x00000301 mode tunnel auth sha256 SHA256KEY "
      "enc aes AESKEY");
  EXPECT_EQ(c.algorithms.cipher, EspCipher::kAesCbc);
  EXPECT_EQ(c.algorithms.integrity, EspIntegrity::kHmacSha256);
  EXPECT_EQ(c.algorithms.icv_bits, 96);
  EXPECT_EQ(state_error("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x301 auth md5 SHA1KEY enc aes "
                        "AESKEY"),
            "auth: algorithm 'hmac(md5)' refused: HMAC-MD5 is retired by RFC 8221 (MUST NOT)");
}

TEST(XfrmState, StringKeysAndTheEmptyKey) {
  // As iproute2: a key not starting with 0x is used as its bytes.
  const SaConfig s = ok_state(
      "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x301 enc 'cbc(aes)' \"0123456789abcdef\" "
      "auth-trunc 'hmac(sha1)' SHA1KEY 96");
  ASSERT_EQ(s.algorithms.cipher_key.size(), 16u);
  EXPECT_EQ(s.algorithms.cipher_key.data()[0], '0');
  EXPECT_EQ(ok_state("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x301 enc 'cbc(aes)' "
                     "0X0123456789abcd auth-trunc 'hmac(sha1)' SHA1KEY 96")
                .algorithms.cipher_key.size(),
            16u)
      << "only a lower-case 0x makes a hex key, as in iproute2";
  for (const char* empty : {"\"\"", "0x"}) {
    const SaConfig n = ok_state(std::string("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x301 enc "
                                            "'ecb(cipher_null)' ") +
                                empty + " auth-trunc 'hmac(sha1)' SHA1KEY 96");
    EXPECT_EQ(n.algorithms.cipher, EspCipher::kNull);
    EXPECT_TRUE(n.algorithms.cipher_key.empty());
  }
}

TEST(XfrmState, ReplayWindowSequenceNumbersAndEsn) {
  const SaConfig c = ok_state(
      "src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x2000 mode tunnel flag esn "
      "replay-window 128 replay-seq 0x10 replay-seq-hi 2 replay-oseq 0x20 replay-oseq-hi 3 "
      "aead 'rfc7539esp(chacha20,poly1305)' 0x" +
      std::string(72, 'a') + " 128");
  EXPECT_TRUE(c.flags.esn);
  EXPECT_EQ(c.replay_window, 128u);
  EXPECT_EQ(c.inbound_sequence, (2ull << 32) | 0x10);
  EXPECT_EQ(c.outbound_sequence, (3ull << 32) | 0x20);
  EXPECT_EQ(c.algorithms.cipher, EspCipher::kChaCha20Poly1305);
  EXPECT_EQ(state_error("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2000 replay-seq-hi 1 aead "
                        "rfc4106(gcm(aes)) GCMKEY 128"),
            "replay-seq-hi: needs 'flag esn' (the SA has 32-bit sequence numbers)");
}

TEST(XfrmState, FlagsOtherThanEsnAreNotImplemented) {
  EXPECT_EQ(state_error("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2000 flag esn nopmtudisc"),
            "flag nopmtudisc is not implemented by uipsec yet (implemented: esn, noecn, "
            "decap-dscp, follow-peer, nat-keepalive)");
  EXPECT_EQ(state_error("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2000 flag 0x80"),
            "flag: expected esn, noecn, decap-dscp, follow-peer or nat-keepalive (nopmtudisc, "
            "wildrecv, icmp, af-unspec and align4 are not implemented yet), got '0x80'");
  EXPECT_EQ(state_error("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2000 flag"),
            "flag: missing value (expected esn, noecn, decap-dscp, follow-peer or nat-keepalive)");
}

TEST(XfrmState, EcnAndDscpFlagsRoundTrip) {
  const std::string line =
      "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x2000 mode tunnel flag noecn decap-dscp "
      "extra-flag dont-encap-dscp aead rfc4106(gcm(aes)) 0x" +
      std::string(40, 'c') + " 128";
  const SaConfig c = ok_state(line);
  EXPECT_TRUE(c.flags.no_ecn);
  EXPECT_TRUE(c.flags.decap_dscp);
  EXPECT_TRUE(c.flags.dont_encap_dscp);
  std::string again;
  for (const std::string& word : state_arguments(c)) again += word + " ";
  const SaConfig d = ok_state(again);
  EXPECT_EQ(d.flags, c.flags);
  EXPECT_EQ(state_error("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2000 extra-flag oseq-may-wrap"),
            "extra-flag oseq-may-wrap: refused — a wrapped sequence number reuses a counter-mode "
            "IV under the same key (RFC 4303 3.3.3); rekey instead");
  EXPECT_EQ(state_error("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2000 extra-flag"),
            "extra-flag: missing value (expected dont-encap-dscp)");
}

TEST(XfrmState, FollowPeerNeedsEncapsulationAndAReplayWindow) {
  const std::string base =
      "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x2000 aead rfc4106(gcm(aes)) 0x" +
      std::string(40, 'b') + " 128 ";
  const SaConfig c =
      ok_state(base + "flag esn follow-peer replay-window 64 encap espinudp 4500 4500 0.0.0.0");
  EXPECT_TRUE(c.flags.esn);
  EXPECT_TRUE(c.flags.follow_peer);
  // The listing gives the flag back, as state add input.
  const std::vector<std::string> words = state_arguments(c);
  EXPECT_NE(std::find(words.begin(), words.end(), "follow-peer"), words.end());
  EXPECT_EQ(state_error(base + "flag follow-peer replay-window 64"),
            "flag follow-peer: needs 'encap espinudp' (a raw ESP peer has no port to follow)");
  EXPECT_EQ(state_error(base + "flag follow-peer encap espinudp 4500 4500 0.0.0.0"),
            "flag follow-peer: needs a replay window (replay-window > 0), or a replayed packet "
            "sent from another address could move the tunnel");
}

TEST(XfrmState, NatKeepaliveNeedsEncapsulationAndRoundTrips) {
  const std::string base =
      "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x2000 aead rfc4106(gcm(aes)) 0x" +
      std::string(40, 'b') + " 128 ";
  const SaConfig c =
      ok_state(base +
               "flag follow-peer nat-keepalive replay-window 64 encap espinudp 4500 4500 "
               "0.0.0.0");
  EXPECT_TRUE(c.flags.nat_keepalive);
  EXPECT_TRUE(c.flags.follow_peer);
  std::string again;
  for (const std::string& word : state_arguments(c)) again += word + " ";
  EXPECT_EQ(ok_state(again).flags, c.flags);
  SaInfo info;
  info.config = c;
  EXPECT_NE(format_state(info, false).find("flag follow-peer nat-keepalive"), std::string::npos);
  EXPECT_EQ(state_error(base + "flag nat-keepalive"),
            "flag nat-keepalive: needs 'encap espinudp' (keepalives keep a NAT mapping open)");
}

TEST(XfrmState, Selectors) {
  const SaConfig c = ok_state(
      "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1000 mode transport aead rfc4106(gcm(aes)) "
      "GCMKEY 128 sel src 198.18.0.1/32 dst 198.18.0.2 proto tcp sport 1234 dport 443");
  ASSERT_TRUE(c.selector.has_value());
  EXPECT_EQ(c.selector->source.to_string(), "198.18.0.1/32");
  EXPECT_EQ(c.selector->destination.to_string(), "198.18.0.2/32");
  EXPECT_EQ(c.selector->protocol, ip_protocol::kTcp);
  EXPECT_EQ(c.selector->source_ports, PortRange::single(1234));
  EXPECT_EQ(c.selector->destination_ports, PortRange::single(443));

  const SaConfig icmp = ok_state(
      "src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x1000 aead rfc4106(gcm(aes)) GCMKEY 128 "
      "sel proto ipv6-icmp type 128 code 0");
  ASSERT_TRUE(icmp.selector.has_value());
  EXPECT_EQ(icmp.selector->family(), IpFamily::kV6) << "a selector without prefixes takes the SA's";
  EXPECT_TRUE(icmp.selector->source.length() == 0 && icmp.selector->destination.length() == 0);
  EXPECT_EQ(icmp.selector->protocol, ip_protocol::kIcmpv6);
  EXPECT_EQ(icmp.selector->source_ports, PortRange::single(128));
  EXPECT_EQ(icmp.selector->destination_ports, PortRange::single(0));

  const SaConfig tunnel = ok_state(
      "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1000 mode tunnel aead rfc4106(gcm(aes)) "
      "GCMKEY 128 sel src 2001:db8:1::/48 proto udp dport 0 sport 53");
  EXPECT_EQ(tunnel.selector->family(), IpFamily::kV6) << "tunnel mode may carry another family";
  EXPECT_EQ(tunnel.selector->destination.to_string(), "::/0");
  EXPECT_TRUE(tunnel.selector->destination_ports.is_any()) << "port 0 is any, as on Linux";

  const SaConfig ranged = ok_state(
      "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1000 mode tunnel aead rfc4106(gcm(aes)) "
      "GCMKEY 128 sel src 198.18.10.5-198.18.10.9 dst 198.18.20.0/24");
  ASSERT_TRUE(ranged.selector->source_range.has_value()) << "uipsec's range extension";
  EXPECT_EQ(ranged.selector->source_range->to_string(), "198.18.10.5-198.18.10.9");
  EXPECT_EQ(ranged.selector->source.to_string(), "198.18.10.0/28");
  SaInfo info;
  info.config = ranged;
  const std::string listed = format_state(info, false);
  EXPECT_NE(listed.find("sel src 198.18.10.5-198.18.10.9 dst 198.18.20.0/24"), std::string::npos)
      << listed;
}

TEST(XfrmState, SelectorErrors) {
  const std::string sa =
      "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1000 aead rfc4106(gcm(aes)) "
      "GCMKEY 128 ";
  EXPECT_EQ(state_error(sa + "sel"), "sel: expected src, dst or proto after 'sel'");
  EXPECT_EQ(state_error(sa + "sel mode tunnel"), "sel: expected src, dst or proto after 'sel'");
  EXPECT_EQ(state_error(sa + "sel src 10.0.0.0/24 sport 80"),
            "sel: sport and dport need proto tcp, udp, sctp, udplite or dccp, got no proto");
  EXPECT_EQ(state_error(sa + "sel proto tcp type 3"),
            "sel: type and code need proto icmp or ipv6-icmp, got proto tcp");
  EXPECT_EQ(state_error(sa + "sel src 10.0.0.0/33"),
            "sel: src: expected a prefix length 0..32 after '/', got '33'");
  EXPECT_EQ(state_error(sa + "sel src 10.0.0.0/24 src 10.0.1.0/24"), "sel: duplicate 'src'");
  EXPECT_EQ(state_error(sa + "sel dev eth0"),
            "sel: dev: selecting by interface is not implemented by uipsec");
  EXPECT_EQ(state_error(sa + "sel proto bogus"),
            "sel: proto: expected a protocol (tcp, udp, icmp, ipv6-icmp, sctp, udplite, any, or a "
            "number 0..255), got 'bogus'");
  EXPECT_EQ(state_error(sa + "sel proto icmp type 256"),
            "sel: type: expected an ICMP type 0..255, got '256'");
  EXPECT_EQ(state_error(sa + "sel src 10.0.0.0/8 dst 2001:db8::/32 mode tunnel"),
            "selector: source 10.0.0.0/8 and destination 2001:db8::/32 are of different address "
            "families");
  EXPECT_EQ(state_error(sa + "mode transport sel src 2001:db8::/32"),
            "sel: a transport-mode selector must be of the SA's address family");
}

TEST(XfrmState, Limits) {
  const SaConfig c = ok_state(
      "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1000 aead rfc4106(gcm(aes)) GCMKEY 128 "
      "limit time-soft 3000 limit time-hard 3600 limit time-use-soft 100 limit time-use-hard 200 "
      "limit byte-soft 0x100000 limit byte-hard 2097152 limit packet-soft 1000 "
      "limit packet-hard 2000");
  EXPECT_EQ(c.lifetimes.soft.add_seconds, 3000u);
  EXPECT_EQ(c.lifetimes.hard.add_seconds, 3600u);
  EXPECT_EQ(c.lifetimes.soft.use_seconds, 100u);
  EXPECT_EQ(c.lifetimes.hard.use_seconds, 200u);
  EXPECT_EQ(c.lifetimes.soft.bytes, 0x100000u);
  EXPECT_EQ(c.lifetimes.hard.bytes, 2097152u);
  EXPECT_EQ(c.lifetimes.soft.packets, 1000u);
  EXPECT_EQ(c.lifetimes.hard.packets, 2000u);
  const std::string sa =
      "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1000 aead rfc4106(gcm(aes)) "
      "GCMKEY 128 ";
  EXPECT_EQ(state_error(sa + "limit time-soft 10 limit time-soft 20"),
            "duplicate 'limit time-soft'");
  EXPECT_EQ(state_error(sa + "limit hours 10"),
            "limit: expected time-soft, time-hard, time-use-soft, time-use-hard, byte-soft, "
            "byte-hard, packet-soft or packet-hard, got 'hours'");
  EXPECT_EQ(state_error(sa + "limit byte-soft lots"),
            "limit byte-soft: expected a number of bytes, got 'lots'");
  EXPECT_EQ(state_error(sa + "limit time-soft 20 limit time-hard 10"),
            "lifetime: soft add-time limit (20) exceeds the hard limit (10)");
}

TEST(XfrmState, Encapsulation) {
  const SaConfig c = ok_state(
      "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1000 mode transport aead rfc4106(gcm(aes)) "
      "GCMKEY 128 encap espinudp 4501 0x1194 192.168.1.10");
  ASSERT_TRUE(c.endpoints.encapsulation.has_value());
  EXPECT_EQ(c.endpoints.encapsulation->source_port, 4501);
  EXPECT_EQ(c.endpoints.encapsulation->destination_port, 4500);
  EXPECT_EQ(c.endpoints.encapsulation->original_address, IpAddress::parse("192.168.1.10").value());

  // The listing's spelling is read too.
  const SaConfig listed = ok_state(
      "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1000 mode transport aead rfc4106(gcm(aes)) "
      "GCMKEY 128 encap type espinudp sport 4501 dport 4500 addr 192.168.1.10");
  EXPECT_TRUE(test::same_config(c, listed));

  const std::string sa =
      "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1000 aead rfc4106(gcm(aes)) "
      "GCMKEY 128 ";
  EXPECT_EQ(state_error(sa + "encap espinudp-nonike 500 500 0.0.0.0"),
            "encap: espinudp-nonike (the pre-RFC 3948 draft without the non-ESP marker) is not "
            "supported; use espinudp");
  EXPECT_EQ(state_error(sa + "encap espintcp 4500 4500 0.0.0.0"),
            "encap: espintcp (RFC 8229, ESP in TCP) is not implemented by uipsec");
  EXPECT_EQ(state_error(sa + "encap espinudp 4500 4500"),
            "encap: missing OADDR (the original address, or 0.0.0.0 for none)");
  EXPECT_EQ(state_error(sa + "encap espinudp 4500 70000 0.0.0.0"),
            "encap: expected a destination port 0..65535 (DPORT), got '70000'");
  EXPECT_EQ(state_error(sa + "encap espinudp 4500 4500 2001:db8::1"),
            "encap: the original address is of a different family than the SA");
  EXPECT_EQ(state_error(sa + "encap type espinudp port 1 dport 2 addr 0.0.0.0"),
            "encap: expected 'sport', got 'port'");
}

TEST(XfrmState, Direction) {
  const std::string sa =
      "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1000 aead rfc4106(gcm(aes)) "
      "GCMKEY 128 ";
  EXPECT_EQ(ok_state(sa + "dir in").direction, SaDirection::kIn);
  EXPECT_EQ(ok_state(sa + "dir out").direction, SaDirection::kOut);
  EXPECT_EQ(state_error(sa + "dir fwd"), "dir: expected in or out, got 'fwd'");
}

TEST(XfrmState, ErrorsNameTheArgumentAndWhatWasExpected) {
  const std::string id = "src 10.0.0.1 dst 10.0.0.2 proto esp ";
  const std::string gcm = " aead rfc4106(gcm(aes)) GCMKEY 128";
  EXPECT_EQ(state_error(id + "spi x1" + gcm), "spi: expected a number 0x100..0xffffffff, got 'x1'");
  EXPECT_EQ(state_error(id + "spi 0x100000000" + gcm),
            "spi: expected a number 0x100..0xffffffff, got '0x100000000'");
  EXPECT_EQ(state_error(id + "spi 08" + gcm), "spi: expected a number 0x100..0xffffffff, got '08'")
      << "a leading 0 is octal";
  EXPECT_EQ(state_error(id + "spi 5" + gcm),
            "spi: 0x0 to 0xff are reserved (RFC 4303 §2.1), got 5");
  EXPECT_EQ(state_error(id + "spi 0x1000 aead 'rfc4106(gcm(aes))'"),
            "aead: 'rfc4106(gcm(aes))' needs KEY and ICV-LENGTH");
  EXPECT_EQ(state_error(id + "spi 0x1000 aead 'rfc4106(gcm(aes))' GCMKEY"),
            "aead: 'rfc4106(gcm(aes))' needs ICV-LENGTH after KEY");
  EXPECT_EQ(state_error(id + "spi 0x1000 aead"),
            "aead: missing value (expected ALGO KEY ICV-LENGTH)");
  EXPECT_EQ(state_error(id + "spi 0x1000 foo" + gcm),
            "unknown argument 'foo' (expected one of: src, dst, proto, spi, reqid, mode, dir, "
            "replay-window, replay-seq, replay-oseq, replay-seq-hi, replay-oseq-hi, flag, aead, "
            "enc, auth, auth-trunc, encap, sel, limit, extra-flag)");
  EXPECT_EQ(state_error(id + gcm), "missing 'spi'");
  EXPECT_EQ(state_error("dst 10.0.0.2 proto esp spi 0x1000" + gcm), "missing 'src'");
  EXPECT_EQ(state_error("src 10.0.0.1 proto esp spi 0x1000" + gcm), "missing 'dst'");
  EXPECT_EQ(state_error("src 10.0.0.1 dst 10.0.0.2 spi 0x1000" + gcm), "missing 'proto esp'");
  EXPECT_EQ(state_error("src 10.0.0.1 dst 10.0.0.2 proto ah spi 0x1000" + gcm),
            "proto: only esp is implemented by uipsec, got 'ah'");
  EXPECT_EQ(state_error("src 10.0.0.1 dst 10.0.0.2 proto comp spi 0x1000" + gcm),
            "proto: only esp is implemented by uipsec, got 'comp'");
  EXPECT_EQ(state_error(id + "spi 0x1000 spi 0x2000" + gcm), "duplicate 'spi'");
  EXPECT_EQ(state_error("src 10.0.0.1/32 dst 10.0.0.2 proto esp spi 0x1000" + gcm),
            "src: expected an IPv4 or IPv6 address, got '10.0.0.1/32'");
  EXPECT_EQ(state_error("src 10.0.0.1 dst 2001:db8::2 proto esp spi 0x1000" + gcm),
            "src/dst: 10.0.0.1 and 2001:db8::2 are of different address families");
  EXPECT_EQ(state_error(id + "spi 0x1000 mode beet" + gcm),
            "mode: beet is not implemented by uipsec (tunnel or transport)");
  EXPECT_EQ(state_error(id + "spi 0x1000 mode tunel" + gcm),
            "mode: expected tunnel or transport, got 'tunel'");
  EXPECT_EQ(state_error(id + "spi 0x1000 mark 7" + gcm), "'mark' is not implemented by uipsec");
  EXPECT_EQ(state_error(id + "spi 0x1000 replay-window -1" + gcm),
            "replay-window: expected a number of packets, got '-1'");
  EXPECT_EQ(state_error(id + "spi"), "spi: missing value (expected a number 0x100..0xffffffff)");
}

TEST(XfrmState, AlgorithmErrors) {
  const std::string id = "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1000 ";
  EXPECT_EQ(state_error(id + "enc 'rfc4106(gcm(aes))' GCMKEY"),
            "enc: 'rfc4106(gcm(aes))' is an AEAD algorithm (use aead 'rfc4106(gcm(aes))' KEY "
            "ICV-LENGTH)");
  EXPECT_EQ(state_error(id + "aead 'cbc(aes)' AESKEY 128"),
            "aead: 'cbc(aes)' is not an AEAD algorithm (use enc 'cbc(aes)' KEY with auth or "
            "auth-trunc)");
  EXPECT_EQ(state_error(id + "enc 'cbc(des3_ede)' AESKEY auth sha1 SHA1KEY"),
            "enc: algorithm 'cbc(des3_ede)' refused: 3DES is retired by RFC 8221 (64-bit block, "
            "SHOULD NOT)");
  EXPECT_EQ(state_error(id + "auth 'hmac(sha1)' SHA1KEY"),
            "missing 'enc': ESP needs an encryption algorithm (for integrity only use enc "
            "'ecb(cipher_null)' \"\")");
  EXPECT_EQ(state_error(id + "reqid 1"),
            "missing algorithms: aead ALGO KEY ICV-LENGTH, or enc ALGO KEY with auth ALGO KEY or "
            "auth-trunc ALGO KEY TRUNC-LENGTH");
  EXPECT_EQ(state_error(id + "aead rfc4106(gcm(aes)) GCMKEY 128 enc cbc(aes) AESKEY"),
            "aead: an AEAD algorithm cannot be combined with enc, auth or auth-trunc");
  EXPECT_EQ(state_error(id + "enc 'cbc(aes)' AESKEY"),
            "integrity: cbc(aes) needs an integrity algorithm (auth or auth-trunc); encryption "
            "without integrity is not supported");
  EXPECT_EQ(state_error(id + "auth sha1 SHA1KEY auth-trunc sha1 SHA1KEY 96 enc aes AESKEY"),
            "auth-trunc: the SA already has an integrity algorithm (give one of auth or "
            "auth-trunc)");
  EXPECT_EQ(state_error(id + "aead rfc4106(gcm(aes)) 0x010203 128"),
            "cipher key: rfc4106(gcm(aes)) expects 20, 28 or 36 bytes (AES key + 4-byte salt), "
            "got 3");
  EXPECT_EQ(state_error(id + "aead rfc4106(gcm(aes)) 0x0102030 128"),
            "aead: key: expected an even number of hex digits after 0x, got 7");
  EXPECT_EQ(state_error(id + "aead rfc4106(gcm(aes)) 0x01020g 128"),
            "aead: key: expected hex digits after 0x, found a non-hex character at position 7");
  EXPECT_EQ(state_error(id + "aead rfc4106(gcm(aes)) GCMKEY 100"),
            "icv: rfc4106(gcm(aes)) expects an ICV of 64, 96 or 128 bits, got 100");
  EXPECT_EQ(state_error(id + "aead rfc4106(gcm(aes)) GCMKEY big"),
            "aead: expected an ICV length in bits (64, 96, 128), got 'big'");
  EXPECT_EQ(state_error(id + "enc aes AESKEY auth-trunc sha256 SHA256KEY 64"),
            "icv: hmac(sha256) truncation must be a whole number of bytes from 96 to 256 bits, got "
            "64");
  EXPECT_EQ(state_error(id + "enc aes AESKEY auth-trunc sha256 SHA256KEY"),
            "auth-trunc: 'hmac(sha256)' needs TRUNC-LENGTH after KEY");
  EXPECT_EQ(state_error(id + "aead GCMKEY 'rfc4106(gcm(aes))' 128"),
            "aead: expected an algorithm name before the key");
  EXPECT_EQ(state_error(id + "enc aes AESKEY AESKEY auth sha1 SHA1KEY"),
            "unknown argument '0x...' (32 hex digits) (expected one of: src, dst, proto, spi, "
            "reqid, mode, dir, replay-window, replay-seq, replay-oseq, replay-seq-hi, "
            "replay-oseq-hi, flag, aead, enc, auth, auth-trunc, encap, sel, limit, extra-flag)")
      << "keys out of place are not repeated in messages";
  EXPECT_EQ(state_error(id + "aead rot13 GCMKEY 128").substr(0, 42),
            "aead: unknown encryption algorithm 'rot13'");
}

TEST(XfrmStateId, ParsesGetAndDeleteArguments) {
  auto parse = [](std::string_view line) {
    auto words = split_arguments(line);
    return parse_state_id(argument_views(*words));
  };
  auto id = parse("src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1000");
  ASSERT_TRUE(id.ok()) << id.error().message();
  EXPECT_EQ(id->destination.to_string(), "198.18.0.2");
  EXPECT_EQ(id->spi, Spi(0x1000));
  EXPECT_TRUE(parse("dst 2001:db8::2 proto esp spi 4096").ok()) << "src is optional";
  EXPECT_EQ(parse("dst 10.0.0.1 spi 0x1000").error().message(), "missing 'proto esp'");
  EXPECT_EQ(parse("src 10.0.0.1 proto esp spi 0x1000").error().message(), "missing 'dst'");
  EXPECT_EQ(parse("dst 10.0.0.1 proto esp").error().message(), "missing 'spi'");
  EXPECT_EQ(parse("dst 10.0.0.1 proto esp spi 0x10").error().message(),
            "spi: expected a number 0x100..0xffffffff, got 0x10");
  EXPECT_EQ(parse("dst 10.0.0.1 proto esp spi 0x1000 reqid 1").error().message(),
            "unknown argument 'reqid' (expected one of: src, dst, proto, spi)");
  EXPECT_EQ(parse("dst 10.0.0.1 proto esp spi 0x1000 mark 1").error().message(),
            "'mark' is not implemented by uipsec");
}

// Realistic states: the iproute2 how-to examples and what strongSwan installs.
const std::string kRealisticStates[] = {
    kHostToHost,
    "src 198.18.0.2 dst 198.18.0.1 proto esp spi 0xc0000001 reqid 1 mode tunnel dir in "
    "replay-window 32 aead 'rfc4106(gcm(aes))' GCMKEY 128 encap espinudp 4500 4500 0.0.0.0 "
    "sel src 10.1.0.0/16 dst 10.2.0.0/16",
    "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x00000301 mode tunnel auth sha256 SHA256KEY enc aes "
    "AESKEY",
    "src 192.168.1.1 dst 192.168.1.2 proto esp spi 0x1000 reqid 0x1000 mode transport "
    "auth-trunc 'hmac(sha256)' SHA256KEY 128 enc 'cbc(aes)' AESKEY sel src 192.168.1.1 dst "
    "192.168.1.2 proto tcp dport 443 limit time-soft 3000 limit time-hard 3600 limit byte-hard "
    "1000000000",
    "src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x2000 reqid 7 mode tunnel flag esn "
    "replay-window 1024 replay-seq 0x10 replay-oseq-hi 1 aead 'rfc4106(gcm(aes))' "
    "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223 96 sel proto "
    "ipv6-icmp type 135",
    "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x3000 mode transport enc 'ecb(cipher_null)' \"\" "
    "auth-trunc 'hmac(sha1)' SHA1KEY 96 encap espinudp 4500 4500 10.0.0.99 dir out",
    "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x3001 aead 'rfc4309(ccm(aes))' "
    "0x000102030405060708090a0b0c0d0e0f101112 64 limit packet-soft 10 limit packet-hard 20",
    "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x3002 enc 'rfc3686(ctr(aes))' "
    "0x000102030405060708090a0b0c0d0e0f10111213 auth-trunc 'hmac(sha384)' 0x" +
        std::string(96, '4') + " 192",
};

TEST(XfrmState, CanonicalArgumentsParseBackToTheSameState) {
  for (const std::string& line : kRealisticStates) {
    const SaConfig c = ok_state(line);
    const std::string printed = join_arguments(state_arguments(c));
    auto words = split_arguments(printed);
    ASSERT_TRUE(words.ok()) << printed;
    auto again = parse_state(argument_views(*words));
    ASSERT_TRUE(again.ok()) << printed << "\n" << again.error().message();
    EXPECT_TRUE(test::same_config(c, *again)) << line << "\n" << printed;
  }
}

TEST(XfrmState, TheListingWithKeysParsesBackToTheSameState) {
  for (const std::string& line : kRealisticStates) {
    SaInfo info;
    info.config = ok_state(line);
    const std::string listed = format_state(info, true);
    auto again = state(listed);
    ASSERT_TRUE(again.ok()) << listed << "\n" << again.error().message();
    EXPECT_TRUE(test::same_config(info.config, *again)) << line << "\n" << listed;
  }
}

TEST(XfrmState, ListsLikeIpXfrmState) {
  SaInfo info;
  info.config = ok_state(kHostToHost);
  EXPECT_EQ(format_state(info, true),
            "src 198.18.0.1 dst 198.18.0.2\n"
            "\tproto esp spi 0x00001000 reqid 1 mode tunnel\n"
            "\treplay-window 0\n"
            "\taead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128\n"
            "\tencap type espinudp sport 4500 dport 4500 addr 0.0.0.0\n");
  EXPECT_EQ(format_state(info, false),
            "src 198.18.0.1 dst 198.18.0.2\n"
            "\tproto esp spi 0x00001000 reqid 1 mode tunnel\n"
            "\treplay-window 0\n"
            "\taead rfc4106(gcm(aes)) (hidden) 128\n"
            "\tencap type espinudp sport 4500 dport 4500 addr 0.0.0.0\n");

  SaInfo cbc;
  cbc.config = ok_state(kRealisticStates[3]);
  EXPECT_EQ(format_state(cbc, true),
            "src 192.168.1.1 dst 192.168.1.2\n"
            "\tproto esp spi 0x00001000 reqid 4096 mode transport\n"
            "\treplay-window 0\n"
            "\tauth-trunc hmac(sha256) "
            "0x2222222222222222222222222222222222222222222222222222222222222222 128\n"
            "\tenc cbc(aes) 0x000102030405060708090a0b0c0d0e0f\n"
            "\tsel src 192.168.1.1/32 dst 192.168.1.2/32 proto tcp dport 443\n"
            "\tlimit time-soft 3000 limit time-hard 3600 limit byte-hard 1000000000\n");
}

TEST(XfrmState, ListsStatisticsLikeIpSXfrmState) {
  SaInfo info;
  info.config = ok_state(kRealisticStates[4]);  // ESN
  info.bytes = 1500;
  info.packets = 10;
  info.replay_drops = 2;
  info.authentication_failures = 1;
  info.other_drops = 3;
  info.inbound_sequence = (1ull << 32) | 5;
  info.outbound_sequence = 7;
  info.added = Timestamp::from_seconds(100);
  info.first_use = Timestamp::from_seconds(130);
  XfrmListOptions options;
  options.show_stats = true;
  options.now = Timestamp::from_seconds(160);
  EXPECT_EQ(format_state(info, options),
            "src 2001:db8::1 dst 2001:db8::2\n"
            "\tproto esp spi 0x00002000 reqid 7 mode tunnel\n"
            "\treplay-window 1024 flag esn\n"
            "\treplay-seq 0x10 replay-oseq-hi 0x1\n"
            "\taead rfc4106(gcm(aes)) (hidden) 96\n"
            "\tsel src ::/0 dst ::/0 proto ipv6-icmp type 135\n"
            "\tlifetime config:\n"
            "\t  limit: soft (INF)(bytes), hard (INF)(bytes)\n"
            "\t  limit: soft (INF)(packets), hard (INF)(packets)\n"
            "\t  expire add: soft 0(sec), hard 0(sec)\n"
            "\t  expire use: soft 0(sec), hard 0(sec)\n"
            "\tlifetime current:\n"
            "\t  1500(bytes), 10(packets)\n"
            "\t  add 60s ago use 30s ago\n"
            "\tstats:\n"
            "\t  replay 2 failed 1 other 3\n"
            "\tanti-replay esn context:\n"
            "\t seq-hi 0x1, seq 0x5, oseq-hi 0x0, oseq 0x7\n"
            "\t replay_window 1024\n");
}

}  // namespace
}  // namespace uipsec
