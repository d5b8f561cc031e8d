#!/usr/bin/python3
"""`regrelay relay` under floods (issue 8, points 2 and 3; RFC 9686 §6), in network namespaces.

    tests/netns/flood_test.py REGRELAY GROUP        (root; ctest runs it, tests/flood.cmake)

Lab: two client links A and B into the relay, one server link:

    cla ns: a<r>  2001:db8:1::/64 --veth-- ra  2001:db8:1::1/64   relay ns
    clb ns: b<r>  2001:db8:2::/64 --veth-- rb  2001:db8:2::1/64   (regrelay relay, CPU 0)
    srv ns: s<r>  2001:db8:ffff::1/64 --veth-- ru 2001:db8:ffff::2/64

The relay runs with its default flood limits, pinned to CPU 0 (taskset) as in the issue's
measurements; the flood senders are separate processes (this script with --flood / --srvflood)
pinned to CPU 1, so the test's own receivers do not compete with them for Python's GIL.

Groups (each bounded to 60 s):
  macflood    100,000 random-MAC ADDR-REG-INFORMs to ff02::1:2 on port A at the sender's top rate,
              while 100 hosts on port B send 1,000 registrations at 100/s and 10 hosts on port A
              send 100/s (from 2 s before the flood until it ends): >= 99.9 % of B's reach the
              server; >= 90 % of what the 10 port-A hosts send during the flood reaches it (they
              are established, admitted again >= 1 s after first, so they have port A's second
              bucket to themselves: the flood's new MACs only spend the other one); the relay's
              info lines for port A stay within the log budget and at most one flood summary line
              per port per 10 s; RSS after the flood within 1 MiB of RSS after a warm-up (fixed
              memory).
  replyflood  point 2: during a max-rate client flood on port A (multicast, then unicast to the
              relay's 2001:db8:1::1 port 547), a 1,000/s stream of Relay-replies from the server for
              a client on port B: >= 99.9 % delivered within 100 ms each. Prints delivered %, p50/p99.
  serverflood garbage and valid Relay-replies from the server side at top rate: >= 99.9 % of a
              legitimate client's 1,000 messages on port B are still relayed.
"""

from __future__ import annotations

import os
import re
import random
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import (ADDR_REG_INFORM, OPT_CLIENT_LINKLAYER, OPT_CLIENTID, OPT_ELAPSED, OPT_RELAY_MSG, REPLY,  # noqa: E402
                 RELAY_FORW, RELAY_REPL, SOLICIT, client_msg, duid_ll, ia_addr, opt, relay_msg)

TASKSET = shutil.which("taskset") or "/usr/bin/taskset"
LINK_A, LINK_B = "2001:db8:1::1", "2001:db8:2::1"
RELAY_UP, SERVER = "2001:db8:ffff::2", "2001:db8:ffff::1"
MCAST = lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS
OPT_STAMP = 65001  # a private option carrying the sender's CLOCK_MONOTONIC ns
INTERVAL = 10.0    # the relay's flood summary interval (limits::Config::report_interval_ns)
LOG_RATE, LOG_BURST = 100, 1000  # its default info-line budget per port


# ---- flood senders (separate processes) -------------------------------------------------------

def flood_frames(n: int, dst_mac: bytes, dst: str, seed: int) -> list[bytes]:
    """n ADDR-REG-INFORMs from n random (locally administered, unicast) MACs and their link-locals."""
    rnd = random.Random(seed)
    frames = []
    for i in range(n):
        mac = bytes([(rnd.randrange(256) & 0xfc) | 0x02]) + rnd.randbytes(5)
        msg = client_msg(ADDR_REG_INFORM, i & 0xFFFFFF, opt(OPT_CLIENTID, duid_ll(mac)),
                         ia_addr(f"2001:db8:1::{i % 65536:x}:{i // 65536:x}", 3600, 7200))
        frames.append(lib.udp6_frame(mac, dst_mac, lib.eui64_link_local(mac), dst, 546, 547, msg))
    return frames


