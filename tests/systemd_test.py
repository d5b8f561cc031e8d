#!/usr/bin/python3
"""Issue 9, point 2: the systemd units (deploy/systemd/regrelay-relay@.service and
regrelay-snoop@.service) and the daemons' sd_notify messages. systemd is not PID 1 on the test
machines, so the units are checked offline and the daemons are started the way the units start
them (as nobody, with the units' ambient capabilities, via setpriv) with a NOTIFY_SOCKET this test
creates: an abstract AF_UNIX datagram socket in the daemon's network namespace.

    systemd_test.py REGRELAY GROUP

GROUP is one of:
  verify     each unit, instantiated (regrelay-relay@lan, regrelay-snoop@br0) with ExecStart
             pointing at REGRELAY: `systemd-analyze verify --man=no` exits 0 and prints nothing
             about it. And what the units must say: Type=notify, WatchdogSec, ExecReload
             /bin/kill -HUP $MAINPID, User=regrelay, the configuration /etc/regrelay/MODE-%i.conf,
             AmbientCapabilities = CapabilityBoundingSet = CAP_NET_RAW CAP_NET_BIND_SERVICE (relay)
             or CAP_NET_RAW CAP_NET_ADMIN (snoop), RestrictAddressFamilies = AF_INET6 AF_PACKET
             AF_NETLINK AF_UNIX (snoop: and AF_INET, for libnet's interface check), and for snoop an ExecStopPost "-+" nft command naming the table
             of snoop/filters.h (kFilterTable). Needs no root.
  security   `systemd-analyze security --offline=yes UNIT`: "Overall exposure level" <= 2.5 for
             each (printed). Needs no root.
  relay      `regrelay relay --config FILE` in a namespace, as nobody with ambient CAP_NET_RAW and
             CAP_NET_BIND_SERVICE, NOTIFY_SOCKET and WATCHDOG_USEC=2000000: READY=1 (with STATUS=)
             within 5 s, and at that moment the process holds CAP_NET_RAW only (ports open,
             privileges dropped); WATCHDOG=1 at least twice within 3 s of READY; SIGHUP (the file
             rewritten): RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC, now), then READY=1, and
             "configuration reloaded" logged; SIGTERM: STOPPING=1, exit 0.
  snoop      the same for `regrelay snoop --config FILE` (install-filters) on a bridge, as nobody
             with ambient CAP_NET_RAW and CAP_NET_ADMIN (CapEff at READY = both). Without
             WATCHDOG_USEC: READY=1 and no WATCHDOG=1. Then, started again with WATCHDOG_USEC:
             two WATCHDOG=1 within 3 s, and the unit's ExecStopPost: after a SIGKILL the table bridge regrelay_snoop is still there (the daemon could not remove
             it); the unit's ExecStopPost command removes it and exits 0, and exits 0 again when
             the table is already gone.
  syscalls   relay and snoop as above under strace -f (start, a Solicit relayed, for relay the
             server's Relay-reply delivered to the client, SIGUSR1, SIGHUP, SIGTERM): every system call the daemon made is allowed by its unit's SystemCallFilter
             lines (groups expanded with `systemd-analyze syscall-filter`), every socket family it
             opened is in RestrictAddressFamilies, and no mapping was writable and executable
             (MemoryDenyWriteExecute). This is what the seccomp filter would otherwise kill or
             refuse at run time under systemd.

Only 2001:db8::/32 and link-local addresses. Exits 0 when every check passes, 1 otherwise, 77
(skip) without systemd-analyze, or for the namespace groups without root, setpriv, nft or strace.
"""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "netns"))
import lib  # noqa: E402
from lib import ADVERTISE, OPT_CLIENTID, OPT_ELAPSED, OPT_IA_NA, SOLICIT, client_msg, duid_ll, opt  # noqa: E402

