#!/usr/bin/python3
"""The L3 relay above an LDRA names the link: end to end with Kea 2.2, in namespaces.

    one-level:   client ns --veth-- switch ns: bridge(client port, uplink), regrelay snoop (LDRA)
                 --veth-- router ns (regrelay relay) --veth-- server ns (kea-dhcp6)
    two-levels:  client -- switch (snoop) -- router1 (regrelay relay #1) -- router2 (regrelay
                 relay #2) -- server (kea-dhcp6)

    ldra_kea_test.py REGRELAY GROUP

The client sends a Solicit from its GLOBAL address 2001:db8:1::100 (as a host registering an
address does with ADDR-REG-INFORM; Kea selects the subnet the same way for both). The LDRA keeps
that source and sets link-address :: (RFC 6221), so RFC 8415 §19.1.2 read literally would have
the relay above set link-address :: too, and no level would name the link (docs/relay.md, "Link-
address above an LDRA"). Kea runs with tests/kea/kea-dhcp6.json.in, with no subnet matching the
switch port's Interface-ID: it can only choose subnet 1 (2001:db8:1::/64, reserving
2001:db8:1::abcd for the client's MAC from the LDRA's option 79) by a link-address.

GROUP is one of:
  one-level   the router's Relay-forward (captured on the server's link) carries link-address
              2001:db8:1::1 above the LDRA's ::; Kea selects subnet 1 by it and the Advertise,
              with the reserved 2001:db8:1::abcd, reaches the client's global address through
              router and LDRA; Kea logs no DHCP6_SUBNET_SELECTION_FAILED
  two-levels  relay #1 (link 2001:db8:1::1) names the link above the LDRA, and relay #2, which
              receives relay #1's Relay-forward from relay #1's global address, keeps RFC 8415
              §19.1.2's link-address :: (a level below names the link) with its Interface-ID;
              Kea selects subnet 1 by relay #1's link-address; the Advertise comes back through
              both relays and the LDRA

Both fail with a relay that applies §19.1.2 literally (link-address :: above the LDRA): Kea logs
DHCP6_SUBNET_SELECTION_FAILED and its Advertise carries no address.

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root or Kea is missing.
"""

import os
import re
import select
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lib  # noqa: E402
from kea_e2e_test import CLIENT_MAC, KEA, RESERVED_1, SERVER, Kea  # noqa: E402
from lib import OPT_CLIENTID, OPT_ELAPSED, client_msg, duid_ll, opt, parse_options, parse_relay  # noqa: E402

CLIENT_GUA = "2001:db8:1::100"
LINK1 = "2001:db8:1::1"      # the router's (relay #1's) address on the client link
MID1 = "2001:db8:3::2"       # two-levels: relay #1's upstream address
MID2 = "2001:db8:3::1"       # two-levels: relay #2's client-side address
RELAY_UP = "2001:db8:ffff::2"
SOLICIT, ADVERTISE = 1, 2
OPT_IA_NA, OPT_IAADDR, OPT_STATUS, OPT_IFID, OPT_RELAY_MSG = 3, 5, 13, 18, 9
ETH_P_ALL = 0x0003


class Sniffer:
    """Every Relay-forward to UDP 547 seen on `iface` of `ns` (an AF_PACKET socket there)."""

    def __init__(self, ns, iface):
        self.sock = ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((iface, 0))
        self.sock.setblocking(False)
        self.forwards = []

    def drain(self):
        while True:
            try:
                frame = self.sock.recv(65535)
            except BlockingIOError:
                return self.forwards
            # Ethernet (14) | IPv6 (40, next header UDP) | UDP (8) | DHCPv6
            if len(frame) < 62 or frame[12:14] != b"\x86\xdd" or frame[20] != 17:
                continue
            udp = frame[54:]
            if int.from_bytes(udp[2:4], "big") == 547 and udp[8:9] == b"\x0c":
                self.forwards.append((lib.s6(frame[22:38]), udp[8:]))


