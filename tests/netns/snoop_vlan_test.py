#!/usr/bin/python3
"""`regrelay snoop` with VLANs (docs/snoop.md "VLANs") on a plain Linux bridge, in namespaces made
here. This kernel has neither VLAN-filtering bridges nor 802.1Q devices, so the bridge only
carries tagged frames: the trunk client and the responder on the uplink send and receive their
802.1Q tags themselves (AF_PACKET), the access clients send untagged and snoop knows their VLAN
from --port-vlan.

    a1..a6 ns --veth-- [a1..a6]  access ports: a1 a2 VLAN 10, a3 a4 VLAN 20, a5 a6 VLAN 30
    trk ns    --veth-- [tk]      trunk client port, VLANs 10 20 30 tagged: one client per VLAN
                        sw ns: bridge br0 + regrelay snoop --install-filters
    rsp ns    --veth-- [upl]     trunk uplink, VLANs 10 20 30 tagged: a responder answering
                                 every Relay-forward with a Relay-reply tagged in its VLAN

    snoop_vlan_test.py REGRELAY GROUP     (GROUP: vlans)

Checks: every client gets exactly its own Advertise (untagged on access ports, tagged in its
VLAN on the trunk); no reply and no raw client message reaches another port (every port's
namespace captures everything); every Relay-forward on the uplink is tagged with its client's
VLAN and carries option 79 and an Interface-ID that differs per port and per VLAN on the trunk
(default {port}.{vlan}, a fixed --interface-id for a6 and for tk in VLAN 30); a Relay-reply
that arrives in another VLAN than its Interface-ID names, a tagged frame in a foreign VLAN on an
access port and a double-tagged (QinQ) Solicit reach nobody and are counted; the VLAN drop
counters at exit. Only link-local addresses; namespaces are removed on any failure.

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root or without nft.
"""

import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import (ADVERTISE, OPT_CLIENT_LINKLAYER, OPT_CLIENTID, OPT_INTERFACE_ID, OPT_RELAY_MSG,  # noqa: E402
                 OPT_SERVERID, RELAY_FORW, RELAY_REPL, SOLICIT, client_msg, duid_ll, find_opts, opt, parse_relay,
                 relay_msg)
from snoop_live_test import Capture, counters_at_exit  # noqa: E402

MCAST = lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS
ACCESS = {"a1": 10, "a2": 10, "a3": 20, "a4": 20, "a5": 30, "a6": 30}
TRUNK_VLANS = (10, 20, 30)
FIXED = {("a6", 30): "sw1/0/6", ("tk", 30): "sw1/0/7.30"}  # --interface-id a6=... tk/30=...
SERVER_DUID = duid_ll(bytes.fromhex("02000000cc01"))


def tag(vlan, pcp=0):
    return b"\x81\x00" + (pcp << 13 | vlan).to_bytes(2, "big")


def with_tags(frame, *tags):
    return frame[:12] + b"".join(tags) + frame[12:]


def solicit(xid, mac):
    return client_msg(SOLICIT, xid, opt(OPT_CLIENTID, duid_ll(mac)), opt(8, b"\x00\x00"))


class Client:
    """One client: an access port's namespace (untagged, its own MAC) or one VLAN of the trunk
    namespace (a MAC of its own, tagged frames)."""

    def __init__(self, port, vlan, ns, ifname, mac, tagged, xid):
        self.port, self.vlan, self.ns, self.ifname, self.mac, self.tagged, self.xid = \
            port, vlan, ns, ifname, mac, tagged, xid
        self.ll = lib.eui64_link_local(mac)
        self.sol = solicit(xid, mac)
        self.want_id = FIXED.get((port, vlan), f"{port}.{vlan}")

    def frame(self, payload, dst=MCAST, dst_mac=None):
        f = lib.udp6_frame(self.mac, dst_mac or lib.multicast_mac(dst), self.ll, dst, 546, 547, payload)
        return with_tags(f, tag(self.vlan, 3)) if self.tagged else f

    def __repr__(self):
        return f"{self.port}/VLAN {self.vlan}"


