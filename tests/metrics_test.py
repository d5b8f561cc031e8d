#!/usr/bin/python3
"""`--metrics-listen`: Prometheus metrics of `regrelay relay` and `regrelay snoop`, in network
namespaces (the topologies of tests/netns/relay_live_test.py and snoop_live_test.py):

    metrics_test.py REGRELAY GROUP

GROUP is one of:
  relay  the relay serves [::1]:9547 inside its namespace. After a Solicit, an ADDR-REG-INFORM, a
         type 200 and a client-sent Advertise (dropped) from the client, an ADDR-REG-REPLY Relay-reply
         and a bare Reply (dropped) from the server, GET /metrics (fetched inside the namespace)
         has exactly those counts per port, type and reason, the server's sent count, the interface
         gauge and events, build info and start time; every family has HELP and TYPE and the text
         passes a strict parser of the exposition format 0.0.4 (Debian's prometheus package, the
         only one with promtool, is a 96 MB server that starts a service: not used). Anything but
         GET /metrics is 404. A flap of the client interface shows as down/up events; a burst over
         --rate-limit-mac shows as rate-limit-mac drops that add up with what the server got. A
         SIGHUP with a changed metrics-listen in the --config file is refused with a warning and
         the old address keeps serving. A port already taken: exit 1 naming the address.
  snoop  snoop serves 127.0.0.1:9547 in the bridge's namespace; one client's exchange (Solicit /
         Advertise, ADDR-REG-INFORM / ADDR-REG-REPLY, type 200) and a forged Advertise give exact
         counts on its port, nothing on the other client port, the Relay-replies on the uplink.

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root.
"""

import math
import os
import re
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "netns"))
import lib  # noqa: E402
import relay_live_test as rl  # noqa: E402
import snoop_live_test as sl  # noqa: E402
from lib import ADVERTISE, OPT_CLIENTID, OPT_RELAY_MSG, OPT_SERVERID, REPLY, RELAY_REPL  # noqa: E402
from lib import client_msg, duid_ll, ia_addr, opt, relay_msg  # noqa: E402

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RELAY_DROPS = ["bad-frame", "bad-udp-checksum", "ipv6-fragment", "not-server-port", "not-for-us", "truncated",
               "server-message-from-client", "hop-limit", "malformed-relay", "too-big", "not-relay-reply",
               "no-relay-message", "unknown-interface", "bad-peer-address", "rate-limit-port", "rate-limit-mac",
               "not-dhcpv6"]
SNOOP_DROPS = ["bad-frame", "bad-udp-checksum", "ipv6-fragment", "not-dhcp", "truncated", "guard-server-message",
               "guard-relay-reply", "guard-relay-forward", "hop-limit", "malformed-relay", "too-big",
               "unknown-interface", "no-interface-id", "no-relay-message", "no-client-mac", "wrong-direction",
               "native-server-message", "not-intercepted", "uplink-not-relay-reply", "rate-limit-port",
               "rate-limit-mac", "vlan-not-member", "double-tagged", "vlan-not-on-uplink", "reply-vlan-mismatch"]
EVENTS = ["up", "down", "absent", "recreated", "readdressed", "capture_error"]


# --- HTTP inside a namespace ------------------------------------------------------------------

