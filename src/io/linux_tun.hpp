// LinuxTun: a Linux TUN device (drivers/net/tun.c) opened through /dev/net/tun, layer 3 without
// packet information (IFF_TUN | IFF_NO_PI), one queue, non-blocking.
//
// Two ways to get one:
//   create(): a new device that lives as long as this object (needs CAP_NET_ADMIN); the MTU is
//             set and the device brought up.
//   attach(): a persistent device made beforehand by an administrator
//             (`ip tuntap add dev NAME mode tun user USER`); needs no privilege when the device's
//             owner (or group) is ours, and changes nothing on the device.
// No offloads yet: the later fast path adds IFF_VNET_HDR and IFF_MULTI_QUEUE behind the same
// TunDevice interface, with the virtio-net header in the packet's headroom.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "io/tun_device.hpp"

namespace uipsec {

// Owner: see TunDevice (one reader thread, one writer thread).
class LinuxTun final : public TunDevice {
 public:
  // Creates device `name` (at most 15 bytes; "%d" lets the kernel number it, name() tells the
  // result), sets its MTU (bytes) and brings it up. Fails if a device of that name exists.
  // Closing (destroying this object) removes the device.
  static Result<std::unique_ptr<LinuxTun>> create(std::string_view name, std::uint32_t mtu);
  // Opens the existing persistent TUN device `name` without changing its MTU or state; mtu() is
  // read from the kernel. Destroying this object leaves the device in place.
  static Result<std::unique_ptr<LinuxTun>> attach(std::string_view name);

  int fd() const override { return fd_.get(); }
  const std::string& name() const override { return name_; }
  InterfaceIndex ifindex() const override { return ifindex_; }
  std::uint32_t mtu() const override { return mtu_; }
  // True for a device made by attach() (the kernel keeps it after we close it).
  bool persistent() const { return persistent_; }

  std::size_t read_batch(PacketPool& pool, PacketBatch& batch) override;
  std::size_t write_batch(std::span<PacketBuffer* const> packets) override;
  const IoCounters& counters() const override { return counters_; }

 private:
  LinuxTun(UniqueFd fd, std::string name, InterfaceIndex ifindex, std::uint32_t mtu,
           bool persistent)
      : fd_(std::move(fd)),
        name_(std::move(name)),
        ifindex_(ifindex),
        mtu_(mtu),
        persistent_(persistent) {}

  UniqueFd fd_;
  std::string name_;
  InterfaceIndex ifindex_;
  std::uint32_t mtu_;
  bool persistent_;
  IoCounters counters_;
};

}  // namespace uipsec
