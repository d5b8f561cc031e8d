#!/usr/bin/python3
"""Issue 8, points 1, 4 and 5: `regrelay relay` and `regrelay snoop` survive interface faults,
signals and reloads, refuse a second instance and run with only the privileges they need.
Network namespaces made here:

    relay groups:  cli ns --veth-- rel ns ------------------------------ srv ns
                   eth0            down0 2001:db8:1::1 | up0 2001:db8:ffff::2    eth0 2001:db8:ffff::1 (S1)
                   (cliB ns eth0 --- down1 2001:db8:3::1, reload only)                2001:db8:ffff::3 (S2)
    snoop groups:  cl ns --veth-- [c1] sw ns: bridge br0 + regrelay snoop [uplink] --veth-- down0 rtr ns
                   a UDP socket on [::]:547 in ff02::1:2 on rtr's down0 sees the LDRA's Relay-forwards

Clients' probes are Solicits (fresh xid each) sent as whole frames from a packet socket on the
client's interface (source: the EUI-64 link-local of its MAC), so they work the moment the link
exists. "Recovery" is measured from the moment the interface is back (the `ip` command returned)
to the arrival of the first Relay-forward of a probe sent every 100 ms.

    hardening_test.py REGRELAY GROUP

GROUP is one of:
  flap           relay: two flaps of down0 (`ip link set down0 down`, waiting up to 2 s for the
                 daemon's "interface down0: down", then up). After the first a probe is relayed
                 (link-address 2001:db8:1::1) within 2 s; after the second the link stays quiet and the
                 relay's CPU time over 10 s stays under 2 % of a core (a frame arriving would clear the
                 capture's pending error and hide a busy loop), then a probe is relayed. "interface
                 down0: down" and "interface down0: up" logged once per flap (2 each); SIGUSR1 reports
                 `interface-events down0 up=N down=2 absent=0 recreated=0 readdressed=N` (up >= 2).
                 keep_addr_on_down is set in rel, so the flap is only a flap (the kernel would
                 otherwise flush 2001:db8:1::1: that is `renumber`'s business).
  snoopflap      the same for the snoop client port c1 (--install-filters): a probe's LDRA
                 Relay-forward (Interface-ID c1) reaches the router within 2 s; CPU < 2 % over 10 s.
  recreate       relay: down0 deleted ("interface down0: absent" or "gone") and created again (new
                 veth pair, new MACs, 2001:db8:1::1 re-added): a probe is relayed within 2 s with
                 link-address 2001:db8:1::1 and option 79 = the new client MAC; a Relay-reply reaches
                 the client on the new link from the relay's new link-local; SIGUSR1 reports
                 recreated=1 absent=1.
  snooprecreate  snoop: port c1 deleted and created again (re-enslaved to br0), --install-filters:
                 a probe is relayed within 2 s (not black-holed), no raw client multicast leaks to
                 the router, and a Relay-reply from the router reaches the client on the new port.
  renumber       relay: 2001:db8:2::1/64 added to down0, then 2001:db8:1::1/64 removed (and the
                 server's route moved): within 2 s a Relay-forward carries link-address 2001:db8:2::1;
                 "interface down0: link-address 2001:db8:1::1 -> 2001:db8:2::1"; readdressed >= 1;
                 the server's Relay-reply for link-address 2001:db8:2::1 reaches the client.
  absent         relay started with down0 absent ("interface down0: absent", keeps running), then
                 created: relayed within 2 s; again with down0 present but down ("interface down0:
                 down"), then brought up: relayed within 2 s.
  snoopabsent    the same for snoop client port c1 (--install-filters).
  reload         relay --config FILE (client-iface = down0, server = S1). Rewritten to add down1 and
                 server S2, SIGHUP during a 200/s stream of Solicits on down0 (600 clients) for 3 s:
                 "configuration reloaded", same PID, every streamed message reaches S1 or S2 exactly
                 once, the tail at S2; then down1 -> S2 only and down0 -> S2 only. An invalid file (line 3 `server =
                 not-an-address`), SIGHUP: a log line with "FILE:3" and "keeping the running
                 configuration", no "configuration reloaded", still relaying both ports to S2.
  sighup_write   relay --write DIR/F.pcap (DIR owned by the user the relay drops to): F.pcap renamed
                 to F.pcap.1, SIGHUP: a new F.pcap appears and holds the next exchange (regrelay
                 decode --json), F.pcap.1 is intact and holds the first.
  sigpipe        relay --log-level debug with stdout and stderr to a pipe whose read end is then
                 closed; probes and SIGUSR1 make it log: alive after 2 s (not killed by SIGPIPE), still
                 relays, SIGTERM exits 0.
  second         a second `regrelay relay` on down0 exits non-zero within 5 s with a line holding
                 "already" and down0 (or 547); the first still relays, each probe exactly once.
  snoopsecond    the same for snoop (c1/uplink, --install-filters): the first's table bridge
                 regrelay_snoop is still installed after the second is gone; one Relay-forward each.
  privs          relay --user nobody: /proc/PID/status Uid and Gid (all four) != 0, Groups without 0,
                 CapEff = CapPrm = 0000000000002000 (CAP_NET_RAW), CapBnd within it; "dropped
                 privileges to user nobody"; still relays, and after down0 is recreated too. Without
                 --user as root: drops to regrelay if that user exists, else nobody. Started as nobody
                 without capabilities (setpriv): exits non-zero naming CAP_NET_RAW. Started as nobody
                 with ambient CAP_NET_RAW and CAP_NET_BIND_SERVICE: relays (as today).
  snoopprivs     snoop --install-filters --user nobody: CapEff = CapPrm = 0000000000003000
                 (CAP_NET_ADMIN|CAP_NET_RAW), uids/gids != 0, relays, port c1 recreated still relays,
                 SIGTERM removes the table (CAP_NET_ADMIN kept for it).

Only 2001:db8::/32 and link-local addresses. Exits 0 when every check passes, 1 otherwise, 77
(skip) when not root or without nft (snoop groups) or setpriv (privs).
"""

import json
import os
import pwd
import re
import select
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import (ADVERTISE, IP, OPT_CLIENT_LINKLAYER, OPT_CLIENTID, OPT_ELAPSED, OPT_IA_NA,  # noqa: E402
                 OPT_INTERFACE_ID, OPT_RELAY_MSG, OPT_SERVERID, RELAY_FORW, RELAY_REPL, SOLICIT, client_msg,
                 duid_ll, find_opts, opt, parse_relay, relay_msg, run)

