#!/usr/bin/python3
"""Checks the Wireshark Lua plugin deploy/wireshark/regrelay-addrreg.lua with tshark.

    wireshark_test.py PLUGIN PCAPS_DIR [--without-plugin]

Runs `tshark -X lua_script:PLUGIN` on every capture in PCAPS_DIR plus a few made here (with the
capture builders of pcaps/pcapgen.py: ADDR-REG-INFORM three and 32 relay levels deep and 33 levels
deep, a truncated one, a Status Code inside the IA Address, option 148 with a wrong length in a
relayed Reply, a VLAN tag) and compares the plugin's fields, frame by frame, with a decoding done
here from the pcap bytes (Ethernet, VLAN tags, IPv6 extension headers, UDP, DHCPv6 relay levels;
standard library only, written from RFC 8415 / RFC 9686, not from the plugin or regrelay):

  * for every message of type 36/37 at any relay depth (up to 32 levels): the type's name in
    the tree ("Message type: ADDR-REG-INFORM (36)") and the Info column, addrreg.msgtype,
    addrreg.xid, addrreg.relay_depth, the relay levels' hop counts and peer addresses, the option
    codes in order, addrreg.ia_addr / preferred / valid, the client and server DUIDs
    ("Message Type 36" gone from the Info column);
  * option 148 (addrreg.option148) and 148 in an Option Request (addrreg.oro148), with the type
    of the message carrying them, in any message;
  * frames without any of these have no addrreg field at all, and every frame's built-in dhcpv6
    layer (tshark -T json) is identical with and without the plugin: the plugin adds, it never
    changes the built-in tree (Solicit stays dhcpv6.msgtype 1);
  * no Lua error on any frame, malformed.pcap included;
  * the step-aside rule: a stand-in for a native RFC 9686 decoder (a Lua script, loaded first,
    that adds dhcpv6.msgtype / dhcpv6.option.type items displayed with a name) makes the plugin
    add nothing for 36/37 (resp. 148), and `-o addrreg.step_aside:FALSE` brings it back;
  * the plugin loads from a Lua plugin folder (a temporary HOME's "Personal Lua Plugins").

--without-plugin runs the same comparison with tshark alone (no -X): it must fail, which shows
the checks need the plugin. Every tshark runs with a temporary HOME (no personal preferences or
plugins) and the baseline runs with --disable-protocol addrreg, in case the plugin is installed
globally. Without tshark the test exits 77 (skipped).
"""

import glob
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

MAX_RELAY_DEPTH = 32
RELAY_TYPES = (12, 13)
REG_TYPES = (36, 37)
NAMES = {36: "ADDR-REG-INFORM", 37: "ADDR-REG-REPLY"}
DHCP_PORTS = (546, 547)

FIELDS = [
    "frame.number", "addrreg.msgtype", "addrreg.xid", "addrreg.relay_depth",
    "addrreg.relay.hopcount", "addrreg.relay.peer_address", "addrreg.option", "addrreg.ia_addr",
    "addrreg.preferred", "addrreg.valid", "addrreg.client_duid", "addrreg.server_duid",
    "addrreg.option148", "addrreg.oro148", "dhcpv6.msgtype", "_ws.col.Info",
]
ADDRREG_FIELDS = [f for f in FIELDS if f.startswith("addrreg.")]


class Failures:
    items = []

    @classmethod
    def add(cls, what):
        cls.items.append(what)
        print("FAIL: " + what)


# ---- independent decoding of the captures ---------------------------------------------------

def pcap_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit(f"{path}: link type {linktype}, only Ethernet is decoded here")
    off, frames = 24, []
    while off + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        frames.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return frames


def udp_payload(frame):
    """The DHCPv6 bytes of an Ethernet frame (IPv6/UDP, port 546 or 547), or None."""
    off = 12
    ethertype = struct.unpack("!H", frame[off:off + 2])[0]
    while ethertype in (0x8100, 0x88A8):
        off += 4
        ethertype = struct.unpack("!H", frame[off:off + 2])[0]
    off += 2
    if ethertype != 0x86DD or len(frame) < off + 40:
        return None
    nh = frame[off + 6]
    p = off + 40
    while nh in (0, 43, 60):  # hop-by-hop, routing, destination options
        nh, p = frame[p], p + 8 * (frame[p + 1] + 1)
    if nh != 17:  # a Fragment header (44) included: not reassembled, no DHCPv6 layer
        return None
    sport, dport, ulen = struct.unpack("!HHH", frame[p:p + 6])
    if sport not in DHCP_PORTS and dport not in DHCP_PORTS:
        return None
    return frame[p + 8:p + min(ulen, len(frame) - p)]


