// TunGroup: several TUN devices behind one TunDevice — uipsecd's main device and one device per
// virtual IP (uipsec.tun_per_virtual_ip, the BSD/macOS one-TUN-per-virtual-IP model, what
// strongSwan's kernel-libipsec router does with its table of TUN devices keyed by address).
// The worker uses it unchanged: it polls one epoll fd over the members, read_batch() reads from
// whichever members are readable (starting one member further each call), and write_batch()
// delivers each decrypted packet to the member whose address is the packet's inner destination,
// else to the main device.
//
// Members come and go at run time (the control thread, on address.add / address.delete) while a
// worker reads and writes: a fixed table of kMaxMembers slots, each an atomic pointer to an
// immutable member, published with release stores; a removed member is unlinked first and its
// device closed only after every QSBR reader of `domain` has passed a quiescent point (the
// worker's quiescent point after each pass), so a worker never uses a closed descriptor.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "base/ip_address.hpp"
#include "base/qsbr.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "io/tun_device.hpp"

namespace uipsec {

// Owner: the packet-path side (read_batch, write_batch) follows TunDevice's rules (one reader,
// one writer, which must be QSBR readers of `domain` and pass quiescent points between calls);
// add(), unlink(), remove() and members() belong to one control thread.
class TunGroup final : public TunDevice {
 public:
  // Devices besides the main one; the 17th address.add is refused.
  static constexpr std::size_t kMaxMembers = 16;

  // `main` (not owned) gets every packet no member's address matches; it and `domain` must
  // outlive the group. Errors: epoll failures.
  static Result<std::unique_ptr<TunGroup>> open(TunDevice& main, QsbrDomain& domain);
  ~TunGroup() override;
  TunGroup(const TunGroup&) = delete;
  TunGroup& operator=(const TunGroup&) = delete;

  // --- control thread ---
  // Adds `device` (owned from now on) as the device of `address`: packets to `address` go to it
  // from the next write_batch on, and its reads join the group's. Errors: the address has a
  // device already, kMaxMembers are in use, epoll_ctl failed (nothing changes then).
  Result<void> add(const IpAddress& address, std::unique_ptr<TunDevice> device);
  // Takes the device of `address` out of the group and hands it back, still open: a worker may
  // still be inside a call that uses it, so the caller must let a grace period pass
  // (QsbrDomain::synchronize) before destroying it. Null when `address` has no device.
  std::unique_ptr<TunDevice> unlink(const IpAddress& address);
  // unlink(), a grace period, and the device destroyed. Returns whether `address` had one.
  bool remove(const IpAddress& address);
  struct MemberInfo {
    IpAddress address;
    const TunDevice* device;
  };
  // The members now, in slot order.
  std::vector<MemberInfo> members() const;

  // --- TunDevice: the main device's fd is not this one; name, index, MTU are the main's ---
  int fd() const override { return epoll_.get(); }
  const std::string& name() const override { return main_.name(); }
  InterfaceIndex ifindex() const override { return main_.ifindex(); }
  std::uint32_t mtu() const override { return main_.mtu(); }
  // Asks the epoll fd which members are readable and calls their read_batch in turn until
  // `batch` is full, starting one member further each call; with no member, the main device's
  // read_batch directly (no epoll_wait).
  std::size_t read_batch(PacketPool& pool, PacketBatch& batch) override;
  // Each packet to the member whose address equals its destination (IPv4 bytes 16..19, IPv6
  // bytes 24..39), the rest (other destinations, too short or not IP) to the main device, which
  // counts what it cannot write. Order is kept within each device. No allocation.
  std::size_t write_batch(std::span<PacketBuffer* const> packets) override;
  // The main device's; each member counts its own traffic.
  const IoCounters& counters() const override { return main_.counters(); }

 private:
  struct Member {
    IpAddress address;
    TunDevice* device;     // owned by owned_[slot]
    std::uint32_t v4 = 0;  // an IPv4 address's bytes as loaded from a packet (one compare)
  };
  // The members one write_batch sees, packed: their slots and pointers, `count` of them.
  struct Snapshot {
    std::array<const Member*, kMaxMembers> members{};
    std::array<std::uint8_t, kMaxMembers> slots{};
    std::size_t count = 0;
  };
  TunGroup(TunDevice& main, QsbrDomain& domain, UniqueFd epoll);
  // The slot of the member whose address is the destination of `packet`, or kMaxMembers.
  static std::size_t destination_slot(const PacketBuffer& packet, const Snapshot& snapshot);

  TunDevice& main_;
  QsbrDomain& domain_;
  UniqueFd epoll_;
  // Published members (null: free); read by the packet path, written by the control thread.
  std::array<std::atomic<const Member*>, kMaxMembers> slots_{};
  // Bit i: slot i holds a member. 0: the one-device fast path.
  std::atomic<std::uint32_t> occupied_{0};
  // Control thread: what the slots point at, and the devices.
  std::array<std::unique_ptr<Member>, kMaxMembers> entries_;
  std::array<std::unique_ptr<TunDevice>, kMaxMembers> owned_;
  // Reader thread.
  std::size_t next_read_ = 0;
  // Writer thread: one list per member and one for the main device (the last), kMaxBatch each.
  std::array<std::array<PacketBuffer*, kMaxBatch>, kMaxMembers + 1> outgoing_;
  std::array<std::size_t, kMaxMembers + 1> outgoing_count_{};
};

}  // namespace uipsec
