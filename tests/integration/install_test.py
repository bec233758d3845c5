#!/usr/bin/python3
"""`cmake --install` into a temporary prefix puts the binaries, the systemd unit (with the
installed paths), the example configuration (every documented key, each at its default, all
accepted by `uipsecd --check`), the man pages and the documentation where they belong.
Needs no root. Environment: UIPSEC_BUILD_DIR (CTest sets it) or build/dev."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(args, **kwargs):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120, **kwargs)


def documented_keys():
    """The keys of docs/CONFIGURATION.md's table: `uipsec.a.b` (and `uipsec.x`, `uipsec.y`)."""
    keys = []
    with open(os.path.join(ROOT, "docs", "CONFIGURATION.md")) as f:
        for line in f:
            if line.startswith("| `uipsec."):
                keys += re.findall(r"`uipsec\.([a-z_.]+)`", line.split("|")[1])
    return keys


def main():
    build = os.environ.get("UIPSEC_BUILD_DIR", os.path.join(ROOT, "build", "dev"))
    cmake = os.environ.get("CMAKE", shutil.which("cmake") or "cmake")
    prefix = tempfile.mkdtemp(prefix="uipsec-install-")
    try:
        result = run([cmake, "--install", build, "--prefix", prefix])
        assert result.returncode == 0, result.stdout
        expected = ["sbin/uipsecd", "bin/uipsec", "lib/systemd/system/uipsecd.service",
                    "share/doc/uipsec/uipsec.conf.example", "share/doc/uipsec/CONFIGURATION.md",
                    "share/doc/uipsec/OPERATIONS.md", "share/man/man8/uipsecd.8",
                    "share/man/man8/uipsec.8"]
        for path in expected:
            assert os.path.isfile(os.path.join(prefix, path)), f"{path} not installed:\n" \
                                                              f"{result.stdout}"
        for binary in ("sbin/uipsecd", "bin/uipsec"):
            assert os.access(os.path.join(prefix, binary), os.X_OK), binary
        uipsecd = os.path.join(prefix, "sbin/uipsecd")

        # --help: the options and what an operator needs to know.
        help_text = run([uipsecd, "--help"])
        assert help_text.returncode == 0, help_text.stdout
        for needle in ("-c FILE", "-S PATH", "--check", "--version", "state_directory",
                       "CAP_NET_ADMIN", "no-new-privs", "Exit status"):
            assert needle in help_text.stdout, f"{needle!r} not in uipsecd --help"
        cli_help = run([os.path.join(prefix, "bin/uipsec"), "--help"])
        assert cli_help.returncode == 0 and "usage: uipsec" in cli_help.stdout, cli_help.stdout

        # The unit names the installed binary and configuration; no placeholder is left.
        with open(os.path.join(prefix, "lib/systemd/system/uipsecd.service")) as f:
            unit = f.read()
        assert f"ExecStart={uipsecd} -c " in unit, unit
        assert not re.search(r"@[A-Z_]+@", unit), "placeholder left in the unit"
        for option in ("Type=notify", "CapabilityBoundingSet=CAP_NET_ADMIN", "NoNewPrivileges=yes",
                       "DeviceAllow=/dev/net/tun rw", "AF_NETLINK", "StateDirectory=uipsec",
                       "RuntimeDirectory=uipsec"):
            assert option in unit, f"{option} not in the unit"
        analyze = shutil.which("systemd-analyze")
        if analyze:
            verify = run([analyze, "verify", "--man=no",
                          os.path.join(prefix, "lib/systemd/system/uipsecd.service")])
            assert verify.returncode == 0 and not verify.stdout.strip(), verify.stdout
            print("systemd-analyze verify: no complaint")

        # The example: every documented key, commented out at its default, and all accepted.
        with open(os.path.join(prefix, "share/doc/uipsec/uipsec.conf.example")) as f:
            example = f.read()
        section_of = {}
        for key in documented_keys():
            *sections, name = key.split(".")
            assert re.search(rf"^\s*# {re.escape(name)} = ", example, re.M), \
                f"uipsec.{key} is documented but not in packaging/uipsec.conf.example"
            section_of[name] = sections
        uncommented = re.sub(r"^(\s*)# ([a-z_]+ = \S+)$", r"\1\2", example, flags=re.M)
        config = os.path.join(prefix, "uncommented.conf")
        with open(config, "w") as f:
            f.write(uncommented)
        check = run([uipsecd, "-c", config, "--check"])
        assert check.returncode == 0, check.stdout
        default = run([uipsecd, "-c", os.path.join(prefix, "share/doc/uipsec/uipsec.conf.example"),
                       "--check"])
        assert default.returncode == 0 and default.stdout == check.stdout, \
            f"the example's values are not the defaults:\n{default.stdout}\n{check.stdout}"
        print("ok: installed", len(expected), "files; example covers", len(section_of), "keys")
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