def parse_options(b, start, stop):
    """[(code, value_offset, length)] and whether the list ended cleanly."""
    out, off = [], start
    while off < stop:
        if stop - off < 4:
            return out, False
        code, length = struct.unpack("!HH", b[off:off + 4])
        if off + 4 + length > stop:
            return out, False
        out.append((code, off + 4, length))
        off += 4 + length
    return out, True


def messages(b, start, stop, relays, out):
    """Appends (type, start, stop, relays) of every client/server message, relays outermost first."""
    if stop - start < 1:
        return
    mtype = b[start]
    if mtype in RELAY_TYPES:
        if len(relays) >= MAX_RELAY_DEPTH or stop - start < 34:
            return
        level = {"hop": b[start + 1], "peer": str(ipaddress.IPv6Address(b[start + 18:start + 34]))}
        opts, _ = parse_options(b, start + 34, stop)
        for code, voff, length in opts:
            if code == 9:
                messages(b, voff, voff + length, relays + [level], out)
                return
        return
    out.append((mtype, start, stop, relays))


def expected_frame(payload, reg=True, enable=True):
    """The plugin's fields for one frame, as lists of strings, from our own decoding. reg=False:
    as if Wireshark named types 36/37 itself; enable=False: as if it named option 148."""
    exp = {f: [] for f in ADDRREG_FIELDS}
    msgs = []
    messages(payload, 0, len(payload), [], msgs)
    for mtype, start, stop, relays in msgs:
        opts, _ = (parse_options(payload, start + 4, stop) if stop - start >= 4 else ([], True))
        oro148 = [mtype for code, voff, length in opts if code == 6
                  for i in range(length // 2)
                  if struct.unpack("!H", payload[voff + 2 * i:voff + 2 * i + 2])[0] == 148]
        opt148 = [mtype for code, _, _ in opts if code == 148]
        if not enable:
            oro148, opt148 = [], []
        is_reg = reg and mtype in REG_TYPES
        if not is_reg and (mtype in REG_TYPES or (not oro148 and not opt148)):
            continue
        exp["addrreg.relay_depth"].append(str(len(relays)))
        exp["addrreg.relay.hopcount"] += [str(r["hop"]) for r in relays]
        exp["addrreg.relay.peer_address"] += [r["peer"] for r in relays]
        if is_reg:
            exp["addrreg.msgtype"].append(str(mtype))
            if stop - start >= 4:
                exp["addrreg.xid"].append(str(int.from_bytes(payload[start + 1:start + 4], "big")))
            for code, voff, length in opts:
                exp["addrreg.option"].append(str(code))
                value = payload[voff:voff + length]
                if code == 1 and length:
                    exp["addrreg.client_duid"].append(value.hex())
                elif code == 2 and length:
                    exp["addrreg.server_duid"].append(value.hex())
                elif code == 5 and length >= 24:
                    exp["addrreg.ia_addr"].append(str(ipaddress.IPv6Address(value[:16])))
                    pref, valid = struct.unpack("!II", value[16:24])
                    exp["addrreg.preferred"].append(str(pref))
                    exp["addrreg.valid"].append(str(valid))
                    subs, _ = parse_options(payload, voff + 24, voff + length)
                    exp["addrreg.option"] += [str(c) for c, _, _ in subs]
        exp["addrreg.option148"] += [str(t) for t in opt148]
        exp["addrreg.oro148"] += [str(t) for t in oro148]
    return exp, [m[0] for m in msgs]


def count_messages(payload, mtype):
    """How many messages of type mtype the frame's DHCPv6 payload carries (any relay depth)."""
    if payload is None:
        return 0
    msgs = []
    messages(payload, 0, len(payload), [], msgs)
    return sum(1 for m in msgs if m[0] == mtype)


# ---- tshark --------------------------------------------------------------------------------

def tshark(args, home, check=True):
    env = dict(os.environ, HOME=home, LC_ALL="C")
    p = subprocess.run(["tshark"] + args, env=env, capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise SystemExit(f"tshark {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


def field_rows(pcap, pre, home):
    """{frame number: {field: [values]}}; a field tshark does not know (no plugin) is empty."""
    fields = FIELDS
    while True:
        args = pre + ["-r", pcap, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
                      "-E", "aggregator=|"]
        for f in fields:
            args += ["-e", f]
        p = tshark(args, home, check=False)
        unknown = [f for f in fields if f"\t{f}\n" in p.stderr + "\n"]
        if p.returncode == 0 or not unknown:
            break
        fields = [f for f in fields if f not in unknown]
    if p.returncode != 0:
        raise SystemExit(f"tshark {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    if "Lua" in p.stderr or "rror" in p.stderr:
        Failures.add(f"{os.path.basename(pcap)}: tshark {' '.join(pre)} said {p.stderr.strip()!r}")
    rows = {}
    for line in p.stdout.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(fields) - len(cols))
        row = {f: [] for f in FIELDS}
        row.update({f: (cols[i].split("|") if cols[i] != "" else []) for i, f in enumerate(fields)})
        rows[int(cols[0])] = row
    return rows, p.stderr


def normalise(field, values):
    if field == "addrreg.xid":
        return [str(int(v, 16)) for v in values]
    if field.endswith("_duid"):
        return [v.replace(":", "").lower() for v in values]
    return values


def json_layers(pcap, pre, home):
    """Each frame's layers; without the hidden, empty item every Lua dissector adds (_ws.lua.fake)."""
    p = tshark(pre + ["-r", pcap, "-T", "json"], home)
    layers = [pkt["_source"]["layers"] for pkt in json.loads(p.stdout or "[]")]
    for layer in layers:
        layer.pop("_ws.lua.fake", None)
    return layers


# ---- extra captures made here -----------------------------------------------------------------

def extra_captures(pcaps_dir, outdir):
    sys.path.insert(0, pcaps_dir)
    import pcapgen as g

    cmac, rmac, smac = "02:00:00:aa:00:01", "02:00:00:bb:00:01", "02:00:00:cc:00:01"
    gua, relay, server = "2001:db8:1::100", "2001:db8:1::1", "2001:db8:ffff::1"
    cid = g.opt(g.O_CLIENTID, g.duid_ll(cmac))
    sid = g.opt(g.O_SERVERID, g.duid_llt(0x2F5A3C00, smac))

    def frame(payload, src, dst, sport, dport, vlans=(), hlim=64):
        udp = g.udp6(src, dst, sport, dport, payload)
        return g.ether("33:33:00:01:00:02", cmac, 0x86DD, g.ipv6(src, dst, 17, udp, hlim), vlans)

    def inform(xid, *extra):
        return g.client_msg(36, xid, cid, g.ia_addr(gua, 1800, 3600), *extra)

    def nest(depth, inner, mtype=12):
        msg = inner
        for hop in range(depth):
            msg = g.relay_msg(mtype, hop, relay if hop == 0 else "::",
                              gua if hop == 0 else relay,
                              g.opt(g.O_IFID, b"p%d" % hop), g.opt(g.O_RELAY_MSG, msg))
        return msg

    truncated = g.client_msg(36, 0x100004, cid) + struct.pack("!HH", g.O_IAADDR, 24) + bytes(10)
    status = g.opt(g.O_STATUS, struct.pack("!H", 0) + b"registered")
    reply_status = g.client_msg(37, 0x100005, sid, cid, g.ia_addr(gua, 1800, 3600, status))
    reply_148 = g.client_msg(7, 0x100006, sid, cid, g.opt(g.O_ADDR_REG_ENABLE, b"\0\0"))
    frames = [
        frame(nest(3, inform(0x100001)), relay, server, 547, 547),
        frame(nest(32, inform(0x100002)), relay, server, 547, 547),
        frame(nest(33, inform(0x100003)), relay, server, 547, 547),
        frame(truncated, gua, "ff02::1:2", 546, 547, hlim=1),
        frame(reply_status, server, gua, 547, 546),
        frame(nest(1, reply_148, mtype=13), server, relay, 547, 547),
        frame(inform(0x100007, g.opt(g.O_ORO, g.u16s(23, 148))), gua, "ff02::1:2", 546, 547,
              vlans=((0x8100, 100),), hlim=1),
        frame(b"\x24\x10", gua, "ff02::1:2", 546, 547, hlim=1),  # 2 bytes: truncated header
    ]
    path = os.path.join(outdir, "extra-addrreg.pcap")
    with open(path, "wb") as f:
        f.write(g.pcap_bytes(frames))
    return path


FAKE_NATIVE = """
-- Stands in for a Wireshark whose DHCPv6 dissector names RFC 9686 codes: an item displayed
-- with a name for each code in CODES, in every frame that has a DHCPv6 layer.
local p = Proto("fakenative_%(kind)s", "Stand-in for native RFC 9686 decoding (%(kind)s)")
local f = ProtoField.uint%(bits)s("%(field)s", "stand-in", base.DEC, { [%(code)d] = "%(name)s" })
p.fields = { f }
local d = Field.new("dhcpv6")
function p.dissector(tvb, pinfo, tree)
    if d() then tree:add(f, tvb(0, 1), %(code)d) end
end
register_postdissector(p)
"""


# ---- the checks ------------------------------------------------------------------------------

def compare_fields(name, frames, rows, expectations, reg=True, enable=True):
    checked = 0
    for n, frame in enumerate(frames, 1):
        payload = udp_payload(frame)
        exp, types = expected_frame(payload, reg, enable) if payload is not None else (
            {f: [] for f in ADDRREG_FIELDS}, [])
        got = rows.get(n)
        if got is None:
            Failures.add(f"{name} frame {n}: missing from tshark's output")
            continue
        for f in ADDRREG_FIELDS:
            g = normalise(f, got[f])
            if g != exp[f]:
                Failures.add(f"{name} frame {n}: {f} is {g}, expected {exp[f]}")
            checked += len(exp[f])
        info = got["_ws.col.Info"][0] if got["_ws.col.Info"] else ""
        for t in REG_TYPES:
            if t in types and not reg:
                if NAMES[t] in info:
                    Failures.add(f"{name} frame {n}: Info column {info!r} rewritten anyway")
            elif t in types:
                expectations["reg_frames"] += 1
                if NAMES[t] not in info or f"Message Type {t}" in info:
                    Failures.add(f"{name} frame {n}: Info column {info!r} does not name type {t}")
        if exp["addrreg.relay_depth"] and any(d != "0" for d in exp["addrreg.relay_depth"]):
            expectations["relayed"] += 1
        if exp["addrreg.option148"] or exp["addrreg.oro148"]:
            expectations["opt148"] += 1
    return checked


def main(argv):
    without = "--without-plugin" in argv
    argv = [a for a in argv if a != "--without-plugin"]
    if len(argv) != 3:
        print(__doc__)
        return 2
    plugin, pcaps_dir = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if shutil.which("tshark") is None:
        print("tshark not found: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="regrelay-wireshark-")
    try:
        return run(plugin, pcaps_dir, tmp, without)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(plugin, pcaps_dir, tmp, without):
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    base = ["--disable-protocol", "addrreg"]  # the built-in dissectors alone, even if installed
    with_plugin = ["-X", "lua_script:" + plugin]
    if without:
        with_plugin = base
    folders = tshark(["-G", "folders"], home).stdout
    glob_lua = [l.split("\t")[-1] for l in folders.splitlines() if l.startswith("Global Lua Plugins")]
    installed = glob.glob(os.path.join(glob_lua[0], "**", "regrelay-addrreg.lua"), recursive=True) \
        if glob_lua else []
    if installed and not without:
        # The globally installed copy registers "addrreg" first; -X would clash with it.
        print(f"note: plugin installed at {installed[0]}; testing that copy")
        with open(installed[0], "rb") as a, open(plugin, "rb") as b:
            if a.read() != b.read():
                print("installed plugin differs from the source tree's: skipped")
                return 77
        with_plugin = []

    captures = sorted(glob.glob(os.path.join(pcaps_dir, "*.pcap")))
    captures.append(extra_captures(pcaps_dir, tmp))
    expectations = {"reg_frames": 0, "relayed": 0, "opt148": 0}
    checked = 0
    for pcap in captures:
        name = os.path.basename(pcap)
        frames = pcap_frames(pcap)
        rows, _ = field_rows(pcap, with_plugin, home)
        checked += compare_fields(name, frames, rows, expectations)

        # The plugin only adds: the built-in layers are unchanged, frames without RFC 9686
        # content are unchanged entirely, and no Lua error anywhere.
        plain = json_layers(pcap, base, home)
        plugged = json_layers(pcap, with_plugin, home)
        base_rows, _ = field_rows(pcap, base, home)
        for n, (a, b) in enumerate(zip(plain, plugged), 1):
            if "Lua Error" in json.dumps(b):
                Failures.add(f"{name} frame {n}: Lua error in the tree")
            if a.get("dhcpv6") != b.get("dhcpv6"):
                Failures.add(f"{name} frame {n}: the built-in dhcpv6 layer changed")
            if "addrreg" not in b:
                if a != b:
                    Failures.add(f"{name} frame {n}: layers changed without an addrreg layer")
                if base_rows[n]["_ws.col.Info"] != rows[n]["_ws.col.Info"]:
                    Failures.add(f"{name} frame {n}: Info column changed without an addrreg layer")
            if rows[n]["dhcpv6.msgtype"] != base_rows[n]["dhcpv6.msgtype"]:
                Failures.add(f"{name} frame {n}: dhcpv6.msgtype changed")
        # The tree names the types: "Message type: ADDR-REG-INFORM (36)" once per message.
        want = {t: sum(count_messages(udp_payload(f), t) for f in frames) for t in REG_TYPES}
        if any(want.values()):
            text = tshark(with_plugin + ["-r", pcap, "-V", "-O", "addrreg"], home).stdout
            for t in REG_TYPES:
                got = text.count(f"Message type: {NAMES[t]} ({t})")
                if got != want[t]:
                    Failures.add(f"{name}: {got} tree items name type {t}, expected {want[t]}")
        if name == "solicit.pcap" and (rows[1]["dhcpv6.msgtype"] != ["1"] or
                                       any(rows[1][f] for f in ADDRREG_FIELDS)):
            Failures.add("solicit.pcap: not a plain Solicit (dhcpv6.msgtype 1, no addrreg)")
    # The captures must exercise what the issue asks for, or the comparison proves little.
    for what, minimum in (("reg_frames", 6), ("relayed", 3), ("opt148", 3)):
        if expectations[what] < minimum:
            Failures.add(f"only {expectations[what]} frames of kind {what}, expected >= {minimum}")

    if not without:
        step_aside(plugin, captures, with_plugin, home, tmp)
        plugin_folder(plugin, captures[0], home, tmp, installed)

    print(f"{len(captures)} captures, {checked} field values compared, "
          f"{expectations['reg_frames']} ADDR-REG frames ({expectations['relayed']} relayed), "
          f"{expectations['opt148']} with option 148")
    if Failures.items:
        print(f"{len(Failures.items)} failures")
        return 1
    print("OK")
    return 0


def step_aside(plugin, captures, with_plugin, home, tmp):
    """A stand-in names 36 (or 148) the way a native decoder would: the plugin adds nothing for
    it, and addrreg.step_aside:FALSE brings its fields back."""
    fakes = {}
    for kind, field, bits, code, name in (("msg", "dhcpv6.msgtype", 8, 36, "ADDR-REG-INFORM"),
                                          ("opt", "dhcpv6.option.type", 16, 148, "ADDR_REG_ENABLE")):
        path = os.path.join(tmp, f"fake-native-{kind}.lua")
        with open(path, "w") as f:
            f.write(FAKE_NATIVE % dict(kind=kind, field=field, bits=bits, code=code, name=name))
        fakes[kind] = ["-X", "lua_script:" + path]
    if not with_plugin:  # installed globally: it loads before any -X script, so no stand-in
        print("note: step-aside check needs the plugin loaded after the stand-in: not run")
        return
    runs = (("native 36/37", fakes["msg"], dict(reg=False)),
            ("native 148", fakes["opt"], dict(enable=False)),
            ("native both", fakes["msg"] + fakes["opt"], dict(reg=False, enable=False)),
            ("native both, step_aside off", fakes["msg"] + fakes["opt"] +
             ["-o", "addrreg.step_aside:FALSE"], {}))
    for pcap in captures:
        frames = pcap_frames(pcap)
        if not any(udp_payload(f) is not None and any(expected_frame(udp_payload(f))[0].values())
                   for f in frames):
            continue  # nothing of RFC 9686 in it: the plain run showed the plugin adds nothing
        for what, pre, mode in runs:
            rows, _ = field_rows(pcap, pre + with_plugin, home)
            compare_fields(f"{os.path.basename(pcap)} ({what})", frames, rows,
                           {"reg_frames": 0, "relayed": 0, "opt148": 0}, **mode)


def plugin_folder(plugin, pcap, home, tmp, installed):
    """The file works as an installed plugin: from the personal Lua plugin folder, no -X."""
    if installed:
        return
    home2 = os.path.join(tmp, "home2")
    folders = tshark(["-G", "folders"], home2).stdout
    personal = [l.split("\t")[-1] for l in folders.splitlines()
                if l.startswith("Personal Lua Plugins")][0]
    os.makedirs(personal, exist_ok=True)
    shutil.copy(plugin, personal)
    listed = tshark(["-G", "plugins"], home2).stdout
    if os.path.join(personal, "regrelay-addrreg.lua") not in listed:
        Failures.add(f"plugin not listed by tshark -G plugins from {personal}")
    rows, _ = field_rows(os.path.join(os.path.dirname(pcap), "relay-forward-2.pcap"), [], home2)
    if rows[1]["addrreg.msgtype"] != ["36"]:
        Failures.add("plugin from the personal folder did not decode relay-forward-2.pcap")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
