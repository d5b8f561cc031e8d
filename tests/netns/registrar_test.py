#!/usr/bin/python3
"""`regrelay registrar` end to end, in network namespaces made by the test.

    registrar_test.py REGRELAY GROUP

GROUP is one of:
  e2e   relayed and direct registrations:
          client ns --veth-- relay ns (`regrelay relay --server`) --veth-- registrar ns --veth-- direct ns
        tests/addrreg/regclient.py in the client ns registers 2001:db8:1::100 through the relay (one
        level, option 79, link-address 2001:db8:1::1 -> link "office"); in the direct ns it
        registers 2001:db8:2::100 straight to ff02::1:2 on the registrar's own link (--listen-iface,
        link "lab" by --link-interface). Both clients accept the reply (regclient's RFC 9686 §4.3
        checks, the configured server DUID). The rows are read back with the sqlite3 CLI (an
        independent reader): history and bindings hold the addresses, DUIDs, the MAC from option 79
        and the links. `regrelay who-had` answers with that MAC, `regrelay history --mac` lists the
        event. An address outside the link's prefixes is dropped and logged, and not answered. A
        second registration (a new transaction) is recorded as refreshed. SIGTERM exits 0; started
        again on the same database, the registrar restores both bindings and `who-had` still answers.

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root or without sqlite3.
"""

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lib  # noqa: E402

PY = "/usr/bin/python3"
REGCLIENT = os.path.join(HERE, "..", "addrreg", "regclient.py")
SQLITE3 = "/usr/bin/sqlite3"

CLIENT = "2001:db8:1::100"
LINK = "2001:db8:1::1"
RELAY_UP = "2001:db8:ffff::2"
REGISTRAR = "2001:db8:ffff::1"
DIRECT = "2001:db8:2::100"
DIRECT_LINK = "2001:db8:2::1"
OFFLINK = "2001:db8:9::5"
SERVER_DUID = "000300010200000053ff"
NAME = "laptop.example.net."  # the relayed client's option 39, fully qualified (who-had and history print it)


def kv(line):
    words = line.split()
    out = {"": words[0] if words else ""}
    for w in words[1:]:
        k, sep, v = w.partition("=")
        if sep:
            out[k] = v
    return out


def events(text, kind):
    return [kv(line) for line in text.splitlines() if line.split()[:1] == [kind]]


def a16hex(addr):
    import ipaddress
    return ipaddress.IPv6Address(addr).packed.hex().upper()


