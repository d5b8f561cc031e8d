#!/usr/bin/python3
"""`regrelay snoop` (RFC 6221 LDRA) live on a Linux bridge, in network namespaces made here:

    cl1 ns --veth-- [c1]                                       rtr ns                srv ns
                        sw ns: bridge + regrelay snoop  [uplink] --veth-- down0 | up0 --veth-- eth0
    cl2 ns --veth-- [c2]                                    2001:db8:1::1 | 2001:db8:ffff::2   2001:db8:ffff::1

    clients 2001:db8:1::101 and ::102 (and their link-locals); the bridge has no address.
    `regrelay snoop --client-port c1 --client-port c2 --uplink uplink --install-filters`
    runs in sw (the ports are the bridge's member veths).

    snoop_live_test.py REGRELAY GROUP

GROUP is one of:
  regrelay  the router runs `regrelay relay --client-iface down0 --server 2001:db8:ffff::1`. A Solicit
            (link-local source), an ADDR-REG-INFORM (global source) and an unknown type 200 from each
            client reach the server (a UDP socket on [::]:547) as two relay levels: the router's
            (hop 1) around the LDRA's (hop 0, link-address ::, peer-address = the client's source,
            Interface-ID = the bridge port, option 79 = that client's MAC, option 9 = its bytes).
            The server's two-level Relay-replies (Advertise to the link-local, ADDR-REG-REPLY to the
            global address) come back to that client only, unchanged, on port 546. Raw captures in
            the router and both client namespaces show that no client multicast is bridged and no
            native server message reaches a client. Counters, the ADDR-REG-INFORM log line, the
            --write capture, and after SIGTERM the nftables table is gone.
  dhcrelay  the same with ISC dhcrelay on the router (`dhcrelay -6 -d --no-pid -l down0 -u
            2001:db8:ffff::1%up0`): it relays the LDRA's Relay-forward whatever the inner type
            (it only looks at the outer type, 12) and relays the LDRA-level Relay-reply (type 13)
            down to the peer-address on port 547, so type 36/37 work end to end through it.
  filters   the filters have teeth: without --install-filters a client's Solicit is bridged to the
            router and to the other client (what the captures would catch); with them nothing
            leaks, a client's forged Advertise/Relay-reply and a rogue server's native Advertise
            reach no client and are counted by the guard; an 802.1Q-tagged Solicit is relayed in its
            VLAN; a burst of 2,000 client frames sent back to back is relayed without a loss; the
            installed table is the --print-filters ruleset; it is removed on SIGINT and SIGTERM.
  trusted   RFC 6221 §6.1 on a trusted port: a downstream LDRA (namespace dl on bridge port t1,
            `--trusted-port t1`) multicasts its Relay-forward; with the filters the server gets it
            exactly once, re-wrapped by snoop (hop-count 1, Interface-ID t1, no option 79, option 9
            = dl's bytes) inside the router's level, never the original bridged to the router too;
            the three-level Relay-reply comes back to dl's port 547 exactly once, as dl's own level,
            and the router's native Relay-reply is not bridged to t1 (§6.2).
  uplink    RFC 6221 §6.2: from the uplink, link-local source to link-local destination (ff02::1:2
            or a client's link-local) on UDP 547, a Solicit, an ADDR-REG-INFORM, an Advertise, a
            Relay-forward and a Reply reach no client and not the trusted port, and are counted
            (`uplink-not-relay-reply`); a Relay-reply still reaches the client port and the
            trusted port it names, unwrapped, and only so. A Solicit from the router's global
            address is outside the rule (and shows the captures see what is bridged).

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import (ADDR_REG_INFORM, ADDR_REG_REPLY, ADVERTISE, OPT_CLIENT_LINKLAYER, OPT_CLIENTID,  # noqa: E402
                 OPT_ELAPSED, OPT_IA_NA, OPT_INTERFACE_ID, OPT_RELAY_MSG, OPT_SERVERID, RELAY_FORW, RELAY_REPL,
                 SOLICIT, client_msg, duid_ll, find_opts, ia_addr, opt, parse_relay, relay_msg)

ROUTER_LINK = "2001:db8:1::1"
ROUTER_UP = "2001:db8:ffff::2"
SERVER = "2001:db8:ffff::1"
CLIENT_GUA = {"c1": "2001:db8:1::101", "c2": "2001:db8:1::102"}
MCAST = lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS
SERVER_DUID = duid_ll(bytes.fromhex("02000000cc01"))
TABLE = "regrelay_snoop"
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
BURST = 2000


Checks = lib.Checks


# --- raw captures -----------------------------------------------------------------------------

PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10


class Capture:
    """Every frame arriving on an interface (not what that namespace sends), kept in the socket
    queue until drained. Only IPv6/UDP frames with port 546 or 547 are returned, with the 802.1Q
    tag ("vlan": TCI or None) the kernel took off into the packet's metadata."""

    def __init__(self, ns, ifname):
        self.ns, self.ifname = ns, ifname
        self.sock = ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
        self.sock.setsockopt(263, PACKET_AUXDATA, 1)  # SOL_PACKET
        self.sock.bind((ifname, ETH_P_ALL))
        self.sock.setblocking(False)
        self.frames = []

    def drain(self):
        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65535, 64)
            except BlockingIOError:
                break
            if addr[2] == PACKET_OUTGOING:
                continue
            vlan = None
            for level, kind, cdata in anc:
                if level == 263 and kind == PACKET_AUXDATA and len(cdata) >= 20:
                    status, tci = int.from_bytes(cdata[0:4], sys.byteorder), int.from_bytes(cdata[16:18], sys.byteorder)
                    if status & TP_STATUS_VLAN_VALID:
                        vlan = tci
            f = parse_udp6(data)
            if f and (f["sport"] in (546, 547) or f["dport"] in (546, 547)):
                f["vlan"] = vlan if vlan is not None else f["vlan"]
                self.frames.append(f)
        return self.frames


