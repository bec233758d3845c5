// intel-ipsec-mb implementation of Aead for AES-GCM (RFC 4106; GMAC, RFC 4543, as empty text).
//
// At construction (control path): IMB_AESxxx_GCM_PRE expands the key and precomputes the GHASH
// key powers into one 64-byte-aligned struct gcm_key_data inside the object, next to the three
// function pointers a packet needs. Per packet, with no allocation:
//   1. AAD: one non-empty part is passed as it is; several are joined on the stack (<= 64 bytes);
//   2. one call: IMB_AESxxx_GCM_ENC or _DEC in place, with a gcm_context_data on the stack;
//   3. open: compare the computed tag with the received one in constant time (CRYPTO_memcmp)
//      and wipe the plaintext on a mismatch.
// Empty text with a long multi-part AAD (ESP's GMAC: header, IV, payload) goes through the GMAC
// init/update/finalize calls instead, which hash parts of any length.
//
// One IMB_MGR for the process, not one per thread: the direct GCM functions the manager points
// to take only the key block and the caller's context and never touch the manager, so the
// manager is used once, to pick the code for this CPU (init_mb_mgr_auto), its function pointers
// are copied into an immutable table, and it is freed. Every SA on every worker shares that
// table; each Aead instance (one per SA and worker, via clone()) owns its key block.
// Caveat, read from the library's code: Debian builds it with SAFE_PARAM, so each call first
// stores 0 into the library's process-global `imb_errno` (benign: always the same value, and
// we validate parameters ourselves and never read it), a store to one cache line that all
// workers share.
#include "crypto/ipsec_mb_aead.hpp"

#include <openssl/crypto.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "base/huge_arena.hpp"
#include "base/prefetch.hpp"
#include "crypto/aad_parts.hpp"

#if UIPSEC_HAVE_IPSEC_MB
#include <intel-ipsec-mb.h>
#endif

