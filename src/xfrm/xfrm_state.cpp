// `ip xfrm state` arguments <-> SaConfig, and the `ip xfrm state list` format.
//
// Parsing: one pass over the arguments (any order, each at most once, as iproute2's loop but
// stricter about repeats), values checked as they are read, then the pieces are assembled and
// the whole configuration goes through SaConfig::validate() so that rules live in one place.
#include "xfrm/xfrm_state.hpp"

#include <array>
#include <cstdio>
#include <optional>
#include <set>

#include "base/hex.hpp"
#include "xfrm/xfrm_reader.hpp"
#include "xfrm/xfrm_selector.hpp"

namespace uipsec {

namespace {

using xfrm::ArgumentReader;
using xfrm::quote;

constexpr std::array<std::string_view, 21> kStateWords = {
    "src",  "dst",           "proto",      "spi",         "reqid",         "mode",
    "dir",  "replay-window", "replay-seq", "replay-oseq", "replay-seq-hi", "replay-oseq-hi",
    "flag", "aead",          "enc",        "auth",        "auth-trunc",    "encap",
    "sel",  "limit",         "extra-flag"};

constexpr std::array<std::string_view, 4> kStateIdWords = {"src", "dst", "proto", "spi"};

// iproute2 words uipsec knows and does not implement: refused as such, not as unknown.
constexpr std::array<std::string_view, 12> kNotImplemented = {"mark",
                                                              "mask",
                                                              "seq",
                                                              "ctx",
                                                              "coa",
                                                              "output-mark",
                                                              "if_id",
                                                              "offload",
                                                              "tfcpad",
                                                              "comp",
                                                              "nat-keepalive-interval",
                                                              "pcpu-num"};

// Linux flags; esn, noecn and decap-dscp are implemented.
constexpr std::array<std::string_view, 8> kLinuxFlags = {
    "esn", "noecn", "decap-dscp", "nopmtudisc", "wildrecv", "icmp", "af-unspec", "align4"};

struct Alias {
  std::string_view name;
  std::string_view canonical;
};

// The kernel's compatibility names (xfrm_algo "compat"), so that old commands keep working;
// retired algorithms map to their full names so the refusal gives the reason.
constexpr std::array<Alias, 9> kCipherAliases = {{
    {"aes", "cbc(aes)"},
    {"cipher_null", "ecb(cipher_null)"},
    {"des", "cbc(des)"},
    {"des3_ede", "cbc(des3_ede)"},
    {"blowfish", "cbc(blowfish)"},
    {"cast5", "cbc(cast5)"},
    {"serpent", "cbc(serpent)"},
    {"twofish", "cbc(twofish)"},
    {"camellia", "cbc(camellia)"},
}};
constexpr std::array<Alias, 6> kIntegrityAliases = {{
    {"sha1", "hmac(sha1)"},
    {"sha256", "hmac(sha256)"},
    {"sha384", "hmac(sha384)"},
    {"sha512", "hmac(sha512)"},
    {"md5", "hmac(md5)"},
    {"rmd160", "hmac(rmd160)"},
}};

template <std::size_t N>
std::string_view canonical_name(std::string_view name, const std::array<Alias, N>& aliases) {
  for (const Alias& a : aliases) {
    if (a.name == name) return a.canonical;
  }
  return name;
}

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& words, std::string_view word) {
  for (std::string_view w : words) {
    if (w == word) return true;
  }
  return false;
}

template <std::size_t N>
Error unknown_argument(std::string_view argument, const std::array<std::string_view, N>& words) {
  if (contains(kNotImplemented, argument)) {
    return Error("'" + std::string(argument) + "' is not implemented by uipsec");
  }
  std::string list;
  for (std::string_view w : words) list += (list.empty() ? "" : ", ") + std::string(w);
  return Error("unknown argument " + quote(argument) + " (expected one of: " + list + ")");
}

// The ICV length Linux gives `auth NAME KEY`: its algorithm table predates RFC 4868 and says 96
// bits for hmac(sha256) too; `auth-trunc 'hmac(sha256)' KEY 128` gets the RFC length.
std::uint16_t linux_auth_icv_bits(EspIntegrity integrity) {
  return integrity == EspIntegrity::kHmacSha256 ? 96 : rfc_icv_bits(integrity);
}

std::string hex_text(std::uint64_t value, int width = 0) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "0x%0*llx", width, static_cast<unsigned long long>(value));
  return buffer;
}

