#!/usr/bin/python3
"""An RFC 9686 address registration client for tests and labs (one address, one transaction).

    regclient.py --iface IF --address ADDR [--duid HEX] [--timeout-first 1] [--max-retransmit 3]
                 [--max-rt 0] [--log FILE] [--fqdn NAME] [--release]

Sends ADDR-REG-INFORM (type 36) for ADDR, from ADDR itself (UDP [ADDR]:546 to [ff02::1:2%IF]:547),
with a Client Identifier (option 1: --duid, else DUID-LL of IF's MAC) and exactly one IA Address
option (5) carrying the address's current preferred and valid lifetimes (from
`ip -6 -j addr show dev IF`); no Option Request option, no Server Identifier (RFC 9686 §4.2).
--fqdn NAME adds a Client FQDN option (39, RFC 4704: flags 0, NAME in DNS wire format; fully
qualified when NAME ends with '.', else a partial name). --release sends preferred and valid
lifetime 0 (the address is no longer used; RFC 9686 §4.2).

Retransmits per RFC 8415 §15 with the RFC 9686 §4.5 defaults (IRT 1 s, MRC 3, no MRT/MRD unless
given): the same transaction-id every time, the lifetimes re-read before each transmission so they
match the address's current ones. Stops on an ADDR-REG-REPLY (type 37) that passes the client
checks of RFC 9686 §4.3: sent to ADDR, received on IF while ADDR is still assigned to it, same
transaction-id, and an IA Address option for ADDR identical to one this client sent in the
transaction (a reply to an earlier transmission carries that transmission's lifetimes). Anything
else is discarded and reported.

Output (stdout, and appended to --log FILE), one line per event:
    sent xid=0x3a1b2c attempt=1 address=2001:db8:1::100 preferred=3600 valid=7200 iface=eth0 timeout=1.043
    discarded reason=xid-mismatch xid=0x000001 from=2001:db8:1::1 ...
    registered address=2001:db8:1::100 xid=0x3a1b2c attempt=1 from=2001:db8:1::1 server-duid=...
    gave-up address=2001:db8:1::100 xid=0x3a1b2c attempts=4

attempt=N counts the transmissions made so far (a reply may answer an earlier one: same xid).

Exit status: 0 registered, 1 gave up (or the address went away), 2 usage or setup error.
"""

import argparse
import ipaddress
import json
import os
import random
import secrets
import select
import socket
import struct
import subprocess
import sys
import time

ADDR_REG_INFORM, ADDR_REG_REPLY = 36, 37
OPT_CLIENTID, OPT_SERVERID, OPT_IAADDR, OPT_CLIENT_FQDN = 1, 2, 5, 39
PORT_CLIENT, PORT_SERVER = 546, 547
ALL_DHCP_RELAY_AGENTS_AND_SERVERS = "ff02::1:2"
IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "ip"
INFINITY = 0xFFFFFFFF


class Fatal(Exception):
    pass


def opt(code, data=b""):
    return struct.pack("!HH", code, len(data)) + data


def fqdn_option(name):
    """Client FQDN option 39 (RFC 4704 §4.2): flags 0, the name in DNS wire format."""
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    if not name or any(not 0 < len(label.encode()) <= 63 for label in labels):
        raise Fatal(f"--fqdn {name}: not a domain name")
    wire = b"".join(bytes([len(label.encode())]) + label.encode() for label in labels)
    return opt(OPT_CLIENT_FQDN, b"\x00" + wire + (b"\x00" if name.endswith(".") else b""))


def parse_options(data):
    out, i = [], 0
    while i < len(data):
        if i + 4 > len(data):
            raise ValueError(f"option header truncated at offset {i}")
        code, ln = struct.unpack_from("!HH", data, i)
        if i + 4 + ln > len(data):
            raise ValueError(f"option {code} at offset {i} runs past the end")
        out.append((code, data[i + 4:i + 4 + ln]))
        i += 4 + ln
    return out