RELAY_LINK = "2001:db8:1::1"
RELAY_LINK_NEW = "2001:db8:2::1"
RELAY_LINK_B = "2001:db8:3::1"
RELAY_UP = "2001:db8:ffff::2"
S1 = "2001:db8:ffff::1"
S2 = "2001:db8:ffff::3"
CLIENT = "2001:db8:1::100"
SNOOP_CLIENT = "2001:db8:1::101"
MCAST = lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS
SERVER_DUID = duid_ll(bytes.fromhex("02000000cc01"))
TABLE = "regrelay_snoop"  # snoop/filters.h kFilterTable
RECOVERY_LIMIT = 2.0      # s: issue 8, "recovery within 2 s of the interface coming back"
GIVE_UP = 4.0             # s: how long a probe loop goes on, so a slow recovery is still measured
CPU_WINDOW = 10.0         # s
CPU_LIMIT = 2.0           # % of one core

Checks = lib.Checks

# --- small helpers ------------------------------------------------------------------------------

_xid = [0x480000]


def next_xid():
    _xid[0] = (_xid[0] + 1) & 0xFFFFFF
    return _xid[0]


def solicit(xid, mac):
    return client_msg(SOLICIT, xid, opt(OPT_CLIENTID, duid_ll(mac)), opt(OPT_ELAPSED, b"\x00\x00"),
                      opt(OPT_IA_NA, (1).to_bytes(4, "big") + bytes(8)))


def relay_forward(data):
    """(relay fields, option 9 bytes) of a Relay-forward, or (None, None)."""
    try:
        rf = parse_relay(data)
    except ValueError:
        return None, None
    inner = find_opts(rf["options"], OPT_RELAY_MSG)
    if rf["type"] != RELAY_FORW or not inner or len(inner[0]) < 4:
        return None, None
    return rf, inner[0]


def describe(rf):
    return (f"link {rf['link']} peer {rf['peer']} ifid {find_opts(rf['options'], OPT_INTERFACE_ID)} "
            f"opt79 {[v.hex() for v in find_opts(rf['options'], OPT_CLIENT_LINKLAYER)]}")


def wait_relayed(send, socks, ok=lambda rf, sock: True, t0=None, give_up=GIVE_UP, interval=0.1):
    """Sends a probe (send(xid) -> the bytes sent) every `interval` s until a Relay-forward of one
    of them that ok(rf, sock) accepts arrives on one of `socks`. Returns (seconds since t0 or None,
    rf, [descriptions of the probes' Relay-forwards that ok refused])."""
    t0 = time.monotonic() if t0 is None else t0
    sent, refused, next_send = {}, [], time.monotonic()
    while True:
        now = time.monotonic()
        if now - t0 > give_up:
            return None, None, refused
        if now >= next_send:
            xid = next_xid()
            try:
                sent[xid] = send(xid)
            except OSError:  # the link is not there (yet): ENETDOWN, ENXIO...
                pass
            next_send = now + interval
        r, _, _ = select.select(socks, [], [], max(0.0, min(next_send, t0 + give_up) - time.monotonic()))
        for s in r:
            rf, inner = relay_forward(s.recv(65535))
            if rf is None or sent.get(int.from_bytes(inner[1:4], "big")) != inner:
                continue
            if ok(rf, s):
                return time.monotonic() - t0, rf, refused
            refused.append(describe(rf))


def exchange_one(send, socks, timeout=2.0, linger=0.5):
    """Sends one probe; returns [(sock, rf)] of its Relay-forwards seen until `linger` s after the
    first (or `timeout` s when none comes)."""
    xid = next_xid()
    sent = send(xid)
    got, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select(socks, [], [], max(0.0, end - time.monotonic()))
        for s in r:
            rf, inner = relay_forward(s.recv(65535))
            if rf is not None and inner == sent:
                if not got:
                    end = time.monotonic() + linger
                got.append((s, rf))
    return got


def drain(socks):
    for s in socks:
        while select.select([s], [], [], 0)[0]:
            s.recv(65535)


def check_recovery(c, what, took, refused, limit=RECOVERY_LIMIT):
    if took is None:
        print(f"measure: {what}: nothing relayed within {GIVE_UP:.0f} s", flush=True)
    else:
        print(f"measure: {what}: recovered in {took * 1000:.0f} ms", flush=True)
    return c.check(took is not None and took <= limit, f"{what}: a Solicit is relayed within {limit:.0f} s",
                   f"took {'never' if took is None else f'{took:.2f} s'}"
                   + (f"; refused Relay-forwards: {refused[:3]}" if refused else ""))


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_cpu(c, proc, what):
    c0, t0 = cpu_seconds(proc.pid), time.monotonic()
    time.sleep(CPU_WINDOW)
    used, wall = cpu_seconds(proc.pid) - c0, time.monotonic() - t0
    pct = 100.0 * used / wall
    print(f"measure: {what}: CPU {used:.2f} s in {wall:.1f} s = {pct:.1f} % of a core", flush=True)
    c.check(pct < CPU_LIMIT, f"{what}: CPU time over {CPU_WINDOW:.0f} s after the event under {CPU_LIMIT:.0f} % "
            f"of a core (no busy loop)", f"{pct:.1f} %")


def wait_log(c, proc, pattern, what, timeout=5.0, start=0):
    """A check that the log (from `start`) matches within `timeout` s."""
    try:
        proc.wait_log(pattern, timeout=timeout, start=start)
        return c.check(True, what)
    except (TimeoutError, RuntimeError) as e:
        return c.check(False, what, str(e)[-600:])


def count_log(proc, pattern, start=0):
    return len(re.findall(pattern, proc.log()[start:], re.M))


def alive(proc):
    return proc.popen.poll() is None


def check_alive(c, proc, what):
    rc = proc.popen.poll()
    return c.check(rc is None, what, f"exited with status {rc}")


def interface_events(c, proc, ifname):
    """SIGUSR1, then the counts of the `interface-events IF k=N ...` line of that report, or None."""
    start = len(proc.log())
    proc.signal(signal.SIGUSR1)
    rx = rf"interface-events {re.escape(ifname)}((?: [a-z-]+=\d+)+)[ \t]*$"
    try:
        m = proc.wait_log(rf"(?m){rx}", timeout=5, start=start)
    except (TimeoutError, RuntimeError) as e:
        c.check(False, f"SIGUSR1 reports `interface-events {ifname} up=N down=N absent=N recreated=N readdressed=N`",
                str(e)[-400:])
        return None
    c.check(True, f"SIGUSR1 reports interface-events for {ifname}: {m.group(0).strip()}")
    return {k: int(v) for k, v in re.findall(r"([a-z-]+)=(\d+)", m.group(1))}


