#!/usr/bin/python3
"""The Debian package, installed on this machine and purged again (issue 9, point 1).

    package_test.py SOURCE_DIR
    package_test.py --cmake-install SOURCE_DIR BUILD_DIR

The second form checks `cmake --install` alone (into a temporary DESTDIR; no root, no package):
the files the package has, below the build's prefix, with the same modes, and the binary runs.
The first form, as root:

1. The package: SOURCE_DIR/dist/regrelay_VERSION_ARCH.deb when it is newer than every file that
   goes into it (everything but tests/, bench/, fuzz/, pcaps/ and build products), else built by
   `make deb` (dpkg-buildpackage: the whole project once, minutes). lintian on the .changes
   reports no error.
2. dpkg -i. `/usr/sbin/regrelay --version` prints the package's version (= CMakeLists.txt's).
   Every installed path is root:root; the binary 0755, every other file 0644 (units, man pages,
   conffiles...), directories 0755. The conffiles are the two examples and the logrotate file;
   units, man pages, bash completion and the Wireshark plugin are installed for each source the
   tree has. The `regrelay` system user exists. The examples name every option of
   `regrelay relay --help` / `regrelay snoop --help` as a commented `#key = ...` line.
3. The installed binary relays: /etc/regrelay/relay-example.conf copied with client-iface,
   server and write filled in, `regrelay relay --config` in network namespaces (tests/netns/lib.py;
   2001:db8::/32 and link-local only) drops to the user regrelay and turns a Solicit into a
   Relay-forward with option 79 and the Solicit verbatim; --write goes to /var/log/regrelay
   (created as the units' LogsDirectory= would).
4. dpkg --purge: no path of `dpkg -L` is left (directories only where they did not exist before),
   nor /etc/regrelay, /var/lib/regrelay, /var/log/regrelay, /usr/share/regrelay.

The purge runs whatever fails (and on SIGTERM/SIGINT/SIGHUP). Exits 0 when every check passes,
1 otherwise, 77 (skip) without root or dpkg tools. A regrelay package already installed on the
machine is a failure: the test will not replace and purge someone's installation.
"""

import glob
import os
import pwd
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "netns"))
import lib  # noqa: E402
from lib import (OPT_CLIENT_LINKLAYER, OPT_CLIENTID, OPT_ELAPSED, OPT_IA_NA, OPT_RELAY_MSG, RELAY_FORW,  # noqa: E402
                 SOLICIT, client_msg, duid_ll, find_opts, opt, parse_relay)

PKG = "regrelay"
BINARY = "/usr/sbin/regrelay"
STATE_DIRS = ["/var/lib/regrelay", "/var/log/regrelay"]  # the units' StateDirectory=, LogsDirectory=
GONE_AFTER_PURGE = ["/etc/regrelay", "/usr/share/regrelay"] + STATE_DIRS
NOT_PACKAGE_INPUTS = ("tests/", "bench/", "fuzz/", "pcaps/", "dist/", "build", "obj-", "debian/regrelay/",
                      "debian/.debhelper/", "debian/tmp/", ".git/")
RELAY_LINK, RELAY_UP, SERVER = "2001:db8:1::1", "2001:db8:ffff::2", "2001:db8:ffff::1"