std::string_view mode_name(IpsecMode mode) {
  return mode == IpsecMode::kTunnel ? "tunnel" : "transport";
}

IpAddress unspecified(IpFamily family) {
  const std::uint8_t zero[16] = {};
  return IpAddress::from_bytes(family, zero);
}

struct CipherChoice {
  EspCipher cipher;
  SecretBytes key;
  std::uint16_t icv_bits = 0;  // aead only
};

struct IntegrityChoice {
  EspIntegrity integrity;
  SecretBytes key;
  std::uint16_t icv_bits = 0;
};

class StateParser {
 public:
  StateParser(std::span<const std::string_view> args, const XfrmStateDefaults& defaults)
      : reader_(args) {
    config_.replay_window = defaults.replay_window;
  }

  Result<SaConfig> parse() {
    config_.mode = IpsecMode::kTransport;  // Linux's default
    while (!reader_.at_end()) UIPSEC_TRY(parse_argument(reader_.next()));
    return finish();
  }

 private:
  Result<void> once(std::string_view keyword) {
    if (!seen_.emplace(keyword).second) return Error("duplicate '" + std::string(keyword) + "'");
    return {};
  }

  Result<std::uint32_t> u32(std::string_view keyword, std::string_view description) {
    auto n = xfrm::read_number(reader_, keyword, 0xffffffff, description);
    if (!n) return n.error();
    return static_cast<std::uint32_t>(*n);
  }

  Result<void> parse_argument(std::string_view keyword);
  Result<void> parse_flags();
  Result<void> parse_extra_flags();
  Result<CipherChoice> parse_cipher(std::string_view keyword);
  Result<IntegrityChoice> parse_integrity(std::string_view keyword);
  Result<void> parse_encap();
  Result<void> parse_selector();
  Result<void> parse_limit();
  Result<SaConfig> finish();

  ArgumentReader reader_;
  std::set<std::string, std::less<>> seen_;
  SaConfig config_;
  std::optional<IpAddress> source_;
  std::optional<IpAddress> destination_;
  bool esp_ = false;
  bool spi_ = false;
  std::uint32_t seq_ = 0, oseq_ = 0, seq_hi_ = 0, oseq_hi_ = 0;
  std::optional<CipherChoice> aead_;
  std::optional<CipherChoice> enc_;
  std::optional<IntegrityChoice> auth_;
  std::optional<xfrm::SelectorBuilder> selector_;
  std::set<std::string, std::less<>> limits_;
};

