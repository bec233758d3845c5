// Random bytes from OpenSSL's DRBG.
#include "crypto/random.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <string>

#include "crypto/openssl_handles.hpp"

namespace uipsec {

Result<void> fill_random(MutableByteSpan out) {
  // RAND_bytes takes an int length.
  constexpr std::size_t kMaxChunk = INT_MAX;
  while (!out.empty()) {
    const std::size_t chunk = std::min(out.size(), kMaxChunk);
    if (RAND_bytes(out.data(), static_cast<int>(chunk)) != 1) {
      return Error("random: OpenSSL's DRBG failed: " + take_openssl_error());
    }
    out = out.subspan(chunk);
  }
  return {};
}

}  // namespace uipsec
