#!/usr/bin/python3
"""A/B of two uipsec builds on this machine: iperf3 TCP and the ping RTT through a
fresh uipsecd <-> uipsecd tunnel (AES-GCM, ESP in UDP, IPv4, the integration tests' topology),
the builds alternating round by round so that noise from other tenants hits both alike.

    python3 bench/ab_bench.py OLD_BUILD_DIR NEW_BUILD_DIR [--rounds 5] [--seconds 6] [--pings 300]
        [--streams 1] [--udp] [--loaded-ping] [--old-setting 'busy_poll = 0'] [--new-setting 'busy_poll = 50']

A build directory is one with src/daemon/uipsecd and src/cli/uipsec (e.g. build/release, or the
release build of an older commit: git archive COMMIT | tar -x -C /tmp/old && cmake --preset
release in it). Prints each round and the medians; TCP in Gbit/s (receiver), ping in ms (median
of the round's pings at 10 ms intervals), and the two daemons' CPU per Gbit/s during the TCP test
(user + system time from /proc/PID/stat over its middle, in ms of CPU per Gbit/s: a step that
saves work shows there even when the throughput does not move beyond the noise). --streams runs
iperf3 with that many parallel streams; --udp adds a 1300-byte UDP flood of the same length
(iperf3 -u -b 0) and reports the datagrams delivered per second; --loaded-ping pings every 10 ms
during the TCP test, from the sending side (median and 90th percentile). Needs root and iperf3. The same
build twice with different --old-setting / --new-setting lines (added to both daemons' `uipsec`
section) compares settings.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness as h  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(build, seconds, pings, streams, udp, loaded_ping, setting=""):
    """(TCP Gbit/s, ping median ms, daemon CPU ms per Gbit/s, UDP kpps delivered or None,
    (median, 90th percentile) ms of the pings during the TCP test or None)."""
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
        client = pair.a.popen(["iperf3", "-c", h.B_INNER4, "-t", str(seconds), "-J",
                               "-P", str(streams)], stdout=subprocess.PIPE)
        # CPU over the middle of the test (the first second is slow start).
        time.sleep(min(1.5, seconds / 4))
        pinger = None
        if loaded_ping:
            # Same direction as the data: each request waits behind it in A's TUN device, each
            # reply comes back with its ACKs.
            pinger = pair.a.popen(["ping", "-c", str(int(seconds / 2 / 0.01)), "-i", "0.01",
                                   h.B_INNER4], stdout=subprocess.PIPE)
        pids = [d.process.pid for d in daemons]
        cpu0, t0 = sum(cpu_seconds(p) for p in pids), time.monotonic()
        time.sleep(seconds / 2)
        cpu1, t1 = sum(cpu_seconds(p) for p in pids), time.monotonic()
        out = client.communicate(timeout=seconds + 30)[0]
        server.wait(timeout=10)
        loaded = None
        if pinger is not None:
            rtts = sorted(float(x) for x in re.findall(r"time=([0-9.]+)",
                                                       pinger.communicate(timeout=60)[0]))
            loaded = (statistics.median(rtts), rtts[int(len(rtts) * 0.9)]) if rtts else None
        gbits = json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9
        cpu_per_gbit = (cpu1 - cpu0) / (t1 - t0) / gbits * 1000 if gbits > 0 else float("nan")
        out = pair.a.run(["ping", "-c", str(pings), "-i", "0.01", h.B_INNER4],
                         timeout=pings * 0.05 + 30).stdout
        rtt = statistics.median(float(x) for x in re.findall(r"time=([0-9.]+)", out))
        kpps = None
        if udp:
            server = pair.b.popen(["iperf3", "-s", "-1", "-B", h.B_INNER4],
                                  stdout=subprocess.DEVNULL)
            time.sleep(0.5)
            out = pair.a.run(["iperf3", "-c", h.B_INNER4, "-u", "-b", "0", "-l", "1300", "-t",
                              str(seconds), "-J"], timeout=seconds + 30).stdout
            server.wait(timeout=10)
            total = json.loads(out)["end"]["sum"]
            kpps = (total["packets"] - total["lost_packets"]) / total["seconds"] / 1000
        for d in daemons:
            d.stop()
    return gbits, rtt, cpu_per_gbit, kpps, loaded


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--pings", type=int, default=300)
    parser.add_argument("--streams", type=int, default=1, help="parallel TCP streams")
    parser.add_argument("--udp", action="store_true", help="also a 1300-byte UDP flood")
    parser.add_argument("--loaded-ping", action="store_true",
                        help="also ping every 10 ms during the TCP test, in its direction")
    parser.add_argument("--old-setting", default="", help="a line for OLD's uipsec section")
    parser.add_argument("--new-setting", default="", help="a line for NEW's uipsec section")
    args = parser.parse_args()
    h.require_root()
    results = {"old": [], "new": []}
    for r in range(1, args.rounds + 1):
        for name in ("old", "new"):
            gbits, rtt, cpu, kpps, loaded = one_round(
                getattr(args, name), args.seconds, args.pings, args.streams, args.udp,
                args.loaded_ping, getattr(args, name + "_setting"))
            results[name].append((gbits, rtt, cpu, kpps, loaded))
            udp = f", UDP {kpps:.1f} kpps delivered" if kpps is not None else ""
            under = (f", ping during TCP median {loaded[0]:.3f} ms, p90 {loaded[1]:.3f} ms"
                     if loaded else "")
            print(f"round {r} {name}: TCP {gbits:.2f} Gbit/s, ping median {rtt:.3f} ms, "
                  f"{cpu:.1f} ms CPU per Gbit/s{udp}{under}", flush=True)
    for name in ("old", "new"):
        rows = results[name]
        tcp = statistics.median(row[0] for row in rows)
        ping = statistics.median(row[1] for row in rows)
        cpu = statistics.median(row[2] for row in rows)
        extra = (f", UDP median {statistics.median(row[3] for row in rows):.1f} kpps"
                 if args.udp else "")
        loaded = [row[4] for row in rows if row[4]]
        if loaded:
            extra += (f", ping during TCP: median of round medians "
                      f"{statistics.median(x[0] for x in loaded):.3f} ms, of p90s "
                      f"{statistics.median(x[1] for x in loaded):.3f} ms")
        setting = getattr(args, name + "_setting")
        print(f"{name} ({getattr(args, name)}{', ' + setting if setting else ''}): TCP median "
              f"{tcp:.2f} Gbit/s ({args.streams} stream{'s' if args.streams > 1 else ''}), "
              f"ping median of round medians {ping:.3f} ms, {cpu:.1f} ms CPU per Gbit/s{extra}")
    print(f"load average now: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
