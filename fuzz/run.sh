#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for a bounded time, one after the other.
#
#   fuzz/run.sh BUILD_DIR SECONDS        (make fuzz: 600 s each; make test: 30 s each)
#
# Each target starts from its kept corpus fuzz/work/<target> (not in git), its seeds
# fuzz/seeds/<target> and the crash inputs kept in fuzz/regressions/<target>; new coverage goes to
# fuzz/work/<target>. Prints executions per second and total executions for each target. Exits
# non-zero on any crash, timeout, out-of-memory, leak or sanitizer report, after copying the input
# into fuzz/regressions/<target>/ (commit it: tests/unit/fuzz_regressions_test.cpp replays it).
# Extra libFuzzer flags can be given in FUZZ_FLAGS.
set -uo pipefail

if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
fuzzdir=$root/fuzz
work=$fuzzdir/work

targets=()
for bin in "$build"/fuzz/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] && targets+=("$bin")
done
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz: no fuzz targets in $build/fuzz (build them with: make build-fuzz)" >&2
    exit 2
fi

# Sanitizer reports must end the run with an error (the build already makes UBSan abort).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
passed=0
summary=()
for bin in "${targets[@]}"; do
    t=$(basename "$bin")
    corpus=$work/$t
    artifacts=$work/artifacts/$t
    log=$work/$t.log
    mkdir -p "$corpus" "$artifacts" "$fuzzdir/regressions/$t"
    before=$(ls -A "$artifacts" | sort)
    inputs=("$corpus")
    [ -d "$fuzzdir/seeds/$t" ] && inputs+=("$fuzzdir/seeds/$t")
    [ -n "$(ls -A "$fuzzdir/regressions/$t")" ] && inputs+=("$fuzzdir/regressions/$t")

    echo "fuzz: $t for ${seconds} s (log: ${log#"$root"/})"
    # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
    # -max_len: DHCPv6 rarely exceeds a 1500-byte MTU; 4 KiB leaves room without libFuzzer's default
    # of the largest input (a kept regression is 64 KiB), which slows every mutation.
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" ${FUZZ_FLAGS:-} "${inputs[@]}" >"$log" 2>&1
    rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
    # If the run died before the final stats, take the last status line.
    if [ -z "$execs" ]; then
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
        rate=$(grep -oE 'exec/s: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    fi

    problem=""
    if [ $rc -ne 0 ]; then problem="libFuzzer exited with $rc"; fi
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|fuzz property failed|SUMMARY: .*Sanitizer' "$log"; then
        problem=${problem:-"sanitizer report"}
    fi
    new=$(comm -13 <(echo "$before") <(ls -A "$artifacts" | sort) | grep -E '^(crash|leak|timeout|oom)-' || true)

    printf 'fuzz: %-12s %12s executions  %8s exec/s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov}"
    if [ -n "$problem" ] || [ -n "$new" ]; then
        failed=$((failed + 1))
        summary+=("$t: FAILED (${problem:-artifact written})")
        echo "fuzz: $t FAILED: ${problem:-artifact written}; the report:" >&2
        grep -E -A25 'ERROR: |runtime error:|fuzz property failed' "$log" | head -60 >&2
        for a in $new; do
            cp "$artifacts/$a" "$fuzzdir/regressions/$t/$a"
            echo "fuzz: kept the input as fuzz/regressions/$t/$a" >&2
        done
        if [ -n "$new" ]; then
            echo "fuzz: reproduce with: $bin fuzz/regressions/$t/<file>" >&2
            echo "fuzz: fix the bug, then COMMIT fuzz/regressions/$t/ so the unit tests replay it forever" >&2
        fi
    else
        passed=$((passed + 1))
        summary+=("$t: ok")
    fi
done

for s in "${summary[@]}"; do echo "fuzz: $s"; done
echo "fuzz: $passed of $((passed + failed)) targets ran clean"
[ $failed -eq 0 ]