Result<void> StateParser::parse_argument(std::string_view keyword) {
  if (contains(kStateWords, keyword) && keyword != "limit") UIPSEC_TRY(once(keyword));
  if (keyword == "src" || keyword == "dst") {
    auto address = xfrm::read_address(reader_, keyword);
    if (!address) return address.error();
    (keyword == "src" ? source_ : destination_) = *address;
  } else if (keyword == "proto") {
    auto value = reader_.value("proto", "esp");
    if (!value) return value.error();
    if (*value == "ah" || *value == "comp" || *value == "route2" || *value == "hao" ||
        *value == "ipsec-any") {
      return Error("proto: only esp is implemented by uipsec, got " + quote(*value));
    }
    if (*value != "esp") return Error("proto: expected esp, got " + quote(*value));
    esp_ = true;
  } else if (keyword == "spi") {
    auto spi = u32("spi", "a number 0x100..0xffffffff");
    if (!spi) return spi.error();
    config_.spi = Spi(*spi);
    spi_ = true;
  } else if (keyword == "reqid") {
    auto reqid = u32("reqid", "a number 0..4294967295");
    if (!reqid) return reqid.error();
    config_.reqid = Reqid(*reqid);
  } else if (keyword == "mode") {
    auto value = reader_.value("mode", "tunnel or transport");
    if (!value) return value.error();
    if (*value == "tunnel") {
      config_.mode = IpsecMode::kTunnel;
    } else if (*value == "transport") {
      config_.mode = IpsecMode::kTransport;
    } else if (*value == "beet" || *value == "ro" || *value == "in_trigger") {
      return Error("mode: " + std::string(*value) +
                   " is not implemented by uipsec (tunnel or transport)");
    } else {
      return Error("mode: expected tunnel or transport, got " + quote(*value));
    }
  } else if (keyword == "dir") {
    auto value = reader_.value("dir", "in or out");
    if (!value) return value.error();
    if (*value == "in") {
      config_.direction = SaDirection::kIn;
    } else if (*value == "out") {
      config_.direction = SaDirection::kOut;
    } else {
      return Error("dir: expected in or out, got " + quote(*value));
    }
  } else if (keyword == "replay-window") {
    auto window = u32("replay-window", "a number of packets");
    if (!window) return window.error();
    config_.replay_window = *window;
  } else if (keyword == "replay-seq" || keyword == "replay-oseq" || keyword == "replay-seq-hi" ||
             keyword == "replay-oseq-hi") {
    auto value = u32(keyword, "a number 0..0xffffffff");
    if (!value) return value.error();
    if (keyword == "replay-seq") seq_ = *value;
    if (keyword == "replay-oseq") oseq_ = *value;
    if (keyword == "replay-seq-hi") seq_hi_ = *value;
    if (keyword == "replay-oseq-hi") oseq_hi_ = *value;
  } else if (keyword == "flag") {
    return parse_flags();
  } else if (keyword == "extra-flag") {
    return parse_extra_flags();
  } else if (keyword == "aead" || keyword == "enc") {
    auto cipher = parse_cipher(keyword);
    if (!cipher) return cipher.error();
    (keyword == "aead" ? aead_ : enc_) = std::move(cipher).value();
  } else if (keyword == "auth" || keyword == "auth-trunc") {
    if (auth_) {
      return Error(std::string(keyword) +
                   ": the SA already has an integrity algorithm (give one of auth or auth-trunc)");
    }
    auto integrity = parse_integrity(keyword);
    if (!integrity) return integrity.error();
    auth_ = std::move(integrity).value();
  } else if (keyword == "encap") {
    return parse_encap();
  } else if (keyword == "sel") {
    return parse_selector();
  } else if (keyword == "limit") {
    return parse_limit();
  } else {
    return unknown_argument(keyword, kStateWords);
  }
  return {};
}

Result<void> StateParser::parse_flags() {
  bool first = true;
  while (!reader_.at_end() &&
         (first || contains(kLinuxFlags, reader_.peek()) || reader_.peek() == "follow-peer" ||
          reader_.peek() == "nat-keepalive")) {
    const std::string_view flag = reader_.next();
    if (flag == "esn") {
      config_.flags.esn = true;
    } else if (flag == "noecn") {
      config_.flags.no_ecn = true;
    } else if (flag == "decap-dscp") {
      config_.flags.decap_dscp = true;
    } else if (flag == "follow-peer") {
      config_.flags.follow_peer = true;
    } else if (flag == "nat-keepalive") {
      config_.flags.nat_keepalive = true;
    } else if (contains(kLinuxFlags, flag)) {
      return Error("flag " + std::string(flag) +
                   " is not implemented by uipsec yet (implemented: esn, noecn, decap-dscp, "
                   "follow-peer, nat-keepalive)");
    } else {
      return Error(
          "flag: expected esn, noecn, decap-dscp, follow-peer or nat-keepalive (nopmtudisc, "
          "wildrecv, icmp, af-unspec and align4 are not implemented yet), got " +
          quote(flag));
    }
    first = false;
  }
  if (first) {
    return Error(
        "flag: missing value (expected esn, noecn, decap-dscp, follow-peer or nat-keepalive)");
  }
  return {};
}

// Linux's XFRMA_SA_EXTRA_FLAGS: dont-encap-dscp and oseq-may-wrap.
Result<void> StateParser::parse_extra_flags() {
  bool first = true;
  while (!reader_.at_end() &&
         (first || reader_.peek() == "dont-encap-dscp" || reader_.peek() == "oseq-may-wrap")) {
    const std::string_view flag = reader_.next();
    if (flag == "dont-encap-dscp") {
      config_.flags.dont_encap_dscp = true;
    } else if (flag == "oseq-may-wrap") {
      return Error(
          "extra-flag oseq-may-wrap: refused — a wrapped sequence number reuses a counter-mode "
          "IV under the same key (RFC 4303 3.3.3); rekey instead");
    } else {
      return Error("extra-flag: expected dont-encap-dscp, got " + quote(flag));
    }
    first = false;
  }
  if (first) return Error("extra-flag: missing value (expected dont-encap-dscp)");
  return {};
}

