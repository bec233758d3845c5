// make_aead(): which implementation of Aead an SA gets (see aead.hpp).
#include "crypto/aead.hpp"

#include <cstdlib>
#include <string_view>

#include "crypto/ipsec_mb_aead.hpp"

namespace uipsec {

AeadImplementation preferred_aead_implementation(AeadAlgorithm algorithm) {
  const char* forced = std::getenv("UIPSEC_AEAD");
  if (forced != nullptr && std::string_view(forced) == "openssl") {
    return AeadImplementation::kOpenssl;
  }
  if (algorithm == AeadAlgorithm::kAesGcm && ipsec_mb_available()) {
    return AeadImplementation::kIpsecMb;
  }
  return AeadImplementation::kOpenssl;
}

Result<std::unique_ptr<Aead>> make_aead(AeadAlgorithm algorithm, ByteSpan key,
                                        std::size_t tag_size) {
  if (preferred_aead_implementation(algorithm) == AeadImplementation::kIpsecMb) {
    return make_ipsec_mb_aead(algorithm, key, tag_size);
  }
  return make_openssl_aead(algorithm, key, tag_size);
}

}  // namespace uipsec
