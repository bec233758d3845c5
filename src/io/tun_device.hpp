// TunDevice: the OS seam for cleartext packets — a layer-3 device whose every read is one IP
// packet the kernel routed into it, and whose every write injects one IP packet into the kernel's
// receive path. LinuxTun is the real one, FakeTun the in-memory one for tests.
//
// Batches everywhere: the data path reads and writes vectors of packets so that a later
// implementation with offloads (IFF_VNET_HDR: a virtio-net header in the packet's headroom,
// TSO/USO super-packets) or one queue per worker (IFF_MULTI_QUEUE) keeps this interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "io/interface_index.hpp"
#include "io/io_counters.hpp"
#include "packet/packet_batch.hpp"
#include "packet/packet_pool.hpp"

namespace uipsec {

// Owner: one thread reads and one thread writes (they may be the same); the accessors are
// constant after construction and safe from any thread.
class TunDevice {
 public:
  virtual ~TunDevice() = default;

  // A descriptor that polls readable (level-triggered) while packets wait to be read; for epoll.
  // Stays owned by the device.
  virtual int fd() const = 0;
  virtual const std::string& name() const = 0;
  virtual InterfaceIndex ifindex() const = 0;
  // Bytes, as the kernel knew it when the device was opened.
  virtual std::uint32_t mtu() const = 0;

  // Reads packets without blocking until nothing is left, `batch` is full or `pool` is empty,
  // and appends them to `batch` (each in its own buffer at the default headroom; the caller owns
  // them now). Returns how many were appended. When it stops because the pool is empty the
  // device stays readable: the caller should stop polling it until buffers come back.
  virtual std::size_t read_batch(PacketPool& pool, PacketBatch& batch) = 0;

  // Writes each packet (a whole IP packet from data() on). Returns how many were written; every
  // failure is counted in counters() and the remaining packets are still tried. Ownership of the
  // buffers stays with the caller.
  virtual std::size_t write_batch(std::span<PacketBuffer* const> packets) = 0;

  virtual const IoCounters& counters() const = 0;
};

}  // namespace uipsec
