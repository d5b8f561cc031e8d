#!/usr/bin/python3
"""`make demo` (as root): a live namespace lab with one DHCPv6 lease and one RFC 9686 registration.

    demo_lab.py REGRELAY

    client ── switch: bridge + regrelay snoop ── router: regrelay relay ── server: Kea ── registrar

Builds five network namespaces (tests/netns/lib.py), runs `dhclient -6` against Kea and
tests/addrreg/regclient.py against `regrelay registrar` (SQLite) through `regrelay snoop` (the
LDRA on the switch) and `regrelay relay` (the router, given both servers), then prints what
crossed each hop, decoded by `regrelay decode` from the snoop's and the relay's --write captures
and a tcpdump capture on the servers' link, the registrar's log line, `regrelay who-had` on its
database, and the snoop's and relay's log lines. Kea and the registrar are in two namespaces (both
bind UDP port 547) on one link: a bridge in the server namespace. The lab (namespaces,
processes, the snoop's nftables table, temporary files) is removed on every exit path: normal end,
error, SIGINT, SIGTERM, SIGHUP. REGRELAY_KEEP_LAB=1 keeps the temporary directory (captures, logs).
docs/lab.md explains the lab.

Exit status: 0 when the lease and the registration both worked, 1 otherwise, 130/143 on a signal.
"""

import array
import csv
import fcntl
import os
import re
import signal
import shutil
import socket
import struct
import subprocess
import sys
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))
import lib  # noqa: E402

PY = "/usr/bin/python3"
REGCLIENT = os.path.join(ROOT, "tests", "addrreg", "regclient.py")
KEA = shutil.which("kea-dhcp6") or "/usr/sbin/kea-dhcp6"
DHCLIENT = shutil.which("dhclient") or "/usr/sbin/dhclient"
TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"
DIG = shutil.which("dig") or "/usr/bin/dig"

PREFIX = "rrdemo"
CLIENT_MAC = "02:00:00:de:00:01"
CLIENT_ADDR = "2001:db8:1::100"      # a static (or SLAAC) address the client registers
RESERVED = "2001:db8:1::abcd"        # Kea's reservation for CLIENT_MAC (learnt from option 79)
ROUTER_LAN = "2001:db8:1::1"
ROUTER_WAN = "2001:db8:ffff::2"
KEA_ADDR = "2001:db8:ffff::1"
REG_ADDR = "2001:db8:ffff::3"
SERVER_DUID = "000300010200000053ff"
HOST, ZONE, ALIAS = "laptop", "hosts.example.net.", "corp.example."  # option 39's name; corp.example. BNAME ZONE

# Interface names: fixed (each namespace is private), chosen to be read in the output.
CLI_IF, SW_PORT, SW_UP, BRIDGE, R_LAN, R_WAN, SRV_IF = "eth0", "port1", "uplink", "br0", "lan0", "wan0", "eth0"
SRV_LAN, SRV_REG, REG_IF = "srvlan", "reg0", "eth0"  # the servers' link: bridge srvlan (eth0 + reg0)

KEA_CONF = """{
"Dhcp6": {
    "interfaces-config": { "interfaces": [ "%(iface)s/%(addr)s" ] },
    "data-directory": "%(dir)s",
    "server-id": { "type": "EN", "enterprise-id": 32473, "identifier": "7265677265", "persist": false },
    "lease-database": { "type": "memfile", "persist": true, "name": "%(dir)s/kea-leases6.csv", "lfc-interval": 0 },
    "mac-sources": [ "client-link-addr-option" ],
    "host-reservation-identifiers": [ "hw-address", "duid" ],
    "renew-timer": 1000, "rebind-timer": 2000, "preferred-lifetime": 3000, "valid-lifetime": 4000,
    "subnet6": [ {
        "id": 1, "subnet": "2001:db8:1::/64",
        "pools": [ { "pool": "2001:db8:1::1000 - 2001:db8:1::1fff" } ],
        "reservations": [ { "hw-address": "%(mac)s", "ip-addresses": [ "%(reserved)s" ] } ]
    } ],
    "loggers": [ { "name": "kea-dhcp6", "output_options": [ { "output": "stdout", "flush": true } ],
                   "severity": "DEBUG", "debuglevel": 40 } ]
}
}
"""

