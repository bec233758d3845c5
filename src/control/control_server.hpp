// ControlServer: uipsecd's side of the control socket (docs/CONTROL_PROTOCOL.md). It accepts
// connections on a Unix stream socket, lets only root and the daemon's own user in (SO_PEERCRED),
// reads length-prefixed JSON requests incrementally, runs them against an IpsecBackend, and
// streams backend events to monitor subscribers.
//
// Memory is bounded per client: a request may be at most `max_request_size` bytes; responses and
// events wait in an outbound queue of at most `max_queued_bytes` / `max_queued_messages` — a
// client whose queue is half full is not read from until it drains, list answers are encoded a
// chunk at a time as the queue drains, and a monitor subscriber that falls behind loses events
// (counted, then reported with {"event":"overflow","lost":N}) instead of growing the queue.
//
// Thread: the daemon's control thread — the one that runs the FdWatcher's callbacks, calls the
// backend and gets its events. Nothing here blocks; nothing throws out of a callback.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/ipsec_backend.hpp"
#include "base/result.hpp"
#include "control/address_gateway.hpp"
#include "control/codec.hpp"
#include "control/fd_watcher.hpp"
#include "control/ike_gateway.hpp"
#include "control/unix_socket.hpp"

namespace uipsec {

struct ControlServerOptions {
  // Reported by `hello` ("0.1.0").
  std::string daemon_version = "unknown";
  // Reported by `hello` as the default anti-replay window (uipsec.replay_window).
  std::uint32_t default_replay_window = 0;
  // Connections beyond this are answered with an error and closed.
  std::size_t max_clients = 64;
  // Largest request frame body; longer ones end the connection.
  std::size_t max_request_size = 1u << 20;
  // Per-client outbound queue limits (responses and monitor events). A response is always queued
  // (requests are only read while the queue is under half of these), so the queue holds at most
  // the limit plus one response; events that do not fit are counted as lost.
  std::size_t max_queued_bytes = 4u << 20;
  std::size_t max_queued_messages = 4096;
  // Entries per frame of a sa.list / policy.list answer.
  std::size_t list_chunk_size = 256;
};

class ControlServer final : public EventListener {
 public:
  // What the daemon can show about a connection (`uipsec status`) and tests check.
  struct ClientInfo {
    int fd = -1;
    pid_t pid = 0;
    uid_t uid = 0;
    bool monitoring = false;
    std::size_t queued_bytes = 0;
    std::size_t queued_messages = 0;
    std::uint64_t events_lost = 0;  // since the last overflow message
  };

  // Creates the socket at `path` with mode 0600 (no moment where it is wider) and starts
  // accepting through `watcher`. A socket file left by a dead daemon is replaced; a live one
  // (something accepts connections on it) or a file that is not a socket is refused.
  // `backend` and `watcher` must outlive the server. The daemon registers the server as the
  // backend's EventListener (and removes it before destroying the server).
  static Result<std::unique_ptr<ControlServer>> listen(IpsecBackend& backend, FdWatcher& watcher,
                                                       const std::string& path,
                                                       ControlServerOptions options = {});

  // Closes every connection and removes the socket file (when it is still the one created here).
  ~ControlServer() override;
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Sends the event to every monitor subscriber (EventListener, from the backend's tick()).
  void on_event(const IpsecEvent& event) override;
  // Sends any monitor message, e.g. {"event": "ike", ...} when the daemon sees an IKE packet.
  // `message` must be an object with a string "event" (and below the frame limit).
  Result<void> publish(const Json& message);

  // IKE relay (docs/CONTROL_PROTOCOL.md, "IKE"): with a gateway, one connection at a time may
  // register as the IKE handler (ike.register) and any may send (ike.send); without one, both
  // ops are refused. `gateway` must outlive the server or be unset first.
  void set_ike_gateway(IkeGateway* gateway) { ike_gateway_ = gateway; }
  // Queues {"event": "ike.message", ...} on the handler's connection, if one is registered and
  // its queue has room (the message is never queued beyond the connection's limits).
  IkeDelivery deliver_ike(const Endpoint& local, const Endpoint& remote, ByteSpan payload);
  bool ike_handler_registered() const { return ike_handler_fd_ >= 0; }

  // Virtual IPs (address.add, address.delete, address.list) go to `gateway`; without one they are
  // refused. `gateway` must outlive the server or be unset first.
  void set_address_gateway(AddressGateway* gateway) { address_gateway_ = gateway; }

  // What `hello` reports from now on as the default anti-replay window (a reload changed
  // uipsec.replay_window).
  void set_default_replay_window(std::uint32_t window) { default_replay_window_ = window; }

  const std::string& path() const { return path_; }
  std::size_t client_count() const { return clients_.size(); }
  std::vector<ClientInfo> clients() const;

 private:
  struct Client;

  ControlServer(IpsecBackend& backend, FdWatcher& watcher, std::string path,
                ControlServerOptions options, UniqueFd listener, dev_t device, ino_t inode);

  void on_listener_ready();
  void on_client_ready(int fd, bool readable, bool writable);
  void read_from(Client& client);
  void serve(Client& client);
  void handle_frame(Client& client, const std::string& body);
  void execute(Client& client, Request& request);
  void pump_list(Client& client);
  bool has_room(const Client& client) const;
  void respond(Client& client, Response response);
  void respond_error(Client& client, std::optional<std::uint64_t> id, const std::string& message);
  // Queues an error without an id, flushes what the socket takes and closes the connection.
  void fail(Client& client, const std::string& message);
  void broadcast(const std::shared_ptr<const std::string>& frame);
  void enqueue_monitor(Client& client, const std::shared_ptr<const std::string>& frame);
  bool enqueue_overflow(Client& client);
  // Writes queued frames; false when the connection broke.
  bool flush(Client& client);
  void update_interest(Client& client);
  void close_client(int fd);
  void register_ike_handler(Client& client, std::uint64_t id, bool register_handler);

  IpsecBackend& backend_;
  FdWatcher& watcher_;
  const std::string path_;
  const ControlServerOptions options_;
  std::uint32_t default_replay_window_;  // options_'s until set_default_replay_window()
  UniqueFd listener_;
  // The socket file this server created; removed on destruction only if the path still is it.
  const dev_t device_;
  const ino_t inode_;
  bool accepting_ = true;  // false while accept() fails for want of descriptors
  int serving_fd_ = -1;    // the client whose callback is running, if any
  std::map<int, std::unique_ptr<Client>> clients_;
  IkeGateway* ike_gateway_ = nullptr;
  AddressGateway* address_gateway_ = nullptr;
  int ike_handler_fd_ = -1;  // the connection registered as the IKE handler, if any
};

}  // namespace uipsec
