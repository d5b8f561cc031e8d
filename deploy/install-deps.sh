#!/usr/bin/env bash
# Installs every Debian package that building, testing, benchmarking and the demo need.
# Idempotent and non-interactive: it installs only what is missing.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake ninja-build pkg-config
  libpcap-dev libnet1-dev libboost-program-options-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev libnftables-dev libmnl-dev libcap-ng-dev
  libsystemd-dev libmicrohttpd-dev
  # packaging, man pages, unit checks
  debhelper dpkg-dev fakeroot lintian scdoc bash-completion systemd logrotate strace
  # fuzzing (clang's libFuzzer and sanitizer runtimes)
  clang libclang-rt-14-dev
  # tests and tools: independent decoders, packet crafting, namespaces, filters
  tshark tcpdump python3 python3-scapy iproute2 nftables procps ethtool
  # real peers (tests, benchmarks and the demo)
  kea-dhcp6-server isc-dhcp-relay isc-dhcp-client dnsmasq-base
  # the registrar: storage, DNS view, and the real servers and clients its tests use
  libsqlite3-dev sqlite3 libpq-dev postgresql libldns-dev ldnsutils knot-dnsutils dnsutils
  # the VLAN-filtering bridge test in a VM (make test-vm): Debian's kernel under qemu
  qemu-system-x86 linux-image-amd64 busybox-static
  # builds share compiled objects across build directories
  ccache
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo $0)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture: answer no, quietly.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
stamp=/var/lib/apt/periodic/regrelay-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
  apt-get update -qq
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
echo "install-deps: installing ${missing[*]}"
# Debian starts packaged daemons on install (kea, dhcrelay, postgresql); the tests run their own
# instances in namespaces and temporary directories. policy-rc.d tells invoke-rc.d not to start
# anything while these packages install (Debian policy §9.3.3), so no process has to be stopped.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
fi
trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
exit 0
