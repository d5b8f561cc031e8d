#!/usr/bin/python3
"""Golden replay tests for the relay: `regrelay replay` on pcaps/relay/*.pcap.

    relay_golden_test.py REGRELAY_BINARY SOURCE_DIR [--only NAME] [--regenerate]

For every input capture NAME (pcaps/relay/NAME.pcap, written by pcaps/relay/generate.py) and every
option set VARIANT below, this

  1. runs `regrelay replay --in NAME.pcap --out OUT.pcap --log-level debug OPTIONS` twice and
     requires the two outputs to be byte-identical (determinism);
  2. compares OUT.pcap byte for byte with pcaps/relay/expected/NAME[-VARIANT].pcap
     (with --regenerate: writes that file instead; see pcaps/relay/README.md);
  3. decides, frame by frame, what the relay must do with each input frame (the OUTCOMES table
     below: relayed upstream, unwrapped to a client, or dropped for a named reason) and checks
       * the replay's debug log names the same outcome and drop reason for each frame, in order,
         and its counters report agrees;
       * the output frames written for that input frame (same timestamp), decoded with scapy:
         LINUX_SLL2 interface and direction, IPv6 source/destination/hop limit, UDP ports and
         checksum, and the exact UDP payload, rebuilt here from RFC 8415 §19 / RFC 6939 / RFC 4649
         (Relay-forward: type 12, hop-count, link-address, peer-address, options 18/37/79/9 in
         that order, option 9 = the input UDP payload byte for byte; Relay-reply: the contents of
         option 9 unchanged, to peer-address port 546, or 547 for a nested Relay-reply);
       * the same frames decoded by tshark (-T pdml): message type, hop-count, link-address,
         peer-address, the option codes, option 79's MAC = the input frame's source MAC, option
         9's body = the input UDP payload, interface-id, remote-id, UDP ports and addresses, and
         tshark's own UDP checksum verdict.

Exit status 0 when everything passes, 1 on any failure, 77 (ctest: skipped) when scapy or tshark
is missing after the byte-for-byte comparisons passed.
"""

import argparse
import ipaddress
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

# ---- the option sets ---------------------------------------------------------------------------
# Every variant names one client interface, eth1; `replay` gives it the link-local fe80::1 and
# interface index 1 in the output, and the server side interface index 2. Replies go out from
# fe80::1 to link-local peers and from the link-address (if any) to global ones.

SERVER1 = "2001:db8:ffff::1"
SERVER3 = "2001:db8:ffff::3"
UPSTREAM_SRC = "2001:db8:ffff::2"
LINK = "2001:db8:1::1"
PORT_LL = "fe80::1"
ALL_DHCP_SERVERS = "ff05::1:3"

VARIANTS = {
    # The usual deployment: a link-address, one server, option 79.
    "": dict(args=["--client-iface", "eth1", "--link-address", "eth1=" + LINK, "--server", SERVER1,
                   "--source-address", UPSTREAM_SRC],
             link=LINK, servers=[SERVER1], always_ifid=False, remote_id=None, lladdr=True),
    # Always an Interface-ID, a Remote-ID, and no --server: ff05::1:3 with hop limit 8.
    "ifid": dict(args=["--client-iface", "eth1", "--link-address", "eth1=" + LINK, "--source-address", UPSTREAM_SRC,
                       "--interface-id", "--remote-id", "9:0102"],
                 link=LINK, servers=[], always_ifid=True, remote_id=(9, b"\x01\x02"), lladdr=True),
    # No link-address (link :: and an Interface-ID), no option 79, two servers.
    "bare": dict(args=["--client-iface", "eth1", "--no-client-link-layer", "--server", SERVER1, "--server", SERVER3,
                       "--source-address", UPSTREAM_SRC],
                 link=None, servers=[SERVER1, SERVER3], always_ifid=False, remote_id=None, lladdr=False),
}

# ---- what the relay must do with each input frame ----------------------------------------------
# "fwd": a Relay-forward upstream; "reply": a message unwrapped toward a client; "drop:REASON":
# nothing sent, the log names REASON (relay::drop_name). A tuple (DEFAULT, {VARIANT: OUTCOME})
# overrides the outcome for some variants. The order is pcaps/relay/generate.py's.

