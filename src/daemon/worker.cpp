#include "daemon/worker.hpp"

#include <sched.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "base/unique_fd.hpp"
#include "dataplane/path_mtu.hpp"
#include "io/socket_errors.hpp"

namespace uipsec {

namespace {

AcquireHold::Limits hold_limits(const Worker::Options& o) {
  AcquireHold::Limits limits;
  limits.per_policy = o.held_per_policy;
  const std::size_t share =
      o.held_total != 0 ? o.held_total : std::min<std::size_t>(64, o.packet_buffers / 8);
  limits.total = o.held_per_policy == 0 ? 0 : std::min({share, o.packet_buffers / 2, kMaxBatch});
  limits.timeout_ns = o.hold_timeout_ns;
  return limits;
}

// Real time for the busy-poll window (the injected clock_ is the packet path's time, which a
// test may hold still).
std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// How long run() sleeps at most while packets are held.
constexpr int kHoldRecheckMs = static_cast<int>(OutboundPath::kHoldRecheckNs / 1'000'000);

}  // namespace

Worker::Worker(Dataplane& dataplane, std::size_t index, TunDevice& tun, DatagramSocket& socket,
               QsbrDomain& domain, EventFd& wake_control, IkeNoticeQueue& ike_notices,
               const Clock& clock, Options options)
    : dataplane_(dataplane),
      tun_(tun),
      socket_(socket),
      domain_(domain),
      wake_control_(wake_control),
      ike_notices_(ike_notices),
      clock_(clock),
      hold_(hold_limits(options)),
      outbound_(dataplane, index, counters_, &hold_),
      inbound_(dataplane, index, counters_),
      pool_(options.packet_buffers, options.buffer_capacity),
      ike_slot_(std::make_unique<IkeDatagram>()),
      busy_poll_ns_(std::max<std::int64_t>(options.busy_poll_ns, 0)),
      error_queues_(socket.error_queue_fds(error_queue_fds_)) {
  // Made here, not in run(): stop() may come from another thread before or while run() starts,
  // and must find the descriptor it signals already in place (never written again).
  auto stop_fd = EventFd::create();
  if (stop_fd) {
    stop_ = std::make_unique<EventFd>(std::move(*stop_fd));
  } else {
    stop_error_ = stop_fd.error();
  }
}

Worker::~Worker() = default;

void Worker::attach_reader() {
  if (!reader_) reader_ = domain_.register_reader();
}

void Worker::release(PacketBatch& batch) {
  for (std::size_t i = 0; i < batch.size; ++i) pool_.release(batch.packets[i]);
  batch.clear();
}

// Sends the ESP packets of an outbound batch in one send_batch and gives every buffer back to
// the pool, except those the path put in the hold.
void Worker::send_outbound() {
  // Compact the ESP packets to the front of a span for one send.
  std::array<PacketBuffer*, kMaxBatch> out;
  std::array<PacketBuffer*, kMaxBatch> to_tun;  // ICMP "too big" errors (dataplane/path_mtu.hpp)
  std::size_t n = 0;
  std::size_t m = 0;
  for (std::size_t i = 0; i < batch_.size; ++i) {
    const Verdict& v = batch_.verdicts[i];
    if (v.disposition == Disposition::kSendToPeer) {
      out[n++] = batch_.packets[i];
    } else if (v.disposition == Disposition::kDeliverToTun) {
      to_tun[m++] = batch_.packets[i];
    } else if (v.disposition == Disposition::kBypass) {
      // The routes sent it into the TUN device, so it cannot go out in the clear from here.
      counters_.drops.count(DropReason::kBypassViaTun);
    }
  }
  if (n > 0) socket_.send_batch(std::span<PacketBuffer* const>(out.data(), n));
  if (m > 0) tun_.write_batch(std::span<PacketBuffer* const>(to_tun.data(), m));
  for (std::size_t i = 0; i < batch_.size; ++i) {
    if (batch_.verdicts[i].disposition != Disposition::kHold) pool_.release(batch_.packets[i]);
  }
  batch_.clear();
}

bool Worker::release_held(Timestamp now) {
  batch_.clear();
  if (outbound_.release_held(batch_, now) == 0) return false;
  send_outbound();
  return true;
}

// Adds the drops the I/O layer counted while filling `batch` (malformed super-packets...).
void Worker::count_io_drops(const PacketBatch& batch) {
  if (batch.io_drop_total == 0) return;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    if (batch.io_drops[i] != 0)
      counters_.drops.count(static_cast<DropReason>(i), batch.io_drops[i]);
  }
}