def veth_down(a, an, b, bn):
    """A veth pair an (in a) -- bn (in b), both left down."""
    run([IP, "link", "add", an, "netns", a.name, "type", "veth", "peer", "name", bn, "netns", b.name])


def wait_link_local(ns, ifname, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            ll = ns.link_local(ifname)
            if not any(a.get("tentative") for a in ns.addrs(ifname)):
                return ll
        except (RuntimeError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{ns.name}/{ifname}: no usable link-local address")
        time.sleep(0.02)


def drop_user():
    """The user a daemon started as root without --user switches to."""
    try:
        pwd.getpwnam("regrelay")
        return "regrelay"
    except KeyError:
        return "nobody"


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def check_privileges(c, proc, caps, what, user="nobody"):
    """/proc/PID/status: every uid and gid is the user's (and not 0), no group 0, and the capability
    sets are exactly `caps` (CapEff, CapPrm) or within it (CapBnd)."""
    try:
        st = proc_status(proc.pid)
    except OSError as e:
        c.check(False, f"{what}: /proc/PID/status readable", str(e))
        return
    pw = pwd.getpwnam(user)
    uids, gids = st["Uid"].split(), st["Gid"].split()
    c.eq(uids, [str(pw.pw_uid)] * 4, f"{what}: Uid real, effective, saved, fs = {user} ({pw.pw_uid}), not 0")
    c.eq(gids, [str(pw.pw_gid)] * 4, f"{what}: Gid real, effective, saved, fs = {user}'s group ({pw.pw_gid}), not 0")
    c.check("0" not in st.get("Groups", "").split(), f"{what}: no supplementary group 0", st.get("Groups", ""))
    want = f"{caps:016x}"
    c.eq(st["CapEff"], want, f"{what}: CapEff exactly {want}")
    c.eq(st["CapPrm"], want, f"{what}: CapPrm exactly {want}")
    c.check(int(st["CapBnd"], 16) & ~caps == 0, f"{what}: CapBnd within {want}", st["CapBnd"])
    print(f"measure: {what}: Uid {st['Uid']} Gid {st['Gid']} Groups '{st.get('Groups', '')}' CapInh {st['CapInh']} "
          f"CapPrm {st['CapPrm']} CapEff {st['CapEff']} CapBnd {st['CapBnd']} CapAmb {st.get('CapAmb')}", flush=True)


def wait_exit(proc, timeout):
    try:
        return proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


# --- the relay lab ------------------------------------------------------------------------------

class RelayLab:
    """cli -- rel -- srv. The client link (cli eth0 -- rel down0) can be made, deleted and made
    again; S1 and S2 each have a UDP socket on port 547 in srv."""

    def __init__(self, lab, binary, client_link=True, keep_addr=False, second_client=False):
        self.lab, self.binary = lab, binary
        self.cli, self.rel, self.srv = lab.netns("cli"), lab.netns("rel"), lab.netns("srv")
        if keep_addr:
            for scope in ("all", "default"):
                self.rel.sysctl(f"net.ipv6.conf.{scope}.keep_addr_on_down", 1)
        lab.veth(self.rel, self.srv, a_name="up0", b_name="eth0")
        self.rel.add_addr("up0", RELAY_UP + "/64")
        self.rel.forwarding(True)
        self.srv.add_addr("eth0", S1 + "/64")
        self.srv.add_addr("eth0", S2 + "/64")
        self.srv.add_route("2001:db8:1::/64", via=RELAY_UP)
        self.cli_b = None
        if second_client:
            self.cli_b = lab.netns("clib")
            lab.veth(self.cli_b, self.rel, a_name="eth0", b_name="down1")
            self.rel.add_addr("down1", RELAY_LINK_B + "/64")
            self.srv.add_route("2001:db8:3::/64", via=RELAY_UP)
        if client_link:
            self.make_client_link()
        lab.wait_ready()
        self.s1 = self.srv.udp(S1, lib.PORT_SERVER, rcvbuf=4 << 20)
        self.s2 = self.srv.udp(S2, lib.PORT_SERVER, rcvbuf=4 << 20)
        self.servers = [self.s1, self.s2]
        if second_client:
            self.mac_b = self.cli_b.mac("eth0")
            self.ps_b = self.cli_b.packet_socket("eth0")

    def make_client_link(self, up=True):
        """cli eth0 -- rel down0 (new MACs), 2001:db8:1::1/64 on down0 before it goes up."""
        veth_down(self.cli, "eth0", self.rel, "down0")
        self.rel.add_addr("down0", RELAY_LINK + "/64")
        self.cli.add_addr("eth0", CLIENT + "/64")
        self.cli.ip("link", "set", "eth0", "up")
        if up:
            self.rel.ip("link", "set", "down0", "up")
        self.mac = self.cli.mac("eth0")
        self.ps = self.cli.packet_socket("eth0")

    def delete_client_link(self):
        self.rel.ip("link", "del", "down0")

    def start(self, *extra, name="relay", servers=(S1,), iface="down0", wait=True, log_level="info"):
        argv = [self.binary, "relay", "--client-iface", iface]
        for s in servers:
            argv += ["--server", s]
        argv += ["--log-level", log_level, *extra]
        proc = self.rel.spawn(argv, name=name)
        if wait:
            proc.wait_log(r"relaying from " + re.escape(iface))
        return proc

    @staticmethod
    def _send(ps, mac, xid):
        msg = solicit(xid, mac)
        ps.send(lib.udp6_frame(mac, lib.multicast_mac(MCAST), lib.eui64_link_local(mac), MCAST, 546, 547, msg))
        return msg

    def send(self, xid):
        """A Solicit from the client on down0's link."""
        return self._send(self.ps, self.mac, xid)

    def send_b(self, xid):
        """A Solicit from the client on down1's link."""
        return self._send(self.ps_b, self.mac_b, xid)

    def forward_ok(self, link=RELAY_LINK):
        """A Relay-forward for the client on down0 as the relay builds it (hop 0, link-address, option 79)."""
        return lambda rf, sock: (rf["hop"] == 0 and rf["link"] == link and rf["peer"] == lib.eui64_link_local(self.mac)
                                 and find_opts(rf["options"], OPT_CLIENT_LINKLAYER) == [b"\x00\x01" + self.mac])

    def reply_reaches_client(self, c, what, link=RELAY_LINK):
        """The server's Relay-reply (link-address `link`, Advertise for the client's link-local)
        reaches the client's [link-local]:546 from the relay's link-local on down0."""
        ll = wait_link_local(self.cli, "eth0")
        relay_ll = wait_link_local(self.rel, "down0")
        sock = self.cli.udp(ll, lib.PORT_CLIENT, ifname="eth0")
        adv = client_msg(ADVERTISE, next_xid(), opt(OPT_CLIENTID, duid_ll(self.mac)), opt(OPT_SERVERID, SERVER_DUID))
        self.s1.sendto(relay_msg(RELAY_REPL, 0, link, ll, opt(OPT_RELAY_MSG, adv)), (RELAY_UP, lib.PORT_SERVER))
        r, _, _ = select.select([sock], [], [], 2.0)
        got = sock.recvfrom(65535) if r else None
        sock.close()
        if c.check(got is not None, f"{what}: the server's Relay-reply (link-address {link}) reaches the client"):
            c.eq((got[0], got[1][0].split("%")[0], got[1][1]), (adv, relay_ll, lib.PORT_SERVER),
                 f"{what}: the Advertise, byte for byte, from the relay's link-local on the new link, port 547")


# --- the snoop lab ------------------------------------------------------------------------------

class SnoopLab:
    """cl eth0 -- [c1] br0 [uplink] -- down0 rtr, snoop in sw. The port c1 can be made, deleted and
    made again; the router has a UDP socket on [::]:547 joined to ff02::1:2 on down0."""

    def __init__(self, lab, binary, port=True):
        self.lab, self.binary = lab, binary
        self.cl, self.sw, self.rtr = lab.netns("cl"), lab.netns("sw"), lab.netns("rtr")
        lab.veth(self.rtr, self.sw, a_name="down0", b_name="uplink")
        self.br = lab.bridge(self.sw, ["uplink"], name="br0")
        if port:
            self.make_port()
        lab.wait_ready()
        self.router = self.rtr.udp("::", lib.PORT_SERVER, rcvbuf=4 << 20)
        mreq = lib.a6(MCAST) + self.rtr.ifindex("down0").to_bytes(4, sys.byteorder)
        self.router.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)

    def make_port(self, up=True):
        veth_down(self.cl, "eth0", self.sw, "c1")
        self.sw.ip("link", "set", "c1", "master", self.br)
        self.cl.add_addr("eth0", SNOOP_CLIENT + "/64")
        self.cl.ip("link", "set", "eth0", "up")
        if up:
            self.sw.ip("link", "set", "c1", "up")
        self.mac = self.cl.mac("eth0")
        self.ps = self.cl.packet_socket("eth0")

    def delete_port(self):
        self.sw.ip("link", "del", "c1")

    def start(self, *extra, name="snoop", wait=True, filters=True, log_level="info"):
        argv = [self.binary, "snoop", "--client-port", "c1", "--uplink", "uplink", "--log-level", log_level]
        if filters:
            argv.append("--install-filters")
        proc = self.sw.spawn(argv + list(extra), name=name)
        if wait:
            proc.wait_log(r"snooping uplink port uplink")
        return proc

    def send(self, xid):
        return RelayLab._send(self.ps, self.mac, xid)

    def forward_ok(self):
        """The LDRA's Relay-forward for the client on c1 (RFC 6221: hop 0, link-address ::, Interface-ID)."""
        return lambda rf, sock: (rf["hop"] == 0 and rf["link"] == "::" and rf["peer"] == lib.eui64_link_local(self.mac)
                                 and find_opts(rf["options"], OPT_INTERFACE_ID) == [b"c1"])

    def table_present(self):
        return self.sw.exec("nft", "list", "table", "bridge", TABLE, check=False).returncode == 0


# --- point 1: interface faults --------------------------------------------------------------------

def flap(c, proc, ns, ifname, send, socks, ok, what):
    """Two flaps (down, waiting up to 2 s for the daemon to say so, then up). After the first, probes
    measure the recovery; after the second the link stays quiet for the CPU measurement (a frame
    arriving would read the capture's pending error and hide a busy loop), then a probe must pass."""
    took, _, _ = wait_relayed(send, socks, ok, give_up=3.0)
    c.check(took is not None, f"{what}: relays before the flap")
    drain(socks)
    start = len(proc.log())

    def down_up():
        mark = len(proc.log())
        ns.ip("link", "set", ifname, "down")
        try:
            proc.wait_log(rf"interface {re.escape(ifname)}: down\b", timeout=2, start=mark)
        except (TimeoutError, RuntimeError):
            pass  # counted below
        ns.ip("link", "set", ifname, "up")
        return time.monotonic()

    t0 = down_up()
    took, _, refused = wait_relayed(send, socks, ok, t0=t0)
    check_recovery(c, f"{what}: after `ip link set {ifname} down; ip link set {ifname} up`", took, refused)
    down_up()
    check_cpu(c, proc, f"{what}: quiet link after a second flap")
    took, _, refused = wait_relayed(send, socks, ok)
    c.check(took is not None and took <= RECOVERY_LIMIT, f"{what}: relays after the quiet 10 s",
            f"refused: {refused[:3]}")
    check_alive(c, proc, f"{what}: the daemon is still running")
    c.eq(count_log(proc, rf"interface {re.escape(ifname)}: down\b", start), 2,
         f"{what}: 'interface {ifname}: down' logged once per flap (2)")
    c.eq(count_log(proc, rf"interface {re.escape(ifname)}: up\b", start), 2,
         f"{what}: 'interface {ifname}: up' logged once per flap (2)")
    ev = interface_events(c, proc, ifname)
    if ev is not None:
        c.eq((ev.get("down"), ev.get("absent"), ev.get("recreated")), (2, 0, 0),
             f"{what}: interface-events down=2 absent=0 recreated=0")
        c.check((ev.get("up") or 0) >= 2, f"{what}: interface-events up >= 2", str(ev))
        c.check("readdressed" in ev, f"{what}: interface-events has readdressed=N", str(ev))


def group_flap(c, lab, binary):
    t = RelayLab(lab, binary, keep_addr=True)
    relay = t.start()
    flap(c, relay, t.rel, "down0", t.send, t.servers, t.forward_ok(), "relay")
    c.eq(relay.stop(), 0, "relay: SIGTERM, exit 0")


def group_snoopflap(c, lab, binary):
    t = SnoopLab(lab, binary)
    snoop = t.start()
    flap(c, snoop, t.sw, "c1", t.send, [t.router], t.forward_ok(), "snoop")
    c.check(t.table_present(), f"snoop: table bridge {TABLE} still installed after the flap")
    c.eq(snoop.stop(), 0, "snoop: SIGTERM, exit 0")


def group_recreate(c, lab, binary):
    t = RelayLab(lab, binary)
    relay = t.start()
    recreate_relay_link(c, t, relay, "relay")
    t.reply_reaches_client(c, "relay after recreate")
    ev = interface_events(c, relay, "down0")
    if ev is not None:
        c.eq((ev.get("recreated"), ev.get("absent")), (1, 1), "interface-events recreated=1 absent=1")
    c.eq(relay.stop(), 0, "relay: SIGTERM, exit 0")


def recreate_relay_link(c, t, relay, what):
    took, _, _ = wait_relayed(t.send, t.servers, t.forward_ok(), give_up=3.0)
    c.check(took is not None, f"{what}: relays before down0 is deleted")
    old_mac = t.mac
    start = len(relay.log())
    t.delete_client_link()
    wait_log(c, relay, r"interface down0: (absent|gone)\b", f"{what}: logs 'interface down0: absent' (or gone)",
             timeout=3, start=start)
    check_alive(c, relay, f"{what}: keeps running when down0 is deleted")
    mark = len(relay.log())
    t.make_client_link()
    t0 = time.monotonic()
    took, rf, refused = wait_relayed(t.send, t.servers, t.forward_ok(), t0=t0)
    check_recovery(c, f"{what}: down0 deleted and created again", took, refused)
    if rf:
        c.check(t.mac != old_mac and find_opts(rf["options"], OPT_CLIENT_LINKLAYER) == [b"\x00\x01" + t.mac],
                f"{what}: the Relay-forward has link-address {RELAY_LINK} and option 79 = the new client MAC "
                f"{t.mac.hex(':')}")
    wait_log(c, relay, r"interface down0: up\b", f"{what}: logs 'interface down0: up' for the new interface",
             timeout=1, start=mark)


def recreate_snoop_port(c, t, snoop, what):
    took, _, _ = wait_relayed(t.send, [t.router], t.forward_ok(), give_up=3.0)
    c.check(took is not None, f"{what}: relays before c1 is deleted")
    start = len(snoop.log())
    t.delete_port()
    wait_log(c, snoop, r"interface c1: (absent|gone)\b", f"{what}: logs 'interface c1: absent' (or gone)",
             timeout=3, start=start)
    check_alive(c, snoop, f"{what}: keeps running when c1 is deleted")
    mark = len(snoop.log())
    t.make_port()
    t0 = time.monotonic()
    took, _, refused = wait_relayed(t.send, [t.router], t.forward_ok(), t0=t0)
    check_recovery(c, f"{what}: c1 deleted and created again (--install-filters)", took, refused)
    wait_log(c, snoop, r"interface c1: up\b", f"{what}: logs 'interface c1: up' for the new port", timeout=1,
             start=mark)
    # The filters still hold on the new port: a Solicit reaches the router only wrapped.
    drain([t.router])
    raw = []
    sol = t.send(next_xid())
    end = time.monotonic() + 0.8
    while time.monotonic() < end:
        r, _, _ = select.select([t.router], [], [], max(0.0, end - time.monotonic()))
        if r:
            data = t.router.recv(65535)
            if data == sol:
                raw.append(data)
    c.eq(len(raw), 0, f"{what}: the client's raw Solicit is not bridged to the router (filters hold on the new port)")
    return took


def snoop_reply_reaches_client(c, t, what):
    """The router's Relay-reply for the client (peer its link-local, Interface-ID c1) is unwrapped
    by snoop and injected on the new c1: the client's [link-local]:546 gets the Advertise."""
    ll = wait_link_local(t.cl, "eth0")
    sock = t.cl.udp(ll, lib.PORT_CLIENT, ifname="eth0")
    adv = client_msg(ADVERTISE, next_xid(), opt(OPT_CLIENTID, duid_ll(t.mac)), opt(OPT_SERVERID, SERVER_DUID))
    rr = relay_msg(RELAY_REPL, 0, "::", ll, opt(OPT_INTERFACE_ID, b"c1"), opt(OPT_RELAY_MSG, adv))
    t.router.sendto(rr, (ll, lib.PORT_SERVER, 0, t.rtr.ifindex("down0")))
    r, _, _ = select.select([sock], [], [], 2.0)
    got = sock.recv(65535) if r else None
    sock.close()
    c.eq(got, adv, f"{what}: the router's Relay-reply reaches the client on the new c1 as the Advertise")


def group_snooprecreate(c, lab, binary):
    t = SnoopLab(lab, binary)
    snoop = t.start()
    recreate_snoop_port(c, t, snoop, "snoop")
    snoop_reply_reaches_client(c, t, "snoop after recreate")
    ev = interface_events(c, snoop, "c1")
    if ev is not None:
        c.eq((ev.get("recreated"), ev.get("absent")), (1, 1), "interface-events recreated=1 absent=1")
    c.check(t.table_present(), f"table bridge {TABLE} still installed")
    c.eq(snoop.stop(), 0, "snoop: SIGTERM, exit 0")


def group_renumber(c, lab, binary):
    t = RelayLab(lab, binary)
    relay = t.start()
    took, _, _ = wait_relayed(t.send, t.servers, t.forward_ok(RELAY_LINK), give_up=3.0)
    c.check(took is not None, f"before: Relay-forwards carry link-address {RELAY_LINK}")
    start = len(relay.log())
    # Make before break: the new prefix first, then the old one goes.
    t.rel.add_addr("down0", RELAY_LINK_NEW + "/64")
    t.srv.add_route("2001:db8:2::/64", via=RELAY_UP)
    t.rel.ip("-6", "addr", "del", RELAY_LINK + "/64", "dev", "down0")
    t.srv.ip("-6", "route", "del", "2001:db8:1::/64")
    t0 = time.monotonic()
    took, _, refused = wait_relayed(t.send, t.servers, t.forward_ok(RELAY_LINK_NEW), t0=t0)
    check_recovery(c, f"renumbered {RELAY_LINK} -> {RELAY_LINK_NEW}: link-address {RELAY_LINK_NEW}", took, refused)
    wait_log(c, relay, rf"interface down0: link-address {re.escape(RELAY_LINK)} -> {re.escape(RELAY_LINK_NEW)}\b",
             f"logs 'interface down0: link-address {RELAY_LINK} -> {RELAY_LINK_NEW}'", timeout=1, start=start)
    t.reply_reaches_client(c, "after renumbering", link=RELAY_LINK_NEW)
    ev = interface_events(c, relay, "down0")
    if ev is not None:
        c.check((ev.get("readdressed") or 0) >= 1, "interface-events readdressed >= 1", str(ev))
        c.eq((ev.get("down"), ev.get("absent"), ev.get("recreated")), (0, 0, 0),
             "interface-events down=0 absent=0 recreated=0 (only the address changed)")
    c.eq(relay.stop(), 0, "relay: SIGTERM, exit 0")


def absent_cases(c, t, start_daemon, make, set_down, set_up, ifname, ok, socks, what):
    """Started with IF absent, then created; started with IF down, then brought up."""
    proc = start_daemon("absent")
    ran = wait_log(c, proc, rf"interface {ifname}: absent\b", f"{what}: started without {ifname}: logs "
                   f"'interface {ifname}: absent'")
    time.sleep(1.0)
    if check_alive(c, proc, f"{what}: started without {ifname}: keeps running") and ran:
        mark = len(proc.log())
        make()
        took, _, refused = wait_relayed(t.send, socks, ok(), t0=time.monotonic())
        check_recovery(c, f"{what}: {ifname} created after the start", took, refused)
        wait_log(c, proc, rf"interface {ifname}: up\b", f"{what}: logs 'interface {ifname}: up'", timeout=1,
                 start=mark)
    else:
        make()
    proc.stop()

    set_down()
    proc = start_daemon("down")
    ran = wait_log(c, proc, rf"interface {ifname}: down\b", f"{what}: started with {ifname} down: logs "
                   f"'interface {ifname}: down'")
    time.sleep(1.0)
    if check_alive(c, proc, f"{what}: started with {ifname} down: keeps running") and ran:
        mark = len(proc.log())
        set_up()
        took, _, refused = wait_relayed(t.send, socks, ok(), t0=time.monotonic())
        check_recovery(c, f"{what}: {ifname} brought up after the start", took, refused)
        wait_log(c, proc, rf"interface {ifname}: up\b", f"{what}: logs 'interface {ifname}: up'", timeout=1,
                 start=mark)
        c.eq(proc.stop(), 0, f"{what}: SIGTERM, exit 0")


def group_absent(c, lab, binary):
    t = RelayLab(lab, binary, client_link=False, keep_addr=True)
    absent_cases(c, t, lambda n: t.start(name=f"relay-{n}", wait=False), t.make_client_link,
                 lambda: t.rel.ip("link", "set", "down0", "down"), lambda: t.rel.ip("link", "set", "down0", "up"),
                 "down0", t.forward_ok, t.servers, "relay")


def group_snoopabsent(c, lab, binary):
    t = SnoopLab(lab, binary, port=False)
    absent_cases(c, t, lambda n: t.start(name=f"snoop-{n}", wait=False), t.make_port,
                 lambda: t.sw.ip("link", "set", "c1", "down"), lambda: t.sw.ip("link", "set", "c1", "up"),
                 "c1", t.forward_ok, [t.router], "snoop")


# --- point 4: signals, reload, supervision --------------------------------------------------------

def write_config(path, lines):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def where(got, t):
    return sorted({"S1" if s is t.s1 else "S2" for s, _ in got})


def group_reload(c, lab, binary):
    t = RelayLab(lab, binary, second_client=True)
    os.chmod(lab.tmpdir, 0o755)  # the relay re-reads the file after dropping root
    cfg = lab.path("relay.conf")
    write_config(cfg, ["client-iface = down0", f"server = {S1}"])
    relay = t.rel.spawn([binary, "relay", "--config", cfg], name="relay")
    relay.wait_log(r"relaying from down0")
    pid = relay.pid
    got = exchange_one(t.send, t.servers)
    c.eq(where(got, t), ["S1"], "before the reload: down0's Solicit reaches S1")
    got = exchange_one(t.send_b, t.servers, timeout=0.7)
    c.eq(got, [], "before the reload: down1 is not relayed (not configured yet)")

    write_config(cfg, ["client-iface = down0", "client-iface = down1", f"server = {S2}"])
    start = len(relay.log())
    # 200 Solicits a second on down0 (600 clients) for 3 s, SIGHUP after 1 s; each must reach S1 or S2.
    stream, seen, rate, total = {}, [], 200, 600
    t0 = time.monotonic()
    hup_sent = False
    for i in range(total):
        due = t0 + i / rate
        while True:
            now = time.monotonic()
            if not hup_sent and now >= t0 + 1.0:
                relay.signal(signal.SIGHUP)
                hup_sent = True
            r, _, _ = select.select(t.servers, [], [], max(0.0, due - now))
            for s in r:
                rf, inner = relay_forward(s.recv(65535))
                if rf is not None:
                    seen.append((s, int.from_bytes(inner[1:4], "big"), inner))
            if time.monotonic() >= due:
                break
        xid = next_xid()
        try:  # one client each (distinct MACs), so the per-MAC rate limit is not what is measured
            stream[xid] = RelayLab._send(t.ps, bytes([0x02, 0x5a, 0, 0]) + i.to_bytes(2, "big"), xid)
        except OSError as e:
            print(f"note: stream send {i}: {e}", flush=True)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        r, _, _ = select.select(t.servers, [], [], max(0.0, end - time.monotonic()))
        for s in r:
            rf, inner = relay_forward(s.recv(65535))
            if rf is not None:
                seen.append((s, int.from_bytes(inner[1:4], "big"), inner))
    ours = [(s, x) for s, x, inner in seen if stream.get(x) == inner]
    distinct = {x for _, x in ours}
    at_s1 = sum(1 for s, _ in ours if s is t.s1)
    at_s2 = len(ours) - at_s1
    order = list(stream)
    tail_at = {("S1" if s is t.s1 else "S2") for s, x in ours if x in set(order[-50:])}
    print(f"measure: reload under a {rate}/s stream: sent {len(stream)}, received {len(ours)} "
          f"({len(distinct)} distinct; S1 {at_s1}, S2 {at_s2}), lost {len(stream) - len(distinct)}", flush=True)
    reloaded = wait_log(c, relay, r"configuration reloaded", "SIGHUP: logs 'configuration reloaded'", timeout=2,
                        start=start)
    if not check_alive(c, relay, "SIGHUP: the relay keeps running"):
        return
    c.eq(relay.pid, pid, "same PID after the reload")
    c.eq(len(stream) - len(distinct), 0, f"no message of the {rate}/s stream on the unchanged down0 is lost")
    c.eq(len(ours), len(distinct), "no message of the stream is relayed twice")
    c.eq(tail_at, {"S2"}, "the stream's last 50 messages (0.25 s) went to the new server S2")
    if not reloaded:
        return
    got = exchange_one(t.send_b, t.servers)
    c.eq(where(got, t), ["S2"], "after the reload: down1's Solicit reaches S2 only")
    if got:
        c.eq(got[0][1]["link"], RELAY_LINK_B, f"down1's Relay-forward has link-address {RELAY_LINK_B}")
    got = exchange_one(t.send, t.servers)
    c.eq(where(got, t), ["S2"], "after the reload: down0's Solicit reaches S2 only")

    write_config(cfg, ["client-iface = down0", "client-iface = down1", "server = not-an-address"])
    start = len(relay.log())
    relay.signal(signal.SIGHUP)
    wait_log(c, relay, rf"{re.escape(cfg)}:3\b", f"invalid file: a log line names {os.path.basename(cfg)}:3",
             timeout=3, start=start)
    wait_log(c, relay, r"keeping the running configuration", "invalid file: 'keeping the running configuration'",
             timeout=1, start=start)
    time.sleep(0.3)
    c.eq(count_log(relay, r"configuration reloaded", start), 0, "invalid file: no 'configuration reloaded'")
    if not check_alive(c, relay, "invalid file: the relay keeps running"):
        return
    c.eq(relay.pid, pid, "same PID after the refused reload")
    c.eq(where(exchange_one(t.send, t.servers), t), ["S2"], "invalid file: down0 still relayed to S2")
    c.eq(where(exchange_one(t.send_b, t.servers), t), ["S2"], "invalid file: down1 still relayed to S2")
    c.eq(relay.stop(), 0, "relay: SIGTERM, exit 0")


def pcap_xids(binary, path):
    """(exit status, summary line, {xid of every frame's innermost message})."""
    r = subprocess.run([binary, "decode", "--json", path], capture_output=True, text=True, timeout=30)
    xids = set()
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            m = json.loads(line).get("dhcp6", {}).get("message", {})
            if "xid" in m:
                xids.add(m["xid"])
    return r.returncode, r.stderr.strip(), xids


def group_sighup_write(c, lab, binary):
    t = RelayLab(lab, binary)
    os.chmod(lab.tmpdir, 0o755)
    wdir = lab.path("w")
    os.mkdir(wdir, 0o755)
    pw = pwd.getpwnam(drop_user())
    os.chown(wdir, pw.pw_uid, pw.pw_gid)  # where the relay, no longer root, opens the new file
    pcap = os.path.join(wdir, "F.pcap")
    relay = t.start("--write", pcap)
    first = exchange_one(t.send, t.servers)
    c.eq(len(first), 1, "first Solicit relayed")
    x1 = int.from_bytes(find_opts(first[0][1]["options"], OPT_RELAY_MSG)[0][1:4], "big") if first else None
    time.sleep(0.3)
    os.rename(pcap, pcap + ".1")
    relay.signal(signal.SIGHUP)
    deadline = time.monotonic() + 3
    while not os.path.exists(pcap) and time.monotonic() < deadline and alive(relay):
        time.sleep(0.05)
    c.check(os.path.exists(pcap), "SIGHUP: a new F.pcap is created")
    if not check_alive(c, relay, "SIGHUP: the relay keeps running"):
        return
    second = exchange_one(t.send, t.servers)
    c.eq(len(second), 1, "second Solicit relayed after SIGHUP")
    x2 = int.from_bytes(find_opts(second[0][1]["options"], OPT_RELAY_MSG)[0][1:4], "big") if second else None
    time.sleep(0.3)
    c.eq(relay.stop(), 0, "relay: SIGTERM, exit 0")
    rc, summary, xids = pcap_xids(binary, pcap + ".1")
    c.eq(rc, 0, "F.pcap.1 (renamed): decode exit 0")
    c.check(re.fullmatch(r"2 frames, 2 DHCPv6 \(0 malformed\), 0 other", summary),
            "F.pcap.1: intact, the first exchange's 2 frames (received + Relay-forward)", summary)
    c.eq(xids, {x1}, f"F.pcap.1 holds the first exchange only (xid {x1:#x})" if x1 else "F.pcap.1 xids")
    if os.path.exists(pcap):
        rc, summary, xids = pcap_xids(binary, pcap)
        c.eq(rc, 0, "new F.pcap: decode exit 0")
        c.check(re.fullmatch(r"2 frames, 2 DHCPv6 \(0 malformed\), 0 other", summary),
                "new F.pcap: the second exchange's 2 frames", summary)
        c.eq(xids, {x2}, f"new F.pcap holds the second exchange only (xid {x2:#x})" if x2 else "new F.pcap xids")


def group_sigpipe(c, lab, binary):
    t = RelayLab(lab, binary)
    argv = [IP, "netns", "exec", t.rel.name, binary, "relay", "--client-iface", "down0", "--server", S1,
            "--log-level", "debug"]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         preexec_fn=lambda: lib._libc.prctl(1, signal.SIGTERM))  # PR_SET_PDEATHSIG
    log_path = lab.path("relay-sigpipe.log")
    proc = lib.Proc(p, log_path, "relay-sigpipe")
    lab._procs.append(proc)  # stopped by the lab's cleanup
    text, deadline = b"", time.monotonic() + 10
    while b"relaying from down0" not in text and time.monotonic() < deadline and p.poll() is None:
        if select.select([p.stdout], [], [], 0.1)[0]:
            text += os.read(p.stdout.fileno(), 65536)
    with open(log_path, "wb") as f:
        f.write(text + b"[test: read end of the pipe closed here]\n")
    if not c.check(b"relaying from down0" in text, "the relay starts, logging to the pipe"):
        return
    p.stdout.close()
    for _ in range(20):
        xid = next_xid()
        t.send(xid)
        time.sleep(0.01)
    p.send_signal(signal.SIGUSR1)
    time.sleep(2.0)
    rc = p.poll()
    c.check(rc is None, "stdout/stderr pipe closed, debug lines and SIGUSR1 logged: still running after 2 s",
            f"exit status {rc}" + (" (killed by SIGPIPE)" if rc in (-signal.SIGPIPE, 128 + signal.SIGPIPE) else ""))
    if rc is not None:
        return
    got = exchange_one(t.send, t.servers)
    c.eq(len(got), 1, "with the pipe closed it still relays")
    c.eq(proc.stop(), 0, "SIGTERM: exit 0")