def http_get(ns, host, port, path, method="GET"):
    """(status, headers {lower-case name: value}, body) of one HTTP/1.0 request made from inside
    the namespace, with a raw socket (no proxy settings can interfere)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with ns.inside():
        s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.connect((host, port))
        s.sendall(f"{method} {path} HTTP/1.0\r\nHost: metrics\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0])
    if not m:
        raise ValueError(f"not an HTTP response: {lines[0]!r}")
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(m.group(1)), headers, body


# --- a strict parser of the text exposition format 0.0.4 --------------------------------------

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|inf)|NaN")


def parse_exposition(text):
    """Families {name: {"help", "type", "samples": {frozenset(labels.items()): value}}}; raises
    ValueError naming the line for anything the format (or Prometheus' conventions that promtool
    checks) does not allow: no HELP or TYPE, TYPE after samples, a family split or repeated, a bad
    name, label or value, a duplicate series, a counter not ending in _total, no final newline."""
    if not text.endswith("\n"):
        raise ValueError("the text does not end with a newline")
    fams, order, current = {}, [], None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {n}: {line!r}"
        if line == "":
            raise ValueError(f"{where}: empty line")
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (\S+) (.*)", line)
            if not m:
                raise ValueError(f"{where}: a comment that is not HELP or TYPE")
            kind, name, rest = m.groups()
            if not METRIC_NAME.fullmatch(name):
                raise ValueError(f"{where}: bad metric name")
            f = fams.get(name)
            if f is None:
                f = fams[name] = {"help": None, "type": None, "samples": {}}
                order.append(name)
            elif name != current:
                raise ValueError(f"{where}: family {name} is not contiguous")
            current = name
            if kind == "HELP":
                if f["help"] is not None:
                    raise ValueError(f"{where}: second HELP")
                if re.search(r"\\[^\\n]", rest) or rest.endswith("\\") and not rest.endswith("\\\\"):
                    raise ValueError(f"{where}: bad escape in HELP")
                if not rest.strip():
                    raise ValueError(f"{where}: empty HELP")
                f["help"] = rest
            else:
                if f["type"] is not None:
                    raise ValueError(f"{where}: second TYPE")
                if f["samples"]:
                    raise ValueError(f"{where}: TYPE after samples")
                if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise ValueError(f"{where}: unknown type")
                f["type"] = rest
            continue
        m = METRIC_NAME.match(line)
        if not m:
            raise ValueError(f"{where}: no metric name")
        name, i = m.group(0), m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            i += 1
            while True:
                if line[i] == "}":
                    i += 1
                    break
                lm = LABEL_NAME.match(line, i)
                if not lm or lm.group(0).startswith("__"):
                    raise ValueError(f"{where}: bad label name at {i}")
                lname, i = lm.group(0), lm.end()
                if line[i:i + 2] != '="':
                    raise ValueError(f"{where}: expected =\" after {lname}")
                i += 2
                val = []
                while True:
                    ch = line[i]
                    if ch == "\\":
                        nxt = line[i + 1]
                        if nxt not in '\\"n':
                            raise ValueError(f"{where}: bad escape \\{nxt}")
                        val.append("\n" if nxt == "n" else nxt)
                        i += 2
                    elif ch == '"':
                        i += 1
                        break
                    else:
                        val.append(ch)
                        i += 1
                if lname in labels:
                    raise ValueError(f"{where}: label {lname} twice")
                labels[lname] = "".join(val)
                if line[i] == ",":
                    i += 1
                elif line[i] != "}":
                    raise ValueError(f"{where}: expected , or }} at {i}")
        if line[i:i + 1] != " ":
            raise ValueError(f"{where}: expected one space before the value")
        parts = line[i + 1:].split(" ")
        if len(parts) not in (1, 2) or not FLOAT.fullmatch(parts[0]) or (len(parts) == 2 and
                                                                         not re.fullmatch(r"-?\d+", parts[1])):
            raise ValueError(f"{where}: bad value or timestamp")
        value = float(parts[0])
        if name != current:
            raise ValueError(f"{where}: sample of {name} outside its family (HELP/TYPE first, contiguous)")
        f = fams[name]
        if f["type"] is None or f["help"] is None:
            raise ValueError(f"{where}: sample before both HELP and TYPE")
        if f["type"] == "counter" and (value < 0 or math.isnan(value)):
            raise ValueError(f"{where}: a counter must be a non-negative number")
        key = frozenset(labels.items())
        if key in f["samples"]:
            raise ValueError(f"{where}: duplicate series")
        f["samples"][key] = value
    for name, f in fams.items():
        if f["type"] is None or f["help"] is None:
            raise ValueError(f"family {name}: HELP and TYPE are both required here")
        if (f["type"] == "counter") != name.endswith("_total"):
            raise ValueError(f"family {name}: counters, and only counters, end in _total")
        if not name.startswith("regrelay_"):
            raise ValueError(f"family {name}: not regrelay_ prefixed")
    return fams


def self_test_parser(c):
    """The parser refuses what it should (so a pass of the real text means something)."""
    good = "# HELP a_total x\n# TYPE a_total counter\na_total{p=\"1\"} 3\n"
    bad = {
        "no HELP": "# TYPE regrelay_a_total counter\nregrelay_a_total 1\n",
        "no TYPE": "# HELP regrelay_a_total x\nregrelay_a_total 1\n",
        "no final newline": "# HELP regrelay_a_total x\n# TYPE regrelay_a_total counter\nregrelay_a_total 1",
        "duplicate series": "# HELP regrelay_a_total x\n# TYPE regrelay_a_total counter\n"
                            "regrelay_a_total{p=\"1\"} 1\nregrelay_a_total{p=\"1\"} 2\n",
        "bad escape": "# HELP regrelay_a_total x\n# TYPE regrelay_a_total counter\nregrelay_a_total{p=\"\\t\"} 1\n",
        "counter without _total": "# HELP regrelay_a x\n# TYPE regrelay_a counter\nregrelay_a 1\n",
        "split family": "# HELP regrelay_a_total x\n# TYPE regrelay_a_total counter\nregrelay_a_total 1\n"
                        "# HELP regrelay_b x\n# TYPE regrelay_b gauge\nregrelay_b 1\nregrelay_a_total{x=\"1\"} 1\n",
        "bad value": "# HELP regrelay_b x\n# TYPE regrelay_b gauge\nregrelay_b one\n",
        "two spaces": "# HELP regrelay_b x\n# TYPE regrelay_b gauge\nregrelay_b  1\n",
        "unquoted label": "# HELP regrelay_b x\n# TYPE regrelay_b gauge\nregrelay_b{p=1} 1\n",
    }
    try:
        parse_exposition(good.replace("a_total", "regrelay_a_total"))
        ok = True
    except ValueError as e:
        ok = str(e)
    c.check(ok is True, "the exposition parser accepts a well-formed family", ok)
    for what, text in bad.items():
        try:
            parse_exposition(text)
            c.check(False, f"the exposition parser refuses: {what}")
        except ValueError:
            c.check(True, f"the exposition parser refuses: {what}")


def get_metrics(c, ns, host, port, what):
    """Fetches and parses /metrics; checks the status and Content-Type. Families or None."""
    status, headers, body = http_get(ns, host, port, "/metrics")
    c.eq(status, 200, f"{what}: GET /metrics is 200")
    c.eq(headers.get("content-type"), CONTENT_TYPE, f"{what}: Content-Type")
    try:
        fams = parse_exposition(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        c.check(False, f"{what}: the text is valid exposition format 0.0.4 with HELP and TYPE everywhere", str(e))
        return None, body.decode("utf-8", "replace")
    return fams, body.decode()


def value(fams, name, **labels):
    """The sample's value, or None when the family or series is absent."""
    f = fams.get(name) if fams else None
    return None if f is None else f["samples"].get(frozenset(labels.items()))


