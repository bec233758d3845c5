#include "control/control_server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include "backend/local_backend.hpp"
#include "base/hex.hpp"
#include "control/control_client.hpp"
#include "control/control_test_support.hpp"
#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

using test::addr;
using test::LoopThread;
using test::PollWatcher;
using test::RawClient;
using test::TempDir;

// A LocalBackend over real databases, with the server registered as its listener.
class ControlServerTest : public ::testing::Test {
 protected:
  ControlServerTest() {
    options_.daemon_version = "test 1.2.3";
    options_.default_replay_window = 64;
  }
  ~ControlServerTest() override { stop(); }

  void start() {
    auto server = ControlServer::listen(backend_, watcher_, path_, options_);
    ASSERT_TRUE(server.ok()) << server.error().message();
    server_ = std::move(*server);
    backend_.add_listener(*server_);
  }
  void stop() {
    if (!server_) return;
    backend_.remove_listener(*server_);
    server_.reset();
  }

  // Sends one request and returns the one answer, driving the server in between.
  Json ask(RawClient& client, std::uint64_t id, std::string_view op, Json args = Json::object()) {
    client.send_request(id, op, std::move(args));
    watcher_.drain();
    auto messages = client.receive();
    EXPECT_EQ(messages.size(), 1u);
    return messages.empty() ? Json() : messages[0];
  }

  void push_event(IpsecEvent event) {
    ASSERT_TRUE(events_.try_push(std::move(event)));
    backend_.tick();
  }

  QsbrDomain domain_;
  SaDatabase sad_{domain_, 1};
  PolicyDatabase spd_{domain_};
  EventQueue events_{4096};
  WorkerCounters worker_;
  FakeClock clock_;
  LocalBackend backend_{domain_, sad_, spd_, events_, {&worker_}, clock_, {}};
  PollWatcher watcher_;
  TempDir dir_;
  std::string path_ = dir_.file("uipsec.ctl");
  ControlServerOptions options_;
  std::unique_ptr<ControlServer> server_;
};

AcquireEvent acquire(std::uint32_t reqid) {
  return AcquireEvent{Reqid(reqid), PolicyIndex(3), TrafficSelector::any(IpFamily::kV4)};
}

// --- The socket file ----------------------------------------------------------------------------

TEST_F(ControlServerTest, SocketIsMode0600EvenWithAPermissiveUmask) {
  const mode_t previous = ::umask(0);
  start();
  ::umask(previous);
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(ControlServerTest, ReplacesAStaleSocket) {
  {
    // A socket file whose daemon is gone: bound, never unlinked, closed.
    UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
    auto address = unix_address(path_);
    ASSERT_EQ(
        ::bind(stale.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un)), 0);
  }
  start();
  RawClient client(path_);
  ASSERT_TRUE(client.connected());
  EXPECT_EQ(ask(client, 1, "hello", {{"protocol", kControlProtocolVersion}})["result"]["daemon"],
            "test 1.2.3");
}

TEST_F(ControlServerTest, RefusesASecondServerWhileTheFirstListens) {
  start();
  PollWatcher other_watcher;
  auto second = ControlServer::listen(backend_, other_watcher, path_, options_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message(), "another uipsecd is already listening on " + path_ +
                                          " (stop it first, or use another control socket path)");
  RawClient client(path_);
  ASSERT_TRUE(client.connected());
  EXPECT_TRUE(ask(client, 1, "stats")["ok"].get<bool>()) << "the first server still serves";
}

TEST_F(ControlServerTest, RefusesToReplaceSomethingThatIsNotASocket) {
  std::ofstream(path_) << "precious";
  auto server = ControlServer::listen(backend_, watcher_, path_, options_);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message().find("exists and is not a socket"), std::string::npos);
  std::ifstream in(path_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(ControlServerTest, RemovesItsSocketWhenDestroyed) {
  start();
  stop();
  struct stat st {};
  EXPECT_NE(::lstat(path_.c_str(), &st), 0);
}

TEST_F(ControlServerTest, ExplainsAPathThatDoesNotFit) {
  auto server = ControlServer::listen(backend_, watcher_, "/tmp/" + std::string(200, 'x'), {});
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message().find("is too long (205 bytes"), std::string::npos);
}

// --- Requests -----------------------------------------------------------------------------------

TEST_F(ControlServerTest, HelloReportsVersionsAndRefusesAnotherProtocol) {
  start();
  RawClient client(path_);
  Json answer =
      ask(client, 7, "hello", {{"protocol", kControlProtocolVersion}, {"client", "test"}});
  EXPECT_EQ(answer, (Json{{"id", 7},
                          {"ok", true},
                          {"result",
                           {{"protocol", kControlProtocolVersion},
                            {"daemon", "test 1.2.3"},
                            {"default_replay_window", 64}}}}));
  answer = ask(client, 8, "hello", {{"protocol", kControlProtocolVersion + 1}});
  EXPECT_FALSE(answer["ok"].get<bool>());
  EXPECT_EQ(answer["error"], "uipsecd speaks control protocol " +
                                 std::to_string(kControlProtocolVersion) + ", the client speaks " +
                                 std::to_string(kControlProtocolVersion + 1) +
                                 "; use the uipsec command of the same release as uipsecd");
}