def parse_udp6(data):
    """Ethernet (untagged or one in-band 802.1Q tag) / IPv6 / UDP without extension headers, or None."""
    vlan = None
    if data[12:14] == b"\x81\x00" and len(data) >= 18:
        vlan = int.from_bytes(data[14:16], "big")
        data = data[:12] + data[16:]
    if len(data) < 62 or data[12:14] != b"\x86\xdd" or data[20] != 17:
        return None
    ip = data[14:]
    udp = ip[40:]
    return {"dst_mac": data[0:6], "src_mac": data[6:12], "src": lib.s6(ip[8:24]), "dst": lib.s6(ip[24:40]),
            "sport": int.from_bytes(udp[0:2], "big"), "dport": int.from_bytes(udp[2:4], "big"),
            "payload": udp[8:int.from_bytes(udp[4:6], "big")], "vlan": vlan}


def recv(sock, timeout=2.0):
    """(data, (addr, port)) of the next datagram, or None after `timeout` s."""
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        return None
    data, src = sock.recvfrom(65535)
    return data, (src[0].split("%")[0], src[1])


def nft_tables(ns):
    return ns.exec("nft", "list", "tables").stdout


# --- the topology -----------------------------------------------------------------------------

class Client:
    def __init__(self, lab, sw, port, gua):
        self.port, self.gua = port, gua
        self.ns = lab.netns("cl" + port[1:])
        self.ifname, _ = lab.veth(self.ns, sw, a_name="eth0", b_name=port)
        self.ns.add_addr(self.ifname, gua + "/64")
        self.ns.add_route("default", via=ROUTER_LINK)

    def ready(self):
        self.mac = self.ns.mac(self.ifname)
        self.ll = self.ns.link_local(self.ifname)
        self.ifindex = self.ns.ifindex(self.ifname)
        self.ll_sock = self._sock(self.ll)
        self.g_sock = self._sock(self.gua)
        self.cap = Capture(self.ns, self.ifname)

    def _sock(self, addr):
        s = self.ns.udp(addr, lib.PORT_CLIENT, ifname=self.ifname if addr.startswith("fe80") else None)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        return s

    def to_relays(self, sock, payload):
        sock.sendto(payload, (MCAST, lib.PORT_SERVER, 0, self.ifindex))


class DownstreamRelay:
    """A relay agent below a trusted port: a UDP socket on [its link-local]:547 (it sends from
    there and gets its Relay-replies there) and a raw capture of what reaches it."""

    def __init__(self, lab, sw, port):
        self.port = port
        self.ns = lab.netns("dl")
        self.ifname, _ = lab.veth(self.ns, sw, a_name="eth0", b_name=port)

    def ready(self):
        self.mac = self.ns.mac(self.ifname)
        self.ll = self.ns.link_local(self.ifname)
        self.ifindex = self.ns.ifindex(self.ifname)
        self.sock = self.ns.udp(self.ll, lib.PORT_SERVER, ifname=self.ifname)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        self.cap = Capture(self.ns, self.ifname)


class Topology:
    def __init__(self, lab, binary, router="regrelay", trusted=False):
        self.lab, self.binary = lab, binary
        self.sw = lab.netns("sw")
        self.rtr = lab.netns("rtr")
        self.srv = lab.netns("srv")
        self.clients = {p: Client(lab, self.sw, p, CLIENT_GUA[p]) for p in ("c1", "c2")}
        # A downstream LDRA (or any trusted neighbour) on bridge port t1, `--trusted-port t1`.
        self.dl = DownstreamRelay(lab, self.sw, "t1") if trusted else None
        self.r_down, _ = lab.veth(self.rtr, self.sw, a_name="down0", b_name="uplink")
        self.r_up, self.s_if = lab.veth(self.rtr, self.srv, a_name="up0", b_name="eth0")
        self.bridge = lab.bridge(self.sw, ["c1", "c2", "uplink"] + (["t1"] if trusted else []), name="br0")
        self.rtr.add_addr(self.r_down, ROUTER_LINK + "/64")
        self.rtr.add_addr(self.r_up, ROUTER_UP + "/64")
        self.rtr.forwarding(True)
        self.srv.add_addr(self.s_if, SERVER + "/64")
        self.srv.add_route("2001:db8:1::/64", via=ROUTER_UP)
        lab.wait_ready()
        for cl in self.clients.values():
            cl.ready()
        if self.dl:
            self.dl.ready()
        self.router_ll = self.rtr.link_local(self.r_down)
        self.router_mac = self.rtr.mac(self.r_down)
        self.server = self.srv.udp("::", lib.PORT_SERVER)
        self.rcap = Capture(self.rtr, self.r_down)
        self.router_kind = router
        if router == "regrelay":
            # READY=1 (sd_notify): its capture and server socket are open.
            self.router = self.rtr.spawn_ready([binary, "relay", "--client-iface", self.r_down, "--server", SERVER,
                                                "--log-level", "debug"], name="relay")
            self.router.wait_log(r"relaying from " + re.escape(self.r_down))
        elif router == "dhcrelay":
            dhcrelay = shutil.which("dhcrelay") or "/usr/sbin/dhcrelay"
            self.router = self.rtr.spawn([dhcrelay, "-6", "-d", "--no-pid", "-l", self.r_down,
                                          "-u", f"{SERVER}%{self.r_up}"], name="dhcrelay")
            self.router.wait_log(r"Sending on\s+Socket/" + re.escape(self.r_down), timeout=10)
        self.snoop = None

    def start_snoop(self, filters=True, write=None, name="snoop", extra=()):
        argv = [self.binary, "snoop", "--client-port", "c1", "--client-port", "c2", "--uplink", "uplink",
                "--log-level", "debug", *extra]
        if self.dl:
            argv += ["--trusted-port", self.dl.port]
        if filters:
            argv.append("--install-filters")
        if write:
            argv += ["--write", write]
        # Ready when it says so (sd_notify READY=1): every port's capture open and the filters
        # installed. Not at its "snooping uplink port uplink" line: the trusted port t1 opens
        # after the uplink, and a downstream relay's Relay-forward sent in between was dropped
        # by the filters with nothing capturing it yet (seen on a loaded machine).
        self.snoop = self.sw.spawn_ready(argv, name=name)
        for port in ("c1", "c2", "uplink") + ((self.dl.port,) if self.dl else ()):
            self.snoop.wait_log(rf"snooping \w+ port {port} ", timeout=1)
        return self.snoop


