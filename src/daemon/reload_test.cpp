#include "daemon/reload.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "backend/local_backend.hpp"
#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

constexpr const char* kKeyAb = "0x0102030405060708090a0b0c0d0e0f1011121314";
constexpr const char* kKeyBa = "0x1112131415161718191a1b1c1d1e1f2021222324";
constexpr const char* kOtherKey = "0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4";

std::string state(std::uint32_t spi, const char* src, const char* dst, const std::string& key,
                  const std::string& extra = "") {
  char text[512];
  std::snprintf(text, sizeof(text),
                "src %s dst %s proto esp spi 0x%x reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' "
                "%s 128 encap espinudp 4500 4500 0.0.0.0 %s",
                src, dst, spi, key.c_str(), extra.c_str());
  return text;
}

const std::string kOut =
    "src 198.18.10.0/24 dst 198.18.20.0/24 dir out tmpl src 198.18.0.1 dst 198.18.0.2 proto esp "
    "reqid 1 mode tunnel";
const std::string kIn =
    "src 198.18.20.0/24 dst 198.18.10.0/24 dir in tmpl src 198.18.0.2 dst 198.18.0.1 proto esp "
    "reqid 1 mode tunnel";

// A configuration file with the given `states { }` and `policies { }` bodies.
std::string file(const std::string& states, const std::string& policies,
                 const std::string& extra = "") {
  return "uipsec {\n" + extra + "  states {\n" + states + "  }\n  policies {\n" + policies +
         "  }\n}\n";
}

std::string base_states(const std::string& ab_extra = "", const std::string& ab_key = kKeyAb) {
  return "    a_to_b = " + state(0x1001, "198.18.0.1", "198.18.0.2", ab_key, ab_extra) +
         "\n    b_to_a = " + state(0x1002, "198.18.0.2", "198.18.0.1", kKeyBa) + "\n";
}
std::string base_policies() { return "    out = " + kOut + "\n    in = " + kIn + "\n"; }

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "uipsec-reload-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class ReloadTest : public ::testing::Test {
 protected:
  static DaemonConfig load(const std::string& text) {
    auto settings = Settings::parse_string(text, "uipsec.conf");
    EXPECT_TRUE(settings.ok()) << settings.error().message();
    auto config = load_daemon_config(*settings);
    EXPECT_TRUE(config.ok()) << config.error().message();
    return *config;
  }
  // What uipsecd does at start with the declared states and policies.
  void install(const DaemonConfig& config) {
    for (const auto& s : config.states) {
      SaConfig sa = s.config;
      if (reservations_) {
        ASSERT_TRUE(reservations_->prepare(s.name, sa).ok());
      }
      ASSERT_TRUE(backend_.add_sa(sa).ok()) << s.name;
    }
    for (const auto& p : config.policies) ASSERT_TRUE(backend_.add_policy(p.config).ok());
    if (reservations_) {
      ASSERT_TRUE(reservations_->attach(sad_).ok());
    }
  }
  Result<ReloadOutcome> reload(const DaemonConfig& running, const DaemonConfig& next) {
    return apply_reload(plan_reload(running, next),
                        ReloadTarget{backend_, sad_, domain_, reservations_.get()});
  }
  SecurityAssociation* sa(std::uint32_t spi, const char* destination) {
    return sad_.get(SaId{test::addr(destination), Spi(spi)});
  }
  static void send(SecurityAssociation& sa, std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) ASSERT_TRUE(sa.outbound_sequence().next());
  }

  QsbrDomain domain_;
  SaDatabase sad_{domain_, 1};
  PolicyDatabase spd_{domain_};
  EventQueue events_{16};
  WorkerCounters worker_;
  FakeClock clock_;
  LocalBackend backend_{domain_, sad_, spd_, events_, {&worker_}, clock_, {}};
  std::unique_ptr<SequenceReservations> reservations_;
};

