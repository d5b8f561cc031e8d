"""Byte builders shared by the capture generators (pcaps/generate.py, pcaps/relay/generate.py).

Pure standard library: every byte, checksum included, is built here, so generated captures do
not change with the version of some packet library.
"""

import filecmp
import ipaddress
import os
import shutil
import struct
import sys
import tempfile

CLIENT, SERVER = 546, 547
O_CLIENTID, O_SERVERID, O_IA_NA, O_IAADDR, O_ORO = 1, 2, 3, 5, 6
O_PREFERENCE, O_ELAPSED, O_RELAY_MSG, O_STATUS, O_IFID = 7, 8, 9, 13, 18
O_RECONF_MSG, O_DNS, O_REMOTE_ID, O_CLIENT_LL, O_ADDR_REG_ENABLE = 19, 23, 37, 79, 148

# Frame i is stamped BASE_SEC + i // 4 seconds, plus (i % 4) quarter-seconds and 2 i + 1 µs.
BASE_SEC = 1740830400


def mac(s):
    return bytes.fromhex(s.replace(":", ""))


def ip6(s):
    return ipaddress.IPv6Address(s).packed


def ip4(s):
    return ipaddress.IPv4Address(s).packed


def opt(code, data=b""):
    return struct.pack("!HH", code, len(data)) + data


def u16s(*codes):
    return b"".join(struct.pack("!H", c) for c in codes)


def client_msg(mtype, xid, *opts):
    return struct.pack("!I", (mtype << 24) | xid) + b"".join(opts)


def relay_msg(mtype, hop, link, peer, *opts):
    return bytes([mtype, hop]) + ip6(link) + ip6(peer) + b"".join(opts)


def duid_ll(m):
    return struct.pack("!HH", 3, 1) + mac(m)


def duid_llt(t, m):
    return struct.pack("!HHI", 1, 1, t) + mac(m)


def ia_na(iaid, t1, t2, *opts):
    return opt(O_IA_NA, struct.pack("!III", iaid, t1, t2) + b"".join(opts))


def ia_addr(addr, pref, valid, *opts):
    return opt(O_IAADDR, ip6(addr) + struct.pack("!II", pref, valid) + b"".join(opts))


def elapsed(centis):
    return opt(O_ELAPSED, struct.pack("!H", centis))


def client_ll(m):
    return opt(O_CLIENT_LL, struct.pack("!H", 1) + mac(m))


def ones_sum(data, acc=0):
    if len(data) % 2:
        data += b"\0"
    for (w,) in struct.iter_unpack("!H", data):
        acc += w
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


def checksum(data, acc=0):
    return ~ones_sum(data, acc) & 0xFFFF


def pseudo6(src, dst, length, nh):
    return ip6(src) + ip6(dst) + struct.pack("!IxxxB", length, nh)


def udp6(src, dst, sport, dport, payload, corrupt_checksum=False, csum=None):
    """csum: None computes the right checksum; an int is written as is (0, or a wrong value).
    corrupt_checksum flips bits of the computed one."""
    hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    if csum is None:
        csum = checksum(pseudo6(src, dst, 8 + len(payload), 17) + hdr + payload) or 0xFFFF
        if corrupt_checksum:
            csum ^= 0x5555
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), csum) + payload


def ipv6(src, dst, nh, payload, hlim):
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, hlim) + ip6(src) + ip6(dst) + payload


def ether(dst, src, ethertype, payload, vlans=()):
    """vlans: (tpid, tci) pairs, outermost first."""
    tags = b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in vlans)
    return mac(dst) + mac(src) + tags + struct.pack("!H", ethertype) + payload


def mcast_mac(group):
    return "33:33:" + ":".join("%02x" % b for b in ip6(group)[12:])


def pcap_bytes(frames):
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, f in enumerate(frames):
        sec = BASE_SEC + i // 4
        usec = (i % 4) * 250000 + 2 * i + 1
        out += struct.pack("<IIII", sec, usec, len(f), len(f)) + f
    return bytes(out)


def write_all(outdir, captures):
    os.makedirs(outdir, exist_ok=True)
    for name, make in captures.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(pcap_bytes(make()))


def check(refdir, captures, script, what):
    """Generates into a temporary directory and compares with refdir byte for byte; also fails
    on a capture not described in refdir/README.md or a .pcap the script does not produce."""
    tmp = tempfile.mkdtemp(prefix="regrelay-pcaps-")
    try:
        write_all(tmp, captures)
        problems = []
        for name in captures:
            ref = os.path.join(refdir, name)
            if not os.path.exists(ref):
                problems.append("%s: not checked in" % name)
            elif not filecmp.cmp(os.path.join(tmp, name), ref, shallow=False):
                problems.append("%s: differs from the generator's output" % name)
        for name in sorted(os.listdir(refdir)):
            if name.endswith(".pcap") and name not in captures:
                problems.append("%s: checked in but not produced by generate.py" % name)
        readme = os.path.join(refdir, "README.md")
        text = open(readme, encoding="utf-8").read() if os.path.exists(readme) else ""
        for name in captures:
            if name not in text:
                problems.append("%s: not described in README.md" % name)
        for p in problems:
            print("FAIL " + p)
        if problems:
            print("run /usr/bin/python3 %s to regenerate, then review the diff" % script)
            return 1
        print("OK: %d %s regenerated byte-identical to %s" % (len(captures), what, refdir))
        return 0
    finally:
        shutil.rmtree(tmp)


def main(argv, here, captures, script, what):
    if argv[1:2] == ["--check"]:
        return check(argv[2] if len(argv) > 2 else here, captures, script, what)
    if len(argv) > 2 or argv[1:2] and argv[1].startswith("-"):
        print("usage: generate.py [OUTDIR] | --check [REFDIR]", file=sys.stderr)
        return 2
    write_all(argv[1] if len(argv) > 1 else here, captures)
    return 0
