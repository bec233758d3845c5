#include "control/frame_reader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace uipsec {
namespace {

std::string frame_of(const std::string& body) {
  std::string header(4, '\0');
  store_be32(reinterpret_cast<std::uint8_t*>(header.data()),
             static_cast<std::uint32_t>(body.size()));
  return header + body;
}

// Everything `reader` has complete right now.
std::vector<std::string> take_all(FrameReader& reader) {
  std::vector<std::string> out;
  for (;;) {
    auto frame = reader.next();
    EXPECT_TRUE(frame.ok());
    if (!frame.ok() || !frame->has_value()) return out;
    out.push_back(std::move(**frame));
  }
}

TEST(FrameReader, EncodesTheLengthBigEndian) {
  auto frame = encode_frame(Json{{"id", 1}});
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ(*frame, std::string("\0\0\0\x08{\"id\":1}", 12));
}

TEST(FrameReader, ReassemblesFramesFedOneByteAtATime) {
  const std::string stream = frame_of("{\"a\":1}") + frame_of("") + frame_of("[2]");
  FrameReader reader;
  std::vector<std::string> frames;
  for (char c : stream) {
    reader.append(std::string_view(&c, 1));
    for (auto& f : take_all(reader)) frames.push_back(f);
  }
  EXPECT_EQ(frames, (std::vector<std::string>{"{\"a\":1}", "", "[2]"}));
  EXPECT_EQ(reader.partial_bytes(), 0u);
}

TEST(FrameReader, ReturnsSeveralFramesFromOneRead) {
  FrameReader reader;
  reader.append(frame_of("one") + frame_of("two") + frame_of("three").substr(0, 6));
  EXPECT_EQ(take_all(reader), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(reader.partial_bytes(), 6u);
  EXPECT_EQ(reader.describe_partial(), "got 2 of 5 bytes");
  reader.append(frame_of("three").substr(6));
  EXPECT_EQ(take_all(reader), (std::vector<std::string>{"three"}));
}

TEST(FrameReader, DescribesATruncatedHeader) {
  FrameReader reader;
  reader.append(std::string("\0\0", 2));
  EXPECT_EQ(take_all(reader).size(), 0u);
  EXPECT_EQ(reader.describe_partial(), "got 2 of the 4-byte length");
}

TEST(FrameReader, RefusesAnOversizedLengthBeforeItsBodyArrives) {
  FrameReader reader(100);
  reader.append(frame_of(std::string(100, 'x')));
  EXPECT_EQ(take_all(reader).size(), 1u) << "exactly the limit is fine";
  reader.append(std::string("\0\0\0\x65", 4));  // 101
  auto frame = reader.next();
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().message(), "frame length 101 exceeds the limit of 100 bytes");
  reader.append(std::string(1000, 'x'));
  EXPECT_FALSE(reader.next().ok()) << "the error is final";
  EXPECT_EQ(reader.partial_bytes(), 0u) << "nothing is kept after the error";
}

TEST(FrameReader, RefusesAGarbageLength) {
  FrameReader reader;
  reader.append(std::string_view("GET / HTTP/1.1\r\n"));
  auto frame = reader.next();
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().message(), "frame length 1195725856 exceeds the limit of 16777216 bytes");
}

TEST(FrameReader, EncodeRefusesMessagesAboveTheLimit) {
  auto frame = encode_frame(Json(std::string(100, 'x')), 50);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().message(), "message of 102 bytes exceeds the limit of 50 bytes");
}

TEST(FrameReader, BufferStaysAboutOneFrameWhenFramesAreConsumed) {
  // Many frames through one reader: memory does not accumulate consumed frames (checked through
  // partial_bytes, which counts what is held beyond the last frame returned).
  FrameReader reader;
  for (int i = 0; i < 10000; ++i) {
    reader.append(frame_of(std::string(100, 'y')));
    ASSERT_EQ(take_all(reader).size(), 1u);
    ASSERT_EQ(reader.partial_bytes(), 0u);
  }
}

}  // namespace
}  // namespace uipsec
