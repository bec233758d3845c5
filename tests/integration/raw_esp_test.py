#!/usr/bin/python3
"""Raw ESP (IP protocol 50, no UDP) for SAs without encapsulation: uipsecd <-> scapy's ESP layer
(esp_peer.py --encap raw, an implementation uipsec did not write) with IPv4 and IPv6 outside,
uipsecd <-> uipsecd, the transport an SA does not use counted as encap-mismatch drops (what
Linux's xfrm does: an SA with UDP encapsulation takes only ESP in UDP, one without only raw ESP),
and uipsec.raw_esp = no refusing such SAs with a message that says what to do."""

import os
import subprocess

import harness as h

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "esp_peer.py")
NET_ADMIN, NET_RAW = 1 << 12, 1 << 13


def start_peer(pair, keys, outer6, encap, log_name="peer.log"):
    """scapy's peer on B for the aes-gcm SAs of harness.tunnel_config (IPv4 inside)."""
    a_out, b_out = (h.A_OUTER6, h.B_OUTER6) if outer6 else (h.A_OUTER4, h.B_OUTER4)
    args = ["/usr/bin/python3", PEER, "--tun", "peer0", "--local", b_out, "--remote", a_out,
            "--route", h.A_NET4, "--suite", "aes-gcm", "--encap", encap,
            "--spi-out", "0x1002", "--spi-in", "0x1001",
            "--key-out", keys(20, "ba"), "--key-in", keys(20, "ab")]
    log = open(os.path.join(pair.workdir, log_name), "w")
    peer = pair.b.popen(args, stdout=subprocess.PIPE, stderr=log)
    line = peer.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"esp_peer did not start: {line!r}; see {log.name}")
    return peer


def stop_peer(peer):
    peer.terminate()
    peer.wait(timeout=10)


def io(daemon):
    return daemon.stats()["io"]


def capabilities(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    return int(fields["CapEff"], 16)


def check_with_scapy(topology, outer6):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a",
                 h.tunnel_config("a", "aes-gcm", keys, outer6=outer6, encap=False), uipsecd, uipsec)
    peer = start_peer(pair, keys, outer6, "raw")
    try:
        result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
        assert result.returncode == 0, f"ping failed:\n{result.stdout}\n{a.output()}"
        size = 200_000
        for client, server, c_addr, s_addr in ((pair.a, pair.b, h.A_INNER4, h.B_INNER4),
                                               (pair.b, pair.a, h.B_INNER4, h.A_INNER4)):
            sent, received, count = h.tcp_transfer(client, server, c_addr, s_addr, size)
            assert count == size and sent == received, f"transfer: {count} of {size}, {received}"
        stats = a.stats()
        seam = "raw-esp6" if outer6 else "raw-esp4"
        counters = stats["io"]
        assert counters[f"{seam}.rx_packets"] > 100 and counters[f"{seam}.tx_packets"] > 100, \
            counters
        assert counters["socket.rx_packets"] == 0 and counters["socket.tx_packets"] == 0, counters
        for name in ("auth-failed", "bad-padding", "encap-mismatch", "unknown-spi"):
            assert stats["drops"][name] == 0, (name, stats["drops"])
        # Raw ESP on: CAP_NET_RAW is kept next to CAP_NET_ADMIN, nothing else.
        assert capabilities(a.process.pid) == NET_ADMIN | NET_RAW, hex(capabilities(a.process.pid))
        h.log(f"   outer{'6' if outer6 else '4'}: ping, {size} bytes each way over raw ESP; "
              f"{seam} rx {counters[f'{seam}.rx_packets']} tx {counters[f'{seam}.tx_packets']}")
    finally:
        stop_peer(peer)
    h.stop_cleanly(pair, a)


def test_scapy_peer_ipv4_outside(topology):
    check_with_scapy(topology, outer6=False)


def test_scapy_peer_ipv6_outside(topology):
    check_with_scapy(topology, outer6=True)


