#include "daemon/daemon.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "backend/local_backend.hpp"
#include "backend/nat_keepalive.hpp"
#include "backend/peer_follower.hpp"
#include "base/unique_fd.hpp"
#include "control/control_server.hpp"
#include "daemon/daemon_backend.hpp"
#include "daemon/ike_relay.hpp"
#include "daemon/reload.hpp"
#include "daemon/route_manager.hpp"
#include "daemon/sequence_store.hpp"
#include "daemon/virtual_ips.hpp"
#include "daemon/worker.hpp"
#include "dataplane/path_mtu.hpp"
#include "io/address_monitor.hpp"
#include "io/combined_datagram_socket.hpp"
#include "io/event_fd.hpp"
#include "io/event_loop.hpp"
#include "io/interface_address.hpp"
#include "io/linux_tun.hpp"
#include "io/raw_esp_socket.hpp"
#include "io/route_table.hpp"
#include "io/timer_fd.hpp"
#include "io/tun_group.hpp"
#include "io/udp_socket.hpp"

namespace uipsec {

namespace {

// The control server's FdWatcher over the daemon's epoll loop.
class EventLoopWatcher final : public FdWatcher {
 public:
  explicit EventLoopWatcher(EventLoop& loop) : loop_(loop) {}
  void watch(int fd, bool readable, bool writable, Callback callback) override {
    const std::uint32_t events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
    if (loop_.contains(fd)) (void)loop_.remove(fd);
    (void)loop_.add(fd, events, [callback = std::move(callback)](std::uint32_t ready) {
      const bool error = (ready & (EPOLLERR | EPOLLHUP)) != 0;
      callback((ready & EPOLLIN) != 0 || error, (ready & EPOLLOUT) != 0);
    });
  }
  void unwatch(int fd) override { (void)loop_.remove(fd); }

 private:
  EventLoop& loop_;
};

}  // namespace

struct Daemon::Parts {
  DaemonConfig config;
  MonotonicClock clock;
  std::unique_ptr<TunDevice> tun;
  // uipsec.tun_per_virtual_ip: the device worker 0 uses — `tun` and one device per virtual IP
  // (VirtualIps adds and removes them). Null otherwise: the worker uses `tun` itself.
  std::unique_ptr<TunGroup> tun_group;
  std::unique_ptr<DatagramSocket> socket;
  // Raw ESP (uipsec.raw_esp): one socket per family, and the socket the worker uses, which
  // combines them with the UDP one. Null when raw ESP is off.
  std::unique_ptr<RawEspSocket> raw_esp4;
  std::unique_ptr<RawEspSocket> raw_esp6;
  std::unique_ptr<CombinedDatagramSocket> transports;
  std::string raw_esp_off;  // why raw ESP is off, for SAs without encapsulation ("" when on)
  RawEspSocketOptions raw_esp_options;     // for the other workers' send-only raw sockets
  std::vector<IpFamily> raw_esp_families;  // those open (none: raw ESP off)
  QsbrDomain domain;
  std::unique_ptr<SaDatabase> sad;
  std::unique_ptr<PolicyDatabase> spd;
  std::unique_ptr<EventQueue> events;
  std::unique_ptr<PathMtu> path_mtu;  // before dataplane, which points at it
  std::unique_ptr<Dataplane> dataplane;
  IkeDatagramQueue ike_notices{kIkeQueueSlots};
  std::unique_ptr<DatagramSocket> ike_socket;  // uipsec.ike_port, read by the control thread
  std::unique_ptr<IkeRelay> ike;               // IKE to and from the registered handler
  std::unique_ptr<NatKeepalive> keepalive;     // SAs with `flag nat-keepalive`
  std::unique_ptr<EventFd> wake;
  std::unique_ptr<Worker> worker;
  // Workers 1.. (uipsec.workers > 1): each with its own queue of the (multi-queue) TUN device and
  // its own UDP socket of the SPI-steered reuseport group (io/udp_socket.hpp). Worker 0 above
  // also serves raw ESP and receives the IKE datagrams (marker 0 steers to member 0).
  struct ExtraWorker {
    std::unique_ptr<TunDevice> tun;
    std::unique_ptr<TunGroup> group;  // as tun_group, over this worker's queues
    std::unique_ptr<DatagramSocket> socket;
    std::unique_ptr<Worker> worker;
    std::thread thread;
    Result<void> result;
  };
  std::vector<std::unique_ptr<ExtraWorker>> extra_workers;
  std::unique_ptr<LocalBackend> local;
  std::unique_ptr<RtnetlinkRouteControl> route_control;
  std::unique_ptr<RouteManager> routes;
  std::unique_ptr<AddressMonitor> addresses;  // preferred sources that come and go
  // Reads the TUN devices' kernel drop counters for `uipsec stats` (before backend: it is used
  // by it).
  std::unique_ptr<InterfaceAddresses> link_counters;
  std::unique_ptr<DaemonBackend> backend;
  std::unique_ptr<EventLoop> loop;
  std::unique_ptr<EventLoopWatcher> watcher;
  std::unique_ptr<VirtualIps> virtual_ips;  // address.add/delete/list on the TUN device
  std::unique_ptr<ControlServer> server;
  std::unique_ptr<PeerFollower> follower;  // SAs with `flag follow-peer` (NAT rebinding)
  std::unique_ptr<TimerFd> timer;
  std::unique_ptr<SequenceReservations> reservations;  // static SAs' sequence numbers on disk
  std::unique_ptr<TimerFd> reservation_timer;
  UniqueFd signals;
  std::function<void()> reload_handler;  // SIGHUP
  std::thread worker_thread;
  Result<void> worker_result;

