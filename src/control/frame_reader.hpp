// Framing of the control protocol: each message is a 4-byte big-endian length followed by that
// many bytes of UTF-8 JSON (docs/CONTROL_PROTOCOL.md). FrameReader reassembles messages from
// whatever pieces a stream socket delivers; encode_frame() writes one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "control/codec.hpp"

namespace uipsec {

inline constexpr std::size_t kFrameHeaderSize = 4;

// The frame for `message` (header + compact JSON). Fails when the JSON is longer than
// `max_message_size`.
Result<std::string> encode_frame(const Json& message,
                                 std::size_t max_message_size = kMaxMessageSize);

// Incremental reader of length-prefixed frames. Memory: at most the largest frame it accepts
// plus what the caller appends between calls to next(); a length above the limit is refused as
// soon as its 4 bytes are in, before anything is allocated for it.
// Thread: one owner.
class FrameReader {
 public:
  explicit FrameReader(std::size_t max_message_size = kMaxMessageSize)
      : max_message_size_(max_message_size) {}

  // Appends bytes received from the stream.
  void append(ByteSpan bytes);
  void append(std::string_view bytes) {
    append(ByteSpan(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  }

  // The body of the next complete frame, or nullopt when more bytes are needed. An error (a
  // length above the limit) is final: the stream cannot be resynchronised, and every later call
  // returns the same error.
  Result<std::optional<std::string>> next();

  // Bytes of a frame that has begun but is not complete (0 at a frame boundary): non-zero at the
  // end of the stream means the peer sent a truncated frame.
  std::size_t partial_bytes() const { return buffer_.size() - consumed_; }
  // "got 10 of the 4-byte header" / "got 50 of 100 bytes" for a truncated frame.
  std::string describe_partial() const;
  std::size_t max_message_size() const { return max_message_size_; }

 private:
  std::size_t max_message_size_;
  std::string buffer_;
  std::size_t consumed_ = 0;  // bytes of buffer_ already returned as frames
  std::optional<Error> error_;
};

}  // namespace uipsec
