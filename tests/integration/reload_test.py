#!/usr/bin/python3
"""SIGHUP reloads of uipsecd <-> uipsecd (static SAs, AES-GCM) while pings flow (docs/OPERATIONS.md,
"Reloading"):
  - the same file: nothing is replaced, no ping is lost, SA counters and sequence numbers go on;
    a changed start-only key is logged as needing a restart;
  - new keys for one SA on both sides: after A's reload alone B fails A's packets (the new key
    is in use), after B's too the tunnel carries traffic again;
  - a broken file: nothing changes, the log names file and line, no ping is lost;
  - a file without B's outbound policy: the policy and its route go, B's replies stop; the
    policy back: traffic again.
"""

import os
import signal
import subprocess
import time

import harness as h
from netns import wait_for


def sa(daemon, spi):
    return next(s for s in daemon.cli("state", "list", json_output=True)
                if s["config"]["spi"] == spi)


def write(daemon, text):
    with open(daemon.config, "w") as f:
        f.write(text)


def reload(daemon, expect):
    """SIGHUP, then waits for a new log line containing `expect`; returns the new log text."""
    before = len(daemon.output())
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(lambda: expect in daemon.output()[before:], timeout=10,
             what=f"{daemon.name}'s reload log '{expect}'")
    assert daemon.process.poll() is None, daemon.output()
    return daemon.output()[before:]


