#!/usr/bin/python3
"""A VLAN-filtering Linux bridge with access and trunk ports, `regrelay relay` on 802.1Q
sub-interfaces upstream and Kea 2.2 choosing a subnet per VLAN. Needs a kernel with
VLAN-filtering bridges and 802.1Q devices: it runs in the VM of tests/vm/run_vm.py (Debian's
kernel), started by tests/vm.cmake (`make test-vm`, ctest label vm); see docs/vm-test.md.

    c1 c2 (VLAN 10)   c3 c4 (VLAN 20)   c5 c6 (VLAN 30)   ct: eth0.10 eth0.20 eth0.30
     |  |              |  |              |  |              |
    a1 a2             a3 a4             a5 a6             t1 (trunk: 10, 20, 30 tagged)
    sw ns: br0, vlan_filtering 1, access ports "pvid untagged", no VLAN 1 anywhere
    uplink (trunk: 10, 20, 30) --veth-- trunk | rtr ns: up.10 up.20 up.30 (2001:db8:V::1/64)
        regrelay relay --client-iface up.10 --client-iface up.20 --client-iface up.30
    rtr 2001:db8:ffff::2 --veth-- srv ns: kea-dhcp6 on 2001:db8:ffff::1, subnet 2001:db8:V::/64
        per VLAN (by the relay's link-address), one reservation per client MAC (option 79)

    vlan_bridge_test.py REGRELAY GROUP

GROUP:
  relay   every client (6 on access ports, 3 VLAN interfaces of the trunk client) sends a Solicit
          from its link-local address and one from its global address (the path an
          ADDR-REG-INFORM takes) to ff02::1:2 and gets an Advertise with the address Kea reserves
          for its MAC in its own VLAN's subnet; an ADDR-REG-INFORM is relayed from that VLAN's
          sub-interface; the relay saw every client message on its VLAN's sub-interface only;
          raw captures behind every access port and on the trunk client show no client message
          and no reply from another VLAN, and the trunk client's frames carry their VLAN's tag.
          Control: with vlan_filtering switched off, a Solicit from VLAN 10 reaches a VLAN 20
          client (the captures do see a leak).
  snoop   the same with `regrelay snoop --install-filters` on the bridge, every port's VLANs
          given by --port-vlan (a1=10 ... t1=10,20,30 uplink=10,20,30): every client message
          reaches the router once, as the LDRA's Relay-forward tagged with the client's VLAN,
          Interface-ID "{port}.{vlan}" (different per port and per VLAN on the trunk) and option 79
          = the client's MAC, never natively; the replies come back to that client only (untagged
          on an access port, tagged on the trunk); no client sees another client's message.
  snoop-bridge  the same with `regrelay snoop --bridge br0 --uplink uplink`: the client ports
          and their VLANs come from the bridge (netlink), no --client-port or --port-vlan.
  shared  snoop-bridge with `--capture shared` for both daemons: snoop's one TPACKET_V3 socket
          for every bridge port (VLAN tags from the packet's metadata), the relay's for its three
          802.1Q sub-interfaces (the trunk's tagged copies are not served); on Debian's kernel.
GROUP may be a comma-separated list (one process per group, the worst status wins). A snoop
group exits 77 when the binary's snoop lacks --port-vlan (snoop) or --bridge (snoop-bridge).

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root, without kea-dhcp6, or
on a kernel without VLAN-filtering bridges (outside the VM).
"""

import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "netns"))
import lib  # noqa: E402
from lib import (ADDR_REG_INFORM, ADVERTISE, OPT_CLIENTID, OPT_ELAPSED, OPT_IA_NA, SOLICIT,  # noqa: E402
                 client_msg, duid_ll, find_opts, ia_addr, opt, parse_options)