def solicit(xid, mac):
    return client_msg(SOLICIT, xid, opt(OPT_CLIENTID, duid_ll(mac)), opt(OPT_ELAPSED, b"\x00\x00"),
                      opt(OPT_IA_NA, (1).to_bytes(4, "big") + bytes(8)))


def addr_reg_inform(xid, mac, addr):
    return client_msg(ADDR_REG_INFORM, xid, opt(OPT_CLIENTID, duid_ll(mac)), ia_addr(addr, 3600, 7200))


# --- the server side --------------------------------------------------------------------------

def check_two_levels(c, t, got, cl, sent, src, what):
    """The server's datagram is the router's Relay-forward around the LDRA's. Returns both."""
    if not c.check(got is not None, f"{what}: the server receives a Relay-forward"):
        return None, None
    data, (from_addr, from_port) = got
    c.eq((from_addr, from_port), (ROUTER_UP, lib.PORT_SERVER), f"{what}: from the router's relay, port 547")
    try:
        outer = parse_relay(data)
        inner = parse_relay(find_opts(outer["options"], OPT_RELAY_MSG)[0])
    except (ValueError, IndexError) as e:
        c.check(False, f"{what}: two well-formed relay levels", str(e))
        return None, None
    # The router's level.
    c.eq((outer["type"], outer["hop"], outer["peer"]), (RELAY_FORW, 1, src),
         f"{what}: outer level (router): Relay-forward, hop-count 1, peer-address {src}")
    if t.router_kind == "regrelay":
        # The link's address whatever the source: from a link-local one as RFC 8415 §19.1.2 says,
        # and from a global one too, since the LDRA's level (link-address ::) names no link
        # (docs/relay.md, "Link-address above an LDRA").
        c.eq((outer["link"], find_opts(outer["options"], OPT_INTERFACE_ID)), (ROUTER_LINK, []),
             f"{what}: outer link-address {ROUTER_LINK}, no Interface-ID")
    else:
        # ISC dhcrelay: always the lower interface's first global address, no Interface-ID with one -l.
        c.eq((outer["link"], find_opts(outer["options"], OPT_INTERFACE_ID)), (ROUTER_LINK, []),
             f"{what}: outer link-address {ROUTER_LINK} (dhcrelay), no Interface-ID")
    c.eq(find_opts(outer["options"], OPT_CLIENT_LINKLAYER), [],
         f"{what}: no option 79 at the router's level (the LDRA's message is no client's)")
    # The LDRA's level.
    c.eq((inner["type"], inner["hop"], inner["link"], inner["peer"]), (RELAY_FORW, 0, "::", src),
         f"{what}: inner level (LDRA): Relay-forward, hop-count 0, link-address ::, peer-address {src}")
    c.eq(find_opts(inner["options"], OPT_INTERFACE_ID), [cl.port.encode()],
         f"{what}: inner Interface-ID '{cl.port}' (the client's bridge port)")
    c.eq(find_opts(inner["options"], OPT_CLIENT_LINKLAYER), [b"\x00\x01" + cl.mac],
         f"{what}: inner option 79 = Ethernet + {cl.mac.hex(':')} (that client's MAC)")
    c.eq(find_opts(inner["options"], OPT_RELAY_MSG), [sent], f"{what}: inner option 9 = the client's bytes")
    return outer, inner


def reply_two_levels(t, outer, inner, msg):
    """The server's answer: a Relay-reply for each level, Interface-IDs echoed (RFC 8415 §19.3)."""
    def level(rf, payload):
        opts = [opt(OPT_INTERFACE_ID, v) for v in find_opts(rf["options"], OPT_INTERFACE_ID)]
        return relay_msg(RELAY_REPL, rf["hop"], rf["link"], rf["peer"], *opts, opt(OPT_RELAY_MSG, payload))
    t.server.sendto(level(outer, level(inner, msg)), (ROUTER_UP, lib.PORT_SERVER))


def exchange(c, t, cl, xid_base):
    """Solicit/Advertise, ADDR-REG-INFORM/ADDR-REG-REPLY, and type 200 (up only) for one client.
    Returns the messages the client should have received."""
    what = f"{cl.port}"
    sol = solicit(xid_base + 1, cl.mac)
    cl.to_relays(cl.ll_sock, sol)
    outer, inner = check_two_levels(c, t, recv(t.server), cl, sol, cl.ll, f"{what} Solicit")
    adv = client_msg(ADVERTISE, xid_base + 1, opt(OPT_CLIENTID, duid_ll(cl.mac)), opt(OPT_SERVERID, SERVER_DUID),
                     opt(OPT_IA_NA, (1).to_bytes(4, "big") + bytes(8) + ia_addr("2001:db8:1::200", 3600, 7200)))
    expect = []
    if outer:
        reply_two_levels(t, outer, inner, adv)
        got = recv(cl.ll_sock)
        if c.check(got is not None, f"{what}: the Advertise reaches [{cl.ll}]:546"):
            c.eq(got[0], adv, f"{what}: Advertise byte for byte")
            c.eq(got[1], (t.router_ll, lib.PORT_SERVER), f"{what}: Advertise from the router's link-local, port 547")
        expect.append(adv)

    inform = addr_reg_inform(xid_base + 2, cl.mac, cl.gua)
    cl.to_relays(cl.g_sock, inform)
    outer, inner = check_two_levels(c, t, recv(t.server), cl, inform, cl.gua, f"{what} ADDR-REG-INFORM")
    arr = client_msg(ADDR_REG_REPLY, xid_base + 2, opt(OPT_CLIENTID, duid_ll(cl.mac)), opt(OPT_SERVERID, SERVER_DUID),
                     ia_addr(cl.gua, 3600, 7200))
    if outer:
        reply_two_levels(t, outer, inner, arr)
        got = recv(cl.g_sock)
        if c.check(got is not None, f"{what}: the ADDR-REG-REPLY reaches [{cl.gua}]:546"):
            c.eq(got[0], arr, f"{what}: ADDR-REG-REPLY byte for byte")
            c.eq(got[1], (ROUTER_LINK, lib.PORT_SERVER), f"{what}: ADDR-REG-REPLY from {ROUTER_LINK}, port 547")
        expect.append(arr)

    unknown = client_msg(200, xid_base + 3, opt(OPT_CLIENTID, duid_ll(cl.mac)), opt(0xfff0, b"future"))
    cl.to_relays(cl.ll_sock, unknown)
    # Through dhcrelay too: it looks at the outer type only (12), whatever the LDRA wrapped.
    check_two_levels(c, t, recv(t.server), cl, unknown, cl.ll, f"{what} type 200")
    return expect


