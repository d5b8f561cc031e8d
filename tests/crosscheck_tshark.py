#!/usr/bin/python3
"""Cross-checks `regrelay decode --json` against tshark on every capture in pcaps/.

    crosscheck_tshark.py REGRELAY_BINARY PCAPS_DIR

For every frame, both decoders' views are rendered into the same canonical text and compared;
any difference fails the test and prints a unified diff (regrelay vs tshark). Compared:

  * which frames are DHCPv6 at all (regrelay prints them, tshark has a dhcpv6 layer);
  * per frame: IPv6 source/destination, hop limit, UDP ports, Ethernet addresses, VLAN ids
    (outermost first) and whether the UDP checksum is bad;
  * per DHCPv6 level, outermost to innermost: message type, hop-count, link-address,
    peer-address, the ordered option codes, the interface-id bytes and option 79's address;
  * the inner message: type, transaction id, ordered option codes, the first IA Address.

tshark is a check on regrelay's decoding of valid bytes, so for malformed payloads the reason
regrelay reports is derived from tshark's tree instead: how far tshark got (the level sizes and
the options it could delimit) gives "truncated header", "relay message too short", "truncated
option header", "option length past the end", "relay message without option 9" and "relay
nesting too deep" with their offsets, and an IPv6 Fragment header gives "ipv6-fragment".
"""

import difflib
import glob
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

MAX_RELAY_DEPTH = 32  # dhcp6::kMaxRelayDepth
RELAY_TYPES = (12, 13)


class Counter:
    frames = 0
    fields = 0
    malformed = 0
    levels = 0

    @staticmethod
    def count(lines):
        for l in lines:
            if l.startswith("ipv6 "):
                Counter.fields += 9
            elif l.startswith("  level "):
                Counter.fields += 7
                Counter.levels += 1
            elif l.startswith("  message: "):
                Counter.fields += 4
                Counter.levels += 1
            elif l.startswith("malformed: "):
                Counter.fields += 1
                Counter.malformed += 1


# ---- regrelay side ---------------------------------------------------------------------------