UNKNOWN_IF = "drop:unknown-interface"
OUTCOMES = {
    "solicit-exchange": ["fwd", "reply", "fwd", "reply"],
    # The first Relay-reply names eth1 by link-address only: "bare" gives eth1 no link-address.
    "addr-reg": ["fwd", ("reply", {"bare": UNKNOWN_IF}), "fwd", "reply"],
    "relay-chain": ["fwd", "fwd", "drop:hop-limit", "fwd", "drop:malformed-relay", "reply"],
    "all-types": ["fwd"] * 11 + ["drop:server-message-from-client"] * 3 + ["drop:malformed-relay",
                                                                           "drop:server-message-from-client"],
    "drops": ["drop:malformed-relay"] * 3 + ["drop:no-relay-message"] + [UNKNOWN_IF] * 3 +
             ["drop:bad-peer-address"] * 2 + ["drop:bad-udp-checksum"] * 3 +
             ["drop:truncated", "drop:not-server-port", "drop:not-for-us", "drop:not-for-us",
              "drop:ipv6-fragment", "drop:not-dhcpv6", "fwd"],
}


def outcome(name, i, variant):
    o = OUTCOMES[name][i]
    if isinstance(o, tuple):
        return o[1].get(variant, o[0])
    return o


# ---- small helpers -------------------------------------------------------------------------------

class Failures:
    def __init__(self):
        self.items = []
        self.checks = 0

    def check(self, cond, what):
        self.checks += 1
        if not cond:
            self.items.append(what)
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, "%s: got %r, want %r" % (what, got, want))


def a6(s):
    return ipaddress.IPv6Address(s).packed


def s6(b):
    return str(ipaddress.IPv6Address(bytes(b)))


def opt(code, body):
    return struct.pack("!HH", code, len(body)) + body


def parse_options(b):
    """[(code, body)] or None when the area is not a sequence of whole options."""
    out, i = [], 0
    while i < len(b):
        if len(b) - i < 4:
            return None
        code, ln = struct.unpack_from("!HH", b, i)
        if len(b) - i - 4 < ln:
            return None
        out.append((code, b[i + 4:i + 4 + ln]))
        i += 4 + ln
    return out


def ones_sum(data):
    if len(data) % 2:
        data += b"\0"
    acc = sum(w for (w,) in struct.iter_unpack("!H", data))
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


def udp6_checksum_ok(src, dst, udp):
    """RFC 8200 §8.1: over the pseudo-header and the datagram, checksum field included."""
    if struct.unpack_from("!H", udp, 6)[0] == 0:
        return False
    pseudo = src + dst + struct.pack("!IxxxB", len(udp), 17)
    return ones_sum(pseudo + udp) == 0xFFFF


