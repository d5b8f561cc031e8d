#!/usr/bin/python3
"""Two `regrelay registrar` sharing one PostgreSQL database, in network namespaces made by the test.

    registrar_pg_test.py REGRELAY GROUP

GROUP is one of:
  shared  a PostgreSQL 15 server from tests/pg/pgtmp.py (a temporary directory, a Unix socket
          only; the namespaces reach it through the file system), one empty database. Two sites:
            cA --veth-- regA (`regrelay registrar`, link siteA 2001:db8:a::/64)
            cB --veth-- regB (`regrelay registrar`, link siteB 2001:db8:b::/64)
          both started at once on the fresh database (both migrate it: each version applied once).
          tests/addrreg/regclient.py registers 2001:db8:a::100 at A and 2001:db8:b::100 at B
          (direct, to ff02::1:2), each accepts the reply. psql (an independent reader) finds both
          rows in history and bindings, each with its site's link. `regrelay who-had --db
          postgresql://...` answers for both addresses, `history --prefix 2001:db8::/32` lists
          both sites' rows. A restarted registrar restores the bindings from the shared table and
          who-had still answers. who-had on a database without the schema fails and creates
          nothing. After a schema version 99 is written, a registrar refuses to start and who-had
          refuses to read ("schema version 99 is newer").

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root or without PostgreSQL 15.
"""

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pg"))
import lib  # noqa: E402
import pgtmp  # noqa: E402

PY = "/usr/bin/python3"
REGCLIENT = os.path.join(HERE, "..", "addrreg", "regclient.py")
SITES = {"A": ("2001:db8:a::1", "2001:db8:a::100", "000300010200000053aa"),
         "B": ("2001:db8:b::1", "2001:db8:b::100", "000300010200000053bb")}


def run(argv, timeout=15):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    print(f"$ {' '.join(argv[1:3])} ... -> {r.returncode}\n  " + "\n  ".join((r.stdout + r.stderr).splitlines()),
          flush=True)
    return r