Result<CipherChoice> StateParser::parse_cipher(std::string_view keyword) {
  const bool aead = keyword == "aead";
  const std::string k(keyword);
  if (reader_.at_end()) {
    return Error(k + ": missing value (expected " + (aead ? "ALGO KEY ICV-LENGTH" : "ALGO KEY") +
                 ")");
  }
  const std::string_view name = reader_.next();
  if (xfrm::looks_like_key(name)) return Error(k + ": expected an algorithm name before the key");
  auto cipher = parse_cipher_name(canonical_name(name, kCipherAliases));
  if (!cipher) return cipher.error().with_context(k);
  const std::string canonical(xfrm_name(*cipher));
  if (aead && !is_combined_mode(*cipher)) {
    return Error("aead: '" + canonical + "' is not an AEAD algorithm (use enc '" + canonical +
                 "' KEY with auth or auth-trunc)");
  }
  if (!aead && is_combined_mode(*cipher)) {
    return Error("enc: '" + canonical + "' is an AEAD algorithm (use aead '" + canonical +
                 "' KEY ICV-LENGTH)");
  }
  if (reader_.at_end()) {
    return Error(k + ": '" + canonical + "' needs KEY" + (aead ? " and ICV-LENGTH" : ""));
  }
  auto key = xfrm::parse_key(reader_.next());
  if (!key) return key.error().with_context(k);
  CipherChoice choice{*cipher, std::move(key).value(), 0};
  if (aead) {
    if (reader_.at_end()) return Error("aead: '" + canonical + "' needs ICV-LENGTH after KEY");
    auto bits = xfrm::read_number(reader_, "aead", 0xffff, "an ICV length in bits (64, 96, 128)");
    if (!bits) return bits.error();
    choice.icv_bits = static_cast<std::uint16_t>(*bits);
  }
  return choice;
}

Result<IntegrityChoice> StateParser::parse_integrity(std::string_view keyword) {
  const bool trunc = keyword == "auth-trunc";
  const std::string k(keyword);
  if (reader_.at_end()) {
    return Error(k + ": missing value (expected " + (trunc ? "ALGO KEY TRUNC-LENGTH" : "ALGO KEY") +
                 ")");
  }
  const std::string_view name = reader_.next();
  if (xfrm::looks_like_key(name)) return Error(k + ": expected an algorithm name before the key");
  auto integrity = parse_integrity_name(canonical_name(name, kIntegrityAliases));
  if (!integrity) return integrity.error().with_context(k);
  const std::string canonical(xfrm_name(*integrity));
  if (reader_.at_end()) {
    return Error(k + ": '" + canonical + "' needs KEY" + (trunc ? " and TRUNC-LENGTH" : ""));
  }
  auto key = xfrm::parse_key(reader_.next());
  if (!key) return key.error().with_context(k);
  IntegrityChoice choice{*integrity, std::move(key).value(), linux_auth_icv_bits(*integrity)};
  if (trunc) {
    if (reader_.at_end()) {
      return Error("auth-trunc: '" + canonical + "' needs TRUNC-LENGTH after KEY");
    }
    auto bits = xfrm::read_number(reader_, "auth-trunc", 0xffff, "a truncation length in bits");
    if (!bits) return bits.error();
    choice.icv_bits = static_cast<std::uint16_t>(*bits);
  }
  return choice;
}

