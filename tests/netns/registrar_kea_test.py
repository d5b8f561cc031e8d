#!/usr/bin/python3
"""End to end with real peers: a lease from Kea 2.2 and a registration in `regrelay registrar`,
through `regrelay snoop` and `regrelay relay` given both servers, in namespaces made by the test.

    client ns --veth-- switch ns: bridge(client port, uplink) + regrelay snoop (LDRA)
              --veth-- router ns: regrelay relay --server KEA --server REGISTRAR
                         |-- veth -- server ns: kea-dhcp6 (tests/kea/kea-dhcp6.json.in)   2001:db8:ffff::1
                         `-- veth -- registrar ns: regrelay registrar (SQLite)             2001:db8:fffe::1

    registrar_kea_test.py REGRELAY GROUP

The client has the MAC 02:00:00:4b:ea:01 (Kea reserves 2001:db8:1::abcd for it, learnt from
option 79) and a static address 2001:db8:1::100 that it registers. Kea and the registrar run in
two namespaces because both bind UDP port 547.

GROUP is one of:
  e2e   ISC dhclient -6 gets the reserved 2001:db8:1::abcd from Kea (Kea's lease file: hwaddr = the
        client's MAC, hwaddr_source 8 = option 79); tests/addrreg/regclient.py registers
        2001:db8:1::100 with ADDR-REG-INFORM and accepts the ADDR-REG-REPLY (RFC 9686 §4.3 checks),
        which carries the registrar's Server Identifier, not Kea's. The relay sent the registration
        to both servers: Kea logged DHCP6_UNKNOWN_MSG_RECEIVED for type 36 and sent nothing for it
        (one Relay-reply for that xid came back through the relay, ADDR-REG-REPLY). The registrar's database
        (read with the sqlite3 CLI) holds the registration with the client's MAC (option 79 of the
        innermost level: the LDRA's), the switch port's Interface-ID and link office (matched by the
        router's link-address 2001:db8:1::1). `regrelay who-had ADDR --json` answers with the MAC of
        the client's interface and the switch port. DNS: the registration carried the name "laptop"
        (Client FQDN option 39, partial); the registrar's DNS view (--dns-listen, docs/dns.md),
        asked with dig from the router, answers laptop.hosts.example.net. AAAA 2001:db8:1::100 and
        its PTR (the reverse zone of the link's /64), NXDOMAIN for a name nobody registered, and
        laptop.corp.example. AAAA through the BNAME corp.example. -> hosts.example.net.: the BNAME
        RR, the synthesized CNAME and the AAAA.

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root or Kea, dhclient, sqlite3 or
dig is missing.
"""

import ipaddress
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lib  # noqa: E402
from kea_e2e_test import CLIENT_MAC, DHCLIENT, KEA, RESERVED_1, SERVER, Dhclient, Kea, lease_for  # noqa: E402

PY = "/usr/bin/python3"
REGCLIENT = os.path.join(HERE, "..", "addrreg", "regclient.py")
SQLITE3 = "/usr/bin/sqlite3"
DIG = "/usr/bin/dig"

CLIENT_GUA = "2001:db8:1::100"    # the address the client registers (static; a SLAAC one works alike)
LINK = "2001:db8:1::1"            # the router on the client link
KEA_UP = "2001:db8:ffff::2"       # the router on Kea's link (Kea is SERVER, 2001:db8:ffff::1)
REG_UP = "2001:db8:fffe::2"       # the router on the registrar's link
REGISTRAR = "2001:db8:fffe::1"
REG_DUID = "000300010200000053ff"
KEA_DUID = "000200007ed97265677265"  # tests/kea/kea-dhcp6.json.in: EN 32473, identifier 7265677265
HOST = "laptop"                   # the name the client sends in option 39 (a partial name)
ZONE = "hosts.example.net."       # the registrar's forward zone
FQDN = HOST + "." + ZONE
ALIAS_ZONE, ALIAS = "example.", "corp.example."   # corp.example. BNAME hosts.example.net.


def a16hex(addr):
    return ipaddress.IPv6Address(addr).packed.hex().upper()


def sql(db, query):
    r = subprocess.run([SQLITE3, "-readonly", "-separator", "|", db, query], capture_output=True, text=True,
                       timeout=10)
    if r.returncode != 0:
        raise RuntimeError(f"sqlite3: {r.stderr}")
    return [line.split("|") for line in r.stdout.splitlines()]


