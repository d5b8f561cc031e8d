#!/bin/bash
# regrelay --version and -V: the project's version (project() in CMakeLists.txt) and one line per
# library it was built with, each with the version that library reports (pkg-config for the
# pkg-config modules, the headers for Boost and spdlog); --help lists both spellings.
# usage: version_test.sh REGRELAY SOURCE_DIR
set -u
bin=$1 src=$2
fail=0
bad() { echo "FAIL: $*"; fail=1; }

want=$(sed -n 's/^project(regrelay VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$want" ] || bad "no project(regrelay VERSION ...) in $src/CMakeLists.txt"

out=$("$bin" --version); rc=$?
[ $rc -eq 0 ] || bad "--version exit $rc"
short=$("$bin" -V); rc=$?
[ $rc -eq 0 ] || bad "-V exit $rc"
[ "$out" = "$short" ] || bad "-V and --version differ"
first=$(head -n1 <<<"$out")
[ "$first" = "regrelay $want" ] || bad "first line '$first', want 'regrelay $want'"

# One line per library: "NAME VERSION".
has() {  # has NAME VERSION-PREFIX
    grep -qxF -- "$1 $2" <<<"$out" || grep -q -- "^$1 $(sed 's/[.[\*^$]/\\&/g' <<<"$2")\( \|$\)" <<<"$out" ||
        bad "no line '$1 $2' in: $(tr '\n' '|' <<<"$out")"
}
has libpcap "$(pkg-config --modversion libpcap)"
has libnet "$(sed -n 's/^#define LIBNET_VERSION[[:space:]]*"\(.*\)"/\1/p' /usr/include/libnet.h)"
has Boost "$(sed -n 's/^#define BOOST_LIB_VERSION "\(.*\)"/\1/p' /usr/include/boost/version.hpp | tr _ .)"
has spdlog "$(awk '/#define SPDLOG_VER_(MAJOR|MINOR|PATCH)/ {v = v (v ? "." : "") $3} END {print v}' /usr/include/spdlog/version.h)"
# The optional pkg-config modules: listed exactly when the binary is linked with them.
libs=$(ldd "$bin")
for mod in libmnl libcap-ng libnftables libsystemd libmicrohttpd; do
    if grep -q "[[:space:]]$mod\.so" <<<"$libs"; then
        has "$mod" "$(pkg-config --modversion $mod)"
    elif grep -q "^$mod " <<<"$out"; then
        bad "$mod listed but not linked"
    fi
done
# Every line after the first names a library and a version that starts with a digit.
tail -n +2 <<<"$out" | grep -vE '^[A-Za-z][A-Za-z0-9_-]* [0-9]' && bad "a library line without a version"

help=$("$bin" --help)
grep -qE '^ +-V, --version ' <<<"$help" || bad "--help does not list -V, --version"

[ $fail -eq 0 ] && echo "ok: $(tr '\n' '|' <<<"$out")"
exit $fail
