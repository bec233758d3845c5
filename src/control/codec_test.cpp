#include "control/codec.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "esp/esp_algorithms.hpp"

namespace uipsec {
namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

// --- Random values, property style --------------------------------------------------------------

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t below(std::uint64_t n) { return rng_() % n; }
  bool coin() { return below(2) == 1; }
  // Favours the edges of the range, where encodings break.
  std::uint64_t u64(std::uint64_t max = kU64Max) {
    switch (below(4)) {
      case 0:
        return 0;
      case 1:
        return max;
      default:
        return max == kU64Max ? rng_() : rng_() % (max + 1);
    }
  }

  IpAddress address(IpFamily family) {
    std::uint8_t bytes[16];
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng_());
    return IpAddress::from_bytes(family, bytes);
  }
  IpFamily family() { return coin() ? IpFamily::kV4 : IpFamily::kV6; }
  IpPrefix prefix(IpFamily family) {
    const unsigned max = family == IpFamily::kV4 ? 32 : 128;
    return IpPrefix(address(family), static_cast<std::uint8_t>(below(max + 1)));
  }
  PortRange ports(std::uint16_t max) {
    const auto a = static_cast<std::uint16_t>(below(std::uint64_t{max} + 1));
    const auto b = static_cast<std::uint16_t>(below(std::uint64_t{max} + 1));
    return PortRange{std::min(a, b), std::max(a, b)};
  }
  TrafficSelector selector(IpFamily family) {
    TrafficSelector s;
    s.source = prefix(family);
    s.destination = prefix(family);
    if (below(4) == 0) {
      IpAddress a = address(family), b = address(family);
      if (b < a) std::swap(a, b);
      s.set_destination(AddressRange{a, b});
    }
    static constexpr std::uint8_t kProtocols[] = {0, 1, 6, 17, 50, 58, 132};
    s.protocol = kProtocols[below(std::size(kProtocols))];
    if (s.protocol == 1 || s.protocol == 58) {
      s.source_ports = ports(255);
      s.destination_ports = ports(255);
    } else if (s.protocol == 6 || s.protocol == 17 || s.protocol == 132) {
      s.source_ports = ports(65535);
      s.destination_ports = ports(65535);
    }
    return s;
  }
  SecretBytes key(std::size_t size) {
    SecretBytes k(size);
    for (auto& b : k.mutable_span()) b = static_cast<std::uint8_t>(rng_());
    return k;
  }
  LifetimeLimits limits() { return LifetimeLimits{u64(), u64(), u64(), u64()}; }

  SaConfig sa_config(const EspAlgorithms& algorithms) {
    SaConfig c;
    const IpFamily f = family();
    c.endpoints.source = address(f);
    c.endpoints.destination = address(f);
    if (coin()) {
      UdpEncapsulation e;
      e.source_port = static_cast<std::uint16_t>(u64(65535));
      e.destination_port = static_cast<std::uint16_t>(u64(65535));
      if (coin()) e.original_address = address(f);
      c.endpoints.encapsulation = e;
    }
    c.spi = Spi(static_cast<std::uint32_t>(u64(0xffffffff)));
    c.reqid = Reqid(static_cast<std::uint32_t>(u64(0xffffffff)));
    c.mode = coin() ? IpsecMode::kTunnel : IpsecMode::kTransport;
    c.direction = static_cast<SaDirection>(below(3));
    c.algorithms = algorithms;
    c.replay_window = static_cast<std::uint32_t>(u64(65536));
    c.flags.esn = coin();
    c.inbound_sequence = c.flags.esn ? u64() : u64(0xffffffff);
    c.outbound_sequence = c.flags.esn ? u64() : u64(0xffffffff);
    c.lifetimes.soft = limits();
    c.lifetimes.hard = limits();
    if (coin()) c.selector = selector(f);
    return c;
  }

 private:
  std::mt19937_64 rng_;
};

// Every valid algorithm combination with every key size it takes.
std::vector<EspAlgorithms> all_algorithms(Generator& g) {
  std::vector<EspAlgorithms> out;
  const auto add = [&](EspCipher cipher, std::size_t key, EspIntegrity integrity,
                       std::uint16_t icv) {
    EspAlgorithms a;
    a.cipher = cipher;
    a.cipher_key = g.key(key);
    a.integrity = integrity;
    if (integrity != EspIntegrity::kNone) {
      static constexpr std::size_t kIntegrityKeys[] = {0, 20, 32, 48, 64};
      a.integrity_key = g.key(kIntegrityKeys[static_cast<std::size_t>(integrity)]);
    }
    a.icv_bits = icv;
    EXPECT_TRUE(validate(a).ok()) << validate(a).error().message();
    out.push_back(a);
  };
  const EspIntegrity hmacs[] = {EspIntegrity::kHmacSha1, EspIntegrity::kHmacSha256,
                                EspIntegrity::kHmacSha384, EspIntegrity::kHmacSha512};
  for (EspIntegrity i : hmacs) {
    add(EspCipher::kNull, 0, i, rfc_icv_bits(i));
    for (std::size_t aes : {16, 24, 32}) {
      add(EspCipher::kAesCbc, aes, i, rfc_icv_bits(i));
      add(EspCipher::kAesCtr, aes + 4, i, rfc_icv_bits(i));
    }
  }
  for (std::size_t aes : {16, 24, 32}) {
    for (std::uint16_t icv : {64, 96, 128}) {
      add(EspCipher::kAesGcm, aes + 4, EspIntegrity::kNone, icv);
      add(EspCipher::kAesCcm, aes + 3, EspIntegrity::kNone, icv);
    }
    add(EspCipher::kAesGmac, aes + 4, EspIntegrity::kNone, 128);
  }
  add(EspCipher::kChaCha20Poly1305, 36, EspIntegrity::kNone, 128);
  return out;
}