def dig(ns, name, qtype):
    """`dig @REGISTRAR NAME QTYPE` from `ns`: rcode, header flags and the answer section as
    (owner, type, rdata) tuples (TTL and class left out)."""
    r = ns.exec(DIG, "@" + REGISTRAR, "+norec", "+time=2", "+tries=2", "+nocookie", name, qtype, check=False,
                timeout=20)
    out = {"rcode": None, "flags": set(), "answer": [], "text": r.stdout + r.stderr}
    m = re.search(r"status: ([A-Z]+)", r.stdout)
    out["rcode"] = m.group(1) if m else None
    m = re.search(r";; flags: ([a-z ]*);", r.stdout)
    out["flags"] = set(m.group(1).split()) if m else set()
    section = False
    for line in r.stdout.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            section = True
        elif not line.strip():
            section = False  # a blank line ends a section
        elif section and not line.startswith(";"):
            f = line.split(None, 4)
            if len(f) == 5:
                out["answer"].append((f[0].lower(), f[3], f[4]))
    return out


def kv(line):
    return dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)


class Topology:
    def __init__(self, lab, binary):
        self.cli, self.sw, self.rtr, self.srv, self.reg = (lab.netns(r) for r in ("cli", "sw", "rtr", "srv", "reg"))
        self.c_if, self.sw_port = lab.veth(self.cli, self.sw, mac_a=CLIENT_MAC)
        self.sw_up, self.r_down = lab.veth(self.sw, self.rtr)
        self.r_kea, self.s_if = lab.veth(self.rtr, self.srv)
        self.r_reg, self.g_if = lab.veth(self.rtr, self.reg)
        lab.bridge(self.sw, [self.sw_port, self.sw_up])
        self.cli.ip("-6", "addr", "add", CLIENT_GUA + "/64", "dev", self.c_if, "nodad", "valid_lft", "7200",
                    "preferred_lft", "3600")
        self.cli.add_route("default", via=LINK)
        self.rtr.add_addr(self.r_down, LINK + "/64")
        self.rtr.add_addr(self.r_kea, KEA_UP + "/64")
        self.rtr.add_addr(self.r_reg, REG_UP + "/64")
        self.srv.add_addr(self.s_if, SERVER + "/64")
        self.reg.add_addr(self.g_if, REGISTRAR + "/64")
        lab.wait_ready()
        self.client_mac = self.cli.mac(self.c_if)

        # No subnet of Kea's matches the switch port's Interface-ID ("unused-port"): Kea selects
        # subnet 1 by the router's link-address and reserves ::abcd for the MAC of option 79.
        self.kea = Kea(lab, self.srv, self.s_if)
        self.db = lab.path("registrar.db")
        self.registrar = self.reg.spawn([binary, "registrar", "--db", "sqlite:" + self.db, "--server-duid", REG_DUID,
                                         "--link", "office=2001:db8:1::/64", "--log-level", "debug",
                                         # The DNS view: the forward zone, the reverse zone of the
                                         # link's /64 (the default), a BNAME in a zone of its own.
                                         "--dns-listen", f"[{REGISTRAR}]:53", "--dns-zone", ZONE,
                                         "--bname-zone", ALIAS_ZONE, "--bname", f"{ALIAS} {ZONE} 600"],
                                        name="registrar")
        self.registrar.wait_log(r"registrar on UDP port 547")
        self.snoop = self.sw.spawn([binary, "snoop", "--client-port", self.sw_port, "--uplink", self.sw_up,
                                    "--install-filters", "--log-level", "debug"], name="snoop")
        self.snoop.wait_log(r"snooping uplink port " + re.escape(self.sw_up))
        self.relay = self.rtr.spawn([binary, "relay", "--client-iface", self.r_down, "--server", SERVER,
                                     "--server", REGISTRAR, "--log-level", "debug"], name="relay")
        self.relay.wait_log(r"relaying from " + re.escape(self.r_down))


def register(lab, ns, iface, address, *extra, name="regclient"):
    log = lab.path(f"{name}.out")
    r = ns.exec(PY, REGCLIENT, "--iface", iface, "--address", address, "--log", log, *extra, check=False, timeout=30)
    print(f"{name} (exit {r.returncode}):\n  " + "\n  ".join((r.stdout + r.stderr).splitlines()), flush=True)
    return r.returncode, r.stdout


