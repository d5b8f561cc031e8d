#!/usr/bin/python3
"""Writes the reference captures in pcaps/ (classic pcap, Ethernet link type, microseconds).

Deterministic: fixed timestamps, MAC addresses, IPv6 addresses (2001:db8::/32 and fe80::/10),
transaction ids and option contents, so running it again gives byte-identical files. Pure
standard library: every byte, checksum included, is built here (no scapy), so the files do not
change with the version of some packet library.

    /usr/bin/python3 pcaps/generate.py [OUTDIR]   # write the captures (default: next to this file)
    /usr/bin/python3 pcaps/generate.py --check     # write into a temporary directory and compare
                                                  # byte for byte with the checked-in files

pcaps/README.md describes each capture; --check also fails when a capture is not listed there,
or when the directory holds a .pcap this script does not produce.
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcapgen import *  # noqa: E402,F401,F403  (the shared byte builders and option codes)
import pcapgen  # noqa: E402

# ---- addressing plan --------------------------------------------------------------------

CLIENT_MAC = "02:00:00:aa:00:01"
CLIENT2_MAC = "02:00:00:aa:00:02"
RELAY_MAC = "02:00:00:bb:00:01"      # relay 1, client-facing interface eth1
RELAY2_MAC = "02:00:00:bb:00:02"     # relay 2 (the outer one in two-level captures)
SERVER_MAC = "02:00:00:cc:00:01"
ROUTER_MAC = "02:00:00:dd:00:01"

CLIENT_LL = "fe80::ff:feaa:1"        # EUI-64 from CLIENT_MAC
CLIENT2_LL = "fe80::ff:feaa:2"
SERVER_LL = "fe80::ff:fecc:1"
CLIENT_GUA = "2001:db8:1::100"       # the address ADDR-REG-INFORM registers
RELAY_ADDR = "2001:db8:1::1"         # relay 1 on the client link
RELAY2_ADDR = "2001:db8:2::1"        # relay 2
SERVER_ADDR = "2001:db8:ffff::1"
ALL_DHCP = "ff02::1:2"               # All_DHCP_Relay_Agents_and_Servers

# ---- DHCPv6 constants ---------------------------------------------------------------------

SOLICIT, ADVERTISE, REPLY, INFO_REQUEST, RELAY_FORW, RELAY_REPL = 1, 2, 7, 11, 12, 13
ADDR_REG_INFORM, ADDR_REG_REPLY = 36, 37  # RFC 9686


XID_SOLICIT = 0x5a0001
XID_INFO = 0x5a0002
XID_REG = 0x3a1b2c
XID_UNKNOWN = 0x00c8c8

# Timestamps: every capture starts at 2025-03-01 12:00:00 UTC; frame i is 0.25 s later than
# frame i-1, plus a small odd number of microseconds so they are never all zero.


# ---- byte builders ------------------------------------------------------------------------


def dhcp6_frame(src_mac, dst_mac, src, dst, sport, dport, payload, hlim=None, vlans=(),
                corrupt_checksum=False):
    if hlim is None:
        hlim = 1 if dst.startswith("ff02:") or src.startswith("fe80:") else 64
    udp = udp6(src, dst, sport, dport, payload, corrupt_checksum)
    return ether(dst_mac, src_mac, 0x86DD, ipv6(src, dst, 17, udp, hlim), vlans)


# ---- the DHCPv6 messages ------------------------------------------------------------------

def solicit(xid=XID_SOLICIT, client_mac=CLIENT_MAC, iaid=1):
    return client_msg(SOLICIT, xid,
                      opt(O_CLIENTID, duid_ll(client_mac)),
                      elapsed(0),
                      ia_na(iaid, 0, 0),
                      opt(O_ORO, u16s(O_DNS, 24)))


SERVER_DUID = duid_llt(0x2F5A3C00, SERVER_MAC)


def advertise():
    return client_msg(ADVERTISE, XID_SOLICIT,
                      opt(O_SERVERID, SERVER_DUID),
                      opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                      ia_na(1, 1800, 2880, ia_addr("2001:db8:1::1000", 3600, 7200)),
                      opt(O_PREFERENCE, b"\xff"),
                      opt(O_DNS, ip6("2001:db8:ffff::53")))


def info_request_oro148():
    return client_msg(INFO_REQUEST, XID_INFO,
                      opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                      elapsed(0),
                      opt(O_ORO, u16s(O_DNS, O_ADDR_REG_ENABLE)))


def info_reply_148():
    """The server's Reply: DNS servers and ADDR_REG_ENABLE (RFC 9686: registration is welcome)."""
    return client_msg(REPLY, XID_INFO,
                      opt(O_SERVERID, SERVER_DUID),
                      opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                      opt(O_DNS, ip6("2001:db8:ffff::53")),
                      opt(O_ADDR_REG_ENABLE))


def addr_reg_inform():
    return client_msg(ADDR_REG_INFORM, XID_REG,
                      opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                      ia_addr(CLIENT_GUA, 3600, 7200))