def regrelay_frames(binary, pcap):
    p = subprocess.run([binary, "decode", "--json", pcap], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit("FAIL %s: regrelay decode --json exited %d: %s" % (pcap, p.returncode, p.stderr.strip()))
    out = {}
    for line in p.stdout.splitlines():
        obj = json.loads(line)
        out[obj["frame"]] = obj
    return out


def render_regrelay(o):
    lines = []
    if "src" in o:
        lines.append(frame_line(o["src"], o["dst"], o["hop_limit"], o["sport"], o["dport"],
                                o.get("src_mac", "-"), o.get("dst_mac", "-"), o["vlans"],
                                o.get("udp_checksum") == "bad"))
    if "malformed" in o:
        lines.append("malformed: " + o["malformed"])
        return lines
    d = o["dhcp6"]
    for i, l in enumerate(d["relays"]):
        lines.append(relay_line(i, l["type"], l["hop_count"], l["link_address"], l["peer_address"],
                                l["options"], l.get("interface_id", "-"), l.get("client_link_layer", "-")))
    m = d["message"]
    lines.append(message_line(m["type"], m["xid"], m["options"], m.get("ia_addr", "-")))
    return lines


# ---- the canonical rendering both sides share -------------------------------------------------

def frame_line(src, dst, hlim, sport, dport, smac, dmac, vlans, bad_csum):
    return "ipv6 %s > %s hlim %s udp %s > %s eth %s > %s vlans %s checksum %s" % (
        src, dst, hlim, sport, dport, smac, dmac, list(vlans), "bad" if bad_csum else "ok")


def relay_line(i, mtype, hop, link, peer, opts, ifid, lladdr):
    return "  level %d: type %d hop-count %d link %s peer %s options %s interface-id %s lladdr %s" % (
        i, mtype, hop, link, peer, list(opts), ifid, lladdr)


def message_line(mtype, xid, opts, ia_addr):
    return "  message: type %d xid 0x%06x options %s ia-addr %s" % (mtype, xid, list(opts), ia_addr)


# ---- tshark side ------------------------------------------------------------------------------

def tshark_packets(pcap):
    p = subprocess.run(["tshark", "-n", "-r", pcap, "-o", "udp.check_checksum:TRUE", "-T", "pdml"],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit("FAIL %s: tshark exited %d: %s" % (pcap, p.returncode, p.stderr.decode(errors="replace")))
    return ET.fromstring(p.stdout).findall("packet")


def first(elem, name):
    for e in elem.iter("field"):
        if e.get("name") == name:
            return e
    return None


def show(elem, name, default=None):
    e = first(elem, name)
    return default if e is None else e.get("show")


def proto(pkt, name):
    for p in pkt.findall("proto"):
        if p.get("name") == name:
            return p
    return None


class Level:
    def __init__(self, elem, base):
        self.pos = int(elem.get("pos")) - base
        self.size = int(elem.get("size"))
        self.type = self.hop = self.link = self.peer = self.xid = None
        self.options = []  # (code, offset, size, raw hex of the whole option, element)
        self.inner = None
        for ch in elem:
            n = ch.get("name")
            if n == "dhcpv6.msgtype":
                self.type = int(ch.get("show"))
            elif n == "dhcpv6.hopcount":
                self.hop = int(ch.get("show"))
            elif n == "dhcpv6.linkaddr":
                self.link = ch.get("show")
            elif n == "dhcpv6.peeraddr":
                self.peer = ch.get("show")
            elif n == "dhcpv6.xid":
                self.xid = int(ch.get("show"), 16)
            elif n == "dhcpv6.option.type_str":
                code = int(show(ch, "dhcpv6.option.type"))
                self.options.append((code, int(ch.get("pos")) - base, int(ch.get("size")), ch.get("value", ""), ch))
                if code == 9 and self.inner is None:
                    sub = ch.find("proto[@name='dhcpv6']")
                    if sub is not None:
                        self.inner = Level(sub, base)

    def is_relay(self):
        return self.type in RELAY_TYPES

    def option(self, code):
        for o in self.options:
            if o[0] == code:
                return o
        return None


def chain(top, base):
    levels = []
    lvl = Level(top, base)
    while lvl is not None:
        levels.append(lvl)
        lvl = lvl.inner
    return levels


def derive_malformed(levels):
    """The error regrelay's decoder should report for this tshark tree, or None if it is valid."""
    for depth, l in enumerate(levels):
        if l.is_relay() and depth >= MAX_RELAY_DEPTH:
            return "relay nesting too deep at offset %d" % l.pos
        hdr = 34 if l.is_relay() else 4
        if l.size < hdr:
            what = "relay message too short" if l.is_relay() and l.size > 0 else "truncated header"
            return "%s at offset %d" % (what, l.pos)
        end = l.pos + hdr
        for code, pos, size, _, _ in l.options:
            if pos != end:
                break
            end = pos + size
        if end < l.pos + l.size:
            rest = l.pos + l.size - end
            what = "truncated option header" if rest < 4 else "option length past the end"
            return "%s at offset %d" % (what, end)
        if l.is_relay():
            o9 = l.option(9)
            if o9 is None:
                return "relay message without option 9 at offset %d" % l.pos
            if o9[2] == 4:
                return "truncated header at offset %d" % (o9[1] + 4)
    return None


def vlan_ids(pkt):
    ids = []
    for p in pkt.findall("proto"):
        if p.get("name") in ("vlan", "ieee8021ad"):
            ids.append(int(show(p, p.get("name") + ".id")))
    return ids


def render_tshark(pkt):
    """Canonical lines for a frame regrelay should show, or None for a frame it should skip."""
    eth, ip6, udp, top = proto(pkt, "eth"), proto(pkt, "ipv6"), proto(pkt, "udp"), proto(pkt, "dhcpv6")
    frag = next((p for p in pkt.iter("proto") if p.get("name") == "ipv6.fraghdr"), None)
    if frag is not None and udp is None:
        return ["malformed: ipv6-fragment at offset %s" % frag.get("pos")]
    if top is None:
        return None
    lines = [frame_line(show(ip6, "ipv6.src"), show(ip6, "ipv6.dst"), show(ip6, "ipv6.hlim"),
                        show(udp, "udp.srcport"), show(udp, "udp.dstport"),
                        show(eth, "eth.src", "-"), show(eth, "eth.dst", "-"), vlan_ids(pkt),
                        show(udp, "udp.checksum.status") == "0")]
    levels = chain(top, int(top.get("pos")))
    bad = derive_malformed(levels)
    if bad:
        lines.append("malformed: " + bad)
        return lines
    for i, l in enumerate(levels[:-1]):
        ifid = first(l.option(18)[4], "dhcpv6.interface_id").get("value") if l.option(18) else "-"
        lladdr = "-"
        o79 = l.option(79)
        if o79:  # tshark 4.0 does not break option 79 down: hardware type, then the address
            raw = o79[3][8:]
            lladdr = ":".join(raw[i:i + 2] for i in range(4, len(raw), 2))
        relay_line_args = (i, l.type, l.hop, l.link, l.peer, [o[0] for o in l.options], ifid, lladdr)
        lines.append(relay_line(*relay_line_args))
    m = levels[-1]
    ia = m.option(5)
    lines.append(message_line(m.type, m.xid, [o[0] for o in m.options],
                              show(ia[4], "dhcpv6.iaaddr.ip") if ia else "-"))
    return lines


# ---- driver -----------------------------------------------------------------------------------

def check_file(binary, pcap):
    name = os.path.basename(pcap)
    ours = regrelay_frames(binary, pcap)
    theirs = {}
    for pkt in tshark_packets(pcap):
        num = int(show(proto(pkt, "frame"), "frame.number"))
        r = render_tshark(pkt)
        if r is not None:
            theirs[num] = r
    a, b = [], []
    for num in sorted(set(ours) | set(theirs)):
        a.append("frame %d" % num)
        b.append("frame %d" % num)
        a += render_regrelay(ours[num]) if num in ours else ["  (not shown by regrelay)"]
        b += theirs[num] if num in theirs else ["  (not DHCPv6 for tshark)"]
    Counter.frames += len(set(ours) | set(theirs))
    Counter.count(a)
    if a != b:
        print("FAIL %s: regrelay and tshark disagree" % name)
        sys.stdout.writelines(difflib.unified_diff([x + "\n" for x in a], [x + "\n" for x in b],
                                                   "regrelay decode --json " + name, "tshark " + name))
        return False
    mal = sum(1 for n in ours if "malformed" in ours[n])
    print("ok   %-26s %d DHCPv6 frames agree (%d malformed)" % (name, len(ours), mal))
    return True


def main(argv):
    if len(argv) != 3:
        print("usage: crosscheck_tshark.py REGRELAY_BINARY PCAPS_DIR", file=sys.stderr)
        return 2
    binary, pdir = argv[1], argv[2]
    if shutil.which("tshark") is None:
        print("SKIP: tshark is not installed (apt-get install tshark)")
        return 77
    pcaps = sorted(glob.glob(os.path.join(pdir, "*.pcap")))
    if not pcaps:
        print("FAIL: no captures in " + pdir)
        return 1
    ok = all([check_file(binary, p) for p in pcaps])
    print("%s: %d captures, %d DHCPv6 frames, %d message levels, %d fields compared; "
          "%d malformed verdicts" % (
              "PASS" if ok else "FAIL", len(pcaps), Counter.frames, Counter.levels, Counter.fields,
              Counter.malformed))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
