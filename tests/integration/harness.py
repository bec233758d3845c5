"""Shared pieces of uipsec's integration tests: two hosts A and B in their own network
namespaces joined by a veth pair, uipsecd instances with generated configurations, the CLI, and
transfers whose checksum is compared at the far end.

Addresses (all inside 198.18.0.0/15 and 2001:db8::/32):
  outer link   A 198.18.0.1/30, 2001:db8:0:1::1/64   B 198.18.0.2/30, 2001:db8:0:1::2/64
  inner nets   A 198.18.10.1, 2001:db8:10::1          B 198.18.20.1, 2001:db8:20::1
"""

import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netns import Topology, log, require_root, run, wait_for  # noqa: E402

A_OUTER4, B_OUTER4 = "198.18.0.1", "198.18.0.2"
A_OUTER6, B_OUTER6 = "2001:db8:0:1::1", "2001:db8:0:1::2"
A_INNER4, B_INNER4 = "198.18.10.1", "198.18.20.1"
A_INNER6, B_INNER6 = "2001:db8:10::1", "2001:db8:20::1"
A_NET4, B_NET4 = "198.18.10.0/24", "198.18.20.0/24"
A_NET6, B_NET6 = "2001:db8:10::/48", "2001:db8:20::/48"

SUITES = {
    # name: (state algorithm arguments given a key factory, scapy suite name)
    "aes-gcm": (lambda k: f"aead 'rfc4106(gcm(aes))' 0x{k(20)} 128", "aes-gcm"),
    "chacha20-poly1305": (lambda k: f"aead 'rfc7539esp(chacha20,poly1305)' 0x{k(36)} 128",
                          "chacha20-poly1305"),
    "aes-cbc-sha256": (lambda k: f"enc 'cbc(aes)' 0x{k(16)} auth-trunc 'hmac(sha256)' 0x{k(32)} 128",
                       "aes-cbc-sha256"),
}