def read_pcap(path):
    """[(ts_ns, data)] and the link type of a classic pcap (micro- or nanosecond)."""
    d = open(path, "rb").read()
    magic = d[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("FAIL %s: not a classic pcap" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack_from(e + "I", d, 20)[0]
    out, off = [], 24
    while off < len(d):
        sec, frac, caplen, _ = struct.unpack_from(e + "IIII", d, off)
        out.append((sec * 10**9 + (frac if nano else frac * 1000), d[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return out, linktype


# ---- the input frames, decoded with scapy ---------------------------------------------------------

class Input:
    """What the test needs of one input frame."""

    def __init__(self, ts, data, scapy):
        self.ts = ts
        self.data = data
        self.ok = False         # an IPv6/UDP datagram with a valid checksum
        p = scapy.Ether(data)
        self.src_mac = bytes.fromhex(p.src.replace(":", ""))
        if scapy.IPv6 not in p or scapy.IPv6ExtHdrFragment in p or scapy.UDP not in p:
            return
        ip, u = p[scapy.IPv6], p[scapy.UDP]
        self.src, self.dst = a6(ip.src), a6(ip.dst)
        self.sport, self.dport = u.sport, u.dport
        udp = bytes(u.original)
        if u.len != len(udp):
            return
        self.payload = udp[8:]  # the UDP payload exactly as captured
        self.ok = udp6_checksum_ok(self.src, self.dst, udp)

    def from_server(self):
        """replay's rule: a Relay-reply to port 547 (with a good checksum) came from a server."""
        return self.ok and self.dport == 547 and self.payload[:1] == b"\x0d"


def routable(addr):
    a = ipaddress.IPv6Address(addr)
    return not (a.is_unspecified or a.is_loopback or a.is_link_local or a.is_multicast)


def names_link(msg, levels=9):
    """Does a Relay-forward level, or one nested in its option 9 (down to 9 levels: the
    hop-count limit), carry a routable link-address? (docs/relay.md: an LDRA's :: does not.)"""
    for _ in range(levels):
        if len(msg) < 34 or msg[0] != 12:
            return False
        if routable(bytes(msg[2:18])):
            return True
        inner, i = None, 34
        while i + 4 <= len(msg):
            code, length = struct.unpack_from("!HH", msg, i)
            if i + 4 + length > len(msg):
                return False
            if code == 9:
                inner = msg[i + 4:i + 4 + length]
                break
            i += 4 + length
        if inner is None:
            return False
        msg = inner
    return False


def forward_link(inp, cfg):
    """The link-address of the Relay-forward for a client frame: the port's (or ::), except
    :: for a Relay-forward from a global/ULA source when a level below names the link
    (RFC 8415 §19.1.2, and docs/relay.md for an LDRA's level below)."""
    msg = inp.payload
    if msg[0] == 12 and routable(inp.src) and names_link(msg):
        return "::"
    return cfg["link"] or "::"


def expected_forward(inp, cfg):
    """The Relay-forward for a client frame (RFC 8415 §19.1.1/§19.1.2, RFC 6939, RFC 4649)."""
    msg = inp.payload
    link = a6(forward_link(inp, cfg))
    if msg[0] == 12:  # from a relay agent
        hop = msg[1] + 1
        lladdr = False
    else:
        hop = 0
        lladdr = cfg["lladdr"]
    body = bytes([12, hop]) + link + inp.src
    if cfg["always_ifid"] or link == a6("::"):
        body += opt(18, b"eth1")
    if cfg["remote_id"]:
        body += opt(37, struct.pack("!I", cfg["remote_id"][0]) + cfg["remote_id"][1])
    if lladdr:
        body += opt(79, b"\x00\x01" + inp.src_mac)
    body += opt(9, msg)
    if cfg["servers"]:
        sends = [(a6(s), 547, 64) for s in cfg["servers"]]
    else:
        sends = [(a6(ALL_DHCP_SERVERS), 547, 8)]
    return body, sends


def expected_reply(inp):
    """The message inside a Relay-reply's option 9, its destination and port (RFC 8415 §19.2)."""
    peer = inp.payload[18:34]
    inner = dict(parse_options(inp.payload[34:]))[9]
    return inner, peer, 547 if inner[0] == 13 else 546


# ---- tshark ------------------------------------------------------------------------------------------

def tshark_frames(path):
    p = subprocess.run(["tshark", "-r", path, "-o", "udp.check_checksum:TRUE", "-T", "pdml"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit("FAIL tshark on %s: %s" % (path, p.stderr.strip()))
    frames = []
    for pkt in ET.fromstring(p.stdout).iter("packet"):
        f = {}
        for field in pkt.iter("field"):
            n = field.get("name")
            if n in ("sll.ifindex", "sll.pkttype", "ipv6.src", "ipv6.dst", "ipv6.hlim", "udp.srcport", "udp.dstport",
                     "udp.checksum.status") and n not in f:
                f[n] = field.get("show")
        top = [c for c in pkt if c.tag == "proto" and c.get("name") == "dhcpv6"]
        if top:
            d = top[0]
            for c in d:
                if c.tag == "field" and c.get("name") in ("dhcpv6.msgtype", "dhcpv6.hopcount", "dhcpv6.linkaddr",
                                                          "dhcpv6.peeraddr"):
                    f[c.get("name")] = c.get("show")
            # Top-level options: (code, body) from the option's raw value (header included).
            opts = []
            for c in d:
                if c.tag == "field" and c.get("name") == "dhcpv6.option.type_str":
                    raw = bytes.fromhex(c.get("value"))
                    code = next((int(x.get("show")) for x in c if x.get("name") == "dhcpv6.option.type"), None)
                    opts.append((code, raw[4:]))
            f["options"] = opts
        frames.append(f)
    return frames


# ---- one replay ----------------------------------------------------------------------------------

def run_replay(binary, inp, out, args):
    cmd = [binary, "replay", "--in", inp, "--out", out, "--log-level", "debug"] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit("FAIL %s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p.stderr


LOG_DROP = re.compile(r" debug drop \S+ on (\S+): ([a-z0-9-]+)")
LOG_FWD = re.compile(r" debug relay-forward ")
LOG_REPLY = re.compile(r" debug relay-reply ")
LOG_COUNTERS = re.compile(r"^(\S+): received (\d+) forwarded (\d+) replied (\d+) addr-reg-inform (\d+) "
                          r"addr-reg-reply (\d+) drops (.*)$", re.M)


def log_outcomes(log):
    out = []
    for line in log.splitlines():
        m = LOG_DROP.search(line)
        if m:
            out.append("drop:" + m.group(2))
        elif LOG_FWD.search(line):
            out.append("fwd")
        elif LOG_REPLY.search(line):
            out.append("reply")
    return out


def log_counters(log):
    c = {}
    for m in LOG_COUNTERS.finditer(log):
        drops = {} if m.group(7) == "none" else dict((k, int(v)) for k, v in
                                                     (x.split("=") for x in m.group(7).split()))
        c[m.group(1)] = dict(received=int(m.group(2)), forwarded=int(m.group(3)), replied=int(m.group(4)),
                             addr_reg_inform=int(m.group(5)), addr_reg_reply=int(m.group(6)), drops=drops)
    return c


def expected_counters(inputs, outcomes):
    c = {k: dict(received=0, forwarded=0, replied=0, addr_reg_inform=0, addr_reg_reply=0, drops={})
         for k in ("eth1", "upstream")}
    for inp, o in zip(inputs, outcomes):
        side = "upstream" if inp.from_server() else "eth1"
        c[side]["received"] += 1
        if o == "fwd":
            c["eth1"]["forwarded"] += 1
            c["eth1"]["addr_reg_inform"] += inp.payload[0] == 36
        elif o == "reply":
            c["eth1"]["replied"] += 1
            c["eth1"]["addr_reg_reply"] += expected_reply(inp)[0][0] == 37
        else:
            reason = o.split(":", 1)[1]
            # A reply with an unusable peer-address is counted on the port it was for.
            where = "eth1" if reason == "bad-peer-address" else side
            c[where]["drops"][reason] = c[where]["drops"].get(reason, 0) + 1
    return c


def check_variant(binary, src_dir, name, variant, regenerate, scapy, have_tshark, F, tmp):
    cfg = VARIANTS[variant]
    label = name + ("[%s]" % variant if variant else "")
    in_path = os.path.join(src_dir, "pcaps", "relay", name + ".pcap")
    exp_path = os.path.join(src_dir, "pcaps", "relay", "expected", name + ("-" + variant if variant else "") + ".pcap")
    out1 = os.path.join(tmp, "%s-%s-1.pcap" % (name, variant or "base"))
    out2 = os.path.join(tmp, "%s-%s-2.pcap" % (name, variant or "base"))

    log = run_replay(binary, in_path, out1, cfg["args"])
    run_replay(binary, in_path, out2, cfg["args"])
    got = open(out1, "rb").read()
    F.check(got == open(out2, "rb").read(), "%s: two replays of the same input differ" % label)

    if regenerate:
        os.makedirs(os.path.dirname(exp_path), exist_ok=True)
        with open(exp_path, "wb") as f:
            f.write(got)
        print("wrote %s" % os.path.relpath(exp_path, src_dir))
    elif not os.path.exists(exp_path):
        F.check(False, "%s: %s is missing (run with --regenerate, then review)" % (label, exp_path))
    elif not F.check(got == open(exp_path, "rb").read(),
                     "%s: output differs from %s" % (label, os.path.relpath(exp_path, src_dir))):
        diff_hint(out1, exp_path, label)

    if scapy is None:
        return
    in_frames, lt = read_pcap(in_path)
    F.eq(lt, 1, "%s: input link type" % label)
    out_frames, out_lt = read_pcap(out1)
    F.eq(out_lt, 276, "%s: output link type (LINUX_SLL2)" % label)
    if not F.eq(len(in_frames), len(OUTCOMES[name]), "%s: input frames vs OUTCOMES table" % label):
        return
    inputs = [Input(ts, d, scapy) for ts, d in in_frames]
    outcomes = [outcome(name, i, variant) for i in range(len(inputs))]
    F.check(len(set(i.ts for i in inputs)) == len(inputs), "%s: input timestamps are not distinct" % label)

    # The log, frame by frame, and the counters.
    F.eq(log_outcomes(log), outcomes, "%s: outcomes in the replay log" % label)
    F.eq(log_counters(log), expected_counters(inputs, outcomes), "%s: counters report" % label)

    # Expected output frames, in order.
    want = []  # (input index, sll ifindex, src, dst, hop limit, dport, payload, kind)
    for i, (inp, o) in enumerate(zip(inputs, outcomes)):
        if o == "fwd":
            body, sends = expected_forward(inp, cfg)
            for dst, dport, hl in sends:
                want.append((i, 2, a6(UPSTREAM_SRC), dst, hl, dport, body, o))
        elif o == "reply":
            inner, peer, dport = expected_reply(inp)
            # The source the kernel would pick: the link-local toward a link-local peer, the
            # port's link-address (when it has one) toward a global peer.
            src = a6(PORT_LL) if (ipaddress.IPv6Address(bytes(peer)).is_link_local or not cfg["link"]) else a6(cfg["link"])
            want.append((i, 1, src, peer, 64, dport, inner, o))
    if not F.eq(len(out_frames), len(want), "%s: number of output frames" % label):
        return

    # scapy: every field of every output frame.
    for k, ((ts, data), w) in enumerate(zip(out_frames, want)):
        i, ifindex, src, dst, hl, dport, body, kind = w
        what = "%s: output frame %d (from input frame %d, %s)" % (label, k + 1, i + 1, kind)
        F.eq(ts, inputs[i].ts, what + ": timestamp")
        p = scapy.CookedLinuxV2(data)
        F.eq((p.proto, p.ifindex, p.lladdrtype, p.pkttype, p.lladdrlen), (0x86DD, ifindex, 1, 4, 6),
             what + ": SLL2 protocol, ifindex, hatype, packet type (4: sent by us), halen")
        if not F.check(scapy.IPv6 in p and scapy.UDP in p, what + ": not IPv6/UDP"):
            continue
        ip, u = p[scapy.IPv6], p[scapy.UDP]
        F.eq((s6(a6(ip.src)), s6(a6(ip.dst)), ip.hlim), (s6(src), s6(dst), hl), what + ": IPv6 src, dst, hop limit")
        F.eq((u.sport, u.dport), (547, dport), what + ": UDP ports")
        udp = bytes(u.original)
        F.check(udp6_checksum_ok(a6(ip.src), a6(ip.dst), udp), what + ": UDP checksum")
        F.eq(udp[8:].hex(), body.hex(), what + ": UDP payload")

    if not have_tshark:
        return
    # tshark: its own decoding of the same frames.
    for k, (f, w) in enumerate(zip(tshark_frames(out1), want)):
        i, ifindex, src, dst, hl, dport, body, kind = w
        inp = inputs[i]
        what = "%s: tshark frame %d (from input frame %d, %s)" % (label, k + 1, i + 1, kind)
        F.eq((f.get("sll.ifindex"), f.get("sll.pkttype")), (str(ifindex), "4"), what + ": SLL2 ifindex, pkttype")
        F.eq((f.get("ipv6.src"), f.get("ipv6.dst"), f.get("ipv6.hlim")), (s6(src), s6(dst), str(hl)),
             what + ": IPv6")
        F.eq((f.get("udp.srcport"), f.get("udp.dstport")), ("547", str(dport)), what + ": UDP ports")
        F.eq(f.get("udp.checksum.status"), "1", what + ": tshark's UDP checksum verdict (1 = good)")
        if kind == "fwd":
            msg = inp.payload
            from_relay = msg[0] == 12
            F.eq(f.get("dhcpv6.msgtype"), "12", what + ": message type")
            F.eq(f.get("dhcpv6.hopcount"), str(msg[1] + 1 if from_relay else 0), what + ": hop-count")
            link = forward_link(inp, cfg)
            F.eq(f.get("dhcpv6.linkaddr"), link, what + ": link-address")
            F.eq(f.get("dhcpv6.peeraddr"), s6(inp.src), what + ": peer-address = the input's IPv6 source")
            opts = f.get("options", [])
            codes = [c for c, _ in opts]
            want_codes = ([18] if cfg["always_ifid"] or link == "::" else []) + ([37] if cfg["remote_id"] else []) + \
                         ([79] if cfg["lladdr"] and not from_relay else []) + [9]
            F.eq(codes, want_codes, what + ": option codes")
            od = dict(opts)
            if 79 in od:
                F.eq(od[79][:2], b"\x00\x01", what + ": option 79 hardware type")
                F.eq(od[79][2:].hex(":"), inp.src_mac.hex(":"), what + ": option 79 MAC = the input's source MAC")
            if 18 in od:
                F.eq(od[18], b"eth1", what + ": interface-id")
            if 37 in od:
                F.eq(od[37], struct.pack("!I", cfg["remote_id"][0]) + cfg["remote_id"][1], what + ": remote-id")
            F.eq(od.get(9, b"").hex(), msg.hex(), what + ": option 9 = the input's UDP payload")
        else:
            inner = body
            F.eq(f.get("dhcpv6.msgtype"), str(inner[0]), what + ": message type of the unwrapped message")
            if inner[0] == 13:
                F.eq((f.get("dhcpv6.hopcount"), f.get("dhcpv6.peeraddr")), (str(inner[1]), s6(inner[18:34])),
                     what + ": nested Relay-reply hop-count and peer-address")


def diff_hint(got, want, label):
    """Prints the frames that differ, as tshark one-liners (or indexes without tshark)."""
    g, _ = read_pcap(got)
    w, _ = read_pcap(want)
    print("%s: %d frames written, %d expected" % (label, len(g), len(w)))
    for i in range(max(len(g), len(w))):
        if i >= len(g) or i >= len(w) or g[i] != w[i]:
            print("  first difference at frame %d" % (i + 1))
            if i < len(g) and i < len(w):
                a, b = g[i][1], w[i][1]
                at = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
                print("  timestamps %d / %d ns, lengths %d / %d, first differing byte at offset %d:" %
                      (g[i][0], w[i][0], len(a), len(b), at))
                print("  written  ...%s" % a[max(0, at - 8):at + 24].hex())
                print("  expected ...%s" % b[max(0, at - 8):at + 24].hex())
            break
    if shutil.which("tshark"):
        for tag, path in (("written ", got), ("expected", want)):
            p = subprocess.run(["tshark", "-r", path], capture_output=True, text=True)
            for line in p.stdout.splitlines():
                print("  %s %s" % (tag, line.strip()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary")
    ap.add_argument("source_dir")
    ap.add_argument("--only", action="append", help="test only this input (repeatable)")
    ap.add_argument("--variant", action="append", help="test only this option set ('' for the default)")
    ap.add_argument("--regenerate", action="store_true",
                    help="rewrite pcaps/relay/expected/ from this binary (review the diff before committing)")
    a = ap.parse_args()

    names = a.only or list(OUTCOMES)
    for n in names:
        if n not in OUTCOMES:
            ap.error("unknown input %r (have: %s)" % (n, ", ".join(OUTCOMES)))
    variants = a.variant if a.variant is not None else list(VARIANTS)
    for v in variants:
        if v not in VARIANTS:
            ap.error("unknown variant %r (have: %s)" % (v, ", ".join(repr(x) for x in VARIANTS)))

    try:
        os.environ.setdefault("SCAPY_USE_LIBPCAP", "no")
        import scapy.all as scapy_all  # noqa: F401 (loads every layer)
        from scapy.layers import inet6, l2, inet
        scapy = type("scapy", (), dict(Ether=l2.Ether, CookedLinuxV2=l2.CookedLinuxV2, IPv6=inet6.IPv6,
                                       IPv6ExtHdrFragment=inet6.IPv6ExtHdrFragment, UDP=inet.UDP))
    except ImportError as e:
        print("scapy not available (%s): only the byte-for-byte comparisons run" % e)
        scapy = None
    have_tshark = shutil.which("tshark") is not None
    if not have_tshark:
        print("tshark not on PATH: its decoding checks are skipped")

    F = Failures()
    tmp = tempfile.mkdtemp(prefix="regrelay-relay-golden-")
    try:
        for n in names:
            for v in variants:
                before = len(F.items)
                check_variant(a.binary, a.source_dir, n, v, a.regenerate, scapy, have_tshark, F, tmp)
                print("%s %s%s" % ("ok  " if len(F.items) == before else "FAIL", n, "[%s]" % v if v else ""))
    finally:
        shutil.rmtree(tmp)
    for item in F.items:
        print("FAIL " + item)
    print("%d checks, %d failures" % (F.checks, len(F.items)))
    if F.items:
        return 1
    if scapy is None or not have_tshark:
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
