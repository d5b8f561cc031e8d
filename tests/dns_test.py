#!/usr/bin/python3
"""`regrelay dns-view` queried with real dig (BIND 9) and kdig (Knot) on loopback.

    dns_test.py REGRELAY

Starts `regrelay dns-view --config FILE --listen [::1]:0` (the kernel picks the port; the daemon
prints it), a configuration with a forward zone, a reverse prefix, static hosts and BNAMEs
(docs/dns.md). Every case is asked with dig and with kdig; both answers must be equal (rcode, AA,
TC, answer and authority sections) and equal to what the case expects. Also: TC over UDP and the
same query over TCP, the UB bit (EDNS flag 0x4000, draft §5: kdig sets no EDNS flag but DO, and
dig 9.18 will not set 0x4000, which IANA has since given to the CO flag of RFC 9824, so that query
is built with scapy), `--check` errors for a §3.3 violation. Only [::1]; bounded (each query
2 s, one try). Exits 0 when every check passes, 1 otherwise, 77 when dig or kdig is missing.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True

REGRELAY = sys.argv[1] if len(sys.argv) > 1 else "regrelay"
failures = []

CONFIG = """# dns-view test configuration
zone = hosts.example.net.
reverse-prefix = 2001:db8:1::/48
bname-zone = example.
bname-zone = 8.b.d.0.1.0.0.2.ip6.arpa.
bname = corp.example. hosts.example.net. 600
bname = alias.example. corp.example. 900
bname = 9.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.
bname = loop-a.example. loop-b.example.
bname = loop-b.example. loop-a.example.
host = h1 2001:db8:1::10
host = h2 2001:db8:1::20
nameserver = ns.example.net.
hostmaster = hostmaster.example.net.
"""
MANY = 60  # AAAA records of many.hosts.example.net.: over 512 octets
for i in range(MANY):
    CONFIG += "host = many 2001:db8:1::1:%x\n" % i

REV_H1 = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
REV_OLD = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what)
    return ok


def norm_rr(line):
    f = line.split()
    # owner ttl class type rdata...; names lower-cased; RFC 3597 hex joined (dig splits it)
    if len(f) > 6 and f[4] == "\\#":
        f = f[:6] + ["".join(f[6:])]
    return " ".join([f[0].lower(), f[1], f[2].upper(), f[3].upper()] + [x.lower() for x in f[4:]])


def parse(out):
    """rcode, flags, answer and authority of a dig or kdig text answer."""
    res = {"rcode": None, "flags": set(), "answer": [], "authority": []}
    m = re.search(r"status: ([A-Z]+)", out)
    if m:
        res["rcode"] = m.group(1)
    m = re.search(r";; [Ff]lags: ([a-z ]*)[;,]", out)
    if m:
        res["flags"] = set(m.group(1).split())
    section = None
    for line in out.splitlines():
        s = line.strip()
        if s.startswith(";; ANSWER SECTION"):
            section = "answer"
        elif s.startswith(";; AUTHORITY SECTION"):
            section = "authority"
        elif s.startswith(";;") or not s:
            if s.startswith(";;") and section and "SECTION" in s:
                section = None
            elif not s:
                section = None
        elif section and not s.startswith(";"):
            res[section].append(norm_rr(s))
    return res


def dig(port, name, qtype, *extra):
    cmd = ["dig", "@::1", "-p", str(port), "+norec", "+time=2", "+tries=1", "+nocookie", name, qtype] + list(extra)
    return parse(subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout)


def kdig(port, name, qtype, *extra):
    cmd = ["kdig", "@::1", "-p", str(port), "+norec", "+timeout=2", "+retry=0", name, qtype] + list(extra)
    return parse(subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout)


def both(port, name, qtype, dig_extra=(), kdig_extra=()):
    # dig sends EDNS (1232) by default, kdig does not: ask both the same way.
    a = dig(port, name, qtype, "+noedns", *dig_extra)
    b = kdig(port, name, qtype, *kdig_extra)
    key = lambda r: (r["rcode"], "aa" in r["flags"], "tc" in r["flags"], sorted(r["answer"]), sorted(r["authority"]))
    check(key(a) == key(b), "%s %s: dig and kdig differ:\n  dig  %s\n  kdig %s" % (name, qtype, key(a), key(b)))
    return a


def main():
    for tool in ("dig", "kdig"):
        if not shutil.which(tool):
            print("skip: %s not installed" % tool)
            return 77
    tmp = tempfile.mkdtemp(prefix="regrelay-dns-")
    conf = os.path.join(tmp, "dns-view.conf")
    with open(conf, "w") as f:
        f.write(CONFIG)
    errlog = open(os.path.join(tmp, "stderr"), "w+")
    proc = subprocess.Popen([REGRELAY, "dns-view", "--config", conf, "--listen", "[::1]:0"], stderr=errlog)
    try:
        port = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and port is None and proc.poll() is None:
            errlog.seek(0)
            m = re.search(r"udp\+tcp port (\d+)", errlog.read())
            if m:
                port = int(m.group(1))
            else:
                time.sleep(0.05)
        if not check(port is not None, "dns-view did not start"):
            errlog.seek(0)
            print(errlog.read())
            return 1
        run_cases(port)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        errlog.seek(0)
        tail = errlog.read()
        check(proc.returncode == 0, "dns-view exit status %s" % proc.returncode)
        check("servfail 2" in tail, "counters at exit name the two SERVFAILs (dig, kdig): " + tail[-400:])
        shutil.rmtree(tmp, ignore_errors=True)
    check_config_errors()
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("dns_test: all checks passed")
    return 0


def run_cases(port):
    B = "TYPE65280"
    # A plain AAAA, authoritative.
    r = both(port, "h1.hosts.example.net.", "AAAA")
    check(r["rcode"] == "NOERROR" and "aa" in r["flags"], "h1 AAAA: NOERROR AA %s" % r)
    check(r["answer"] == ["h1.hosts.example.net. 300 IN AAAA 2001:db8:1::10"], "h1 AAAA answer %s" % r["answer"])
    # PTR.
    r = both(port, REV_H1, "PTR")
    check(r["answer"] == [REV_H1 + " 300 IN PTR h1.hosts.example.net."], "PTR answer %s" % r["answer"])
    # NXDOMAIN and NODATA with the SOA.
    r = both(port, "nope.hosts.example.net.", "AAAA")
    check(r["rcode"] == "NXDOMAIN" and "aa" in r["flags"] and not r["answer"], "NXDOMAIN %s" % r)
    check(len(r["authority"]) == 1 and " SOA ns.example.net. hostmaster.example.net. " in r["authority"][0],
          "NXDOMAIN authority SOA %s" % r["authority"])
    r = both(port, "h1.hosts.example.net.", "TXT")
    check(r["rcode"] == "NOERROR" and not r["answer"] and len(r["authority"]) == 1, "NODATA %s" % r)
    # REFUSED outside our zones.
    r = both(port, "www.example.org.", "AAAA")
    check(r["rcode"] == "REFUSED" and "aa" not in r["flags"], "REFUSED %s" % r)
    # BNAME: the BNAME RR, the synthesized CNAME (TTL of the BNAME), then the target's AAAA.
    r = both(port, "h1.corp.example.", "AAAA")
    check(r["rcode"] == "NOERROR", "BNAME rcode %s" % r)
    check(len(r["answer"]) == 3 and r["answer"][0].startswith("corp.example. 600 IN TYPE65280 \\# 19 ")
          and r["answer"][1] == "h1.corp.example. 600 IN CNAME h1.hosts.example.net."
          and r["answer"][2] == "h1.hosts.example.net. 300 IN AAAA 2001:db8:1::10", "BNAME answer %s" % r["answer"])
    # The BNAME type asked at the owner: the BNAME RR alone.
    r = both(port, "corp.example.", B)
    check(len(r["answer"]) == 1 and r["answer"][0].startswith("corp.example. 600 IN TYPE65280"),
          "BNAME query %s" % r["answer"])
    # A chain of two BNAMEs into our own zone.
    r = both(port, "h2.alias.example.", "AAAA")
    check(len(r["answer"]) == 5 and r["answer"][-1] == "h2.hosts.example.net. 300 IN AAAA 2001:db8:1::20"
          and "h2.alias.example. 900 IN CNAME h2.corp.example." in r["answer"], "BNAME chain %s" % r["answer"])
    # Renumbering: the old prefix's reverse tree BNAMEd to the new one's.
    r = both(port, REV_OLD, "PTR")
    check(r["answer"][-1:] == [REV_H1 + " 300 IN PTR h1.hosts.example.net."]
          and REV_OLD + " 300 IN CNAME " + REV_H1 in r["answer"], "reverse BNAME %s" % r["answer"])
    # A loop: SERVFAIL.
    r = both(port, "x.loop-a.example.", "AAAA")
    check(r["rcode"] == "SERVFAIL" and not r["answer"], "loop SERVFAIL %s" % r)
    # The UB bit (EDNS flags 0x4000): no synthesized CNAME. Neither dig nor kdig can set it (see
    # the docstring): a query built with scapy, the answer read by scapy.
    from scapy.layers.dns import DNS, DNSQR, DNSRROPT  # noqa: E402
    import socket
    q = DNS(id=0x5b5b, rd=0, qd=DNSQR(qname="h1.corp.example.", qtype="AAAA"),
            ar=DNSRROPT(rclass=1232, z=0x4000))
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as so:
        so.settimeout(2)
        so.sendto(bytes(q), ("::1", port))
        resp = DNS(so.recv(65535))
    types = [resp.an[i].type for i in range(resp.ancount)]
    check(resp.id == 0x5b5b and resp.rcode == 0 and types == [65280, 28], "UB answer types %s" % types)
    r = dig(port, "h1.corp.example.", "AAAA")  # EDNS without UB: the CNAME is there
    check(any(" CNAME " in a for a in r["answer"]), "EDNS without UB %s" % r["answer"])
    # TC over UDP without EDNS (512 octets), the full answer over TCP, and the fallback.
    r = both(port, "many.hosts.example.net.", "AAAA", ("+ignore", "+notcp"), ("+ignore", "+notcp"))
    check("tc" in r["flags"] and not r["answer"], "UDP TC %s" % r["flags"])
    r = both(port, "many.hosts.example.net.", "AAAA", ("+tcp",), ("+tcp",))
    check("tc" not in r["flags"] and len(r["answer"]) == MANY, "TCP full answer %d" % len(r["answer"]))
    r = both(port, "many.hosts.example.net.", "AAAA")  # both retry over TCP on TC
    check("tc" not in r["flags"] and len(r["answer"]) == MANY, "TC then TCP %d" % len(r["answer"]))
    # EDNS: the OPT is echoed with our payload size.
    out = subprocess.run(["dig", "@::1", "-p", str(port), "+norec", "+time=2", "+tries=1", "+bufsize=4096",
                          "h1.hosts.example.net.", "AAAA"], capture_output=True, text=True, timeout=10).stdout
    check(re.search(r"EDNS: version: 0, flags:[^;]*; udp: 1232", out) is not None, "OPT echo: " + out)


def check_config_errors():
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("zone = hosts.example.net.\nbname = old.hosts.example.net. hosts.example.net.\n"
                "host = x.old 2001:db8:1::5\n")
    try:
        p = subprocess.run([REGRELAY, "dns-view", "--config", f.name, "--check"], capture_output=True, text=True,
                           timeout=10)
        check(p.returncode == 2 and "BNAME owner" in p.stderr, "§3.3 load error: %d %s" % (p.returncode, p.stderr))
        p = subprocess.run([REGRELAY, "dns-view", "--zone", "z.example.", "--bname-type", "1", "--check"],
                           capture_output=True, text=True, timeout=10)
        check(p.returncode == 2 and "65280-65534" in p.stderr, "--bname-type range: %s" % p.stderr)
    finally:
        os.unlink(f.name)


if __name__ == "__main__":
    sys.exit(main())