def flood_main(argv: list[str]) -> int:
    """--flood IFACE DSTMAC DST SECONDS COUNT: sends COUNT precomputed frames round and round."""
    ifname, dst_mac, dst, seconds, count = argv[0], bytes.fromhex(argv[1]), argv[2], float(argv[3]), int(argv[4])
    frames = flood_frames(count, dst_mac, dst, 1)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((ifname, 0))
    print("flood ready", flush=True)
    sent, i, t0 = 0, 0, time.monotonic()
    end = t0 + seconds
    while (i & 1023) or time.monotonic() < end:
        try:
            s.send(frames[i % count])
            sent += 1
        except OSError:  # ENOBUFS: the queue is full
            pass
        i += 1
    took = time.monotonic() - t0
    print(f"flood sent {sent} frames in {took:.2f} s ({sent / took:.0f}/s)", flush=True)
    return 0


def srvflood_main(argv: list[str]) -> int:
    """--srvflood SECONDS: garbage and valid Relay-replies (for port A) to the relay's port 547."""
    seconds = float(argv[0])
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    dst = (RELAY_UP, lib.PORT_SERVER)
    garbage = [os.urandom(n) for n in (1, 3, 17, 40, 90, 300)]
    valid = [relay_msg(RELAY_REPL, 0, LINK_A, f"fe80::dead:{i:x}",
                       opt(OPT_RELAY_MSG, client_msg(REPLY, i, opt(OPT_CLIENTID, duid_ll(b"\x02\0\0\0\xde\xad")))))
             for i in range(64)]
    msgs = [m for pair in zip(garbage * 11, valid) for m in pair]
    print("srvflood ready", flush=True)
    sent, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        for m in msgs:
            try:
                s.sendto(m, dst)
                sent += 1
            except OSError:
                pass
    took = time.monotonic() - t0
    print(f"srvflood sent {sent} datagrams in {took:.2f} s ({sent / took:.0f}/s)", flush=True)
    return 0


# ---- the lab -----------------------------------------------------------------------------------

class Topology:
    def __init__(self, lab, binary, extra=()):
        self.binary = binary
        self.lab = lab
        self.cla, self.clb, self.rel, self.srv = (lab.netns(r) for r in ("cla", "clb", "rel", "srv"))
        self.a_if, self.ra_if = lab.veth(self.cla, self.rel)
        self.b_if, self.rb_if = lab.veth(self.clb, self.rel)
        self.ru_if, self.s_if = lab.veth(self.rel, self.srv)
        self.rel.add_addr(self.ra_if, LINK_A + "/64")
        self.rel.add_addr(self.rb_if, LINK_B + "/64")
        self.rel.add_addr(self.ru_if, RELAY_UP + "/64")
        self.rel.forwarding(True)
        self.srv.add_addr(self.s_if, SERVER + "/64")
        self.srv.add_route("2001:db8:1::/64", via=RELAY_UP)
        self.srv.add_route("2001:db8:2::/64", via=RELAY_UP)
        lab.wait_ready()
        self.relay_a_mac = self.rel.mac(self.ra_if)
        self.b_mac = self.clb.mac(self.b_if)
        self.b_ll = self.clb.link_local(self.b_if)
        self.server = self.srv.udp("::", lib.PORT_SERVER, rcvbuf=64 << 20)
        argv = [TASKSET, "-c", "0", binary, "relay", "--client-iface", self.ra_if, "--client-iface", self.rb_if,
                "--server", SERVER, "--log-level", "info", *extra]
        # The ASan build keeps freed memory in a quarantine (256 MiB by default), which RSS would
        # measure instead of the relay: keep it small so the fixed-memory check means the same there.
        env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                   ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64")
        self.relay = self.rel.spawn(argv, name="relay", env=env)
        self.relay.wait_log(r"relaying from " + re.escape(self.rb_if))

    def flooder(self, seconds, unicast=False, count=100_000, name="flood"):
        dst_mac, dst = (self.relay_a_mac, LINK_A) if unicast else (lib.multicast_mac(MCAST), MCAST)
        p = self.cla.spawn([TASKSET, "-c", "1", sys.executable, os.path.abspath(__file__), "--flood", self.a_if,
                            dst_mac.hex(), dst, str(seconds), str(count)], name=name)
        p.wait_log("flood ready", timeout=30)
        return p


