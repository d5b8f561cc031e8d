#!/usr/bin/python3
"""`regrelay registrar` under a flood, its /metrics, and who-had for a non-root reader, in network
namespaces made by the test.

    registrar_hardening_test.py REGRELAY GROUP

GROUP is one of:
  flood    registrar ns --veth-- host ns. The host ns floods ADDR-REG-INFORMs from 2001:db8:2::66
           straight to ff02::1:2 (a bounded count: 3000 at 2000/s) while tests/addrreg/
           regclient.py registers 2001:db8:2::100 from the same link: the second host's
           registration is answered and recorded although the flood goes on, the flooder's are
           counted as rate-limit-source drops, at most one flood summary line per 10 s names the
           flooder, and no discard line is logged per dropped message. /metrics (--metrics-listen
           [::1]:9548) has the per-kind event counters, the drops by reason, the live bindings, the
           commits and their batch sizes and latency, and the store errors.
  readers  the database of a running registrar (started as root, --user nobody, in a setgid
           directory of a group that exists only by number) is read by `regrelay who-had` and
           `regrelay history` run as another unprivileged uid in that group, with no write access
           to the directory (SQLite's read-only WAL: the -shm the daemon keeps), then again once the
           daemon stopped (with the -wal/-shm it left; with none: read as immutable). The database, -wal and -shm are
           mode 0640.

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root or without setpriv.
"""

import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lib  # noqa: E402

PY = "/usr/bin/python3"
REGCLIENT = os.path.join(HERE, "..", "addrreg", "regclient.py")
REGISTRAR_ADDR = "2001:db8:2::1"
FLOODER = "2001:db8:2::66"
GOOD = "2001:db8:2::100"
SERVER_DUID = "000300010200000053ff"
METRICS_PORT = 9548
READER_UID, READER_GID = 64998, 64997  # no passwd/group entries needed
FLOOD_COUNT = 3000

# The flooder: FLOOD_COUNT ADDR-REG-INFORMs from FLOODER to ff02::1:2, new xid each, 2000 per second.
FLOOD_SCRIPT = r"""
import socket, struct, sys, time
src, ifname, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
a = socket.inet_pton(socket.AF_INET6, src)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((src, 0))
dst = ("ff02::1:2", 547, 0, socket.if_nametoindex(ifname))
duid = bytes.fromhex("00030001020000000066")
t0 = time.monotonic()
for i in range(count):
    msg = struct.pack("!I", 36 << 24 | (i + 1)) + struct.pack("!HH", 1, len(duid)) + duid + \
        struct.pack("!HH", 5, 24) + a + struct.pack("!II", 3600, 7200)
    s.sendto(msg, dst)
    delay = t0 + (i + 1) / 2000.0 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print("flooded", count, flush=True)
"""


def http_get(ns, host, port, path):
    with ns.inside():
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.connect((host, port))
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: metrics\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("iso-8859-1").split("\r\n")[0], body.decode()


