// Cost per packet of the flood limits (limits/limits.h): the per-MAC table and the per-port
// bucket as the engines call them (FloodGuard::admit), for one MAC, for a working set that fits
// the table, and for a flood of distinct random MACs that churns it.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "limits/limits.h"

namespace {

using namespace regrelay::limits;

std::vector<std::array<uint8_t, 6>> macs(size_t n) {
    std::mt19937_64 rng(1);
    std::vector<std::array<uint8_t, 6>> v(n);
    for (auto& m : v) {
        uint64_t x = rng();
        for (auto& b : m) b = uint8_t(x >>= 8);
        m[0] &= 0xfe;
    }
    return v;
}

// state.range(0): distinct MACs cycled through (1, 1,000 in a 4,096 table, 1,000,000).
void BM_FloodGuardAdmit(benchmark::State& state) {
    Config c;  // defaults: 20/100 per MAC, 10000/20000 per port, 4096 entries
    FloodGuard g(c, 2);
    const auto m = macs(size_t(state.range(0)));
    uint64_t now = 1'000'000'000'000, i = 0, passed = 0;
    for (auto _ : state) {
        now += 100;  // 10 M packets/s of simulated time
        passed += g.admit(0, m[i], true, now) == Verdict::kPass;
        if (++i == m.size()) i = 0;
    }
    benchmark::DoNotOptimize(passed);
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_FloodGuardAdmit)->Arg(1)->Arg(1000)->Arg(1'000'000);

void BM_MacTableAdmit(benchmark::State& state) {
    MacTable t(Rate{20, 100}, 4096, 7);
    const auto m = macs(size_t(state.range(0)));
    std::vector<uint64_t> keys;
    for (const auto& x : m) keys.push_back(mac_key(0, x));
    uint64_t now = 1'000'000'000'000, i = 0, passed = 0;
    for (auto _ : state) {
        now += 100;
        passed += t.admit(keys[i], now);
        if (++i == keys.size()) i = 0;
    }
    benchmark::DoNotOptimize(passed);
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_MacTableAdmit)->Arg(1)->Arg(1000)->Arg(1'000'000);

void BM_TokenBucketTake(benchmark::State& state) {
    TokenBucket b(Rate{10000, 20000});
    uint64_t now = 1'000'000'000'000, passed = 0;
    for (auto _ : state) {
        now += 100;
        passed += b.take(now);
    }
    benchmark::DoNotOptimize(passed);
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_TokenBucketTake);

}  // namespace

BENCHMARK_MAIN();
