// AES-GCM (RFC 4106, and GMAC per RFC 4543 through empty text) behind the Aead interface,
// computed by intel-ipsec-mb's direct GCM API: pre-expanded keys and GHASH powers in one block
// per SA and worker, no per-call parameter parsing (the cost that dominates OpenSSL 3's EVP on
// small packets; docs/BENCHMARKS.md, "AES-GCM: intel-ipsec-mb vs OpenSSL").
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/aead.hpp"

namespace uipsec {

// True when uipsec was built with intel-ipsec-mb (CMake option UIPSEC_IPSEC_MB) and the library
// found AES-NI and PCLMULQDQ on this CPU. The first call asks the library once, then the answer
// is fixed for the process. Thread-safe.
bool ipsec_mb_available();

// What the library picked for this CPU, e.g. "intel-ipsec-mb 1.3.0, AVX512 with VAES and
// VPCLMULQDQ", or why it is unavailable. For logs and benchmark labels. The environment variable
// UIPSEC_IPSEC_MB_ARCH=sse|avx|avx2, read once, makes it pick that older code instead.
std::string ipsec_mb_description();

// AES-GCM only: key 16, 24 or 32 bytes (without the RFC 4106 salt, which is part of the nonce),
// tag 8, 12 or 16 bytes. Errors name the sizes expected, or say why ipsec-mb is unavailable.
//
// Limit that OpenSSL does not have: AAD given in several non-empty parts is joined in a 64-byte
// buffer, so several parts may total at most 64 bytes when the text is not empty (ESP's AAD is
// 8 or 12 bytes; GMAC, whose AAD is the whole packet, has empty text and no such limit). Beyond
// it seal() and open() return false.
Result<std::unique_ptr<Aead>> make_ipsec_mb_aead(AeadAlgorithm algorithm, ByteSpan key,
                                                 std::size_t tag_size);

}  // namespace uipsec
