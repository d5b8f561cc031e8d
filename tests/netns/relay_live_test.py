#!/usr/bin/python3
"""`regrelay relay` live, in network namespaces:

    client ns --veth-- relay ns --veth-- server ns
    2001:db8:1::100    2001:db8:1::1 | 2001:db8:ffff::2    2001:db8:ffff::1

    relay_live_test.py REGRELAY GROUP

GROUP is one of:
  forward  Solicit (link-local source), ADDR-REG-INFORM (global source) and an unknown type (200)
           reach the server as Relay-forward hop 0, link-address 2001:db8:1::1, peer-address = the
           IPv6 source, option 79 = the client's MAC, option 9 = the client's bytes; the server's
           Relay-replies (ADDR-REG-REPLY to 2001:db8:1::100, Advertise to the link-local) reach the
           client unchanged on port 546
  drops    hop-count 8 Relay-forward and a client-sent Advertise are not relayed and are counted
           (SIGUSR1 and exit counters); a downstream relay's hop-count 3 Relay-forward is relayed
           with hop 4, link-address :: and Interface-ID, and the reply comes back to it on port 547;
           a unicast to the relay's address is relayed once; a Relay-reply from the client link is
           dropped, not unwrapped; SIGTERM exits 0 promptly
  pcap     the --write capture holds the client frames received and the Relay-forwards sent,
           read back by `regrelay decode --json` and by tshark
  senderrors  a server without a route and one whose port 547 is closed: the failure is logged once
           (rate-limited) naming the server and errno, counted per server (send-errors, icmp-errors for
           the ICMPv6 port unreachable), and no debug line claims a Relay-forward went there
  gso      UDP GSO (--udp-gso): with the uplink's tx-udp-segmentation off, auto turns it on and
           bursts of Solicits from 300 distinct clients reach the server in order, byte for byte, as
           one ordinary frame per Relay-forward on both the relay's uplink and the server's veth,
           with gso-sent > 0 in the report; with it on (a veth's default) auto leaves GSO off; --udp-gso
           on there shows why (the server's veth sees fewer, larger frames); a kernel that refuses the
           GSO send (no transmit checksum offload) turns it off with one warning, losing nothing
  burst    40 ADDR-REG-INFORMs from 40 clients (own MAC, own registered address) in one burst, read
           by the relay in batches: every info log line and every --trail record names the address
           and DUID of the client whose MAC and xid it carries (an action's message must not be a
           view of a capture buffer the next frame of the batch overwrites)
  nostate  100,000 distinct clients (MACs, link-locals; bursts of 200 frames at 8,000/s) through the
           relay: RSS stays within 1 MiB of RSS after a 10,000-client warm-up (no per-client state),
           and >= 99% of the clients reach the server

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
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import (ADDR_REG_INFORM, ADDR_REG_REPLY, ADVERTISE, OPT_CLIENT_LINKLAYER, OPT_CLIENTID,  # noqa: E402
                 OPT_ELAPSED, OPT_IA_NA, OPT_INTERFACE_ID, OPT_RELAY_MSG, OPT_SERVERID, RELAY_FORW, RELAY_REPL,
                 REPLY, SOLICIT, client_msg, duid_ll, find_opts, ia_addr, opt, parse_options, parse_relay,
                 relay_msg)

RELAY_LINK = "2001:db8:1::1"
RELAY_UP = "2001:db8:ffff::2"
SERVER = "2001:db8:ffff::1"
CLIENT = "2001:db8:1::100"
MCAST = lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS
SERVER_DUID = duid_ll(bytes.fromhex("02000000cc01"))


Checks = lib.Checks


class Topology:
    """The three namespaces, the server's socket and the running relay."""

    def __init__(self, lab, binary, log_level="debug", write=True, server_rcvbuf=0, extra=(), srv_addrs=(),
                 uplink_features=()):
        self.lab = lab
        self.cli, self.rel, self.srv = lab.netns("cli"), lab.netns("rel"), lab.netns("srv")
        self.c_if, self.rc_if = lab.veth(self.cli, self.rel)
        self.ru_if, self.s_if = lab.veth(self.rel, self.srv)
        self.rel.add_addr(self.rc_if, RELAY_LINK + "/64")
        self.rel.add_addr(self.ru_if, RELAY_UP + "/64")
        self.rel.forwarding(True)
        self.srv.add_addr(self.s_if, SERVER + "/64")
        for a in srv_addrs:
            self.srv.add_addr(self.s_if, a + "/64")
        self.srv.add_route("2001:db8:1::/64", via=RELAY_UP)
        self.cli.add_addr(self.c_if, CLIENT + "/64")
        self.cli.add_route("default", via=RELAY_LINK)
        lab.wait_ready()
        self.client_mac = self.cli.mac(self.c_if)
        self.client_ll = self.cli.link_local(self.c_if)
        self.c_ifindex = self.cli.ifindex(self.c_if)
        self.relay_ll = self.rel.link_local(self.rc_if)
        # With extra addresses on the server host, only SERVER listens: the others answer
        # ICMPv6 port unreachable.
        self.server = self.srv.udp(SERVER if srv_addrs else "::", lib.PORT_SERVER, rcvbuf=server_rcvbuf)
        self.pcap = lab.path("relay.pcap") if write else None
        self.binary, self.log_level = binary, log_level
        if uplink_features:
            self.uplink_features(*uplink_features)
        self.start(extra)

    def start(self, extra=()):
        argv = [self.binary, "relay", "--client-iface", self.rc_if, "--server", SERVER, "--log-level", self.log_level]
        if self.pcap:
            argv += ["--write", self.pcap]
        argv += list(extra)
        self.starts = getattr(self, "starts", 0) + 1
        self.relay = self.rel.spawn(argv, name="relay" if self.starts == 1 else f"relay-{self.starts}")
        self.relay.wait_log(r"relaying from " + re.escape(self.rc_if))

    def uplink_features(self, *features):
        """ethtool -K on the relay's uplink veth, e.g. ("tx-udp-segmentation", "off")."""
        self.rel.exec("ethtool", "-K", self.ru_if, *features)

    # Client-side sockets: multicasts go out of the client veth.
    def client_socket(self, addr, port):
        s = self.cli.udp(addr, port, ifname=self.c_if if addr.startswith("fe80") else None)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.c_ifindex)
        return s

    def to_relays(self, sock, payload):
        sock.sendto(payload, (MCAST, lib.PORT_SERVER, 0, self.c_ifindex))


