#include "daemon/sequence_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <limits>

#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

using test::addr;
using test::protect;
using test::udp_packet;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "uipsec-seq-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class SequenceStoreTest : public ::testing::Test {
 protected:
  SequenceReservations reservations(std::uint64_t block) {
    return SequenceReservations(dir_.path() / "state", block,
                                [this](const std::string& line) { log_.push_back(line); });
  }
  // Prepares and installs the SA A -> B in `host`; returns it.
  SecurityAssociation* install(SequenceReservations& r, test::Host& host, SaConfig config,
                               const char* name = "a_to_b") {
    EXPECT_TRUE(r.prepare(name, config).ok());
    EXPECT_TRUE(host.sad.add(config, now_).ok());
    EXPECT_TRUE(r.attach(host.sad).ok());
    return host.sad.get(config.id());
  }
  static void use(SecurityAssociation& sa, std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) ASSERT_TRUE(sa.outbound_sequence().next());
  }

  TempDir dir_;
  std::vector<std::string> log_;
  Timestamp now_ = Timestamp::from_seconds(100);
  SaConfig config_ = test::sa_config("198.18.0.1", "198.18.0.2", 0x1001);
};

TEST_F(SequenceStoreTest, FirstStartKeepsTheConfiguredStartAndReservesABlock) {
  auto r = reservations(1000);
  test::Host host("198.18.0.1");
  config_.outbound_sequence = 7;
  SecurityAssociation* sa = install(r, host, config_);
  ASSERT_NE(sa, nullptr);
  EXPECT_EQ(sa->outbound_sequence().last(), 7u);
  EXPECT_EQ(sa->sequence_reserved(), 1007u);
  auto persisted = r.files().load("a_to_b");
  ASSERT_TRUE(persisted.ok());
  EXPECT_EQ(persisted->value_or(0), 1007u);
  const std::string text = read_file(r.files().path_of("a_to_b"));
  EXPECT_NE(text.find("spi 0x1001"), std::string::npos) << text;
  EXPECT_NE(text.find("destination 198.18.0.2"), std::string::npos) << text;
  EXPECT_FALSE(std::filesystem::exists(r.files().path_of("a_to_b").string() + ".tmp"));
}

TEST_F(SequenceStoreTest, RestartContinuesAboveThePersistedBound) {
  {
    auto r = reservations(1000);
    test::Host host("198.18.0.1");
    SecurityAssociation* sa = install(r, host, config_);
    use(*sa, 10);  // then a crash: no checkpoint
  }
  auto r = reservations(1000);
  test::Host host("198.18.0.1");
  SecurityAssociation* sa = install(r, host, config_);
  EXPECT_EQ(sa->outbound_sequence().last(), 1000u) << "everything up to the old bound is skipped";
  EXPECT_EQ(*sa->outbound_sequence().next(), 1001u);
  EXPECT_EQ(sa->sequence_reserved(), 2000u);
}

TEST_F(SequenceStoreTest, AConfiguredStartAboveTheFileWins) {
  ASSERT_TRUE(SequenceFiles(dir_.path() / "state").save("a_to_b", config_.id(), 50).ok());
  auto r = reservations(1000);
  test::Host host("198.18.0.1");
  config_.outbound_sequence = 5000;
  SecurityAssociation* sa = install(r, host, config_);
  EXPECT_EQ(sa->outbound_sequence().last(), 5000u);
  EXPECT_EQ(sa->sequence_reserved(), 6000u);
}

TEST_F(SequenceStoreTest, CleanStopCheckpointsTheLastNumberSent) {
  {
    auto r = reservations(1000);
    test::Host host("198.18.0.1");
    SecurityAssociation* sa = install(r, host, config_);
    use(*sa, 42);
    EXPECT_TRUE(r.checkpoint(host.sad));
  }
  auto r = reservations(1000);
  test::Host host("198.18.0.1");
  SecurityAssociation* sa = install(r, host, config_);
  EXPECT_EQ(sa->outbound_sequence().last(), 42u) << "nothing skipped after a clean stop";
}

