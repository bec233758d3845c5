"""Network-namespace topologies for uipsec's integration tests and demo.

Every namespace, veth pair and process created here belongs to one Topology and is removed when
it closes — also when a test fails or is interrupted. Names carry a per-run prefix so that runs
never collide with each other or with anything else on the host. Addresses come only from
198.18.0.0/15 and 2001:db8::/32; IPv6 addresses are added with `nodad`.
"""

import atexit
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def log(message):
    print(message, flush=True)


def run(args, check=True, capture=True, timeout=60, **kwargs):
    """Runs a command (a list), returns CompletedProcess; raises with its output on failure."""
    result = subprocess.run(args, check=False, text=True, timeout=timeout,
                            stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.STDOUT if capture else None, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"command failed ({result.returncode}): {' '.join(args)}\n{result.stdout}")
    return result


def require_root():
    """Exits with CTest's skip code (77) when not root: these tests need namespaces."""
    if os.geteuid() != 0:
        print("SKIP: integration tests need root (network namespaces)")
        sys.exit(77)


class Namespace:
    def __init__(self, topology, name):
        self.topology = topology
        self.name = name

    def exec_args(self, args):
        return ["ip", "netns", "exec", self.name] + list(args)

    def run(self, args, **kwargs):
        return run(self.exec_args(args), **kwargs)

    def sysctl(self, key, value):
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def popen(self, args, **kwargs):
        """Starts a process in the namespace; the topology stops it (by PID) when it closes."""
        process = subprocess.Popen(self.exec_args(args), text=True, **kwargs)
        self.topology.processes.append(process)
        return process


class Topology:
    """A set of namespaces joined by veth pairs. Use as a context manager."""

    def __init__(self, tag):
        self.prefix = f"ui{tag}{os.getpid() % 100000}"
        self.namespaces = []
        self.processes = []
        self.closed = False
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        self.close()
        sys.exit(128 + signum)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def namespace(self, short):
        """Creates namespace <prefix>-<short> with loopback up, forwarding off and strict
        rp_filter set explicitly (tests change them where they need to)."""
        ns = Namespace(self, f"{self.prefix}-{short}")
        run(["ip", "netns", "add", ns.name])
        self.namespaces.append(ns)
        ns.run(["ip", "link", "set", "lo", "up"])
        for key, value in (("net.ipv4.ip_forward", 0), ("net.ipv4.conf.all.rp_filter", 2),
                           ("net.ipv4.conf.default.rp_filter", 2),
                           ("net.ipv6.conf.all.forwarding", 0)):
            ns.sysctl(key, value)
        return ns

    def link(self, a, a_addresses, b, b_addresses, mtu=None):
        """A veth pair between namespaces a and b, with addresses ("198.18.0.1/30", ...)."""
        a_if = f"{self.prefix[-6:]}a{len(self.namespaces)}{os.urandom(1).hex()}"
        b_if = f"{self.prefix[-6:]}b{len(self.namespaces)}{os.urandom(1).hex()}"
        run(["ip", "link", "add", a_if, "netns", a.name, "type", "veth", "peer", "name", b_if,
             "netns", b.name])
        for ns, ifname, addresses in ((a, a_if, a_addresses), (b, b_if, b_addresses)):
            if mtu:
                ns.run(["ip", "link", "set", ifname, "mtu", str(mtu)])
            for address in addresses:
                extra = ["nodad"] if ":" in address else []
                ns.run(["ip", "addr", "add", address, "dev", ifname] + extra)
            ns.run(["ip", "link", "set", ifname, "up"])
        return a_if, b_if

    def close(self):
        if self.closed:
            return
        self.closed = True
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for ns in reversed(self.namespaces):
            run(["ip", "netns", "del", ns.name], check=False)


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