namespace uipsec {

#if UIPSEC_HAVE_IPSEC_MB

namespace {

constexpr std::size_t kNonceSize = 12;  // RFC 4106: 4-byte salt + 8-byte IV
// NIST SP 800-38D: at most 2^39 - 256 bits of plaintext per nonce.
constexpr std::uint64_t kMaxTextSize = (std::uint64_t{1} << 36) - 32;
constexpr std::size_t kMaxJoinedAad = 64;
constexpr std::size_t kMaxTagSize = 16;

// The direct-API functions for one key size.
struct GcmFunctions {
  aes_gcm_pre_t pre = nullptr;
  aes_gcm_enc_dec_t enc = nullptr;
  aes_gcm_enc_dec_t dec = nullptr;
  aes_gmac_init_t gmac_init = nullptr;
  aes_gmac_update_t gmac_update = nullptr;
  aes_gmac_finalize_t gmac_finalize = nullptr;
};

// What the library chose for this CPU; built once, immutable afterwards.
struct IpsecMbLibrary {
  bool available = false;
  std::string description;
  std::array<GcmFunctions, 3> gcm{};  // AES-128, AES-192, AES-256
};

const char* arch_name(IMB_ARCH arch) {
  switch (arch) {
    case IMB_ARCH_NOAESNI:
      return "no-AESNI";
    case IMB_ARCH_SSE:
      return "SSE";
    case IMB_ARCH_AVX:
      return "AVX";
    case IMB_ARCH_AVX2:
      return "AVX2";
    case IMB_ARCH_AVX512:
      return "AVX512";
    default:
      return "none";
  }
}

IpsecMbLibrary load_library() {
  IpsecMbLibrary lib;
  const std::string version = std::string("intel-ipsec-mb ") + imb_get_version_str();
  IMB_MGR* mgr = alloc_mb_mgr(0);
  if (mgr == nullptr) {
    lib.description = version + ": cannot allocate a manager";
    return lib;
  }
  IMB_ARCH arch = IMB_ARCH_NONE;
  init_mb_mgr_auto(mgr, &arch);
  // UIPSEC_IPSEC_MB_ARCH=sse|avx|avx2 picks older code than the CPU allows (never newer): the
  // AVX2 and older GCM code reads 8 GHASH key powers (128 bytes), the VAES code up to 48 (768
  // bytes), which matters when 100 000 SAs' key blocks compete for the caches.
  const char* forced = std::getenv("UIPSEC_IPSEC_MB_ARCH");
  const std::string_view want = forced != nullptr ? forced : "";
  if (want == "sse" && arch >= IMB_ARCH_SSE) {
    init_mb_mgr_sse(mgr);
    arch = IMB_ARCH_SSE;
  } else if (want == "avx" && arch >= IMB_ARCH_AVX) {
    init_mb_mgr_avx(mgr);
    arch = IMB_ARCH_AVX;
  } else if (want == "avx2" && arch >= IMB_ARCH_AVX2) {
    init_mb_mgr_avx2(mgr);
    arch = IMB_ARCH_AVX2;
  }
  const int error = imb_get_errno(mgr);
  // The no-AESNI code emulates AES in software: OpenSSL is the better choice there.
  if (error != 0 || arch == IMB_ARCH_NONE || arch == IMB_ARCH_NOAESNI) {
    lib.description = version + ": unusable on this CPU (" + arch_name(arch) +
                      (error != 0 ? std::string(", ") + imb_get_strerror(error) : "") + ")";
    free_mb_mgr(mgr);
    return lib;
  }
  lib.gcm[0] = {mgr->gcm128_pre,   mgr->gcm128_enc,     mgr->gcm128_dec,
                mgr->gmac128_init, mgr->gmac128_update, mgr->gmac128_finalize};
  lib.gcm[1] = {mgr->gcm192_pre,   mgr->gcm192_enc,     mgr->gcm192_dec,
                mgr->gmac192_init, mgr->gmac192_update, mgr->gmac192_finalize};
  lib.gcm[2] = {mgr->gcm256_pre,   mgr->gcm256_enc,     mgr->gcm256_dec,
                mgr->gmac256_init, mgr->gmac256_update, mgr->gmac256_finalize};
  const bool vaes = arch == IMB_ARCH_AVX512 && (mgr->features & IMB_FEATURE_VAES) != 0 &&
                    (mgr->features & IMB_FEATURE_VPCLMULQDQ) != 0;
  lib.description = version + ", " + arch_name(arch) + (vaes ? " with VAES and VPCLMULQDQ" : "");
  lib.available = true;
  for (const GcmFunctions& f : lib.gcm) {
    if (!f.pre || !f.enc || !f.dec || !f.gmac_init || !f.gmac_update || !f.gmac_finalize) {
      lib.available = false;
      lib.description = version + ": the manager lacks a GCM function";
    }
  }
  free_mb_mgr(mgr);  // the function pointers point into the library, not into the manager
  return lib;
}

const IpsecMbLibrary& library() {
  static const IpsecMbLibrary lib = load_library();  // thread-safe initialisation
  return lib;
}

// One SA's AES-GCM state for one worker: 64 bytes of vtable pointer, function pointers and
// sizes, then the 1 KiB key block (round keys, GHASH key powers), cache-line aligned. A packet
// touches the first line, the round keys and the GHASH powers its length needs.
// Owner: one thread at a time; clone() copies the key block for another thread.
// Allocated from the shared HugeArena (base/huge_arena.hpp): at 100 000 SAs the key blocks lie in
// huge pages, so their 16 lines per packet cost no page walk.
class alignas(64) IpsecMbAead final : public Aead {
 public:
  UIPSEC_HUGE_ARENA_ALLOCATED
  IpsecMbAead(const GcmFunctions& functions, ByteSpan key, std::size_t tag_size)
      : enc_(functions.enc),
        dec_(functions.dec),
        gmac_init_(functions.gmac_init),
        gmac_update_(functions.gmac_update),
        gmac_finalize_(functions.gmac_finalize),
        tag_size_(tag_size) {
    functions.pre(key.data(), &key_data_);
  }
  IpsecMbAead(const IpsecMbAead&) = default;
  IpsecMbAead& operator=(const IpsecMbAead&) = delete;
  ~IpsecMbAead() override { OPENSSL_cleanse(&key_data_, sizeof key_data_); }

  AeadAlgorithm algorithm() const override { return AeadAlgorithm::kAesGcm; }
  AeadImplementation implementation() const override { return AeadImplementation::kIpsecMb; }
  std::size_t nonce_size() const override { return kNonceSize; }
  std::size_t tag_size() const override { return tag_size_; }

  bool seal(ByteSpan nonce, std::span<const ByteSpan> aad, MutableByteSpan inout,
            MutableByteSpan tag) override {
    if (!sizes_ok(nonce, tag.size(), inout.size())) return false;
    return compute(enc_, nonce, aad, inout, tag.data());
  }

  bool open(ByteSpan nonce, std::span<const ByteSpan> aad, MutableByteSpan inout,
            ByteSpan tag) override {
    if (!sizes_ok(nonce, tag.size(), inout.size())) return false;
    std::array<std::uint8_t, kMaxTagSize> computed;
    if (!compute(dec_, nonce, aad, inout, computed.data())) return false;
    if (CRYPTO_memcmp(computed.data(), tag.data(), tag_size_) != 0) {
      // Neither the unauthenticated plaintext nor the valid tag for the forgery may outlive
      // the failure.
      if (!inout.empty()) OPENSSL_cleanse(inout.data(), inout.size());
      OPENSSL_cleanse(computed.data(), computed.size());
      return false;
    }
    return true;
  }