class Client:
    """A UDP socket on [2001:db8:1::100]:546 in the client ns, sending to ff02::1:2 on c_if."""

    def __init__(self, ns, iface):
        self.ifindex = ns.ifindex(iface)
        self.sock = ns.udp(CLIENT_GUA, lib.PORT_CLIENT)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        self.duid = duid_ll(bytes.fromhex(CLIENT_MAC.replace(":", "")))

    def solicit(self, xid):
        """Sends a Solicit (IA_NA 1) up to 3 times, 2 s apart; the Advertise or None."""
        msg = client_msg(SOLICIT, xid, opt(OPT_CLIENTID, self.duid), opt(OPT_ELAPSED, b"\x00\x00"),
                         opt(OPT_IA_NA, (1).to_bytes(4, "big") + bytes(8)))
        for _ in range(3):
            self.sock.sendto(msg, (lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS, lib.PORT_SERVER, 0, self.ifindex))
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                r, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
                if not r:
                    break
                data, src = self.sock.recvfrom(65535)
                if len(data) >= 4 and data[0] == ADVERTISE and int.from_bytes(data[1:4], "big") == xid:
                    return data
        return None


def ia_na_addresses(advertise):
    """The IA Addresses in the Advertise's IA_NA options, and the IA_NA status texts."""
    addrs, status = [], []
    for code, body in parse_options(advertise[4:]):
        if code != OPT_IA_NA or len(body) < 12:
            continue
        for sc, sb in parse_options(body[12:]):
            if sc == OPT_IAADDR and len(sb) >= 16:
                addrs.append(lib.s6(sb[:16]))
            elif sc == OPT_STATUS and len(sb) >= 2:
                status.append(f"{int.from_bytes(sb[:2], 'big')} {sb[2:].decode(errors='replace')}")
    return addrs, status


def levels(forward):
    """The relay levels of a Relay-forward, outermost first: [parse_relay dict]."""
    out, msg = [], forward
    while msg[:1] == b"\x0c" and len(out) < 9:
        lv = parse_relay(msg)
        out.append(lv)
        msg = next((v for code, v in lv["options"] if code == OPT_RELAY_MSG), b"")
    return out


def ifid(level):
    v = [v for code, v in level["options"] if code == OPT_IFID]
    return v[0].decode(errors="replace") if v else None


def check_kea(c, kea):
    log = kea.log()
    failed = re.findall(r"^.*DHCP6_SUBNET_SELECTION_FAILED.*$", log, re.M)
    c.eq(failed, [], "Kea's log: no DHCP6_SUBNET_SELECTION_FAILED")
    if failed:
        print(f"KEA: {failed[0]}", flush=True)
    c.check(re.search(r"DHCPSRV_CFGMGR_SUBNET6 retrieved subnet 2001:db8:1::/64 for address hint "
                      + re.escape(LINK1) + r"\b", log),
            f"Kea's log: subnet 2001:db8:1::/64 selected by the link-address {LINK1}")


def check_advertise(c, adv, what):
    if c.check(adv is not None, f"{what}: the Advertise reaches the client at {CLIENT_GUA}"):
        addrs, status = ia_na_addresses(adv)
        c.eq(addrs, [RESERVED_1], f"{what}: the Advertise offers {RESERVED_1} (subnet 1's reservation for the "
                                  f"MAC of the LDRA's option 79)")
        c.eq(status, [], f"{what}: no IA_NA status (e.g. NoAddrsAvail 'no subnet')")


class Switched:
    """client -- switch (bridge + regrelay snoop) -- router; the router side is the group's."""

    def __init__(self, lab, binary):
        self.lab, self.binary = lab, binary
        self.cli, self.sw = lab.netns("cli"), lab.netns("sw")
        self.c_if, self.sw_port = lab.veth(self.cli, self.sw, mac_a=CLIENT_MAC)
        self.rtr = lab.netns("rtr")
        self.sw_up, self.r_down = lab.veth(self.sw, self.rtr)
        self.bridge = lab.bridge(self.sw, [self.sw_port, self.sw_up])
        self.cli.add_addr(self.c_if, CLIENT_GUA + "/64")
        self.rtr.add_addr(self.r_down, LINK1 + "/64")

    def start_snoop(self):
        # --install-filters: the bridge does not also carry the client's own Solicit to the
        # router, which would relay it as a client message (with its link-address) and hide
        # the LDRA level's problem.
        self.snoop = self.sw.spawn([self.binary, "snoop", "--client-port", self.sw_port, "--uplink", self.sw_up,
                                    "--install-filters", "--log-level", "debug"], name="snoop")
        self.snoop.wait_log(r"snooping uplink port " + re.escape(self.sw_up))