def check_refused(c, second, names, what):
    rc = wait_exit(second, 5)
    c.check(rc is not None and rc != 0, f"{what}: the second instance exits non-zero within 5 s",
            "still running" if rc is None else f"exit {rc}")
    lines = [ln for ln in second.log().splitlines() if "already" in ln and re.search(names, ln)]
    c.check(lines, f"{what}: it says why: a line with 'already' naming {names}", second.log()[-400:])
    if lines:
        print(f"note: {what}: {lines[0]}", flush=True)


def group_second(c, lab, binary):
    t = RelayLab(lab, binary)
    first = t.start(name="relay")
    second = t.start(name="relay-second", wait=False)
    check_refused(c, second, r"down0|547", "relay")
    got = exchange_one(t.send, t.servers, linger=0.7)
    c.eq(len(got), 1, "a Solicit reaches the server exactly once (not doubled by a second instance)")
    second.stop()
    check_alive(c, first, "the first instance is still running")
    c.eq(len(exchange_one(t.send, t.servers, linger=0.5)), 1, "the first instance still relays, once")
    c.eq(first.stop(), 0, "first relay: SIGTERM, exit 0")


def group_snoopsecond(c, lab, binary):
    t = SnoopLab(lab, binary)
    first = t.start(name="snoop")
    c.check(t.table_present(), f"the first snoop installed table bridge {TABLE}")
    second = t.start(name="snoop-second", wait=False)
    check_refused(c, second, r"\bc1\b|\buplink\b|547", "snoop")
    got = exchange_one(t.send, [t.router], linger=0.7)
    c.eq(len(got), 1, "a Solicit reaches the router as exactly one Relay-forward (not doubled)")
    second.stop()
    c.check(t.table_present(), f"after the second instance is gone, the first's table bridge {TABLE} is still "
            "installed")
    check_alive(c, first, "the first instance is still running")
    c.eq(len(exchange_one(t.send, [t.router], linger=0.5)), 1, "the first instance still relays, once")
    c.eq(first.stop(), 0, "first snoop: SIGTERM, exit 0")
    c.check(not t.table_present(), "the first snoop removes its table at exit")


