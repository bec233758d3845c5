// Per connection:
//   accept -> SO_PEERCRED check (root or our euid, else an error frame and close)
//   readable -> one recv() into the FrameReader (only while the outbound queue has room)
//   serve: while the queue is under half full, take the next complete frame, decode it, run it
//          against the backend, queue the answer (a list answer is queued chunk by chunk)
//   flush: write what the socket takes; the rest waits for writable
//   monitor events: queued only if they fit, else counted; the overflow marker goes first when
//          room returns
//   protocol errors (bad length, not JSON, too deep, no id, a truncated last frame): an error
//          frame without id, then close
#include "control/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <exception>
#include <optional>
#include <utility>

#include "control/frame_reader.hpp"

namespace uipsec {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int kListenBacklog = 64;
constexpr int kAcceptsPerWakeup = 16;

std::shared_ptr<const std::string> frame_of(const Json& message) {
  auto frame = encode_frame(message);
  if (!frame) return nullptr;
  return std::make_shared<const std::string>(std::move(*frame));
}

// Sends an error frame without an id on a connection that is about to be closed; best effort.
void refuse(int fd, const std::string& message) {
  Response response;
  response.ok = false;
  response.error = message;
  if (auto frame = encode_frame(to_json(response)); frame.ok()) {
    (void)send_some(fd, *frame);
  }
}

std::string bind_hint(int err) {
  switch (err) {
    case ENOENT:
      return " (does the directory exist?)";
    case EACCES:
    case EPERM:
      return " (no permission to create files in its directory)";
    case EADDRINUSE:
      return " (something was created at that path meanwhile)";
    default:
      return "";
  }
}

// A list answer being sent a chunk at a time.
struct ListAnswer {
  std::uint64_t id = 0;
  KeyDisclosure keys = KeyDisclosure::kOmit;
  std::vector<SaInfo> sas;
  std::vector<PolicyInfo> policies;
  bool of_sas = true;
  std::size_t next = 0;
  std::size_t size() const { return of_sas ? sas.size() : policies.size(); }
};

}  // namespace

struct ControlServer::Client {
  Client(UniqueFd socket, PeerCredentials credentials, std::size_t max_request_size)
      : fd(std::move(socket)), peer(credentials), reader(max_request_size) {}

  UniqueFd fd;
  PeerCredentials peer;
  FrameReader reader;
  std::deque<std::shared_ptr<const std::string>> out;
  std::size_t out_offset = 0;  // bytes of out.front() already written
  std::size_t out_bytes = 0;   // queued bytes not yet written
  std::optional<ListAnswer> list;
  bool monitoring = false;
  std::uint64_t lost = 0;  // monitor messages dropped since the last overflow marker
  bool eof = false;        // the peer will send nothing more
  bool dead = false;       // close at the end of this callback
  bool watched = false;
  bool watching_read = false;
  bool watching_write = false;
};

