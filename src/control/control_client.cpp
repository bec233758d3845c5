#include "control/control_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <limits>
#include <utility>

#include "control/frame_reader.hpp"
#include "control/unix_socket.hpp"

namespace uipsec {

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string connect_error(const std::string& path, int err) {
  std::string message = "cannot connect to " + path + ": " + errno_text(err);
  switch (err) {
    case ENOENT:
      return message + " — is uipsecd running? (use -S PATH for another socket)";
    case ECONNREFUSED:
      return message +
             " — is uipsecd running? (the socket file is left from a daemon that stopped; use -S "
             "PATH for another socket)";
    case EACCES:
    case EPERM:
      return message + " — the control socket is only for root and uipsecd's user (try sudo)";
    case EAGAIN:
      return message + " — uipsecd is not accepting connections fast enough; try again";
    default:
      return message;
  }
}

// Milliseconds left until `deadline` for poll(); -1 without a deadline.
int remaining_ms(const std::optional<SteadyClock::time_point>& deadline) {
  if (!deadline) return -1;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - SteadyClock::now()).count();
  if (left <= 0) return 0;
  return static_cast<int>(std::min<long long>(left, std::numeric_limits<int>::max()));
}

std::optional<SteadyClock::time_point> deadline_after(int timeout_ms) {
  if (timeout_ms < 0) return std::nullopt;
  return SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
}

std::string seconds_text(int timeout_ms) {
  if (timeout_ms % 1000 == 0) return std::to_string(timeout_ms / 1000) + " s";
  return std::to_string(timeout_ms) + " ms";
}

}  // namespace