MSG = {1: "SOLICIT", 2: "ADVERTISE", 3: "REQUEST", 4: "CONFIRM", 5: "RENEW", 6: "REBIND", 7: "REPLY",
       8: "RELEASE", 9: "DECLINE", 11: "INFORMATION-REQUEST", 12: "RELAY-FORW", 13: "RELAY-REPL",
       36: "ADDR-REG-INFORM", 37: "ADDR-REG-REPLY"}


# --- output --------------------------------------------------------------------------------------

def out(text=""):
    print(text, flush=True)


def heading(text):
    out(f"\n== {text}")


def sub(text):
    out(f"\n-- {text}")


def para(text):
    """A note, wrapped to 100 columns and indented."""
    out(textwrap.fill(text, width=100, initial_indent="   ", subsequent_indent="   ", break_on_hyphens=False))


def indent(text, n=3):
    return "\n".join(" " * n + line for line in text.splitlines())


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def strip_date(line):
    """'2026-01-02 03:04:05.123456 ...' -> '03:04:05.123456 ...' (the lab runs for seconds)."""
    return re.sub(r"^\d{4}-\d\d-\d\d ", "", line)


def strip_log_time(line):
    """spdlog's '2026-01-02T03:04:05.123456Z info ...' -> 'info ...'."""
    return re.sub(r"^\S+Z ", "", line)


# --- pcap files: split by hop ---------------------------------------------------------------------

LINK_ETHERNET, LINK_SLL2 = 1, 276
SLL_HOST, SLL_OUTGOING = 0, 4


class Record:
    def __init__(self, hdr, data, linktype):
        self.hdr, self.data = hdr, data
        self.ifindex = self.pkttype = None
        self.src_mac = None
        ip = None
        if linktype == LINK_SLL2 and len(data) >= 20:
            self.ifindex = struct.unpack("!I", data[4:8])[0]
            self.pkttype = data[10]
            ip = data[20:]
        elif linktype == LINK_ETHERNET and len(data) >= 14:
            self.src_mac = data[6:12]
            etype, off = struct.unpack("!H", data[12:14])[0], 14
            while etype in (0x8100, 0x88A8) and len(data) >= off + 4:
                etype, off = struct.unpack("!H", data[off + 2:off + 4])[0], off + 4
            ip = data[off:] if etype == 0x86DD else None
        self.inner = self.dport = self.dst = None
        if ip and len(ip) >= 48 and ip[0] >> 4 == 6 and ip[6] == 17:
            self.dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
            self.dport = struct.unpack("!H", ip[42:44])[0]
            self.inner = innermost_type(ip[48:])


SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17


def tx_checksum_off(ns, ifname):
    """`ethtool -K IF tx off` (without ethtool): the ioctl on a socket made in the namespace."""
    with ns.inside():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        value = array.array("B", struct.pack("=II", ETHTOOL_STXCSUM, 0))
        ifreq = struct.pack("16sP", ifname.encode(), value.buffer_info()[0])
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq + b"\0" * (40 - len(ifreq)))
    except OSError:
        pass  # the captures then show "[bad udp checksum]" for frames the kernel sent; nothing else changes
    finally:
        s.close()


def innermost_type(msg):
    """The message type inside any Relay-forward/Relay-reply levels (option 9), or None."""
    for _ in range(10):
        if len(msg) < 4:
            return None
        if msg[0] not in (12, 13):
            return msg[0]
        try:
            inner = [v for c, v in lib.parse_options(msg[34:]) if c == lib.OPT_RELAY_MSG]
        except ValueError:
            return None
        if not inner:
            return None
        msg = inner[0]
    return None


