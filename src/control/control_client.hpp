// ControlClient: IpsecBackend over uipsecd's control socket, for the CLI and an IKE daemon in
// another process (docs/CONTROL_PROTOCOL.md). Every call is one blocking request/response with
// a timeout; list answers are reassembled from their chunks.
//
// Events: monitor() streams raw monitor messages on this connection (the CLI's `uipsec
// monitor`). add_listener() opens a second connection subscribed to events; the owner then
// watches event_fd() in its event loop and calls dispatch_events(), which decodes the events and
// calls the listeners. Because add_listener() cannot return an error, a failure to open that
// connection is reported by the next dispatch_events().
//
// Thread: one owner thread at a time; not shareable between threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/ipsec_backend.hpp"
#include "base/result.hpp"
#include "control/codec.hpp"

namespace uipsec {

inline constexpr const char* kDefaultControlSocket = "/run/uipsec/uipsec.ctl";

struct ControlClientOptions {
  // How long a call waits for progress (a frame of the answer) before it gives up and the
  // connection is considered broken. Negative: wait forever.
  int timeout_ms = 10'000;
  // Sent in `hello`, for the daemon's view of its clients.
  std::string client_name = "uipsec";
};

class ControlConnection;

class ControlClient final : public IpsecBackend {
 public:
  // Connects and says hello (checking the protocol version). Errors say what to do:
  //   "cannot connect to /run/uipsec/uipsec.ctl: No such file or directory — is uipsecd running?
  //    (use -S PATH for another socket)"
  static Result<std::unique_ptr<ControlClient>> connect(const std::string& path,
                                                        ControlClientOptions options = {});
  ~ControlClient() override;
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  const std::string& path() const { return path_; }
  // What the daemon reported in hello.
  const std::string& daemon_version() const { return hello_.daemon; }
  // Everything the daemon said in hello (its defaults for `ip xfrm` arguments, ...).
  const HelloResult& hello() const { return hello_; }

  // One raw request: the answer's "result" (list answers joined into one array) or the daemon's
  // error message. For the CLI's --json mode and scripts.
  Result<Json> call(std::string_view op, const Json& args);

  // Subscribes this connection to monitor messages and hands each one ({"event": ...}) to
  // `on_message` until it returns false (then unsubscribes; the connection stays usable) or the
  // daemon closes the connection (an error). Waits without a timeout.
  Result<void> monitor(const std::function<bool(const Json& message)>& on_message);

  // IpsecBackend.
  Result<Spi> allocate_spi(const IpAddress& source, const IpAddress& destination) override;
  Result<void> add_sa(const SaConfig& config) override;
  Result<void> update_sa(const SaId& id, const SaEndpoints& endpoints) override;
  Result<SaInfo> query_sa(const SaId& id, KeyDisclosure keys) override;
  Result<void> delete_sa(const SaId& id) override;
  Result<std::vector<SaInfo>> list_sas(KeyDisclosure keys) override;
  Result<std::size_t> flush_sas() override;
  Result<void> add_policy(const PolicyConfig& config) override;
  Result<void> update_policy(const PolicyConfig& config) override;
  Result<PolicyInfo> query_policy(const PolicyId& id) override;
  Result<void> delete_policy(const PolicyId& id) override;
  Result<std::vector<PolicyInfo>> list_policies() override;
  Result<std::size_t> flush_policies() override;
  Result<Statistics> statistics() override;
  // The first listener opens the event connection (connect, hello, subscribe — blocking, so it
  // is subscribed when this returns); removing the last closes it.
  void add_listener(EventListener& listener) override;
  void remove_listener(EventListener& listener) override;

  // The event connection's descriptor (watch it for readable), or -1 when there is none.
  int event_fd() const;
  // Waits up to `timeout_ms` (0: not at all; negative: forever) for events, reads what has
  // arrived and calls the listeners with each acquire/expire/mapping event. Returns how many
  // events were delivered; an error when the event connection could not be opened or was
  // closed (it is then gone: event_fd() is -1 until a listener is added again).
  Result<std::size_t> dispatch_events(int timeout_ms = 0);
  // Events the daemon dropped for this client's event connection (its overflow markers).
  std::uint64_t events_lost() const { return events_lost_; }

 private:
  ControlClient(std::string path, ControlClientOptions options,
                std::unique_ptr<ControlConnection> connection, HelloResult hello);

  Result<Json> request(Op op, const RequestArgs& args);
  template <class T>
  Result<T> request_as(Op op, const RequestArgs& args);

  std::string path_;
  ControlClientOptions options_;
  std::unique_ptr<ControlConnection> connection_;
  HelloResult hello_;
  std::vector<EventListener*> listeners_;
  std::unique_ptr<ControlConnection> events_;
  std::optional<Error> events_error_;
  std::uint64_t events_lost_ = 0;
};

}  // namespace uipsec
