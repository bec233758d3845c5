// Fuzzes the GSO splitter with untrusted bytes: the first 10 bytes are the virtio-net header,
// the rest the packet the kernel handed over. Traps when a planned segment's bounds contradict
// each other or a segment does not carry the size its IP header claims; ASan catches any read
// outside the packet or write outside the segment buffer.
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/bytes.hpp"
#include "offload/gso_split.hpp"
#include "offload/virtio_net_hdr.hpp"

namespace {

using namespace uipsec;

void check(bool belief) {
  if (!belief) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto hdr = VirtioNetHdr::parse(ByteSpan(data, size));
  if (!hdr) return 0;
  const ByteSpan packet(data + kVirtioNetHdrSize, size - kVirtioNetHdrSize);
  const SegmentPlanResult result = plan_segments(*hdr, packet);
  check(result.plan.has_value() == (result.reason == DropReason::kNone));
  if (!result.plan) return 0;
  const SegmentPlan& plan = *result.plan;
  check(plan.count >= 1);
  check(plan.max_segment_size <= packet.size());
  std::size_t payload_seen = 0;
  for (std::size_t i = 0; i < plan.count; ++i) {
    const std::size_t n = segment_size(plan, i);
    check(n <= plan.max_segment_size);
    // Exactly n bytes, so ASan flags a write past the segment.
    std::vector<std::uint8_t> out(n);
    check(write_segment(plan, packet, i, out.data()) == n);
    if (plan.kind == SegmentPlan::Kind::kPlain) continue;
    payload_seen += n - plan.header_len;
    if (plan.ipv4) {
      check(load_be16(out.data() + 2) == n);
    } else {
      check(std::size_t{load_be16(out.data() + 4)} + 40 == n);
    }
  }
  if (plan.kind != SegmentPlan::Kind::kPlain) check(payload_seen == plan.payload_len);
  return 0;
}
