#include "control/unix_socket.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace uipsec {

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty()) return Error("control socket path is empty");
  if (path.size() >= sizeof(address.sun_path)) {
    return Error("control socket path " + path + " is too long (" + std::to_string(path.size()) +
                 " bytes; a Unix socket path holds at most " +
                 std::to_string(sizeof(address.sun_path) - 1) + ")");
  }
  if (path.find('\0') != std::string::npos) {
    return Error("control socket path contains a NUL byte");
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

Result<PeerCredentials> peer_credentials(int fd) {
  ucred credentials{};
  socklen_t size = sizeof(credentials);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) {
    return Error("cannot read the peer's credentials (SO_PEERCRED): " + errno_text(errno));
  }
  return PeerCredentials{credentials.pid, credentials.uid, credentials.gid};
}

Result<std::size_t> send_some(int fd, std::string_view data) {
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n =
        ::send(fd, data.data() + written, data.size() - written, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return Error("write to control connection failed: " + errno_text(n < 0 ? errno : EPIPE));
  }
  return written;
}

}  // namespace uipsec
