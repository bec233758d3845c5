#!/usr/bin/python3
"""Path MTU through the tunnel: A — R — B, R forwarding, the R–B link's MTU (1380) below what the
tunnel's ESP packets need at the TUN MTU (1400). uipsecd on A learns B's path MTU from R's ICMP
"fragmentation needed" (IP_RECVERR) and answers inner packets that no longer fit: IPv4 with DF
gets ICMP "fragmentation needed" with the inner MTU, IPv6 "packet too big"; IPv4 without DF goes
through with the outer packet fragmented by the kernel; TCP in both directions completes. The
same with raw ESP (IP protocol 50, SAs without encapsulation, uipsec.raw_esp = yes): the raw ESP
sockets' error queues (IP_RECVERR on SOCK_RAW) feed the same table.

Addresses: the tunnel endpoints 198.18.0.1 (A) and 198.18.0.2 (B) on loopback, links
A 198.18.1.1/30 — 198.18.1.2/30 R 198.18.2.1/30 — 198.18.2.2/30 B (and 2001:db8:1::/64,
2001:db8:2::/64 for the IPv6 outer variant, endpoints 2001:db8:0:1::1 and ::2); inner
addresses as in tunnel_test.py.
"""

import re
import tempfile
import time

import harness as h
from netns import wait_for