Result<std::unique_ptr<ControlServer>> ControlServer::listen(IpsecBackend& backend,
                                                             FdWatcher& watcher,
                                                             const std::string& path,
                                                             ControlServerOptions options) {
  auto address = unix_address(path);
  if (!address) return address.error();
  const auto* sockaddr_ptr = reinterpret_cast<const sockaddr*>(&*address);

  // A socket file already there: a live daemon (refuse) or one that died (replace).
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error(path + " exists and is not a socket; refusing to replace it (remove it or use " +
                   "another control socket path)");
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!probe) return Error("cannot create a Unix socket: " + errno_text(errno));
    const int rc = ::connect(probe.get(), sockaddr_ptr, sizeof(sockaddr_un));
    const int err = errno;
    if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
      return Error("another uipsecd is already listening on " + path +
                   " (stop it first, or use another control socket path)");
    }
    if (err != ECONNREFUSED) {
      return Error("cannot tell whether " + path + " is in use: " + errno_text(err));
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Error("cannot remove the stale control socket " + path + ": " + errno_text(errno));
    }
  } else if (errno != ENOENT) {
    return Error("cannot check " + path + ": " + errno_text(errno));
  }

  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener) return Error("cannot create a Unix socket: " + errno_text(errno));
  // Linux gives the new socket file the socket inode's mode masked by the umask: both are
  // narrowed to 0600 so the file never exists, even briefly, with wider permissions.
  if (::fchmod(listener.get(), 0600) != 0) {
    return Error("cannot set the control socket's mode: " + errno_text(errno));
  }
  const mode_t previous_umask = ::umask(0177);
  const int bound = ::bind(listener.get(), sockaddr_ptr, sizeof(sockaddr_un));
  const int bind_errno = errno;
  ::umask(previous_umask);
  if (bound != 0) {
    return Error("cannot create the control socket " + path + ": " + errno_text(bind_errno) +
                 bind_hint(bind_errno));
  }
  if (::listen(listener.get(), kListenBacklog) != 0 || ::lstat(path.c_str(), &st) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return Error("cannot listen on the control socket " + path + ": " + errno_text(err));
  }

  // Limits that would make the server unable to work are raised to the least that works.
  options.max_request_size = std::min(options.max_request_size, kMaxMessageSize);
  options.max_queued_messages = std::max<std::size_t>(options.max_queued_messages, 2);
  options.max_queued_bytes = std::max<std::size_t>(options.max_queued_bytes, 2);
  options.list_chunk_size = std::max<std::size_t>(options.list_chunk_size, 1);

  std::unique_ptr<ControlServer> server(new ControlServer(
      backend, watcher, path, std::move(options), std::move(listener), st.st_dev, st.st_ino));
  ControlServer* self = server.get();
  watcher.watch(self->listener_.get(), true, false,
                [self](bool, bool) { self->on_listener_ready(); });
  return server;
}

ControlServer::ControlServer(IpsecBackend& backend, FdWatcher& watcher, std::string path,
                             ControlServerOptions options, UniqueFd listener, dev_t device,
                             ino_t inode)
    : backend_(backend),
      watcher_(watcher),
      path_(std::move(path)),
      options_(std::move(options)),
      default_replay_window_(options_.default_replay_window),
      listener_(std::move(listener)),
      device_(device),
      inode_(inode) {}

ControlServer::~ControlServer() {
  for (const auto& [fd, client] : clients_) watcher_.unwatch(fd);
  clients_.clear();
  watcher_.unwatch(listener_.get());
  listener_.reset();
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == device_ && st.st_ino == inode_) {
    ::unlink(path_.c_str());
  }
}

std::vector<ControlServer::ClientInfo> ControlServer::clients() const {
  std::vector<ClientInfo> out;
  out.reserve(clients_.size());
  for (const auto& [fd, c] : clients_) {
    out.push_back(ClientInfo{fd, c->peer.pid, c->peer.uid, c->monitoring, c->out_bytes,
                             c->out.size(), c->lost});
  }
  return out;
}

// --- Accepting ----------------------------------------------------------------------------------

void ControlServer::on_listener_ready() {
  try {
    for (int i = 0; i < kAcceptsPerWakeup; ++i) {
      UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // The pending connection stays readable; stop looking until a client leaves instead
          // of spinning on it.
          accepting_ = false;
          watcher_.watch(listener_.get(), false, false,
                         [this](bool, bool) { on_listener_ready(); });
        }
        return;
      }
      auto peer = peer_credentials(fd.get());
      if (!peer) {
        refuse(fd.get(), peer.error().message());
        continue;
      }
      const uid_t self = ::geteuid();
      if (peer->uid != 0 && peer->uid != self) {
        refuse(fd.get(), "permission denied: uid " + std::to_string(peer->uid) +
                             " may not use uipsecd's control socket (only root" +
                             (self == 0 ? std::string() : " and uid " + std::to_string(self)) +
                             " may)");
        continue;
      }
      if (clients_.size() >= options_.max_clients) {
        refuse(fd.get(), "too many control connections (" + std::to_string(options_.max_clients) +
                             "); try again later");
        continue;
      }
      const int raw = fd.get();
      auto client = std::make_unique<Client>(std::move(fd), *peer, options_.max_request_size);
      Client& c = *client;
      clients_.emplace(raw, std::move(client));
      update_interest(c);
    }
  } catch (const std::exception&) {
    // Out of memory while accepting: the connection (if any) was closed; try again next time.
  }
}