Result<void> StateParser::parse_encap() {
  auto type = reader_.value("encap", "espinudp SPORT DPORT OADDR");
  if (!type) return type.error();
  // `ip xfrm state list` prints "encap type espinudp sport 4500 dport 4500 addr 0.0.0.0";
  // that form is read too, so that listed SAs can be added again.
  const bool listed = *type == "type";
  if (listed) {
    type = reader_.value("encap type", "espinudp");
    if (!type) return type.error();
  }
  if (*type == "espinudp-nonike") {
    return Error(
        "encap: espinudp-nonike (the pre-RFC 3948 draft without the non-ESP marker) is "
        "not supported; use espinudp");
  }
  if (*type == "espintcp") {
    return Error("encap: espintcp (RFC 8229, ESP in TCP) is not implemented by uipsec");
  }
  if (*type != "espinudp") return Error("encap: expected espinudp, got " + quote(*type));
  auto word = [&](std::string_view expected) -> Result<void> {
    if (!listed) return {};
    auto w = reader_.value("encap", expected);
    if (!w) return w.error();
    if (*w != expected) {
      return Error("encap: expected '" + std::string(expected) + "', got " + quote(*w));
    }
    return {};
  };
  UdpEncapsulation encap;
  UIPSEC_TRY(word("sport"));
  auto sport = xfrm::read_number(reader_, "encap", 65535, "a source port 0..65535 (SPORT)");
  if (!sport) return sport.error();
  UIPSEC_TRY(word("dport"));
  auto dport = xfrm::read_number(reader_, "encap", 65535, "a destination port 0..65535 (DPORT)");
  if (!dport) return dport.error();
  UIPSEC_TRY(word("addr"));
  if (reader_.at_end()) {
    return Error("encap: missing OADDR (the original address, or 0.0.0.0 for none)");
  }
  auto address = xfrm::read_address(reader_, "encap");
  if (!address) return address.error();
  encap.source_port = static_cast<std::uint16_t>(*sport);
  encap.destination_port = static_cast<std::uint16_t>(*dport);
  if (!address->is_unspecified()) encap.original_address = *address;
  config_.endpoints.encapsulation = encap;
  return {};
}

Result<void> StateParser::parse_selector() {
  xfrm::SelectorBuilder builder("sel: ");
  while (!reader_.at_end() && xfrm::SelectorBuilder::is_word(reader_.peek())) {
    const std::string_view word = reader_.next();
    UIPSEC_TRY(builder.take(word, reader_));
  }
  if (builder.empty()) return Error("sel: expected src, dst or proto after 'sel'");
  selector_ = std::move(builder);
  return {};
}

Result<void> StateParser::parse_limit() {
  auto name = reader_.value("limit",
                            "time-soft, time-hard, time-use-soft, time-use-hard, byte-soft, "
                            "byte-hard, packet-soft or packet-hard");
  if (!name) return name.error();
  struct Limit {
    std::string_view name;
    std::uint64_t LifetimeLimits::*field;
    bool soft;
    std::string_view unit;
  };
  static constexpr Limit kLimits[] = {
      {"time-soft", &LifetimeLimits::add_seconds, true, "a number of seconds"},
      {"time-hard", &LifetimeLimits::add_seconds, false, "a number of seconds"},
      {"time-use-soft", &LifetimeLimits::use_seconds, true, "a number of seconds"},
      {"time-use-hard", &LifetimeLimits::use_seconds, false, "a number of seconds"},
      {"byte-soft", &LifetimeLimits::bytes, true, "a number of bytes"},
      {"byte-hard", &LifetimeLimits::bytes, false, "a number of bytes"},
      {"packet-soft", &LifetimeLimits::packets, true, "a number of packets"},
      {"packet-hard", &LifetimeLimits::packets, false, "a number of packets"},
  };
  for (const Limit& limit : kLimits) {
    if (*name != limit.name) continue;
    const std::string keyword = "limit " + std::string(limit.name);
    if (!limits_.emplace(limit.name).second) return Error("duplicate '" + keyword + "'");
    auto value = xfrm::read_number(reader_, keyword, UINT64_MAX, limit.unit);
    if (!value) return value.error();
    // Through a reference: g++ 12 drops a store to `(c ? a : b).*member`.
    LifetimeLimits& limits = limit.soft ? config_.lifetimes.soft : config_.lifetimes.hard;
    limits.*(limit.field) = *value;
    return {};
  }
  return Error(
      "limit: expected time-soft, time-hard, time-use-soft, time-use-hard, byte-soft, "
      "byte-hard, packet-soft or packet-hard, got " +
      quote(*name));
}