TEST_F(ReloadTest, PlanMatchesByNameAndTellsMovesFromReplacements) {
  const DaemonConfig running = load(
      file(base_states() + "    gone = " + state(0x2001, "198.18.0.1", "198.18.0.3", kKeyAb) + "\n",
           base_policies()));
  // a_to_b: new keys; b_to_a: other UDP ports only; gone: removed; new: added; the out policy
  // gets another priority, the in policy stays.
  std::string states =
      "    a_to_b = " + state(0x1001, "198.18.0.1", "198.18.0.2", kOtherKey) + "\n    b_to_a = " +
      state(0x1002, "198.18.0.2", "198.18.0.1", kKeyBa)
          .replace(state(0x1002, "198.18.0.2", "198.18.0.1", kKeyBa).find("4500 4500"), 9,
                   "4501 4501") +
      "\n    new = " + state(0x3001, "198.18.0.1", "198.18.0.4", kKeyAb) + "\n";
  const DaemonConfig next =
      load(file(states, "    out = " + kOut + " priority 5\n    in = " + kIn + "\n"));
  const ReloadPlan plan = plan_reload(running, next);
  ASSERT_EQ(plan.states.size(), 4u);
  EXPECT_EQ(plan.states[0].name(), "a_to_b");
  EXPECT_EQ(plan.states[0].change, ReloadChange::kReplaced);
  EXPECT_EQ(plan.states[1].change, ReloadChange::kMoved);
  EXPECT_EQ(plan.states[2].name(), "new");
  EXPECT_EQ(plan.states[2].change, ReloadChange::kAdded);
  EXPECT_EQ(plan.states[3].name(), "gone");
  EXPECT_EQ(plan.states[3].change, ReloadChange::kRemoved);
  ASSERT_EQ(plan.policies.size(), 2u);
  EXPECT_EQ(plan.policies[0].change, ReloadChange::kReplaced);
  EXPECT_EQ(plan.policies[1].change, ReloadChange::kUnchanged);
  EXPECT_EQ(plan.summary(),
            "states: 1 added, 1 moved, 1 replaced, 1 removed; policies: 1 unchanged, 1 replaced");
  EXPECT_EQ(plan_reload(running, running).count(ReloadChange::kUnchanged), 5u);
}

TEST_F(ReloadTest, ADefaultReplayWindowChangeReplacesTheStatesThatUseIt) {
  const DaemonConfig running = load(file(base_states(), base_policies()));
  const DaemonConfig next = load(file(base_states(), base_policies(), "  replay_window = 64\n"));
  const ReloadPlan plan = plan_reload(running, next);
  EXPECT_EQ(plan.count(ReloadChange::kReplaced), 2u);
  EXPECT_EQ(plan.count(ReloadChange::kUnchanged), 2u);  // the policies
}

TEST_F(ReloadTest, RestartKeysAreThoseReadOnlyAtStart) {
  auto before = Settings::parse_string(
      "uipsec {\n  nat_t_port = 4500\n  replay_window = 32\n  control_socket = /a\n"
      "  tun {\n    name = ipsec0\n  }\n  states {\n    x = 1\n  }\n}\n"
      "charon {\n  plugins {\n    kernel-libipsec {\n      allow_peer_ts = no\n    }\n  }\n"
      "  filelog = x\n}\n",
      "old.conf");
  auto after = Settings::parse_string(
      "uipsec {\n  nat_t_port = 4500\n  replay_window = 64\n  control_socket = /b\n"
      "  tun {\n    name = ipsec1\n    mtu =\n  }\n  buffers = 1024\n  states {\n    x = 2\n  "
      "}\n}\n"
      "charon {\n  filelog = y\n}\n",
      "new.conf");
  ASSERT_TRUE(before.ok() && after.ok());
  const auto keys = restart_keys(*before, *after, {"uipsec.control_socket"});
  ASSERT_EQ(keys.size(), 3u);
  // Keys of a section before its subsections.
  EXPECT_EQ(keys[0].path, "uipsec.buffers");
  EXPECT_EQ(keys[0].where, "new.conf:9");
  EXPECT_EQ(keys[1].path, "uipsec.tun.name");
  EXPECT_EQ(keys[1].where, "new.conf:6");
  // Removed: the running file says where it was.
  EXPECT_EQ(keys[2].path, "charon.plugins.kernel-libipsec.allow_peer_ts");
  EXPECT_EQ(keys[2].where, "old.conf:15");
  EXPECT_TRUE(restart_keys(*before, *before).empty());
}

