#!/usr/bin/python3
"""`regrelay registrar --dns-listen`: the DNS view of the live registrations, asked with dig and kdig.

    registrar_dns_test.py REGRELAY dns

In namespaces made by the test: client ns --veth-- registrar ns. tests/addrreg/regclient.py
registers 2001:db8:1::100 with a partial Client FQDN (option 39) "laptop" and 2001:db8:1::200
with the absolute "printer.hosts.example.net.", straight to ff02::1:2 on the registrar's link
(--listen-iface, link "lab" 2001:db8:1::/64). The registrar serves the forward zone
hosts.example.net. and, by default, the reverse zone of the link's /64, on two --dns-listen
addresses: [::1]:53 (dig/kdig run in the registrar's namespace) and [2001:db8:1::1]:5353 (asked
from the client's namespace). Every question is asked with dig and with kdig and both answers must
agree (tests/dns_test.py's parser):
  - right after regclient accepts the reply (no retry, no wait), AAAA and PTR of both names;
  - a BNAME of the forward zone (corp.example. -> hosts.example.net.): laptop.corp.example. AAAA
    answers BNAME + synthesized CNAME + the AAAA;
  - a BNAME of an old prefix's reverse tree (2001:db8:9::/48 -> 2001:db8:1::/48): the PTR of
    2001:db8:9::100 answers BNAME + CNAME + the PTR of laptop;
  - a release (valid lifetime 0, regclient --release): AAAA and PTR of laptop are NXDOMAIN, the
    printer still answers;
  - SIGHUP with a --config that adds a BNAME: the new alias resolves, the live names stay;
  - metrics: the DNS counters and the option 39 counter;
  - restart on the same database: the restored binding's name is served again.
Fails (the registrar exits 2 on the unknown option) on a build without --dns-listen.

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root or without dig/kdig.
"""

import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
sys.dont_write_bytecode = True
import lib  # noqa: E402
from dns_test import parse  # noqa: E402  (dig/kdig text answers -> rcode, flags, sections)

PY = "/usr/bin/python3"
REGCLIENT = os.path.join(HERE, "..", "addrreg", "regclient.py")

LINK = "2001:db8:1::1"
LAPTOP = "2001:db8:1::100"
PRINTER = "2001:db8:1::200"
SERVER_DUID = "000300010200000053ff"
ZONE = "hosts.example.net."
REV_LAPTOP = "0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
REV_PRINTER = "0.0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
REV_OLD = "0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
METRICS = "[::1]:9547"

CONFIG = """# registrar with a DNS view (registrar_dns_test.py)
dns-zone = hosts.example.net.
dns-nameserver = ns.example.net.
bname-zone = example.
bname-zone = 8.b.d.0.1.0.0.2.ip6.arpa.
bname = corp.example. hosts.example.net. 600
bname = 9.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.
"""


ASKED = [0]  # UDP queries sent so far (two per ask())


def ask(c, ns, server, port, name, qtype):
    """The answer of dig and of kdig (they must agree), asked from `ns`."""
    ASKED[0] += 2
    d = ns.exec("dig", "@" + server, "-p", str(port), "+norec", "+time=2", "+tries=1", "+nocookie", "+noedns",
                name, qtype, check=False, timeout=10)
    k = ns.exec("kdig", "@" + server, "-p", str(port), "+norec", "+timeout=2", "+retry=0", name, qtype,
                check=False, timeout=10)
    a, b = parse(d.stdout), parse(k.stdout)
    key = lambda r: (r["rcode"], "aa" in r["flags"], sorted(r["answer"]), sorted(r["authority"]))  # noqa: E731
    c.check(key(a) == key(b), f"{name} {qtype} @{server}: dig and kdig agree",
            f"dig  {key(a)}\nkdig {key(b)}\n{d.stdout}{d.stderr}{k.stdout}{k.stderr}")
    return a


def register(lab, ns, iface, address, *extra, name="regclient"):
    r = ns.exec(PY, REGCLIENT, "--iface", iface, "--address", address, "--log", lab.path(name + ".out"), *extra,
                check=False, timeout=30)
    print(f"{name}:\n  " + "\n  ".join(r.stdout.splitlines()), flush=True)
    return r.returncode


def metrics(ns):
    code = ("import urllib.request,sys;"
            "sys.stdout.write(urllib.request.urlopen('http://" + METRICS + "/metrics',timeout=5).read().decode())")
    return ns.exec(PY, "-c", code, check=False, timeout=15).stdout