def addr_reg_reply():
    return client_msg(ADDR_REG_REPLY, XID_REG,
                      opt(O_SERVERID, SERVER_DUID),
                      opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                      ia_addr(CLIENT_GUA, 3600, 7200))


RELAY2_REMOTE_ID = opt(O_REMOTE_ID, struct.pack("!I", 32473) + b"relay2")


def relay_forward_1():
    return relay_msg(RELAY_FORW, 0, RELAY_ADDR, CLIENT_LL,
                     opt(O_IFID, b"eth1"),
                     client_ll(CLIENT_MAC),
                     opt(O_RELAY_MSG, solicit()))


def relay_forward_2():
    inner = relay_msg(RELAY_FORW, 0, RELAY_ADDR, CLIENT_GUA,
                      opt(O_IFID, b"eth1"),
                      client_ll(CLIENT_MAC),
                      opt(O_RELAY_MSG, addr_reg_inform()))
    return relay_msg(RELAY_FORW, 1, "::", RELAY_ADDR,
                     opt(O_IFID, b"ge-0/0/2"),
                     RELAY2_REMOTE_ID,
                     opt(O_RELAY_MSG, inner))


def relay_reply_1():
    return relay_msg(RELAY_REPL, 0, RELAY_ADDR, CLIENT_LL,
                     opt(O_IFID, b"eth1"),
                     opt(O_RELAY_MSG, advertise()))


def relay_reply_2():
    inner = relay_msg(RELAY_REPL, 0, RELAY_ADDR, CLIENT_GUA,
                      opt(O_IFID, b"eth1"),
                      opt(O_RELAY_MSG, addr_reg_reply()))
    return relay_msg(RELAY_REPL, 1, "::", RELAY_ADDR,
                     opt(O_IFID, b"ge-0/0/2"),
                     opt(O_RELAY_MSG, inner))


# ---- the captures ---------------------------------------------------------------------------

def client_to_all(payload, src_mac=CLIENT_MAC, src=CLIENT_LL, **kw):
    return dhcp6_frame(src_mac, mcast_mac(ALL_DHCP), src, ALL_DHCP, CLIENT, SERVER, payload, **kw)


def cap_solicit():
    return [client_to_all(solicit())]


def cap_info_request_oro148():
    return [client_to_all(info_request_oro148()),
            dhcp6_frame(SERVER_MAC, CLIENT_MAC, SERVER_LL, CLIENT_LL, SERVER, CLIENT, info_reply_148())]


def cap_addr_reg_inform():
    return [client_to_all(addr_reg_inform(), src=CLIENT_GUA)]


def cap_addr_reg_reply():
    return [dhcp6_frame(SERVER_MAC, CLIENT_MAC, SERVER_ADDR, CLIENT_GUA, SERVER, CLIENT, addr_reg_reply())]


def cap_relay_forward_1():
    return [dhcp6_frame(RELAY_MAC, SERVER_MAC, RELAY_ADDR, SERVER_ADDR, SERVER, SERVER, relay_forward_1())]


def cap_relay_forward_2():
    return [dhcp6_frame(RELAY2_MAC, SERVER_MAC, RELAY2_ADDR, SERVER_ADDR, SERVER, SERVER, relay_forward_2())]


def cap_relay_reply_1():
    return [dhcp6_frame(SERVER_MAC, RELAY_MAC, SERVER_ADDR, RELAY_ADDR, SERVER, SERVER, relay_reply_1())]


def cap_relay_reply_2():
    return [dhcp6_frame(SERVER_MAC, RELAY2_MAC, SERVER_ADDR, RELAY2_ADDR, SERVER, SERVER, relay_reply_2())]


def cap_vlan():
    return [
        # One 802.1Q tag: VLAN 100, priority 5 (the PCP bits must not leak into the VLAN id).
        client_to_all(solicit(), vlans=[(0x8100, (5 << 13) | 100)]),
        # 802.1ad: S-tag 0x88a8 VLAN 200 outside, C-tag 0x8100 VLAN 100 inside.
        client_to_all(solicit(XID_SOLICIT + 0x10, CLIENT2_MAC, 2), src_mac=CLIENT2_MAC, src=CLIENT2_LL,
                      vlans=[(0x88A8, 200), (0x8100, 100)]),
    ]


def cap_unknown():
    unknown_type = client_msg(200, XID_UNKNOWN,
                              opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                              opt(65000, b"\x01\x02\x03"),
                              elapsed(10))
    odd_solicit = client_msg(SOLICIT, XID_SOLICIT + 2,
                             opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                             opt(65000, b"vendor"),
                             elapsed(0),
                             ia_na(1, 0, 0),
                             opt(O_ORO, u16s(O_DNS)),
                             opt(O_ORO, u16s(24)))  # the duplicated option
    return [client_to_all(unknown_type), client_to_all(odd_solicit)]


def nested_relay(depth, inner):
    msg = inner
    for hop in range(depth):  # innermost level gets hop-count 0
        msg = relay_msg(RELAY_FORW, hop, "::" if hop else RELAY_ADDR, RELAY_ADDR if hop else CLIENT_LL,
                        opt(O_RELAY_MSG, msg))
    return msg


