#!/usr/bin/env bash
# Runs every benchmark program of a build and prints the medians, then times `regrelay decode`
# end to end on the generated capture.
#
#   bench/run.sh BUILD_DIR        (make bench)
#
# Every executable named regrelay_bench_* in BUILD_DIR/bench runs with 5 repetitions (aggregates
# only); its JSON results go to BUILD_DIR/bench/<name>.json. BENCH_FLAGS adds Google Benchmark
# flags (e.g. BENCH_FLAGS=--benchmark_filter=Dhcp6). BENCH_DECODE_RUNS sets how many timed
# `regrelay decode` runs (default 3; 0 skips them).
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
py=/usr/bin/python3
[ -x "$py" ] || py=python3

benches=()
for bin in "$build"/bench/regrelay_bench_*; do
    [ -f "$bin" ] && [ -x "$bin" ] && benches+=("$bin")
done
if [ ${#benches[@]} -eq 0 ]; then
    echo "bench: no regrelay_bench_* programs in $build/bench (build with REGRELAY_BENCH=ON: make build)" >&2
    exit 2
fi

echo "bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
for bin in "${benches[@]}"; do
    name=$(basename "$bin")
    out=$build/bench/$name.json
    echo "bench: $name"
    # shellcheck disable=SC2086  # BENCH_FLAGS is a list of flags
    if ! "$bin" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
        --benchmark_out="$out" --benchmark_out_format=json ${BENCH_FLAGS:-}; then
        echo "bench: $name FAILED" >&2
        rc=1
        continue
    fi
    # The medians, in packets per second where the benchmark counts items.
    "$py" - "$out" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
rows = [b for b in data["benchmarks"] if b.get("aggregate_name") == "median"]
print(f"bench: medians of {len(rows)} benchmarks ({sys.argv[1]}):")
# items_per_second is over CPU time, or over wall time for the benchmarks named .../real_time.
print(f"  {'benchmark':<36} {'packets/s':>14} {'wall':>12} {'cpu':>12}")
for b in rows:
    name = b["run_name"]
    ips = b.get("items_per_second")
    wall = f"{b['real_time']:.4g} {b['time_unit']}"
    cpu = f"{b['cpu_time']:.4g} {b['time_unit']}"
    rate = f"{ips:,.0f}" if ips else "-"
    print(f"  {name:<36} {rate:>14} {wall:>12} {cpu:>12}")
    if b.get("error_occurred"):
        print(f"  {name}: ERROR {b.get('error_message')}")
EOF
done

# End to end: the real binary on the capture regrelay_bench_decode generated, output discarded.
runs=${BENCH_DECODE_RUNS:-3}
regrelay=$build/cli/regrelay
gen=$build/bench/regrelay_bench_decode
if [ "$runs" -gt 0 ] && [ -x "$regrelay" ] && [ -x "$gen" ]; then
    capture=$("$gen" --generate-only) || { echo "bench: cannot generate the capture" >&2; exit 1; }
    for mode in text json; do
        flags=()
        [ $mode = json ] && flags=(--json)
        rates=()
        for ((i = 0; i < runs; i++)); do
            start=$(date +%s.%N)
            summary=$("$regrelay" decode "${flags[@]}" "$capture" 2>&1 >/dev/null) || {
                echo "bench: regrelay decode failed: $summary" >&2
                rc=1
                break
            }
            end=$(date +%s.%N)
            frames=$(echo "$summary" | sed -n 's/^\([0-9][0-9]*\) frames.*/\1/p' | tail -1)
            rates+=("$(echo "$frames $start $end" | awk '{ printf "%.0f", $1 / ($3 - $2) }')")
            printf 'bench: regrelay decode %-4s run %d: %s frames in %.2f s\n' $mode $((i + 1)) "$frames" \
                "$(echo "$start $end" | awk '{ print $2 - $1 }')"
        done
        [ ${#rates[@]} -gt 0 ] || continue
        median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        printf 'bench: regrelay decode %-4s end to end (median of %d): %s packets/s\n' $mode ${#rates[@]} \
            "$(printf "%'d" "$median" 2>/dev/null || echo "$median")"
    done
fi

# Live load runs in network namespaces (root): the relay side by side with ISC dhcrelay and
# dnsmasq, the snoop shim on a bridge, and the registrar with its SQLite store (docs/benchmarks.md,
# docs/snoop.md).
if [ "$(id -u)" -eq 0 ]; then
    "$py" "$(dirname "$0")/relay_bench.py" "$build" || rc=1
    "$py" "$(dirname "$0")/snoop_bench.py" "$build" || rc=1
    # The registrar end to end: sustained registrations/s with SQLite, latency, RSS at 1M bindings.
    "$py" "$(dirname "$0")/registrar_bench.py" "$build" || rc=1
else
    echo "bench: the namespace load runs (relay_bench.py, snoop_bench.py, registrar_bench.py) need root: skipped" >&2
fi
exit $rc
