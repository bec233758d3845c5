#!/usr/bin/python3
"""Virtual IPs on uipsecd's TUN device (docs/ROUTING.md, "Virtual IPs"): what an IKE daemon does
with an address the peer assigned it. A has no address inside its local selector; `uipsec address
add` puts one on A's TUN device, the table-220 route gets it as preferred source and a ping from
it crosses the tunnel; `address del` takes it off. On a device uipsecd only attaches to, a run
killed with SIGKILL leaves its address, the next run removes it at start, an address someone else
put there is neither listed as ours, nor removable through uipsec, nor touched, and a clean stop
takes ours off."""

import json
import re

import harness as h
from netns import wait_for


VIP6 = "2001:db8:10::7"  # inside A's IPv6 net; A_INNER6 stays on lo


def addresses(ns, device):
    """{address/len: entry} of `ip -j addr show dev DEVICE`, link-local ones left out."""
    out = ns.run(["ip", "-j", "addr", "show", "dev", device], check=False).stdout
    entries = json.loads(out or "[]")
    return {f"{a['local']}/{a['prefixlen']}": a
            for entry in entries for a in entry.get("addr_info", []) if a.get("scope") != "link"}


def routes(ns, family="-4"):
    return ns.run(["ip", family, "route", "show", "table", "220"], check=False).stdout


def anywhere(ns, *wanted):
    """Which of the addresses `wanted` some interface of `ns` has (iproute2 6.1 does not show
    IFA_PROTO, so the check goes by address)."""
    out = ns.run(["ip", "-j", "addr", "show"], check=False).stdout
    return [f"{e['ifname']} {a['local']}" for e in json.loads(out or "[]")
            for a in e.get("addr_info", []) if a["local"] in wanted]


def test_virtual_ip_gives_the_route_its_source(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    pair.a.run(["ip", "addr", "del", f"{h.A_INNER4}/32", "dev", "lo"])
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    route = rf"^{re.escape(h.B_NET4)} dev uipsec-a proto 85 scope link"
    assert re.search(route + r"\s*$", routes(pair.a), re.M), routes(pair.a)
    listed = a.cli("address", "list", json_output=True)
    assert [e for e in listed if e["ours"] or not e["address"].startswith("fe80:")] == [], listed

    a.cli("address", "add", f"{h.A_INNER4}/32")
    a.cli("address", "add", VIP6)
    present = addresses(pair.a, "uipsec-a")
    assert f"{h.A_INNER4}/32" in present and f"{VIP6}/128" in present, present
    assert not present[f"{VIP6}/128"].get("tentative"), present  # IFA_F_NODAD
    listed = a.cli("address", "list", json_output=True)
    assert {"address": f"{h.A_INNER4}/32", "ours": True} in listed, listed
    assert {"address": f"{VIP6}/128", "ours": True} in listed, listed
    assert f"{h.A_INNER4}/32 uipsec" in a.cli("address", "list").stdout
    wait_for(lambda: re.search(route + rf" src {re.escape(h.A_INNER4)}", routes(pair.a), re.M),
             what="the route's preferred source")
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, f"{result.stdout}\n{a.output()}"
    # Without -I: the route's preferred source picks the virtual IP.
    result = pair.a.run(["ping", "-c", "2", "-W", "2", "-i", "0.2", h.B_INNER4], check=False,
                        timeout=30)
    assert result.returncode == 0, f"{result.stdout}\n{a.output()}"

    # Garbage is refused before anything is sent; uipsecd refuses what is not there.
    bad = a.cli("address", "add", "198.18.10.0/24", check=False)
    assert bad.returncode == 2 and "a virtual IP is a single address (/32)" in bad.stdout, \
        bad.stdout
    assert a.cli("address", "add", "banana", check=False).returncode == 2
    missing = a.cli("address", "del", "198.18.10.99", check=False)
    assert missing.returncode == 1 and "198.18.10.99/32 is not on uipsec-a" in missing.stdout, \
        missing.stdout

    a.cli("address", "del", f"{h.A_INNER4}/32")
    a.cli("address", "del", VIP6)
    assert addresses(pair.a, "uipsec-a") == {}, addresses(pair.a, "uipsec-a")
    # IPv4 deletes routes with their source address; uipsecd puts the route back without one.
    wait_for(lambda: re.search(route + r"\s*$", routes(pair.a), re.M),
             what="the route back without a source")
    assert h.ping(pair.a, h.A_OUTER4, h.B_INNER4, count=1).returncode != 0, \
        "a packet from outside the selector crossed the tunnel"

    a.cli("address", "add", f"{h.A_INNER4}/32")
    h.stop_cleanly(pair, a, b)
    assert anywhere(pair.a, h.A_INNER4, VIP6) == [], anywhere(pair.a, h.A_INNER4, VIP6)


def test_leftovers_removed_at_start_and_ours_at_stop(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    pair.a.run(["ip", "tuntap", "add", "dev", "pre-a", "mode", "tun"])
    pair.a.run(["ip", "link", "set", "pre-a", "up", "mtu", "1400"])
    pair.a.run(["ip", "addr", "add", "198.18.60.1/32", "dev", "pre-a"])  # the administrator's
    config = h.tunnel_config("a", "aes-gcm", keys, tun_name="pre-a").replace(
        "name = pre-a", "name = pre-a\n    mode = attach")
    a = h.Daemon(pair.a, pair.workdir, "a", config, uipsecd, uipsec)
    a.cli("address", "add", "198.18.10.7/32")
    listed = a.cli("address", "list", json_output=True)
    assert {"address": "198.18.60.1/32", "ours": False} in listed, listed
    assert {"address": "198.18.10.7/32", "ours": True} in listed, listed
    refused = a.cli("address", "del", "198.18.60.1/32", check=False)
    assert refused.returncode == 1 and "was not added by uipsec" in refused.stdout, refused.stdout

    a.process.kill()  # SIGKILL by PID: no cleanup at all
    a.process.wait(timeout=10)
    assert "198.18.10.7/32" in addresses(pair.a, "pre-a"), addresses(pair.a, "pre-a")

    a = h.Daemon(pair.a, pair.workdir, "a2", config, uipsecd, uipsec)
    wait_for(lambda: "198.18.10.7/32" not in addresses(pair.a, "pre-a"),
             what="the leftover removed at start")
    assert "removed 1 virtual IP(s) an earlier run left on pre-a" in a.output(), a.output()
    assert "198.18.60.1/32" in addresses(pair.a, "pre-a")
    a.cli("address", "add", "198.18.10.8/32")
    assert a.stop() == 0, a.output()
    present = addresses(pair.a, "pre-a")
    assert "198.18.10.8/32" not in present and "198.18.60.1/32" in present, present
    assert anywhere(pair.a, "198.18.10.7", "198.18.10.8") == []
    h.assert_nothing_of_ours(pair.a)


if __name__ == "__main__":
    h.main([test_virtual_ip_gives_the_route_its_source,
            test_leftovers_removed_at_start_and_ours_at_stop])
