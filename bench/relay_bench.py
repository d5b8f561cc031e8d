#!/usr/bin/python3
"""Live relay benchmark: regrelay side by side with ISC dhcrelay and dnsmasq, same run, same lab.

    bench/relay_bench.py [BUILD_DIR]          (root; called by bench/run.sh; `make bench`)

Lab: three network namespaces in a line, client --veth-- relay --veth-- server:

    client ns: c<r>  2001:db8:1::100/64   regrelay_loadgen send (AF_PACKET) / sink :546
    relay ns:  rc<r> 2001:db8:1::1/64     the relay under test, pinned to CPU 0
               rs<r> 2001:db8:ffff::2/64
    server ns: s<r>  2001:db8:ffff::1/64  regrelay_loadgen sink :547 / reverse (AF_PACKET)

The generator and the sinks are pinned to CPU 1, the relay to CPU 0: every relay gets one core.
For each relay and case the highest loss-free rate is searched: offered rates from 10k/s up,
doubling until a trial loses a packet, then bisecting to 5 %. A trial restarts the relay, flushes
the relay's neighbour table, sends one warm-up packet, waits 300 ms, offers the rate for 2 s
(1 s with QUICK=1) and counts what reaches the sink until 300 ms after the last packet; loss-free
means received == sent. A trial that loses less than 0.5 % is tried once more before it counts as a
loss. Each case is searched REPS times (later repetitions start from the first result) and the
median is reported. First (case "fixed"), each relay is offered FIXED_RATES (1,000/s and
50,000/s) of Solicit, ADDR-REG-INFORM and Relay-reply, one trial per repetition: its CPU per
message, and its latency from timestamps (the generator's send time of each frame, the kernel's
arrival stamp of each relayed datagram at the sink, SO_TIMESTAMPNS; paired in order in a
loss-free trial), p50 and p99. Replay throughput is `regrelay replay` on a 2,000,000-frame capture, pinned
to one core, median of REPS runs.

Environment: QUICK=1 (1 repetition, 1 s trials), REPS, TRIAL, RELAYS=regrelay,dhcrelay,dnsmasq,
CASES=fixed,solicit-1,inform-1,solicit-100k,inform-100k,reverse,replay, FIXED_RATES, FIXED_CASES, REPLAY_FRAMES, NICE (default -20),
UPLINK_USO=off|on (the relay's uplink veth's tx-udp-segmentation; default off),
REGRELAY_ARGS (extra `regrelay relay` options, for experiments), REGRELAY_BASELINE=PATH (another
regrelay binary, e.g. a build of the tree before a change, measured side by side as
"regrelay-baseline"),
OUT=docs/benchmarks.md (the results file; OUT= writes none), KEEP=1 keeps the work directory.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IP = shutil.which("ip") or "/usr/sbin/ip"
TASKSET = shutil.which("taskset") or "/usr/bin/taskset"
DHCRELAY = "/usr/sbin/dhcrelay"
DNSMASQ = "/usr/sbin/dnsmasq"

QUICK = os.environ.get("QUICK", "") not in ("", "0")
REPS = int(os.environ.get("REPS", "1" if QUICK else "3"))
TRIAL = float(os.environ.get("TRIAL", "1.0" if QUICK else "2.0"))
WARMUP = 0.3     # s after the warm-up packet (a relay that resolves the client's MAC does it here)
GRACE = 0.3      # s after the last packet for the last relayed datagram to arrive
START_RATE = 10_000
MAX_RATE = 2_000_000
PRECISION = 1.05
N_DISTINCT = 100_000
REPLAY_FRAMES = int(os.environ.get("REPLAY_FRAMES", "2000000"))
RELAY_CPU, GEN_CPU = "0", "1"
# Bench processes (relays, generator, sinks) run at this nice level, each in its own session whose
# autogroup gets the same nice (with autogroup scheduling a task's own nice counts only within its
# session): on a machine busy with other work they still get their cores, so the figures measure
# the relays and not the neighbours. NICE=0 turns this off.
NICE = os.environ.get("NICE", "-20")
# The relay's uplink veth: tx-udp-segmentation off (default, as a NIC without UDP segmentation
# offload) or on (a veth's default). See Lab.up().
UPLINK_USO = os.environ.get("UPLINK_USO", "off")

CLIENT_LINK = "2001:db8:1::1"      # relay, client side: the link-address
CLIENT_ADDR = "2001:db8:1::100"    # the client namespace's own address (reverse path)
RELAY_UP = "2001:db8:ffff::2"      # relay, server side
SERVER = "2001:db8:ffff::1"        # the sink standing in for the server

# CPU per message and latency at fixed offered rates (case "fixed"): FIXED_RATES, FIXED_CASES.
FIXED_RATES = [float(x) for x in os.environ.get("FIXED_RATES", "1000,50000").split(",")]
FIXED_CASES = os.environ.get("FIXED_CASES", "solicit-1,inform-1,reverse").split(",")

CASES = {
    # name: (kind, message type, clients, label)
    "solicit-1": ("fwd", "solicit", 1, "Solicit, 1 client"),
    "inform-1": ("fwd", "inform", 1, "ADDR-REG-INFORM, 1 client"),
    "solicit-100k": ("fwd", "solicit", N_DISTINCT, "Solicit, 100,000 distinct clients"),
    "inform-100k": ("fwd", "inform", N_DISTINCT, "ADDR-REG-INFORM, 100,000 distinct clients"),
    "reverse": ("rev", "reply", 1, "Relay-reply -> Reply to the client"),
}


T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.0f}s] {msg}", flush=True)


def run(argv: list[str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def prioritise(pid: int) -> None:
    """Gives the session (autogroup) of `pid`, a session leader, the nice level NICE."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(NICE)
    except OSError:
        pass  # no autogroup scheduling: the task's own nice (set by `nice`) is what counts