TEST_F(ReloadTest, UnchangedSasKeepCountersAndSequence) {
  const DaemonConfig running = load(file(base_states(), base_policies()));
  install(running);
  SecurityAssociation* ab = sa(0x1001, "198.18.0.2");
  ASSERT_NE(ab, nullptr);
  send(*ab, 41);
  const Policy* policy = spd_.get(running.policies[0].config.id());
  auto outcome = reload(running, load(file(base_states(), base_policies())));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_TRUE(outcome->lines.empty());
  EXPECT_EQ(outcome->failures, 0u);
  EXPECT_EQ(outcome->states.size(), 2u);
  EXPECT_EQ(outcome->policies.size(), 2u);
  EXPECT_EQ(sa(0x1001, "198.18.0.2"), ab);  // the same object
  EXPECT_EQ(ab->outbound_sequence().last(), 41u);
  EXPECT_EQ(spd_.get(running.policies[0].config.id()), policy);
}

TEST_F(ReloadTest, ReplacementWithTheSameKeysContinuesTheSequence) {
  const DaemonConfig running = load(file(base_states(), base_policies()));
  install(running);
  send(*sa(0x1001, "198.18.0.2"), 1000);
  // Another replay window and lifetime, same keys.
  const DaemonConfig next =
      load(file(base_states("replay-window 256 limit packet-hard 1000000"), base_policies()));
  auto outcome = reload(running, next);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  ASSERT_EQ(outcome->lines.size(), 1u);
  EXPECT_EQ(outcome->lines[0],
            "uipsec.conf:3: uipsec.states.a_to_b: replaced (same keys: outbound continues after "
            "1000)");
  SecurityAssociation* ab = sa(0x1001, "198.18.0.2");
  ASSERT_NE(ab, nullptr);
  EXPECT_EQ(ab->config().replay_window, 256u);
  EXPECT_EQ(ab->outbound_sequence().last(), 1000u);
  auto next_number = ab->outbound_sequence().next();
  ASSERT_TRUE(next_number.has_value());
  EXPECT_EQ(*next_number, 1001u);
  EXPECT_EQ(ab->sequence_reserved(), kUnreservedSequence);  // no state directory
}

TEST_F(ReloadTest, ReplacementWithNewKeysStartsAtItsConfiguredNumbers) {
  const DaemonConfig running = load(file(base_states(), base_policies()));
  install(running);
  send(*sa(0x1001, "198.18.0.2"), 1000);
  auto outcome = reload(running, load(file(base_states("", kOtherKey), base_policies())));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  SecurityAssociation* ab = sa(0x1001, "198.18.0.2");
  ASSERT_NE(ab, nullptr);
  EXPECT_EQ(ab->outbound_sequence().last(), 0u);
  EXPECT_EQ(outcome->lines[0], "uipsec.conf:3: uipsec.states.a_to_b: replaced");
}

