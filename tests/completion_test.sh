#!/bin/bash
# deploy/bash-completion/regrelay: sourced in bash (with and without bash-completion's own
# helpers), _regrelay completes commands, each command's options (as its --help lists them),
# interface names, files and levels.
# usage: completion_test.sh REGRELAY SOURCE_DIR
set -u
bin=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin" "$tmp/files"
ln -s "$(readlink -f "$bin")" "$tmp/bin/regrelay"
touch "$tmp/files/relay-lan.conf" "$tmp/files/relay-wan.conf" "$tmp/files/other.pcap"

run_checks() {  # $1: "with" or "without" bash-completion
    PATH="$tmp/bin:$PATH" TMPD="$tmp" MODE=$1 SRC=$src bash --norc --noprofile <<'INNER'
fail=0
[[ $MODE == with && -r /usr/share/bash-completion/bash_completion ]] && source /usr/share/bash-completion/bash_completion
source "$SRC/deploy/bash-completion/regrelay" || { echo "FAIL: cannot source"; exit 1; }
[[ $(complete -p regrelay) == *"-F _regrelay"* ]] || { echo "FAIL: no complete -F _regrelay regrelay"; fail=1; }

# complete WORD... : completes the last word, prints the sorted candidates on one line.
complete_line() {
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _regrelay regrelay "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
expect() {  # expect "WANT" WORD...
    local want=$1; shift
    local got; got=$(complete_line "$@")
    if [[ $got != "$want" ]]; then echo "FAIL ($MODE): '$*' -> '$got', want '$want'"; fail=1; fi
}
contains() {  # contains CANDIDATE WORD...
    local c=$1; shift
    local got; got=" $(complete_line "$@") "
    if [[ $got != *" $c "* ]]; then echo "FAIL ($MODE): '$*' -> '$got', want it to contain '$c'"; fail=1; fi
}

expect "registrar relay replay" regrelay re
expect "snoop" regrelay sn
expect "--version" regrelay --v
for c in relay replay snoop decode -V --help; do contains "$c" regrelay ""; done
expect "--client-iface" regrelay relay --cl
expect "--client-port" regrelay snoop --client-p
expect "--uplink --user" regrelay snoop --u
expect "--in --interface-id" regrelay replay --in
expect "" regrelay replay --w          # replay's --write is hidden (refused), not offered
expect "--rate-limit-log --rate-limit-mac --rate-limit-port" regrelay relay --rate
expect "--json" regrelay decode --j
contains "-i" regrelay decode -
# Every option of every command's --help is offered, and nothing else.
for cmd in relay replay snoop decode; do
    want=$(regrelay $cmd --help | sed -nE 's/^  -([A-Za-z0-9]) \[ --([a-z0-9-]+) \].*/-\1 --\2/p; s/^  --([a-z0-9-]+).*/--\1/p' | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')
    expect "$want" regrelay $cmd -
done
# Interface names (lo exists in every network namespace), after each interface option.
for w in "relay --client-iface" "relay --upstream-iface" "snoop --client-port" "snoop --uplink" "snoop --trusted-port" "decode -i" "decode --interface"; do
    contains lo regrelay $w l
done
expect "lo=" regrelay relay --link-address lo
# Files after the file options, and as decode's argument.
for w in "relay --config" "relay --write" "snoop --config" "snoop --write" "replay --in" "replay --out" "decode -r"; do
    expect "$TMPD/files/relay-lan.conf $TMPD/files/relay-wan.conf" regrelay $w "$TMPD/files/relay-"
done
expect "$TMPD/files/other.pcap" regrelay decode "$TMPD/files/o"
expect "debug" regrelay relay --log-level d
contains root regrelay snoop --user ro
# A value that has no completion gets none (not the option list).
expect "" regrelay relay --server 2001
expect "" regrelay relay --mac-table-size ""
exit $fail
INNER
}

rc=0
run_checks with || rc=1
run_checks without || rc=1
[ $rc -eq 0 ] && echo "ok: completions with and without bash-completion"
exit $rc
