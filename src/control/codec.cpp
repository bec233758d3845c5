#include "control/codec.hpp"

#include <array>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/hex.hpp"

namespace uipsec {

namespace {

// --- Messages -----------------------------------------------------------------------------------

std::string join(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::string index_path(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

Error at(const std::string& path, const std::string& message) {
  return Error(path.empty() ? message : path + ": " + message);
}

// Cuts `text` to at most `limit` bytes without splitting a UTF-8 sequence.
std::string shorten(std::string text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

// How a value appears after "got": scalars as JSON text, containers by their kind.
std::string describe(const Json& j) {
  switch (j.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::null:
      return "null";
    default:
      return shorten(dump_json(j), 64);
  }
}

std::string type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::null:
      return "null";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_float:
      return "a fractional number";
    default:
      return "a number";
  }
}

Error expected(const std::string& path, std::string_view what, const Json& got) {
  return at(path, "expected " + std::string(what) + ", got " + describe(got));
}

// --- Names of enumerations ----------------------------------------------------------------------

template <class E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<IpsecMode, 2> kModeNames = {
    {{IpsecMode::kTunnel, "tunnel"}, {IpsecMode::kTransport, "transport"}}};
constexpr NameTable<SaDirection, 3> kSaDirectionNames = {
    {{SaDirection::kAny, "any"}, {SaDirection::kIn, "in"}, {SaDirection::kOut, "out"}}};
constexpr NameTable<PolicyDirection, 3> kPolicyDirectionNames = {
    {{PolicyDirection::kOut, "out"}, {PolicyDirection::kIn, "in"}, {PolicyDirection::kFwd, "fwd"}}};
constexpr NameTable<PolicyAction, 3> kActionNames = {{{PolicyAction::kProtect, "protect"},
                                                      {PolicyAction::kBypass, "bypass"},
                                                      {PolicyAction::kDiscard, "discard"}}};
constexpr NameTable<TemplateMode, 2> kTemplateModeNames = {
    {{TemplateMode::kTunnel, "tunnel"}, {TemplateMode::kTransport, "transport"}}};

template <class E, std::size_t N>
std::string_view name_of(const NameTable<E, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "invalid";
}

template <class E, std::size_t N>
Result<void> decode_name(const Json& j, const std::string& path, const NameTable<E, N>& table,
                         E& out) {
  if (j.is_string()) {
    const auto& text = j.get_ref<const std::string&>();
    for (const auto& [e, name] : table) {
      if (name == text) {
        out = e;
        return {};
      }
    }
  }
  std::string what = "one of";
  for (const auto& entry : table) what += " \"" + std::string(entry.second) + "\"";
  return expected(path, what, j);
}

constexpr std::array<Op, kOpCount> kOps = {
    Op::kHello,       Op::kSpiAllocate,  Op::kSaAdd,      Op::kSaUpdate,    Op::kSaGet,
    Op::kSaDelete,    Op::kSaList,       Op::kSaFlush,    Op::kPolicyAdd,   Op::kPolicyUpdate,
    Op::kPolicyGet,   Op::kPolicyDelete, Op::kPolicyList, Op::kPolicyFlush, Op::kStats,
    Op::kMonitor,     Op::kIkeRegister,  Op::kIkeSend,    Op::kAddressAdd,  Op::kAddressDelete,
    Op::kAddressList,
};

// --- Decoders: one overload per type, all declared before ObjectReader uses them ----------------

Result<void> decode(const Json& j, const std::string& path, bool& out);
Result<void> decode(const Json& j, const std::string& path, std::uint8_t& out);
Result<void> decode(const Json& j, const std::string& path, std::uint16_t& out);
Result<void> decode(const Json& j, const std::string& path, std::uint32_t& out);
Result<void> decode(const Json& j, const std::string& path, std::uint64_t& out);
Result<void> decode(const Json& j, const std::string& path, std::string& out);
Result<void> decode(const Json& j, const std::string& path, Json& out);
Result<void> decode(const Json& j, const std::string& path, Timestamp& out);
template <class Tag, class T>
Result<void> decode(const Json& j, const std::string& path, StrongInt<Tag, T>& out);
Result<void> decode(const Json& j, const std::string& path, KeyDisclosure& out);
Result<void> decode(const Json& j, const std::string& path, IpAddress& out);
Result<void> decode(const Json& j, const std::string& path, IpPrefix& out);
Result<void> decode(const Json& j, const std::string& path, PortRange& out);
Result<void> decode(const Json& j, const std::string& path, AddressRange& out);
Result<void> decode(const Json& j, const std::string& path, SecretBytes& out);
Result<void> decode(const Json& j, const std::string& path, IpsecMode& out);
Result<void> decode(const Json& j, const std::string& path, SaDirection& out);
Result<void> decode(const Json& j, const std::string& path, PolicyDirection& out);
Result<void> decode(const Json& j, const std::string& path, PolicyAction& out);
Result<void> decode(const Json& j, const std::string& path, TemplateMode& out);
Result<void> decode(const Json& j, const std::string& path, EspCipher& out);
Result<void> decode(const Json& j, const std::string& path, EspIntegrity& out);
Result<void> decode(const Json& j, const std::string& path, EspAlgorithms& out);
Result<void> decode(const Json& j, const std::string& path, UdpEncapsulation& out);
Result<void> decode(const Json& j, const std::string& path, SaEndpoints& out);
Result<void> decode(const Json& j, const std::string& path, SaFlags& out);
Result<void> decode(const Json& j, const std::string& path, LifetimeLimits& out);
Result<void> decode(const Json& j, const std::string& path, Lifetimes& out);
Result<void> decode(const Json& j, const std::string& path, TrafficSelector& out);
Result<void> decode(const Json& j, const std::string& path, SaConfig& out);
Result<void> decode(const Json& j, const std::string& path, SaId& out);
Result<void> decode(const Json& j, const std::string& path, SaInfo& out);
Result<void> decode(const Json& j, const std::string& path, PolicyTemplate& out);
Result<void> decode(const Json& j, const std::string& path, PolicyConfig& out);
Result<void> decode(const Json& j, const std::string& path, PolicyId& out);
Result<void> decode(const Json& j, const std::string& path, PolicyInfo& out);
Result<void> decode(const Json& j, const std::string& path, Statistics& out);
Result<void> decode(const Json& j, const std::string& path, Endpoint& out);
Result<void> decode(const Json& j, const std::string& path, IpsecEvent& out);
Result<void> decode(const Json& j, const std::string& path, HelloResult& out);
Result<void> decode(const Json& j, const std::string& path, DeviceAddress& out);

// Reads the fields of one JSON object and, in finish(), refuses the ones nobody asked for.
// Absent fields: required() fails, optional() leaves `out` as it is (std::optional: nullopt);
// an optional field may also be null.
class ObjectReader {
 public:
  ObjectReader(const Json& json, std::string path) : json_(json), path_(std::move(path)) {}

  Result<void> open() const {
    if (!json_.is_object()) return expected(path_, "an object", json_);
    return {};
  }

  template <class T>
  Result<void> required(const char* key, T& out) {
    const Json* value = lookup(key);
    if (value == nullptr) return at(field(key), "missing (required)");
    return decode(*value, field(key), out);
  }

  template <class T>
  Result<void> optional(const char* key, T& out) {
    const Json* value = lookup(key);
    if (value == nullptr || value->is_null()) return {};
    return decode(*value, field(key), out);
  }

  template <class T>
  Result<void> optional(const char* key, std::optional<T>& out) {
    const Json* value = lookup(key);
    if (value == nullptr || value->is_null()) {
      out.reset();
      return {};
    }
    T decoded{};
    UIPSEC_TRY(decode(*value, field(key), decoded));
    out = std::move(decoded);
    return {};
  }

  Result<void> finish() const {
    for (auto it = json_.begin(); it != json_.end(); ++it) {
      bool known = false;
      for (std::string_view key : seen_) known = known || key == it.key();
      if (!known) return at(field(shorten(it.key(), 64)), "unknown field");
    }
    return {};
  }

  std::string field(std::string_view key) const { return join(path_, key); }
  const std::string& path() const { return path_; }

 private:
  const Json* lookup(const char* key) {
    seen_.push_back(key);
    auto it = json_.find(key);
    return it == json_.end() ? nullptr : &*it;
  }

  const Json& json_;
  std::string path_;
  std::vector<std::string_view> seen_;
};

Result<void> decode_unsigned(const Json& j, const std::string& path, std::uint64_t max,
                             std::uint64_t& out) {
  const auto range = [&] { return "an integer 0.." + std::to_string(max); };
  if (!j.is_number_integer()) return expected(path, range(), j);
  if (j.is_number_unsigned()) {
    out = j.get<std::uint64_t>();
  } else {
    const auto value = j.get<std::int64_t>();
    if (value < 0) return expected(path, range(), j);
    out = static_cast<std::uint64_t>(value);
  }
  if (out > max) return expected(path, range(), j);
  return {};
}

template <class T>
Result<void> decode_bounded(const Json& j, const std::string& path, T& out) {
  std::uint64_t value = 0;
  UIPSEC_TRY(decode_unsigned(j, path, std::numeric_limits<T>::max(), value));
  out = static_cast<T>(value);
  return {};
}

Result<void> decode(const Json& j, const std::string& path, bool& out) {
  if (!j.is_boolean()) return expected(path, "true or false", j);
  out = j.get<bool>();
  return {};
}
Result<void> decode(const Json& j, const std::string& path, std::uint8_t& out) {
  return decode_bounded(j, path, out);
}
Result<void> decode(const Json& j, const std::string& path, std::uint16_t& out) {
  return decode_bounded(j, path, out);
}
Result<void> decode(const Json& j, const std::string& path, std::uint32_t& out) {
  return decode_bounded(j, path, out);
}
Result<void> decode(const Json& j, const std::string& path, std::uint64_t& out) {
  return decode_bounded(j, path, out);
}

Result<void> decode(const Json& j, const std::string& path, std::string& out) {
  if (!j.is_string()) return expected(path, "a string", j);
  out = j.get_ref<const std::string&>();
  return {};
}

Result<void> decode(const Json& j, const std::string&, Json& out) {
  out = j;
  return {};
}

Result<void> decode(const Json& j, const std::string& path, Timestamp& out) {
  const auto what =
      "nanoseconds as an integer 0.." + std::to_string(std::numeric_limits<std::int64_t>::max());
  std::uint64_t ns = 0;
  if (!decode_unsigned(j, path, std::numeric_limits<std::int64_t>::max(), ns)) {
    return expected(path, what, j);
  }
  out = Timestamp::from_nanoseconds(static_cast<std::int64_t>(ns));
  return {};
}

template <class Tag, class T>
Result<void> decode(const Json& j, const std::string& path, StrongInt<Tag, T>& out) {
  T value{};
  UIPSEC_TRY(decode_bounded(j, path, value));
  out = StrongInt<Tag, T>(value);
  return {};
}

Result<void> decode(const Json& j, const std::string& path, KeyDisclosure& out) {
  bool include = false;
  UIPSEC_TRY(decode(j, path, include));
  out = include ? KeyDisclosure::kInclude : KeyDisclosure::kOmit;
  return {};
}

Result<void> decode(const Json& j, const std::string& path, IpAddress& out) {
  if (j.is_string()) {
    if (auto parsed = IpAddress::parse(j.get_ref<const std::string&>()); parsed.ok()) {
      out = *parsed;
      return {};
    }
  }
  return expected(path, "an IP address", j);
}

Result<void> decode(const Json& j, const std::string& path, IpPrefix& out) {
  if (j.is_string()) {
    auto parsed = IpPrefix::parse(j.get_ref<const std::string&>());
    if (parsed.ok()) {
      out = *parsed;
      return {};
    }
    return at(path, "expected an IP prefix such as \"198.18.0.0/24\", got " + describe(j) + " (" +
                        parsed.error().message() + ")");
  }
  return expected(path, "an IP prefix such as \"198.18.0.0/24\"", j);
}

Result<void> decode(const Json& j, const std::string& path, PortRange& out) {
  const char* what = "a port range [first, last] with 0 <= first <= last <= 65535";
  if (!j.is_array() || j.size() != 2) return expected(path, what, j);
  PortRange range;
  UIPSEC_TRY(decode(j[0], index_path(path, 0), range.first));
  UIPSEC_TRY(decode(j[1], index_path(path, 1), range.last));
  if (range.first > range.last) return expected(path, what, j);
  out = range;
  return {};
}

Result<void> decode(const Json& j, const std::string& path, AddressRange& out) {
  const char* what = "an address range [first, last] such as [\"198.18.0.1\", \"198.18.0.9\"]";
  if (!j.is_array() || j.size() != 2) return expected(path, what, j);
  AddressRange range;
  UIPSEC_TRY(decode(j[0], index_path(path, 0), range.first));
  UIPSEC_TRY(decode(j[1], index_path(path, 1), range.last));
  if (auto valid = range.validate(); !valid) return at(path, valid.error().message());
  out = range;
  return {};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Keys: hex straight into SecretBytes, and messages that never quote the text (it is a secret).
Result<void> decode(const Json& j, const std::string& path, SecretBytes& out) {
  if (!j.is_string()) {
    return at(path, "expected a key as a string of hex digits, got " + type_name(j));
  }
  std::string_view text = j.get_ref<const std::string&>();
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
  }
  if (text.size() % 2 != 0) {
    return at(path, "expected an even number of hex digits, got " + std::to_string(text.size()));
  }
  SecretBytes key(text.size() / 2);
  std::uint8_t* bytes = key.mutable_span().data();
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return at(path, "expected hex digits 0-9 a-f, found another character at position " +
                          std::to_string(hi < 0 ? i : i + 1));
    }
    bytes[i / 2] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  out = std::move(key);
  return {};
}

Result<void> decode(const Json& j, const std::string& path, IpsecMode& out) {
  return decode_name(j, path, kModeNames, out);
}
Result<void> decode(const Json& j, const std::string& path, SaDirection& out) {
  return decode_name(j, path, kSaDirectionNames, out);
}
Result<void> decode(const Json& j, const std::string& path, PolicyDirection& out) {
  return decode_name(j, path, kPolicyDirectionNames, out);
}
Result<void> decode(const Json& j, const std::string& path, PolicyAction& out) {
  return decode_name(j, path, kActionNames, out);
}
Result<void> decode(const Json& j, const std::string& path, TemplateMode& out) {
  return decode_name(j, path, kTemplateModeNames, out);
}

Result<void> decode(const Json& j, const std::string& path, EspCipher& out) {
  if (!j.is_string()) return expected(path, "an algorithm name such as \"rfc4106(gcm(aes))\"", j);
  auto cipher = parse_cipher_name(j.get_ref<const std::string&>());
  if (!cipher) return at(path, cipher.error().message());
  out = *cipher;
  return {};
}

Result<void> decode(const Json& j, const std::string& path, EspIntegrity& out) {
  if (!j.is_string()) return expected(path, "an algorithm name such as \"hmac(sha256)\"", j);
  const auto& name = j.get_ref<const std::string&>();
  if (name == xfrm_name(EspIntegrity::kNone)) {
    out = EspIntegrity::kNone;
    return {};
  }
  auto integrity = parse_integrity_name(name);
  if (!integrity) return at(path, integrity.error().message() + " (or \"none\")");
  out = *integrity;
  return {};
}

Result<void> decode(const Json& j, const std::string& path, EspAlgorithms& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("cipher", out.cipher));
  UIPSEC_TRY(o.optional("cipher_key", out.cipher_key));
  UIPSEC_TRY(o.optional("integrity", out.integrity));
  UIPSEC_TRY(o.optional("integrity_key", out.integrity_key));
  UIPSEC_TRY(o.required("icv_bits", out.icv_bits));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, UdpEncapsulation& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.optional("source_port", out.source_port));
  UIPSEC_TRY(o.optional("destination_port", out.destination_port));
  UIPSEC_TRY(o.optional("original_address", out.original_address));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, SaEndpoints& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("source", out.source));
  UIPSEC_TRY(o.required("destination", out.destination));
  UIPSEC_TRY(o.optional("encapsulation", out.encapsulation));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, SaFlags& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.optional("esn", out.esn));
  UIPSEC_TRY(o.optional("follow_peer", out.follow_peer));
  UIPSEC_TRY(o.optional("nat_keepalive", out.nat_keepalive));
  UIPSEC_TRY(o.optional("no_ecn", out.no_ecn));
  UIPSEC_TRY(o.optional("decap_dscp", out.decap_dscp));
  UIPSEC_TRY(o.optional("dont_encap_dscp", out.dont_encap_dscp));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, LifetimeLimits& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.optional("bytes", out.bytes));
  UIPSEC_TRY(o.optional("packets", out.packets));
  UIPSEC_TRY(o.optional("add_seconds", out.add_seconds));
  UIPSEC_TRY(o.optional("use_seconds", out.use_seconds));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, Lifetimes& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.optional("soft", out.soft));
  UIPSEC_TRY(o.optional("hard", out.hard));
  return o.finish();
}

