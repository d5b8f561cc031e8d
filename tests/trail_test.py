#!/usr/bin/python3
"""--log-format json and --trail of `regrelay relay`, live in network namespaces (the topology of
tests/netns/relay_live_test.py):

    client ns --veth-- relay ns --veth-- server ns
    2001:db8:1::100    2001:db8:1::1 | 2001:db8:ffff::2    2001:db8:ffff::1

    trail_test.py REGRELAY relay

The relay runs with --log-format json --trail F --rate-limit-mac 1/3. An ADDR-REG-INFORM with an
IA Address goes up, a Relay-reply with ADDR-REG-REPLY comes down, a Solicit goes up (not a
registration): F holds exactly two records with the right fields, mode 0600. F is renamed and
SIGHUP reopens it: a new F (0600) gets the next records, the old one keeps its two. A burst of 5
ADDR-REG-INFORMs over the per-MAC limit: F holds only what reached the server. Every log line is a
JSON object with time (RFC 3339 UTC, ms), level and event; the data-carrying events have their
fields. `regrelay trail F.1 F --address 2001:db8:1::100 --at TIME` names the client's MAC.

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root.
"""

import calendar
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "netns"))
import lib  # noqa: E402
from lib import (ADDR_REG_REPLY, OPT_CLIENTID, OPT_RELAY_MSG, OPT_SERVERID, RELAY_REPL,  # noqa: E402
                 client_msg, duid_ll, ia_addr, opt, relay_msg)
from relay_live_test import (CLIENT, RELAY_LINK, RELAY_UP, SERVER_DUID, Topology, addr_reg_inform,  # noqa: E402
                             recv, solicit)

TIME_RX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def wait_lines(path, n, timeout=3.0):
    """The lines of `path` once it has at least `n` (or what it has after `timeout` s)."""
    end = time.monotonic() + timeout
    while True:
        lines = read_lines(path)
        if len(lines) >= n or time.monotonic() > end:
            return lines
        time.sleep(0.02)


def records(c, lines, what):
    out = []
    for ln in lines:
        try:
            out.append(json.loads(ln))
        except ValueError as e:
            c.check(False, f"{what}: every trail line is JSON", f"{ln!r}: {e}")
    return out


