#include "esp/esp_algorithms.hpp"

#include <array>
#include <string>

namespace uipsec {

namespace {

struct CipherInfo {
  EspCipher cipher;
  std::string_view name;
  bool combined;
  std::size_t salt;
};

constexpr std::array<CipherInfo, 7> kCiphers = {{
    {EspCipher::kNull, "ecb(cipher_null)", false, 0},
    {EspCipher::kAesCbc, "cbc(aes)", false, 0},
    {EspCipher::kAesCtr, "rfc3686(ctr(aes))", false, 4},
    {EspCipher::kAesGcm, "rfc4106(gcm(aes))", true, 4},
    {EspCipher::kAesCcm, "rfc4309(ccm(aes))", true, 3},
    {EspCipher::kAesGmac, "rfc4543(gcm(aes))", true, 4},
    {EspCipher::kChaCha20Poly1305, "rfc7539esp(chacha20,poly1305)", true, 4},
}};

struct IntegrityInfo {
  EspIntegrity integrity;
  std::string_view name;
  std::size_t key_size;
  std::uint16_t rfc_icv_bits;
  std::uint16_t digest_bits;
};

constexpr std::array<IntegrityInfo, 5> kIntegrities = {{
    {EspIntegrity::kNone, "none", 0, 0, 0},
    {EspIntegrity::kHmacSha1, "hmac(sha1)", 20, 96, 160},
    {EspIntegrity::kHmacSha256, "hmac(sha256)", 32, 128, 256},
    {EspIntegrity::kHmacSha384, "hmac(sha384)", 48, 192, 384},
    {EspIntegrity::kHmacSha512, "hmac(sha512)", 64, 256, 512},
}};

// Retired by RFC 8221 (or never worth implementing), with the reason a user sees;
// docs/ALGORITHMS.md lists the same, with more words.
struct Refused {
  std::string_view name;
  std::string_view reason;
};
constexpr std::array<Refused, 12> kRefused = {{
    {"cbc(des3_ede)", "3DES is retired by RFC 8221 (64-bit block, SHOULD NOT)"},
    {"cbc(des)", "DES is retired by RFC 8221 (MUST NOT)"},
    {"cbc(blowfish)", "Blowfish is retired by RFC 8221 (MUST NOT, 64-bit block)"},
    {"cbc(cast5)", "CAST is not in RFC 8221 (64-bit block)"},
    {"cbc(serpent)", "Serpent is not in RFC 8221"},
    {"cbc(twofish)", "Twofish is not in RFC 8221"},
    {"cbc(camellia)", "Camellia is not in RFC 8221's recommended set"},
    {"hmac(md5)", "HMAC-MD5 is retired by RFC 8221 (MUST NOT)"},
    {"xcbc(aes)", "AES-XCBC is retired by RFC 8221 (SHOULD NOT+)"},
    {"hmac(rmd160)", "HMAC-RIPEMD-160 is not in RFC 8221"},
    {"digest_null", "integrity is required: an SA without an ICV is not supported"},
    {"ecb(cipher_null),digest_null", "encryption and integrity cannot both be NULL"},
}};

const CipherInfo& info(EspCipher c) { return kCiphers[static_cast<std::size_t>(c)]; }
const IntegrityInfo& info(EspIntegrity i) { return kIntegrities[static_cast<std::size_t>(i)]; }

std::string join_sizes(std::initializer_list<std::size_t> sizes, std::size_t plus) {
  std::string out;
  std::size_t n = 0;
  for (std::size_t s : sizes) {
    if (n > 0) out += (n + 1 == sizes.size()) ? " or " : ", ";
    out += std::to_string(s + plus);
    ++n;
  }
  return out;
}

}  // namespace

bool is_combined_mode(EspCipher cipher) { return info(cipher).combined; }
std::size_t salt_size(EspCipher cipher) { return info(cipher).salt; }
std::uint16_t rfc_icv_bits(EspIntegrity integrity) { return info(integrity).rfc_icv_bits; }
std::string_view xfrm_name(EspCipher cipher) { return info(cipher).name; }
std::string_view xfrm_name(EspIntegrity integrity) { return info(integrity).name; }

Result<void> validate(const EspAlgorithms& a) {
  const auto& c = info(a.cipher);
  const std::string cname(c.name);
  const std::size_t key = a.cipher_key.size();
  if (a.cipher == EspCipher::kNull) {
    if (key != 0)
      return Error("cipher key: " + cname + " takes no key, got " + std::to_string(key) + " bytes");
  } else if (a.cipher == EspCipher::kChaCha20Poly1305) {
    if (key != 32 + c.salt) {
      return Error("cipher key: " + cname + " expects 36 bytes (32-byte key + 4-byte salt), got " +
                   std::to_string(key));
    }
  } else if (key != 16 + c.salt && key != 24 + c.salt && key != 32 + c.salt) {
    std::string what = join_sizes({16, 24, 32}, c.salt) + " bytes";
    if (c.salt != 0) what += " (AES key + " + std::to_string(c.salt) + "-byte salt)";
    return Error("cipher key: " + cname + " expects " + what + ", got " + std::to_string(key));
  }

  if (c.combined) {
    if (a.integrity != EspIntegrity::kNone) {
      return Error("integrity: " + cname +
                   " authenticates by itself and takes no separate integrity algorithm");
    }
    const bool sixteen_only =
        a.cipher == EspCipher::kChaCha20Poly1305 || a.cipher == EspCipher::kAesGmac;
    if (sixteen_only ? a.icv_bits != 128
                     : (a.icv_bits != 64 && a.icv_bits != 96 && a.icv_bits != 128)) {
      return Error("icv: " + cname + " expects an ICV of " +
                   (sixteen_only ? "128" : "64, 96 or 128") + " bits, got " +
                   std::to_string(a.icv_bits));
    }
    return {};
  }

  if (a.integrity == EspIntegrity::kNone) {
    return Error("integrity: " + cname +
                 " needs an integrity algorithm (auth or auth-trunc); encryption without "
                 "integrity is not supported");
  }
  const auto& i = info(a.integrity);
  const std::string iname(i.name);
  if (a.integrity_key.size() != i.key_size) {
    return Error("integrity key: " + iname + " expects " + std::to_string(i.key_size) +
                 " bytes, got " + std::to_string(a.integrity_key.size()));
  }
  if (a.icv_bits % 8 != 0 || a.icv_bits < 96 || a.icv_bits > i.digest_bits) {
    return Error("icv: " + iname + " truncation must be a whole number of bytes from 96 to " +
                 std::to_string(i.digest_bits) + " bits, got " + std::to_string(a.icv_bits));
  }
  return {};
}

Result<EspCipher> parse_cipher_name(std::string_view name) {
  for (const auto& c : kCiphers) {
    if (c.name == name) return c.cipher;
  }
  for (const auto& r : kRefused) {
    if (r.name == name)
      return Error("algorithm '" + std::string(name) + "' refused: " + std::string(r.reason));
  }
  std::string known;
  for (const auto& c : kCiphers) known += (known.empty() ? "" : ", ") + std::string(c.name);
  return Error("unknown encryption algorithm '" + std::string(name) + "'; expected one of " +
               known);
}

Result<EspIntegrity> parse_integrity_name(std::string_view name) {
  for (const auto& i : kIntegrities) {
    if (i.integrity != EspIntegrity::kNone && i.name == name) return i.integrity;
  }
  for (const auto& r : kRefused) {
    if (r.name == name)
      return Error("algorithm '" + std::string(name) + "' refused: " + std::string(r.reason));
  }
  std::string known;
  for (const auto& i : kIntegrities) {
    if (i.integrity != EspIntegrity::kNone)
      known += (known.empty() ? "" : ", ") + std::string(i.name);
  }
  return Error("unknown integrity algorithm '" + std::string(name) + "'; expected one of " + known);
}

}  // namespace uipsec
