#include "cli/cli.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "backend/local_backend.hpp"
#include "xfrm/xfrm_arguments.hpp"

namespace uipsec {
namespace {

constexpr const char* kState =
    "src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1001 reqid 1 mode tunnel aead "
    "'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 encap espinudp 4500 "
    "4500 0.0.0.0";
constexpr const char* kPolicy =
    "src 198.18.10.0/24 dst 198.18.20.0/24 dir out tmpl src 198.18.0.1 dst 198.18.0.2 proto esp "
    "reqid 1 mode tunnel";

class CliTest : public ::testing::Test {
 protected:
  // Runs `uipsec <line>`; returns the exit status, leaves the output in out_/err_.
  int run(const std::string& line, CliOutput output = {}) {
    out_.str("");
    err_.str("");
    auto words = split_arguments(line);
    EXPECT_TRUE(words.ok()) << line;
    const auto views = argument_views(*words);
    Cli cli(
        backend_,
        [&](const std::function<bool(const Json&)>& on) -> Result<void> {
          for (const Json& m : monitor_messages_) {
            if (!on(m)) break;
          }
          return {};
        },
        output, XfrmStateDefaults{32}, out_, err_);
    if (raw_call_) cli.set_raw_call(raw_call_);
    return cli.run(views);
  }

  QsbrDomain domain_;
  SaDatabase sad_{domain_, 1};
  PolicyDatabase spd_{domain_};
  EventQueue events_{8};
  FakeClock clock_;
  WorkerCounters counters_;
  LocalBackend backend_{domain_, sad_, spd_, events_, {&counters_}, clock_, {}};
  std::vector<Json> monitor_messages_;
  Cli::RawCall raw_call_;
  std::ostringstream out_, err_;
};

TEST_F(CliTest, StateLifecycleInIpXfrmSyntax) {
  ASSERT_EQ(run(std::string("state add ") + kState), 0) << err_.str();
  ASSERT_EQ(run("state get src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1001"), 0);
  EXPECT_NE(out_.str().find("proto esp spi 0x00001001 reqid 1 mode tunnel"), std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("replay-window 32"), std::string::npos) << "the daemon's default";
  EXPECT_NE(out_.str().find("(hidden)"), std::string::npos) << "keys only with --keys";
  ASSERT_EQ(run("state get dst 198.18.0.2 proto esp spi 0x1001", CliOutput{false, false, true}), 0);
  EXPECT_NE(out_.str().find("0x0102030405060708090a0b0c0d0e0f1011121314"), std::string::npos);
  ASSERT_EQ(run("state count"), 0);
  EXPECT_EQ(out_.str(), "SAD count 1\n");
  ASSERT_EQ(run("state list", CliOutput{true, false, false}), 0);
  auto list = parse_json(out_.str());
  ASSERT_TRUE(list.ok());
  ASSERT_TRUE(list->is_array());
  EXPECT_EQ(list->size(), 1u);
  ASSERT_EQ(run("state delete src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1001"), 0);
  EXPECT_EQ(run("state delete src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1001"), 1)
      << "deleting twice is refused by the backend";
  EXPECT_NE(err_.str().find("no SA"), std::string::npos);
}

TEST_F(CliTest, BadArgumentsChangeNothing) {
  EXPECT_EQ(run("state add src 198.18.0.1 dst 198.18.0.2 proto esp spi zero"), 2);
  EXPECT_NE(err_.str().find("spi"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("uipsec --help"), std::string::npos);
  EXPECT_EQ(run("state add src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1001 aead "
                "'rfc4106(gcm(aes))' 0x0102 128"),
            2)
      << "a key of the wrong length";
  EXPECT_EQ(run("state frobnicate"), 2);
  EXPECT_EQ(run("nonsense"), 2);
  EXPECT_EQ(run("policy add dir sideways"), 2);
  EXPECT_TRUE(backend_.list_sas(KeyDisclosure::kOmit)->empty());
  EXPECT_TRUE(backend_.list_policies()->empty());
}

TEST_F(CliTest, UpdateMovesAddressesButRefusesOtherChanges) {
  ASSERT_EQ(run(std::string("state add ") + kState), 0);
  std::string moved = kState;
  moved.replace(moved.find("4500 4500"), 9, "4500 4501");
  ASSERT_EQ(run("state update " + moved), 0) << err_.str();
  auto info =
      backend_.query_sa(SaId{*IpAddress::parse("198.18.0.2"), Spi(0x1001)}, KeyDisclosure::kOmit);
  EXPECT_EQ(info->config.endpoints.encapsulation->destination_port, 4501);
  std::string rekeyed = moved;
  rekeyed.replace(rekeyed.find("1314"), 4, "1399");
  EXPECT_EQ(run("state update " + rekeyed), 1);
  EXPECT_NE(err_.str().find("only addresses and encapsulation"), std::string::npos);
}

TEST_F(CliTest, PolicyLifecycle) {
  ASSERT_EQ(run(std::string("policy add ") + kPolicy), 0) << err_.str();
  EXPECT_EQ(run(std::string("policy add ") + kPolicy), 1) << "exists already";
  ASSERT_EQ(run("policy get src 198.18.10.0/24 dst 198.18.20.0/24 dir out"), 0);
  EXPECT_NE(out_.str().find("tmpl src 198.18.0.1 dst 198.18.0.2"), std::string::npos) << out_.str();
  ASSERT_EQ(run("policy count"), 0);
  EXPECT_EQ(out_.str(), "SPD count 1\n");
  ASSERT_EQ(run("policy flush"), 0);
  EXPECT_TRUE(backend_.list_policies()->empty());
}

TEST_F(CliTest, StatsShowEveryDropReason) {
  counters_.drops.count(DropReason::kReplayDuplicate, 4);
  ASSERT_EQ(run("stats"), 0);
  for (std::size_t i = 1; i < kDropReasonCount; ++i) {
    EXPECT_NE(out_.str().find(std::string(to_string(static_cast<DropReason>(i)))),
              std::string::npos)
        << to_string(static_cast<DropReason>(i));
  }
  EXPECT_NE(out_.str().find("replay-duplicate      4"), std::string::npos) << out_.str();
  ASSERT_EQ(run("stats", CliOutput{true, false, false}), 0);
  auto json = parse_json(out_.str());
  ASSERT_TRUE(json.ok());
  EXPECT_EQ((*json)["drops"]["replay-duplicate"], 4);
}

TEST_F(CliTest, AllocspiPrintsAnSpiInTheRange) {
  ASSERT_EQ(run("state allocspi src 198.18.0.2 dst 198.18.0.1 proto esp"), 0) << err_.str();
  EXPECT_NE(out_.str().find("proto esp spi 0xc"), std::string::npos) << out_.str();
  EXPECT_EQ(run("state allocspi src 198.18.0.2"), 2);
}

TEST_F(CliTest, MonitorPrintsOneLinePerMessage) {
  monitor_messages_.push_back(to_json(
      IpsecEvent(ExpireEvent{SaId{*IpAddress::parse("198.18.0.2"), Spi(0x1001)}, Reqid(1), true})));
  monitor_messages_.push_back(Json{{"event", "ike"},
                                   {"remote", "198.18.0.2:4500"},
                                   {"local", "198.18.0.1:4500"},
                                   {"size", 300}});
  monitor_messages_.push_back(overflow_message(7));
  ASSERT_EQ(run("monitor"), 0);
  EXPECT_EQ(out_.str(),
            "expire hard dst 198.18.0.2 spi 0x1001 reqid 1\n"
            "ike from 198.18.0.2:4500 to 198.18.0.1:4500 (300 bytes; no IKE daemon registered)\n"
            "overflow: 7 events lost (uipsec was too slow)\n");
}

TEST_F(CliTest, IkeWatchRegistersAndPrintsMessagesIkeSendSendsHex) {
  std::vector<std::pair<std::string, Json>> calls;
  raw_call_ = [&](std::string_view op, const Json& args) -> Result<Json> {
    calls.emplace_back(std::string(op), args);
    if (args.contains("payload") && args["payload"] == "bad") return Error("args.payload: bad");
    return Json(nullptr);
  };
  monitor_messages_.push_back(overflow_message(1));
  monitor_messages_.push_back(ike_message_event(Endpoint{*IpAddress::parse("198.18.0.1"), 500},
                                                Endpoint{*IpAddress::parse("198.18.0.9"), 500},
                                                std::vector<std::uint8_t>{0xab, 0xcd}));
  ASSERT_EQ(run("ike watch"), 0) << err_.str();
  EXPECT_EQ(out_.str(), "ike from 198.18.0.9 port 500 to 198.18.0.1 port 500 (2 bytes) abcd\n");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].first, "ike.register");