def group_relay(c, lab, binary):
    user, tdir = lab.daemon_dir("log")
    trail = os.path.join(tdir, "trail.json")
    t = Topology(lab, binary, log_level="info", write=False,
                 extra=["--log-format", "json", "--trail", trail, "--rate-limit-mac", "1/3", "--user", user])
    mac = t.client_mac
    duid = duid_ll(mac)
    g_sock = t.client_socket(CLIENT, lib.PORT_CLIENT)
    ll_sock = t.client_socket(t.client_ll, lib.PORT_CLIENT)

    # Up: one ADDR-REG-INFORM (trailed) and one Solicit (not a registration).
    inform = addr_reg_inform(0x3a1b2c, mac)
    t.to_relays(g_sock, inform)
    c.check(recv(t.server) is not None, "the ADDR-REG-INFORM reaches the server")
    time.sleep(1.1)  # a token back for the Solicit under --rate-limit-mac 1/3
    t.to_relays(ll_sock, solicit(0x101010, mac))
    c.check(recv(t.server) is not None, "the Solicit reaches the server")
    # Down: the server's ADDR-REG-REPLY, unwrapped to the client.
    reply = client_msg(ADDR_REG_REPLY, 0x3a1b2c, opt(OPT_CLIENTID, duid), opt(OPT_SERVERID, SERVER_DUID),
                       ia_addr(CLIENT, 3600, 7200))
    t.server.sendto(relay_msg(RELAY_REPL, 0, RELAY_LINK, CLIENT, opt(OPT_RELAY_MSG, reply)),
                    (RELAY_UP, lib.PORT_SERVER))
    c.check(recv(g_sock) is not None, "the ADDR-REG-REPLY reaches the client")

    lines = wait_lines(trail, 2)
    time.sleep(0.3)
    lines = read_lines(trail)
    c.eq(len(lines), 2, "the trail holds exactly two records (the INFORM and the REPLY; no Solicit)")
    recs = records(c, lines, "first file")
    if len(recs) == 2:
        inf, rep = recs
        want_inf = {"event.action": "addr-reg-inform", "client.ip": CLIENT, "source.ip": CLIENT,
                    "client.mac": mac.hex(":"), "dhcp6.duid": duid.hex(),
                    "observer.ingress.interface.name": t.rc_if, "dhcp6.xid": "0x3a1b2c",
                    "dhcp6.preferred_lifetime": 3600, "dhcp6.valid_lifetime": 7200}
        for k, v in want_inf.items():
            c.eq(inf.get(k), v, f"INFORM record: {k}")
        c.check("observer.ingress.vlan.id" not in inf, "INFORM record: no VLAN for an untagged frame")
        c.check(TIME_RX.match(str(inf.get("@timestamp"))), "INFORM record: @timestamp RFC 3339 UTC with ms",
                repr(inf.get("@timestamp")))
        ts = str(inf.get("@timestamp", "1970-01-01T00:00:00"))[:19]
        c.check(abs(time.time() - calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%S"))) < 30,
                "INFORM record: the time is now (UTC)", ts)
        want_rep = {"event.action": "addr-reg-reply", "client.ip": CLIENT, "destination.ip": CLIENT,
                    "observer.egress.interface.name": t.rc_if, "dhcp6.xid": "0x3a1b2c"}
        for k, v in want_rep.items():
            c.eq(rep.get(k), v, f"REPLY record: {k}")
    c.eq(os.stat(trail).st_mode & 0o777, 0o600, "the trail file is created mode 0600")

    # Rotation: rename, SIGHUP, a new file at the path.
    os.rename(trail, trail + ".1")
    start = len(t.relay.log())
    t.relay.signal(signal.SIGHUP)
    t.relay.wait_log(r"--trail: reopened", start=start)
    c.check(os.path.exists(trail), "SIGHUP creates a new trail file after the rename")
    if os.path.exists(trail):
        c.eq(os.stat(trail).st_mode & 0o777, 0o600, "the new trail file is mode 0600")

    # A burst over the per-MAC limit (1/s, burst 3): only what was relayed is trailed.
    time.sleep(1.1)
    for i in range(5):
        t.to_relays(g_sock, addr_reg_inform(0x500000 + i, mac))
    relayed = 0
    while recv(t.server, 0.5) is not None:
        relayed += 1
    c.check(1 <= relayed < 5, "the per-MAC limit drops part of the burst", f"{relayed} relayed")
    lines = wait_lines(trail, relayed)
    time.sleep(0.3)
    new = records(c, read_lines(trail), "new file")
    c.eq(len(new), relayed, "the new trail holds exactly the relayed ADDR-REG-INFORMs (no rate-limited drops)")
    c.check(all(r.get("event.action") == "addr-reg-inform" and r.get("client.mac") == mac.hex(":") for r in new),
            "the new records are the burst's registrations")
    c.eq(len(read_lines(trail + ".1")), 2, "the renamed file keeps its two records")

    t.relay.signal(signal.SIGUSR1)
    t.relay.wait_log(r'"event":"counters"', start=start)
    c.eq(t.relay.stop(), 0, "the relay exits 0 on SIGTERM")

    # Every log line is JSON with the required keys; the data-carrying events have their fields.
    events = {}
    for ln in t.relay.log().splitlines():
        try:
            o = json.loads(ln)
        except ValueError as e:
            c.check(False, "every log line is a JSON object", f"{ln!r}: {e}")
            continue
        ok = isinstance(o, dict) and TIME_RX.match(str(o.get("time"))) and o.get("level") and o.get("event")
        c.check(ok, "log line has time (RFC 3339 UTC ms), level and event", ln)
        if ok:
            events.setdefault(o["event"], []).append(o)
    for ev in ("start", "interface_up", "addr_reg_inform", "reload", "counters", "stop", "flood_summary"):
        c.check(ev in events, f"log has a {ev!r} event", sorted(events))
    if "addr_reg_inform" in events:
        e = events["addr_reg_inform"][0]
        c.eq((e.get("addresses"), e.get("mac"), e.get("duid"), e.get("interface"), e.get("source"), e.get("xid")),
             ([CLIENT], mac.hex(":"), duid.hex(), t.rc_if, CLIENT, "0x3a1b2c"), "addr_reg_inform fields")
        c.check(e.get("message", "").startswith("ADDR-REG-INFORM address " + CLIENT), "addr_reg_inform message",
                e.get("message"))
    if "interface_up" in events:
        c.eq(events["interface_up"][0].get("interface"), t.rc_if, "interface_up names the interface")
    if "flood_summary" in events:
        f = events["flood_summary"][0]
        c.check(f.get("interface") == t.rc_if and f.get("rate_limit_mac", 0) >= 1,
                "flood_summary: interface and rate_limit_mac", json.dumps(f))
    if "stop" in events:
        c.check(events["stop"][0].get("signal"), "stop names the signal", json.dumps(events["stop"][0]))
    for o in events.get("message", []):
        c.check(isinstance(o.get("message"), str), "a plain line is event message with its text", json.dumps(o))

    # The question, answered from the two files.
    if len(recs) == 2:
        at = recs[0]["@timestamp"]  # the registration time itself is within [t0, t0 + valid]
        q = subprocess.run([binary, "trail", trail + ".1", trail, "--address", CLIENT, "--at", at],
                           capture_output=True, text=True, timeout=10)
        c.check(q.returncode == 0, "regrelay trail --at finds a registration", q.stderr)
        c.check(f"mac {mac.hex(':')}" in q.stdout and "replied" in q.stdout,
                "regrelay trail --at names the MAC (and that the server replied)", q.stdout)
        q = subprocess.run([binary, "trail", trail + ".1", trail, "--address", CLIENT, "--json"],
                           capture_output=True, text=True, timeout=10)
        got = [json.loads(ln) for ln in q.stdout.splitlines()]
        c.eq(len(got), 1 + len(new), "regrelay trail --json: every registration of the address, both files")
        c.check(all(g.get("client.mac") == mac.hex(":") for g in got), "regrelay trail --json: the MAC")
        q = subprocess.run([binary, "trail", trail, "--address", CLIENT, "--at", "2000-01-01 00:00"],
                           capture_output=True, text=True, timeout=10)
        c.eq(q.returncode, 1, "regrelay trail --at before any registration: none (exit 1)")


GROUPS = {"relay": (group_relay, 40)}


def main():
    return lib.run_groups("rrtrail", GROUPS, 40)


if __name__ == "__main__":
    sys.exit(main())
