#!/bin/bash
# Bad configuration of `regrelay relay` and `regrelay replay`: exit status 2, exactly one line on
# stderr naming the offending option, nothing on stdout, and nothing started.
#
#   relay_config_test.sh REGRELAY_BINARY
#
# Needs no namespace and no root: every case fails before a capture or socket is opened. `lo`
# stands in wherever an existing interface is needed.
set -u

BIN=$1
PCAPS=$(cd "$(dirname "$0")/../../pcaps" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
CHECKS=0

pass() { CHECKS=$((CHECKS + 1)); echo "ok   $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }

# usage_error NAME REGEX ARGS...: `regrelay ARGS` exits 2 within 10 s with nothing on stdout and
# exactly one stderr line, which matches the extended REGEX (the option it names).
usage_error() {
    local name=$1 re=$2
    shift 2
    local run=("$BIN")
    if [ "${1:-}" = --as-nobody ]; then
        run=(setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN")
        shift
    fi
    timeout 10 "${run[@]}" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
    local rc=$? n
    n=$(wc -l <"$TMP/err" | tr -d ' ')
    if [ $rc -ne 2 ]; then
        fail "$name: exit $rc, want 2 (regrelay $*)"
    elif [ "$n" -ne 1 ]; then
        fail "$name: $n stderr lines, want 1"
    elif ! grep -Eq -- "$re" "$TMP/err"; then
        fail "$name: stderr does not match /$re/"
    elif [ -s "$TMP/out" ]; then
        fail "$name: unexpected stdout"
    else
        pass "$name: exit 2, one line: $(cat "$TMP/err")"
        return
    fi
    sed 's/^/     err| /' "$TMP/err"
    sed 's/^/     out| /' "$TMP/out"
}

SRV=(--server 2001:db8::1)

usage_error "no --client-iface" '^regrelay relay: --client-iface is required' relay "${SRV[@]}"
# An interface that does not exist (yet) is not a configuration error: the daemon starts, logs it
# and captures it when it appears (issue 8; tests/netns/hardening_test.py `absent`).
usage_error "--client-iface bad name" '^regrelay relay: --client-iface .*not an interface name' \
    relay --client-iface "a/b" "${SRV[@]}"
usage_error "--server 2001:db8::zz" "^regrelay relay: --server '2001:db8::zz': not an IPv6 address$" \
    relay --client-iface lo --server 2001:db8::zz
usage_error "--server ::" "^regrelay relay: --server '::'" relay --client-iface lo --server ::
usage_error "--link-address without '='" "^regrelay relay: --link-address 'eth0': expected IF=ADDR$" \
    relay --client-iface lo "${SRV[@]}" --link-address eth0
usage_error "--link-address for an interface that is not a client iface" \
    "^regrelay relay: --link-address 'nosuch=2001:db8::1': nosuch is not a --client-iface$" \
    relay --client-iface lo "${SRV[@]}" --link-address nosuch=2001:db8::1
usage_error "--link-address with a link-local address" "^regrelay relay: --link-address 'lo=fe80::1'" \
    relay --client-iface lo "${SRV[@]}" --link-address lo=fe80::1
usage_error "--remote-id bad" "^regrelay relay: --remote-id 'bad': expected ENTERPRISE:HEX$" \
    relay --client-iface lo "${SRV[@]}" --remote-id bad
usage_error "--remote-id with a non-hex id" "^regrelay relay: --remote-id '9:zz'" \
    relay --client-iface lo "${SRV[@]}" --remote-id 9:zz
usage_error "--log-level loud" "^regrelay relay: --log-level 'loud': not a level$" \
    relay --client-iface lo "${SRV[@]}" --log-level loud
usage_error "no --server and no --upstream-iface" '^regrelay relay: --upstream-iface is required' \
    relay --client-iface lo
usage_error "--source-address x" "^regrelay relay: --source-address 'x'" \
    relay --client-iface lo "${SRV[@]}" --source-address x
usage_error "--config /nonexistent says why" \
    '^regrelay relay: --config /nonexistent: cannot open: No such file or directory$' relay --config /nonexistent
usage_error "--config on a directory" "^regrelay relay: --config $TMP: is a directory\$" relay --config "$TMP"
printf 'client-iface = lo\nserver = 2001:db8::1\n' >"$TMP/unreadable.conf"
chmod 000 "$TMP/unreadable.conf"
if [ "$(id -u)" = 0 ]; then
    # root reads any file: run as nobody, for whom the file (and $TMP, mode 0700) is closed.
    usage_error "--config on an unreadable file says why" \
        "^regrelay relay: --config $TMP/unreadable.conf: cannot open: Permission denied\$" \
        --as-nobody relay --config "$TMP/unreadable.conf"
else
    usage_error "--config on an unreadable file says why" \
        "^regrelay relay: --config $TMP/unreadable.conf: cannot open: Permission denied\$" \
        relay --config "$TMP/unreadable.conf"
fi
usage_error "unknown option" "^regrelay relay: .*'--no-such-option'" relay --client-iface lo "${SRV[@]}" --no-such-option
usage_error "--client-iface given twice" '^regrelay relay: --client-iface lo: given twice$' \
    relay --client-iface lo --client-iface lo "${SRV[@]}"

# The same checks apply to keys read from --config.
printf 'client-iface = lo\nserver = 2001:db8::zz\n' >"$TMP/bad-server.conf"
usage_error "--config with a bad server" "^regrelay relay: $TMP/bad-server.conf:2: --server '2001:db8::zz'" \
    relay --config "$TMP/bad-server.conf"
printf 'client-iface = lo\nserver = 2001:db8::1\nno-such-key = 1\n' >"$TMP/bad-key.conf"
usage_error "--config with an unknown key" "^regrelay relay: .*no-such-key" relay --config "$TMP/bad-key.conf"

# Errors in a --config file name the file and the line.
C=$TMP/c.conf
printf 'client-iface = lo\nserver = 2001:db8::1\nno-such-key = 1\n' >"$C"
usage_error "--config: an unknown key names FILE:LINE" "^regrelay relay: $C:3: unknown key 'no-such-key'\$" relay --config "$C"
printf 'client-port = lo\nuplink = lo\nno-such-key = 1\n' >"$TMP/snoop.conf"
usage_error "snoop --config: an unknown key names FILE:LINE" \
    "^regrelay snoop: $TMP/snoop.conf:3: unknown key 'no-such-key'\$" snoop --config "$TMP/snoop.conf"
printf '# comment\n\nclient-iface = lo\nserver 2001:db8::1\n' >"$C"
usage_error "--config: a line without '=' names FILE:LINE" \
    "^regrelay relay: $C:4: 'server 2001:db8::1': expected key = value\$" relay --config "$C"
printf 'client-iface = lo\nserver = 2001:db8::1   # the first\nserver = 2001:db8::zz\n' >"$C"
usage_error "--config: a bad value names FILE:LINE (the second server)" \
    "^regrelay relay: $C:3: --server '2001:db8::zz': not an IPv6 address\$" relay --config "$C"
printf 'client-iface = lo\nserver = 2001:db8::1\nlog-level = loud\n' >"$C"
usage_error "--config: a bad log level names FILE:LINE" "^regrelay relay: $C:3: --log-level 'loud': not a level\$" \
    relay --config "$C"
printf 'client-iface = lo\nserver = 2001:db8::1\ninterface-id = maybe\n' >"$C"
usage_error "--config: a switch with a value that is not true/false names FILE:LINE" \
    "^regrelay relay: $C:3: interface-id 'maybe': expected true or false\$" relay --config "$C"
printf 'client-iface = lo\nlog-level = info\nlog-level = debug\n' >"$C"
usage_error "--config: a single-valued key given twice names FILE:LINE" \
    "^regrelay relay: $C:3: log-level: given twice \(first on line 2\)\$" relay --config "$C"
printf 'client-iface = lo\nserver = 2001:db8::1\nmac-table-size = many\n' >"$C"
usage_error "--config: a value of the wrong type names FILE:LINE" "^regrelay relay: $C:3: .*'many'" relay --config "$C"

# The command line replaces the file's values, repeatable keys included: the file's client-iface
# is dropped, so its link-address names an interface that is not a client interface.
printf 'client-iface = a0\nlink-address = a0=2001:db8:1::1\n' >"$C"
usage_error "--client-iface on the command line replaces the file's" \
    "^regrelay replay: $C:2: --link-address 'a0=2001:db8:1::1': a0 is not a --client-iface\$" \
    replay --in "$PCAPS/solicit.pcap" --out "$TMP/o.pcap" --config "$C" --client-iface b0
printf 'server = 2001:db8::1\nserver = 2001:db8::3\n' >"$C"
rm -f "$TMP/o.pcap"
if timeout 10 "$BIN" replay --in "$PCAPS/solicit.pcap" --out "$TMP/o.pcap" --config "$C" --server 2001:db8::2 \
        --log-level warn >"$TMP/out" 2>"$TMP/err" &&
    timeout 10 "$BIN" decode "$TMP/o.pcap" >"$TMP/dec" 2>/dev/null; then
    dsts=$(grep -Eo '> [0-9a-f:]+\.547' "$TMP/dec" | sort -u | tr '\n' ' ')
    [ "$dsts" = "> 2001:db8::2.547 " ] && pass "--server on the command line replaces the file's servers" ||
        fail "--server on the command line and in the file: Relay-forwards went to: $dsts"
else
    fail "replay with --config and --server failed: $(cat "$TMP/err")"
fi

# Stray arguments, duplicate servers, unusable source addresses.
usage_error "a stray argument (--server A B)" "^regrelay replay: '2001:db8::2': unexpected argument" \
    replay --in "$PCAPS/solicit.pcap" --out "$TMP/o.pcap" --server 2001:db8::1 2001:db8::2
usage_error "relay: a stray argument" "^regrelay relay: 'eth9': unexpected argument" \
    relay --client-iface lo eth9 "${SRV[@]}" --log-level loud
usage_error "snoop: a stray argument" "^regrelay snoop: 'eth9': unexpected argument" \
    snoop --client-port lo eth9 --uplink lo --log-level loud
usage_error "the same --server twice" "^regrelay replay: --server '2001:db8:0::1': given twice" \
    replay --in "$PCAPS/solicit.pcap" --out "$TMP/o.pcap" --server 2001:db8::1 --server 2001:db8:0::1
printf 'server = 2001:db8::1\nserver = 2001:db8::1\n' >"$C"
usage_error "the same server twice in --config names FILE:LINE" "^regrelay replay: $C:2: --server '2001:db8::1': given twice" \
    replay --in "$PCAPS/solicit.pcap" --out "$TMP/o.pcap" --config "$C"
usage_error "a link-local --source-address" '^regrelay relay: --source-address fe80::1: needs a global or unique-local' \
    relay --client-iface lo "${SRV[@]}" --source-address fe80::1
usage_error "a multicast --source-address" '^regrelay relay: --source-address ff02::1:2: needs a global or unique-local' \
    relay --client-iface lo "${SRV[@]}" --source-address ff02::1:2

if "$BIN" replay --help >"$TMP/out" 2>"$TMP/err" && grep -q -- '--in ' "$TMP/out"; then
    ! grep -q -- '--write' "$TMP/out" && pass "replay --help does not list --write" ||
        fail "replay --help lists --write: $(grep -- --write "$TMP/out")"
else
    fail "replay --help: no usage on stdout"
fi
usage_error "replay without --in" '^regrelay replay: --in is required' replay --out "$TMP/out.pcap"
usage_error "replay without --out" '^regrelay replay: --out is required' replay --in "$TMP/in.pcap"
usage_error "replay without --in or --out" '^regrelay replay: --in is required' replay
[ ! -e "$TMP/out.pcap" ] && pass "replay without --in writes no --out file" || fail "replay wrote $TMP/out.pcap"

echo "$((CHECKS - FAILS)) passed, $FAILS failed"
[ $FAILS -eq 0 ]