TEST_F(ControlServerTest, SasAndPoliciesThroughRawRequests) {
  start();
  RawClient client(path_);
  Json answer =
      ask(client, 1, "spi.allocate", {{"source", "198.18.0.2"}, {"destination", "198.18.0.1"}});
  ASSERT_TRUE(answer["ok"].get<bool>()) << answer.dump();
  const std::uint32_t spi = answer["result"]["spi"];
  EXPECT_GE(spi, 0xc0000000u);

  const SaConfig sa = test::sa_config("198.18.0.2", "198.18.0.1", spi, 5);
  answer = ask(client, 2, "sa.add", to_json(sa));
  EXPECT_EQ(answer, (Json{{"id", 2}, {"ok", true}, {"result", nullptr}}));
  answer = ask(client, 3, "sa.add", to_json(sa));
  EXPECT_FALSE(answer["ok"].get<bool>()) << "a duplicate is the backend's error, not a crash";
  EXPECT_EQ(answer["id"], 3);

  answer = ask(client, 4, "sa.get", {{"id", to_json(sa.id())}});
  ASSERT_TRUE(answer["ok"].get<bool>()) << answer.dump();
  EXPECT_FALSE(answer["result"]["config"]["algorithms"].contains("cipher_key"));
  EXPECT_EQ(answer["result"]["config"]["reqid"], 5);
  answer = ask(client, 5, "sa.get", {{"id", to_json(sa.id())}, {"keys", true}});
  EXPECT_EQ(answer["result"]["config"]["algorithms"]["cipher_key"],
            to_hex(sa.algorithms.cipher_key.span()));

  answer = ask(client, 6, "sa.list");
  ASSERT_EQ(answer["result"].size(), 1u);
  EXPECT_FALSE(answer.contains("more"));

  const PolicyConfig policy =
      test::protect("10.1.0.0/16", "10.2.0.0/16", "198.18.0.2", "198.18.0.1", 5);
  EXPECT_TRUE(ask(client, 7, "policy.add", to_json(policy))["ok"].get<bool>());
  answer = ask(client, 8, "policy.get", {{"id", to_json(policy.id())}});
  ASSERT_TRUE(answer["ok"].get<bool>()) << answer.dump();
  EXPECT_EQ(answer["result"]["config"]["template"]["reqid"], 5);
  EXPECT_EQ(ask(client, 9, "policy.list")["result"].size(), 1u);

  worker_.drops.count(DropReason::kUnknownSpi, 3);
  answer = ask(client, 10, "stats");
  EXPECT_EQ(answer["result"]["drops"]["unknown-spi"], 3);
  EXPECT_EQ(answer["result"]["sa_count"], 1);
  EXPECT_EQ(answer["result"]["policy_count"], 1);

  EXPECT_TRUE(ask(client, 11, "sa.delete", {{"id", to_json(sa.id())}})["ok"].get<bool>());
  EXPECT_FALSE(ask(client, 12, "sa.get", {{"id", to_json(sa.id())}})["ok"].get<bool>());
  EXPECT_EQ(ask(client, 13, "policy.flush")["result"]["flushed"], 1);
  EXPECT_EQ(ask(client, 14, "sa.flush")["result"]["flushed"], 0);
}

TEST_F(ControlServerTest, MalformedArgsAreAnsweredAndTheConnectionStays) {
  start();
  RawClient client(path_);
  Json args = to_json(test::sa_config("198.18.0.2", "198.18.0.1", 0x1234));
  args["endpoints"]["source"] = 42;
  Json answer = ask(client, 1, "sa.add", args);
  EXPECT_EQ(answer, (Json{{"id", 1},
                          {"ok", false},
                          {"error", "args.endpoints.source: expected an IP address, got 42"}}));
  answer = ask(client, 2, "sa.frobnicate");
  EXPECT_EQ(answer["id"], 2);
  EXPECT_NE(answer["error"].get<std::string>().find("op: unknown operation"), std::string::npos);
  EXPECT_TRUE(ask(client, 3, "stats")["ok"].get<bool>());
  EXPECT_FALSE(client.closed());
}