// One connection to the daemon: framing, timeouts, request ids. Once something goes wrong that
// leaves the stream in an unknown state (a timeout, a malformed message, the daemon closing it),
// the connection is broken and every later call fails with the same message.
class ControlConnection {
 public:
  static Result<std::unique_ptr<ControlConnection>> open(const std::string& path, int timeout_ms) {
    auto address = unix_address(path);
    if (!address) return address.error();
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return Error("cannot create a Unix socket: " + errno_text(errno));
    int rc = 0;
    do {
      rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return Error(connect_error(path, errno));
    return std::unique_ptr<ControlConnection>(
        new ControlConnection(path, std::move(fd), timeout_ms));
  }

  int fd() const { return fd_.get(); }

  // Sends one request and waits for its whole answer: the result (list chunks joined into one
  // array) or the daemon's error. Monitor messages that arrive meanwhile are dropped.
  Result<Json> call(std::string_view op, const Json& args) {
    Json collected = Json::array();
    bool chunked = false;
    Json single;
    UIPSEC_TRY(exchange(op, args, [&](Json& result, bool more) -> Result<void> {
      if (!more && !chunked) {
        single = std::move(result);
        return {};
      }
      chunked = true;
      for (auto& item : result) collected.push_back(std::move(item));
      return {};
    }));
    return chunked ? std::move(collected) : std::move(single);
  }

  // Like call(), for list answers: hands each chunk (an array) to `on_chunk` as it arrives, so
  // that a long list never exists as one JSON document.
  Result<void> call_list(std::string_view op, const Json& args,
                         const std::function<Result<void>(Json& chunk)>& on_chunk) {
    return exchange(op, args, [&](Json& result, bool) { return on_chunk(result); });
  }

  // The next message from the daemon, waiting up to `timeout_ms` (negative: forever);
  // nullopt when none came in time.
  Result<std::optional<ServerMessage>> next_message(int timeout_ms) {
    if (broken_) return *broken_;
    const auto deadline = deadline_after(timeout_ms);
    for (;;) {
      auto frame = reader_.next();
      if (!frame) return fail("uipsecd sent an invalid frame: " + frame.error().message());
      if (frame->has_value()) {
        auto message = parse_server_message(**frame);
        if (!message) return fail("uipsecd sent a malformed message: " + message.error().message());
        return std::optional<ServerMessage>(std::move(*message));
      }
      pollfd p{fd_.get(), POLLIN, 0};
      const int ready = ::poll(&p, 1, remaining_ms(deadline));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return fail("waiting for uipsecd failed: " + errno_text(errno));
      if (ready == 0) return std::optional<ServerMessage>();
      const ssize_t n = ::recv(fd_.get(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
      if (n > 0) {
        reader_.append(ByteSpan(buffer_.data(), static_cast<std::size_t>(n)));
      } else if (n == 0 || errno == ECONNRESET) {
        return fail(reader_.partial_bytes() > 0
                        ? "uipsecd closed the connection in the middle of a message"
                        : "uipsecd closed the connection");
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return fail("reading from uipsecd failed: " + errno_text(errno));
      }
    }
  }

 private:
  ControlConnection(std::string path, UniqueFd fd, int timeout_ms)
      : path_(std::move(path)), fd_(std::move(fd)), timeout_ms_(timeout_ms), buffer_(64 * 1024) {}

  Error fail(const std::string& message) {
    broken_ = Error(message);
    return *broken_;
  }

  // Sends the request, then passes the result of each answer frame (one, or every chunk of a
  // list answer, which are checked to be arrays) to `on_result` until the last.
  template <class F>
  Result<void> exchange(std::string_view op, const Json& args, F&& on_result) {
    if (broken_) return *broken_;
    const std::uint64_t id = next_id_++;
    auto frame = encode_frame(Json{{"id", id}, {"op", op}, {"args", args}});
    if (!frame) return frame.error().with_context(std::string(op));
    UIPSEC_TRY(send_all(*frame, op));
    bool chunked = false;
    for (;;) {
      auto message = next_message(timeout_ms_);
      if (!message) return message.error();
      if (!*message) {
        return fail("no answer from uipsecd on " + path_ + " within " + seconds_text(timeout_ms_) +
                    " (" + std::string(op) + "); it may be stuck");
      }
      auto* response = std::get_if<Response>(&**message);
      if (response == nullptr) continue;  // a monitor message
      if (!response->id) {
        // The daemon closes the connection after an error without an id.
        return fail("uipsecd closed the connection: " + response->error);
      }
      if (*response->id != id) continue;  // a late answer to an abandoned request
      if (!response->ok) return Error(response->error);
      chunked = chunked || response->more;
      if (chunked && !response->result.is_array()) {
        return fail("uipsecd sent a list chunk that is not an array (" + std::string(op) + ")");
      }
      UIPSEC_TRY(on_result(response->result, response->more));
      if (!response->more) return {};
    }
  }

  Result<void> send_all(const std::string& frame, std::string_view op) {
    const auto deadline = deadline_after(timeout_ms_);
    std::size_t sent = 0;
    while (sent < frame.size()) {
      auto n = send_some(fd_.get(), std::string_view(frame).substr(sent));
      if (!n) {
        // A daemon that refuses us (SO_PEERCRED, too many clients) says why and closes; our
        // write may fail before we read that. Its reason beats "broken pipe".
        if (auto reason = closing_reason())
          return fail("uipsecd closed the connection: " + *reason);
        return fail("uipsecd closed the connection (" + n.error().message() + ")");
      }
      sent += *n;
      if (sent == frame.size()) break;
      pollfd p{fd_.get(), POLLOUT, 0};
      const int ready = ::poll(&p, 1, remaining_ms(deadline));
      if (ready < 0 && errno != EINTR)
        return fail("waiting for uipsecd failed: " + errno_text(errno));
      if (ready == 0) {
        return fail("uipsecd on " + path_ + " took no request within " + seconds_text(timeout_ms_) +
                    " (" + std::string(op) + "); it may be stuck");
      }
    }
    return {};
  }

  // The error the daemon sent before it closed the connection, if one is waiting to be read.
  std::optional<std::string> closing_reason() {
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      reader_.append(ByteSpan(buffer_.data(), static_cast<std::size_t>(n)));
    }
    auto frame = reader_.next();
    if (!frame || !frame->has_value()) return std::nullopt;
    auto message = parse_server_message(**frame);
    if (!message) return std::nullopt;
    const auto* response = std::get_if<Response>(&*message);
    if (response == nullptr || response->ok) return std::nullopt;
    return response->error;
  }

  std::string path_;
  UniqueFd fd_;
  int timeout_ms_;
  FrameReader reader_{kMaxMessageSize};
  std::vector<std::uint8_t> buffer_;
  std::uint64_t next_id_ = 1;
  std::optional<Error> broken_;
};

namespace {

// Connects and exchanges hello; returns what the daemon said.
Result<HelloResult> say_hello(ControlConnection& connection, const std::string& client_name) {
  auto answer = connection.call(op_name(Op::kHello),
                                args_to_json(HelloArgs{kControlProtocolVersion, client_name}));
  if (!answer) return answer.error();
  auto hello = from_json<HelloResult>(*answer, "result");
  if (!hello) return hello.error().with_context("unexpected answer to hello from uipsecd");
  if (hello->protocol != kControlProtocolVersion) {
    return Error("uipsecd speaks control protocol " + std::to_string(hello->protocol) +
                 ", this client speaks " + std::to_string(kControlProtocolVersion) +
                 "; use the uipsec command of the same release as uipsecd");
  }
  return *hello;
}

Result<std::uint64_t> counter_field(const Json& result, const char* field, std::uint64_t max) {
  if (result.is_object()) {
    auto it = result.find(field);
    if (it != result.end() && it->is_number_unsigned() && it->get<std::uint64_t>() <= max) {
      return it->get<std::uint64_t>();
    }
  }
  return Error(std::string("unexpected answer from uipsecd: expected {\"") + field +
               "\": integer}, got " + describe_json(result));
}

}  // namespace

Result<std::unique_ptr<ControlClient>> ControlClient::connect(const std::string& path,
                                                              ControlClientOptions options) {
  auto connection = ControlConnection::open(path, options.timeout_ms);
  if (!connection) return connection.error();
  auto hello = say_hello(**connection, options.client_name);
  if (!hello) return hello.error();
  return std::unique_ptr<ControlClient>(
      new ControlClient(path, std::move(options), std::move(*connection), std::move(*hello)));
}

ControlClient::ControlClient(std::string path, ControlClientOptions options,
                             std::unique_ptr<ControlConnection> connection, HelloResult hello)
    : path_(std::move(path)),
      options_(std::move(options)),
      connection_(std::move(connection)),
      hello_(std::move(hello)) {}

ControlClient::~ControlClient() = default;

Result<Json> ControlClient::call(std::string_view op, const Json& args) {
  return connection_->call(op, args);
}

Result<Json> ControlClient::request(Op op, const RequestArgs& args) {
  return connection_->call(op_name(op), args_to_json(args));
}

template <class T>
Result<T> ControlClient::request_as(Op op, const RequestArgs& args) {
  auto answer = request(op, args);
  if (!answer) return answer.error();
  auto value = from_json<T>(*answer, "result");
  if (!value) return value.error().with_context("unexpected answer from uipsecd");
  return value;
}

Result<void> ControlClient::monitor(const std::function<bool(const Json& message)>& on_message) {
  auto subscribed = request(Op::kMonitor, MonitorArgs{true});
  if (!subscribed) return subscribed.error();
  for (;;) {
    auto message = connection_->next_message(-1);
    if (!message) return message.error();
    if (!*message) continue;
    if (const auto* event = std::get_if<Json>(&**message)) {
      if (!on_message(*event)) break;
    }
  }
  // Events that arrive before the answer to this are dropped by call().
  auto unsubscribed = request(Op::kMonitor, MonitorArgs{false});
  if (!unsubscribed) return unsubscribed.error();
  return {};
}

Result<Spi> ControlClient::allocate_spi(const IpAddress& source, const IpAddress& destination) {
  auto answer = request(Op::kSpiAllocate, SpiAllocateArgs{source, destination});
  if (!answer) return answer.error();
  auto spi = counter_field(*answer, "spi", std::numeric_limits<std::uint32_t>::max());
  if (!spi) return spi.error();
  return Spi(static_cast<std::uint32_t>(*spi));
}

Result<void> ControlClient::add_sa(const SaConfig& config) {
  auto answer = request(Op::kSaAdd, config);
  if (!answer) return answer.error();
  return {};
}

Result<void> ControlClient::update_sa(const SaId& id, const SaEndpoints& endpoints) {
  auto answer = request(Op::kSaUpdate, SaUpdateArgs{id, endpoints});
  if (!answer) return answer.error();
  return {};
}

Result<SaInfo> ControlClient::query_sa(const SaId& id, KeyDisclosure keys) {
  return request_as<SaInfo>(Op::kSaGet, SaGetArgs{id, keys});
}

Result<void> ControlClient::delete_sa(const SaId& id) {
  auto answer = request(Op::kSaDelete, SaDeleteArgs{id});
  if (!answer) return answer.error();
  return {};
}

namespace {

// Decodes list chunks into `out` as they arrive.
template <class T>
std::function<Result<void>(Json&)> append_decoded(std::vector<T>& out) {
  return [&out](Json& chunk) -> Result<void> {
    if (!chunk.is_array()) {
      return Error("unexpected answer from uipsecd: result: expected an array, got " +
                   describe_json(chunk));
    }
    for (const Json& item : chunk) {
      auto value = from_json<T>(item, "result[" + std::to_string(out.size()) + "]");
      if (!value) return value.error().with_context("unexpected answer from uipsecd");
      out.push_back(std::move(*value));
    }
    return {};
  };
}

}  // namespace

Result<std::vector<SaInfo>> ControlClient::list_sas(KeyDisclosure keys) {
  std::vector<SaInfo> out;
  UIPSEC_TRY(connection_->call_list(op_name(Op::kSaList), args_to_json(SaListArgs{keys}),
                                    append_decoded(out)));
  return out;
}

Result<std::size_t> ControlClient::flush_sas() {
  auto answer = request(Op::kSaFlush, NoArgs{});
  if (!answer) return answer.error();
  auto n = counter_field(*answer, "flushed", std::numeric_limits<std::size_t>::max());
  if (!n) return n.error();
  return static_cast<std::size_t>(*n);
}

Result<void> ControlClient::add_policy(const PolicyConfig& config) {
  auto answer = request(Op::kPolicyAdd, config);
  if (!answer) return answer.error();
  return {};
}

Result<void> ControlClient::update_policy(const PolicyConfig& config) {
  auto answer = request(Op::kPolicyUpdate, config);
  if (!answer) return answer.error();
  return {};
}

Result<PolicyInfo> ControlClient::query_policy(const PolicyId& id) {
  return request_as<PolicyInfo>(Op::kPolicyGet, PolicyIdArgs{id});
}

Result<void> ControlClient::delete_policy(const PolicyId& id) {
  auto answer = request(Op::kPolicyDelete, PolicyIdArgs{id});
  if (!answer) return answer.error();
  return {};
}

Result<std::vector<PolicyInfo>> ControlClient::list_policies() {
  std::vector<PolicyInfo> out;
  UIPSEC_TRY(connection_->call_list(op_name(Op::kPolicyList), args_to_json(NoArgs{}),
                                    append_decoded(out)));
  return out;
}

Result<std::size_t> ControlClient::flush_policies() {
  auto answer = request(Op::kPolicyFlush, NoArgs{});
  if (!answer) return answer.error();
  auto n = counter_field(*answer, "flushed", std::numeric_limits<std::size_t>::max());
  if (!n) return n.error();
  return static_cast<std::size_t>(*n);
}

Result<Statistics> ControlClient::statistics() {
  return request_as<Statistics>(Op::kStats, NoArgs{});
}

// --- Events -------------------------------------------------------------------------------------

void ControlClient::add_listener(EventListener& listener) {
  if (std::find(listeners_.begin(), listeners_.end(), &listener) != listeners_.end()) return;
  listeners_.push_back(&listener);
  if (events_) return;
  events_error_.reset();
  auto connection = ControlConnection::open(path_, options_.timeout_ms);
  if (!connection) {
    events_error_ = connection.error().with_context("cannot open the event connection");
    return;
  }
  auto hello = say_hello(**connection, options_.client_name + " (events)");
  if (!hello) {
    events_error_ = hello.error().with_context("cannot open the event connection");
    return;
  }
  auto subscribed = (*connection)->call(op_name(Op::kMonitor), args_to_json(MonitorArgs{true}));
  if (!subscribed) {
    events_error_ = subscribed.error().with_context("cannot subscribe to events");
    return;
  }
  events_ = std::move(*connection);
}

void ControlClient::remove_listener(EventListener& listener) {
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), &listener), listeners_.end());
  if (listeners_.empty()) {
    events_.reset();
    events_error_.reset();
  }
}

