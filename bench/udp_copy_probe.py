#!/usr/bin/python3
"""What the kernel charges a UDP GSO sender per byte when its receiver runs on the same vCPU and
when it runs on the other one (docs/BENCHMARKS.md, "Eighth to tenth run").

    python3 bench/udp_copy_probe.py [--seconds 3] [--rounds 3] [--segment 1438] [--segments 45]

No uipsec involved: one process sends trains of `--segments` datagrams of `--segment` bytes (one
iovec each, a UDP_SEGMENT cmsg, as uipsecd's sender does) over the loopback device of a network
namespace it creates, to a receiver with UDP_GRO that drains them as fast as it can. It reports the
sender's system time per byte (the copy into the socket buffer and the loopback's delivery to
the receiving socket, both of which run in the sender's context) with the receiver pinned to the
sender's vCPU and to another, in alternating rounds. Needs root (a network namespace) and two
vCPUs.
"""

import argparse
import os
import resource
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

SOL_UDP = 17
UDP_SEGMENT = 103
UDP_GRO = 104
PORT = 4500
SO_SNDBUFFORCE = 32  # not in Python's socket module
SO_RCVBUFFORCE = 33


def receiver(sock):
    buf = bytearray(65536)
    while True:
        sock.recv_into(buf)


def one_round(seconds, segment, segments, same_cpu):
    """Sender system-time nanoseconds per byte for one round."""
    cpus = sorted(os.sched_getaffinity(0))
    sender_cpu, receiver_cpu = cpus[0], (cpus[0] if same_cpu else cpus[1])
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(SOL_UDP, UDP_GRO, 1)
    rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    rx.bind(("127.0.0.1", PORT))
    child = os.fork()
    if child == 0:
        os.sched_setaffinity(0, {receiver_cpu})
        try:
            receiver(rx)
        finally:
            os._exit(0)
    rx.close()
    try:
        os.sched_setaffinity(0, {sender_cpu})
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 8 << 20)
        tx.connect(("127.0.0.1", PORT))
        # Separate buffers, as pool buffers are: one iovec per datagram.
        buffers = [memoryview(bytearray(b"\x5a" * 2048))[:segment] for _ in range(segments)]
        control = [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", segment))]
        sent = 0
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sent += tx.sendmsg(buffers, control)  # blocks while the socket buffer is full
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        tx.close()
        if sent == 0:
            raise RuntimeError("nothing was sent")
        return (r1.ru_stime - r0.ru_stime) * 1e9 / sent
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        os.sched_setaffinity(0, set(cpus))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--segment", type=int, default=1438, help="datagram size, bytes")
    parser.add_argument("--segments", type=int, default=45, help="datagrams per send")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seconds <= 0 or args.rounds < 1:
        parser.error("--seconds must be above 0 and --rounds at least 1")
    if not 1 <= args.segment <= 2048 or not 1 <= args.segments <= 64:
        parser.error("--segment must be 1-2048 bytes and --segments 1-64 (the kernel's lower limit)")
    if args.segment * args.segments > 65507:
        parser.error("--segment x --segments must stay within one UDP payload (65507 bytes)")

    if not args.inside:
        if len(os.sched_getaffinity(0)) < 2:
            sys.exit("udp_copy_probe: needs two vCPUs")
        namespace = f"uipsec-copyprobe-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", namespace], check=True)
        try:
            subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
            result = subprocess.run(["ip", "netns", "exec", namespace, sys.executable,
                                     os.path.abspath(__file__), "--inside"] + sys.argv[1:])
            sys.exit(result.returncode)
        finally:
            subprocess.run(["ip", "netns", "del", namespace])

    results = {True: [], False: []}
    for r in range(args.rounds):
        for same in (r % 2 == 0, r % 2 != 0):
            ns = one_round(args.seconds, args.segment, args.segments, same)
            results[same].append(ns)
            print(f"round {r + 1}: receiver on the {'same' if same else 'other'} vCPU: "
                  f"{ns:.3f} ns of sender system time per byte", flush=True)
    same, other = statistics.median(results[True]), statistics.median(results[False])
    print(f"median: same vCPU {same:.3f} ns/byte, other vCPU {other:.3f} ns/byte "
          f"({other / same:.2f}x)")


if __name__ == "__main__":
    main()
