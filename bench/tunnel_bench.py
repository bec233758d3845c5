#!/usr/bin/python3
"""End-to-end tunnel benchmark: uipsec against plain routing, strongSwan's kernel-libipsec,
wireguard-go and OpenVPN, each between two network namespaces joined by a veth pair, measured
interleaved (round-robin over the systems, metric by metric) so that noise from other tenants
lands on every system alike. Every figure printed comes from this run.

Usage (as root; bench/tunnel_bench.sh installs the packages and builds uipsec first):
  bench/tunnel_bench.py [--systems plain,uipsec,...] [--rounds 3] [--duration 10] [--quick]
                        [--out FILE]

Topology per system (its own pair of namespaces, all pairs up at the same time):
  outer veth   A 198.18.0.1/30  <->  B 198.18.0.2/30
  inner hosts  A 198.18.10.1 (on lo, net 198.18.10.0/24)   B 198.18.20.1 (net 198.18.20.0/24)
  tunnel-internal addresses where a system needs them: 198.18.30.0/24 (none leave the namespaces)
All traffic is 198.18.10.1 -> 198.18.20.1 (iperf3 client in A, server in B), through the tunnel.
"""

import argparse
import atexit
import datetime
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness as h  # noqa: E402
from netns import Topology, run, wait_for  # noqa: E402

A_OUTER, B_OUTER = h.A_OUTER4, h.B_OUTER4          # 198.18.0.1 / 198.18.0.2
A_INNER, B_INNER = h.A_INNER4, h.B_INNER4          # 198.18.10.1 / 198.18.20.1
A_NET, B_NET = h.A_NET4, h.B_NET4                  # 198.18.10.0/24 / 198.18.20.0/24
A_TUNNEL, B_TUNNEL = "198.18.30.1", "198.18.30.2"  # OpenVPN's point-to-point addresses
IPERF_PORT = 5201
CLK_TCK = os.sysconf("SC_CLK_TCK")
PACKAGES = ["strongswan-charon", "strongswan-swanctl", "libcharon-extra-plugins",
            "libstrongswan-standard-plugins", "wireguard-go", "wireguard-tools", "openvpn",
            "iperf3", "openssl", "libssl3", "iproute2", "iputils-ping"]


def log(message):
    print(message, file=sys.stderr, flush=True)


class SetupError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------
# Systems. Each one owns a pair of namespaces and the processes it started; setup() brings the
# tunnel up (or raises SetupError with the reason), teardown() removes all of it.


class System:
    key = ""
    label = ""
    esp = ""

    def __init__(self, topology, workdir, args):
        self.topology = topology
        self.workdir = os.path.join(workdir, self.key)
        os.makedirs(self.workdir, exist_ok=True)
        self.args = args
        self.a = self.b = None
        self.processes = []   # (side, Popen) of the tunnel daemons, measured for CPU and RSS
        self.started = []     # every Popen this system started (stopped by PID at teardown)

    # -- topology
    def make_pair(self):
        self.a = self.topology.namespace(f"{self.key}-a")
        self.b = self.topology.namespace(f"{self.key}-b")
        self.a_if, self.b_if = self.topology.link(self.a, [f"{A_OUTER}/30"],
                                                  self.b, [f"{B_OUTER}/30"])
        for ns, address in ((self.a, A_INNER), (self.b, B_INNER)):
            ns.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"])

    def popen(self, ns, args, logname, daemon=True, side=None, **kwargs):
        logfile = open(os.path.join(self.workdir, logname), "w")
        process = ns.popen(args, stdout=logfile, stderr=subprocess.STDOUT, **kwargs)
        self.started.append(process)
        if daemon:
            self.processes.append((side, process))
        return process

    def read_log(self, logname, tail=3000):
        try:
            with open(os.path.join(self.workdir, logname), errors="replace") as f:
                return f.read()[-tail:]
        except OSError:
            return ""

    def setup(self):
        self.make_pair()
        self.start()
        if not ping_ok(self, count=3, deadline=15):
            raise SetupError("tunnel is up but no ping gets through\n" + self.diagnostics())

    def start(self):
        raise NotImplementedError

    def device(self):
        """The interface in A that carries the inner traffic."""
        return self.a_if

    def mtu(self):
        text = self.a.run(["ip", "-o", "link", "show", "dev", self.device()], check=False).stdout
        match = re.search(r" mtu (\d+)", text)
        return int(match.group(1)) if match else None

    def diagnostics(self):
        return ""

    def daemon_pids(self):
        return [(side, p.pid) for side, p in self.processes]

    def alive(self):
        return all(p.poll() is None for _, p in self.processes)

    def teardown(self):
        for process in reversed(self.started):
            stop_process(process)
            if process in self.topology.processes:
                self.topology.processes.remove(process)
        self.started, self.processes = [], []
        for ns in (self.b, self.a):
            if ns is not None:
                run(["ip", "netns", "del", ns.name], check=False)
                if ns in self.topology.namespaces:
                    self.topology.namespaces.remove(ns)
        self.a = self.b = None


