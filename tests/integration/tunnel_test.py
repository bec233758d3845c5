#!/usr/bin/python3
"""uipsec <-> uipsec: two uipsecd in two namespaces carry a ping and a TCP transfer (checksum
compared at the far end) for each algorithm suite, IPv4 and IPv6 inside and outside, and ESN with
the sequence crossing 2^32; and the kernel's drops in front of a stalled daemon's TUN device."""

import os
import signal

import harness as h


def check_tunnel(topology, suite, outer6=False, inner6=False, esn=False, start_seq=0,
                 size=1 << 20):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a",
                 h.tunnel_config("a", suite, keys, outer6, inner6, esn, start_seq, start_seq),
                 uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b",
                 h.tunnel_config("b", suite, keys, outer6, inner6, esn, start_seq, start_seq),
                 uipsecd, uipsec)
    a_in, b_in = (h.A_INNER6, h.B_INNER6) if inner6 else (h.A_INNER4, h.B_INNER4)
    result = h.ping(pair.a, a_in, b_in)
    assert result.returncode == 0, f"ping failed:\n{result.stdout}\n{a.output()}\n{b.output()}"
    sent, received, count = h.tcp_transfer(pair.a, pair.b, a_in, b_in, size)
    assert count == size and sent == received, f"transfer: {count} of {size} bytes, {received}"
    sas = a.cli("state", "list", json_output=True)
    assert len(sas) == 2
    out_sa = next(sa for sa in sas if sa["config"]["spi"] == 0x1001)
    stats_b = b.stats()
    assert stats_b["opened"] > 0 and stats_b["drops"]["auth-failed"] == 0, stats_b
    for name in ("replay-duplicate", "replay-too-old", "bad-padding", "unknown-spi"):
        assert stats_b["drops"][name] == 0, (name, stats_b["drops"])
    if esn:
        assert out_sa["outbound_sequence"] > (1 << 32), out_sa["outbound_sequence"]
    h.log(f"   {suite} outer{'6' if outer6 else '4'} inner{'6' if inner6 else '4'}: "
          f"{count} bytes, sha256 ok, A sent up to seq {out_sa['outbound_sequence']:#x}")
    for daemon in (a, b):
        assert daemon.stop() == 0, daemon.output()
    # Nothing of ours is left behind in either namespace.
    for ns in (pair.a, pair.b):
        h.assert_nothing_of_ours(ns)


def test_gcm_ipv4(topology):
    check_tunnel(topology, "aes-gcm")


def test_chacha_ipv6_inside_ipv4(topology):
    check_tunnel(topology, "chacha20-poly1305", inner6=True)


def test_cbc_ipv4_inside_ipv6(topology):
    check_tunnel(topology, "aes-cbc-sha256", outer6=True)


def test_gcm_ipv6_inside_ipv6(topology):
    check_tunnel(topology, "aes-gcm", outer6=True, inner6=True)


def test_esn_crosses_two_to_the_32(topology):
    # 600 KB in ~1400-byte segments is ~450 packets one way: starting 200 below 2^32 crosses it.
    check_tunnel(topology, "aes-gcm", esn=True, start_seq=(1 << 32) - 200, size=600_000)


BURST = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
for _ in range(int(sys.argv[3])):
    s.sendto(b"x" * 64, (sys.argv[2], 9))
"""


def test_stalled_daemon_shows_the_kernels_tun_drops(topology):
    """While uipsecd does not read its TUN device (stopped here with SIGSTOP), the kernel drops
    what the device's queue has no room for; `uipsec stats` shows those as tun.rx_kernel_drops,
    and the tunnel works again once uipsecd runs."""
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=1).returncode == 0
    assert a.stats()["io"]["tun.rx_kernel_drops"] == 0, a.stats()["io"]
    sent = 3000  # the device's queue holds 500 (its tx_queue_len)
    os.kill(a.process.pid, signal.SIGSTOP)
    try:
        pair.a.run(["/usr/bin/python3", "-c", BURST, h.A_INNER4, h.B_INNER4, str(sent)])
    finally:
        os.kill(a.process.pid, signal.SIGCONT)
    io = a.stats()["io"]
    assert 1000 <= io["tun.rx_kernel_drops"] <= sent, io
    assert b.stats()["io"]["tun.rx_kernel_drops"] == 0
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=1).returncode == 0
    h.log(f"   {io['tun.rx_kernel_drops']} of {sent} datagrams dropped by the kernel "
          "while uipsecd was stopped")
    for daemon in (a, b):
        assert daemon.stop() == 0, daemon.output()


if __name__ == "__main__":
    h.main([test_gcm_ipv4, test_chacha_ipv6_inside_ipv4, test_cbc_ipv4_inside_ipv6,
            test_gcm_ipv6_inside_ipv6, test_esn_crosses_two_to_the_32,
            test_stalled_daemon_shows_the_kernels_tun_drops])