Result<SaConfig> StateParser::finish() {
  if (!source_) return Error("missing 'src'");
  if (!destination_) return Error("missing 'dst'");
  if (!esp_) return Error("missing 'proto esp'");
  if (!spi_) return Error("missing 'spi'");
  config_.endpoints.source = *source_;
  config_.endpoints.destination = *destination_;

  EspAlgorithms& a = config_.algorithms;
  if (aead_) {
    if (enc_ || auth_) {
      return Error("aead: an AEAD algorithm cannot be combined with enc, auth or auth-trunc");
    }
    a.cipher = aead_->cipher;
    a.cipher_key = std::move(aead_->key);
    a.integrity = EspIntegrity::kNone;
    a.icv_bits = aead_->icv_bits;
  } else if (enc_) {
    a.cipher = enc_->cipher;
    a.cipher_key = std::move(enc_->key);
    a.integrity = EspIntegrity::kNone;
    if (auth_) {
      a.integrity = auth_->integrity;
      a.integrity_key = std::move(auth_->key);
      a.icv_bits = auth_->icv_bits;
    }
  } else if (auth_) {
    return Error(
        "missing 'enc': ESP needs an encryption algorithm (for integrity only use enc "
        "'ecb(cipher_null)' \"\")");
  } else {
    return Error(
        "missing algorithms: aead ALGO KEY ICV-LENGTH, or enc ALGO KEY with auth ALGO "
        "KEY or auth-trunc ALGO KEY TRUNC-LENGTH");
  }

  config_.inbound_sequence = std::uint64_t{seq_hi_} << 32 | seq_;
  config_.outbound_sequence = std::uint64_t{oseq_hi_} << 32 | oseq_;
  if (selector_) {
    auto selector = selector_->build(source_->family());
    if (!selector) return selector.error();
    config_.selector = *selector;
  }
  UIPSEC_TRY(config_.validate());
  return std::move(config_);
}

void append_limits(const SaConfig& c, std::vector<std::string>& out) {
  const auto& s = c.lifetimes.soft;
  const auto& h = c.lifetimes.hard;
  const std::pair<std::string_view, std::uint64_t> limits[] = {
      {"time-soft", s.add_seconds},     {"time-hard", h.add_seconds},
      {"time-use-soft", s.use_seconds}, {"time-use-hard", h.use_seconds},
      {"byte-soft", s.bytes},           {"byte-hard", h.bytes},
      {"packet-soft", s.packets},       {"packet-hard", h.packets},
  };
  for (const auto& [name, value] : limits) {
    if (value != 0) out.insert(out.end(), {"limit", std::string(name), std::to_string(value)});
  }
}

void append_sequences(const SaConfig& c, std::vector<std::string>& out) {
  const std::pair<std::string_view, std::uint64_t> parts[] = {
      {"replay-seq", c.inbound_sequence & 0xffffffff},
      {"replay-oseq", c.outbound_sequence & 0xffffffff},
      {"replay-seq-hi", c.inbound_sequence >> 32},
      {"replay-oseq-hi", c.outbound_sequence >> 32},
  };
  for (const auto& [name, value] : parts) {
    if (value != 0) out.insert(out.end(), {std::string(name), hex_text(value)});
  }
}