def sh(argv, timeout=120, check=False, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {(r.stderr or r.stdout).strip()[-2000:]}")
    return r


def installed() -> bool:
    r = sh(["dpkg-query", "-W", "-f=${Status}", PKG])
    return r.returncode == 0 and r.stdout.strip().endswith(" installed")


def dpkg(*args, timeout=300):
    """dpkg ARGS, waiting up to a minute for a lock another dpkg or apt holds."""
    deadline = time.monotonic() + 60
    while True:
        r = sh(["dpkg", *args], timeout=timeout)
        if r.returncode == 0 or "lock" not in r.stderr or time.monotonic() > deadline:
            return r
        time.sleep(2)


# --- 1. the package --------------------------------------------------------------------------

def package_inputs(src):
    r = sh(["git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    if r.returncode == 0:
        names = [n for n in r.stdout.split("\0") if n]
    else:  # not a git checkout: every file
        names = [os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs]
    return [n for n in names if not n.startswith(NOT_PACKAGE_INPUTS) and os.path.isfile(os.path.join(src, n))]


def get_package(c, src):
    """(path of the .deb, path of the .changes), reused from dist/ or built by `make deb`."""
    version = sh(["dpkg-parsechangelog", "-l", os.path.join(src, "debian/changelog"), "-S", "Version"],
                 check=True).stdout.strip()
    arch = sh(["dpkg-architecture", "-qDEB_HOST_ARCH"], check=True).stdout.strip()
    deb = os.path.join(src, "dist", f"{PKG}_{version}_{arch}.deb")
    changes = os.path.join(src, "dist", f"{PKG}_{version}_{arch}.changes")
    inputs = package_inputs(src)
    newest = max(inputs, key=lambda n: os.stat(os.path.join(src, n)).st_mtime)
    newest_t = os.stat(os.path.join(src, newest)).st_mtime
    if os.path.exists(deb) and os.path.exists(changes) and os.stat(deb).st_mtime > newest_t:
        print(f"reusing {os.path.relpath(deb, src)} (newer than every source; newest: {newest})", flush=True)
        return deb, changes
    why = "none in dist/" if not os.path.exists(deb) else f"{newest} is newer"
    print(f"building the package with `make deb` ({why}) ...", flush=True)
    started = time.monotonic()
    log = os.path.join(tempfile.gettempdir(), f"regrelay-package-test-{os.getpid()}.log")
    with open(log, "w") as f:
        r = subprocess.run(["make", "-C", src, "--no-print-directory", "deb"], stdout=f, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=2000)
    took = time.monotonic() - started
    text = open(log, errors="replace").read()
    os.unlink(log)
    if not c.check(r.returncode == 0 and os.path.exists(deb) and os.path.exists(changes),
                   f"make deb builds {os.path.basename(deb)} and its .changes ({took:.0f} s)",
                   f"exit {r.returncode}\n{text[-6000:]}"):
        return None, None
    return deb, changes


def check_lintian(c, changes):
    if not shutil.which("lintian"):
        print("note: lintian not installed, not checked", flush=True)
        return
    r = sh(["lintian", "--info", changes], timeout=600)
    lines = r.stdout.splitlines()
    errors = [ln for ln in lines if ln.startswith("E:")]
    c.eq(errors, [], f"lintian {os.path.basename(changes)}: no error")
    others = sorted({re.sub(r"^(\w): \S+ \S*:? ?", r"\1: ", ln) for ln in lines if re.match(r"^[WIPX]:", ln)})
    for ln in others:
        print(f"  lintian {ln}", flush=True)


# --- 2. installed files ----------------------------------------------------------------------

def expected_paths(src):
    """Paths the package must install, from what the source tree has."""
    want = [BINARY, "/etc/regrelay/relay-example.conf", "/etc/regrelay/snoop-example.conf",
            "/etc/regrelay/registrar-example.conf",
            "/etc/logrotate.d/regrelay", "/usr/lib/sysusers.d/regrelay.conf", "/usr/share/regrelay/snoop-filters.nft"]
    units = [os.path.basename(u) for u in glob.glob(os.path.join(src, "deploy/systemd/*.service"))]
    if os.path.exists(os.path.join(src, "deploy/bash-completion/regrelay")):
        want.append("/usr/share/bash-completion/completions/regrelay")
    lua = [os.path.basename(p) for p in glob.glob(os.path.join(src, "deploy/wireshark/*.lua"))]
    man = []
    for scd in glob.glob(os.path.join(src, "docs/man/*.scd")):
        m = re.match(r"(.+)\.(\d)\.scd$", os.path.basename(scd))
        if m:
            man.append(f"/usr/share/man/man{m.group(2)}/{m.group(1)}.{m.group(2)}.gz")
    return want, units, lua, man


def wireshark_lua_dir():
    r = sh(["tshark", "-G", "folders"]) if shutil.which("tshark") else None
    if r and r.returncode == 0:
        m = re.search(r"^Global Lua Plugins:\s*(\S+)", r.stdout, re.M)
        if m:
            return m.group(1)
    return None


def check_installed(c, src, files):
    want, units, lua, man = expected_paths(src)
    fileset = set(files)
    for p in want + man:
        c.check(p in fileset, f"installs {p}")
    for u in units:
        c.check(f"/lib/systemd/system/{u}" in fileset or f"/usr/lib/systemd/system/{u}" in fileset,
                f"installs the unit {u} under /lib/systemd/system")
    luadir = wireshark_lua_dir()
    for name in lua:
        if luadir:
            c.check(f"{luadir}/{name}" in fileset, f"installs {name} where tshark loads global Lua plugins ({luadir})")
        else:
            c.check(any(p.endswith(f"/wireshark/plugins/{name}") for p in files), f"installs {name}")

    bad_owner, bad_mode = [], []
    for p in files:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            continue
        if (st.st_uid, st.st_gid) != (0, 0):
            bad_owner.append(f"{p} {st.st_uid}:{st.st_gid}")
        mode = stat.S_IMODE(st.st_mode)
        want_mode = 0o755 if stat.S_ISDIR(st.st_mode) or p == BINARY else 0o644
        if mode != want_mode:
            bad_mode.append(f"{p} {mode:04o} (want {want_mode:04o})")
    c.eq(bad_owner, [], f"all {len(files)} installed paths are root:root")
    c.eq(bad_mode, [], "modes: the binary and directories 0755, every other file 0644")

    r = sh(["dpkg-query", "-W", "-f=${Conffiles}", PKG], check=True)
    conffiles = sorted(ln.split()[0] for ln in r.stdout.splitlines() if ln.strip())
    c.eq(conffiles, ["/etc/logrotate.d/regrelay", "/etc/regrelay/registrar-example.conf",
                     "/etc/regrelay/relay-example.conf", "/etc/regrelay/snoop-example.conf"],
         "conffiles: the examples and the logrotate file")
    c.eq(sorted(p for p in files if p.startswith("/etc/") and os.path.isfile(p)), conffiles,
         "every file under /etc is a conffile")

    try:
        u = pwd.getpwnam("regrelay")
        c.check(0 < u.pw_uid < 1000, f"the regrelay user is a system user (uid {u.pw_uid})")
        c.check(u.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"),
                f"the regrelay user has no login shell ({u.pw_shell})")
    except KeyError:
        c.check(False, "dpkg -i creates the regrelay user")

    # The examples document every option (commented out), so a new option needs its line there.
    for cmd, example in (("relay", "/etc/regrelay/relay-example.conf"), ("snoop", "/etc/regrelay/snoop-example.conf"),
                         ("registrar", "/etc/regrelay/registrar-example.conf")):
        helptext = sh([BINARY, cmd, "--help"]).stdout
        options = sorted(set(re.findall(r"^\s+(?:-\w \[ )?--([a-z][a-z0-9-]*)", helptext, re.M)) - {"help", "config"})
        text = open(example).read()
        active = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        c.eq(active, [], f"{example}: every line is a comment")
        missing = [o for o in options if not re.search(rf"^#{re.escape(o)} = ", text, re.M)]
        c.check(options and not missing, f"{example}: a commented '#key = ...' line for each of the "
                f"{len(options)} options of `regrelay {cmd} --help`", f"missing: {missing}")

    if shutil.which("logrotate"):
        r = sh(["logrotate", "--debug", "/etc/logrotate.d/regrelay"])
        c.check(r.returncode == 0 and "error" not in r.stderr.lower(), "logrotate --debug accepts /etc/logrotate.d/regrelay",
                r.stderr[-2000:])


# --- 3. the installed binary relays ------------------------------------------------------------

def adapt_config(example, path, client_if, pcap):
    """The installed example with client-iface, server and write set (replacing their commented lines)."""
    out, done = [], set()
    for line in open(example).read().splitlines():
        m = re.match(r"^#(client-iface|server|write) = ", line)
        if m and m.group(1) not in done:
            done.add(m.group(1))
            line = {"client-iface": f"client-iface = {client_if}", "server": f"server = {SERVER}",
                    "write": f"write = {pcap}"}[m.group(1)]
        out.append(line)
    if done != {"client-iface", "server", "write"}:
        raise RuntimeError(f"{example}: no commented line for {sorted({'client-iface', 'server', 'write'} - done)}")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def recv(sock, timeout=3.0):
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        return None
    data, src = sock.recvfrom(65535)
    return data, src[0].split("%")[0]


def check_relays(c, lab):
    cli, rel, srv = lab.netns("cli"), lab.netns("rel"), lab.netns("srv")
    c_if, rc_if = lab.veth(cli, rel)
    ru_if, s_if = lab.veth(rel, srv)
    rel.add_addr(rc_if, RELAY_LINK + "/64")
    rel.add_addr(ru_if, RELAY_UP + "/64")
    rel.forwarding(True)
    srv.add_addr(s_if, SERVER + "/64")
    srv.add_route("2001:db8:1::/64", via=RELAY_UP)
    lab.wait_ready()
    server = srv.udp("::", lib.PORT_SERVER)
    mac, client_ll, c_ifindex = cli.mac(c_if), cli.link_local(c_if), cli.ifindex(c_if)

    # As systemd would create it (LogsDirectory=regrelay, the user's, 0750), for --write.
    u = pwd.getpwnam("regrelay")
    for d in STATE_DIRS:
        os.makedirs(d, mode=0o750, exist_ok=True)
        os.chown(d, u.pw_uid, u.pw_gid)
    pcap = "/var/log/regrelay/package-test.pcap"
    conf = lab.path("relay-test.conf")
    adapt_config("/etc/regrelay/relay-example.conf", conf, rc_if, pcap)
    relay = rel.spawn([BINARY, "relay", "--config", conf], name="relay")
    relay.wait_log(r"relaying from " + re.escape(rc_if))
    c.check(re.search(r"dropped privileges to user regrelay \(uid \d+", relay.log()),
            "the installed binary, started as root, drops to the package's user regrelay")

    sock = cli.udp(client_ll, lib.PORT_CLIENT, ifname=c_if)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, c_ifindex)
    sol = client_msg(SOLICIT, 0x5a5a01, opt(OPT_CLIENTID, duid_ll(mac)), opt(OPT_ELAPSED, b"\x00\x00"),
                     opt(OPT_IA_NA, (1).to_bytes(4, "big") + bytes(8)))
    sock.sendto(sol, (lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS, lib.PORT_SERVER, 0, c_ifindex))
    got = recv(server)
    if c.check(got is not None, "the server receives a Relay-forward of the Solicit"):
        data, src = got
        c.eq(src, RELAY_UP, "from the relay's upstream address")
        rf = parse_relay(data)
        c.eq((rf["type"], rf["hop"], rf["link"], rf["peer"]), (RELAY_FORW, 0, RELAY_LINK, client_ll),
             "Relay-forward, hop-count 0, link-address of the client interface, peer-address the client's")
        c.eq(find_opts(rf["options"], OPT_RELAY_MSG), [sol], "option 9 holds the Solicit verbatim")
        c.eq(find_opts(rf["options"], OPT_CLIENT_LINKLAYER), [b"\x00\x01" + mac], "option 79 = the client's MAC")
    c.eq(relay.stop(), 0, "SIGTERM: the relay exits 0")
    c.check(os.path.getsize(pcap) > 24 if os.path.exists(pcap) else False,
            f"--write from the installed example wrote {pcap}")


# --- cmake --install (no package, no root) -------------------------------------------------------

def cmake_install(src, build):
    """`DESTDIR=TMP cmake --install BUILD`: every file the package has, below the build's prefix,
    root's (as the installing user's) with the package's modes; the installed binary runs."""
    c = lib.Checks()
    cache = open(os.path.join(build, "CMakeCache.txt")).read()
    prefix = re.search(r"^CMAKE_INSTALL_PREFIX:PATH=(.*)$", cache, re.M).group(1)
    etc = "/etc" if prefix == "/usr" else prefix + "/etc"
    with tempfile.TemporaryDirectory(prefix="regrelay-install-") as dest:
        r = sh(["cmake", "--install", build], env=dict(os.environ, DESTDIR=dest))
        c.check(r.returncode == 0, f"DESTDIR={dest} cmake --install {build}", (r.stdout + r.stderr)[-2000:])
        want, units, lua, man = expected_paths(src)
        rel = {BINARY: f"{prefix}/sbin/regrelay",
               "/etc/regrelay/relay-example.conf": f"{etc}/regrelay/relay-example.conf",
               "/etc/regrelay/snoop-example.conf": f"{etc}/regrelay/snoop-example.conf",
               "/etc/regrelay/registrar-example.conf": f"{etc}/regrelay/registrar-example.conf",
               "/etc/logrotate.d/regrelay": f"{etc}/logrotate.d/regrelay",
               "/usr/lib/sysusers.d/regrelay.conf": f"{prefix}/lib/sysusers.d/regrelay.conf",
               "/usr/share/regrelay/snoop-filters.nft": f"{prefix}/share/regrelay/snoop-filters.nft",
               "/usr/share/bash-completion/completions/regrelay":
                   f"{prefix}/share/bash-completion/completions/regrelay"}
        paths = [rel[p] for p in want] + [f"{prefix}/lib/systemd/system/{u}" for u in units]
        paths += [p.replace("/usr/share/man", f"{prefix}/share/man").removesuffix(".gz") for p in man]
        found = {os.path.relpath(os.path.join(d, f), dest) for d, _, fs in os.walk(dest) for f in fs}
        for name in lua:
            hits = [p for p in found if p.endswith(f"/wireshark/plugins/{name}")]
            c.check(hits, f"installs {name} under .../wireshark/plugins", sorted(found))
        for p in paths:
            full = dest + p
            if c.check(os.path.isfile(full), f"installs {p}"):
                mode = stat.S_IMODE(os.stat(full).st_mode)
                c.eq(f"{mode:04o}", "0755" if p.endswith("/sbin/regrelay") else "0644", f"{p}: mode")
        if os.path.isfile(dest + rel[BINARY]):
            r = sh([dest + rel[BINARY], "--version"])
            c.check(r.returncode == 0 and r.stdout.startswith("regrelay "), "the installed binary runs: --version",
                    r.stdout + r.stderr)
    print(f"{c.passed} passed, {c.failed} failed", flush=True)
    return 0 if c.failed == 0 else 1


# --- the driver ------------------------------------------------------------------------------

def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--cmake-install":
        return cmake_install(os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]))
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} SOURCE_DIR | --cmake-install SOURCE_DIR BUILD_DIR", file=sys.stderr)
        return 2
    src = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("SKIP: needs root (dpkg -i, network namespaces)", flush=True)
        return lib.SKIP
    for tool in ("dpkg-buildpackage", "dpkg-deb", "dpkg-parsechangelog", "dh", "make"):
        if not shutil.which(tool):
            print(f"SKIP: needs {tool} (deploy/install-deps.sh installs it)", flush=True)
            return lib.SKIP
    lib.require_root()
    c = lib.Checks()
    if installed():
        c.check(False, "regrelay is not installed on this machine before the test",
                "dpkg -l regrelay: installed; the test would replace and purge it. Purge it first.")
        print(f"{c.passed} passed, {c.failed} failed", flush=True)
        return 1
    for d in STATE_DIRS:
        if os.path.exists(d):
            print(f"note: {d} exists before the test (left by an earlier run?); the purge removes it", flush=True)

    def stop(signum, frame):
        raise SystemExit(f"signal {signum}")
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, stop)

    started = time.monotonic()
    files, dirs_before, did_install = [], set(), False
    lab = None
    try:
        deb, changes = get_package(c, src)
        if deb:
            check_lintian(c, changes)
            listing = sh(["dpkg-deb", "-c", deb], check=True).stdout
            paths = ["/" + ln.split(None, 5)[5].lstrip("./").split(" -> ")[0].rstrip("/")
                     for ln in listing.splitlines() if len(ln.split(None, 5)) == 6]
            dirs_before = {p for p in paths if os.path.isdir(p)}
            t = time.monotonic()
            did_install = True
            r = dpkg("-i", deb)
            c.check(r.returncode == 0, f"dpkg -i {os.path.basename(deb)} ({time.monotonic() - t:.1f} s)",
                    (r.stdout + r.stderr)[-3000:])
        if deb and installed():
            files = [p for p in sh(["dpkg", "-L", PKG], check=True).stdout.splitlines() if p not in ("/.", "/")]
            version = sh(["dpkg-query", "-W", "-f=${Version}", PKG], check=True).stdout.strip()
            cmake_version = re.search(r"project\(regrelay VERSION ([0-9.]+)",
                                      open(os.path.join(src, "CMakeLists.txt")).read()).group(1)
            c.eq(version, cmake_version, "the package version is CMakeLists.txt's project VERSION")
            r = sh([BINARY, "--version"])
            c.check(r.returncode == 0 and r.stdout.startswith(f"regrelay {version}"),
                    f"{BINARY} --version prints 'regrelay {version}'", repr(r.stdout + r.stderr))
            check_installed(c, src, files)
            lab = lib.Lab("rrpkg")
            try:
                check_relays(c, lab)
            finally:
                if c.failed:
                    for p in lab.procs:
                        print(f"--- {p.name} log ---\n{p.log()[-3000:]}", flush=True)
                lab.cleanup()
                lab = None
    except (Exception, SystemExit) as e:
        c.check(False, "ran to the end", f"{type(e).__name__}: {e}")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the purge is not to be interrupted
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if lab is not None:
            lab.cleanup()
        if did_install:
            r = dpkg("--purge", PKG)
            c.check(r.returncode == 0 and not installed(), "dpkg --purge regrelay", (r.stdout + r.stderr)[-3000:])
            left = [p for p in files if os.path.lexists(p) and not os.path.isdir(p)]
            left += [p for p in files if os.path.isdir(p) and p not in dirs_before]
            left += [p for p in GONE_AFTER_PURGE if os.path.lexists(p)]
            c.eq(sorted(set(left)), [], f"after the purge nothing of the {len(files)} installed paths, "
                 "/etc/regrelay, /usr/share/regrelay, /var/lib/regrelay, /var/log/regrelay is left")
    print(f"{c.passed} passed, {c.failed} failed ({time.monotonic() - started:.0f} s)", flush=True)
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