def group_shared(c, lab, binary):
    with pgtmp.PgServer() as pg:
        url = pg.createdb("regrelay")
        site = {}
        for name, (router, client, duid) in SITES.items():
            reg, cli = lab.netns("reg" + name.lower()), lab.netns("c" + name.lower())
            r_if, c_if = lab.veth(reg, cli)
            reg.add_addr(r_if, router + "/64")
            cli.ip("-6", "addr", "add", client + "/64", "dev", c_if, "nodad", "valid_lft", "7200",
                   "preferred_lft", "3600")
            link = "site" + name
            argv = [binary, "registrar", "--db", url, "--listen-iface", r_if, "--server-duid", duid,
                    "--link", f"{link}={router.rsplit(':', 2)[0]}::/64", "--link-interface", f"{link}={r_if}",
                    "--log-level", "debug"]
            site[name] = dict(reg=reg, cli=cli, r_if=r_if, c_if=c_if, argv=argv, client=client, link=link)
        lab.wait_ready()
        for name, s in site.items():  # both at once on the empty database
            s["proc"] = s["reg"].spawn(s["argv"], name="registrar" + name)
        for name, s in site.items():
            s["proc"].wait_log(r"registrar on UDP port 547", timeout=20)
            s["proc"].wait_log(r"listening for direct registrations on " + re.escape(s["r_if"]))
            c.check("schema 2" in s["proc"].log(), f"site {name}: opened the shared database at schema 2")
        c.eq(pg.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version", "regrelay").strip(),
             "1,2", "two registrars started together: each migration applied once")

        for name, s in site.items():
            log = lab.path(f"regclient{name}.out")
            r = s["cli"].exec(PY, REGCLIENT, "--iface", s["c_if"], "--address", s["client"], "--log", log,
                              check=False, timeout=30)
            print(f"regclient {name}:\n  " + "\n  ".join(r.stdout.splitlines()), flush=True)
            c.eq(r.returncode, 0, f"site {name}: regclient accepts the registrar's reply")
            s["proc"].wait_log(r"registered address " + re.escape(s["client"]))
            s["mac"] = s["cli"].mac(s["c_if"]).hex(":")

        rows = pg.psql("SELECT encode(address, 'hex'), link, encode(mac, 'hex'), kind FROM history ORDER BY link",
                       "regrelay").split()
        want = [f"{bytes(ipaddr(s['client'])).hex()}|{s['link']}||registered" for s in site.values()]
        c.eq(rows, want, "psql: one history row per site, its link, no option 79 (direct)")
        c.eq(pg.psql("SELECT COUNT(*) FROM bindings", "regrelay").strip(), "2", "psql: both sites' bindings")

        for name, s in site.items():
            w = run([binary, "who-had", s["client"], "--json", "--db", url])
            c.eq(w.returncode, 0, f"who-had {s['client']} --db postgresql://: bound (exit 0)")
            try:
                j = json.loads(w.stdout)
                c.eq((j.get("bound"), j.get("link"), j.get("duid")),
                     (True, s["link"], "00030001" + s["mac"].replace(":", "")),
                     f"who-had {name}: bound, link {s['link']}, the client's DUID-LL")
            except json.JSONDecodeError as e:
                c.check(False, f"who-had {name} --json prints one JSON object", f"{e}: {w.stdout!r}")
        h = run([binary, "history", "--prefix", "2001:db8::/32", "--db", url])
        c.check(h.returncode == 0 and len(h.stdout.splitlines()) == 2
                and all(s["client"] in h.stdout for s in site.values()),
                "history --prefix 2001:db8::/32 --db postgresql://: both sites' rows", h.stdout + h.stderr)

        # A restart of site A: the bindings come back from the shared table.
        c.eq(site["A"]["proc"].stop(), 0, "registrar A: SIGTERM, exit 0")
        again = site["A"]["reg"].spawn(site["A"]["argv"], name="registrarA2")
        m = again.wait_log(r"(\d+) bindings restored", timeout=20)
        c.eq(m.group(1), "2", "restart: the bindings restored from the shared database")
        w = run([binary, "who-had", site["A"]["client"], "--db", url])
        c.check(w.returncode == 0 and site["A"]["client"] in w.stdout, "restart: who-had still answers", w.stdout)
        c.eq(again.stop(), 0, "registrar A (restarted): SIGTERM, exit 0")
        c.eq(site["B"]["proc"].stop(), 0, "registrar B: SIGTERM, exit 0")

        # Read-only opening never creates the schema.
        empty = pg.createdb("empty")
        w = run([binary, "who-had", SITES["A"][1], "--db", empty])
        c.check(w.returncode == 2 and "not a registrar database" in w.stderr, "who-had on an empty database: exit 2",
                w.stderr)
        c.eq(pg.psql("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'", "empty").strip(), "0",
             "who-had created nothing")

        # A newer schema is refused by the daemon and the queries.
        pg.psql("INSERT INTO schema_version VALUES (99, 0)", "regrelay")
        newer = site["A"]["reg"].spawn(site["A"]["argv"], name="registrarA3")
        try:
            rc = newer.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rc = None
        c.check(rc not in (0, None) and "schema version 99 is newer" in newer.log(),
                "a registrar refuses a database at schema version 99", f"exit {rc}")
        w = run([binary, "who-had", SITES["A"][1], "--db", url])
        c.check(w.returncode == 2 and "schema version 99 is newer" in w.stderr, "who-had refuses schema version 99",
                w.stderr)


def ipaddr(text):
    import ipaddress
    return ipaddress.IPv6Address(text).packed


GROUPS = {"shared": (group_shared, 120)}


def main():
    return lib.run_groups("rp", GROUPS, 120,
                          needs=lambda g: [(os.path.join(pgtmp.BIN, "initdb"), "Debian package postgresql-15"),
                                           (os.path.join(pgtmp.BIN, "psql"), "Debian package postgresql-client-15")])


if __name__ == "__main__":
    sys.exit(main())
