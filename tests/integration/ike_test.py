#!/usr/bin/python3
"""The IKE side of uipsecd's sockets: a control client registers as the IKE handler and gets the
IKE messages a peer sends to port 500 and to port 4500 (non-ESP marker removed), with their
endpoints and payload; it sends messages back through uipsecd (the marker added on 4500 only);
ESP keeps flowing meanwhile; a second registration is refused while the first connection lives,
and once it closes, IKE datagrams are counted drops (ike-no-handler) again. The IKE port itself:
taken by another process, an explicit uipsec.ike_port stops start-up with a message naming the
port and the cause, the default one is a warning and `uipsec stats` says ike-port.open 0;
ike_port = 0 runs without the socket."""

import json
import os
import re
import select
import socket
import struct
import subprocess
import time

import harness as h

# The peer in B: binds UDP sockets on ports 5500 (to A's 500) and 5501 (to A's 4500), sends what
# its arguments say, then prints every datagram it receives as "PORT HEX" until stdin closes.
PEER = r"""
import select, socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
socks = {}
for port in (5500, 5501):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], port))
    socks[port] = s
print("ready", flush=True)
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "send":
        socks[int(words[1])].sendto(bytes.fromhex(words[3]), (sys.argv[2], int(words[2])))
    elif words[0] == "recv":
        r, _, _ = select.select(list(socks.values()), [], [], 5)
        if not r:
            print("timeout", flush=True)
            continue
        data, _ = r[0].recvfrom(65535)
        print(r[0].getsockname()[1], data.hex(), flush=True)
"""


class ControlClient:
    """A minimal client of docs/CONTROL_PROTOCOL.md: requests, answers and events."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.next_id = 1
        self.events = []

    def _read(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return None
        header = self.sock.recv(4, socket.MSG_WAITALL)
        if len(header) < 4:
            raise EOFError("uipsecd closed the connection")
        length, = struct.unpack(">I", header)
        return json.loads(self.sock.recv(length, socket.MSG_WAITALL))

    def call(self, op, args=None):
        request_id = self.next_id
        self.next_id += 1
        body = json.dumps({"id": request_id, "op": op, "args": args or {}}).encode()
        self.sock.sendall(struct.pack(">I", len(body)) + body)
        while True:
            message = self._read(10)
            if message is None:
                raise TimeoutError(f"no answer to {op}")
            if "event" in message:
                self.events.append(message)
            elif message["id"] == request_id:
                return message

    def event(self, kind, timeout=5):
        for i, message in enumerate(self.events):
            if message["event"] == kind:
                return self.events.pop(i)
        while True:
            message = self._read(timeout)
            if message is None:
                raise TimeoutError(f"no {kind} event")
            if message.get("event") == kind:
                return message
            if "event" in message:
                self.events.append(message)

    def close(self):
        self.sock.close()


def endpoint(address, port):
    return {"address": address, "port": port}


def test_ike_handler_receives_and_sends(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4).returncode == 0, "tunnel before IKE"

    handler = ControlClient(a.socket)
    assert handler.call("hello", {"protocol": 3, "client": "ike_test"})["ok"]
    answer = handler.call("ike.register")
    assert answer["ok"], answer
    second = ControlClient(a.socket)
    refused = second.call("ike.register")
    assert not refused["ok"] and "only one may register" in refused["error"], refused
    # Anyone may send, though; a bad port is refused with a reason.
    bad = second.call("ike.send", {"local": endpoint(h.A_OUTER4, 4501),
                                   "remote": endpoint(h.B_OUTER4, 5500), "payload": "00"})
    assert not bad["ok"] and "neither the NAT-T port (4500) nor the IKE port (500)" in \
        bad["error"], bad

    for outer_a, outer_b in ((h.A_OUTER4, h.B_OUTER4), (h.A_OUTER6, h.B_OUTER6)):
        peer = pair.b.popen(["/usr/bin/python3", "-c", PEER, outer_b, outer_a],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        topology.processes.append(peer)
        assert peer.stdout.readline().strip() == "ready"

        def peer_do(line):
            peer.stdin.write(line + "\n")
            peer.stdin.flush()

        ike_500 = os.urandom(8) + bytes([0x21, 0x20, 0x22, 0x08]) + os.urandom(60)
        ike_4500 = os.urandom(8) + bytes([0x21, 0x20, 0x23, 0x08]) + os.urandom(300)
        peer_do(f"send 5500 500 {ike_500.hex()}")
        got = handler.event("ike.message")
        assert got["local"] == endpoint(outer_a, 500), got
        assert got["remote"] == endpoint(outer_b, 5500), got
        assert bytes.fromhex(got["payload"]) == ike_500
        peer_do("send 5501 4500 " + (bytes(4) + ike_4500).hex())
        got = handler.event("ike.message")
        assert got["local"] == endpoint(outer_a, 4500), got
        assert got["remote"] == endpoint(outer_b, 5501), got
        assert bytes.fromhex(got["payload"]) == ike_4500, "the marker is removed"

        # ESP keeps flowing while IKE goes both ways.
        assert h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=2).returncode == 0

        reply_500, reply_4500 = os.urandom(90), os.urandom(500)
        for local_port, remote_port, payload in ((500, 5500, reply_500),
                                                 (4500, 5501, reply_4500)):
            sent = handler.call("ike.send", {"local": endpoint(outer_a, local_port),
                                             "remote": endpoint(outer_b, remote_port),
                                             "payload": payload.hex()})
            assert sent["ok"], sent
        received = {}
        for _ in range(2):
            peer_do("recv")
            port, data = peer.stdout.readline().split()
            received[int(port)] = bytes.fromhex(data)
        assert received[5500] == reply_500, "port 500: as it is"
        assert received[5501] == bytes(4) + reply_4500, "port 4500: with the non-ESP marker"
        # The same by hand: `uipsec ike send`.
        by_hand = os.urandom(40)
        a.cli("ike", "send", "src", outer_a, "sport", "4500", "dst", outer_b, "dport", "5501",
              by_hand.hex())
        peer_do("recv")
        port, data = peer.stdout.readline().split()
        assert (int(port), bytes.fromhex(data)) == (5501, bytes(4) + by_hand)
        peer.stdin.close()
        peer.wait(timeout=10)

    stats = a.stats()
    assert stats["io"]["ike-port.open"] == 1 and stats["io"]["ike-port.port"] == 500, stats["io"]
    assert stats["io"]["ike.rx_packets"] == 4, stats["io"]
    assert stats["io"]["ike.tx_packets"] == 6, stats["io"]
    assert stats["drops"]["ike-no-handler"] == 0
    assert stats["ike"] >= 4

    # The registration ends with its connection: while nobody is registered, IKE datagrams are
    # counted drops, and another client may register.
    handler.close()
    second.close()
    time.sleep(0.3)  # uipsecd sees the connections close
    before = a.stats()["drops"]["ike-no-handler"]
    sender = ("import socket,sys\n"
              "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
              "s.sendto(bytes(range(1,41)),(sys.argv[1],500))\n"
              "s.sendto(bytes(4)+bytes(range(1,41)),(sys.argv[1],4500))\n")
    pair.b.run(["/usr/bin/python3", "-c", sender, h.A_OUTER4])
    h.wait_for(lambda: a.stats()["drops"]["ike-no-handler"] == before + 2, timeout=5,
               what="IKE without a handler to be counted")
    third = ControlClient(a.socket)
    assert third.call("ike.register")["ok"], "the first registration ended with its connection"
    third.close()
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=2).returncode == 0, "tunnel after IKE"
    h.stop_cleanly(pair, a, b)


# Holds UDP port 500 on all IPv4 addresses (as an IKE daemon would) until stdin closes.
HOLDER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 500))
print("holding", flush=True)
sys.stdin.read()
"""