def stop_process(process, timeout=10):
    """Stops one process we started, by its PID: SIGTERM, then SIGKILL after `timeout`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Plain(System):
    key, label, esp = "plain", "plain routing (veth)", "none"

    def start(self):
        self.a.run(["ip", "route", "add", B_NET, "via", B_OUTER, "src", A_INNER])
        self.b.run(["ip", "route", "add", A_NET, "via", A_OUTER, "src", B_INNER])

    def daemon_pids(self):
        return []


class Uipsec(System):
    key, label, esp = "uipsec", "uipsec ↔ uipsec", "AES-128-GCM-16 (static SAs), ESP in UDP 4500"

    def start(self):
        keys = h.Keys()
        self.daemons = []
        for side, ns in (("a", self.a), ("b", self.b)):
            config = h.tunnel_config(side, "aes-gcm", keys, tun_name=f"uipsec-{side}")
            try:
                daemon = h.Daemon(ns, self.workdir, side, config, self.args.uipsecd,
                                  self.args.uipsec)
            except Exception as e:  # noqa: BLE001 - reported as the setup failure
                raise SetupError(f"uipsecd {side} did not start: {e}") from e
            self.started.append(daemon.process)
            self.processes.append((side, daemon.process))
            self.daemons.append(daemon)

    def device(self):
        return "uipsec-a"

    def diagnostics(self):
        text = ""
        for daemon in getattr(self, "daemons", []):
            text += f"--- uipsecd {daemon.name}\n{daemon.output()[-2000:]}\n"
            stats = daemon.cli("stats", check=False)
            text += stats.stdout[-2000:] if stats else ""
        return text


class StrongSwan(System):
    """charon with kernel-libipsec in each namespace, each with a private /run (a mount
    namespace from `unshare --mount` with a directory bind-mounted over /run): charon.pid and
    charon.vici live there. swanctl reaches the VICI socket through the host path of that
    directory. IKEv2, PSK, encap = yes (kernel-libipsec sends ESP over charon's UDP sockets)."""
    key, label, esp = "strongswan", "strongSwan 5.9 kernel-libipsec", \
        "AES-128-GCM-16 (IKEv2 PSK, ESP in UDP 4500)"

    def start(self):
        psk = secrets.token_hex(24)
        self.sides = {}
        for side, ns, local, remote, local_net, remote_net in (
                ("a", self.a, A_OUTER, B_OUTER, A_NET, B_NET),
                ("b", self.b, B_OUTER, A_OUTER, B_NET, A_NET)):
            base = os.path.join(self.workdir, side)
            rundir = os.path.join(base, "run")
            os.makedirs(rundir, exist_ok=True)
            conf = os.path.join(base, "strongswan.conf")
            with open(conf, "w") as f:
                f.write(STRONGSWAN_CONF.format(log=os.path.join(base, "charon.log")))
            swanctl_conf = os.path.join(base, "swanctl.conf")
            with open(swanctl_conf, "w") as f:
                f.write(SWANCTL_CONF.format(local=local, remote=remote, local_net=local_net,
                                            remote_net=remote_net, psk=psk))
            env = dict(os.environ, STRONGSWAN_CONF=conf)
            # ip netns exec (network namespace) -> unshare --mount (private mounts) -> bind
            # mount <base>/run over /run -> exec charon: the PID we hold is charon's.
            wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       'mount --bind "$0" /run && exec "$@"', rundir, "/usr/lib/ipsec/charon"]
            process = self.popen(ns, wrapper, f"charon-{side}.out", side=side, env=env)
            vici = os.path.join(rundir, "charon.vici")
            try:
                wait_for(lambda: os.path.exists(vici) or process.poll() is not None,
                         timeout=20, what=f"charon {side}'s VICI socket")
            except TimeoutError as e:
                raise SetupError(f"{e}\n{self.diagnostics()}") from e
            if process.poll() is not None:
                raise SetupError(f"charon {side} exited {process.returncode}\n"
                                 + self.diagnostics())
            self.sides[side] = (ns, env, vici, swanctl_conf)
            self.swanctl(side, "--load-all", "--file", swanctl_conf)
        self.swanctl("a", "--initiate", "--child", "net", "--timeout", "30")
        sas = self.swanctl("a", "--list-sas").stdout
        if "AES_GCM_16-128" not in sas:
            raise SetupError(f"CHILD_SA is not AES_GCM_16-128:\n{sas}")
        self.sa_listing = sas

    def device(self):
        return "ipsec0"  # kernel-libipsec's TUN device

    def swanctl(self, side, *words):
        ns, env, vici, _ = self.sides[side]
        result = ns.run(["swanctl", *words, "--uri", f"unix://{vici}"], check=False, env=env,
                        timeout=60)
        if result.returncode != 0:
            raise SetupError(f"swanctl {' '.join(words)} ({side}) failed:\n{result.stdout}\n"
                             + self.diagnostics())
        return result

    def diagnostics(self):
        text = ""
        for side in ("a", "b"):
            text += f"--- charon {side}\n" + self.read_log(os.path.join(side, "charon.log"))
            text += self.read_log(f"charon-{side}.out")
        return text


STRONGSWAN_CONF = """\
# strongswan.conf for one benchmark charon (STRONGSWAN_CONF points here; nothing else is read)
charon {{
  # kernel-libipsec before kernel-netlink: the first IPsec backend loaded is the one used;
  # kernel-netlink still provides the network part (addresses, routes in table 220).
  load = random nonce openssl pem pkcs1 x509 revocation constraints pubkey aes gcm sha1 sha2 hmac kdf kernel-libipsec kernel-netlink socket-default vici
  install_virtual_ip = no
  retransmit_tries = 3
  filelog {{
    charon {{
      path = {log}
      default = 1
      flush_line = yes
      time_format = %T
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
  plugins {{
    vici {{
      socket = unix:///run/charon.vici
    }}
  }}
}}
"""

SWANCTL_CONF = """\
connections {{
  bench {{
    version = 2
    local_addrs = {local}
    remote_addrs = {remote}
    encap = yes
    proposals = aes128gcm16-prfsha256-ecp256
    local {{
      auth = psk
      id = {local}
    }}
    remote {{
      auth = psk
      id = {remote}
    }}
    children {{
      net {{
        local_ts = {local_net}
        remote_ts = {remote_net}
        mode = tunnel
        esp_proposals = aes128gcm16
        start_action = none
      }}
    }}
  }}
}}
secrets {{
  ike-bench {{
    id-a = {local}
    id-b = {remote}
    secret = 0x{psk}
  }}
}}
"""