  ASSERT_EQ(run("ike send src 198.18.0.1 sport 4500 dst 2001:db8::9 dport 31000 0011"), 0)
      << err_.str();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].first, "ike.send");
  EXPECT_EQ(calls[1].second, (Json{{"local", {{"address", "198.18.0.1"}, {"port", 4500}}},
                                   {"remote", {{"address", "2001:db8::9"}, {"port", 31000}}},
                                   {"payload", "0011"}}));
  EXPECT_EQ(run("ike send src 198.18.0.1 sport 70000 dst 198.18.0.9 dport 500 00"), 2);
  EXPECT_NE(err_.str().find("src/sport: expected a port 1..65535, got '70000'"), std::string::npos)
      << err_.str();
  EXPECT_EQ(run("ike send src 198.18.0.1 sport 500 dst 198.18.0.9 dport 500 bad"), 1);
  EXPECT_EQ(err_.str(), "uipsec: args.payload: bad\n");
  EXPECT_EQ(run("ike frobnicate"), 2);
  EXPECT_EQ(calls.size(), 3u);
}

TEST_F(CliTest, AddressAddDelListGoToUipsecdAndBadAddressesAreNotSent) {
  std::vector<std::pair<std::string, Json>> calls;
  raw_call_ = [&](std::string_view op, const Json& args) -> Result<Json> {
    calls.emplace_back(std::string(op), args);
    if (op == "address.list") {
      return Json::parse(R"([{"address": "198.18.0.1/24", "ours": false},
                             {"address": "198.18.50.1/32", "ours": true}])");
    }
    if (args["address"] == "198.18.50.9") return Error("198.18.50.9/32 is not on uipsec0");
    return Json(nullptr);
  };
  ASSERT_EQ(run("address add 198.18.50.1/32"), 0) << err_.str();
  ASSERT_EQ(run("address del 2001:db8::5"), 0) << err_.str();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0],
            (std::pair<std::string, Json>{"address.add", {{"address", "198.18.50.1/32"}}}));
  EXPECT_EQ(calls[1],
            (std::pair<std::string, Json>{"address.delete", {{"address", "2001:db8::5"}}}));

  ASSERT_EQ(run("address list"), 0) << err_.str();
  EXPECT_EQ(out_.str(), "198.18.0.1/24\n198.18.50.1/32 uipsec\n");
  out_.str("");
  ASSERT_EQ(run("address list", CliOutput{.json = true}), 0) << err_.str();
  EXPECT_EQ(Json::parse(out_.str()), Json::parse(R"([{"address": "198.18.0.1/24", "ours": false},
                            {"address": "198.18.50.1/32", "ours": true}])"));
  out_.str("");
  ASSERT_EQ(run("address add 198.18.50.2", CliOutput{.json = true}), 0) << err_.str();
  EXPECT_EQ(out_.str(), "{\"ok\": true}\n");
  EXPECT_EQ(calls.size(), 5u);

  EXPECT_EQ(run("address del 198.18.50.9"), 1);
  EXPECT_EQ(err_.str(), "uipsec: 198.18.50.9/32 is not on uipsec0\n");
  EXPECT_EQ(calls.size(), 6u);
  err_.str("");
  EXPECT_EQ(run("address add 198.18.50.0/24"), 2);
  EXPECT_NE(err_.str().find("address add: args.address: a virtual IP is a single address (/32)"),
            std::string::npos)
      << err_.str();
  EXPECT_EQ(run("address add banana"), 2);
  EXPECT_EQ(run("address add"), 2);
  EXPECT_EQ(run("address add 198.18.50.1 198.18.50.2"), 2);
  EXPECT_EQ(run("address list extra"), 2);
  EXPECT_EQ(run("address frobnicate 198.18.50.1"), 2);
  EXPECT_EQ(run("address"), 2);
  EXPECT_EQ(calls.size(), 6u) << "nothing sent for bad arguments";
}

}  // namespace
}  // namespace uipsec
