#!/usr/bin/python3
"""Throughput of one TCP stream (iperf3, else a Python sender) through a uipsecd <-> uipsecd
tunnel (AES-GCM, IPv4 in IPv4, ESP in UDP) for each offload step, the steps alternating round by
round so that machine noise hits them alike. Not a CTest test: a measurement.

    UIPSECD=build/dev/src/daemon/uipsecd UIPSEC=build/dev/src/cli/uipsec \\
        tests/integration/offload_throughput.py [ROUNDS] [SECONDS]
"""

import os
import shutil
import subprocess
import sys

import harness as h
import offload_test

STEPS = [
    ("0 no offloads", "offload = no\n  udp_gso = no\n  udp_gro = no\n  gro = no"),
    ("1 + TUN TSO split", "offload = yes\n  udp_gso = no\n  udp_gro = no\n  gro = no"),
    ("2 + UDP GSO", "offload = yes\n  udp_gso = yes\n  udp_gro = no\n  gro = no"),
    ("3 + UDP GRO", "offload = yes\n  udp_gso = yes\n  udp_gro = yes\n  gro = no"),
    ("4 + TCP GRO to TUN", "offload = yes\n  udp_gso = yes\n  udp_gro = yes\n  gro = yes"),
]

RECEIVER = (
    "import socket,sys,time\n"
    "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "s.bind((sys.argv[1],5201));s.listen(1);print('listening',flush=True)\n"
    "c,_=s.accept();n=0;t=None\n"
    "while True:\n"
    "  d=c.recv(1<<20)\n"
    "  if not d: break\n"
    "  t=t or time.monotonic();n+=len(d)\n"
    "print(n*8/(time.monotonic()-t)/1e9,flush=True)\n")
SENDER = (
    "import socket,sys,time\n"
    "s=socket.socket();s.connect((sys.argv[1],5201));b=bytes(1<<20)\n"
    "end=time.monotonic()+float(sys.argv[2])\n"
    "while time.monotonic()<end: s.sendall(b)\n"
    "s.close()\n")


def python_throughput(pair, address, seconds):
    server = pair.b.popen([sys.executable, "-c", RECEIVER, address], stdout=subprocess.PIPE)
    assert server.stdout.readline().strip() == "listening"
    pair.a.run([sys.executable, "-c", SENDER, address, str(seconds)], timeout=seconds + 30)
    return float(server.stdout.readline())


def measure(extra, seconds):
    with h.Topology("thr") as topology:
        pair = h.Pair(topology)
        keys = h.Keys()
        uipsecd, uipsec = h.binaries()
        daemons = [h.Daemon(ns, pair.workdir, side,
                            h.tunnel_config(side, "aes-gcm", keys, extra_uipsec=extra),
                            uipsecd, uipsec)
                   for ns, side in ((pair.a, "a"), (pair.b, "b"))]
        h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=1)
        if shutil.which("iperf3"):
            gbits = offload_test.iperf_throughput(pair, h.B_INNER4, seconds)
        else:
            gbits = python_throughput(pair, h.B_INNER4, seconds)
        for daemon in daemons:
            daemon.stop()
        return gbits


def main():
    h.require_root()
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    results = {name: [] for name, _ in STEPS}
    for r in range(rounds):
        for name, extra in STEPS:
            gbits = measure(extra, seconds)
            results[name].append(gbits)
            h.log(f"round {r} {name}: " + (f"{gbits:.2f} Gbit/s" if gbits else "failed"))
    h.log(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    for name, values in results.items():
        ok = sorted(v for v in values if v)
        median = f"median {ok[len(ok) // 2]:.2f}" if ok else "no result"
        h.log(f"{name:22} {median}  ({' '.join(f'{v:.2f}' for v in values if v)})")


if __name__ == "__main__":
    main()