class WireguardGo(System):
    key, label, esp = "wireguard-go", "wireguard-go", "ChaCha20-Poly1305 (WireGuard, fixed)"

    def start(self):
        tag = self.topology.prefix[-5:]
        self.ifnames = {"a": f"wg{tag}a", "b": f"wg{tag}b"}
        keys = {}
        for side in ("a", "b"):
            private = run(["wg", "genkey"]).stdout.strip()
            public = subprocess.run(["wg", "pubkey"], input=private, text=True,
                                    capture_output=True, check=True).stdout.strip()
            path = os.path.join(self.workdir, f"{side}.key")
            with open(path, "w") as f:
                f.write(private + "\n")
            os.chmod(path, 0o600)
            keys[side] = (path, public)
        for side, ns in (("a", self.a), ("b", self.b)):
            ifname = self.ifnames[side]
            env = dict(os.environ, LOG_LEVEL="error")
            process = self.popen(ns, ["wireguard-go", "-f", ifname], f"wg-{side}.out",
                                 side=side, env=env)
            sock = f"/var/run/wireguard/{ifname}.sock"
            try:
                wait_for(lambda: os.path.exists(sock) or process.poll() is not None,
                         timeout=10, what=f"wireguard-go {side}'s UAPI socket")
            except TimeoutError as e:
                raise SetupError(str(e)) from e
            if process.poll() is not None:
                raise SetupError(f"wireguard-go {side} exited:\n{self.read_log(f'wg-{side}.out')}")
        for side, ns, peer, peer_outer, local_net, remote_net in (
                ("a", self.a, "b", B_OUTER, A_INNER, B_NET),
                ("b", self.b, "a", A_OUTER, B_INNER, A_NET)):
            ifname = self.ifnames[side]
            ns.run(["wg", "set", ifname, "private-key", keys[side][0], "listen-port", "51820",
                    "peer", keys[peer][1], "endpoint", f"{peer_outer}:51820",
                    "allowed-ips", remote_net])
            ns.run(["ip", "link", "set", ifname, "up"])
            ns.run(["ip", "route", "add", remote_net, "dev", ifname, "src", local_net])

    def device(self):
        return self.ifnames["a"]

    def diagnostics(self):
        text = ""
        for side, ns in (("a", self.a), ("b", self.b)):
            if ns is not None:
                text += ns.run(["wg", "show"], check=False).stdout
            text += self.read_log(f"wg-{side}.out")
        return text


class OpenVpn(System):
    """OpenVPN 2.6 peer to peer over UDP with TLS (static-key mode has no AEAD ciphers): a
    self-signed EC certificate per side, pinned with --peer-fingerprint; data channel
    AES-128-GCM (--data-ciphers, negotiated by 2.6's P2P NCP and checked in the log)."""
    key, label, esp = "openvpn", "OpenVPN 2.6", "AES-128-GCM (TLS P2P, UDP)"

    def start(self):
        tag = self.topology.prefix[-5:]
        fingerprints = {}
        for side in ("a", "b"):
            key = os.path.join(self.workdir, f"{side}.key")
            crt = os.path.join(self.workdir, f"{side}.crt")
            run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                 "-days", "2", "-subj", f"/CN=bench-{side}"])
            fp = run(["openssl", "x509", "-in", crt, "-noout", "-fingerprint", "-sha256"]).stdout
            fingerprints[side] = fp.strip().split("=", 1)[1]
        self.ifnames = {"a": f"ov{tag}a", "b": f"ov{tag}b"}
        for side, ns, local, remote, peer, role, local_tun, remote_tun in (
                ("b", self.b, B_OUTER, A_OUTER, "a", "--tls-server", B_TUNNEL, A_TUNNEL),
                ("a", self.a, A_OUTER, B_OUTER, "b", "--tls-client", A_TUNNEL, B_TUNNEL)):
            args = ["openvpn", "--dev", self.ifnames[side], "--dev-type", "tun",
                    "--proto", "udp", "--local", local, "--lport", "1194",
                    "--remote", remote, "--rport", "1194", "--ifconfig", local_tun, remote_tun,
                    role, "--cert", os.path.join(self.workdir, f"{side}.crt"),
                    "--key", os.path.join(self.workdir, f"{side}.key"),
                    "--peer-fingerprint", fingerprints[peer],
                    "--data-ciphers", "AES-128-GCM", "--cipher", "AES-128-GCM",
                    "--verb", "3", "--mute-replay-warnings", "--mute", "20",
                    "--ping", "10", "--ping-restart", "60"]
            if role == "--tls-server":
                args += ["--dh", "none"]
            self.popen(ns, args, f"openvpn-{side}.out", side=side)
        for side in ("a", "b"):
            try:
                wait_for(lambda: "Initialization Sequence Completed"
                         in self.read_log(f"openvpn-{side}.out", tail=10 ** 6)
                         or not self.alive(), timeout=30, what=f"OpenVPN {side}")
            except TimeoutError as e:
                raise SetupError(f"{e}\n{self.diagnostics()}") from e
            if not self.alive():
                raise SetupError("openvpn exited\n" + self.diagnostics())
        text = self.read_log("openvpn-a.out", tail=10 ** 6)
        if not re.search(r"Data Channel: cipher 'AES-128-GCM'", text):
            raise SetupError("data channel is not AES-128-GCM:\n" + self.diagnostics())
        for ns, side, local_inner, remote_net in ((self.a, "a", A_INNER, B_NET),
                                                  (self.b, "b", B_INNER, A_NET)):
            ns.run(["ip", "route", "add", remote_net, "dev", self.ifnames[side],
                    "src", local_inner])

    def device(self):
        return self.ifnames["a"]

    def diagnostics(self):
        return "".join(f"--- openvpn {s}\n" + self.read_log(f"openvpn-{s}.out") for s in "ab")


SYSTEMS = {cls.key: cls for cls in (Plain, Uipsec, StrongSwan, WireguardGo, OpenVpn)}


# --------------------------------------------------------------------------------------------
# Probes


def cpu_ticks(pids):
    """utime + stime (all threads) of each PID, in clock ticks; None if a process is gone."""
    total = 0
    for _, pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return total