def read_pcap(path):
    """(global header bytes, linktype, [Record]); an empty or missing file gives no records."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None, None, []
    if len(raw) < 24:
        return None, None, []
    magic = raw[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", raw[20:24])[0] & 0x0FFFFFFF
    recs, i = [], 24
    while i + 16 <= len(raw):
        incl = struct.unpack(endian + "I", raw[i + 8:i + 12])[0]
        if i + 16 + incl > len(raw):
            break  # a record still being written
        recs.append(Record(raw[i:i + 16], raw[i + 16:i + 16 + incl], linktype))
        i += 16 + incl
    return raw[:24], linktype, recs


def write_pcap(path, header, recs):
    with open(path, "wb") as f:
        f.write(header)
        for r in recs:
            f.write(r.hdr + r.data)


def decode(regrelay, path, verbose=False):
    """`regrelay decode [-v] FILE`, dates stripped."""
    argv = [regrelay, "decode"] + (["-v"] if verbose else []) + [path]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        return f"(regrelay decode: exit {r.returncode}: {r.stderr.strip()})"
    return "\n".join(strip_date(line) for line in r.stdout.splitlines())


# --- the lab -------------------------------------------------------------------------------------

class Demo:
    def __init__(self, regrelay):
        self.regrelay = regrelay
        self.ok = True
        self.lease_skipped = False
        self.have_kea = os.access(KEA, os.X_OK) and os.access(DHCLIENT, os.X_OK)
        self.have_tcpdump = os.access(TCPDUMP, os.X_OK)

    def build(self, lab):
        self.lab = lab
        cli, sw, rtr, srv, reg = (lab.netns(r) for r in ("client", "switch", "router", "server", "reg"))
        self.cli, self.sw, self.rtr, self.srv, self.reg = cli, sw, rtr, srv, reg
        lab.veth(cli, sw, CLI_IF, SW_PORT, mac_a=CLIENT_MAC)
        lab.veth(sw, rtr, SW_UP, R_LAN)
        lab.veth(rtr, srv, R_WAN, SRV_IF)
        lab.veth(srv, reg, SRV_REG, REG_IF)
        lab.bridge(sw, [SW_PORT, SW_UP], name=BRIDGE)
        lab.bridge(srv, [SRV_IF, SRV_REG], name=SRV_LAN)
        cli.ip("-6", "addr", "add", CLIENT_ADDR + "/64", "dev", CLI_IF, "nodad", "valid_lft", "7200",
               "preferred_lft", "3600")
        rtr.add_addr(R_LAN, ROUTER_LAN + "/64")
        rtr.add_addr(R_WAN, ROUTER_WAN + "/64")
        srv.add_addr(SRV_LAN, KEA_ADDR + "/64")
        reg.add_addr(REG_IF, REG_ADDR + "/64")
        cli.add_route("default", via=ROUTER_LAN)
        # Real UDP checksums in every capture: veths otherwise leave them to an offload that never
        # happens, and the captures show "[bad udp checksum]" for what the kernel sent.
        for ns, ifname in ((cli, CLI_IF), (sw, SW_PORT), (sw, SW_UP), (rtr, R_LAN), (rtr, R_WAN), (srv, SRV_IF),
                           (srv, SRV_LAN), (srv, SRV_REG), (reg, REG_IF)):
            tx_checksum_off(ns, ifname)
        lab.wait_ready()
        self.idx = {"port1": sw.ifindex(SW_PORT), "uplink": sw.ifindex(SW_UP), "lan0": rtr.ifindex(R_LAN)}
        self.rtr_mac = rtr.mac(R_WAN)

        # Server side first: a capture of everything between the router and the servers (on the
        # bridge port facing the router), Kea, the registrar.
        if self.have_tcpdump:
            # --immediate-mode: without it, packets still in the kernel ring's current block when
            # tcpdump is stopped are lost.
            self.tcpdump = srv.spawn([TCPDUMP, "-i", SRV_IF, "-n", "--immediate-mode", "-U", "-Z", "root", "-w",
                                      lab.path("server.pcap"), "udp port 547 or udp port 546"], name="tcpdump")
            self.tcpdump.wait_log(r"listening on", timeout=10)
        if self.have_kea:
            kdir = lab.path("kea")
            os.makedirs(kdir)
            conf = os.path.join(kdir, "kea-dhcp6.conf")
            with open(conf, "w") as f:
                f.write(KEA_CONF % {"iface": SRV_LAN, "addr": KEA_ADDR, "dir": kdir, "mac": CLIENT_MAC,
                                    "reserved": RESERVED})
            self.kea_leases = os.path.join(kdir, "kea-leases6.csv")
            env = dict(os.environ, KEA_PIDFILE_DIR=kdir, KEA_LOCKFILE_DIR=kdir)
            self.kea = srv.spawn([KEA, "-c", conf], name="kea", env=env)
            self.kea.wait_log(r"DHCP6_STARTED", timeout=15)
            if "DHCPSRV_OPEN_SOCKET_FAIL" in self.kea.log():
                raise RuntimeError("kea-dhcp6 could not open its sockets:\n" + self.kea.log()[-1500:])
        self.db = lab.path("registrar.db")
        self.registrar = reg.spawn([self.regrelay, "registrar", "--db", "sqlite:" + self.db, "--server-duid",
                                    SERVER_DUID, "--link", "office=2001:db8:1::/64", "--dns-listen",
                                    f"[{REG_ADDR}]:53", "--dns-zone", ZONE, "--bname-zone", "example.",
                                    "--bname", f"{ALIAS} {ZONE} 600"], name="registrar")
        self.registrar.wait_log(r"registrar on UDP port 547", timeout=10)

        self.snoop = sw.spawn([self.regrelay, "snoop", "--client-port", SW_PORT, "--uplink", SW_UP,
                               "--install-filters", "--write", lab.path("switch.pcap"), "--log-level", "debug"],
                              name="snoop")
        self.snoop.wait_log(r"snooping uplink port " + SW_UP, timeout=10)
        self.relay = rtr.spawn([self.regrelay, "relay", "--client-iface", R_LAN, "--server", KEA_ADDR,
                                "--server", REG_ADDR, "--write", lab.path("router.pcap"), "--log-level", "debug"],
                               name="relay")
        self.relay.wait_log(r"relaying from " + R_LAN, timeout=10)

    def show_lab(self):
        heading("The lab (network namespaces; docs/lab.md)")
        n = {ns.role: ns.name for ns in (self.cli, self.sw, self.rtr, self.srv, self.reg)}
        out(f"""   client  {n['client']:<28} {CLI_IF} {CLIENT_MAC}, {CLIENT_ADDR}/64 (static), dhclient -6, regclient
     |
   switch  {n['switch']:<28} bridge {BRIDGE}: {SW_PORT} (client port) + {SW_UP}
     |                                          regrelay snoop --client-port {SW_PORT} --uplink {SW_UP}
   router  {n['router']:<28} {R_LAN} {ROUTER_LAN}/64, {R_WAN} {ROUTER_WAN}/64
     |                                          regrelay relay --client-iface {R_LAN} --server {KEA_ADDR} --server {REG_ADDR}
   server  {n['server']:<28} bridge {SRV_LAN}: {SRV_IF} + {SRV_REG}; {SRV_LAN} {KEA_ADDR}/64: Kea 2.2; tcpdump -i {SRV_IF}
     |
   reg     {n['reg']:<28} {REG_IF} {REG_ADDR}/64: regrelay registrar --db sqlite:registrar.db --link office=2001:db8:1::/64
                                                --dns-listen [{REG_ADDR}]:53 --dns-zone {ZONE} --bname-zone example.
                                                --bname '{ALIAS} {ZONE} 600'""")

    # --- step 1: the lease -----------------------------------------------------------------------
    def lease(self):
        heading(f"1. A DHCPv6 lease: dhclient -6 {CLI_IF} in the client, Kea on the server")
        if not self.have_kea:
            out(f"   skipped: {KEA} or {DHCLIENT} is not installed (Debian: kea-dhcp6-server, isc-dhcp-client)")
            self.lease_skipped = True
            return
        d = self.lab.path("dhclient")
        os.makedirs(d)
        conf, lease, pid = (os.path.join(d, x) for x in ("dhclient6.conf", "dhclient6.leases", "dhclient6.pid"))
        with open(conf, "w") as f:
            f.write("timeout 15;\n")
        t0 = time.monotonic()
        # -sf /bin/true: dhclient reports the lease and leaves the namespace's addresses alone.
        dh = self.cli.spawn([DHCLIENT, "-6", "-d", "-1", "-v", "-cf", conf, "-lf", lease, "-pf", pid,
                             "-sf", "/bin/true", CLI_IF], name="dhclient")
        addr = None
        while time.monotonic() - t0 < 15 and dh.popen.poll() is None:
            m = re.search(r"iaaddr ([0-9a-fA-F:]+) \{", read(lease))
            if m:
                addr = m.group(1)
                break
            time.sleep(0.1)
        took = time.monotonic() - t0
        dh.stop()
        if not addr:
            self.ok = False
            out(f"   FAILED: dhclient got no lease in {took:.1f} s. Its log:\n" + indent(dh.log()[-1500:], 5))
            return
        out(f"   dhclient bound {addr} in {took:.1f} s"
            + (f" (the address Kea reserves for {CLIENT_MAC})" if addr == RESERVED else ""))
        # Kea's INFO lines: "DATE TIME LEVEL [logger/pid.thread] MESSAGE_ID text"; the last of each.
        keep = {}
        for line in self.kea.log().splitlines():
            m = re.search(r"\] ((?:DHCP6_LEASE_ALLOC|ALLOC_ENGINE_V6_HR_ADDR_GRANTED) .*)", line)
            if m:
                keep[m.group(1).split()[0]] = m.group(1)
        for line in keep.values():
            out("   Kea: " + line)
        try:
            with open(self.kea_leases, newline="") as f:
                rows = [r for r in csv.DictReader(f) if r.get("address") == addr]
        except FileNotFoundError:
            rows = []
        if rows:
            r = rows[-1]
            src = r.get("hwaddr_source")
            out(f"   Kea's lease file: address={r['address']} hwaddr={r.get('hwaddr') or '-'} hwaddr_source={src}"
                + (" (option 79)" if src == "8" else "") + f" subnet_id={r.get('subnet_id')} "
                f"valid_lifetime={r.get('valid_lifetime')}")

    # --- step 2: the registration ----------------------------------------------------------------
    def register(self):
        heading(f"2. An address registration (RFC 9686): regclient registers {CLIENT_ADDR}")
        out(f"   regclient.py --iface {CLI_IF} --address {CLIENT_ADDR} --fqdn {HOST}   (ADDR-REG-INFORM to ff02::1:2, "
            "from the address itself, with its name in option 39)")
        rc_proc = self.cli.spawn([PY, REGCLIENT, "--iface", CLI_IF, "--address", CLIENT_ADDR, "--fqdn", HOST],
                                 name="regclient")
        try:
            rc = rc_proc.popen.wait(20)
        except subprocess.TimeoutExpired:
            rc = None
            rc_proc.stop()
        out(indent(rc_proc.log().rstrip(), 5))
        m = re.search(r"^sent xid=(0x[0-9a-f]+)", rc_proc.log(), re.M)
        self.reg_xid = m.group(1) if m else None
        if rc != 0:
            self.ok = False
            out(f"   FAILED: regclient exit {rc}")
        # The replies have reached the client; let the last frames reach the recorders.
        time.sleep(0.3)

    # --- step 3: the hops ------------------------------------------------------------------------
    def hops(self):
        # Stop the recorders: the capture files are then complete.
        for p in (self.snoop, self.relay, getattr(self, "tcpdump", None)):
            if p:
                p.stop()
        sw_h, sw_lt, sw = read_pcap(self.lab.path("switch.pcap"))
        rt_h, rt_lt, rt = read_pcap(self.lab.path("router.pcap"))
        sv_h, sv_lt, sv = read_pcap(self.lab.path("server.pcap"))
        i = self.idx
        if sv_h:
            to_srv = (sv_h, [r for r in sv if r.src_mac == self.rtr_mac],
                      f"server.pcap (tcpdump on the servers' link, {SRV_IF}): from the router")
            from_srv = (sv_h, [r for r in sv if r.src_mac != self.rtr_mac],
                        f"server.pcap: to the router")
        else:  # no tcpdump: the router's side of the same link
            to_srv = (rt_h, [r for r in rt if r.pkttype == SLL_OUTGOING and r.ifindex != i["lan0"]],
                      "router.pcap: sent upstream")
            from_srv = (rt_h, [r for r in rt if r.pkttype == SLL_HOST], "router.pcap: received upstream")
        hops = [
            ("hop 1  client -> switch", (sw_h, [r for r in sw if r.ifindex == i["port1"] and r.pkttype == SLL_HOST],
                                         f"switch.pcap (regrelay snoop --write): received on {SW_PORT}"),
             "the client's own messages, multicast to ff02::1:2 (dhclient from its link-local address, regclient "
             "from the address it registers)"),
            ("hop 2  switch -> router", (sw_h, [r for r in sw if r.ifindex == i["uplink"] and r.pkttype == SLL_OUTGOING],
                                         f"switch.pcap: sent on {SW_UP}"),
             f"the LDRA (RFC 6221) wrapped each one: RELAY-FORW hop 0, link-address ::, peer-address = the client's "
             f"source, Interface-ID \"{SW_PORT}\" (18), the client's MAC (option 79)"),
            ("hop 3  router -> servers", to_srv,
             f"the relay wrapped the LDRA's Relay-forward in a second level: hop 1, no option 79 (the LDRA's is "
             f"inside); link-address {ROUTER_LAN} whether the LDRA's source is link-local (dhclient) or global "
             f"(regclient): the LDRA's level names no link (docs/relay.md). Each goes to {KEA_ADDR} (Kea) and to "
             f"{REG_ADDR} (the registrar)"),
            ("hop 4  servers -> router", from_srv,
             "Kea answers the lease messages and drops the registration (type 36 is unknown to Kea 2.2); the "
             "registrar answers only the registration, once it is committed to its database. A Relay-reply level "
             "mirrors each Relay-forward level"),
            ("hop 5  router -> switch", (rt_h, [r for r in rt if r.ifindex == i["lan0"] and r.pkttype == SLL_OUTGOING],
                                         f"router.pcap (regrelay relay --write): sent on {R_LAN}"),
             "the relay removed its level and sent the LDRA's Relay-reply to the client's address, port 547"),
            ("hop 6  switch -> client", (sw_h, [r for r in sw if r.ifindex == i["port1"] and r.pkttype == SLL_OUTGOING],
                                         f"switch.pcap: sent on {SW_PORT}"),
             f"the LDRA removed the last level and put the bare reply on the port its Interface-ID names, "
             f"{SW_PORT}"),
        ]
        heading("3. What crossed each hop (regrelay decode of the captures; lease first, then the registration)")
        reg = {36, 37}
        for n, (title, (hdr, recs, where), what) in enumerate(hops, 1):
            sub(f"{title}   [{where}]")
            para(what)
            if not hdr or not recs:
                out("   (nothing recorded)")
                continue
            path = self.lab.path(f"hop{n}.pcap")
            write_pcap(path, hdr, recs)
            out(indent(decode(self.regrelay, path)))
        heading("4. The registration in full, to and from the registrar (regrelay decode -v)")
        for n, (title, (hdr, recs, where), _) in enumerate(hops, 1):
            if n not in (3, 4):  # hops 1, 2, 5 and 6 are nested in these
                continue
            recs = [r for r in recs if r.inner in reg and r.dst != KEA_ADDR]
            if not hdr or not recs:
                continue
            path = self.lab.path(f"hop{n}-reg.pcap")
            write_pcap(path, hdr, recs)
            sub(title)
            out(indent(decode(self.regrelay, path, verbose=True)))

    # --- step 4: logs --------------------------------------------------------------------------
    def logs(self):
        heading("5. The registrar: its log, `regrelay who-had` on its database, and its DNS view")
        self.registrar.stop()
        lines = [strip_log_time(l) for l in self.registrar.log().splitlines()
                 if re.search(r"info (registered address |\S+: stopping; )", l)]
        out(indent("\n".join(lines)) if lines else "   (no registration logged)")
        if not any(f"registered address {CLIENT_ADDR} " in l for l in lines):
            self.ok = False
        kea = [m.group(1) for m in re.finditer(r"\] (DHCP6_UNKNOWN_MSG_RECEIVED .*)", self.kea.log())] \
            if self.have_kea else []
        if kea:
            out(f"   Kea: {kea[-1]}")
        out(f"\n   $ regrelay who-had {CLIENT_ADDR} --db sqlite:registrar.db")
        who = subprocess.run([self.regrelay, "who-had", CLIENT_ADDR, "--db", "sqlite:" + self.db],
                             capture_output=True, text=True, timeout=10)
        out(indent((who.stdout + who.stderr).rstrip(), 5))
        if who.returncode != 0 or CLIENT_MAC not in who.stdout:
            self.ok = False
            out(f"   FAILED: who-had exit {who.returncode}, or without the client's MAC {CLIENT_MAC}")
        if self.dns_answer:
            out("\n" + self.dns_answer)

    def dns(self):
        """dig through the BNAME, from the router, while the registrar still runs."""
        self.dns_answer = ""
        if not os.access(DIG, os.X_OK):
            self.dns_answer = f"   (no {DIG}: the DNS query is skipped; Debian: bind9-dnsutils)"
            return
        name = f"{HOST}.{ALIAS}"
        r = self.rtr.exec(DIG, "@" + REG_ADDR, "+norec", "+time=2", "+tries=2", "+nocookie", "+noall", "+answer",
                          name, "AAAA", check=False, timeout=20)
        lines = [re.sub(r"\s+", " ", l.strip()) for l in r.stdout.splitlines() if l.strip()]
        self.dns_answer = (f"   $ dig @{REG_ADDR} {name} AAAA +noall +answer     (in the router; {ALIAS} BNAME {ZONE})\n"
                           + indent("\n".join(lines) if lines else f"(no answer: exit {r.returncode} "
                                                                    f"{r.stderr.strip()})", 5)
                           + "\n   (TYPE65280 is the BNAME, in RFC 3597 form: the draft has no type code; docs/dns.md)")
        if not any(l.endswith(f"AAAA {CLIENT_ADDR}") for l in lines):
            self.ok = False
            self.dns_answer += "\n   FAILED: no AAAA through the BNAME"
        heading("6. What regrelay logged")
        xid = self.reg_xid or "0x"
        for name, proc in (("regrelay snoop (switch)", self.snoop), ("regrelay relay (router)", self.relay)):
            sub(name)
            keep = [strip_log_time(l) for l in proc.log().splitlines()
                    if "ADDR-REG-INFORM address" in l
                    or (("relay-forward" in l or "relay-reply" in l)
                        and (f"xid {xid}" in l or f"peer {CLIENT_ADDR} " in l or f"to {CLIENT_ADDR} " in l))]
            out(indent("\n".join(keep)) if keep else "   (nothing about the registration)")
        out("\n   The snoop is the first relay the client's message meets: it logs each registration at info level"
            "\n   (address, MAC, DUID, port). The router receives the snoop's Relay-forward, not an ADDR-REG-INFORM,"
            "\n   so it logs RELAY-FORW(ADDR-REG-INFORM) and RELAY-REPL(ADDR-REG-REPLY), naming the carried"
            "\n   message and its xid, at debug level.")


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} REGRELAY", file=sys.stderr)
        return 2
    regrelay = os.path.abspath(sys.argv[1])
    started = time.monotonic()
    interrupted = []
    cleaning = []

    def on_signal(signo, _frame):
        if not interrupted:
            interrupted.append(signo)
            print(f"\n{signal.Signals(signo).name}: stopping and removing the lab", file=sys.stderr, flush=True)
        if not cleaning:  # once the clean-up has begun, let it finish
            raise SystemExit(128 + signo)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    demo = Demo(regrelay)
    lab = None
    rc = 1
    try:
        lab = lib.Lab(PREFIX)
        for s in (signal.SIGTERM, signal.SIGHUP):  # Lab installs its own; ours say what happens
            signal.signal(s, on_signal)
        demo.build(lab)
        demo.show_lab()
        demo.lease()
        demo.register()
        demo.dns()
        demo.hops()
        demo.logs()
        rc = 0 if demo.ok else 1
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except Exception as e:  # report, clean up, fail
        print(f"\ndemo: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        rc = 1
    finally:
        cleaning.append(True)
        # No signal may interrupt the clean-up (Lab.cleanup blocks them too).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        n = 0
        if lab is not None:
            n = len(lab._ns)
            lab.cleanup()
        # A signal between `ip netns add` and the Lab noting it: remove this run's names too.
        mine = re.compile(rf"{PREFIX}-{os.getpid()}-[0-9a-f]+-[a-z0-9]+")
        for line in lib.run([lib.IP, "netns", "list"], check=False).stdout.splitlines():
            if line.split() and mine.fullmatch(line.split()[0]):
                lib.run([lib.IP, "netns", "del", line.split()[0]], check=False)
        try:
            heading("Clean-up")
            para(f"stopped every process, deleted {n} namespace(s) (with the switch's nftables table and the "
                 f"links), removed the temporary files; {time.monotonic() - started:.1f} s in all")
        except OSError:  # stdout gone (a closed pipe): the lab is removed all the same
            pass
    if interrupted:
        # Die of the signal, so that the shell and make see an interrupted child.
        signal.signal(interrupted[0], signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {interrupted[0]})
        os.kill(os.getpid(), interrupted[0])
    if rc == 0:
        out("\nOK: " + ("the registration (no lease: Kea or dhclient missing)" if demo.lease_skipped
                        else "the lease (Kea) and the registration (regrelay registrar) both")
            + " went through regrelay snoop and regrelay relay.")
    elif rc == 1:
        out("\nFAILED: see the messages above.")
    return rc


if __name__ == "__main__":
    sys.exit(main())