KEA = shutil.which("kea-dhcp6") or "/usr/sbin/kea-dhcp6"
TEMPLATE = os.path.join(HERE, "kea-vlan.json.in")
SERVER = "2001:db8:ffff::1"
ROUTER_UP = "2001:db8:ffff::2"
VLANS = (10, 20, 30)
ACCESS = {"a1": 10, "a2": 10, "a3": 20, "a4": 20, "a5": 30, "a6": 30}  # bridge port: its PVID
MCAST = lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS
ETH_P_ALL = 0x0003
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
PACKET_OUTGOING = 4
OPT_IAADDR = 5


def subnet(vlan):
    return f"2001:db8:{vlan}::"


class Capture:
    """Every DHCPv6 frame arriving on an interface, with its 802.1Q tag (in-band or from the
    packet's auxdata) or None."""

    def __init__(self, ns, ifname):
        self.sock = ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
        self.sock.setsockopt(263, PACKET_AUXDATA, 1)
        self.sock.bind((ifname, ETH_P_ALL))
        self.sock.setblocking(False)
        self.frames = []

    def drain(self):
        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65535, 64)
            except BlockingIOError:
                return self.frames
            if addr[2] == PACKET_OUTGOING:
                continue
            vlan = None
            for level, kind, cdata in anc:
                if level == 263 and kind == PACKET_AUXDATA and len(cdata) >= 20:
                    status = int.from_bytes(cdata[0:4], sys.byteorder)
                    if status & TP_STATUS_VLAN_VALID:
                        vlan = int.from_bytes(cdata[16:18], sys.byteorder) & 0xFFF
            if data[12:14] == b"\x81\x00":
                vlan = int.from_bytes(data[14:16], "big") & 0xFFF
                data = data[:12] + data[16:]
            if len(data) < 62 or data[12:14] != b"\x86\xdd" or data[20] != 17:
                continue
            ip, udp = data[14:54], data[54:]
            sport, dport = int.from_bytes(udp[0:2], "big"), int.from_bytes(udp[2:4], "big")
            if sport in (546, 547) or dport in (546, 547):
                payload = udp[8:int.from_bytes(udp[4:6], "big")]
                self.frames.append({"src": lib.s6(ip[8:24]), "dst": lib.s6(ip[24:40]), "sport": sport,
                                    "dport": dport, "vlan": vlan, "type": payload[0] if payload else None,
                                    "xid": int.from_bytes(payload[1:4], "big") if len(payload) >= 4 else None,
                                    "payload": payload})


class Client:
    """One DHCPv6 client: an interface in its own namespace (an access client) or a VLAN
    interface of the trunk client, with a MAC, a link-local and a global address."""

    def __init__(self, ns, ifname, vlan, mac, host, port):
        self.ns, self.ifname, self.vlan, self.mac, self.host, self.port = ns, ifname, vlan, mac, host, port
        self.gua = f"{subnet(vlan)}1{host:02x}"
        self.reserved = f"{subnet(vlan)}a{host:02x}"
        self.capture = None
        self.xids = set()
        self.name = f"{ns.role}/{ifname}"

    def ready(self):
        self.ll = self.ns.link_local(self.ifname)
        self.ifindex = self.ns.ifindex(self.ifname)
        self.ll_sock = self._sock(self.ll, scoped=True)
        self.g_sock = self._sock(self.gua, scoped=False)

    def _sock(self, addr, scoped):
        s = self.ns.udp(addr, lib.PORT_CLIENT, ifname=self.ifname if scoped else None)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        return s

    def duid(self):
        return duid_ll(bytes.fromhex(self.mac.replace(":", "")))

    def solicit(self, sock, xid, tries=3, wait=3.0):
        """Sends a Solicit (IA_NA 1) and returns the Advertise with that xid, or None."""
        self.xids.add(xid)
        msg = client_msg(SOLICIT, xid, opt(OPT_CLIENTID, self.duid()), opt(OPT_ELAPSED, b"\x00\x00"),
                         opt(OPT_IA_NA, (1).to_bytes(4, "big") + bytes(8)))
        for _ in range(tries):
            sock.sendto(msg, (MCAST, lib.PORT_SERVER, 0, self.ifindex))
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                r, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
                if not r:
                    break
                data, _src = sock.recvfrom(65535)
                if len(data) >= 4 and data[0] == ADVERTISE and int.from_bytes(data[1:4], "big") == xid:
                    return data
        return None

    def addr_reg_inform(self, xid):
        self.xids.add(xid)
        # RFC 9686 §4.2: the address to register in a top-level IA Address option.
        msg = client_msg(ADDR_REG_INFORM, xid, opt(OPT_CLIENTID, self.duid()), opt(OPT_ELAPSED, b"\x00\x00"),
                         ia_addr(self.gua, 3000, 4000))
        self.g_sock.sendto(msg, (MCAST, lib.PORT_SERVER, 0, self.ifindex))

    def addresses(self):
        return {self.ll, self.gua}


