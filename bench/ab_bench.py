#!/usr/bin/python3
"""A/B of two uipsec builds on this machine: one iperf3 TCP stream and the ping RTT through a
fresh uipsecd <-> uipsecd tunnel (AES-GCM, ESP in UDP, IPv4, the integration tests' topology),
the builds alternating round by round so that noise from other tenants hits both alike.

    python3 bench/ab_bench.py OLD_BUILD_DIR NEW_BUILD_DIR [--rounds 5] [--seconds 6] [--pings 300]
        [--old-setting 'busy_poll = 0'] [--new-setting 'busy_poll = 50']

A build directory is one with src/daemon/uipsecd and src/cli/uipsec (e.g. build/release, or the
release build of an older commit: git archive COMMIT | tar -x -C /tmp/old && cmake --preset
release in it). Prints each round and the medians; TCP in Gbit/s (receiver), ping in ms (median
of the round's pings at 10 ms intervals). Needs root and iperf3. The same build twice with different
--old-setting / --new-setting lines (added to both daemons' `uipsec` section) compares settings.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness as h  # noqa: E402


def one_round(build, seconds, pings, setting=""):
    uipsecd = os.path.join(build, "src/daemon/uipsecd")
    uipsec = os.path.join(build, "src/cli/uipsec")
    with h.Topology("ab") as topology:
        pair = h.Pair(topology)
        keys = h.Keys()
        daemons = [h.Daemon(ns, pair.workdir, side, h.tunnel_config(side, "aes-gcm", keys,
                                                            extra_uipsec=setting),
                            uipsecd, uipsec)
                   for ns, side in ((pair.a, "a"), (pair.b, "b"))]
        h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=1)
        server = pair.b.popen(["iperf3", "-s", "-1", "-B", h.B_INNER4],
                              stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        out = pair.a.run(["iperf3", "-c", h.B_INNER4, "-t", str(seconds), "-f", "g"],
                         timeout=seconds + 30).stdout
        server.wait(timeout=10)
        gbits = float(re.findall(r"([0-9.]+) Gbits/sec\s+receiver", out)[0])
        out = pair.a.run(["ping", "-c", str(pings), "-i", "0.01", h.B_INNER4],
                         timeout=pings * 0.05 + 30).stdout
        rtt = statistics.median(float(x) for x in re.findall(r"time=([0-9.]+)", out))
        for d in daemons:
            d.stop()
    return gbits, rtt


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--pings", type=int, default=300)
    parser.add_argument("--old-setting", default="", help="a line for OLD's uipsec section")
    parser.add_argument("--new-setting", default="", help="a line for NEW's uipsec section")
    args = parser.parse_args()
    h.require_root()
    results = {"old": [], "new": []}
    for r in range(1, args.rounds + 1):
        for name in ("old", "new"):
            gbits, rtt = one_round(getattr(args, name), args.seconds, args.pings,
                                   getattr(args, name + "_setting"))
            results[name].append((gbits, rtt))
            print(f"round {r} {name}: TCP {gbits:.2f} Gbit/s, ping median {rtt:.3f} ms",
                  flush=True)
    for name in ("old", "new"):
        tcp = statistics.median(g for g, _ in results[name])
        ping = statistics.median(p for _, p in results[name])
        setting = getattr(args, name + "_setting")
        print(f"{name} ({getattr(args, name)}{', ' + setting if setting else ''}): TCP median {tcp:.2f} Gbit/s, "
              f"ping median of round medians {ping:.3f} ms")
    print(f"load average now: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
