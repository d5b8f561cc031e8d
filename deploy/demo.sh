#!/usr/bin/env bash
# `make demo`: regrelay live, in a network-namespace lab (deploy/demo_lab.py, docs/lab.md):
#
#   client ── switch (bridge + regrelay snoop) ── router (regrelay relay) ── servers (Kea, regrelay registrar)
#
# one DHCPv6 lease (dhclient -6 ↔ Kea) and one RFC 9686 address registration (regclient ↔ regrelay
# registrar), what crossed each hop decoded by `regrelay decode`, the registrar's log line and
# `regrelay who-had` on its database, then the lab is removed (also on Ctrl-C). Needs root;
# without root, or where `ip netns` is not usable, it says so in one line and replays the bundled
# captures instead (replay_demo below).
#
#   deploy/demo.sh [BUILD_DIR] [--replay]      --replay: the capture replay even as root
set -euo pipefail
BUILD=build
FORCE_REPLAY=
for arg in "$@"; do
  case "$arg" in
    --replay) FORCE_REPLAY=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) BUILD=$arg ;;
  esac
done
cd "$(dirname "$0")/.."
R="$BUILD/cli/regrelay"
if [ ! -x "$R" ]; then
  echo "demo: $R not found: build first (make demo builds it)" >&2
  exit 2
fi

hr() { printf '\n== %s\n' "$*"; }

# The fallback: regrelay's main job on the bundled captures. Decodes what a client sends, runs it
# through the relay engine exactly as live mode would (`regrelay replay`), and decodes what the
# relay sends: every message relayed with the client's MAC in option 79, ADDR-REG-INFORM included.
replay_demo() {
  out=$(mktemp -d)  # global: the EXIT trap runs after this function has returned
  trap 'rm -rf "$out"' EXIT

  hr "What clients send (pcaps/solicit.pcap, pcaps/addr-reg-inform.pcap, pcaps/unknown.pcap)"
  for f in solicit addr-reg-inform unknown; do "$R" decode "pcaps/$f.pcap" 2>/dev/null; done

  local relay_opts=(--client-iface eth1 --link-address eth1=2001:db8:1::1 --server 2001:db8:ffff::1
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
    # HOME: a private, empty profile (tshark 4.0 crashes with -T fields when it cannot read the
    # profile under an inherited HOME, e.g. /root after setpriv). An optional check: never fatal.
    for f in solicit addr-reg-inform unknown; do
      if ! HOME="$out" tshark -r "$out/$f-relayed.pcap" -T fields -e ipv6.dst -e dhcpv6.msgtype -e dhcpv6.hopcount \
             -e dhcpv6.linkaddr -e dhcpv6.peeraddr -e dhcpv6.option.type 2>/dev/null | sed 's/^/  /'; then
        echo "  (tshark failed on $f-relayed.pcap; skipped)"
      fi
    done
  fi

  hr "Malformed input is reported and decoding goes on (pcaps/malformed.pcap)"
  "$R" decode pcaps/malformed.pcap 2>&1 | head -12
}

# Sets `why` to the reason the live lab cannot run here (empty: it can). The probe's name follows
# tests/netns/lib.py's pattern (PREFIX-PID-HEX-ROLE): a probe left by a SIGKILLed run is reaped by
# the next lab, and a signal during the probe removes it.
check_lab() {
  why=
  if [ "$(id -u)" -ne 0 ]; then why="not root"; return; fi
  if ! command -v ip >/dev/null; then why="no 'ip' command (iproute2)"; return; fi
  if [ ! -x /usr/bin/python3 ]; then why="no /usr/bin/python3"; return; fi
  local probe="rrdemo-$$-0-probe" err
  trap 'ip netns del "'"$probe"'" 2>/dev/null; exit 130' INT
  trap 'ip netns del "'"$probe"'" 2>/dev/null; exit 143' TERM
  if ! err=$(ip netns add "$probe" 2>&1); then
    why="'ip netns add' fails: ${err:-unknown error}"
  else
    ip netns del "$probe" 2>/dev/null || true
  fi
  trap - INT TERM
}

if [ -n "$FORCE_REPLAY" ]; then
  replay_demo
  exit 0
fi
check_lab
if [ -n "$why" ]; then
  echo "demo: the live namespace lab needs root and network namespaces ($why): replaying the bundled captures instead."
  replay_demo
  exit 0
fi
exec /usr/bin/python3 deploy/demo_lab.py "$R"