// One side of a selector: "source" (a prefix), or "source_range" with "source" optional (when
// given, it must be the prefix covering the range, as to_json writes it).
Result<void> decode_selector_side(ObjectReader& o, const char* prefix_key, const char* range_key,
                                  TrafficSelector& out, bool source) {
  std::optional<AddressRange> range;
  UIPSEC_TRY(o.optional(range_key, range));
  IpPrefix& prefix = source ? out.source : out.destination;
  if (!range) return o.required(prefix_key, prefix);
  std::optional<IpPrefix> given;
  UIPSEC_TRY(o.optional(prefix_key, given));
  if (source) {
    out.set_source(*range);
  } else {
    out.set_destination(*range);
  }
  if (given && *given != prefix) {
    return at(o.field(prefix_key), "expected \"" + prefix.to_string() + "\", the prefix covering " +
                                       range_key + ", or nothing; got \"" + given->to_string() +
                                       "\"");
  }
  return {};
}

Result<void> decode(const Json& j, const std::string& path, TrafficSelector& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(decode_selector_side(o, "source", "source_range", out, true));
  UIPSEC_TRY(decode_selector_side(o, "destination", "destination_range", out, false));
  UIPSEC_TRY(o.optional("protocol", out.protocol));
  UIPSEC_TRY(o.optional("source_ports", out.source_ports));
  UIPSEC_TRY(o.optional("destination_ports", out.destination_ports));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, SaConfig& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("endpoints", out.endpoints));
  UIPSEC_TRY(o.required("spi", out.spi));
  UIPSEC_TRY(o.required("reqid", out.reqid));
  UIPSEC_TRY(o.required("mode", out.mode));
  UIPSEC_TRY(o.optional("direction", out.direction));
  UIPSEC_TRY(o.required("algorithms", out.algorithms));
  UIPSEC_TRY(o.required("replay_window", out.replay_window));
  UIPSEC_TRY(o.optional("inbound_sequence", out.inbound_sequence));
  UIPSEC_TRY(o.optional("outbound_sequence", out.outbound_sequence));
  UIPSEC_TRY(o.optional("flags", out.flags));
  UIPSEC_TRY(o.optional("lifetimes", out.lifetimes));
  UIPSEC_TRY(o.optional("selector", out.selector));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, SaId& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("destination", out.destination));
  UIPSEC_TRY(o.required("spi", out.spi));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, SaInfo& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("config", out.config));
  UIPSEC_TRY(o.required("bytes", out.bytes));
  UIPSEC_TRY(o.required("packets", out.packets));
  UIPSEC_TRY(o.required("replay_drops", out.replay_drops));
  UIPSEC_TRY(o.required("authentication_failures", out.authentication_failures));
  UIPSEC_TRY(o.required("other_drops", out.other_drops));
  UIPSEC_TRY(o.required("outbound_sequence", out.outbound_sequence));
  UIPSEC_TRY(o.required("inbound_sequence", out.inbound_sequence));
  UIPSEC_TRY(o.required("added", out.added));
  UIPSEC_TRY(o.optional("first_use", out.first_use));
  UIPSEC_TRY(o.optional("last_use", out.last_use));
  UIPSEC_TRY(o.required("soft_expired", out.soft_expired));
  UIPSEC_TRY(o.required("hard_expired", out.hard_expired));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, PolicyTemplate& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("reqid", out.reqid));
  UIPSEC_TRY(o.required("mode", out.mode));
  UIPSEC_TRY(o.optional("source", out.source));
  UIPSEC_TRY(o.optional("destination", out.destination));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, PolicyConfig& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("selector", out.selector));
  UIPSEC_TRY(o.required("direction", out.direction));
  UIPSEC_TRY(o.required("action", out.action));
  UIPSEC_TRY(o.optional("priority", out.priority));
  UIPSEC_TRY(o.optional("template", out.tmpl));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, PolicyId& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("selector", out.selector));
  UIPSEC_TRY(o.required("direction", out.direction));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, PolicyInfo& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("config", out.config));
  UIPSEC_TRY(o.required("index", out.index));
  UIPSEC_TRY(o.required("packets", out.packets));
  UIPSEC_TRY(o.required("bytes", out.bytes));
  UIPSEC_TRY(o.required("added", out.added));
  UIPSEC_TRY(o.optional("last_use", out.last_use));
  return o.finish();
}