bool Worker::outbound_batch(Timestamp now, bool* more) {
  batch_.clear();
  const std::size_t read = tun_.read_batch(pool_, batch_);
  count_io_drops(batch_);
  if (more != nullptr) *more = batch_.full() || pool_.available() == 0;
  if (read == 0) return batch_.io_drop_total != 0;
  outbound_.process(batch_, now);
  send_outbound();
  return true;
}

bool Worker::inbound_batch(Timestamp now, bool* more) {
  batch_.clear();
  const std::size_t received = socket_.receive_batch(pool_, batch_);
  if (more != nullptr) *more = batch_.full() || pool_.available() == 0;
  if (received == 0) return false;
  inbound_.process(batch_, now);
  std::array<PacketBuffer*, kMaxBatch> out;
  std::size_t n = 0;
  bool ike_noticed = false;
  for (std::size_t i = 0; i < batch_.size; ++i) {
    const Verdict& v = batch_.verdicts[i];
    PacketBuffer* p = batch_.packets[i];
    if (v.disposition == Disposition::kDeliverToTun) {
      out[n++] = p;
    } else if (v.reason == DropReason::kIkeNoHandler || v.disposition == Disposition::kPassToIke) {
      ike_noticed = true;
      queue_ike(*p, v.disposition == Disposition::kPassToIke);
    }
  }
  if (n > 0) tun_.write_batch(std::span<PacketBuffer* const>(out.data(), n));
  release(batch_);
  wake_control_if_needed(ike_noticed);
  return true;
}

// An IKE message for the handler (`handled`: copied into a slot) or, without a handler, only its
// endpoints and size for the monitor. Bounded: a full queue is a counted drop.
void Worker::queue_ike(const PacketBuffer& packet, bool handled) {
  if (handled && packet.size() > kMaxIkeMessage) {
    counters_.drops.count(DropReason::kIkeTooBig);
    return;
  }
  ike_slot_->remote = packet.meta.remote;
  ike_slot_->local = packet.meta.local;
  ike_slot_->size = static_cast<std::uint32_t>(packet.size());
  ike_slot_->has_payload = handled;
  if (handled) std::memcpy(ike_slot_->bytes.data(), packet.data(), packet.size());
  if (!ike_notices_.try_push(std::move(*ike_slot_))) {
    if (handled) {
      counters_.drops.count(DropReason::kIkeQueueFull);
    } else {
      counters_.events_lost.add();
    }
  }
}

void Worker::wake_control_if_needed(bool ike_noticed) {
  if (ike_noticed || !dataplane_.events.probably_empty()) wake_control_.signal();
}

bool Worker::poll_once() { return poll_seams(true, true).worked; }

Worker::Pass Worker::poll_seams(bool tun, bool socket) {
  Pass pass;
  const Timestamp now = clock_.now();
  read_path_mtu_reports(now);
  // Held packets first, so that they leave before later packets of their flow.
  const bool released = release_held(now);
  // Bounded work per pass: one batch each way, then the other seam gets its turn.
  const bool sent = tun && outbound_batch(now, &pass.tun_again);
  if (released || sent) wake_control_if_needed(false);
  const bool received = socket && inbound_batch(now, &pass.socket_again);
  reader_->quiescent();
  pass.worked = released || sent || received;
  return pass;
}

// Drains the socket's error queue into the path MTU table when epoll reported EPOLLERR, and
// every kErrorQueueCheckNs regardless (a busy worker seldom returns to epoll_wait).
void Worker::read_path_mtu_reports(Timestamp now) {
  if (dataplane_.path_mtu == nullptr || error_queues_ == 0) return;
  if (!socket_error_pending_ && now.nanoseconds() < next_error_check_ns_) return;
  socket_error_pending_ = false;
  next_error_check_ns_ = now.nanoseconds() + kErrorQueueCheckNs;
  std::array<SocketError, 16> errors;
  for (std::size_t q = 0; q < error_queues_; ++q) {
    for (;;) {
      const ErrorQueueRead r = read_socket_errors(error_queue_fds_[q], errors);
      for (std::size_t i = 0; i < r.parsed; ++i) {
        if (const auto report = path_mtu_report(errors[i])) {
          dataplane_.path_mtu->table.learn(report->destination, report->mtu, now);
        }
      }
      if (r.parsed < errors.size()) break;
    }
  }
}

