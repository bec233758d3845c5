// TunGroup: one epoll fd over the main device and the members (the main one tagged kMaxMembers);
// reads drain the readable ones in turn, writes sort a batch by inner destination into
// per-device lists (fixed arrays in the group) and hand each list to its device.
#include "io/tun_group.hpp"

#include <sys/epoll.h>

#include <cerrno>
#include <cstring>

#include "base/system_error.hpp"

namespace uipsec {

namespace {

Result<void> watch(int epoll, int fd, std::uint64_t tag) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = tag;
  if (::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) {
    return system_error("cannot poll the TUN device: epoll_ctl", errno);
  }
  return {};
}

}  // namespace

TunGroup::TunGroup(TunDevice& main, QsbrDomain& domain, UniqueFd epoll)
    : main_(main), domain_(domain), epoll_(std::move(epoll)) {}

TunGroup::~TunGroup() = default;  // the caller has stopped the workers

Result<std::unique_ptr<TunGroup>> TunGroup::open(TunDevice& main, QsbrDomain& domain) {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return system_error("cannot group the TUN devices: epoll_create1", errno);
  UIPSEC_TRY(watch(epoll.get(), main.fd(), kMaxMembers));
  return std::unique_ptr<TunGroup>(new TunGroup(main, domain, std::move(epoll)));
}

Result<void> TunGroup::add(const IpAddress& address, std::unique_ptr<TunDevice> device) {
  if (device == nullptr) return Error("no TUN device for " + address.to_string());
  std::size_t free = kMaxMembers;
  for (std::size_t i = 0; i < kMaxMembers; ++i) {
    if (entries_[i] && entries_[i]->address == address) {
      return Error(address.to_string() + " has a TUN device already (" +
                   entries_[i]->device->name() + ")");
    }
    if (!entries_[i] && free == kMaxMembers) free = i;
  }
  if (free == kMaxMembers) {
    return Error("cannot give " + address.to_string() + " a TUN device of its own: at most " +
                 std::to_string(kMaxMembers) + " virtual IPs have one");
  }
  UIPSEC_TRY(watch(epoll_.get(), device->fd(), free));
  entries_[free] = std::make_unique<Member>(Member{address, device.get()});
  if (address.is_v4()) std::memcpy(&entries_[free]->v4, address.data(), 4);
  owned_[free] = std::move(device);
  // The member is complete before a worker can see it.
  slots_[free].store(entries_[free].get(), std::memory_order_release);
  occupied_.fetch_or(1u << free, std::memory_order_release);
  return {};
}

std::unique_ptr<TunDevice> TunGroup::unlink(const IpAddress& address) {
  for (std::size_t i = 0; i < kMaxMembers; ++i) {
    if (!entries_[i] || entries_[i]->address != address) continue;
    occupied_.fetch_and(~(1u << i), std::memory_order_release);
    slots_[i].store(nullptr, std::memory_order_release);
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, owned_[i]->fd(), nullptr);
    // A worker may still hold the Member: it goes with the device, after the grace period.
    Member* entry = entries_[i].release();
    std::unique_ptr<TunDevice> device = std::move(owned_[i]);
    domain_.retire([entry] { delete entry; });
    return device;
  }
  return nullptr;
}

bool TunGroup::remove(const IpAddress& address) {
  std::unique_ptr<TunDevice> device = unlink(address);
  if (!device) return false;
  domain_.synchronize();
  return true;  // `device` is closed here, after the grace period
}

std::vector<TunGroup::MemberInfo> TunGroup::members() const {
  std::vector<MemberInfo> out;
  for (std::size_t i = 0; i < kMaxMembers; ++i) {
    if (entries_[i]) out.push_back(MemberInfo{entries_[i]->address, entries_[i]->device});
  }
  return out;
}

