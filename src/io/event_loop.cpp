#include "io/event_loop.hpp"

#include <cerrno>
#include <string>

#include "base/system_error.hpp"

namespace uipsec {

namespace {

constexpr int kMaxEventsPerWait = 64;

// epoll's user data: the registration id in the high half (so an event for a descriptor that
// was removed and reused within the same round is recognised as stale), the fd in the low half.
std::uint64_t pack(std::uint32_t id, int fd) {
  return (std::uint64_t{id} << 32) | static_cast<std::uint32_t>(fd);
}

}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return system_error("cannot create an epoll instance", errno);
  auto wake = EventFd::create();
  if (!wake.ok()) return wake.error();
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = pack(0, wake->fd());
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake->fd(), &event) != 0) {
    return system_error("cannot watch the event loop's wake-up eventfd", errno);
  }
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(epoll), std::move(*wake)));
}

Result<void> EventLoop::add(int fd, std::uint32_t events, Callback callback) {
  if (registrations_.count(fd) != 0) {
    return Error("event loop: descriptor " + std::to_string(fd) + " is watched already");
  }
  const std::uint32_t id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  epoll_event event{};
  event.events = events;
  event.data.u64 = pack(id, fd);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return system_error("event loop: cannot watch descriptor " + std::to_string(fd), errno);
  }
  registrations_.emplace(fd, Registration{id, std::make_shared<Callback>(std::move(callback))});
  return {};
}

Result<void> EventLoop::modify(int fd, std::uint32_t events) {
  auto it = registrations_.find(fd);
  if (it == registrations_.end()) {
    return Error("event loop: descriptor " + std::to_string(fd) + " is not watched");
  }
  epoll_event event{};
  event.events = events;
  event.data.u64 = pack(it->second.id, fd);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) != 0) {
    return system_error("event loop: cannot change events of descriptor " + std::to_string(fd),
                        errno);
  }
  return {};
}

Result<void> EventLoop::remove(int fd) {
  auto it = registrations_.find(fd);
  if (it == registrations_.end()) {
    return Error("event loop: descriptor " + std::to_string(fd) + " is not watched");
  }
  registrations_.erase(it);
  // A descriptor closed before its removal has left the epoll set already (EBADF / ENOENT).
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != EBADF &&
      errno != ENOENT) {
    return system_error("event loop: cannot stop watching descriptor " + std::to_string(fd), errno);
  }
  return {};
}

Result<std::size_t> EventLoop::run_once(int timeout_ms) {
  epoll_event events[kMaxEventsPerWait];
  const int n = ::epoll_wait(epoll_.get(), events, kMaxEventsPerWait, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return std::size_t{0};
    return system_error("event loop: epoll_wait failed", errno);
  }
  std::size_t ran = 0;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t data = events[i].data.u64;
    const auto id = static_cast<std::uint32_t>(data >> 32);
    const auto fd = static_cast<int>(static_cast<std::uint32_t>(data));
    if (id == 0) {
      wake_.drain();
      continue;
    }
    auto it = registrations_.find(fd);
    if (it == registrations_.end() || it->second.id != id) continue;  // removed this round
    const std::shared_ptr<Callback> callback = it->second.callback;
    (*callback)(events[i].events);
    ++ran;
  }
  return ran;
}

Result<void> EventLoop::run() {
  while (!stop_requested_.exchange(false, std::memory_order_acq_rel)) {
    auto ran = run_once(-1);
    if (!ran.ok()) return ran.error();
  }
  return {};
}

void EventLoop::stop() {
  stop_requested_.store(true, std::memory_order_release);
  wake_.signal();
}

}  // namespace uipsec