SOURCE = os.path.dirname(HERE)
UNITS = os.path.join(SOURCE, "deploy", "systemd")
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
NFT = "/usr/sbin/nft"
EXPOSURE_LIMIT = 2.5
WATCHDOG_USEC = 2000000
S1 = "2001:db8:ffff::1"
RELAY_UP = "2001:db8:ffff::2"
RELAY_LINK = "2001:db8:1::1"
MCAST = lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS
CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW = 10, 12, 13
# systemd permits these whatever the filter says (systemd.exec(5), SystemCallFilter=).
ALWAYS_ALLOWED = {"execve", "exit", "exit_group", "getrlimit", "rt_sigreturn", "sigreturn"}

UNIT = {
    "relay": {"file": "regrelay-relay@.service", "instance": "regrelay-relay@lan.service", "conf": "relay-%i.conf",
              "caps": {"CAP_NET_RAW", "CAP_NET_BIND_SERVICE"}, "families": {"AF_INET6", "AF_PACKET", "AF_NETLINK", "AF_UNIX"}},
    "snoop": {"file": "regrelay-snoop@.service", "instance": "regrelay-snoop@br0.service", "conf": "snoop-%i.conf",
              "caps": {"CAP_NET_RAW", "CAP_NET_ADMIN"},
              # libnet_init checks a device with an AF_INET ioctl socket (SIOCGIFFLAGS).
              "families": {"AF_INET", "AF_INET6", "AF_PACKET", "AF_NETLINK", "AF_UNIX"}},
    "registrar": {"file": "regrelay-registrar@.service", "instance": "regrelay-registrar@site.service",
                  "conf": "registrar-%i.conf", "caps": {"CAP_NET_BIND_SERVICE"},
                  "families": {"AF_INET6", "AF_NETLINK", "AF_UNIX"}},
}

Checks = lib.Checks


# --- the units ----------------------------------------------------------------------------------

def parse_unit(path):
    """{key: [values in order]} of the [Service] and [Unit] sections (comments dropped)."""
    keys = {}
    for line in open(path):
        line = line.strip()
        if not line or line[0] in "#;[" or "=" not in line:
            continue
        k, v = line.split("=", 1)
        keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def instantiate(mode, binary, tmpdir):
    """The unit as an instance file in tmpdir with ExecStart running `binary`."""
    u = UNIT[mode]
    text = open(os.path.join(UNITS, u["file"])).read()
    text = re.sub(r"^ExecStart=/usr/sbin/regrelay ", f"ExecStart={binary} ", text, flags=re.M)
    path = os.path.join(tmpdir, u["instance"])
    with open(path, "w") as f:
        f.write(text)
    return path


def filter_table():
    text = open(os.path.join(SOURCE, "snoop", "filters.h")).read()
    m = re.search(r'kFilterTable\s*=\s*"([^"]+)"', text)
    return m.group(1) if m else None


def stop_post_argv(keys):
    """The snoop unit's ExecStopPost as (prefixes, argv) (systemd's quoting: double quotes)."""
    line = keys.get("ExecStopPost", [""])[0]
    m = re.match(r"([-+@:!]*)(.*)", line)
    return m.group(1), shlex.split(m.group(2))