def test_two_uipsecd(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    # IPv6 outside, IPv4 inside.
    a = h.Daemon(pair.a, pair.workdir, "a",
                 h.tunnel_config("a", "aes-gcm", keys, outer6=True, encap=False), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b",
                 h.tunnel_config("b", "aes-gcm", keys, outer6=True, encap=False), uipsecd, uipsec)
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, f"ping failed:\n{result.stdout}\n{a.output()}\n{b.output()}"
    size = 1 << 20
    sent, received, count = h.tcp_transfer(pair.a, pair.b, h.A_INNER4, h.B_INNER4, size)
    assert count == size and sent == received, f"transfer: {count} of {size}, {received}"
    counters = io(b)
    assert counters["raw-esp6.rx_packets"] > 500, counters
    assert counters["socket.rx_packets"] == 0, counters
    h.log(f"   uipsecd <-> uipsecd over raw ESP (IPv6 outside): {size} bytes, sha256 ok; "
          f"B received {counters['raw-esp6.rx_packets']} ESP packets")
    h.stop_cleanly(pair, a, b)


def test_several_workers(topology):
    """With uipsec.workers > 1 every worker sends raw ESP (send-only raw sockets of its own), the
    first receives it: flows hashed to any TUN queue get through, none is sent to the UDP socket."""
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    daemons = [h.Daemon(ns, pair.workdir, side,
                        h.tunnel_config(side, "aes-gcm", keys, encap=False,
                                        extra_uipsec="workers = 4"), uipsecd, uipsec)
               for ns, side in ((pair.a, "a"), (pair.b, "b"))]
    a, b = daemons
    threads = os.listdir(f"/proc/{a.process.pid}/task")
    assert len(threads) >= 5, f"the control thread and four workers expected: {threads}"
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, f"ping failed:\n{result.stdout}\n{a.output()}\n{b.output()}"
    size = 100_000
    for port in range(5101, 5109):  # eight flows: the TUN device spreads them over its queues
        sent, received, count = h.tcp_transfer(pair.a, pair.b, h.A_INNER4, h.B_INNER4, size,
                                               port=port)
        assert count == size and sent == received, f"port {port}: {count} of {size}"
    for daemon in daemons:
        counters = io(daemon)
        unreachable = {k: v for k, v in counters.items() if k.endswith("tx_unreachable") and v}
        assert not unreachable, unreachable
    # Worker 0's raw socket (the one in stats) sent only part of what B received: the other
    # workers sent the rest through send-only raw sockets of their own.
    sent_by_first = io(a)["raw-esp4.tx_packets"]
    received = io(b)["raw-esp4.rx_packets"]
    assert received > sent_by_first, (received, sent_by_first)
    h.log(f"   4 workers each side: 8 TCP flows of {size} bytes over raw ESP, sha256 ok; B "
          f"received {received} ESP packets, A's first worker sent {sent_by_first}")
    h.stop_cleanly(pair, a, b)


def test_outer_tos_leaves_with_each_packet(topology):
    """The TOS byte the packet path chose (RFC 6040: the inner DSCP and ECN copied out) is in the
    outer IPv4 header of each raw ESP packet — passed with the send, as on the UDP socket."""
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a",
                 h.tunnel_config("a", "aes-gcm", keys, encap=False), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b",
                 h.tunnel_config("b", "aes-gcm", keys, encap=False), uipsecd, uipsec)
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4).returncode == 0, a.output()
    # A second raw ESP socket on B sees every ESP packet too (IPv4: with its header).
    sniffer_code = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_RAW,50);s.settimeout(10)\n"
        "print('ready',flush=True)\n"
        "for _ in range(3):\n"
        "  d=s.recv(65536)\n"
        "  print(hex(d[1]),flush=True)\n")
    sniffer = pair.b.popen(["/usr/bin/python3", "-c", sniffer_code], stdout=subprocess.PIPE)
    try:
        assert sniffer.stdout.readline().strip() == "ready"
        # DSCP AF41 (0x88) with ECT(0) (0x02) on the inner packets.
        result = pair.a.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "-Q", "0x8a", "-I",
                             h.A_INNER4, h.B_INNER4], check=False, timeout=30)
        assert result.returncode == 0, result.stdout
        seen = [sniffer.stdout.readline().strip() for _ in range(3)]
    finally:
        sniffer.kill()
        sniffer.wait()
    # Requests A -> B and replies B -> A both pass B's raw sockets only inbound: three requests.
    assert seen == ["0x8a"] * 3, seen
    h.log(f"   outer TOS of raw ESP: {seen} for inner DSCP AF41 + ECT(0)")
    h.stop_cleanly(pair, a, b)


