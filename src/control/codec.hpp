// The control protocol's JSON: a stable encoding of every IpsecBackend type (SAs, policies,
// statistics, events) and of the request envelope with each operation's arguments. The wire
// format is specified in docs/CONTROL_PROTOCOL.md; this file is its one implementation.
//
// Decoders take untrusted JSON: they check every type, range, address, algorithm name and hex
// string, refuse unknown fields, and return a Result whose message names the field path
// ("args.endpoints.source: expected an IP address, got 42"). Nothing here throws.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "backend/ipsec_backend.hpp"
#include "base/bytes.hpp"
#include "base/result.hpp"

namespace uipsec {

using Json = nlohmann::json;

// Bumped whenever a message or a field changes meaning or a field is added or removed (decoders
// refuse unknown fields, so additions are changes too).
inline constexpr std::uint32_t kControlProtocolVersion = 3;
// The largest frame body either side accepts (a list answer is sent in chunks well below it).
inline constexpr std::size_t kMaxMessageSize = 16u << 20;
// Deepest nesting of arrays and objects a message may have; checked before parsing, because the
// JSON parser recurses once per level.
inline constexpr std::size_t kMaxJsonDepth = 64;

// --- Values -------------------------------------------------------------------------------------

// `keys`: SaConfig's cipher_key and integrity_key are written only with kInclude.
Json to_json(const SaConfig& config, KeyDisclosure keys = KeyDisclosure::kInclude);
Json to_json(const SaId& id);
Json to_json(const SaEndpoints& endpoints);
Json to_json(const SaInfo& info, KeyDisclosure keys);
Json to_json(const TrafficSelector& selector);
Json to_json(const PolicyConfig& config);
Json to_json(const PolicyId& id);
Json to_json(const PolicyInfo& info);
Json to_json(const Statistics& statistics);
// {"event": "acquire" | "expire" | "mapping", ...}
Json to_json(const IpsecEvent& event);

// Decodes one value. `path` names the value in messages ("args", "result[3]"); empty means the
// value itself ("spi: ..."). Implemented for every type to_json() writes.
template <class T>
Result<T> from_json(const Json& json, std::string_view path = {});
template <>
Result<SaConfig> from_json<SaConfig>(const Json& json, std::string_view path);
template <>
Result<SaId> from_json<SaId>(const Json& json, std::string_view path);
template <>
Result<SaEndpoints> from_json<SaEndpoints>(const Json& json, std::string_view path);
template <>
Result<SaInfo> from_json<SaInfo>(const Json& json, std::string_view path);
template <>
Result<TrafficSelector> from_json<TrafficSelector>(const Json& json, std::string_view path);
template <>
Result<PolicyConfig> from_json<PolicyConfig>(const Json& json, std::string_view path);
template <>
Result<PolicyId> from_json<PolicyId>(const Json& json, std::string_view path);
template <>
Result<PolicyInfo> from_json<PolicyInfo>(const Json& json, std::string_view path);
template <>
Result<Statistics> from_json<Statistics>(const Json& json, std::string_view path);
template <>
Result<IpsecEvent> from_json<IpsecEvent>(const Json& json, std::string_view path);

// --- Requests -----------------------------------------------------------------------------------

enum class Op : std::uint8_t {
  kHello,
  kSpiAllocate,
  kSaAdd,
  kSaUpdate,
  kSaGet,
  kSaDelete,
  kSaList,
  kSaFlush,
  kPolicyAdd,
  kPolicyUpdate,
  kPolicyGet,
  kPolicyDelete,
  kPolicyList,
  kPolicyFlush,
  kStats,
  kMonitor,
  kIkeRegister,
  kIkeSend,
  kAddressAdd,
  kAddressDelete,
  kAddressList,
};
inline constexpr std::size_t kOpCount = 21;

// "sa.add", "policy.list", ...
std::string_view op_name(Op op);
Result<Op> parse_op(std::string_view name);

// Each op's arguments (sa.add and policy.add/update take the configuration itself).
struct HelloArgs {
  std::uint32_t protocol = kControlProtocolVersion;
  std::string client;  // free text, e.g. "uipsec 0.1.0"
};
struct SpiAllocateArgs {
  IpAddress source;
  IpAddress destination;
};
struct SaUpdateArgs {
  SaId id;
  SaEndpoints endpoints;
};
struct SaGetArgs {
  SaId id;
  KeyDisclosure keys = KeyDisclosure::kOmit;
};
struct SaDeleteArgs {
  SaId id;
};
struct SaListArgs {
  KeyDisclosure keys = KeyDisclosure::kOmit;
};
struct PolicyIdArgs {  // policy.get, policy.delete
  PolicyId id;
};
struct MonitorArgs {
  bool subscribe = true;  // false ends a subscription
};
struct IkeRegisterArgs {
  bool register_handler = true;  // "register": false ends the registration
};
struct IkeSendArgs {
  Endpoint local;   // the port picks uipsecd's socket: NAT-T (marker added) or IKE port
  Endpoint remote;  // the peer
  std::vector<std::uint8_t> payload;  // the IKE message; "payload" is hex in JSON
};
// address.add, address.delete: a virtual IP on uipsecd's TUN device. "address" is one address
// ("198.18.50.1", "198.18.50.1/32", "2001:db8::5/128"); other prefix lengths, the unspecified
// address, multicast and loopback addresses are refused.
struct AddressArgs {
  IpAddress address;
};
struct NoArgs {};  // sa.flush, policy.flush, stats, address.list

using RequestArgs = std::variant<NoArgs, HelloArgs, SpiAllocateArgs, SaConfig, SaUpdateArgs,
                                 SaGetArgs, SaDeleteArgs, SaListArgs, PolicyConfig, PolicyIdArgs,
                                 MonitorArgs, IkeRegisterArgs, IkeSendArgs, AddressArgs>;

// A request whose id is known but whose op and arguments are not checked yet.
struct RequestEnvelope {
  std::uint64_t id = 0;
  Json message;  // the whole object
};

struct Request {
  std::uint64_t id = 0;
  Op op = Op::kHello;
  RequestArgs args;  // the alternative that belongs to `op`
};

// Parses a frame body up to the request id: the nesting depth, the JSON itself, an object with
// an unsigned integer "id". An error here is a protocol violation (the server answers without an
// id and disconnects).
Result<RequestEnvelope> parse_request_envelope(std::string_view body);
// Checks the rest: a known "op", "args" (an object, optional when the op takes none) decoded
// for that op, no other fields. Messages name the field ("op: ...", "args.spi: ..."); the
// server answers them with ok:false and keeps the connection.
Result<Request> decode_request(const RequestEnvelope& envelope);
// The arguments object for `args` (used by the client; decode_request inverts it).
Json args_to_json(const RequestArgs& args);
Json to_json(const Request& request);

// --- Server messages ----------------------------------------------------------------------------

// {"id": N | null, "ok": true, "result": ..., "more": true?} or {"id": ..., "ok": false,
// "error": "..."}. `more` marks one chunk of a list answer: further frames with the same id
// follow, and the last one has no "more".
struct Response {
  std::optional<std::uint64_t> id;  // nullopt: an error about the connection, not a request
  bool ok = true;
  Json result;
  std::string error;
  bool more = false;
};
Json to_json(const Response& response);

// Monitor messages are objects with a string "event" and no "id".
using ServerMessage = std::variant<Response, Json>;
Result<ServerMessage> parse_server_message(std::string_view body);

// {"event": "overflow", "lost": N}: N monitor messages were dropped for this subscriber.
Json overflow_message(std::uint64_t lost);

// {"event": "ike.message", "local": Endpoint, "remote": Endpoint, "payload": hex}: an IKE message
// for the registered IKE handler (non-ESP marker already removed).
Json ike_message_event(const Endpoint& local, const Endpoint& remote, ByteSpan payload);
// {"event": "ike", "local": "ADDR:PORT", "remote": "ADDR:PORT", "size": N, "handled": bool}: what
// monitor subscribers see of each IKE message.
Json ike_notice_event(const Endpoint& local, const Endpoint& remote, std::uint32_t size,
                      bool handled);
struct IkeMessage {
  Endpoint local;
  Endpoint remote;
  std::vector<std::uint8_t> payload;
};
// Decodes an "ike.message" event.
Result<IkeMessage> parse_ike_message_event(const Json& json);

struct HelloResult {
  std::uint32_t protocol = kControlProtocolVersion;
  std::string daemon;  // the daemon's version
  // The anti-replay window an SA gets when the request leaves it out (uipsec.replay_window);
  // clients that parse `ip xfrm` arguments use it as the default.
  std::uint32_t default_replay_window = 0;
};
Json to_json(const HelloResult& hello);
template <>
Result<HelloResult> from_json<HelloResult>(const Json& json, std::string_view path);

// One entry of an address.list answer: {"address": "198.18.50.1/32", "ours": true}. `ours`: added
// by uipsec (tagged, removed when uipsecd stops); others were put there by someone else.
struct DeviceAddress {
  IpAddress address;
  std::uint8_t prefix_length = 32;
  bool ours = false;
  friend bool operator==(const DeviceAddress&, const DeviceAddress&) = default;
};
Json to_json(const DeviceAddress& address);
template <>
Result<DeviceAddress> from_json<DeviceAddress>(const Json& json, std::string_view path);

// --- Helpers ------------------------------------------------------------------------------------

// True when arrays and objects in `text` nest at most `max_depth` deep (strings are skipped,
// nothing else is checked). Linear, no allocation.
bool json_depth_within(std::string_view text, std::size_t max_depth);

// A value as error messages quote it: scalars as JSON text (cut to 64 bytes), containers by
// their kind ("an object").
std::string describe_json(const Json& json);

// Serialises without throwing: invalid UTF-8 in strings becomes U+FFFD.
std::string dump_json(const Json& json);

// Parses without throwing; the error says whether the text was too deep or not JSON.
Result<Json> parse_json(std::string_view text);

}  // namespace uipsec