void expect_same(const SaConfig& a, const SaConfig& b) {
  EXPECT_EQ(a.endpoints, b.endpoints);
  EXPECT_EQ(a.spi, b.spi);
  EXPECT_EQ(a.reqid, b.reqid);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_EQ(a.algorithms.cipher, b.algorithms.cipher);
  EXPECT_TRUE(a.algorithms.cipher_key == b.algorithms.cipher_key);
  EXPECT_EQ(a.algorithms.integrity, b.algorithms.integrity);
  EXPECT_TRUE(a.algorithms.integrity_key == b.algorithms.integrity_key);
  EXPECT_EQ(a.algorithms.icv_bits, b.algorithms.icv_bits);
  EXPECT_EQ(a.replay_window, b.replay_window);
  EXPECT_EQ(a.inbound_sequence, b.inbound_sequence);
  EXPECT_EQ(a.outbound_sequence, b.outbound_sequence);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.lifetimes, b.lifetimes);
  EXPECT_EQ(a.selector, b.selector);
}

// Encodes, writes as text, parses the text and decodes: what travels over the socket.
template <class T>
T through_text(const Json& json) {
  auto parsed = parse_json(dump_json(json));
  EXPECT_TRUE(parsed.ok());
  auto value = from_json<T>(*parsed, "x");
  EXPECT_TRUE(value.ok()) << value.error().message() << "\n" << json.dump(2);
  return value.ok() ? std::move(*value) : T{};
}

// --- Round trips --------------------------------------------------------------------------------

