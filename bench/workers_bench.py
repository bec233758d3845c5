#!/usr/bin/python3
"""Throughput of a uipsecd <-> uipsecd tunnel with 1, 2, 4, ... workers per daemon
(uipsec.workers), the settings alternating round by round so that machine noise hits them alike.
A measurement for machines with many cores, not a test (docs/BENCHMARKS.md "Several workers").

Traffic: STREAMS TCP streams (iperf3, one server port each) from A's inner address to B's, AES-128-GCM,
ESP in UDP over a veth pair. Two layouts:
  sas=N   one SA pair per stream: policies select TCP port 5201+k (reqid k+1), so the streams
          land on different SAs and B's SPI steering spreads them over B's workers
  sas=1   every stream through one SA pair (one SA is opened by one worker at a time: its
          replay window keeps order)

    UIPSECD=build/release/src/daemon/uipsecd UIPSEC=build/release/src/cli/uipsec \\
        bench/workers_bench.py [--workers 1,2,4] [--streams 4] [--rounds 2] [--seconds 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness as h  # noqa: E402

BASE_PORT = 5201


def config(side, keys, workers, streams, per_stream_sas, busy_poll=None):
    a_out, b_out = h.A_OUTER4, h.B_OUTER4
    pairs = streams if per_stream_sas else 1
    states, policies = [], []
    local, remote = (a_out, b_out) if side == "a" else (b_out, a_out)
    local_host, remote_host = ((h.A_INNER4, h.B_INNER4) if side == "a"
                               else (h.B_INNER4, h.A_INNER4))
    for k in range(pairs):
        reqid = k + 1
        # Consecutive SPIs per direction, so that SPI % workers spreads them evenly.
        for direction, src, dst, spi in (("ab", a_out, b_out, 0x2000 + k),
                                         ("ba", b_out, a_out, 0x3000 + k)):
            key = keys(20, f"{direction}{k}")
            states.append(f"    s{direction}{k} = src {src} dst {dst} proto esp spi 0x{spi:x} "
                          f"reqid {reqid} mode tunnel replay-window 1024 "
                          f"aead 'rfc4106(gcm(aes))' 0x{key} 128 encap espinudp 4500 4500 0.0.0.0")
        if per_stream_sas:
            port = BASE_PORT + k
            # A is the client (ephemeral port -> 5201+k), B the server.
            out_ports, in_ports = ((f"dport {port}", f"sport {port}") if side == "a"
                                   else (f"sport {port}", f"dport {port}"))
            selector_out = f"src {local_host}/32 dst {remote_host}/32 proto tcp {out_ports}"
            selector_in = f"src {remote_host}/32 dst {local_host}/32 proto tcp {in_ports}"
        else:
            selector_out = f"src {local_host}/32 dst {remote_host}/32"
            selector_in = f"src {remote_host}/32 dst {local_host}/32"
        policies.append(f"    out{k} = {selector_out} dir out tmpl src {local} dst {remote} "
                        f"proto esp reqid {reqid} mode tunnel")
        policies.append(f"    in{k} = {selector_in} dir in tmpl src {remote} dst {local} "
                        f"proto esp reqid {reqid} mode tunnel")
    nl = "\n"
    return f"""uipsec {{
  tun {{
    name = uipsec-{side}
  }}
  control_socket = @SOCKET@
  workers = {workers}
{"" if busy_poll is None else f"  busy_poll = {busy_poll}"}
  states {{
{nl.join(states)}
  }}
  policies {{
{nl.join(policies)}
  }}
}}
"""


def measure(workers, streams, per_stream_sas, seconds, busy_poll=None):
    with h.Topology("wrk") as topology:
        pair = h.Pair(topology)
        keys = h.Keys()
        uipsecd, uipsec = h.binaries()
        daemons = [h.Daemon(ns, pair.workdir, side,
                            config(side, keys, workers, streams, per_stream_sas, busy_poll),
                            uipsecd, uipsec)
                   for ns, side in ((pair.a, "a"), (pair.b, "b"))]
        h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=1)
        ports = [BASE_PORT + k for k in range(streams)]
        servers = [pair.b.popen(["iperf3", "-s", "-1", "-B", h.B_INNER4, "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for port in ports]
        def listening():
            table = pair.b.run(["cat", "/proc/net/tcp"]).stdout  # no `ss` needed
            return all(f":{p:04X} 00000000:0000 0A" in table for p in ports)
        h.wait_for(listening, timeout=10, what="iperf3 servers")
        clients = [subprocess.Popen(pair.a.exec_args(
            ["iperf3", "-c", h.B_INNER4, "-B", h.A_INNER4, "-p", str(port), "-t", str(seconds),
             "--json"]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for port in ports]
        total = 0.0
        for client in clients:
            out, err = client.communicate(timeout=seconds + 60)
            report = json.loads(out)
            total += report["end"]["sum_received"]["bits_per_second"] / 1e9
        for server in servers:
            server.wait(timeout=30)
        for daemon in daemons:
            daemon.stop()
        return total


def name(layout):
    shape, poll = layout
    return shape if poll is None else f"{shape} busy_poll={poll}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--layouts", default="sas=N,sas=1")
    parser.add_argument("--busy-poll", default="",
                        help="comma-separated uipsec.busy_poll values (microseconds) to alternate "
                             "as further layouts; default: the daemon's default only")
    args = parser.parse_args()
    h.require_root()
    counts = [int(w) for w in args.workers.split(",")]
    polls = [int(v) for v in args.busy_poll.split(",")] if args.busy_poll else [None]
    layouts = [(layout, poll) for layout in args.layouts.split(",") for poll in polls]
    results = {(layout, w): [] for layout in layouts for w in counts}
    for round_index in range(args.rounds):
        for layout in layouts:
            for w in counts:
                gbit = measure(w, args.streams, layout[0] == "sas=N", args.seconds, layout[1])
                results[(layout, w)].append(gbit)
                print(f"round {round_index + 1} {name(layout)} workers={w}: {gbit:.2f} Gbit/s",
                      flush=True)
    print(f"\n{args.streams} TCP streams, {args.seconds} s, median of {args.rounds} rounds "
          f"(nproc {os.cpu_count()})")
    print("| layout | " + " | ".join(f"{w} worker{'s' if w > 1 else ''}" for w in counts) +
          " |")
    print("|---|" + "---:|" * len(counts))
    for layout in layouts:
        base = statistics.median(results[(layout, counts[0])])
        cells = []
        for w in counts:
            m = statistics.median(results[(layout, w)])
            cells.append(f"{m:.2f} Gbit/s ({m / base:.2f}x)")
        print(f"| {name(layout)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