// --- One connection -----------------------------------------------------------------------------

void ControlServer::on_client_ready(int fd, bool readable, bool) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  serving_fd_ = fd;
  try {
    if (readable) read_from(c);
    if (!c.dead) serve(c);
  } catch (const std::exception&) {
    c.dead = true;
  }
  serving_fd_ = -1;
  if (c.dead) {
    close_client(fd);
  } else {
    update_interest(c);
  }
}

void ControlServer::read_from(Client& c) {
  // A hang-up is reported as readable even when reading is paused; the pending writes find out.
  if (c.eof || c.list || !has_room(c)) return;
  char buffer[kReadChunk];
  const ssize_t n = ::recv(c.fd.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n > 0) {
    c.reader.append(std::string_view(buffer, static_cast<std::size_t>(n)));
  } else if (n == 0) {
    c.eof = true;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    c.dead = true;
  }
}

void ControlServer::serve(Client& c) {
  for (;;) {
    // Requests and list chunks while the queue is under half full.
    bool starved = false;
    while (!c.dead && !starved) {
      if (c.list) {
        pump_list(c);
        if (c.list) break;
      }
      if (!has_room(c)) break;
      auto frame = c.reader.next();
      if (!frame.ok()) {
        fail(c, "protocol error: " + frame.error().message());
      } else if (!frame->has_value()) {
        starved = true;
      } else {
        handle_frame(c, **frame);
      }
    }
    if (c.dead) return;
    if (!flush(c)) {
      c.dead = true;
      return;
    }
    if (c.lost > 0 && enqueue_overflow(c) && !flush(c)) {
      c.dead = true;
      return;
    }
    if (starved && !c.list) {
      if (c.eof) {
        if (c.reader.partial_bytes() > 0) {
          fail(c, "protocol error: connection closed in the middle of a frame (" +
                      c.reader.describe_partial() + ")");
        } else if (c.out.empty()) {
          c.dead = true;  // the peer sends nothing more and has every answer
        }
      }
      return;
    }
    if (!c.out.empty()) return;  // the socket is full: writable brings us back
  }
}

void ControlServer::handle_frame(Client& c, const std::string& body) {
  auto envelope = parse_request_envelope(body);
  if (!envelope) {
    fail(c, "protocol error: " + envelope.error().message());
    return;
  }
  auto request = decode_request(*envelope);
  if (!request) {
    respond_error(c, envelope->id, request.error().message());
    return;
  }
  execute(c, *request);
}

