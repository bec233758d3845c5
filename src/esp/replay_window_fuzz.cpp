// libFuzzer target: ReplayWindow against a naive model (a set of received numbers), and
// infer_esn() against its defining interval, over operation sequences read from the input.
//
// Input: [size selector] [initial top selector] then operations, each an op byte and its operand:
//   op & 7: 0 top + 1 + u8        1 top - u8            2 (top - size) + i8   3 top + u16 << n
//           4 absolute u64        5 2^32 + i16          6 2^64 - 1 - u16     7 infer_esn(u32)
//   op & 8: accept() when check() said kOk (otherwise the packet "failed its ICV")
// Missing bytes read as zero. Any disagreement traps.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>

#include "esp/replay_window.hpp"
#include "esp/sequence_number.hpp"

namespace {

using uipsec::ReplayWindow;
using Check = ReplayWindow::Check;
constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  std::uint64_t take(int bytes) {  // little-endian; zero past the end
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) {
      const std::uint64_t byte = pos_ < size_ ? data_[pos_] : 0;
      ++pos_;
      value |= byte << (8 * i);
    }
    return value;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// RFC 4303 §3.4.3 written plainly. Only numbers inside the window are kept, so its memory is
// bounded by the window size.
class NaiveWindow {
 public:
  NaiveWindow(std::uint32_t size, std::uint64_t top) : size_(size), top_(top) {}

  Check check(std::uint64_t seq) const {
    if (seq == 0) return Check::kTooOld;
    if (size_ == 0 || seq > top_) return Check::kOk;
    if (top_ >= size_ && seq <= top_ - size_) return Check::kTooOld;
    return received_.contains(seq) ? Check::kDuplicate : Check::kOk;
  }

  void accept(std::uint64_t seq) {
    top_ = std::max(top_, seq);
    if (size_ == 0) return;
    received_.insert(seq);
    if (top_ >= size_) received_.erase(received_.begin(), received_.lower_bound(top_ - size_ + 1));
  }

  std::uint64_t top() const { return top_; }

 private:
  std::uint32_t size_;
  std::uint64_t top_;
  std::set<std::uint64_t> received_;
};

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return b > kMax64 - a ? kMax64 : a + b;
}
std::uint64_t saturating_sub(std::uint64_t a, std::uint64_t b) { return b > a ? 0 : a - b; }

std::uint32_t read_size(Input& in) {
  static constexpr std::uint32_t kInteresting[] = {0,    1,    2,    7,     31,    32,   63,
                                                   64,   65,   100,  127,   128,   129,  1000,
                                                   4096, 4097, 8191, 32768, 65535, 65536};
  const auto selector = in.take(1);
  if (selector < 0x80) return kInteresting[selector % std::size(kInteresting)];
  return static_cast<std::uint32_t>(in.take(3) % (ReplayWindow::kMaxSize + 1));
}

std::uint64_t read_top(Input& in) {
  switch (in.take(1) % 5) {
    case 0:
      return 0;
    case 1:
      return in.take(2);
    case 2:
      return (std::uint64_t{1} << 32) - 1 - in.take(2);
    case 3:
      return kMax64 - in.take(2);
    default:
      return in.take(8);
  }
}

// infer_esn()'s definition (RFC 4303 A2.2): the number with low half `low` in [B, B + 2^32) with
// B = top - W + 1, clamped to subspace Th where it would be below 0 or above 2^64 - 1.
void check_inference(std::uint32_t low, std::uint64_t top, std::uint32_t window,
                     std::uint64_t inferred) {
  __extension__ using Int128 = __int128;
  const Int128 w = window == 0 ? Int128{1} << 31 : Int128{window};
  const Int128 bottom = Int128{top} - w + 1;
  const Int128 th = static_cast<Int128>(top >> 32);
  Int128 expected = th;
  for (Int128 h = th - 1; h <= th + 1; ++h) {
    const Int128 candidate = h * (Int128{1} << 32) + low;
    if (candidate >= bottom && candidate < bottom + (Int128{1} << 32)) expected = h;
  }
  if (expected < 0 || expected > std::numeric_limits<std::uint32_t>::max()) expected = th;
  if (inferred != (static_cast<std::uint64_t>(expected) << 32 | low)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint32_t window_size = read_size(in);
  const std::uint64_t initial_top = read_top(in);
  ReplayWindow window(window_size, initial_top);
  NaiveWindow model(window_size, initial_top);

  while (!in.empty()) {
    const auto op = static_cast<unsigned>(in.take(1));
    const std::uint64_t top = model.top();
    std::uint64_t seq = 0;
    switch (op & 7) {
      case 0:
        seq = saturating_add(top, 1 + in.take(1));
        break;
      case 1:
        seq = saturating_sub(top, in.take(1));
        break;
      case 2: {
        const auto offset = static_cast<std::int8_t>(in.take(1));
        const std::uint64_t edge = saturating_sub(top, window_size);
        seq = offset >= 0 ? saturating_add(edge, static_cast<std::uint64_t>(offset))
                          : saturating_sub(edge, static_cast<std::uint64_t>(-offset));
        break;
      }
      case 3: {
        const std::uint64_t amount = in.take(2);
        seq = saturating_add(top, amount << (in.take(1) % 48));
        break;
      }
      case 4:
        seq = in.take(8);
        break;
      case 5:
        seq = (std::uint64_t{1} << 32) + static_cast<std::uint64_t>(static_cast<std::int64_t>(
                                             static_cast<std::int16_t>(in.take(2))));
        break;
      case 6:
        seq = kMax64 - in.take(2);
        break;
      default: {
        const auto low = static_cast<std::uint32_t>(in.take(4));
        seq = uipsec::infer_esn(low, top, window_size);
        check_inference(low, top, window_size, seq);
        break;
      }
    }

    const Check expected = model.check(seq);
    if (window.check(seq) != expected) __builtin_trap();
    if (window.check(seq) != expected || window.top() != top) __builtin_trap();  // const
    if (expected == Check::kOk && (op & 8) != 0) {
      window.accept(seq);
      model.accept(seq);
      if (window.check(seq) != (window_size == 0 ? Check::kOk : Check::kDuplicate)) {
        __builtin_trap();
      }
    }
    if (window.top() != model.top()) __builtin_trap();
  }
  return 0;
}
