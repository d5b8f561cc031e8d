#!/usr/bin/python3
"""Writes the fuzz seed inputs in fuzz/seeds/<target>/ with scapy (an independent encoder).

fuzz_dhcp6 inputs are DHCPv6 payloads; fuzz_frame inputs are one link-type selector byte
(fuzz/exercise.h: 0 Ethernet, 1 raw, 2 Linux SLL, 3 IPv6, 4 Linux SLL2, 5 unsupported) and then the frame.
fuzz_registrar inputs are sequences of records (fuzz/exercise_registrar.h): a control byte (arrival
interface, source, clock steps), a 2-byte length and a datagram.
Names tell tests/unit/fuzz_regressions_test.cpp what to expect: "ok-*" must parse and decode
(frames with their UDP checksum verified), "bad-*" and "other-*" are only replayed.

Run it again after changing it: /usr/bin/python3 fuzz/make_seeds.py (output is deterministic).
"""
import os
import struct
import sys

from scapy.layers.dhcp6 import (DHCP6_Advertise, DHCP6_InfoRequest, DHCP6_RelayForward, DHCP6_RelayReply,
                                DHCP6_Reply, DHCP6_Request, DHCP6_Solicit, DHCP6OptClientFQDN, DHCP6OptClientId,
                                DHCP6OptClientLinkLayerAddr, DHCP6OptDNSServers, DHCP6OptElapsedTime,
                                DHCP6OptIA_NA, DHCP6OptIAAddress, DHCP6OptIfaceId, DHCP6OptOptReq, DHCP6OptPref,
                                DHCP6OptRapidCommit, DHCP6OptRelayMsg, DHCP6OptRemoteID, DHCP6OptServerId,
                                DHCP6OptStatusCode, DHCP6OptUnknown, DUID_LL, DUID_LLT, DUID_EN)
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.packet import Raw

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_MAC = "02:00:00:00:00:01"
RELAY_MAC = "02:00:00:00:00:fe"
SERVER_MAC = "02:00:00:00:00:53"
CLIENT_LL = "fe80::1"
CLIENT_ADDR = "2001:db8:1::10"
RELAY_LINK = "2001:db8:1::1"
RELAY2_LINK = "2001:db8:2::1"
SERVER = "2001:db8:ff::53"
ALL_AGENTS = "ff02::1:2"

client_id = DHCP6OptClientId(duid=DUID_LL(lladdr=CLIENT_MAC))
server_id = DHCP6OptServerId(duid=DUID_LLT(lladdr=SERVER_MAC, timeval=700000000))


def opt(code, body=b""):
    """A raw option, for codes scapy does not know (148 ADDR_REG_ENABLE)."""
    return struct.pack("!HH", code, len(body)) + body


def ia_addr(addr=CLIENT_ADDR, pref=3600, valid=7200, sub=b""):
    return bytes(DHCP6OptIAAddress(addr=addr, preflft=pref, validlft=valid)) if not sub else \
        opt(5, bytes.fromhex("20010db8000100000000000000000010") + struct.pack("!II", pref, valid) + sub)


def client_msg(msg_type, xid, options):
    return struct.pack("!I", msg_type << 24 | xid) + options


def relay_forw(inner, link=RELAY_LINK, peer=CLIENT_LL, hop=0, ifid=b"eth0", lladdr=CLIENT_MAC, extra=b""):
    opts = bytes(DHCP6OptIfaceId(ifaceid=ifid))
    if lladdr:
        opts += bytes(DHCP6OptClientLinkLayerAddr(lltype=1, clladdr=lladdr))
    opts += extra
    return bytes(DHCP6_RelayForward(hopcount=hop, linkaddr=link, peeraddr=peer)) + opts + \
        bytes(DHCP6OptRelayMsg(message=Raw(inner)))


def relay_repl(inner, link=RELAY_LINK, peer=CLIENT_LL, hop=0, ifid=b"eth0"):
    return bytes(DHCP6_RelayReply(hopcount=hop, linkaddr=link, peeraddr=peer)) + \
        bytes(DHCP6OptIfaceId(ifaceid=ifid)) + bytes(DHCP6OptRelayMsg(message=Raw(inner)))