TEST_F(ControlServerTest, ReadsPartialFramesAndSeveralFramesPerRead) {
  start();
  RawClient client(path_);
  auto frame = encode_frame(Json{{"id", 1}, {"op", "stats"}});
  ASSERT_TRUE(frame.ok());
  for (std::size_t i = 0; i + 1 < frame->size(); ++i) {
    client.send_bytes(frame->substr(i, 1));
    watcher_.drain();
    ASSERT_TRUE(client.receive().empty()) << "answered before the frame was complete";
  }
  client.send_bytes(frame->substr(frame->size() - 1));
  watcher_.drain();
  EXPECT_EQ(client.receive().size(), 1u);

  std::string three;
  for (int id = 10; id < 13; ++id) three += *encode_frame(Json{{"id", id}, {"op", "stats"}});
  client.send_bytes(three);
  watcher_.drain();
  const auto answers = client.receive();
  ASSERT_EQ(answers.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(answers[i]["id"], 10 + i);
}

TEST_F(ControlServerTest, ListsAreSentInChunksAsTheClientReads) {
  options_.list_chunk_size = 4;
  options_.max_queued_bytes = 8192;
  start();
  for (std::uint32_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(backend_.add_sa(test::sa_config("198.18.0.2", "198.18.0.1", 0x1000 + i)).ok());
  }
  RawClient client(path_);
  client.send_request(1, "sa.list", {{"keys", true}});
  // The client does not read: the server fills the socket, then queues at most about its limit.
  watcher_.drain();
  for (const auto& c : server_->clients()) {
    EXPECT_LE(c.queued_bytes, options_.max_queued_bytes / 2 + 8192) << "one chunk over half";
  }
  std::size_t items = 0, frames = 0;
  bool last = false;
  while (!last) {
    watcher_.drain();
    auto messages = client.receive();
    ASSERT_FALSE(messages.empty() && client.closed());
    for (const auto& m : messages) {
      ASSERT_TRUE(m["ok"].get<bool>());
      ASSERT_EQ(m["id"], 1);
      ASSERT_FALSE(last) << "nothing after the last chunk";
      items += m["result"].size();
      ++frames;
      last = !m.contains("more");
      if (!last) {
        EXPECT_EQ(m["more"], true);
      }
      EXPECT_TRUE(m["result"][0]["config"]["algorithms"].contains("cipher_key"));
    }
    for (const auto& c : server_->clients()) {
      ASSERT_LE(c.queued_bytes, options_.max_queued_bytes / 2 + 8192);
    }
  }
  EXPECT_EQ(items, 1000u);
  EXPECT_EQ(frames, 250u);
  EXPECT_TRUE(ask(client, 2, "stats")["ok"].get<bool>()) << "requests work again after the list";
}

// --- Protocol violations ------------------------------------------------------------------------

class ProtocolViolationTest : public ControlServerTest {
 protected:
  // Sends `bytes` on a fresh connection (and `then_shutdown`: closes the writing side) and expects
  // an error frame without id containing `message`, then the end of the connection — while a
  // well-behaved client keeps being served.
  void expect_disconnect(const std::string& bytes, const std::string& message,
                         bool then_shutdown = false) {
    start();
    RawClient good(path_);
    EXPECT_TRUE(ask(good, 1, "stats")["ok"].get<bool>());

    RawClient bad(path_);
    bad.send_bytes(bytes);
    if (then_shutdown) bad.shutdown_write();
    watcher_.drain();
    auto messages = bad.receive();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_TRUE(messages[0]["id"].is_null());
    EXPECT_FALSE(messages[0]["ok"].get<bool>());
    EXPECT_NE(messages[0]["error"].get<std::string>().find(message), std::string::npos)
        << messages[0]["error"];
    EXPECT_TRUE(bad.closed());
    EXPECT_EQ(server_->client_count(), 1u);

    EXPECT_TRUE(ask(good, 2, "stats")["ok"].get<bool>()) << "other clients keep working";
  }

  static std::string frame_with_body(const std::string& body) {
    std::string header(4, '\0');
    store_be32(reinterpret_cast<std::uint8_t*>(header.data()),
               static_cast<std::uint32_t>(body.size()));
    return header + body;
  }
};

TEST_F(ProtocolViolationTest, Garbage) {
  expect_disconnect("GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                    "protocol error: frame length 1195725856 exceeds the limit of 1048576 bytes");
}

TEST_F(ProtocolViolationTest, OversizedLength) {
  expect_disconnect(std::string("\x00\x10\x00\x01", 4) + "{",
                    "protocol error: frame length 1048577 exceeds the limit of 1048576 bytes");
}

TEST_F(ProtocolViolationTest, NotJson) {
  expect_disconnect(frame_with_body("{\"id\": 1, \"op\": stats}"),
                    "protocol error: message is not valid JSON");
}

TEST_F(ProtocolViolationTest, NoId) {
  expect_disconnect(frame_with_body("{\"op\": \"stats\"}"), "protocol error: id: missing");
}

TEST_F(ProtocolViolationTest, DeeplyNestedJson) {
  expect_disconnect(frame_with_body(std::string(100000, '[')),
                    "protocol error: message nests arrays and objects deeper than 64 levels");
}

TEST_F(ProtocolViolationTest, TruncatedFrame) {
  expect_disconnect(frame_with_body(std::string(100, ' ')).substr(0, 54),
                    "protocol error: connection closed in the middle of a frame (got 50 of 100 "
                    "bytes)",
                    /*then_shutdown=*/true);
}

TEST_F(ControlServerTest, TooManyClientsAreTurnedAway) {
  options_.max_clients = 2;
  start();
  RawClient a(path_), b(path_), c(path_);
  watcher_.drain();
  auto messages = c.receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["error"], "too many control connections (2); try again later");
  EXPECT_TRUE(c.closed());
  EXPECT_TRUE(ask(a, 1, "stats")["ok"].get<bool>());
}

TEST_F(ControlServerTest, ClosedClientsAreForgotten) {
  start();
  {
    RawClient a(path_);
    a.send_request(1, "stats");
    watcher_.drain();
    EXPECT_EQ(server_->client_count(), 1u);
  }
  watcher_.drain();
  EXPECT_EQ(server_->client_count(), 0u);
}

// Only root and the daemon's own uid may use the socket, even if its mode were wider.
TEST_F(ControlServerTest, RefusesOtherUsersBySoPeercred) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  start();
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);  // as if someone had loosened it

  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd from_child(pipe_fds[0]);
  UniqueFd to_parent(pipe_fds[1]);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only async-signal-safe calls from here on: become nobody, connect, say hello, and copy what
    // the server sends to the parent.
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path_.c_str(), path_.size());
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      ::_exit(3);
    }
    static const char kHello[] = "\0\0\0\x2b{\"id\":1,\"op\":\"hello\",\"args\":{\"protocol\":1}}";
    (void)!::send(fd, kHello, sizeof(kHello) - 1, MSG_NOSIGNAL);
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n <= 0) break;
      (void)!::write(pipe_fds[1], buffer, static_cast<std::size_t>(n));
    }
    ::_exit(0);
  }
  to_parent.reset();

  // Serve until the child is done (its end of the pipe closes), without sleeping.
  std::string received;
  bool child_done = false;
  watcher_.watch(from_child.get(), true, false, [&](bool, bool) {
    char buffer[4096];
    const ssize_t n = ::read(from_child.get(), buffer, sizeof(buffer));
    if (n > 0) {
      received.append(buffer, static_cast<std::size_t>(n));
    } else {
      child_done = true;
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!child_done && std::chrono::steady_clock::now() < deadline) watcher_.run_once(1000);
  watcher_.unwatch(from_child.get());
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "2: could not become nobody; 3: could not connect";

  FrameReader reader;
  reader.append(received);
  auto frame = reader.next();
  ASSERT_TRUE(frame.ok() && frame->has_value()) << received;
  auto message = parse_json(**frame);
  ASSERT_TRUE(message.ok());
  EXPECT_TRUE((*message)["id"].is_null());
  EXPECT_EQ((*message)["error"],
            "permission denied: uid 65534 may not use uipsecd's control socket (only root may)");
  EXPECT_FALSE(reader.next()->has_value()) << "nothing but the refusal";
  EXPECT_EQ(server_->client_count(), 0u);

  RawClient root(path_);
  EXPECT_TRUE(ask(root, 1, "stats")["ok"].get<bool>());
}

// --- Monitor ------------------------------------------------------------------------------------

TEST_F(ControlServerTest, MonitorSubscribersReceiveEvents) {
  start();
  RawClient monitor(path_), other(path_);
  EXPECT_EQ(ask(monitor, 1, "monitor"), (Json{{"id", 1}, {"ok", true}, {"result", nullptr}}));
  EXPECT_TRUE(ask(other, 1, "stats")["ok"].get<bool>());

  push_event(acquire(42));
  push_event(ExpireEvent{SaId{addr("198.18.0.1"), Spi(0x1234)}, Reqid(42), true});
  ASSERT_TRUE(server_->publish(Json{{"event", "ike"}, {"from", "198.18.0.9"}}).ok());
  watcher_.drain();
  const auto events = monitor.receive();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["event"], "acquire");
  EXPECT_EQ(events[0]["reqid"], 42);
  EXPECT_EQ(events[0]["packet"]["source"], "0.0.0.0/0");
  EXPECT_EQ(events[1]["event"], "expire");
  EXPECT_EQ(events[1]["sa"]["spi"], 0x1234);
  EXPECT_EQ(events[1]["hard"], true);
  EXPECT_EQ(events[2], (Json{{"event", "ike"}, {"from", "198.18.0.9"}}));
  EXPECT_TRUE(other.receive().empty()) << "only subscribers get events";

  EXPECT_FALSE(server_->publish(Json{{"kind", "ike"}}).ok());

  EXPECT_TRUE(ask(monitor, 2, "monitor", {{"subscribe", false}})["ok"].get<bool>());
  push_event(acquire(43));
  watcher_.drain();
  EXPECT_TRUE(monitor.receive().empty());
}

