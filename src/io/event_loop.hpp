// EventLoop: a thin, level-triggered epoll loop for the control thread and for workers that sleep
// while there is nothing to do — callbacks per file descriptor, run until stop(). No busy
// polling: with nothing ready the thread sleeps in epoll_wait.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "io/event_fd.hpp"

namespace uipsec {

// Owner: one thread calls everything except stop(), which any thread may call.
class EventLoop {
 public:
  // Called with the ready events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP...). A callback may add,
  // modify or remove any registration, its own included; a removed descriptor's pending events
  // of the same round are not delivered.
  using Callback = std::function<void(std::uint32_t events)>;

  static Result<std::unique_ptr<EventLoop>> create();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` (not owned; must stay open until removed) for `events` (EPOLLIN, EPOLLOUT...).
  Result<void> add(int fd, std::uint32_t events, Callback callback);
  Result<void> modify(int fd, std::uint32_t events);
  Result<void> remove(int fd);
  bool contains(int fd) const { return registrations_.count(fd) != 0; }

  // Waits up to `timeout_ms` (-1: forever, 0: just look) and runs the callbacks of what is
  // ready. Returns how many callbacks ran; a stop() wake-up alone runs none.
  Result<std::size_t> run_once(int timeout_ms);
  // Runs until stop(). A stop() that came before run() makes it return at once.
  Result<void> run();
  // Makes run() return after the callbacks of the current round. Thread-safe.
  void stop();

 private:
  struct Registration {
    std::uint32_t id;
    std::shared_ptr<Callback> callback;  // shared: survives its own removal while it runs
  };

  EventLoop(UniqueFd epoll, EventFd wake) : epoll_(std::move(epoll)), wake_(std::move(wake)) {}

  UniqueFd epoll_;
  EventFd wake_;
  std::atomic<bool> stop_requested_{false};
  std::uint32_t next_id_ = 1;  // 0 marks the wake-up eventfd
  std::unordered_map<int, Registration> registrations_;
};

}  // namespace uipsec
