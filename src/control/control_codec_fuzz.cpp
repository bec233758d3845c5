// Fuzzes what a control-socket peer controls: the bytes of a frame body through the request
// decoder (JSON parse, envelope, every op's arguments) and every value decoder, and the byte
// stream through the incremental frame reader with arbitrary chunking. Nothing may crash or
// throw; whatever decodes must re-encode and decode to the same encoding; the frame reader must
// return the same frames however the stream is cut.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "control/codec.hpp"
#include "control/frame_reader.hpp"

namespace {

using uipsec::Json;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

// Decodes `json` as T; when that works, encode -> text -> decode -> encode must give the same
// encoding.
template <class T, class Encode>
void round_trip(const Json& json, Encode&& encode) {
  auto value = uipsec::from_json<T>(json, "x");
  if (!value) return;
  const Json first = encode(*value);
  auto parsed = uipsec::parse_json(uipsec::dump_json(first));
  check(parsed.ok());
  auto again = uipsec::from_json<T>(*parsed, "x");
  check(again.ok());
  check(encode(*again) == first);
}

void every_value_decoder(const Json& json) {
  const auto plain = [](const auto& v) { return uipsec::to_json(v); };
  round_trip<uipsec::SaConfig>(json, [](const uipsec::SaConfig& c) {
    return uipsec::to_json(c, uipsec::KeyDisclosure::kInclude);
  });
  round_trip<uipsec::SaInfo>(json, [](const uipsec::SaInfo& i) {
    return uipsec::to_json(i, uipsec::KeyDisclosure::kInclude);
  });
  round_trip<uipsec::SaId>(json, plain);
  round_trip<uipsec::SaEndpoints>(json, plain);
  round_trip<uipsec::TrafficSelector>(json, plain);
  round_trip<uipsec::PolicyConfig>(json, plain);
  round_trip<uipsec::PolicyId>(json, plain);
  round_trip<uipsec::PolicyInfo>(json, plain);
  round_trip<uipsec::Statistics>(json, plain);
  round_trip<uipsec::IpsecEvent>(json, plain);
  round_trip<uipsec::HelloResult>(json, plain);
  round_trip<uipsec::DeviceAddress>(json, plain);
  // An IKE handler's events: what decodes encodes back the same.
  if (auto ike = uipsec::parse_ike_message_event(json); ike.ok()) {
    const Json again = uipsec::ike_message_event(ike->local, ike->remote, ike->payload);
    auto twice = uipsec::parse_ike_message_event(again);
    check(twice.ok() && twice->payload == ike->payload && twice->local == ike->local &&
          twice->remote == ike->remote);
  }
}

void decode_body(std::string_view body) {
  // As a request, the way the server reads it.
  if (auto envelope = uipsec::parse_request_envelope(body); envelope.ok()) {
    if (auto request = uipsec::decode_request(*envelope); request.ok()) {
      const Json first = uipsec::to_json(*request);
      auto again = uipsec::parse_request_envelope(uipsec::dump_json(first));
      check(again.ok());
      auto decoded = uipsec::decode_request(*again);
      check(decoded.ok());
      check(uipsec::to_json(*decoded) == first);
    }
    // Whatever the op, the arguments (and the whole message) through every value decoder.
    const Json& message = envelope->message;
    if (auto args = message.find("args"); args != message.end()) every_value_decoder(*args);
    every_value_decoder(message);
  }

  // As a server message, the way the client reads it. Raw results may hold numbers that do not
  // survive text (1e999 becomes null), so the check is that a second trip changes nothing.
  if (auto message = uipsec::parse_server_message(body); message.ok()) {
    if (const auto* response = std::get_if<uipsec::Response>(&*message)) {
      auto second = uipsec::parse_server_message(uipsec::dump_json(uipsec::to_json(*response)));
      check(second.ok());
      const Json second_json = uipsec::to_json(std::get<uipsec::Response>(*second));
      auto third = uipsec::parse_server_message(uipsec::dump_json(second_json));
      check(third.ok());
      check(uipsec::to_json(std::get<uipsec::Response>(*third)) == second_json);
      every_value_decoder(response->result);
    } else {
      every_value_decoder(std::get<Json>(*message));
    }
  }
}

// All frames the reader yields for `stream` cut into pieces by `cut` (sizes of 1.. bytes), and
// whether it ended in an error.
struct Outcome {
  std::vector<std::string> frames;
  bool failed = false;
  std::size_t partial = 0;
};

Outcome read_frames(std::string_view stream, std::size_t limit,
                    const std::vector<std::size_t>& cuts) {
  uipsec::FrameReader reader(limit);
  Outcome out;
  std::size_t offset = 0, cut = 0;
  while (offset < stream.size() && !out.failed) {
    const std::size_t n =
        cuts.empty() ? stream.size() : std::min(cuts[cut++ % cuts.size()], stream.size() - offset);
    reader.append(stream.substr(offset, n));
    offset += n;
    for (;;) {
      auto frame = reader.next();
      if (!frame) {
        out.failed = true;
        break;
      }
      if (!frame->has_value()) break;
      out.frames.push_back(std::move(**frame));
    }
  }
  out.partial = out.failed ? 0 : reader.partial_bytes();
  return out;
}

void read_stream(const std::uint8_t* data, std::size_t size) {
  const std::string_view stream(reinterpret_cast<const char*>(data), size);
  // Chunk sizes from the input itself, so the fuzzer explores the cuts too.
  std::vector<std::size_t> cuts;
  for (std::size_t i = 0; i < size && i < 16; ++i) cuts.push_back(1 + data[size - 1 - i] % 23);
  for (std::size_t limit : {std::size_t{64}, uipsec::kMaxMessageSize}) {
    const Outcome whole = read_frames(stream, limit, {});
    const Outcome pieces = read_frames(stream, limit, cuts);
    const Outcome bytes = read_frames(stream, limit, {1});
    check(whole.frames == pieces.frames && whole.failed == pieces.failed &&
          whole.partial == pieces.partial);
    check(whole.frames == bytes.frames && whole.failed == bytes.failed);
    for (const auto& f : whole.frames) check(f.size() <= limit);
    if (limit == uipsec::kMaxMessageSize) {
      for (const auto& f : whole.frames) decode_body(f);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  decode_body(std::string_view(reinterpret_cast<const char*>(data), size));
  read_stream(data, size);
  return 0;
}