TEST_F(ControlServerTest, ASlowMonitorGetsAnOverflowMarkerAndBoundedMemory) {
  options_.max_queued_messages = 64;
  options_.max_queued_bytes = 16 * 1024;
  start();
  RawClient monitor(path_);
  EXPECT_TRUE(ask(monitor, 1, "monitor")["ok"].get<bool>());

  // The monitor does not read: first the socket fills, then the server's queue, then events are
  // counted as lost. The queue never passes its limits.
  constexpr std::uint64_t kEvents = 20000;
  for (std::uint64_t i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(events_.try_push(acquire(static_cast<std::uint32_t>(i))));
    if (i % 1000 == 999) {
      backend_.tick();
      watcher_.drain();
      ASSERT_EQ(server_->clients().size(), 1u);
      const auto c = server_->clients()[0];
      ASSERT_LE(c.queued_bytes, options_.max_queued_bytes);
      ASSERT_LE(c.queued_messages, options_.max_queued_messages);
    }
  }
  EXPECT_GT(server_->clients()[0].events_lost, 0u);

  // Now it reads everything: the events that fit, in order, then the marker with the count.
  std::uint64_t received = 0, lost = 0, next_reqid = 0;
  bool overflow_seen = false;
  for (;;) {
    auto messages = monitor.receive();
    watcher_.drain();
    if (messages.empty()) {
      messages = monitor.receive();
      if (messages.empty()) break;
    }
    for (const auto& m : messages) {
      if (m["event"] == "overflow") {
        lost += m["lost"].get<std::uint64_t>();
        overflow_seen = true;
        continue;
      }
      ASSERT_EQ(m["event"], "acquire");
      ASSERT_FALSE(overflow_seen) << "only the marker comes after the loss";
      EXPECT_EQ(m["reqid"], next_reqid++) << "the events that fit arrive in order";
      ++received;
    }
  }
  EXPECT_TRUE(overflow_seen);
  EXPECT_EQ(received + lost, kEvents);
  EXPECT_GT(received, 0u);
  EXPECT_EQ(server_->clients()[0].events_lost, 0u);

  // Caught up: events flow normally again.
  push_event(acquire(99999));
  watcher_.drain();
  const auto after = monitor.receive();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0]["reqid"], 99999);
}

// --- The client ---------------------------------------------------------------------------------

// The blocking client against a server running on a loop thread.
class ControlClientTest : public ControlServerTest {
 protected:
  void SetUp() override {
    start();
    loop_.start();
  }
  void TearDown() override {
    loop_.stop();
    stop();
  }

  std::unique_ptr<ControlClient> connect(ControlClientOptions options = {}) {
    auto client = ControlClient::connect(path_, options);
    EXPECT_TRUE(client.ok()) << client.error().message();
    return client.ok() ? std::move(*client) : nullptr;
  }

  LoopThread loop_{watcher_};
};

