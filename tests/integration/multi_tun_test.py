#!/usr/bin/python3
"""Several TUN devices (uipsec.tun_per_virtual_ip, docs/CONFIGURATION.md; io/tun_group.hpp): A's
uipsecd gives each virtual IP added through `uipsec address add` a TUN device of its own
(uipsec-av1, uipsec-av2, ...) and writes each decrypted packet into the device whose address is
its destination, the rest into the main device. B (a second uipsecd) pings each address through
the tunnel: each device's receive counter (what uipsecd wrote into it) grows by exactly its own
packets, the replies come back through the tunnel, `uipsec stats` counts per device, `address
del` removes the device, a clean stop removes them all. With the option off (the default) the
addresses go on the main device and nothing else appears."""

import json
import re
import subprocess

import harness as h
from netns import wait_for

VIP1, VIP2, VIP6 = "198.18.10.1", "198.18.10.2", "2001:db8:10::7"


def devices(ns):
    """{name: [addresses]} of the namespace's interfaces, link-local addresses left out."""
    out = ns.run(["ip", "-j", "addr", "show"], check=False).stdout
    return {e["ifname"]: [a["local"] for a in e.get("addr_info", []) if a.get("scope") != "link"]
            for e in json.loads(out or "[]")}


def received(ns, device):
    """Packets the kernel received on `device`: for a TUN device, what uipsecd wrote into it."""
    out = ns.run(["ip", "-s", "-j", "link", "show", "dev", device]).stdout
    return json.loads(out)[0]["stats64"]["rx"]["packets"]


def ping_from_b(pair, destination, count):
    source = h.B_INNER6 if ":" in destination else h.B_INNER4
    return h.ping(pair.b, source, destination, count=count)


