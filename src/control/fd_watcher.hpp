// FdWatcher: the one thing the control server needs from an event loop — "call me when this
// descriptor is readable or writable". The daemon adapts its epoll loop (io/event_loop.hpp) to
// it; tests use a poll() loop. Keeping it this small keeps control independent of io.
#pragma once

#include <functional>

namespace uipsec {

class FdWatcher {
 public:
  // Called with what the descriptor is ready for. Error and hang-up conditions must be reported
  // as readable (the owner then reads 0 bytes or an error and closes).
  using Callback = std::function<void(bool readable, bool writable)>;

  virtual ~FdWatcher() = default;

  // Starts watching `fd`, or changes what is watched and the callback when it is watched already.
  // Level-triggered: the callback runs on every loop iteration while the condition holds.
  // Neither flag set: registered but quiet.
  virtual void watch(int fd, bool readable, bool writable, Callback callback) = 0;
  // Stops watching `fd`; no callback for it runs afterwards (also not later in the same loop
  // iteration). Callbacks may call watch() and unwatch() — for any descriptor, including their
  // own — so an implementation must keep a running callback alive until it returns.
  virtual void unwatch(int fd) = 0;
};

}  // namespace uipsec
