// Test fixtures for the control socket: a poll() implementation of FdWatcher that tests drive
// one round at a time, a raw protocol client that sends exactly the bytes a test wants, a
// temporary directory, and a thread that runs a PollWatcher for tests of the blocking client.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control/codec.hpp"
#include "control/fd_watcher.hpp"
#include "control/frame_reader.hpp"
#include "control/unix_socket.hpp"

namespace uipsec::test {

// Level-triggered poll() loop. Callbacks are held by shared_ptr so that one may unwatch (and so
// destroy the registration of) its own descriptor while it runs.
class PollWatcher final : public FdWatcher {
 public:
  void watch(int fd, bool readable, bool writable, Callback callback) override {
    entries_[fd] = Entry{readable, writable, std::make_shared<Callback>(std::move(callback))};
  }
  void unwatch(int fd) override { entries_.erase(fd); }

  bool watching(int fd) const { return entries_.count(fd) != 0; }
  bool watching_readable(int fd) const {
    auto it = entries_.find(fd);
    return it != entries_.end() && it->second.readable;
  }

  // One poll() (waiting up to timeout_ms; -1 forever), then the callbacks of the ready
  // descriptors. Returns how many callbacks ran.
  int run_once(int timeout_ms) {
    std::vector<pollfd> fds;
    fds.reserve(entries_.size());
    for (const auto& [fd, e] : entries_) {
      fds.push_back(pollfd{
          fd, static_cast<short>((e.readable ? POLLIN : 0) | (e.writable ? POLLOUT : 0)), 0});
    }
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready <= 0) return 0;
    int ran = 0;
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      auto it = entries_.find(p.fd);
      if (it == entries_.end()) continue;  // unwatched by an earlier callback of this round
      const std::shared_ptr<Callback> callback = it->second.callback;
      (*callback)((p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0,
                  (p.revents & POLLOUT) != 0);
      ++ran;
    }
    return ran;
  }

  // Runs rounds without waiting until nothing is ready: everything the peers sent so far has
  // been handled and everything the sockets take has been written.
  void drain() {
    for (int round = 0; round < 100000; ++round) {
      if (run_once(0) == 0) return;
    }
    ADD_FAILURE() << "the loop never went idle";
  }

 private:
  struct Entry {
    bool readable = false;
    bool writable = false;
    std::shared_ptr<Callback> callback;
  };
  std::map<int, Entry> entries_;
};

// A directory under /tmp removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/uipsec-control-XXXXXX";
    if (::mkdtemp(name) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Speaks the protocol byte by byte: what it sends is up to the test; it reads without blocking.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto address = unix_address(path);
    EXPECT_TRUE(address.ok());
    connected_ = address.ok() && ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&*address),
                                           sizeof(sockaddr_un)) == 0;
  }

  bool connected() const { return connected_; }
  int fd() const { return fd_.get(); }

  void send_bytes(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        ADD_FAILURE() << "send failed";
        return;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void send_json(const Json& message) {
    auto frame = encode_frame(message);
    ASSERT_TRUE(frame.ok());
    send_bytes(*frame);
  }
  void send_request(std::uint64_t id, std::string_view op, Json args = Json::object()) {
    send_json(Json{{"id", id}, {"op", op}, {"args", std::move(args)}});
  }
  void shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

  // Every whole message that has arrived (non-blocking); sets closed() at end of stream.
  std::vector<Json> receive() {
    std::vector<Json> out;
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n > 0) {
        reader_.append(std::string_view(buffer, static_cast<std::size_t>(n)));
        continue;
      }
      if (n == 0 || (n < 0 && errno == ECONNRESET)) closed_ = true;
      break;
    }
    for (;;) {
      auto frame = reader_.next();
      if (!frame.ok() || !frame->has_value()) break;
      auto json = parse_json(**frame);
      EXPECT_TRUE(json.ok()) << **frame;
      if (json.ok()) out.push_back(std::move(*json));
    }
    return out;
  }
  bool closed() const { return closed_; }

 private:
  UniqueFd fd_;
  bool connected_ = false;
  FrameReader reader_;
  bool closed_ = false;
};

// Runs a PollWatcher on its own thread, for tests of the blocking ControlClient. Everything the
// loop owns (server, backend) must be touched only through run() once the thread is started.
class LoopThread {
 public:
  explicit LoopThread(PollWatcher& watcher) : watcher_(watcher) {
    wake_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    watcher_.watch(wake_.get(), true, false, [this](bool, bool) {
      std::uint64_t ignored = 0;
      (void)!::read(wake_.get(), &ignored, sizeof(ignored));
    });
  }
  ~LoopThread() {
    stop();
    watcher_.unwatch(wake_.get());
  }

  // Called on the loop thread after every round (e.g. to push events once a client subscribed).
  void set_after_round(std::function<void()> hook) { after_round_ = std::move(hook); }

  void start() {
    thread_ = std::thread([this] {
      while (!stopping_) {
        watcher_.run_once(-1);
        run_tasks();
        if (after_round_) after_round_();
      }
    });
  }

  void stop() {
    if (!thread_.joinable()) return;
    run([this] { stopping_ = true; });
    thread_.join();
  }

  // Runs `task` on the loop thread and waits for it.
  void run(std::function<void()> task) {
    if (!thread_.joinable()) {
      task();
      return;
    }
    std::promise<void> done;
    auto finished = done.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back([&] {
        task();
        done.set_value();
      });
    }
    const std::uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
    finished.wait();
  }

 private:
  void run_tasks() {
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t();
  }

  PollWatcher& watcher_;
  UniqueFd wake_;
  std::thread thread_;
  bool stopping_ = false;  // loop thread only
  std::function<void()> after_round_;
  std::mutex mutex_;
  std::vector<std::function<void()>> tasks_;
};

}  // namespace uipsec::test