TEST(ControlCodec, SaConfigRoundTripsWithEveryAlgorithm) {
  Generator g(1);
  const auto algorithms = all_algorithms(g);
  ASSERT_GE(algorithms.size(), 50u);
  for (int round = 0; round < 8; ++round) {
    for (const auto& a : algorithms) {
      const SaConfig config = g.sa_config(a);
      const SaConfig back = through_text<SaConfig>(to_json(config));
      expect_same(config, back);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(ControlCodec, SaConfigUsesXfrmNamesAndHexKeys) {
  Generator g(2);
  EspAlgorithms a;
  a.cipher = EspCipher::kAesCbc;
  a.cipher_key = SecretBytes(std::vector<std::uint8_t>(16, 0xab));
  a.integrity = EspIntegrity::kHmacSha256;
  a.integrity_key = SecretBytes(std::vector<std::uint8_t>(32, 0x01));
  a.icv_bits = 128;
  SaConfig c = g.sa_config(a);
  c.endpoints.source = *IpAddress::parse("2001:db8::1");
  c.endpoints.destination = *IpAddress::parse("2001:db8::2");
  c.endpoints.encapsulation.reset();
  c.spi = Spi(0xc0001234);
  const Json j = to_json(c);
  EXPECT_EQ(j["algorithms"]["cipher"], "cbc(aes)");
  EXPECT_EQ(j["algorithms"]["integrity"], "hmac(sha256)");
  std::string cipher_hex, integrity_hex;
  for (int i = 0; i < 16; ++i) cipher_hex += "ab";
  for (int i = 0; i < 32; ++i) integrity_hex += "01";
  EXPECT_EQ(j["algorithms"]["cipher_key"], cipher_hex);
  EXPECT_EQ(j["algorithms"]["integrity_key"], integrity_hex);
  EXPECT_EQ(j["endpoints"]["source"], "2001:db8::1");
  EXPECT_TRUE(j["endpoints"]["encapsulation"].is_null());
  EXPECT_EQ(j["spi"], 0xc0001234u);

  const Json omitted = to_json(c, KeyDisclosure::kOmit);
  EXPECT_FALSE(omitted["algorithms"].contains("cipher_key"));
  EXPECT_FALSE(omitted["algorithms"].contains("integrity_key"));
  auto back = from_json<SaConfig>(omitted);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_TRUE(back->algorithms.cipher_key.empty());
}

TEST(ControlCodec, KeysAcceptAnOptionalPrefixAndUpperCase) {
  Generator g(3);
  EspAlgorithms a;
  a.cipher = EspCipher::kAesGcm;
  a.cipher_key = SecretBytes(std::vector<std::uint8_t>(20, 0xcd));
  SaConfig c = g.sa_config(a);
  Json j = to_json(c);
  j["algorithms"]["cipher_key"] = "0xCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCD";
  auto back = from_json<SaConfig>(j);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_TRUE(back->algorithms.cipher_key == c.algorithms.cipher_key);
}

TEST(ControlCodec, OptionalSaFieldsTakeTheirDefaults) {
  const Json j = Json::parse(R"js({
    "endpoints": {"source": "198.18.0.1", "destination": "198.18.0.2"},
    "spi": 4660, "reqid": 7, "mode": "transport", "replay_window": 32,
    "algorithms": {"cipher": "rfc4106(gcm(aes))", "cipher_key": "000102030405060708090a0b0c0d0e0f10111213",
                   "icv_bits": 128}})js");
  auto c = from_json<SaConfig>(j, "args");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->direction, SaDirection::kAny);
  EXPECT_FALSE(c->endpoints.encapsulation.has_value());
  EXPECT_EQ(c->algorithms.integrity, EspIntegrity::kNone);
  EXPECT_FALSE(c->flags.esn);
  EXPECT_TRUE(c->lifetimes.soft.unlimited());
  EXPECT_FALSE(c->selector.has_value());
  EXPECT_TRUE(c->validate().ok());
}

TEST(ControlCodec, SaInfoRoundTripsAndOmitsKeysUnlessAsked) {
  Generator g(4);
  const auto algorithms = all_algorithms(g);
  for (std::size_t i = 0; i < algorithms.size(); ++i) {
    SaInfo info;
    info.config = g.sa_config(algorithms[i]);
    info.bytes = g.u64();
    info.packets = g.u64();
    info.replay_drops = g.u64();
    info.authentication_failures = g.u64();
    info.other_drops = g.u64();
    info.outbound_sequence = g.u64();
    info.inbound_sequence = g.u64();
    info.added = Timestamp::from_nanoseconds(
        static_cast<std::int64_t>(g.u64(std::numeric_limits<std::int64_t>::max())));
    if (g.coin()) info.first_use = Timestamp::from_nanoseconds(1234567890123);
    if (g.coin())
      info.last_use = Timestamp::from_nanoseconds(std::numeric_limits<std::int64_t>::max());
    info.soft_expired = g.coin();
    info.hard_expired = g.coin();

    const SaInfo back = through_text<SaInfo>(to_json(info, KeyDisclosure::kInclude));
    expect_same(info.config, back.config);
    EXPECT_EQ(back.bytes, info.bytes);
    EXPECT_EQ(back.packets, info.packets);
    EXPECT_EQ(back.replay_drops, info.replay_drops);
    EXPECT_EQ(back.authentication_failures, info.authentication_failures);
    EXPECT_EQ(back.other_drops, info.other_drops);
    EXPECT_EQ(back.outbound_sequence, info.outbound_sequence);
    EXPECT_EQ(back.inbound_sequence, info.inbound_sequence);
    EXPECT_EQ(back.added, info.added);
    EXPECT_EQ(back.first_use, info.first_use);
    EXPECT_EQ(back.last_use, info.last_use);
    EXPECT_EQ(back.soft_expired, info.soft_expired);
    EXPECT_EQ(back.hard_expired, info.hard_expired);

    const SaInfo omitted = through_text<SaInfo>(to_json(info, KeyDisclosure::kOmit));
    EXPECT_TRUE(omitted.config.algorithms.cipher_key.empty());
    EXPECT_TRUE(omitted.config.algorithms.integrity_key.empty());
    EXPECT_EQ(omitted.config.algorithms.cipher, info.config.algorithms.cipher);
  }
}

TEST(ControlCodec, PoliciesRoundTrip) {
  Generator g(5);
  for (int i = 0; i < 500; ++i) {
    PolicyConfig p;
    const IpFamily f = g.family();
    p.selector = g.selector(f);
    p.direction = static_cast<PolicyDirection>(g.below(3));
    p.action = static_cast<PolicyAction>(g.below(3));
    p.priority = static_cast<std::uint32_t>(g.u64(0xffffffff));
    if (p.action == PolicyAction::kProtect) {
      PolicyTemplate t;
      t.reqid = Reqid(static_cast<std::uint32_t>(g.u64(0xffffffff)));
      t.mode = g.coin() ? TemplateMode::kTunnel : TemplateMode::kTransport;
      const IpFamily outer = g.family();  // IPv4 in IPv6 and the reverse are fine in tunnel mode
      t.source = g.address(outer);
      t.destination = g.address(outer);
      p.tmpl = t;
    }
    const PolicyConfig back = through_text<PolicyConfig>(to_json(p));
    EXPECT_EQ(back.selector, p.selector);
    EXPECT_EQ(back.direction, p.direction);
    EXPECT_EQ(back.action, p.action);
    EXPECT_EQ(back.priority, p.priority);
    EXPECT_EQ(back.tmpl, p.tmpl);

    PolicyInfo info;
    info.config = p;
    info.index = PolicyIndex(static_cast<std::uint32_t>(g.u64(0xffffffff)));
    info.packets = g.u64();
    info.bytes = g.u64();
    info.added = Timestamp::from_seconds(i);
    if (g.coin()) info.last_use = Timestamp::from_seconds(i + 1);
    const PolicyInfo info_back = through_text<PolicyInfo>(to_json(info));
    EXPECT_EQ(info_back.config.selector, p.selector);
    EXPECT_EQ(info_back.index, info.index);
    EXPECT_EQ(info_back.packets, info.packets);
    EXPECT_EQ(info_back.bytes, info.bytes);
    EXPECT_EQ(info_back.added, info.added);
    EXPECT_EQ(info_back.last_use, info.last_use);

    const PolicyId id = p.id();
    EXPECT_EQ(through_text<PolicyId>(to_json(id)), id);
    EXPECT_EQ(through_text<TrafficSelector>(to_json(p.selector)), p.selector);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(ControlCodec, SaIdsAndEndpointsRoundTrip) {
  Generator g(6);
  for (int i = 0; i < 200; ++i) {
    const SaConfig c = g.sa_config(all_algorithms(g)[0]);
    EXPECT_EQ(through_text<SaId>(to_json(c.id())), c.id());
    EXPECT_EQ(through_text<SaEndpoints>(to_json(c.endpoints)), c.endpoints);
  }
}

TEST(ControlCodec, StatisticsNameDropsAsScriptsReadThem) {
  Statistics s;
  for (std::size_t i = 1; i < kDropReasonCount; ++i) s.drops[i] = i * 1000 + 7;
  s.drops[static_cast<std::size_t>(DropReason::kUnknownSpi)] = kU64Max;
  s.sealed = 1;
  s.opened = 2;
  s.bypassed = 3;
  s.ike = 4;
  s.events_lost = 5;
  s.sa_count = 6;
  s.policy_count = 7;
  const Json j = to_json(s);
  EXPECT_EQ(j["drops"]["unknown-spi"], kU64Max);
  EXPECT_EQ(j["drops"]["replay-duplicate"],
            static_cast<std::size_t>(DropReason::kReplayDuplicate) * 1000 + 7);
  EXPECT_FALSE(j["drops"].contains("none"));
  EXPECT_EQ(j["drops"].size(), kDropReasonCount - 1);

  const Statistics back = through_text<Statistics>(j);
  EXPECT_EQ(back.drops, s.drops);
  EXPECT_EQ(back.sealed, 1u);
  EXPECT_EQ(back.opened, 2u);
  EXPECT_EQ(back.bypassed, 3u);
  EXPECT_EQ(back.ike, 4u);
  EXPECT_EQ(back.events_lost, 5u);
  EXPECT_EQ(back.sa_count, 6u);
  EXPECT_EQ(back.policy_count, 7u);
}

TEST(ControlCodec, EventsRoundTrip) {
  Generator g(7);
  for (int i = 0; i < 100; ++i) {
    const IpFamily f = g.family();
    const SaId sa{g.address(f), Spi(static_cast<std::uint32_t>(g.u64(0xffffffff)))};
    const Reqid reqid(static_cast<std::uint32_t>(g.u64(0xffffffff)));

    const AcquireEvent acquire{reqid, PolicyIndex(static_cast<std::uint32_t>(i)), g.selector(f)};
    Json j = to_json(IpsecEvent(acquire));
    EXPECT_EQ(j["event"], "acquire");
    auto a = std::get<AcquireEvent>(through_text<IpsecEvent>(j));
    EXPECT_EQ(a.reqid, acquire.reqid);
    EXPECT_EQ(a.policy, acquire.policy);
    EXPECT_EQ(a.packet, acquire.packet);

    const ExpireEvent expire{sa, reqid, g.coin()};
    j = to_json(IpsecEvent(expire));
    EXPECT_EQ(j["event"], "expire");
    auto e = std::get<ExpireEvent>(through_text<IpsecEvent>(j));
    EXPECT_EQ(e.sa, expire.sa);
    EXPECT_EQ(e.reqid, expire.reqid);
    EXPECT_EQ(e.hard, expire.hard);

    const MappingEvent mapping{sa, reqid, Endpoint{g.address(f), 4500},
                               Endpoint{g.address(f), static_cast<std::uint16_t>(g.u64(65535))}};
    j = to_json(IpsecEvent(mapping));
    EXPECT_EQ(j["event"], "mapping");
    auto m = std::get<MappingEvent>(through_text<IpsecEvent>(j));
    EXPECT_EQ(m.sa, mapping.sa);
    EXPECT_EQ(m.previous, mapping.previous);
    EXPECT_EQ(m.current, mapping.current);
  }
}

// Every op's request survives encode -> text -> envelope -> decode -> encode unchanged.
TEST(ControlCodec, EveryRequestRoundTrips) {
  Generator g(8);
  const SaConfig sa = g.sa_config(all_algorithms(g)[3]);
  PolicyConfig policy;
  policy.selector = g.selector(IpFamily::kV6);
  policy.action = PolicyAction::kBypass;
  const std::vector<std::pair<Op, RequestArgs>> requests = {
      {Op::kHello, HelloArgs{1, "uipsec 0.1.0"}},
      {Op::kSpiAllocate, SpiAllocateArgs{g.address(IpFamily::kV4), g.address(IpFamily::kV4)}},
      {Op::kSaAdd, sa},
      {Op::kSaUpdate, SaUpdateArgs{sa.id(), sa.endpoints}},
      {Op::kSaGet, SaGetArgs{sa.id(), KeyDisclosure::kInclude}},
      {Op::kSaDelete, SaDeleteArgs{sa.id()}},
      {Op::kSaList, SaListArgs{KeyDisclosure::kOmit}},
      {Op::kSaFlush, NoArgs{}},
      {Op::kPolicyAdd, policy},
      {Op::kPolicyUpdate, policy},
      {Op::kPolicyGet, PolicyIdArgs{policy.id()}},
      {Op::kPolicyDelete, PolicyIdArgs{policy.id()}},
      {Op::kPolicyList, NoArgs{}},
      {Op::kPolicyFlush, NoArgs{}},
      {Op::kStats, NoArgs{}},
      {Op::kMonitor, MonitorArgs{false}},
      {Op::kIkeRegister, IkeRegisterArgs{false}},
      {Op::kIkeSend, IkeSendArgs{Endpoint{g.address(IpFamily::kV6), 4500},
                                 Endpoint{g.address(IpFamily::kV6), 31000},
                                 {0x00, 0x11, 0xfe, 0xff}}},
      {Op::kAddressAdd, AddressArgs{*IpAddress::parse("198.18.50.1")}},
      {Op::kAddressDelete, AddressArgs{*IpAddress::parse("2001:db8::50")}},
      {Op::kAddressList, NoArgs{}},
  };
  ASSERT_EQ(requests.size(), kOpCount);
  std::uint64_t id = kU64Max - 20;
  for (const auto& [op, args] : requests) {
    Request request{++id, op, args};
    const Json j = to_json(request);
    EXPECT_EQ(j["op"], op_name(op));
    auto envelope = parse_request_envelope(dump_json(j));
    ASSERT_TRUE(envelope.ok()) << envelope.error().message();
    EXPECT_EQ(envelope->id, id);
    auto decoded = decode_request(*envelope);
    ASSERT_TRUE(decoded.ok()) << op_name(op) << ": " << decoded.error().message();
    EXPECT_EQ(decoded->op, op);
    EXPECT_EQ(decoded->args.index(), args.index());
    EXPECT_EQ(to_json(*decoded), j) << op_name(op);
    EXPECT_EQ(parse_op(op_name(op)).value(), op);
  }
}

TEST(ControlCodec, IkeSendPayloadsAreHex) {
  auto envelope = parse_request_envelope(
      R"({"id": 5, "op": "ike.send", "args": {"local": {"address": "198.18.0.1", "port": 500},
          "remote": {"address": "198.18.0.2", "port": 500}, "payload": "0xA0b1"}})");
  ASSERT_TRUE(envelope.ok());
  auto request = decode_request(*envelope);
  ASSERT_TRUE(request.ok()) << request.error().message();
  EXPECT_EQ(std::get<IkeSendArgs>(request->args).payload, (std::vector<std::uint8_t>{0xa0, 0xb1}));
  EXPECT_EQ(args_to_json(request->args)["payload"], "a0b1");
  for (const char* bad : {R"("abc")", R"("zz")", "17"}) {
    envelope = parse_request_envelope(
        std::string(R"({"id": 5, "op": "ike.send", "args": {"local": {"address": "198.18.0.1",
          "port": 500}, "remote": {"address": "198.18.0.2", "port": 500}, "payload": )") +
        bad + "}}");
    ASSERT_TRUE(envelope.ok());
    request = decode_request(*envelope);
    ASSERT_FALSE(request.ok()) << bad;
    EXPECT_EQ(request.error().message().rfind("args.payload: ", 0), 0u)
        << request.error().message();
  }
  const Json event = ike_message_event(Endpoint{*IpAddress::parse("2001:db8::1"), 4500},
                                       Endpoint{*IpAddress::parse("2001:db8::2"), 4500},
                                       std::vector<std::uint8_t>{0xab});
  EXPECT_EQ(event["payload"], "ab");
  Json broken = event;
  broken["extra"] = 1;
  EXPECT_FALSE(parse_ike_message_event(broken).ok());
}

