#!/usr/bin/python3
"""RFC 9686 address registration end to end, in network namespaces made by the test:
tests/addrreg/regclient.py registers 2001:db8:1::100 with tests/addrreg/regserver.py through
regrelay (relay mode, snoop mode) and through ISC dhcrelay.

    addrreg_e2e_test.py REGRELAY GROUP

GROUP is one of:
  relay     client ns --veth-- relay ns (`regrelay relay`) --veth-- server ns
            The client registers at the first attempt; the server's binding holds the address,
            the client's DUID-LL and the client veth's MAC (option 79), link-address 2001:db8:1::1;
            the relay logged "ADDR-REG-INFORM address 2001:db8:1::100 mac ..."; and the relay ns's
            `ip -6 route`, permanent/noarp/proxy neighbours, `nft list ruleset` and `ip -6 addr`
            are the same after the registration as before the relay started (RFC 9686 §4.3: no
            forwarding or security state from the reply).
  snoop     client ns -- switch ns (bridge + `regrelay snoop --install-filters`) -- router ns
            (`regrelay relay`) -- server ns. Same, with two relay levels: the server's MAC comes
            from the LDRA level's option 79 (hop 0, link-address ::, Interface-ID the switch's
            client port); the router's level (hop 1) carries no option 79. The snoop logged the
            ADDR-REG-INFORM line; the router and switch namespaces' state is unchanged.
  dhcrelay  As snoop, with ISC dhcrelay (`dhcrelay -6 -d --no-pid -l IF -u SERVER%IF`) on the
            router: (1) through the LDRA, type 36 is opaque inside the Relay-forward and the
            registration works; (2) the snoop stopped (its bridge filters gone), a bare type 36
            reaches dhcrelay, which drops it ("Unknown 36 type ... going up."): the server receives
            nothing and the client gives up after 3 retransmissions, all with one xid.
  loss      The relay topology with the first Relay-forward toward the server dropped by an
            nftables netdev egress rule in the relay ns (a dynamic set: the first packet is added
            and dropped, later ones pass). Between the attempts the client address's lifetimes are
            changed: the client reports attempt 2 with the same xid and the new lifetimes, the
            relay relayed both, the server logged exactly one binding (attempt 2's lifetimes).
  tools     The two tools against hand-made packets on one link: regserver discards (no reply)
            with the right reason an ADDR-REG-INFORM without Client Identifier, with a Server
            Identifier, with zero or two IA Address options, for another address, with an ORO, and
            ignores an ADDR-REG-REPLY; answers a valid one with an identical IA Address option; answers
            a 2-level Relay-forward with a Relay-reply per level (hop-count, link- and peer-address,
            Interface-ID, ERO-requested Remote-ID) sent to the relay's source, port 547; discards a
            relayed one whose innermost peer-address is not the address. regclient's INFORM has
            exactly Client Identifier (DUID-LL) + IA Address, from the address itself; it discards
            replies with another xid, a non-identical IA Address option, another address, no IA
            Address, and an ADDR-REG-INFORM, then accepts the matching one.

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root (or, for dhcrelay, without
/usr/sbin/dhcrelay).
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
from lib import (ADDR_REG_INFORM, ADDR_REG_REPLY, OPT_CLIENT_LINKLAYER, OPT_CLIENTID, OPT_IAADDR,  # noqa: E402
                 OPT_INTERFACE_ID, OPT_REMOTE_ID, OPT_RELAY_MSG, OPT_SERVERID, RELAY_FORW, RELAY_REPL, client_msg,
                 duid_ll, find_opts, ia_addr, opt, parse_options, parse_relay, relay_msg)

PY = "/usr/bin/python3"
REGCLIENT = os.path.join(HERE, "..", "addrreg", "regclient.py")
REGSERVER = os.path.join(HERE, "..", "addrreg", "regserver.py")
DHCRELAY = "/usr/sbin/dhcrelay"

CLIENT = "2001:db8:1::100"
LINK = "2001:db8:1::1"
RELAY_UP = "2001:db8:ffff::2"
SERVER = "2001:db8:ffff::1"
SERVER_DUID = "000300010200000053ff"


Checks = lib.Checks


def kv(line):
    """'word a=1 b=2' -> {'': 'word', 'a': '1', 'b': '2'}."""
    words = line.split()
    out = {"": words[0] if words else ""}
    for w in words[1:]:
        k, sep, v = w.partition("=")
        if sep:
            out[k] = v
    return out


def events(text, kind):
    return [kv(line) for line in text.splitlines() if line.split()[:1] == [kind]]


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def mac_text(mac):
    return mac.hex(":")


# --- state of a namespace (RFC 9686 §4.3) ------------------------------------------------------

STATE_COMMANDS = {
    "ip -6 route": ["ip", "-6", "route", "show", "table", "all"],
    "ip -6 neigh permanent": ["ip", "-6", "neigh", "show", "nud", "permanent"],
    "ip -6 neigh noarp": ["ip", "-6", "neigh", "show", "nud", "noarp"],
    "ip -6 neigh proxy": ["ip", "-6", "neigh", "show", "proxy"],
    "nft list ruleset": ["nft", "--stateless", "list", "ruleset"],  # rules, not their counters
    "ip -6 addr": ["ip", "-6", "addr", "show"],
}


def state(ns):
    out = {k: ns.exec(*argv).stdout for k, argv in STATE_COMMANDS.items()}
    # Sending any multicast (a Neighbour Solicitation to a solicited-node group) makes the kernel
    # add a NOARP entry for that group: ordinary ND, not state taken from a DHCPv6 message.
    out["ip -6 neigh noarp"] = "".join(line for line in out["ip -6 neigh noarp"].splitlines(True)
                                       if not line.lower().startswith("ff"))
    return out


def check_state_unchanged(c, before, after, where):
    for k in STATE_COMMANDS:
        c.check(before[k] == after[k], f"{where}: `{k}` unchanged",
                f"\n--- before\n{before[k]}--- after\n{after[k]}")


# --- the programs -------------------------------------------------------------------------------

def start_server(lab, ns, name="regserver"):
    log = lab.path(f"{name}.bindings")
    p = ns.spawn([PY, REGSERVER, "--duid", SERVER_DUID, "--log", log], name=name)
    p.wait_log(r"^listening ")
    p.bindings = log
    return p


def run_client(lab, ns, iface, *extra, timeout=40):
    """Runs regclient to completion: (exit status, its output)."""
    log = lab.path("regclient.out")
    r = ns.exec(PY, REGCLIENT, "--iface", iface, "--address", CLIENT, "--log", log, *extra, check=False,
                timeout=timeout)
    out = r.stdout + (f"[stderr] {r.stderr}" if r.stderr.strip() else "")
    print("regclient:\n  " + "\n  ".join(out.splitlines()), flush=True)
    return r.returncode, r.stdout


def check_registered(c, rc, out, attempts, what):
    sent = events(out, "sent")
    reg = events(out, "registered")
    c.eq(rc, 0, f"{what}: regclient exits 0 (registered)")
    c.eq([s.get("attempt") for s in sent], [str(i) for i in range(1, attempts + 1)],
         f"{what}: regclient sent {attempts} transmission(s)")
    c.eq(len({s.get("xid") for s in sent}), 1, f"{what}: one transaction-id for every transmission")
    if c.eq(len(reg), 1, f"{what}: regclient reports one registration"):
        c.eq(reg[0].get("attempt"), str(attempts), f"{what}: registered at attempt {attempts}")
        c.eq(reg[0].get("xid"), sent[0].get("xid") if sent else None, f"{what}: reply has the xid sent")
        c.eq(reg[0].get("address"), CLIENT, f"{what}: registered address {CLIENT}")
        c.eq(reg[0].get("server-duid"), SERVER_DUID, f"{what}: reply carries the server's DUID")
    return sent


def check_binding(c, server, sent, mac, what, levels, link="-", ifid="-"):
    """The server logged exactly one binding, for the client, with these relay facts."""
    text = read(server.bindings)
    binds = events(text, "binding")
    c.eq(events(text, "discard"), [], f"{what}: the server discarded nothing")
    if not c.eq(len(binds), 1, f"{what}: the server logged exactly one binding"):
        return None
    b = binds[0]
    c.eq(b.get("address"), CLIENT, f"{what}: binding address {CLIENT}")
    c.eq(b.get("duid"), "00030001" + mac.hex(), f"{what}: binding DUID is the client's DUID-LL (its MAC)")
    c.eq(b.get("mac"), mac_text(mac), f"{what}: binding MAC (option 79) is the client veth's {mac_text(mac)}")
    c.eq(b.get("relay-levels"), str(levels), f"{what}: {levels} relay level(s)")
    c.eq(b.get("link-address"), link, f"{what}: link-address {link}")
    c.eq(b.get("interface-id"), ifid, f"{what}: interface-id {ifid}")
    if sent:
        last = sent[-1]
        c.eq(b.get("xid"), last.get("xid"), f"{what}: binding xid is the client's")
        c.eq((b.get("preferred"), b.get("lifetime")), (last.get("preferred"), last.get("valid")),
             f"{what}: binding lifetimes are those of the transmission that arrived (attempt {last.get('attempt')})")
    c.eq(len(events(text, "reply")), 1, f"{what}: the server sent one ADDR-REG-REPLY")
    return b


# --- topologies ---------------------------------------------------------------------------------

class Routed:
    """client ns --veth-- relay ns (`regrelay relay`) --veth-- server ns."""

    def __init__(self, lab, binary):
        self.lab = lab
        self.cli, self.rel, self.srv = lab.netns("cli"), lab.netns("rel"), lab.netns("srv")
        self.c_if, self.rc_if = lab.veth(self.cli, self.rel)
        self.ru_if, self.s_if = lab.veth(self.rel, self.srv)
        # A SLAAC-like address with real (finite) lifetimes: the client reports them.
        self.cli.ip("-6", "addr", "add", CLIENT + "/64", "dev", self.c_if, "nodad",
                    "valid_lft", "7200", "preferred_lft", "3600")
        self.cli.add_route("default", via=LINK)
        self.rel.add_addr(self.rc_if, LINK + "/64")
        self.rel.add_addr(self.ru_if, RELAY_UP + "/64")
        self.srv.add_addr(self.s_if, SERVER + "/64")
        lab.wait_ready()
        self.client_mac = self.cli.mac(self.c_if)
        self.server = start_server(lab, self.srv)
        self.binary = binary

    def start_relay(self):
        self.relay = self.rel.spawn([self.binary, "relay", "--client-iface", self.rc_if, "--server", SERVER,
                                     "--log-level", "debug"], name="relay")
        self.relay.wait_log(r"relaying from " + re.escape(self.rc_if))


class Switched:
    """client ns -- switch ns (bridge, `regrelay snoop`) -- router ns (`regrelay relay` or dhcrelay) -- server ns."""

    def __init__(self, lab, binary):
        self.lab, self.binary = lab, binary
        self.cli, self.sw = lab.netns("cli"), lab.netns("sw")
        self.rtr, self.srv = lab.netns("rtr"), lab.netns("srv")
        self.c_if, self.swc_if = lab.veth(self.cli, self.sw)
        self.swu_if, self.rd_if = lab.veth(self.sw, self.rtr)
        self.ru_if, self.s_if = lab.veth(self.rtr, self.srv)
        self.br = lab.bridge(self.sw, [self.swc_if, self.swu_if])
        self.cli.ip("-6", "addr", "add", CLIENT + "/64", "dev", self.c_if, "nodad",
                    "valid_lft", "7200", "preferred_lft", "3600")
        self.cli.add_route("default", via=LINK)
        self.rtr.add_addr(self.rd_if, LINK + "/64")
        self.rtr.add_addr(self.ru_if, RELAY_UP + "/64")
        self.srv.add_addr(self.s_if, SERVER + "/64")
        lab.wait_ready()
        self.client_mac = self.cli.mac(self.c_if)
        self.server = start_server(lab, self.srv)

    def start_snoop(self):
        self.snoop = self.sw.spawn([self.binary, "snoop", "--client-port", self.swc_if, "--uplink", self.swu_if,
                                    "--install-filters", "--log-level", "debug"], name="snoop")
        self.snoop.wait_log(r"snooping uplink port " + re.escape(self.swu_if))

    def start_relay(self):
        self.relay = self.rtr.spawn([self.binary, "relay", "--client-iface", self.rd_if, "--server", SERVER,
                                     "--log-level", "debug"], name="relay")
        self.relay.wait_log(r"relaying from " + re.escape(self.rd_if))

    def start_dhcrelay(self):
        self.dhcrelay = self.rtr.spawn([DHCRELAY, "-6", "-d", "--no-pid", "-l", self.rd_if,
                                        "-u", f"{SERVER}%{self.ru_if}"], name="dhcrelay")
        self.dhcrelay.wait_log(r"Sending on +Socket/" + re.escape(self.rd_if))
        self.dhcrelay.wait_log(r"Sending on +Socket/" + re.escape(self.ru_if))
        time.sleep(0.3)  # its multicast join follows the log lines closely; be sure


def inform_line(log, mac):
    """The info line a relay or snoop logs for each ADDR-REG-INFORM it relays from a client."""
    return re.findall(rf"info ADDR-REG-INFORM address {re.escape(CLIENT)} mac {re.escape(mac_text(mac))} "
                      rf"duid 00030001{mac.hex()} (?:interface|port) \S+ source {re.escape(CLIENT)} "
                      rf"xid (0x[0-9a-f]{{6}})", log)


# --- groups -------------------------------------------------------------------------------------

def group_relay(c, lab, binary):
    t = Routed(lab, binary)
    before = state(t.rel)
    t.start_relay()
    rc, out = run_client(lab, t.cli, t.c_if)
    sent = check_registered(c, rc, out, 1, "relay")
    check_binding(c, t.server, sent, t.client_mac, "relay", levels=1, link=LINK)
    xids = inform_line(t.relay.log(), t.client_mac)
    c.eq(xids, [sent[0]["xid"]] if sent else ["?"],
         f"relay logged 'ADDR-REG-INFORM address {CLIENT} mac {mac_text(t.client_mac)} ...' once, with the xid")
    c.check(re.search(rf"relay-reply ADDR-REG-REPLY xid {sent[0]['xid'] if sent else '?'} to {re.escape(CLIENT)} "
                      rf"port 546", t.relay.log()), "relay unwrapped the ADDR-REG-REPLY to the client, port 546")
    time.sleep(0.3)
    check_state_unchanged(c, before, state(t.rel), "relay ns (before the relay started vs after the registration)")
    c.eq(t.relay.stop(), 0, "relay: SIGTERM, exit status 0")


def group_snoop(c, lab, binary):
    t = Switched(lab, binary)
    rtr_before = state(t.rtr)
    t.start_snoop()
    sw_before = state(t.sw)  # with the snoop's own bridge filter table
    c.check("table bridge regrelay_snoop" in sw_before["nft list ruleset"], "snoop installed its bridge filters")
    t.start_relay()
    rc, out = run_client(lab, t.cli, t.c_if)
    sent = check_registered(c, rc, out, 1, "snoop+relay")
    check_binding(c, t.server, sent, t.client_mac, "snoop+relay", levels=2, link=LINK, ifid=t.swc_if)
    text = read(t.server.bindings)
    lv = events(text, "level")
    if c.eq(len(lv), 2, "server logged both relay levels"):
        outer, inner = lv
        c.eq((outer.get("hop"), outer.get("link"), outer.get("peer"), outer.get("interface-id"), outer.get("mac")),
             ("1", LINK, CLIENT, "-", "-"),
             "router level: hop 1, link-address = its own (the LDRA's level names no link: docs/relay.md), "
             "peer = the client (the LDRA's source), no Interface-ID, no option 79")
        c.eq((inner.get("hop"), inner.get("link"), inner.get("peer"), inner.get("interface-id"), inner.get("mac")),
             ("0", "::", CLIENT, t.swc_if, mac_text(t.client_mac)),
             "LDRA level: hop 0, link-address ::, peer = the client, Interface-ID = switch port, option 79 = client MAC")
    xids = inform_line(t.snoop.log(), t.client_mac)
    c.eq(xids, [sent[0]["xid"]] if sent else ["?"],
         f"snoop logged 'ADDR-REG-INFORM address {CLIENT} mac {mac_text(t.client_mac)} ... port {t.swc_if}' once")
    c.check(re.search(r"relay-forward RELAY-FORW\(ADDR-REG-INFORM\) .* hop 1 to " + re.escape(SERVER), t.relay.log()),
            "router relayed the LDRA's Relay-forward with hop-count 1")
    # The router sees a Relay-forward, not the client's message: its info-level registration line
    # is the LDRA's to log (RFC 6939: option 79 comes from the first-hop relay, the LDRA).
    c.eq(inform_line(t.relay.log(), t.client_mac), [], "router (not first hop) logs no ADDR-REG-INFORM info line")
    c.check(re.search(rf"relay-reply ADDR-REG-REPLY xid {sent[0]['xid'] if sent else '?'} to {re.escape(CLIENT)} "
                      rf"port {re.escape(t.swc_if)}", t.snoop.log()), "snoop delivered the ADDR-REG-REPLY on the client port")
    time.sleep(0.3)
    check_state_unchanged(c, rtr_before, state(t.rtr), "router ns (before the relay started vs after)")
    check_state_unchanged(c, sw_before, state(t.sw), "switch ns (after the snoop started vs after)")
    c.eq(t.relay.stop(), 0, "relay: SIGTERM, exit status 0")
    c.eq(t.snoop.stop(), 0, "snoop: SIGTERM, exit status 0")


def group_dhcrelay(c, lab, binary):
    t = Switched(lab, binary)
    t.start_snoop()
    t.start_dhcrelay()
    version = re.search(r"DHCP Relay Agent (\S+)", t.dhcrelay.log())
    version = version.group(1) if version else "?"

    # (1) Through the LDRA: dhcrelay sees a Relay-forward (type 12); type 36 is inside option 9.
    rc, out = run_client(lab, t.cli, t.c_if)
    sent = check_registered(c, rc, out, 1, "snoop+dhcrelay")
    check_binding(c, t.server, sent, t.client_mac, "snoop+dhcrelay", levels=2, link=LINK, ifid=t.swc_if)
    log = t.dhcrelay.log()
    c.check(re.search(rf"Relaying Relay-forward from {re.escape(CLIENT)} port 547 going up", log),
            "dhcrelay relayed the LDRA's Relay-forward up")
    c.check(re.search(rf"Relaying Relay-reply to {re.escape(CLIENT)} port 547 down", log),
            "dhcrelay relayed the Relay-reply down to the LDRA")
    print(f"NOTE: ISC dhcrelay {version} relays an ADDR-REG-INFORM (type 36) that arrives inside an LDRA "
          "Relay-forward (the inner type is opaque to it), and relays the Relay-reply back: registration works "
          "through regrelay snoop + dhcrelay.", flush=True)

    # (2) No LDRA: the snoop gone (its filters with it), the bridge passes the bare type 36.
    c.eq(t.snoop.stop(), 0, "snoop: SIGTERM, exit status 0")
    c.check("regrelay_snoop" not in t.sw.exec("nft", "list", "ruleset").stdout, "snoop removed its bridge filters")
    server_before = read(t.server.bindings)
    log_start = len(t.dhcrelay.log())
    rc, out = run_client(lab, t.cli, t.c_if, "--timeout-first", "0.5")
    sent = events(out, "sent")
    c.eq(rc, 1, "bare: regclient exits 1 (gave up)")
    c.eq([s.get("attempt") for s in sent], ["1", "2", "3", "4"], "bare: 1 transmission + 3 retransmissions")
    c.eq(len({s.get("xid") for s in sent}), 1, "bare: one transaction-id for every transmission")
    c.eq(len(events(out, "gave-up")), 1, "bare: regclient reports gave-up")
    time.sleep(0.3)
    c.eq(read(t.server.bindings)[len(server_before):], "", "bare: the server received nothing")
    dropped = re.findall(rf"Unknown 36 type from {re.escape(CLIENT)} port 546 going up", t.dhcrelay.log()[log_start:])
    c.eq(len(dropped), 4, "bare: dhcrelay logged 'Unknown 36 type from 2001:db8:1::100 port 546 going up.' "
                          "for each of the 4 transmissions and relayed none")
    print(f"NOTE: ISC dhcrelay {version} DROPS a bare ADDR-REG-INFORM (type 36) sent by a client: it logs "
          f"'Unknown 36 type from {CLIENT} port 546 going up.' and relays nothing, so the server never hears of "
          "the address and the client gives up after 3 retransmissions. RFC 9686 registration through dhcrelay "
          "needs an LDRA (regrelay snoop) in front of it, or a relay that relays unknown types (RFC 7283), "
          "such as regrelay relay.", flush=True)


def group_loss(c, lab, binary):
    t = Routed(lab, binary)
    rules = f"""table netdev regrelay_addrreg_loss {{
    set seen {{ type ipv6_addr; flags dynamic; }}
    chain egress {{
        type filter hook egress device "{t.ru_if}" priority filter; policy accept;
        ip6 daddr {SERVER} udp dport 547 ip6 saddr @seen counter accept
        ip6 daddr {SERVER} udp dport 547 add @seen {{ ip6 saddr }} counter drop
    }}
}}
"""
    # AF_PACKET taps see a frame before the netdev ingress hook, so a drop on the relay's client side
    # would not stop `regrelay relay` (it captures): the first Relay-forward is lost on the way out.
    path = lab.path("loss.nft")
    with open(path, "w") as f:
        f.write(rules)
    t.rel.exec("nft", "-f", path)
    t.start_relay()
    client = t.cli.spawn([PY, REGCLIENT, "--iface", t.c_if, "--address", CLIENT], name="regclient")
    first = client.wait_log(r"(?m)^sent .*attempt=1 .*$", timeout=5)
    # RFC 9686 §4.5: retransmissions carry the address's current lifetimes. Change them now.
    t.cli.ip("-6", "addr", "change", CLIENT + "/64", "dev", t.c_if, "valid_lft", "5000", "preferred_lft", "2500")
    try:
        rc = client.popen.wait(20)
    except Exception:
        rc = None
    out = client.log()
    print("regclient:\n  " + "\n  ".join(out.splitlines()), flush=True)
    sent = check_registered(c, rc, out, 2, "loss")
    if len(sent) == 2:
        c.eq(sent[1].get("xid"), kv(first.group(0)).get("xid"), "loss: attempt 2 has attempt 1's xid")
        p1, v1 = int(sent[0].get("preferred", -1)), int(sent[0].get("valid", -1))
        c.check(3597 <= p1 <= 3600 and 7197 <= v1 <= 7200 and v1 - p1 == 3600,
                "loss: attempt 1 carried the lifetimes then (3600/7200, less the seconds since)",
                f"preferred {p1} valid {v1}")
        p2, v2 = int(sent[1].get("preferred", -1)), int(sent[1].get("valid", -1))
        c.check(2497 <= p2 <= 2500 and 4997 <= v2 <= 5000 and v2 - p2 == 2500,
                "loss: attempt 2 carried the address's new lifetimes (2500/5000, less the seconds since)",
                f"preferred {p2} valid {v2}")
    check_binding(c, t.server, sent, t.client_mac, "loss", levels=1, link=LINK)
    xids = inform_line(t.relay.log(), t.client_mac)
    c.eq(xids, [sent[0]["xid"]] * 2 if sent else ["?"], "loss: relay relayed both transmissions (same xid)")
    ruleset = t.rel.exec("nft", "list", "table", "netdev", "regrelay_addrreg_loss").stdout
    m = re.search(r"add @seen \{ ip6 saddr \} counter packets (\d+)", ruleset)
    c.eq(m.group(1) if m else None, "1", "loss: nftables dropped exactly one Relay-forward")
    c.eq(t.relay.stop(), 0, "relay: SIGTERM, exit status 0")


def group_tools(c, lab, binary):
    """regserver's §4.2.1 discards and Relay-reply nesting; regclient's §4.3 reply discards."""

    cli, srv = lab.netns("cli"), lab.netns("srv")
    c_if, s_if = lab.veth(cli, srv)
    cli.ip("-6", "addr", "add", CLIENT + "/64", "dev", c_if, "nodad", "valid_lft", "7200", "preferred_lft", "3600")
    srv.add_addr(s_if, LINK + "/64")
    lab.wait_ready()
    mac = cli.mac(c_if)
    cid = opt(OPT_CLIENTID, duid_ll(mac))
    ia = ia_addr(CLIENT, 3600, 7200)

    def recv(sock, timeout=1.0):
        r, _, _ = select.select([sock], [], [], timeout)
        return sock.recvfrom(65535) if r else None

    # --- regserver -------------------------------------------------------------------------
    server = srv.spawn([PY, REGSERVER, "--iface", s_if, "--duid", SERVER_DUID, "--log", lab.path("tools.bindings")],
                       name="regserver")
    server.wait_log(r"^listening ")
    s546 = cli.udp(CLIENT, 546)
    s547 = cli.udp(CLIENT, 547)  # a relay agent on the client link
    for s in (s546, s547):
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, cli.ifindex(c_if))
    mcast = (lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS, 547, 0, cli.ifindex(c_if))
    bad = [
        ("no-client-id", client_msg(ADDR_REG_INFORM, 0x000101, ia)),
        ("server-id-present", client_msg(ADDR_REG_INFORM, 0x000102, cid, opt(OPT_SERVERID, b"\0\3\0\1" + mac), ia)),
        ("no-ia-address", client_msg(ADDR_REG_INFORM, 0x000103, cid)),
        ("multiple-ia-address", client_msg(ADDR_REG_INFORM, 0x000104, cid, ia, ia_addr("2001:db8:1::200", 1, 2))),
        ("address-mismatch", client_msg(ADDR_REG_INFORM, 0x000105, cid, ia_addr("2001:db8:1::200", 3600, 7200))),
        ("oro-present", client_msg(ADDR_REG_INFORM, 0x000106, cid, ia, opt(6, (148).to_bytes(2, "big")))),
        ("ignored-type", client_msg(ADDR_REG_REPLY, 0x000107, cid, ia)),
    ]
    for reason, msg in bad:
        start = len(server.log())
        s546.sendto(msg, mcast)
        server.wait_log(r"(?m)^discard reason=\S+.*$", start=start, timeout=3)
        line = kv(re.compile(r"(?m)^discard .*$").search(server.log(), start).group(0))
        c.eq((line.get("reason"), line.get("xid")), (reason, f"0x{int.from_bytes(msg[1:4], 'big'):06x}"),
             f"regserver discards (unrelayed) with reason {reason}")
    c.check(recv(s546, 0.3) is None, "regserver: no reply to any discarded message")

    good = client_msg(ADDR_REG_INFORM, 0x0a0b0c, cid, ia)
    s546.sendto(good, mcast)
    got = recv(s546)
    if c.check(got is not None, "regserver replies to a valid unrelayed ADDR-REG-INFORM at [address]:546"):
        data, src = got
        opts = parse_options(data[4:])
        c.eq(data[:4], bytes([ADDR_REG_REPLY]) + (0x0a0b0c).to_bytes(3, "big"), "reply: type 37, same xid")
        c.eq(find_opts(opts, OPT_IAADDR), [ia[4:]], "reply: IA Address option identical to the one sent")
        c.eq(find_opts(opts, OPT_CLIENTID), [cid[4:]], "reply: the client's Client Identifier")
        c.eq(find_opts(opts, OPT_SERVERID), [bytes.fromhex(SERVER_DUID)], "reply: the server's Server Identifier")

    # Relayed twice: the innermost peer-address is the original source; each level mirrored.
    inner = relay_msg(RELAY_FORW, 0, LINK, CLIENT, opt(OPT_INTERFACE_ID, b"inner"),
                      opt(OPT_CLIENT_LINKLAYER, b"\x00\x01" + mac), opt(OPT_RELAY_MSG, good))
    rid = opt(OPT_REMOTE_ID, (9).to_bytes(4, "big") + b"rid")
    outer = relay_msg(RELAY_FORW, 1, "::", "fe80::1", opt(OPT_INTERFACE_ID, b"outer"), rid,
                      opt(43, OPT_REMOTE_ID.to_bytes(2, "big")), opt(OPT_RELAY_MSG, inner))
    s547.sendto(outer, (LINK, 547))
    got = recv(s547)
    if c.check(got is not None, "regserver answers a 2-level Relay-forward at the relay's source address, port 547"):
        try:
            r1 = parse_relay(got[0])
            r0 = parse_relay(find_opts(r1["options"], OPT_RELAY_MSG)[0])
            msg = find_opts(r0["options"], OPT_RELAY_MSG)[0]
            c.eq((r1["type"], r1["hop"], r1["link"], r1["peer"]), (RELAY_REPL, 1, "::", "fe80::1"),
                 "outer Relay-reply: hop-count, link-address and peer-address of the outer level")
            c.eq([code for code, _ in r1["options"]], [OPT_INTERFACE_ID, OPT_REMOTE_ID, OPT_RELAY_MSG],
                 "outer Relay-reply: Interface-ID, the Remote-ID its ERO asked for, then option 9")
            c.eq(find_opts(r1["options"], OPT_INTERFACE_ID), [b"outer"], "outer Relay-reply: its Interface-ID")
            c.eq((r0["type"], r0["hop"], r0["link"], r0["peer"]), (RELAY_REPL, 0, LINK, CLIENT),
                 "inner Relay-reply: hop-count, link-address and peer-address of the inner level")
            c.eq([code for code, _ in r0["options"]], [OPT_INTERFACE_ID, OPT_RELAY_MSG],
                 "inner Relay-reply: Interface-ID and option 9 only (no option 79)")
            c.eq(find_opts(r0["options"], OPT_INTERFACE_ID), [b"inner"], "inner Relay-reply: its Interface-ID")
            c.eq((msg[0], msg[1:4]), (ADDR_REG_REPLY, good[1:4]), "innermost: ADDR-REG-REPLY, same xid")
        except (ValueError, IndexError) as e:
            c.check(False, "well-formed nested Relay-reply", str(e))
    b = events(read(lab.path("tools.bindings")), "binding")
    c.check(b and b[-1].get("mac") == mac_text(mac) and b[-1].get("interface-id") == "inner"
            and b[-1].get("relay-levels") == "2", "relayed binding: MAC and Interface-ID of the innermost level",
            str(b[-1:] if b else None))
    # The outer level's peer-address is the client, the innermost one's is not: discarded.
    inner_bad = relay_msg(RELAY_FORW, 0, LINK, "2001:db8:1::200", opt(OPT_RELAY_MSG, good))
    start = len(server.log())
    s547.sendto(relay_msg(RELAY_FORW, 1, "::", CLIENT, opt(OPT_RELAY_MSG, inner_bad)), (LINK, 547))
    m = server.wait_log(r"(?m)^discard .*$", start=start, timeout=3)
    c.eq(kv(m.group(0)).get("reason"), "address-mismatch",
         "relayed: an address other than the innermost peer-address is discarded")
    c.check(recv(s547, 0.3) is None, "relayed: no reply to it")
    server.stop()
    s546.close()

    # --- regclient's discards (RFC 9686 §4.3) ------------------------------------------------
    fake = srv.udp("::", 547)
    fake.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                    lib.a6("ff02::1:2") + srv.ifindex(s_if).to_bytes(4, sys.byteorder))
    client = cli.spawn([PY, REGCLIENT, "--iface", c_if, "--address", CLIENT, "--timeout-first", "3",
                        "--max-retransmit", "0"], name="regclient")
    got = recv(fake, 5)
    if not c.check(got is not None, "regclient's ADDR-REG-INFORM reaches the server link"):
        return
    data, src = got
    opts = parse_options(data[4:])
    c.eq(data[0], ADDR_REG_INFORM, "regclient: type 36")
    c.eq(src[0].split("%")[0], CLIENT, "regclient: sent from the address being registered")
    c.eq([code for code, _ in opts], [OPT_CLIENTID, OPT_IAADDR],
         "regclient: Client Identifier and one IA Address; no ORO, no Server Identifier")
    c.eq(find_opts(opts, OPT_CLIENTID), [duid_ll(mac)], "regclient: DUID-LL of the interface MAC")
    sent_ia = opt(OPT_IAADDR, find_opts(opts, OPT_IAADDR)[0])
    xid = data[1:4]
    sid = opt(OPT_SERVERID, bytes.fromhex(SERVER_DUID))
    to = (CLIENT, 546)
    replies = [
        ("xid-mismatch", bytes([ADDR_REG_REPLY]) + bytes([xid[0] ^ 1]) + xid[1:] + sid + cid + sent_ia),
        ("ia-address-not-identical", bytes([ADDR_REG_REPLY]) + xid + sid + cid + ia_addr(CLIENT, 1, 2)),
        ("ia-address-mismatch", bytes([ADDR_REG_REPLY]) + xid + sid + cid + ia_addr("2001:db8:1::200", 3600, 7200)),
        ("no-ia-address", bytes([ADDR_REG_REPLY]) + xid + sid + cid),
        ("addr-reg-inform", bytes([ADDR_REG_INFORM]) + xid + cid + sent_ia),
    ]
    for reason, msg in replies:
        fake.sendto(msg, to)
        client.wait_log(rf"(?m)^discarded reason={reason} ", timeout=2)
        c.check(True, f"regclient discards a reply: {reason}")
    fake.sendto(bytes([ADDR_REG_REPLY]) + xid + sid + cid + sent_ia, to)
    try:
        rc = client.popen.wait(5)
    except Exception:
        rc = None
    c.eq(rc, 0, "regclient: exit 0 on the matching reply")
    c.check(re.search(rf"(?m)^registered address={re.escape(CLIENT)} xid=0x{xid.hex()} attempt=1 ", client.log()),
            "regclient: 'registered ... attempt=1'")


GROUPS = {"relay": (group_relay, 40), "snoop": (group_snoop, 40), "dhcrelay": (group_dhcrelay, 60),
          "loss": (group_loss, 40), "tools": (group_tools, 40)}


def main():
    return lib.run_groups(
        "addrreg", GROUPS, 80,
        needs=lambda g: [("nft", "")] + ([(DHCRELAY, "Debian package isc-dhcp-relay")] if g == "dhcrelay" else []),
        extra_logs=lambda lab: [("regserver.bindings", lab.path("regserver.bindings"))])


if __name__ == "__main__":
    sys.exit(main())
