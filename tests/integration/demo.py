#!/usr/bin/python3
"""uipsec's main job on a built-in default: two namespaces joined by a veth pair, a uipsecd in
each (AES-GCM, tunnel mode, ESP in UDP, keys drawn fresh for this run), a ping and a TCP transfer
whose checksum is compared at the far end, the SAs and counters — then everything is removed."""

import os
import sys
import time

import harness as h


def banner(text):
    h.log(f"\n=== {text}")


def main():
    h.require_root()
    uipsecd, uipsec = h.binaries()
    with h.Topology("demo") as topology:
        pair = h.Pair(topology)
        keys = h.Keys()
        banner(f"namespaces {pair.a.name} ({h.A_OUTER4}, protects {h.A_NET4}) and "
               f"{pair.b.name} ({h.B_OUTER4}, protects {h.B_NET4})")
        config_a = h.tunnel_config("a", "aes-gcm", keys)
        a = h.Daemon(pair.a, pair.workdir, "a", config_a, uipsecd, uipsec)
        b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd,
                     uipsec)
        h.log(f"uipsecd A: {a.config}\nuipsecd B: {b.config}")
        banner("routes uipsecd A installed (table 220, proto 85 = uipsec)")
        h.log(pair.a.run(["ip", "route", "show", "table", "220"]).stdout.rstrip())
        h.log(pair.a.run(["ip", "rule", "show", "priority", "220"]).stdout.rstrip())

        banner(f"ping {h.B_INNER4} from {h.A_INNER4}, through the tunnel")
        result = h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=3)
        h.log(result.stdout.rstrip())
        if result.returncode != 0:
            h.log(a.output() + b.output())
            return 1

        size = 16 << 20
        banner(f"TCP transfer of {size >> 20} MiB of random bytes, A -> B")
        started = time.monotonic()
        sent, received, count = h.tcp_transfer(pair.a, pair.b, h.A_INNER4, h.B_INNER4, size)
        elapsed = time.monotonic() - started
        h.log(f"sent     sha256 {sent}\nreceived sha256 {received} ({count} bytes)")
        h.log(f"{'MATCH' if sent == received and count == size else 'MISMATCH'}; "
              f"{count * 8 / elapsed / 1e6:.0f} Mbit/s including connection setup "
              f"(a debug-friendly build, not a benchmark)")

        banner("uipsec -s state list   (on A)")
        h.log(a.cli("-s", "state", "list").stdout.rstrip())
        banner("uipsec policy list     (on A)")
        h.log(a.cli("policy", "list").stdout.rstrip())
        banner("uipsec stats           (on B)")
        h.log(b.cli("stats").stdout.rstrip())

        banner("stopping; removing namespaces")
        for daemon in (a, b):
            daemon.stop()
        ok = sent == received and count == size
    h.log("demo " + ("succeeded" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