  ~Parts() {
    stop_workers();
    if (server && local) local->remove_listener(*server);
    if (follower && local) local->remove_listener(*follower);
    server.reset();
    virtual_ips.reset();  // takes ours off the TUN device
    if (routes) (void)routes->stop();
    // The databases go before the domain; no reader is left once the worker has stopped.
    local.reset();
    domain.synchronize();
  }

  // Tops reservations up well before a worker at full rate reaches them (half a block left).
  // Started once there is a reservation: at start, or at the first reload that adds one.
  Result<void> start_reservation_timer() {
    auto created = TimerFd::create();
    if (!created) return created.error();
    reservation_timer = std::make_unique<TimerFd>(std::move(*created));
    UIPSEC_TRY(reservation_timer->arm_periodic(std::chrono::milliseconds(100)));
    return loop->add(reservation_timer->fd(), EPOLLIN, [this](std::uint32_t) {
      reservation_timer->drain();
      reservations->tick(*sad);
    });
  }

  void address_changes() {
    auto complete = addresses->read([this](const AddressChange& change) {
      if (change.added) {
        routes->address_added(change.address);
      } else {
        routes->address_removed(change.address);
      }
    });
    if (!complete.ok()) {
      std::fprintf(stderr, "uipsecd: routing: %s\n", complete.error().message().c_str());
    } else if (!*complete) {
      if (auto present = AddressMonitor::addresses(); present.ok()) {
        routes->addresses_resynced(*present);
      }
    }
  }

  void stop_workers() {
    if (worker) worker->stop();
    for (auto& extra : extra_workers) extra->worker->stop();
    if (worker_thread.joinable()) worker_thread.join();
    for (auto& extra : extra_workers) {
      if (extra->thread.joinable()) extra->thread.join();
    }
  }

  void drain_worker_events() {
    if (wake) wake->drain();
    local->tick();
    ike->drain();
  }

