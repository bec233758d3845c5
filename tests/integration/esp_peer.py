#!/usr/bin/python3
"""An ESP peer that uipsec did not write: scapy's ESP layer (scapy.layers.ipsec) behind a TUN
device of its own, exchanging ESP in UDP (RFC 3948) or raw ESP with a uipsecd.

Runs inside a network namespace: it creates the TUN device, gives it an address, and forwards
  TUN -> scapy SecurityAssociation.encrypt -> UDP socket (or raw IP protocol 50 socket)
  UDP socket -> scapy SecurityAssociation.decrypt -> TUN
until it is terminated. It prints "ready" once the TUN device is up, and a summary on exit.

ESN: scapy 2.5 omits the ESN high half from the ICV input of ESP with a separate integrity
algorithm (fix_scapy_esn_icv() puts it in, per RFC 4303). scapy also takes the high half of the sequence number from the SA object, so this peer keeps
the 64-bit counters itself: outbound it sets seq_num/esn before each packet; inbound it infers
the high half from the highest number seen (RFC 4303 App. A with a window of 2^31).
"""

import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import sys

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP, AuthAlgo, IPSecIntegrityError, SecurityAssociation

TUNSETIFF = 0x400454ca
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

SUITES = {
    # name: (scapy crypt_algo, scapy auth_algo)
    "aes-gcm": ("AES-GCM", None),
    "chacha20-poly1305": ("CHACHA20-POLY1305", None),
    "aes-cbc-sha256": ("AES-CBC", "SHA2-256-128"),
}


# The ESN high half of the packet being sealed or opened, for fix_scapy_esn_icv().
ESN_HIGH = {"value": None}


def fix_scapy_esn_icv():
    """scapy 2.5 leaves the ESN high half out of the ICV of ESP with a separate integrity
    algorithm (SecurityAssociation calls AuthAlgo.sign/verify without it; only AH uses it),
    against RFC 4303 §2.2.1 / §3.3.2.1 and what Linux (authencesn) and uipsec do. This appends
    ESN_HIGH["value"] to the ICV input of ESP, so that CBC/CTR + HMAC with ESN interoperate;
    the cipher, the HMAC and everything else stay scapy's own."""
    original_sign, original_verify = AuthAlgo.sign, AuthAlgo.verify

    def sign(self, pkt, key, esn_en=False, esn=0):
        if not (self.mac and ESN_HIGH["value"] is not None and pkt.haslayer(ESP)):
            return original_sign(self, pkt, key, esn_en, esn)
        mac = self.new_mac(key)
        mac.update(bytes(pkt[ESP]) + struct.pack("!L", ESN_HIGH["value"]))
        pkt[ESP].data += mac.finalize()[:self.icv_size]
        return pkt

    def verify(self, pkt, key, esn_en=False, esn=0):
        if not (self.mac and self.icv_size and ESN_HIGH["value"] is not None and
                isinstance(pkt, ESP)):
            return original_verify(self, pkt, key, esn_en, esn)
        icv = pkt.data[len(pkt.data) - self.icv_size:]
        clone = pkt.copy()
        clone.data = clone.data[:len(clone.data) - self.icv_size]
        mac = self.new_mac(key)
        mac.update(bytes(clone) + struct.pack("!L", ESN_HIGH["value"]))
        if mac.finalize()[:self.icv_size] != icv:
            raise IPSecIntegrityError("ICV mismatch (with the ESN high half)")

    AuthAlgo.sign, AuthAlgo.verify = sign, verify


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def ip_header(src, dst, payload=None):
    header = IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)
    return header if payload is None else header / payload


def infer_high(seq_low, top):
    """RFC 4303 Appendix A2.2 with a window of 2^31 (no anti-replay here)."""
    window = 1 << 31
    tl, th = top & 0xFFFFFFFF, top >> 32
    if tl >= window - 1:
        return th if seq_low >= tl - window + 1 else th + 1
    if seq_low >= (tl - window + 1) % (1 << 32):
        return th - 1 if th > 0 else th
    return th