Result<Request> address_request(const std::string& op, const Json& address) {
  auto envelope = parse_request_envelope(
      dump_json(Json{{"id", 9}, {"op", op}, {"args", Json{{"address", address}}}}));
  if (!envelope) return envelope.error();
  return decode_request(*envelope);
}

TEST(ControlCodec, AddressOpsTakeOneUnicastAddress) {
  for (const auto& [given, expected] :
       std::vector<std::pair<std::string, std::string>>{{"198.18.50.1/32", "198.18.50.1/32"},
                                                        {"198.18.50.1", "198.18.50.1/32"},
                                                        {"2001:db8::5/128", "2001:db8::5/128"},
                                                        {"2001:db8::5", "2001:db8::5/128"}}) {
    auto request = address_request("address.add", given);
    ASSERT_TRUE(request.ok()) << given << ": " << request.error().message();
    EXPECT_EQ(request->op, Op::kAddressAdd);
    EXPECT_EQ(args_to_json(request->args), (Json{{"address", expected}})) << given;
  }
  const std::vector<std::pair<Json, std::string>> refused = {
      {"198.18.50.0/24",
       "args.address: a virtual IP is a single address (/32), got "
       "\"198.18.50.0/24\""},
      {"2001:db8::/64",
       "args.address: a virtual IP is a single address (/128), got "
       "\"2001:db8::/64\""},
      {"198.18.50.1/33",
       "args.address: expected an address with its prefix length such as "
       "\"198.18.50.1/32\", got \"198.18.50.1/33\""},
      {"198.18.50.1/",
       "args.address: expected an address with its prefix length such as "
       "\"198.18.50.1/32\", got \"198.18.50.1/\""},
      {"198.18.50.1/3x",
       "args.address: expected an address with its prefix length such as "
       "\"198.18.50.1/32\", got \"198.18.50.1/3x\""},
      {"banana",
       "args.address: expected an address with its prefix length such as "
       "\"198.18.50.1/32\", got \"banana\""},
      {42,
       "args.address: expected an address with its prefix length such as "
       "\"198.18.50.1/32\", got 42"},
      {"0.0.0.0",
       "args.address: expected a unicast address, got \"0.0.0.0\" (unspecified, "
       "loopback, multicast and reserved addresses are refused)"},
      {"127.0.0.2/32",
       "args.address: expected a unicast address, got \"127.0.0.2/32\" "
       "(unspecified, loopback, multicast and reserved addresses are refused)"},
      {"224.0.0.1",
       "args.address: expected a unicast address, got \"224.0.0.1\" (unspecified, "
       "loopback, multicast and reserved addresses are refused)"},
      {"::1",
       "args.address: expected a unicast address, got \"::1\" (unspecified, loopback, "
       "multicast and reserved addresses are refused)"},
      {"ff02::1",
       "args.address: expected a unicast address, got \"ff02::1\" (unspecified, "
       "loopback, multicast and reserved addresses are refused)"},
  };
  for (const auto& [given, message] : refused) {
    auto request = address_request("address.delete", given);
    ASSERT_FALSE(request.ok()) << given;
    EXPECT_EQ(request.error().message(), message);
  }
  auto envelope = parse_request_envelope(R"({"id": 1, "op": "address.add", "args": {}})");
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(decode_request(*envelope).error().message(), "args.address: missing (required)");
  envelope = parse_request_envelope(R"({"id": 1, "op": "address.list"})");
  ASSERT_TRUE(envelope.ok());
  EXPECT_TRUE(decode_request(*envelope).ok());
}

