#include "control/frame_reader.hpp"

namespace uipsec {

Result<std::string> encode_frame(const Json& message, std::size_t max_message_size) {
  const std::string body = dump_json(message);
  if (body.size() > max_message_size) {
    return Error("message of " + std::to_string(body.size()) + " bytes exceeds the limit of " +
                 std::to_string(max_message_size) + " bytes");
  }
  std::string frame(kFrameHeaderSize, '\0');
  store_be32(reinterpret_cast<std::uint8_t*>(frame.data()),
             static_cast<std::uint32_t>(body.size()));
  frame += body;
  return frame;
}

void FrameReader::append(ByteSpan bytes) {
  if (error_) return;
  // Drop what was handed out once it is most of the buffer, so the buffer stays about one frame.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

Result<std::optional<std::string>> FrameReader::next() {
  if (error_) return *error_;
  const std::size_t available = buffer_.size() - consumed_;
  if (available < kFrameHeaderSize) return std::optional<std::string>();
  const auto* header = reinterpret_cast<const std::uint8_t*>(buffer_.data() + consumed_);
  const std::size_t length = load_be32(header);
  if (length > max_message_size_) {
    error_ = Error("frame length " + std::to_string(length) + " exceeds the limit of " +
                   std::to_string(max_message_size_) + " bytes");
    buffer_.clear();
    buffer_.shrink_to_fit();
    consumed_ = 0;
    return *error_;
  }
  if (available - kFrameHeaderSize < length) return std::optional<std::string>();
  std::string body = buffer_.substr(consumed_ + kFrameHeaderSize, length);
  consumed_ += kFrameHeaderSize + length;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return std::optional<std::string>(std::move(body));
}

std::string FrameReader::describe_partial() const {
  const std::size_t available = buffer_.size() - consumed_;
  if (available < kFrameHeaderSize) {
    return "got " + std::to_string(available) + " of the 4-byte length";
  }
  const std::size_t length =
      load_be32(reinterpret_cast<const std::uint8_t*>(buffer_.data() + consumed_));
  return "got " + std::to_string(available - kFrameHeaderSize) + " of " + std::to_string(length) +
         " bytes";
}

}  // namespace uipsec