def recv(sock, timeout=2.0):
    """(data, (addr, port)) of the next datagram, or None after `timeout` s."""
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        return None
    data, src = sock.recvfrom(65535)
    return data, (src[0].split("%")[0], src[1])


def check_forward(c, got, sent, peer, what, mac=None, hop=0, link=RELAY_LINK, ifid=None):
    """The server's datagram `got` is a Relay-forward of `sent` with these fields."""
    if not c.check(got is not None, f"{what}: server receives a Relay-forward"):
        return None
    data, (src, sport) = got
    c.eq((src, sport), (RELAY_UP, lib.PORT_SERVER), f"{what}: sent from the relay's upstream address, port 547")
    try:
        rf = parse_relay(data)
    except ValueError as e:
        c.check(False, f"{what}: well-formed Relay-forward", str(e))
        return None
    c.eq(rf["type"], RELAY_FORW, f"{what}: message type 12")
    c.eq(rf["hop"], hop, f"{what}: hop-count {hop}")
    c.eq(rf["link"], link, f"{what}: link-address {link}")
    c.eq(rf["peer"], peer, f"{what}: peer-address is the IPv6 source {peer}")
    c.eq(find_opts(rf["options"], OPT_RELAY_MSG), [sent], f"{what}: option 9 holds exactly the bytes sent")
    lladdr = find_opts(rf["options"], OPT_CLIENT_LINKLAYER)
    if mac is None:
        c.eq(lladdr, [], f"{what}: no option 79 (not from a client)")
    else:
        c.eq(lladdr, [b"\x00\x01" + mac], f"{what}: option 79 = hwtype 1 + client MAC {mac.hex(':')}")
    c.eq(find_opts(rf["options"], OPT_INTERFACE_ID), [ifid] if ifid else [],
         f"{what}: Interface-ID " + (repr(ifid) if ifid else "absent (link-address names the link)"))
    inner = find_opts(rf["options"], OPT_RELAY_MSG)
    if inner and inner[0] and inner[0][0] not in (RELAY_FORW, RELAY_REPL):
        c.check(OPT_CLIENT_LINKLAYER not in [code for code, _ in parse_options(inner[0][4:])],
                f"{what}: no option 79 inside option 9")
    return rf


def nothing_more(c, sock, what, timeout=0.5):
    got = recv(sock, timeout)
    c.check(got is None, what, f"got {got[0][:40].hex() if got else ''} from {got[1] if got else ''}")


def solicit(xid, mac):
    return client_msg(SOLICIT, xid, opt(OPT_CLIENTID, duid_ll(mac)), opt(OPT_ELAPSED, b"\x00\x00"),
                      opt(OPT_IA_NA, (1).to_bytes(4, "big") + bytes(8)))


def addr_reg_inform(xid, mac):
    return client_msg(ADDR_REG_INFORM, xid, opt(OPT_CLIENTID, duid_ll(mac)), ia_addr(CLIENT, 3600, 7200))


# --- groups ---------------------------------------------------------------------------------