LINK_MTU = 1380       # R–B
TUN_MTU = 1400        # uipsecd's default
# AES-GCM-16 in UDP: outer IPv4 20 (IPv6 40) + UDP 8 + ESP 8 + IV 8 + ICV 16, and the payload
# plus its 2-byte trailer padded to 4 bytes.
INNER_MTU = {False: (LINK_MTU - 20 - 8 - 8 - 8 - 16) // 4 * 4 - 2,
             True: (LINK_MTU - 40 - 8 - 8 - 8 - 16) // 4 * 4 - 2}
# Raw ESP: no UDP header.
RAW_INNER_MTU = {False: (LINK_MTU - 20 - 8 - 8 - 16) // 4 * 4 - 2,
                 True: (LINK_MTU - 40 - 8 - 8 - 16) // 4 * 4 - 2}


def build(topology, outer6):
    a, r, b = topology.namespace("a"), topology.namespace("r"), topology.namespace("b")
    topology.link(a, ["198.18.1.1/30", "2001:db8:1::1/64"], r, ["198.18.1.2/30", "2001:db8:1::2/64"])
    topology.link(r, ["198.18.2.1/30", "2001:db8:2::1/64"], b, ["198.18.2.2/30", "2001:db8:2::2/64"],
                  mtu=LINK_MTU)
    r.sysctl("net.ipv4.ip_forward", 1)
    r.sysctl("net.ipv6.conf.all.forwarding", 1)
    for ns, outer4, outer6_addr, inner4, inner6, via4, via6 in (
            (a, h.A_OUTER4, h.A_OUTER6, h.A_INNER4, h.A_INNER6, "198.18.1.2", "2001:db8:1::2"),
            (b, h.B_OUTER4, h.B_OUTER6, h.B_INNER4, h.B_INNER6, "198.18.2.1", "2001:db8:2::1")):
        for address in (outer4 + "/32", outer6_addr + "/128", inner4 + "/32", inner6 + "/128"):
            extra = ["nodad"] if ":" in address else []
            ns.run(["ip", "addr", "add", address, "dev", "lo"] + extra)
        ns.run(["ip", "route", "add", "198.18.0.0/30", "via", via4, "src", outer4])
        ns.run(["ip", "-6", "route", "add", "2001:db8:0:1::/64", "via", via6, "src", outer6_addr])
    r.run(["ip", "route", "add", h.A_OUTER4, "via", "198.18.1.1"])
    r.run(["ip", "route", "add", h.B_OUTER4, "via", "198.18.2.2"])
    r.run(["ip", "-6", "route", "add", h.A_OUTER6, "via", "2001:db8:1::1"])
    r.run(["ip", "-6", "route", "add", h.B_OUTER6, "via", "2001:db8:2::2"])
    # The links come up (carrier, neighbour discovery) a moment after they are made.
    for source, destination in ((h.A_OUTER4, h.B_OUTER4), (h.A_OUTER6, h.B_OUTER6)):
        wait_for(lambda: a.run(["ping", "-c", "1", "-W", "1", "-I", source, destination],
                               check=False).returncode == 0,
                 what=f"{source} reaching {destination} through R")
    return a, r, b


def start(topology, a, b, outer6, inner6, extra="", encap=True):
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()

    class Pair:  # what harness.Daemon and stop_cleanly need
        pass

    pair = Pair()
    pair.a, pair.b = a, b
    pair.workdir = tempfile.mkdtemp(prefix="uipsec-pmtu-")
    da = h.Daemon(a, pair.workdir, "a",
                  h.tunnel_config("a", "aes-gcm", keys, outer6, inner6, extra_uipsec=extra,
                                  encap=encap),
                  uipsecd, uipsec)
    db = h.Daemon(b, pair.workdir, "b",
                  h.tunnel_config("b", "aes-gcm", keys, outer6, inner6, extra_uipsec=extra,
                                  encap=encap),
                  uipsecd, uipsec)
    return pair, da, db


def ping_df(ns, source, destination, total, count=1, df=True):
    """One ping of `total` bytes at the IP layer; -M do (DF, never fragmented locally) or dont."""
    six = ":" in destination
    payload = total - (48 if six else 28)
    args = ["ping", "-c", str(count), "-W", "2", "-i", "0.3", "-s", str(payload), "-I", source,
            "-M", "do" if df else "dont", destination]
    return ns.run(args, check=False, timeout=30)


def learned_route_mtu(ns, destination):
    out = ns.run(["ip", "route", "get", destination], check=False).stdout
    m = re.search(r"\bmtu (\d+)", out)
    return int(m.group(1)) if m else None


def check_pmtu(topology, outer6, extra="", encap=True):
    a, r, b = build(topology, outer6)
    pair, da, db = start(topology, a, b, outer6, inner6=False, extra=extra, encap=encap)
    if "workers = 2" in extra:
        sockets = a.run(["ss", "-Huan", "sport = :4500"]).stdout.strip().splitlines()
        assert len(sockets) == 2, sockets  # one steered ESP socket per worker
    inner_mtu = (INNER_MTU if encap else RAW_INNER_MTU)[outer6]
    # Small packets go through at once.
    result = h.ping(a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, f"ping failed:\n{result.stdout}\n{da.output()}"
    assert learned_route_mtu(a, h.B_INNER4) is None

    # A TUN-MTU-sized DF ping: its ESP packet is too big for R–B; R's ICMP teaches A's uipsecd
    # (the first echo is lost), the next ones get "fragmentation needed" with the inner MTU.
    first = ping_df(a, h.A_INNER4, h.B_INNER4, TUN_MTU)
    assert first.returncode != 0, first.stdout
    answered = None
    for _ in range(10):
        answered = ping_df(a, h.A_INNER4, h.B_INNER4, TUN_MTU)
        if "mtu" in answered.stdout.lower():
            break
        time.sleep(0.2)
    h.log(f"   DF ping of {TUN_MTU}: {answered.stdout.strip().splitlines()[1:2]}")
    text = answered.stdout
    assert (f"Frag needed and DF set (mtu = {inner_mtu})" in text
            or f"message too long, mtu={inner_mtu}" in text), text
    # The kernel on A took the ICMP: the route to B's inner address now has the inner MTU.
    assert learned_route_mtu(a, h.B_INNER4) == inner_mtu, \
        a.run(["ip", "route", "get", h.B_INNER4]).stdout
    stats = da.stats()
    assert stats["drops"]["packet-too-big"] >= 1, stats["drops"]
    # Exactly the inner MTU goes through (DF), one byte more does not.
    ok = ping_df(a, h.A_INNER4, h.B_INNER4, inner_mtu, count=2)
    assert ok.returncode == 0, ok.stdout
    # Without DF, a packet of the TUN MTU goes through: the kernel fragments the outer packet.
    nodf = ping_df(a, h.A_INNER4, h.B_INNER4, TUN_MTU, count=3, df=False)
    assert nodf.returncode == 0, f"{nodf.stdout}\n{da.stats()['drops']}"
    # TCP both ways, with TUN offloads on (uipsecd's default): PMTUD through the tunnel.
    for client, server, c_addr, s_addr in ((a, b, h.A_INNER4, h.B_INNER4),
                                           (b, a, h.B_INNER4, h.A_INNER4)):
        sent, received, count = h.tcp_transfer(client, server, c_addr, s_addr, 2 << 20)
        assert count == 2 << 20 and sent == received, (count, received)
    stats_a, stats_b = da.stats(), db.stats()
    h.log(f"   outer{'6' if outer6 else '4'}: inner MTU {inner_mtu}; A drops "
          f"packet-too-big {stats_a['drops']['packet-too-big']}, rate-limited "
          f"{stats_a['drops']['packet-too-big-ratelimited']}; B auth-failed "
          f"{stats_b['drops']['auth-failed']}")
    assert stats_b["drops"]["auth-failed"] == 0
    if not encap:  # the tunnel really ran over raw ESP, and nothing went by UDP
        io = stats_a["io"]
        seam = "raw-esp6" if outer6 else "raw-esp4"
        assert io[f"{seam}.rx_packets"] > 0 and io[f"{seam}.tx_packets"] > 0, io
        assert io["socket.rx_packets"] == 0 and io["socket.tx_packets"] == 0, io
    h.stop_cleanly(pair, da, db)


def test_ipv4_outer(topology):
    check_pmtu(topology, outer6=False)


def test_two_workers(topology):
    # Each worker reads the error queue of its own socket into the shared table.
    check_pmtu(topology, outer6=False, extra="workers = 2")


def test_ipv6_outer(topology):
    check_pmtu(topology, outer6=True)


def test_raw_esp_ipv4_outer(topology):
    # Raw ESP: R's ICMP about an ESP packet reaches the raw socket's error queue.
    check_pmtu(topology, outer6=False, extra="raw_esp = yes", encap=False)


def test_raw_esp_ipv6_outer(topology):
    check_pmtu(topology, outer6=True, extra="raw_esp = yes", encap=False)


def test_raw_esp_two_workers(topology):
    # Worker 1 sends raw ESP through send-only raw sockets of its own; the kernel queues R's ICMP
    # on every raw ESP socket, each worker drains its own.
    check_pmtu(topology, outer6=False, extra="raw_esp = yes\n  workers = 2", encap=False)


def test_ipv6_inner_packet_too_big(topology):
    a, r, b = build(topology, False)
    pair, da, db = start(topology, a, b, False, inner6=True)
    inner_mtu = INNER_MTU[False]
    result = h.ping(a, h.A_INNER6, h.B_INNER6)
    assert result.returncode == 0, f"ping failed:\n{result.stdout}\n{da.output()}"
    first = ping_df(a, h.A_INNER6, h.B_INNER6, TUN_MTU)
    answered = first
    for _ in range(10):
        if "mtu" in answered.stdout.lower():
            break
        time.sleep(0.2)
        answered = ping_df(a, h.A_INNER6, h.B_INNER6, TUN_MTU)
    text = answered.stdout
    h.log(f"   IPv6 ping of {TUN_MTU}: {text.strip().splitlines()[1:2]}")
    assert (f"Packet too big: mtu={inner_mtu}" in text
            or f"message too long, mtu={inner_mtu}" in text
            or f"mtu={inner_mtu}" in text), text
    assert learned_route_mtu(a, h.B_INNER6) == inner_mtu, \
        a.run(["ip", "-6", "route", "get", h.B_INNER6]).stdout
    ok = ping_df(a, h.A_INNER6, h.B_INNER6, inner_mtu, count=2)
    assert ok.returncode == 0, ok.stdout
    sent, received, count = h.tcp_transfer(a, b, h.A_INNER6, h.B_INNER6, 1 << 20)
    assert count == 1 << 20 and sent == received
    h.stop_cleanly(pair, da, db)


if __name__ == "__main__":
    h.main([test_ipv4_outer, test_two_workers, test_ipv6_outer, test_ipv6_inner_packet_too_big,
            test_raw_esp_ipv4_outer, test_raw_esp_ipv6_outer, test_raw_esp_two_workers])