def group_e2e(c, lab, binary):
    t = Topology(lab, binary)
    mac_text = t.client_mac.hex(":")

    # --- the lease: dhclient -6 <-> Kea ------------------------------------------------------
    t0 = time.monotonic()
    dh = Dhclient(lab, t.cli, t.c_if)
    addr = dh.wait_address()
    print(f"measure: dhclient bound in {time.monotonic() - t0:.1f} s to {addr}", flush=True)
    dh.proc.stop()
    c.eq(addr, RESERVED_1, "lease: dhclient through snoop + relay gets the address Kea reserves for its MAC")
    row = lease_for(t.kea, RESERVED_1)
    if c.check(row is not None, f"lease: Kea's lease file has {RESERVED_1}", str(t.kea.lease_rows())):
        c.eq((row["hwaddr"], row["hwaddr_source"], row["subnet_id"]), (CLIENT_MAC, "8", "1"),
             "lease: Kea's row has hwaddr = the client's MAC, hwaddr_source 8 (option 79), subnet 1")

    # --- the registration: regclient <-> registrar ---------------------------------------------
    kea_log_start = len(t.kea.log())
    rc, out = register(lab, t.cli, t.c_if, CLIENT_GUA, "--fqdn", HOST)
    c.eq(rc, 0, "registration: regclient accepts an ADDR-REG-REPLY (exit 0)")
    sent = [kv(l) for l in out.splitlines() if l.startswith("sent ")]
    done = [kv(l) for l in out.splitlines() if l.startswith("registered ")]
    xid = sent[0].get("xid") if sent else None
    if c.eq(len(done), 1, "registration: one reply accepted"):
        c.eq(done[0].get("server-duid"), REG_DUID, "registration: the reply carries the registrar's Server "
                                                   "Identifier (not Kea's " + KEA_DUID + ")")
        c.eq(done[0].get("xid"), xid, "registration: the reply has the transaction-id sent")
        c.eq(done[0].get("from"), LINK, "registration: the reply came through the router (its address on the link)")
    t.registrar.wait_log(r"registered address " + re.escape(CLIENT_GUA))

    # Kea got the same Relay-forward (the relay sends to both servers), did not know type 36 and
    # answered nothing for it.
    try:
        t.kea.proc.wait_log(r"DHCP6_UNKNOWN_MSG_RECEIVED received unknown message \(type 36\)", timeout=5,
                            start=kea_log_start)
    except TimeoutError:
        pass
    kea_after = t.kea.log()[kea_log_start:]
    # Kea prints the transaction-id without leading zeros (tid=0xa20fb3).
    tids = [int(m.group(1), 16) for m in re.finditer(rf"tid=0x([0-9a-f]+): UNKNOWN \(type 36\) received from "
                                                     rf"{re.escape(KEA_UP)}\b", kea_after)]
    unknown = bool(xid) and tids == [int(xid, 16)] and "DHCP6_UNKNOWN_MSG_RECEIVED" in kea_after
    c.check(unknown, "Kea: received the registration from the relay and logged DHCP6_UNKNOWN_MSG_RECEIVED "
                     "for type 36 (Kea 2.2 drops ADDR-REG-INFORM)", kea_after[-1500:])
    sent_tids = [int(m.group(1), 16) for m in re.finditer(r"DHCP6_PACKET_SEND .*?tid=0x([0-9a-f]+):", t.kea.log())]
    c.check(bool(xid) and int(xid, 16) not in sent_tids, "Kea: sent nothing for it (no DHCP6_PACKET_SEND with its "
            "transaction-id)", kea_after[-1500:])
    # One Relay-reply for the xid came back through the relay: the registrar's (Kea's would be a second).
    replies = re.findall(rf"relay-reply (\S+) xid {xid} ", t.relay.log()) if xid else []
    c.eq(replies, ["RELAY-REPL(ADDR-REG-REPLY)"], "relay: one Relay-reply for the registration's xid, carrying "
                                                  "ADDR-REG-REPLY (the registrar's; none from Kea)")

    # --- the registrar's database, read with the sqlite3 CLI -----------------------------------
    rows = sql(t.db, "SELECT kind, hex(duid), hex(mac), hex(interface_id), link, hex(link_address), relay_chain "
                     "FROM history WHERE address = x'" + a16hex(CLIENT_GUA) + "'")
    if c.eq(len(rows), 1, "database: one history row for the address (sqlite3 CLI)"):
        kind, duid, mac, ifid, link, la, chain = rows[0]
        c.eq(kind, "registered", "database: kind registered")
        c.eq(duid.lower(), "00030001" + t.client_mac.hex(), "database: the client's DUID-LL")
        c.eq(mac.lower(), t.client_mac.hex(), "database: the MAC (option 79) is the client interface's")
        c.eq(bytes.fromhex(ifid).decode(errors="replace"), t.sw_port,
             "database: the Interface-ID is the switch port's name (the LDRA's option 18)")
        c.eq((link, la), ("office", a16hex(LINK)), "database: link office, by the router's link-address 2001:db8:1::1")
        try:
            levels = json.loads(chain)
            c.eq(len(levels), 2, "database: the relay chain has two levels (router, LDRA)")
        except json.JSONDecodeError as e:
            c.check(False, "database: the relay chain is JSON", f"{e}: {chain!r}")
    b = sql(t.db, "SELECT hex(mac) FROM bindings WHERE address = x'" + a16hex(CLIENT_GUA) + "'")
    c.eq([m.lower() for m, in b], [t.client_mac.hex()], "database: the live binding, with the client's MAC")

    # --- who-had -------------------------------------------------------------------------------
    who = subprocess.run([binary, "who-had", CLIENT_GUA, "--json", "--db", "sqlite:" + t.db], capture_output=True,
                         text=True, timeout=10)
    c.eq(who.returncode, 0, "who-had: exit 0 (bound now)")
    try:
        w = json.loads(who.stdout)
        c.eq((w.get("bound"), w.get("mac"), w.get("interface_id"), w.get("link_address"), w.get("duid")),
             (True, mac_text, t.sw_port, LINK, "00030001" + t.client_mac.hex()),
             "who-had --json: bound, the client interface's MAC, the switch port, link-address, DUID")
    except json.JSONDecodeError as e:
        c.check(False, "who-had --json prints one JSON object", f"{e}: {who.stdout!r} {who.stderr!r}")

    # --- DNS: the registrar serves the registration's name (option 39) ------------------------
    c.eq(sql(t.db, "SELECT fqdn FROM bindings WHERE address = x'" + a16hex(CLIENT_GUA) + "'"), [[HOST]],
         "database: the binding has the name of option 39")
    r = dig(t.rtr, FQDN, "AAAA")
    c.check(r["rcode"] == "NOERROR" and "aa" in r["flags"] and r["answer"] == [(FQDN, "AAAA", CLIENT_GUA)],
            f"dig {FQDN} AAAA: authoritative, the registered address", r["text"])
    ptr = ipaddress.IPv6Address(CLIENT_GUA).reverse_pointer + "."
    r = dig(t.rtr, ptr, "PTR")
    c.check(r["rcode"] == "NOERROR" and "aa" in r["flags"] and r["answer"] == [(ptr, "PTR", FQDN)],
            f"dig -x {CLIENT_GUA}: authoritative PTR {FQDN}", r["text"])
    alias = HOST + "." + ALIAS
    r = dig(t.rtr, alias, "AAAA")
    # The BNAME RR in RFC 3597 form (the draft has no type code; docs/dns.md): its RDATA is the
    # target in wire format, uncompressed.
    target = b"".join(bytes([len(label)]) + label.encode() for label in ZONE.split(".")[:-1]) + b"\x00"
    bname_rr = (ALIAS, "TYPE65280", f"\\# {len(target)} {target.hex().upper()}")
    c.check(r["rcode"] == "NOERROR" and "aa" in r["flags"] and r["answer"][:1] == [bname_rr],
            f"dig {alias} AAAA: the BNAME record {ALIAS} -> {ZONE} first", r["text"])
    c.eq(r["answer"][1:], [(alias, "CNAME", FQDN), (FQDN, "AAAA", CLIENT_GUA)],
         f"dig {alias} AAAA: then the synthesized CNAME to {FQDN} and the host's AAAA")
    r = dig(t.rtr, "other." + ZONE, "AAAA")
    c.check(r["rcode"] == "NXDOMAIN" and r["answer"] == [], f"dig other.{ZONE} AAAA: NXDOMAIN (no such registration)",
            r["text"])

    c.check(re.search(rf"ADDR-REG-INFORM address {re.escape(CLIENT_GUA)} mac {mac_text} .*{re.escape(t.sw_port)}",
                      t.snoop.log()), "snoop: logged the registration with the client's MAC and port")
    c.eq(t.relay.stop(), 0, "relay: SIGTERM, exit 0")
    c.eq(t.snoop.stop(), 0, "snoop: SIGTERM, exit 0")
    c.eq(t.registrar.stop(), 0, "registrar: SIGTERM, exit 0")


GROUPS = {"e2e": group_e2e}
LIMIT = 100  # seconds; ctest's TIMEOUT is 120


def main():
    return lib.run_groups("rrrk", GROUPS, LIMIT, log_chars=5000, timed=True,
                          needs=lambda g: [(KEA, "kea-dhcp6-server"), (DHCLIENT, "isc-dhcp-client"),
                                           (SQLITE3, "Debian package sqlite3"), (DIG, "Debian package bind9-dnsutils")])


if __name__ == "__main__":
    sys.exit(main())
