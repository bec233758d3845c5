#include "io/event_fd.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "base/system_error.hpp"

namespace uipsec {

Result<EventFd> EventFd::create() {
  UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd) return system_error("cannot create an eventfd", errno);
  return EventFd(std::move(fd));
}

void EventFd::signal() const {
  const std::uint64_t one = 1;
  ssize_t n;
  do {
    n = ::write(fd_.get(), &one, sizeof(one));
  } while (n < 0 && errno == EINTR);
  // EAGAIN means the counter is at its maximum: it is signalled already, which is all we want.
}

std::uint64_t EventFd::drain() const {
  std::uint64_t value = 0;
  ssize_t n;
  do {
    n = ::read(fd_.get(), &value, sizeof(value));
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(value)) ? value : 0;
}

}  // namespace uipsec