TEST(ControlCodec, DeviceAddressesRoundTrip) {
  const DeviceAddress ours{*IpAddress::parse("198.18.50.1"), 32, true};
  const DeviceAddress theirs{*IpAddress::parse("2001:db8::1"), 64, false};
  EXPECT_EQ(to_json(ours), (Json{{"address", "198.18.50.1/32"}, {"ours", true}}));
  EXPECT_EQ(to_json(theirs), (Json{{"address", "2001:db8::1/64"}, {"ours", false}}));
  EXPECT_EQ(from_json<DeviceAddress>(to_json(ours)).value(), ours);
  EXPECT_EQ(from_json<DeviceAddress>(to_json(theirs)).value(), theirs);
  EXPECT_EQ(from_json<DeviceAddress>(Json{{"address", "198.18.50.1/40"}, {"ours", true}}, "r")
                .error()
                .message()
                .rfind("r.address: expected an address with its prefix length", 0),
            0u);
  EXPECT_FALSE(from_json<DeviceAddress>(Json{{"address", "198.18.50.1/32"}}).ok());
}

TEST(ControlCodec, ArgsMayBeLeftOutWhenAnOpTakesNone) {
  auto envelope = parse_request_envelope(R"({"id": 5, "op": "stats"})");
  ASSERT_TRUE(envelope.ok());
  auto request = decode_request(*envelope);
  ASSERT_TRUE(request.ok()) << request.error().message();
  EXPECT_EQ(request->op, Op::kStats);
  envelope = parse_request_envelope(R"({"id": 5, "op": "sa.list", "args": null})");
  ASSERT_TRUE(envelope.ok());
  request = decode_request(*envelope);
  ASSERT_TRUE(request.ok()) << request.error().message();
  EXPECT_EQ(std::get<SaListArgs>(request->args).keys, KeyDisclosure::kOmit);
}

