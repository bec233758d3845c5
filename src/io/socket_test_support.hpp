// Test support for the socket tests (UdpSocket, RawEspSocket, CombinedDatagramSocket): local
// addresses on the namespace's loopback device, batches sent and received through a
// DatagramSocket. Tests only; inside UIPSEC_IN_NETNS.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/datagram_socket.hpp"
#include "io/netns_test_support.hpp"

namespace uipsec::test {

// 198.18.1.1 .. 198.18.1.N/32 and 2001:db8:1::1 .. ::N/128 on `lo`, so that tests can check
// which local address a packet was sent to and from.
inline void add_loopback_addresses(int per_family) {
  for (int i = 1; i <= per_family; ++i) {
    const std::string v4 = "198.18.1." + std::to_string(i) + "/32";
    const std::string v6 = "2001:db8:1::" + std::to_string(i) + "/128";
    ASSERT_EQ(add_address("lo", v4.c_str()), "");
    ASSERT_EQ(add_address("lo", v6.c_str()), "");
  }
}

// Sends one packet per payload, each with `meta`, in one send_batch; returns what it returned.
inline std::size_t send_payloads(DatagramSocket& s, PacketPool& pool,
                                 const std::vector<std::vector<std::uint8_t>>& payloads,
                                 const PacketMeta& meta) {
  std::vector<PacketBuffer*> packets;
  for (const auto& bytes : payloads) {
    PacketBuffer* p = pool.acquire();
    EXPECT_TRUE(p->assign(bytes));
    p->meta = meta;
    packets.push_back(p);
  }
  const std::size_t sent = s.send_batch(packets);
  for (PacketBuffer* p : packets) pool.release(p);
  return sent;
}

// Receives until `count` packets arrived (polling up to 2 s each round); the caller releases
// them.
// Each call gets an empty batch, as a worker's would (a socket may leave a message for the next
// call rather than split it over a nearly full batch).
inline std::vector<PacketBuffer*> receive(DatagramSocket& s, PacketPool& pool, std::size_t count) {
  std::vector<PacketBuffer*> got;
  while (got.size() < count) {
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) break;
    PacketBatch batch;
    s.receive_batch(pool, batch);
    got.insert(got.end(), batch.packets.begin(),
               batch.packets.begin() + static_cast<std::ptrdiff_t>(batch.size));
  }
  return got;
}

inline void release(PacketPool& pool, const std::vector<PacketBuffer*>& packets) {
  for (PacketBuffer* p : packets) pool.release(p);
}

inline std::vector<std::uint8_t> bytes_of(const PacketBuffer& p) {
  return {p.data(), p.data() + p.size()};
}

}  // namespace uipsec::test