void Worker::stop() {
  stopping_.store(true, std::memory_order_relaxed);
  if (stop_) stop_->signal();
}

Result<void> Worker::run() {
  if (!stop_) return *stop_error_;
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return Error(std::string("worker: epoll_create1: ") + std::strerror(errno));
  for (int fd : {tun_.fd(), socket_.fd(), stop_->fd()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Error(std::string("worker: epoll_ctl: ") + std::strerror(errno));
    }
  }
  for (std::size_t q = 0; q < error_queues_; ++q) {
    const int fd = error_queue_fds_[q];
    if (fd == socket_.fd()) continue;  // already in: its EPOLLERR comes with EPOLLIN
    epoll_event ev{};
    ev.events = 0;  // EPOLLERR only, which epoll always reports
    ev.data.fd = fd;
    if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Error(std::string("worker: epoll_ctl: ") + std::strerror(errno));
    }
  }
  attach_reader();
  epoll_event events[4 + kMaxErrorQueues];
  // Until when run() polls instead of sleeping (busy_poll_ns_ after the last pass that worked).
  std::int64_t poll_until_ns = 0;
  while (!stopping_.load(std::memory_order_relaxed)) {
    int n;
    if (busy_poll_ns_ > 0 && monotonic_ns() < poll_until_ns) {
      // Polling: a quiescent point per round (grace periods do not wait for the spin), and the
      // CPU to whatever else is runnable on it first (both tunnel ends and the applications may
      // share few cores).
      reader_->quiescent();
      sched_yield();
      n = epoll_wait(epoll.get(), events, static_cast<int>(std::size(events)), 0);
    } else {
      // Offline while asleep: the control thread may free retired tables meanwhile.
      reader_->offline();
      // Held packets must leave or expire although nothing else happens: wake up for them.
      n = epoll_wait(epoll.get(), events, static_cast<int>(std::size(events)),
                     outbound_.holding() ? kHoldRecheckMs : -1);
      reader_->online();
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(std::string("worker: epoll_wait: ") + std::strerror(errno));
    }
    // Which seams epoll reported readable (and whether an error queue has path MTU reports).
    bool tun = false;
    bool socket = false;
    const auto note_ready = [&](int count) {
      for (int i = 0; i < count; ++i) {
        const int fd = events[i].data.fd;
        if (fd == tun_.fd()) {
          tun = true;
        } else if (fd == socket_.fd()) {
          socket = socket || (events[i].events & ~std::uint32_t{EPOLLERR}) != 0;
        }
        if ((events[i].events & EPOLLERR) != 0 && fd != tun_.fd() && fd != stop_->fd()) {
          socket_error_pending_ = true;  // an error queue: path MTU reports
        }
      }
    };
    note_ready(n);
    // Keep going while a seam may still have data, one batch each way per turn; a seam that ran
    // dry is read again when epoll reports it. (After a timeout, n == 0, the pass retries only
    // the held packets.) While one seam has a backlog, epoll is asked about the other before
    // each further turn: a bulk transfer's data queued on one side must not hold back what
    // comes the other way, its ACKs, which clock it.
    bool worked = false;
    for (;;) {
      const Pass pass = poll_seams(tun, socket);
      worked = worked || pass.worked;
      tun = pass.tun_again;
      socket = pass.socket_again;
      if (stopping_.load(std::memory_order_relaxed) || !(tun || socket)) break;
      if (!(tun && socket)) {
        const int ready = epoll_wait(epoll.get(), events, static_cast<int>(std::size(events)), 0);
        if (ready > 0) note_ready(ready);
      }
    }
    if (worked && busy_poll_ns_ > 0) poll_until_ns = monotonic_ns() + busy_poll_ns_;
  }
  reader_->offline();
  reader_.reset();
  return {};
}

}  // namespace uipsec