TEST_F(ControlClientTest, ImplementsTheBackendOverTheSocket) {
  auto client = connect();
  ASSERT_TRUE(client);
  EXPECT_EQ(client->daemon_version(), "test 1.2.3");

  auto spi = client->allocate_spi(addr("2001:db8::2"), addr("2001:db8::1"));
  ASSERT_TRUE(spi.ok()) << spi.error().message();
  SaConfig sa = test::sa_config("2001:db8::2", "2001:db8::1", spi->value(), 7);
  sa.flags.esn = true;
  sa.inbound_sequence = 0x100000005ull;
  sa.lifetimes.soft.packets = 100;
  sa.lifetimes.hard.packets = 200;
  ASSERT_TRUE(client->add_sa(sa).ok());
  auto duplicate = client->add_sa(sa);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_FALSE(duplicate.error().message().empty());

  auto info = client->query_sa(sa.id(), KeyDisclosure::kOmit);
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_TRUE(info->config.algorithms.cipher_key.empty());
  EXPECT_EQ(info->config.reqid, Reqid(7));
  EXPECT_EQ(info->config.lifetimes, sa.lifetimes);
  EXPECT_TRUE(info->config.flags.esn);
  info = client->query_sa(sa.id(), KeyDisclosure::kInclude);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->config.algorithms.cipher_key == sa.algorithms.cipher_key);

  SaEndpoints moved = sa.endpoints;
  moved.encapsulation->destination_port = 4501;
  ASSERT_TRUE(client->update_sa(sa.id(), moved).ok());
  EXPECT_EQ(client->query_sa(sa.id(), KeyDisclosure::kOmit)->config.endpoints, moved);
  ASSERT_EQ(client->list_sas(KeyDisclosure::kOmit)->size(), 1u);

  const PolicyConfig policy =
      test::protect("2001:db8:1::/48", "2001:db8:2::/48", "2001:db8::2", "2001:db8::1", 7);
  ASSERT_TRUE(client->add_policy(policy).ok());
  PolicyConfig changed = policy;
  changed.priority = 5;
  ASSERT_TRUE(client->update_policy(changed).ok());
  auto policy_info = client->query_policy(policy.id());
  ASSERT_TRUE(policy_info.ok()) << policy_info.error().message();
  EXPECT_EQ(policy_info->config.priority, 5u);
  EXPECT_EQ(client->list_policies()->size(), 1u);

  loop_.run([&] { worker_.drops.count(DropReason::kAuthenticationFailed, 9); });
  auto stats = client->statistics();
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->drops[static_cast<std::size_t>(DropReason::kAuthenticationFailed)], 9u);
  EXPECT_EQ(stats->sa_count, 1u);
  auto raw = client->call("stats", Json::object());
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ((*raw)["drops"]["auth-failed"], 9);

  ASSERT_TRUE(client->delete_policy(policy.id()).ok());
  EXPECT_FALSE(client->query_policy(policy.id()).ok());
  ASSERT_TRUE(client->delete_sa(sa.id()).ok());
  EXPECT_FALSE(client->delete_sa(sa.id()).ok());
  ASSERT_TRUE(client->add_sa(sa).ok());
  EXPECT_EQ(*client->flush_sas(), 1u);
  EXPECT_EQ(*client->flush_policies(), 0u);
}

TEST_F(ControlClientTest, RawCallsReturnTheDaemonsMessages) {
  auto client = connect();
  ASSERT_TRUE(client);
  auto answer = client->call("sa.frobnicate", Json::object());
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().message().rfind("op: unknown operation \"sa.frobnicate\"", 0), 0u);
  answer = client->call("sa.add", Json{{"spi", "x"}});
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().message(), "args.endpoints: missing (required)");
  EXPECT_TRUE(client->call("stats", Json::object()).ok()) << "the connection is fine";
}

TEST_F(ControlClientTest, ListsArriveWholeFromManyChunks) {
  loop_.run([&] {
    for (std::uint32_t i = 0; i < 600; ++i) {
      ASSERT_TRUE(backend_.add_sa(test::sa_config("198.18.0.2", "198.18.0.1", 0x1000 + i)).ok());
      ASSERT_TRUE(backend_
                      .add_policy(test::protect(("10." + std::to_string(i / 256) + "." +
                                                 std::to_string(i % 256) + ".0/24")
                                                    .c_str(),
                                                "10.200.0.0/16", "198.18.0.2", "198.18.0.1"))
                      .ok());
    }
  });
  auto client = connect();
  ASSERT_TRUE(client);
  auto sas = client->list_sas(KeyDisclosure::kInclude);
  ASSERT_TRUE(sas.ok()) << sas.error().message();
  ASSERT_EQ(sas->size(), 600u);
  EXPECT_FALSE((*sas)[0].config.algorithms.cipher_key.empty());
  auto policies = client->list_policies();
  ASSERT_TRUE(policies.ok()) << policies.error().message();
  EXPECT_EQ(policies->size(), 600u);
  auto raw = client->call("sa.list", Json::object());
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 600u);
}

TEST_F(ControlClientTest, MonitorStreamsUntilTheCallbackStops) {
  auto client = connect();
  ASSERT_TRUE(client);
  // Once the client's subscription is in, the loop raises events (never before).
  bool pushed = false;
  loop_.run([&] {
    loop_.set_after_round([&] {
      if (pushed) return;
      for (const auto& c : server_->clients()) {
        if (!c.monitoring) continue;
        pushed = true;
        for (std::uint32_t i = 1; i <= 3; ++i) (void)events_.try_push(acquire(i));
        backend_.tick();
      }
    });
  });
  std::vector<Json> seen;
  auto result = client->monitor([&](const Json& message) {
    seen.push_back(message);
    return seen.size() < 2;
  });
  ASSERT_TRUE(result.ok()) << result.error().message();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0]["event"], "acquire");
  EXPECT_EQ(seen[1]["reqid"], 2);
  loop_.run([&] { loop_.set_after_round(nullptr); });
  // Unsubscribed, and the connection still answers (the third event was dropped on the way).
  EXPECT_TRUE(client->statistics().ok());
  bool still_monitoring = true;
  loop_.run([&] { still_monitoring = server_->clients()[0].monitoring; });
  EXPECT_FALSE(still_monitoring);
}

struct RecordingListener : EventListener {
  void on_event(const IpsecEvent& e) override { events.push_back(e); }
  std::vector<IpsecEvent> events;
};