void ControlServer::execute(Client& c, Request& request) {
  const std::uint64_t id = request.id;
  const auto reply = [&](Result<Json> result) {
    if (!result) {
      respond_error(c, id, result.error().message());
      return;
    }
    Response response;
    response.id = id;
    response.result = std::move(*result);
    respond(c, std::move(response));
  };
  const auto done = [&](const Result<void>& result) {
    reply(result.ok() ? Result<Json>(Json(nullptr)) : Result<Json>(result.error()));
  };
  const auto count = [&](const Result<std::size_t>& result) {
    reply(result.ok() ? Result<Json>(Json{{"flushed", *result}}) : Result<Json>(result.error()));
  };

  switch (request.op) {
    case Op::kHello: {
      const auto& args = std::get<HelloArgs>(request.args);
      if (args.protocol != kControlProtocolVersion) {
        respond_error(c, id,
                      "uipsecd speaks control protocol " + std::to_string(kControlProtocolVersion) +
                          ", the client speaks " + std::to_string(args.protocol) +
                          "; use the uipsec command of the same release as uipsecd");
        return;
      }
      reply(to_json(
          HelloResult{kControlProtocolVersion, options_.daemon_version, default_replay_window_}));
      return;
    }
    case Op::kSpiAllocate: {
      const auto& args = std::get<SpiAllocateArgs>(request.args);
      auto spi = backend_.allocate_spi(args.source, args.destination);
      reply(spi.ok() ? Result<Json>(Json{{"spi", spi->value()}}) : Result<Json>(spi.error()));
      return;
    }
    case Op::kSaAdd:
      done(backend_.add_sa(std::get<SaConfig>(request.args)));
      return;
    case Op::kSaUpdate: {
      const auto& args = std::get<SaUpdateArgs>(request.args);
      done(backend_.update_sa(args.id, args.endpoints));
      return;
    }
    case Op::kSaGet: {
      const auto& args = std::get<SaGetArgs>(request.args);
      auto info = backend_.query_sa(args.id, args.keys);
      reply(info.ok() ? Result<Json>(to_json(*info, args.keys)) : Result<Json>(info.error()));
      return;
    }
    case Op::kSaDelete:
      done(backend_.delete_sa(std::get<SaDeleteArgs>(request.args).id));
      return;
    case Op::kSaList: {
      const auto keys = std::get<SaListArgs>(request.args).keys;
      auto sas = backend_.list_sas(keys);
      if (!sas) {
        respond_error(c, id, sas.error().message());
        return;
      }
      c.list.emplace();
      c.list->id = id;
      c.list->keys = keys;
      c.list->sas = std::move(*sas);
      c.list->of_sas = true;
      pump_list(c);
      return;
    }
    case Op::kSaFlush:
      count(backend_.flush_sas());
      return;
    case Op::kPolicyAdd:
      done(backend_.add_policy(std::get<PolicyConfig>(request.args)));
      return;
    case Op::kPolicyUpdate:
      done(backend_.update_policy(std::get<PolicyConfig>(request.args)));
      return;
    case Op::kPolicyGet: {
      auto info = backend_.query_policy(std::get<PolicyIdArgs>(request.args).id);
      reply(info.ok() ? Result<Json>(to_json(*info)) : Result<Json>(info.error()));
      return;
    }
    case Op::kPolicyDelete:
      done(backend_.delete_policy(std::get<PolicyIdArgs>(request.args).id));
      return;
    case Op::kPolicyList: {
      auto policies = backend_.list_policies();
      if (!policies) {
        respond_error(c, id, policies.error().message());
        return;
      }
      c.list.emplace();
      c.list->id = id;
      c.list->policies = std::move(*policies);
      c.list->of_sas = false;
      pump_list(c);
      return;
    }
    case Op::kPolicyFlush:
      count(backend_.flush_policies());
      return;
    case Op::kStats: {
      auto stats = backend_.statistics();
      reply(stats.ok() ? Result<Json>(to_json(*stats)) : Result<Json>(stats.error()));
      return;
    }
    case Op::kMonitor: {
      c.monitoring = std::get<MonitorArgs>(request.args).subscribe;
      if (!c.monitoring) c.lost = 0;
      reply(Json(nullptr));
      return;
    }
    case Op::kIkeRegister:
      register_ike_handler(c, id, std::get<IkeRegisterArgs>(request.args).register_handler);
      return;
    case Op::kIkeSend: {
      if (ike_gateway_ == nullptr) {
        respond_error(c, id, "this uipsecd does not relay IKE");
        return;
      }
      const auto& args = std::get<IkeSendArgs>(request.args);
      done(ike_gateway_->send_ike(args.local, args.remote, args.payload));
      return;
    }
    case Op::kAddressAdd:
    case Op::kAddressDelete:
    case Op::kAddressList: {
      if (address_gateway_ == nullptr) {
        respond_error(c, id, "this uipsecd does not manage addresses on its TUN device");
        return;
      }
      if (request.op == Op::kAddressList) {
        auto addresses = address_gateway_->list_addresses();
        if (!addresses) {
          respond_error(c, id, addresses.error().message());
          return;
        }
        Json items = Json::array();
        for (const auto& address : *addresses) items.push_back(to_json(address));
        reply(Result<Json>(std::move(items)));
        return;
      }
      const IpAddress& address = std::get<AddressArgs>(request.args).address;
      done(request.op == Op::kAddressAdd ? address_gateway_->add_address(address)
                                         : address_gateway_->remove_address(address));
      return;
    }
  }
  respond_error(c, id, "op: not implemented");
}