def dhcp6_seeds():
    solicit = bytes(DHCP6_Solicit(trid=0x00abcd) / client_id / DHCP6OptElapsedTime(elapsedtime=0) /
                    DHCP6OptIA_NA(iaid=1, T1=0, T2=0) / DHCP6OptOptReq(reqopts=[23, 24]) /
                    DHCP6OptClientFQDN(flags=1, fqdn="host.example.com.") / DHCP6OptRapidCommit())
    request = bytes(DHCP6_Request(trid=0x123456) / client_id / server_id /
                    DHCP6OptIA_NA(iaid=1, T1=1800, T2=2880, ianaopts=[DHCP6OptIAAddress(addr=CLIENT_ADDR,
                                                                                         preflft=3600,
                                                                                         validlft=7200)]) /
                    DHCP6OptElapsedTime(elapsedtime=150))
    advertise = bytes(DHCP6_Advertise(trid=0x00abcd) / client_id / server_id /
                      DHCP6OptIA_NA(iaid=1, T1=1800, T2=2880,
                                    ianaopts=[DHCP6OptIAAddress(addr=CLIENT_ADDR, preflft=3600, validlft=7200,
                                                                iaaddropts=[DHCP6OptStatusCode(statuscode=0,
                                                                                               statusmsg="ok")])]) /
                      DHCP6OptPref(prefval=255) / DHCP6OptDNSServers(dnsservers=[SERVER]))
    reply = bytes(DHCP6_Reply(trid=0x123456) / client_id / server_id /
                  DHCP6OptStatusCode(statuscode=0, statusmsg="All addresses assigned")) + opt(148)
    info_req = bytes(DHCP6_InfoRequest(trid=0x000001) / client_id / DHCP6OptOptReq(reqopts=[23, 148]))
    addr_reg_inform = client_msg(36, 0x00beef, bytes(client_id) + ia_addr())
    addr_reg_reply = client_msg(37, 0x00beef, bytes(client_id) + bytes(server_id) + ia_addr() +
                                bytes(DHCP6OptStatusCode(statuscode=0, statusmsg="")))
    remote_id = bytes(DHCP6OptRemoteID(enterprisenum=4491, remoteid=b"\x00\x01port7"))

    s = {
        "ok-solicit": solicit,
        "ok-request": request,
        "ok-advertise": advertise,
        "ok-reply-addr-reg-enable": reply,
        "ok-info-request-oro-148": info_req,
        "ok-addr-reg-inform": addr_reg_inform,
        "ok-addr-reg-reply": addr_reg_reply,
        "ok-relay-forw-solicit": relay_forw(solicit),
        "ok-relay-forw-addr-reg-inform": relay_forw(addr_reg_inform),
        "ok-relay-forw-2-levels": relay_forw(relay_forw(request), link=RELAY2_LINK, peer=RELAY_LINK, hop=1,
                                             ifid=b"\x00\x00\x00\x07", lladdr=None, extra=remote_id),
        "ok-relay-repl-advertise": relay_repl(advertise),
        "ok-relay-repl-2-levels": relay_repl(relay_repl(reply), link=RELAY2_LINK, peer=RELAY_LINK),
        "ok-unknown-type-and-options": client_msg(99, 0xffffff, bytes(DHCP6OptUnknown(optcode=4242, data=b"xyz")) +
                                                  opt(9) + opt(79, b"\x00\x06\x01\x02\x03") + opt(39, b"\x00\x03www")),
        "ok-ia-nesting": client_msg(1, 7, opt(3, struct.pack("!III", 1, 0, 0) +
                                              ia_addr(sub=opt(3, struct.pack("!III", 2, 0, 0) + ia_addr())))),
        "ok-status-with-controls": client_msg(7, 8, opt(13, b"\x00\x01line1\nline2\x1b[31m\xff")),
        "bad-truncated-header": b"\x01\xab",
        "bad-option-header-truncated": client_msg(1, 1, bytes(client_id) + b"\x00\x01"),
        "bad-option-past-end": client_msg(1, 1, opt(1, b"\x00\x03\x00\x01")[:-2]),
        "bad-relay-too-short": bytes(DHCP6_RelayForward(hopcount=0, linkaddr=RELAY_LINK))[:20],
        "bad-relay-without-opt9": bytes(DHCP6_RelayForward(linkaddr=RELAY_LINK, peeraddr=CLIENT_LL)) +
                                  bytes(DHCP6OptIfaceId(ifaceid=b"eth0")),
        "bad-relay-empty-opt9": bytes(DHCP6_RelayForward(linkaddr=RELAY_LINK, peeraddr=CLIENT_LL)) + opt(9),
        "bad-typed-options": client_msg(1, 2, opt(1, b"\x00") + opt(3, b"\x00\x00") + opt(5, b"\x01") +
                                        opt(6, b"\x00") + opt(37, b"\x00\x00\x00\x01") +
                                        opt(39, b"\x01\x40" + b"a" * 64) + opt(79, b"\x00\x01\x02") + opt(148, b"x")),
    }
    deep = solicit
    for i in range(33):
        deep = relay_forw(deep, hop=i, lladdr=None)
    s["bad-nesting-too-deep"] = deep
    return s


