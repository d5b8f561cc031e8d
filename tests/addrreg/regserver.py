#!/usr/bin/python3
"""An RFC 9686 address registration server (§4.2.1, §4.3) for tests and labs.

    regserver.py [--iface IF ...] [--duid HEX] [--prefix P ...] [--log FILE] [--port 547]

Listens on [::]:547 (joining ff02::1:2 on each --iface, for clients on the server's own link) and
takes ADDR-REG-INFORM (type 36) either directly or inside Relay-forward messages nested to any
depth (option 9). It discards, and logs with the reason, an ADDR-REG-INFORM that
  - has no Client Identifier (option 1)                         reason=no-client-id
  - has a Server Identifier (option 2)                          reason=server-id-present
  - has no IA Address option (5), or more than one              reason=no-ia-address / multiple-ia-address
  - registers an address other than the original source: the
    packet's source when not relayed, the innermost
    Relay-forward's peer-address when relayed                   reason=address-mismatch
  - has an Option Request option (6)                            reason=oro-present
  - (with --prefix) registers an address in none of them        reason=not-appropriate-to-link
and malformed messages (reason=malformed ...). ADDR-REG-REPLY and other message types are ignored
(reason=ignored-type). Otherwise it records the binding (DUID <-> address, lifetime = the valid
lifetime; valid lifetime 0 removes it), logs one line per registration:

    binding address=2001:db8:1::100 duid=0003000102... mac=02:00:00:00:00:01 interface-id=sw0
        link-address=2001:db8:1::1 lifetime=7200 preferred=3600 xid=0x3a1b2c relay-levels=1
        source=2001:db8:ffff::2

(on one line, after one "level n=K xid=.. hop=.. link=.. peer=.. interface-id=.. mac=.." line per
Relay-forward level, outermost first; mac is option 79 of the innermost relay level that has one, interface-id option 18
of the innermost level that has one, link-address the innermost non-:: one; "-" when absent) and
answers with ADDR-REG-REPLY (type 37): the same transaction-id, its Server Identifier, the Client
Identifier and the IA Address option byte for byte as received. Unrelayed, the reply goes to the
source address (the registered address), port 546. Relayed, it is wrapped in Relay-reply messages
level by level (RFC 8415 §19.3: each level's hop-count, link-address and peer-address, its
Interface-ID option and any options its Echo Request option (43) asks for) and sent to the source
address of the Relay-forward, port 547.

Every line goes to stdout and, with --log, is appended to FILE. "listening ..." is printed once
the socket is ready. SIGTERM/SIGINT stop it (exit 0).
"""

import argparse
import ipaddress
import signal
import socket
import struct
import sys
import time

ADDR_REG_INFORM, ADDR_REG_REPLY, RELAY_FORW, RELAY_REPL = 36, 37, 12, 13
OPT_CLIENTID, OPT_SERVERID, OPT_IAADDR, OPT_ORO = 1, 2, 5, 6
OPT_RELAY_MSG, OPT_INTERFACE_ID, OPT_ERO, OPT_CLIENT_LINKLAYER = 9, 18, 43, 79
PORT_CLIENT, PORT_SERVER = 546, 547
MAX_LEVELS = 32  # relays stop at hop-count 8 (RFC 8415 §7.6), so 9 levels; a looser bound, for tests
MSG_NAMES = {1: "SOLICIT", 2: "ADVERTISE", 3: "REQUEST", 4: "CONFIRM", 5: "RENEW", 6: "REBIND", 7: "REPLY",
             8: "RELEASE", 9: "DECLINE", 10: "RECONFIGURE", 11: "INFORMATION-REQUEST", 12: "RELAY-FORW",
             13: "RELAY-REPL", 36: "ADDR-REG-INFORM", 37: "ADDR-REG-REPLY"}


class Discard(Exception):
    """Why a message is not answered; `fields` are logged as key=value."""

    def __init__(self, reason, **fields):
        super().__init__(reason)
        self.reason, self.fields = reason, fields

    def text(self):
        return " ".join(f"{k.replace('_', '-')}={str(v).replace(' ', '_')}" for k, v in self.fields.items())


def opt(code, data=b""):
    return struct.pack("!HH", code, len(data)) + data


def parse_options(data):
    out, i = [], 0
    while i < len(data):
        if i + 4 > len(data):
            raise Discard("malformed", why=f"option header truncated at offset {i}")
        code, ln = struct.unpack_from("!HH", data, i)
        if i + 4 + ln > len(data):
            raise Discard("malformed", why=f"option {code} at offset {i} runs past the end")
        out.append((code, data[i + 4:i + 4 + ln]))
        i += 4 + ln
    return out