def proc_status(pid, key):
    """A kB figure from /proc/PID/status (VmRSS, VmHWM), in KiB; None if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss(pid):
    """Resets VmHWM to the current RSS (proc(5): writing 5 to clear_refs)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def ping_ok(system, count=1, deadline=5.0):
    """True if a ping from A's inner address reaches B's within `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        result = system.a.run(["ping", "-n", "-c", "1", "-W", "1", "-I", A_INNER, B_INNER],
                              check=False, timeout=10)
        if result.returncode == 0:
            count -= 1
            if count <= 0:
                return True
        elif time.monotonic() >= end:
            return False
        if time.monotonic() >= end:
            return count <= 0


def ping_rtt(system, count, interval):
    result = system.a.run(["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "2",
                           "-I", A_INNER, B_INNER], check=False, timeout=count * interval + 30)
    times = [float(t) for t in re.findall(r"time=([\d.]+) ms", result.stdout)]
    if not times:
        raise RuntimeError(f"no ping replies:\n{result.stdout[-500:]}")
    return statistics.median(times), len(times)


class Iperf:
    """One iperf3 test: a one-off server in B (bound to B's inner address) and the client in A."""

    def __init__(self, system, client_args, timeout):
        self.system = system
        server_log = os.path.join(system.workdir, "iperf3-server.out")
        self.server = system.b.popen(["iperf3", "-s", "-1", "--json", "-B", B_INNER, "-p",
                                      str(IPERF_PORT)], stdout=open(server_log, "w"),
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: f":{IPERF_PORT}" in system.b.run(
            ["ss", "-Hltn", f"sport = :{IPERF_PORT}"], check=False).stdout
            or self.server.poll() is not None, timeout=10, what="iperf3 server")
        args = system.a.exec_args(["iperf3", "-c", B_INNER, "-B", A_INNER, "-p", str(IPERF_PORT),
                                   "--json", "--connect-timeout", "5000",
                                   # One congestion control for every system, named in the
                                   # report: a namespace inherits the host's default, which
                                   # differs between machines (bbr on our VMs, cubic on a
                                   # stock Debian).
                                   "-C", system.args.congestion] + client_args)
        self.client = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
        system.topology.processes.append(self.client)
        self.timeout = timeout
        self.started = time.monotonic()

    def running(self):
        return self.client.poll() is None

    def finish(self, kill=False):
        """Waits for the client (kills it first if `kill`), stops the server; returns the JSON
        report or raises with iperf3's error."""
        if kill:
            stop_process(self.client, timeout=2)
        try:
            out, err = self.client.communicate(
                timeout=max(1.0, self.timeout - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            stop_process(self.client, timeout=2)
            out, err = self.client.communicate()
            err = f"iperf3 client timed out after {self.timeout:.0f}s. {err}"
        finally:
            stop_process(self.server, timeout=3)
            for p in (self.client, self.server):
                if p in self.system.topology.processes:
                    self.system.topology.processes.remove(p)
        try:
            report = json.loads(out)
        except ValueError:
            raise RuntimeError(f"iperf3: no report ({err.strip()[:300]})") from None
        if "error" in report and not report.get("end", {}).get("sum_received") \
                and not report.get("end", {}).get("sum"):
            raise RuntimeError(f"iperf3: {report['error']}")
        return report


def measure_tcp(system, streams, duration):
    pids = system.daemon_pids()
    before = cpu_ticks(pids)
    test = Iperf(system, ["-t", str(duration), "-P", str(streams)], timeout=duration + 40)
    report = test.finish()
    after = cpu_ticks(pids)
    if "error" in report:
        raise RuntimeError(f"iperf3: {report['error']}")
    received = report["end"]["sum_received"]
    gbits = received["bytes"] * 8 / 1e9
    result = {"gbps": received["bits_per_second"] / 1e9,
              "retransmits": report["end"]["sum_sent"].get("retransmits")}
    if pids and before is not None and after is not None and gbits > 0:
        result["cpu_s_per_gbit"] = (after - before) / CLK_TCK / gbits
    return result


def udp_delivered(report, payload):
    """Datagrams per second that reached the server, from the server's own report (bytes it
    received / datagram size / its test duration)."""
    server = report.get("server_output_json")
    if not server or "sum_received" not in server.get("end", {}):
        raise RuntimeError("iperf3: no server report")
    total = server["end"]["sum_received"]
    seconds = total.get("seconds") or 0
    if seconds <= 0:
        raise RuntimeError("iperf3: server report without duration")
    return total["bytes"] / payload / seconds, total


def measure_udp(system, size, duration, streams=1):
    test = Iperf(system, ["-u", "-b", "0", "-l", str(size), "-t", str(duration), "-P",
                          str(streams), "--get-server-output"], timeout=duration + 40)
    report = test.finish()
    pps, total = udp_delivered(report, size)
    sent = report["end"]["sum"].get("packets")
    return {"pps": pps, "sent_pps": sent / report["end"]["sum"]["seconds"] if sent else None,
            "lost_percent": total.get("lost_percent")}


def run_ns(pids):
    """CPU time in ns that all threads of each PID have run (/proc/PID/task/*/schedstat, the
    scheduler's own accounting: finer than the 10 ms ticks of utime + stime)."""
    total = 0
    for _, pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return None
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass  # a thread that just exited
    return total


def measure_idle(system, seconds):
    """Percent of one core the tunnel processes (both ends) use with the tunnel up and no
    traffic."""
    pids = system.daemon_pids()
    if not pids:
        return None
    before = run_ns(pids)
    time.sleep(seconds)
    after = run_ns(pids)
    if before is None or after is None:
        raise RuntimeError("a tunnel process exited")
    return (after - before) / 1e9 / seconds * 100.0


def settle(system, threshold=10.0, window=0.5, limit=30.0):
    """Waits until the tunnel processes use less than `threshold` % of a core over `window` s
    (a daemon may still be draining a backlog after an overload, which would load the next
    system's test); returns the seconds waited, or None if it never got quiet within `limit`."""
    pids = system.daemon_pids()
    if not pids:
        return 0.0
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = run_ns(pids)
        time.sleep(window)
        after = run_ns(pids)
        if before is None or after is None:
            return None
        if (after - before) / 1e9 / window * 100.0 < threshold:
            return time.monotonic() - started - window
    return None


def measure_flood(system, packet_size, duration, rss_cap_kib):
    """A 4-stream UDP flood of `packet_size`-byte IP packets (payload = size - 28) for
    `duration` s; each daemon's VmHWM is reset first and read after. Stops the flood early if a
    daemon's RSS passes the cap (the machine has no swap). Half a second after the flood's end
    (while iperf3 may still be exchanging its results) pings start: does one get through within
    5 s?"""
    pids = system.daemon_pids()
    for _, pid in pids:
        reset_peak_rss(pid)
    test = Iperf(system, ["-u", "-b", "0", "-l", str(packet_size - 28), "-t", str(duration),
                          "-P", "4", "--get-server-output"], timeout=duration + 30)
    capped = False
    max_rss = {}

    def sample():
        nonlocal capped
        for side, pid in pids:
            rss = proc_status(pid, "VmRSS")
            if rss is not None:
                max_rss[side] = max(max_rss.get(side, 0), rss)
                capped = capped or rss > rss_cap_kib

    while test.running() and time.monotonic() - test.started < duration + 0.5 and not capped:
        sample()
        time.sleep(0.2)
    result = {"capped": capped}
    if capped:
        stop_process(test.client, timeout=2)
    started = time.monotonic()
    result["ping_after"] = ping_ok(system, count=1, deadline=5.0)
    result["ping_after_s"] = time.monotonic() - started if result["ping_after"] else None
    while test.running() and time.monotonic() - test.started < test.timeout and not capped:
        sample()
        time.sleep(0.2)
    try:
        report = test.finish(kill=capped)
        result["pps"], _ = udp_delivered(report, packet_size - 28)
    except RuntimeError as e:
        result["pps_error"] = str(e)
    hwm = {}
    for side, pid in pids:
        value = proc_status(pid, "VmHWM")
        hwm[side] = max(value, max_rss.get(side, 0)) if value is not None else None
    result["hwm_kib"] = hwm
    result["alive"] = system.alive()
    result["drain_s"] = settle(system)
    return result


# --------------------------------------------------------------------------------------------
# Reporting


METRICS = [
    # key, title, unit, higher is better?
    ("tcp1", "TCP throughput, 1 stream", "Gbit/s", True),
    ("tcp4", "TCP throughput, 4 streams", "Gbit/s", True),
    ("udp", "UDP packets delivered per second, 1300-byte datagrams, unlimited rate", "kpps",
     True),
    ("udp_sent", "UDP datagrams sent per second by iperf3 in the test above (the offered load)",
     "kpps", True),
    ("rtt", "Ping RTT, median of 20 (-i 0.05)", "ms", False),
    ("cpu1", "CPU per gigabit, TCP 1 stream (tunnel processes, both ends)", "CPU-s/Gbit",
     False),
    ("cpu4", "CPU per gigabit, TCP 4 streams (tunnel processes, both ends)", "CPU-s/Gbit",
     False),
    ("idle", "Idle CPU, tunnel up, no traffic (tunnel processes, both ends)", "% of a core",
     False),
    ("flood64_pps", "UDP flood, 64-byte packets, 4 streams: packets delivered per second",
     "kpps", True),
    ("flood1400_pps", "UDP flood, 1400-byte packets, 4 streams: packets delivered per second",
     "kpps", True),
]


def median_or_none(values):
    numbers = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(numbers) if numbers else None


def fmt(value, digits=3):
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}g}" if value != 0 else "0"


def ratio(value, reference):
    if value is None or reference in (None, 0):
        return "n/a"
    return f"{value / reference:.2f}×"


class Results:
    """Every figure of the run, by system, metric and round."""

    def __init__(self, systems, rounds):
        self.systems = systems
        self.rounds = rounds
        self.round = 1
        self.values = {s: {} for s in systems}     # system -> metric -> {round: value}
        self.errors = {s: [] for s in systems}     # system -> [text]
        self.floods = {s: {64: [], 1400: []} for s in systems}
        self.status = {s: "not started" for s in systems}
        self.mtu = {s: None for s in systems}

    def add(self, system, metric, value):
        self.values[system].setdefault(metric, {})[self.round] = value

    def error(self, system, metric, text):
        first = text.strip().splitlines()[0] if text.strip() else "error"
        self.errors[system].append(f"round {self.round}, {metric}: {text.strip()}")
        self.add(system, metric, f"failed: {first[:120]}")

    def get(self, system, metric, round_):
        value = self.values[system].get(metric, {}).get(round_)
        return value if isinstance(value, (int, float)) else None

    def median(self, system, metric):
        return median_or_none(list(self.values[system].get(metric, {}).values()))

    def round_ratios(self, system, reference, metric):
        """system / reference for each round in which both have a figure."""
        pairs = [(self.get(system, metric, r), self.get(reference, metric, r))
                 for r in range(1, self.rounds + 1)]
        return [a / b for a, b in pairs if a is not None and b]

    def cell_runs(self, system, metric):
        values = self.values[system].get(metric, {})
        parts = []
        for r in range(1, self.rounds + 1):
            if r in values:
                v = values[r]
                parts.append(fmt(v) if isinstance(v, (int, float)) else "✗")
        return " / ".join(parts) if parts else "—"

    def to_json(self):
        return {"systems": self.systems, "rounds": self.rounds, "values": self.values,
                "errors": self.errors, "status": self.status, "mtu": self.mtu,
                "floods": {s: {str(k): v for k, v in f.items()} for s, f in self.floods.items()}}


def markdown(results, labels, meta, args):
    out = []
    out.append("### Machine, command, date\n")
    out.append("| | |\n|---|---|")
    for key, value in meta.items():
        out.append(f"| {key} | {value} |")
    out.append("")
    out.append("### Systems\n")
    out.append("| system | cipher | MTU of the inner interface (A) | state |")
    out.append("|---|---|---:|---|")
    for s in results.systems:
        out.append(f"| {labels[s][0]} | {labels[s][1]} | {results.mtu[s] or '?'} | "
                   f"{results.status[s]} |")
    out.append("")
    have_ref = "strongswan" in results.systems
    have_plain = "plain" in results.systems
    for key, title, unit, higher in METRICS:
        out.append(f"### {title}\n")
        direction = "higher is better" if higher else "lower is better"
        header = f"| system | median {unit} | per round |"
        sep = "|---|---:|---|"
        if have_ref:
            header += " ÷ strongSwan |"
            sep += "---:|"
        if have_plain:
            header += " ÷ plain |"
            sep += "---:|"
        out.append(f"_{direction}; the ratio columns are this system's median divided by the "
                   f"reference's median._\n")
        out.append(header)
        out.append(sep)
        ref = results.median("strongswan", key) if have_ref else None
        plain = results.median("plain", key) if have_plain else None
        for s in results.systems:
            m = results.median(s, key)
            row = f"| {labels[s][0]} | {fmt(m)} | {results.cell_runs(s, key)} |"
            if have_ref:
                row += f" {ratio(m, ref)} |"
            if have_plain:
                row += f" {ratio(m, plain)} |"
            out.append(row)
        out.append("")
    for size in (64, 1400):
        out.append(f"### UDP flood with {size}-byte packets: peak RSS, and a ping right after\n")
        out.append(f"_4 iperf3 streams, unlimited rate, {args.flood_duration} s, {size}-byte IP "
                   f"packets (UDP payload {size - 28} B). Peak RSS = VmHWM of each tunnel "
                   f"daemon, reset through /proc/PID/clear_refs before the flood, worst round. "
                   f"Ping after = rounds in which a ping through the tunnel got a reply within "
                   f"5 s, starting 0.5 s after the flood's end (median time to the first reply). Busy after = "
                   f"median seconds the daemons kept using ≥ 10 % of a core after that (draining "
                   f"a backlog; the next test waits for it, up to 30 s)._\n")
        out.append("| system | peak RSS A, MiB | peak RSS B, MiB | ping after | first reply | "
                   "busy after |")
        out.append("|---|---:|---:|---|---:|---:|")
        for s in results.systems:
            runs = results.floods[s][size]
            oks = [r for r in runs if isinstance(r, dict)]
            cells = []
            for side in ("a", "b"):
                vals = [r["hwm_kib"][side] for r in oks
                        if r.get("hwm_kib", {}).get(side) is not None]
                if s == "plain":
                    cells.append("n/a (kernel)")
                elif not vals:
                    cells.append("—")
                else:
                    cell = f"{max(vals) / 1024:.1f}"
                    if any(r.get("capped") for r in oks):
                        cell += f" (passed the {args.rss_cap_mib} MiB cap: flood stopped)"
                    cells.append(cell)
            good = sum(1 for r in oks if r.get("ping_after"))
            after = f"{good}/{len(runs)}"
            if len(runs) > len(oks):
                after += f" ({len(runs) - len(oks)} failed)"
            if any(not r.get("alive", True) for r in oks):
                after += ", a daemon died"
            first = median_or_none([r.get("ping_after_s") for r in oks])
            drains = [r.get("drain_s") for r in oks]
            drain = median_or_none(drains)
            busy = "n/a" if s == "plain" else (
                f"{drain:.1f} s" if drain is not None else "—") + \
                (" (> 30 s in some round)" if any(d is None for d in drains) and oks
                 and s != "plain" else "")
            cells += [after, f"{first:.2f} s" if first is not None else "—", busy]
            out.append(f"| {labels[s][0]} | " + " | ".join(cells) + " |")
        out.append("")
    out.append(targets(results))
    problems = [(s, e) for s in results.systems for e in results.errors[s]]
    if problems:
        out.append("### Failures during the run\n")
        for s, e in problems:
            text = e.replace("\n", " ⏎ ")
            out.append(f"- **{labels[s][0]}**: {text[:600]}")
        out.append("")
    return "\n".join(out)


def peak_rss_mib(results, system, size):
    runs = [r for r in results.floods[system][size] if isinstance(r, dict)]
    values = [v for r in runs for v in r.get("hwm_kib", {}).values() if v is not None]
    return max(values) / 1024 if values else None


def targets(results):
    out = ["### Targets (uipsec, AES-128-GCM)\n", "| target | measured | verdict |",
           "|---|---|---|"]
    if "uipsec" not in results.systems:
        return "(uipsec not measured: no target check)\n"

    def verdict(ok):
        return "**met**" if ok else "**missed**"

    u = lambda m: results.median("uipsec", m)  # noqa: E731
    s = (lambda m: results.median("strongswan", m)) if "strongswan" in results.systems \
        else (lambda m: None)
    for metric, name, factor in (("tcp1", "TCP 1 stream", 10), ("tcp4", "TCP 4 streams", 10),
                                 ("udp", "UDP delivered (1300 B)", 3)):
        if u(metric) is None or s(metric) is None:
            out.append(f"| {name} ≥ {factor}× strongSwan | n/a | not measured |")
            continue
        r = u(metric) / s(metric)
        per_round = results.round_ratios("uipsec", "strongswan", metric)
        spread = (f"; per round {' / '.join(f'{x:.2f}' for x in per_round)}"
                  if len(per_round) > 1 else "")
        out.append(f"| {name} ≥ {factor}× strongSwan | {r:.2f}× ({fmt(u(metric))} vs "
                   f"{fmt(s(metric))}{spread}) | {verdict(r >= factor)}"
                   + ("" if r >= factor else f" by {factor / r:.1f}×") + " |")
    others = [(k, results.median(k, "rtt")) for k in ("wireguard-go", "openvpn")
              if k in results.systems and results.median(k, "rtt") is not None]
    if u("rtt") is not None and others:
        best_key, best = min(others, key=lambda kv: kv[1])
        ok = u("rtt") <= best
        out.append(f"| ping RTT ≤ better of wireguard-go / OpenVPN | {fmt(u('rtt'))} ms vs "
                   f"{fmt(best)} ms ({best_key}) | {verdict(ok)}"
                   + ("" if ok else f" by {(u('rtt') / best - 1) * 100:.0f} %") + " |")
    else:
        out.append("| ping RTT ≤ better of wireguard-go / OpenVPN | n/a | not measured |")
    if u("idle") is not None:
        out.append(f"| idle CPU < 1 % of a core | {u('idle'):.2f} % | "
                   f"{verdict(u('idle') < 1.0)} |")
    for size in (64, 1400):
        runs = [r for r in results.floods["uipsec"][size] if isinstance(r, dict)]
        peak = peak_rss_mib(results, "uipsec", size)
        if not runs or peak is None:
            out.append(f"| peak RSS ≤ 64 MiB in a {size}-byte flood, ping right after | n/a | "
                       f"not measured |")
            continue
        pings = all(r.get("ping_after") for r in runs)
        ok = peak <= 64 and pings and not any(r.get("capped") for r in runs)
        out.append(f"| peak RSS ≤ 64 MiB in a {size}-byte flood, ping right after | "
                   f"{peak:.1f} MiB, ping after {sum(1 for r in runs if r.get('ping_after'))}"
                   f"/{len(runs)} | {verdict(ok)} |")
    out.append("")
    return "\n".join(out)


def machine_info(args):
    def first(path, key):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    versions = run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"] + PACKAGES,
                   check=False).stdout.split("\n")
    versions = ", ".join(f"`{v}`" for v in versions if v.strip())
    info = {
        "CPU": f"`{first('/proc/cpuinfo', 'model name')}`, {os.cpu_count()} vCPUs "
               f"(shared by both tunnel ends, iperf3 client and server)",
        "memory": first("/proc/meminfo", "MemTotal"),
        "kernel": f"`{platform.release()}`",
        "TCP congestion control": f"`{args.congestion}` (iperf3 -C; the host's default: "
                                  f"`{host_congestion_control()}`)",
        "packages": versions,
    }
    if "uipsec" in args.systems:
        commit = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                     check=False).stdout.strip()
        dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"],
                    check=False).stdout.strip()
        uipsecd = os.path.abspath(args.uipsecd)
        build = os.path.dirname(os.path.dirname(os.path.dirname(uipsecd)))
        built = datetime.datetime.fromtimestamp(os.path.getmtime(uipsecd), datetime.timezone.utc)
        info["uipsec"] = (f"`{uipsecd}` (build dir `{build}`, built {built:%Y-%m-%d %H:%M} UTC"
                          f"{', from ' + args.source if args.source else ''}); repository HEAD "
                          f"`{commit}`" + (", src/ has uncommitted changes" if dirty else ""))
    info.update({
        "command": f"`{' '.join(shlex.quote(a) for a in sys.argv)}`",
        "rounds": f"{args.rounds} (round-robin over systems per metric; system order rotates "
                  f"each round), TCP/UDP {args.duration} s, floods {args.flood_duration} s, "
                  f"idle {args.idle} s",
    })
    return info


