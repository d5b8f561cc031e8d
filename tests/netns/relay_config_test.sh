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
    timeout 10 "$BIN" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
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
usage_error "--client-iface nosuchif0" '^regrelay relay: --client-iface nosuchif0: no such interface$' \
    relay --client-iface nosuchif0 "${SRV[@]}"
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
usage_error "--upstream-iface nosuchif0" '^regrelay relay: --upstream-iface nosuchif0: no such interface$' \
    relay --client-iface lo --upstream-iface nosuchif0
usage_error "--source-address x" "^regrelay relay: --source-address 'x'" \
    relay --client-iface lo "${SRV[@]}" --source-address x
usage_error "--config /nonexistent" '^regrelay relay: --config /nonexistent: cannot open$' \
    relay --config /nonexistent
usage_error "unknown option" "^regrelay relay: .*'--no-such-option'" relay --client-iface lo "${SRV[@]}" --no-such-option
usage_error "--client-iface given twice" '^regrelay relay: --client-iface lo: given twice$' \
    relay --client-iface lo --client-iface lo "${SRV[@]}"

# The same checks apply to keys read from --config.
printf 'client-iface = lo\nserver = 2001:db8::zz\n' >"$TMP/bad-server.conf"
usage_error "--config with a bad server" "^regrelay relay: --server '2001:db8::zz'" relay --config "$TMP/bad-server.conf"
printf 'client-iface = lo\nserver = 2001:db8::1\nno-such-key = 1\n' >"$TMP/bad-key.conf"
usage_error "--config with an unknown key" "^regrelay relay: .*no-such-key" relay --config "$TMP/bad-key.conf"

usage_error "replay without --in" '^regrelay replay: --in is required' replay --out "$TMP/out.pcap"
usage_error "replay without --out" '^regrelay replay: --out is required' replay --in "$TMP/in.pcap"
usage_error "replay without --in or --out" '^regrelay replay: --in is required' replay
[ ! -e "$TMP/out.pcap" ] && pass "replay without --in writes no --out file" || fail "replay wrote $TMP/out.pcap"

echo "$((CHECKS - FAILS)) passed, $FAILS failed"
[ $FAILS -eq 0 ]