TEST_F(SequenceStoreTest, TopsUpOnlyWhenLessThanHalfABlockIsLeft) {
  auto r = reservations(100);
  test::Host host("198.18.0.1");
  SecurityAssociation* sa = install(r, host, config_);
  use(*sa, 49);
  r.tick(host.sad);
  EXPECT_EQ(sa->sequence_reserved(), 100u) << "51 left: more than half a block";
  use(*sa, 1);
  r.tick(host.sad);
  EXPECT_EQ(sa->sequence_reserved(), 150u) << "a full block ahead of the last number sent";
  EXPECT_EQ(r.files().load("a_to_b")->value_or(0), 150u) << "on disk as well";
  EXPECT_TRUE(log_.empty());
}

TEST_F(SequenceStoreTest, AFailedWriteKeepsTheBoundAndIsLoggedOnce) {
  auto r = reservations(100);
  test::Host host("198.18.0.1");
  SecurityAssociation* sa = install(r, host, config_);
  use(*sa, 80);
  // The directory becomes a file: every write fails (also for root, unlike a chmod).
  const auto state = dir_.path() / "state";
  std::filesystem::rename(state, dir_.path() / "moved");
  std::ofstream(state) << "not a directory\n";
  r.tick(host.sad);
  r.tick(host.sad);
  EXPECT_EQ(sa->sequence_reserved(), 100u);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_NE(log_[0].find("sequence-unreserved"), std::string::npos) << log_[0];
  use(*sa, 20);
  EXPECT_TRUE(sa->sequence_unreserved());

  std::filesystem::remove(state);
  std::filesystem::rename(dir_.path() / "moved", state);
  r.tick(host.sad);
  EXPECT_EQ(sa->sequence_reserved(), 200u);
  EXPECT_FALSE(sa->sequence_unreserved());
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_NE(log_[1].find("written again"), std::string::npos) << log_[1];
}

TEST_F(SequenceStoreTest, AnUnwritableDirectoryRefusesTheStart) {
  std::ofstream(dir_.path() / "state") << "a file where the directory should be\n";
  auto r = reservations(100);
  test::Host host("198.18.0.1");
  SaConfig config = config_;
  const auto read = r.prepare("a_to_b", config);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.error().message().find("state_directory"), std::string::npos)
      << read.error().message();
  std::filesystem::remove(dir_.path() / "state");
  std::filesystem::create_directories(dir_.path() / "state");
  ASSERT_TRUE(r.prepare("a_to_b", config).ok());
  ASSERT_TRUE(host.sad.add(config, now_).ok());
  std::filesystem::remove(dir_.path() / "state");
  std::ofstream(dir_.path() / "state") << "a file where the directory should be\n";
  const auto write = r.attach(host.sad);
  ASSERT_FALSE(write.ok());
  EXPECT_NE(write.error().message().find("state_directory"), std::string::npos)
      << write.error().message();
  EXPECT_EQ(host.sad.get(config.id())->sequence_reserved(), kUnreservedSequence)
      << "the daemon refuses to start; the SA never sends";
}

TEST_F(SequenceStoreTest, PrepareWritesNothingSoThatAFailedStartChangesNothing) {
  auto r = reservations(100);
  SaConfig config = config_;
  ASSERT_TRUE(r.prepare("a_to_b", config).ok());
  EXPECT_FALSE(std::filesystem::exists(r.files().path_of("a_to_b")));
}

TEST_F(SequenceStoreTest, AMalformedFileRefusesTheStartAndNamesTheFile) {
  SequenceFiles files(dir_.path() / "state");
  std::filesystem::create_directories(files.directory());
  for (const char* text : {"", "garbage\n", "uipsec-sequence-reservation 1\nbound 12x\n",
                           "uipsec-sequence-reservation 1\nspi 0x1001\n",
                           "uipsec-sequence-reservation 1\nbound 99999999999999999999999\n"}) {
    std::ofstream(files.path_of("a_to_b")) << text;
    auto r = reservations(100);
    SaConfig config = config_;
    const auto result = r.prepare("a_to_b", config);
    ASSERT_FALSE(result.ok()) << text;
    EXPECT_NE(result.error().message().find(files.path_of("a_to_b").string()), std::string::npos)
        << result.error().message();
  }
}