# --------------------------------------------------------------------------------------------


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def host_congestion_control():
    return read_text("/proc/sys/net/ipv4/tcp_congestion_control") or "cubic"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma-separated subset of: " + ", ".join(SYSTEMS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per iperf3 test")
    parser.add_argument("--flood-duration", type=int, default=30)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU sampling")
    parser.add_argument("--quick", action="store_true",
                        help="check the harness: 1 round, 3 s tests, 5 s floods, 2 s idle")
    parser.add_argument("--no-floods", action="store_true")
    parser.add_argument("--rss-cap-mib", type=int, default=2048,
                        help="stop a flood when a daemon's RSS passes this (no swap here)")
    parser.add_argument("--source", default=os.environ.get("UIPSEC_SOURCE", ""),
                        help="where the uipsec binaries were built from (for the report)")
    parser.add_argument("--out", help="also write the Markdown report to this file")
    parser.add_argument("--json", help="also write every figure of the run (JSON) to this file")
    parser.add_argument("--congestion", default=host_congestion_control(),
                        help="TCP congestion control of every iperf3 test (iperf3 -C; default: "
                             "this host's, %(default)s)")
    parser.add_argument("--uipsecd", default=os.environ.get(
        "UIPSECD", os.path.join(ROOT, "build/release/src/daemon/uipsecd")))
    parser.add_argument("--uipsec", default=os.environ.get(
        "UIPSEC", os.path.join(ROOT, "build/release/src/cli/uipsec")))
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.flood_duration, args.idle = 1, 3, 5, 2.0
    available = read_text("/proc/sys/net/ipv4/tcp_available_congestion_control").split()
    if available and args.congestion not in available:
        parser.error(f"congestion control {args.congestion!r} is not available here; "
                     f"available: {', '.join(available)}")
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in args.systems:
        if s not in SYSTEMS:
            parser.error(f"unknown system {s!r}; known: {', '.join(SYSTEMS)}")
    return args