def log_has(proc, pattern, timeout):
    try:
        proc.wait_log(pattern, timeout=timeout)
        return True
    except (TimeoutError, RuntimeError):
        return False


def advertised(data):
    """The IA Address options' addresses in an Advertise's IA_NAs."""
    out = []
    for ia in find_opts(parse_options(data[4:]), OPT_IA_NA):
        for a in find_opts(parse_options(ia[12:]), OPT_IAADDR):
            out.append(lib.s6(a[:16]))
    return out


def render(template, values):
    def sub(m):
        if m.group(1) not in values:
            raise KeyError(f"{TEMPLATE}: no value for @{m.group(1)}@")
        return values[m.group(1)]
    return re.sub(r"@([A-Z_]+)@", sub, template)


class Kea:
    def __init__(self, lab, ns, iface, clients):
        self.dir = lab.path("kea")
        os.makedirs(self.dir)
        subnets = []
        for i, vlan in enumerate(VLANS, 1):
            subnets.append({"id": i, "subnet": f"{subnet(vlan)}/64",
                            "pools": [{"pool": f"{subnet(vlan)}1000 - {subnet(vlan)}1fff"}],
                            "reservations": [{"hw-address": c.mac, "ip-addresses": [c.reserved]}
                                             for c in clients if c.vlan == vlan]})
        with open(TEMPLATE) as f:
            text = render(f.read(), {"SERVER_IFACE": iface, "SERVER_ADDRESS": SERVER, "DATA_DIR": self.dir,
                                     "SUBNETS": json.dumps(subnets, indent=2)})
        self.config = os.path.join(self.dir, "kea-dhcp6.conf")
        with open(self.config, "w") as f:
            f.write(text)
        env = dict(os.environ, KEA_PIDFILE_DIR=self.dir, KEA_LOCKFILE_DIR=self.dir)
        self.proc = ns.spawn([KEA, "-c", self.config], name="kea", env=env)
        self.proc.wait_log(r"DHCP6_STARTED", timeout=60)
        if "DHCPSRV_OPEN_SOCKET_FAIL" in self.proc.log():
            raise RuntimeError("kea could not open a socket:\n" + self.proc.log()[-2000:])


def netns(lab, role):
    """lab.netns(role) in two commands instead of six: every program start is slow under TCG
    emulation. The same namespace: lo up, DAD and router solicitations off, removed by the lab."""
    name = f"{lab.prefix}-{os.getpid()}-{lab.tag}-{role}"
    lib.run([lib.IP, "netns", "add", name])
    ns = lib.Netns(lab, name, role)
    lab._ns.append(ns)
    keys = [f"net.ipv6.conf.{scope}.{key}=0" for scope in ("all", "default")
            for key in ("accept_dad", "router_solicitations")]
    ns.exec("sh", "-c", f"{lib.IP} link set lo up && sysctl -q -w {' '.join(keys)}")
    return ns


def mac_of(vlan, host):
    return f"02:00:00:00:{vlan:02d}:{host:02x}"


