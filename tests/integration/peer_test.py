#!/usr/bin/python3
"""uipsec <-> an ESP implementation uipsec did not write: scapy's ESP layer (esp_peer.py) on host B
behind its own TUN device. Symmetric bugs (the same mistake when sealing and opening) cannot pass
these: ping and a TCP transfer with a checksum, for AES-GCM, ChaCha20-Poly1305 and AES-CBC with
HMAC-SHA-256, IPv4 and IPv6 inside and outside, and ESN with the sequence crossing 2^32."""

import os
import subprocess
import sys

import harness as h

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "esp_peer.py")


def start_peer(pair, suite, keys, outer6, inner6, esn, start_seq, port=4500, seq_out=None,
               log_name="peer.log"):
    a_out, b_out = (h.A_OUTER6, h.B_OUTER6) if outer6 else (h.A_OUTER4, h.B_OUTER4)
    a_net = h.A_NET6 if inner6 else h.A_NET4
    args = ["/usr/bin/python3", PEER, "--tun", "peer0", "--local", b_out, "--remote", a_out,
            "--route", a_net, "--suite", h.SUITES[suite][1],
            "--spi-out", "0x1002", "--spi-in", "0x1001", "--port", str(port)]
    if suite == "aes-cbc-sha256":
        args += ["--key-out", keys(16, "ba"), "--auth-key-out", keys(32, "ba"),
                 "--key-in", keys(16, "ab"), "--auth-key-in", keys(32, "ab")]
    else:
        size = 36 if suite == "chacha20-poly1305" else 20
        args += ["--key-out", keys(size, "ba"), "--key-in", keys(size, "ab")]
    if esn:
        args += ["--esn", "--seq-out", hex(start_seq), "--seq-in", hex(start_seq)]
    elif seq_out is not None:
        args += ["--seq-out", hex(seq_out)]
    log = open(os.path.join(pair.workdir, log_name), "w")
    peer = pair.b.popen(args, stdout=subprocess.PIPE, stderr=log)
    line = peer.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"esp_peer did not start: {line!r}; see {log.name}")
    return peer


def check_peer(topology, suite, outer6=False, inner6=False, esn=False, start_seq=0,
               size=200_000):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a",
                 h.tunnel_config("a", suite, keys, outer6, inner6, esn, start_seq, start_seq),
                 uipsecd, uipsec)
    peer = start_peer(pair, suite, keys, outer6, inner6, esn, start_seq)
    a_in, b_in = (h.A_INNER6, h.B_INNER6) if inner6 else (h.A_INNER4, h.B_INNER4)
    result = h.ping(pair.a, a_in, b_in)
    assert result.returncode == 0, f"ping failed:\n{result.stdout}\n{a.output()}"
    # Both directions carry data: A -> scapy, then scapy's side -> A.
    for client, server, c_addr, s_addr in ((pair.a, pair.b, a_in, b_in),
                                           (pair.b, pair.a, b_in, a_in)):
        sent, received, count = h.tcp_transfer(client, server, c_addr, s_addr, size)
        assert count == size and sent == received, f"transfer: {count} of {size}, {received}"
    stats = a.stats()
    assert stats["drops"]["auth-failed"] == 0 and stats["drops"]["bad-padding"] == 0, stats
    sas = {sa["config"]["spi"]: sa for sa in a.cli("state", "list", json_output=True)}
    if esn:
        assert sas[0x1001]["outbound_sequence"] > (1 << 32), sas[0x1001]
        assert sas[0x1002]["inbound_sequence"] > (1 << 32), sas[0x1002]
    h.log(f"   {suite} outer{'6' if outer6 else '4'} inner{'6' if inner6 else '4'}: "
          f"{size} bytes each way, sha256 ok; uipsec opened {stats['opened']}, "
          f"sealed {stats['sealed']}")
    peer.terminate()
    peer.wait(timeout=10)


def test_gcm(topology):
    check_peer(topology, "aes-gcm")


def test_chacha(topology):
    check_peer(topology, "chacha20-poly1305")


def test_cbc_sha256(topology):
    check_peer(topology, "aes-cbc-sha256")


def test_gcm_ipv6_inside(topology):
    check_peer(topology, "aes-gcm", inner6=True)


def test_chacha_ipv6_outside(topology):
    check_peer(topology, "chacha20-poly1305", outer6=True)


def test_cbc_ipv6_both(topology):
    check_peer(topology, "aes-cbc-sha256", outer6=True, inner6=True)


def test_esn_crosses_two_to_the_32(topology):
    check_peer(topology, "aes-gcm", esn=True, start_seq=(1 << 32) - 100)


def test_esn_cbc_crosses_two_to_the_32(topology):
    # CBC+HMAC puts the ESN high half behind the ICV input rather than in the AAD.
    check_peer(topology, "aes-cbc-sha256", esn=True, start_seq=(1 << 32) - 100)


def test_follow_peer_after_a_rebinding(topology):
    """The peer's NAT rebinds it to a new source port (here: scapy's peer restarts on port 31000,
    its sequence numbers going on). With `flag follow-peer` uipsecd moves both SAs there after
    the first authentic packet from the new port, and the tunnel carries traffic again without a
    rekey; the SA listing shows the new port."""
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    config = h.tunnel_config("a", "aes-gcm", keys).replace("mode tunnel ",
                                                           "mode tunnel flag follow-peer ")
    assert config.count("follow-peer") == 2, config
    a = h.Daemon(pair.a, pair.workdir, "a", config, uipsecd, uipsec)
    peer = start_peer(pair, "aes-gcm", keys, False, False, False, 0)
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, f"ping failed:\n{result.stdout}\n{a.output()}"
    peer.terminate()
    peer.wait(timeout=10)

    # The "rebound" peer: same keys and SPIs, a new source port, sequence numbers beyond the
    # old ones so that uipsecd's replay window takes them.
    peer = start_peer(pair, "aes-gcm", keys, False, False, False, 0, port=31000, seq_out=1000,
                      log_name="peer-rebound.log")
    # B speaks first (A still sends to port 4500, where nobody listens now); A's replies follow
    # once the mapping moved the SAs.
    result = h.ping(pair.b, h.B_INNER4, h.A_INNER4, count=10)
    replies = int(result.stdout.split(" received")[0].rsplit(" ", 1)[-1]) if " received" in \
        result.stdout else 0
    assert replies >= 5, f"{replies} of 10 replies after the rebinding:\n{result.stdout}\n" \
        f"{a.output()}"
    sas = {sa["config"]["spi"]: sa for sa in a.cli("state", "list", json_output=True)}
    out_encap = sas[0x1001]["config"]["endpoints"]["encapsulation"]
    in_encap = sas[0x1002]["config"]["endpoints"]["encapsulation"]
    assert out_encap["destination_port"] == 31000, sas[0x1001]
    assert in_encap["source_port"] == 31000, sas[0x1002]
    h.log(f"   rebinding to port 31000 followed: {replies} of 10 pings answered")
    peer.terminate()
    peer.wait(timeout=10)


if __name__ == "__main__":
    h.main([test_gcm, test_chacha, test_cbc_sha256, test_gcm_ipv6_inside,
            test_chacha_ipv6_outside, test_cbc_ipv6_both, test_esn_crosses_two_to_the_32,
            test_esn_cbc_crosses_two_to_the_32, test_follow_peer_after_a_rebinding])