STEPS = [("rtt", None), ("idle", None), ("tcp1", 1), ("tcp4", 4), ("udp", 1300),
         ("flood", 64), ("flood", 1400)]


def run_step(results, system, step, param, args):
    """One measurement of one system; its figures go into `results` (failures too)."""
    key = system.key
    name = step if step != "flood" else f"flood{param}"
    try:
        if step == "rtt":
            results.add(key, "rtt", ping_rtt(system, 20, 0.05)[0])
        elif step == "idle":
            idle = measure_idle(system, args.idle)
            if idle is not None:
                results.add(key, "idle", idle)
        elif step in ("tcp1", "tcp4"):
            r = measure_tcp(system, param, args.duration)
            results.add(key, step, r["gbps"])
            if "cpu_s_per_gbit" in r:
                results.add(key, "cpu" + step[-1], r["cpu_s_per_gbit"])
        elif step == "udp":
            r = measure_udp(system, param, args.duration)
            results.add(key, "udp", r["pps"] / 1000)
            if r["sent_pps"]:
                results.add(key, "udp_sent", r["sent_pps"] / 1000)
        elif step == "flood":
            r = measure_flood(system, param, args.flood_duration, args.rss_cap_mib * 1024)
            results.floods[key][param].append(r)
            if "pps" in r:
                results.add(key, f"{name}_pps", r["pps"] / 1000)
            else:
                results.error(key, f"{name}_pps", r.get("pps_error", "no iperf3 report"))
            if not r["ping_after"]:
                results.errors[key].append(
                    f"round {results.round}, flood {param} B: no ping reply within 5 s after "
                    f"the flood (daemons alive: {r['alive']})")
        if step in ("tcp1", "tcp4", "udp"):
            settle(system)
    except Exception as e:  # noqa: BLE001 - recorded and shown in the report
        detail = str(e) if isinstance(e, RuntimeError) else traceback.format_exc()
        if step == "flood":
            results.floods[key][param].append(f"failed: {detail}")
        if not system.alive():
            detail += "\n" + system.diagnostics()
        results.error(key, name, detail)
        log(f"[{key}] {name} failed: {detail.strip()[:500]}")