TEST_F(ControlClientTest, ListenersGetTypedEventsFromTheEventConnection) {
  auto client = connect();
  ASSERT_TRUE(client);
  EXPECT_EQ(client->event_fd(), -1);
  RecordingListener listener;
  client->add_listener(listener);
  ASSERT_GE(client->event_fd(), 0);

  const MappingEvent mapping{SaId{addr("198.18.0.1"), Spi(0x4321)}, Reqid(3),
                             Endpoint{addr("203.0.113.1"), 4500},
                             Endpoint{addr("203.0.113.7"), 61000}};
  loop_.run([&] {
    ASSERT_TRUE(events_.try_push(mapping));
    backend_.tick();
  });
  while (listener.events.empty()) {
    auto delivered = client->dispatch_events(10'000);
    ASSERT_TRUE(delivered.ok()) << delivered.error().message();
    ASSERT_GT(*delivered, 0u) << "no event within 10 s";
  }
  ASSERT_EQ(listener.events.size(), 1u);
  const auto& got = std::get<MappingEvent>(listener.events[0]);
  EXPECT_EQ(got.sa, mapping.sa);
  EXPECT_EQ(got.previous, mapping.previous);
  EXPECT_EQ(got.current, mapping.current);
  EXPECT_TRUE(client->statistics().ok()) << "requests use their own connection";

  client->remove_listener(listener);
  EXPECT_EQ(client->event_fd(), -1);
  EXPECT_EQ(*client->dispatch_events(0), 0u);
}

TEST_F(ControlClientTest, ListenerConnectionFailureIsReportedByDispatch) {
  auto client = connect();
  ASSERT_TRUE(client);
  loop_.stop();
  stop();  // the socket is gone
  RecordingListener listener;
  client->add_listener(listener);
  EXPECT_EQ(client->event_fd(), -1);
  auto result = client->dispatch_events(0);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("cannot open the event connection"), std::string::npos);
}

// Answers every call with an error; tests override what they need.
class StubBackend : public IpsecBackend {
 public:
  Result<Spi> allocate_spi(const IpAddress&, const IpAddress&) override { return no(); }
  Result<void> add_sa(const SaConfig&) override { return no(); }
  Result<void> update_sa(const SaId&, const SaEndpoints&) override { return no(); }
  Result<SaInfo> query_sa(const SaId&, KeyDisclosure) override { return no(); }
  Result<void> delete_sa(const SaId&) override { return no(); }
  Result<std::vector<SaInfo>> list_sas(KeyDisclosure) override { return no(); }
  Result<std::size_t> flush_sas() override { return no(); }
  Result<void> add_policy(const PolicyConfig&) override { return no(); }
  Result<void> update_policy(const PolicyConfig&) override { return no(); }
  Result<PolicyInfo> query_policy(const PolicyId&) override { return no(); }
  Result<void> delete_policy(const PolicyId&) override { return no(); }
  Result<std::vector<PolicyInfo>> list_policies() override { return no(); }
  Result<std::size_t> flush_policies() override { return no(); }
  Result<Statistics> statistics() override { return no(); }
  void add_listener(EventListener& listener) override { listener_ = &listener; }
  void remove_listener(EventListener&) override { listener_ = nullptr; }

 protected:
  static Error no() { return Error("not in this test"); }
  EventListener* listener_ = nullptr;
};

// Raises an event from inside a request, as a backend that reports expiries on flush might.
class EventDuringFlushBackend final : public StubBackend {
 public:
  Result<std::size_t> flush_sas() override {
    if (listener_ != nullptr) listener_->on_event(acquire(77));
    return std::size_t{1};
  }
};

TEST(ControlServerReentrancy, EventsRaisedDuringARequestReachTheRequester) {
  EventDuringFlushBackend backend;
  PollWatcher watcher;
  TempDir dir;
  auto server = ControlServer::listen(backend, watcher, dir.file("uipsec.ctl"), {});
  ASSERT_TRUE(server.ok()) << server.error().message();
  backend.add_listener(**server);
  RawClient client(dir.file("uipsec.ctl"));
  client.send_request(1, "monitor");
  client.send_request(2, "sa.flush");
  watcher.drain();
  const auto messages = client.receive();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0]["id"], 1);
  EXPECT_EQ(messages[1]["event"], "acquire") << "raised while sa.flush ran";
  EXPECT_EQ(messages[2], (Json{{"id", 2}, {"ok", true}, {"result", {{"flushed", 1}}}}));
  backend.remove_listener(**server);
}

// A backend whose list is huge, to show that 100 000 SAs fit through the protocol.
class ManySasBackend final : public StubBackend {
 public:
  explicit ManySasBackend(std::size_t count) {
    infos_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      SaInfo info;
      info.config =
          test::sa_config("2001:db8::2", "2001:db8::1", 0xc0000000u + static_cast<std::uint32_t>(i),
                          static_cast<std::uint32_t>(i));
      info.config.selector = TrafficSelector::any(IpFamily::kV6);
      info.bytes = i * 1500;
      info.packets = i;
      info.added = Timestamp::from_seconds(1700000000);
      info.first_use = Timestamp::from_seconds(1700000001);
      infos_.push_back(std::move(info));
    }
  }
  Result<std::vector<SaInfo>> list_sas(KeyDisclosure) override { return infos_; }

 private:
  std::vector<SaInfo> infos_;
};

// Sanitizer builds run ~10x slower; there the list is 10 000 long (the chunking is the same).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::size_t kManySas = 10'000;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr std::size_t kManySas = 10'000;
#else
constexpr std::size_t kManySas = 100'000;
#endif
#else
constexpr std::size_t kManySas = 100'000;
#endif

TEST(ControlClientLargeList, OneHundredThousandSasFit) {
  ManySasBackend backend(kManySas);
  PollWatcher watcher;
  TempDir dir;
  auto server = ControlServer::listen(backend, watcher, dir.file("uipsec.ctl"), {});
  ASSERT_TRUE(server.ok()) << server.error().message();
  LoopThread loop(watcher);
  loop.start();
  auto client = ControlClient::connect(dir.file("uipsec.ctl"));
  ASSERT_TRUE(client.ok()) << client.error().message();
  auto sas = (*client)->list_sas(KeyDisclosure::kInclude);
  ASSERT_TRUE(sas.ok()) << sas.error().message();
  ASSERT_EQ(sas->size(), kManySas);
  const std::size_t last = kManySas - 1;
  EXPECT_EQ((*sas)[last].config.spi, Spi(0xc0000000u + static_cast<std::uint32_t>(last)));
  EXPECT_EQ((*sas)[last].bytes, last * 1500);
  loop.stop();
  server->reset();
}

