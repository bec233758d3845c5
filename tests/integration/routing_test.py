#!/usr/bin/python3
"""Routing as strongSwan's kernel-libipsec does it (docs/ROUTING.md), in namespaces: the seed's
host-to-host tunnel with allow_peer_ts and fwmarks (strongswan.conf option names), the
rp_filter warning, exclude (throw) routes for the peer shared by reference count, BYPASS as a
throw route and as a rule ahead of table 220, DISCARD routed into the TUN device and counted, a
foreign route and rule in table 220 surviving uipsecd's start, stop, kill -9 and restart, and
nothing of ours left after stop."""

import os
import re

import harness as h
from netns import wait_for


def with_policies(config, policies, charon=""):
    """`config` (harness.tunnel_config) with its policies replaced and a charon section added."""
    body = "\n".join(f"    {name} = {text}" for name, text in policies.items())
    config = re.sub(r"  policies \{\n.*?\n  \}\n", "  policies {\n" + body + "\n  }\n", config,
                    flags=re.S)
    return config + charon


HOST_TO_HOST_CHARON = """charon {
  plugins {
    kernel-netlink {
      fwmark = !0x42
    }
    socket-default {
      fwmark = 0x42
    }
    kernel-libipsec {
      allow_peer_ts = yes
    }
  }
}
"""


def host_to_host_config(side, keys):
    local, remote = (h.A_OUTER4, h.B_OUTER4) if side == "a" else (h.B_OUTER4, h.A_OUTER4)
    return with_policies(h.tunnel_config(side, "aes-gcm", keys), {
        "out": f"src {local}/32 dst {remote}/32 dir out tmpl src {local} dst {remote} proto esp "
               "reqid 1 mode tunnel",
        "in": f"src {remote}/32 dst {local}/32 dir in tmpl src {remote} dst {local} proto esp "
              "reqid 1 mode tunnel",
    }, HOST_TO_HOST_CHARON)


def routes(ns, family="-4", table="220"):
    return ns.run(["ip", family, "route", "show", "table", table], check=False).stdout


def rules(ns, family="-4"):
    return ns.run(["ip", family, "rule", "show"], check=False).stdout


def start_fails(ns, workdir, name, config_text, uipsecd):
    path = os.path.join(workdir, f"{name}.conf")
    with open(path, "w") as f:
        f.write(config_text.replace("@SOCKET@", os.path.join(workdir, f"{name}.ctl")))
    result = ns.run([uipsecd, "-c", path], check=False, timeout=20)
    assert result.returncode == 1, f"uipsecd started ({result.returncode}):\n{result.stdout}"
    return result.stdout


def test_host_to_host_with_fwmarks(topology):
    """The seed's example: remote selector = the peer, allow_peer_ts, socket mark 0x42 and the
    `not fwmark 0x42` rule; traffic between the outer addresses goes through the tunnel."""
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", host_to_host_config("a", keys), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", host_to_host_config("b", keys), uipsecd, uipsec)
    for ns in (pair.a, pair.b):
        for family in ("-4", "-6"):
            text = rules(ns, family)
            assert re.search(r"220:\s+not from all fwmark 0x42 lookup 220 proto 85", text), text
    assert re.search(rf"{h.B_OUTER4} dev uipsec-a proto 85", routes(pair.a)), routes(pair.a)
    assert "throw" not in routes(pair.a), "no exclude route for a host-to-host peer"

    before = a.stats()["sealed"]
    result = h.ping(pair.a, h.A_OUTER4, h.B_OUTER4, count=5)
    assert result.returncode == 0, f"ping failed:\n{result.stdout}\n{a.output()}\n{b.output()}"
    assert a.stats()["sealed"] >= before + 5, "the pings did not go through the tunnel"
    assert b.stats()["opened"] >= 5
    sent, received, count = h.tcp_transfer(pair.a, pair.b, h.A_OUTER4, h.B_OUTER4, 200_000)
    assert count == 200_000 and sent == received
    assert "rp_filter" not in a.output(), "loose rp_filter (the topology's) needs no warning"
    h.stop_cleanly(pair, a, b)