TEST_F(SequenceStoreTest, NamesNeverLeaveTheDirectory) {
  SequenceFiles files(dir_.path());
  EXPECT_EQ(files.path_of("../etc/x").parent_path(), dir_.path());
  EXPECT_EQ(files.path_of("../etc/x").filename(), "%2E%2E%2Fetc%2Fx.seq");
  EXPECT_EQ(files.path_of("a_to-b7").filename(), "a_to-b7.seq");
}

TEST_F(SequenceStoreTest, TheBoundStopsAtTheEndOfTheSequenceSpace) {
  ASSERT_TRUE(SequenceFiles(dir_.path() / "state").save("a_to_b", config_.id(), 0xffffff00u).ok());
  auto r = reservations(1000);
  test::Host host("198.18.0.1");
  SecurityAssociation* sa = install(r, host, config_);
  EXPECT_EQ(sa->sequence_reserved(), 0xffffffffu);
  // An ESN SA restarted without ESN starts exhausted rather than below the old bound.
  ASSERT_TRUE(r.files().save("b", config_.id(), std::uint64_t{1} << 40).ok());
  SaConfig other = test::sa_config("198.18.0.1", "198.18.0.3", 0x1002);
  ASSERT_TRUE(r.prepare("b", other).ok());
  EXPECT_EQ(other.outbound_sequence, 0xffffffffu);
}

TEST_F(SequenceStoreTest, InboundOnlySasAreNotTracked) {
  auto r = reservations(100);
  config_.direction = SaDirection::kIn;
  ASSERT_TRUE(r.prepare("in", config_).ok());
  EXPECT_EQ(r.size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(r.files().path_of("in")));
}

TEST_F(SequenceStoreTest, ADeletedOrReplacedSaIsLeftAlone) {
  auto r = reservations(100);
  test::Host host("198.18.0.1");
  SecurityAssociation* sa = install(r, host, config_);
  use(*sa, 90);
  ASSERT_TRUE(host.sad.remove(config_.id()).ok());
  r.tick(host.sad);  // gone: nothing to do
  // Added again, e.g. by `uipsec state add`: without a reservation.
  ASSERT_TRUE(host.sad.add(config_, now_).ok());
  sa = host.sad.get(config_.id());
  use(*sa, 90);
  r.tick(host.sad);
  EXPECT_EQ(sa->sequence_reserved(), kUnreservedSequence);
  EXPECT_EQ(r.files().load("a_to_b")->value_or(0), 100u);
}

// The packet path honours the bound: packets beyond it are dropped as sequence-unreserved without
// using up numbers, and go again once the control thread has written a new reservation.
TEST_F(SequenceStoreTest, OutboundPathDropsBeyondTheReservation) {
  auto r = reservations(4);
  test::Host host("198.18.0.1");
  ASSERT_TRUE(
      host.spd.add(protect("198.18.10.0/24", "198.18.20.0/24", "198.18.0.1", "198.18.0.2"), now_)
          .ok());
  SecurityAssociation* sa = install(r, host, config_);
  PacketPool pool(4);
  auto send_one = [&] {
    PacketBuffer* p = pool.acquire();
    EXPECT_TRUE(p->assign(udp_packet("198.18.10.1", "198.18.20.1", 1, 2, 40)));
    std::vector<PacketBuffer*> batch{p};
    const Verdict v = host.send(batch, now_)[0];
    pool.release(p);
    return v;
  };
  for (int i = 0; i < 4; ++i) EXPECT_EQ(send_one(), Verdict::send_to_peer()) << i;
  EXPECT_EQ(send_one().reason, DropReason::kSequenceUnreserved);
  EXPECT_EQ(send_one().reason, DropReason::kSequenceUnreserved);
  EXPECT_EQ(sa->outbound_sequence().last(), 4u) << "dropped packets use no numbers";
  EXPECT_EQ(host.counters.drops.get(DropReason::kSequenceUnreserved), 2u);
  r.tick(host.sad);
  EXPECT_EQ(send_one(), Verdict::send_to_peer());
  EXPECT_EQ(sa->outbound_sequence().last(), 5u);
}

}  // namespace
}  // namespace uipsec
