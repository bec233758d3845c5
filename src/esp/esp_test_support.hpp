// Helpers shared by the ESP tests: SAs' algorithms with fixed or random keys, and packet
// buffers that own their storage.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "base/hex.hpp"
#include "esp/esp_algorithms.hpp"
#include "esp/esp_transform.hpp"
#include "packet/packet_buffer.hpp"

namespace uipsec::test {

// A buffer with its own storage (tests only; the product uses PacketPool).
class OwnedBuffer {
 public:
  explicit OwnedBuffer(std::size_t capacity = kLargeBufferCapacity,
                       std::size_t headroom = kPacketHeadroom)
      : storage_(capacity),
        buffer_(storage_.data(), static_cast<std::uint32_t>(capacity),
                static_cast<std::uint32_t>(headroom)) {}
  PacketBuffer& operator*() { return buffer_; }
  PacketBuffer* operator->() { return &buffer_; }
  std::vector<std::uint8_t> bytes() const {
    return {buffer_.data(), buffer_.data() + buffer_.size()};
  }

 private:
  std::vector<std::uint8_t> storage_;
  PacketBuffer buffer_;
};

inline std::vector<std::uint8_t> hex(std::string_view text) {
  auto bytes = parse_hex(text);
  EXPECT_TRUE(bytes.ok()) << text;
  return bytes.ok() ? *bytes : std::vector<std::uint8_t>{};
}

inline std::vector<std::uint8_t> pattern(std::size_t size, std::uint8_t seed = 0) {
  std::vector<std::uint8_t> out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(i * 31 + seed);
  return out;
}

// One algorithm suite per supported combination, keys derived from `seed`.
struct Suite {
  std::string name;
  EspAlgorithms algorithms;
};

inline void PrintTo(const Suite& suite, std::ostream* os) { *os << suite.name; }

inline Suite make_suite(std::string name, EspCipher cipher, std::size_t key_size,
                        EspIntegrity integrity = EspIntegrity::kNone, std::uint16_t icv_bits = 128,
                        std::uint8_t seed = 1) {
  Suite s{std::move(name), {}};
  s.algorithms.cipher = cipher;
  s.algorithms.cipher_key = SecretBytes(pattern(key_size, seed));
  s.algorithms.integrity = integrity;
  std::size_t integrity_key = 0;
  switch (integrity) {
    case EspIntegrity::kHmacSha1:
      integrity_key = 20;
      break;
    case EspIntegrity::kHmacSha256:
      integrity_key = 32;
      break;
    case EspIntegrity::kHmacSha384:
      integrity_key = 48;
      break;
    case EspIntegrity::kHmacSha512:
      integrity_key = 64;
      break;
    case EspIntegrity::kNone:
      break;
  }
  s.algorithms.integrity_key =
      SecretBytes(pattern(integrity_key, static_cast<std::uint8_t>(seed + 7)));
  s.algorithms.icv_bits = icv_bits;
  return s;
}

inline std::vector<Suite> all_suites() {
  return {
      make_suite("aes128gcm16", EspCipher::kAesGcm, 20),
      make_suite("aes192gcm12", EspCipher::kAesGcm, 28, EspIntegrity::kNone, 96),
      make_suite("aes256gcm8", EspCipher::kAesGcm, 36, EspIntegrity::kNone, 64),
      make_suite("aes256gcm16", EspCipher::kAesGcm, 36),
      make_suite("chacha20poly1305", EspCipher::kChaCha20Poly1305, 36),
      make_suite("aes128ccm16", EspCipher::kAesCcm, 19),
      make_suite("aes256ccm8", EspCipher::kAesCcm, 35, EspIntegrity::kNone, 64),
      make_suite("aes128gmac", EspCipher::kAesGmac, 20),
      make_suite("aes128cbc-sha256", EspCipher::kAesCbc, 16, EspIntegrity::kHmacSha256, 128),
      make_suite("aes256cbc-sha512", EspCipher::kAesCbc, 32, EspIntegrity::kHmacSha512, 256),
      make_suite("aes128ctr-sha1", EspCipher::kAesCtr, 20, EspIntegrity::kHmacSha1, 96),
      make_suite("null-sha384", EspCipher::kNull, 0, EspIntegrity::kHmacSha384, 192),
  };
}

inline EspTransform make_transform(const EspAlgorithms& algorithms) {
  auto t = EspTransform::create(algorithms);
  if (!t.ok()) {
    std::fprintf(stderr, "EspTransform::create: %s\n", t.error().message().c_str());
    std::abort();
  }
  return std::move(*t);
}

}  // namespace uipsec::test