def group_dns(c, lab, binary):
    cli, reg = lab.netns("cli"), lab.netns("reg")
    c_if, r_if = lab.veth(cli, reg)
    reg.add_addr(r_if, LINK + "/64")
    for a in (LAPTOP, PRINTER):
        cli.ip("-6", "addr", "add", a + "/64", "dev", c_if, "nodad", "valid_lft", "7200", "preferred_lft", "3600")
    lab.wait_ready()
    conf = lab.path("registrar.conf")
    with open(conf, "w") as f:
        f.write(CONFIG)
    # SIGHUP rereads it after the privilege drop (user regrelay or nobody): readable by all.
    os.chmod(os.path.dirname(conf), 0o755)
    os.chmod(conf, 0o644)
    db = lab.path("registrar.db")
    argv = [binary, "registrar", "--db", "sqlite:" + db, "--listen-iface", r_if, "--server-duid", SERVER_DUID,
            "--link", "lab=2001:db8:1::/64", "--link-interface", "lab=" + r_if, "--config", conf,
            "--dns-listen", "[::1]:53", "--dns-listen", f"[{LINK}]:5353", "--metrics-listen", METRICS]
    registrar = reg.spawn(argv, name="registrar")
    registrar.wait_log(r"DNS view on \[" + re.escape(LINK) + r"\]:5353")
    registrar.wait_log(r"listening for direct registrations on " + re.escape(r_if))

    # --- registrations with a name: served as soon as the reply is in -------------------------------
    c.eq(register(lab, cli, c_if, LAPTOP, "--fqdn", "laptop", name="laptop"), 0, "laptop: registered (reply accepted)")
    r = ask(c, reg, "::1", 53, "laptop." + ZONE, "AAAA")
    c.eq((r["rcode"], "aa" in r["flags"], r["answer"]), ("NOERROR", True, [f"laptop.{ZONE} 300 IN AAAA {LAPTOP}"]),
         "AAAA of the partial name under the zone, right after the reply")
    c.eq(register(lab, cli, c_if, PRINTER, "--fqdn", "printer." + ZONE, name="printer"), 0, "printer: registered")
    r = ask(c, cli, LINK, 5353, "printer." + ZONE, "AAAA")
    c.eq(r["answer"], [f"printer.{ZONE} 300 IN AAAA {PRINTER}"], "AAAA of the absolute name, over the second listener")
    r = ask(c, reg, "::1", 53, REV_LAPTOP, "PTR")
    c.eq((r["rcode"], r["answer"]), ("NOERROR", [f"{REV_LAPTOP} 300 IN PTR laptop.{ZONE}"]),
         "PTR in the link's reverse zone (the default reverse prefix)")
    r = ask(c, cli, LINK, 5353, REV_PRINTER, "PTR")
    c.eq(r["answer"], [f"{REV_PRINTER} 300 IN PTR printer.{ZONE}"], "PTR of the printer")
    r = ask(c, reg, "::1", 53, "nobody." + ZONE, "AAAA")
    c.eq((r["rcode"], len(r["authority"])), ("NXDOMAIN", 1), "an unregistered name: NXDOMAIN with the SOA")

    # --- BNAME: the forward zone under another name, an old prefix's reverse tree --------------------
    r = ask(c, reg, "::1", 53, "laptop.corp.example.", "AAAA")
    types = [rr.split()[3] for rr in r["answer"]]
    c.eq((r["rcode"], types), ("NOERROR", ["TYPE65280", "CNAME", "AAAA"]), "BNAME alias: BNAME + CNAME + AAAA")
    c.check(f"laptop.corp.example. 600 IN CNAME laptop.{ZONE}" in r["answer"] and
            f"laptop.{ZONE} 300 IN AAAA {LAPTOP}" in r["answer"],
            "BNAME alias: the synthesized CNAME (BNAME's TTL) to the host, the host's AAAA", r["answer"])
    r = ask(c, cli, LINK, 5353, REV_OLD, "PTR")
    types = [rr.split()[3] for rr in r["answer"]]
    c.eq((r["rcode"], types), ("NOERROR", ["TYPE65280", "CNAME", "PTR"]), "old prefix's reverse BNAME: BNAME + CNAME + PTR")
    c.check(f"{REV_OLD} 3600 IN CNAME {REV_LAPTOP}" in r["answer"] or
            any(rr.startswith(REV_OLD) and f" CNAME {REV_LAPTOP}" in rr for rr in r["answer"]),
            "old prefix's reverse BNAME: CNAME to the new prefix's name", r["answer"])
    c.check(f"{REV_LAPTOP} 300 IN PTR laptop.{ZONE}" in r["answer"], "old prefix's reverse BNAME: the PTR", r["answer"])

    # --- release: the names go -----------------------------------------------------------------------
    c.eq(register(lab, cli, c_if, LAPTOP, "--fqdn", "laptop", "--release", name="release"), 0, "laptop: released")
    registrar.wait_log(r"released address " + re.escape(LAPTOP))
    r = ask(c, reg, "::1", 53, "laptop." + ZONE, "AAAA")
    c.eq((r["rcode"], r["answer"]), ("NXDOMAIN", []), "after the release: AAAA NXDOMAIN")
    r = ask(c, reg, "::1", 53, REV_LAPTOP, "PTR")
    c.eq((r["rcode"], r["answer"]), ("NXDOMAIN", []), "after the release: PTR NXDOMAIN")
    r = ask(c, reg, "::1", 53, "printer.corp.example.", "AAAA")
    c.check(f"printer.{ZONE} 300 IN AAAA {PRINTER}" in r["answer"], "the printer is still served (through the BNAME)",
            r["answer"])

    # --- SIGHUP rebuilds the view ------------------------------------------------------------------
    with open(conf, "a") as f:
        f.write("bname = office.example. hosts.example.net. 120\n")
    at = len(registrar.log())
    registrar.signal(1)  # SIGHUP
    registrar.wait_log(r"reloaded the DNS view: \d+ zones, 1 registrations named", start=at)
    r = ask(c, reg, "::1", 53, "printer.office.example.", "AAAA")
    types = [rr.split()[3] for rr in r["answer"]]
    c.eq((r["rcode"], types), ("NOERROR", ["TYPE65280", "CNAME", "AAAA"]), "SIGHUP: the new BNAME answers")
    c.check(f"printer.{ZONE} 300 IN AAAA {PRINTER}" in r["answer"], "SIGHUP: the live registration is in the new view",
            r["answer"])

    # --- metrics ---------------------------------------------------------------------------------------
    text = ""
    udp = f'regrelay_dns_queries_total{{transport="udp"}} {ASKED[0]}'
    for _ in range(20):  # published every 250 ms at most
        text = metrics(reg)
        if 'regrelay_registrar_fqdn_total{result="named"} 3' in text and udp in text:
            break
        time.sleep(0.25)
    c.check('regrelay_registrar_fqdn_total{result="named"} 3' in text, "metrics: three option 39 names taken",
            "\n".join(line for line in text.splitlines() if "fqdn" in line))
    c.check(re.search("^" + re.escape(udp) + "$", text, re.M) is not None, "metrics: every UDP query counted",
            "\n".join(line for line in text.splitlines() if "dns_queries" in line))
    m = re.search(r'^regrelay_dns_answers_total\{kind="nxdomain"\} (\d+)$', text, re.M)
    c.check(m is not None and int(m.group(1)) >= 6, "metrics: the NXDOMAINs counted", m.group(0) if m else "")
    c.check(re.search(r'^regrelay_dns_registrations 1$', text, re.M) is not None, "metrics: one named registration")

    c.eq(registrar.stop(), 0, "registrar: SIGTERM, exit 0")
    # --- restart: the restored binding's name is served again ------------------------------------------
    again = reg.spawn(argv, name="registrar2")
    again.wait_log(r"registrar on UDP port 547")
    r = ask(c, reg, "::1", 53, "printer." + ZONE, "AAAA")
    c.eq(r["answer"], [f"printer.{ZONE} 300 IN AAAA {PRINTER}"], "restart: the restored registration's AAAA")
    r = ask(c, reg, "::1", 53, "laptop." + ZONE, "AAAA")
    c.eq(r["rcode"], "NXDOMAIN", "restart: the released one stays out")
    c.eq(again.stop(), 0, "registrar (restarted): SIGTERM, exit 0")


GROUPS = {"dns": (group_dns, 80)}


def main():
    return lib.run_groups("rd", GROUPS, 80, needs=lambda g: [("dig", "Debian package bind9-dnsutils"),
                                                              ("kdig", "Debian package knot-dnsutils")])


if __name__ == "__main__":
    sys.exit(main())
