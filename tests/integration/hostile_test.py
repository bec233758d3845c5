#!/usr/bin/python3
"""Hostile input from a crafted sender: truncated, malformed, replayed and forged ESP, an unknown
SPI, wrong padding, a wrong next header, keepalives and non-ESP-marker datagrams. Each is a counted
drop (or the documented handling) in `uipsec stats`, and the tunnel keeps working."""

import os
import struct
import subprocess
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import harness as h

SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5555))
s.sendto(bytes.fromhex(sys.argv[3]), (sys.argv[2], 4500))
"""


def inner_udp(src, dst, payload=b"hostile"):
    """An IPv4/UDP packet (UDP checksum 0: allowed for IPv4)."""
    udp = struct.pack("!HHHH", 4000, 4001, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                         bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    checksum = 0
    for i in range(0, 20, 2):
        checksum += (header[i] << 8) | header[i + 1]
    while checksum >> 16:
        checksum = (checksum & 0xFFFF) + (checksum >> 16)
    header = header[:10] + struct.pack("!H", ~checksum & 0xFFFF) + header[12:]
    return header + udp


def seal_gcm(key_salt, spi, seq, data, padding=None, next_header=4):
    """An ESP packet under AES-GCM (RFC 4106) built here, independently of uipsec: `padding`
    replaces the monotonic 1, 2, 3, ... when given."""
    if padding is None:
        length = (4 - (len(data) + 2) % 4) % 4
        padding = bytes(range(1, length + 1))
    plaintext = data + padding + bytes([len(padding), next_header])
    iv = os.urandom(8)
    header = struct.pack("!II", spi, seq)
    sealed = AESGCM(key_salt[:-4]).encrypt(key_salt[-4:] + iv, plaintext, header)
    return header + iv + sealed


def test_hostile_datagrams_are_counted_drops(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    # B's real traffic starts at sequence number 100001, far above the crafted packets below (which
    # use the real key, as an attacker who had it could): they must not hold up the tunnel.
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys, out_seq=100_000),
                 uipsecd, uipsec)
    key_ba = bytes.fromhex(keys(20, "ba"))  # B -> A, SPI 0x1002: what A opens
    inner = inner_udp(h.B_INNER4, h.A_INNER4)

    def send(payload):
        pair.b.run(["/usr/bin/python3", "-c", SENDER, h.B_OUTER4, h.A_OUTER4, payload.hex()])

    # Outbound drops are not about the crafted datagrams: the kernel may route a packet of its
    # own (an IPv6 router solicitation or MLD report) into A's TUN device at any time, and it is
    # a counted `no-policy` drop there. Only what the inbound path counts is compared.
    outbound_only = {"no-policy"}

    def inbound_changes(before, after):
        changed = {k: after["drops"][k] - before["drops"][k] for k in after["drops"]
                   if after["drops"][k] != before["drops"][k] and k not in outbound_only}
        if after["opened"] != before["opened"]:
            changed["opened"] = after["opened"] - before["opened"]
        return changed

    def expect(payload, **deltas):
        before = a.stats()
        send(payload)
        h.wait_for(lambda: inbound_changes(before, a.stats()), timeout=5,
                   what="uipsecd to count the datagram")
        after = a.stats()
        changed = inbound_changes(before, after)
        assert changed == deltas, f"expected {deltas}, got {changed}"
        return after

    expect(b"\xff", **{"nat-keepalive": 1})
    after = expect(b"\x00\x00\x00\x00" + os.urandom(28), **{"ike-no-handler": 1})
    assert after["ike"] >= 1
    expect(b"\x00\x00\x10\x02\x00", truncated=1)
    expect(b"\x00\x00\x00\x07" + os.urandom(20), truncated=1)  # reserved SPI 1..255
    expect(struct.pack("!II", 0x9999, 1) + os.urandom(40), **{"unknown-spi": 1})
    expect(struct.pack("!II", 0x1002, 500) + os.urandom(40), **{"auth-failed": 1})
    expect(seal_gcm(key_ba, 0x1002, 501, inner)[:-1] + b"\x00", **{"auth-failed": 1})
    authentic = seal_gcm(key_ba, 0x1002, 1000, inner)
    expect(authentic, opened=1)
    expect(authentic, **{"replay-duplicate": 1})
    expect(seal_gcm(key_ba, 0x1002, 1001, inner, padding=b"\x01\x02\x09"),
           **{"bad-padding": 1})
    expect(seal_gcm(key_ba, 0x1002, 1002, inner, padding=b"\x01", next_header=17),
           **{"bad-next-header": 1})
    expect(seal_gcm(key_ba, 0x1002, 1003, inner, next_header=59), **{"dummy-packet": 1})
    expect(seal_gcm(key_ba, 0x1002, 1004, os.urandom(40)), **{"bad-inner-packet": 1})
    expect(seal_gcm(key_ba, 0x1002, 1005, inner[:10]), **{"bad-inner-packet": 1})
    expect(seal_gcm(key_ba, 0x1002, 2, inner), **{"replay-too-old": 1})
    # ... and the tunnel still carries traffic both ways.
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, result.stdout
    sent, received, count = h.tcp_transfer(pair.b, pair.a, h.B_INNER4, h.A_INNER4, 200_000)
    assert sent == received and count == 200_000
    for d in (a, b):
        assert d.stop() == 0, d.output()


def test_monitor_reports_ike_acquires_and_expiries(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    monitor = subprocess.Popen([uipsec, "-S", a.socket, "monitor"], stdout=subprocess.PIPE,
                               text=True)
    topology.processes.append(monitor)
    time.sleep(0.2)  # let the subscription reach the daemon before anything happens
    pair.b.run(["/usr/bin/python3", "-c", SENDER, h.B_OUTER4, h.A_OUTER4,
                (b"\x00\x00\x00\x00" + os.urandom(40)).hex()])
    line = monitor.stdout.readline()
    assert line.startswith(f"ike from {h.B_OUTER4}:5555 to {h.A_OUTER4}:4500 (44 bytes"), line
    # Without its outbound SA, A's traffic raises an acquire carrying the packet's selector.
    a.cli("state", "delete", "src", h.A_OUTER4, "dst", h.B_OUTER4, "proto", "esp", "spi", "0x1001")
    h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=1)
    line = monitor.stdout.readline()
    assert line.startswith("acquire reqid 1 policy ") and \
        f"{h.A_INNER4}/32 -> {h.B_INNER4}/32 proto 1" in line, line
    # An SA with a packet limit expires: soft first, then hard.
    a.cli("state", "add", "src", h.A_OUTER4, "dst", h.B_OUTER4, "proto", "esp", "spi", "0x1001",
          "reqid", "1", "mode", "tunnel", "aead", "rfc4106(gcm(aes))", "0x" + keys(20, "ab"),
          "128", "encap", "espinudp", "4500", "4500", "0.0.0.0", "limit", "packet-soft", "2",
          "limit", "packet-hard", "4")
    h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=5)
    lines = [monitor.stdout.readline(), monitor.stdout.readline()]
    assert lines[0].startswith(f"expire soft dst {h.B_OUTER4} spi 0x1001 reqid 1"), lines
    assert lines[1].startswith(f"expire hard dst {h.B_OUTER4} spi 0x1001 reqid 1"), lines
    assert a.stats()["drops"]["sa-expired"] >= 1
    monitor.terminate()
    for d in (a, b):
        assert d.stop() == 0, d.output()


if __name__ == "__main__":
    h.main([test_hostile_datagrams_are_counted_drops,
            test_monitor_reports_ike_acquires_and_expiries])