def group_verify(c, binary):
    tmp = tempfile.mkdtemp(prefix="regrelay-systemd-")
    try:
        for mode, u in UNIT.items():
            src = os.path.join(UNITS, u["file"])
            if not c.check(os.path.exists(src), f"{u['file']} exists"):
                continue
            path = instantiate(mode, binary, tmp)
            r = subprocess.run([ANALYZE, "verify", "--man=no", path], capture_output=True, text=True, timeout=60)
            out = (r.stdout + r.stderr).strip()
            ours = [line for line in out.splitlines() if "regrelay" in line]
            c.check(r.returncode == 0 and not ours, f"{u['instance']}: systemd-analyze verify is clean",
                    f"exit {r.returncode}: {out[-800:]}")
            k = parse_unit(src)
            get = lambda key: k.get(key, [None])[-1]  # noqa: E731
            c.eq(get("Type"), "notify", f"{u['file']}: Type=notify")
            c.check(get("WatchdogSec") not in (None, "", "0"), f"{u['file']}: WatchdogSec set", str(get("WatchdogSec")))
            c.eq(get("ExecReload"), "/bin/kill -HUP $MAINPID", f"{u['file']}: ExecReload sends SIGHUP")
            c.eq(get("User"), "regrelay", f"{u['file']}: User=regrelay")
            c.eq(get("ExecStart"), f"/usr/sbin/regrelay {mode} --config /etc/regrelay/{u['conf']}",
                 f"{u['file']}: ExecStart reads /etc/regrelay/{u['conf']}")
            c.eq(set((get("AmbientCapabilities") or "").split()), u["caps"],
                 f"{u['file']}: AmbientCapabilities = {' '.join(sorted(u['caps']))}")
            c.eq(set((get("CapabilityBoundingSet") or "").split()), u["caps"],
                 f"{u['file']}: CapabilityBoundingSet = {' '.join(sorted(u['caps']))}")
            c.eq(set((get("RestrictAddressFamilies") or "").split()), u["families"],
                 f"{u['file']}: RestrictAddressFamilies = {' '.join(sorted(u['families']))}")
            for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
                c.eq(get(key), "yes", f"{u['file']}: {key}=yes")
            c.eq(get("ProtectSystem"), "strict", f"{u['file']}: ProtectSystem=strict")
            c.eq(k.get("SystemCallFilter", [None])[0], "@system-service", f"{u['file']}: SystemCallFilter=@system-service")
            if mode == "snoop":
                prefixes, argv = stop_post_argv(k)
                table = filter_table()
                c.check("+" in prefixes and "-" in prefixes, f"{u['file']}: ExecStopPost runs with full privileges (+) "
                        "and its failure is ignored (-)", prefixes)
                c.check(argv[:1] == [NFT] and table and f"delete table bridge {table}" in " ".join(argv[1:]),
                        f"{u['file']}: ExecStopPost deletes the table bridge {table} (snoop/filters.h)", " ".join(argv))
            else:
                c.check("ExecStopPost" not in k, f"{u['file']}: no ExecStopPost")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def exposure(path):
    r = subprocess.run([ANALYZE, "security", "--offline=yes", path], capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\S+)", r.stdout + r.stderr)
    return (float(m.group(1)), m.group(2)) if m else (None, (r.stdout + r.stderr)[-400:])