def find(opts, code):
    return [v for c, v in opts if c == code]


def a6(raw):
    return ipaddress.IPv6Address(raw)


def text_or_hex(b):
    try:
        s = b.decode("ascii")
        if s and s.isprintable() and " " not in s:
            return s
    except UnicodeDecodeError:
        pass
    return "0x" + b.hex()


class Level:
    """One Relay-forward level: hop-count, link-address, peer-address and its options."""

    def __init__(self, data):
        if len(data) < 34:
            raise Discard("malformed", why=f"Relay-forward of {len(data)} bytes")
        self.hop = data[1]
        self.link = a6(data[2:18])
        self.peer = a6(data[18:34])
        self.options = parse_options(data[34:])

    def echo_options(self):
        """What RFC 8415 §19.3 / RFC 4994 put back in the Relay-reply besides option 9."""
        out = [opt(OPT_INTERFACE_ID, v) for v in find(self.options, OPT_INTERFACE_ID)[:1]]
        for ero in find(self.options, OPT_ERO)[:1]:
            for i in range(0, len(ero) - 1, 2):
                code = int.from_bytes(ero[i:i + 2], "big")
                if code in (OPT_RELAY_MSG, OPT_INTERFACE_ID):
                    continue
                out += [opt(code, v) for v in find(self.options, code)[:1]]
        return out


