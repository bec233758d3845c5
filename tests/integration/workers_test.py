#!/usr/bin/python3
"""Several workers (uipsec.workers): uipsecd <-> uipsecd with two workers each carries traffic
of several SAs in both directions intact — the TUN device is multi-queue with one queue per
worker, the ESP socket a reuseport group of two steered by SPI — and the same daemon attached to a
single-queue device falls back to one worker and says so."""

import os
import subprocess
import sys
import threading

import harness as h

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import workers_bench  # noqa: E402  (its configuration: one SA pair per TCP port)

IFF_MULTI_QUEUE = 0x100


def threads_of(process):
    return len(os.listdir(f"/proc/{process.pid}/task"))


def udp_4500_sockets(ns, pid):
    out = ns.run(["ss", "-uanp", "sport = :4500"]).stdout
    return sum(1 for line in out.splitlines() if f"pid={pid}," in line)


def test_two_workers_carry_several_sas(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    streams = 4
    daemons = [h.Daemon(ns, pair.workdir, side,
                        workers_bench.config(side, keys, 2, streams, per_stream_sas=True),
                        uipsecd, uipsec)
               for ns, side in ((pair.a, "a"), (pair.b, "b"))]
    for daemon, ns, side in ((daemons[0], pair.a, "a"), (daemons[1], pair.b, "b")):
        flags = int(ns.run(["cat", f"/sys/class/net/uipsec-{side}/tun_flags"]).stdout, 16)
        assert flags & IFF_MULTI_QUEUE, f"{side}: TUN device not multi-queue: {flags:#x}"
        assert udp_4500_sockets(ns, daemon.process.pid) == 2, \
            ns.run(["ss", "-uanp", "sport = :4500"]).stdout
        # control thread + two workers (at least)
        assert threads_of(daemon.process) >= 3, threads_of(daemon.process)

    # One transfer per SA (TCP port 5201+k selects SA pair k), all at once, both checked
    # end to end; pings go through the same SAs' neighbours meanwhile.
    results = {}

    def transfer(k):
        results[k] = h.tcp_transfer(pair.a, pair.b, h.A_INNER4, h.B_INNER4, size=4 << 20,
                                    port=workers_bench.BASE_PORT + k)

    threads = [threading.Thread(target=transfer, args=(k,)) for k in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert len(results) == streams, f"transfers finished: {sorted(results)}"
    for k, (sent, received, size) in results.items():
        assert size == 4 << 20 and sent == received, f"stream {k}: {size} bytes, digest differs"

    h.stop_cleanly(pair, *daemons)


def test_single_queue_device_falls_back_to_one_worker(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    for ns, side in ((pair.a, "a"), (pair.b, "b")):
        ns.run(["ip", "tuntap", "add", "dev", f"sq-{side}", "mode", "tun"])
        ns.run(["ip", "link", "set", f"sq-{side}", "up"])
    daemons = []
    for ns, side in ((pair.a, "a"), (pair.b, "b")):
        text = h.tunnel_config(side, "aes-gcm", keys, tun_name=f"sq-{side}",
                               extra_uipsec="workers = 2")
        text = text.replace(f"name = sq-{side}", f"name = sq-{side}\n    mode = attach")
        daemons.append(h.Daemon(ns, pair.workdir, side, text, uipsecd, uipsec))
    for daemon in daemons:
        assert "single-queue: one worker instead of 2" in daemon.output(), daemon.output()
        assert udp_4500_sockets(daemon.ns, daemon.process.pid) == 1
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4, count=3)
    assert result.returncode == 0, result.stdout
    h.stop_cleanly(pair, *daemons)
    for ns, side in ((pair.a, "a"), (pair.b, "b")):
        ns.run(["ip", "tuntap", "del", "dev", f"sq-{side}", "mode", "tun"])


if __name__ == "__main__":
    h.main([test_two_workers_carry_several_sas, test_single_queue_device_falls_back_to_one_worker])