def fragment_frame():
    """The first fragment of a Solicit: IPv6 Fragment header, M flag set, offset 0."""
    payload = udp6(CLIENT_LL, ALL_DHCP, CLIENT, SERVER, solicit())
    first = payload[:24]  # a multiple of 8 octets
    frag_hdr = struct.pack("!BBHI", 17, 0, (0 << 3) | 1, 0x00C0FFEE)
    return ether(mcast_mac(ALL_DHCP), CLIENT_MAC, 0x86DD,
                 ipv6(CLIENT_LL, ALL_DHCP, 44, frag_hdr + first, 1))


def cap_malformed():
    short_relay = bytes([RELAY_FORW, 0]) + ip6(RELAY_ADDR)[:14]  # 16 bytes of a 34-byte header
    past_end = client_msg(SOLICIT, XID_SOLICIT + 3,
                          opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                          struct.pack("!HH", O_ELAPSED, 40) + b"\0\0")  # says 40, has 2
    opt_hdr_cut = client_msg(SOLICIT, XID_SOLICIT + 4,
                             opt(O_CLIENTID, duid_ll(CLIENT_MAC))) + b"\0\x08"  # 2 bytes of a header
    no_relay_msg = relay_msg(RELAY_FORW, 0, RELAY_ADDR, CLIENT_LL,
                             opt(O_IFID, b"eth1"),
                             client_ll(CLIENT_MAC))
    relay_to_server = dict(src_mac=RELAY_MAC, dst_mac=SERVER_MAC, src=RELAY_ADDR, dst=SERVER_ADDR,
                           sport=SERVER, dport=SERVER)

    def rf(payload):
        return dhcp6_frame(payload=payload, **relay_to_server)

    return [
        client_to_all(b"\x01\x00"),                           # truncated DHCPv6 header
        client_to_all(past_end),                              # option length past the end
        client_to_all(opt_hdr_cut),                           # truncated option header
        rf(short_relay),                                      # relay message shorter than 34 bytes
        rf(nested_relay(40, solicit())),                      # 40 relay levels
        rf(no_relay_msg),                                     # relay without option 9
        client_to_all(solicit(XID_SOLICIT + 5), corrupt_checksum=True),  # bad UDP checksum
        fragment_frame(),                                     # IPv6 fragment
        client_to_all(solicit(XID_SOLICIT + 6)),              # a good one: decoding went on
    ]


def cap_mixed():
    # ICMPv6 Router Solicitation from the client.
    rs = struct.pack("!BBHI", 133, 0, 0, 0)
    rs = rs[:2] + struct.pack("!H", checksum(pseudo6(CLIENT_LL, "ff02::2", len(rs), 58) + rs)) + rs[4:]
    icmp = ether("33:33:00:00:00:02", CLIENT_MAC, 0x86DD, ipv6(CLIENT_LL, "ff02::2", 58, rs, 255))
    # IPv4 UDP (a DNS query for example.com) from the client to a resolver.
    dns = bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001")
    udp4 = struct.pack("!HHHH", 40000, 53, 8 + len(dns), 0) + dns
    c4 = checksum(ip4("192.0.2.10") + ip4("198.51.100.53") + struct.pack("!xBH", 17, len(udp4)) + udp4) or 0xFFFF
    udp4 = udp4[:6] + struct.pack("!H", c4) + udp4[8:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp4), 0x1234, 0, 64, 17, 0,
                      ip4("192.0.2.10"), ip4("198.51.100.53"))
    iph = iph[:10] + struct.pack("!H", checksum(iph)) + iph[12:]
    ipv4 = ether(ROUTER_MAC, CLIENT_MAC, 0x0800, iph + udp4)
    # IPv6 UDP that is not DHCPv6 (syslog to port 514).
    syslog = dhcp6_frame(CLIENT_MAC, ROUTER_MAC, CLIENT_GUA, "2001:db8:ffff::514", 40001, 514,
                         b"<13>regrelay test")
    # An Advertise sent straight to the client (no relay).
    adv = dhcp6_frame(SERVER_MAC, CLIENT_MAC, SERVER_LL, CLIENT_LL, SERVER, CLIENT, advertise())
    return [icmp, client_to_all(solicit()), ipv4, syslog, adv]


CAPTURES = {
    "solicit.pcap": cap_solicit,
    "info-request-oro148.pcap": cap_info_request_oro148,
    "addr-reg-inform.pcap": cap_addr_reg_inform,
    "addr-reg-reply.pcap": cap_addr_reg_reply,
    "relay-forward-1.pcap": cap_relay_forward_1,
    "relay-forward-2.pcap": cap_relay_forward_2,
    "relay-reply-1.pcap": cap_relay_reply_1,
    "relay-reply-2.pcap": cap_relay_reply_2,
    "vlan.pcap": cap_vlan,
    "unknown.pcap": cap_unknown,
    "malformed.pcap": cap_malformed,
    "mixed.pcap": cap_mixed,
}


if __name__ == "__main__":
    sys.exit(pcapgen.main(sys.argv, os.path.dirname(os.path.abspath(__file__)), CAPTURES,
                          "pcaps/generate.py", "captures"))