def test_transport_mismatch_is_a_counted_drop(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    # A's SAs are raw ESP; the peer sends the same SA's packets in UDP: dropped, counted.
    a = h.Daemon(pair.a, pair.workdir, "a",
                 h.tunnel_config("a", "aes-gcm", keys, encap=False), uipsecd, uipsec)
    peer = start_peer(pair, keys, False, "udp", "peer-udp.log")
    try:
        result = pair.b.run(["ping", "-c", "3", "-W", "1", "-i", "0.2", "-I", h.B_INNER4,
                             h.A_INNER4], check=False, timeout=30)
        assert result.returncode != 0, result.stdout
        drops = a.stats()["drops"]
        # At least the three pings (the peer seals whatever its TUN device gives it).
        assert drops["encap-mismatch"] >= 3, drops
        assert drops["auth-failed"] == 0, drops
    finally:
        stop_peer(peer)
    assert a.stop() == 0, a.output()

    # And the reverse: SAs with UDP encapsulation, the peer sends raw ESP.
    b_config = h.tunnel_config("a", "aes-gcm", keys, encap=True)
    a = h.Daemon(pair.a, pair.workdir, "a2", b_config, uipsecd, uipsec)
    peer = start_peer(pair, keys, False, "raw", "peer-raw.log")
    try:
        result = pair.b.run(["ping", "-c", "2", "-W", "1", "-i", "0.2", "-I", h.B_INNER4,
                             h.A_INNER4], check=False, timeout=30)
        assert result.returncode != 0, result.stdout
        stats = a.stats()
        mismatched = stats["drops"]["encap-mismatch"]
        assert mismatched >= 2, stats["drops"]
        assert stats["io"]["raw-esp4.rx_packets"] >= mismatched, stats["io"]
    finally:
        stop_peer(peer)
    h.log("   ESP in UDP for raw-ESP SAs and raw ESP for UDP SAs: encap-mismatch drops")
    h.stop_cleanly(pair, a)


def test_raw_esp_off_refuses_sas_without_encapsulation(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    # With raw ESP off, a configuration with raw-ESP SAs does not start, and says why.
    config = h.tunnel_config("a", "aes-gcm", keys, encap=False,
                             extra_uipsec="raw_esp = no\n  state_directory = " +
                             os.path.join(pair.workdir, "off.state"))
    path = os.path.join(pair.workdir, "off.conf")
    with open(path, "w") as f:
        f.write(config.replace("@SOCKET@", os.path.join(pair.workdir, "off.ctl")))
    result = pair.a.run([uipsecd, "-c", path], check=False, timeout=30)
    assert result.returncode == 1, result.stdout
    assert "uipsec.raw_esp = no" in result.stdout and "encap espinudp" in result.stdout, \
        result.stdout

    # UDP SAs run as before, CAP_NET_RAW is not kept, and the control socket refuses raw ESP.
    a = h.Daemon(pair.a, pair.workdir, "a",
                 h.tunnel_config("a", "aes-gcm", keys, extra_uipsec="raw_esp = no"), uipsecd,
                 uipsec)
    assert capabilities(a.process.pid) == NET_ADMIN, hex(capabilities(a.process.pid))
    refused = a.cli("state", "add", "src", h.A_OUTER4, "dst", h.B_OUTER4, "proto", "esp", "spi",
                    "0x2001", "mode", "tunnel", "aead", "rfc4106(gcm(aes))",
                    "0x" + keys(20, "x"), "128", check=False)
    assert refused.returncode != 0 and "raw_esp" in refused.stdout, refused.stdout
    assert not any(k.startswith("raw-esp") for k in io(a)), io(a)
    h.log("   raw_esp = no: raw-ESP SAs refused at start and over the control socket; "
          "only CAP_NET_ADMIN kept")
    h.stop_cleanly(pair, a)


if __name__ == "__main__":
    h.main([test_scapy_peer_ipv4_outside, test_scapy_peer_ipv6_outside, test_two_uipsecd,
            test_several_workers, test_outer_tos_leaves_with_each_packet,
            test_transport_mismatch_is_a_counted_drop,
            test_raw_esp_off_refuses_sas_without_encapsulation])