def group_security(c, binary):
    tmp = tempfile.mkdtemp(prefix="regrelay-systemd-")
    try:
        for mode, u in UNIT.items():
            if not c.check(os.path.exists(os.path.join(UNITS, u["file"])), f"{u['file']} exists"):
                continue
            level, word = exposure(instantiate(mode, binary, tmp))
            print(f"     {u['instance']}: exposure {level} {word}", flush=True)
            c.check(level is not None and level <= EXPOSURE_LIMIT,
                    f"{u['instance']}: systemd-analyze security exposure <= {EXPOSURE_LIMIT}", f"{level} {word}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- the notification socket --------------------------------------------------------------------

class NotifySocket:
    """An abstract AF_UNIX datagram socket in `ns` (abstract names belong to a network namespace),
    collecting the daemon's notifications: each a dict of its KEY=VALUE lines."""

    def __init__(self, lab, ns):
        self.name = f"regrelay-test-notify-{os.getpid()}-{lab.tag}-{ns.role}"
        self.sock = ns.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.messages = []  # (monotonic time received, {key: value})

    def env(self, watchdog=True):
        e = dict(os.environ, NOTIFY_SOCKET="@" + self.name)
        e.pop("WATCHDOG_USEC", None)
        e.pop("WATCHDOG_PID", None)
        if watchdog:
            e["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
        return e

    def receive(self, timeout):
        """The next message within `timeout` s, or None."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        fields = dict(line.split("=", 1) for line in data.decode(errors="replace").splitlines() if "=" in line)
        self.messages.append((time.monotonic(), fields))
        return fields

    def wait(self, pred, timeout):
        """The first message satisfying pred within `timeout` s (others are kept in .messages)."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            m = self.receive(left)
            if m is not None and pred(m):
                return m
        return None

    def collect(self, seconds):
        """Every message in the next `seconds` s."""
        out, end = [], time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            m = self.receive(left)
            if m is not None:
                out.append(m)
        return out


def cap_eff(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return None


def setpriv(caps):
    c = ",".join("+" + x for x in caps)
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", f"--inh-caps={c}", f"--ambient-caps={c}"]


def write_config(path, lines):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def wait_exit(proc, timeout):
    try:
        return proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def notify_sequence(c, what, proc, ns_sock, want_caps, config, reload_lines, ready_log, watchdog=True):
    """The READY / WATCHDOG / RELOADING / READY / STOPPING sequence of one daemon."""
    ready = ns_sock.wait(lambda m: m.get("READY") == "1", 5)
    if c.check(ready is not None, f"{what}: READY=1 within 5 s", proc.log()[-600:]):
        caps = cap_eff(proc.pid)
        c.eq(caps, want_caps, f"{what}: at READY=1 the process holds only {want_caps:#x} (privileges dropped)")
        c.check(re.search(ready_log, proc.log()), f"{what}: at READY=1 the ports are open (/{ready_log}/ logged)")
        c.check(ready.get("STATUS"), f"{what}: READY=1 carries a STATUS=", str(ready))
    else:  # go on: the other messages are checked on their own
        proc.wait_log(ready_log, timeout=5)
    got = ns_sock.collect(3.0)
    pings = sum(m.get("WATCHDOG") == "1" for m in got)
    if watchdog:
        c.check(pings >= 2, f"{what}: WATCHDOG_USEC={WATCHDOG_USEC}: at least two WATCHDOG=1 within 3 s of READY",
                f"{pings} in {got}")
    else:
        c.eq(pings, 0, f"{what}: no WATCHDOG_USEC: no WATCHDOG=1 in 3 s")

    start = len(proc.log())
    write_config(config, reload_lines)
    t_hup = time.clock_gettime(time.CLOCK_MONOTONIC)
    proc.signal(signal.SIGHUP)
    rel = ns_sock.wait(lambda m: m.get("RELOADING") == "1", 5)
    if c.check(rel is not None, f"{what}: SIGHUP: RELOADING=1 within 5 s"):
        usec = rel.get("MONOTONIC_USEC", "")
        ok = usec.isdigit() and abs(int(usec) / 1e6 - t_hup) < 5
        c.check(ok, f"{what}: RELOADING=1 carries MONOTONIC_USEC= (CLOCK_MONOTONIC, now)", f"{rel} at {t_hup:.3f} s")
        again = ns_sock.wait(lambda m: m.get("READY") == "1", 5)
        c.check(again is not None, f"{what}: READY=1 after RELOADING=1")
        try:
            proc.wait_log(r"configuration reloaded", timeout=2, start=start)
            reloaded = True
        except (TimeoutError, RuntimeError):
            reloaded = False
        c.check(reloaded, f"{what}: the configuration was reloaded", proc.log()[start:][-400:])
    proc.signal(signal.SIGTERM)
    stop = ns_sock.wait(lambda m: m.get("STOPPING") == "1", 5)
    c.check(stop is not None, f"{what}: SIGTERM: STOPPING=1 within 5 s")
    c.eq(wait_exit(proc, 5), 0, f"{what}: exits 0")


# --- the labs -------------------------------------------------------------------------------------

def relay_lab(lab):
    """cli eth0 -- down0 rel up0 -- eth0 srv (S1); the relay's config file in the lab directory."""
    cli, rel, srv = lab.netns("cli"), lab.netns("rel"), lab.netns("srv")
    lab.veth(cli, rel, a_name="eth0", b_name="down0")
    lab.veth(rel, srv, a_name="up0", b_name="eth0")
    rel.add_addr("down0", RELAY_LINK + "/64")
    rel.add_addr("up0", RELAY_UP + "/64")
    srv.add_addr("eth0", S1 + "/64")
    srv.add_route("2001:db8:1::/64", via=RELAY_UP)
    lab.wait_ready()
    os.chmod(lab.tmpdir, 0o755)  # the daemon, as nobody, reads its file
    return cli, rel, srv


def snoop_lab(lab):
    """cl eth0 -- [c1] br0 [uplink] -- down0 rtr, snoop in sw."""
    cl, sw, rtr = lab.netns("cl"), lab.netns("sw"), lab.netns("rtr")
    lab.veth(rtr, sw, a_name="down0", b_name="uplink")
    lab.veth(cl, sw, a_name="eth0", b_name="c1")
    lab.bridge(sw, ["uplink", "c1"], name="br0")
    lab.wait_ready()
    os.chmod(lab.tmpdir, 0o755)
    return cl, sw, rtr


RELAY_CONF = ["client-iface = down0", f"server = {S1}"]
RELAY_CONF2 = ["client-iface = down0", f"server = {S1}", "log-level = debug"]
SNOOP_CONF = ["client-port = c1", "uplink = uplink", "install-filters = yes"]
SNOOP_CONF2 = ["client-port = c1", "uplink = uplink", "install-filters = yes", "log-level = debug"]


def group_relay(c, lab, binary):
    _, rel, _ = relay_lab(lab)
    n = NotifySocket(lab, rel)
    cfg = lab.path("relay-lan.conf")
    write_config(cfg, RELAY_CONF)
    proc = rel.spawn(setpriv(["net_raw", "net_bind_service"]) + [binary, "relay", "--config", cfg], name="relay",
                     env=n.env())
    notify_sequence(c, "relay", proc, n, 1 << CAP_NET_RAW, cfg, RELAY_CONF2, r"relaying from down0")


def table_present(sw, table):
    return sw.exec(NFT, "list", "table", "bridge", table, check=False).returncode == 0


def group_snoop(c, lab, binary):
    _, sw, _ = snoop_lab(lab)
    n = NotifySocket(lab, sw)
    cfg = lab.path("snoop-br0.conf")
    write_config(cfg, SNOOP_CONF)
    caps = ["net_raw", "net_admin"]
    proc = sw.spawn(setpriv(caps) + [binary, "snoop", "--config", cfg], name="snoop", env=n.env(watchdog=False))
    notify_sequence(c, "snoop", proc, n, (1 << CAP_NET_RAW) | (1 << CAP_NET_ADMIN), cfg, SNOOP_CONF2,
                    r"snooping uplink port uplink", watchdog=False)

    # The unit's ExecStopPost, after a crash the daemon could not clean up after.
    table = filter_table()
    keys = parse_unit(os.path.join(UNITS, UNIT["snoop"]["file"]))
    _, argv = stop_post_argv(keys)
    write_config(cfg, SNOOP_CONF)
    proc = sw.spawn(setpriv(caps) + [binary, "snoop", "--config", cfg], name="snoop-killed", env=n.env())
    c.check(n.wait(lambda m: m.get("READY") == "1", 5) is not None, "snoop (second run): READY=1")
    proc.wait_log(r"snooping uplink port uplink", timeout=5)
    pings = sum(m.get("WATCHDOG") == "1" for m in n.collect(3.0))
    c.check(pings >= 2, f"snoop (second run): WATCHDOG_USEC={WATCHDOG_USEC}: at least two WATCHDOG=1 within 3 s",
            f"{pings}")
    proc.popen.send_signal(signal.SIGKILL)
    proc.popen.wait(5)
    c.check(table_present(sw, table), f"after SIGKILL the table bridge {table} is left behind")
    r = sw.exec(*argv, check=False)
    c.eq(r.returncode, 0, f"the unit's ExecStopPost ({' '.join(argv)}) exits 0")
    c.check(not table_present(sw, table), f"the unit's ExecStopPost removes the table bridge {table}")
    r = sw.exec(*argv, check=False)
    c.check(r.returncode == 0 and not r.stderr.strip(), "the unit's ExecStopPost exits 0 quietly with the table gone",
            f"exit {r.returncode}: {r.stderr.strip()}")


# --- syscalls, under strace -----------------------------------------------------------------------

def syscall_groups():
    """{"@group": [names and @subgroups]} from `systemd-analyze syscall-filter`."""
    out = subprocess.run([ANALYZE, "syscall-filter"], capture_output=True, text=True, timeout=60, check=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if not line.startswith(" ") and s.startswith("@"):
            cur = groups.setdefault(s, [])
        elif cur is not None:
            cur.append(s)
    return groups


def expand(item, groups, seen=None):
    seen = seen or set()
    if not item.startswith("@"):
        return {item}
    if item in seen:
        return set()
    seen.add(item)
    out = set()
    for x in groups.get(item, []):
        out |= expand(x, groups, seen)
    return out


def allowed_syscalls(keys, groups):
    """The allow list the unit's SystemCallFilter= lines make (first line an allow list; later
    lines add, or remove with ~)."""
    allowed = set()
    for i, line in enumerate(keys.get("SystemCallFilter", [])):
        deny = line.startswith("~")
        names = set()
        for item in line.lstrip("~").split():
            names |= expand(item, groups)
        if i == 0 and deny:
            raise ValueError("expected an allow list first")
        allowed = allowed - names if deny else allowed | names
    return allowed | ALWAYS_ALLOWED


def daemon_pid(strace_proc, timeout=5):
    """The traced daemon: strace's child (setpriv execs it in place)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            kids = open(f"/proc/{strace_proc.pid}/task/{strace_proc.pid}/children").read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.05)
    return None


def trace_report(path, binary):
    """(syscall names, socket families, W+X mappings) after the daemon's execve."""
    names, families, wx = set(), set(), []
    started = False
    rx = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)[( ]")
    for line in open(path, errors="replace"):
        if not started:
            started = f'execve("{binary}"' in line and line.rstrip().endswith("= 0")
            continue
        m = rx.match(line)
        if not m:
            continue
        names.add(m.group(1))
        f = re.search(r"\bsocket\((AF_[A-Z0-9]+)", line)
        if f:
            families.add(f.group(1))
        if re.search(r"\b(mmap|mprotect|pkey_mprotect)\(", line) and "PROT_WRITE" in line and "PROT_EXEC" in line:
            wx.append(line.strip())
    return started, names, families, wx


def solicit_frame(mac, xid):
    msg = client_msg(SOLICIT, xid, opt(OPT_CLIENTID, duid_ll(mac)), opt(OPT_ELAPSED, b"\x00\x00"),
                     opt(OPT_IA_NA, (1).to_bytes(4, "big") + bytes(8)))
    return lib.udp6_frame(mac, lib.multicast_mac(MCAST), lib.eui64_link_local(mac), MCAST, 546, 547, msg)


def received(sock, timeout=2.0):
    sock.settimeout(timeout)
    try:
        return sock.recv(65535)
    except socket.timeout:
        return None


def traced_run(c, lab, ns, mode, binary, argv, caps, ready_log, client_ns, server_sock, cfg, conf2, reply=None):
    u = UNIT[mode]
    keys = parse_unit(os.path.join(UNITS, u["file"]))
    trace = lab.path(f"{mode}.strace")
    # LeakSanitizer cannot run under ptrace: in the ASan build it would fail the exit status.
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    proc = ns.spawn(["strace", "-f", "-qq", "-o", trace] + setpriv(caps) + argv, name=f"{mode}-strace", env=env)
    try:
        proc.wait_log(ready_log, timeout=15)
    except (TimeoutError, RuntimeError) as e:
        c.check(False, f"{mode} under strace: starts", str(e)[-600:])
        return
    pid = daemon_pid(proc)
    mac = client_ns.mac("eth0")
    ps = client_ns.packet_socket("eth0")
    ps.send(solicit_frame(mac, 0x5a0001))
    c.check(received(server_sock) is not None, f"{mode} under strace: a Solicit is relayed")
    if reply:
        c.check(reply(mac), f"{mode} under strace: a Relay-reply reaches the client")
    os.kill(pid, signal.SIGUSR1)
    start = len(proc.log())
    write_config(cfg, conf2)
    os.kill(pid, signal.SIGHUP)
    try:
        proc.wait_log(r"configuration reloaded", timeout=5, start=start)
    except (TimeoutError, RuntimeError):
        c.check(False, f"{mode} under strace: SIGHUP reloads", proc.log()[-400:])
    ps.send(solicit_frame(mac, 0x5a0002))
    c.check(received(server_sock) is not None, f"{mode} under strace: a Solicit is relayed after the reload")
    os.kill(pid, signal.SIGTERM)
    c.eq(wait_exit(proc, 10), 0, f"{mode} under strace: SIGTERM, exit 0")
    started, names, families, wx = trace_report(trace, argv[0])
    if not c.check(started, f"{mode}: the trace holds the daemon's execve"):
        return
    allowed = allowed_syscalls(keys, syscall_groups())
    print(f"     {mode}: {len(names)} distinct system calls, socket families {' '.join(sorted(families))}", flush=True)
    c.eq(sorted(names - allowed), [], f"{mode}: every system call made is allowed by {u['file']} SystemCallFilter=")
    restrict = set(keys.get("RestrictAddressFamilies", [""])[-1].split())
    c.eq(sorted(families - restrict), [], f"{mode}: every socket family opened is in RestrictAddressFamilies=")
    c.eq(wx, [], f"{mode}: no writable and executable mapping (MemoryDenyWriteExecute=yes)")


def group_syscalls(c, lab, binary):
    cli, rel, srv = relay_lab(lab)
    s1 = srv.udp(S1, lib.PORT_SERVER)
    cfg = lab.path("relay-lan.conf")
    write_config(cfg, RELAY_CONF)

    def reply(mac):
        """S1's Relay-reply (an Advertise for the client's link-local) reaches the client."""
        ll = lib.eui64_link_local(mac)
        sock = cli.udp(ll, lib.PORT_CLIENT, ifname="eth0")
        adv = client_msg(ADVERTISE, 0x5a0001, opt(OPT_CLIENTID, duid_ll(mac)))
        s1.sendto(lib.relay_msg(lib.RELAY_REPL, 0, RELAY_LINK, ll, opt(lib.OPT_RELAY_MSG, adv)), (RELAY_UP, lib.PORT_SERVER))
        return received(sock) == adv

    traced_run(c, lab, rel, "relay", binary, [binary, "relay", "--config", cfg], ["net_raw", "net_bind_service"],
               r"relaying from down0", cli, s1, cfg, RELAY_CONF2, reply)

    cl, sw, rtr = snoop_lab(lab)
    router = rtr.udp("::", lib.PORT_SERVER)
    mreq = lib.a6(MCAST) + rtr.ifindex("down0").to_bytes(4, sys.byteorder)
    router.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    cfg = lab.path("snoop-br0.conf")
    write_config(cfg, SNOOP_CONF)
    traced_run(c, lab, sw, "snoop", binary, [binary, "snoop", "--config", cfg], ["net_raw", "net_admin"],
               r"snooping uplink port uplink", cl, router, cfg, SNOOP_CONF2)


# --- driver -------------------------------------------------------------------------------------

OFFLINE = {"verify": group_verify, "security": group_security}
GROUPS = {"relay": (group_relay, 40), "snoop": (group_snoop, 40), "syscalls": (group_syscalls, 90)}


def needs(group):
    out = [(ANALYZE, "systemd"), ("setpriv", "util-linux"), (NFT, "nftables")]
    if group == "syscalls":
        out.append(("strace", "strace"))
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[2] in OFFLINE:
        if not os.access(ANALYZE, os.X_OK):
            print("SKIP: needs systemd-analyze (systemd)", flush=True)
            return lib.SKIP
        if not os.access(NFT, os.X_OK):
            print(f"SKIP: needs {NFT} (the snoop unit's ExecStopPost; verify checks it exists)", flush=True)
            return lib.SKIP
        c = Checks()
        lib.deadline(120)
        OFFLINE[sys.argv[2]](c, os.path.abspath(sys.argv[1]))
        print(f"{c.passed} passed, {c.failed} failed", flush=True)
        return 1 if c.failed or c.passed == 0 else 0
    groups = dict(GROUPS, **{k: (lambda c, lab, binary, f=f: f(c, binary)) for k, f in OFFLINE.items()})
    return lib.run_groups("rrsysd", groups, 60, needs=needs)


if __name__ == "__main__":
    sys.exit(main())
