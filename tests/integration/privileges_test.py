#!/usr/bin/python3
"""uipsecd started as root keeps only CAP_NET_ADMIN once it is set up (and CAP_NET_RAW while raw
ESP is on: uipsec.raw_esp, `auto` by default) — in every thread, with the bounding set dropped
and no-new-privs set — and still does what needs it: a policy added through the control socket
gets its route, and the shutdown removes the routes and rules. raw_esp_test.py checks that
`raw_esp = no` keeps CAP_NET_ADMIN alone."""

import os

import harness as h

NET_ADMIN = 1 << 12
NET_RAW = 1 << 13
KEPT = NET_ADMIN | NET_RAW  # raw ESP is on by default (uipsec.raw_esp = auto, run as root)


def status_fields(path):
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_keeps_only_net_admin_in_every_thread(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    # The control socket appears before the worker starts: wait for the traffic to flow.
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, f"{result.stdout}\n{a.output()}"

    pid = a.process.pid
    threads = os.listdir(f"/proc/{pid}/task")
    assert len(threads) >= 2, f"control thread and worker expected: {threads}"
    for tid in threads:
        s = status_fields(f"/proc/{pid}/task/{tid}/status")
        where = f"thread {tid} ({s['Name']})"
        assert int(s["CapEff"], 16) == KEPT, (where, s["CapEff"])
        assert int(s["CapPrm"], 16) == KEPT, (where, s["CapPrm"])
        assert int(s["CapBnd"], 16) == KEPT, (where, s["CapBnd"])
        assert int(s["CapInh"], 16) == 0 and int(s["CapAmb"], 16) == 0, (where, s)
        assert s["NoNewPrivs"] == "1", (where, s["NoNewPrivs"])
    h.log(f"   {len(threads)} threads: CapEff=CapPrm=CapBnd={KEPT:016x}, NoNewPrivs 1")

    # What CAP_NET_ADMIN is kept for: routes that follow policies added later.
    a.cli("policy", "add", "src", h.A_NET4, "dst", "198.19.77.0/24", "dir", "out", "tmpl", "src",
          h.A_OUTER4, "dst", h.B_OUTER4, "proto", "esp", "reqid", "1", "mode", "tunnel")
    routes = pair.a.run(["ip", "route", "show", "table", "all", "proto", "85"]).stdout
    assert "198.19.77.0/24" in routes, routes
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, result.stdout
    h.stop_cleanly(pair, a, b)


if __name__ == "__main__":
    h.main([test_keeps_only_net_admin_in_every_thread])