void ControlServer::pump_list(Client& c) {
  const std::size_t chunk = options_.list_chunk_size;
  while (c.list && has_room(c)) {
    auto& list = *c.list;
    const std::size_t end = std::min(list.size(), list.next + chunk);
    Json items = Json::array();
    for (std::size_t i = list.next; i < end; ++i) {
      items.push_back(list.of_sas ? to_json(list.sas[i], list.keys) : to_json(list.policies[i]));
    }
    list.next = end;
    Response response;
    response.id = list.id;
    response.result = std::move(items);
    response.more = end < list.size();
    if (!response.more) c.list.reset();
    respond(c, std::move(response));
  }
}

bool ControlServer::has_room(const Client& c) const {
  return c.out_bytes < options_.max_queued_bytes / 2 &&
         c.out.size() < options_.max_queued_messages / 2;
}

void ControlServer::respond(Client& c, Response response) {
  auto frame = encode_frame(to_json(response));
  if (!frame) {
    respond_error(c, response.id, "answer too large: " + frame.error().message());
    return;
  }
  c.out_bytes += frame->size();
  c.out.push_back(std::make_shared<const std::string>(std::move(*frame)));
}

void ControlServer::respond_error(Client& c, std::optional<std::uint64_t> id,
                                  const std::string& message) {
  Response response;
  response.id = id;
  response.ok = false;
  response.error = message;
  respond(c, std::move(response));
}

void ControlServer::fail(Client& c, const std::string& message) {
  respond_error(c, std::nullopt, message);
  (void)flush(c);
  c.dead = true;
}

bool ControlServer::flush(Client& c) {
  while (!c.out.empty()) {
    const std::string& frame = *c.out.front();
    auto written = send_some(c.fd.get(), std::string_view(frame).substr(c.out_offset));
    if (!written) return false;
    c.out_offset += *written;
    c.out_bytes -= *written;
    if (c.out_offset < frame.size()) return true;
    c.out.pop_front();
    c.out_offset = 0;
  }
  return true;
}

void ControlServer::update_interest(Client& c) {
  const bool read = !c.eof && !c.list && has_room(c);
  const bool write = !c.out.empty();
  if (c.watched && read == c.watching_read && write == c.watching_write) return;
  const int fd = c.fd.get();
  watcher_.watch(fd, read, write, [this, fd](bool readable, bool writable) {
    on_client_ready(fd, readable, writable);
  });
  c.watched = true;
  c.watching_read = read;
  c.watching_write = write;
}

void ControlServer::register_ike_handler(Client& c, std::uint64_t id, bool register_handler) {
  if (ike_gateway_ == nullptr) {
    respond_error(c, id, "this uipsecd does not relay IKE");
    return;
  }
  const int fd = c.fd.get();
  if (!register_handler) {
    if (ike_handler_fd_ == fd) {
      ike_handler_fd_ = -1;
      ike_gateway_->handler_changed(false);
    }
    respond(c, Response{id, true, Json(nullptr), {}, false});
    return;
  }
  if (ike_handler_fd_ >= 0 && ike_handler_fd_ != fd) {
    const auto other = clients_.find(ike_handler_fd_);
    const std::string pid =
        other != clients_.end() ? " (pid " + std::to_string(other->second->peer.pid) + ")" : "";
    respond_error(c, id,
                  "another connection" + pid +
                      " is the IKE handler; only one may register at a time (its registration "
                      "ends when it closes its connection or sends ike.register with register: "
                      "false)");
    return;
  }
  if (ike_handler_fd_ != fd) {
    ike_handler_fd_ = fd;
    ike_gateway_->handler_changed(true);
  }
  respond(c, Response{id, true, Json(nullptr), {}, false});
}

