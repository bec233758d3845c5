// FakeTun: a TunDevice in memory for unit tests of the daemon's workers — the test injects
// packets "routed into the device" and collects what the worker wrote; fd() is an eventfd that
// polls readable while injected packets wait, so an EventLoop drives it like the real device.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "io/event_fd.hpp"
#include "io/receive_room.hpp"
#include "io/tun_device.hpp"

namespace uipsec {

// Thread safety: the test side (inject, take_written, fail_writes, pending) may run on any
// thread; read_batch and write_batch follow TunDevice's rules (one reader, one writer).
class FakeTun final : public TunDevice {
 public:
  explicit FakeTun(std::string name = "fake0", std::uint32_t mtu = 1400,
                   InterfaceIndex ifindex = InterfaceIndex(1000))
      : name_(std::move(name)), ifindex_(ifindex), mtu_(mtu), wake_(make_wake()) {}

  // --- test side ---
  // Queues `packet` for read_batch, as if the kernel had routed it into the device.
  void inject(ByteSpan packet) {
    std::lock_guard lock(mutex_);
    inbound_.emplace_back(packet.begin(), packet.end());
    wake_.signal();
  }
  // The next read_batch reports `count` packets dropped for `reason`, as LinuxTun does for a
  // malformed super-packet.
  void inject_io_drops(DropReason reason, std::uint32_t count) {
    std::lock_guard lock(mutex_);
    io_drop_reason_ = reason;
    io_drops_ = count;
    wake_.signal();
  }
  // Injected packets not read yet.
  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return inbound_.size();
  }
  // The packets written so far, oldest first; forgets them.
  std::vector<std::vector<std::uint8_t>> take_written() {
    std::lock_guard lock(mutex_);
    return std::exchange(written_, {});
  }
  // Called at the start of every read_batch (on_read) and write_batch (on_write), on the calling
  // thread and before the device's lock: a test acts at a known point of the worker's loop. Set
  // them before that thread starts.
  void on_read(std::function<void()> hook) { on_read_ = std::move(hook); }
  void on_write(std::function<void()> hook) { on_write_ = std::move(hook); }
  // The next `count` writes fail with `error` (EAGAIN: queue full; EINVAL: not IP...), counted
  // as LinuxTun counts them.
  void fail_writes(std::size_t count, int error) {
    std::lock_guard lock(mutex_);
    failures_left_ = count;
    failure_errno_ = error;
  }

  // --- TunDevice ---
  int fd() const override { return wake_.fd(); }
  const std::string& name() const override { return name_; }
  InterfaceIndex ifindex() const override { return ifindex_; }
  std::uint32_t mtu() const override { return mtu_; }

  std::size_t read_batch(PacketPool& pool, PacketBatch& batch) override {
    if (on_read_) on_read_();
    std::lock_guard lock(mutex_);
    std::size_t appended = 0;
    for (; io_drops_ > 0; --io_drops_) batch.note_io_drop(io_drop_reason_);
    while (!batch.full() && !inbound_.empty()) {
      PacketBuffer* b = pool.acquire();
      if (b == nullptr) break;
      std::vector<std::uint8_t> packet = std::move(inbound_.front());
      inbound_.pop_front();
      if (packet.size() > receive_room(*b)) {
        pool.release(b);
        counters_.rx_truncated.add();
        continue;
      }
      if (!packet.empty()) std::memcpy(b->push_back(packet.size()), packet.data(), packet.size());
      batch.push(b);
      ++appended;
      counters_.rx_bytes.add(packet.size());
    }
    counters_.rx_packets.add(appended);
    if (inbound_.empty()) wake_.drain();
    return appended;
  }

  std::size_t write_batch(std::span<PacketBuffer* const> packets) override {
    if (on_write_) on_write_();
    std::lock_guard lock(mutex_);
    std::size_t written = 0;
    for (PacketBuffer* p : packets) {
      if (failures_left_ > 0) {
        --failures_left_;
        counters_.note_errno(failure_errno_);
        if (failure_errno_ == EAGAIN || failure_errno_ == ENOBUFS) {
          counters_.tx_queue_full.add();
        } else if (failure_errno_ == EMSGSIZE) {
          counters_.tx_too_big.add();
        } else {
          counters_.tx_errors.add();
        }
        continue;
      }
      written_.emplace_back(p->data(), p->data() + p->size());
      counters_.tx_bytes.add(p->size());
      ++written;
    }
    counters_.tx_packets.add(written);
    return written;
  }

  const IoCounters& counters() const override { return counters_; }

 private:
  static EventFd make_wake() {
    auto wake = EventFd::create();
    if (!wake.ok()) std::abort();  // tests only: no eventfd means no test environment
    return std::move(*wake);
  }

  std::string name_;
  InterfaceIndex ifindex_;
  std::uint32_t mtu_;
  EventFd wake_;
  mutable std::mutex mutex_;
  std::deque<std::vector<std::uint8_t>> inbound_;
  std::vector<std::vector<std::uint8_t>> written_;
  std::size_t failures_left_ = 0;
  DropReason io_drop_reason_ = DropReason::kNone;
  std::uint32_t io_drops_ = 0;
  int failure_errno_ = 0;
  IoCounters counters_;
  std::function<void()> on_read_;
  std::function<void()> on_write_;
};

}  // namespace uipsec