def ping_during(pair, action, count=40):
    """Pings A -> B every 50 ms while `action` runs; returns (transmitted, received)."""
    pinger = pair.a.popen(["ping", "-c", str(count), "-i", "0.05", "-W", "2", "-I", h.A_INNER4,
                           h.B_INNER4], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    action()
    out, _ = pinger.communicate(timeout=30)
    line = next(line for line in out.splitlines() if "transmitted" in line)
    return int(line.split()[0]), int(line.split()[3])


def route_lines(ns):
    return ns.run(["ip", "-4", "route", "show", "table", "220"], check=False).stdout


def test_reloads_while_traffic_flows(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    b = h.Daemon(pair.b, pair.workdir, "b", h.tunnel_config("b", "aes-gcm", keys), uipsecd, uipsec)
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4).returncode == 0, b.output()
    with open(a.config) as f:
        a_text = f.read()
    with open(b.config) as f:
        b_text = f.read()

    # 1. The same file (B also with a start-only key changed): nothing replaced, nothing lost.
    before_a = sa(a, 0x1001)
    before_b = sa(b, 0x1002)
    write(b, b_text.replace("uipsec {", "uipsec {\n  buffers = 1024", 1))
    logs = {}

    def same():
        logs["a"] = reload(a, "reload: done")
        logs["b"] = reload(b, "reload: done")

    sent, received = ping_during(pair, same)
    assert (sent, received) == (40, 40), f"pings lost across a reload of the same file: " \
                                         f"{received}/{sent}"
    assert "done: states: 2 unchanged; policies: 2 unchanged" in logs["a"], logs["a"]
    assert "done: states: 2 unchanged; policies: 2 unchanged" in logs["b"], logs["b"]
    assert "uipsec.buffers changed: needs a restart" in logs["b"], logs["b"]
    after_a, after_b = sa(a, 0x1001), sa(b, 0x1002)
    assert after_a["added"] == before_a["added"], (before_a, after_a)
    assert after_a["packets"] >= before_a["packets"] + 40, (before_a, after_a)
    assert after_a["outbound_sequence"] >= before_a["outbound_sequence"] + 40
    assert after_b["outbound_sequence"] >= before_b["outbound_sequence"] + 40
    h.log(f"   same file: A's SA 0x1001 went on from {before_a['outbound_sequence']} to "
          f"{after_a['outbound_sequence']}, 40/40 pings across the reloads")

    # 2. New keys for a_to_b (SPI 0x1001) on both sides. A first: B cannot open A's packets. (A's
    #    new SA starts at 1000, above B's replay window, so that B checks the ICV: auth-failed.)
    old_key = keys(20, "ab")
    new_key = os.urandom(20).hex()
    a_text = a_text.replace(f"0x{old_key} 128", f"0x{new_key} 128 replay-oseq 0x3e8")
    b_text = b_text.replace(old_key, new_key)
    write(a, a_text)
    log_a = reload(a, "reload: done")
    assert "uipsec.states.a_to_b: replaced" in log_a and "same keys" not in log_a, log_a
    failures = b.stats()["drops"]["auth-failed"]
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=2).returncode != 0
    assert b.stats()["drops"]["auth-failed"] >= failures + 2, b.stats()["drops"]
    write(b, b_text)
    log_b = reload(b, "reload: done")
    assert "done: states: 1 unchanged, 1 replaced; policies: 2 unchanged" in log_b, log_b
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4).returncode == 0, b.output()
    rekeyed = sa(a, 0x1001)
    assert rekeyed["added"] != after_a["added"], rekeyed
    assert 1000 < rekeyed["outbound_sequence"] < 1100, rekeyed
    h.log("   new keys: A alone -> B fails its packets (auth-failed); both -> traffic again")

    # 2b. B's b_to_a with the same keys but another replay window: replaced, and its outbound
    #     numbers continue where the old SA stopped, so A's replay window takes them.
    replays = sum(a.stats()["drops"][k] for k in ("replay-duplicate", "replay-too-old"))
    before = sa(b, 0x1002)
    b_text = b_text.replace("spi 0x1002 reqid 1 mode tunnel  replay-window 128",
                            "spi 0x1002 reqid 1 mode tunnel  replay-window 256", 1)
    assert "replay-window 256" in b_text, b_text
    write(b, b_text)
    logs.clear()

    def window():
        logs["b"] = reload(b, "reload: done")

    sent, received = ping_during(pair, window)
    assert "uipsec.states.b_to_a: replaced (same keys: outbound continues after" in logs["b"], \
        logs["b"]
    assert received >= sent - 1, f"pings lost across a same-key replacement: {received}/{sent}"
    after = sa(b, 0x1002)
    assert after["added"] != before["added"] and after["config"]["replay_window"] == 256, after
    assert after["outbound_sequence"] >= before["outbound_sequence"] + 39, (before, after)
    assert sum(a.stats()["drops"][k] for k in ("replay-duplicate", "replay-too-old")) == replays
    h.log(f"   same keys, new window: B's SA 0x1002 {before['outbound_sequence']} -> "
          f"{after['outbound_sequence']}, {received}/{sent} pings, no replay drop at A")

    # 3. A broken file: nothing changes, the log says where, traffic goes on.
    broken = b_text.replace("uipsec {", "uipsec {\n  nat_t_port = many", 1)
    line = broken.splitlines().index("  nat_t_port = many") + 1
    write(b, broken)
    before = sa(b, 0x1002)
    logs.clear()

    def bad():
        logs["b"] = reload(b, "nothing changed")

    sent, received = ping_during(pair, bad)
    assert (sent, received) == (40, 40), f"pings lost across a broken reload: {received}/{sent}"
    assert f"reload: {b.config}:{line}: uipsec.nat_t_port: expected" in logs["b"], logs["b"]
    after = sa(b, 0x1002)
    assert after["added"] == before["added"], (before, after)
    assert after["outbound_sequence"] >= before["outbound_sequence"] + 40
    h.log(f"   broken file: '{logs['b'].strip()}'")

    # 4. B's outbound policy removed: the policy and its route go, B's replies stop.
    assert h.A_NET4 in route_lines(pair.b), route_lines(pair.b)
    without = b_text.replace(next(x for x in b_text.splitlines() if x.strip().startswith("out =")),
                             "", 1)
    write(b, without)
    log_b = reload(b, "reload: done")
    assert "uipsec.policies.out: removed" in log_b, log_b
    policies = b.cli("policy", "list", json_output=True)
    assert [p["config"]["direction"] for p in policies] == ["in"], policies
    assert h.A_NET4 not in route_lines(pair.b), route_lines(pair.b)
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=2).returncode != 0
    # And back.
    write(b, b_text)
    log_b = reload(b, "reload: done")
    assert "uipsec.policies.out: added" in log_b, log_b
    assert h.ping(pair.a, h.A_INNER4, h.B_INNER4).returncode == 0, b.output()
    h.log("   policy removed: route gone and replies stop; put back: traffic again")

    h.stop_cleanly(pair, a, b)


if __name__ == "__main__":
    h.main([test_reloads_while_traffic_flows])