def ip_json(*args):
    r = subprocess.run([IP, "-j", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise Fatal(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return json.loads(r.stdout or "[]")


def link_info(iface):
    links = ip_json("link", "show", "dev", iface)
    if not links:
        raise Fatal(f"{iface}: no such interface")
    return links[0]


def current_lifetimes(iface, address):
    """(preferred, valid) of address on iface now, or None when it is not assigned there."""
    for link in ip_json("-6", "addr", "show", "dev", iface):
        for a in link.get("addr_info", []):
            if a.get("family") == "inet6" and ipaddress.ip_address(a["local"]) == address:
                if "tentative" in a and a["tentative"]:
                    return None
                pref = int(a.get("preferred_life_time", INFINITY))
                valid = int(a.get("valid_life_time", INFINITY))
                return min(pref, INFINITY), min(valid, INFINITY)
    return None


class Client:
    def __init__(self, args):
        self.args = args
        self.logf = open(args.log, "a") if args.log else None
        self.iface = args.iface
        try:
            self.address = ipaddress.IPv6Address(args.address)
        except ValueError:
            raise Fatal(f"--address {args.address}: not an IPv6 address")
        if self.address.is_link_local or self.address.is_multicast or self.address.is_unspecified \
                or self.address.is_loopback:
            # RFC 9686 §4.2: only valid addresses of global scope (ULAs included) are registered.
            raise Fatal(f"--address {self.address}: not a global-scope unicast address")
        link = link_info(self.iface)
        self.ifindex = int(link["ifindex"])
        if args.duid:
            try:
                self.duid = bytes.fromhex(args.duid.replace(":", ""))
            except ValueError:
                raise Fatal(f"--duid {args.duid}: not hex")
            if not 2 < len(self.duid) <= 130:
                raise Fatal(f"--duid {args.duid}: a DUID has 3 to 130 bytes")
        else:
            mac = link.get("address", "")
            if link.get("link_type") != "ether" or not mac:
                raise Fatal(f"{self.iface}: no Ethernet MAC for a DUID-LL; give --duid")
            self.duid = b"\x00\x03\x00\x01" + bytes.fromhex(mac.replace(":", ""))  # DUID-LL, hwtype 1
        if current_lifetimes(self.iface, self.address) is None:
            raise Fatal(f"{self.address} is not a (non-tentative) address of {self.iface}")
        self.xid = secrets.randbits(24)
        self.sent_ia = []  # every IA Address option sent in this transaction, as bytes
        self.fqdn = fqdn_option(args.fqdn) if args.fqdn is not None else b""
        self.sock = self._socket()

    def say(self, line):
        print(line, flush=True)
        if self.logf:
            self.logf.write(line + "\n")
            self.logf.flush()

    def _socket(self):
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        # RFC 9686 §4.2: sent from the address being registered (fate sharing).
        deadline = time.monotonic() + 3
        while True:
            try:
                s.bind((str(self.address), PORT_CLIENT, 0, 0))
                return s
            except OSError as e:
                if time.monotonic() > deadline:
                    raise Fatal(f"bind [{self.address}]:{PORT_CLIENT}: {e.strerror}")
                time.sleep(0.1)  # still tentative (DAD)

    def inform(self, lifetimes):
        pref, valid = lifetimes
        ia = opt(OPT_IAADDR, socket.inet_pton(socket.AF_INET6, str(self.address)) + struct.pack("!II", pref, valid))
        self.sent_ia.append(ia)
        return bytes([ADDR_REG_INFORM]) + self.xid.to_bytes(3, "big") + opt(OPT_CLIENTID, self.duid) + ia + self.fqdn

    def run(self):
        a = self.args
        rt = None
        attempt = 0
        while attempt <= a.max_retransmit:
            lifetimes = current_lifetimes(self.iface, self.address)
            if lifetimes is None:
                self.say(f"gave-up address={self.address} xid=0x{self.xid:06x} attempts={attempt} "
                         f"reason=address-gone")
                return 1
            attempt += 1
            # RFC 8415 §15: RT = IRT + RAND*IRT, then RT = 2*RTprev + RAND*RTprev (capped by MRT).
            rand = random.uniform(-0.1, 0.1)
            rt = a.timeout_first * (1 + rand) if rt is None else 2 * rt + rand * rt
            if a.max_rt and rt > a.max_rt:
                rt = a.max_rt * (1 + rand)
            if a.release:
                lifetimes = (0, 0)
            msg = self.inform(lifetimes)
            self.sock.sendto(msg, (ALL_DHCP_RELAY_AGENTS_AND_SERVERS, PORT_SERVER, 0, self.ifindex))
            self.say(f"sent xid=0x{self.xid:06x} attempt={attempt} address={self.address} "
                     f"preferred={lifetimes[0]} valid={lifetimes[1]} iface={self.iface} timeout={rt:.3f}")
            if self.wait(time.monotonic() + rt, attempt):
                return 0
        self.say(f"gave-up address={self.address} xid=0x{self.xid:06x} attempts={attempt}")
        return 1

    def wait(self, deadline, attempt):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
            data, anc, _, src = self.sock.recvmsg(65535, socket.CMSG_SPACE(20))
            dst, ifindex = None, None
            for level, typ, val in anc:
                if level == socket.IPPROTO_IPV6 and typ == socket.IPV6_PKTINFO and len(val) >= 20:
                    dst = ipaddress.IPv6Address(val[:16])
                    ifindex = struct.unpack("=I", val[16:20])[0]
            why, duid = self.check(data, dst, ifindex)
            peer = src[0].split("%")[0]
            if why:
                xid = f"0x{int.from_bytes(data[1:4], 'big'):06x}" if len(data) >= 4 else "-"
                self.say(f"discarded reason={why} type={data[0] if data else '-'} xid={xid} from={peer} "
                         f"port={src[1]} to={dst}")
                continue
            self.say(f"registered address={self.address} xid=0x{self.xid:06x} attempt={attempt} "
                     f"from={peer} server-duid={duid.hex() if duid else '-'}")
            return True

    def check(self, data, dst, ifindex):
        """(reason to discard or None, server DUID)."""
        if len(data) < 4:
            return "truncated", None
        if data[0] == ADDR_REG_INFORM:
            return "addr-reg-inform", None  # §4.2: clients MUST discard ADDR-REG-INFORM
        if data[0] != ADDR_REG_REPLY:
            return "not-addr-reg-reply", None
        if int.from_bytes(data[1:4], "big") != self.xid:
            return "xid-mismatch", None
        if dst is None or dst != self.address:
            return "destination-mismatch", None
        if ifindex != self.ifindex:
            return "wrong-interface", None
        try:
            opts = parse_options(data[4:])
        except ValueError:
            return "malformed", None
        ias = [opt(c, v) for c, v in opts if c == OPT_IAADDR]
        if not ias:
            return "no-ia-address", None
        if len(ias) > 1:
            return "multiple-ia-address", None
        if len(ias[0]) < 4 + 24 or ipaddress.IPv6Address(ias[0][4:20]) != self.address:
            return "ia-address-mismatch", None
        if ias[0] not in self.sent_ia:
            return "ia-address-not-identical", None
        if current_lifetimes(self.iface, self.address) is None:
            return "address-not-on-interface", None
        sid = [v for c, v in opts if c == OPT_SERVERID]
        return None, (sid[0] if sid else None)


def main():
    p = argparse.ArgumentParser(description="RFC 9686 ADDR-REG-INFORM client (one address).")
    p.add_argument("--iface", required=True, help="interface holding the address")
    p.add_argument("--address", required=True, help="the global or ULA address to register")
    p.add_argument("--duid", help="client DUID in hex (default: DUID-LL of the interface MAC)")
    p.add_argument("--timeout-first", type=float, default=1.0, help="IRT in seconds (default 1)")
    p.add_argument("--max-retransmit", type=int, default=3, help="MRC: retransmissions at most (default 3)")
    p.add_argument("--max-rt", type=float, default=0.0, help="MRT in seconds, 0 for none (default 0)")
    p.add_argument("--log", help="also append every output line to FILE")
    p.add_argument("--fqdn", help="add a Client FQDN option 39 naming the host (NAME. fully qualified, else partial)")
    p.add_argument("--release", action="store_true", help="send lifetimes 0: release the registration")
    args = p.parse_args()
    if args.timeout_first <= 0 or args.max_retransmit < 0 or args.max_rt < 0:
        p.error("--timeout-first must be > 0, --max-retransmit and --max-rt >= 0")
    try:
        return Client(args).run()
    except Fatal as e:
        print(f"regclient: {e}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