  void send_keepalives() {
    keepalive->tick(*sad, clock.now(), [this](const Endpoint& from, const Endpoint& to) {
      return ike->send_keepalive(from, to);
    });
  }
};

namespace {

// Raw ESP (IP protocol 50) for SAs without encapsulation, per uipsec.raw_esp: the raw sockets of
// both families (same buffers and mark as the UDP socket) and the combined socket the worker
// polls. `auto` goes on without them when they cannot be opened (no CAP_NET_RAW), saying so;
// a kernel without IPv6 leaves raw ESP to IPv4. Without them SAs without encapsulation are
// refused (DaemonBackend::refuse_raw_esp).
Result<void> open_raw_esp(const DaemonConfig& config, Daemon::Parts& p) {
  if (config.raw_esp == RawEspMode::kNo) {
    p.raw_esp_off =
        "raw ESP (IP protocol 50) is off (uipsec.raw_esp = no): this SA needs UDP encapsulation "
        "(encap espinudp SPORT DPORT OADDR), or set uipsec.raw_esp = yes";
    return {};
  }
  RawEspSocketOptions options;
  options.buffer_bytes = static_cast<int>(config.socket_buffer);
  options.mark = config.socket_mark;
  options.path_mtu = true;  // as the UDP socket: ICMP "too big" into the error queues
  options.family = IpFamily::kV4;
  auto v4 = RawEspSocket::open(options);
  options.family = IpFamily::kV6;
  auto v6 = RawEspSocket::open(options);
  if (config.raw_esp == RawEspMode::kYes) {
    if (!v4) return v4.error().with_context("uipsec.raw_esp = yes");
    if (!v6 && !v6.error().message().ends_with("the kernel has no IPv6")) {
      return v6.error().with_context("uipsec.raw_esp = yes");
    }
  }
  if (!v4 && !v6) {
    std::fprintf(stderr, "uipsecd: raw ESP off: %s\n", v4.error().message().c_str());
    p.raw_esp_off = "raw ESP (IP protocol 50) is off: " + v4.error().message() +
                    "; this SA needs UDP encapsulation (encap espinudp SPORT DPORT OADDR)";
    return {};
  }
  std::vector<CombinedDatagramSocket::Member> members{
      {p.socket.get(), Encapsulation::kEspInUdp, std::nullopt}};
  p.raw_esp_options = options;
  if (v4) {
    p.raw_esp_families.push_back(IpFamily::kV4);
    p.raw_esp4 = std::move(*v4);
    members.push_back({p.raw_esp4.get(), Encapsulation::kNone, IpFamily::kV4});
  } else {
    std::fprintf(stderr, "uipsecd: raw ESP over IPv4 off: %s\n", v4.error().message().c_str());
  }
  if (v6) {
    p.raw_esp_families.push_back(IpFamily::kV6);
    p.raw_esp6 = std::move(*v6);
    members.push_back({p.raw_esp6.get(), Encapsulation::kNone, IpFamily::kV6});
  } else {
    std::fprintf(stderr, "uipsecd: raw ESP over IPv6 off: %s\n", v6.error().message().c_str());
  }
  auto combined = CombinedDatagramSocket::open(std::move(members));
  if (!combined) return combined.error();
  p.transports = std::move(*combined);
  return {};
}

}  // namespace

Daemon::Daemon(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
Daemon::~Daemon() = default;

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonConfig& config, std::string version,
                                              std::function<Result<void>()> after_setup) {
  auto p = std::make_unique<Parts>();
  p->config = config;

  // 1. TUN device (multi-queue with several workers).
  unsigned workers =
      config.workers != 0 ? config.workers : workers_for(std::thread::hardware_concurrency());
  LinuxTun* first_queue = nullptr;
  if (config.tun_mode == TunMode::kCreate) {
    auto tun = LinuxTun::create(config.tun_name, config.tun_mtu, config.offload, config.gro,
                                /*multi_queue=*/workers > 1);
    if (!tun) return tun.error();
    first_queue = tun->get();
    p->tun = std::move(*tun);
  } else {
    auto tun = LinuxTun::attach(config.tun_name, config.offload, config.gro);
    if (!tun) return tun.error();
    first_queue = tun->get();
    p->tun = std::move(*tun);
  }
  if (workers > 1 && !first_queue->multi_queue()) {
    std::fprintf(stderr,
                 "uipsecd: TUN device %s was made single-queue: one worker instead of %u (make it "
                 "with `ip tuntap add ... multi_queue` for more)\n",
                 first_queue->name().c_str(), workers);
    workers = 1;
  }

  // 2. ESP-in-UDP socket.
  UdpSocketOptions socket_options;
  socket_options.port = config.nat_t_port;
  socket_options.buffer_bytes = static_cast<int>(config.socket_buffer);
  socket_options.gso = config.udp_gso;
  socket_options.gro = config.udp_gro;
  socket_options.path_mtu = true;  // ICMP "too big" into the error queue: the worker reads it
  socket_options.mark = config.socket_mark;  // host-to-host tunnels: our ESP skips table 220
  socket_options.steer_group = workers;      // member 0 first; the others below
  auto socket = UdpSocket::open(socket_options);
  if (!socket) return socket.error();
  p->socket = std::move(*socket);
  UIPSEC_TRY(open_raw_esp(config, *p));

  // 3. Data plane.
  p->sad = std::make_unique<SaDatabase>(p->domain, workers, config.sequence_margin);
  p->spd = std::make_unique<PolicyDatabase>(p->domain);
  p->events = std::make_unique<EventQueue>(1024);
  p->dataplane.reset(new Dataplane{*p->sad, *p->spd, *p->events});
  p->path_mtu = std::make_unique<PathMtu>(config.icmp_too_big_rate);
  p->dataplane->path_mtu = p->path_mtu.get();
  p->dataplane->verify_tcp_checksums = first_queue->gro();
  auto wake = EventFd::create();
  if (!wake) return wake.error();
  p->wake = std::make_unique<EventFd>(std::move(*wake));
  Worker::Options worker_options;
  worker_options.packet_buffers = config.packet_buffers;
  worker_options.busy_poll_ns = std::int64_t{config.busy_poll_us} * 1000;
  DatagramSocket& esp_socket = p->transports ? *p->transports : *p->socket;
  if (config.tun_per_virtual_ip) {
    auto group = TunGroup::open(*p->tun, p->domain);
    if (!group) return group.error();
    p->tun_group = std::move(*group);
  }
  TunDevice& worker_tun = p->tun_group ? *p->tun_group : *p->tun;
  p->worker = std::make_unique<Worker>(*p->dataplane, 0, worker_tun, esp_socket, p->domain,
                                       *p->wake, p->ike_notices, p->clock, worker_options);
  std::vector<const WorkerCounters*> worker_counters{&p->worker->counters()};
  for (unsigned index = 1; index < workers; ++index) {
    auto extra = std::make_unique<Parts::ExtraWorker>();
    auto queue = first_queue->open_queue(config.gro);
    if (!queue) return queue.error().with_context("worker " + std::to_string(index));
    extra->tun = std::move(*queue);
    if (config.tun_per_virtual_ip) {
      auto group = TunGroup::open(*extra->tun, p->domain);
      if (!group) return group.error().with_context("worker " + std::to_string(index));
      extra->group = std::move(*group);
    }
    UdpSocketOptions member = socket_options;
    member.steer_index = index;
    auto member_socket = UdpSocket::open(member);
    if (!member_socket)
      return member_socket.error().with_context("worker " + std::to_string(index));
    Worker::Options options = worker_options;
    auto transports =  // with raw ESP: send-only raw sockets of its own (worker 0 receives)
        with_raw_esp_senders(std::move(*member_socket), p->raw_esp_options, p->raw_esp_families);
    if (!transports) return transports.error().with_context("worker " + std::to_string(index));
    extra->socket = std::move(*transports);
    extra->worker = std::make_unique<Worker>(
        *p->dataplane, index, extra->group ? *extra->group : *extra->tun, *extra->socket, p->domain,
        *p->wake, p->ike_notices, p->clock, options);
    worker_counters.push_back(&extra->worker->counters());
    p->extra_workers.push_back(std::move(extra));
  }
  // IKE: the IKE port's socket (same mark and families as the ESP socket) and the relay.
  if (config.ike_port != 0) {
    UdpSocketOptions ike_options;
    ike_options.port = config.ike_port;
    ike_options.buffer_bytes = 256 << 10;
    ike_options.mark = config.socket_mark;
    // Named in the configuration: a port that cannot be bound stops start-up. The default is
    // not fatal: the ESP tunnels work without it (an unprivileged uipsecd cannot bind port 500,
    // an IKE daemon may hold it); IKE over the NAT-T port still reaches the handler, and
    // `uipsec stats` shows ike-port.open 0.
    auto ike_socket = UdpSocket::open(ike_options);
    if (ike_socket) {
      p->ike_socket = std::move(*ike_socket);
    } else if (config.ike_port_explicit) {
      return Error("uipsec.ike_port = " + std::to_string(config.ike_port) + ": " +
                   ike_socket.error().message() + "; set uipsec.ike_port = 0 to go without it");
    } else {
      std::fprintf(stderr,
                   "uipsecd: uipsec.ike_port %u: %s; going on without the IKE socket (binding a "
                   "port below 1024 needs CAP_NET_BIND_SERVICE; 0 turns it off)\n",
                   static_cast<unsigned>(config.ike_port), ike_socket.error().message().c_str());
    }
  }
  Parts* parts = p.get();
  p->ike = std::make_unique<IkeRelay>(
      p->dataplane->ike_handler_registered, *p->socket, p->ike_socket.get(), p->ike_notices,
      [parts](const Endpoint& local, const Endpoint& remote, ByteSpan payload) {
        return parts->server ? parts->server->deliver_ike(local, remote, payload)
                             : IkeDelivery::kNoHandler;
      },
      [parts](const Endpoint& local, const Endpoint& remote, std::uint32_t size, bool handled) {
        if (parts->server) {
          (void)parts->server->publish(ike_notice_event(local, remote, size, handled));
        }
      });
  p->keepalive = std::make_unique<NatKeepalive>(
      static_cast<std::int64_t>(config.nat_keepalive_interval) * 1'000'000'000);
  LocalBackend::Options backend_options;
  backend_options.spi_range = config.spi_range;
  p->local = std::make_unique<LocalBackend>(
      p->domain, *p->sad, *p->spd, *p->events,
      [&] {
        worker_counters.push_back(&p->ike->drop_counters());
        return worker_counters;
      }(),
      p->clock, backend_options);

  // 4. Routes.
  if (config.manage_routes) {
    auto table = RouteTable::open();
    if (!table) return table.error();
    p->route_control = std::make_unique<RtnetlinkRouteControl>(std::move(*table));
    RouteManager::Options route_options;
    route_options.tun_ifindex = p->tun->ifindex();
    route_options.table = config.route_table;
    route_options.rule_priority = config.route_rule_priority;
    route_options.bypass_priority = config.route_bypass_priority;
    route_options.rule_mark = config.route_rule_mark;
    route_options.rule_mark_invert = config.route_rule_mark_invert;
    route_options.allow_peer_ts = config.allow_peer_ts;
    route_options.socket_mark = config.socket_mark;
    route_options.warn = [](const std::string& line) {
      std::fprintf(stderr, "uipsecd: routing: %s\n", line.c_str());
    };
    p->routes = std::make_unique<RouteManager>(*p->route_control, route_options);
    if (auto r = p->routes->start(); !r.ok()) {
      return r.error().with_context(
          "cannot set up routing (uipsec.routes.manage = no leaves "
          "routing to you)");
    }
  }
  auto link_counters = InterfaceAddresses::open();
  if (!link_counters) return link_counters.error();
  p->link_counters = std::make_unique<InterfaceAddresses>(std::move(*link_counters));
  DaemonBackend::DeviceDrops device_drops =
      [raw = p.get()](InterfaceIndex device) -> Result<std::uint64_t> {
    auto drops = raw->link_counters->link_drops(device);
    if (!drops) return drops.error();
    return drops->tx_dropped;
  };
  p->backend = std::make_unique<DaemonBackend>(
      *p->local, p->routes.get(),
      std::vector<DaemonBackend::Seam>{{"tun", &p->tun->counters(), p->tun->ifindex()},
                                       {"socket", &p->socket->counters()},
                                       {"ike", &p->ike->counters()},
                                       {"keepalive", &p->ike->keepalive_counters()}},
      std::move(device_drops));
  if (p->raw_esp4) p->backend->add_seam({"raw-esp4", &p->raw_esp4->counters()});
  if (p->raw_esp6) p->backend->add_seam({"raw-esp6", &p->raw_esp6->counters()});
  if (p->transports) p->backend->add_seam({"transports", &p->transports->counters()});
  p->backend->refuse_raw_esp(p->raw_esp_off);
  // Whether the IKE port's socket is open (0 also when uipsec.ike_port = 0 turned it off).
  p->backend->set_io_value("ike-port.open", p->ike_socket ? 1 : 0);
  p->backend->set_io_value("ike-port.port", config.ike_port);

  // 5. Configured states and policies. A static SA continues above the sequence numbers an
  // earlier run reserved (daemon/sequence_store.hpp).
  if (!config.state_directory.empty()) {
    p->reservations = std::make_unique<SequenceReservations>(
        config.state_directory, config.sequence_reservation,
        [](const std::string& line) { std::fprintf(stderr, "uipsecd: %s\n", line.c_str()); });
  }
  for (const auto& state : config.states) {
    SaConfig sa = state.config;
    if (p->reservations) {
      if (auto r = p->reservations->prepare(state.name, sa); !r.ok()) {
        return Error(state.origin + ": uipsec.states." + state.name + ": " + r.error().message());
      }
    }
    if (auto r = p->backend->add_sa(sa); !r.ok()) {
      return Error(state.origin + ": uipsec.states." + state.name + ": " + r.error().message());
    }
  }
  for (const auto& policy : config.policies) {
    if (auto r = p->backend->add_policy(policy.config); !r.ok()) {
      return Error(policy.origin + ": uipsec.policies." + policy.name + ": " + r.error().message());
    }
  }
  // Written only now, so that a configuration that fails leaves the reservations as they were.
  if (p->reservations) UIPSEC_TRY(p->reservations->attach(*p->sad));

  // 6. Control plane.
  auto loop = EventLoop::create();
  if (!loop) return loop.error();
  p->loop = std::move(*loop);
  p->watcher = std::make_unique<EventLoopWatcher>(*p->loop);
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(config.control_socket).parent_path(),
                                      ignored);
  ControlServerOptions server_options;
  server_options.daemon_version = std::move(version);
  server_options.default_replay_window = config.replay_window;
  auto server =
      ControlServer::listen(*p->backend, *p->watcher, config.control_socket, server_options);
  if (!server) return server.error();
  p->server = std::move(*server);
  p->local->add_listener(*p->server);
  p->server->set_ike_gateway(p->ike.get());
  auto virtual_ips = VirtualIps::open(
      p->tun->ifindex(), p->tun->name(),
      [](const std::string& line) { std::fprintf(stderr, "uipsecd: %s\n", line.c_str()); });
  if (!virtual_ips) return virtual_ips.error();
  p->virtual_ips = std::move(*virtual_ips);
  if (p->tun_group) {
    VirtualIps::DevicePerAddress devices;
    devices.base_name = p->tun->name();
    devices.mtu = p->tun->mtu();
    devices.offload = config.offload;
    devices.gro = config.gro;
    devices.groups.push_back(p->tun_group.get());
    for (auto& extra : p->extra_workers) devices.groups.push_back(extra->group.get());
    devices.domain = &p->domain;
    devices.counters_added = [raw = p.get()](const std::string& seam, const IoCounters& c,
                                             InterfaceIndex device) {
      raw->backend->add_seam({seam, &c, device});
    };
    devices.counters_removed = [raw = p.get()](const IoCounters& c) {
      raw->backend->remove_seam(c);
    };
    p->virtual_ips->set_device_per_address(std::move(devices));
  }
  p->server->set_address_gateway(p->virtual_ips.get());
  p->follower = std::make_unique<PeerFollower>(*p->backend);
  p->local->add_listener(*p->follower);

  auto timer = TimerFd::create();
  if (!timer) return timer.error();
  p->timer = std::make_unique<TimerFd>(std::move(*timer));
  UIPSEC_TRY(p->timer->arm_periodic(std::chrono::seconds(1)));
  Parts* raw = p.get();
  UIPSEC_TRY(p->loop->add(p->timer->fd(), EPOLLIN, [raw](std::uint32_t) {
    raw->timer->drain();
    raw->drain_worker_events();
    raw->send_keepalives();
  }));
  if (p->ike_socket) {
    UIPSEC_TRY(p->loop->add(p->ike_socket->fd(), EPOLLIN,
                            [raw](std::uint32_t) { (void)raw->ike->receive_ike_port(); }));
  }
  UIPSEC_TRY(
      p->loop->add(p->wake->fd(), EPOLLIN, [raw](std::uint32_t) { raw->drain_worker_events(); }));
  if (p->routes) {
    auto monitor = AddressMonitor::open();
    if (!monitor) return monitor.error();
    p->addresses = std::make_unique<AddressMonitor>(std::move(*monitor));
    UIPSEC_TRY(p->loop->add(p->addresses->fd(), EPOLLIN,
                            [raw](std::uint32_t) { raw->address_changes(); }));
  }

  if (p->reservations && p->reservations->size() != 0) UIPSEC_TRY(p->start_reservation_timer());

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  // SIGHUP: reload (set_reload_handler).
  sigaddset(&mask, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);  // threads started from here inherit the mask
  p->signals = UniqueFd(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!p->signals.valid()) return Error(std::string("signalfd: ") + std::strerror(errno));
  UIPSEC_TRY(p->loop->add(p->signals.get(), EPOLLIN, [raw](std::uint32_t) {
    signalfd_siginfo info;
    bool stop = false;
    bool hangup = false;
    while (read(raw->signals.get(), &info, sizeof(info)) == sizeof(info)) {
      (info.ssi_signo == SIGHUP ? hangup : stop) = true;
    }
    if (stop) {
      raw->loop->stop();
    } else if (hangup && raw->reload_handler) {
      raw->reload_handler();
    } else if (hangup) {
      std::fprintf(stderr, "uipsecd: SIGHUP ignored (no configuration file to reload)\n");
    }
  }));

  if (after_setup) UIPSEC_TRY(after_setup());
  p->worker_thread = std::thread([raw] {
    raw->worker_result = raw->worker->run();
    if (!raw->worker_result.ok()) raw->loop->stop();
  });
  for (auto& extra : p->extra_workers) {
    extra->thread = std::thread([raw, e = extra.get()] {
      e->result = e->worker->run();
      if (!e->result.ok()) raw->loop->stop();
    });
  }
  return std::unique_ptr<Daemon>(new Daemon(std::move(p)));
}

Result<void> Daemon::run() {
  UIPSEC_TRY(parts_->loop->run());
  parts_->stop_workers();
  // Nothing is sent any more: a restart may continue right after the last number sent.
  if (parts_->reservations) (void)parts_->reservations->checkpoint(*parts_->sad);
  if (!parts_->worker_result.ok()) return parts_->worker_result.error().with_context("worker");
  for (const auto& extra : parts_->extra_workers) {
    if (!extra->result.ok()) return extra->result.error().with_context("worker");
  }
  return {};
}

void Daemon::stop() { parts_->loop->stop(); }

void Daemon::set_reload_handler(std::function<void()> handler) {
  parts_->reload_handler = std::move(handler);
}

const DaemonConfig& Daemon::config() const { return parts_->config; }

Result<ReloadOutcome> Daemon::reload(const DaemonConfig& next) {
  Parts& p = *parts_;
  auto outcome = apply_reload(plan_reload(p.config, next),
                              ReloadTarget{*p.backend, *p.sad, p.domain, p.reservations.get()});
  if (!outcome) return outcome;
  p.config.states = outcome->states;
  p.config.policies = outcome->policies;
  p.config.replay_window = next.replay_window;  // for SAs added from now on
  if (p.server) p.server->set_default_replay_window(next.replay_window);
  p.config.sequence_margin = next.sequence_margin;
  p.sad->set_sequence_margin(next.sequence_margin);
  if (p.reservations && p.reservations->size() != 0 && !p.reservation_timer) {
    if (auto r = p.start_reservation_timer(); !r.ok()) {
      // Reservations are still written, only not topped up: a static SA stops at its bound.
      outcome->lines.push_back("cannot start the reservation timer: " + r.error().message());
      ++outcome->failures;
    }
  }
  return outcome;
}

}  // namespace uipsec
