// LinuxTun: a Linux TUN device (drivers/net/tun.c) opened through /dev/net/tun, layer 3 without
// packet information (IFF_TUN | IFF_NO_PI), non-blocking; one object is one queue of the device.
//
// Two ways to get one:
//   create(): a new device that lives as long as this object (needs CAP_NET_ADMIN); the MTU is
//             set and the device brought up.
//   attach(): a persistent device made beforehand by an administrator
//             (`ip tuntap add dev NAME mode tun user USER [vnet_hdr]`); needs no privilege when
//             the device's owner (or group) is ours, and changes nothing on the device except its
//             offload features when it was made with vnet_hdr.
//
// Offloads (docs/ARCHITECTURE.md "Offloads"): with `offload` on, the device gets IFF_VNET_HDR and
// TUNSETOFFLOAD(CSUM | TSO4 | TSO6 [| USO4 | USO6 when the kernel takes them]), so the kernel
// hands over TCP/UDP super-packets of up to 64 KiB, each behind a virtio-net header. read_batch()
// reads them into one 64 KiB buffer owned by the device and splits them (offload/gso_split) into
// MTU-sized packets, one pool buffer each; writes carry a zero virtio-net header (a plain
// packet), or with `gro` a GSO header in front of TCP segments coalesced into one super-packet
// (write_batch then rewrites the headers of the first packet of each such run).
// A device without IFF_VNET_HDR (offload off, or attach() to a device made without vnet_hdr)
// behaves as before: one packet per read() and write().
//
// Queues (IFF_MULTI_QUEUE): create() with queues > 1 makes a multi-queue device; open_queue()
// attaches one more queue to it (one per worker: the kernel spreads the packets routed into the
// device over the queues by flow hash). attach() opens a multi-queue device as such when sysfs
// says it is one; a device made single-queue has exactly one queue (multi_queue() is false and
// open_queue() fails), so the daemon falls back to one worker.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "io/tun_device.hpp"
#include "offload/gso_split.hpp"

namespace uipsec {

// Owner: see TunDevice (one reader thread, one writer thread).
class LinuxTun final : public TunDevice {
 public:
  // Creates device `name` (at most 15 bytes; "%d" lets the kernel number it, name() tells the
  // result), sets its MTU (bytes) and brings it up. Fails if a device of that name exists.
  // Closing (destroying this object) removes the device.
  // `offload`: ask for IFF_VNET_HDR and segmentation offloads (see above).
  // `gro` (with offload): coalesce TCP segments into super-packets on write (see above).
  // `multi_queue`: make it an IFF_MULTI_QUEUE device, so that open_queue() can add queues.
  static Result<std::unique_ptr<LinuxTun>> create(std::string_view name, std::uint32_t mtu,
                                                  bool offload = false, bool gro = false,
                                                  bool multi_queue = false);
  // Opens the existing persistent TUN device `name` without changing its MTU or state; mtu() is
  // read from the kernel. Destroying this object leaves the device in place.
  // With `offload`, a device made with vnet_hdr (its tun_flags in sysfs say so) is opened with
  // IFF_VNET_HDR and its offloads are switched on; any other device is opened without.
  static Result<std::unique_ptr<LinuxTun>> attach(std::string_view name, bool offload = false,
                                                  bool gro = false);

  // One more queue of this multi-queue device, with the same framing and offloads; the device
  // lives until its last queue is closed. Fails on a single-queue device, or when the kernel's
  // queue limit (256) is reached.
  Result<std::unique_ptr<LinuxTun>> open_queue(bool gro) const;

  int fd() const override { return fd_.get(); }
  const std::string& name() const override { return name_; }
  InterfaceIndex ifindex() const override { return ifindex_; }
  std::uint32_t mtu() const override { return mtu_; }
  // True for a device made by attach() (the kernel keeps it after we close it).
  bool persistent() const { return persistent_; }
  // Whether the device has IFF_MULTI_QUEUE (open_queue() works).
  bool multi_queue() const { return multi_queue_; }
  // Whether every read and write carries a virtio-net header (TUNGETIFF says IFF_VNET_HDR).
  bool vnet_hdr() const { return read_buffer_ != nullptr; }
  // The TUN_F_* flags TUNSETOFFLOAD accepted (0 without vnet_hdr).
  unsigned offloads() const { return offloads_; }
  // Whether writes coalesce TCP segments (asked for, and the device takes TSO super-packets).
  bool gro() const { return gro_; }

  // Bytes of the read buffer of a device with vnet_hdr: header plus the largest IP packet.
  static constexpr std::size_t kReadBufferSize = kVirtioNetHdrSize + 65535;

  std::size_t read_batch(PacketPool& pool, PacketBatch& batch) override;
  std::size_t write_batch(std::span<PacketBuffer* const> packets) override;
  const IoCounters& counters() const override { return counters_; }

 private:
  LinuxTun(UniqueFd fd, std::string name, InterfaceIndex ifindex, std::uint32_t mtu,
           bool persistent, bool vnet_hdr, unsigned offloads);

  std::size_t read_plain(PacketPool& pool, PacketBatch& batch);
  std::size_t write_coalesced(std::span<PacketBuffer* const> packets);
  ssize_t write_parts(iovec* parts, int count);
  void count_write_failure(int error, std::size_t segments);
  std::size_t read_offloaded(PacketPool& pool, PacketBatch& batch);
  // Reads one (super-)packet into read_buffer_ and plans its segments; false when nothing was
  // read (would block, error, or a dropped packet counted in `batch`; `stop` says whether to
  // stop reading).
  bool read_super_packet(PacketBatch& batch, bool& stop);

  UniqueFd fd_;
  std::string name_;
  InterfaceIndex ifindex_;
  std::uint32_t mtu_;
  bool persistent_;
  bool multi_queue_ = false;
  unsigned offloads_ = 0;
  bool gro_ = false;
  IoCounters counters_;
  // vnet_hdr only (reader thread): one reusable buffer for a super-packet, and the segments of
  // the last one still to hand out (a super-packet can outgrow the batch or the pool; the rest
  // waits here for the next read_batch, so that nothing queues without bound).
  std::unique_ptr<std::uint8_t[]> read_buffer_;
  std::size_t pending_size_ = 0;  // bytes of the IP packet in read_buffer_; 0: none
  SegmentPlan pending_plan_;
  std::size_t next_segment_ = 0;
};

}  // namespace uipsec