def udp6(src, dst, sport, dport, payload, hlim=1):
    return IPv6(src=src, dst=dst, hlim=hlim) / UDP(sport=sport, dport=dport) / Raw(payload)


def frame_seeds(d):
    solicit = udp6(CLIENT_LL, ALL_AGENTS, 546, 547, d["ok-solicit"])
    inform = udp6(CLIENT_LL, ALL_AGENTS, 546, 547, d["ok-addr-reg-inform"])
    forw = udp6(RELAY_LINK, SERVER, 547, 547, d["ok-relay-forw-solicit"], hlim=64)
    forw2 = udp6(RELAY2_LINK, SERVER, 547, 547, d["ok-relay-forw-2-levels"], hlim=64)
    repl = udp6(SERVER, RELAY_LINK, 547, 547, d["ok-relay-repl-advertise"], hlim=64)
    reply = udp6("fe80::fe", CLIENT_LL, 547, 546, d["ok-reply-addr-reg-enable"])
    eth = Ether(src=CLIENT_MAC, dst="33:33:00:01:00:02")

    def sel(n, pkt):
        return bytes([n]) + bytes(pkt)

    bad_sum = bytearray(bytes(eth / solicit))
    bad_sum[-1] ^= 0xff  # payload byte changed after the checksum was computed
    return {
        "ok-eth-solicit": sel(0, eth / solicit),
        "ok-eth-addr-reg-inform": sel(0, eth / inform),
        "ok-eth-vlan-relay-forw": sel(0, Ether(src=RELAY_MAC, dst=SERVER_MAC) / Dot1Q(vlan=100) / forw),
        "ok-eth-qinq-relay-forw-2-levels": sel(0, Ether(src=RELAY_MAC, dst=SERVER_MAC) / Dot1AD(vlan=10) /
                                               Dot1Q(vlan=200, prio=5) / forw2),
        "ok-eth-relay-repl": sel(0, Ether(src=SERVER_MAC, dst=RELAY_MAC) / repl),
        "ok-eth-hop-by-hop-dest-opts": sel(0, eth / IPv6(src=CLIENT_LL, dst=ALL_AGENTS, tc=0xb8, fl=0x12345) /
                                           IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / UDP(sport=546, dport=547) /
                                           Raw(d["ok-request"])),
        "ok-raw-reply": sel(1, reply),
        "ok-sll-solicit": sel(2, CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6,
                                             src=bytes.fromhex("020000000001") + b"\x00\x00", proto=0x86dd) /
                              solicit),
        "ok-ipv6-addr-reg-inform": sel(3, inform),
        "bad-udp-checksum": bytes([0]) + bytes(bad_sum),
        "bad-fragment": sel(0, eth / IPv6(src=CLIENT_LL, dst=ALL_AGENTS) / IPv6ExtHdrFragment(m=1) /
                            UDP(sport=546, dport=547) / Raw(d["ok-solicit"])),
        "bad-truncated-ipv6": sel(0, eth / solicit)[:60],
        "bad-dhcp6-malformed": sel(0, eth / udp6(CLIENT_LL, ALL_AGENTS, 546, 547, d["bad-option-past-end"])),
        "bad-three-vlan-tags": sel(0, Ether(src=RELAY_MAC, dst=SERVER_MAC) / Dot1Q(vlan=1) / Dot1Q(vlan=2) /
                                   Dot1Q(vlan=3) / forw),
        "other-dns": sel(0, eth / IPv6(src=CLIENT_LL, dst="fe80::53") / UDP(sport=5353, dport=53) / Raw(b"\x00" * 12)),
        "other-ipv4": sel(0, Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") /
                          UDP(sport=68, dport=67) / Raw(b"\x01" * 20)),
        "ok-sll2-vlan-relay-forw": sel(4, CookedLinuxV2(proto=0x8100, ifindex=3, lladdrtype=1, pkttype=0, lladdrlen=6,
                                                        src=bytes.fromhex("0200000000fe") + b"\x00\x00") /
                                       Dot1Q(vlan=100) / forw),
        "other-unsupported-link": sel(5, eth / solicit),
    }