def start(pair, extra):
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    pair.a.run(["ip", "addr", "del", f"{h.A_INNER4}/32", "dev", "lo"])  # VIP1 instead
    pair.a.run(["ip", "addr", "del", f"{h.A_INNER6}/128", "dev", "lo"])
    a = h.Daemon(pair.a, pair.workdir, "a",
                 h.tunnel_config("a", "aes-gcm", keys, extra_uipsec=extra), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    return a, b


def run_per_device(topology, workers):
    pair = h.Pair(topology)
    a, b = start(pair, f"tun_per_virtual_ip = yes\n  workers = {workers}")
    # B's IPv6 policy: the IPv4 tunnel carries only IPv4 selectors, so the IPv6 address is checked
    # for its device only.
    for address in (VIP1, VIP2, VIP6):
        a.cli("address", "add", address)
    present = devices(pair.a)
    assert present.get("uipsec-av1") == [VIP1], present
    assert present.get("uipsec-av2") == [VIP2], present
    assert present.get("uipsec-av3") == [VIP6], present
    assert present.get("uipsec-a") == [], present
    listed = a.cli("address", "list", json_output=True)
    for address, length in ((VIP1, 32), (VIP2, 32), (VIP6, 128)):
        assert {"address": f"{address}/{length}", "ours": True} in listed, listed
    again = a.cli("address", "add", VIP1)  # present already: fine, no second device
    assert again.returncode == 0 and "uipsec-av4" not in devices(pair.a)

    before = {d: received(pair.a, d) for d in ("uipsec-a", "uipsec-av1", "uipsec-av2")}
    for address, count in ((VIP1, 3), (VIP2, 5)):
        result = ping_from_b(pair, address, count)
        assert result.returncode == 0, f"{result.stdout}\n{a.output()}\n{b.output()}"
    after = {d: received(pair.a, d) for d in ("uipsec-a", "uipsec-av1", "uipsec-av2")}
    assert after["uipsec-av1"] - before["uipsec-av1"] == 3, (before, after)
    assert after["uipsec-av2"] - before["uipsec-av2"] == 5, (before, after)
    assert after["uipsec-a"] == before["uipsec-a"], (before, after)
    assert received(pair.a, "uipsec-av3") == 0

    # Per-device counters in `uipsec stats` (a multi-queue device: summed over its queues).
    io = a.stats()["io"]

    def sent(device):
        return sum(v for k, v in io.items()
                   if k.startswith(f"tun-{device}") and k.endswith(".tx_packets"))
    assert sent("uipsec-av1") == 3 and sent("uipsec-av2") == 5, io

    # A destination without a device of its own: the main device.
    pair.a.run(["ip", "addr", "add", "198.18.10.9/32", "dev", "lo"])
    result = ping_from_b(pair, "198.18.10.9", 2)
    assert result.returncode == 0, result.stdout
    assert received(pair.a, "uipsec-a") - after["uipsec-a"] == 2

    # address del: the device goes; the address is unreachable; its counters leave the stats.
    a.cli("address", "del", VIP2)
    wait_for(lambda: "uipsec-av2" not in devices(pair.a), what="uipsec-av2 removed")
    assert "uipsec-av1" in devices(pair.a)
    assert ping_from_b(pair, VIP2, 1).returncode != 0
    assert not any(k.startswith("tun-uipsec-av2") for k in a.stats()["io"]), a.stats()["io"]
    assert ping_from_b(pair, VIP1, 1).returncode == 0, a.output()
    # The number is free again.
    a.cli("address", "add", VIP2)
    assert devices(pair.a).get("uipsec-av2") == [VIP2], devices(pair.a)
    assert ping_from_b(pair, VIP2, 1).returncode == 0, a.output()

    # Devices come and go while the workers deliver into their neighbours: a steady ping to VIP1
    # keeps flowing (a few losses allowed while the kernel settles) and uipsecd stays up.
    pinger = pair.b.popen(["ping", "-c", "200", "-i", "0.01", "-W", "1", "-I", h.B_INNER4, VIP1],
                          stdout=subprocess.PIPE)
    for _ in range(10):
        a.cli("address", "del", VIP2)
        a.cli("address", "add", VIP2)
    out, _ = pinger.communicate(timeout=60)
    received_count = int(re.search(r"(\d+) received", out).group(1))
    assert received_count >= 190, out
    assert a.process.poll() is None, a.output()
    assert ping_from_b(pair, VIP2, 1).returncode == 0, a.output()

    h.stop_cleanly(pair, a, b)
    left = [d for d in devices(pair.a) if d.startswith("uipsec-a")]
    assert left == [], left


def test_each_virtual_ip_has_its_device(topology):
    run_per_device(topology, workers=1)


def test_each_virtual_ip_has_its_device_with_two_workers(topology):
    run_per_device(topology, workers=2)


def test_strict_rp_filter_loosened_or_reported(topology):
    """A per-address device receives what its routes send out through the main device: strict
    reverse-path filtering would drop it. One that inherits strict from `default` is made loose;
    with `all` strict (only the administrator can change that) uipsecd says so."""
    pair = h.Pair(topology)
    pair.a.sysctl("net.ipv4.conf.default.rp_filter", 1)
    a, b = start(pair, "tun_per_virtual_ip = yes")
    a.cli("address", "add", VIP1)
    value = pair.a.run(["sysctl", "-n", "net.ipv4.conf.uipsec-av1.rp_filter"]).stdout.strip()
    assert value == "2", value
    assert ping_from_b(pair, VIP1, 2).returncode == 0, a.output()
    assert "strict reverse-path filtering" not in a.output(), a.output()
    pair.a.sysctl("net.ipv4.conf.all.rp_filter", 1)
    a.cli("address", "add", VIP2)
    assert "strict reverse-path filtering on uipsec-av2" in a.output(), a.output()
    assert "sysctl -w net.ipv4.conf.all.rp_filter=2" in a.output(), a.output()
    h.stop_cleanly(pair, a, b)


def test_off_everything_on_the_main_device(topology):
    pair = h.Pair(topology)
    a, b = start(pair, "")
    a.cli("address", "add", VIP1)
    a.cli("address", "add", VIP2)
    present = devices(pair.a)
    assert sorted(present.get("uipsec-a", [])) == [VIP1, VIP2], present
    assert not [d for d in present if d.startswith("uipsec-av")], present
    before = received(pair.a, "uipsec-a")
    for address in (VIP1, VIP2):
        result = ping_from_b(pair, address, 2)
        assert result.returncode == 0, f"{result.stdout}\n{a.output()}"
    assert received(pair.a, "uipsec-a") - before == 4
    h.stop_cleanly(pair, a, b)


if __name__ == "__main__":
    h.main([test_each_virtual_ip_has_its_device,
            test_each_virtual_ip_has_its_device_with_two_workers,
            test_strict_rp_filter_loosened_or_reported,
            test_off_everything_on_the_main_device])