Result<void> decode_drops(const Json& j, const std::string& path,
                          std::array<std::uint64_t, kDropReasonCount>& out) {
  if (!j.is_object()) return expected(path, "an object of drop counters by reason", j);
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::size_t reason = 0;
    for (std::size_t i = 1; i < kDropReasonCount && reason == 0; ++i) {
      if (to_string(static_cast<DropReason>(i)) == it.key()) reason = i;
    }
    const std::string field = join(path, shorten(it.key(), 64));
    if (reason == 0) return at(field, "unknown drop reason");
    UIPSEC_TRY(decode(it.value(), field, out[reason]));
  }
  return {};
}

Result<void> decode(const Json& j, const std::string& path, Statistics& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  Json drops;
  UIPSEC_TRY(o.required("drops", drops));
  UIPSEC_TRY(decode_drops(drops, o.field("drops"), out.drops));
  UIPSEC_TRY(o.required("sealed", out.sealed));
  UIPSEC_TRY(o.required("opened", out.opened));
  UIPSEC_TRY(o.required("bypassed", out.bypassed));
  UIPSEC_TRY(o.required("ike", out.ike));
  UIPSEC_TRY(o.required("events_lost", out.events_lost));
  UIPSEC_TRY(o.required("sa_count", out.sa_count));
  UIPSEC_TRY(o.required("policy_count", out.policy_count));
  Json io;
  UIPSEC_TRY(o.optional("io", io));
  if (!io.is_null()) {
    const std::string io_path = o.field("io");
    if (!io.is_object()) return expected(io_path, "an object of counters by name", io);
    if (io.size() > 256) return at(io_path, "more than 256 counters");
    for (auto it = io.begin(); it != io.end(); ++it) {
      if (it.key().empty() || it.key().size() > 64) {
        return at(join(io_path, shorten(it.key(), 64)), "expected a counter name of 1..64 bytes");
      }
      UIPSEC_TRY(decode(it.value(), join(io_path, it.key()), out.io[it.key()]));
    }
  }
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, Endpoint& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("address", out.address));
  UIPSEC_TRY(o.required("port", out.port));
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, IpsecEvent& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  std::string kind;
  UIPSEC_TRY(o.required("event", kind));
  if (kind == "acquire") {
    AcquireEvent e;
    UIPSEC_TRY(o.required("reqid", e.reqid));
    UIPSEC_TRY(o.required("policy", e.policy));
    UIPSEC_TRY(o.required("packet", e.packet));
    out = e;
  } else if (kind == "expire") {
    ExpireEvent e;
    UIPSEC_TRY(o.required("sa", e.sa));
    UIPSEC_TRY(o.required("reqid", e.reqid));
    UIPSEC_TRY(o.required("hard", e.hard));
    out = e;
  } else if (kind == "mapping") {
    MappingEvent e;
    UIPSEC_TRY(o.required("sa", e.sa));
    UIPSEC_TRY(o.required("reqid", e.reqid));
    UIPSEC_TRY(o.required("previous", e.previous));
    UIPSEC_TRY(o.required("current", e.current));
    out = e;
  } else {
    return at(o.field("event"),
              "expected one of \"acquire\" \"expire\" \"mapping\", got " + describe(kind));
  }
  return o.finish();
}

