"""A small network-namespace lab for regrelay's live tests (relay, snoop, Kea...).

    from lib import Lab, require_root
    require_root()                       # exits 77 (ctest SKIP_RETURN_CODE) unless root with netns
    with Lab("relay") as lab:
        cli, rel = lab.netns("cli"), lab.netns("rel")
        c_if, r_if = lab.veth(cli, rel)  # a veth pair between two namespaces, both ends up
        rel.add_addr(r_if, "2001:db8:1::1/64")    # always nodad; only documentation/ULA/link-local
        cli.add_route("default", via="2001:db8:1::1")
        lab.wait_ready()                 # links up, no tentative address anywhere
        proc = rel.spawn([binary, ...], name="relay")   # stderr+stdout to lab.path("relay.log")
        proc.wait_log("relaying from")
        with cli.inside():               # sockets created here live in cli's namespace
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        # or: s = cli.socket(socket.AF_INET6, socket.SOCK_DGRAM)

Every name is unique per run (namespaces "<prefix>-<pid>-<rand>-<role>", interfaces
"<role><rand>"), so concurrent runs do not collide. Everything is undone by Lab.cleanup(): on
leaving the `with`, at exit, and on SIGTERM/SIGINT/SIGHUP/SIGALRM (turned into SystemExit so
`finally` blocks run). Spawned processes get SIGTERM if the test process dies (PR_SET_PDEATHSIG),
and namespaces left behind by a run that was SIGKILLed are deleted by the next Lab
(their owner pid is part of the name). Set REGRELAY_KEEP_LAB=1 to keep the temporary directory.
New namespaces have DAD off (accept_dad=0) so link-local addresses are usable at once.

The second half builds and parses DHCPv6 bytes by hand (client_msg, relay_msg, opt, ia_addr,
duid_ll, parse_relay, parse_options) and whole Ethernet/IPv6/UDP frames (udp6_frame) for
AF_PACKET senders.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77  # ctest SKIP_RETURN_CODE
IP = shutil.which("ip") or "/usr/sbin/ip"

# Only these may be configured: documentation, unique-local and link-local space.
ALLOWED_NETS = [ipaddress.ip_network(n) for n in ("2001:db8::/32", "fd00::/8", "fe80::/10")]

_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def require_root() -> None:
    """Exits SKIP (77) with a message unless this process may create network namespaces."""
    why = None
    if os.geteuid() != 0:
        why = "needs root (network namespaces)"
    elif not os.path.exists(IP):
        why = "needs iproute2 ('ip')"
    elif not os.path.exists("/proc/self/ns/net"):
        why = "kernel without network namespaces"
    else:
        probe = f"rrprobe-{os.getpid()}"
        r = run([IP, "netns", "add", probe], check=False)
        if r.returncode != 0:
            why = f"cannot create a network namespace: {r.stderr.strip()}"
        else:
            run([IP, "netns", "del", probe], check=False)
    if why:
        print(f"SKIP: {why}", flush=True)
        sys.exit(SKIP)


def _check_net(text: str) -> None:
    net = ipaddress.ip_network(text, strict=False)
    if not any(net.subnet_of(a) for a in ALLOWED_NETS if a.version == net.version):
        raise ValueError(f"{text}: the lab only uses 2001:db8::/32, fd00::/8 and fe80::/10")


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


def run(argv: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    """Runs a command, capturing text output; raises with its stderr when check and it fails."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


