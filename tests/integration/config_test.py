#!/usr/bin/python3
"""What users get wrong: broken configuration files and command lines get errors that name the
file, line, key or argument and change nothing; the control socket keeps other users out; and
uipsecd runs without CAP_NET_ADMIN on a TUN device made for it beforehand (attach mode)."""

import os
import subprocess

import harness as h
from netns import run

GOOD_KEY = "0x" + "11" * 20


def write(pair, name, text):
    path = os.path.join(pair.workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_broken_configuration_files(topology):
    pair = h.Pair(topology)
    uipsecd, _ = h.binaries()
    cases = {
        "syntax": ("uipsec {\n  tun {\n    mtu 1400\n  }\n}\n", ":3:", "expected '='"),
        "unknown-key": ("uipsec {\n  tun {\n    mtuu = 1400\n  }\n}\n", ":3:", "mtuu"),
        "bad-value": ("uipsec {\n  nat_t_port = 70000\n}\n", ":2:", "uipsec.nat_t_port"),
        "bad-key-length": (
            "uipsec {\n  states {\n    x = src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1000 "
            "aead 'rfc4106(gcm(aes))' 0x1122 128\n  }\n}\n", ":3:", "uipsec.states.x"),
        "retired-algorithm": (
            "uipsec {\n  states {\n    x = src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1000 "
            "enc 'cbc(des3_ede)' 0x" + "11" * 24 + " auth-trunc 'hmac(sha256)' 0x" + "22" * 32 +
            " 128\n  }\n}\n", ":3:", "RFC 8221"),
        "unbalanced": ("uipsec {\n  tun {\n", ":2:", "not closed"),
    }
    for name, (text, line, needle) in cases.items():
        path = write(pair, f"{name}.conf", text)
        result = pair.a.run([uipsecd, "-c", path, "--check"], check=False)
        assert result.returncode != 0, f"{name}: accepted:\n{result.stdout}"
        assert path + line in result.stdout or not line, f"{name}: no file:line in {result.stdout!r}"
        assert needle.lower() in result.stdout.lower(), f"{name}: {needle!r} not in {result.stdout!r}"
        h.log(f"   {name}: {result.stdout.strip()}")
    missing = pair.a.run([uipsecd, "-c", os.path.join(pair.workdir, "nope.conf")], check=False)
    assert missing.returncode != 0 and "nope.conf" in missing.stdout
    usage = pair.a.run([uipsecd, "--frobnicate"], check=False)
    assert usage.returncode == 2 and "usage:" in usage.stdout


def test_bad_command_lines_change_nothing(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    before = a.cli("state", "list", json_output=True)
    bad = [
        ["state", "add", "src", "198.18.0.1", "dst", "198.18.0.9", "proto", "esp", "spi", "zero"],
        ["state", "add", "src", "198.18.0.1", "dst", "198.18.0.9", "proto", "esp", "spi", "0x5000",
         "aead", "rfc4106(gcm(aes))", "0x11", "128"],
        ["state", "add", "src", "198.18.0.1", "dst", "198.18.0.9", "proto", "ah", "spi", "0x5000"],
        ["state", "delete", "dst", "198.18.0.2"],
        ["state", "explode"],
        ["policy", "add", "src", "198.18.30.0/24", "dir", "sideways"],
        ["policy", "add", "src", "198.18.30.0/33", "dst", "198.18.40.0/24", "dir", "out"],
        ["teleport"],
    ]
    for words in bad:
        result = a.cli(*words, check=False)
        assert result.returncode == 2, f"{words}: exit {result.returncode}\n{result.stdout}"
        assert "uipsec --help" in result.stdout, result.stdout
    refused = a.cli("state", "add", "src", h.A_OUTER4, "dst", h.B_OUTER4, "proto", "esp", "spi",
                    "0x1001", "mode", "tunnel", "aead", "rfc4106(gcm(aes))", GOOD_KEY, "128",
                    check=False)
    assert refused.returncode == 1 and "exists" in refused.stdout, refused.stdout
    assert a.cli("state", "list", json_output=True) == before, "the daemon changed"
    assert len(a.cli("policy", "list", json_output=True)) == 2


def test_other_users_cannot_use_the_control_socket(topology):
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    a = h.Daemon(pair.a, pair.workdir, "a", h.tunnel_config("a", "aes-gcm", keys), uipsecd, uipsec)
    assert oct(os.stat(a.socket).st_mode & 0o777) == "0o600"
    os.chmod(pair.workdir, 0o755)
    os.chmod(a.socket, 0o666)  # even with the file opened up, SO_PEERCRED keeps them out
    result = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", uipsec, "-S",
                  a.socket, "stats"], check=False)
    assert result.returncode == 1, result.stdout
    assert "permission denied" in result.stdout.lower(), result.stdout
    assert a.cli("stats", json_output=True)["sa_count"] == 2, "root still gets in"


def test_attach_mode_without_cap_net_admin(topology):
    """The container case: an administrator made the TUN device (`ip tuntap add ... user`) and
    the routes; uipsecd runs as an unprivileged user with no capabilities at all."""
    pair = h.Pair(topology)
    keys = h.Keys()
    uipsecd, uipsec = h.binaries()
    for ns, side, remote_net in ((pair.a, "a", h.B_NET4), (pair.b, "b", h.A_NET4)):
        ns.run(["ip", "tuntap", "add", "dev", f"pre-{side}", "mode", "tun", "user", "nobody"])
        ns.run(["ip", "link", "set", f"pre-{side}", "up", "mtu", "1400"])
        ns.run(["ip", "route", "add", remote_net, "dev", f"pre-{side}"])
    os.chmod(pair.workdir, 0o777)
    daemons = []
    for ns, side in ((pair.a, "a"), (pair.b, "b")):
        config = h.tunnel_config(side, "aes-gcm", keys, tun_name=f"pre-{side}",
                                 extra_uipsec="routes {\n    manage = no\n  }\n  "
                                              "tun_mode_placeholder = 1")
        config = config.replace("tun_mode_placeholder = 1", "").replace(
            f"name = pre-{side}", f"name = pre-{side}\n    mode = attach")
        daemons.append(h.Daemon(ns, pair.workdir, side, config, uipsecd, uipsec, user="65534"))
    # `ip netns exec` and unshare exec in place, so the PID is the daemon's.
    status = open(f"/proc/{daemons[0].process.pid}/status").read()
    assert "uipsecd" in status.splitlines()[0], status.splitlines()[0]
    assert "CapEff:\t0000000000000000" in status and "Uid:\t65534" in status, status
    result = h.ping(pair.a, h.A_INNER4, h.B_INNER4)
    assert result.returncode == 0, f"{result.stdout}\n{daemons[0].output()}"
    sent, received, count = h.tcp_transfer(pair.a, pair.b, h.A_INNER4, h.B_INNER4, 300_000)
    assert sent == received and count == 300_000
    for d in daemons:
        assert d.stop() == 0, d.output()
    # The devices belong to the administrator: they stay.
    assert "pre-a" in pair.a.run(["ip", "link", "show", "pre-a"]).stdout


if __name__ == "__main__":
    h.main([test_broken_configuration_files, test_bad_command_lines_change_nothing,
            test_other_users_cannot_use_the_control_socket, test_attach_mode_without_cap_net_admin])