Result<void> decode(const Json& j, const std::string& path, HelloResult& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("protocol", out.protocol));
  UIPSEC_TRY(o.required("daemon", out.daemon));
  UIPSEC_TRY(o.optional("default_replay_window", out.default_replay_window));
  return o.finish();
}

// "198.18.50.1/32" with the host bits kept (IpPrefix clears them): the address and its length.
Result<void> decode_interface_address(const Json& j, const std::string& path, IpAddress& address,
                                      std::uint8_t& length) {
  const auto refuse = [&] {
    return expected(path, "an address with its prefix length such as \"198.18.50.1/32\"", j);
  };
  if (!j.is_string()) return refuse();
  const std::string_view text = j.get_ref<const std::string&>();
  const auto slash = text.find('/');
  auto parsed = IpAddress::parse(text.substr(0, slash));
  if (!parsed) return refuse();
  const unsigned max = parsed->is_v4() ? 32 : 128;
  unsigned value = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return refuse();
    value = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return refuse();
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > max) return refuse();
  }
  address = *parsed;
  length = static_cast<std::uint8_t>(value);
  return {};
}

Result<void> decode(const Json& j, const std::string& path, DeviceAddress& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  Json address;
  UIPSEC_TRY(o.required("address", address));
  UIPSEC_TRY(
      decode_interface_address(address, join(path, "address"), out.address, out.prefix_length));
  UIPSEC_TRY(o.required("ours", out.ours));
  return o.finish();
}