def check_isolation(c, t, expected):
    """Each client's capture holds exactly what was injected toward it; the router's only Relay-forwards."""
    time.sleep(0.3)
    for port, cl in t.clients.items():
        frames = cl.cap.drain()
        own_mcast = [f for f in frames if f["dport"] == 547 and f["dst"] == MCAST]
        native = [f for f in frames if f["sport"] == 547 and f["dport"] == 547]
        to_546 = [f for f in frames if f["dport"] == 546]
        c.eq(own_mcast, [], f"{port}: receives no client multicast to ff02::1:2 (the other client's or its own)")
        c.eq([f["payload"][:1].hex() for f in native], [],
             f"{port}: receives no native Relay-reply (UDP 547 -> 547) from the router")
        c.eq(sorted(f["payload"] for f in to_546), sorted(expected[port]),
             f"{port}: receives exactly its own {len(expected[port])} replies on port 546, nothing of the other's")
        c.check(all(f["src_mac"] == t.router_mac and f["dst_mac"] == cl.mac for f in to_546),
                f"{port}: the replies come from the router's MAC to its own MAC")
        nothing = [recv(s, 0.05) for s in (cl.ll_sock, cl.g_sock)]
        c.eq(nothing, [None, None], f"{port}: no extra datagram on its sockets")
    frames = t.rcap.drain()
    to_srv = [f for f in frames if f["dport"] == 547]
    raw = [f for f in to_srv if f["payload"][:1] != bytes([RELAY_FORW])]
    c.eq([(f["src"], f["payload"][:1].hex()) for f in raw], [],
         "router ns: no client message arrives unwrapped (only Relay-forwards to UDP 547)")
    peers = sorted((f["src"], parse_relay(f["payload"])["peer"]) for f in to_srv if f not in raw)
    want = sorted([(cl.ll, cl.ll) for cl in t.clients.values()] * 2 + [(cl.gua, cl.gua) for cl in t.clients.values()])
    c.eq(peers, want, "router ns: exactly the 6 Relay-forwards, each from the client's own address = its peer-address")
    c.check(all(f["dst"] == MCAST and f["sport"] == 547 for f in to_srv),
            "router ns: the Relay-forwards go to ff02::1:2 from port 547")
    by_src = {cl.ll: cl.mac for cl in t.clients.values()} | {cl.gua: cl.mac for cl in t.clients.values()}
    c.check(all(f["src_mac"] == by_src.get(f["src"]) for f in to_srv),
            "router ns: each Relay-forward carries its client's source MAC")


def counters_at_exit(log, port):
    m = re.search(rf"^{port} \((client|uplink|trusted)\): received (\d+) relayed-up (\d+) relayed-down (\d+) "
                  rf"addr-reg-inform (\d+) addr-reg-reply (\d+) drops (.*)$", log[log.find("counters at exit"):], re.M)
    return m.groups()[1:] if m else None


def stop_snoop(c, t, sig=signal.SIGTERM):
    t.snoop.signal(sig)
    try:
        rc = t.snoop.popen.wait(5)
    except subprocess.TimeoutExpired:
        rc = None
    c.eq(rc, 0, f"snoop: {signal.Signals(sig).name}: exit status 0")
    c.check(TABLE not in nft_tables(t.sw), f"after {signal.Signals(sig).name}: `nft list tables` in sw has no "
            f"table bridge {TABLE}", nft_tables(t.sw))
    c.check(re.search(rf"removed nftables table bridge {TABLE}", t.snoop.log()), "snoop logs the removal")
    return rc


# --- groups -----------------------------------------------------------------------------------

def group_regrelay(c, lab, binary):
    t = Topology(lab, binary, "regrelay")
    pcap = lab.path("snoop.pcap")
    t.start_snoop(write=pcap)
    c.check(f"table bridge {TABLE}" in nft_tables(t.sw), f"--install-filters: table bridge {TABLE} in sw",
            nft_tables(t.sw))
    expected = {}
    for i, (port, cl) in enumerate(t.clients.items()):
        expected[port] = exchange(c, t, cl, 0x100000 * (i + 1))
    check_isolation(c, t, expected)

    log = t.snoop.log()
    for port, cl in t.clients.items():
        xid = 0x100000 * (list(t.clients).index(port) + 1) + 2
        c.check(re.search(rf"info ADDR-REG-INFORM address {cl.gua} mac {cl.mac.hex(':')} duid "
                          rf"00030001{cl.mac.hex()} port {port} source {cl.gua} xid 0x{xid:06x}", log),
                f"snoop logs {port}'s registration (address, MAC, DUID, port, source, xid)")
    c.check(re.search(r"debug relay-forward ADDR-REG-INFORM .* port c1 hop 0 to uplink", log),
            "snoop debug log: relay-forward line")
    c.check(re.search(r"debug relay-reply ADDR-REG-REPLY .* to \S+ port c2 from uplink", log),
            "snoop debug log: relay-reply line")

    # SIGUSR1 prints counters; the process goes on.
    start = len(t.snoop.log())
    t.snoop.signal(signal.SIGUSR1)
    try:
        t.snoop.wait_log(r"info counters:\n(.*\n)*?uplink \(uplink\): .*\n", start=start, timeout=5)
        c.check(True, "SIGUSR1: snoop logs its counters")
    except TimeoutError as e:
        c.check(False, "SIGUSR1: snoop logs its counters", str(e)[-300:])
    c.check(t.snoop.popen.poll() is None, "SIGUSR1 does not stop snoop")

    stop_snoop(c, t)
    log = t.snoop.log()
    for port in t.clients:
        c.eq(counters_at_exit(log, port), ("3", "3", "2", "1", "1", "none"),
             f"exit counters {port}: received 3 relayed-up 3 relayed-down 2 addr-reg-inform 1 addr-reg-reply 1")
    c.eq(counters_at_exit(log, "uplink"), ("4", "0", "0", "0", "0", "none"),
         "exit counters uplink: received 4 (the Relay-replies), drops none")

    # The --write capture: 6 received + 6 injected up, 4 received + 4 injected down.
    r = subprocess.run([binary, "decode", "--json", pcap], capture_output=True, text=True, timeout=30)
    c.eq(r.returncode, 0, "regrelay decode --json on the --write capture: exit 0")
    c.check(re.fullmatch(r"20 frames, 20 DHCPv6 \(0 malformed\), 0 other\n", r.stderr),
            "--write: 20 frames, all DHCPv6 (6+6 up, 4+4 down)", r.stderr.strip())
    pk = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    up = [p for p in pk if p["dst"] == MCAST and p["dhcp6"]["relays"]]
    c.eq(sorted((bytes.fromhex(p["dhcp6"]["relays"][0].get("interface_id", "")).decode(errors="replace"),
                 p["dhcp6"]["message"]["type"]) for p in up),
         sorted([(port, ty) for port in ("c1", "c2") for ty in (1, 36, 200)]),
         "--write: the 6 Relay-forwards (interface-id, inner type)")
    c.eq(t.router.stop(), 0, "router relay: SIGTERM, exit 0")