def cpu_ns(pid: int) -> int:
    """CPU time a process has run, in ns (/proc/PID/schedstat), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def kv(text: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", text))


class Lab:
    """The three namespaces and two veth pairs; everything is removed by cleanup()."""

    def __init__(self) -> None:
        self.tag = f"rrb-{os.getpid()}-{secrets.token_hex(2)}"
        self.dir = tempfile.mkdtemp(prefix=self.tag + "-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        self.procs: list[subprocess.Popen] = []
        self.ns: list[str] = []
        r = self.tag.split("-")[-1]
        self.cli, self.rel, self.srv = (f"{self.tag}-{x}" for x in ("cli", "rel", "srv"))
        self.c_if, self.rc_if, self.rs_if, self.s_if = f"c{r}", f"rc{r}", f"rs{r}", f"s{r}"

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    @staticmethod
    def reap_stale() -> None:
        """Deletes namespaces and work directories of earlier runs whose process is gone (killed
        with SIGKILL)."""
        out = run([IP, "netns", "list"], check=False).stdout
        for name in re.findall(r"^(rrb-(\d+)-[0-9a-f]+-\w+)", out, re.M):
            if not os.path.exists(f"/proc/{name[1]}"):
                run([IP, "netns", "del", name[0]], check=False)
        tmp = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        for d in os.listdir(tmp):
            m = re.match(r"rrb-(\d+)-[0-9a-f]+-", d)
            if m and not os.path.exists(f"/proc/{m.group(1)}"):
                shutil.rmtree(os.path.join(tmp, d), ignore_errors=True)

    def up(self) -> None:
        self.reap_stale()
        for ns in (self.cli, self.rel, self.srv):
            run([IP, "netns", "add", ns])
            self.ns.append(ns)
            for k in ("default.accept_dad=0", "all.accept_dad=0", "default.accept_ra=0", "all.accept_ra=0"):
                self.sh(ns, "sysctl", "-q", "-w", f"net.ipv6.conf.{k}")
            self.ip(ns, "link", "set", "lo", "up")
        run([IP, "link", "add", self.c_if, "netns", self.cli, "type", "veth", "peer", "name", self.rc_if, "netns",
             self.rel])
        run([IP, "link", "add", self.rs_if, "netns", self.rel, "type", "veth", "peer", "name", self.s_if, "netns",
             self.srv])
        for ns, ifn, addr in ((self.cli, self.c_if, CLIENT_ADDR), (self.rel, self.rc_if, CLIENT_LINK),
                              (self.rel, self.rs_if, RELAY_UP), (self.srv, self.s_if, SERVER)):
            self.ip(ns, "-6", "addr", "add", addr + "/64", "dev", ifn, "nodad")
            self.ip(ns, "link", "set", ifn, "up")
        if UPLINK_USO == "off":
            # The relay's uplink as a NIC without UDP segmentation offload (most 1/10 GbE NICs,
            # virtio-net without host USO): the kernel segments UDP GSO sends in software before
            # the interface, so regrelay's --udp-gso auto uses them (docs/relay.md). A veth's
            # default (on) hands a GSO send to the next namespace as one large datagram, and
            # auto leaves GSO off there: UPLINK_USO=on measures that.
            self.sh(self.rel, "ethtool", "-K", self.rs_if, "tx-udp-segmentation", "off")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            tentative = any("tentative" in self.ip(ns, "-6", "addr").stdout for ns in self.ns)
            lladdr = all("fe80::" in self.ip(ns, "-6", "addr").stdout for ns in self.ns)
            if not tentative and lladdr:
                return
            time.sleep(0.05)
        raise RuntimeError("lab: addresses did not become usable")

    def mac(self, ns: str, ifname: str) -> str:
        return json.loads(self.ip(ns, "-j", "link", "show", ifname).stdout)[0]["address"]

    def ip(self, ns: str, *args: str) -> subprocess.CompletedProcess:
        return run([IP, "-n", ns, *args])

    def sh(self, ns: str, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        return run([IP, "netns", "exec", ns, *argv], check=check, timeout=timeout)

    def spawn(self, ns: str, argv: list[str], cpu: str, logname: str, stdout=None) -> subprocess.Popen:
        logf = open(self.path(logname), "ab")
        p = subprocess.Popen([IP, "netns", "exec", ns, "nice", "-n", NICE, TASKSET, "-c", cpu, *argv],
                             stdin=subprocess.DEVNULL,
                             stdout=stdout or logf, stderr=logf, start_new_session=True)
        logf.close()
        prioritise(p.pid)
        self.procs.append(p)
        return p

    def run_in(self, ns: str | None, argv: list[str], cpu: str, timeout: float) -> str:
        """Runs argv pinned to `cpu` in `ns` (None: here), prioritised like spawn; returns stdout."""
        netns = [IP, "netns", "exec", ns] if ns else []
        p = subprocess.Popen([*netns, "nice", "-n", NICE, TASKSET, "-c", cpu, *argv],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        prioritise(p.pid)
        self.procs.append(p)
        try:
            out, err = p.communicate(timeout=timeout)
        finally:
            self.stop(p)
            self.procs.remove(p)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {err.decode(errors='replace').strip()}")
        return out.decode()

    @staticmethod
    def stop(p: subprocess.Popen, timeout: float = 3) -> None:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def cleanup(self) -> None:
        for p in self.procs:
            try:
                self.stop(p, 2)
            except Exception:
                pass
        self.procs.clear()
        for ns in self.ns:
            run([IP, "netns", "del", ns], check=False)
        self.ns.clear()
        if os.environ.get("KEEP"):
            log(f"work directory kept: {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Bench:
    def __init__(self, lab: Lab, build: str) -> None:
        self.lab = lab
        self.regrelay = os.path.join(build, "cli", "regrelay")
        self.loadgen = os.path.join(build, "bench", "regrelay_loadgen")
        self.trials = 0
        self.notes: list[str] = []

    # --- the relays -----------------------------------------------------------------------
    def relay_argv(self, relay: str, verbose: bool = False) -> list[str]:
        lab = self.lab
        if relay in ("regrelay", "regrelay-baseline"):
            # Flood limits off: the load generator is one host (or 100k) at a rate no real host reaches.
            binary = self.regrelay if relay == "regrelay" else os.environ["REGRELAY_BASELINE"]
            return [binary, "relay", "--client-iface", lab.rc_if, "--server", SERVER, "--log-level", "warn",
                    "--rate-limit-mac", "0", "--rate-limit-port", "0",
                    *os.environ.get("REGRELAY_ARGS", "").split()]
        if relay == "dhcrelay":
            return [DHCRELAY, "-6", "-d", *([] if verbose else ["-q"]), "-pf", lab.path("dhcrelay.pid"), "-l",
                    lab.rc_if, "-u", f"{SERVER}%{lab.rs_if}"]
        if relay == "dnsmasq":
            return [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--user=root",
                    f"--pid-file={lab.path('dnsmasq.pid')}", f"--dhcp-relay={CLIENT_LINK},{SERVER}",
                    "--log-facility=-"]
        raise ValueError(relay)

    def start_relay(self, relay: str, verbose: bool = False) -> subprocess.Popen:
        lab = self.lab
        lab.sh(lab.rel, IP, "neigh", "flush", "dev", lab.rc_if, check=False)
        p = lab.spawn(lab.rel, self.relay_argv(relay, verbose), RELAY_CPU, f"{relay}.log")
        deadline = time.monotonic() + 10
        while True:
            ss = lab.sh(lab.rel, "ss", "-Hlun", "sport = :547", check=False).stdout
            if ss.strip():
                break
            if p.poll() is not None:
                raise RuntimeError(f"{relay} exited {p.returncode}:\n" + self.tail(f"{relay}.log"))
            if time.monotonic() > deadline:
                raise RuntimeError(f"{relay} did not bind port 547:\n" + self.tail(f"{relay}.log"))
            time.sleep(0.02)
        time.sleep(0.15)
        return p

    def tail(self, name: str, n: int = 20) -> str:
        try:
            with open(self.lab.path(name), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # --- one trial ------------------------------------------------------------------------
    def trial(self, relay: str, case: str, rate: float, duration: float | None = None,
              verbose: bool = False, stamps: bool = False) -> dict:
        """Offers `rate` for TRIAL s; returns sent, received, ok, generator rate, sink details.
        With `stamps`, also the relay's latency per message ("lat_us": sorted, µs) when the trial
        was loss-free: the k-th frame sent pairs with the k-th datagram received (one relay thread,
        in order)."""
        lab = self.lab
        kind, mtype, clients, _ = CASES[case]
        duration = duration or TRIAL
        self.trials += 1
        rp = self.start_relay(relay, verbose)
        try:
            if kind == "fwd":
                sink_ns, port = lab.srv, 547
                gen_ns = lab.cli
                gen = [self.loadgen, "send", "--iface", lab.c_if, "--type", mtype, "--clients", str(clients),
                       "--answer-ns"]
            else:
                sink_ns, port = lab.cli, 546
                gen_ns = lab.srv
                gen = [self.loadgen, "reverse", "--iface", lab.s_if, "--src", SERVER, "--dst", RELAY_UP, "--dst-mac",
                   lab.mac(lab.rel, lab.rs_if), "--link-address", CLIENT_LINK, "--peer", CLIENT_ADDR, "--inner", mtype]
            gen += ["--rate", str(int(rate)), "--duration", str(duration), "--warmup-ms", str(int(WARMUP * 1000))]
            sink_argv = [self.loadgen, "sink", "--port", str(port), "--duration", "3600"]
            if stamps:
                gen += ["--stamps", lab.path("tx.stamps")]
                sink_argv += ["--stamps", lab.path("rx.stamps")]
            sink = lab.spawn(sink_ns, sink_argv, GEN_CPU, "sink.log", stdout=subprocess.PIPE)
            if sink.stdout.readline().strip() != b"ready":
                raise RuntimeError("sink did not start:\n" + self.tail("sink.log"))
            cpu0 = cpu_ns(rp.pid)
            g = lab.run_in(gen_ns, gen, GEN_CPU, timeout=duration + 60)
            time.sleep(GRACE)
            cpu = cpu_ns(rp.pid) - cpu0
            sink.send_signal(signal.SIGTERM)
            out = sink.communicate(timeout=10)[0].decode()
            lab.procs.remove(sink)
        finally:
            Lab.stop(rp)
            lab.procs.remove(rp)
        gk, sk = kv(g), kv(out)
        sent, received = int(gk["sent"]), int(sk["received"])
        res = {"rate": rate, "sent": sent, "received": received, "ok": received >= sent,
               "gen_rate": float(gk["rate"]), "sink": sk, "gen": gk,
               "cpu_us": cpu / 1000 / max(received, 1)}
        # The generator must have offered what was asked, or the trial says nothing.
        res["gen_limited"] = float(gk["rate"]) < 0.97 * rate
        if stamps:
            res["lat_us"] = None
            tx, rx = read_stamps(lab.path("tx.stamps")), read_stamps(lab.path("rx.stamps"))
            if len(tx) == len(rx) and tx and all(rx):
                res["lat_us"] = sorted((b - a) / 1000 for a, b in zip(tx, rx))
        return res

    # --- fixed offered rates: CPU per message and latency ----------------------------------
    def fixed(self, relay: str, case: str, rate: float) -> dict:
        """One trial at `rate` with timestamps: CPU µs per message, p50/p99 latency (µs)."""
        t = self.trial(relay, case, rate, stamps=True)
        lat = t["lat_us"]
        t["p50"] = percentile(lat, 50) if lat else None
        t["p99"] = percentile(lat, 99) if lat else None
        t["load"] = os.getloadavg()[0]
        flag = "ok" if t["ok"] else f"LOSS {t['sent'] - t['received']:,}"
        lat_s = f"p50 {t['p50']:.0f} µs p99 {t['p99']:.0f} µs" if lat else "latency —"
        log(f"    {relay:9s} {case:13s} {rate:>10,.0f}/s sent {t['sent']:>9,} got {t['received']:>9,} {flag}; "
            f"{t['cpu_us']:.2f} µs CPU/msg; {lat_s}; load {t['load']:.2f}")
        return t

    # --- the search -----------------------------------------------------------------------
    def search(self, relay: str, case: str, start: float | None = None) -> dict:
        """The highest loss-free rate (to PRECISION). `start`: a previous result to start near.

        Returns {"rate", "trial" (the loss-free trial at that rate), "limited" (the generator could
        offer no more: the rate is a lower bound)}."""
        cold = start is None
        grow = 2.0 if cold else 1.1
        r = float(start or START_RATE)
        lo, hi, best = 0.0, None, None
        while True:
            t = self.trial(relay, case, r)
            if not t["ok"] and t["sent"] - t["received"] < 0.005 * t["sent"]:
                t = self.trial(relay, case, r)  # a near miss: once more
            flag = "ok" if t["ok"] else f"LOSS {t['sent'] - t['received']:,}"
            lim = f" (generator offered only {t['gen_rate']:,.0f}/s)" if t["gen_limited"] else ""
            log(f"    {relay:9s} {case:13s} {r:>10,.0f}/s sent {t['sent']:>9,} got {t['received']:>9,} "
                f"{flag}{lim}")
            if t["ok"] and t["gen_limited"]:
                # The generator cannot offer more: what it did offer is a lower bound for the relay.
                self.notes.append(f"{relay}, {CASES[case][3]}: the generator's ceiling "
                                  f"({t['gen_rate']:,.0f}/s) was reached without loss")
                return {"rate": max(lo, t["gen_rate"]), "trial": t, "limited": True}
            if t["ok"]:
                lo, best = r, t
            else:
                hi = r
            if hi is None:
                if r >= MAX_RATE:
                    break
                r = min(max(r * grow, r + 1), MAX_RATE)
            elif lo == 0:
                delivered = t["received"] / (TRIAL + GRACE)
                nxt = min(r / grow, max(delivered * 0.95, r / 64), r - 1)
                if nxt < 2:
                    break
                r = nxt
            else:
                if hi / lo <= PRECISION:
                    break
                r = (lo * hi) ** 0.5
            r = float(int(r))
            if hi is not None and lo > 0 and not lo < r < hi:
                break  # integer rates: nothing left between the bounds
        return {"rate": lo, "trial": best, "limited": False}

    def verify_drop(self, relay: str, case: str) -> dict:
        """A low-rate trial, to show a relay drops a message type rather than being slow at it."""
        logname = f"{relay}.log"
        before = os.path.getsize(self.lab.path(logname)) if os.path.exists(self.lab.path(logname)) else 0
        t = self.trial(relay, case, 1000, duration=1.0, verbose=True)
        with open(self.lab.path(logname), errors="replace") as f:
            f.seek(before)
            t["log_unknown"] = len(re.findall(r"Unknown 36 type", f.read()))
        log(f"    {relay:9s} {case:13s} {1000:>10,}/s sent {t['sent']:>9,} got {t['received']:>9,} "
            f"(drop check: its log says 'Unknown 36 type' {t['log_unknown']:,} times)")
        return t

    # --- replay ---------------------------------------------------------------------------
    def replay(self, reps: int) -> dict:
        lab = self.lab
        cap, out = lab.path("replay-in.pcap"), lab.path("replay-out.pcap")
        t0 = time.monotonic()
        run([self.loadgen, "pcap", "--out", cap, "--type", "mix", "--clients", str(N_DISTINCT), "--count",
             str(REPLAY_FRAMES)], timeout=300)
        log(f"  replay input: {REPLAY_FRAMES:,} frames (Solicit and ADDR-REG-INFORM alternating, "
            f"{N_DISTINCT:,} clients), {os.path.getsize(cap) / 1e6:.0f} MB, made in {time.monotonic() - t0:.1f} s")
        argv = [self.regrelay, "replay", "--in", cap, "--out", out, "--client-iface", "eth1",
                "--link-address", f"eth1={CLIENT_LINK}", "--server", SERVER, "--log-level", "warn",
                "--rate-limit-mac", "0", "--rate-limit-port", "0"]
        runs = []
        for i in range(reps):
            t = time.monotonic()
            ru0 = os.times()
            lab.run_in(None, argv, RELAY_CPU, timeout=600)
            wall = time.monotonic() - t
            ru1 = os.times()
            cpu = (ru1.children_user - ru0.children_user) + (ru1.children_system - ru0.children_system)
            runs.append({"wall": wall, "cpu": cpu, "pps": REPLAY_FRAMES / wall})
            log(f"    replay run {i + 1}: {wall:.3f} s wall, {cpu:.3f} s CPU, {REPLAY_FRAMES / wall:,.0f} frames/s")
            os.unlink(out)
        os.unlink(cap)
        return {"runs": runs, "median_pps": statistics.median(r["pps"] for r in runs)}


def read_stamps(path: str) -> list[int]:
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def percentile(xs: list[float], q: float) -> float:
    """The q-th percentile of sorted `xs` (nearest rank)."""
    k = max(0, min(len(xs) - 1, int(round(q / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else "?"
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}"


def versions(build: str) -> dict[str, str]:
    v = {}
    v["dhcrelay"] = run([DHCRELAY, "--version"], check=False).stderr.strip().splitlines()[0:1]
    v["dnsmasq"] = [" ".join(run([DNSMASQ, "--version"], check=False).stdout.split()[0:3])]
    try:
        v["regrelay"] = [run(["git", "-C", ROOT, "describe", "--always", "--dirty"], check=False).stdout.strip()]
    except Exception:
        v["regrelay"] = ["?"]
    return {k: (x[0] if x else "?") for k, x in v.items()}


def fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}"


def main() -> int:
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    if os.geteuid() != 0:
        print("relay_bench: needs root (network namespaces); skipped", file=sys.stderr)
        return 0
    for p in (os.path.join(build, "cli", "regrelay"), os.path.join(build, "bench", "regrelay_loadgen")):
        if not os.access(p, os.X_OK):
            print(f"relay_bench: {p} is missing: build it first (cmake --build {build})", file=sys.stderr)
            return 1
    relays = os.environ.get("RELAYS", "regrelay,dhcrelay,dnsmasq").split(",")
    if os.environ.get("REGRELAY_BASELINE") and "regrelay" in relays and "regrelay-baseline" not in relays:
        relays.insert(relays.index("regrelay") + 1, "regrelay-baseline")
    for peer, path in (("dhcrelay", DHCRELAY), ("dnsmasq", DNSMASQ)):
        if peer in relays and not os.access(path, os.X_OK):
            log(f"relay_bench: {path} not installed (deploy/install-deps.sh): {peer} skipped")
            relays.remove(peer)
    cases = os.environ.get("CASES", ",".join(["fixed", *CASES, "replay"])).split(",")
    out_md = os.environ.get("OUT", os.path.join(ROOT, "docs", "benchmarks.md"))

    lab = Lab()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    started = time.monotonic()
    load0 = os.getloadavg()
    v = versions(build)  # now: the tree may move on while the bench runs
    results: dict[tuple[str, str], dict] = {}
    try:
        lab.up()
        b = Bench(lab, build)
        log(f"relay_bench: {machine()}; {REPS} repetition(s), {TRIAL:g} s trials; lab {lab.tag}")
        fixed: dict[tuple[str, str, float], dict] = {}
        if "fixed" in cases:
            for case in FIXED_CASES:
                log(f"== fixed rates: {CASES[case][3]}")
                # Repetitions interleaved across the relays (A, B, A, B...): a change in the
                # machine's load during the case then falls on every relay alike.
                runs: dict[tuple[str, str, float], list[dict]] = {}
                for _ in range(REPS):
                    for relay in relays:
                        if relay == "dhcrelay" and CASES[case][1] == "inform":
                            continue  # drops type 36 (shown by the search's drop check)
                        for rate in FIXED_RATES:
                            runs.setdefault((relay, case, rate), []).append(b.fixed(relay, case, rate))
                for key, ts in runs.items():
                    fixed[key] = summarise_fixed(ts)
        for case in [c for c in CASES if c in cases]:
            log(f"== {CASES[case][3]}")
            for relay in relays:
                if relay == "dhcrelay" and CASES[case][1] == "inform":
                    t = b.verify_drop(relay, case)
                    results[(relay, case)] = {"median": 0.0, "reps": [0.0], "dropped": t["received"] == 0,
                                              "check": t, "limited": False, "trial": None}
                    continue
                reps, prev = [], None
                for i in range(REPS):
                    res = b.search(relay, case, prev)
                    reps.append(res)
                    prev = prev or res["rate"] or None
                    log(f"  {relay}: repetition {i + 1}: {fmt(res['rate'])}/s")
                rates = [x["rate"] for x in reps]
                med = statistics.median(rates)
                # The repetition whose rate is the median, for its CPU and option 79 figures.
                mid = min(reps, key=lambda x: abs(x["rate"] - med))
                results[(relay, case)] = {"median": med, "reps": rates, "limited": any(x["limited"] for x in reps),
                                          "trial": mid["trial"]}
                log(f"  {relay}: median {fmt(med)}/s")
        replay = None
        if "replay" in cases and "regrelay" in relays:
            log("== replay throughput (regrelay replay, taskset -c 0)")
            replay = b.replay(REPS)
            log(f"  median {fmt(replay['median_pps'])} frames/s")
        elapsed = time.monotonic() - started
        report = render(results, relays, cases, replay, b, elapsed, load0, os.getloadavg(), v, fixed)
        print(report)
        if out_md:
            merged = merge_sections(report, out_md)  # reads the file: before opening it for writing
            with open(out_md, "w") as f:
                f.write(merged)
            log(f"relay_bench: written to {os.path.relpath(out_md, ROOT)}")
    finally:
        lab.cleanup()
    return 0


def sections(text: str) -> list[tuple[str, str]]:
    """The "## " sections of a markdown text as (heading line, whole section), in order."""
    out = []
    for chunk in ("\n" + text).split("\n## ")[1:]:
        out.append(("## " + chunk.split("\n", 1)[0], "## " + chunk.rstrip("\n")))
    return out


def merge_sections(report: str, path: str) -> str:
    """The report, followed by the sections of the existing results file that it does not write
    (the snoop, capture and registrar benchmarks' sections, hand-written notes), so a run of this
    benchmark replaces only its own tables."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        return report
    mine = {h for h, _ in sections(report)}
    kept = [body for h, body in sections(old) if h not in mine]
    return report.rstrip("\n") + ("\n\n" + "\n\n".join(kept) if kept else "") + "\n"


def summarise_fixed(ts: list[dict]) -> dict:
    """Medians over the repetitions of a fixed-rate trial (latency only from loss-free ones)."""
    ok = [t for t in ts if t["ok"] and t.get("p50") is not None]
    med = lambda k, xs: statistics.median(t[k] for t in xs) if xs else None  # noqa: E731
    return {"cpu_us": med("cpu_us", ts), "p50": med("p50", ok), "p99": med("p99", ok), "load": med("load", ts),
            "lost": sum(t["sent"] - t["received"] for t in ts if not t["ok"]), "n": len(ts),
            "gen_limited": any(t["gen_limited"] for t in ts)}


def render_fixed(fixed: dict, relays: list[str]) -> list[str]:
    if not fixed:
        return []
    hi, lo = max(FIXED_RATES), min(FIXED_RATES)
    lines = [
        "## CPU per message and latency at fixed offered rates",
        "",
        f"One trial per repetition at each rate, medians. CPU: the relay process's CPU time (its own core, "
        f"kernel work in its system calls included) over the trial per relayed message. Latency: from the "
        f"generator's send call (client frame, or the server's Relay-reply) to the kernel's arrival stamp "
        f"(SO_TIMESTAMPNS) of the relayed datagram in the sink's namespace, every message of a loss-free "
        f"trial paired in order; p50 / p99 in µs. Load: the 1-minute load average during the trial "
        f"(other work on the machine).",
        "",
        f"| case | relay | CPU µs/msg at {lo:,.0f}/s | CPU µs/msg at {hi:,.0f}/s | p50 / p99 µs at {lo:,.0f}/s | "
        f"p50 / p99 µs at {hi:,.0f}/s | load |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def lat(f):
        if f is None:
            return "—"
        if f["p50"] is None:
            return f"loss ({f['lost']:,})"
        return f"{f['p50']:,.0f} / {f['p99']:,.0f}"

    for case in FIXED_CASES:
        for r in relays:
            a, z = fixed.get((r, case, lo)), fixed.get((r, case, hi))
            if not a and not z:
                continue
            cpu = lambda f: "—" if not f or f["cpu_us"] is None else f"{f['cpu_us']:.2f}"  # noqa: E731
            lines.append(f"| {CASES[case][3]} | {r} | {cpu(a)} | {cpu(z)} | {lat(a)} | {lat(z)} | "
                         f"{(z or a)['load']:.2f} |")
    lines += ["", "Targets at fixed rates:", ""]
    for case in FIXED_CASES:
        mine, dm = fixed.get(("regrelay", case, hi)), fixed.get(("dnsmasq", case, hi))
        if mine and dm and mine["cpu_us"] and dm["cpu_us"]:
            q = dm["cpu_us"] / mine["cpu_us"]
            lines.append(f"- {CASES[case][3]} at {hi:,.0f}/s: regrelay {mine['cpu_us']:.2f} µs/msg, dnsmasq "
                         f"{dm['cpu_us']:.2f}: {q:.1f}x less — {'met' if q >= 3 else 'NOT met'} (target ≥ 3x)")
        for rate in (lo, hi):
            f = fixed.get(("regrelay", case, rate))
            if f and f["p99"] is not None:
                lines.append(f"- {CASES[case][3]} at {rate:,.0f}/s: regrelay p99 {f['p99']:,.0f} µs — "
                             f"{'met' if f['p99'] < 2000 else 'NOT met'} (target < 2,000 µs)")
    return lines + [""]


def render(results, relays, cases, replay, b: Bench, elapsed, load0, load1, v: dict[str, str],
           fixed: dict | None = None) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    peers = [r for r in relays if r not in ("regrelay", "regrelay-baseline")]
    shown = [c for c in CASES if c in cases]

    def cell(r: str, case: str) -> str:
        res = results.get((r, case))
        if not res:
            return "—"
        if res.get("dropped"):
            return "0 (drops type 36)"
        return ("≥ " if res["limited"] else "") + fmt(res["median"])

    def ratio(case: str) -> float | None:
        mine = results.get(("regrelay", case))
        best_peer = max((results[(p, case)]["median"] for p in peers if (p, case) in results), default=None)
        if not mine or best_peer is None:
            return None
        return mine["median"] / best_peer if best_peer else float("inf")

    lines = [
        "# Benchmarks",
        "",
        f"Measured {now} by `make bench` (`bench/relay_bench.py`{', QUICK=1' if QUICK else ''}) on {machine()}.",
        f"regrelay {v['regrelay']}; {v['dhcrelay']}; {v['dnsmasq']}.",
        f"{REPS} repetition(s) of each search, {TRIAL:g} s trials, {b.trials} trials in {elapsed / 60:.1f} min. "
        f"Load average (1 min) {load0[0]:.2f} at the start, {load1[0]:.2f} at the end; bench processes at nice "
        f"{NICE} (see Method).",
        "",
        *render_fixed(fixed or {}, relays),
        "## Live relaying: highest loss-free rate (messages/s, median)",
        "",
        "| case | " + " | ".join(relays) + " | regrelay / faster peer |",
        "| --- | " + " | ".join("---:" for _ in relays) + " | ---: |",
    ]
    for case in shown:
        q = ratio(case)
        rt = "—" if q is None else ("peers 0" if q == float("inf") else f"{q:,.{0 if q >= 100 else 1}f}x")
        lines.append("| " + " | ".join([CASES[case][3]] + [cell(r, case) for r in relays] + [rt]) + " |")
    if any(res.get("limited") for res in results.values()):
        lines += ["", "≥: the generator's ceiling was reached without loss (a lower bound)."]
    lines += [
        "",
        "CPU time of the relay process per relayed message, in the loss-free trial at the median rate "
        "(µs; its own core; includes the kernel's work in its system calls, such as sending to the "
        "server's namespace), and the share of Relay-forwards carrying option 79 (Client Link-Layer "
        "Address):",
        "",
        "| case | " + " | ".join(f"{r} µs" for r in relays) + " | " + " | ".join(f"{r} opt 79" for r in relays) + " |",
        "| --- | " + " | ".join("---:" for _ in relays * 2) + " |",
    ]
    for case in shown:
        cpu, o79 = [], []
        for r in relays:
            t = (results.get((r, case)) or {}).get("trial")
            cpu.append(f"{t['cpu_us']:.1f}" if t else "—")
            sk = t["sink"] if t else {}
            if t and CASES[case][0] == "fwd" and int(sk.get("relay_forw", 0)):
                o79.append(f"{100 * int(sk['opt79']) / int(sk['relay_forw']):.0f} %")
            else:
                o79.append("—")
        lines.append("| " + " | ".join([CASES[case][3]] + cpu + o79) + " |")

    # The targets.
    lines += ["", "## Targets", ""]
    for case in ("solicit-1", "inform-1", "solicit-100k", "inform-100k"):
        q = ratio(case)
        if q is not None:
            ok = q >= 3
            lines.append(f"- {CASES[case][3]}: regrelay at {'∞' if q == float('inf') else f'{q:,.{0 if q >= 100 else 1}f}'}x the faster "
                         f"peer — {'met' if ok else 'NOT met'} (target ≥ 3x)")
    for one, many in (("solicit-1", "solicit-100k"), ("inform-1", "inform-100k")):
        a, z = results.get(("regrelay", one)), results.get(("regrelay", many))
        if a and z and a["median"]:
            q = z["median"] / a["median"]
            lines.append(f"- {CASES[many][3]} vs 1 client: {q:.2f} of the one-client rate — "
                         f"{'no slowdown' if q >= 0.9 else 'SLOWER'} (target: no slowdown; within 10 % counts as "
                         f"noise)")
    if replay:
        q = replay["median_pps"]
        lines.append(f"- Replay: {fmt(q)} frames/s on one core — {'met' if q >= 1e6 else 'NOT met'} "
                     f"(target ≥ 1,000,000)")

    lines += ["", "## Repetitions", ""]
    for (r, case), res in results.items():
        lines.append(f"- {r}, {CASES[case][3]}: " + ", ".join(fmt(x) for x in res["reps"]))
        if res.get("check"):
            t = res["check"]
            lines.append(f"  (drop check: {t['sent']:,} ADDR-REG-INFORM offered at 1,000/s, the server received "
                         f"{t['received']:,}; dhcrelay logged \"Unknown 36 type ... going up\" "
                         f"{t.get('log_unknown', 0):,} times)")
    if replay:
        lines += [
            "",
            "## Replay throughput",
            "",
            f"`taskset -c {RELAY_CPU} regrelay replay` of {REPLAY_FRAMES:,} Ethernet frames (Solicit and "
            f"ADDR-REG-INFORM alternating, {N_DISTINCT:,} clients) from tmpfs to tmpfs, `--log-level warn`:",
            "",
            "| run | wall s | CPU s | frames/s (wall) | frames per CPU-second |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        for i, r in enumerate(replay["runs"]):
            lines.append(f"| {i + 1} | {r['wall']:.3f} | {r['cpu']:.3f} | {fmt(r['pps'])} | "
                         f"{fmt(REPLAY_FRAMES / r['cpu'] if r['cpu'] else None)} |")
        lines += ["", f"Median: **{fmt(replay['median_pps'])} frames/s** (wall clock) on one core."]
    if b.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in b.notes]
    lines += ["", "Where regrelay's time goes (profiles) and what could make it faster: `bench/README.md`."]
    lines += ["", "## Method", "", __doc__.split("Environment:")[0].split("\n", 3)[3].strip(), ""]
    lines += [
        "Relays as run: `regrelay relay --client-iface RC --server 2001:db8:ffff::1 --log-level warn`; "
        "`dhcrelay -6 -d -q -pf PIDFILE -l RC -u 2001:db8:ffff::1%RS`; "
        "`dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --user=root --pid-file=PIDFILE "
        "--dhcp-relay=2001:db8:1::1,2001:db8:ffff::1 --log-facility=-`. Each with its default buffers.",
        "",
        "Client traffic (bench/loadgen.cpp): Solicit from the client's EUI-64 link-local address; "
        "ADDR-REG-INFORM (type 36, Client Identifier + IA Address) from its registered address in "
        "2001:db8:1::/64; both to ff02::1:2, UDP checksums filled in. Distinct clients have distinct "
        "MACs and addresses. The generator answers Neighbor Solicitations for its clients like real "
        "hosts, so a relay that resolves each client's MAC (dnsmasq, for option 79) gets its answer "
        "after one round trip. The reverse case sends Relay-reply (link-address 2001:db8:1::1, "
        "peer-address the client namespace's own address 2001:db8:1::100, option 9 = Reply) from the "
        "server namespace to 2001:db8:ffff::2 port 547 and counts the Replies reaching port 546 in the "
        "client namespace.",
        "",
        "A veth frame is received on the core that sends it: the relay's receive processing (capture "
        "ring copy or UDP socket queueing) runs on the generator's core, and the delivery of what the "
        "relay sends (to the sink's socket) on the relay's core, inside its send calls. This is the "
        f"same for every relay. Bench processes run at nice {NICE}, each in its own session whose "
        "autogroup gets that nice too, so that other work on the machine does not take their cores.",
        "",
        f"The relay's uplink veth (rs<r>) has tx-udp-segmentation {UPLINK_USO} (`UPLINK_USO`). Off, it "
        "stands for a NIC without UDP segmentation offload: the kernel cuts a UDP GSO send into its "
        "datagrams before the interface, so `regrelay relay --udp-gso auto` sends runs of Relay-forwards "
        "to the server that way (docs/relay.md); on (a veth's default) auto leaves GSO off. The other "
        "relays send datagram by datagram either way.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