def exchange(c, t):
    """Solicit, ADDR-REG-INFORM and type 200 up; ADDR-REG-REPLY and Advertise down."""
    ll_sock = t.client_socket(t.client_ll, lib.PORT_CLIENT)
    g_sock = t.client_socket(CLIENT, lib.PORT_CLIENT)
    mac = t.client_mac

    sol = solicit(0x101010, mac)
    t.to_relays(ll_sock, sol)
    check_forward(c, recv(t.server), sol, t.client_ll, "Solicit", mac=mac)

    inform = addr_reg_inform(0x3a1b2c, mac)
    t.to_relays(g_sock, inform)
    check_forward(c, recv(t.server), inform, CLIENT, "ADDR-REG-INFORM", mac=mac)

    unknown = client_msg(200, 0x0000c8, opt(OPT_CLIENTID, duid_ll(mac)), opt(0xfff0, b"future"))
    t.to_relays(ll_sock, unknown)
    check_forward(c, recv(t.server), unknown, t.client_ll, "unknown type 200", mac=mac)
    nothing_more(c, t.server, "each client message is relayed exactly once")

    # Down: the server's Relay-replies are unwrapped to the client, bytes unchanged.
    reply = client_msg(ADDR_REG_REPLY, 0x3a1b2c, opt(OPT_CLIENTID, duid_ll(mac)), opt(OPT_SERVERID, SERVER_DUID),
                       ia_addr(CLIENT, 3600, 7200))
    t.server.sendto(relay_msg(RELAY_REPL, 0, RELAY_LINK, CLIENT, opt(OPT_RELAY_MSG, reply)),
                    (RELAY_UP, lib.PORT_SERVER))
    got = recv(g_sock)
    if c.check(got is not None, "ADDR-REG-REPLY reaches [2001:db8:1::100]:546"):
        c.eq(got[0], reply, "ADDR-REG-REPLY: the inner message, byte for byte")
        c.eq(got[1], (RELAY_LINK, lib.PORT_SERVER), "ADDR-REG-REPLY: from the relay's link address, port 547")

    adv = client_msg(ADVERTISE, 0x101010, opt(OPT_CLIENTID, duid_ll(mac)), opt(OPT_SERVERID, SERVER_DUID),
                     opt(OPT_IA_NA, (1).to_bytes(4, "big") + bytes(8) + ia_addr("2001:db8:1::200", 3600, 7200)))
    t.server.sendto(relay_msg(RELAY_REPL, 0, RELAY_LINK, t.client_ll, opt(OPT_RELAY_MSG, adv)),
                    (RELAY_UP, lib.PORT_SERVER))
    got = recv(ll_sock)
    if c.check(got is not None, f"Advertise reaches [{t.client_ll}]:546"):
        c.eq(got[0], adv, "Advertise: the inner message, byte for byte")
        c.eq(got[1], (t.relay_ll, lib.PORT_SERVER), "Advertise: from the relay's link-local, port 547")
    nothing_more(c, g_sock, "no copy of a reply reaches the client's global socket", 0.2)
    return sol, inform, reply, adv


def group_forward(c, lab, binary):
    t = Topology(lab, binary)
    exchange(c, t)
    log = t.relay.log()
    c.check(re.search(rf"info ADDR-REG-INFORM address {CLIENT} mac {t.client_mac.hex(':')} duid "
                      rf"00030001{t.client_mac.hex()} interface {t.rc_if} source {CLIENT} xid 0x3a1b2c", log),
            "the relay logs the registration (address, MAC, DUID, interface, source, xid)")
    c.eq(t.relay.stop(), 0, "SIGTERM: exit status 0")
    m = re.search(rf"^{t.rc_if}: received (\d+) forwarded (\d+) replied (\d+) addr-reg-inform (\d+) "
                  rf"addr-reg-reply (\d+) drops (.*)$", t.relay.log(), re.M)
    if c.check(m, "exit counters of the client port"):
        c.eq(m.groups(), ("3", "3", "2", "1", "1", "none"),
             "client port: received 3 forwarded 3 replied 2 addr-reg-inform 1 addr-reg-reply 1 drops none")


