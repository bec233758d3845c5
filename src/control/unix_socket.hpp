// The Unix stream socket plumbing the control server and client share: an owned descriptor,
// socket addresses, peer credentials, and whole-frame writes. (base/ has no descriptor type yet
// and control may not use io/; this one stays private to control.)
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/system_error.hpp"
#include "base/unique_fd.hpp"

namespace uipsec {

// The address of a filesystem socket; fails when `path` does not fit sun_path (107 bytes).
Result<sockaddr_un> unix_address(const std::string& path);

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
// SO_PEERCRED of a connected Unix socket: who connected (as of connect()).
Result<PeerCredentials> peer_credentials(int fd);

// Writes as much of `data` as the socket takes now (non-blocking, no SIGPIPE). Returns the bytes
// written (0 when the socket is full), or an error when the peer is gone.
Result<std::size_t> send_some(int fd, std::string_view data);

}  // namespace uipsec