TEST(ControlCodec, ResponsesAndMonitorMessagesRoundTrip) {
  Response ok;
  ok.id = 9;
  ok.result = Json{{"spi", 1234}};
  ok.more = true;
  auto parsed = parse_server_message(dump_json(to_json(ok)));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  const auto& r = std::get<Response>(*parsed);
  EXPECT_EQ(r.id, std::optional<std::uint64_t>(9));
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.more);
  EXPECT_EQ(r.result, ok.result);

  Response error;
  error.ok = false;
  error.error = "protocol error: x";
  parsed = parse_server_message(dump_json(to_json(error)));
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(std::get<Response>(*parsed).id.has_value());
  EXPECT_EQ(std::get<Response>(*parsed).error, "protocol error: x");

  parsed = parse_server_message(dump_json(overflow_message(17)));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(std::get<Json>(*parsed)["lost"], 17);

  HelloResult hello{kControlProtocolVersion, "0.1.0"};
  auto hello_back = from_json<HelloResult>(to_json(hello));
  ASSERT_TRUE(hello_back.ok());
  EXPECT_EQ(hello_back->daemon, "0.1.0");
}

// --- Errors -------------------------------------------------------------------------------------

// A valid sa.add request as JSON text, for tests that break one field of it.
Json valid_sa_add() {
  return Json::parse(R"js({"id": 1, "op": "sa.add", "args": {
    "endpoints": {"source": "198.18.0.1", "destination": "198.18.0.2",
                  "encapsulation": {"source_port": 4500, "destination_port": 4500}},
    "spi": 4660, "reqid": 1, "mode": "tunnel", "direction": "out", "replay_window": 64,
    "algorithms": {"cipher": "rfc4106(gcm(aes))",
                   "cipher_key": "000102030405060708090a0b0c0d0e0f10111213", "icv_bits": 128},
    "lifetimes": {"soft": {"bytes": 1000}, "hard": {"bytes": 2000}},
    "selector": {"source": "10.0.0.0/8", "destination": "10.1.0.0/16", "protocol": 6,
                 "source_ports": [1024, 65535], "destination_ports": [443, 443]}}})js");
}

std::string decode_error(const Json& request) {
  auto envelope = parse_request_envelope(dump_json(request));
  if (!envelope) return "envelope: " + envelope.error().message();
  auto decoded = decode_request(*envelope);
  if (decoded) return "(decoded)";
  return decoded.error().message();
}

TEST(ControlCodec, TheValidRequestOfTheErrorTestsDecodes) {
  EXPECT_EQ(decode_error(valid_sa_add()), "(decoded)");
}

TEST(ControlCodec, AddressRangesInSelectorsHaveFieldsOfTheirOwn) {
  TrafficSelector s = TrafficSelector::any(IpFamily::kV4);
  s.destination = *IpPrefix::parse("198.18.1.0/24");
  EXPECT_FALSE(to_json(s).contains("source_range")) << "selectors without ranges read as before";
  s.set_source(*AddressRange::parse("198.18.0.1-198.18.0.9"));
  const Json j = to_json(s);
  EXPECT_EQ(j["source"], "198.18.0.0/28") << "the covering prefix, for readers that want one";
  EXPECT_EQ(j["source_range"], Json::array({"198.18.0.1", "198.18.0.9"}));
  EXPECT_EQ(through_text<TrafficSelector>(j), s);
  // "source" may be left out when "source_range" is given.
  Json without_prefix = j;
  without_prefix.erase("source");
  EXPECT_EQ(through_text<TrafficSelector>(without_prefix), s);
  // A range that is exactly a prefix comes back as that prefix.
  Json exact = j;
  exact.erase("source");
  exact["source_range"] = Json::array({"198.18.0.0", "198.18.0.255"});
  const auto back = through_text<TrafficSelector>(exact);
  EXPECT_FALSE(back.source_range.has_value());
  EXPECT_EQ(back.source.to_string(), "198.18.0.0/24");
}

struct BrokenField {
  Json::json_pointer field;
  Json value;  // null with `remove`: the field is removed instead
  bool remove;
  const char* message;
};