class Topology:
    """snoop: None (the bridge alone), "port-vlan" (regrelay snoop with every port's VLANs given
    by --port-vlan) or "bridge" (regrelay snoop --bridge br0: ports and VLANs from netlink)."""

    def __init__(self, lab, binary, snoop=None, capture=()):
        self.lab = lab
        self.sw, self.rtr, self.srv = netns(lab, "sw"), netns(lab, "rtr"), netns(lab, "srv")
        self.sw.ip("link", "add", "br0", "type", "bridge", "vlan_filtering", "1", "vlan_default_pvid", "0",
                   "mcast_snooping", "0")
        self.clients = []
        vlan_cmds = []  # the bridge's VLAN table, set in one `bridge -batch`
        for port, vlan in ACCESS.items():
            host = int(port[1:])
            ns = netns(lab, "c" + port[1:])
            lab.veth(ns, self.sw, a_name="eth0", b_name=port, mac_a=mac_of(vlan, host))
            self.sw.ip("link", "set", port, "master", "br0")
            vlan_cmds.append(f"vlan add dev {port} vid {vlan} pvid untagged")
            self.clients.append(Client(ns, "eth0", vlan, mac_of(vlan, host), host, port))
        # The trunk client: one VLAN interface per VLAN on its eth0 (bridge port t1, tagged).
        self.ct = netns(lab, "ct")
        lab.veth(self.ct, self.sw, a_name="eth0", b_name="t1")
        self.sw.ip("link", "set", "t1", "master", "br0")
        for vlan in VLANS:
            vlan_cmds.append(f"vlan add dev t1 vid {vlan}")
            name = f"eth0.{vlan}"
            self.ct.ip("link", "add", "link", "eth0", "name", name, "address", mac_of(vlan, 0x77),
                       "type", "vlan", "id", str(vlan))
            self.ct.ip("link", "set", name, "up")
            self.clients.append(Client(self.ct, name, vlan, mac_of(vlan, 0x77), 0x77, "t1"))
        # The uplink: a trunk to the router, whose VLAN sub-interfaces are the relay's client side.
        lab.veth(self.sw, self.rtr, a_name="uplink", b_name="trunk")
        self.sw.ip("link", "set", "uplink", "master", "br0")
        for vlan in VLANS:
            vlan_cmds.append(f"vlan add dev uplink vid {vlan}")
            self.rtr.ip("link", "add", "link", "trunk", "name", f"up.{vlan}", "type", "vlan", "id", str(vlan))
            self.rtr.ip("link", "set", f"up.{vlan}", "up")
            self.rtr.add_addr(f"up.{vlan}", f"{subnet(vlan)}1/64")
        batch = lab.path("bridge-vlans.batch")
        with open(batch, "w") as f:
            f.write("\n".join(vlan_cmds) + "\n")
        self.sw.exec("bridge", "-batch", batch)
        self.sw.ip("link", "set", "br0", "up")
        r_up, s_if = lab.veth(self.rtr, self.srv, a_name="wan", b_name="eth0")
        self.rtr.add_addr(r_up, ROUTER_UP + "/64")
        self.srv.add_addr(s_if, SERVER + "/64")
        for c in self.clients:
            c.ns.add_addr(c.ifname, c.gua + "/64")
        lab.wait_ready(timeout=30)
        for c in self.clients:
            c.ready()
        # Captures: behind each access port (the client's eth0) and on the trunk client's eth0
        # (every VLAN, tags from the auxdata).
        for c in self.clients:
            if c.ns is not self.ct:
                c.capture = Capture(c.ns, c.ifname)
        self.trunk_capture = Capture(self.ct, "eth0")
        self.router_capture = Capture(self.rtr, "trunk")
        self.snoop = None
        if snoop:
            argv = [binary, "snoop", "--uplink", "uplink", "--install-filters", "--log-level", "debug"]
            argv += list(capture)
            if snoop == "bridge":
                argv += ["--bridge", "br0"]
            else:
                for port, vlan in ACCESS.items():
                    argv += ["--client-port", port, "--port-vlan", f"{port}={vlan}"]
                vids = ",".join(str(v) for v in VLANS)
                argv += ["--client-port", "t1", "--port-vlan", f"t1={vids}", "--port-vlan", f"uplink={vids}"]
            self.snoop = self.sw.spawn(argv, name="snoop")
            for port in [*ACCESS, "t1", "uplink"]:
                self.snoop.wait_log(r"snooping \w+ port " + re.escape(port) + r"\b", timeout=30)
            self.snoop.wait_log(r"installed nftables table bridge", timeout=30)
        self.kea = Kea(lab, self.srv, s_if, self.clients)
        argv = [binary, "relay", "--server", SERVER, "--log-level", "debug", *capture]
        for vlan in VLANS:
            argv += ["--client-iface", f"up.{vlan}"]
        self.relay = self.rtr.spawn(argv, name="relay")
        for vlan in VLANS:
            self.relay.wait_log(r"relaying from " + re.escape(f"up.{vlan}"), timeout=30)


