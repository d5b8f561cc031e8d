#!/usr/bin/python3
"""End-to-end registrar benchmark: `regrelay registrar` with its SQLite store, over a veth.

    bench/registrar_bench.py [BUILD_DIR]          (root; called by bench/run.sh; `make bench`)

Lab: two network namespaces, gen --veth-- reg:

    gen ns: 2001:db8:ffff::1/64  regrelay_registrar_loadgen (a relay: Relay-forwards from :547),
            pinned to CPU 1
    reg ns: 2001:db8:ffff::2/64  regrelay registrar --db sqlite:... (synchronous=FULL: one fsync
            per commit, replies after it), pinned to CPU 0

Every message is a new registration (a new address and DUID), so each costs a history row and
a bindings row. Cases:

  - fixed: 1,000/s and 10,000/s for TRIAL s each: p50/p99/max reply latency (the generator's
    send time to the reply's arrival), and whether every registration was answered;
  - sustained: the highest rate at which every registration of a TRIAL-s run is answered within
    0.9 s (before its client would retransmit, RFC 9686 §4.5: IRT 1 s, RFC 8415 §15 randomisation
    -10 %): from 10,000/s up by 25 % until a run misses, then bisected to 5 %. One registrar and database for the whole search (the tables grow);
  - rss: the registrar restarted on a database of ROWS (default 1,000,000) live bindings
    (built with the sqlite3 CLI): the startup time to READY (the "registrar on UDP port" line)
    and VmRSS / VmHWM after it.

Environment: TRIAL (default 5 s; QUICK=1: 2 s), CASES=fixed,sustained,rss, ROWS, DB (a
postgresql:// URL instead of SQLite, see below), REGISTRAR_ARGS
(extra `regrelay registrar` options, e.g. --no-log-registrations), DBDIR (where the databases go;
default a directory under /var/tmp: a real disk, not tmpfs, or fsync costs nothing), KEEP=1.
Prints the results; writes nothing else.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))
from lib import IP, Lab, Proc, require_root  # noqa: E402

TASKSET = shutil.which("taskset") or "/usr/bin/taskset"
QUICK = os.environ.get("QUICK", "") not in ("", "0")
TRIAL = float(os.environ.get("TRIAL", "2" if QUICK else "5"))
CASES = os.environ.get("CASES", "fixed,sustained,rss").split(",")
ROWS = int(os.environ.get("ROWS", "1000000"))
EXTRA = os.environ.get("REGISTRAR_ARGS", "").split()
# DB=postgresql://...: the fixed and sustained cases on that database instead of SQLite files (an
# empty database: tests/pg/pgtmp.py -- sh -c 'DB="$REGRELAY_TEST_PG_URL" bench/registrar_bench.py');
# the rss case builds its SQLite database with the sqlite3 module and is left out.
DB_URL = os.environ.get("DB", "")
GEN, REG = "2001:db8:ffff::1", "2001:db8:ffff::2"
# Sustained means every registration answered before its client would retransmit: RFC 9686 §4.5
# retransmits after IRT 1 s, randomised by RFC 8415 §15 to 0.9-1.1 s.
LATE_US = 900_000
# The registrar and the generator run at this nice level, each in its own session whose autogroup
# gets it too (as bench/relay_bench.py does): on a machine busy with other work they still get
# their cores. NICE=0 turns this off.
NICE = os.environ.get("NICE", "-20")
REG_CPUS = os.environ.get("REG_CPUS", "0")  # the registrar's CPUs (taskset -c); the generator has CPU 1


def prioritise(pid: int) -> None:
    """Gives the session (autogroup) of `pid`, a session leader, the nice level NICE."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(NICE)
    except OSError:
        pass  # no autogroup scheduling: the task's own nice (set by `nice`) is what counts


def log(msg: str) -> None:
    print(f"registrar bench: {msg}", flush=True)


def parse(line: str) -> dict:
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", line)}


