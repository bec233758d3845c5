// `ip xfrm state` syntax, with Linux's meanings: the arguments of `state add|update` as an
// SaConfig, of `state get|delete` as an SaId, and SAs printed as `ip xfrm state list` prints
// them. The grammar and how it differs from iproute2: docs/XFRM_SYNTAX.md.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/ipsec_backend.hpp"
#include "base/result.hpp"
#include "sa/sa_config.hpp"
#include "xfrm/xfrm_format.hpp"

namespace uipsec {

// `src ADDR dst ADDR proto esp spi SPI [reqid N] [mode tunnel|transport] [dir in|out]
//  [replay-window N] [replay-seq N] [replay-oseq N] [replay-seq-hi N] [replay-oseq-hi N]
//  [flag esn] ALGORITHMS [encap espinudp SPORT DPORT OADDR] [sel SELECTOR] [limit LIMIT]...`
// in any order. As on Linux, the mode defaults to transport and `auth` (without -trunc) to a
// 96-bit ICV for hmac(sha1) and hmac(sha256). The result has passed SaConfig::validate(); a
// failed parse returns only an error naming the argument and what was expected.
// What an SA gets for arguments it leaves out, where uipsecd's configuration decides (Linux's
// values when nobody does).
struct XfrmStateDefaults {
  std::uint32_t replay_window = 0;  // uipsecd: uipsec.replay_window
};
Result<SaConfig> parse_state(std::span<const std::string_view> args,
                             const XfrmStateDefaults& defaults = {});

// `[src ADDR] dst ADDR proto esp spi SPI` (`src` is accepted and not needed: SAs are identified
// by destination and SPI).
Result<SaId> parse_state_id(std::span<const std::string_view> args);

// The canonical `state add` arguments of `config` (keys in hex); parse_state() of them gives the
// same configuration. join_arguments() makes them a line.
std::vector<std::string> state_arguments(const SaConfig& config);

// As `ip xfrm state list` prints an SA, one tab-indented line per part:
//   src 198.18.0.1 dst 198.18.0.2
//   	proto esp spi 0x00001000 reqid 1 mode tunnel
//   	replay-window 0 flag esn
//   	aead rfc4106(gcm(aes)) 0x0102... 128
//   	encap type espinudp sport 4500 dport 4500 addr 0.0.0.0
//   	sel src 0.0.0.0/0 dst 0.0.0.0/0
// and with show_stats the lifetime, counter and anti-replay lines of `ip -s xfrm state`. With
// keys shown and without stats the text is itself valid `state add` input.
std::string format_state(const SaInfo& info, const XfrmListOptions& options);
std::string format_state(const SaInfo& info, bool show_keys);

}  // namespace uipsec