def sample(text, name, labels=""):
    """The value of `name{labels}` (labels as rendered, "" for none), or None."""
    key = name + ("{" + labels + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    return None


def two_ns(lab):
    reg, host = lab.netns("reg"), lab.netns("host")
    r_if, h_if = lab.veth(reg, host)
    reg.add_addr(r_if, REGISTRAR_ADDR + "/64")
    host.ip("-6", "addr", "add", FLOODER + "/64", "dev", h_if, "nodad")
    host.ip("-6", "addr", "add", GOOD + "/64", "dev", h_if, "nodad", "valid_lft", "7200", "preferred_lft", "3600")
    lab.wait_ready()
    return reg, host, r_if, h_if


def group_flood(c, lab, binary):
    reg, host, r_if, h_if = two_ns(lab)
    db = lab.path("registrar.db")
    registrar = reg.spawn([binary, "registrar", "--db", "sqlite:" + db, "--listen-iface", r_if, "--server-duid",
                           SERVER_DUID, "--metrics-listen", f"[::1]:{METRICS_PORT}"], name="registrar")
    registrar.wait_log(r"listening for direct registrations on " + re.escape(r_if))
    registrar.wait_log(r"serving metrics at")

    flood_py = lab.path("flood.py")
    with open(flood_py, "w") as f:
        f.write(FLOOD_SCRIPT)
    flooder = host.spawn([PY, flood_py, FLOODER, h_if, str(FLOOD_COUNT)], name="flooder")
    time.sleep(0.3)  # the flood is on
    log = lab.path("good.out")
    r = host.exec(PY, REGCLIENT, "--iface", h_if, "--address", GOOD, "--log", log, check=False, timeout=30)
    print("regclient:\n  " + "\n  ".join(r.stdout.splitlines()), flush=True)
    still_flooding = flooder.popen.poll() is None
    c.eq(r.returncode, 0, "during the flood, another host's registration is answered (regclient exit 0)")
    c.check(still_flooding, "the registration was made while the flood went on")
    flooder.wait_log(r"flooded", timeout=15)
    registrar.wait_log(r"registered address " + re.escape(GOOD))

    # The summary (the interval is 10 s: flushed at the latest when the registrar stops).
    # A snapshot is published at most every 250 ms, or at the wake-up after a quiet second.
    until = time.monotonic() + 5
    while True:
        status, body = http_get(reg, "::1", METRICS_PORT, "/metrics")
        frames = sample(body, "regrelay_frames_received_total", 'port="registrar"')
        if (frames or 0) >= FLOOD_COUNT or time.monotonic() > until:
            break
        time.sleep(0.2)
    c.check(status.split()[1:2] == ["200"], "GET /metrics: 200", status)
    drops = sample(body, "regrelay_drops_total", 'port="registrar",reason="rate-limit-source"')
    c.check(drops is not None and drops >= FLOOD_COUNT - 200,
            "metrics: the flood counted as rate-limit-source drops (all but about the burst)", drops)
    for reason in ("rate-limit-relay", "rate-limit-link", "no-client-id", "store-error"):
        c.check(sample(body, "regrelay_drops_total", f'port="registrar",reason="{reason}"') is not None,
                f"metrics: drop reason {reason} is a labelled sample")
    reg_events = sample(body, "regrelay_registrar_events_total", 'kind="registered"')
    refreshed = sample(body, "regrelay_registrar_events_total", 'kind="refreshed"')
    c.eq(reg_events, 2.0, "metrics: events_total{kind=registered} 2 (the flooder's first, the host's)")
    c.check(refreshed is not None and 1 <= refreshed <= 100, "metrics: the flooder's admitted burst as refreshed", refreshed)
    for kind in ("moved", "released", "expired"):
        c.eq(sample(body, "regrelay_registrar_events_total", f'kind="{kind}"'), 0.0, f"metrics: events_total{{kind={kind}}} 0")
    c.eq(sample(body, "regrelay_registrar_bindings"), 2.0, "metrics: bindings gauge 2")
    commits = sample(body, "regrelay_registrar_commits_total")
    events = sample(body, "regrelay_registrar_commit_events_total")
    c.check(commits and events and events >= commits and events == reg_events + refreshed,
            "metrics: commits and the events they wrote (every event committed)", (commits, events))
    c.check((sample(body, "regrelay_registrar_commit_batch_max") or 0) >= 1, "metrics: commit batch max")
    c.check(sample(body, "regrelay_registrar_commit_microseconds_total") is not None and
            (sample(body, "regrelay_registrar_commit_max_microseconds") or 0) > 0, "metrics: commit latency")
    c.eq(sample(body, "regrelay_registrar_store_errors_total"), 0.0, "metrics: no store errors")
    c.check("# TYPE regrelay_registrar_bindings gauge" in body and
            "# TYPE regrelay_registrar_events_total counter" in body, "metrics: HELP/TYPE of the new families")

    c.eq(registrar.stop(), 0, "registrar: SIGTERM, exit 0")
    text = registrar.log()
    lines = re.findall(r"flood limits in the last .*", text)
    c.check(1 <= len(lines) <= 2, "the flood is summed up in at most one line per 10 s", lines)
    c.check(lines and "top addresses dropped: " + FLOODER in lines[0] and "rate-limit-source" in lines[0],
            "the summary names the flooding address", lines[:1])
    c.check("discard rate-limit" not in text, "no discard line per dropped message")


def group_readers(c, lab, binary):
    reg, host, r_if, h_if = two_ns(lab)
    d = tempfile.mkdtemp(prefix="rr-readers-", dir="/tmp")
    try:
        os.chown(d, 0, READER_GID)
        os.chmod(d, 0o2750)  # setgid: the files the daemon makes get the group; no write for the group
        db = os.path.join(d, "registrar.db")
        # umask 077 as under systemd (the unit's UMask=0077): the store makes the files 0640 itself.
        argv = ["/bin/sh", "-c", 'umask 077 && exec "$@"', "sh", binary, "registrar", "--db", "sqlite:" + db,
                "--listen-iface", r_if, "--server-duid", SERVER_DUID, "--user", "nobody"]
        registrar = reg.spawn(argv, name="registrar")
        registrar.wait_log(r"listening for direct registrations on " + re.escape(r_if))
        r = host.exec(PY, REGCLIENT, "--iface", h_if, "--address", GOOD, check=False, timeout=30)
        c.eq(r.returncode, 0, "registration answered")
        registrar.wait_log(r"registered address " + re.escape(GOOD))
        for suffix in ("", "-wal", "-shm"):
            p = db + suffix
            try:
                st = os.stat(p)
                c.eq((stat.S_IMODE(st.st_mode), st.st_gid), (0o640, READER_GID),
                     f"registrar.db{suffix}: mode 0640, the directory's group")
            except FileNotFoundError:
                c.check(False, f"registrar.db{suffix} exists while the daemon runs")
        reader = ["setpriv", f"--reuid={READER_UID}", f"--regid={READER_GID}", "--clear-groups", "--"]

        def who_had(when):
            w = subprocess.run(reader + [binary, "who-had", GOOD, "--db", "sqlite:" + db], capture_output=True,
                               text=True, timeout=10)
            c.check(w.returncode == 0 and GOOD in w.stdout, f"who-had as uid {READER_UID} ({when}): answers",
                    w.stdout + w.stderr)
            h = subprocess.run(reader + [binary, "history", "--address", GOOD, "--db", "sqlite:" + db],
                               capture_output=True, text=True, timeout=10)
            c.check(h.returncode == 0 and "registered" in h.stdout and GOOD in h.stdout,
                    f"history as uid {READER_UID} ({when}): the registration", h.stdout + h.stderr)

        who_had("the daemon running")
        c.eq(registrar.stop(), 0, "registrar: SIGTERM, exit 0")
        # nobody cannot remove files from the directory: its -wal and -shm stay, and are read as is.
        who_had("the daemon stopped, its -wal and -shm left")
        # As under StateDirectory (the daemon's own directory), the last connection checkpoints
        # and removes them: then only the main file is left, read as immutable.
        con = sqlite3.connect(db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        c.check(not os.path.exists(db + "-wal") and not os.path.exists(db + "-shm"), "no -wal or -shm left")
        who_had("the daemon stopped, the main file alone")
        other = subprocess.run(["setpriv", "--reuid=64996", "--regid=64996", "--clear-groups", "--", binary, "who-had",
                                GOOD, "--db", "sqlite:" + db], capture_output=True, text=True, timeout=10)
        c.check(other.returncode != 0, "a uid outside the group cannot read it", other.stdout + other.stderr)
    finally:
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
        os.rmdir(d)


GROUPS = {"flood": (group_flood, 60), "readers": (group_readers, 45)}


def main():
    return lib.run_groups("rh", GROUPS, 60, needs=lambda g: [("setpriv", "util-linux")] if g == "readers" else [])


if __name__ == "__main__":
    sys.exit(main())