class Bench:
    def __init__(self, build: str, lab: Lab, dbdir: str):
        self.regrelay = os.path.join(build, "cli", "regrelay")
        self.loadgen = os.path.join(build, "bench", "regrelay_registrar_loadgen")
        for b in (self.regrelay, self.loadgen):
            if not os.access(b, os.X_OK):
                raise SystemExit(f"registrar bench: {b} is not built (REGRELAY_BENCH=ON)")
        self.lab, self.dbdir = lab, dbdir
        self.gen, self.reg = lab.netns("gen"), lab.netns("reg")
        g_if, r_if = lab.veth(self.gen, self.reg)
        self.gen.add_addr(g_if, GEN + "/64")
        self.reg.add_addr(r_if, REG + "/64")
        lab.wait_ready()
        self.next_client = 1
        self.proc = None
        self.n_started = 0

    def start(self, db: str, timeout: float = 120):
        self.n_started += 1
        argv = [IP, "netns", "exec", self.reg.name, "nice", "-n", NICE, TASKSET, "-c", REG_CPUS, self.regrelay,
                "registrar", "--db", DB_URL or "sqlite:" + db, "--link", "bench=2001:db8:1::/64", "--history-days", "0",
                # One relay sends everything: the flood limits per relay and per link (10,000/s by
                # default) would cap the capacity this measures.
                "--rate-limit-relay", "0", "--rate-limit-link", "0", *EXTRA]
        log_path = self.lab.path(f"registrar{self.n_started}.log")
        t0 = time.monotonic()
        with open(log_path, "wb") as logf:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        prioritise(p.pid)
        self.proc = Proc(p, log_path, "registrar")
        self.lab._procs.append(self.proc)  # stopped by the lab's cleanup too
        self.proc.wait_log(r"registrar on UDP port", timeout=timeout)
        return time.monotonic() - t0

    def stop(self):
        if self.proc:
            self.proc.stop(timeout=30)
            self.proc = None

    def offer(self, rate: float, seconds: float) -> dict:
        count = max(1, int(rate * seconds))
        argv = [IP, "netns", "exec", self.gen.name, "nice", "-n", NICE, TASKSET, "-c", "1", self.loadgen,
                "--bind", GEN, "--server", REG, "--rate", str(int(rate)), "--count", str(count),
                "--first", str(self.next_client), "--wait-ms", "2000"]
        self.next_client += count
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        prioritise(p.pid)
        try:
            out, err = p.communicate(timeout=seconds + 60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        if p.returncode != 0:
            raise RuntimeError(f"loadgen: exit {p.returncode}: {err.decode(errors='replace').strip()}")
        return parse(out.decode())


def fmt_lat(r: dict) -> str:
    return (f"answered {int(r['answered']):,}/{int(r['sent']):,}, latency p50 {r['p50_us'] / 1000:.2f} ms, "
            f"p99 {r['p99_us'] / 1000:.2f} ms, max {r['max_us'] / 1000:.2f} ms")


def build_db(path: str, rows: int) -> None:
    """A registrar database (schema by `regrelay registrar` itself) with `rows` live bindings."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = int(time.time())
    chain = ('[{"hop":0,"link":"2001:db8:1::1","peer":"%s","mac":"%s"}]')
    batch = []
    for i in range(rows):
        addr = bytes.fromhex("20010db8000100000000") + (0x10000 + i).to_bytes(6, "big")
        mac = bytes([2, 0xbb]) + i.to_bytes(4, "big")
        duid = bytes([0, 3, 0, 1]) + mac
        peer = "2001:db8:1::%x:%x" % ((0x10000 + i) >> 16, (0x10000 + i) & 0xffff)
        batch.append((addr, duid, mac, None, None, bytes.fromhex("20010db8000100000000000000000001"), "bench",
                      chain % (peer, mac.hex(":")), 3600, 7200, i & 0xffffff, now, now, now + 86400))
        if len(batch) == 50000:
            con.executemany("INSERT INTO bindings (address, duid, mac, interface_id, remote_id, link_address, link, "
                            "relay_chain, preferred, valid, xid, first_seen, last_seen, expires) VALUES "
                            "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)
            batch = []
    if batch:
        con.executemany("INSERT INTO bindings (address, duid, mac, interface_id, remote_id, link_address, link, "
                        "relay_chain, preferred, valid, xid, first_seen, last_seen, expires) VALUES "
                        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def proc_status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def main() -> int:
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    require_root()
    dbdir = os.environ.get("DBDIR") or tempfile.mkdtemp(prefix="regrelay-registrar-bench-", dir="/var/tmp")
    os.makedirs(dbdir, exist_ok=True)
    load0 = os.getloadavg()
    log(f"{os.cpu_count()} cores, load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
        f"databases in {dbdir}; trials {TRIAL:g} s; registrar options {' '.join(EXTRA) or '(defaults)'}")
    rc = 0
    try:
        with Lab("rrb") as lab:
            b = Bench(build, lab, dbdir)
            if "fixed" in CASES:
                db = os.path.join(dbdir, "fixed.db")
                b.start(db)
                b.offer(100, 0.5)  # warm-up
                for rate in (1000, 10000):
                    r = b.offer(rate, TRIAL)
                    log(f"fixed {rate:,}/s: {fmt_lat(r)}")
                    if r["answered"] != r["sent"]:
                        rc = 1
                b.stop()
            if "sustained" in CASES:
                db = os.path.join(dbdir, "sustained.db")
                b.start(db)
                b.offer(100, 0.5)
                good, bad, rate = 0.0, 0.0, 10000.0
                results = {}
                while True:
                    r = b.offer(rate, TRIAL)
                    ok = r["answered"] == r["sent"] and r["max_us"] < LATE_US
                    results[rate] = r
                    log(f"sustained try {rate:,.0f}/s (achieved {r['rate']:,.0f}/s): {fmt_lat(r)} -> "
                        f"{'all answered in time' if ok else 'NOT all answered within 0.9 s'}")
                    if ok:
                        good = rate
                    else:
                        bad = rate
                    if not bad:
                        rate *= 1.25
                    elif bad - good <= 0.05 * bad or good == 0 and rate < 1000:
                        break
                    else:
                        rate = (good + bad) / 2 if good else rate / 2
                    if rate > 400000:
                        break
                if good:
                    r = results[good]
                    log(f"sustained: {good:,.0f} registrations/s, each answered within 0.9 s ({fmt_lat(r)}); "
                        f"{int(b.next_client - 1):,} registrations stored in all")
                else:
                    log("sustained: no rate >= 10,000/s had every registration answered")
                b.stop()
            if "rss" in CASES and DB_URL:
                log("rss: left out with DB= (it builds a SQLite database)")
            elif "rss" in CASES:
                db = os.path.join(dbdir, "rss.db")
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(db + suffix):
                        os.unlink(db + suffix)
                b.start(db)  # creates the schema
                b.stop()
                t0 = time.monotonic()
                build_db(db, ROWS)
                log(f"rss: built a database of {ROWS:,} bindings in {time.monotonic() - t0:.1f} s "
                    f"({os.path.getsize(db) / 1e6:.0f} MB)")
                startup = b.start(db, timeout=600)
                m = re.search(r"(\d+) bindings restored", b.proc.log())
                st = proc_status(b.proc.pid)
                log(f"rss: {m.group(1) if m else '?'} bindings restored, ready after {startup:.2f} s, "
                    f"VmRSS {st['VmRSS'] / 1024:.0f} MiB, VmHWM {st['VmHWM'] / 1024:.0f} MiB")
                r = b.offer(1000, 1)
                log(f"rss: then 1,000/s for 1 s: {fmt_lat(r)}")
                b.stop()
    finally:
        if os.environ.get("KEEP", "") in ("", "0") and not os.environ.get("DBDIR"):
            shutil.rmtree(dbdir, ignore_errors=True)
    load1 = os.getloadavg()
    log(f"load average at the end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
