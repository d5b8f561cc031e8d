#!/usr/bin/python3
"""Many ports in one process (issue 10 part 2), in network namespaces made here.

    many_ports_test.py REGRELAY GROUP

GROUP is one of:
  relay_shared  the relay group with --capture shared (one TPACKET_V3 socket for every interface)
  relay  `regrelay relay --client-iface 'vc*' --interface-id --server 2001:db8:ffff::1` over 64 veth
         pairs (cli ns ccN -- rel ns vcN, vcN has 2001:db8:1:N::1/64). Every client sends a Solicit
         from its link-local address; the server (a UDP socket on [2001:db8:ffff::1]:547) gets 64
         Relay-forwards, each with its own link-address (2001:db8:1:N::1) and Interface-ID (vcN), and
         answers each; every client gets its own Advertise on its own interface. Then 8 veths are
         deleted and 8 new ones (vc64..vc71) created at run time: each addition and removal is logged
         once, the new ones and the old ones work, and the SIGUSR1 counters are per name (an old
         interface counts both of its Solicits across the port-set changes, a new one its one, a
         deleted one is gone).
  snoop  `regrelay snoop --bridge br0 --uplink up0 --install-filters` with 48 client ports on one
         plain bridge (sw ns pN -- cl ns qN; up0 -- rtr ns dn0). Every client's Solicit reaches the
         router as an LDRA Relay-forward with Interface-ID pN, and the router's Relay-reply comes back
         to that client only. A port added to the bridge at run time (p48) is picked up (logged once,
         relayed, in the nftables client set), and a port taken out of it (p5) is dropped (logged
         once, its Solicit no longer relayed, not in the set).

Only 2001:db8::/32 and link-local addresses; everything is the test's own and removed at the end.
Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root (or without nft for snoop).
"""

import ipaddress
import os
import re
import select
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import (ADVERTISE, OPT_CLIENTID, OPT_INTERFACE_ID, OPT_RELAY_MSG, RELAY_FORW, RELAY_REPL,  # noqa: E402
                 SOLICIT, client_msg, duid_ll, find_opts, opt, parse_relay, relay_msg)

MCAST = lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS
SERVER = "2001:db8:ffff::1"
RELAY_UP = "2001:db8:ffff::2"
N_RELAY = 64
N_SNOOP = 48
IPV6_JOIN_GROUP = 20


def batch(ns_name, lines):
    """Runs `ip -batch` (in namespace ns_name, or the root one when None): one process for many links."""
    argv = [lib.IP] + (["-n", ns_name] if ns_name else []) + ["-batch", "-"]
    import subprocess
    r = subprocess.run(argv, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"ip -batch: {r.stderr.strip()}")


def veths(lab, a, b, pairs):
    """veth pairs (name in a, name in b), created in their namespaces directly, all up."""
    batch(None, [f"link add {x} netns {a.name} type veth peer name {y} netns {b.name}" for x, y in pairs])
    batch(a.name, [f"link set {x} up" for x, _ in pairs])
    batch(b.name, [f"link set {y} up" for _, y in pairs])


def recv(sock, timeout=2.0):
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        return None
    data, src = sock.recvfrom(65535)
    return data, src


def recv_all(sock, want, timeout):
    """Datagrams until `want` arrived or `timeout` s passed."""
    out, end = [], time.monotonic() + timeout
    while len(out) < want:
        left = end - time.monotonic()
        if left <= 0:
            break
        got = recv(sock, left)
        if got is None:
            break
        out.append(got)
    return out


def wait_ll(ns, ifname, timeout=10):
    end = time.monotonic() + timeout
    while True:
        try:
            return ns.link_local(ifname)
        except RuntimeError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


class Client:
    """A client on one interface: a UDP socket on [its link-local]:546."""

    def __init__(self, ns, ifname):
        self.ns, self.ifname = ns, ifname
        self.ifindex = ns.ifindex(ifname)
        self.mac = ns.mac(ifname)
        self.ll = wait_ll(ns, ifname)
        self.sock = ns.udp(self.ll, lib.PORT_CLIENT, ifname)

    def solicit(self, xid):
        msg = client_msg(SOLICIT, xid, opt(OPT_CLIENTID, duid_ll(self.mac)))
        self.sock.sendto(msg, (MCAST, lib.PORT_SERVER, 0, self.ifindex))
        return msg