def bring_up(results, system):
    """Sets a system up; a failure is recorded with its reason (the run goes on without it)."""
    key = system.key
    t0 = time.monotonic()
    try:
        system.setup()
    except Exception as e:  # noqa: BLE001 - a failed system is reported, not fatal
        reason = str(e) if isinstance(e, RuntimeError) else traceback.format_exc()
        results.status[key] = f"**failed** (round {results.round}): " + \
            reason.strip().splitlines()[0][:200]
        results.errors[key].append(f"setup in round {results.round}: {reason.strip()[:3000]}")
        log(f"[{key}] setup FAILED: {reason.strip()[:3000]}")
        system.teardown()
        return False
    took = time.monotonic() - t0
    if results.status[key] == "not started":
        results.status[key] = f"up in {took:.1f} s"
        results.mtu[key] = system.mtu()
    else:
        results.status[key] += f"; set up again in round {results.round}"
    log(f"[{key}] up ({took:.1f} s)")
    return True


def run_rounds(results, systems, args):
    """Round-robin: in each round every step runs for every system before the next step, and
    the order of the systems rotates from round to round."""
    up = {key: bring_up(results, system) for key, system in systems.items()}
    steps = [st for st in STEPS if not (args.no_floods and st[0] == "flood")]
    keys = list(systems)
    for round_ in range(1, args.rounds + 1):
        results.round = round_
        shift = (round_ - 1) % len(keys)
        order = keys[shift:] + keys[:shift]
        for key in order:
            system = systems[key]
            if round_ > 1 and (not up[key] or not system.alive() or not ping_ok(system)):
                log(f"[{key}] not working at the start of round {round_}: setting it up again")
                results.errors[key].append(
                    f"round {round_}: tunnel not working at the start of the round (daemons "
                    f"alive: {up[key] and system.alive()}); set up again")
                system.teardown()
                up[key] = bring_up(results, system)
        for step, param in steps:
            for key in order:
                if up[key]:
                    name = f"flood{param}" if step == "flood" else step
                    log(f"round {round_}/{args.rounds}: {name:9s} {key}")
                    run_step(results, systems[key], step, param, args)


