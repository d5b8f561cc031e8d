#!/bin/bash
# "cond && pass ... || fail ..." is safe here: pass only echoes and always succeeds.
# shellcheck disable=SC2015
# `regrelay replay` on captures made here: the ADDR-REG-INFORM info line names the IA Addresses
# the message carries (all of them; "no IA Address" when it has none), never the source address
# in their place; well-formed frames that are not DHCPv6 are counted not-dhcpv6, not bad-frame.
#
#   replay_cli.sh REGRELAY_BINARY PCAPS_DIR
set -u

BIN=$1
PCAPS=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
CHECKS=0

pass() { CHECKS=$((CHECKS + 1)); echo "ok   $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }
expect_line() {
    if grep -Eq -- "$2" "$1"; then pass "$3"; else fail "$3: no line matches /$2/ in:"; sed 's/^/     | /' "$1"; fi
}

# Three ADDR-REG-INFORMs from fe80::ff:feaa:1 to ff02::1:2: two IA Addresses, none, one.
/usr/bin/python3 - "$PCAPS" "$TMP/reg.pcap" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from pcapgen import *
C_MAC, C_LL = "02:00:00:aa:00:01", "fe80::ff:feaa:1"
def inform(xid, *ias):
    msg = client_msg(36, xid, opt(O_CLIENTID, duid_ll(C_MAC)), *ias)
    return ether(mcast_mac("ff02::1:2"), C_MAC, 0x86DD,
                 ipv6(C_LL, "ff02::1:2", 17, udp6(C_LL, "ff02::1:2", CLIENT, SERVER, msg), 1))
frames = [inform(0x3a0001, ia_addr("2001:db8:1::100", 3600, 7200), ia_addr("2001:db8:1::101", 3600, 7200)),
          inform(0x3a0002),
          inform(0x3a0003, ia_addr("2001:db8:1::102", 3600, 7200))]
open(sys.argv[2], "wb").write(pcap_bytes(frames))
PY
"$BIN" replay --in "$TMP/reg.pcap" --out "$TMP/out.pcap" --server 2001:db8:ffff::1 \
    --link-address client0=2001:db8:1::1 --log-level info >"$TMP/stdout" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] && pass "replay of three ADDR-REG-INFORMs: exit 0" || fail "replay: exit $rc: $(cat "$TMP/err")"
expect_line "$TMP/err" ' info ADDR-REG-INFORM address 2001:db8:1::100,2001:db8:1::101 mac 02:00:00:aa:00:01 duid 00030001020000aa0001 interface client0 source fe80::ff:feaa:1 xid 0x3a0001$' \
    "two IA Addresses: both named"
expect_line "$TMP/err" ' info ADDR-REG-INFORM no IA Address mac 02:00:00:aa:00:01 duid 00030001020000aa0001 interface client0 source fe80::ff:feaa:1 xid 0x3a0002$' \
    "no IA Address: said so, not the source address in its place"
expect_line "$TMP/err" ' info ADDR-REG-INFORM address 2001:db8:1::102 mac .* xid 0x3a0003$' "one IA Address"
n=$(grep -c 'ADDR-REG-INFORM address fe80' "$TMP/err")
[ "$n" = 0 ] && pass "no line gives the source address as the registered one" ||
    fail "$n lines give the source address as the registered address"

# mixed.pcap: an ICMPv6 Router Solicitation, an IPv4 DNS query and an IPv6 syslog datagram among
# DHCPv6 frames; and an ARP frame and a truncated frame (a bad frame) written here.
"$BIN" replay --in "$PCAPS/mixed.pcap" --out "$TMP/out.pcap" --log-level debug >"$TMP/stdout" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] && pass "replay mixed.pcap: exit 0" || fail "replay mixed.pcap: exit $rc: $(cat "$TMP/err")"
expect_line "$TMP/err" '^client0: received 5 .* drops not-server-port=1 not-dhcpv6=3$' \
    "mixed.pcap: ICMPv6, IPv4 and UDP to port 514 counted not-dhcpv6, none bad-frame"
n=$(grep -c 'drop frame on client0: not-dhcpv6' "$TMP/err")
[ "$n" = 3 ] && pass "mixed.pcap: three debug lines 'not-dhcpv6'" || fail "mixed.pcap: $n not-dhcpv6 debug lines, want 3"
/usr/bin/python3 - "$PCAPS" "$TMP/arp.pcap" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1])
from pcapgen import *
arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac("02:00:00:aa:00:01") + bytes([192, 0, 2, 10]) + bytes(10)
frames = [ether("ff:ff:ff:ff:ff:ff", "02:00:00:aa:00:01", 0x0806, arp),
          ether("33:33:00:01:00:02", "02:00:00:aa:00:01", 0x86DD, bytes([0x60, 0, 0]))]
open(sys.argv[2], "wb").write(pcap_bytes(frames))
PY
"$BIN" replay --in "$TMP/arp.pcap" --out "$TMP/out.pcap" >"$TMP/stdout" 2>"$TMP/err"
expect_line "$TMP/err" '^client0: received 2 .* drops bad-frame=1 not-dhcpv6=1$' \
    "ARP is not-dhcpv6; a truncated IPv6 header stays bad-frame"

echo "$((CHECKS - FAILS))/$CHECKS checks passed"
[ $FAILS -eq 0 ]