def counters(proc, start):
    """The counters the daemon logs on SIGUSR1, as {port: received}, from log position `start`."""
    proc.signal(signal.SIGUSR1)
    m = proc.wait_log(r"counters:\n((?:.*\n)*?)interface-events", start=start)
    return {k: int(v) for k, v in re.findall(r"^(\S+): received (\d+)", m.group(1), re.M)}


# --- relay: 64 client interfaces by glob ------------------------------------------------------------

def relay_group(c, lab, binary, extra=()):
    cli, rel, srv = lab.netns("cli"), lab.netns("rel"), lab.netns("srv")
    names = [f"vc{i}" for i in range(N_RELAY)]
    veths(lab, rel, cli, [(n, f"cc{i}") for i, n in enumerate(names)])
    batch(rel.name, [f"addr add 2001:db8:1:{i:x}::1/64 dev {n} nodad" for i, n in enumerate(names)])
    up, eth = lab.veth(rel, srv, "up0", "eth0")
    rel.add_addr(up, RELAY_UP + "/64")
    srv.add_addr(eth, SERVER + "/64")
    lab.wait_ready(30)
    server = srv.udp(SERVER, lib.PORT_SERVER, rcvbuf=4 << 20)

    proc = rel.spawn([binary, "relay", "--client-iface", "vc*", "--interface-id", "--server", SERVER,
                      "--rate-limit-port", "0", "--rate-limit-mac", "0", *extra], name="relay")
    for n in names:
        proc.wait_log(rf"interface {n}: up \(ifindex \d+\), capturing", timeout=20)
    log = proc.log()
    c.eq(len(re.findall(r"interface vc\d+: matches 'vc\*', added", log)), N_RELAY,
         f"{N_RELAY} interfaces matching 'vc*' added at start, each logged once")

    clients = {n: Client(cli, f"cc{i}") for i, n in enumerate(names)}

    def exchange(which, xid_base, what):
        sent = {}
        for k, n in enumerate(which):
            sent[n] = (xid_base + k, clients[n].solicit(xid_base + k))
        got = recv_all(server, len(which), 10)
        by_ifid = {}
        for data, src in got:
            rf = parse_relay(data)
            ifid = find_opts(rf["options"], OPT_INTERFACE_ID)
            if rf["type"] == RELAY_FORW and ifid:
                by_ifid[ifid[0].decode(errors="replace")] = (rf, src)
        c.eq(sorted(by_ifid), sorted(which), f"{what}: one Relay-forward per client interface, Interface-ID its name")
        bad_link, bad_msg = [], []
        for n in which:
            if n not in by_ifid:
                continue
            rf, src = by_ifid[n]
            i = int(n[2:])
            if ipaddress.ip_address(rf["link"]) != ipaddress.ip_address(f"2001:db8:1:{i:x}::1"):
                bad_link.append((n, rf["link"]))
            if find_opts(rf["options"], OPT_RELAY_MSG) != [sent[n][1]] or rf["peer"] != clients[n].ll:
                bad_msg.append(n)
            adv = client_msg(ADVERTISE, sent[n][0], opt(OPT_CLIENTID, duid_ll(clients[n].mac)))
            server.sendto(relay_msg(RELAY_REPL, 0, rf["link"], rf["peer"], opt(OPT_INTERFACE_ID, n.encode()),
                                    opt(OPT_RELAY_MSG, adv)), src)
        c.eq(bad_link, [], f"{what}: each Relay-forward's link-address is its own interface's address")
        c.eq(bad_msg, [], f"{what}: each carries its client's Solicit verbatim and its peer-address")
        missing = []
        for n in which:
            if n not in by_ifid:
                continue
            got = recv(clients[n].sock, 3)
            want = client_msg(ADVERTISE, sent[n][0], opt(OPT_CLIENTID, duid_ll(clients[n].mac)))
            if got is None or got[0] != want:
                missing.append(n)
        c.eq(missing, [], f"{what}: every client gets its own Advertise on its own interface")

    exchange(names, 0x100000, f"{N_RELAY} interfaces")

    # Run-time changes: 8 deleted, 8 new.
    gone = names[-8:]
    new = [f"vc{N_RELAY + k}" for k in range(8)]
    mark = len(proc.log())
    batch(rel.name, [f"link del {n}" for n in gone])
    for n in gone:
        clients.pop(n).sock.close()
    veths(lab, rel, cli, [(n, f"cc{N_RELAY + k}") for k, n in enumerate(new)])
    batch(rel.name, [f"addr add 2001:db8:1:{int(n[2:]):x}::1/64 dev {n} nodad" for n in new])
    for n in new:
        proc.wait_log(rf"interface {n}: up \(ifindex \d+\), capturing", timeout=10, start=mark)
    for n in gone:
        proc.wait_log(rf"interface {n}: gone, removed", timeout=10, start=mark)
    lab.wait_ready(20)
    time.sleep(0.3)  # the addresses' events: the link-addresses are read again
    for n in new:
        clients[n] = Client(cli, f"cc{n[2:]}")
    log = proc.log()[mark:]
    c.eq([len(re.findall(rf"interface {n}: matches 'vc\*', added", log)) for n in new], [1] * 8,
         "each new interface's addition is logged once")
    c.eq([len(re.findall(rf"interface {n}: gone, removed", log)) for n in gone], [1] * 8,
         "each deleted interface's removal is logged once")
    c.eq([n for n in gone if re.search(rf"interface {n}: absent", log)], [],
         "a deleted glob match is removed, not waited for as absent")
    now = names[:-8] + new
    exchange(now, 0x200000, "after 8 deleted and 8 created")

    cnt = counters(proc, len(proc.log()))
    c.eq({n: cnt.get(n) for n in names[:3] + names[-9:-8]}, {n: 2 for n in names[:3] + names[-9:-8]},
         "an interface there throughout counts both of its Solicits (counters kept per name across changes)")
    c.eq({n: cnt.get(n) for n in new}, {n: 1 for n in new}, "each new interface counts its one Solicit")
    c.eq([n for n in gone if n in cnt], [], "the deleted interfaces are no longer reported")
    if "shared" in extra:
        c.eq(proc.log().count("one shared TPACKET_V3 socket for every client interface"), 1,
             "one shared capture socket, opened once")
        c.check(re.search(r"capture kernel-drops .*shared=0", proc.log()), "the shared socket's kernel drops: 0")
    c.eq(proc.stop(), 0, "the relay exits 0 on SIGTERM")


