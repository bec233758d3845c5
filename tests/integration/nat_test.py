#!/usr/bin/python3
"""uipsecd behind a NAT: three namespaces, A (behind the NAT) - N (nftables masquerade on its
outside interface) - B, uipsecd on A and B with static ESP-in-UDP SAs.

- the tunnel works through the NAT (B's SAs name N's outside address and the masquerade port);
- A's SA carries `flag nat-keepalive`: while it is idle A sends NAT-keepalives (counted on A as
  keepalive.tx_packets and by B as received keepalives), while traffic flows it sends none;
- a NAT rebinding (the masquerade port range changed and N's conntrack entries deleted) gives B
  a mapping event; without `flag follow-peer` B's traffic to A keeps going to the old port and
  is lost, with it B follows A's new port and the tunnel goes on.

Addresses: A 198.18.1.2/24 - N 198.18.1.1/24 | N 198.18.0.1/24 - B 198.18.0.2/24; inner nets as
in harness.py (A 198.18.10.1, B 198.18.20.1)."""

import select
import shutil
import subprocess
import sys
import time

import harness as h

A_OUT, N_IN, N_OUT, B_OUT = "198.18.1.2", "198.18.1.1", "198.18.0.1", "198.18.0.2"
FIRST_PORT, SECOND_PORT = 20000, 30000


def config(side, keys, follow_peer, keepalive_interval=2):
    """A or B's configuration. B sees A as N's outside address and the masquerade port."""
    gcm_ab = h.SUITES["aes-gcm"][0](lambda n: keys(n, "ab"))
    gcm_ba = h.SUITES["aes-gcm"][0](lambda n: keys(n, "ba"))
    if side == "a":
        ab = (f"src {A_OUT} dst {B_OUT} proto esp spi 0x1001 reqid 1 mode tunnel replay-window "
              f"128 flag nat-keepalive {gcm_ab} encap espinudp 4500 4500 0.0.0.0")
        ba = (f"src {B_OUT} dst {A_OUT} proto esp spi 0x1002 reqid 1 mode tunnel replay-window "
              f"128 {gcm_ba} encap espinudp 4500 4500 0.0.0.0")
        local, remote, local_net, remote_net = A_OUT, B_OUT, h.A_NET4, h.B_NET4
    else:
        flag = "flag follow-peer" if follow_peer else ""
        ab = (f"src {N_OUT} dst {B_OUT} proto esp spi 0x1001 reqid 1 mode tunnel replay-window "
              f"128 {flag} {gcm_ab} encap espinudp {FIRST_PORT} 4500 0.0.0.0")
        ba = (f"src {B_OUT} dst {N_OUT} proto esp spi 0x1002 reqid 1 mode tunnel replay-window "
              f"128 {flag} {gcm_ba} encap espinudp 4500 {FIRST_PORT} 0.0.0.0")
        local, remote, local_net, remote_net = B_OUT, N_OUT, h.B_NET4, h.A_NET4
    return f"""uipsec {{
  tun {{
    name = uipsec-{side}
  }}
  control_socket = @SOCKET@
  nat_keepalive_interval = {keepalive_interval}
  states {{
    a_to_b = {ab}
    b_to_a = {ba}
  }}
  policies {{
    out = src {local_net} dst {remote_net} dir out tmpl src {local} dst {remote} proto esp reqid 1 mode tunnel
    in = src {remote_net} dst {local_net} dir in tmpl src {remote} dst {local} proto esp reqid 1 mode tunnel
  }}
}}
"""


class Nat:
    """A, N and B; N masquerades UDP leaving its outside interface to one source port."""

    def __init__(self, topology):
        self.a = topology.namespace("a")
        self.n = topology.namespace("n")
        self.b = topology.namespace("b")
        topology.link(self.a, [f"{A_OUT}/24"], self.n, [f"{N_IN}/24"])
        _, self.outside = topology.link(self.b, [f"{B_OUT}/24"], self.n, [f"{N_OUT}/24"])
        self.n.sysctl("net.ipv4.ip_forward", 1)
        self.a.run(["ip", "route", "add", "default", "via", N_IN])
        self.a.run(["ip", "addr", "add", h.A_INNER4 + "/32", "dev", "lo"])
        self.b.run(["ip", "addr", "add", h.B_INNER4 + "/32", "dev", "lo"])
        self.n.run(["nft", "add", "table", "ip", "uinat"])
        self.n.run(["nft", "add", "chain", "ip", "uinat", "post",
                    "{ type nat hook postrouting priority srcnat; }"])
        self.masquerade(FIRST_PORT)
        import tempfile
        self.workdir = tempfile.mkdtemp(prefix="uipsec-nat-")

    def masquerade(self, port):
        self.n.run(["nft", "flush", "chain", "ip", "uinat", "post"])
        self.n.run(["nft", "add", "rule", "ip", "uinat", "post", "oifname", self.outside,
                    "meta", "l4proto", "udp", "masquerade", "to", f":{port}"])

    def rebind(self, port):
        """A new mapping for A: another masquerade port, and the old conntrack entries gone."""
        self.masquerade(port)
        self.n.run(["conntrack", "-D", "-p", "udp"], check=False)  # exit 1 when none matched

    def conntrack(self):
        return self.n.run(["conntrack", "-L", "-p", "udp"], check=False).stdout