TEST(ControlCodec, ErrorsNameTheFieldAndWhatWasExpected) {
  using P = Json::json_pointer;
  const std::vector<BrokenField> cases = {
      {P("/args/endpoints/source"), 42, false,
       "args.endpoints.source: expected an IP address, got 42"},
      {P("/args/endpoints/destination"), "198.18.0.300", false,
       "args.endpoints.destination: expected an IP address, got \"198.18.0.300\""},
      {P("/args/endpoints/destination"), nullptr, true,
       "args.endpoints.destination: missing (required)"},
      {P("/args/spi"), nullptr, true, "args.spi: missing (required)"},
      {P("/args/spi"), "0x1234", false,
       "args.spi: expected an integer 0..4294967295, got \"0x1234\""},
      {P("/args/spi"), -1, false, "args.spi: expected an integer 0..4294967295, got -1"},
      {P("/args/spi"), 4294967296ull, false,
       "args.spi: expected an integer 0..4294967295, got 4294967296"},
      {P("/args/spi"), 1.5, false, "args.spi: expected an integer 0..4294967295, got 1.5"},
      {P("/args/spi"), true, false, "args.spi: expected an integer 0..4294967295, got true"},
      {P("/args/replay_window"), Json::array(), false,
       "args.replay_window: expected an integer 0..4294967295, got an array"},
      {P("/args/mode"), "tunel", false,
       "args.mode: expected one of \"tunnel\" \"transport\", got \"tunel\""},
      {P("/args/direction"), "fwd", false,
       "args.direction: expected one of \"any\" \"in\" \"out\", got \"fwd\""},
      {P("/args/algorithms/cipher_key"), "0x0g", false,
       "args.algorithms.cipher_key: expected hex digits 0-9 a-f, found another character at "
       "position 1"},
      {P("/args/algorithms/cipher_key"), "abc", false,
       "args.algorithms.cipher_key: expected an even number of hex digits, got 3"},
      {P("/args/algorithms/cipher_key"), Json::array({1, 2, 3}), false,
       "args.algorithms.cipher_key: expected a key as a string of hex digits, got an array"},
      {P("/args/algorithms/cipher"), "cbc(des3_ede)", false,
       "args.algorithms.cipher: algorithm 'cbc(des3_ede)' refused: 3DES is retired by RFC 8221 "
       "(64-bit block, SHOULD NOT)"},
      {P("/args/algorithms/cipher"), 7, false,
       "args.algorithms.cipher: expected an algorithm name such as \"rfc4106(gcm(aes))\", got 7"},
      {P("/args/algorithms/icv_bits"), 65536, false,
       "args.algorithms.icv_bits: expected an integer 0..65535, got 65536"},
      {P("/args/endpoints/encapsulation/source_port"), 70000, false,
       "args.endpoints.encapsulation.source_port: expected an integer 0..65535, got 70000"},
      {P("/args/endpoints/encapsulation/original_address"), "nat", false,
       "args.endpoints.encapsulation.original_address: expected an IP address, got \"nat\""},
      {P("/args/lifetimes/soft/bytes"), -5, false,
       "args.lifetimes.soft.bytes: expected an integer 0..18446744073709551615, got -5"},
      {P("/args/selector/source"), "10.0.0.0/33", false,
       "args.selector.source: expected an IP prefix such as \"198.18.0.0/24\", got "
       "\"10.0.0.0/33\" (expected a prefix length 0..32 after '/', got '33')"},
      {P("/args/selector/source_range"), Json::array({"10.0.0.9", "10.0.0.1"}), false,
       "args.selector.source_range: address range 10.0.0.9-10.0.0.1 is empty (first > last)"},
      {P("/args/selector/destination_range"), Json::array({"10.1.0.1"}), false,
       "args.selector.destination_range: expected an address range [first, last] such as "
       "[\"198.18.0.1\", \"198.18.0.9\"], got an array"},
      {P("/args/selector/source_range"), Json::array({"10.0.0.1", "10.0.0.9"}), false,
       "args.selector.source: expected \"10.0.0.0/28\", the prefix covering source_range, or "
       "nothing; got \"10.0.0.0/8\""},
      {P("/args/selector/protocol"), 256, false,
       "args.selector.protocol: expected an integer 0..255, got 256"},
      {P("/args/selector/source_ports"), Json::array({2, 1}), false,
       "args.selector.source_ports: expected a port range [first, last] with 0 <= first <= last "
       "<= 65535, got an array"},
      {P("/args/selector/destination_ports/1"), 65536, false,
       "args.selector.destination_ports[1]: expected an integer 0..65535, got 65536"},
      {P("/args/flags"), Json{{"esn", "yes"}}, false,
       "args.flags.esn: expected true or false, got \"yes\""},
      {P("/args/replay_windw"), 64, false, "args.replay_windw: unknown field"},
      {P("/args/endpoints"), "198.18.0.1", false,
       "args.endpoints: expected an object, got \"198.18.0.1\""},
      {P("/args"), Json::array(), false, "args: expected an object, got an array"},
      {P("/op"), "sa.frobnicate", false,
       "op: unknown operation \"sa.frobnicate\"; expected one of hello, spi.allocate, sa.add, "
       "sa.update, sa.get, sa.delete, sa.list, sa.flush, policy.add, policy.update, policy.get, "
       "policy.delete, policy.list, policy.flush, stats, monitor, ike.register, ike.send, "
       "address.add, address.delete, address.list"},
      {P("/op"), 5, false, "op: expected a string, got 5"},
      {P("/op"), nullptr, true, "op: missing (required)"},
      {P("/extra"), 1, false, "extra: unknown field"},
      {P("/id"), nullptr, true, "envelope: id: missing (every request needs one)"},
      {P("/id"), -1, false, "envelope: id: expected an integer 0..18446744073709551615, got -1"},
      {P("/id"), "1", false,
       "envelope: id: expected an integer 0..18446744073709551615, got \"1\""},
  };
  for (const auto& c : cases) {
    Json request = valid_sa_add();
    if (c.remove) {
      request[c.field.parent_pointer()].erase(c.field.back());
    } else {
      request[c.field] = c.value;
    }
    EXPECT_EQ(decode_error(request), c.message) << c.field.to_string();
  }
}

