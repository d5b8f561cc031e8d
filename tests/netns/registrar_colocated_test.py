#!/usr/bin/python3
"""`regrelay registrar --listen-address` and Kea 2.2 in ONE network namespace (one host), started in
either order, behind one `regrelay relay --server KEA --server REGISTRAR`:

    client ns --veth-- router ns: regrelay relay --server 2001:db8:ffff::1 --server 2001:db8:ffff::53
                         `-- veth -- server ns: kea-dhcp6 [2001:db8:ffff::1]:547 (+ its link-local, ff02::1:2%IF)
                                                regrelay registrar --listen-address 2001:db8:ffff::53
                                                                   --listen-iface IF (ff02::1:2%IF, shared)

    registrar_colocated_test.py REGRELAY GROUP

Kea 2.2 binds its unicast address (interfaces "IF/ADDR"), the interface's link-local address and
[ff02::1:2]%IF, each with SO_REUSEADDR; it never binds [::]. Without --listen-address the
registrar binds [::]:547 exclusively and the second of the two to start fails ("Address already
in use"). With it, the registrar binds only its own address (exclusively) and the group with
SO_REUSEADDR, so both start in either order and each relay destination reaches one server.

GROUP is one of:
  kea-first        Kea starts, then `regrelay registrar` WITHOUT --listen-address fails with a clear
                   error (exit 1, the port in use), then with --listen-address starts; then the checks.
  registrar-first  the registrar starts first, then Kea (which would fail to open its sockets
                   beside the wildcard bind: Kea class raises on DHCPSRV_OPEN_SOCKET_FAIL); the checks.
The checks: a relayed Solicit from the client link is answered by Kea (Advertise with Kea's
Server Identifier and its reservation for the client's MAC, learnt from the relay's option 79);
a relayed ADDR-REG-INFORM (tests/addrreg/regclient.py) is answered by the registrar (its Server
Identifier); a direct ADDR-REG-INFORM multicast to ff02::1:2 on the servers' link is answered by
the registrar and reaches Kea too (Kea logs type 36 as unknown): the group is shared, not split.

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root or Kea is missing.
"""

import os
import re
import select
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lib  # noqa: E402
from kea_e2e_test import CLIENT_MAC, KEA, RESERVED_1, SERVER, Kea  # noqa: E402

PY = "/usr/bin/python3"
REGCLIENT = os.path.join(HERE, "..", "addrreg", "regclient.py")

CLIENT_GUA = "2001:db8:1::100"  # the address the client registers
LINK = "2001:db8:1::1"          # the router on the client link
RELAY_UP = "2001:db8:ffff::2"   # the router on the servers' link (Kea is SERVER, 2001:db8:ffff::1)
REGISTRAR = "2001:db8:ffff::53"
DIRECT = "2001:db8:ffff::77"    # the router registers this one directly (multicast on the servers' link)
REG_DUID = "000300010200000053ff"
KEA_DUID = "000200007ed97265677265"  # tests/kea/kea-dhcp6.json.in


def events(out, kind):
    return [dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)
            for line in out.splitlines() if line.startswith(kind + " ")]


def register(lab, ns, iface, address, name):
    log = lab.path(f"{name}.out")
    r = ns.exec(PY, REGCLIENT, "--iface", iface, "--address", address, "--log", log, check=False, timeout=30)
    print(f"{name} (exit {r.returncode}):\n  " + "\n  ".join((r.stdout + r.stderr).splitlines()), flush=True)
    return r.returncode, r.stdout


def solicit(ns, iface, mac, timeout=8.0):
    """A Solicit from the client's link-local [fe80::..%IF]:546 to [ff02::1:2%IF]:547, retransmitted
    each second; returns the first Advertise's options (a list of (code, data)) or None."""
    s = ns.udp(ns.link_local(iface), 546, iface)
    idx = ns.ifindex(iface)
    xid = 0x5a1c17
    msg = lib.client_msg(1, xid, lib.opt(1, lib.duid_ll(mac)), lib.opt(3, struct.pack("!III", 1, 0, 0)),
                         lib.opt(8, b"\0\0"))
    deadline = time.monotonic() + timeout
    next_send = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_send:
            s.sendto(msg, ("ff02::1:2", 547, 0, idx))
            next_send = time.monotonic() + 1.0
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        data, _ = s.recvfrom(65535)
        if len(data) >= 4 and data[0] == 2 and int.from_bytes(data[1:4], "big") == xid:
            return lib.parse_options(data[4:])
    return None


class Topology:
    def __init__(self, lab):
        self.cli, self.rtr, self.srv = (lab.netns(r) for r in ("cli", "rtr", "srv"))
        self.c_if, self.r_down = lab.veth(self.cli, self.rtr, mac_a=CLIENT_MAC)
        self.r_up, self.s_if = lab.veth(self.rtr, self.srv)
        self.cli.ip("-6", "addr", "add", CLIENT_GUA + "/64", "dev", self.c_if, "nodad", "valid_lft", "7200",
                    "preferred_lft", "3600")
        self.cli.add_route("default", via=LINK)
        self.rtr.add_addr(self.r_down, LINK + "/64")
        self.rtr.add_addr(self.r_up, RELAY_UP + "/64")
        self.rtr.ip("-6", "addr", "add", DIRECT + "/64", "dev", self.r_up, "nodad", "valid_lft", "5000",
                    "preferred_lft", "2500")
        self.srv.add_addr(self.s_if, SERVER + "/64")
        self.srv.add_addr(self.s_if, REGISTRAR + "/64")
        lab.wait_ready()
        self.client_mac = self.cli.mac(self.c_if)

    def registrar_argv(self, lab, binary, *extra):
        return [binary, "registrar", "--db", "sqlite:" + lab.path("registrar.db"), "--server-duid", REG_DUID,
                "--listen-iface", self.s_if, "--log-level", "debug", *extra]


