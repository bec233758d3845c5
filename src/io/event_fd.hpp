// EventFd: a Linux eventfd, for waking a thread that sleeps in epoll_wait (a stop request, work
// handed over through a queue). Non-blocking, close-on-exec.
#pragma once

#include <cstdint>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace uipsec {

// Owner: signal() may be called from any thread; drain() by the thread that polls fd().
class EventFd {
 public:
  static Result<EventFd> create();

  // Readable while signalled.
  int fd() const { return fd_.get(); }
  // Makes fd() readable. Never blocks; signals coalesce.
  void signal() const;
  // Clears the signal; returns how many signal() calls it absorbed (0 when none was pending).
  std::uint64_t drain() const;

 private:
  explicit EventFd(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace uipsec
