#!/usr/bin/python3
"""A throwaway PostgreSQL 15 server for the tests: initdb in a temporary directory, the server
listening only on a Unix socket there (listen_addresses = ''), stopped by its PID and the
directory removed, also when the test fails or is interrupted.

    pgtmp.py [--timeout S] -- COMMAND [ARG...]

runs COMMAND with REGRELAY_TEST_PG_URL set to the superuser's URL of the "postgres" database,
postgresql:///postgres?host=SOCKETDIR&user=postgres (a test makes its own databases: replace
"/postgres?" with "/NAME?"), and exits with COMMAND's status; 77 (skip) when PostgreSQL 15 is
not installed. As a module: `with PgServer() as pg: pg.url("db")`, `pg.createdb("db")`.

initdb refuses to run as root: as root the server runs as the `postgres` system user (setpriv,
which execs, so the PID we hold is the server's), its data directory owned by it. setpriv's
--pdeathsig stops the server (fast shutdown) if this script itself is killed.
"""

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BIN = "/usr/lib/postgresql/15/bin"
SKIP = 77


class Unavailable(Exception):
    pass


class PgServer:
    def __init__(self, start_timeout: float = 60):
        self.start_timeout = start_timeout
        self.proc = None
        self.dir = None

    def __enter__(self) -> "PgServer":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _as_owner(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--pdeathsig", "INT", "--"]

    def start(self) -> None:
        for tool in ("initdb", "postgres", "pg_isready"):
            if not os.access(os.path.join(BIN, tool), os.X_OK):
                raise Unavailable(f"{BIN}/{tool} missing (Debian package postgresql-15)")
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("no postgres system user to run the server as") from None
            if not shutil.which("setpriv"):
                raise Unavailable("setpriv missing (util-linux)")
        self.dir = tempfile.mkdtemp(prefix="regrelay-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        os.mkdir(self.data, 0o700)
        os.mkdir(self.sock, 0o755)
        if os.geteuid() == 0:
            for p in (self.data, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        log = open(os.path.join(self.dir, "initdb.log"), "w")
        r = subprocess.run(self._as_owner() + [os.path.join(BIN, "initdb"), "-D", self.data, "-U", "postgres",
                                               "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                           stdout=log, stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("initdb failed: " + open(log.name).read()[-2000:])
        self.log_path = os.path.join(self.dir, "server.log")
        # fsync and synchronous_commit stay at their defaults (on): the durability is the real one.
        self.proc = subprocess.Popen(
            self._as_owner() + [os.path.join(BIN, "postgres"), "-D", self.data, "-k", self.sock, "-c", "listen_addresses=",
                                "-c", "max_connections=50", "-c", "shared_buffers=32MB"],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        end = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited: " + open(self.log_path).read()[-2000:])
            r = subprocess.run([os.path.join(BIN, "pg_isready"), "-q", "-h", self.sock, "-U", "postgres"], timeout=10)
            if r.returncode == 0:
                break
            if time.monotonic() > end:
                raise RuntimeError("postgres not ready in time: " + open(self.log_path).read()[-2000:])
            time.sleep(0.2)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql:///{db}?host={self.sock}&user=postgres"

    def psql(self, sql: str, db: str = "postgres") -> str:
        r = subprocess.run([os.path.join(BIN, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                            "-U", "postgres", "-d", db, "-c", sql], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {r.stderr}")
        return r.stdout

    def createdb(self, db: str) -> str:
        self.psql(f'CREATE DATABASE "{db}"')
        return self.url(db)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def main() -> int:
    args = sys.argv[1:]
    timeout = 600.0
    if args[:1] == ["--timeout"]:
        timeout, args = float(args[1]), args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2

    def on_signal(signo, _frame):
        raise SystemExit(128 + signo)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        with PgServer() as pg:
            env = dict(os.environ, REGRELAY_TEST_PG_URL=pg.url())
            child = subprocess.Popen(args, env=env)
            try:
                return child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"pgtmp: {args[0]} still running after {timeout:.0f} s: killed", file=sys.stderr)
                return 1
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
    except Unavailable as e:
        print(f"SKIP: {e}", flush=True)
        return SKIP


if __name__ == "__main__":
    sys.exit(main())