def group_relay(c, lab, binary):
    exchanges(c, lab, binary, None)


def group_snoop(c, lab, binary):
    exchanges(c, lab, binary, "port-vlan")


def group_snoop_bridge(c, lab, binary):
    exchanges(c, lab, binary, "bridge")


def group_shared(c, lab, binary):
    t = exchanges(c, lab, binary, "bridge", ("--capture", "shared"))
    if t:
        c.check("one shared TPACKET_V3 socket for every port" in t.snoop.log(), "snoop: one shared capture socket")
        c.check("one shared TPACKET_V3 socket for every client interface" in t.relay.log(),
                "relay: one shared capture socket")


def snoop_has(binary, option):
    r = lib.run([binary, "snoop", "--help"], check=False)
    return option in r.stdout + r.stderr


def exchanges(c, lab, binary, snoop, capture=()):
    t0 = time.monotonic()
    t = Topology(lab, binary, snoop, capture)
    print(f"measure: topology, Kea and relay up in {time.monotonic() - t0:.1f} s", flush=True)
    t0 = time.monotonic()
    print(f"bridge VLAN table:\n{t.sw.exec('bridge', 'vlan', 'show').stdout}", flush=True)
    xid = 0x10000
    for cl in t.clients:
        for kind, sock in (("link-local", cl.ll_sock), ("global", cl.g_sock)):
            xid += 1
            data = cl.solicit(sock, xid)
            if c.check(data is not None, f"{cl.name} (VLAN {cl.vlan}): Solicit from its {kind} address: "
                                         f"an Advertise comes back"):
                c.eq(advertised(data), [cl.reserved], f"{cl.name}: the Advertise offers the address reserved "
                                                      f"for its MAC in VLAN {cl.vlan}'s subnet")
        xid += 1
        cl.addr_reg_inform(xid)
        if t.snoop is None:
            c.check(log_has(t.relay, rf"ADDR-REG-INFORM address {re.escape(cl.gua)} mac {cl.mac} duid \S+ interface "
                                     rf"up\.{cl.vlan}\b", timeout=5),
                    f"{cl.name}: its ADDR-REG-INFORM is relayed from up.{cl.vlan}")
        else:
            c.check(log_has(t.snoop, rf"ADDR-REG-INFORM address {re.escape(cl.gua)} mac {cl.mac} duid \S+ port "
                                     rf"{cl.port}\b", timeout=5),
                    f"{cl.name}: snoop relays its ADDR-REG-INFORM from port {cl.port}")
    print(f"measure: {len(t.clients)} clients' exchanges in {time.monotonic() - t0:.1f} s", flush=True)
    time.sleep(0.5)
    log = t.relay.log()
    seen = {}
    for m in re.finditer(r"relay-forward \S+ xid 0x([0-9a-f]+) peer \S+ mac \S+ interface (\S+)", log):
        seen.setdefault(int(m.group(1), 16), set()).add(m.group(2))
    for cl in t.clients:
        ifaces = set().union(*(seen.get(x, set()) for x in cl.xids))
        c.eq(ifaces, {f"up.{cl.vlan}"}, f"{cl.name}: the relay got its messages on up.{cl.vlan} only")

    # Nothing from or for another VLAN behind any port.
    by_vlan = {v: [cl for cl in t.clients if cl.vlan == v] for v in VLANS}
    def foreign(frames, vlan, me=None):
        mine = set().union(*(cl.addresses() for cl in by_vlan[vlan]))
        xids = set().union(*(cl.xids for cl in by_vlan[vlan]))
        bad = []
        for f in frames:
            if f["dport"] == 547 and f["src"] not in mine:
                bad.append(f)  # a client message from another VLAN
            elif f["dport"] == 546 and (f["xid"] not in xids or (me and f["dst"] not in me.addresses()
                                                                 and not f["dst"].startswith("ff"))):
                bad.append(f)  # a reply for someone else
        return bad
    for cl in t.clients:
        if cl.capture is None:
            continue
        frames = cl.capture.drain()
        c.check(any(f["dport"] == 546 for f in frames), f"{cl.name}: its capture saw its replies", str(frames[:3]))
        bad = foreign(frames, cl.vlan, cl)
        c.eq(bad, [], f"{cl.name} (access port, VLAN {cl.vlan}): no message of another VLAN, no reply for another "
                      f"client")
        c.check(all(f["vlan"] is None for f in frames), f"{cl.name}: every frame arrives untagged")
    frames = t.trunk_capture.drain()
    c.check(all(f["vlan"] in VLANS for f in frames), "trunk client: every frame carries a tag of VLAN 10, 20 or 30",
            str([f for f in frames if f["vlan"] not in VLANS][:3]))
    for vlan in VLANS:
        me = next(cl for cl in t.clients if cl.ns is t.ct and cl.vlan == vlan)
        tagged = [f for f in frames if f["vlan"] == vlan]
        c.check(any(f["dport"] == 546 for f in tagged), f"trunk client: replies tagged {vlan}")
        c.eq(foreign(tagged, vlan, me), [], f"trunk client, tag {vlan}: only VLAN {vlan}'s messages and replies")

    if snoop:
        ldra_checks(c, t)
        return t
    # Control: without VLAN filtering the same bridge leaks a VLAN 10 client's Solicit to VLAN 20.
    t.sw.ip("link", "set", "br0", "type", "bridge", "vlan_filtering", "0")
    c1 = t.clients[0]
    c3 = next(cl for cl in t.clients if cl.vlan == 20 and cl.capture is not None)
    c3.capture.drain()
    c3.capture.frames = []
    c1.solicit(c1.ll_sock, 0x1ea4, tries=1, wait=1.0)
    time.sleep(0.3)
    leaked = [f for f in c3.capture.drain() if f["xid"] == 0x1ea4]
    c.check(leaked, f"control: with vlan_filtering 0 a Solicit of {c1.name} (VLAN 10) reaches {c3.name} (VLAN 20)")