// --- Arguments of requests ----------------------------------------------------------------------

Result<void> decode_args(const Json& j, const std::string& path, HelloArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("protocol", out.protocol));
  UIPSEC_TRY(o.optional("client", out.client));
  return o.finish();
}

Result<void> decode_args(const Json& j, const std::string& path, SpiAllocateArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("source", out.source));
  UIPSEC_TRY(o.required("destination", out.destination));
  return o.finish();
}

Result<void> decode_args(const Json& j, const std::string& path, SaUpdateArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("id", out.id));
  UIPSEC_TRY(o.required("endpoints", out.endpoints));
  return o.finish();
}

Result<void> decode_args(const Json& j, const std::string& path, SaGetArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("id", out.id));
  UIPSEC_TRY(o.optional("keys", out.keys));
  return o.finish();
}

Result<void> decode_args(const Json& j, const std::string& path, SaDeleteArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("id", out.id));
  return o.finish();
}

Result<void> decode_args(const Json& j, const std::string& path, SaListArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.optional("keys", out.keys));
  return o.finish();
}

Result<void> decode_args(const Json& j, const std::string& path, PolicyIdArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("id", out.id));
  return o.finish();
}

Result<void> decode_args(const Json& j, const std::string& path, MonitorArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.optional("subscribe", out.subscribe));
  return o.finish();
}

Result<void> decode_args(const Json& j, const std::string& path, IkeRegisterArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.optional("register", out.register_handler));
  return o.finish();
}

// IKE payloads: hex, either case, no prefix; at most a frame's worth.
Result<void> decode_payload(const Json& j, const std::string& path,
                            std::vector<std::uint8_t>& out) {
  if (!j.is_string()) return expected(path, "a string of hex digits", j);
  auto bytes = parse_hex(j.get_ref<const std::string&>());
  if (!bytes) return at(path, bytes.error().message());
  out = std::move(*bytes);
  return {};
}

Result<void> decode_args(const Json& j, const std::string& path, IkeSendArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  UIPSEC_TRY(o.required("local", out.local));
  UIPSEC_TRY(o.required("remote", out.remote));
  Json payload;
  UIPSEC_TRY(o.required("payload", payload));
  UIPSEC_TRY(decode_payload(payload, join(path, "payload"), out.payload));
  return o.finish();
}

// A virtual IP: one usable unicast address (what an IKE peer assigns), never a subnet.
Result<void> decode_args(const Json& j, const std::string& path, AddressArgs& out) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  Json given;
  UIPSEC_TRY(o.required("address", given));
  const std::string field = join(path, "address");
  std::uint8_t length = 0;
  UIPSEC_TRY(decode_interface_address(given, field, out.address, length));
  const std::uint8_t host = out.address.is_v4() ? 32 : 128;
  if (length != host) {
    return at(field, "a virtual IP is a single address (/" + std::to_string(host) + "), got " +
                         describe(given));
  }
  const std::uint8_t first = out.address.data()[0];
  const bool loopback =
      out.address.is_v4()
          ? first == 127
          : IpPrefix(out.address, 127).address().is_unspecified() && out.address.data()[15] == 1;
  const bool multicast = out.address.is_v4() ? first >= 224 : first == 0xff;
  if (out.address.is_unspecified() || loopback || multicast) {
    return at(field, "expected a unicast address, got " + describe(given) +
                         " (unspecified, loopback, multicast and reserved addresses are refused)");
  }
  return o.finish();
}

Result<void> decode_args(const Json& j, const std::string& path, NoArgs&) {
  ObjectReader o(j, path);
  UIPSEC_TRY(o.open());
  return o.finish();
}

Result<void> decode_args(const Json& j, const std::string& path, SaConfig& out) {
  return decode(j, path, out);
}

Result<void> decode_args(const Json& j, const std::string& path, PolicyConfig& out) {
  return decode(j, path, out);
}

template <class T>
Result<RequestArgs> decode_args_as(const Json& j, const std::string& path) {
  T args{};
  UIPSEC_TRY(decode_args(j, path, args));
  return RequestArgs(std::move(args));
}

