#!/usr/bin/python3
"""The registrar's queries on PostgreSQL with ROWS (default 1,000,000) history rows.

    bench/registrar_pg_query.py [BUILD_DIR]     (root or the postgres user; PostgreSQL 15)

Issue 11 part 3 asks that a query answers in under 10 ms with 1,000,000 history rows. This
starts a throwaway PostgreSQL 15 server (tests/pg/pgtmp.py), lets the registrar's own store make
the schema (regrelay_store_bench writes its first rows), fills `history` with ROWS rows by one
INSERT .. SELECT generate_series (100,000 distinct addresses, 1,000 MACs and DUIDs, one day of
times), then times, REPS times each, with the server's own clock (EXPLAIN ANALYZE: execution
time of the statement the store sends) and end to end (the `regrelay who-had` / `history`
process, connection included):

  - who-had ADDR (the newest row of one address at or before a time)
  - history --mac MAC (1,000 rows; --limit 100000)
  - history --prefix P/120 (256 addresses, 2,560 rows)

Prints medians; writes nothing else.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "pg"))
import pgtmp  # noqa: E402
from pgtmp import PgServer, Unavailable  # noqa: E402

ROWS = int(os.environ.get("ROWS", "1000000"))
REPS = int(os.environ.get("REPS", "21"))


def addr_sql(expr: str) -> str:
    """bytea of 2001:db8:1::/64 plus the integer expr in the low 64 bits."""
    return f"decode('20010db8000100000000' || lpad(to_hex({expr}), 12, '0'), 'hex')"


def psql_long(pg: PgServer, sql: str, db: str = "q") -> None:
    """pg.psql without its 30-s bound (filling a million rows takes longer on a slow disk)."""
    subprocess.run([os.path.join(pgtmp.BIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.sock, "-U", "postgres",
                    "-d", db, "-c", sql], check=True, timeout=1800, stdout=subprocess.DEVNULL)


def main() -> int:
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    regrelay = os.path.join(build, "cli", "regrelay")
    store_bench = os.path.join(build, "tests", "regrelay_store_bench")
    for p in (regrelay, store_bench):
        if not os.access(p, os.X_OK):
            print(f"registrar_pg_query: {p} not built", file=sys.stderr)
            return 2
    try:
        pg = PgServer()
        pg.__enter__()
    except Unavailable as e:
        print(f"registrar_pg_query: {e}", file=sys.stderr)
        return 77
    try:
        url = pg.createdb("q")
        subprocess.run([store_bench, "--seconds", "0.2", "--pg", url], check=True, stdout=subprocess.DEVNULL)
        pg.psql("TRUNCATE history; TRUNCATE bindings", "q")
        t0 = time.monotonic()
        psql_long(pg,
            "INSERT INTO history (time, kind, address, duid, mac, link, relay_chain, preferred, valid, xid, "
            "first_seen, expires) SELECT 1700000000 + i * 86400 / " + str(ROWS) + ", 'registered', "
            + addr_sql("i % 100000") + ", decode('000100' || lpad(to_hex(i % 1000), 6, '0'), 'hex'), "
            "decode('0200' || lpad(to_hex(i % 1000), 8, '0'), 'hex'), 'bench', '[]', 3600, 7200, i, "
            "1700000000, 1700007200 + i FROM generate_series(1::bigint, " + str(ROWS) + ") AS i; ANALYZE history", "q")
        fill = time.monotonic() - t0
        n = pg.psql("SELECT COUNT(*) FROM history", "q").strip()
        size = pg.psql("SELECT pg_size_pretty(pg_total_relation_size('history'))", "q").strip()
        print(f"history: {int(n):,} rows ({size} with its indexes), filled in {fill:.1f} s; "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        addr = "2001:db8:1::" + format(4242, "x")
        mac = "02:00:00:00:00:2a"
        cases = [
            ("who-had ADDR", ["who-had", addr, "--at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1700086400))],
             "SELECT * FROM history WHERE time >= -9223372036854775808 AND time <= 1700086400 AND address = "
             + addr_sql("4242") + " ORDER BY time DESC, id DESC LIMIT 1"),
            ("history --mac MAC", ["history", "--mac", mac, "--limit", "100000"],
             "SELECT * FROM history WHERE time >= -9223372036854775808 AND time <= 9223372036854775807 AND mac = "
             "decode('020000000" + "02a', 'hex') ORDER BY time, id LIMIT 100000"),
            ("history --prefix P/120", ["history", "--prefix", "2001:db8:1::1:0/120", "--limit", "100000"],
             "SELECT * FROM history WHERE time >= -9223372036854775808 AND time <= 9223372036854775807 AND address >= "
             + addr_sql("65536") + " AND address <= " + addr_sql("65791") + " ORDER BY time, id LIMIT 100000"),
        ]
        print(f"| query | rows | server execution, median of {REPS} | `regrelay` process end to end, median |")
        print("| --- | ---: | ---: | ---: |")
        for name, argv, sql in cases:
            server = []
            for _ in range(REPS):
                out = pg.psql("EXPLAIN (ANALYZE, FORMAT TEXT) " + sql, "q")
                line = [x for x in out.splitlines() if x.startswith("Execution Time:")][0]
                server.append(float(line.split(":")[1].split()[0]))
            wall, rows = [], 0
            for _ in range(REPS):
                t = time.monotonic()
                r = subprocess.run([regrelay, *argv, "--db", url, "--json"], capture_output=True, text=True)
                wall.append((time.monotonic() - t) * 1000)
                if r.returncode not in (0, 1):
                    print(f"{name}: exit {r.returncode}: {r.stderr.strip()}", file=sys.stderr)
                    return 1
                rows = r.stdout.count('"address"')
            print(f"| {name} | {rows:,} | {statistics.median(server):.2f} ms | {statistics.median(wall):.1f} ms |")
        plan = pg.psql("EXPLAIN " + cases[2][2], "q")
        print("prefix plan: " + " / ".join(x.strip() for x in plan.splitlines()[:3]))
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