def registrar_record(payload, iface=0, src=0, src_addr=b"", wall_step=None, mono=0):
    """One record of a fuzz_registrar input (fuzz/exercise_registrar.h): control byte, the source
    address when src is 3, the wall-clock step byte, the length, the datagram."""
    control = iface | src << 3 | (0x20 if wall_step is not None else 0) | mono << 6
    out = bytes([control]) + (src_addr if src == 3 else b"")
    if wall_step is not None:
        out += bytes([wall_step])
    return out + struct.pack("!H", len(payload)) + payload


def registrar_seeds():
    """fuzz_registrar inputs: sequences of ADDR-REG-INFORMs (type 36) direct and relayed, as the
    engine configured in fuzz/exercise_registrar.h sees them."""
    rec = registrar_record
    addr2 = "2001:db8:2::20"
    a2 = bytes.fromhex("20010db8000200000000000000000020")
    def inform(xid, addr=CLIENT_ADDR, pref=3600, valid=7200, duid=None, extra=b""):
        cid = bytes(DHCP6OptClientId(duid=DUID_LL(lladdr=duid or CLIENT_MAC)))
        return client_msg(36, xid, cid + ia_addr(addr, pref, valid) + extra)
    reg = inform(0x000101)
    relayed = relay_forw(inform(0x000202), peer=CLIENT_ADDR)
    rid = bytes(DHCP6OptRemoteID(enterprisenum=9, remoteid=b"\x01\x02"))
    relayed2 = relay_forw(inform(0x000303, addr=addr2), link="::", peer=addr2, ifid=b"port2", extra=rid)
    ldra = relay_forw(relay_forw(inform(0x000404), link="::", peer=CLIENT_ADDR, ifid=b"eth0"), link=RELAY_LINK,
                      peer="fe80::fe", lladdr=None)
    return {
        "direct-register": rec(reg),
        "direct-register-refresh-release": rec(reg) + rec(reg, mono=2) + rec(inform(0x000102), mono=2) +
            rec(inform(0x000103, pref=0, valid=0), mono=2) + rec(inform(0x000103, pref=0, valid=0)),
        "direct-moved": rec(reg) + rec(inform(0x000105, duid="02:00:00:00:00:02"), mono=1),
        "direct-expires": rec(inform(0x000106, pref=10, valid=20)) + rec(b"", wall_step=5) + rec(b"", wall_step=9),
        "direct-infinite": rec(inform(0x000107, pref=0xffffffff, valid=0xffffffff)),
        "direct-wrong-link": rec(reg, iface=1) + rec(reg, iface=2) + rec(reg, iface=4),
        "direct-source-address": rec(inform(0x000108, addr=addr2), iface=1, src=3, src_addr=a2),
        "direct-flood": b"".join(rec(inform(0x000200 + i)) for i in range(20)) + rec(reg, mono=2),
        "discard-server-id": rec(client_msg(36, 0x000109, bytes(client_id) + bytes(server_id) + ia_addr())),
        "discard-oro": rec(inform(0x00010a, extra=bytes(DHCP6OptOptReq(reqopts=[23])))),
        "discard-two-ia": rec(client_msg(36, 0x00010b, bytes(client_id) + ia_addr() + ia_addr())),
        "discard-no-client-id": rec(client_msg(36, 0x00010c, ia_addr())),
        "relayed-register": rec(relayed, iface=4, src=1),
        "relayed-interface-id-remote-id": rec(relayed2, iface=4, src=1),
        "relayed-two-levels": rec(ldra, iface=1, src=1),
        "relayed-flood": b"".join(rec(relay_forw(inform(0x000500 + i), peer=CLIENT_ADDR), src=1) for i in range(30)),
        "ignored-solicit-and-reply": rec(bytes(DHCP6_Solicit(trid=0x00abcd) / client_id), src=2) +
            rec(bytes(DHCP6_Reply(trid=0x00abcd) / client_id / server_id), src=1) +
            rec(relay_repl(inform(0x00010d)), src=1),
    }


def write(target, seeds):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        os.remove(os.path.join(d, name))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name + ".bin"), "wb") as f:
            f.write(bytes(data))
    print(f"{target}: {len(seeds)} seeds in {os.path.relpath(d)}", file=sys.stderr)


def main():
    d = dhcp6_seeds()
    write("fuzz_dhcp6", d)
    write("fuzz_frame", frame_seeds(d))
    write("fuzz_registrar", registrar_seeds())


if __name__ == "__main__":
    main()