# --- point 5: privileges --------------------------------------------------------------------------

CAP_NET_ADMIN, CAP_NET_RAW = 12, 13


def group_privs(c, lab, binary):
    t = RelayLab(lab, binary)
    relay = t.start("--user", "nobody", wait=False)
    if wait_log(c, relay, r"relaying from down0", "relay --user nobody: starts"):
        wait_log(c, relay, r"dropped privileges to user nobody\b", "--user nobody: logs 'dropped privileges to user "
                 "nobody'")
        check_privileges(c, relay, 1 << CAP_NET_RAW, "relay --user nobody")
        c.eq(len(exchange_one(t.send, t.servers)), 1, "relay --user nobody: relays")
        recreate_relay_link(c, t, relay, "relay --user nobody")
        c.eq(relay.stop(), 0, "relay --user nobody: SIGTERM, exit 0")

    user = drop_user()
    relay = t.start(name="relay-default", wait=False)
    if wait_log(c, relay, r"relaying from down0", "relay without --user: starts"):
        wait_log(c, relay, rf"dropped privileges to user {user}\b",
                 f"no --user, started as root: logs 'dropped privileges to user {user}'")
        check_privileges(c, relay, 1 << CAP_NET_RAW, "relay without --user", user=user)
        c.eq(relay.stop(), 0, "relay without --user: SIGTERM, exit 0")

    base = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    args = [binary, "relay", "--client-iface", "down0", "--server", S1]
    unpriv = t.rel.spawn(base + args, name="relay-nocaps")
    rc = wait_exit(unpriv, 5)
    c.check(rc is not None and rc != 0, "as nobody without capabilities: exits non-zero within 5 s",
            "still running" if rc is None else f"exit {rc}")
    c.check("CAP_NET_RAW" in unpriv.log(), "as nobody without capabilities: the error names CAP_NET_RAW",
            unpriv.log()[-400:])

    caps = "+net_raw,+net_bind_service"
    amb = t.rel.spawn(base + [f"--inh-caps={caps}", f"--ambient-caps={caps}"] + args, name="relay-ambient")
    try:
        amb.wait_log(r"relaying from down0", timeout=5)
        started = True
    except (TimeoutError, RuntimeError) as e:
        started = False
        c.check(False, "as nobody with ambient CAP_NET_RAW and CAP_NET_BIND_SERVICE: starts", str(e)[-400:])
    if started:
        c.eq(len(exchange_one(t.send, t.servers)), 1,
             "as nobody with ambient CAP_NET_RAW and CAP_NET_BIND_SERVICE: relays (works as before)")
        c.eq(amb.stop(), 0, "ambient-capability relay: SIGTERM, exit 0")


