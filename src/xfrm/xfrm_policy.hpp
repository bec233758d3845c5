// `ip xfrm policy` syntax, with Linux's meanings: the arguments of `policy add|update` as a
// PolicyConfig, of `policy get|delete` as a PolicyId, and policies printed as `ip xfrm policy
// list` prints them. The grammar and how it differs from iproute2: docs/XFRM_SYNTAX.md.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/ipsec_backend.hpp"
#include "base/result.hpp"
#include "policy/policy.hpp"
#include "xfrm/xfrm_format.hpp"

namespace uipsec {

// `SELECTOR dir in|out|fwd [priority N] [action allow|block] [ptype main]
//  [tmpl [src ADDR] [dst ADDR] proto esp [reqid N] [mode tunnel|transport] [level required]]`
// where SELECTOR is `[src PREFIX] [dst PREFIX] [proto P [sport N] [dport N] | [type N]
// [code N]]` (at least one of src and dst, which give the address family). `action allow` with
// a template is PROTECT, without one BYPASS; `action block` is DISCARD. Template mode defaults to
// transport, as on Linux. The result has passed PolicyConfig::validate().
Result<PolicyConfig> parse_policy(std::span<const std::string_view> args);

// `SELECTOR dir in|out|fwd [ptype main]`.
Result<PolicyId> parse_policy_id(std::span<const std::string_view> args);

// The canonical `policy add` arguments of `config`; parse_policy() of them gives it back.
std::vector<std::string> policy_arguments(const PolicyConfig& config);

// As `ip xfrm policy list` prints a policy:
//   src 10.0.0.0/24 dst 10.0.1.0/24
//   	dir out priority 0 ptype main
//   	tmpl src 198.18.0.1 dst 198.18.0.2
//   		proto esp reqid 1 mode tunnel
// with show_stats adding the index and the lifetime lines of `ip -s xfrm policy`. Without stats
// the text is itself valid `policy add` input.
std::string format_policy(const PolicyInfo& info, const XfrmListOptions& options);
std::string format_policy(const PolicyInfo& info);

}  // namespace uipsec