Result<RequestArgs> decode_args_for(Op op, const Json& j) {
  const std::string path = "args";
  switch (op) {
    case Op::kHello:
      return decode_args_as<HelloArgs>(j, path);
    case Op::kSpiAllocate:
      return decode_args_as<SpiAllocateArgs>(j, path);
    case Op::kSaAdd:
      return decode_args_as<SaConfig>(j, path);
    case Op::kSaUpdate:
      return decode_args_as<SaUpdateArgs>(j, path);
    case Op::kSaGet:
      return decode_args_as<SaGetArgs>(j, path);
    case Op::kSaDelete:
      return decode_args_as<SaDeleteArgs>(j, path);
    case Op::kSaList:
      return decode_args_as<SaListArgs>(j, path);
    case Op::kPolicyAdd:
    case Op::kPolicyUpdate:
      return decode_args_as<PolicyConfig>(j, path);
    case Op::kPolicyGet:
    case Op::kPolicyDelete:
      return decode_args_as<PolicyIdArgs>(j, path);
    case Op::kMonitor:
      return decode_args_as<MonitorArgs>(j, path);
    case Op::kIkeRegister:
      return decode_args_as<IkeRegisterArgs>(j, path);
    case Op::kIkeSend:
      return decode_args_as<IkeSendArgs>(j, path);
    case Op::kAddressAdd:
    case Op::kAddressDelete:
      return decode_args_as<AddressArgs>(j, path);
    case Op::kAddressList:
    case Op::kSaFlush:
    case Op::kPolicyList:
    case Op::kPolicyFlush:
    case Op::kStats:
      return decode_args_as<NoArgs>(j, path);
  }
  return Error("op: not implemented");
}

// --- Encoders of the small types ----------------------------------------------------------------

Json address_json(const IpAddress& a) { return a.to_string(); }
Json prefix_json(const IpPrefix& p) { return p.to_string(); }
Json ports_json(const PortRange& r) { return Json::array({r.first, r.last}); }
Json range_json(const AddressRange& r) {
  return Json::array({address_json(r.first), address_json(r.last)});
}
Json timestamp_json(Timestamp t) { return t.nanoseconds(); }
template <class T, class F>
Json optional_json(const std::optional<T>& value, F&& encode) {
  return value ? encode(*value) : Json(nullptr);
}

Json limits_json(const LifetimeLimits& l) {
  return Json{{"bytes", l.bytes},
              {"packets", l.packets},
              {"add_seconds", l.add_seconds},
              {"use_seconds", l.use_seconds}};
}

Json encapsulation_json(const UdpEncapsulation& e) {
  return Json{{"source_port", e.source_port},
              {"destination_port", e.destination_port},
              {"original_address", optional_json(e.original_address, address_json)}};
}

Json template_json(const PolicyTemplate& t) {
  return Json{{"reqid", t.reqid.value()},
              {"mode", name_of(kTemplateModeNames, t.mode)},
              {"source", address_json(t.source)},
              {"destination", address_json(t.destination)}};
}

Json endpoint_json(const Endpoint& e) {
  return Json{{"address", address_json(e.address)}, {"port", e.port}};
}

Json args_json(const NoArgs&) { return Json::object(); }
Json args_json(const HelloArgs& a) { return Json{{"protocol", a.protocol}, {"client", a.client}}; }
Json args_json(const SpiAllocateArgs& a) {
  return Json{{"source", address_json(a.source)}, {"destination", address_json(a.destination)}};
}
Json args_json(const SaConfig& a) { return to_json(a, KeyDisclosure::kInclude); }
Json args_json(const SaUpdateArgs& a) {
  return Json{{"id", to_json(a.id)}, {"endpoints", to_json(a.endpoints)}};
}
Json args_json(const SaGetArgs& a) {
  return Json{{"id", to_json(a.id)}, {"keys", a.keys == KeyDisclosure::kInclude}};
}
Json args_json(const SaDeleteArgs& a) { return Json{{"id", to_json(a.id)}}; }
Json args_json(const SaListArgs& a) { return Json{{"keys", a.keys == KeyDisclosure::kInclude}}; }
Json args_json(const PolicyConfig& a) { return to_json(a); }
Json args_json(const PolicyIdArgs& a) { return Json{{"id", to_json(a.id)}}; }
Json args_json(const MonitorArgs& a) { return Json{{"subscribe", a.subscribe}}; }
Json args_json(const IkeRegisterArgs& a) { return Json{{"register", a.register_handler}}; }
Json args_json(const IkeSendArgs& a) {
  return Json{{"local", endpoint_json(a.local)},
              {"remote", endpoint_json(a.remote)},
              {"payload", to_hex(a.payload)}};
}
Json args_json(const AddressArgs& a) {
  return Json{{"address", IpPrefix::host(a.address).to_string()}};
}

template <class T>
Result<T> decode_value(const Json& json, std::string_view path) {
  T value{};
  UIPSEC_TRY(decode(json, std::string(path), value));
  return value;
}

}  // namespace

// --- Public encoders ----------------------------------------------------------------------------

Json to_json(const SaId& id) {
  return Json{{"destination", address_json(id.destination)}, {"spi", id.spi.value()}};
}

Json to_json(const SaEndpoints& e) {
  return Json{{"source", address_json(e.source)},
              {"destination", address_json(e.destination)},
              {"encapsulation", optional_json(e.encapsulation, encapsulation_json)}};
}

Json to_json(const TrafficSelector& s) {
  Json out{{"source", prefix_json(s.source)},
           {"destination", prefix_json(s.destination)},
           {"protocol", s.protocol},
           {"source_ports", ports_json(s.source_ports)},
           {"destination_ports", ports_json(s.destination_ports)}};
  // Only when present, so that selectors without ranges read as they always did.
  if (s.source_range) out["source_range"] = range_json(*s.source_range);
  if (s.destination_range) out["destination_range"] = range_json(*s.destination_range);
  return out;
}

Json to_json(const SaConfig& c, KeyDisclosure keys) {
  Json algorithms{{"cipher", xfrm_name(c.algorithms.cipher)},
                  {"integrity", xfrm_name(c.algorithms.integrity)},
                  {"icv_bits", c.algorithms.icv_bits}};
  if (keys == KeyDisclosure::kInclude) {
    algorithms["cipher_key"] = to_hex(c.algorithms.cipher_key.span());
    algorithms["integrity_key"] = to_hex(c.algorithms.integrity_key.span());
  }
  return Json{
      {"endpoints", to_json(c.endpoints)},
      {"spi", c.spi.value()},
      {"reqid", c.reqid.value()},
      {"mode", name_of(kModeNames, c.mode)},
      {"direction", name_of(kSaDirectionNames, c.direction)},
      {"algorithms", std::move(algorithms)},
      {"replay_window", c.replay_window},
      {"inbound_sequence", c.inbound_sequence},
      {"outbound_sequence", c.outbound_sequence},
      {"flags", Json{{"esn", c.flags.esn},
                     {"follow_peer", c.flags.follow_peer},
                     {"nat_keepalive", c.flags.nat_keepalive},
                     {"no_ecn", c.flags.no_ecn},
                     {"decap_dscp", c.flags.decap_dscp},
                     {"dont_encap_dscp", c.flags.dont_encap_dscp}}},
      {"lifetimes",
       Json{{"soft", limits_json(c.lifetimes.soft)}, {"hard", limits_json(c.lifetimes.hard)}}},
      {"selector", optional_json(c.selector, [](const TrafficSelector& s) { return to_json(s); })},
  };
}

