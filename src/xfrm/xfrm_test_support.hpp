// Equality of configurations for the xfrm tests and fuzz target (SaConfig has no operator==:
// its keys compare in constant time through SecretBytes).
#pragma once

#include "policy/policy.hpp"
#include "sa/sa_config.hpp"

namespace uipsec::test {

inline bool same_algorithms(const EspAlgorithms& a, const EspAlgorithms& b) {
  return a.cipher == b.cipher && a.cipher_key == b.cipher_key && a.integrity == b.integrity &&
         a.integrity_key == b.integrity_key && a.icv_bits == b.icv_bits;
}

inline bool same_config(const SaConfig& a, const SaConfig& b) {
  return a.endpoints == b.endpoints && a.spi == b.spi && a.reqid == b.reqid && a.mode == b.mode &&
         a.direction == b.direction && same_algorithms(a.algorithms, b.algorithms) &&
         a.replay_window == b.replay_window && a.inbound_sequence == b.inbound_sequence &&
         a.outbound_sequence == b.outbound_sequence && a.flags == b.flags &&
         a.lifetimes == b.lifetimes && a.selector == b.selector;
}

inline bool same_config(const PolicyConfig& a, const PolicyConfig& b) {
  return a.selector == b.selector && a.direction == b.direction && a.action == b.action &&
         a.priority == b.priority && a.tmpl == b.tmpl;
}

}  // namespace uipsec::test