TEST_F(ReloadTest, RemovesWhatTheFileNoLongerDeclaresAndNothingElse) {
  const DaemonConfig running = load(file(base_states(), base_policies()));
  install(running);
  // Over the control socket: an SA and a policy of someone else.
  SaConfig foreign = test::sa_config("198.18.0.1", "198.18.0.9", 0x5001);
  ASSERT_TRUE(backend_.add_sa(foreign).ok());
  auto foreign_policy = load(file("", "    p = src 198.18.30.0/24 dst 198.18.40.0/24 dir out\n"));
  ASSERT_TRUE(backend_.add_policy(foreign_policy.policies[0].config).ok());

  const DaemonConfig next =
      load(file("    a_to_b = " + state(0x1001, "198.18.0.1", "198.18.0.2", kKeyAb) + "\n",
                "    in = " + kIn + "\n"));
  auto outcome = reload(running, next);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->failures, 0u);
  EXPECT_EQ(sa(0x1002, "198.18.0.1"), nullptr);
  EXPECT_NE(sa(0x1001, "198.18.0.2"), nullptr);
  EXPECT_NE(sa(0x5001, "198.18.0.9"), nullptr);
  EXPECT_FALSE(backend_.query_policy(running.policies[0].config.id()).ok());
  EXPECT_TRUE(backend_.query_policy(running.policies[1].config.id()).ok());
  EXPECT_TRUE(backend_.query_policy(foreign_policy.policies[0].config.id()).ok());
  ASSERT_EQ(outcome->states.size(), 1u);
  ASSERT_EQ(outcome->policies.size(), 1u);
  EXPECT_EQ(outcome->policies[0].name, "in");
}

TEST_F(ReloadTest, ACollisionWithAControlSocketSaChangesNothing) {
  const DaemonConfig running = load(file(base_states(), base_policies()));
  install(running);
  SaConfig foreign = test::sa_config("198.18.0.1", "198.18.0.9", 0x5001);
  ASSERT_TRUE(backend_.add_sa(foreign).ok());
  // The removal of b_to_a would come first, but the new SA collides: nothing happens.
  const DaemonConfig next =
      load(file("    a_to_b = " + state(0x1001, "198.18.0.1", "198.18.0.2", kOtherKey) +
                    "\n    taken = " + state(0x5001, "198.18.0.1", "198.18.0.9", kKeyAb) + "\n",
                base_policies()));
  SecurityAssociation* ab = sa(0x1001, "198.18.0.2");
  auto outcome = reload(running, next);
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.error().message().find(
                "uipsec.conf:4: uipsec.states.taken: SA dst 198.18.0.9 spi 0x5001 exists"),
            std::string::npos)
      << outcome.error().message();
  EXPECT_NE(outcome.error().message().find("control socket"), std::string::npos);
  EXPECT_EQ(sa(0x1001, "198.18.0.2"), ab);
  EXPECT_NE(sa(0x1002, "198.18.0.1"), nullptr);
  EXPECT_EQ(ab->sequence_reserved(), kUnreservedSequence);
}

TEST_F(ReloadTest, TwoDeclarationsOfOneSaOrPolicyAreRefused) {
  const DaemonConfig running = load(file(base_states(), base_policies()));
  install(running);
  auto outcome =
      reload(running, load(file(base_states() + "    again = " +
                                    state(0x1002, "198.18.0.5", "198.18.0.1", kKeyAb) + "\n",
                                base_policies())));
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.error().message().find(
                "uipsec.conf:5: uipsec.states.again: the same SA (dst 198.18.0.1 spi 0x1002) as "
                "uipsec.states.b_to_a (uipsec.conf:4)"),
            std::string::npos)
      << outcome.error().message();
  outcome =
      reload(running, load(file(base_states(), base_policies() + "    twice = " + kIn + "\n")));
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.error().message().find("uipsec.policies.twice: the same selector and "
                                           "direction as uipsec.policies.in (uipsec.conf:8)"),
            std::string::npos)
      << outcome.error().message();
  EXPECT_EQ(sad_.size(), 2u);
}