// --- Client errors ------------------------------------------------------------------------------

TEST(ControlClientErrors, SaysWhatToDoWhenNoDaemonRuns) {
  TempDir dir;
  auto client = ControlClient::connect(dir.file("uipsec.ctl"));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().message(),
            "cannot connect to " + dir.file("uipsec.ctl") +
                ": No such file or directory — is uipsecd running? (use -S PATH for another "
                "socket)");

  UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
  auto address = unix_address(dir.file("stale.ctl"));
  ASSERT_EQ(::bind(stale.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un)),
            0);
  client = ControlClient::connect(dir.file("stale.ctl"));
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().message().find("Connection refused — is uipsecd running?"),
            std::string::npos)
      << client.error().message();

  client = ControlClient::connect("/tmp/" + std::string(150, 'y'));
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().message().find("too long"), std::string::npos);
}

TEST(ControlClientErrors, TimesOutWhenTheDaemonDoesNotAnswer) {
  // Something listens (so connect succeeds) but never serves.
  TempDir dir;
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM, 0));
  auto address = unix_address(dir.file("stuck.ctl"));
  ASSERT_EQ(
      ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un)), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  ControlClientOptions options;
  options.timeout_ms = 200;
  auto client = ControlClient::connect(dir.file("stuck.ctl"), options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().message(), "no answer from uipsecd on " + dir.file("stuck.ctl") +
                                          " within 200 ms (hello); it may be stuck");
}

}  // namespace
}  // namespace uipsec

namespace uipsec {
namespace {

// What the daemon's IkeRelay does, recorded.
class RecordingGateway final : public IkeGateway {
 public:
  void handler_changed(bool registered) override { changes.push_back(registered); }
  Result<void> send_ike(const Endpoint& local, const Endpoint& remote, ByteSpan payload) override {
    if (local.port != 4500 && local.port != 500) return Error("local.port: not ours");
    sent.push_back(IkeMessage{local, remote, {payload.begin(), payload.end()}});
    return {};
  }
  std::vector<bool> changes;
  std::vector<IkeMessage> sent;
};

class ControlServerIkeTest : public ControlServerTest {
 protected:
  void SetUp() override {
    start();
    server_->set_ike_gateway(&gateway_);
  }
  RecordingGateway gateway_;
};

Endpoint endpoint(const char* address, std::uint16_t port) { return Endpoint{addr(address), port}; }

TEST_F(ControlServerIkeTest, OneHandlerAtATimeUntilItsConnectionCloses) {
  auto first = std::make_unique<RawClient>(path_);
  RawClient second(path_);
  EXPECT_EQ(server_->deliver_ike(endpoint("198.18.0.1", 500), endpoint("198.18.0.2", 500),
                                 std::vector<std::uint8_t>{1}),
            IkeDelivery::kNoHandler);
  EXPECT_TRUE(ask(*first, 1, "ike.register")["ok"].get<bool>());
  EXPECT_TRUE(ask(*first, 2, "ike.register")["ok"].get<bool>()) << "again: still the handler";
  const Json refused = ask(second, 1, "ike.register");
  EXPECT_FALSE(refused["ok"].get<bool>());
  EXPECT_NE(refused["error"].get<std::string>().find("is the IKE handler; only one may register"),
            std::string::npos)
      << refused.dump();
  EXPECT_EQ(gateway_.changes, (std::vector<bool>{true}));
  EXPECT_TRUE(server_->ike_handler_registered());

  first.reset();  // the connection closes: the registration ends
  watcher_.drain();
  EXPECT_FALSE(server_->ike_handler_registered());
  EXPECT_EQ(gateway_.changes, (std::vector<bool>{true, false}));
  EXPECT_TRUE(ask(second, 2, "ike.register")["ok"].get<bool>());
  EXPECT_TRUE(ask(second, 3, "ike.register", {{"register", false}})["ok"].get<bool>());
  EXPECT_EQ(gateway_.changes, (std::vector<bool>{true, false, true, false}));
}

TEST_F(ControlServerIkeTest, MessagesGoToTheHandlerOnlyAsHex) {
  RawClient handler(path_), monitor(path_);
  EXPECT_TRUE(ask(monitor, 1, "monitor")["ok"].get<bool>());
  EXPECT_TRUE(ask(handler, 1, "ike.register")["ok"].get<bool>());
  EXPECT_EQ(server_->deliver_ike(endpoint("2001:db8::1", 4500), endpoint("2001:db8::9", 31000),
                                 std::vector<std::uint8_t>{0xde, 0xad, 0x01}),
            IkeDelivery::kDelivered);
  watcher_.drain();
  const auto messages = handler.receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], (Json{{"event", "ike.message"},
                               {"local", {{"address", "2001:db8::1"}, {"port", 4500}}},
                               {"remote", {{"address", "2001:db8::9"}, {"port", 31000}}},
                               {"payload", "dead01"}}));
  auto parsed = parse_ike_message_event(messages[0]);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->payload, (std::vector<std::uint8_t>{0xde, 0xad, 0x01}));
  EXPECT_EQ(parsed->remote, endpoint("2001:db8::9", 31000));
  EXPECT_TRUE(monitor.receive().empty()) << "IKE payloads go to the handler only";
}