def group_drops(c, lab, binary):
    t = Topology(lab, binary)
    ll_sock = t.client_socket(t.client_ll, lib.PORT_CLIENT)
    dr_sock = t.client_socket(CLIENT, lib.PORT_SERVER)  # a downstream relay agent on the client link
    mac = t.client_mac
    inner = solicit(0x202020, bytes.fromhex("020000dd0001"))

    t.to_relays(dr_sock, relay_msg(RELAY_FORW, 8, "::", "fe80::dd:1", opt(OPT_RELAY_MSG, inner)))
    t.to_relays(ll_sock, client_msg(ADVERTISE, 0x202021, opt(OPT_CLIENTID, duid_ll(mac))))
    nothing_more(c, t.server, "hop-count 8 Relay-forward and client-sent Advertise: nothing reaches the server",
                 1.0)
    log = t.relay.log()
    c.check(re.search(r"debug drop RELAY-FORW on \S+: hop-limit from 2001:db8:1::100", log),
            "debug log names the hop-limit drop")
    c.check(re.search(rf"debug drop ADVERTISE on \S+: server-message-from-client from {t.client_ll}", log),
            "debug log names the server-message-from-client drop")

    # A downstream relay's Relay-forward: hop 3 becomes 4, link-address ::, Interface-ID added.
    fw3 = relay_msg(RELAY_FORW, 3, "2001:db8:5::1", "fe80::dd:1", opt(OPT_INTERFACE_ID, b"ge-0/0/1"),
                    opt(OPT_RELAY_MSG, inner))
    t.to_relays(dr_sock, fw3)
    ifid = t.rc_if.encode()
    check_forward(c, recv(t.server), fw3, CLIENT, "hop-count 3 Relay-forward", hop=4, link="::", ifid=ifid)
    nothing_more(c, t.server, "hop-count 3 Relay-forward relayed once", 0.3)

    # Unicast to the relay's own address: captured and relayed, once (the socket copy is ignored).
    fw2 = relay_msg(RELAY_FORW, 2, "2001:db8:5::1", "fe80::dd:2", opt(OPT_RELAY_MSG, inner))
    dr_sock.sendto(fw2, (RELAY_LINK, lib.PORT_SERVER))
    check_forward(c, recv(t.server), fw2, CLIENT, "unicast Relay-forward to 2001:db8:1::1", hop=3, link="::",
                  ifid=ifid)
    nothing_more(c, t.server, "unicast Relay-forward relayed exactly once", 0.5)

    # The server answers the downstream relay: its Relay-reply goes to it on port 547, unchanged.
    reply = client_msg(REPLY, 0x202020, opt(OPT_CLIENTID, duid_ll(bytes.fromhex("020000dd0001"))),
                       opt(OPT_SERVERID, SERVER_DUID))
    inner_rr = relay_msg(RELAY_REPL, 3, "2001:db8:5::1", "fe80::dd:1", opt(OPT_INTERFACE_ID, b"ge-0/0/1"),
                         opt(OPT_RELAY_MSG, reply))
    t.server.sendto(relay_msg(RELAY_REPL, 4, "::", CLIENT, opt(OPT_INTERFACE_ID, ifid), opt(OPT_RELAY_MSG, inner_rr)),
                    (RELAY_UP, lib.PORT_SERVER))
    got = recv(dr_sock)
    if c.check(got is not None, "downstream relay receives its Relay-reply on [2001:db8:1::100]:547"):
        c.eq(got[0], inner_rr, "downstream Relay-reply: byte for byte")
        c.eq(got[1], (RELAY_LINK, lib.PORT_SERVER), "downstream Relay-reply: from 2001:db8:1::1 port 547")

    # Counters: SIGUSR1 prints them; SIGTERM prints them again and exits 0 promptly.
    counters_re = (rf"^{re.escape(t.rc_if)}: received (\d+) forwarded (\d+) replied (\d+) addr-reg-inform \d+ "
                   rf"addr-reg-reply \d+ drops (.*)$")
    def counters(header, start):
        """The client port's and upstream's counter lines after `header` in the log."""
        log = t.relay.log()
        at = log.find(header, start)
        if at < 0:
            return None, None
        return re.compile(counters_re, re.M).search(log, at), re.compile(
            r"^upstream: received (\d+) forwarded \d+ replied \d+ .* drops (.*)$", re.M).search(log, at)

    start = len(t.relay.log())
    t.relay.signal(signal.SIGUSR1)
    try:
        t.relay.wait_log(r"(?m)info counters:\n(.*\n)*?upstream: .*\n", timeout=5, start=start)
    except TimeoutError as e:
        c.check(False, "SIGUSR1 logs the counters", str(e)[-600:])
    else:
        m, up = counters("info counters:", start)
        if c.check(m, "SIGUSR1 logs the client port's counters"):
            c.eq(m.groups()[:3], ("4", "2", "1"), "SIGUSR1 counters: received 4 forwarded 2 replied 1")
            c.eq(sorted(m.group(4).split()), ["hop-limit=1", "server-message-from-client=1"],
                 "SIGUSR1 counters name the drops")
        c.check(up and up.groups() == ("1", "none"), "SIGUSR1 counters: upstream received 1, drops none",
                up.group(0) if up else "no upstream line")
        c.check(t.relay.popen.poll() is None, "SIGUSR1 does not stop the relay")

    # A Relay-reply from the client link, unicast to the relay's address (where its server-side
    # socket also listens), is a server message from a client: dropped, never unwrapped.
    victim = t.client_socket(CLIENT, lib.PORT_CLIENT)
    forged = client_msg(REPLY, 0x0bad01, opt(OPT_SERVERID, b"forged"))
    dr_sock.sendto(relay_msg(RELAY_REPL, 0, RELAY_LINK, CLIENT, opt(OPT_RELAY_MSG, forged)),
                   (RELAY_LINK, lib.PORT_SERVER))
    got = recv(victim, 1.0)
    c.check(got is None, "a Relay-reply sent from the client link to 2001:db8:1::1 is not unwrapped to a client",
            repr(got))

    start = len(t.relay.log())
    t0 = time.monotonic()
    t.relay.signal(signal.SIGTERM)
    try:
        rc = t.relay.popen.wait(5)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t0
    c.eq(rc, 0, "SIGTERM: exit status 0")
    c.check(took < 2.0, f"SIGTERM: exits promptly ({took:.2f} s)")
    m, up = counters("counters at exit:", start)
    if c.check(m, "exit counters of the client port", t.relay.log()[start:]):
        c.eq(m.groups()[:3], ("5", "2", "1"), "exit counters: received 5 forwarded 2 replied 1")
        c.eq(sorted(m.group(4).split()), ["hop-limit=1", "server-message-from-client=2"],
             "exit counters name the drops (the Advertise and the client's Relay-reply)")
    c.check(up and up.groups() == ("1", "none"), "exit counters: upstream received 1 (only the server's reply)",
            up.group(0) if up else "no upstream line")


def tshark_rows(path):
    fields = ["frame.number", "sll.pkttype", "ipv6.src", "ipv6.dst", "udp.srcport", "udp.dstport",
              "dhcpv6.msgtype", "dhcpv6.hopcount", "dhcpv6.linkaddr", "dhcpv6.peeraddr", "dhcpv6.option.type"]
    argv = ["tshark", "-r", path, "-Y", "dhcpv6", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a"]
    for f in fields:
        argv += ["-e", f]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"tshark: exit {r.returncode}: {r.stderr}")
    return [dict(zip(fields, line.split("|"))) for line in r.stdout.splitlines() if line]


