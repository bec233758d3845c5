// Builds valid SA configurations for tests.
#pragma once

#include <vector>

#include "sa/sa_config.hpp"

namespace uipsec::test {

inline SaConfig sa_config(const char* src, const char* dst, std::uint32_t spi,
                          std::uint32_t reqid = 1) {
  SaConfig c;
  c.endpoints.source = *IpAddress::parse(src);
  c.endpoints.destination = *IpAddress::parse(dst);
  c.endpoints.encapsulation = UdpEncapsulation{};
  c.spi = Spi(spi);
  c.reqid = Reqid(reqid);
  c.algorithms.cipher = EspCipher::kAesGcm;
  std::vector<std::uint8_t> key(20);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(spi + i);
  c.algorithms.cipher_key = SecretBytes(key);
  c.algorithms.icv_bits = 128;
  c.replay_window = 64;
  return c;
}

}  // namespace uipsec::test
