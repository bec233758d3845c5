// Daemon: uipsecd's composition root — the one place where the OS seams (io), the packet path
// (dataplane), the control plane (backend, control socket) and the configuration meet.
//
// Start-up, in order (any failure undoes what was done and says what to fix):
//   1. the TUN device (created with its MTU and brought up, or attached)
//   2. the ESP-in-UDP socket on the NAT-T port
//   3. the data plane: SA and policy databases, the event queue, one worker
//   4. routes: flush what an earlier run left (our tag only), add the rules (if managed)
//   5. the states and policies of the configuration file
//   6. the control socket, then the worker thread
// run() is the control thread: control socket, 1 s lifetime/reservation timer, events from the
// worker, signals (SIGTERM/SIGINT stop, SIGHUP reloads). Shutdown stops the worker, removes our
// routes and rules and the control socket, and closes the TUN device.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/result.hpp"
#include "daemon/daemon_config.hpp"
#include "daemon/reload.hpp"

namespace uipsec {

class Daemon {
 public:
  // `version` is what `uipsec` sees in the control handshake.
  // `after_setup` runs on the calling thread once everything that needs privileges is set up,
  // before the worker thread starts (uipsecd drops its capabilities there); its error stops the
  // start.
  static Result<std::unique_ptr<Daemon>> start(const DaemonConfig& config, std::string version,
                                               std::function<Result<void>()> after_setup = {});
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Serves until SIGTERM/SIGINT or stop(). Errors: the event loop or the worker failed.
  Result<void> run();
  // Any thread.
  void stop();

  // SIGHUP runs `handler` on the control thread (uipsecd reads its file again and calls
  // reload()); without a handler SIGHUP is logged and otherwise ignored. Before run().
  void set_reload_handler(std::function<void()> handler);
  // Control thread: applies the declared states and policies of `next` and the keys a reload
  // can change (uipsec.replay_window for new SAs, uipsec.sequence_margin); every other key
  // keeps its running value (daemon/reload.hpp, docs/OPERATIONS.md). An error changed nothing.
  Result<ReloadOutcome> reload(const DaemonConfig& next);
  // The configuration in effect: as started, with what reloads applied.
  const DaemonConfig& config() const;

  struct Parts;  // everything it owns, in construction order (daemon.cpp)

 private:
  explicit Daemon(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace uipsec