TEST_F(ControlServerIkeTest, AHandlerThatDoesNotReadLosesMessagesNotMemory) {
  options_.max_queued_messages = 8;
  stop();
  start();
  server_->set_ike_gateway(&gateway_);
  RawClient handler(path_);
  EXPECT_TRUE(ask(handler, 1, "ike.register")["ok"].get<bool>());
  // Nothing is read: the socket buffer fills first, then the queue's 8 messages.
  const std::vector<std::uint8_t> payload(8000, 0x5a);
  std::size_t delivered = 0, full = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto d =
        server_->deliver_ike(endpoint("198.18.0.1", 500), endpoint("198.18.0.2", 500), payload);
    (d == IkeDelivery::kDelivered ? delivered : full) += 1;
  }
  EXPECT_GT(full, 0u);
  EXPECT_GT(delivered, 8u);
  for (const auto& c : server_->clients()) EXPECT_LE(c.queued_messages, 8u);
}

TEST_F(ControlServerIkeTest, SendGoesThroughTheGatewayAndErrorsComeBack) {
  RawClient client(path_);
  const Json ok = ask(client, 1, "ike.send",
                      {{"local", {{"address", "198.18.0.1"}, {"port", 4500}}},
                       {"remote", {{"address", "198.18.0.2"}, {"port", 4500}}},
                       {"payload", "0A0b0c"}});
  EXPECT_TRUE(ok["ok"].get<bool>()) << ok.dump();
  ASSERT_EQ(gateway_.sent.size(), 1u);
  EXPECT_EQ(gateway_.sent[0].payload, (std::vector<std::uint8_t>{0x0a, 0x0b, 0x0c}));
  EXPECT_EQ(gateway_.sent[0].remote, endpoint("198.18.0.2", 4500));

  Json bad = ask(client, 2, "ike.send",
                 {{"local", {{"address", "198.18.0.1"}, {"port", 4501}}},
                  {"remote", {{"address", "198.18.0.2"}, {"port", 4500}}},
                  {"payload", "00"}});
  EXPECT_EQ(bad["error"], "local.port: not ours");
  bad = ask(client, 3, "ike.send",
            {{"local", {{"address", "198.18.0.1"}, {"port", 500}}},
             {"remote", {{"address", "198.18.0.2"}, {"port", 500}}},
             {"payload", "0g"}});
  EXPECT_NE(bad["error"].get<std::string>().find("args.payload: "), std::string::npos)
      << bad.dump();
  EXPECT_EQ(gateway_.sent.size(), 1u);
}

TEST_F(ControlServerTest, WithoutAGatewayIkeOpsAreRefused) {
  start();
  RawClient client(path_);
  EXPECT_EQ(ask(client, 1, "ike.register")["error"], "this uipsecd does not relay IKE");
}

}  // namespace
}  // namespace uipsec

namespace uipsec {
namespace {

// What the daemon's VirtualIps does, in memory.
class FakeAddressGateway final : public AddressGateway {
 public:
  Result<void> add_address(const IpAddress& address) override {
    if (address == addr("198.18.99.99")) return Error("cannot add 198.18.99.99: refused");
    for (const auto& a : addresses) {
      if (a.address == address) return {};
    }
    addresses.push_back(
        DeviceAddress{address, static_cast<std::uint8_t>(address.is_v4() ? 32 : 128), true});
    return {};
  }
  Result<void> remove_address(const IpAddress& address) override {
    for (auto it = addresses.begin(); it != addresses.end(); ++it) {
      if (it->address != address) continue;
      if (!it->ours) return Error("not ours");
      addresses.erase(it);
      return {};
    }
    return Error(address.to_string() + " is not on tun0");
  }
  Result<std::vector<DeviceAddress>> list_addresses() override { return addresses; }
  std::vector<DeviceAddress> addresses{{addr("198.18.0.1"), 24, false}};
};

TEST_F(ControlServerTest, AddressOpsGoThroughTheGateway) {
  start();
  FakeAddressGateway gateway;
  server_->set_address_gateway(&gateway);
  RawClient client(path_);
  Json answer = ask(client, 1, "address.add", {{"address", "198.18.50.1/32"}});
  EXPECT_TRUE(answer["ok"].get<bool>()) << answer.dump();
  answer = ask(client, 2, "address.add", {{"address", "2001:db8::50"}});
  EXPECT_TRUE(answer["ok"].get<bool>()) << answer.dump();
  answer = ask(client, 3, "address.list");
  ASSERT_TRUE(answer["ok"].get<bool>()) << answer.dump();
  EXPECT_EQ(answer["result"], Json::parse(R"([{"address": "198.18.0.1/24", "ours": false},
      {"address": "198.18.50.1/32", "ours": true}, {"address": "2001:db8::50/128", "ours": true}])"));

  answer = ask(client, 4, "address.add", {{"address", "198.18.50.0/24"}});
  EXPECT_EQ(answer["error"],
            "args.address: a virtual IP is a single address (/32), got "
            "\"198.18.50.0/24\"");
  answer = ask(client, 5, "address.add", {{"address", "198.18.99.99"}});
  EXPECT_EQ(answer["error"], "cannot add 198.18.99.99: refused");
  answer = ask(client, 6, "address.delete", {{"address", "198.18.0.1"}});
  EXPECT_EQ(answer["error"], "not ours");
  answer = ask(client, 7, "address.delete", {{"address", "198.18.50.1/32"}});
  EXPECT_TRUE(answer["ok"].get<bool>()) << answer.dump();
  answer = ask(client, 8, "address.delete", {{"address", "198.18.50.1"}});
  EXPECT_EQ(answer["error"], "198.18.50.1 is not on tun0");
  EXPECT_EQ(gateway.addresses.size(), 2u);
}

TEST_F(ControlServerTest, WithoutAGatewayAddressOpsAreRefused) {
  start();
  RawClient client(path_);
  EXPECT_EQ(ask(client, 1, "address.list")["error"],
            "this uipsecd does not manage addresses on its TUN device");
  EXPECT_EQ(ask(client, 2, "address.add", {{"address", "198.18.50.1"}})["error"],
            "this uipsecd does not manage addresses on its TUN device");
}

}  // namespace
}  // namespace uipsec