# --- snoop: every port of a bridge ------------------------------------------------------------------

def snoop_group(c, lab, binary, extra=()):
    sw, cl, rtr = lab.netns("sw"), lab.netns("cl"), lab.netns("rtr")
    ports = [f"p{i}" for i in range(N_SNOOP)]
    veths(lab, sw, cl, [(p, f"q{i}") for i, p in enumerate(ports)])
    up, down = lab.veth(sw, rtr, "up0", "dn0")
    br = lab.bridge(sw, ports + [up], name="br0")
    lab.wait_ready(30)
    # The router: a UDP socket on [::]:547 in ff02::1:2 on its link (the LDRA's Relay-forwards).
    down_ifindex = rtr.ifindex(down)
    router = rtr.udp("::", lib.PORT_SERVER, rcvbuf=4 << 20)
    router.setsockopt(socket.IPPROTO_IPV6, IPV6_JOIN_GROUP, lib.a6(MCAST) + down_ifindex.to_bytes(4, sys.byteorder))

    proc = sw.spawn([binary, "snoop", "--bridge", br, "--uplink", up, "--install-filters",
                     "--rate-limit-port", "0", "--rate-limit-mac", "0", *extra], name="snoop")
    for p in ports:
        proc.wait_log(rf"interface {p}: up \(ifindex \d+\), capturing", timeout=30)
    proc.wait_log(r"installed nftables table bridge regrelay_snoop", timeout=10)
    log = proc.log()
    if "shared" in extra:
        c.eq(log.count("one shared TPACKET_V3 socket for every port"), 1, "one shared capture socket, opened once")
    c.eq(len(re.findall(r"port p\d+: on bridge br0, added as client port", log)), N_SNOOP,
         f"{N_SNOOP} bridge ports taken as client ports at start, each logged once")
    c.check("port up0: on bridge" not in log, "the uplink is not a client port")

    clients = {p: Client(cl, f"q{i}") for i, p in enumerate(ports)}

    def exchange(which, xid_base, what, expect=True):
        sent = {p: (xid_base + k, clients[p].solicit(xid_base + k)) for k, p in enumerate(which)}
        got = recv_all(router, len(which) if expect else 1, 10 if expect else 1.5)
        by_ifid = {}
        for data, src in got:
            if data[0] != RELAY_FORW:
                continue
            rf = parse_relay(data)
            ifid = find_opts(rf["options"], OPT_INTERFACE_ID)
            if ifid:
                by_ifid[ifid[0].decode(errors="replace")] = (rf, src)
        if not expect:
            c.eq(sorted(by_ifid), [], what)
            return
        c.eq(sorted(by_ifid), sorted(which), f"{what}: one Relay-forward per client port, Interface-ID the port")
        bad = [p for p in which if p in by_ifid and
               (find_opts(by_ifid[p][0]["options"], OPT_RELAY_MSG) != [sent[p][1]] or by_ifid[p][0]["peer"] != clients[p].ll)]
        c.eq(bad, [], f"{what}: each carries its client's Solicit verbatim, peer-address its link-local")
        for p in which:
            if p not in by_ifid:
                continue
            rf, src = by_ifid[p]
            adv = client_msg(ADVERTISE, sent[p][0], opt(OPT_CLIENTID, duid_ll(clients[p].mac)))
            router.sendto(relay_msg(RELAY_REPL, 0, "::", rf["peer"], opt(OPT_INTERFACE_ID, p.encode()),
                                    opt(OPT_RELAY_MSG, adv)), (rf["peer"], lib.PORT_SERVER, 0, down_ifindex))
        missing = []
        for p in which:
            if p not in by_ifid:
                continue
            got = recv(clients[p].sock, 3)
            want = client_msg(ADVERTISE, sent[p][0], opt(OPT_CLIENTID, duid_ll(clients[p].mac)))
            if got is None or got[0] != want:
                missing.append(p)
        c.eq(missing, [], f"{what}: every client gets its own Advertise, on its own port")

    exchange(ports, 0x300000, f"{N_SNOOP} ports")

    def client_set():
        out = sw.exec("nft", "list", "set", "bridge", "regrelay_snoop", "client_ports", check=False).stdout
        return set(re.findall(r'"?(p\d+)"?', out.split("elements", 1)[1])) if "elements" in out else set()

    c.eq(client_set(), set(ports), "the nftables client set names every bridge port but the uplink")

    # A port joins the bridge, another leaves it.
    mark = len(proc.log())
    veths(lab, sw, cl, [("p48", "q48")])
    sw.ip("link", "set", "p48", "master", br)
    sw.ip("link", "set", "p5", "nomaster")
    proc.wait_log(r"port p48: on bridge br0, added as client port", timeout=10, start=mark)
    proc.wait_log(r"interface p48: up \(ifindex \d+\), capturing", timeout=10, start=mark)
    proc.wait_log(r"port p5: no longer on bridge br0, removed", timeout=10, start=mark)
    proc.wait_log(r"nftables table bridge regrelay_snoop: client ports updated", timeout=10, start=mark)
    lab.wait_ready(20)
    clients["p48"] = Client(cl, "q48")
    time.sleep(0.3)
    log = proc.log()[mark:]
    c.eq(len(re.findall(r"port p48: on bridge br0, added", log)), 1, "p48 joining is logged once")
    c.eq(len(re.findall(r"port p5: no longer on bridge br0, removed", log)), 1, "p5 leaving is logged once")
    now = [p for p in ports if p != "p5"] + ["p48"]
    c.eq(client_set(), set(now), "the nftables client set follows: p48 in, p5 out")
    exchange(now, 0x400000, "after p48 joined and p5 left")
    exchange(["p5"], 0x500000, "p5, off the bridge, is no longer relayed", expect=False)
    c.eq(proc.stop(), 0, "snoop exits 0 on SIGTERM")
    c.check("regrelay_snoop" not in sw.exec("nft", "list", "tables").stdout, "the nftables table is removed on exit")


GROUPS = {"relay": relay_group, "snoop": snoop_group,
          # The relay with one shared TPACKET_V3 socket for its 64+ client interfaces.
          "relay_shared": lambda c, lab, binary: relay_group(c, lab, binary, ["--capture", "shared"]),
          # The same with one shared TPACKET_V3 socket for the 48 ports (--capture shared).
          "snoop_shared": lambda c, lab, binary: snoop_group(c, lab, binary, ["--capture", "shared"])}

if __name__ == "__main__":
    sys.exit(lib.run_groups("many", GROUPS, 150, needs=lambda g: [("nft", "nftables")] if g.startswith("snoop") else []))