def make_sa(args, spi, key, auth_key, local, remote, outbound):
    crypt, auth = SUITES[args.suite]
    nat_t = None
    if args.encap == "udp":
        nat_t = UDP(sport=args.port, dport=args.peer_port) if outbound else UDP(
            sport=args.peer_port, dport=args.port)
    return SecurityAssociation(
        ESP, spi=spi, crypt_algo=crypt, crypt_key=bytes.fromhex(key),
        auth_algo=auth, auth_key=bytes.fromhex(auth_key) if auth_key else None,
        tunnel_header=ip_header(local, remote) if outbound else ip_header(remote, local),
        nat_t_header=nat_t, esn_en=args.esn, esn=0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tun", required=True)
    p.add_argument("--tun-address", action="append", default=[])
    p.add_argument("--route", action="append", default=[], help="prefix routed into the TUN")
    p.add_argument("--local", required=True)
    p.add_argument("--remote", required=True)
    p.add_argument("--encap", choices=["udp", "raw"], default="udp")
    p.add_argument("--port", type=int, default=4500)
    p.add_argument("--peer-port", type=int, default=4500)
    p.add_argument("--suite", choices=sorted(SUITES), required=True)
    p.add_argument("--spi-out", type=lambda s: int(s, 0), required=True)
    p.add_argument("--spi-in", type=lambda s: int(s, 0), required=True)
    p.add_argument("--key-out", required=True)
    p.add_argument("--key-in", required=True)
    p.add_argument("--auth-key-out", default="")
    p.add_argument("--auth-key-in", default="")
    p.add_argument("--esn", action="store_true")
    p.add_argument("--seq-out", type=lambda s: int(s, 0), default=0, help="last number sent")
    p.add_argument("--seq-in", type=lambda s: int(s, 0), default=0, help="highest received")
    args = p.parse_args()
    if args.esn:
        fix_scapy_esn_icv()

    tun = open_tun(args.tun)
    for address in args.tun_address:
        extra = ["nodad"] if ":" in address else []
        os.system(" ".join(["ip", "addr", "add", address, "dev", args.tun] + extra))
    os.system(f"ip link set {args.tun} up mtu 1400")
    for prefix in args.route:
        os.system(f"ip route add {prefix} dev {args.tun}")

    family = socket.AF_INET6 if ":" in args.local else socket.AF_INET
    if args.encap == "udp":
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((args.local, args.port))
    else:
        sock = socket.socket(family, socket.SOCK_RAW, 50)
        sock.bind((args.local, 0))

    sa_out = make_sa(args, args.spi_out, args.key_out, args.auth_key_out, args.local, args.remote,
                     True)
    sa_in = make_sa(args, args.spi_in, args.key_in, args.auth_key_in, args.local, args.remote,
                    False)
    seq_out, top_in = args.seq_out, args.seq_in
    counts = {"sent": 0, "received": 0, "rejected": 0}

    def stop(signum, frame):
        print(f"esp_peer: {counts}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)

    while True:
        readable, _, _ = select.select([tun, sock], [], [])
        if tun in readable:
            data = os.read(tun, 65536)
            inner = IPv6(data) if data[0] >> 4 == 6 else IP(data)
            seq_out += 1
            sa_out.seq_num = seq_out & 0xFFFFFFFF
            sa_out.esn = seq_out >> 32
            ESN_HIGH["value"] = seq_out >> 32 if args.esn else None
            packet = sa_out.encrypt(inner)
            esp_bytes = bytes(packet[ESP])
            sock.sendto(esp_bytes, (args.remote, args.peer_port if args.encap == "udp" else 0))
            counts["sent"] += 1
        if sock in readable:
            data, _ = sock.recvfrom(65536)
            if args.encap == "raw" and family == socket.AF_INET:
                data = data[(data[0] & 0x0F) * 4:]  # raw IPv4 sockets deliver the IP header
            if len(data) == 1 and data[0] == 0xFF:
                continue
            seq_low = struct.unpack("!I", data[4:8])[0]
            high = infer_high(seq_low, top_in) if args.esn else 0
            sa_in.esn = high
            ESN_HIGH["value"] = high if args.esn else None
            outer = ip_header(args.remote, args.local)
            if args.encap == "udp":
                outer = outer / UDP(sport=args.peer_port, dport=args.port)
            try:
                inner = sa_in.decrypt(outer / ESP(data))
            except Exception as error:  # scapy raises on a bad ICV or padding
                counts["rejected"] += 1
                print(f"esp_peer: rejected packet: {error}", flush=True)
                continue
            top_in = max(top_in, (high << 32) | seq_low)
            os.write(tun, bytes(inner))
            counts["received"] += 1


if __name__ == "__main__":
    main()