IkeDelivery ControlServer::deliver_ike(const Endpoint& local, const Endpoint& remote,
                                       ByteSpan payload) {
  const auto it = clients_.find(ike_handler_fd_);
  if (ike_handler_fd_ < 0 || it == clients_.end() || it->second->dead) {
    return IkeDelivery::kNoHandler;
  }
  Client& c = *it->second;
  std::shared_ptr<const std::string> frame;
  try {
    frame = frame_of(ike_message_event(local, remote, payload));
  } catch (const std::exception&) {
    return IkeDelivery::kQueueFull;  // out of memory: as if there were no room
  }
  if (!frame || c.out_bytes + frame->size() > options_.max_queued_bytes ||
      c.out.size() >= options_.max_queued_messages) {
    return IkeDelivery::kQueueFull;
  }
  const bool was_idle = c.out.empty();
  c.out_bytes += frame->size();
  c.out.push_back(std::move(frame));
  if (was_idle && !flush(c)) {
    if (ike_handler_fd_ == serving_fd_) {
      c.dead = true;
    } else {
      close_client(ike_handler_fd_);
    }
    return IkeDelivery::kDelivered;  // queued before the connection broke
  }
  if (ike_handler_fd_ != serving_fd_) update_interest(c);
  return IkeDelivery::kDelivered;
}

void ControlServer::close_client(int fd) {
  if (fd == ike_handler_fd_) {
    ike_handler_fd_ = -1;
    if (ike_gateway_ != nullptr) ike_gateway_->handler_changed(false);
  }
  watcher_.unwatch(fd);
  clients_.erase(fd);
  if (!accepting_) {
    accepting_ = true;
    watcher_.watch(listener_.get(), true, false, [this](bool, bool) { on_listener_ready(); });
  }
}

// --- Monitor ------------------------------------------------------------------------------------

void ControlServer::on_event(const IpsecEvent& event) {
  try {
    if (auto frame = frame_of(to_json(event))) broadcast(frame);
  } catch (const std::exception&) {
    // Out of memory: subscribers miss this event. Nothing may escape into the backend's tick().
  }
}

Result<void> ControlServer::publish(const Json& message) {
  if (!message.is_object() || !message.contains("event") || !message["event"].is_string()) {
    return Error("a monitor message must be an object with a string \"event\"");
  }
  try {
    auto frame = frame_of(message);
    if (!frame) return Error("monitor message above the frame limit");
    broadcast(frame);
  } catch (const std::exception& e) {
    return Error(std::string("cannot publish the monitor message: ") + e.what());
  }
  return {};
}

void ControlServer::broadcast(const std::shared_ptr<const std::string>& frame) {
  std::vector<int> broken;
  for (auto& [fd, client] : clients_) {
    Client& c = *client;
    if (!c.monitoring || c.dead) continue;
    const bool was_idle = c.out.empty();
    enqueue_monitor(c, frame);
    if (was_idle && !flush(c)) {
      // A backend may raise events from inside a request this server is executing: the client
      // being served is closed when its callback ends, never under its feet.
      if (fd == serving_fd_) {
        c.dead = true;
      } else {
        broken.push_back(fd);
      }
      continue;
    }
    if (fd != serving_fd_) update_interest(c);
  }
  for (int fd : broken) close_client(fd);
}

void ControlServer::enqueue_monitor(Client& c, const std::shared_ptr<const std::string>& frame) {
  // Lost messages are reported before anything newer, so the marker must fit first.
  if (c.lost > 0 && !enqueue_overflow(c)) {
    ++c.lost;
    return;
  }
  if (c.out_bytes + frame->size() > options_.max_queued_bytes ||
      c.out.size() >= options_.max_queued_messages) {
    ++c.lost;
    return;
  }
  c.out_bytes += frame->size();
  c.out.push_back(frame);
}

bool ControlServer::enqueue_overflow(Client& c) {
  auto frame = frame_of(overflow_message(c.lost));
  if (!frame || c.out_bytes + frame->size() > options_.max_queued_bytes ||
      c.out.size() >= options_.max_queued_messages) {
    return false;
  }
  c.out_bytes += frame->size();
  c.out.push_back(std::move(frame));
  c.lost = 0;
  return true;
}

}  // namespace uipsec