  // The key block: round keys and GHASH key powers, 16 lines (the first line is the caller's).
  void prefetch_state() const override { prefetch_object(&key_data_); }

  // The copy constructor copies the expanded keys: no key schedule, no library call.
  std::unique_ptr<Aead> clone() const override {
    return std::unique_ptr<Aead>(new (std::nothrow) IpsecMbAead(*this));
  }

 private:
  bool sizes_ok(ByteSpan nonce, std::size_t tag_size, std::size_t text_size) const {
    return nonce.size() == kNonceSize && tag_size == tag_size_ && text_size <= kMaxTextSize;
  }

  // Encrypts or decrypts `inout` in place with `function` and writes tag_size_ bytes of tag.
  bool compute(aes_gcm_enc_dec_t function, ByteSpan nonce, std::span<const ByteSpan> aad,
               MutableByteSpan inout, std::uint8_t* tag) {
    struct gcm_context_data context;
    std::array<std::uint8_t, kMaxJoinedAad> aad_buffer;
    ByteSpan joined;
    if (!join_aad(aad, aad_buffer, joined)) {
      if (!inout.empty()) return false;
      return gmac(nonce, aad, tag);
    }
    // The library refuses null pointers even for zero lengths; these are never read then.
    std::uint8_t placeholder = 0;
    std::uint8_t* text = inout.empty() ? &placeholder : inout.data();
    const std::uint8_t* aad_bytes = joined.empty() ? &placeholder : joined.data();
    function(&key_data_, &context, text, text, inout.size(), nonce.data(), aad_bytes, joined.size(),
             tag, tag_size_);
    return true;
  }

  // GCM with empty text and the AAD fed part by part: GMAC (RFC 4543).
  bool gmac(ByteSpan nonce, std::span<const ByteSpan> aad, std::uint8_t* tag) {
    struct gcm_context_data context;
    gmac_init_(&key_data_, &context, nonce.data(), nonce.size());
    for (ByteSpan part : aad) {
      if (!part.empty()) gmac_update_(&key_data_, &context, part.data(), part.size());
    }
    gmac_finalize_(&key_data_, &context, tag, tag_size_);
    return true;
  }

  aes_gcm_enc_dec_t enc_;
  aes_gcm_enc_dec_t dec_;
  aes_gmac_init_t gmac_init_;
  aes_gmac_update_t gmac_update_;
  aes_gmac_finalize_t gmac_finalize_;
  std::size_t tag_size_;
  // The library's code reads the round keys with aligned loads. Its header aligns the struct to
  // 64 bytes only where LINUX is defined (its own build), so the alignment is stated here.
  alignas(64) struct gcm_key_data key_data_;
};

static_assert(alignof(IpsecMbAead) == 64);
// One line of pointers and sizes, then the key block (1008 bytes, padded to 16 lines).
static_assert(sizeof(IpsecMbAead) == 64 + 1024);

}  // namespace

bool ipsec_mb_available() { return library().available; }

std::string ipsec_mb_description() { return library().description; }

Result<std::unique_ptr<Aead>> make_ipsec_mb_aead(AeadAlgorithm algorithm, ByteSpan key,
                                                 std::size_t tag_size) {
  if (algorithm != AeadAlgorithm::kAesGcm) {
    return Error("intel-ipsec-mb: only AES-GCM is implemented here; use OpenSSL for the others");
  }
  if (tag_size != 8 && tag_size != 12 && tag_size != 16) {
    return Error("AES-GCM: tag must be 8, 12 or 16 bytes, got " + std::to_string(tag_size));
  }
  std::size_t index = 0;
  switch (key.size()) {
    case 16:
      index = 0;
      break;
    case 24:
      index = 1;
      break;
    case 32:
      index = 2;
      break;
    default:
      return Error("AES-GCM: key must be 16, 24 or 32 bytes (without the salt), got " +
                   std::to_string(key.size()));
  }
  const IpsecMbLibrary& lib = library();
  if (!lib.available) return Error("AES-GCM: " + lib.description);
  return std::unique_ptr<Aead>(std::make_unique<IpsecMbAead>(lib.gcm[index], key, tag_size));
}

#else  // !UIPSEC_HAVE_IPSEC_MB

bool ipsec_mb_available() { return false; }

std::string ipsec_mb_description() {
  return "intel-ipsec-mb: not built in (configure with -DUIPSEC_IPSEC_MB=ON)";
}

Result<std::unique_ptr<Aead>> make_ipsec_mb_aead(AeadAlgorithm, ByteSpan, std::size_t) {
  return Error(ipsec_mb_description());
}

#endif  // UIPSEC_HAVE_IPSEC_MB

}  // namespace uipsec
