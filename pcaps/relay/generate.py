#!/usr/bin/python3
"""Writes the relay replay inputs in pcaps/relay/ (classic pcap, Ethernet link type, microseconds).

These are what a relay's client-side capture and its server socket would see: client messages to
ff02::1:2, Relay-forwards from downstream relays (an LDRA, a relay with a global address) and the
servers' Relay-replies to the relay's upstream address 2001:db8:ffff::2. `regrelay replay` runs
each one through the relay engine; tests/relay_golden_test.py compares what it writes with
pcaps/relay/expected/ and decodes it independently (tshark, scapy).

Deterministic: fixed timestamps, MAC addresses, IPv6 addresses (2001:db8::/32, fd00::/8 and
fe80::/10), transaction ids and option contents, so running it again gives byte-identical files.
Pure standard library: every byte, checksum included, is built here.

    /usr/bin/python3 pcaps/relay/generate.py [OUTDIR]   # write the inputs (default: next to this file)
    /usr/bin/python3 pcaps/relay/generate.py --check     # write into a temporary directory and compare
                                                        # byte for byte with the checked-in files

pcaps/relay/README.md describes each capture frame by frame; --check also fails when a capture is
not listed there, or when the directory holds a .pcap this script does not produce. The
expected outputs (pcaps/relay/expected/) are written by tests/relay_golden_test.py --regenerate.
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pcapgen import *  # noqa: E402,F401,F403  (the shared byte builders and option codes)
import pcapgen  # noqa: E402

# ---- addressing plan (as in pcaps/generate.py) ----------------------------------------------

CLIENT_MAC = "02:00:00:aa:00:01"
CLIENT2_MAC = "02:00:00:aa:00:02"
RELAY_MAC = "02:00:00:bb:00:01"      # this relay, client-facing interface eth1 / upstream
LDRA_MAC = "02:00:00:bb:00:02"       # a Lightweight DHCPv6 Relay Agent on eth1's link
RELAY3_MAC = "02:00:00:bb:00:03"     # a downstream relay with a global address
RELAY4_MAC = "02:00:00:bb:00:04"     # a downstream relay with a ULA
SERVER_MAC = "02:00:00:cc:00:01"

CLIENT_LL = "fe80::ff:feaa:1"
CLIENT2_LL = "fe80::ff:feaa:2"
CLIENT_GUA = "2001:db8:1::100"       # the address ADDR-REG-INFORM registers
CLIENT2_GUA = "2001:db8:1::101"
LDRA_LL = "fe80::ff:febb:2"
RELAY_ADDR = "2001:db8:1::1"         # this relay's link-address on eth1
RELAY_UP = "2001:db8:ffff::2"        # this relay's upstream address (the servers' Relay-reply target)
RELAY3_ADDR = "2001:db8:2::1"
RELAY4_ULA = "fd00:db8:4::1"
SERVER_ADDR = "2001:db8:ffff::1"
ALL_DHCP = "ff02::1:2"               # All_DHCP_Relay_Agents_and_Servers

# ---- DHCPv6 constants ---------------------------------------------------------------------

SOLICIT, ADVERTISE, REQUEST, CONFIRM, RENEW, REBIND, REPLY = 1, 2, 3, 4, 5, 6, 7
RELEASE, DECLINE, RECONFIGURE, INFO_REQUEST, RELAY_FORW, RELAY_REPL = 8, 9, 10, 11, 12, 13
ADDR_REG_INFORM, ADDR_REG_REPLY = 36, 37  # RFC 9686


XID_SOLICIT = 0x5a0001
XID_REQUEST = 0x5a0003
XID_REG = 0x3a1b2c
XID_REG2 = 0x3a1b2d

# Every capture starts at 2025-03-01 12:00:00 UTC; frame i is 0.25 s later than frame i-1, plus
# a small odd number of microseconds. Each frame has its own timestamp: replay writes what it
# sends with the timestamp of the frame that caused it, which is how the test pairs them.


# ---- byte builders ------------------------------------------------------------------------


def dhcp6_frame(src_mac, dst_mac, src, dst, sport, dport, payload, hlim=None, csum=None):
    if hlim is None:
        hlim = 1 if dst.startswith("ff02:") else 64
    return ether(dst_mac, src_mac, 0x86DD, ipv6(src, dst, 17, udp6(src, dst, sport, dport, payload, csum=csum), hlim))


# ---- who sends what -------------------------------------------------------------------------

def from_client(payload, src=CLIENT_LL, src_mac=CLIENT_MAC, dst=ALL_DHCP, sport=CLIENT, dport=SERVER, **kw):
    dst_mac = mcast_mac(dst) if dst.startswith("ff") else RELAY_MAC
    return dhcp6_frame(src_mac, dst_mac, src, dst, sport, dport, payload, **kw)


def from_server(payload, **kw):
    """A server's datagram to the relay's upstream address, port 547."""
    return dhcp6_frame(SERVER_MAC, RELAY_MAC, SERVER_ADDR, RELAY_UP, SERVER, SERVER, payload, **kw)


# ---- the DHCPv6 messages ------------------------------------------------------------------

SERVER_DUID = duid_llt(0x2F5A3C00, SERVER_MAC)


def solicit(xid=XID_SOLICIT, client_mac=CLIENT_MAC):
    return client_msg(SOLICIT, xid,
                      opt(O_CLIENTID, duid_ll(client_mac)),
                      elapsed(0),
                      ia_na(1, 0, 0),
                      opt(O_ORO, u16s(O_DNS, 24)))


def advertise(xid=XID_SOLICIT):
    return client_msg(ADVERTISE, xid,
                      opt(O_SERVERID, SERVER_DUID),
                      opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                      ia_na(1, 1800, 2880, ia_addr("2001:db8:1::1000", 3600, 7200)),
                      opt(O_PREFERENCE, b"\xff"),
                      opt(O_DNS, ip6("2001:db8:ffff::53")))


def request():
    return client_msg(REQUEST, XID_REQUEST,
                      opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                      opt(O_SERVERID, SERVER_DUID),
                      elapsed(100),
                      ia_na(1, 0, 0, ia_addr("2001:db8:1::1000", 0, 0)),
                      opt(O_ORO, u16s(O_DNS, 24)))


def reply():
    return client_msg(REPLY, XID_REQUEST,
                      opt(O_SERVERID, SERVER_DUID),
                      opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                      ia_na(1, 1800, 2880, ia_addr("2001:db8:1::1000", 3600, 7200)),
                      opt(O_DNS, ip6("2001:db8:ffff::53")))


def addr_reg_inform(xid=XID_REG, addr=CLIENT_GUA, client_mac=CLIENT_MAC):
    return client_msg(ADDR_REG_INFORM, xid,
                      opt(O_CLIENTID, duid_ll(client_mac)),
                      ia_addr(addr, 3600, 7200))


def addr_reg_reply(xid=XID_REG, addr=CLIENT_GUA, client_mac=CLIENT_MAC):
    return client_msg(ADDR_REG_REPLY, xid,
                      opt(O_SERVERID, SERVER_DUID),
                      opt(O_CLIENTID, duid_ll(client_mac)),
                      ia_addr(addr, 3600, 7200))


def info_request():
    return client_msg(INFO_REQUEST, 0x5a0002,
                      opt(O_CLIENTID, duid_ll(CLIENT_MAC)),
                      elapsed(0),
                      opt(O_ORO, u16s(O_DNS, 148)))


def relay_reply(payload, peer, link=RELAY_ADDR, ifid=b"eth1", hop=0):
    opts = [opt(O_IFID, ifid)] if ifid is not None else []
    return relay_msg(RELAY_REPL, hop, link, peer, *opts, opt(O_RELAY_MSG, payload))


# ---- the captures ---------------------------------------------------------------------------

def cap_solicit_exchange():
    return [
        from_client(solicit()),
        from_server(relay_reply(advertise(), CLIENT_LL)),                      # by Interface-ID "eth1"
        from_client(request()),
        from_server(relay_reply(reply(), CLIENT_LL, link="::")),               # Interface-ID, link ::
    ]


def cap_addr_reg():
    return [
        from_client(addr_reg_inform(), src=CLIENT_GUA),
        from_server(relay_reply(addr_reg_reply(), CLIENT_GUA, ifid=None)),     # by link-address only
        from_client(addr_reg_inform(XID_REG2, CLIENT2_GUA, CLIENT2_MAC), src=CLIENT2_GUA, src_mac=CLIENT2_MAC),
        from_server(relay_reply(addr_reg_reply(XID_REG2, CLIENT2_GUA, CLIENT2_MAC), CLIENT2_GUA, link="::")),
    ]


def cap_relay_chain():
    # An LDRA (RFC 6221) relays the Solicit from its link-local address, hop 0, link ::.
    ldra = relay_msg(RELAY_FORW, 0, "::", CLIENT_LL,
                     opt(O_IFID, b"port7"),
                     client_ll(CLIENT_MAC),
                     opt(O_RELAY_MSG, solicit()))
    # A relay two hops away (hop-count 2) with a global source address.
    lvl0 = relay_msg(RELAY_FORW, 0, "2001:db8:5::1", CLIENT2_LL, opt(O_IFID, b"vlan5"),
                     client_ll(CLIENT2_MAC), opt(O_RELAY_MSG, info_request()))
    lvl1 = relay_msg(RELAY_FORW, 1, "::", "2001:db8:5::1", opt(O_IFID, b"xe-1/0/1"), opt(O_RELAY_MSG, lvl0))
    far = relay_msg(RELAY_FORW, 2, "::", "2001:db8:4::1", opt(O_IFID, b"ge-0/0/2"),
                    opt(O_REMOTE_ID, struct.pack("!I", 32473) + b"relay3"), opt(O_RELAY_MSG, lvl1))
    at_limit = relay_msg(RELAY_FORW, 8, "::", CLIENT_LL, opt(O_IFID, b"port7"), opt(O_RELAY_MSG, solicit()))
    below_limit = relay_msg(RELAY_FORW, 7, "::", CLIENT_LL, opt(O_IFID, b"port8"), opt(O_RELAY_MSG, solicit()))
    short = relay_msg(RELAY_FORW, 0, "::", CLIENT_LL)[:20]
    # The server's answer to the LDRA: a Relay-reply to us wrapping the LDRA's Relay-reply.
    inner = relay_msg(RELAY_REPL, 0, "::", CLIENT_LL, opt(O_IFID, b"port7"), opt(O_RELAY_MSG, advertise()))
    return [
        from_client(ldra, src=LDRA_LL, src_mac=LDRA_MAC),
        from_client(far, src=RELAY3_ADDR, src_mac=RELAY3_MAC),
        from_client(at_limit, src=LDRA_LL, src_mac=LDRA_MAC),
        from_client(below_limit, src=RELAY4_ULA, src_mac=RELAY4_MAC),
        from_client(short, src=LDRA_LL, src_mac=LDRA_MAC),
        from_server(relay_reply(inner, LDRA_LL)),
    ]


def cap_all_types():
    relayed = [
        solicit(0x000101),
        request(),
        client_msg(CONFIRM, 0x000104, opt(O_CLIENTID, duid_ll(CLIENT_MAC)), elapsed(0),
                   ia_na(1, 0, 0, ia_addr("2001:db8:1::1000", 0, 0))),
        client_msg(RENEW, 0x000105, opt(O_CLIENTID, duid_ll(CLIENT_MAC)), opt(O_SERVERID, SERVER_DUID),
                   elapsed(0), ia_na(1, 0, 0, ia_addr("2001:db8:1::1000", 0, 0))),
        client_msg(REBIND, 0x000106, opt(O_CLIENTID, duid_ll(CLIENT_MAC)), elapsed(0),
                   ia_na(1, 0, 0, ia_addr("2001:db8:1::1000", 0, 0))),
        client_msg(RELEASE, 0x000108, opt(O_CLIENTID, duid_ll(CLIENT_MAC)), opt(O_SERVERID, SERVER_DUID),
                   elapsed(0), ia_na(1, 0, 0, ia_addr("2001:db8:1::1000", 0, 0))),
        client_msg(DECLINE, 0x000109, opt(O_CLIENTID, duid_ll(CLIENT_MAC)), opt(O_SERVERID, SERVER_DUID),
                   elapsed(0), ia_na(1, 0, 0, ia_addr("2001:db8:1::1000", 0, 0))),
        info_request(),
        None,  # ADDR-REG-INFORM, from the registered address (below)
        client_msg(200, 0x00c8c8) + b"\xff\xff\xff",          # unknown type, body not even options
        client_msg(255, 0xffffff, opt(65000, b"\x01\x02\x03"), elapsed(0)),
    ]
    frames = []
    for m in relayed:
        if m is None:
            frames.append(from_client(addr_reg_inform(), src=CLIENT_GUA))
        else:
            frames.append(from_client(m))
    dropped = [
        advertise(),
        reply(),
        client_msg(RECONFIGURE, 0x00010a, opt(O_SERVERID, SERVER_DUID), opt(O_RECONF_MSG, b"\x05")),
        # A Relay-reply to port 547 is taken for a server's (replay cannot tell the sides
        # apart): a bare 4-byte one, so it is dropped as malformed whichever side takes it.
        bytes([RELAY_REPL, 0, 0, 0]),
        addr_reg_reply(),
    ]
    frames += [from_client(m) for m in dropped]
    return frames


def fragment_frame():
    """The first fragment of a Solicit: IPv6 Fragment header, M flag set, offset 0."""
    payload = udp6(CLIENT_LL, ALL_DHCP, CLIENT, SERVER, solicit())
    frag_hdr = struct.pack("!BBHI", 17, 0, (0 << 3) | 1, 0x00C0FFEE)
    return ether(mcast_mac(ALL_DHCP), CLIENT_MAC, 0x86DD, ipv6(CLIENT_LL, ALL_DHCP, 44, frag_hdr + payload[:24], 1))


def arp_frame():
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac(CLIENT_MAC) + bytes([192, 0, 2, 10]) + bytes(6) + \
        bytes([192, 0, 2, 1])
    return ether("ff:ff:ff:ff:ff:ff", CLIENT_MAC, 0x0806, arp)


def cap_drops():
    adv = advertise()
    return [
        # Server side (Relay-replies to port 547).
        from_server(relay_reply(adv, CLIENT_LL)[:20]),                          # shorter than 34 bytes
        from_server(relay_reply(adv, CLIENT_LL, ifid=None) + struct.pack("!HH", O_IFID, 40) + b"eth1"),
        from_server(relay_reply(b"", CLIENT_LL)),                                # empty option 9
        from_server(relay_msg(RELAY_REPL, 0, RELAY_ADDR, CLIENT_LL, opt(O_IFID, b"eth1"))),  # no option 9
        from_server(relay_reply(adv, CLIENT_LL, ifid=b"eth9")),                  # unknown Interface-ID
        from_server(relay_reply(adv, CLIENT_LL, link="2001:db8:7::1", ifid=None)),  # unknown link-address
        from_server(relay_reply(adv, CLIENT_LL, link="::", ifid=None)),          # link :: and no Interface-ID
        from_server(relay_reply(adv, "::")),                                     # peer-address ::
        from_server(relay_reply(adv, ALL_DHCP)),                                 # multicast peer-address
        from_server(relay_reply(adv, CLIENT_LL), csum=0x1234),                   # bad UDP checksum
        # Client side.
        from_client(solicit(0x5a0010), csum=0x1234),                             # bad UDP checksum
        from_client(solicit(0x5a0011), csum=0),                                  # zero UDP checksum
        from_client(b"\x01\x00"),                                                # truncated DHCPv6 header
        from_client(solicit(0x5a0012), dport=CLIENT),                            # to port 546
        from_client(solicit(0x5a0013), dst="2001:db8:1::99"),                    # unicast, not to us
        from_client(solicit(0x5a0014), dst="ff02::1"),                           # another multicast group
        fragment_frame(),                                                        # IPv6 fragment
        arp_frame(),                                                             # not IPv6
        from_client(solicit(0x5a0015)),                                          # a good one: replay went on
    ]


CAPTURES = {
    "solicit-exchange.pcap": cap_solicit_exchange,
    "addr-reg.pcap": cap_addr_reg,
    "relay-chain.pcap": cap_relay_chain,
    "all-types.pcap": cap_all_types,
    "drops.pcap": cap_drops,
}


if __name__ == "__main__":
    sys.exit(pcapgen.main(sys.argv, os.path.dirname(os.path.abspath(__file__)), CAPTURES,
                          "pcaps/relay/generate.py", "relay inputs"))