def ldra_checks(c, t):
    """What regrelay snoop added: every client message reached the router once, as the LDRA's
    Relay-forward tagged with the client's VLAN, Interface-ID "{port}.{vlan}" (the default
    format in a VLAN) and option 79 = its MAC; no client message was bridged natively; each
    client saw no other client's message (the filters keep client multicast off the bridge)."""
    frames = t.router_capture.drain()
    ifids = {}
    for cl in t.clients:
        want_ifid = f"{cl.port}.{cl.vlan}".encode()
        fwd, native = [], []
        for f in frames:
            if f["dport"] != 547 or not f["payload"]:
                continue
            if f["type"] == lib.RELAY_FORW:
                try:
                    r = lib.parse_relay(f["payload"])
                except ValueError:
                    continue
                inner = find_opts(r["options"], lib.OPT_RELAY_MSG)
                if inner and len(inner[0]) >= 4 and int.from_bytes(inner[0][1:4], "big") in cl.xids:
                    fwd.append((f, r))
            elif f["xid"] in cl.xids:
                native.append(f)
        c.eq(native, [], f"{cl.name}: none of its messages reached the router natively (unrelayed)")
        if not c.check(len(fwd) >= len(cl.xids), f"{cl.name}: each of its {len(cl.xids)} messages reached the "
                                                  f"router as a Relay-forward", f"{len(fwd)} seen"):
            continue
        c.eq(sorted({f["vlan"] for f, _ in fwd}), [cl.vlan], f"{cl.name}: its Relay-forwards are tagged {cl.vlan} "
                                                             f"on the trunk")
        got = {bytes(v) for _, r in fwd for v in find_opts(r["options"], lib.OPT_INTERFACE_ID)}
        c.eq(got, {want_ifid}, f"{cl.name}: Interface-ID {want_ifid.decode()!r}")
        macs = {bytes(v) for _, r in fwd for v in find_opts(r["options"], lib.OPT_CLIENT_LINKLAYER)}
        c.eq(macs, {b"\x00\x01" + bytes.fromhex(cl.mac.replace(":", ""))}, f"{cl.name}: option 79 = its MAC")
        ifids[cl.name] = got
    c.eq(len({i for v in ifids.values() for i in v}), len(t.clients),
         "the Interface-ID differs per port and per VLAN on the trunk")
    for cl in t.clients:
        if cl.capture is None:
            continue
        others = [f for f in cl.capture.frames if f["dport"] == 547 and f["src"] not in cl.addresses()]
        c.eq(others, [], f"{cl.name}: no other client's message reached it (not even from its own VLAN)")
    c.eq(t.snoop.stop(), 0, "snoop: SIGTERM, exit status 0")