def start_registrar(t, lab, binary):
    reg = t.srv.spawn(t.registrar_argv(lab, binary, "--listen-address", REGISTRAR), name="registrar")
    reg.wait_log(r"registrar on UDP port 547")
    reg.wait_log(r"listening for direct registrations on " + re.escape(t.s_if))
    return reg


def checks(c, lab, binary, t, kea, reg):
    ss = t.srv.exec("ss", "-Hulpn", "sport = :547", check=False).stdout
    print("ss -ulpn (server ns):\n" + ss, flush=True)
    c.check(f"[{SERVER}]:547" in ss and f"[{REGISTRAR}]:547" in ss and "[::]:547" not in ss,
            "one host: Kea has its address, the registrar its own, nobody the wildcard", ss)
    c.eq(len(re.findall(r"\[ff02::1:2\]%" + re.escape(t.s_if) + r":547", ss)), 2,
         "both have [ff02::1:2]%IF:547 (shared with SO_REUSEADDR)")
    relay = t.rtr.spawn([binary, "relay", "--client-iface", t.r_down, "--server", SERVER, "--server", REGISTRAR,
                         "--log-level", "debug"], name="relay")
    relay.wait_log(r"relaying from " + re.escape(t.r_down))

    # --- DHCPv6: Kea answers the Solicit (the registrar ignores it) ---------------------------
    opts = solicit(t.cli, t.c_if, t.client_mac)
    if c.check(opts is not None, "Solicit: an Advertise came back through the relay"):
        sid = lib.find_opts(opts, 2)
        c.eq([x.hex() for x in sid], [KEA_DUID], "Advertise: Kea's Server Identifier")
        ia = lib.find_opts(opts, 3)
        addrs = [lib.s6(o[:16]) for code, o in (lib.parse_options(ia[0][12:]) if ia else []) if code == 5]
        c.eq(addrs, [RESERVED_1], "Advertise: Kea's reservation for the MAC of the relay's option 79")

    # --- relayed registration: the registrar answers ------------------------------------------
    rc, out = register(lab, t.cli, t.c_if, CLIENT_GUA, "relayed")
    got = events(out, "registered")
    c.eq(rc, 0, "relayed ADDR-REG-INFORM: regclient accepts the reply (exit 0)")
    c.eq([g.get("server-duid") for g in got], [REG_DUID],
         "relayed: the reply is the registrar's (its Server Identifier)")
    reg.wait_log(r"registered address " + re.escape(CLIENT_GUA), timeout=5)

    # --- direct, multicast on the servers' link: the registrar answers, Kea gets it too ---------
    kea_start = len(kea.log())
    rc, out = register(lab, t.rtr, t.r_up, DIRECT, "direct")
    got = events(out, "registered")
    c.eq(rc, 0, "direct ADDR-REG-INFORM to [ff02::1:2]: regclient accepts the reply (exit 0)")
    c.eq([g.get("server-duid") for g in got], [REG_DUID], "direct: the reply is the registrar's")
    try:
        kea.proc.wait_log(r"DHCP6_UNKNOWN_MSG_RECEIVED received unknown message \(type 36\)", timeout=5,
                          start=kea_start)
        seen = True
    except (TimeoutError, RuntimeError):
        seen = False
    c.check(seen, "direct: Kea received the same multicast (logged type 36 as unknown): the group is not split",
            kea.log()[kea_start:][-1500:])
    c.eq(relay.stop(), 0, "relay: SIGTERM, exit 0")
    c.eq(reg.stop(), 0, "registrar: SIGTERM, exit 0")
    c.check(kea.proc.popen.poll() is None, "Kea still running")


def group_kea_first(c, lab, binary):
    t = Topology(lab)
    kea = Kea(lab, t.srv, t.s_if)
    # The old way: [::]:547 beside Kea's sockets is refused, with a clear error.
    old = t.srv.exec(*t.registrar_argv(lab, binary), check=False, timeout=15)
    c.eq(old.returncode, 1, "without --listen-address beside Kea: exit 1")
    c.check("already in use" in old.stdout + old.stderr, "without --listen-address: says the port is in use",
            (old.stdout + old.stderr)[-800:])
    reg = start_registrar(t, lab, binary)
    checks(c, lab, binary, t, kea, reg)


def group_registrar_first(c, lab, binary):
    t = Topology(lab)
    reg = start_registrar(t, lab, binary)
    kea = Kea(lab, t.srv, t.s_if)  # raises when Kea cannot open a socket
    c.check("DHCPSRV_OPEN_SOCKET_FAIL" not in kea.log(), "Kea started after the registrar opened all its sockets")
    checks(c, lab, binary, t, kea, reg)


GROUPS = {"kea-first": group_kea_first, "registrar-first": group_registrar_first}
LIMIT = 80  # seconds; ctest's TIMEOUT is 100


def main():
    return lib.run_groups("rrco", GROUPS, LIMIT, log_chars=4000, timed=True,
                          needs=lambda g: [(KEA, "kea-dhcp6-server")])


if __name__ == "__main__":
    sys.exit(main())