class ServerSink:
    """Counts the Relay-forwards at the server, by link-address, xid and option 79."""

    def __init__(self, sock):
        self.sock, self.stop = sock, threading.Event()
        self.total = 0
        self.seen = {}  # (link-address, mac) -> set of xids
        self.th = threading.Thread(target=self.loop, daemon=True)
        self.th.start()

    def loop(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.total += 1
            if len(data) < 34 or data[0] != RELAY_FORW:
                continue
            link, mac, inner = data[2:18], None, None
            i = 34
            while i + 4 <= len(data):
                code, ln = struct.unpack_from("!HH", data, i)
                body = data[i + 4:i + 4 + ln]
                if code == OPT_CLIENT_LINKLAYER and ln == 8:
                    mac = body[2:]
                elif code == OPT_RELAY_MSG:
                    inner = body
                i += 4 + ln
            if mac is None or inner is None or len(inner) < 4:
                continue
            self.seen.setdefault((link, mac), set()).add(int.from_bytes(inner[1:4], "big"))

    def got(self, link: str, macs) -> int:
        la = lib.a6(link)
        return sum(len(self.seen.get((la, m), ())) for m in macs)

    def close(self):
        self.stop.set()
        self.th.join(2)


def legit_sender(ns, ifname, macs, total, rate, msg_type=ADDR_REG_INFORM, prefix="2001:db8:2::", stop=None):
    """A thread sending `total` messages at `rate`/s round-robin from `macs` (AF_PACKET, ff02::1:2),
    xid = sequence number, until `stop` (a threading.Event) is set if given. Returns (thread, sent
    counter, frames)."""
    s = ns.packet_socket(ifname)
    dst_mac = lib.multicast_mac(MCAST)
    frames = []
    for n in range(total):
        mac = macs[n % len(macs)]
        if msg_type == ADDR_REG_INFORM:
            msg = client_msg(msg_type, n, opt(OPT_CLIENTID, duid_ll(mac)), ia_addr(f"{prefix}{n + 1:x}", 3600, 7200))
        else:
            msg = client_msg(msg_type, n, opt(OPT_CLIENTID, duid_ll(mac)), opt(OPT_ELAPSED, b"\0\0"))
        frames.append(lib.udp6_frame(mac, dst_mac, lib.eui64_link_local(mac), MCAST, 546, 547, msg))
    sent = [0]

    def run():
        t0 = time.monotonic()
        for n, f in enumerate(frames):
            if stop is not None and stop.is_set():
                return
            ahead = t0 + n / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            try:
                s.send(f)
                sent[0] += 1
            except OSError:
                pass

    th = threading.Thread(target=run, daemon=True)
    return th, sent, frames


def host_macs(tag: int, n: int) -> list[bytes]:
    return [bytes([0x02, 0x00, tag, 0x00, i >> 8, i & 0xFF]) for i in range(n)]


def log_counts(log: str, iface: str) -> tuple[int, int]:
    """(ADDR-REG-INFORM info lines, flood summary lines) for one client interface."""
    info = len(re.findall(rf" info ADDR-REG-INFORM .* interface {re.escape(iface)} ", log))
    summary = len(re.findall(rf" warning flood limits on {re.escape(iface)} ", log))
    return info, summary


def wait_quiet(sink, timeout=3.0):
    """Until the server's count stops growing for 0.5 s."""
    last, since, end = -1, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < end:
        if sink.total != last:
            last, since = sink.total, time.monotonic()
        elif time.monotonic() - since > 0.5:
            return
        time.sleep(0.05)


# ---- groups ------------------------------------------------------------------------------------

def group_macflood(c, lab, binary):
    t = Topology(lab, binary)
    sink = ServerSink(t.server)
    # Warm-up: a few messages on both ports, so RSS includes whatever steady state needs.
    b_macs, a_macs = host_macs(0xb0, 100), host_macs(0xa0, 10)
    warm, _, _ = legit_sender(t.clb, t.b_if, host_macs(0xbf, 10), 50, 500, msg_type=SOLICIT)
    warm.start()
    warm.join()
    time.sleep(0.5)
    rss_before = t.relay.rss_kb()

    flood_s = 11.0
    log_start, log_t0 = len(t.relay.log()), time.monotonic()
    # The 10 port-A hosts start 2 s before the flood (established by then: admitted again >= 1 s
    # after first) and send until it ends; they are measured over what they send during it.
    stop_a = threading.Event()
    tha, sent_a, _ = legit_sender(t.cla, t.a_if, a_macs, 4000, 100, prefix="2001:db8:1::a:", stop=stop_a)
    tha.start()
    time.sleep(2.0)
    fl = t.flooder(flood_s)
    a_first = sent_a[0]  # the first xid sent during the flood
    thb, sent_b, _ = legit_sender(t.clb, t.b_if, b_macs, 1000, 100)
    thb.start()
    thb.join(20)
    fl.popen.wait(flood_s + 15)
    a_end = sent_a[0]  # the flood is over: xids a_first .. a_end - 1 were sent during it
    stop_a.set()
    tha.join(5)
    logged = time.monotonic() - log_t0  # the log's span: the port-A hosts' head start included
    wait_quiet(sink)
    rss_after = t.relay.rss_kb()
    got_b = sink.got(LINK_B, b_macs)
    got_a = sink.got(LINK_A, a_macs)
    la = lib.a6(LINK_A)
    during_a = sum(1 for m in a_macs for x in sink.seen.get((la, m), ()) if a_first <= x < a_end)
    sent_during_a = a_end - a_first
    m = re.search(r"flood sent (\d+) frames in ([\d.]+) s \((\d+)/s\)", fl.log())
    flood_sent, flood_rate = (int(m.group(1)), int(m.group(3))) if m else (0, 0)
    log = t.relay.log()[log_start:]
    info_a, sum_a = log_counts(log, t.ra_if)
    info_b, sum_b = log_counts(log, t.rb_if)
    flood_fwd = sum(len(v) for (la, mac), v in sink.seen.items() if la == lib.a6(LINK_A) and mac not in a_macs)
    print(f"measure: flood of {flood_sent} frames from 100,000 random MACs on port A at {flood_rate}/s; "
          f"the server got {flood_fwd} distinct flooded registrations", flush=True)
    print(f"measure: port B: {got_b} of {sent_b[0]} legitimate registrations relayed "
          f"({100.0 * got_b / max(1, sent_b[0]):.2f} %)", flush=True)
    print(f"measure: port A legitimate hosts (10 MACs, 100/s in all, established before the flood): "
          f"{during_a} of {sent_during_a} sent during the flood relayed "
          f"({100.0 * during_a / max(1, sent_during_a):.1f} %); {got_a} of {sent_a[0]} in all", flush=True)
    print(f"measure: relay log over {logged:.1f} s: port A {info_a} info lines, {sum_a} summary lines; "
          f"port B {info_b} info lines, {sum_b} summary lines; {len(log.splitlines())} lines, {len(log)} bytes",
          flush=True)
    print(f"measure: RSS {rss_before} kB before the flood, {rss_after} kB after 100,000 MACs "
          f"({rss_after - rss_before:+d} kB)", flush=True)

    c.check(flood_sent >= 100_000, f"the flood sent at least 100,000 frames ({flood_sent})")
    c.check(got_b >= 0.999 * sent_b[0] and sent_b[0] == 1000,
            f">= 99.9 % of port B's 1,000 registrations relayed ({got_b} of {sent_b[0]})")
    c.eq(info_b, got_b, "port B: one info line per relayed registration (under its log budget)")
    c.check(sent_during_a >= 900 and during_a >= 0.9 * sent_during_a,
            f">= 90 % of the established port-A hosts' registrations during the flood relayed "
            f"({during_a} of {sent_during_a})")
    # The log budget: at most burst + rate x the log's span info lines on port A, not one per packet.
    bound = LOG_BURST + LOG_RATE * (logged + 1)
    c.check(info_a <= bound, f"port A info lines within the log budget ({info_a} <= {bound:.0f})")
    c.check(1 <= sum_a <= logged / INTERVAL + 1,
            f"port A: at most one flood summary line per {INTERVAL:.0f} s ({sum_a} in {logged:.1f} s)")
    c.eq(sum_b, 0, "port B: no flood summary line")
    summary = re.search(rf" warning (flood limits on {re.escape(t.ra_if)} .*)", log)
    if summary:
        print(f"measure: {summary.group(1)}", flush=True)
        c.check("rate-limit-port" in summary.group(1), "the summary names the per-port drops")
    # Under ASan the allocator's shadow memory and caches grow with the heap the log lines touch
    # (+2.6 MiB measured); per-MAC state would be at least 100,000 x 24 bytes on top. The normal
    # build checks the 1 MiB bound, the ASan build a looser one.
    asan = "libasan" in subprocess.run(["ldd", t.binary], capture_output=True, text=True).stdout
    limit = 8192 if asan else 1024
    c.check(rss_after - rss_before <= limit, f"RSS grows at most {limit // 1024} MiB over 100,000 MACs "
            f"({rss_before} -> {rss_after} kB){' (ASan build)' if asan else ''}")
    c.eq(t.relay.stop(), 0, "SIGTERM: exit status 0")
    m = re.search(rf"^{re.escape(t.ra_if)}: received \d+ .* drops (.*)$", t.relay.log(), re.M)
    c.check(m and "rate-limit-port=" in m.group(1), "counters at exit: rate-limit-port drops on port A",
            m.group(0) if m else "no counter line")
    sink.close()


def reply_stream(t, seconds, rate=1000):
    """Relay-replies for the client on port B at `rate`/s for `seconds`; returns the delays (s) of
    those that arrived, by xid, and the number sent."""
    rx = t.clb.udp("::", lib.PORT_CLIENT, rcvbuf=16 << 20)
    tx = t.srv.udp(SERVER, 0)
    n_total = int(seconds * rate)
    arrived = {}
    done = threading.Event()

    def receive():
        while not done.is_set() or select.select([rx], [], [], 0)[0]:
            r, _, _ = select.select([rx], [], [], 0.1)
            if not r:
                continue
            data = rx.recv(4096)
            now = time.monotonic_ns()
            if len(data) >= 4 + 4 + 8 and data[0] == REPLY:
                xid = int.from_bytes(data[1:4], "big")
                stamp = int.from_bytes(data[8:16], "big")
                arrived.setdefault(xid, (now - stamp) / 1e9)

    th = threading.Thread(target=receive, daemon=True)
    th.start()
    t0 = time.monotonic()
    for n in range(n_total):
        ahead = t0 + n / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        inner = client_msg(REPLY, n, opt(OPT_STAMP, time.monotonic_ns().to_bytes(8, "big")))
        tx.sendto(relay_msg(RELAY_REPL, 0, LINK_B, t.b_ll, opt(OPT_RELAY_MSG, inner)), (RELAY_UP, lib.PORT_SERVER))
    time.sleep(1.0)
    done.set()
    th.join(2)
    rx.close()
    tx.close()
    return arrived, n_total


def pct(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def group_replyflood(c, lab, binary):
    t = Topology(lab, binary)
    # Resolve client B first (neighbour discovery is not what is measured).
    warm, _ = reply_stream(t, 0.2, rate=50)
    c.check(len(warm) > 0, "a Relay-reply reaches the client on port B before the flood")
    for kind in ("multicast", "unicast"):
        fl = t.flooder(6.0, unicast=kind == "unicast", name=f"flood-{kind}")
        time.sleep(0.5)  # the flood is running
        arrived, n = reply_stream(t, 4.0)
        fl.popen.wait(15)
        m = re.search(r"flood sent (\d+) frames in ([\d.]+) s \((\d+)/s\)", fl.log())
        rate = m.group(3) if m else "?"
        delays = sorted(arrived.values())
        ok = sum(1 for d in delays if d <= 0.100)
        print(f"measure: {kind} flood on port A at {rate}/s: {len(arrived)} of {n} Relay-replies for port B "
              f"delivered ({100.0 * len(arrived) / n:.2f} %), {100.0 * ok / n:.2f} % within 100 ms; delay p50 "
              f"{pct(delays, 0.5) * 1e3:.2f} ms, p99 {pct(delays, 0.99) * 1e3:.2f} ms, "
              f"max {(delays[-1] if delays else float('nan')) * 1e3:.1f} ms", flush=True)
        c.check(ok >= 0.999 * n, f"{kind} flood on port A: >= 99.9 % of {n} Relay-replies for port B delivered "
                                 f"within 100 ms ({ok})")
    c.eq(t.relay.stop(), 0, "SIGTERM: exit status 0")
    print("relay counters at exit:\n" + "\n".join(t.relay.log().splitlines()[-6:]), flush=True)


def group_serverflood(c, lab, binary):
    t = Topology(lab, binary)
    sink = ServerSink(t.server)
    fl = t.srv.spawn([TASKSET, "-c", "1", sys.executable, os.path.abspath(__file__), "--srvflood", "12"],
                     name="srvflood")
    fl.wait_log("srvflood ready", timeout=10)
    time.sleep(0.5)
    b_macs = host_macs(0xb1, 100)
    thb, sent_b, _ = legit_sender(t.clb, t.b_if, b_macs, 1000, 100)
    thb.start()
    thb.join(20)
    fl.popen.wait(15)
    wait_quiet(sink)
    got_b = sink.got(LINK_B, b_macs)
    m = re.search(r"srvflood sent (\d+) datagrams in ([\d.]+) s \((\d+)/s\)", fl.log())
    print(f"measure: server-side flood of {m.group(1) if m else '?'} garbage and valid Relay-replies "
          f"({m.group(3) if m else '?'}/s); port B: {got_b} of {sent_b[0]} registrations relayed "
          f"({100.0 * got_b / max(1, sent_b[0]):.2f} %)", flush=True)
    c.check(m and int(m.group(1)) >= 100_000, "the server-side flood sent at least 100,000 datagrams")
    c.check(got_b >= 0.999 * sent_b[0] and sent_b[0] == 1000,
            f">= 99.9 % of port B's 1,000 registrations relayed during the server-side flood ({got_b})")
    c.eq(t.relay.stop(), 0, "SIGTERM: exit status 0")
    up = re.search(r"^upstream: received (\d+) .* drops (.*)$", t.relay.log(), re.M)
    if up:
        print(f"measure: upstream counters: received {up.group(1)} drops {up.group(2)}", flush=True)
    sink.close()


GROUPS = {"macflood": group_macflood, "replyflood": group_replyflood, "serverflood": group_serverflood}

if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--flood":
        sys.exit(flood_main(sys.argv[2:]))
    if len(sys.argv) >= 2 and sys.argv[1] == "--srvflood":
        sys.exit(srvflood_main(sys.argv[2:]))
    sys.exit(lib.run_groups("rrfl", GROUPS, 60, needs=lambda g: [(TASKSET, "CPU pinning")], timed=True))