def group_pcap(c, lab, binary):
    import json
    t = Topology(lab, binary, log_level="info")
    sol, inform, reply, adv = exchange(c, t)
    c.eq(t.relay.stop(), 0, "SIGTERM: exit status 0")
    r = subprocess.run([binary, "decode", "--json", t.pcap], capture_output=True, text=True, timeout=30)
    c.eq(r.returncode, 0, "regrelay decode --json on the --write capture: exit 0")
    c.check(re.fullmatch(r"10 frames, 10 DHCPv6 \(0 malformed\), 0 other\n", r.stderr),
            "decode: 10 frames, all DHCPv6, none malformed (3 received + 3 forwarded, 2 replies in + 2 out)",
            r.stderr.strip())
    pk = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]

    def find(pred):
        return [p for p in pk if pred(p)]

    def msg(p):
        return p["dhcp6"]["message"]

    def relays(p):
        return p["dhcp6"]["relays"]

    mac = t.client_mac.hex(":")
    for name, src, mtype, xid in (("Solicit", t.client_ll, 1, 0x101010), ("ADDR-REG-INFORM", CLIENT, 36, 0x3a1b2c),
                                  ("type 200", t.client_ll, 200, 0xc8)):
        got = find(lambda p: p["src"] == src and p["dst"] == MCAST and p["dport"] == 547 and not relays(p)
                   and msg(p)["type"] == mtype)
        c.eq(len(got), 1, f"pcap: the received {name} from {src} to ff02::1:2")
        if got:
            c.eq(got[0].get("src_mac"), mac, f"pcap: received {name} keeps the client's MAC")
        fw = find(lambda p: p["dst"] == SERVER and relays(p) and msg(p)["type"] == mtype)
        if c.eq(len(fw), 1, f"pcap: the Relay-forward of the {name} to {SERVER}"):
            rl = relays(fw[0])[0]
            c.eq((rl["type"], rl["hop_count"], rl["link_address"], rl["peer_address"], rl.get("client_link_layer")),
                 (12, 0, RELAY_LINK, src, mac), f"pcap: {name} Relay-forward fields (hop, link, peer, option 79)")
            if mtype != 200:
                c.eq(msg(fw[0]).get("xid"), xid, f"pcap: {name} Relay-forward carries xid {xid:#x}")
    got = find(lambda p: p["src"] == SERVER and p["dst"] == RELAY_UP and relays(p) and relays(p)[0]["type"] == 13)
    c.eq(len(got), 2, "pcap: the two Relay-replies received from the server")
    got = find(lambda p: p["dst"] == CLIENT and p["dport"] == 546 and not relays(p) and msg(p)["type"] == 37)
    c.eq(len(got), 1, "pcap: the ADDR-REG-REPLY sent to 2001:db8:1::100 port 546")
    got = find(lambda p: p["dst"] == t.client_ll and p["dport"] == 546 and not relays(p) and msg(p)["type"] == 2)
    c.eq(len(got), 1, f"pcap: the Advertise sent to {t.client_ll} port 546")

    if not shutil.which("tshark"):
        print("note: tshark not on PATH, skipping its cross-check", flush=True)
        return
    rows = tshark_rows(t.pcap)
    c.eq(len(rows), 10, "tshark -Y dhcpv6: 10 frames")
    # SLL2 packet types: 0 to us, 2 multicast, 4 outgoing.
    rx = [r for r in rows if r["ipv6.dst"] == MCAST]
    c.eq(sorted((r["ipv6.src"], r["dhcpv6.msgtype"]) for r in rx),
         sorted([(t.client_ll, "1"), (CLIENT, "36"), (t.client_ll, "200")]),
         "tshark: the three client frames received (source, type)")
    c.check(all(r["sll.pkttype"] != "4" for r in rx), "tshark: client frames are marked incoming",
            str([r["sll.pkttype"] for r in rx]))
    fw = [r for r in rows if r["ipv6.dst"] == SERVER]
    c.eq(sorted((r["dhcpv6.msgtype"], r["dhcpv6.hopcount"], r["dhcpv6.linkaddr"], r["dhcpv6.peeraddr"]) for r in fw),
         sorted([("12,1", "0", RELAY_LINK, t.client_ll), ("12,36", "0", RELAY_LINK, CLIENT),
                 ("12,200", "0", RELAY_LINK, t.client_ll)]),
         "tshark: the three Relay-forwards sent (types outer,inner; hop; link; peer)")
    c.check(all(r["sll.pkttype"] == "4" and "79" in r["dhcpv6.option.type"].split(",") for r in fw),
            "tshark: the Relay-forwards are outgoing and carry option 79",
            str([(r["sll.pkttype"], r["dhcpv6.option.type"]) for r in fw]))
    c.check(all(r["udp.srcport"] == "547" and r["udp.dstport"] == "547" for r in fw),
            "tshark: Relay-forwards from port 547 to port 547")