GROUPS = {"relay": group_relay, "snoop": group_snoop, "snoop-bridge": group_snoop_bridge, "shared": group_shared}
LIMIT = 200  # seconds; under TCG emulation a run takes about a minute


def vlan_filtering_supported():
    """Whether a VLAN-filtering bridge can be made (tried in a namespace of its own)."""
    probe = f"rrvf-{os.getpid()}"
    if lib.run([lib.IP, "netns", "add", probe], check=False).returncode != 0:
        return True  # let require_root() say why namespaces do not work
    try:
        r = lib.run([lib.IP, "-n", probe, "link", "add", "br0", "type", "bridge", "vlan_filtering", "1"], check=False)
        return r.returncode == 0
    finally:
        lib.run([lib.IP, "netns", "del", probe], check=False)


def main():
    if len(sys.argv) == 3 and "," in sys.argv[2]:
        # Several groups in one VM boot: each in its own process, the worst status wins.
        worst = 0
        for g in sys.argv[2].split(","):
            print(f"=== group {g}", flush=True)
            rc = subprocess.run([sys.executable, sys.argv[0], sys.argv[1], g]).returncode
            print(f"=== group {g}: exit {rc}", flush=True)
            worst = rc if worst in (0, lib.SKIP) and rc != 0 else worst
        return worst
    if len(sys.argv) != 3 or sys.argv[2] not in GROUPS:
        return lib.run_groups("rrvm", GROUPS, LIMIT)  # the usage message, exit 2
    if os.geteuid() == 0 and not vlan_filtering_supported():
        print("SKIP: this kernel has no VLAN-filtering bridge (run it in the VM: tests/vm/run_vm.py)", flush=True)
        return lib.SKIP
    if len(sys.argv) == 3 and (sys.argv[2].startswith("snoop") or sys.argv[2] == "shared"):
        option = "--port-vlan" if sys.argv[2] == "snoop" else "--bridge"
        if not snoop_has(sys.argv[1], option):
            print(f"SKIP: this regrelay snoop has no {option}", flush=True)
            return lib.SKIP
    return lib.run_groups("rrvm", GROUPS, LIMIT, log_chars=6000, timed=True,
                          needs=lambda g: [(KEA, "kea-dhcp6-server"), ("bridge", "iproute2"),
                                           *([("nft", "nftables")] if g != "relay" else [])])


if __name__ == "__main__":
    sys.exit(main())