def group_dhcrelay(c, lab, binary):
    t = Topology(lab, binary, "dhcrelay")
    t.start_snoop()
    expected = {}
    for i, (port, cl) in enumerate(t.clients.items()):
        expected[port] = exchange(c, t, cl, 0x100000 * (i + 1))
    check_isolation(c, t, expected)
    rlog = t.router.log()
    c.check(re.search(r"Relaying Relay-forward from fe80::\S+ port 547 going up", rlog),
            "dhcrelay logs 'Relaying Relay-forward ... going up' (it sees only the outer type)", rlog[-800:])
    c.check(re.search(r"Relaying Relay-reply to 2001:db8:1::10[12] port 547 down", rlog),
            "dhcrelay relays the LDRA-level Relay-reply to the client's global address, port 547", rlog[-800:])
    c.check(not re.search(r"Unknown 36 type", rlog), "dhcrelay never says 'Unknown 36 type' (type 36 is inside)")
    stop_snoop(c, t)
    log = t.snoop.log()
    for port in t.clients:
        c.eq(counters_at_exit(log, port), ("3", "3", "2", "1", "1", "none"),
             f"exit counters {port}: received 3 relayed-up 3 relayed-down 2 addr-reg-inform 1 addr-reg-reply 1")
    t.router.stop()

    # For the record: without the LDRA, dhcrelay itself drops a client's type 36 (it knows only
    # RFC 3315 types). Run the bridge without snoop or filters and send one.
    t.sw.ip("link", "set", "c2", "nomaster")  # keep c2 quiet; c1 bridged plainly to the router
    t.router = t.rtr.spawn(["/usr/sbin/dhcrelay", "-6", "-d", "--no-pid", "-l", t.r_down,
                            "-u", f"{SERVER}%{t.r_up}"], name="dhcrelay2")
    t.router.wait_log(r"Sending on\s+Socket/" + re.escape(t.r_down))
    cl = t.clients["c1"]
    cl.to_relays(cl.g_sock, addr_reg_inform(0x0ddd36, cl.mac, cl.gua))
    got = recv(t.server, 1.5)
    c.check(got is None, "without the LDRA, dhcrelay drops a client's own ADDR-REG-INFORM (nothing at the server)",
            repr(got))
    try:
        t.router.wait_log(r"Unknown 36 type from 2001:db8:1::101 port 546 going up", timeout=3)
        c.check(True, "dhcrelay logs 'Unknown 36 type ... going up'")
    except (TimeoutError, RuntimeError) as e:
        c.check(False, "dhcrelay logs 'Unknown 36 type ... going up'", str(e)[-400:])