def series(fams, name, **match):
    """{frozenset(labels): value} of the family's series whose labels include `match`."""
    f = fams.get(name) if fams else None
    if f is None:
        return {}
    return {k: v for k, v in f["samples"].items() if set(match.items()) <= set(k)}


def wait_metrics(c, ns, host, port, what, ready, timeout=3.0):
    """Fetches /metrics until ready(fams) (the daemon publishes at most every 250 ms), at most
    `timeout` s; returns the last families and text."""
    deadline = time.monotonic() + timeout
    while True:
        fams, text = _quiet_get(ns, host, port)
        if fams is not None and ready(fams):
            return fams, text
        if time.monotonic() > deadline:
            return get_metrics(c, ns, host, port, what)
        time.sleep(0.05)


def _quiet_get(ns, host, port):
    try:
        status, _, body = http_get(ns, host, port, "/metrics")
        return (parse_exposition(body.decode()) if status == 200 else None), body.decode("utf-8", "replace")
    except (OSError, ValueError):
        return None, ""


def check_common(c, fams, binary, mode, t0, what):
    version = lib.run([binary, "--version"]).stdout.splitlines()[0].split()[1]
    c.eq(value(fams, "regrelay_build_info", version=version, mode=mode), 1.0,
         f"{what}: regrelay_build_info{{version=\"{version}\",mode=\"{mode}\"}} 1")
    st = value(fams, "regrelay_start_time_seconds")
    c.check(st is not None and t0 - 1 <= st <= time.time() + 1, f"{what}: regrelay_start_time_seconds is the start",
            f"{st} vs {t0}")
    c.eq(fams["regrelay_build_info"]["type"], "gauge", f"{what}: build_info is a gauge")
    c.eq(fams["regrelay_interface_up"]["type"], "gauge", f"{what}: interface_up is a gauge")
    for fam in ("regrelay_drops_total", "regrelay_messages_received_total", "regrelay_interface_events_total"):
        c.eq(fams.get(fam, {}).get("type"), "counter", f"{what}: {fam} is a counter")