TEST_F(ReloadTest, ASpiMovedToAnotherNameIsFreedFirst) {
  const DaemonConfig running = load(file(base_states(), base_policies()));
  install(running);
  // b_to_a becomes `back` with new keys: one SA out, then in again under the new name.
  const DaemonConfig next =
      load(file("    a_to_b = " + state(0x1001, "198.18.0.1", "198.18.0.2", kKeyAb) +
                    "\n    back = " + state(0x1002, "198.18.0.2", "198.18.0.1", kOtherKey) + "\n",
                base_policies()));
  auto outcome = reload(running, next);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->failures, 0u);
  ASSERT_NE(sa(0x1002, "198.18.0.1"), nullptr);
  EXPECT_EQ(sa(0x1002, "198.18.0.1")->config(), next.states[1].config);
}

TEST_F(ReloadTest, ReservationsFollowReplacementsAndRemovals) {
  TempDir dir;
  reservations_ = std::make_unique<SequenceReservations>(dir.path(), 1000, [](const auto&) {});
  const DaemonConfig running = load(file(base_states(), base_policies()));
  install(running);
  SecurityAssociation* ab = sa(0x1001, "198.18.0.2");
  ASSERT_EQ(ab->sequence_reserved(), 1000u);
  send(*ab, 700);

  // Same keys: the file records the last number sent, the successor reserves a block after it.
  const DaemonConfig same = load(file(base_states("replay-window 256"), base_policies()));
  auto outcome = reload(running, same);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  ab = sa(0x1001, "198.18.0.2");
  EXPECT_EQ(ab->outbound_sequence().last(), 700u);
  EXPECT_EQ(ab->sequence_reserved(), 1700u);
  EXPECT_EQ(reservations_->files().load("a_to_b")->value_or(0), 1700u);
  EXPECT_TRUE(reservations_->tracks("a_to_b"));
  send(*ab, 100);

  // New keys: nothing was sent with them, the successor and its reservation start afresh.
  const DaemonConfig rekeyed = load(file(base_states("replay-oseq 5", kOtherKey), base_policies()));
  outcome = reload(same, rekeyed);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  ab = sa(0x1001, "198.18.0.2");
  EXPECT_EQ(ab->outbound_sequence().last(), 5u);
  EXPECT_EQ(ab->sequence_reserved(), 1005u);
  EXPECT_EQ(reservations_->files().load("a_to_b")->value_or(0), 1005u);
  send(*ab, 10);

  // Removed: no longer tracked; its file stays (a later return continues above it).
  outcome = reload(rekeyed, load(file("", "")));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_FALSE(reservations_->tracks("a_to_b"));
  EXPECT_EQ(reservations_->size(), 0u);
  EXPECT_EQ(reservations_->files().load("a_to_b")->value_or(0), 1005u);
  EXPECT_EQ(sad_.size(), 0u);
  EXPECT_EQ(spd_.size(), 0u);
}

TEST_F(ReloadTest, AFailedStepIsReportedAndTheRestApplied) {
  const DaemonConfig running = load(file(base_states(), base_policies()));
  install(running);
  // The SA b_to_a was deleted over the control socket; the file moves its ports: update fails.
  ASSERT_TRUE(backend_.delete_sa(running.states[1].config.id()).ok());
  std::string moved = state(0x1002, "198.18.0.2", "198.18.0.1", kKeyBa);
  moved.replace(moved.find("4500 4500"), 9, "4501 4501");
  const DaemonConfig next =
      load(file("    a_to_b = " + state(0x1001, "198.18.0.1", "198.18.0.2", kKeyAb) +
                    "\n    b_to_a = " + moved + "\n",
                "    in = " + kIn + "\n"));
  auto outcome = reload(running, next);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->failures, 1u);
  ASSERT_EQ(outcome->lines.size(), 2u);
  EXPECT_EQ(outcome->lines[0], "uipsec.conf:7: uipsec.policies.out: removed");
  EXPECT_NE(outcome->lines[1].find("uipsec.conf:4: uipsec.states.b_to_a: cannot move"),
            std::string::npos)
      << outcome->lines[1];
  EXPECT_FALSE(backend_.query_policy(running.policies[0].config.id()).ok());  // still applied
}

}  // namespace
}  // namespace uipsec