def group_snoopprivs(c, lab, binary):
    t = SnoopLab(lab, binary)
    snoop = t.start("--user", "nobody", wait=False)
    if not wait_log(c, snoop, r"snooping uplink port uplink", "snoop --install-filters --user nobody: starts"):
        return
    wait_log(c, snoop, r"dropped privileges to user nobody\b", "snoop --user nobody: logs 'dropped privileges to user "
             "nobody'")
    check_privileges(c, snoop, (1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW), "snoop --install-filters --user nobody")
    c.eq(len(exchange_one(t.send, [t.router])), 1, "snoop --user nobody: relays")
    recreate_snoop_port(c, t, snoop, "snoop --user nobody")
    c.eq(snoop.stop(), 0, "snoop --user nobody: SIGTERM, exit 0")
    c.check(not t.table_present(), f"snoop --user nobody: table bridge {TABLE} removed at exit (CAP_NET_ADMIN kept)",
            snoop.log()[-300:])


GROUPS = {
    "flap": (group_flap, 40), "snoopflap": (group_snoopflap, 40),
    "recreate": (group_recreate, 30), "snooprecreate": (group_snooprecreate, 30),
    "renumber": (group_renumber, 30),
    "absent": (group_absent, 40), "snoopabsent": (group_snoopabsent, 40),
    "reload": (group_reload, 40), "sighup_write": (group_sighup_write, 30), "sigpipe": (group_sigpipe, 30),
    "second": (group_second, 30), "snoopsecond": (group_snoopsecond, 30),
    "privs": (group_privs, 45), "snoopprivs": (group_snoopprivs, 35),
}


def needs(group):
    out = []
    if group.startswith("snoop"):
        out.append(("nft", "nftables"))
    if group == "privs":
        out.append(("setpriv", "util-linux"))
    return out


def main():
    return lib.run_groups("rrhard", GROUPS, 40, needs=needs, timed=True)


if __name__ == "__main__":
    sys.exit(main())