class Server:
    def __init__(self, args):
        self.args = args
        self.logf = open(args.log, "a") if args.log else None
        self.duid = bytes.fromhex(args.duid.replace(":", ""))
        self.prefixes = [ipaddress.IPv6Network(p, strict=False) for p in args.prefix]
        self.bindings = {}  # address -> (duid, expiry monotonic)
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        self.sock.bind(("::", args.port))
        for ifname in args.iface:
            idx = socket.if_nametoindex(ifname)
            mreq = socket.inet_pton(socket.AF_INET6, "ff02::1:2") + struct.pack("=I", idx)
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)

    def say(self, line):
        print(line, flush=True)
        if self.logf:
            self.logf.write(line + "\n")
            self.logf.flush()

    def serve(self):
        groups = "".join(f" ff02::1:2%{i}" for i in self.args.iface)
        self.say(f"listening [::]:{self.args.port}{groups} duid={self.duid.hex()}")
        while True:
            data, anc, _, src = self.sock.recvmsg(65535, socket.CMSG_SPACE(20))
            ifindex = 0
            for level, typ, val in anc:
                if level == socket.IPPROTO_IPV6 and typ == socket.IPV6_PKTINFO and len(val) >= 20:
                    ifindex = struct.unpack("=I", val[16:20])[0]
            source = ipaddress.IPv6Address(src[0].split("%")[0])
            try:
                self.handle(data, source, src[1], ifindex)
            except Discard as d:
                extra = d.text()
                self.say(f"discard reason={d.reason} source={source} port={src[1]}" + (" " + extra if extra else ""))

    def handle(self, data, source, sport, ifindex):
        if len(data) < 4:
            raise Discard("malformed", why=f"{len(data)} bytes")
        levels = []
        msg = data
        while msg[0] == RELAY_FORW:
            if len(levels) >= MAX_LEVELS:
                raise Discard("malformed", why="too many relay levels")
            lv = Level(msg)
            inner = find(lv.options, OPT_RELAY_MSG)
            if len(inner) != 1 or len(inner[0]) < 4:
                raise Discard("malformed", why="Relay-forward without exactly one usable option 9")
            levels.append(lv)
            msg = inner[0]
        mtype = msg[0]
        xid = int.from_bytes(msg[1:4], "big")
        if mtype != ADDR_REG_INFORM:
            # ADDR-REG-REPLY: servers MUST ignore (§4.3). Anything else: not ours to answer here.
            raise Discard("ignored-type", type=MSG_NAMES.get(mtype, mtype), xid=f"0x{xid:06x}",
                          relay_levels=len(levels))
        try:
            self.inform(msg, xid, levels, source, sport, ifindex)
        except Discard as d:
            d.fields = {"type": MSG_NAMES[mtype], "xid": f"0x{xid:06x}", "relay_levels": len(levels), **d.fields}
            raise

    def inform(self, msg, xid, levels, source, sport, ifindex):
        opts = parse_options(msg[4:])
        client_ids = find(opts, OPT_CLIENTID)
        if not client_ids:
            raise Discard("no-client-id")
        if find(opts, OPT_SERVERID):
            raise Discard("server-id-present")
        ias = [(c, v) for c, v in opts if c == OPT_IAADDR]
        if not ias:
            raise Discard("no-ia-address")
        if len(ias) > 1:
            raise Discard("multiple-ia-address", count=len(ias))
        ia = ias[0][1]
        if len(ia) < 24:
            raise Discard("malformed", why=f"IA Address option of {len(ia)} bytes")
        address = a6(ia[:16])
        preferred, valid = struct.unpack("!II", ia[16:24])
        # §4.2.1: the original source is the packet's source, or the innermost peer-address.
        original = levels[-1].peer if levels else source
        if address != original:
            raise Discard("address-mismatch", ia_address=address, original_source=original)
        if find(opts, OPT_ORO):
            raise Discard("oro-present")
        if self.prefixes and not any(address in p for p in self.prefixes):
            raise Discard("not-appropriate-to-link", address=address)

        duid = client_ids[0]
        mac = "-"
        for lv in reversed(levels):  # innermost first
            ll = find(lv.options, OPT_CLIENT_LINKLAYER)
            if ll and len(ll[0]) > 2:
                mac = ":".join(f"{b:02x}" for b in ll[0][2:])
                break
        ifid = next((text_or_hex(v[0]) for lv in reversed(levels) if (v := find(lv.options, OPT_INTERFACE_ID))),
                    "-")
        link = next((str(lv.link) for lv in reversed(levels) if not lv.link.is_unspecified), "-")

        for n, lv in enumerate(levels):  # outermost (nearest the server) first
            lmac = find(lv.options, OPT_CLIENT_LINKLAYER)
            lifid = find(lv.options, OPT_INTERFACE_ID)
            self.say(f"level n={n} xid=0x{xid:06x} hop={lv.hop} link={lv.link} peer={lv.peer} "
                     f"interface-id={text_or_hex(lifid[0]) if lifid else '-'} "
                     f"mac={':'.join(f'{x:02x}' for x in lmac[0][2:]) if lmac and len(lmac[0]) > 2 else '-'}")
        now = time.monotonic()
        old = self.bindings.get(address)
        if old and old[0] != duid and old[1] > now:
            self.say(f"rebind address={address} old-duid={old[0].hex()} new-duid={duid.hex()}")
        if valid == 0:
            self.bindings.pop(address, None)
        else:
            self.bindings[address] = (duid, now + valid)
        self.say(f"{'binding' if valid else 'release'} address={address} duid={duid.hex()} mac={mac} "
                 f"interface-id={ifid} link-address={link} lifetime={valid} preferred={preferred} "
                 f"xid=0x{xid:06x} relay-levels={len(levels)} source={source}")

        # §4.3: ADDR-REG-REPLY, same xid, IA Address option identical to the one received.
        reply = bytes([ADDR_REG_REPLY]) + xid.to_bytes(3, "big") + opt(OPT_SERVERID, self.duid) + \
            opt(OPT_CLIENTID, duid) + opt(OPT_IAADDR, ia)
        if not levels:
            dst, dport = address, PORT_CLIENT
            out = reply
        else:
            out = reply
            for lv in reversed(levels):  # innermost level wraps first (RFC 8415 §19.3)
                out = bytes([RELAY_REPL, lv.hop]) + lv.link.packed + lv.peer.packed + \
                    b"".join(lv.echo_options()) + opt(OPT_RELAY_MSG, out)
            dst, dport = source, PORT_SERVER
        scope = ifindex if dst.is_link_local else 0
        self.sock.sendto(out, (str(dst), dport, 0, scope))
        self.say(f"reply xid=0x{xid:06x} address={address} to={dst} port={dport} relay-levels={len(levels)}")


def main():
    p = argparse.ArgumentParser(description="RFC 9686 address registration server (test/lab).")
    p.add_argument("--iface", action="append", default=[], help="join ff02::1:2 on IF (repeatable)")
    p.add_argument("--duid", default="000300010200000053ff", help="server DUID, hex (default DUID-LL 02:00:00:00:53:ff)")
    p.add_argument("--prefix", action="append", default=[],
                   help="accept only addresses in these prefixes (repeatable; default: any)")
    p.add_argument("--log", help="also append every output line to FILE")
    p.add_argument("--port", type=int, default=PORT_SERVER, help="UDP port (default 547)")
    args = p.parse_args()
    try:
        bytes.fromhex(args.duid.replace(":", ""))
        for pf in args.prefix:
            ipaddress.IPv6Network(pf, strict=False)
    except ValueError as e:
        p.error(str(e))

    def stop(signo, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        Server(args).serve()
    except OSError as e:
        print(f"regserver: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
