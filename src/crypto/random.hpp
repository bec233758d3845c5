// Cryptographically secure random bytes (OpenSSL's DRBG), for SPIs, IV salts and CBC IVs.
#pragma once

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace uipsec {

// Fills `out` with random bytes. Fails only if the DRBG cannot be seeded.
Result<void> fill_random(MutableByteSpan out);

}  // namespace uipsec
