// SecretBytes: key material. Wiped (OPENSSL_cleanse) when destroyed or reassigned, never printed,
// compared in constant time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/bytes.hpp"

namespace uipsec {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(ByteSpan bytes) : bytes_(bytes.begin(), bytes.end()) {}
  explicit SecretBytes(std::size_t size) : bytes_(size, 0) {}
  SecretBytes(const SecretBytes& other) : bytes_(other.bytes_) {}
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.wipe(); }
  SecretBytes& operator=(const SecretBytes& other);
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes() { wipe(); }

  ByteSpan span() const { return bytes_; }
  MutableByteSpan mutable_span() { return bytes_; }
  const std::uint8_t* data() const { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  // First `n` bytes / bytes from `offset` on (for keys that carry a salt at the end).
  ByteSpan first(std::size_t n) const { return span().first(n); }
  ByteSpan subspan(std::size_t offset) const { return span().subspan(offset); }

  friend bool operator==(const SecretBytes& a, const SecretBytes& b) {
    return equal_constant_time(a.span(), b.span());
  }

 private:
  void wipe();
  std::vector<std::uint8_t> bytes_;
};

}  // namespace uipsec