def group_nostate(c, lab, binary, total=100_000, warmup=10_000, rate=8000):
    t = Topology(lab, binary, log_level="info", write=False, server_rcvbuf=64 << 20)
    seen_mac, seen_peer = set(), set()
    bad = [0]
    stop = threading.Event()

    def server_loop():
        s = t.server
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                data = s.recv(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            # Relay-forward: type 12, hop 0, then option 79 right after the 34-byte header.
            if len(data) < 48 or data[0] != RELAY_FORW or data[34:36] != b"\x00\x4f":
                bad[0] += 1
                continue
            seen_mac.add(data[40:46])
            seen_peer.add(data[18:34])

    th = threading.Thread(target=server_loop, daemon=True)
    th.start()
    ps = t.cli.packet_socket(t.c_if)
    dst_mac = lib.multicast_mac(MCAST)

    def frame(i):
        mac = bytes([0x02, 0x52]) + i.to_bytes(4, "big")
        return lib.udp6_frame(mac, dst_mac, lib.eui64_link_local(mac), MCAST, 546, 547,
                              client_msg(SOLICIT, i & 0xFFFFFF, opt(OPT_CLIENTID, duid_ll(mac)),
                                         opt(OPT_ELAPSED, b"\x00\x00")))

    def push(first, last):
        t0 = time.monotonic()
        for n, i in enumerate(range(first, last)):
            ps.send(frame(i))
            if n % 200 == 199:
                ahead = t0 + (n + 1) / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        return time.monotonic() - t0

    def settle(want, timeout=10):
        """Waits until the server has `want` clients or its count stops growing for 1 s."""
        deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
        while time.monotonic() < deadline:
            n = len(seen_mac)
            if n >= want:
                break
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= 1.0:
                break
            time.sleep(0.1)
        return len(seen_mac)

    rss0 = t.relay.rss_kb()
    took = push(0, warmup)
    settle(warmup)
    rss_warm = t.relay.rss_kb()
    took += push(warmup, total)
    delivered = settle(total)
    rss_after = t.relay.rss_kb()
    stop.set()
    th.join(2)
    print(f"measure: RSS start {rss0} kB, after {warmup} clients {rss_warm} kB, after {total} clients "
          f"{rss_after} kB (delta {rss_after - rss_warm:+d} kB); sent {total} frames in {took:.1f} s; "
          f"server received {delivered} distinct MACs, {len(seen_peer)} distinct peer-addresses, "
          f"{bad[0]} unexpected datagrams", flush=True)
    c.check(rss_after - rss_warm <= 1024, f"RSS grows at most 1 MiB (~10 bytes a client) from {warmup} to {total} clients",
            f"{rss_warm} kB -> {rss_after} kB")
    c.check(delivered >= total * 0.99, f"server receives >= 99% of {total} clients ({delivered})")
    c.eq(len(seen_peer), delivered, "one distinct peer-address per distinct client MAC")
    c.eq(bad[0], 0, "every datagram at the server is a Relay-forward with option 79 first")
    c.eq(t.relay.stop(), 0, "SIGTERM: exit status 0")
    m = re.search(rf"^{re.escape(t.rc_if)}: received (\d+) forwarded (\d+) ", t.relay.log(), re.M)
    if c.check(m, "exit counters of the client port"):
        print(f"measure: relay counted received {m.group(1)} forwarded {m.group(2)}", flush=True)
        c.check(int(m.group(2)) >= delivered, "relay forwarded at least what the server received",
                m.group(0))


def group_gso(c, lab, binary, clients=300, bursts=3):
    """UDP GSO toward the server: on only where the kernel cuts the datagrams before the
    interface, and then invisible on the wire and to captures."""
    t = Topology(lab, binary, log_level="info", write=False, server_rcvbuf=8 << 20,
                 uplink_features=("tx-udp-segmentation", "off"))
    ps = t.cli.packet_socket(t.c_if)
    dst_mac = lib.multicast_mac(MCAST)
    n = clients * bursts
    eth_p_all = 0x0003

    def tap(ns, ifname):
        s = ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(eth_p_all))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((ifname, 0))
        return s

    def burst(base):
        """`bursts` bursts of `clients` Solicits, each client its own MAC (no per-MAC limit), the
        frames as fast as one socket sends them; returns the client messages in order."""
        msgs = []
        for b in range(bursts):
            frames = []
            for i in range(clients):
                k = base + b * clients + i
                mac = bytes([0x02, 0x47]) + k.to_bytes(4, "big")
                m = client_msg(SOLICIT, k & 0xFFFFFF, opt(OPT_CLIENTID, duid_ll(mac)), opt(OPT_ELAPSED, b"\x00\x00"))
                msgs.append(m)
                frames.append(lib.udp6_frame(mac, dst_mac, lib.eui64_link_local(mac), MCAST, 546, 547, m))
            for f in frames:
                ps.send(f)
            time.sleep(0.05)
        return msgs

    def at_server(want, timeout=5.0):
        got, deadline = [], time.monotonic() + timeout
        while len(got) < want and time.monotonic() < deadline:
            g = recv(t.server, 0.5)
            if g:
                got.append(g[0])
        return got

    def frames_to_server(sock):
        """(UDP payloads of the IPv6/UDP frames to port 547 from RELAY_UP, the largest frame)."""
        out, largest = [], 0
        sock.setblocking(False)
        while True:
            try:
                f = sock.recv(70000)
            except BlockingIOError:
                break
            if len(f) < 62 or f[12:14] != b"\x86\xdd" or f[20] != 17 or f[22:38] != lib.a6(RELAY_UP):
                continue
            if int.from_bytes(f[56:58], "big") != 547:
                continue
            largest = max(largest, len(f))
            plen, ulen = int.from_bytes(f[18:20], "big"), int.from_bytes(f[58:60], "big")
            out.append((plen, ulen, f[62:62 + ulen - 8] if ulen >= 8 else b""))
        return out, largest

    def inner(data):
        try:
            rf = parse_relay(data)
        except ValueError:
            return None
        m = find_opts(rf["options"], OPT_RELAY_MSG)
        return m[0] if len(m) == 1 else None

    def report():
        start = len(t.relay.log())
        t.relay.signal(signal.SIGUSR1)
        return t.relay.wait_log(rf"(?m)^server {re.escape(SERVER)} sent (\d+) .*$", timeout=5, start=start).group(0)

    # 1. The uplink does not segment UDP itself: auto turns GSO on.
    c.check(re.search(rf"server {re.escape(SERVER)}: UDP GSO on: {re.escape(t.ru_if)} has tx-udp-segmentation off",
                      t.relay.wait_log(r"UDP GSO (on|off)").string), "auto: GSO on, and the log line says why")
    up_tap, srv_tap = tap(t.rel, t.ru_if), tap(t.srv, t.s_if)
    sent = burst(0)
    got = at_server(n)
    c.eq(len(got), n, f"the server receives all {n} Relay-forwards")
    c.check([inner(g) for g in got] == sent, "each carries its client's message, byte for byte, in the order sent")
    for name, sock in (("the relay's uplink", up_tap), ("the server's veth", srv_tap)):
        frames, largest = frames_to_server(sock)
        c.eq(len(frames), n, f"{name}: a capture sees one frame per Relay-forward ({n})")
        c.check(all(p == u and inner(d) is not None for p, u, d in frames),
                f"{name}: each frame is one whole Relay-forward (IPv6 payload = UDP length)")
        c.check(largest < 200, f"{name}: no frame larger than one Relay-forward", f"largest {largest} bytes")
    line = report()
    m = re.search(r"gso-sent (\d+) \(gso on\)", line)
    c.check(m and 0 < int(m.group(1)) <= n, "the report counts Relay-forwards sent inside GSO sends", line)
    if m:
        print(f"measure: {m.group(1)} of {n} Relay-forwards went out inside GSO sends", flush=True)
    c.eq(t.relay.stop(), 0, "SIGTERM: exit status 0")

    # 2. A veth's default (tx-udp-segmentation on): auto leaves GSO off.
    t.uplink_features("tx-udp-segmentation", "on")
    t.start()
    c.check(re.search(rf"UDP GSO off: {re.escape(t.ru_if)} has tx-udp-segmentation on", t.relay.wait_log(r"UDP GSO").string),
            "auto on a link that segments itself: GSO off, and the log line says why")
    srv_tap = tap(t.srv, t.s_if)
    sent = burst(10_000)
    got = at_server(n)
    c.check([inner(g) for g in got] == sent, f"all {n} Relay-forwards arrive, in order")
    frames, _ = frames_to_server(srv_tap)
    c.eq(len(frames), n, "the server's veth sees one frame per Relay-forward")
    line = report()
    c.check("gso-sent" not in line, "nothing was sent inside GSO sends", line)
    c.eq(t.relay.stop(), 0, "SIGTERM: exit status 0")

    # 3. What auto avoids: forced on over that link, the datagrams cross it as large frames.
    t.start(["--udp-gso", "on"])
    srv_tap = tap(t.srv, t.s_if)
    sent = burst(20_000)
    got = at_server(n)
    c.check([inner(g) for g in got] == sent, "--udp-gso on: the server's socket still gets every datagram, in order")
    frames, largest = frames_to_server(srv_tap)
    c.check(len(frames) < n and largest > 1000,
            "--udp-gso on over a link that segments itself: the server's veth sees fewer, larger frames",
            f"{len(frames)} frames for {n} datagrams, largest {largest} bytes")
    c.eq(t.relay.stop(), 0, "SIGTERM: exit status 0")

    # 4. No transmit checksum offload on the route: Linux before 6.11 refuses the GSO send (EIO);
    # GSO is then turned off with one warning and the run sent datagram by datagram. Later
    # kernels checksum the segments in software and take it.
    t.uplink_features("tx-udp-segmentation", "off", "tx-checksum-ip-generic", "off")
    t.start(["--udp-gso", "on"])
    sent = burst(30_000)
    got = at_server(n)
    c.check([inner(g) for g in got] == sent, f"no checksum offload: all {n} Relay-forwards arrive, in order")
    line = report()
    warn = re.findall(r"UDP GSO off: the kernel refused a GSO send: (.*?);", t.relay.log())
    took = re.search(r"gso-sent ([1-9]\d*) \(gso on\)", line)
    c.check((len(warn) == 1 and "(gso on)" not in line) or (not warn and took),
            "refused: one warning and GSO off; or taken (Linux >= 6.11) and counted", f"{warn!r} {line}")
    print(f"measure: without checksum offload the kernel {'refused GSO: ' + warn[0] if warn else 'took GSO'}",
          flush=True)
    c.check(re.search(r"send-errors 0 ", line), "no send error counted", line)


