#!/usr/bin/python3
"""Restarts of one side of a static tunnel (both uipsecd with the same static keys, replay window
128) while traffic flows: the restarted side continues its outbound sequence numbers above
everything it sent before (docs/OPERATIONS.md), so the peer's replay window accepts the new
packets — after a crash (SIGKILL: the next reserved block) and after a clean stop (SIGTERM: right
after the last number sent). The control: with the reservations turned off the same restart
leaves the peer dropping the restarted side's packets as replays."""

import os
import signal
import subprocess

import harness as h

RESERVATION = 4096


def sa(daemon, spi):
    return next(s for s in daemon.cli("state", "list", json_output=True)
                if s["config"]["spi"] == spi)


def replay_drops(daemon):
    drops = daemon.stats()["drops"]
    return drops["replay-duplicate"] + drops["replay-too-old"]


def start_b(pair, keys, uipsecd, uipsec, extra=""):
    socket = os.path.join(pair.workdir, "b.ctl")
    if os.path.exists(socket):  # left by a killed daemon; the harness waits for a new one
        os.unlink(socket)
    config = h.tunnel_config("b", "aes-gcm", keys,
                             extra_uipsec=f"sequence_reservation = {RESERVATION}\n  {extra}")
    return h.Daemon(pair.b, pair.workdir, "b", config, uipsecd, uipsec)


def background_ping(pair):
    """A ping from A to B every 50 ms for the whole test: the echo replies are B's outbound."""
    return pair.a.popen(["ping", "-i", "0.05", "-W", "1", "-I", h.A_INNER4, h.B_INNER4],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def push_b_sequence(pair, b):
    """Moves B's outbound sequence number (SPI 0x1002) well past what a few pings after a
    restart reach, so that a restart at 1 would fall left of A's replay window."""
    sent, received, count = h.tcp_transfer(pair.b, pair.a, h.B_INNER4, h.A_INNER4, 1 << 20)
    assert sent == received and count == 1 << 20
    return sa(b, 0x1002)["outbound_sequence"]


def check_resumes(pair, a, b, before, what):
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=5)
    assert result.returncode == 0, f"{what}: no traffic after the restart:\n{result.stdout}\n" \
                                   f"{b.output()}"
    after = sa(b, 0x1002)["outbound_sequence"]
    inbound = sa(a, 0x1002)["inbound_sequence"]
    assert after > before and inbound > before, (what, before, after, inbound)
    h.log(f"   {what}: B sent up to {before} before, continues at {after}; A accepted up to "
          f"{inbound}")
    return after


def test_restarts_keep_the_peer_accepting(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    b = start_b(pair, keys, uipsecd, uipsec)
    pinger = background_ping(pair)
    try:
        before = push_b_sequence(pair, b)
        assert before > 500, before
        drops_before = replay_drops(a)

        # A crash: nothing written at the end; the restart skips to the reserved bound.
        b.process.send_signal(signal.SIGKILL)
        b.process.wait(timeout=10)
        b = start_b(pair, keys, uipsecd, uipsec)
        after = check_resumes(pair, a, b, before, "after SIGKILL")
        assert after > RESERVATION, f"a crash continues above the reserved block: {after}"
        assert replay_drops(a) == drops_before, a.stats()["drops"]

        # A clean stop writes the last number sent: the restart skips nothing.
        before = push_b_sequence(pair, b)
        assert b.stop() == 0, b.output()
        b = start_b(pair, keys, uipsecd, uipsec)
        after = check_resumes(pair, a, b, before, "after SIGTERM")
        assert after < before + 200, f"a clean restart skips nothing: {before} -> {after}"
        assert replay_drops(a) == drops_before, a.stats()["drops"]
        # The reservation file is there, and says more than B has sent.
        with open(os.path.join(pair.workdir, "b.state", "b_to_a.seq")) as f:
            text = f.read()
        bound = int(text.split("bound ")[1].split()[0])
        assert bound >= sa(b, 0x1002)["outbound_sequence"], text
    finally:
        pinger.terminate()
        pinger.wait(timeout=10)
    stats_b = b.stats()
    assert stats_b["drops"]["sequence-unreserved"] == 0, stats_b["drops"]
    h.stop_cleanly(pair, a, b)


def test_without_reservations_the_peer_drops_a_restarted_side(topology):
    """The control: the same restart with uipsec.state_directory empty (the old behaviour)."""
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    b = start_b(pair, keys, uipsecd, uipsec, extra="state_directory =")
    push_b_sequence(pair, b)
    assert b.stop() == 0, b.output()
    b = start_b(pair, keys, uipsecd, uipsec, extra="state_directory =")
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=3)
    assert result.returncode != 0, "A accepted B's reused sequence numbers"
    assert replay_drops(a) > 0, a.stats()["drops"]
    assert not os.path.exists(os.path.join(pair.workdir, "b.state"))
    for daemon in (a, b):
        assert daemon.stop() == 0, daemon.output()


if __name__ == "__main__":
    h.main([test_restarts_keep_the_peer_accepting,
            test_without_reservations_the_peer_drops_a_restarted_side])