Json to_json(const SaInfo& i, KeyDisclosure keys) {
  return Json{{"config", to_json(i.config, keys)},
              {"bytes", i.bytes},
              {"packets", i.packets},
              {"replay_drops", i.replay_drops},
              {"authentication_failures", i.authentication_failures},
              {"other_drops", i.other_drops},
              {"outbound_sequence", i.outbound_sequence},
              {"inbound_sequence", i.inbound_sequence},
              {"added", timestamp_json(i.added)},
              {"first_use", optional_json(i.first_use, timestamp_json)},
              {"last_use", optional_json(i.last_use, timestamp_json)},
              {"soft_expired", i.soft_expired},
              {"hard_expired", i.hard_expired}};
}

Json to_json(const PolicyConfig& c) {
  return Json{{"selector", to_json(c.selector)},
              {"direction", name_of(kPolicyDirectionNames, c.direction)},
              {"action", name_of(kActionNames, c.action)},
              {"priority", c.priority},
              {"template", optional_json(c.tmpl, template_json)}};
}

Json to_json(const PolicyId& id) {
  return Json{{"selector", to_json(id.selector)},
              {"direction", name_of(kPolicyDirectionNames, id.direction)}};
}

Json to_json(const PolicyInfo& i) {
  return Json{{"config", to_json(i.config)},
              {"index", i.index.value()},
              {"packets", i.packets},
              {"bytes", i.bytes},
              {"added", timestamp_json(i.added)},
              {"last_use", optional_json(i.last_use, timestamp_json)}};
}

Json to_json(const Statistics& s) {
  Json drops = Json::object();
  for (std::size_t i = 1; i < kDropReasonCount; ++i) {
    drops[std::string(to_string(static_cast<DropReason>(i)))] = s.drops[i];
  }
  return Json{{"drops", std::move(drops)},
              {"sealed", s.sealed},
              {"opened", s.opened},
              {"bypassed", s.bypassed},
              {"ike", s.ike},
              {"events_lost", s.events_lost},
              {"sa_count", s.sa_count},
              {"policy_count", s.policy_count},
              {"io", s.io}};
}

Json to_json(const IpsecEvent& event) {
  struct Encoder {
    Json operator()(const AcquireEvent& e) const {
      return Json{{"event", "acquire"},
                  {"reqid", e.reqid.value()},
                  {"policy", e.policy.value()},
                  {"packet", to_json(e.packet)}};
    }
    Json operator()(const ExpireEvent& e) const {
      return Json{
          {"event", "expire"}, {"sa", to_json(e.sa)}, {"reqid", e.reqid.value()}, {"hard", e.hard}};
    }
    Json operator()(const MappingEvent& e) const {
      return Json{{"event", "mapping"},
                  {"sa", to_json(e.sa)},
                  {"reqid", e.reqid.value()},
                  {"previous", endpoint_json(e.previous)},
                  {"current", endpoint_json(e.current)}};
    }
  };
  return std::visit(Encoder{}, event);
}

Json to_json(const DeviceAddress& address) {
  return Json{{"address", address.address.to_string() + "/" +
                              std::to_string(static_cast<unsigned>(address.prefix_length))},
              {"ours", address.ours}};
}

Json to_json(const HelloResult& hello) {
  return Json{{"protocol", hello.protocol},
              {"daemon", hello.daemon},
              {"default_replay_window", hello.default_replay_window}};
}

// --- Public decoders ----------------------------------------------------------------------------

template <>
Result<SaConfig> from_json<SaConfig>(const Json& json, std::string_view path) {
  return decode_value<SaConfig>(json, path);
}
template <>
Result<SaId> from_json<SaId>(const Json& json, std::string_view path) {
  return decode_value<SaId>(json, path);
}
template <>
Result<SaEndpoints> from_json<SaEndpoints>(const Json& json, std::string_view path) {
  return decode_value<SaEndpoints>(json, path);
}
template <>
Result<SaInfo> from_json<SaInfo>(const Json& json, std::string_view path) {
  return decode_value<SaInfo>(json, path);
}
template <>
Result<TrafficSelector> from_json<TrafficSelector>(const Json& json, std::string_view path) {
  return decode_value<TrafficSelector>(json, path);
}
template <>
Result<PolicyConfig> from_json<PolicyConfig>(const Json& json, std::string_view path) {
  return decode_value<PolicyConfig>(json, path);
}
template <>
Result<PolicyId> from_json<PolicyId>(const Json& json, std::string_view path) {
  return decode_value<PolicyId>(json, path);
}
template <>
Result<PolicyInfo> from_json<PolicyInfo>(const Json& json, std::string_view path) {
  return decode_value<PolicyInfo>(json, path);
}
template <>
Result<Statistics> from_json<Statistics>(const Json& json, std::string_view path) {
  return decode_value<Statistics>(json, path);
}
template <>
Result<IpsecEvent> from_json<IpsecEvent>(const Json& json, std::string_view path) {
  return decode_value<IpsecEvent>(json, path);
}
template <>
Result<HelloResult> from_json<HelloResult>(const Json& json, std::string_view path) {
  return decode_value<HelloResult>(json, path);
}
template <>
Result<DeviceAddress> from_json<DeviceAddress>(const Json& json, std::string_view path) {
  return decode_value<DeviceAddress>(json, path);
}

// --- Requests -----------------------------------------------------------------------------------