def sql(db, query):
    r = subprocess.run([SQLITE3, "-readonly", "-separator", "|", db, query], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise RuntimeError(f"sqlite3: {r.stderr}")
    return [line.split("|") for line in r.stdout.splitlines()]


def register(lab, ns, iface, address, *extra, name="regclient"):
    log = lab.path(f"{name}.out")
    r = ns.exec(PY, REGCLIENT, "--iface", iface, "--address", address, "--log", log, *extra, check=False, timeout=30)
    print(f"{name}:\n  " + "\n  ".join(r.stdout.splitlines()), flush=True)
    return r.returncode, r.stdout


def group_e2e(c, lab, binary):
    cli, rel, reg, dct = lab.netns("cli"), lab.netns("rel"), lab.netns("reg"), lab.netns("dct")
    c_if, rc_if = lab.veth(cli, rel)
    ru_if, s_if = lab.veth(rel, reg)
    d_if, dc_if = lab.veth(reg, dct)
    cli.ip("-6", "addr", "add", CLIENT + "/64", "dev", c_if, "nodad", "valid_lft", "7200", "preferred_lft", "3600")
    cli.add_route("default", via=LINK)
    rel.add_addr(rc_if, LINK + "/64")
    rel.add_addr(ru_if, RELAY_UP + "/64")
    reg.add_addr(s_if, REGISTRAR + "/64")
    reg.add_route("2001:db8:1::/64", via=RELAY_UP)
    reg.add_addr(d_if, DIRECT_LINK + "/64")
    dct.ip("-6", "addr", "add", DIRECT + "/64", "dev", dc_if, "nodad", "valid_lft", "5000", "preferred_lft", "2500")
    dct.add_addr(dc_if, OFFLINK + "/64")
    lab.wait_ready()
    client_mac = cli.mac(c_if)
    direct_mac = dct.mac(dc_if)
    db = lab.path("registrar.db")
    argv = [binary, "registrar", "--db", "sqlite:" + db, "--listen-iface", d_if, "--server-duid", SERVER_DUID,
            "--link", "office=2001:db8:1::/64", "--link", "lab=2001:db8:2::/64", "--link-interface", "lab=" + d_if,
            "--log-level", "debug"]
    registrar = reg.spawn(argv, name="registrar")
    registrar.wait_log(r"registrar on UDP port 547")
    registrar.wait_log(r"listening for direct registrations on " + re.escape(d_if))
    relay = rel.spawn([binary, "relay", "--client-iface", rc_if, "--server", REGISTRAR], name="relay")
    relay.wait_log(r"relaying from " + re.escape(rc_if))

    # --- relayed -------------------------------------------------------------------------------
    rc, out = register(lab, cli, c_if, CLIENT, "--fqdn", NAME)
    reg_lines = events(out, "registered")
    c.eq(rc, 0, "relayed: regclient accepts the registrar's reply (exit 0)")
    sent = events(out, "sent")
    if c.eq(len(reg_lines), 1, "relayed: one registration"):
        c.eq(reg_lines[0].get("server-duid"), SERVER_DUID, "relayed: the reply carries the configured server DUID")
        c.eq(reg_lines[0].get("xid"), sent[0].get("xid") if sent else None, "relayed: reply has the xid sent")
    registrar.wait_log(r"registered address " + re.escape(CLIENT))
    rows = sql(db, "SELECT kind, hex(address), hex(duid), hex(mac), link, hex(link_address), valid, preferred "
                   "FROM history WHERE address = x'" + a16hex(CLIENT) + "'")
    if c.eq(len(rows), 1, "relayed: one history row (sqlite3 CLI)"):
        kind, addr, duid, mac, link, la, valid, pref = rows[0]
        c.eq((kind, addr, link, la), ("registered", a16hex(CLIENT), "office", a16hex(LINK)),
             "relayed: row kind registered, the address, link office, link-address 2001:db8:1::1")
        c.eq(duid.lower(), "00030001" + client_mac.hex(), "relayed: DUID-LL of the client")
        c.eq(mac.lower(), client_mac.hex(), "relayed: MAC from option 79 is the client veth's")
        if sent:
            c.eq((valid, pref), (sent[0].get("valid"), sent[0].get("preferred")), "relayed: lifetimes as sent")
    b = sql(db, "SELECT hex(mac), link FROM bindings WHERE address = x'" + a16hex(CLIENT) + "'")
    c.eq([[m.lower(), l] for m, l in b], [[client_mac.hex(), "office"]], "relayed: the live binding is in the bindings table")
    line = re.search(r"registered address " + re.escape(CLIENT) + r" duid \S+ mac (\S+) .*link-address (\S+) link (\S+)",
                     registrar.log())
    c.check(line and line.group(1) == client_mac.hex(":") and line.group(2) == LINK and line.group(3) == "office",
            "relayed: one log line with the address, DUID, MAC, link-address and link", line.group(0) if line else None)

    who = subprocess.run([binary, "who-had", CLIENT, "--json", "--db", "sqlite:" + db], capture_output=True, text=True,
                         timeout=10)
    c.check(who.returncode == 0, "who-had: exit 0 (bound now)", who.stderr)
    try:
        w = json.loads(who.stdout)
        c.eq((w.get("bound"), w.get("mac"), w.get("link_address"), w.get("duid"), w.get("fqdn")),
             (True, client_mac.hex(":"), LINK, "00030001" + client_mac.hex(), NAME),
             "who-had --json: bound, the MAC from option 79, link-address, DUID, the name from option 39")
    except json.JSONDecodeError as e:
        c.check(False, "who-had --json prints one JSON object", f"{e}: {who.stdout!r}")
    hist = subprocess.run([binary, "history", "--mac", client_mac.hex(":"), "--db", "sqlite:" + db],
                          capture_output=True, text=True, timeout=10)
    c.check(hist.returncode == 0 and len(hist.stdout.splitlines()) == 1 and " registered  address " + CLIENT in hist.stdout
            and "  fqdn " + NAME + "  " in hist.stdout,
            "history --mac: the one registration, with its name", hist.stdout + hist.stderr)
    hist = subprocess.run([binary, "history", "--address", CLIENT, "--json", "--db", "sqlite:" + db],
                          capture_output=True, text=True, timeout=10)
    try:
        c.eq([json.loads(line).get("fqdn") for line in hist.stdout.splitlines()], [NAME], "history --json: fqdn")
    except json.JSONDecodeError as e:
        c.check(False, "history --json prints JSON lines", f"{e}: {hist.stdout!r}")

    # --- direct, on the registrar's own link ----------------------------------------------------
    rc, out = register(lab, dct, dc_if, DIRECT, name="direct")
    c.eq(rc, 0, "direct: regclient accepts the reply sent to its address (exit 0)")
    registrar.wait_log(r"registered address " + re.escape(DIRECT))
    rows = sql(db, "SELECT kind, hex(duid), mac IS NULL, link, relay_chain FROM history WHERE address = x'"
               + a16hex(DIRECT) + "'")
    c.eq([[k, d.lower(), n, l, ch] for k, d, n, l, ch in rows],
         [["registered", "00030001" + direct_mac.hex(), "1", "lab", "[]"]],
         "direct: one row, the client's DUID, no option 79, link lab by the arrival interface, no relay chain")

    # --- an address outside the link's prefixes: dropped, logged, not answered ------------------
    rc, out = register(lab, dct, dc_if, OFFLINK, "--timeout-first", "0.5", "--max-retransmit", "0", name="offlink")
    c.eq(rc, 1, "off-link address: no reply, regclient gives up")
    registrar.wait_log(r"discard not-appropriate-to-link ADDR-REG-INFORM .*address " + re.escape(OFFLINK))
    c.eq(sql(db, "SELECT COUNT(*) FROM history WHERE address = x'" + a16hex(OFFLINK) + "'"), [["0"]],
         "off-link address: nothing recorded")

    # --- a new transaction for a bound address: refreshed -------------------------------------
    rc, out = register(lab, cli, c_if, CLIENT, "--fqdn", NAME, name="refresh")
    c.eq(rc, 0, "refresh: accepted")
    registrar.wait_log(r"refreshed address " + re.escape(CLIENT))
    c.eq(sql(db, "SELECT kind FROM history WHERE address = x'" + a16hex(CLIENT) + "' ORDER BY id"),
         [["registered"], ["refreshed"]], "refresh: recorded as refreshed after registered")

    c.eq(relay.stop(), 0, "relay: SIGTERM, exit 0")
    c.eq(registrar.stop(), 0, "registrar: SIGTERM, exit 0")

    # --- restart on the same database ------------------------------------------------------------
    again = reg.spawn(argv, name="registrar2")
    m = again.wait_log(r"(\d+) bindings restored")
    c.eq(m.group(1), "2", "restart: both bindings restored from the database")
    who = subprocess.run([binary, "who-had", CLIENT, "--db", "sqlite:" + db], capture_output=True, text=True, timeout=10)
    c.check(who.returncode == 0 and client_mac.hex(":") in who.stdout and re.search(r"^  fqdn +" + re.escape(NAME) + "$",
            who.stdout, re.M), "restart: who-had still answers with the MAC and the name", who.stdout + who.stderr)
    c.eq(again.stop(), 0, "registrar (restarted): SIGTERM, exit 0")


GROUPS = {"e2e": (group_e2e, 60)}


def main():
    return lib.run_groups("rg", GROUPS, 60, needs=lambda g: [(SQLITE3, "Debian package sqlite3")])


if __name__ == "__main__":
    sys.exit(main())