def group_filters(c, lab, binary):
    t = Topology(lab, binary, router="none")
    c1, c2 = t.clients["c1"], t.clients["c2"]

    # 1. Without the filters the bridge floods a client's multicast: the captures would see a leak.
    t.start_snoop(filters=False, name="snoop-nofilters")
    c.check(TABLE not in nft_tables(t.sw), "without --install-filters: no table")
    sol = solicit(0x0f0001, c1.mac)
    c1.to_relays(c1.ll_sock, sol)
    time.sleep(0.5)
    rframes = t.rcap.drain()
    c.check(any(f["payload"] == sol for f in rframes),
            "control: without filters the raw Solicit is bridged to the router ns (the capture sees leaks)")
    c.check(any(f["payload"][:1] == bytes([RELAY_FORW]) for f in rframes),
            "control: ... next to snoop's Relay-forward")
    c.check(any(f["payload"] == sol for f in c2.cap.drain()), "control: ... and flooded to the other client")
    c.eq(t.snoop.stop(), 0, "snoop without filters: SIGTERM, exit 0")
    t.rcap.frames.clear()
    c2.cap.frames.clear()
    c1.cap.drain()
    c1.cap.frames.clear()

    # 2. With the filters.
    t.start_snoop()
    installed_matches_printed(c, t, ["--client-port", "c1", "--client-port", "c2", "--uplink", "uplink"])

    for cl in (c1, c2):
        cl.to_relays(cl.ll_sock, solicit(0x0f0100 + int(cl.port[1]), cl.mac))
        cl.to_relays(cl.g_sock, addr_reg_inform(0x0f0200 + int(cl.port[1]), cl.mac, cl.gua))
    # A client forging server messages to the other client: Advertise 547->546, Relay-reply 547->547.
    forger = c1.ns.udp(c1.gua, lib.PORT_SERVER)
    forged_adv = client_msg(ADVERTISE, 0x0bad01, opt(OPT_SERVERID, b"forged"))
    forger.sendto(forged_adv, (c2.gua, lib.PORT_CLIENT))
    forger.sendto(relay_msg(RELAY_REPL, 0, "::", c2.gua, opt(OPT_INTERFACE_ID, b"c2"), opt(OPT_RELAY_MSG, forged_adv)),
                  (c2.gua, lib.PORT_SERVER))
    forger.sendto(relay_msg(RELAY_FORW, 0, "::", c1.gua, opt(OPT_RELAY_MSG, solicit(0x0bad02, c1.mac))),
                  (MCAST, lib.PORT_SERVER, 0, c1.ifindex))
    # An 802.1Q-tagged client (VLAN 100, PCP 1) on c1, through a packet socket.
    tagged_sol = solicit(0x0f0300, c1.mac)
    frame = lib.udp6_frame(c1.mac, lib.multicast_mac(MCAST), c1.ll, MCAST, 546, 547, tagged_sol)
    c1.ns.packet_socket(c1.ifname).send(frame[:12] + b"\x81\x00\x20\x64" + frame[12:])
    # A rogue server on the uplink side answering natively.
    rogue = t.rtr.udp(ROUTER_LINK, lib.PORT_SERVER)
    rogue.sendto(client_msg(ADVERTISE, 0x0bad03, opt(OPT_SERVERID, b"rogue")), (c1.gua, lib.PORT_CLIENT))
    rogue.sendto(client_msg(ADDR_REG_REPLY, 0x0bad04, opt(OPT_SERVERID, b"rogue")), (c2.gua, lib.PORT_CLIENT))
    time.sleep(0.6)

    to_router = [f for f in t.rcap.drain() if f["dport"] == 547]
    c.eq(sorted((f["payload"][:1].hex(), f["vlan"] or 0) for f in to_router), [("0c", 0)] * 4 + [("0c", 0x2064)],
         "router ns: only the 5 Relay-forwards of the clients' messages arrive (one in VLAN 100), no raw client "
         "message and no forged Relay-forward")
    tagged = [parse_relay(f["payload"]) for f in to_router if f["vlan"] is not None]
    if tagged:
        c.eq((find_opts(tagged[0]["options"], OPT_INTERFACE_ID), find_opts(tagged[0]["options"], OPT_RELAY_MSG)),
             ([b"c1"], [tagged_sol]), "the tagged Solicit's Relay-forward keeps the tag (TCI 0x2064), Interface-ID c1")
    for cl in (c1, c2):
        got = [f for f in cl.cap.drain()]
        c.eq([(f["src"], f["dst"], f["sport"], f["dport"], f["payload"][:1].hex()) for f in got], [],
             f"{cl.port}: no DHCPv6 frame arrives at all (no client multicast, no forged or rogue server message)")
    c.eq([recv(s, 0.05) for s in (c1.ll_sock, c1.g_sock, c2.ll_sock, c2.g_sock)], [None] * 4,
         "no client socket receives anything")

    # A burst: BURST Solicits from as many clients (MACs, link-locals), back to back from a packet
    # socket. None may be lost (the capture ring must hold a burst), none may leak.
    dst_mac = lib.multicast_mac(MCAST)
    burst, sources = [], set()
    for i in range(BURST):
        mac = bytes([0x02, 0x5b, 0, 0]) + i.to_bytes(2, "big")
        sources.add(lib.eui64_link_local(mac))
        burst.append(lib.udp6_frame(mac, dst_mac, lib.eui64_link_local(mac), MCAST, 546, 547,
                                    solicit(0x0b0000 + i, mac)))
    ps = c1.ns.packet_socket(c1.ifname)
    t0 = time.monotonic()
    for f in burst:
        ps.send(f)
    took = time.monotonic() - t0
    got, deadline = [], time.monotonic() + 5
    while len(got) < BURST and time.monotonic() < deadline:
        time.sleep(0.1)
        got = [f for f in t.rcap.drain() if f["dport"] == 547 and f["src"] in sources]
    c.eq((len(got), len({f["src"] for f in got})), (BURST, BURST),
         f"burst of {BURST} client frames in {took * 1000:.0f} ms: every one reaches the router as a Relay-forward, once")
    c.check(all(f["payload"][:1] == bytes([RELAY_FORW]) for f in got), "burst: all of them Relay-forwards")
    c.eq([f for f in c2.cap.drain() if f["dport"] == 547], [], "burst: nothing reaches the other client")

    stop_snoop(c, t, signal.SIGINT)
    log = t.snoop.log()
    c.eq(counters_at_exit(log, "c1"), (str(6 + BURST), str(3 + BURST), "0", "1", "0",
                                       "guard-server-message=1 guard-relay-reply=1 guard-relay-forward=1"),
         "exit counters c1: 3 + the burst relayed, the forged Advertise, Relay-reply and Relay-forward counted by reason")
    c.eq(counters_at_exit(log, "c2"), ("2", "2", "0", "1", "0", "none"), "exit counters c2: 2 relayed")
    c.eq(counters_at_exit(log, "uplink"), ("2", "0", "0", "0", "0", "native-server-message=2"),
         "exit counters uplink: the rogue server's 2 native messages counted")

    # The table goes on SIGTERM too, and a second snoop replaces a stale table left by a SIGKILLed one.
    t.start_snoop(name="snoop-killed")
    t.snoop.popen.kill()
    t.snoop.popen.wait()
    c.check(TABLE in nft_tables(t.sw), "after SIGKILL the table is left behind (nothing can remove it)")
    t.start_snoop(name="snoop-again")
    c.eq(t.sw.exec("nft", "list", "tables").stdout.count(TABLE), 1, "a new snoop replaces it (one table)")
    stop_snoop(c, t, signal.SIGTERM)


