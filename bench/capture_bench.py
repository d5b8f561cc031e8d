#!/usr/bin/python3
"""One capture per interface (what regrelay relay/snoop open today) against ONE shared AF_PACKET
socket for all interfaces (issue 10 part 2: "measure both before choosing").

    bench/capture_bench.py [BUILD_DIR]        (root; default BUILD_DIR: build)

Lab (network namespaces made here and removed on exit, tests/netns/lib.py):

    gen ns: cc0..cc63, dn0  --veth--  rcv ns: vc0..vc63 (client interfaces), up0 (not a client one)
            regrelay_capture_bench send (CPU 1)    regrelay_capture_bench recv --mode M (CPU 0)

Receivers (bench/capture_bench.cpp): pcap = 64 capture::open_live() handles in one poll loop, read
as the relay daemon reads them (wake-up coalescing 500 us); pcap-epoll = the same waited for
with epoll (one descriptor in poll, epoll_wait for the ready captures); v3 = one AF_PACKET socket (ETH_P_ALL,
bound to no interface, the same libpcap-compiled BPF program, TPACKET_V3 ring 8 x 1 MiB, block
timeout 1 ms, PACKET_IGNORE_OUTGOING, ifindex from sll_ifindex); mmsg = the same socket read with
recvmmsg and PACKET_AUXDATA (coalescing 500 us).

Cases: DHCPv6 Solicits spread over the 64 interfaces at 1,000/s, 50,000/s and as fast as the
generator goes (max); bg90 = 50,000/s of which 90 % other UDP on the same interfaces; foreign =
1,000/s DHCPv6 on the client interfaces plus 45,000/s other UDP on up0 (an interface no capture
is for: only the unbound socket sees it); foreign547 = the same with DHCPv6 frames on up0 (as a
relay's server-side traffic to port 547: they pass the filter, so the unbound socket copies them
and drops them by ifindex; opt-in: CASES=...,foreign547). Per trial: the receiver's user+system CPU after its
set-up (/proc/self/schedstat, exact), wake-ups, the generator's CPU (the kernel's delivery to the captures
runs there: veth softirq), loss (DHCPv6 frames sent - received), VmRSS/VmHWM; one extra trial per
mode and case under `perf stat -e raw_syscalls:sys_enter` for syscalls per frame. REPS
repetitions (default 3), medians. Then the correctness checks: a 4-port bridge (which ifindex
does an unbound socket see, with and without PACKET_IGNORE_OUTGOING) and tagged frames (VLAN tag
in the auxdata or inline).

Environment: REPS (default 3), TRIAL (s, default 3), MODES (default pcap,v3,mmsg), CASES
(default 1k,50k,max,bg90,foreign), PORTS (default 64). Prints a markdown table.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))
import lib  # noqa: E402

REPS = int(os.environ.get("REPS", "3"))
TRIAL = float(os.environ.get("TRIAL", "3"))
MODES = os.environ.get("MODES", "pcap,pcap-epoll,v3,mmsg").split(",")
CASES = os.environ.get("CASES", "1k,50k,max,bg90,foreign").split(",")
PORTS = int(os.environ.get("PORTS", "64"))
TASKSET = shutil.which("taskset") or "/usr/bin/taskset"
PERF = shutil.which("perf")
RECV_CPU, GEN_CPU = "0", "1"
# The receiver and the generator run at this nice level, and so does this run's session autogroup
# (as in snoop_bench.py): on a machine busy with other work they still get their cores. NICE=0: off.
NICE = os.environ.get("NICE", "-20")
PIN = lambda cpu: ["nice", "-n", NICE, TASKSET, "-c", cpu]  # noqa: E731
# 64 blocks of 128 KiB (8 MiB): at a low rate every block is retired after 1 ms holding a frame or
# two, so the ring's room is counted in blocks; 8 blocks of 1 MiB lost frames at 1,000/s when the
# receiver was held up 8 ms on the busy machine.
V3_RING = ["--blocks", "64", "--block-kb", "128", "--tov-ms", "1"]


def kv(text: str) -> dict[str, str]:
    for line in reversed(text.splitlines()):
        if "=" in line and ("mode=" in line or "sent=" in line):
            return dict(f.split("=", 1) for f in line.split() if "=" in f)
    raise RuntimeError("no result line in:\n" + text)


def batch(ns_name: str | None, lines: list[str]) -> None:
    argv = [lib.IP] + (["-n", ns_name] if ns_name else []) + ["-batch", "-"]
    r = subprocess.run(argv, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"ip -batch: {r.stderr.strip()}")


class Bench:
    def __init__(self, lab: lib.Lab, build: str):
        self.bin = os.path.join(build, "bench", "regrelay_capture_bench")
        if not os.access(self.bin, os.X_OK):
            raise SystemExit(f"capture_bench: {self.bin} missing (build with REGRELAY_BENCH=ON)")
        self.lab = lab
        self.gen, self.rcv = lab.netns("gen"), lab.netns("rcv")
        pairs = [(f"cc{i}", f"vc{i}") for i in range(PORTS)] + [("dn0", "up0")]
        batch(None, [f"link add {a} netns {self.gen.name} type veth peer name {b} netns {self.rcv.name}"
                     for a, b in pairs])
        batch(self.gen.name, [f"link set {a} up" for a, _ in pairs])
        batch(self.rcv.name, [f"link set {b} up" for _, b in pairs])
        self.cc = [f"cc{i}" for i in range(PORTS)]
        self.vc = [f"vc{i}" for i in range(PORTS)]
        lab.wait_ready()

    def trial(self, mode: str, case: str, perf: bool = False, rcv_ifaces=None, send_ifaces=None, vlan=None,
              extra_recv=()) -> dict:
        rate, other, send = {"1k": (1000, 0, self.cc), "50k": (50000, 0, self.cc), "max": (0, 0, self.cc),
                             "bg90": (50000, 90, self.cc), "foreign": (1000, 0, self.cc),
                             "foreign547": (1000, 0, self.cc)}[case]
        send = send_ifaces or send
        argv = [*PIN(RECV_CPU), self.bin, "recv", "--mode", mode, "--ifaces", ",".join(rcv_ifaces or self.vc),
                "--duration", str(int(TRIAL + 30)), *(V3_RING if mode == "v3" else []), *extra_recv]
        r = self.rcv.spawn(argv, name=f"recv-{mode}")
        r.wait_log(r"^ready$", timeout=30)
        perf_p = None
        perf_out = self.lab.path("perf.txt")
        if perf:
            perf_p = subprocess.Popen([PERF, "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", str(r.pid),
                                       "-o", perf_out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
        load = open("/proc/loadavg").read().split()[0]
        bg = None
        if case in ("foreign", "foreign547"):
            bg = self.gen.spawn([*PIN(GEN_CPU), self.bin, "send", "--ifaces", "dn0", "--rate", "45000",
                                 "--duration", str(int(TRIAL)), "--other-pct", "100" if case == "foreign" else "0"],
                                name="send-bg")
        sargv = [*PIN(GEN_CPU), self.bin, "send", "--ifaces", ",".join(send), "--rate", str(rate),
                 "--duration", str(int(TRIAL)), "--other-pct", str(other)]
        if vlan is not None:
            sargv += ["--vlan", str(vlan)]
        s = kv(self.gen.exec(*sargv, timeout=TRIAL + 30).stdout)
        bg_kv = None
        if bg:
            bg.popen.wait(TRIAL + 30)
            bg_kv = kv(bg.log())
        time.sleep(0.3)
        syscalls = None
        if perf_p:
            perf_p.send_signal(signal.SIGINT)
            perf_p.wait(10)
            for line in open(perf_out):
                if "raw_syscalls:sys_enter" in line:
                    syscalls = int(line.split(",")[0])
        r.stop(timeout=10)
        out = kv(r.log())
        out.update({f"send_{k}": v for k, v in s.items()})
        out["load"] = load
        if bg_kv:  # the background generator's CPU per frame: the kernel's work on up0's frames
            out["bg_us_frame"] = int(bg_kv["cpu_ns"]) / 1000 / max(int(bg_kv["sent"]), 1)
        if syscalls is not None:
            out["syscalls"] = syscalls
        return out


def metrics(t: dict) -> dict:
    frames = int(t["frames"])
    elapsed = float(t["send_elapsed"])
    dhcp = int(t["send_dhcp"])
    cpu = int(t["cpu_ns"]) / 1000
    sent_all = int(t["send_sent"])
    return {
        "cpu_us_frame": cpu / frames if frames else float("nan"),
        "cpu_pct": 100.0 * cpu / 1e6 / elapsed,
        "wakeups_s": int(t["wakeups"]) / elapsed,
        "loss_pct": 100.0 * (dhcp - frames) / dhcp if dhcp else 0.0,
        "rate": frames / elapsed,
        "gen_us_frame": int(t["send_cpu_ns"]) / 1000 / sent_all if sent_all else 0.0,
        "rss_mb": int(t["rss_kb"]) / 1024,
        "hwm_mb": int(t["hwm_kb"]) / 1024,
        "kdrops": int(t["kdrops"]),
        "ports_ok": int(t["port_min"]) > 0,
        "load": float(t["load"]),
        "bg_us_frame": float(t.get("bg_us_frame", 0.0)),
        "foreign_s": int(t["foreign"]) / elapsed,
        "wait_p50": float(t.get("wait_p50_us", "nan")),
        "wait_p99": float(t.get("wait_p99_us", "nan")),
    }


def main() -> int:
    if os.geteuid() != 0:
        print("capture_bench: needs root (network namespaces): skipped", file=sys.stderr)
        return 0
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(NICE)
    except OSError:
        pass  # no autogroup scheduling: the tasks' own nice is what counts
    print(f"capture_bench: {os.cpu_count()} cores, load {' '.join(open('/proc/loadavg').read().split()[:3])}, "
          f"{PORTS} ports, {REPS} reps of {TRIAL:g} s", flush=True)
    with lib.Lab("capb") as lab:
        b = Bench(lab, build)
        rows = []
        for case in CASES:
            for mode in MODES:
                ms = []
                for _ in range(REPS):
                    t = b.trial(mode, case)
                    ms.append(metrics(t))
                    print(f"  {case} {mode}: " + " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                                         for k, v in ms[-1].items()), flush=True)
                sc = None
                if PERF:
                    t = b.trial(mode, case, perf=True)
                    sc = t.get("syscalls", 0) / max(int(t["frames"]), 1)
                    print(f"  {case} {mode}: syscalls={t.get('syscalls')} frames={t['frames']} "
                          f"per frame {sc:.3g}", flush=True)
                med = {k: statistics.median(m[k] for m in ms) for k in ms[0] if k != "ports_ok"}
                med["ports_ok"] = all(m["ports_ok"] for m in ms)
                med["syscalls_frame"] = sc
                rows.append((case, mode, med))
        print("\n| case | receiver | frames/s | CPU µs/frame | CPU % | wake-ups/s | syscalls/frame | loss % "
              "| wait in socket p50 / p99 µs | generator µs/frame | RSS MB (HWM) | load |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for case, mode, m in rows:
            sc = f"{m['syscalls_frame']:.3g}" if m["syscalls_frame"] is not None else "-"
            print(f"| {case} | {mode} | {m['rate']:,.0f} | {m['cpu_us_frame']:.2f} | {m['cpu_pct']:.1f} | "
                  f"{m['wakeups_s']:,.0f} | {sc} | {m['loss_pct']:.2f} | {m['wait_p50']:.0f} / {m['wait_p99']:.0f} | {m['gen_us_frame']:.2f} | "
                  f"{m['rss_mb']:.1f} ({m['hwm_mb']:.1f}) | {m['load']:.2f} |"
                  + (f" background generator on up0: {m['bg_us_frame']:.2f} µs/frame" if m["bg_us_frame"] else "")
                  + (f", frames of other interfaces read and dropped: {m['foreign_s']:,.0f}/s" if m["foreign_s"] else ""))

        # VLAN: tagged frames (VID 100) on the client interfaces, 1,000/s.
        print("\nVLAN tag 100 on every frame, 1k/s:")
        for mode in MODES:
            t = b.trial(mode, "1k", vlan=100)
            print(f"  {mode}: frames={t['frames']} of {t['send_dhcp']} tag_from_auxdata={t['vlan']} "
                  f"tag_inline_as_read={t['tagged']}")
    bridge_check(build)
    return 0


def bridge_check(build: str) -> None:
    """A plain bridge br0 with ports p0..p3: 200 Solicits into p0. Which ifindex does each receiver see?"""
    binp = os.path.join(build, "bench", "regrelay_capture_bench")
    with lib.Lab("capbr") as lab:
        cl, sw = lab.netns("cl"), lab.netns("sw")
        for i in range(4):
            lab.veth(cl, sw, f"q{i}", f"p{i}")
        lab.bridge(sw, [f"p{i}" for i in range(4)], name="br0")
        lab.wait_ready()
        names = {str(sw.ifindex(n)): n for n in ["p0", "p1", "p2", "p3", "br0"]}
        print("\nbridge br0 (p0..p3), 200 Solicits sent into p0:")
        for mode, extra in (("mmsg", ["--outgoing", "filter"]), ("mmsg", ["--outgoing", "ignore"]),
                            ("v3", ["--outgoing", "ignore", *V3_RING]), ("pcap", [])):
            ifs = "p0,p1,p2,p3" if mode == "pcap" else "p0,p1,p2,p3,br0"
            r = sw.spawn([binp, "recv", "--mode", mode, "--ifaces", ifs, "--duration", "20", "--all-ifindex", *extra],
                         name=f"br-{mode}")
            r.wait_log(r"^ready$", timeout=20)
            cl.exec(binp, "send", "--ifaces", "q0", "--rate", "200", "--duration", "1")
            time.sleep(0.3)
            r.stop(timeout=10)
            t = kv(r.log())
            seen = ", ".join(f"{names.get(i, i)}:{n}" for i, n in (x.split(":") for x in t.get("ifindex", "").split(",") if x))
            print(f"  {mode} {' '.join(extra) or '(per port, inbound only)'}: frames={t['frames']} "
                  f"outgoing_dropped={t['outgoing']} per interface: {seen}")


if __name__ == "__main__":
    sys.exit(main())
