#!/usr/bin/python3
"""Live benchmark of `regrelay snoop` (the RFC 6221 LDRA shim on a Linux bridge): the highest
loss-free rate of client messages through the shim, and its CPU per thousand packets.

    bench/snoop_bench.py [BUILD_DIR]          (root; default BUILD_DIR: build)

Lab (network namespaces made here, removed on exit, tests/netns/lib.py):

    cl ns:  eth0..   --veth--  sw ns: c1..cN ] bridge br0 [ uplink  --veth--  rtr ns: down0
            regrelay_loadgen send  regrelay snoop --client-port c1 ... cN      nft netdev ingress
            (AF_PACKET, CPU 1)     --uplink uplink --install-filters (CPU 0)   counter, then drop

PORTS client ports (default 48, an access switch's; frame k of the generator goes out of port
k mod PORTS).

The generator (bench/loadgen.cpp, `regrelay_loadgen send`: Ethernet/IPv6/UDP client frames to
ff02::1:2 port 547, paced, from 1 or N distinct clients) runs on CPU 1, snoop on CPU 0. What
reaches the router's veth is counted by an nftables netdev ingress rule (in the kernel, no
receiver process to be the bottleneck): Relay-forwards (UDP 547, first payload byte 12) and
anything else to UDP 547 (a leak of a client's own frame; must stay 0).

For each case the highest loss-free rate is searched: from 10k/s doubling until a trial loses a
packet, then bisecting to 5 %. A trial starts snoop afresh, sends one warm-up frame, waits 0.3 s,
offers the rate for TRIAL s and counts what reached the router 0.3 s after the last frame;
loss-free means Relay-forwards == frames sent. A trial that loses less than 0.5 % is tried once
more. CPU is snoop's own (user + system, /proc/PID/schedstat) over the trial at the loss-free rate,
per 1,000 frames relayed, and again over one trial at 10,000/s; what the kernel does in the
generator's context (bridge, packet taps, the filters) is not in it, the injection's (veth to the
router) is. When the generator cannot offer more before snoop loses a frame, the rate is reported
as a lower bound (>=).

Environment: QUICK=1 (1 repetition, 1 s trials), REPS (default 3: median reported), TRIAL (s), NICE
(default -20: snoop, the generator and this session's autogroup; 0 turns it off),
CASES=solicit-1,inform-100k, PORTS (default 48), WARMUP (s, default 2), CAPTURE (snoop's --capture: per-interface or shared), LOG_LEVEL (snoop's, default warn; `info` logs every ADDR-REG-INFORM),
OUT (the results file whose snoop section is replaced, default docs/benchmarks.md; OUT= writes
none), LOADGEN (path to regrelay_loadgen; default BUILD_DIR/bench/regrelay_loadgen, else compiled from
bench/loadgen.cpp into the work directory).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))
import lib  # noqa: E402

QUICK = os.environ.get("QUICK", "") not in ("", "0")
REPS = int(os.environ.get("REPS", "1" if QUICK else "3"))
TRIAL = float(os.environ.get("TRIAL", "1.0" if QUICK else "2.0"))
LOG_LEVEL = os.environ.get("LOG_LEVEL", "warn")
# The generator's warm-up frame, then this long before the trial: snoop opens the named ports'
# captures after its filters are in (what the script waits for), 48 libpcap captures can take
# longer than 0.3 s on a loaded machine, and frames sent to a port before its capture is open are
# lost (measured: 1-10 % "loss" at 300/s with 0.3 s, none with 2 s).
WARMUP = float(os.environ.get("WARMUP", "2.0"))
GRACE = 0.3
START_RATE = 10_000
LOW_RATE = 10_000  # CPU per 1000 frames is also measured at this rate (fewer frames per wake-up)
MAX_RATE = 2_000_000
PRECISION = 1.05
SNOOP_CPU, GEN_CPU = "0", "1"
TASKSET = shutil.which("taskset") or "/usr/bin/taskset"
# snoop and the generator run at this nice level, and so does this run's session autogroup (with
# autogroup scheduling a task's own nice counts only within its session): on a machine busy with
# other work they still get their cores. NICE=0 turns this off.
NICE = os.environ.get("NICE", "-20")

# name: (loadgen --type, distinct clients)
ALL_CASES = {"solicit-1": ("solicit", 1), "solicit-100k": ("solicit", 100_000),
             "inform-1": ("inform", 1), "inform-100k": ("inform", 100_000)}
CASES = os.environ.get("CASES", "solicit-1,inform-100k").split(",")
# Client ports of the bridge (the access switch: 48); the generator sends frame k out of
# port k mod PORTS, so the total rate is spread evenly over them.
PORTS = int(os.environ.get("PORTS", "48"))
# snoop's --capture (per-interface or shared); empty: the option is not given (the default).
CAPTURE = os.environ.get("CAPTURE", "")


def log(msg: str) -> None:
    print(msg, flush=True)


def rss_kb(pid: int) -> int:
    """VmRSS of a process in kB (0 when gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cpu_ns(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def prioritise(pid: int) -> None:
    """Gives the autogroup (session) of `pid` the nice level NICE."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(NICE)
    except OSError:
        pass  # no autogroup scheduling: the task's own nice is what counts


def kv(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


class Bench:
    def __init__(self, lab: lib.Lab, build: str):
        self.lab = lab
        self.regrelay = os.path.join(build, "cli", "regrelay")
        if not os.access(self.regrelay, os.X_OK):
            raise SystemExit(f"snoop_bench: no {self.regrelay} (build first)")
        self.loadgen = self.find_loadgen(build)
        self.cl, self.sw, self.rtr = lab.netns("cl"), lab.netns("sw"), lab.netns("rtr")
        self.c_ifs, self.ports = [], []
        for i in range(PORTS):
            a, b = lab.veth(self.cl, self.sw, a_name=f"eth{i}", b_name=f"c{i + 1}")
            self.c_ifs.append(a)
            self.ports.append(b)
        self.r_if, _ = lab.veth(self.rtr, self.sw, a_name="down0", b_name="uplink")
        lab.bridge(self.sw, [*self.ports, "uplink"], name="br0")
        # The router only counts (and drops) what reaches it.
        rules = ('table netdev bench {\n'
                 '  counter relayfw {}\n  counter leak {}\n'
                 f'  chain in {{ type filter hook ingress device "{self.r_if}" priority 0;\n'
                 '    udp dport 547 @th,64,8 12 counter name "relayfw" drop\n'
                 '    udp dport 547 counter name "leak" drop\n  }\n}\n')
        r = subprocess.run([lib.IP, "netns", "exec", self.rtr.name, "nft", "-f", "-"], input=rules, text=True,
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"nft (router counter): {r.stderr}")
        lab.wait_ready()
        self.trials = 0

    def find_loadgen(self, build: str) -> str:
        for p in (os.environ.get("LOADGEN"), os.path.join(build, "bench", "regrelay_loadgen")):
            if p and os.access(p, os.X_OK):
                return p
        out = self.lab.path("regrelay_loadgen")
        cxx = shutil.which("c++") or shutil.which("g++")
        log(f"snoop_bench: no regrelay_loadgen in {build}/bench; compiling bench/loadgen.cpp")
        subprocess.run([cxx, "-O2", "-std=c++20", "-pthread", os.path.join(ROOT, "bench", "loadgen.cpp"), "-o", out],
                       check=True, timeout=300)
        return out

    def counters(self) -> dict[str, int]:
        r = self.rtr.exec("nft", "-j", "list", "counters", "table", "netdev", "bench")
        out = {}
        for item in json.loads(r.stdout)["nftables"]:
            if "counter" in item:
                out[item["counter"]["name"]] = int(item["counter"]["packets"])
        return out

    def trial(self, case: str, rate: float, duration: float | None = None) -> dict:
        mtype, clients = ALL_CASES[case]
        duration = duration or TRIAL
        self.trials += 1
        snoop = self.sw.spawn(["nice", "-n", NICE, TASKSET, "-c", SNOOP_CPU, self.regrelay, "snoop",
                               *[x for p in self.ports for x in ("--client-port", p)], "--uplink",
                               "uplink", "--install-filters", "--log-level", LOG_LEVEL,
                               "--rate-limit-mac", "0", "--rate-limit-port", "0",
                               *(["--capture", CAPTURE] if CAPTURE else [])],
                              name=f"snoop-{self.trials}")
        prioritise(snoop.pid)
        try:
            deadline = time.monotonic() + 10
            while "regrelay_snoop" not in self.sw.exec("nft", "list", "tables").stdout:
                if snoop.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("snoop did not start:\n" + snoop.log())
                time.sleep(0.02)
            time.sleep(0.05)  # captures open before the filters go in; give the loop a moment
            c0 = self.counters()
            cpu0 = cpu_ns(snoop.pid)
            g = self.cl.exec("nice", "-n", NICE, TASKSET, "-c", GEN_CPU, self.loadgen, "send", "--iface", ",".join(self.c_ifs), "--type", mtype,
                             "--clients", str(clients), "--rate", str(int(rate)), "--duration", str(duration),
                             "--warmup-ms", str(int(WARMUP * 1000)), timeout=duration + 60).stdout
            time.sleep(GRACE)
            cpu = cpu_ns(snoop.pid) - cpu0
            rss = rss_kb(snoop.pid)
            c1 = self.counters()
        finally:
            snoop.stop()
        gk = kv(g)
        sent = int(gk["sent"])
        fwd = c1["relayfw"] - c0["relayfw"]
        other = c1["leak"] - c0["leak"]
        return {"rate": rate, "sent": sent, "received": fwd, "leaked": other, "ok": fwd >= sent and other == 0,
                "gen_rate": float(gk["rate"]), "gen_limited": float(gk["rate"]) < 0.97 * rate,
                "cpu_ms_per_k": cpu / 1e6 / max(fwd / 1000, 1e-9), "cpu_s": cpu / 1e9, "rss_kb": rss}

    def search(self, case: str, start: float | None = None) -> tuple[float, dict | None, bool]:
        """The highest loss-free rate (to PRECISION), the trial that showed it, and whether the
        generator's ceiling was reached first (the rate is then a lower bound)."""
        grow = 2.0 if start is None else 1.1
        r = float(start or START_RATE)
        lo, hi, best = 0.0, None, None
        while True:
            t = self.trial(case, r)
            if not t["ok"] and t["leaked"] == 0 and t["sent"] - t["received"] < 0.005 * t["sent"]:
                t = self.trial(case, r)  # a near miss: once more
            flag = "ok" if t["ok"] else f"LOSS {t['sent'] - t['received']}"
            if t["leaked"]:
                flag += f" LEAKED {t['leaked']}"
            lim = " (generator below rate)" if t["gen_limited"] else ""
            log(f"    {case:13s} {r:>10,.0f}/s sent {t['sent']:>9,} relayed {t['received']:>9,} {flag}{lim}"
                f"  snoop cpu {t['cpu_s']:.3f} s = {t['cpu_ms_per_k']:.3f} ms/1000")
            if t["ok"] and t["gen_limited"]:
                return max(lo, t["gen_rate"]), t, True
            if t["ok"]:
                lo, best = r, t
            else:
                hi = r
            if hi is None:
                if r >= MAX_RATE:
                    return lo, best, False
                r = min(r * grow, MAX_RATE)
            elif lo == 0:
                r = r / 2
                if r < 100:
                    return 0.0, None, False
            else:
                if hi / lo <= PRECISION:
                    return lo, best, False
                r = (lo * hi) ** 0.5
            r = float(int(r))


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model or platform.processor()}, {os.cpu_count()} CPUs, Linux {platform.release()}"


def main() -> int:
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    lib.require_root()
    for c in CASES:
        if c not in ALL_CASES:
            print(f"snoop_bench: unknown case {c} (known: {', '.join(ALL_CASES)})", file=sys.stderr)
            return 2
    t0 = time.monotonic()
    load0 = open("/proc/loadavg").read().split()[:3]
    results = {}
    with lib.Lab("rrsbench") as lab:
        b = Bench(lab, build)
        log(f"snoop_bench: {machine()}; load {' '.join(load0)}; {PORTS} client ports; trials {TRIAL} s, {REPS} repetition(s), "
            f"snoop --log-level {LOG_LEVEL}; loadgen {b.loadgen}")
        for case in CASES:
            rates, cpus, limited = [], [], []
            start = None
            for rep in range(REPS):
                log(f"  {case}: repetition {rep + 1}/{REPS}")
                rate, best, lim = b.search(case, start)
                start = start or (rate * 0.9 if rate else None)
                rates.append(rate)
                limited.append(lim)
                if best:
                    cpus.append(best["cpu_ms_per_k"])
            log(f"  {case}: at {LOW_RATE:,}/s")
            low = b.trial(case, LOW_RATE)
            log(f"    {case:13s} {LOW_RATE:>10,.0f}/s sent {low['sent']:>9,} relayed {low['received']:>9,}"
                f"  snoop cpu {low['cpu_s']:.3f} s = {low['cpu_ms_per_k']:.3f} ms/1000 rss {low['rss_kb'] / 1024:.1f} MB")
            med = statistics.median(rates)
            # A median at or above a generator-limited result is a lower bound.
            bound = any(lim and r <= med for r, lim in zip(rates, limited))
            results[case] = (med, bound, statistics.median(cpus) if cpus else None, low["cpu_ms_per_k"], rates)
    load1 = open("/proc/loadavg").read().split()[:3]
    log("")
    log(f"snoop_bench results ({time.monotonic() - t0:.0f} s; load before {' '.join(load0)}, after {' '.join(load1)}):")
    log(f"  {'case':<14} {'loss-free rate':>20} {'CPU/1000 at that rate':>22} {f'CPU/1000 at {LOW_RATE:,}/s':>22}"
        f"   all rates")
    for case, (rate, bound, cpu, low_cpu, rates) in results.items():
        cpu_s = f"{cpu:.2f} ms" if cpu is not None else "-"
        rate_s = (">= " if bound else "") + f"{rate:,.0f}/s"
        log(f"  {case:<14} {rate_s:>20} {cpu_s:>22} {f'{low_cpu:.2f} ms':>22}   {', '.join(f'{r:,.0f}' for r in rates)}")
    if any(r[1] for r in results.values()):
        log("  (>=: the generator's ceiling was reached before snoop lost a frame)")
    out_md = os.environ.get("OUT", os.path.join(ROOT, "docs", "benchmarks.md"))
    if out_md:
        write_section(out_md, results, load0, load1)
        log(f"snoop_bench: section written to {os.path.relpath(out_md, ROOT)}")
    return 0


SECTION = "## Snoop (`bench/snoop_bench.py`)"


def write_section(path: str, results: dict, load0: list[str], load1: list[str]) -> None:
    """Replaces (or appends) this benchmark's section of the results file relay_bench.py writes."""
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [SECTION, "",
             f"Measured {now}{', QUICK=1' if QUICK else ''}: `regrelay snoop` with {PORTS} client ports on one "
             f"bridge (`--capture {CAPTURE or 'per-interface'}`), the generator sending round robin over them; {REPS} repetition(s), {TRIAL:g} s trials; load "
             f"average {' '.join(load0)} before, {' '.join(load1)} after. CPU: snoop's own, per message relayed.",
             "", f"| case | highest loss-free rate | CPU µs/msg at that rate | CPU µs/msg at {LOW_RATE:,}/s |",
             "| --- | ---: | ---: | ---: |"]
    for case, (rate, bound, cpu, low_cpu, _rates) in results.items():
        lines.append(f"| {case} | {'≥ ' if bound else ''}{rate:,.0f}/s | {'—' if cpu is None else f'{cpu:.1f}'} | "
                     f"{low_cpu:.1f} |")
    if any(r[1] for r in results.values()):
        lines += ["", "≥: the generator's ceiling was reached before snoop lost a frame."]
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        text = "# Benchmarks\n"
    start = text.find(SECTION)
    if start >= 0:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start].rstrip("\n") + ("\n\n" + text[nxt + 1:] if nxt >= 0 else "")
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