std::size_t TunGroup::read_batch(PacketPool& pool, PacketBatch& batch) {
  if (occupied_.load(std::memory_order_acquire) == 0) return main_.read_batch(pool, batch);
  epoll_event events[kMaxMembers + 1];
  const int count = ::epoll_wait(epoll_.get(), events, static_cast<int>(kMaxMembers + 1), 0);
  if (count <= 0) return 0;  // nothing readable (or EINTR: the next pass asks again)
  bool ready[kMaxMembers + 1] = {};
  for (int e = 0; e < count; ++e) {
    if (events[e].data.u64 <= kMaxMembers) ready[events[e].data.u64] = true;
  }
  constexpr std::size_t n = kMaxMembers + 1;
  const std::size_t first = next_read_;
  next_read_ = (next_read_ + 1) % n;
  std::size_t appended = 0;
  for (std::size_t k = 0; k < n && !batch.full(); ++k) {
    const std::size_t i = (first + k) % n;
    if (!ready[i]) continue;
    if (i == kMaxMembers) {
      appended += main_.read_batch(pool, batch);
    } else if (const Member* m = slots_[i].load(std::memory_order_acquire)) {
      appended += m->device->read_batch(pool, batch);
    }  // else unlinked since epoll_wait
  }
  return appended;
}

std::size_t TunGroup::destination_slot(const PacketBuffer& packet, const Snapshot& snapshot) {
  const std::uint8_t* bytes = packet.data();
  const std::size_t size = packet.size();
  if (size >= 20 && (bytes[0] >> 4) == 4) {
    std::uint32_t destination;
    std::memcpy(&destination, bytes + 16, 4);
    for (std::size_t i = 0; i < snapshot.count; ++i) {
      const Member& m = *snapshot.members[i];
      if (m.v4 == destination && m.address.is_v4()) return snapshot.slots[i];
    }
  } else if (size >= 40 && (bytes[0] >> 4) == 6) {
    for (std::size_t i = 0; i < snapshot.count; ++i) {
      const Member& m = *snapshot.members[i];
      if (m.address.is_v6() && std::memcmp(m.address.data(), bytes + 24, 16) == 0) {
        return snapshot.slots[i];
      }
    }
  }
  return kMaxMembers;  // another destination, or too short / not IP: the main device
}

std::size_t TunGroup::write_batch(std::span<PacketBuffer* const> packets) {
  std::uint32_t occupied = occupied_.load(std::memory_order_acquire);
  if (occupied == 0) return main_.write_batch(packets);
  Snapshot snapshot;
  for (std::size_t i = 0; occupied != 0; ++i, occupied >>= 1) {
    if ((occupied & 1u) == 0) continue;
    // Null when unlinked since the load of occupied_.
    if (const Member* m = slots_[i].load(std::memory_order_acquire)) {
      snapshot.members[snapshot.count] = m;
      snapshot.slots[snapshot.count++] = static_cast<std::uint8_t>(i);
    }
  }
  std::size_t written = 0;
  while (!packets.empty()) {
    const std::size_t chunk = std::min(packets.size(), kMaxBatch);
    outgoing_count_.fill(0);
    for (std::size_t p = 0; p < chunk; ++p) {
      const std::size_t slot = destination_slot(*packets[p], snapshot);
      outgoing_[slot][outgoing_count_[slot]++] = packets[p];
    }
    for (std::size_t i = 0; i < snapshot.count; ++i) {
      const std::size_t slot = snapshot.slots[i];
      const std::size_t n = outgoing_count_[slot];
      if (n != 0) {
        written += snapshot.members[i]->device->write_batch(
            std::span<PacketBuffer* const>(outgoing_[slot].data(), n));
      }
    }
    if (const std::size_t n = outgoing_count_[kMaxMembers]; n != 0) {
      written +=
          main_.write_batch(std::span<PacketBuffer* const>(outgoing_[kMaxMembers].data(), n));
    }
    packets = packets.subspan(chunk);
  }
  return written;
}

}  // namespace uipsec
