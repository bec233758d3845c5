// FakeDatagramSocket: a DatagramSocket in memory for unit tests of the daemon's workers — the
// test injects datagrams "from the network" and collects what was sent; fd() is an eventfd that
// polls readable while injected datagrams wait.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "io/datagram_socket.hpp"
#include "io/event_fd.hpp"
#include "io/receive_room.hpp"

namespace uipsec {

// One datagram that went through the fake, with both endpoints.
struct FakeDatagram {
  Endpoint from;
  Endpoint to;
  std::vector<std::uint8_t> bytes;
  bool via_send_to = false;  // sent with send_to() rather than send_batch()
};

// Thread safety: the test side (inject, take_sent, fail_sends, report_kernel_drops, pending)
// may run on any thread; the DatagramSocket side follows that interface's rules.
class FakeDatagramSocket final : public DatagramSocket {
 public:
  explicit FakeDatagramSocket(Endpoint local = {*IpAddress::parse("198.18.0.1"), 4500})
      : local_(local), wake_(make_wake()) {}

  // --- test side ---
  // Queues a datagram from `from` to `to` (meta.local on receive; port 0 means this socket's).
  void inject(const Endpoint& from, const Endpoint& to, ByteSpan payload) {
    std::lock_guard lock(mutex_);
    Endpoint local = to;
    if (local.port == 0) local.port = local_.port;
    inbound_.push_back(FakeDatagram{from, local, {payload.begin(), payload.end()}, false});
    wake_.signal();
  }
  // Queues a datagram from `from` to this socket's own endpoint.
  void inject(const Endpoint& from, ByteSpan payload) { inject(from, local_, payload); }
  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return inbound_.size();
  }
  // Everything sent so far (send_batch and send_to), oldest first; forgets it.
  std::vector<FakeDatagram> take_sent() {
    std::lock_guard lock(mutex_);
    return std::exchange(sent_, {});
  }
  // The next `count` datagrams of send_batch fail with `error`, counted as UdpSocket counts
  // them (EAGAIN: send buffer full; EMSGSIZE: too big; ENETUNREACH: unreachable).
  void fail_sends(std::size_t count, int error) {
    std::lock_guard lock(mutex_);
    failures_left_ = count;
    failure_errno_ = error;
  }
  // The next receive_batch counts `count` packets as dropped by the kernel (SO_RXQ_OVFL).
  void report_kernel_drops(std::uint64_t count) {
    std::lock_guard lock(mutex_);
    kernel_drops_ += count;
  }

  // --- DatagramSocket ---
  int fd() const override { return wake_.fd(); }
  Endpoint local_endpoint() const override { return local_; }

  std::size_t receive_batch(PacketPool& pool, PacketBatch& batch) override {
    std::lock_guard lock(mutex_);
    counters_.rx_kernel_drops.add(std::exchange(kernel_drops_, 0));
    std::size_t appended = 0;
    while (!batch.full() && !inbound_.empty()) {
      PacketBuffer* b = pool.acquire();
      if (b == nullptr) break;
      FakeDatagram d = std::move(inbound_.front());
      inbound_.pop_front();
      if (d.bytes.size() > receive_room(*b)) {
        pool.release(b);
        counters_.rx_truncated.add();
        continue;
      }
      if (!d.bytes.empty())
        std::memcpy(b->push_back(d.bytes.size()), d.bytes.data(), d.bytes.size());
      b->meta.remote = d.from;
      b->meta.local = d.to;
      b->meta.encapsulation = Encapsulation::kEspInUdp;
      batch.push(b);
      ++appended;
      counters_.rx_bytes.add(d.bytes.size());
    }
    counters_.rx_packets.add(appended);
    if (inbound_.empty()) wake_.drain();
    return appended;
  }

  std::size_t send_batch(std::span<PacketBuffer* const> packets) override {
    std::lock_guard lock(mutex_);
    std::size_t sent = 0;
    for (PacketBuffer* p : packets) {
      const Endpoint& to = p->meta.remote;
      const IpAddress& from = p->meta.local.address;
      if (to.port == 0 || to.address.is_unspecified() ||
          (!from.is_unspecified() && from.family() != to.address.family())) {
        counters_.tx_unreachable.add();
        continue;
      }
      if (failures_left_ > 0) {
        --failures_left_;
        count_failure(failure_errno_);
        continue;
      }
      sent_.push_back(
          FakeDatagram{{from, local_.port}, to, {p->data(), p->data() + p->size()}, false});
      counters_.tx_bytes.add(p->size());
      ++sent;
    }
    counters_.tx_packets.add(sent);
    return sent;
  }

  Result<void> send_to(const Endpoint& from, const Endpoint& to, ByteSpan payload) override {
    std::lock_guard lock(mutex_);
    if (to.port == 0 || to.address.is_unspecified()) {
      return Error("cannot send to " + to.address.to_string() +
                   ": not an address this socket can reach");
    }
    sent_.push_back(
        FakeDatagram{{from.address, local_.port}, to, {payload.begin(), payload.end()}, true});
    return {};
  }

  const IoCounters& counters() const override { return counters_; }

 private:
  static EventFd make_wake() {
    auto wake = EventFd::create();
    if (!wake.ok()) std::abort();  // tests only: no eventfd means no test environment
    return std::move(*wake);
  }

  void count_failure(int error) {
    counters_.note_errno(error);
    if (error == EAGAIN || error == ENOBUFS) {
      counters_.tx_queue_full.add();
    } else if (error == EMSGSIZE) {
      counters_.tx_too_big.add();
    } else if (error == ENETUNREACH || error == EHOSTUNREACH || error == EINVAL) {
      counters_.tx_unreachable.add();
    } else {
      counters_.tx_errors.add();
    }
  }

  Endpoint local_;
  EventFd wake_;
  mutable std::mutex mutex_;
  std::deque<FakeDatagram> inbound_;
  std::vector<FakeDatagram> sent_;
  std::size_t failures_left_ = 0;
  int failure_errno_ = 0;
  std::uint64_t kernel_drops_ = 0;
  IoCounters counters_;
};

}  // namespace uipsec