def test_strict_rp_filter_is_reported(topology):
    """With strict reverse-path filtering the kernel drops the peer's ESP (table 220 routes the
    peer into the TUN device): uipsecd names the sysctl, and loose filtering makes it work."""
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    # The effective value is the maximum of `all` and the interface's: both strict.
    veth = pair.a.run(["ip", "-o", "link", "show", "type", "veth"]).stdout.split(":")[1].strip()
    veth = veth.split("@")[0]
    pair.a.sysctl(f"net.ipv4.conf.{veth}.rp_filter", 1)
    pair.a.sysctl("net.ipv4.conf.all.rp_filter", 1)
    a = h.Daemon(pair.a, pair.workdir, "a", host_to_host_config("a", keys), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", host_to_host_config("b", keys), uipsecd, uipsec)
    assert "net.ipv4.conf.all.rp_filter is 1 (strict)" in a.output(), a.output()
    assert "sysctl -w net.ipv4.conf.all.rp_filter=2" in a.output(), a.output()
    assert "rp_filter" not in b.output(), "B is loose: no warning"
    result = h.ping(pair.a, h.A_OUTER4, h.B_OUTER4, count=2)
    assert result.returncode != 0, "strict rp_filter should drop B's ESP on A"
    assert b.stats()["sealed"] >= 2 and a.stats()["opened"] == 0, (a.stats(), b.stats())

    pair.a.sysctl("net.ipv4.conf.all.rp_filter", 2)  # as the warning says
    result = h.ping(pair.a, h.A_OUTER4, h.B_OUTER4, count=2)
    assert result.returncode == 0, result.stdout
    assert a.stats()["opened"] >= 2
    h.stop_cleanly(pair, a, b)


def test_host_to_host_needs_allow_peer_ts_and_a_mark(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, _ = h.binaries()
    no_allow = host_to_host_config("a", keys).replace("allow_peer_ts = yes", "allow_peer_ts = no")
    out = start_fails(pair.a, pair.workdir, "noallow", no_allow, uipsecd)
    assert "equals the peer 198.18.0.2" in out and "allow_peer_ts" in out, out
    no_mark = host_to_host_config("a", keys).replace("fwmark = 0x42", "")
    out = start_fails(pair.a, pair.workdir, "nomark", no_mark, uipsecd)
    assert "needs a mark on uipsecd's socket" in out, out
    wrong_rule = host_to_host_config("a", keys).replace("fwmark = !0x42", "fwmark = 0x42")
    out = start_fails(pair.a, pair.workdir, "wrongrule", wrong_rule, uipsecd)
    assert "matches them" in out, out
    # uipsec's own key names work too.
    own = with_policies(h.tunnel_config("a", "aes-gcm", keys,
                                        extra_uipsec="routes {\n    allow_peer_ts = yes\n  }\n"), {
        "out": f"src {h.A_OUTER4} dst {h.B_OUTER4} dir out tmpl src {h.A_OUTER4} "
               f"dst {h.B_OUTER4} proto esp reqid 1 mode tunnel"})
    out = start_fails(pair.a, pair.workdir, "own", own, uipsecd)
    assert "needs a mark" in out, out
    h.assert_nothing_of_ours(pair.a)


def test_exclude_routes_shared_and_removed(topology):
    """A remote selector holding the peer gets a throw route for the peer, shared by the
    policies that need it, gone with the last; the tunnel still works through it."""
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    wide = (f"src {h.A_NET4} dst 198.18.0.0/16 dir out tmpl src {h.A_OUTER4} dst {h.B_OUTER4} "
            "proto esp reqid 1 mode tunnel")
    config = with_policies(h.tunnel_config("a", "aes-gcm", keys), {
        "out": wide,
        "in": f"src {h.B_NET4} dst {h.A_NET4} dir in tmpl src {h.B_OUTER4} dst {h.A_OUTER4} "
              "proto esp reqid 1 mode tunnel",
        "out6": f"src {h.A_NET6} dst 2001:db8::/32 dir out tmpl src {h.A_OUTER6} "
                f"dst {h.B_OUTER6} proto esp reqid 2 mode tunnel",
    })
    a = h.Daemon(pair.a, pair.workdir, "a", config, uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    assert re.search(rf"throw {h.B_OUTER4} proto 85", routes(pair.a)), routes(pair.a)
    assert re.search(rf"throw {h.B_OUTER6} .*proto 85", routes(pair.a, "-6")), routes(pair.a, "-6")
    assert "198.18.0.0/16 dev uipsec-a proto 85" in routes(pair.a)

    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, f"ping failed:\n{result.stdout}\n{a.output()}\n{b.output()}"

    narrow = ["src", "198.18.11.0/24", "dst", "198.18.0.0/20", "dir", "out", "tmpl", "src",
              h.A_OUTER4, "dst", h.B_OUTER4, "proto", "esp", "reqid", "1", "mode", "tunnel"]
    a.cli("policy", "add", *narrow)
    assert len(re.findall(r"throw ", routes(pair.a))) == 1, "one exclude route per peer"
    a.cli("policy", "delete", "src", h.A_NET4, "dst", "198.18.0.0/16", "dir", "out")
    assert re.search(rf"throw {h.B_OUTER4} proto 85", routes(pair.a)), "still used by the /20"
    a.cli("policy", "delete", *narrow[:6])
    assert "throw" not in routes(pair.a), routes(pair.a)
    # Refused at run time too: a remote selector equal to the peer.
    refused = a.cli("policy", "add", "src", h.A_OUTER4, "dst", h.B_OUTER4, "dir", "out", "tmpl",
                    "src", h.A_OUTER4, "dst", h.B_OUTER4, "proto", "esp", "reqid", "1", "mode",
                    "tunnel", check=False)
    assert refused.returncode == 1 and "allow_peer_ts" in refused.stdout, refused.stdout
    h.stop_cleanly(pair, a, b)


def test_bypass_and_discard(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    # B also answers at 198.18.20.5 and 198.18.20.7; without uipsec's routes each side reaches
    # the other's inner network through the veth, in the clear.
    pair.b.run(["ip", "addr", "add", "198.18.20.5/32", "dev", "lo"])
    pair.b.run(["ip", "addr", "add", "198.18.20.7/32", "dev", "lo"])
    pair.a.run(["ip", "route", "add", h.B_NET4, "via", h.B_OUTER4])
    pair.b.run(["ip", "route", "add", h.A_NET4, "via", h.A_OUTER4])

    def protect(local, remote, local_net, remote_net):
        return {
            "out": f"src {local_net} dst {remote_net} dir out priority 100 tmpl src {local} "
                   f"dst {remote} proto esp reqid 1 mode tunnel",
            "in": f"src {remote_net} dst {local_net} dir in priority 100 tmpl src {remote} "
                  f"dst {local} proto esp reqid 1 mode tunnel",
        }

    a_policies = protect(h.A_OUTER4, h.B_OUTER4, h.A_NET4, h.B_NET4)
    a_policies.update({
        # address only: a throw route
        "clear": "src 0.0.0.0/0 dst 198.18.20.5/32 dir out priority 10 action allow",
        # protocol and port: a rule at 219
        "tcp": f"src {h.A_NET4} dst {h.B_NET4} proto tcp dport 5001 dir out priority 10 "
               "action allow",
        "blocked": "src 0.0.0.0/0 dst 198.18.20.7/32 dir out priority 10 action block",
    })
    b_policies = protect(h.B_OUTER4, h.A_OUTER4, h.B_NET4, h.A_NET4)
    b_policies.update({
        # a source selector: a rule at 219 ("from 198.18.20.5/32 lookup main")
        "clear": "src 198.18.20.5/32 dst 0.0.0.0/0 dir out priority 10 action allow",
        "tcp": f"src {h.B_NET4} dst {h.A_NET4} proto tcp sport 5001 dir out priority 10 "
               "action allow",
    })
    a = h.Daemon(pair.a, pair.workdir, "a",
                 with_policies(h.tunnel_config("a", "aes-gcm", keys), a_policies), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b",
                 with_policies(h.tunnel_config("b", "aes-gcm", keys), b_policies), uipsecd, uipsec)

    assert re.search(r"throw 198\.18\.20\.5 proto 85", routes(pair.a)), routes(pair.a)
    assert re.search(r"198\.18\.20\.7 dev uipsec-a proto 85", routes(pair.a)), routes(pair.a)
    assert re.search(rf"219:\s+from {re.escape(h.A_NET4)} to {re.escape(h.B_NET4)} ipproto tcp "
                     r"dport 5001 lookup main proto 85", rules(pair.a)), rules(pair.a)
    assert re.search(r"219:\s+from 198\.18\.20\.5 lookup main proto 85", rules(pair.b)), \
        rules(pair.b)

    # Address-only BYPASS: in the clear, past the TUN device, both ways.
    sealed = a.stats()["sealed"]
    result = h.ping(pair.a, h.A_INNER4, "198.18.20.5")
    assert result.returncode == 0, f"{result.stdout}\n{a.output()}"
    assert a.stats()["sealed"] == sealed, "BYPASS traffic went through the tunnel"
    assert b.stats()["opened"] == 0 and b.stats()["sealed"] == 0
    assert a.stats()["drops"]["bypass-via-tun"] == 0

    # Port-specific BYPASS: TCP to port 5001 in the clear both ways; the rest still protected.
    sent, received, count = h.tcp_transfer(pair.a, pair.b, h.A_INNER4, h.B_INNER4, 100_000, 5001)
    assert count == 100_000 and sent == received
    assert a.stats()["sealed"] == sealed, "the port-5001 transfer went through the tunnel"
    assert b.stats()["sealed"] == 0
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, result.stdout
    assert a.stats()["sealed"] >= sealed + 3, "ICMP to B_NET4 is still protected"
    assert b.stats()["opened"] >= 3

    # DISCARD: routed into the TUN device, dropped and counted there.
    dropped = a.stats()["drops"]["policy-discard"]
    result = h.ping(pair.a, h.A_INNER4, "198.18.20.7", count=2)
    assert result.returncode != 0, "a DISCARD destination answered"
    assert a.stats()["drops"]["policy-discard"] >= dropped + 2, a.stats()["drops"]

    h.stop_cleanly(pair, a, b)


def test_preferred_source_follows_addresses(topology):
    """The route's source is a local address inside the local selector: none while the host
    has none, set when one appears (RTM_NEWADDR), and the route stays when it goes (IPv4
    deletes routes with their source address; uipsecd puts it back)."""
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    pair.a.run(["ip", "addr", "del", f"{h.A_INNER4}/32", "dev", "lo"])
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    route = rf"^{re.escape(h.B_NET4)} dev uipsec-a proto 85 scope link"
    assert re.search(route + r"\s*$", routes(pair.a), re.M), routes(pair.a)

    pair.a.run(["ip", "addr", "add", f"{h.A_INNER4}/32", "dev", "lo"])
    wait_for(lambda: re.search(route + rf" src {re.escape(h.A_INNER4)}", routes(pair.a), re.M),
             what="the route's preferred source")
    assert len(routes(pair.a).splitlines()) == 1, routes(pair.a)

    pair.a.run(["ip", "addr", "del", f"{h.A_INNER4}/32", "dev", "lo"])
    wait_for(lambda: re.search(route + r"\s*$", routes(pair.a), re.M),
             what="the route back without a source")
    pair.a.run(["ip", "addr", "add", f"{h.A_INNER4}/32", "dev", "lo"])
    wait_for(lambda: "src" in routes(pair.a), what="the source again")
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, f"{result.stdout}\n{a.output()}"
    h.stop_cleanly(pair, a, b)


def test_foreign_entries_survive_start_kill_and_restart(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    # strongSwan's (or anyone's) entries in the same table and at the same priority.
    pair.a.run(["ip", "route", "add", "198.18.77.0/24", "dev", "lo", "table", "220"])
    pair.a.run(["ip", "-6", "route", "add", "2001:db8:77::/48", "dev", "lo", "table", "220"])
    pair.a.run(["ip", "rule", "add", "priority", "220", "fwmark", "0x5", "table", "220"])

    def foreign_present():
        assert "198.18.77.0/24 dev lo" in routes(pair.a), routes(pair.a)
        assert "2001:db8:77::/48 dev lo" in routes(pair.a, "-6"), routes(pair.a, "-6")
        assert re.search(r"220:\s+from all fwmark 0x5 lookup 220\s*$", rules(pair.a), re.M), \
            rules(pair.a)

    wide = with_policies(h.tunnel_config("a", "aes-gcm", keys), {
        "out": f"src {h.A_NET4} dst 198.18.0.0/16 dir out tmpl src {h.A_OUTER4} "
               f"dst {h.B_OUTER4} proto esp reqid 1 mode tunnel",
        "bypass": f"src {h.A_NET4} dst {h.B_NET4} proto udp dport 53 dir out action allow"})
    a = h.Daemon(pair.a, pair.workdir, "a", wide, uipsecd, uipsec)
    foreign_present()
    assert "throw 198.18.0.2 proto 85" in routes(pair.a)
    a.process.kill()  # SIGKILL by PID: no cleanup at all
    a.process.wait(timeout=10)
    # The throw route and the rules outlive the daemon (routes via the TUN device go with it).
    assert "throw 198.18.0.2 proto 85" in routes(pair.a), routes(pair.a)
    assert "proto 85" in rules(pair.a)
    foreign_present()

    # A restart with other policies cleans up what the killed run left, and only that.
    a = h.Daemon(pair.a, pair.workdir, "a2", h.tunnel_config("a", "aes-gcm", keys), uipsecd,
                 uipsec)
    assert "throw" not in routes(pair.a), routes(pair.a)
    assert "219:" not in rules(pair.a), rules(pair.a)
    ours = [line for line in rules(pair.a).splitlines() if "proto 85" in line]
    assert len(ours) == 1 and "220:" in ours[0], ours
    assert f"{h.B_NET4} dev uipsec-a proto 85" in routes(pair.a)
    foreign_present()
    assert a.stop() == 0, a.output()
    h.assert_nothing_of_ours(pair.a)
    foreign_present()


if __name__ == "__main__":
    h.main([test_host_to_host_with_fwmarks, test_strict_rp_filter_is_reported,
            test_host_to_host_needs_allow_peer_ts_and_a_mark,
            test_exclude_routes_shared_and_removed, test_bypass_and_discard,
            test_preferred_source_follows_addresses,
            test_foreign_entries_survive_start_kill_and_restart])