std::string key_text(const SecretBytes& key, bool show) {
  return show ? "0x" + to_hex(key.span()) : "(hidden)";
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::string limit_text(std::uint64_t value) { return value == 0 ? "(INF)" : std::to_string(value); }

std::string age_text(const std::optional<Timestamp>& at, Timestamp now) {
  if (!at) return "-";
  if (*at > now) return "0s ago";
  return std::to_string((now.nanoseconds() - at->nanoseconds()) / 1'000'000'000) + "s ago";
}

}  // namespace

Result<SaConfig> parse_state(std::span<const std::string_view> args,
                             const XfrmStateDefaults& defaults) {
  StateParser parser(args, defaults);
  return parser.parse();
}

Result<SaId> parse_state_id(std::span<const std::string_view> args) {
  ArgumentReader reader(args);
  std::set<std::string, std::less<>> seen;
  std::optional<IpAddress> source;
  std::optional<IpAddress> destination;
  std::optional<Spi> spi;
  bool esp = false;
  while (!reader.at_end()) {
    const std::string_view keyword = reader.next();
    if (!contains(kStateIdWords, keyword)) return unknown_argument(keyword, kStateIdWords);
    if (!seen.emplace(keyword).second) return Error("duplicate '" + std::string(keyword) + "'");
    if (keyword == "src" || keyword == "dst") {
      auto address = xfrm::read_address(reader, keyword);
      if (!address) return address.error();
      (keyword == "src" ? source : destination) = *address;
    } else if (keyword == "proto") {
      auto value = reader.value("proto", "esp");
      if (!value) return value.error();
      if (*value != "esp") return Error("proto: expected esp, got " + quote(*value));
      esp = true;
    } else {
      auto value = xfrm::read_number(reader, "spi", 0xffffffff, "a number 0x100..0xffffffff");
      if (!value) return value.error();
      if (*value < 0x100) {
        return Error("spi: expected a number 0x100..0xffffffff, got " + hex_text(*value));
      }
      spi = Spi(static_cast<std::uint32_t>(*value));
    }
  }
  if (!destination) return Error("missing 'dst'");
  if (!esp) return Error("missing 'proto esp'");
  if (!spi) return Error("missing 'spi'");
  if (source && source->family() != destination->family()) {
    return Error("src/dst: " + source->to_string() + " and " + destination->to_string() +
                 " are of different address families");
  }
  return SaId{*destination, *spi};
}

std::vector<std::string> state_arguments(const SaConfig& c) {
  std::vector<std::string> out = {"src",   c.endpoints.source.to_string(),
                                  "dst",   c.endpoints.destination.to_string(),
                                  "proto", "esp",
                                  "spi",   hex_text(c.spi.value(), 8),
                                  "reqid", std::to_string(c.reqid.value()),
                                  "mode",  std::string(mode_name(c.mode))};
  if (c.direction != SaDirection::kAny) {
    out.insert(out.end(), {"dir", c.direction == SaDirection::kIn ? "in" : "out"});
  }
  out.insert(out.end(), {"replay-window", std::to_string(c.replay_window)});
  append_sequences(c, out);
  // One `flag` with every flag: the parser takes each keyword once.
  std::vector<std::string> flags;
  if (c.flags.esn) flags.emplace_back("esn");
  if (c.flags.no_ecn) flags.emplace_back("noecn");
  if (c.flags.decap_dscp) flags.emplace_back("decap-dscp");
  if (c.flags.follow_peer) flags.emplace_back("follow-peer");
  if (c.flags.nat_keepalive) flags.emplace_back("nat-keepalive");
  if (!flags.empty()) {
    out.emplace_back("flag");
    out.insert(out.end(), flags.begin(), flags.end());
  }
  if (c.flags.dont_encap_dscp) out.insert(out.end(), {"extra-flag", "dont-encap-dscp"});
  const EspAlgorithms& a = c.algorithms;
  if (is_combined_mode(a.cipher)) {
    out.insert(out.end(), {"aead", std::string(xfrm_name(a.cipher)), key_text(a.cipher_key, true),
                           std::to_string(a.icv_bits)});
  } else {
    out.insert(out.end(), {"enc", std::string(xfrm_name(a.cipher)), key_text(a.cipher_key, true)});
    if (a.integrity != EspIntegrity::kNone) {
      out.insert(out.end(), {"auth-trunc", std::string(xfrm_name(a.integrity)),
                             key_text(a.integrity_key, true), std::to_string(a.icv_bits)});
    }
  }
  if (const auto& e = c.endpoints.encapsulation) {
    out.insert(
        out.end(),
        {"encap", "espinudp", std::to_string(e->source_port), std::to_string(e->destination_port),
         e->original_address ? e->original_address->to_string()
                             : unspecified(c.endpoints.source.family()).to_string()});
  }
  if (c.selector) {
    out.push_back("sel");
    xfrm::append_selector_arguments(*c.selector, out);
  }
  append_limits(c, out);
  return out;
}

std::string format_state(const SaInfo& info, bool show_keys) {
  XfrmListOptions options;
  options.show_keys = show_keys;
  return format_state(info, options);
}

std::string format_state(const SaInfo& info, const XfrmListOptions& options) {
  const SaConfig& c = info.config;
  std::string out = "src " + c.endpoints.source.to_string() + " dst " +
                    c.endpoints.destination.to_string() + "\n";
  out += "\tproto esp spi " + hex_text(c.spi.value(), 8) + " reqid " +
         std::to_string(c.reqid.value()) + " mode " + std::string(mode_name(c.mode)) + "\n";
  out += "\treplay-window " + std::to_string(c.replay_window);
  if (c.flags.esn || c.flags.no_ecn || c.flags.decap_dscp || c.flags.follow_peer ||
      c.flags.nat_keepalive) {
    out += " flag";
    if (c.flags.esn) out += " esn";
    if (c.flags.no_ecn) out += " noecn";
    if (c.flags.decap_dscp) out += " decap-dscp";
    if (c.flags.follow_peer) out += " follow-peer";
    if (c.flags.nat_keepalive) out += " nat-keepalive";
  }
  if (c.flags.dont_encap_dscp) out += " extra-flag dont-encap-dscp";
  out += "\n";
  // Not in iproute2's listing (Linux shows only the current counters): initial sequence numbers
  // and limits, printed when set so that the listing stays valid `state add` input.
  std::vector<std::string> extra;
  append_sequences(c, extra);
  if (!extra.empty()) out += "\t" + join(extra) + "\n";
  const EspAlgorithms& a = c.algorithms;
  const bool keys = options.show_keys;
  if (is_combined_mode(a.cipher)) {
    out += "\taead " + std::string(xfrm_name(a.cipher)) + " " + key_text(a.cipher_key, keys) + " " +
           std::to_string(a.icv_bits) + "\n";
  } else {
    if (a.integrity != EspIntegrity::kNone) {
      out += "\tauth-trunc " + std::string(xfrm_name(a.integrity)) + " " +
             key_text(a.integrity_key, keys) + " " + std::to_string(a.icv_bits) + "\n";
    }
    out += "\tenc " + std::string(xfrm_name(a.cipher)) + " " + key_text(a.cipher_key, keys) + "\n";
  }
  if (const auto& e = c.endpoints.encapsulation) {
    out += "\tencap type espinudp sport " + std::to_string(e->source_port) + " dport " +
           std::to_string(e->destination_port) + " addr " +
           (e->original_address ? e->original_address->to_string()
                                : unspecified(c.endpoints.source.family()).to_string()) +
           "\n";
  }
  if (c.direction != SaDirection::kAny) {
    out += std::string("\tdir ") + (c.direction == SaDirection::kIn ? "in" : "out") + "\n";
  }
  if (c.selector) out += "\tsel " + xfrm::format_selector(*c.selector) + "\n";
  extra.clear();
  append_limits(c, extra);
  if (!extra.empty()) out += "\t" + join(extra) + "\n";

  if (options.show_stats) {
    const auto& s = c.lifetimes.soft;
    const auto& h = c.lifetimes.hard;
    out += "\tlifetime config:\n";
    out += "\t  limit: soft " + limit_text(s.bytes) + "(bytes), hard " + limit_text(h.bytes) +
           "(bytes)\n";
    out += "\t  limit: soft " + limit_text(s.packets) + "(packets), hard " + limit_text(h.packets) +
           "(packets)\n";
    out += "\t  expire add: soft " + std::to_string(s.add_seconds) + "(sec), hard " +
           std::to_string(h.add_seconds) + "(sec)\n";
    out += "\t  expire use: soft " + std::to_string(s.use_seconds) + "(sec), hard " +
           std::to_string(h.use_seconds) + "(sec)\n";
    out += "\tlifetime current:\n";
    out += "\t  " + std::to_string(info.bytes) + "(bytes), " + std::to_string(info.packets) +
           "(packets)\n";
    out += "\t  add " + age_text(info.added, options.now) + " use " +
           age_text(info.first_use, options.now) + "\n";
    if (info.soft_expired || info.hard_expired) {
      out += std::string("\t  expired: ") + (info.hard_expired ? "hard" : "soft") + "\n";
    }
    out += "\tstats:\n";
    out += "\t  replay " + std::to_string(info.replay_drops) + " failed " +
           std::to_string(info.authentication_failures) + " other " +
           std::to_string(info.other_drops) + "\n";
    if (c.flags.esn) {
      out += "\tanti-replay esn context:\n";
      out += "\t seq-hi " + hex_text(info.inbound_sequence >> 32) + ", seq " +
             hex_text(info.inbound_sequence & 0xffffffff) + ", oseq-hi " +
             hex_text(info.outbound_sequence >> 32) + ", oseq " +
             hex_text(info.outbound_sequence & 0xffffffff) + "\n";
      out += "\t replay_window " + std::to_string(c.replay_window) + "\n";
    } else {
      out += "\tanti-replay context: seq " + hex_text(info.inbound_sequence) + ", oseq " +
             hex_text(info.outbound_sequence) + "\n";
    }
  }
  return out;
}

}  // namespace uipsec