def ping(ns, source, destination, count=3):
    return h.ping(ns, source, destination, count=count).returncode == 0


class Monitor:
    def __init__(self, topology, uipsec, daemon):
        self.process = subprocess.Popen([uipsec, "-S", daemon.socket, "monitor"],
                                        stdout=subprocess.PIPE, text=True)
        topology.processes.append(self.process)
        time.sleep(0.2)  # the subscription reaches the daemon

    def line(self, prefix, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                line = self.process.stdout.readline()
                if line.startswith(prefix):
                    return line.strip()
        raise TimeoutError(f"no monitor line starting with {prefix!r}")


def start(topology, follow_peer):
    for tool in ("nft", "conntrack"):
        if shutil.which(tool) is None:
            print(f"nat_test: {tool} is missing (scripts/install-deps.sh installs it)")
            sys.exit(77)
    net = Nat(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(net.a, net.workdir, "a", config("a", keys, follow_peer), uipsecd, uipsec)
    b = h.Daemon(net.b, net.workdir, "b", config("b", keys, follow_peer), uipsecd, uipsec)
    return net, a, b, uipsec


def stop(net, a, b):
    for daemon in (a, b):
        assert daemon.stop() == 0, daemon.output()
    for ns in (net.a, net.b):
        h.assert_nothing_of_ours(ns)


def rebinding(topology, follow_peer):
    net, a, b, uipsec = start(topology, follow_peer)
    monitor = Monitor(topology, uipsec, b)
    assert ping(net.a, h.A_INNER4, h.B_INNER4), "through the NAT"
    assert f"sport=4500 dport=4500 src={B_OUT} dst={N_OUT} sport=4500 dport={FIRST_PORT}" in \
        net.conntrack(), net.conntrack()
    assert ping(net.b, h.B_INNER4, h.A_INNER4), "B -> A through the NAT's mapping"

    net.rebind(SECOND_PORT)
    h.ping(net.a, h.A_INNER4, h.B_INNER4, count=1)  # A's ESP makes the new mapping
    line = monitor.line("mapping ")
    h.log(f"B: {line}")
    assert f"spi 0x1001 reqid 1 from {N_OUT} port {FIRST_PORT} to {N_OUT} port {SECOND_PORT}" \
        in line, line
    sealed_before = b.stats()["sealed"]
    opened_before = a.stats()["opened"]
    works = ping(net.b, h.B_INNER4, h.A_INNER4)
    assert b.stats()["sealed"] > sealed_before, "B sends in both cases"
    if follow_peer:
        assert works, "B follows A's new port"
        assert a.stats()["opened"] > opened_before
        info = b.cli("state", "get", "src", B_OUT, "dst", N_OUT, "proto", "esp", "spi",
                     "0x1002", json_output=True)
        assert info["config"]["endpoints"]["encapsulation"]["destination_port"] == SECOND_PORT
        assert ping(net.a, h.A_INNER4, h.B_INNER4), "both ways"
    else:
        assert not works, "without follow-peer B keeps sending to the old port"
        assert a.stats()["opened"] == opened_before, "nothing of B's reaches A"
    monitor.process.terminate()
    return net, a, b


def test_rebinding_without_follow_peer(topology):
    net, a, b = rebinding(topology, follow_peer=False)
    stop(net, a, b)


def test_rebinding_with_follow_peer_and_keepalives(topology):
    net, a, b = rebinding(topology, follow_peer=True)
    # Idle: keepalives every 2 s (nat_keepalive_interval), through N, counted by B.
    sent = a.stats()["io"]["keepalive.tx_packets"]
    received = b.stats()["drops"]["nat-keepalive"]
    time.sleep(5)
    sent_idle = a.stats()["io"]["keepalive.tx_packets"] - sent
    received_idle = b.stats()["drops"]["nat-keepalive"] - received
    assert 1 <= sent_idle <= 3, f"{sent_idle} keepalives in 5 idle seconds"
    assert received_idle == sent_idle, f"sent {sent_idle}, B counted {received_idle}"
    assert a.stats()["io"]["keepalive.tx_errors"] == 0
    h.log(f"idle 5 s: {sent_idle} keepalives sent by A, {received_idle} counted by B")
    # Busy: ESP goes to B at least every 0.2 s, so no keepalive is due.
    pinger = net.a.popen(["ping", "-c", "20", "-i", "0.2", "-I", h.A_INNER4, h.B_INNER4],
                         stdout=subprocess.DEVNULL)
    topology.processes.append(pinger)
    time.sleep(0.6)
    busy_start = a.stats()["io"]["keepalive.tx_packets"]
    pinger.wait(timeout=30)
    assert pinger.returncode == 0
    assert a.stats()["io"]["keepalive.tx_packets"] == busy_start, "no keepalive while ESP flows"
    stop(net, a, b)


if __name__ == "__main__":
    h.main([test_rebinding_without_follow_peer, test_rebinding_with_follow_peer_and_keepalives])