def hold_port_500(topology, ns):
    holder = ns.popen(["/usr/bin/python3", "-c", HOLDER], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE)
    topology.processes.append(holder)
    assert holder.stdout.readline().strip() == "holding"
    return holder


def release(holder):
    holder.stdin.close()
    holder.wait(timeout=10)


def test_ike_port_taken(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    holder = hold_port_500(topology, pair.a)

    # Named in the configuration: start-up stops, saying which port, why, and what to do.
    explicit = h.tunnel_config("a", "aes-gcm", keys, extra_uipsec="ike_port = 500")
    try:
        h.Daemon(pair.a, pair.workdir, "a-explicit", explicit, uipsecd, uipsec)
        raise AssertionError("uipsecd started although uipsec.ike_port = 500 was taken")
    except RuntimeError as e:
        text = str(e)
    h.log(f"   explicit ike_port = 500, taken: {text.strip().splitlines()[-1]}")
    assert "exited" in text, text  # uipsecd stopped
    assert "uipsec.ike_port = 500" in text and "Address already in use" in text, text
    assert "uipsec.ike_port = 0" in text, text

    # The default: a warning, the tunnel works, and the statistics say the socket is not open.
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4).returncode == 0, a.output()
    io = a.stats()["io"]
    assert io["ike-port.open"] == 0 and io["ike-port.port"] == 500, io
    assert "going on without the IKE socket" in a.output(), a.output()
    shown = a.cli("stats").stdout
    assert re.search(r"ike-port\.open\s+0", shown), shown
    h.stop_cleanly(pair, a, b)
    release(holder)


def test_ike_port_zero(topology):
    # ike_port = 0: no IKE socket, nothing said about it; port 500 stays free for others.
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a",
                 h.tunnel_config("a", "aes-gcm", keys, extra_uipsec="ike_port = 0"), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4).returncode == 0, a.output()
    io = a.stats()["io"]
    assert io["ike-port.open"] == 0 and io["ike-port.port"] == 0, io
    assert "ike_port" not in a.output(), a.output()
    refused = a.cli("ike", "send", "src", h.A_OUTER4, "sport", "500", "dst", h.B_OUTER4, "dport",
                    "500", "00", check=False)
    assert refused.returncode != 0 and "the IKE port is off" in refused.stdout, \
        refused
    holder = hold_port_500(topology, pair.a)  # free: uipsecd did not bind it
    release(holder)
    h.stop_cleanly(pair, a, b)


if __name__ == "__main__":
    h.main([test_ike_handler_receives_and_sends, test_ike_port_taken, test_ike_port_zero])