TEST(ControlCodec, KeyErrorsNeverQuoteTheKey) {
  Json request = valid_sa_add();
  request["args"]["algorithms"]["cipher_key"] = "SECRETSECRETSECRETSECRETSECRET0x";
  EXPECT_EQ(decode_error(request).find("SECRET"), std::string::npos);
  request["args"]["algorithms"]["cipher_key"] = 123456789;
  EXPECT_EQ(decode_error(request).find("123456789"), std::string::npos);
}

TEST(ControlCodec, OtherArgsErrors) {
  const auto error_of = [](const char* text) {
    auto envelope = parse_request_envelope(text);
    if (!envelope) return "envelope: " + envelope.error().message();
    auto decoded = decode_request(*envelope);
    return decoded ? std::string("(decoded)") : decoded.error().message();
  };
  EXPECT_EQ(error_of(R"({"id":1,"op":"sa.get","args":{"id":{"destination":"::1"}}})"),
            "args.id.spi: missing (required)");
  EXPECT_EQ(error_of(R"({"id":1,"op":"sa.get","args":{"id":{"destination":"::1","spi":1},
                         "keys":"yes"}})"),
            "args.keys: expected true or false, got \"yes\"");
  EXPECT_EQ(error_of(R"({"id":1,"op":"stats","args":{"verbose":true}})"),
            "args.verbose: unknown field");
  EXPECT_EQ(error_of(R"({"id":1,"op":"policy.get","args":{"id":{"selector":{"source":"::/0",
                         "destination":"::/0"},"direction":"sideways"}}})"),
            "args.id.direction: expected one of \"out\" \"in\" \"fwd\", got \"sideways\"");
  EXPECT_EQ(error_of(R"({"id":1,"op":"policy.add","args":{"selector":{"source":"::/0",
                         "destination":"::/0"},"direction":"out","action":"protect",
                         "template":{"reqid":1,"mode":"tunnel","source":"::1","destination":7}}})"),
            "args.template.destination: expected an IP address, got 7");
  EXPECT_EQ(error_of(R"({"id":1,"op":"hello","args":{}})"), "args.protocol: missing (required)");
  EXPECT_EQ(error_of(R"({"id":1,"op":"monitor","args":{"subscribe":1}})"),
            "args.subscribe: expected true or false, got 1");
  EXPECT_EQ(error_of(R"({"id":1,"op":"spi.allocate","args":{"source":"1.2.3.4"}})"),
            "args.destination: missing (required)");
}

TEST(ControlCodec, ResultDecodersCheckToo) {
  Statistics s;
  Json j = to_json(s);
  j["drops"]["frobbed"] = 1;
  auto stats = from_json<Statistics>(j, "result");
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().message(), "result.drops.frobbed: unknown drop reason");

  SaInfo info;
  info.config.algorithms.icv_bits = 128;
  j = to_json(info, KeyDisclosure::kOmit);
  j["added"] = -1;
  auto sa = from_json<SaInfo>(j, "result[3]");
  ASSERT_FALSE(sa.ok());
  EXPECT_EQ(sa.error().message(),
            "result[3].added: expected nanoseconds as an integer 0..9223372036854775807, got -1");

  auto event = from_json<IpsecEvent>(Json{{"event", "rekey"}});
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().message(),
            "event: expected one of \"acquire\" \"expire\" \"mapping\", got \"rekey\"");
}

TEST(ControlCodec, EnvelopeRefusesWhatIsNotARequest) {
  EXPECT_EQ(parse_request_envelope("").error().message(), "message is not valid JSON (UTF-8 text)");
  EXPECT_EQ(parse_request_envelope("{\"id\":1,").error().message(),
            "message is not valid JSON (UTF-8 text)");
  EXPECT_EQ(parse_request_envelope("{\"id\":1,\"op\":\"\xff\"}").error().message(),
            "message is not valid JSON (UTF-8 text)");
  EXPECT_EQ(parse_request_envelope("[1, 2]").error().message(),
            "expected a request object, got an array");
  EXPECT_EQ(parse_request_envelope("17").error().message(), "expected a request object, got 17");
  const std::string deep(100000, '[');
  EXPECT_EQ(parse_request_envelope(deep).error().message(),
            "message nests arrays and objects deeper than 64 levels");
}

TEST(ControlCodec, DepthLimitCountsOnlyStructure) {
  const auto nested = [](std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  EXPECT_TRUE(json_depth_within(nested(64), 64));
  EXPECT_FALSE(json_depth_within(nested(65), 64));
  EXPECT_TRUE(parse_json(nested(64)).ok());
  EXPECT_FALSE(parse_json(nested(65)).ok());
  // Brackets inside strings, also after escaped quotes, do not count.
  const std::string in_string =
      "[\"" + std::string(100, '[') + "\\\"" + std::string(100, '{') + "\"]";
  EXPECT_TRUE(json_depth_within(in_string, 2));
  EXPECT_TRUE(parse_json(in_string).ok());
  EXPECT_TRUE(json_depth_within("[[]][[]][[]]", 2));
  EXPECT_FALSE(json_depth_within("[[[]]]", 2));
}

TEST(ControlCodec, MessagesWithInvalidUtf8StillSerialise) {
  // An error message may quote text cut in the middle of a UTF-8 sequence; writing it must not
  // throw.
  Response r;
  r.ok = false;
  r.error = std::string("bad \xe2\x82", 6);
  EXPECT_NO_THROW((void)dump_json(to_json(r)));
  Json j = valid_sa_add();
  j["args"]["mode"] = std::string(100, 'x') + "\xc3\xa9\xc3\xa9";
  EXPECT_NO_THROW((void)dump_json(Json(decode_error(j))));
}

}  // namespace
}  // namespace uipsec
