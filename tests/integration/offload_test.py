#!/usr/bin/python3
"""uipsec's TUN and UDP offloads: bulk TCP through a uipsecd <-> uipsecd tunnel with offloads on
(TUN IFF_VNET_HDR with TSO: super-packets split in user space) arrives intact, every ESP datagram
on the wire is an ordinary MTU-sized packet, nothing is dropped as a bad super-packet; the same
with offloads off (plain TUN framing); and the independent scapy ESP peer with offloads on."""

import os
import shutil
import subprocess
import time

import harness as h
import peer_test

IFF_VNET_HDR = 0x4000

# Captures ESP-in-UDP (port 4500) datagrams on an interface and prints, when told to stop
# (SIGTERM), how many there were and the largest IP packet. With PACKET_VNET_HDR a GSO train
# (veth passes them through unsegmented) counts as the datagrams the kernel cuts it into.
SNIFFER = r"""
import signal, socket, struct, sys
ETH_P_ALL, SOL_PACKET, PACKET_VNET_HDR = 3, 263, 15
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE: keep up with a burst
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
count, largest, stop = 0, 0, False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
print("sniffing", flush=True)
while not stop:
    try:
        frame, address = s.recvfrom(70000)
    except socket.timeout:
        continue
    except InterruptedError:
        continue
    if address[2] != 0:  # PACKET_HOST only: what arrives here, not what leaves
        continue
    flags, gso_type, hdr_len, gso_size, cs, co = struct.unpack("<BBHHHH", frame[:10])
    frame = frame[10:]
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 28 and ip[9] == 17:
        l3 = (ip[0] & 15) * 4
    elif ethertype == 0x86DD and len(ip) >= 48 and ip[6] == 17:
        l3 = 40
    else:
        continue
    sport, dport = struct.unpack("!HH", ip[l3:l3 + 4])
    if 4500 not in (sport, dport):
        continue
    payload = len(ip) - l3 - 8
    if gso_type != 0 and gso_size:
        segments = -(-payload // gso_size)
        count += segments
        largest = max(largest, l3 + 8 + min(payload, gso_size))
    else:
        count += 1
        largest = max(largest, len(ip))
PACKET_STATISTICS = 6
received, dropped = struct.unpack("II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
print(count, largest, dropped, flush=True)
"""


def start_sniffer(ns, ifname):
    sniffer = ns.popen(["/usr/bin/python3", "-c", SNIFFER, ifname], stdout=subprocess.PIPE)
    assert sniffer.stdout.readline().strip() == "sniffing"
    return sniffer


def stop_sniffer(sniffer):
    sniffer.terminate()
    count, largest, dropped = (int(x) for x in sniffer.stdout.readline().split())
    sniffer.wait(timeout=10)
    return count, largest, dropped


def tun_flags(ns, ifname):
    return int(ns.run(["cat", f"/sys/class/net/{ifname}/tun_flags"]).stdout.strip(), 16)


def tso_state(ns, ifname):
    """'on'/'off' from ethtool for tcp-segmentation-offload, or None without ethtool."""
    result = ns.run(["ethtool", "-k", ifname], check=False)
    if result.returncode != 0:
        return None
    for line in result.stdout.splitlines():
        if line.startswith("tcp-segmentation-offload:"):
            return line.split(":")[1].split()[0]
    return None


def iperf_throughput(pair, server_address, seconds=3):
    """Gbit/s of one iperf3 TCP stream A -> B through the tunnel (None without iperf3)."""
    if not shutil.which("iperf3"):
        return None
    server = pair.b.popen(["iperf3", "-s", "-1", "-B", server_address],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    result = pair.a.run(["iperf3", "-c", server_address, "-t", str(seconds), "-J"], check=False,
                        timeout=seconds + 30)
    server.wait(timeout=10)
    if result.returncode != 0:
        return None
    import json
    report = json.loads(result.stdout)
    return report["end"]["sum_received"]["bits_per_second"] / 1e9


def check_bulk(topology, offload, inner6=False, size=32 << 20):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    extra = f"offload = {'yes' if offload else 'no'}"
    a = h.Daemon(pair.a, pair.workdir, "a",
                 h.tunnel_config("a", "aes-gcm", keys, inner6=inner6, extra_uipsec=extra),
                 uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b",
                 h.tunnel_config("b", "aes-gcm", keys, inner6=inner6, extra_uipsec=extra),
                 uipsecd, uipsec)
    for ns, name in ((pair.a, "uipsec-a"), (pair.b, "uipsec-b")):
        has_vnet = bool(tun_flags(ns, name) & IFF_VNET_HDR)
        assert has_vnet == offload, f"{name}: vnet_hdr {has_vnet}, offload {offload}"
        tso = tso_state(ns, name)
        if tso is not None:
            assert (tso == "on") == offload, f"{name}: tcp-segmentation-offload {tso}"
    b_veth = pair.b.run(["ip", "-o", "link", "show", "type", "veth"]).stdout.split(":")[1].strip()
    b_veth = b_veth.split("@")[0]
    a_in, b_in = (h.A_INNER6, h.B_INNER6) if inner6 else (h.A_INNER4, h.B_INNER4)
    sniffer = start_sniffer(pair.b, b_veth)
    sent, received, count = h.tcp_transfer(pair.a, pair.b, a_in, b_in, size)
    datagrams, largest, missed = stop_sniffer(sniffer)
    assert count == size and sent == received, f"transfer: {count} of {size} bytes, {received}"
    assert largest <= 1500, f"an ESP datagram of {largest} bytes on a 1500-byte link"
    # Each datagram carries at most one MTU-sized inner segment (~1400 bytes of TCP payload).
    assert datagrams + missed >= size // 1500, \
        f"only {datagrams} ESP datagrams (+{missed} the sniffer missed) for {size} bytes"
    for daemon in (a, b):
        stats = daemon.stats()
        for name in ("bad-super-packet", "segment-too-big", "auth-failed", "bad-inner-packet",
                     "replay-duplicate"):
            assert stats["drops"][name] == 0, (daemon.name, name, stats["drops"])
    gbits = iperf_throughput(pair, b_in)
    h.log(f"   offload {'on' if offload else 'off'} inner{'6' if inner6 else '4'}: {size} bytes, "
          f"sha256 ok, {datagrams} ESP datagrams on the wire ({missed} frames not captured), "
          f"largest {largest} B; iperf3 A->B "
          + (f"{gbits:.2f} Gbit/s" if gbits is not None else "not run"))
    h.stop_cleanly(pair, a, b)


def test_bulk_tcp_offload_on_ipv4(topology):
    check_bulk(topology, offload=True)


def test_bulk_tcp_offload_on_ipv6_inside(topology):
    check_bulk(topology, offload=True, inner6=True)


def test_bulk_tcp_offload_off(topology):
    check_bulk(topology, offload=False, size=8 << 20)


def test_scapy_peer_with_offload(topology):
    # uipsecd's default is offload = yes; scapy opens every datagram on its own, so a
    # super-packet sealed whole, or a segment with a wrong checksum, cannot pass.
    peer_test.check_peer(topology, "aes-gcm", size=2_000_000)


def test_scapy_peer_with_offload_ipv6(topology):
    peer_test.check_peer(topology, "chacha20-poly1305", outer6=True, inner6=True, size=1_000_000)


if __name__ == "__main__":
    h.main([test_bulk_tcp_offload_on_ipv4, test_bulk_tcp_offload_on_ipv6_inside,
            test_bulk_tcp_offload_off, test_scapy_peer_with_offload,
            test_scapy_peer_with_offload_ipv6])
