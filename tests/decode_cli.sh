#!/bin/bash
# "cond && pass ... || fail ..." is safe here: pass only echoes and always succeeds.
# shellcheck disable=SC2015
# CLI behaviour of `regrelay decode` on the reference captures in pcaps/.
#
#   decode_cli.sh REGRELAY_BINARY PCAPS_DIR GROUP
#
# GROUP is one of:
#   exit0      every capture decodes with exit 0 in text, -v and --json modes, and stderr is
#              exactly the one summary line
#   golden     output equals pcaps/expected/NAME.txt (plain) and NAME-v.txt (-v), exactly
#   malformed  malformed.pcap: "[malformed: <reason> at offset N]" lines, decoding goes on
#   verbose    -v adds the option tree below each summary line; --json is one object a line
#   skip       non-DHCPv6 frames are skipped and counted; -c N stops after N packets
#   truncated  a capture with a short snap length: what is there is decoded, marked [|truncated]
#   args       wrong arguments exit 2 with exactly one line on stderr and nothing on stdout
set -u

BIN=$1
PCAPS=$2
GROUP=$3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
CHECKS=0

pass() { CHECKS=$((CHECKS + 1)); echo "ok   $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }

# run ARGS...: runs `regrelay decode ARGS`, leaving $RC, $TMP/out and $TMP/err.
run() {
    "$BIN" decode "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
}

lines() { wc -l <"$1" | tr -d ' '; }

# expect_line FILE REGEX DESCRIPTION: some line of FILE matches the extended REGEX.
expect_line() {
    if grep -Eq -- "$2" "$1"; then pass "$3"; else fail "$3: no line matches /$2/ in:"; sed 's/^/     | /' "$1"; fi
}

SUMMARY_RE='^[0-9]+ frames, [0-9]+ DHCPv6 \([0-9]+ malformed\), [0-9]+ other$'

group_exit0() {
    local f name mode
    for f in "$PCAPS"/*.pcap; do
        name=$(basename "$f")
        for mode in "" -v --json; do
            run $mode "$f"
            if [ $RC -ne 0 ]; then
                fail "decode $mode $name: exit $RC"; sed 's/^/     | /' "$TMP/err"; continue
            fi
            if [ ! -s "$TMP/out" ]; then fail "decode $mode $name: no output"; continue; fi
            if [ "$(lines "$TMP/err")" != 1 ] || ! grep -Eq "$SUMMARY_RE" "$TMP/err"; then
                fail "decode $mode $name: stderr is not exactly the summary line:"; sed 's/^/     | /' "$TMP/err"
                continue
            fi
            pass "decode $mode $name: exit 0, $(lines "$TMP/out") lines, $(cat "$TMP/err")"
        done
    done
}

group_golden() {
    local exp name pcap mode n=0
    for exp in "$PCAPS"/expected/*.txt; do
        name=$(basename "$exp" .txt)
        mode=
        case $name in *-v) name=${name%-v}; mode=-v ;; esac
        pcap="$PCAPS/$name.pcap"
        if [ ! -f "$pcap" ]; then fail "$(basename "$exp"): no $name.pcap"; continue; fi
        run $mode "$pcap"
        n=$((n + 1))
        if [ $RC -eq 0 ] && cmp -s "$exp" "$TMP/out"; then
            pass "decode $mode $name.pcap matches expected/$(basename "$exp")"
        else
            fail "decode $mode $name.pcap (exit $RC) differs from expected/$(basename "$exp"):"
            diff -u "$exp" "$TMP/out" | sed 's/^/     | /'
        fi
    done
    if [ $n -lt 5 ]; then fail "only $n golden files in $PCAPS/expected"; fi
}

group_malformed() {
    local f="$PCAPS/malformed.pcap"
    run "$f"
    [ $RC -eq 0 ] && pass "malformed.pcap: exit 0" || fail "malformed.pcap: exit $RC"
    [ "$(lines "$TMP/out")" = 9 ] && pass "malformed.pcap: 9 lines, one per frame" ||
        fail "malformed.pcap: $(lines "$TMP/out") lines, want 9"
    local reason
    for reason in "truncated header at offset 0" \
                  "option length past the end at offset 18" \
                  "truncated option header at offset 18" \
                  "relay message too short at offset 0" \
                  "relay nesting too deep at offset 1216" \
                  "relay message without option 9 at offset 0"; do
        expect_line "$TMP/out" "> [^ ]+: \[malformed: $reason\]$" "malformed.pcap: [malformed: $reason]"
    done
    local n
    n=$(grep -Ec '\[malformed: [a-z0-9 ]+ at offset [0-9]+\]$' "$TMP/out")
    [ "$n" = 6 ] && pass "malformed.pcap: 6 [malformed: <reason> at offset N] lines" ||
        fail "malformed.pcap: $n [malformed: ...] lines, want 6"
    expect_line "$TMP/out" '^[-0-9]+ [0-9:.]+ \[malformed frame: ipv6-fragment at offset 54\]$' \
        "malformed.pcap: the IPv6 fragment is a malformed frame"
    expect_line "$TMP/out" '\[bad udp checksum\] SOLICIT xid 0x5a0006 opts \[1,8,3,6\]$' \
        "malformed.pcap: a bad UDP checksum is flagged and the message still decoded"
    # Decoding went on past the malformed frames: the last frame is a good Solicit.
    if tail -n 1 "$TMP/out" | grep -Eq 'SOLICIT xid 0x5a0007 opts \[1,8,3,6\]$'; then
        pass "malformed.pcap: the good Solicit after them is printed"
    else
        fail "malformed.pcap: last line is not the good Solicit: $(tail -n 1 "$TMP/out")"
    fi
    grep -qx '9 frames, 9 DHCPv6 (7 malformed), 0 other' "$TMP/err" &&
        pass "malformed.pcap: summary counts 7 malformed of 9" || fail "malformed.pcap: summary: $(cat "$TMP/err")"
    # The same in -v and --json.
    run -v "$f"
    n=$(grep -c 'malformed' "$TMP/out")
    [ $RC -eq 0 ] && [ "$n" = 7 ] && tail -n 1 "$TMP/out" | grep -q 'ORO (6) len 4 \[23,24\]' &&
        pass "malformed.pcap -v: 7 malformed lines and the last Solicit's tree" ||
        fail "malformed.pcap -v: exit $RC, $n malformed lines"
    run --json "$f"
    n=$(grep -c '"malformed":' "$TMP/out")
    [ $RC -eq 0 ] && [ "$n" = 7 ] && [ "$(lines "$TMP/out")" = 9 ] &&
        pass "malformed.pcap --json: 9 objects, 7 with \"malformed\"" ||
        fail "malformed.pcap --json: exit $RC, $(lines "$TMP/out") lines, $n malformed"
    expect_line "$TMP/out" '"frame":5,.*"malformed":"relay nesting too deep at offset 1216"\}$' \
        "malformed.pcap --json: the reason with its offset"
}

group_verbose() {
    local f="$PCAPS/relay-forward-2.pcap"
    run "$f"
    [ "$(lines "$TMP/out")" = 1 ] && pass "relay-forward-2.pcap: one line without -v" ||
        fail "relay-forward-2.pcap: $(lines "$TMP/out") lines without -v"
    run -v "$f"
    [ $RC -eq 0 ] && [ "$(lines "$TMP/out")" = 12 ] && pass "relay-forward-2.pcap -v: summary + 11 tree lines" ||
        fail "relay-forward-2.pcap -v: exit $RC, $(lines "$TMP/out") lines"
    expect_line "$TMP/out" '^[-0-9]+ [0-9:.]+ 02:00:00:bb:00:02 > 02:00:00:cc:00:01 2001:db8:2::1\.547 > ' \
        "-v: the summary line shows the Ethernet addresses"
    expect_line "$TMP/out" '^    RELAY-FORW hop-count 1 link-address :: peer-address 2001:db8:1::1$' "-v: outer level"
    expect_line "$TMP/out" '^      RELAY_MSG \(9\) len 104$' "-v: option 9 of the outer level"
    expect_line "$TMP/out" '^        RELAY-FORW hop-count 0 link-address 2001:db8:1::1 peer-address 2001:db8:1::100$' \
        "-v: inner level nested under option 9"
    expect_line "$TMP/out" '^          CLIENT_LINKLAYER_ADDR \(79\) len 8 hwtype 1 02:00:00:aa:00:01$' "-v: option 79's MAC"
    expect_line "$TMP/out" '^            ADDR-REG-INFORM xid 0x3a1b2c$' "-v: the carried message"
    expect_line "$TMP/out" '^              IAADDR \(5\) len 24 2001:db8:1::100 pref 3600 valid 7200$' \
        "-v: the registered address"
    run -v "$PCAPS/info-request-oro148.pcap"
    expect_line "$TMP/out" '^      ORO \(6\) len 4 \[23,148\]$' "-v: ORO [23,148]"
    expect_line "$TMP/out" '^      ADDR_REG_ENABLE \(148\) len 0$' "-v: option 148 in the Reply"
    run -v "$PCAPS/relay-reply-1.pcap"
    expect_line "$TMP/out" '^          IA_NA \(3\) len 40 iaid 1 t1 1800 t2 2880$' "-v: IA_NA"
    expect_line "$TMP/out" '^            IAADDR \(5\) len 24 2001:db8:1::1000 pref 3600 valid 7200$' \
        "-v: IA Address nested in IA_NA"
    run --json "$f"
    if [ $RC -eq 0 ] && /usr/bin/python3 -c '
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
d = objs[0]["dhcp6"]
assert len(objs) == 1 and [r["hop_count"] for r in d["relays"]] == [1, 0], objs
assert d["relays"][1]["client_link_layer"] == "02:00:00:aa:00:01" and d["message"]["name"] == "ADDR-REG-INFORM"
assert d["message"]["ia_addr"] == "2001:db8:1::100" and d["message"]["xid"] == 0x3a1b2c
' "$TMP/out"; then
        pass "--json: one valid object with both relay levels and the registered address"
    else
        fail "--json output:"; sed 's/^/     | /' "$TMP/out"
    fi
}

group_skip() {
    run "$PCAPS/mixed.pcap"
    [ $RC -eq 0 ] && [ "$(lines "$TMP/out")" = 2 ] && pass "mixed.pcap: only the 2 DHCPv6 frames printed" ||
        fail "mixed.pcap: exit $RC, $(lines "$TMP/out") lines"
    grep -qx '5 frames, 2 DHCPv6 (0 malformed), 3 other' "$TMP/err" &&
        pass "mixed.pcap: ICMPv6, IPv4 and syslog counted as other" || fail "mixed.pcap: summary: $(cat "$TMP/err")"
    run --json "$PCAPS/mixed.pcap"
    [ "$(grep -o '"frame":[0-9]*' "$TMP/out" | tr '\n' ' ')" = '"frame":2 "frame":5 ' ] &&
        pass "mixed.pcap --json: frame numbers 2 and 5 (counted over all frames)" ||
        fail "mixed.pcap --json: frames $(grep -o '"frame":[0-9]*' "$TMP/out" | tr '\n' ' ')"
    run -c 3 "$PCAPS/malformed.pcap"
    [ $RC -eq 0 ] && [ "$(lines "$TMP/out")" = 3 ] && pass "-c 3: stops after 3 packets" ||
        fail "-c 3: exit $RC, $(lines "$TMP/out") lines"
}

# snap_copy IN OUT SNAPLEN: OUT is IN as a capture with that snap length would have it (each
# record cut to SNAPLEN bytes, its original length kept), like `editcap -s SNAPLEN`.
snap_copy() {
    /usr/bin/python3 - "$@" <<'PY'
import struct, sys
src, dst, snap = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = open(src, "rb").read()
out, off = bytearray(b[:24]), 24
out[16:20] = struct.pack("<I", snap)
while off < len(b):
    s, u, cl, l = struct.unpack("<IIII", b[off:off + 16])
    d = b[off + 16:off + 16 + cl]
    off += 16 + cl
    out += struct.pack("<IIII", s, u, min(cl, snap), l) + d[:snap]
open(dst, "wb").write(out)
PY
}

group_truncated() {
    local f="$PCAPS/relay-forward-2.pcap"  # one 230-byte frame: two relay levels and an ADDR-REG-INFORM
    snap_copy "$f" "$TMP/s200.pcap" 200
    run "$TMP/s200.pcap"
    [ $RC -eq 0 ] && pass "snap 200: exit 0" || fail "snap 200: exit $RC"
    expect_line "$TMP/out" \
        ' RELAY-FORW hop 1 link :: peer 2001:db8:1::1 ifid "ge-0/0/2" remote-id 32473:72656c617932 opts \[18,37,9\] \| RELAY-FORW hop 0 link 2001:db8:1::1 peer 2001:db8:1::100 ifid "eth1" lladdr 02:00:00:aa:00:01 opts \[18,79,9\] \| ADDR-REG-INFORM xid 0x3a1b2c opts \[\] \[\|truncated\]$' \
        "snap 200: both relay levels and the inner header decoded, marked [|truncated]"
    grep -q malformed "$TMP/out" && fail "snap 200: called malformed: $(cat "$TMP/out")" || pass "snap 200: not malformed"
    grep -qx '1 frames, 1 DHCPv6 (0 malformed, 1 truncated), 0 other' "$TMP/err" &&
        pass "snap 200: summary counts it truncated, not malformed" || fail "snap 200: summary: $(cat "$TMP/err")"
    run -v "$TMP/s200.pcap"
    expect_line "$TMP/out" '^          CLIENT_LINKLAYER_ADDR \(79\) len 8 hwtype 1 02:00:00:aa:00:01$' \
        "snap 200 -v: the tree of what was captured"
    snap_copy "$f" "$TMP/s100.pcap" 100
    run "$TMP/s100.pcap"
    expect_line "$TMP/out" ' 2001:db8:2::1\.547 > 2001:db8:ffff::1\.547: RELAY-FORW hop 1 link :: peer 2001:db8:1::1 opts \[\] \[\|truncated\]$' \
        "snap 100: the outer relay header, marked [|truncated]"
    snap_copy "$f" "$TMP/s40.pcap" 40
    run "$TMP/s40.pcap"
    expect_line "$TMP/out" '^[-0-9]+ [0-9:.]+ \(40 of 230 bytes captured\) \[\|truncated\]$' \
        "snap 40 (inside the IPv6 header): [|truncated], not a malformed frame"
    run --json "$TMP/s200.pcap"
    expect_line "$TMP/out" '"captured":200,"wire_len":230,"dhcp6":\{.*"name":"ADDR-REG-INFORM".*,"truncated":true\}$' \
        "snap 200 --json: captured/wire_len, the decoded part and \"truncated\":true"
    # Every bundled capture snapped at 64 bytes: exit 0, nothing called malformed that is only cut.
    local c n
    for c in solicit relay-reply-1 vlan addr-reg-inform; do
        snap_copy "$PCAPS/$c.pcap" "$TMP/$c-64.pcap" 64
        run "$TMP/$c-64.pcap"
        n=$(grep -c 'truncated\]$' "$TMP/out")
        [ $RC -eq 0 ] && [ "$n" = "$(lines "$TMP/out")" ] && [ "$n" -gt 0 ] &&
            pass "$c.pcap snapped at 64: $n lines, all [|truncated]" ||
            fail "$c.pcap snapped at 64: exit $RC, $n of $(lines "$TMP/out") lines [|truncated]"
    done
}

# bad_args DESCRIPTION ARGS...: exit 2, nothing on stdout, exactly one line on stderr.
bad_args() {
    local what=$1
    shift
    run "$@"
    if [ $RC -eq 2 ] && [ ! -s "$TMP/out" ] && [ "$(lines "$TMP/err")" = 1 ] &&
        grep -q '^regrelay decode: ' "$TMP/err"; then
        pass "$what: exit 2, stderr: $(cat "$TMP/err")"
    else
        fail "$what: exit $RC (want 2), stdout $(lines "$TMP/out") lines, stderr $(lines "$TMP/err") lines (want 1):"
        sed 's/^/     | /' "$TMP/err"
    fi
}

group_args() {
    printf 'this is not a capture file\n' >"$TMP/not-a-pcap.pcap"
    : >"$TMP/empty.pcap"
    bad_args "no arguments"
    bad_args "missing file" "$TMP/no-such-file.pcap"
    grep -q 'no-such-file.pcap' "$TMP/err" && pass "missing file: named in the message" ||
        fail "missing file: not named in: $(cat "$TMP/err")"
    bad_args "a text file" "$TMP/not-a-pcap.pcap"
    bad_args "an empty file" "$TMP/empty.pcap"
    bad_args "unknown interface" -i nosuchif0
    grep -q 'nosuchif0' "$TMP/err" && pass "unknown interface: named in the message" ||
        fail "unknown interface: not named in: $(cat "$TMP/err")"
    bad_args "both FILE and -i" "$PCAPS/solicit.pcap" -i lo
    bad_args "both -r FILE and -i" -r "$PCAPS/solicit.pcap" -i lo
    bad_args "unknown option" --bogus "$PCAPS/solicit.pcap"
    bad_args "two files" "$PCAPS/solicit.pcap" "$PCAPS/vlan.pcap"
    bad_args "-c without a value" "$PCAPS/solicit.pcap" -c
    bad_args "-c not a number" "$PCAPS/solicit.pcap" -c abc
    run --help
    [ $RC -eq 0 ] && grep -q 'usage: regrelay decode' "$TMP/out" && pass "--help: usage on stdout, exit 0" ||
        fail "--help: exit $RC"
}

case $GROUP in
    exit0 | golden | malformed | verbose | skip | truncated | args) "group_$GROUP" ;;
    *) echo "unknown group $GROUP" >&2; exit 2 ;;
esac
echo "$GROUP: $((CHECKS - FAILS))/$CHECKS checks passed"
[ $FAILS -eq 0 ]