def main():
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("tunnel_bench: needs root (network namespaces)")
    if "uipsec" in args.systems:
        for path in (args.uipsecd, args.uipsec):
            if not os.access(path, os.X_OK):
                sys.exit(f"tunnel_bench: {path} is not built (bench/tunnel_bench.sh builds it)")
    for tool in ("iperf3", "ping", "ss", "unshare"):
        if not shutil.which(tool):
            sys.exit(f"tunnel_bench: {tool} is missing (bench/tunnel_bench.sh installs it)")
    started_at = datetime.datetime.now(datetime.timezone.utc)
    started = time.monotonic()
    meta = machine_info(args)
    load_start = " ".join(read_text("/proc/loadavg").split()[:3])
    labels = {k: (SYSTEMS[k].label, SYSTEMS[k].esp) for k in args.systems}
    results = Results(args.systems, args.rounds)
    workdir = tempfile.mkdtemp(prefix="uipsec-tunnel-bench-")
    keep = {"workdir": False}
    # Removed at exit (also after Ctrl-C) unless something failed: then its logs are kept.
    atexit.register(lambda: keep["workdir"] or shutil.rmtree(workdir, ignore_errors=True))
    # Every system's namespaces stay up for the whole run (the round-robin costs no setup
    # time); the Topology removes all of them and stops every process we started, by PID, at
    # the end, on an exception, on SIGINT/SIGTERM and at exit.
    with Topology("tb") as topology:
        systems = {key: SYSTEMS[key](topology, workdir, args) for key in args.systems}
        try:
            run_rounds(results, systems, args)
        finally:
            for system in systems.values():
                system.teardown()
    finished = datetime.datetime.now(datetime.timezone.utc)
    meta["date"] = (f"{started_at:%Y-%m-%d %H:%M}–{finished:%H:%M} UTC "
                    f"(wall time {(time.monotonic() - started) / 60:.1f} min)")
    meta["load average (1/5/15 min)"] = (
        f"{load_start} at the start, "
        f"{' '.join(read_text('/proc/loadavg').split()[:3])} at the end")
    report = markdown(results, labels, meta, args)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results.to_json()}, f, indent=1)
    if any(results.errors.values()):
        keep["workdir"] = True
        log(f"logs and configurations of this run are kept in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