def check_drops(c, fams, port, reasons, want, what):
    """Every reason has a series for the port; the values are `want` (others 0)."""
    got = {dict(k)["reason"]: v for k, v in series(fams, "regrelay_drops_total", port=port).items()}
    c.eq(sorted(got), sorted(reasons), f"{what}: a drops series per reason for {port}")
    c.eq({r: v for r, v in got.items() if v}, {r: float(v) for r, v in want.items()},
         f"{what}: drops on {port}: {want or 'none'}")


def by_type(fams, family, port):
    return {dict(k)["type"]: v for k, v in series(fams, family, port=port).items()}


# --- groups -----------------------------------------------------------------------------------

def group_relay(c, lab, binary):
    self_test_parser(c)
    conf = lab.path("relay.conf")
    with open(conf, "w") as f:
        f.write("metrics-listen = [::1]:9547\n")
    os.chmod(conf, 0o644)
    os.chmod(lab.tmpdir, 0o755)  # the relay re-reads the file after dropping root
    t0 = time.time()
    t = rl.Topology(lab, binary, log_level="info", write=False,
                    extra=["--config", conf, "--rate-limit-mac", "1/5"])
    t.relay.wait_log(r"serving metrics at http://\[::1\]:9547/metrics")
    port = t.rc_if
    ll_sock = t.client_socket(t.client_ll, lib.PORT_CLIENT)
    g_sock = t.client_socket(rl.CLIENT, lib.PORT_CLIENT)
    mac = t.client_mac

    # Before any traffic: the ports are there, nothing counted.
    fams, _ = get_metrics(c, t.rel, "::1", 9547, "relay at start")
    if fams:
        c.eq(value(fams, "regrelay_frames_received_total", port=port), 0.0, "at start: nothing received")
        c.eq(value(fams, "regrelay_interface_up", port=port), 1.0, "at start: interface_up 1")

    sent = [rl.solicit(0x101010, mac), rl.addr_reg_inform(0x3a1b2c, mac),
            client_msg(200, 0x0000c8, opt(OPT_CLIENTID, duid_ll(mac)))]
    for msg, sock in zip(sent, (ll_sock, g_sock, ll_sock)):
        t.to_relays(sock, msg)
        c.check(rl.recv(t.server) is not None, f"the server receives type {msg[0]}")
    adv = client_msg(ADVERTISE, 0x101010, opt(OPT_CLIENTID, duid_ll(mac)), opt(OPT_SERVERID, rl.SERVER_DUID))
    t.to_relays(ll_sock, adv)  # a client-sent Advertise: dropped
    rl.nothing_more(c, t.server, "the client's Advertise is not relayed", 0.3)
    reply = client_msg(lib.ADDR_REG_REPLY, 0x3a1b2c, opt(OPT_CLIENTID, duid_ll(mac)),
                       opt(OPT_SERVERID, rl.SERVER_DUID), ia_addr(rl.CLIENT, 3600, 7200))
    t.server.sendto(relay_msg(RELAY_REPL, 0, rl.RELAY_LINK, rl.CLIENT, opt(OPT_RELAY_MSG, reply)),
                    (rl.RELAY_UP, lib.PORT_SERVER))
    c.check(rl.recv(g_sock) is not None, "the ADDR-REG-REPLY reaches the client")
    t.server.sendto(client_msg(REPLY, 0x010101), (rl.RELAY_UP, lib.PORT_SERVER))  # not a Relay-reply: dropped

    def ready(f):
        return value(f, "regrelay_drops_total", port="upstream", reason="not-relay-reply") == 1.0 and \
            value(f, "regrelay_replies_relayed_total", port=port, type="addr_reg_reply") == 1.0
    fams, text = wait_metrics(c, t.rel, "::1", 9547, "relay", ready)
    if not fams:
        return
    c.check(True, "relay: the text is valid exposition format 0.0.4, HELP and TYPE for every family")
    check_common(c, fams, binary, "relay", t0, "relay")
    c.eq(value(fams, "regrelay_frames_received_total", port=port), 4.0, f"frames received on {port}: 4")
    c.eq(by_type(fams, "regrelay_messages_received_total", port),
         {"solicit": 1.0, "addr_reg_inform": 1.0, "200": 1.0, "advertise": 1.0},
         f"messages received on {port} by type (the number for an unknown type)")
    c.eq(by_type(fams, "regrelay_messages_relayed_total", port),
         {"solicit": 1.0, "addr_reg_inform": 1.0, "200": 1.0}, f"messages relayed from {port} by type")
    c.eq(by_type(fams, "regrelay_replies_relayed_total", port), {"addr_reg_reply": 1.0},
         f"replies delivered on {port} by type")
    check_drops(c, fams, port, RELAY_DROPS, {"server-message-from-client": 1}, "relay")
    c.eq(value(fams, "regrelay_frames_received_total", port="upstream"), 2.0, "upstream: 2 datagrams received")
    c.eq(by_type(fams, "regrelay_messages_received_total", "upstream"), {"relay_repl": 1.0, "reply": 1.0},
         "upstream: messages received by type")
    check_drops(c, fams, "upstream", RELAY_DROPS, {"not-relay-reply": 1}, "relay")
    c.eq(value(fams, "regrelay_server_sent_total", server=rl.SERVER), 3.0, "server_sent_total: 3")
    c.eq(value(fams, "regrelay_server_send_errors_total", server=rl.SERVER), 0.0, "server_send_errors_total: 0")
    c.eq(value(fams, "regrelay_server_icmp_errors_total", server=rl.SERVER), 0.0, "server_icmp_errors_total: 0")
    c.eq(value(fams, "regrelay_client_send_errors_total", port=port), 0.0, "client_send_errors_total: 0")
    c.eq(value(fams, "regrelay_interface_up", port=port), 1.0, "interface_up 1")
    c.eq(value(fams, "regrelay_interface_up", port="upstream"), None, "no interface_up for the server side")
    ev = {dict(k)["event"]: v for k, v in series(fams, "regrelay_interface_events_total", port=port).items()}
    c.eq(sorted(ev), sorted(EVENTS), "an interface_events series per event")
    c.eq(ev.get("down"), 0.0, "no down event yet")
    up0 = ev.get("up", 0.0)
    c.check(value(fams, "regrelay_capture_kernel_drops_total", port=port) is not None, "capture kernel drops series")
    c.eq(value(fams, "regrelay_flood_mac_table_capacity"), 4096.0, "flood MAC table capacity 4096")
    with open(lab.path("metrics-relay.txt"), "w") as f:
        f.write(text)
    print("sample /metrics (relay):\n" + text, flush=True)

    # Anything else than GET /metrics: 404; / links to it.
    for path, method in (("/nope", "GET"), ("/metrics/", "GET"), ("/metrics", "POST"), ("/metrics", "PUT")):
        st, _, _ = http_get(t.rel, "::1", 9547, path, method)
        c.eq(st, 404, f"{method} {path}: 404")
    st, hd, body = http_get(t.rel, "::1", 9547, "/")
    c.check(st == 200 and b'href="/metrics"' in body, "GET /: a link to /metrics", f"{st} {body[:80]!r}")

    # A flap: down and up events, the gauge back at 1.
    t.rel.ip("link", "set", port, "down")
    fams, _ = wait_metrics(c, t.rel, "::1", 9547, "flap down",
                           lambda f: value(f, "regrelay_interface_up", port=port) == 0.0)
    c.eq(value(fams, "regrelay_interface_up", port=port), 0.0, "link down: interface_up 0")
    t.rel.ip("link", "set", port, "up")
    fams, _ = wait_metrics(c, t.rel, "::1", 9547, "flap up",
                           lambda f: value(f, "regrelay_interface_up", port=port) == 1.0)
    c.eq(value(fams, "regrelay_interface_up", port=port), 1.0, "link up again: interface_up 1")
    c.eq(value(fams, "regrelay_interface_events_total", port=port, event="down"), 1.0, "one down event")
    c.eq(value(fams, "regrelay_interface_events_total", port=port, event="up"), up0 + 1, "one more up event")

    # A burst over --rate-limit-mac 1/5: the drops and what the server got add up.
    lab.wait_ready()
    burst = 12
    for i in range(burst):
        t.to_relays(ll_sock, rl.solicit(0x202000 + i, mac))
    got = 0
    while rl.recv(t.server, 0.5) is not None:
        got += 1
    fams, _ = wait_metrics(c, t.rel, "::1", 9547, "burst",
                           lambda f: value(f, "regrelay_messages_received_total", port=port, type="solicit") ==
                           1.0 + burst)
    rate = value(fams, "regrelay_drops_total", port=port, reason="rate-limit-mac") or 0
    c.eq(value(fams, "regrelay_messages_received_total", port=port, type="solicit"), 1.0 + burst,
         f"{burst} more Solicits received")
    c.check(rate >= 1, "the burst over --rate-limit-mac 1/5 is counted as rate-limit-mac drops", rate)
    c.eq(rate + got, float(burst), f"rate-limit-mac drops ({rate:.0f}) + Relay-forwards at the server ({got}) = {burst}")
    c.eq(value(fams, "regrelay_messages_relayed_total", port=port, type="solicit"), 1.0 + got,
         "relayed Solicits = what the server got")
    c.eq(value(fams, "regrelay_server_sent_total", server=rl.SERVER), 3.0 + got, "server_sent_total follows")

    # SIGHUP with another metrics-listen: refused, the old address keeps serving.
    with open(conf, "w") as f:
        f.write("metrics-listen = [::1]:9548\n")
    start = len(t.relay.log())
    t.relay.signal(signal.SIGHUP)
    t.relay.wait_log(r"configuration reloaded", start=start)
    c.check(re.search(r"warning reload: --metrics-listen changed to '\[::1\]:9548': not applied, still "
                      r"'\[::1\]:9547'", t.relay.log()[start:]), "SIGHUP: a changed --metrics-listen is refused, "
            "with a warning", t.relay.log()[start:][-400:])
    st, _, _ = http_get(t.rel, "::1", 9547, "/metrics")
    c.eq(st, 200, "after SIGHUP: [::1]:9547 still serves")
    c.eq(t.relay.stop(), 0, "relay: SIGTERM, exit 0")

    # Bind failure: exit 1, naming the address.
    holder = t.rel.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 9549))
    holder.listen(1)
    p = t.rel.spawn([binary, "relay", "--client-iface", port, "--server", rl.SERVER,
                     "--metrics-listen", "127.0.0.1:9549"], name="relay-busy")
    try:
        rc = p.popen.wait(10)
    except Exception:
        rc = None
    c.eq(rc, 1, "--metrics-listen on a port in use: exit 1")
    c.check(re.search(r"error --metrics-listen 127\.0\.0\.1:9549: cannot listen on 127\.0\.0\.1:9549: Address already "
                      r"in use", p.log()), "the error names the address and the reason", p.log()[-300:])