def installed_matches_printed(c, t, printed_args):
    """The table in sw is what --print-filters prints for these ports (nft's own spellings undone)."""
    listing = t.sw.exec("nft", "list", "table", "bridge", TABLE).stdout
    printed = subprocess.run([t.binary, "snoop", "--print-filters", *printed_args],
                             capture_output=True, text=True, timeout=10).stdout

    def rules(text):
        """The ruleset as nft prints it back: counters zeroed, its implicit `ether type 8021q`
        before `vlan type` dropped, `vlan type ip6` before `ip6 daddr` (which nft prints as the
        implied `ether type 8021q`) restored, raw payload values in decimal, whitespace collapsed."""
        text = " ".join(ln for ln in text.splitlines() if not ln.strip().startswith("#"))
        text = re.sub(r"counter packets \d+ bytes \d+", "counter", text)
        text = text.replace("ether type 8021q vlan", "vlan").replace("ether type 8021q ip6", "vlan type ip6 ip6")
        text = re.sub(r"0x([0-9a-f]+)", lambda m: str(int(m.group(1), 16)), text)
        # nft lists a set's elements in its own order.
        text = re.sub(r"elements = \{([^}]*)\}",
                      lambda m: "elements = { " + ", ".join(sorted(e.strip() for e in m.group(1).split(","))) + " }",
                      text)
        return " ".join(text.split())
    c.eq(rules(listing), rules(printed), f"the installed table is `--print-filters {' '.join(printed_args)}`")
    return listing


def group_trusted(c, lab, binary):
    """RFC 6221 §6.1: a trusted port's multicast to ff02::1:2 is intercepted like a client port's."""
    t = Topology(lab, binary, "regrelay", trusted=True)
    dl = t.dl
    t.start_snoop()
    listing = installed_matches_printed(c, t, ["--client-port", "c1", "--client-port", "c2", "--uplink", "uplink",
                                               "--trusted-port", "t1"])
    m = re.search(r"set client_facing_ports \{[^}]*elements = \{([^}]*)\}", listing)
    c.eq(sorted(e.strip() for e in m.group(1).split(",")) if m else None, ['"c1"', '"c2"', '"t1"'],
         "the installed table counts t1 among the client-facing ports")

    # The downstream LDRA relays its client's Solicit: a Relay-forward, hop-count 0, to ff02::1:2.
    ds_client = "fe80::5ee:1"
    ds_mac = bytes.fromhex("0200005ee001")
    sol = solicit(0x7a0001, ds_mac)
    ds_rf = relay_msg(RELAY_FORW, 0, "::", ds_client, opt(OPT_INTERFACE_ID, b"ds-port-7"),
                      opt(OPT_CLIENT_LINKLAYER, b"\x00\x01" + ds_mac), opt(OPT_RELAY_MSG, sol))
    dl.sock.sendto(ds_rf, (MCAST, lib.PORT_SERVER, 0, dl.ifindex))
    got = recv(t.server)
    levels = None
    if c.check(got is not None, "the server receives the downstream LDRA's Relay-forward"):
        data, src = got
        c.eq(src, (ROUTER_UP, lib.PORT_SERVER), "from the router's relay, port 547")
        try:
            outer = parse_relay(data)
            mid = parse_relay(find_opts(outer["options"], OPT_RELAY_MSG)[0])
            levels = (outer, mid)
        except (ValueError, IndexError) as e:
            c.check(False, "two well-formed relay levels around dl's", str(e))
    if levels:
        outer, mid = levels
        c.eq((outer["type"], outer["hop"], outer["link"], outer["peer"]), (RELAY_FORW, 2, ROUTER_LINK, dl.ll),
             f"router's level: hop-count 2, link-address {ROUTER_LINK}, peer-address dl's link-local")
        c.eq((mid["type"], mid["hop"], mid["link"], mid["peer"]), (RELAY_FORW, 1, "::", dl.ll),
             "snoop's level: Relay-forward, hop-count 1 (dl's + 1), link-address ::, peer-address dl's link-local")
        c.eq(find_opts(mid["options"], OPT_INTERFACE_ID), [b"t1"], "snoop's level: Interface-ID t1")
        c.eq(find_opts(mid["options"], OPT_CLIENT_LINKLAYER), [], "snoop's level: no option 79 (a relay's message)")
        c.eq(find_opts(mid["options"], OPT_RELAY_MSG), [ds_rf], "snoop's level: option 9 = dl's Relay-forward verbatim")
    again = recv(t.server, 1.0)
    c.check(again is None, "the server receives it exactly once: the original is not bridged to the router as well",
            repr(again and parse_relay(again[0])))
    time.sleep(0.2)
    from_dl = [f for f in t.rcap.drain() if f["dport"] == 547 and f["src"] == dl.ll]
    c.eq([find_opts(parse_relay(f["payload"])["options"], OPT_INTERFACE_ID) for f in from_dl], [[b"t1"]],
         "router ns: one frame from dl's address to UDP 547, snoop's Relay-forward (Interface-ID t1)")

    # The answer: a Relay-reply per level (RFC 8415 §19.3), back to dl's port 547 once, as dl's level.
    if levels:
        adv = client_msg(ADVERTISE, 0x7a0001, opt(OPT_CLIENTID, duid_ll(ds_mac)), opt(OPT_SERVERID, SERVER_DUID))
        ds_rr = relay_msg(RELAY_REPL, 0, "::", ds_client, opt(OPT_INTERFACE_ID, b"ds-port-7"), opt(OPT_RELAY_MSG, adv))
        mid_rr = relay_msg(RELAY_REPL, mid["hop"], mid["link"], mid["peer"], opt(OPT_INTERFACE_ID, b"t1"),
                           opt(OPT_RELAY_MSG, ds_rr))
        t.server.sendto(relay_msg(RELAY_REPL, outer["hop"], outer["link"], outer["peer"], opt(OPT_RELAY_MSG, mid_rr)),
                        (ROUTER_UP, lib.PORT_SERVER))
        got = recv(dl.sock)
        if c.check(got is not None, "dl receives a Relay-reply on [its link-local]:547"):
            c.eq(got[0], ds_rr, "dl receives its own level (Interface-ID ds-port-7), unwrapped by snoop, byte for byte")
        more = recv(dl.sock, 1.0)
        c.check(more is None, "dl receives it once: the router's Relay-reply is not bridged to t1 as well (§6.2)",
                repr(more and parse_relay(more[0])))
        time.sleep(0.2)
        to_dl = [f for f in dl.cap.drain() if f["dport"] == 547]
        c.eq([f["payload"] for f in to_dl], [ds_rr], "dl ns capture: exactly one DHCPv6 frame to UDP 547, dl's level")
        for cl in t.clients.values():
            c.eq([f for f in cl.cap.drain() if 547 in (f["sport"], f["dport"])], [],
                 f"{cl.port}: sees nothing of dl's exchange")

    stop_snoop(c, t)
    log = t.snoop.log()
    c.eq(counters_at_exit(log, "t1"), ("1", "1", "1", "0", "0", "none"),
         "exit counters t1: received 1 relayed-up 1 relayed-down 1")
    c.eq(counters_at_exit(log, "uplink"), ("1", "0", "0", "0", "0", "none"), "exit counters uplink: received 1")
    c.eq(t.router.stop(), 0, "router relay: SIGTERM, exit 0")