std::string_view op_name(Op op) {
  switch (op) {
    case Op::kHello:
      return "hello";
    case Op::kSpiAllocate:
      return "spi.allocate";
    case Op::kSaAdd:
      return "sa.add";
    case Op::kSaUpdate:
      return "sa.update";
    case Op::kSaGet:
      return "sa.get";
    case Op::kSaDelete:
      return "sa.delete";
    case Op::kSaList:
      return "sa.list";
    case Op::kSaFlush:
      return "sa.flush";
    case Op::kPolicyAdd:
      return "policy.add";
    case Op::kPolicyUpdate:
      return "policy.update";
    case Op::kPolicyGet:
      return "policy.get";
    case Op::kPolicyDelete:
      return "policy.delete";
    case Op::kPolicyList:
      return "policy.list";
    case Op::kPolicyFlush:
      return "policy.flush";
    case Op::kStats:
      return "stats";
    case Op::kMonitor:
      return "monitor";
    case Op::kIkeRegister:
      return "ike.register";
    case Op::kIkeSend:
      return "ike.send";
    case Op::kAddressAdd:
      return "address.add";
    case Op::kAddressDelete:
      return "address.delete";
    case Op::kAddressList:
      return "address.list";
  }
  return "invalid";
}

Result<Op> parse_op(std::string_view name) {
  for (Op op : kOps) {
    if (op_name(op) == name) return op;
  }
  std::string known;
  for (Op op : kOps) known += (known.empty() ? "" : ", ") + std::string(op_name(op));
  return Error("unknown operation " + describe(Json(std::string(name))) + "; expected one of " +
               known);
}

Result<RequestEnvelope> parse_request_envelope(std::string_view body) {
  auto json = parse_json(body);
  if (!json) return json.error();
  if (!json->is_object()) return expected("", "a request object", *json);
  auto id = json->find("id");
  if (id == json->end()) return Error("id: missing (every request needs one)");
  RequestEnvelope envelope;
  UIPSEC_TRY(decode(*id, "id", envelope.id));
  envelope.message = std::move(*json);
  return envelope;
}

Result<Request> decode_request(const RequestEnvelope& envelope) {
  ObjectReader o(envelope.message, "");
  UIPSEC_TRY(o.open());
  Request request;
  UIPSEC_TRY(o.required("id", request.id));
  std::string op_text;
  UIPSEC_TRY(o.required("op", op_text));
  auto op = parse_op(op_text);
  if (!op) return op.error().with_context("op");
  request.op = *op;
  Json args = Json::object();
  UIPSEC_TRY(o.optional("args", args));
  UIPSEC_TRY(o.finish());
  auto decoded = decode_args_for(request.op, args);
  if (!decoded) return decoded.error();
  request.args = std::move(*decoded);
  return request;
}

Json args_to_json(const RequestArgs& args) {
  return std::visit([](const auto& a) { return args_json(a); }, args);
}

Json to_json(const Request& request) {
  return Json{
      {"id", request.id}, {"op", op_name(request.op)}, {"args", args_to_json(request.args)}};
}

// --- Server messages ----------------------------------------------------------------------------

Json to_json(const Response& r) {
  Json j{{"id", r.id ? Json(*r.id) : Json(nullptr)}, {"ok", r.ok}};
  if (r.ok) {
    j["result"] = r.result;
    if (r.more) j["more"] = true;
  } else {
    j["error"] = r.error;
  }
  return j;
}

Result<ServerMessage> parse_server_message(std::string_view body) {
  auto json = parse_json(body);
  if (!json) return json.error();
  if (!json->is_object()) return expected("", "a response or event object", *json);
  if (json->contains("event")) {
    if (!(*json)["event"].is_string()) return expected("event", "a string", (*json)["event"]);
    return ServerMessage(std::move(*json));
  }
  ObjectReader o(*json, "");
  Response r;
  Json id;
  UIPSEC_TRY(o.required("id", id));
  if (!id.is_null()) {
    std::uint64_t value = 0;
    UIPSEC_TRY(decode(id, "id", value));
    r.id = value;
  }
  UIPSEC_TRY(o.required("ok", r.ok));
  if (r.ok) {
    UIPSEC_TRY(o.optional("result", r.result));
    UIPSEC_TRY(o.optional("more", r.more));
  } else {
    UIPSEC_TRY(o.required("error", r.error));
  }
  UIPSEC_TRY(o.finish());
  return ServerMessage(std::move(r));
}

Json overflow_message(std::uint64_t lost) { return Json{{"event", "overflow"}, {"lost", lost}}; }

Json ike_message_event(const Endpoint& local, const Endpoint& remote, ByteSpan payload) {
  return Json{{"event", "ike.message"},
              {"local", endpoint_json(local)},
              {"remote", endpoint_json(remote)},
              {"payload", to_hex(payload)}};
}

Json ike_notice_event(const Endpoint& local, const Endpoint& remote, std::uint32_t size,
                      bool handled) {
  const auto text = [](const Endpoint& e) {
    return e.address.is_v6() ? "[" + e.address.to_string() + "]:" + std::to_string(e.port)
                             : e.address.to_string() + ":" + std::to_string(e.port);
  };
  return Json{{"event", "ike"},
              {"remote", text(remote)},
              {"local", text(local)},
              {"size", size},
              {"handled", handled}};
}

Result<IkeMessage> parse_ike_message_event(const Json& json) {
  ObjectReader o(json, "");
  UIPSEC_TRY(o.open());
  std::string kind;
  UIPSEC_TRY(o.required("event", kind));
  if (kind != "ike.message") return Error("event: expected \"ike.message\", got " + kind);
  IkeMessage message;
  UIPSEC_TRY(o.required("local", message.local));
  UIPSEC_TRY(o.required("remote", message.remote));
  Json payload;
  UIPSEC_TRY(o.required("payload", payload));
  UIPSEC_TRY(decode_payload(payload, "payload", message.payload));
  UIPSEC_TRY(o.finish());
  return message;
}

// --- Helpers ------------------------------------------------------------------------------------

bool json_depth_within(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

std::string describe_json(const Json& json) { return describe(json); }

std::string dump_json(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Json> parse_json(std::string_view text) {
  if (!json_depth_within(text, kMaxJsonDepth)) {
    return Error("message nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth) +
                 " levels");
  }
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Error("message is not valid JSON (UTF-8 text)");
  return json;
}

}  // namespace uipsec