def group_vlans(c, lab, binary, extra=()):
    sw = lab.netns("sw")
    rsp = lab.netns("rsp")
    trk = lab.netns("trk")
    access_ns = {p: lab.netns(p) for p in ACCESS}
    for p, ns in access_ns.items():
        lab.veth(ns, sw, a_name="eth0", b_name=p)
    lab.veth(trk, sw, a_name="eth0", b_name="tk")
    lab.veth(rsp, sw, a_name="eth0", b_name="upl")
    lab.bridge(sw, list(ACCESS) + ["tk", "upl"], name="br0")
    lab.wait_ready()

    clients = []
    xid = 0x100000
    for p, vlan in ACCESS.items():
        xid += 1
        clients.append(Client(p, vlan, access_ns[p], "eth0", access_ns[p].mac("eth0"), False, xid))
    for vlan in TRUNK_VLANS:
        xid += 1
        clients.append(Client("tk", vlan, trk, "eth0", bytes.fromhex(f"0200007700{vlan:02x}"), True, xid))
    by_xid = {cl.xid: cl for cl in clients}

    caps = {p: Capture(ns, "eth0") for p, ns in access_ns.items()}
    caps["tk"] = Capture(trk, "eth0")
    ucap = Capture(rsp, "eth0")
    rsp_mac = rsp.mac("eth0")
    rsp_ll = rsp.link_local("eth0")
    rsp_tx = rsp.packet_socket("eth0")
    senders = {p: ns.packet_socket("eth0") for p, ns in access_ns.items()}
    senders["tk"] = trk.packet_socket("eth0")

    argv = [binary, "snoop", "--uplink", "upl", "--port-vlan", "upl=10,20,30", "--port-vlan", "tk=10,20,30",
            "--install-filters", "--log-level", "debug", "--rate-limit-mac", "0", *extra]
    for p, vlan in ACCESS.items():
        argv += ["--client-port", p, "--port-vlan", f"{p}={vlan}"]
    argv += ["--client-port", "tk"]
    for (p, vlan), text in FIXED.items():
        argv += ["--interface-id", f"{p}={text}" if p != "tk" else f"{p}/{vlan}={text}"]
    snoop = sw.spawn(argv, name="snoop")
    for p in list(ACCESS) + ["tk", "upl"]:
        snoop.wait_log(r"snooping (client|uplink) port " + p + r" ")
    c.check(("regrelay_snoop" in sw.exec("nft", "list", "tables").stdout), "the nftables table is installed")
    if "shared" in extra:
        c.check("one shared TPACKET_V3 socket for every port" in snoop.log(), "--capture shared: one shared socket")

    # Every client's Solicit; the responder answers each Relay-forward in its own VLAN.
    for cl in clients:
        senders[cl.port].send(cl.frame(cl.sol))
    forwards = []  # (vlan tag, relay dict, client)
    deadline = time.monotonic() + 4
    while len(forwards) < len(clients) and time.monotonic() < deadline:
        select.select([ucap.sock], [], [], 0.2)
        for f in ucap.drain():
            if f["payload"][:1] != bytes([RELAY_FORW]):
                continue
            rf = parse_relay(f["payload"])
            inner = (find_opts(rf["options"], OPT_RELAY_MSG) or [b"\x00" * 4])[0]
            cl = by_xid.get(int.from_bytes(inner[1:4], "big"))
            forwards.append((f["vlan"], rf, cl, f))
            if cl is None:
                continue
            ifid = (find_opts(rf["options"], OPT_INTERFACE_ID) or [b""])[0]
            adv = client_msg(ADVERTISE, cl.xid, opt(OPT_CLIENTID, duid_ll(cl.mac)), opt(OPT_SERVERID, SERVER_DUID))
            rr = relay_msg(RELAY_REPL, 0, "::", rf["peer"], opt(OPT_INTERFACE_ID, ifid), opt(OPT_RELAY_MSG, adv))
            vlan = (f["vlan"] or 0) & 0xfff
            frame = lib.udp6_frame(rsp_mac, cl.mac, rsp_ll, rf["peer"], 547, 547, rr, hop_limit=255)
            rsp_tx.send(with_tags(frame, tag(vlan)) if vlan else frame)
        ucap.frames.clear()
    time.sleep(0.7)

    # The uplink side: one Relay-forward per client, in its VLAN, with its Interface-ID.
    c.eq(len(forwards), len(clients), "one Relay-forward per client on the uplink")
    seen_ids = {}
    for vlan_tci, rf, cl, f in forwards:
        if cl is None:
            c.check(False, "a Relay-forward for one of our clients", f)
            continue
        ifid = (find_opts(rf["options"], OPT_INTERFACE_ID) or [b""])[0].decode(errors="replace")
        c.eq(None if vlan_tci is None else vlan_tci & 0xfff, cl.vlan, f"{cl}: the Relay-forward's tag is the client's VLAN")
        if cl.tagged:
            c.eq(vlan_tci >> 13 if vlan_tci is not None else None, 3, f"{cl}: ... with the client's priority")
        c.eq(ifid, cl.want_id, f"{cl}: Interface-ID")
        c.eq(find_opts(rf["options"], OPT_CLIENT_LINKLAYER), [b"\x00\x01" + cl.mac], f"{cl}: option 79 = its MAC")
        c.eq(rf["peer"], cl.ll, f"{cl}: peer-address = its link-local")
        c.eq(find_opts(rf["options"], OPT_RELAY_MSG), [cl.sol], f"{cl}: option 9 = its Solicit")
        seen_ids.setdefault(ifid, []).append(repr(cl))
    c.check(all(len(v) == 1 for v in seen_ids.values()) and len(seen_ids) == len(clients),
            "the Interface-ID differs per port and per VLAN on the trunk", seen_ids)
    c.check(len({i for i, who in seen_ids.items() if who[0].startswith("tk/")}) == 3,
            "three Interface-IDs on the trunk port, one per VLAN", seen_ids)

    # Every client gets its own Advertise only; nothing else of DHCPv6 crosses to any port.
    frames = {p: cap.drain() for p, cap in caps.items()}
    for cl in clients:
        got = [f for f in frames[cl.port] if f["payload"][:1] == bytes([ADVERTISE])
               and f["dst_mac"] == cl.mac and int.from_bytes(f["payload"][1:4], "big") == cl.xid]
        c.eq(len(got), 1, f"{cl}: its Advertise, once")
        if got:
            f = got[0]
            c.eq(None if f["vlan"] is None else f["vlan"] & 0xfff, cl.vlan if cl.tagged else None,
                 f"{cl}: " + ("tagged in its VLAN on the trunk" if cl.tagged else "untagged on the access port"))
            c.check(f["sport"] == 547 and f["dport"] == 546 and f["dst"] == cl.ll, f"{cl}: 547 -> [its link-local]:546")
    for p, fl in frames.items():
        own = {cl.xid for cl in clients if cl.port == p}
        stray = [f for f in fl if int.from_bytes(f["payload"][1:4], "big") not in own
                 or f["payload"][:1] != bytes([ADVERTISE])]
        c.check(not stray, f"port {p}: no other client's message or reply, no raw Solicit",
                [(f["src"], f["payload"][:4].hex(), f["vlan"]) for f in stray])
        # On the trunk, each VLAN's client sees only its own VLAN's reply.
        if p == "tk":
            for f in fl:
                cl = by_xid.get(int.from_bytes(f["payload"][1:4], "big"))
                c.check(cl is not None and f["vlan"] is not None and f["vlan"] & 0xfff == cl.vlan,
                        f"tk: the reply for {cl} is in its VLAN", f["vlan"])
    raw_up = [f for f in ucap.drain() if f["payload"][:1] != bytes([RELAY_FORW])]
    c.check(not raw_up, "the uplink gets Relay-forwards only (no raw client message bridged)",
            [(f["src"], f["payload"][:4].hex()) for f in raw_up])

    # A reply in another VLAN than its Interface-ID names; a foreign VLAN on an access port; QinQ.
    for cap in list(caps.values()) + [ucap]:
        cap.drain()
        cap.frames.clear()
    a1 = next(cl for cl in clients if cl.port == "a1")
    a3 = next(cl for cl in clients if cl.port == "a3")
    tk20 = next(cl for cl in clients if cl.port == "tk" and cl.vlan == 20)
    adv = client_msg(ADVERTISE, 0x0bad01, opt(OPT_CLIENTID, duid_ll(a1.mac)), opt(OPT_SERVERID, SERVER_DUID))
    rr = relay_msg(RELAY_REPL, 0, "::", a1.ll, opt(OPT_INTERFACE_ID, b"a1.10"), opt(OPT_RELAY_MSG, adv))
    rsp_tx.send(with_tags(lib.udp6_frame(rsp_mac, a1.mac, rsp_ll, a1.ll, 547, 547, rr, hop_limit=255), tag(20)))
    senders["a3"].send(with_tags(a3.frame(solicit(0x0bad02, a3.mac)), tag(10)))
    qinq = lib.udp6_frame(tk20.mac, lib.multicast_mac(MCAST), tk20.ll, MCAST, 546, 547, solicit(0x0bad03, tk20.mac))
    senders["tk"].send(with_tags(qinq, b"\x88\xa8\x00\x14", tag(200)))
    time.sleep(1.0)
    for p, cap in caps.items():
        c.check(not cap.drain(), f"port {p}: nothing of the wrong-VLAN reply, the foreign-VLAN Solicit or the QinQ")
    up = ucap.drain()
    c.check(not up, "the uplink: no Relay-forward for the foreign-VLAN Solicit, nothing of the QinQ Solicit",
            [(f["src"], f["payload"][:4].hex(), f["vlan"]) for f in up])
    qinq_rules = sw.exec("nft", "list", "chain", "bridge", "regrelay_snoop", "qinq").stdout
    c.check(any("ff020000000000000000000000010002" in line and "packets 0 " not in line
                for line in qinq_rules.splitlines()), "the QinQ Solicit was dropped by the filters' qinq chain",
            qinq_rules)

    c.eq(snoop.stop(), 0, "snoop: SIGTERM, exit 0")
    log = snoop.log()
    for p in ACCESS:
        relayed_up = counters_at_exit(log, p)
        c.eq(relayed_up[1:3] if relayed_up else None, ("1", "1"), f"exit counters {p}: relayed-up 1 relayed-down 1")
    tk = counters_at_exit(log, "tk")
    c.eq(tk[1:3] if tk else None, ("3", "3"), "exit counters tk: relayed-up 3 relayed-down 3")
    c.check(tk is None or "vlan-not-member" not in tk[5], "tk: no vlan-not-member drop")
    a3c = counters_at_exit(log, "a3")
    c.check(a3c is not None and "vlan-not-member=1" in a3c[5], "a3: the tagged VLAN 10 Solicit counted as vlan-not-member",
            a3c)
    upc = counters_at_exit(log, "upl")
    c.check(upc is not None and "reply-vlan-mismatch=1" in upc[5],
            "upl: the VLAN 20 reply for a1.10 counted as reply-vlan-mismatch", upc)
    c.check("regrelay_snoop" not in sw.exec("nft", "list", "tables").stdout, "the table is removed at exit")


GROUPS = {"vlans": (group_vlans, 50),
          # The same with one shared TPACKET_V3 socket: the outer tag comes from the packet's
          # metadata and must be put back (--capture shared).
          "vlans_shared": (lambda c, lab, binary: group_vlans(c, lab, binary, ["--capture", "shared"]), 50)}


def main():
    return lib.run_groups("rrsvlan", GROUPS, 50, needs=lambda g: [("nft", "")])


if __name__ == "__main__":
    sys.exit(main())