def binaries():
    """Paths of uipsecd and uipsec: from the environment (CTest sets them) or build/dev."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    uipsecd = os.environ.get("UIPSECD", os.path.join(root, "build/dev/src/daemon/uipsecd"))
    uipsec = os.environ.get("UIPSEC", os.path.join(root, "build/dev/src/cli/uipsec"))
    for path in (uipsecd, uipsec):
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} is not built (cmake --build --preset dev)")
    return uipsecd, uipsec


class Keys:
    """Fresh random key material per test run; the same bytes for both ends of an SA."""

    def __init__(self):
        self.cache = {}

    def __call__(self, size, name="default"):
        key = (name, size)
        if key not in self.cache:
            self.cache[key] = secrets.token_hex(size)
        return self.cache[key]


class Daemon:
    def __init__(self, ns, workdir, name, config_text, uipsecd, uipsec, user=None):
        self.ns, self.name, self.uipsec = ns, name, uipsec
        self.socket = os.path.join(workdir, f"{name}.ctl")
        self.config = os.path.join(workdir, f"{name}.conf")
        self.log = os.path.join(workdir, f"{name}.log")
        if "state_directory" not in config_text:
            # Each daemon keeps its sequence reservations (docs/OPERATIONS.md) in the test's
            # directory, apart from the other daemon's and from the system's /var/lib/uipsec.
            state = os.path.join(workdir, f"{name}.state")
            config_text = config_text.replace(
                "uipsec {", f"uipsec {{\n  state_directory = {state}", 1)
        with open(self.config, "w") as f:
            f.write(config_text.replace("@SOCKET@", self.socket))
        prefix = []
        if user:
            # An unprivileged user needs read-write access to /dev/net/tun, as it has on a stock
            # system (mode 0666). Where the host keeps it at 0600 (this CI machine), give the
            # daemon a private mount namespace with a 0666 node of the same device on top.
            node = os.path.join(workdir, f"{name}.tun")
            setup = (f"[ -e {node} ] || mknod -m 666 {node} c 10 200; "
                     f"mount --bind {node} /dev/net/tun && exec \"$@\"")
            prefix = ["unshare", "--mount", "sh", "-c", setup, "sh",
                      "setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                      "--inh-caps=-all", "--bounding-set=-all"]
        self.process = ns.popen(prefix + [uipsecd, "-c", self.config],
                                stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.socket) or self.process.poll() is not None,
                 what=f"{name}'s control socket")
        if self.process.poll() is not None:
            raise RuntimeError(f"uipsecd {name} exited {self.process.returncode}:\n{self.output()}")

    def output(self):
        with open(self.log) as f:
            return f.read()

    def cli(self, *args, check=True, json_output=False):
        words = [self.uipsec, "-S", self.socket] + (["--json"] if json_output else []) + list(args)
        result = run(words, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"uipsec {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}\n--- {self.name} log ---\n{self.output()}")
        return json.loads(result.stdout) if json_output and result.returncode == 0 else result

    def stats(self):
        return self.cli("stats", json_output=True)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        return self.process.returncode


class Pair:
    """Hosts A and B in a Topology, with outer and inner addresses."""

    def __init__(self, topology, mtu=None):
        self.topology = topology
        self.a = topology.namespace("a")
        self.b = topology.namespace("b")
        topology.link(self.a, [f"{A_OUTER4}/30", f"{A_OUTER6}/64"],
                      self.b, [f"{B_OUTER4}/30", f"{B_OUTER6}/64"], mtu=mtu)
        for ns, addresses in ((self.a, (A_INNER4 + "/32", A_INNER6 + "/128")),
                              (self.b, (B_INNER4 + "/32", B_INNER6 + "/128"))):
            for address in addresses:
                extra = ["nodad"] if ":" in address else []
                ns.run(["ip", "addr", "add", address, "dev", "lo"] + extra)
        self.workdir = tempfile.mkdtemp(prefix="uipsec-it-")


def tunnel_config(side, suite, keys, outer6=False, inner6=False, esn=False, out_seq=0,
                  in_seq=0, extra_uipsec="", tun_name=None, encap=True):
    """A uipsecd configuration for one end of a tunnel A <-> B with static SAs (reqid 1)."""
    a_out, b_out = (A_OUTER6, B_OUTER6) if outer6 else (A_OUTER4, B_OUTER4)
    a_net, b_net = (A_NET6, B_NET6) if inner6 else (A_NET4, B_NET4)
    algorithms_ab = SUITES[suite][0](lambda n: keys(n, "ab"))
    algorithms_ba = SUITES[suite][0](lambda n: keys(n, "ba"))
    esn_args = "flag esn" if esn else ""

    def seq(out, inn):
        words = []
        if out:
            words += [f"replay-oseq 0x{out & 0xffffffff:x}", f"replay-oseq-hi 0x{out >> 32:x}"]
        if inn:
            words += [f"replay-seq 0x{inn & 0xffffffff:x}", f"replay-seq-hi 0x{inn >> 32:x}"]
        return " ".join(words)

    encap_args = "encap espinudp 4500 4500 0.0.0.0" if encap else ""
    ab = (f"src {a_out} dst {b_out} proto esp spi 0x1001 reqid 1 mode tunnel {esn_args} "
          f"replay-window 128 {algorithms_ab} {encap_args}")
    ba = (f"src {b_out} dst {a_out} proto esp spi 0x1002 reqid 1 mode tunnel {esn_args} "
          f"replay-window 128 {algorithms_ba} {encap_args}")
    if side == "a":
        ab += " " + seq(out_seq, 0)
        ba += " " + seq(0, in_seq)
        local, remote, local_net, remote_net = a_out, b_out, a_net, b_net
    else:
        ab += " " + seq(0, in_seq)
        ba += " " + seq(out_seq, 0)
        local, remote, local_net, remote_net = b_out, a_out, b_net, a_net
    tun = tun_name or f"uipsec-{side}"
    return f"""uipsec {{
  tun {{
    name = {tun}
  }}
  control_socket = @SOCKET@
  {extra_uipsec}
  states {{
    a_to_b = {ab}
    b_to_a = {ba}
  }}
  policies {{
    out = src {local_net} dst {remote_net} dir out tmpl src {local} dst {remote} proto esp reqid 1 mode tunnel
    in = src {remote_net} dst {local_net} dir in tmpl src {remote} dst {local} proto esp reqid 1 mode tunnel
  }}
}}
"""


def assert_nothing_of_ours(ns):
    """No route or rule with uipsec's routing-protocol tag (85) is left in the namespace."""
    for family in ("-4", "-6"):
        routes = ns.run(["ip", family, "route", "show", "table", "all", "proto", "85"],
                        check=False).stdout
        assert routes.strip() == "", f"routes left behind:\n{routes}"
        rules = [line for line in ns.run(["ip", family, "rule", "show"], check=False).stdout
                 .splitlines() if "proto 85" in line]
        assert not rules, f"rules left behind: {rules}"


