// How `uipsec state list` and `uipsec policy list` print, in the manner of `ip xfrm ... list`
// and `ip -s xfrm ... list`.
#pragma once

#include "base/clock.hpp"

namespace uipsec {

struct XfrmListOptions {
  // Print keys as 0x-hex (`ip xfrm state` does); otherwise they show as "(hidden)".
  bool show_keys = false;
  // `ip -s`: lifetime limits, counters, times, the anti-replay context, policy indexes.
  bool show_stats = false;
  // With show_stats: the time that "add 12s ago" is measured from (timestamps are monotonic).
  Timestamp now;
};

}  // namespace uipsec