def group_burst(c, lab, binary, n=40):
    user, tdir = lab.daemon_dir("log")
    trail = os.path.join(tdir, "trail.json")
    t = Topology(lab, binary, log_level="info", write=False, extra=["--trail", trail, "--user", user])
    ps = t.cli.packet_socket(t.c_if)
    dst_mac = lib.multicast_mac(MCAST)
    sent = {}  # mac -> (address, xid, duid)
    frames = []
    for k in range(n):
        mac = bytes([0x02, 0x42, 0, 0, 0, k + 1])
        addr = f"2001:db8:1::b:{k + 1:x}"
        xid = 0x420000 + k
        m = client_msg(ADDR_REG_INFORM, xid, opt(OPT_CLIENTID, duid_ll(mac)), ia_addr(addr, 3600, 7200))
        sent[mac.hex(":")] = (addr, f"0x{xid:06x}", duid_ll(mac).hex())
        frames.append(lib.udp6_frame(mac, dst_mac, addr, MCAST, 546, 547, m))
    for f in frames:
        ps.send(f)
    got = recv_all_server(t.server, n)
    c.eq(len(got), n, f"the server receives {n} Relay-forwards")
    rx = re.compile(r"ADDR-REG-INFORM address (\S+) mac (\S+) duid (\S+) interface \S+ source (\S+) xid (0x[0-9a-f]+)")
    deadline = time.monotonic() + 5
    while len(rx.findall(t.relay.log())) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = rx.findall(t.relay.log())
    c.eq(len(lines), n, f"{n} ADDR-REG-INFORM info lines")
    wrong = [ln for ln in lines if ln[1] not in sent or (ln[0], ln[4], ln[2]) != sent[ln[1]] or ln[3] != ln[0]]
    c.eq(wrong, [], "each log line's address, DUID and source belong to its own MAC and xid")
    c.eq(t.relay.stop(), 0, "SIGTERM: exit status 0")
    recs = [json.loads(ln) for ln in open(trail) if ln.strip()]
    c.eq(len(recs), n, f"{n} trail records")
    bad = [r for r in recs if r.get("client.mac") not in sent
           or (r.get("client.ip"), r.get("dhcp6.xid"), r.get("dhcp6.duid")) != sent[r["client.mac"]]]
    c.eq(bad, [], "each trail record's address and DUID belong to its own MAC and xid")