int ControlClient::event_fd() const { return events_ ? events_->fd() : -1; }

Result<std::size_t> ControlClient::dispatch_events(int timeout_ms) {
  if (events_error_) {
    Error error = *events_error_;
    events_error_.reset();
    return error;
  }
  if (!events_) return std::size_t{0};
  // Bounded, so a daemon that sends without pause cannot keep the caller here forever.
  constexpr int kMaxMessagesPerCall = 1024;
  std::size_t delivered = 0;
  int wait = timeout_ms;
  for (int i = 0; i < kMaxMessagesPerCall; ++i) {
    auto message = events_->next_message(wait);
    if (!message) {
      events_.reset();
      return message.error().with_context("event connection");
    }
    if (!*message) break;
    wait = 0;  // after the first message, take only what has arrived already
    const auto* json = std::get_if<Json>(&**message);
    if (json == nullptr) continue;
    const auto kind_it = json->find("event");
    if (kind_it == json->end() || !kind_it->is_string()) continue;
    const auto& kind = kind_it->get_ref<const std::string&>();
    if (kind == "overflow") {
      auto lost = counter_field(*json, "lost", std::numeric_limits<std::uint64_t>::max());
      if (lost) events_lost_ += *lost;
      continue;
    }
    if (kind != "acquire" && kind != "expire" && kind != "mapping") continue;
    auto event = from_json<IpsecEvent>(*json);
    if (!event) continue;
    // A listener may remove itself (or others) while being called.
    const std::vector<EventListener*> listeners = listeners_;
    for (EventListener* l : listeners) {
      if (std::find(listeners_.begin(), listeners_.end(), l) != listeners_.end())
        l->on_event(*event);
    }
    ++delivered;
    if (!events_) break;  // the last listener went away
  }
  return delivered;
}

}  // namespace uipsec