def group_snoop(c, lab, binary):
    t0 = time.time()
    t = sl.Topology(lab, binary, "regrelay")
    t.start_snoop(extra=["--metrics-listen", "127.0.0.1:9547"])
    t.snoop.wait_log(r"serving metrics at http://127\.0\.0\.1:9547/metrics")
    cl = t.clients["c1"]
    sl.exchange(c, t, cl, 0x100000)
    forged = client_msg(ADVERTISE, 0x777777, opt(OPT_CLIENTID, duid_ll(cl.mac)), opt(OPT_SERVERID, sl.SERVER_DUID))
    cl.to_relays(cl.ll_sock, forged)

    def ready(f):
        return value(f, "regrelay_drops_total", port="c1", reason="guard-server-message") == 1.0 and \
            value(f, "regrelay_replies_relayed_total", port="c1", type="addr_reg_reply") == 1.0
    fams, text = wait_metrics(c, t.sw, "127.0.0.1", 9547, "snoop", ready)
    if not fams:
        return
    c.check(True, "snoop: the text is valid exposition format 0.0.4, HELP and TYPE for every family")
    check_common(c, fams, binary, "snoop", t0, "snoop")
    c.eq(by_type(fams, "regrelay_messages_received_total", "c1"),
         {"solicit": 1.0, "addr_reg_inform": 1.0, "200": 1.0, "advertise": 1.0}, "c1: messages received by type")
    c.eq(by_type(fams, "regrelay_messages_relayed_total", "c1"),
         {"solicit": 1.0, "addr_reg_inform": 1.0, "200": 1.0}, "c1: messages relayed up by type")
    c.eq(by_type(fams, "regrelay_replies_relayed_total", "c1"), {"advertise": 1.0, "addr_reg_reply": 1.0},
         "c1: replies delivered by type")
    check_drops(c, fams, "c1", SNOOP_DROPS, {"guard-server-message": 1}, "snoop")
    c.eq(value(fams, "regrelay_frames_received_total", port="c1"), 4.0, "c1: 4 frames received")
    c.eq(value(fams, "regrelay_frames_received_total", port="c2"), 0.0, "c2: nothing received")
    c.eq(by_type(fams, "regrelay_messages_received_total", "c2"), {}, "c2: no message series")
    c.eq(by_type(fams, "regrelay_messages_received_total", "uplink"), {"relay_repl": 2.0},
         "uplink: the 2 Relay-replies received")
    c.eq(value(fams, "regrelay_inject_errors_total"), 0.0, "inject_errors_total 0")
    c.eq(value(fams, "regrelay_server_sent_total", server=sl.SERVER), None, "no server families in snoop")
    for p in ("c1", "c2", "uplink"):
        c.eq(value(fams, "regrelay_interface_up", port=p), 1.0, f"{p}: interface_up 1")
        c.eq(value(fams, "regrelay_interface_events_total", port=p, event="down"), 0.0, f"{p}: no down event")
    with open(lab.path("metrics-snoop.txt"), "w") as f:
        f.write(text)
    print("sample /metrics (snoop):\n" + text, flush=True)
    st, _, _ = http_get(t.sw, "127.0.0.1", 9547, "/other")
    c.eq(st, 404, "snoop: GET /other is 404")
    sl.stop_snoop(c, t)
    c.eq(t.router.stop(), 0, "router relay: SIGTERM, exit 0")


GROUPS = {"relay": (group_relay, 50), "snoop": (group_snoop, 50)}

if __name__ == "__main__":
    sys.exit(lib.run_groups("rrmetric", GROUPS, 50))