def stop_cleanly(pair, *daemons):
    """Stops each daemon (exit status 0 expected), then checks that neither namespace keeps a
    route or rule of ours."""
    for daemon in daemons:
        assert daemon.stop() == 0, daemon.output()
    for ns in (pair.a, pair.b):
        assert_nothing_of_ours(ns)


def ping(ns, source, destination, count=3):
    args = ["ping", "-c", str(count), "-W", "2", "-i", "0.2", "-I", source, destination]
    return ns.run(args, check=False, timeout=30)


def tcp_transfer(client_ns, server_ns, client_address, server_address, size=1 << 20, port=5001):
    """Sends `size` random bytes over TCP; returns (sent sha256, received sha256, received size)."""
    server_code = (
        "import hashlib,socket,sys\n"
        "fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
        "s=socket.socket(fam);s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        "s.bind((sys.argv[1],int(sys.argv[2])));s.listen(1);print('listening',flush=True)\n"
        "c,_=s.accept();h=hashlib.sha256();n=0\n"
        "while True:\n"
        "  d=c.recv(65536)\n"
        "  if not d: break\n"
        "  h.update(d);n+=len(d)\n"
        "print(h.hexdigest(),n,flush=True)\n")
    server = server_ns.popen(["/usr/bin/python3", "-c", server_code, server_address, str(port)],
                             stdout=subprocess.PIPE)
    assert server.stdout.readline().strip() == "listening"
    data = os.urandom(size)
    client_code = (
        "import socket,sys\n"
        "fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
        "s=socket.socket(fam);s.settimeout(30);s.bind((sys.argv[1],0))\n"
        "s.connect((sys.argv[2],int(sys.argv[3])));s.sendall(sys.stdin.buffer.read());s.close()\n")
    subprocess.run(client_ns.exec_args(["/usr/bin/python3", "-c", client_code, client_address,
                                        server_address, str(port)]),
                   input=data, check=True, timeout=120)
    line = server.stdout.readline().split()
    server.wait(timeout=30)
    return hashlib.sha256(data).hexdigest(), line[0], int(line[1])


def main(tests):
    """Runs each test function in a fresh Topology; prints a summary; exits 1 on any failure.
    Command line: optional test names to run only those."""
    require_root()
    selected = sys.argv[1:]
    failures = []
    for test in tests:
        if selected and test.__name__ not in selected:
            continue
        log(f"--- {test.__name__}")
        started = time.monotonic()
        try:
            with Topology(test.__name__[5:9]) as topology:
                test(topology)
            log(f"ok   {test.__name__} ({time.monotonic() - started:.1f}s)")
        except Exception:  # report and go on with the next test
            traceback.print_exc()
            failures.append(test.__name__)
            log(f"FAIL {test.__name__}")
    if failures:
        log(f"{len(failures)} failed: {' '.join(failures)}")
        sys.exit(1)
    log("all passed")
