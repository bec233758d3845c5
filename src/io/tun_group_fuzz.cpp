// Fuzzes TunGroup's delivery by inner destination (decrypted packets are a peer's bytes): a
// group with an IPv4 and an IPv6 member writes packets cut from the input (each behind a length
// byte); every packet must land in exactly one device, and in a member only when its
// destination is that member's address.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "io/fake_tun.hpp"
#include "io/tun_group.hpp"

namespace {

using uipsec::IpAddress;

bool is_to(const std::vector<std::uint8_t>& p, const IpAddress& a) {
  const std::size_t offset = a.is_v4() ? 16 : 24;
  const unsigned version = a.is_v4() ? 4 : 6;
  return p.size() >= offset + a.size() && (p[0] >> 4) == version &&
         std::memcmp(p.data() + offset, a.data(), a.size()) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static uipsec::QsbrDomain domain;
  static uipsec::FakeTun main("uipsec0");
  static uipsec::FakeTun* v4 = nullptr;
  static uipsec::FakeTun* v6 = nullptr;
  static const IpAddress a4 = *IpAddress::parse("198.18.50.1");
  static const IpAddress a6 = *IpAddress::parse("2001:db8:50::1");
  static std::unique_ptr<uipsec::TunGroup> group = [] {
    auto g = std::move(*uipsec::TunGroup::open(main, domain));
    auto d4 = std::make_unique<uipsec::FakeTun>("uipsec0v1");
    auto d6 = std::make_unique<uipsec::FakeTun>("uipsec0v2");
    v4 = d4.get();
    v6 = d6.get();
    if (!g->add(a4, std::move(d4)).ok() || !g->add(a6, std::move(d6)).ok()) __builtin_trap();
    return g;
  }();
  static uipsec::PacketPool pool(uipsec::kMaxBatch, 2048);

  std::vector<uipsec::PacketBuffer*> packets;
  std::size_t offset = 0;
  while (offset < size && packets.size() < uipsec::kMaxBatch) {
    const std::size_t length = std::min<std::size_t>(data[offset], size - offset - 1);
    uipsec::PacketBuffer* b = pool.acquire();
    if (length != 0) std::memcpy(b->push_back(length), data + offset + 1, length);
    packets.push_back(b);
    offset += 1 + length;
  }
  const std::size_t written = group->write_batch(packets);
  for (uipsec::PacketBuffer* b : packets) pool.release(b);
  if (written != packets.size()) __builtin_trap();
  const auto to4 = v4->take_written();
  const auto to6 = v6->take_written();
  const auto rest = main.take_written();
  if (to4.size() + to6.size() + rest.size() != packets.size()) __builtin_trap();
  for (const auto& p : to4) {
    if (!is_to(p, a4)) __builtin_trap();
  }
  for (const auto& p : to6) {
    if (!is_to(p, a6)) __builtin_trap();
  }
  for (const auto& p : rest) {
    if (is_to(p, a4) || is_to(p, a6)) __builtin_trap();
  }
  return 0;
}