class Proc:
    """A process started inside a namespace, its stdout and stderr going to one log file."""

    def __init__(self, popen: subprocess.Popen, log_path: str, name: str):
        self.popen, self.log_path, self.name = popen, log_path, name
        self.notify: "NotifySocket | None" = None  # set by Netns.spawn_ready

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern: str, timeout: float = 10, start: int = 0) -> re.Match:
        """Waits until the log (from character `start` on) matches the regex; raises on exit/timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log(), start)
            if m:
                return m
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.popen.returncode} before logging /{pattern}/:\n"
                                   + self.log())
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not log /{pattern}/ within {timeout} s:\n" + self.log())
            time.sleep(0.02)

    def rss_kb(self) -> int:
        """VmRSS from /proc/PID/status, in kB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError(f"{self.name}: no VmRSS")

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 5) -> int:
        """SIGTERM, then SIGKILL after `timeout` s. Returns the exit status (negative: signal)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


class NotifySocket:
    """The receiving end of sd_notify(3) for a daemon started in a namespace: an abstract AF_UNIX
    datagram socket made in that namespace (abstract names are per network namespace)."""

    def __init__(self, ns: "Netns", name: str):
        self.name = f"{ns.name}-{name}-notify-{secrets.token_hex(4)}"
        self.sock = ns.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.messages: list[dict] = []

    def env(self, base: dict | None = None) -> dict:
        e = dict(base if base is not None else os.environ, NOTIFY_SOCKET="@" + self.name)
        e.pop("WATCHDOG_USEC", None)
        e.pop("WATCHDOG_PID", None)
        return e

    def wait_for(self, proc: Proc, key: str, timeout: float = 10) -> dict:
        """The first message (after those already received) with KEY=1; raises when proc exits
        or none comes within `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(0.05)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                data = None
            if data is not None:
                fields = dict(ln.split("=", 1) for ln in data.decode(errors="replace").splitlines() if "=" in ln)
                self.messages.append(fields)
                if fields.get(key) == "1":
                    return fields
                continue
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited {proc.popen.returncode} before {key}=1:\n" + proc.log())
            if time.monotonic() > deadline:
                raise TimeoutError(f"{proc.name}: no {key}=1 within {timeout} s:\n" + proc.log())


class Netns:
    """One network namespace of a Lab."""

    def __init__(self, lab: "Lab", name: str, role: str):
        self.lab, self.name, self.role = lab, name, role

    def __repr__(self) -> str:
        return f"Netns({self.name})"

    # --- commands -------------------------------------------------------------------------
    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([IP, "-n", self.name, *args], check=check)

    def exec(self, *argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return run([IP, "netns", "exec", self.name, *argv], check=check, timeout=timeout)

    def sysctl(self, key: str, value) -> None:
        self.exec("sysctl", "-q", "-w", f"{key}={value}")

    def spawn(self, argv: list[str], name: str | None = None, env: dict | None = None) -> Proc:
        """Starts argv inside the namespace; stdout and stderr go to lab.path(NAME.log)."""
        name = name or os.path.basename(argv[0])
        log_path = self.lab.path(f"{name}.log")
        logf = open(log_path, "wb")

        def child_setup():
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

        # `ip netns exec` execs argv in place, so the pid is the program's own.
        p = subprocess.Popen([IP, "netns", "exec", self.name, *argv], stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=subprocess.STDOUT, preexec_fn=child_setup, env=env)
        logf.close()
        proc = Proc(p, log_path, name)
        self.lab._procs.append(proc)
        return proc

    def spawn_ready(self, argv: list[str], name: str | None = None, env: dict | None = None,
                    timeout: float = 10) -> Proc:
        """Starts a daemon (regrelay relay, snoop, registrar) like spawn() with NOTIFY_SOCKET set to
        a socket of this namespace and waits for its sd_notify READY=1 (every port open, filters
        installed, privileges dropped): a test sending at once then loses nothing to start-up,
        however slow the machine. Raises when it exits or is not ready within `timeout` s. The
        messages (dicts) are kept in proc.notify.messages; no WATCHDOG_USEC is passed."""
        name = name or os.path.basename(argv[0])
        ns = NotifySocket(self, name)
        proc = self.spawn(argv, name=name, env=ns.env(env))
        proc.notify = ns
        ns.wait_for(proc, "READY", timeout)
        return proc

    # --- configuration --------------------------------------------------------------------
    def add_addr(self, ifname: str, cidr: str) -> None:
        """Adds an address without duplicate address detection (usable at once)."""
        _check_net(cidr)
        self.ip("-6", "addr", "add", cidr, "dev", ifname, "nodad")

    def add_route(self, dst: str, via: str | None = None, dev: str | None = None) -> None:
        if dst != "default":
            _check_net(dst)
        args = ["-6", "route", "add", dst]
        if via:
            _check_net(via)
            args += ["via", via]
        if dev:
            args += ["dev", dev]
        self.ip(*args)

    def forwarding(self, on: bool = True) -> None:
        self.sysctl("net.ipv6.conf.all.forwarding", int(on))

    # --- facts ----------------------------------------------------------------------------
    def links(self) -> list[dict]:
        return json.loads(self.ip("-j", "link", "show").stdout or "[]")

    def addrs(self, ifname: str) -> list[dict]:
        out = json.loads(self.ip("-j", "-6", "addr", "show", "dev", ifname).stdout or "[]")
        return out[0].get("addr_info", []) if out else []

    def mac(self, ifname: str) -> bytes:
        for link in self.links():
            if link["ifname"] == ifname:
                return bytes.fromhex(link["address"].replace(":", ""))
        raise KeyError(ifname)

    def ifindex(self, ifname: str) -> int:
        for link in self.links():
            if link["ifname"] == ifname:
                return int(link["ifindex"])
        raise KeyError(ifname)

    def link_local(self, ifname: str) -> str:
        for a in self.addrs(ifname):
            if a.get("scope") == "link" and a["local"].startswith("fe80"):
                return a["local"]
        raise RuntimeError(f"{self.name}/{ifname}: no link-local address")

    # --- sockets --------------------------------------------------------------------------
    @contextlib.contextmanager
    def inside(self):
        """Runs the block with this thread in the namespace: sockets made there stay in it."""
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY | os.O_CLOEXEC)
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
            try:
                yield self
            finally:
                _setns(home)
        finally:
            os.close(target)
            os.close(home)

    def socket(self, family=socket.AF_INET6, type=socket.SOCK_DGRAM, proto=0) -> socket.socket:
        with self.inside():
            s = socket.socket(family, type, proto)
        self.lab._sockets.append(s)
        return s

    def udp(self, addr: str = "::", port: int = 0, ifname: str | None = None, rcvbuf: int = 0) -> socket.socket:
        """A UDP/IPv6 socket bound to [addr%ifname]:port in this namespace."""
        s = self.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE (root)
        scope = self.ifindex(ifname) if ifname else 0
        s.bind((addr, port, 0, scope))
        return s

    def packet_socket(self, ifname: str) -> socket.socket:
        """An AF_PACKET raw socket bound to ifname, for sending whole Ethernet frames."""
        s = self.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        s.bind((ifname, 0))
        return s


class Lab:
    """A set of namespaces, links and processes, removed by cleanup()."""

    _live: list["Lab"] = []
    _handlers_installed = False

    def __init__(self, prefix: str = "rr"):
        if not re.fullmatch(r"[a-z0-9]{1,8}", prefix):
            raise ValueError("prefix: 1-8 lowercase letters or digits")
        self.prefix = prefix
        self.tag = secrets.token_hex(3)
        self._ns: list[Netns] = []
        self._procs: list[Proc] = []
        self._sockets: list[socket.socket] = []
        self._closed = False
        self.tmpdir = tempfile.mkdtemp(prefix=f"regrelay-{prefix}-{os.getpid()}-")
        reap_stale(prefix)
        Lab._live.append(self)
        Lab._install_handlers()

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    @property
    def procs(self) -> list[Proc]:
        """Every process spawned in this lab, in order."""
        return list(self._procs)

    def path(self, name: str) -> str:
        return os.path.join(self.tmpdir, name)

    def daemon_dir(self, name: str) -> tuple[str, str]:
        """(user, directory): a directory of the lab that the unprivileged user a daemon switches
        to (regrelay, else nobody) may write, as /var/log/regrelay is, for its --trail file."""
        import pwd
        for user in ("regrelay", "nobody"):
            try:
                pw = pwd.getpwnam(user)
                break
            except KeyError:
                continue
        else:
            raise RuntimeError("no regrelay or nobody user")
        os.chmod(self.tmpdir, 0o755)
        d = self.path(name)
        os.mkdir(d, 0o750)
        os.chown(d, pw.pw_uid, pw.pw_gid)
        return user, d

    def netns(self, role: str) -> Netns:
        """A new namespace with lo up, DAD off for new interfaces and no router solicitations."""
        if not re.fullmatch(r"[a-z0-9]{1,6}", role):
            raise ValueError("role: 1-6 lowercase letters or digits")
        name = f"{self.prefix}-{os.getpid()}-{self.tag}-{role}"
        run([IP, "netns", "add", name])
        ns = Netns(self, name, role)
        self._ns.append(ns)
        ns.ip("link", "set", "lo", "up")
        for scope in ("all", "default"):
            ns.sysctl(f"net.ipv6.conf.{scope}.accept_dad", 0)
            ns.sysctl(f"net.ipv6.conf.{scope}.router_solicitations", 0)
        return ns

    def _ifname(self, ns: Netns, hint: str | None, avoid: str = "") -> str:
        if hint:
            if len(hint) > 15:
                raise ValueError(f"{hint}: interface names have at most 15 characters")
            return hint
        existing = {link["ifname"] for link in ns.links()} | {avoid}
        for i in range(100):
            name = f"{ns.role}{self.tag}{i}"[:15]
            if name not in existing:
                return name
        raise RuntimeError("no free interface name")

    def veth(self, a: Netns, b: Netns, a_name: str | None = None, b_name: str | None = None,
             mac_a: str | None = None, mac_b: str | None = None) -> tuple[str, str]:
        """A veth pair with one end in each namespace (created there directly), both up."""
        an = self._ifname(a, a_name)
        bn = self._ifname(b, b_name, avoid=an if a is b else "")
        argv = [IP, "link", "add", an, "netns", a.name]
        if mac_a:
            argv += ["address", mac_a]
        argv += ["type", "veth", "peer", "name", bn, "netns", b.name]
        if mac_b:
            argv += ["address", mac_b]
        run(argv)
        a.ip("link", "set", an, "up")
        b.ip("link", "set", bn, "up")
        return an, bn

    def bridge(self, ns: Netns, ports: list[str] = (), name: str | None = None,
               mcast_snooping: bool = False) -> str:
        """A bridge in ns enslaving `ports`, up. Multicast snooping is off unless asked for."""
        br = self._ifname(ns, name)
        ns.ip("link", "add", br, "type", "bridge", "mcast_snooping", str(int(mcast_snooping)))
        for p in ports:
            ns.ip("link", "set", p, "master", br)
        ns.ip("link", "set", br, "up")
        return br

    def wait_ready(self, timeout: float = 10) -> None:
        """Waits until every non-loopback link is up and no address is tentative."""
        deadline = time.monotonic() + timeout
        while True:
            pending = []
            for ns in self._ns:
                for link in ns.links():
                    if link["ifname"] != "lo" and link.get("operstate") not in ("UP", "UNKNOWN"):
                        pending.append(f"{ns.name}/{link['ifname']} {link.get('operstate')}")
                if ns.ip("-6", "addr", "show", "tentative").stdout.strip():
                    pending.append(f"{ns.name}: tentative addresses")
            if not pending:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("lab not ready: " + ", ".join(pending))
            time.sleep(0.05)

    def cleanup(self) -> None:
        """Stops processes, closes sockets, deletes namespaces and the temporary directory."""
        if self._closed:
            return
        self._closed = True
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
        try:
            for p in self._procs:
                try:
                    p.stop(timeout=3)
                except Exception as e:  # keep cleaning up
                    print(f"lab cleanup: {p.name}: {e}", file=sys.stderr)
            for s in self._sockets:
                s.close()
            for ns in reversed(self._ns):
                run([IP, "netns", "del", ns.name], check=False)
            if os.environ.get("REGRELAY_KEEP_LAB"):
                print(f"lab: kept {self.tmpdir}", file=sys.stderr)
            else:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
            if self in Lab._live:
                Lab._live.remove(self)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    @classmethod
    def _install_handlers(cls) -> None:
        if cls._handlers_installed:
            return
        cls._handlers_installed = True
        atexit.register(lambda: [lab.cleanup() for lab in list(cls._live)])

        def on_signal(signo, _frame):
            print(f"lab: {signal.Signals(signo).name}, cleaning up", file=sys.stderr, flush=True)
            raise SystemExit(128 + signo)  # unwinds through `with Lab()` / finally

        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
            signal.signal(sig, on_signal)


def reap_stale(prefix: str) -> None:
    """Deletes this prefix's namespaces and temporary directories whose creator no longer exists."""
    tmp = tempfile.gettempdir()
    for entry in os.listdir(tmp):
        m = re.fullmatch(rf"regrelay-{re.escape(prefix)}-(\d+)-\w+", entry)
        if m and not _alive(int(m.group(1))) and not os.environ.get("REGRELAY_KEEP_LAB"):
            shutil.rmtree(os.path.join(tmp, entry), ignore_errors=True)
    r = run([IP, "netns", "list"], check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(rf"{re.escape(prefix)}-(\d+)-[0-9a-f]+-[a-z0-9]+", name)
        if m and not _alive(int(m.group(1))):
            run([IP, "netns", "del", name], check=False)


def _alive(pid: int) -> bool:
    """Whether pid is a running process (a zombie, not yet reaped, counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def deadline(seconds: int) -> None:
    """Ends the test with SystemExit (so cleanup runs) if it is still running after `seconds`."""
    signal.alarm(seconds)


# --- DHCPv6 and frame bytes, built by hand (scapy 2.5 has no types 36/37 or option 148) -------

PORT_CLIENT, PORT_SERVER = 546, 547
ALL_DHCP_RELAY_AGENTS_AND_SERVERS = "ff02::1:2"
OPT_CLIENTID, OPT_SERVERID, OPT_IA_NA, OPT_IAADDR, OPT_ELAPSED = 1, 2, 3, 5, 8
OPT_RELAY_MSG, OPT_INTERFACE_ID, OPT_REMOTE_ID, OPT_CLIENT_LINKLAYER = 9, 18, 37, 79
OPT_ADDR_REG_ENABLE = 148
SOLICIT, ADVERTISE, REPLY, RELAY_FORW, RELAY_REPL = 1, 2, 7, 12, 13
ADDR_REG_INFORM, ADDR_REG_REPLY = 36, 37


def a6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


def s6(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


def opt(code: int, data: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data


def duid_ll(mac: bytes) -> bytes:
    """DUID-LL (type 3) over Ethernet (hardware type 1)."""
    return b"\x00\x03\x00\x01" + mac


def ia_addr(addr: str, preferred: int, valid: int, *sub: bytes) -> bytes:
    """Option 5 (IA Address)."""
    return opt(OPT_IAADDR, a6(addr) + preferred.to_bytes(4, "big") + valid.to_bytes(4, "big") + b"".join(sub))


def client_msg(msg_type: int, xid: int, *options: bytes) -> bytes:
    return bytes([msg_type]) + xid.to_bytes(3, "big") + b"".join(options)


def relay_msg(msg_type: int, hop: int, link: str, peer: str, *options: bytes) -> bytes:
    return bytes([msg_type, hop]) + a6(link) + a6(peer) + b"".join(options)


def parse_options(data: bytes) -> list[tuple[int, bytes]]:
    """TLV options in order; ValueError if one runs past the end."""
    out, i = [], 0
    while i < len(data):
        if i + 4 > len(data):
            raise ValueError(f"option header truncated at {i}")
        code, ln = int.from_bytes(data[i:i + 2], "big"), int.from_bytes(data[i + 2:i + 4], "big")
        if i + 4 + ln > len(data):
            raise ValueError(f"option {code} at {i} runs past the end")
        out.append((code, data[i + 4:i + 4 + ln]))
        i += 4 + ln
    return out


def parse_relay(data: bytes) -> dict:
    """A Relay-forward or Relay-reply: type, hop, link, peer (text), options [(code, bytes)]."""
    if len(data) < 34:
        raise ValueError(f"relay message of {len(data)} bytes")
    return {"type": data[0], "hop": data[1], "link": s6(data[2:18]), "peer": s6(data[18:34]),
            "options": parse_options(data[34:])}


def find_opts(options: list[tuple[int, bytes]], code: int) -> list[bytes]:
    return [v for c, v in options if c == code]


def multicast_mac(group: str) -> bytes:
    return b"\x33\x33" + a6(group)[12:]


def eui64_link_local(mac: bytes) -> str:
    iid = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
    return s6(b"\xfe\x80" + b"\x00" * 6 + iid)


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def udp6_frame(src_mac: bytes, dst_mac: bytes, src: str, dst: str, sport: int, dport: int,
               payload: bytes, hop_limit: int = 1) -> bytes:
    """An Ethernet/IPv6/UDP frame with a correct UDP checksum."""
    s, d = a6(src), a6(dst)
    ulen = 8 + len(payload)
    pseudo = s + d + ulen.to_bytes(4, "big") + b"\x00\x00\x00\x11"
    c = 0xFFFF - _csum(pseudo + sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + ulen.to_bytes(2, "big")
                       + payload)
    udp = sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + ulen.to_bytes(2, "big") + \
        (c or 0xFFFF).to_bytes(2, "big") + payload
    ip6 = b"\x60\x00\x00\x00" + ulen.to_bytes(2, "big") + bytes([17, hop_limit]) + s + d
    return dst_mac + src_mac + b"\x86\xdd" + ip6 + udp


# ---- checks ------------------------------------------------------------------------------------

class Checks:
    """Counts named checks and prints one "ok"/"FAIL" line per check, so a test reports every
    failure, not only the first."""

    def __init__(self):
        self.passed = self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print(f"ok   {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""), flush=True)
        return bool(cond)

    def eq(self, got, want, what):
        return self.check(got == want, what, f"got {got!r}, want {want!r}")


def run_groups(prefix: str, groups: dict, limit: int, *, needs=lambda group: [], log_chars: int = 4000,
               extra_logs=lambda lab: [], timed: bool = False) -> int:
    """The driver of a namespace test: `SCRIPT REGRELAY GROUP`. Runs groups[GROUP](checks, lab,
    binary) in a fresh Lab under a deadline of `limit` seconds (a group may be (fn, seconds)),
    records an exception as a failed check, prints the processes' logs (and extra_logs(lab):
    [(name, path)]) when anything failed, and returns the exit status: 0, 1, 2 (usage) or SKIP
    when needs(group) names a missing tool ([(path or command, why)])."""
    if len(sys.argv) != 3 or sys.argv[2] not in groups:
        print(f"usage: {sys.argv[0]} REGRELAY {{{'|'.join(groups)}}}", file=sys.stderr)
        return 2
    binary, group = os.path.abspath(sys.argv[1]), sys.argv[2]
    require_root()
    for tool, why in needs(group):
        found = os.access(tool, os.X_OK) if os.path.isabs(tool) else bool(shutil.which(tool))
        if not found:
            print(f"SKIP: needs {tool}{f' ({why})' if why else ''}", flush=True)
            return SKIP
    fn = groups[group]
    if isinstance(fn, tuple):
        fn, limit = fn
    deadline(limit)
    c = Checks()
    lab = Lab(prefix)
    started = time.monotonic()
    try:
        fn(c, lab, binary)
    except (Exception, SystemExit) as e:  # SystemExit: the deadline or a signal
        c.check(False, f"{group}: ran to the end", f"{type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
        if c.failed:
            for p in lab.procs:
                print(f"--- {p.name} log (last {log_chars} characters) ---\n{p.log()[-log_chars:]}", flush=True)
            for name, path in extra_logs(lab):
                with contextlib.suppress(OSError):
                    text = open(path).read()
                    if text:
                        print(f"--- {name} ---\n{text[-log_chars:]}", flush=True)
        lab.cleanup()
    took = f" ({time.monotonic() - started:.1f} s)" if timed else ""
    print(f"{c.passed} passed, {c.failed} failed{took}", flush=True)
    return 1 if c.failed or c.passed == 0 else 0