def relay(ns, binary, down, server, name):
    p = ns.spawn([binary, "relay", "--client-iface", down, "--server", server, "--log-level", "debug"], name=name)
    p.wait_log(r"relaying from " + re.escape(down))
    return p


def group_one_level(c, lab, binary):
    t = Switched(lab, binary)
    srv = lab.netns("srv")
    r_up, s_if = lab.veth(t.rtr, srv)
    t.rtr.add_addr(r_up, RELAY_UP + "/64")
    srv.add_addr(s_if, SERVER + "/64")
    lab.wait_ready()
    kea = Kea(lab, srv, s_if)  # snoop_port "unused-port": no subnet matches the switch port
    sniff = Sniffer(srv, s_if)
    t.start_snoop()
    relay(t.rtr, binary, t.r_down, SERVER, "relay")
    adv = Client(t.cli, t.c_if).solicit(0x1d4a01)
    check_advertise(c, adv, "snoop + relay")
    fw = sniff.drain()
    if c.check(fw, "a Relay-forward reached the server's link"):
        src, payload = fw[0]
        lv = levels(payload)
        c.eq(src, RELAY_UP, "it comes from the router's upstream address")
        if c.eq(len(lv), 2, "two relay levels: router, LDRA"):
            c.eq((lv[0]["hop"], lv[0]["link"], lv[0]["peer"], ifid(lv[0])), (1, LINK1, CLIENT_GUA, None),
                 f"router level: hop 1, link-address {LINK1} (not ::), peer = the client's global address, "
                 f"no Interface-ID")
            c.eq((lv[1]["hop"], lv[1]["link"], lv[1]["peer"], ifid(lv[1])), (0, "::", CLIENT_GUA, t.sw_port),
                 "LDRA level: hop 0, link-address ::, peer = the client's global address, Interface-ID = the port")
    check_kea(c, kea)


def group_two_levels(c, lab, binary):
    t = Switched(lab, binary)
    rtr2, srv = lab.netns("rtr2"), lab.netns("srv")
    r1_up, r2_down = lab.veth(t.rtr, rtr2)
    r2_up, s_if = lab.veth(rtr2, srv)
    t.rtr.add_addr(r1_up, MID1 + "/64")
    rtr2.add_addr(r2_down, MID2 + "/64")
    rtr2.add_addr(r2_up, RELAY_UP + "/64")
    srv.add_addr(s_if, SERVER + "/64")
    lab.wait_ready()
    kea = Kea(lab, srv, s_if)
    sniff = Sniffer(srv, s_if)
    t.start_snoop()
    relay(rtr2, binary, r2_down, SERVER, "relay2")
    relay(t.rtr, binary, t.r_down, MID2, "relay1")
    adv = Client(t.cli, t.c_if).solicit(0x1d4a02)
    check_advertise(c, adv, "snoop + relay #1 + relay #2")
    fw = sniff.drain()
    if c.check(fw, "a Relay-forward reached the server's link"):
        src, payload = fw[0]
        lv = levels(payload)
        c.eq(src, RELAY_UP, "it comes from relay #2's upstream address")
        if c.eq(len(lv), 3, "three relay levels: relay #2, relay #1, LDRA"):
            c.eq((lv[0]["hop"], lv[0]["link"], lv[0]["peer"], ifid(lv[0])), (2, "::", MID1, r2_down),
                 "relay #2 level: hop 2, link-address :: (RFC 8415 §19.1.2: global source, and relay #1's "
                 "level names the link), peer = relay #1, Interface-ID = relay #2's interface")
            c.eq((lv[1]["hop"], lv[1]["link"], lv[1]["peer"], ifid(lv[1])), (1, LINK1, CLIENT_GUA, None),
                 f"relay #1 level: hop 1, link-address {LINK1} above the LDRA, peer = the client")
            c.eq((lv[2]["link"], ifid(lv[2])), ("::", t.sw_port), "LDRA level: link-address ::, Interface-ID = the port")
    check_kea(c, kea)


GROUPS = {"one-level": group_one_level, "two-levels": group_two_levels}
LIMIT = 80  # seconds; ctest's TIMEOUT is 90


def main():
    return lib.run_groups("rrldra", GROUPS, LIMIT, log_chars=6000, timed=True,
                          needs=lambda g: [(KEA, "kea-dhcp6-server")])


if __name__ == "__main__":
    sys.exit(main())