def group_uplink(c, lab, binary):
    """RFC 6221 §6.2: link-local to link-local UDP 547 from the uplink is intercepted; only a
    Relay-reply is acted on."""
    t = Topology(lab, binary, router="none", trusted=True)
    c1, c2, dl = t.clients["c1"], t.clients["c2"], t.dl
    t.start_snoop()
    installed_matches_printed(c, t, ["--client-port", "c1", "--client-port", "c2", "--uplink", "uplink",
                                     "--trusted-port", "t1"])
    down_ifindex = t.rtr.ifindex(t.r_down)

    def sock(addr, port):
        s = t.rtr.udp(addr, port, ifname=t.r_down if addr.startswith("fe80") else None)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, down_ifindex)
        return s
    ll546, ll547 = sock(t.router_ll, lib.PORT_CLIENT), sock(t.router_ll, lib.PORT_SERVER)
    to_mcast = (MCAST, lib.PORT_SERVER, 0, down_ifindex)
    rmac = t.router_mac
    intercepted = [
        (ll546, solicit(0x620001, rmac), to_mcast),
        (ll546, addr_reg_inform(0x620002, rmac, ROUTER_LINK), to_mcast),
        (ll547, client_msg(ADVERTISE, 0x620003, opt(OPT_SERVERID, SERVER_DUID)), to_mcast),
        (ll547, relay_msg(RELAY_FORW, 0, "::", t.router_ll, opt(OPT_RELAY_MSG, solicit(0x620004, rmac))), to_mcast),
        (ll547, client_msg(7, 0x620005, opt(OPT_SERVERID, SERVER_DUID)), (c1.ll, lib.PORT_SERVER, 0, down_ifindex)),
    ]
    for s, payload, dst in intercepted:
        s.sendto(payload, dst)
    # Outside the rule: from the router's global address (§6.2 takes link-local sources only).
    control = solicit(0x620006, rmac)
    sock(ROUTER_LINK, lib.PORT_CLIENT).sendto(control, to_mcast)
    # The type acted on: Relay-replies naming c1 and t1.
    adv = {p: client_msg(ADVERTISE, 0x620010 + i, opt(OPT_SERVERID, SERVER_DUID)) for i, p in enumerate(("c1", "t1"))}
    rr = {p: relay_msg(RELAY_REPL, 0, "::", peer, opt(OPT_INTERFACE_ID, p.encode()), opt(OPT_RELAY_MSG, adv[p]))
          for p, peer in (("c1", c1.ll), ("t1", dl.ll))}
    ll547.sendto(rr["c1"], (c1.ll, lib.PORT_SERVER, 0, down_ifindex))
    ll547.sendto(rr["t1"], (dl.ll, lib.PORT_SERVER, 0, down_ifindex))
    got = recv(c1.ll_sock)
    if c.check(got is not None, "the Relay-reply naming c1 is unwrapped: c1 gets the Advertise on [its link-local]:546"):
        c.eq(got[0], adv["c1"], "c1: the Advertise byte for byte")
    time.sleep(0.5)

    sent = {payload for _s, payload, _d in intercepted}
    for name, cap in (("c1", c1.cap), ("c2", c2.cap), ("t1 (trusted)", dl.cap)):
        frames = cap.drain()
        c.eq([(f["src"], f["dst"], f["payload"][:1].hex()) for f in frames if f["payload"] in sent], [],
             f"{name}: none of the 5 link-local messages from the uplink to UDP 547 arrives")
        c.check(any(f["payload"] == control for f in frames),
                f"{name}: control: the Solicit from the router's global address is bridged (outside §6.2)")
        c.eq([f["payload"][:1].hex() for f in frames if f["payload"][:1] == bytes([RELAY_REPL])], [],
             f"{name}: no Relay-reply arrives natively")
    c.eq([f["payload"] for f in c1.cap.frames if f["dport"] == 546], [adv["c1"]], "c1: exactly its one Advertise")
    c.eq([(f["payload"], f["dst"], f["dport"]) for f in dl.cap.frames if f["sport"] == 547],
         [(adv["t1"], dl.ll, 546)], "t1: exactly its one Advertise, unwrapped, to dl's link-local port 546")
    c.eq([f for f in c2.cap.frames if f["sport"] == 547], [], "c2: nothing from UDP 547")

    stop_snoop(c, t)
    log = t.snoop.log()
    c.eq(counters_at_exit(log, "uplink"), ("8", "0", "0", "0", "0", "wrong-direction=1 uplink-not-relay-reply=5"),
         "exit counters uplink: received 8, the 5 intercepted non-Relay-replies counted as uplink-not-relay-reply, "
         "the global-source Solicit as wrong-direction")
    c.eq(counters_at_exit(log, "c1"), ("0", "0", "1", "0", "0", "none"), "exit counters c1: relayed-down 1")
    c.eq(counters_at_exit(log, "t1"), ("0", "0", "1", "0", "0", "none"), "exit counters t1: relayed-down 1")


GROUPS = {"regrelay": (group_regrelay, 55), "dhcrelay": (group_dhcrelay, 55), "filters": (group_filters, 55),
          "trusted": (group_trusted, 55), "uplink": (group_uplink, 55)}


def main():
    return lib.run_groups("rrsnoop", GROUPS, 60,
                          needs=lambda g: [("nft", "")] + ([("/usr/sbin/dhcrelay", "isc-dhcp-relay")] if g == "dhcrelay" else []))


if __name__ == "__main__":
    sys.exit(main())
