#!/usr/bin/env bash
# `make demo`: regrelay's main job on the bundled captures. Decodes what a client sends, runs it
# through the relay engine exactly as live mode would (`regrelay replay`), and decodes what the
# relay sends: every message relayed with the client's MAC in option 79, ADDR-REG-INFORM included.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
R="$BUILD/cli/regrelay"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

hr() { printf '\n== %s\n' "$*"; }

hr "What clients send (pcaps/solicit.pcap, pcaps/addr-reg-inform.pcap, pcaps/unknown.pcap)"
for f in solicit addr-reg-inform unknown; do "$R" decode "pcaps/$f.pcap" 2>/dev/null; done

relay_opts=(--client-iface eth1 --link-address eth1=2001:db8:1::1 --server 2001:db8:ffff::1
            --source-address 2001:db8:ffff::2)
hr "regrelay replay ${relay_opts[*]}"
for f in solicit addr-reg-inform unknown; do
  "$R" replay --in "pcaps/$f.pcap" --out "$out/$f-relayed.pcap" "${relay_opts[@]}" --log-level info 2>&1 |
    grep -E 'ADDR-REG-INFORM|replayed' || true
done

hr "What the relay sends to the server (decoded by regrelay decode -v)"
for f in solicit addr-reg-inform unknown; do "$R" decode -v "$out/$f-relayed.pcap" 2>/dev/null; done

if command -v tshark >/dev/null; then
  hr "The same, decoded independently by tshark (dst, msgtypes, hop-count, link, peer, option codes)"
  for f in solicit addr-reg-inform unknown; do
    tshark -r "$out/$f-relayed.pcap" -T fields -e ipv6.dst -e dhcpv6.msgtype -e dhcpv6.hopcount \
      -e dhcpv6.linkaddr -e dhcpv6.peeraddr -e dhcpv6.option.type 2>/dev/null | sed 's/^/  /'
  done
fi

hr "Malformed input is reported and decoding goes on (pcaps/malformed.pcap)"
"$R" decode pcaps/malformed.pcap 2>&1 | head -12