def recv_all_server(sock, want, timeout=5.0):
    out, end = [], time.monotonic() + timeout
    while len(out) < want and time.monotonic() < end:
        g = recv(sock, max(0.01, end - time.monotonic()))
        if g:
            out.append(g)
    return out


def group_senderrors(c, lab, binary):
    """Send failures are logged when they happen (once per server per interval), counted per
    server, and never claimed as sent; ICMPv6 errors from a server are counted."""
    unrouted, closed = "2001:db8:dead::1", "2001:db8:ffff::5"  # no route; a host with no server
    t = Topology(lab, binary, write=False, extra=["--server", unrouted, "--server", closed], srv_addrs=[closed])
    ll_sock = t.client_socket(t.client_ll, lib.PORT_CLIENT)
    sent = []
    for i in range(3):
        sent.append(solicit(0x303030 + i, t.client_mac))
        t.to_relays(ll_sock, sent[-1])
        time.sleep(0.3)  # the closed host's ICMPv6 errors are rate-limited per second
    got = [recv(t.server) for _ in sent]
    c.check(all(g is not None for g in got), "the reachable server still receives every Relay-forward")
    time.sleep(1.2)
    start = len(t.relay.log())
    t.relay.signal(signal.SIGUSR1)
    t.relay.wait_log(r"(?m)^server 2001:db8:ffff::5 .*$", timeout=5, start=start)
    log = t.relay.log()
    fails = re.findall(rf"error sending to server {re.escape(unrouted)} failed: (.*)", log)
    c.eq(len(fails), 1, "the failure toward the unrouted server is logged once (rate-limited), naming it")
    c.check(fails and "unreachable" in fails[0].lower(), "the log line names the errno", repr(fails))
    m = re.search(rf"(?m)^server {re.escape(unrouted)} sent (\d+) send-errors (\d+) icmp-errors (\d+)", log[start:])
    c.check(m and (m.group(1), m.group(2)) == ("0", "3"), f"{unrouted}: sent 0 send-errors 3 in the report",
            m.group(0) if m else "no line")
    m = re.search(rf"(?m)^server {re.escape(SERVER)} sent (\d+) send-errors (\d+) icmp-errors (\d+)", log[start:])
    c.check(m and m.groups() == ("3", "0", "0"), f"{SERVER}: sent 3, no errors", m.group(0) if m else "no line")
    m = re.search(rf"(?m)^server {re.escape(closed)} sent (\d+) send-errors (\d+) icmp-errors (\d+)", log[start:])
    c.check(m and m.group(1) == "3" and int(m.group(3)) >= 1,
            f"{closed} (port 547 closed): its ICMPv6 port-unreachable errors are counted", m.group(0) if m else "")
    c.check(re.search(rf"error server {re.escape(closed)}: ICMPv6 type 1 code 4", log),
            "the ICMPv6 error is logged, naming the server")
    claims = [ln for ln in log.splitlines() if "debug relay-forward" in ln and unrouted in ln]
    c.eq(claims, [], "no debug line claims a Relay-forward went to the unrouted server")
    c.check(re.search(r"debug relay-forward SOLICIT .* to 2001:db8:ffff::1,2001:db8:ffff::5$", log, re.M),
            "debug lines name only the destinations actually sent to")


GROUPS = {"senderrors": (group_senderrors, 40), "forward": (group_forward, 40), "drops": (group_drops, 40), "pcap": (group_pcap, 40),
          "nostate": (group_nostate, 55), "gso": (group_gso, 50), "burst": (group_burst, 40)}


def main():
    return lib.run_groups("rrlive", GROUPS, 40)


if __name__ == "__main__":
    sys.exit(main())
