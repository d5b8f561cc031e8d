// Unit tests for the flood limits (limits/limits.h): token buckets, the fixed per-MAC table
// (bounded, ageing, LRU replacement new entries first, established entries kept, never
// reallocated), the Space-Saving summary, FloodGuard's order (per-MAC before per-port), its two
// port buckets (established MACs / the rest), log budget and interval summaries.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "limits/limits.h"

namespace {

using namespace regrelay::limits;

constexpr uint64_t kSec = 1'000'000'000;
constexpr uint64_t kT0 = 5000 * kSec;  // an arbitrary monotonic start

// ---- Rate / parse_rate ----------------------------------------------------------------------

TEST(Rate, Parse) {
    auto r = parse_rate("20/100");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->per_second, 20u);
    EXPECT_EQ(r->burst, 100u);
    r = parse_rate("5000");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->per_second, 5000u);
    EXPECT_EQ(r->depth(), 5000u);  // without BURST: one second of RATE
    r = parse_rate("0");
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->enabled());
    for (const char* bad : {"", "/", "20/", "/100", "20/0", "-1", "1e3", "20/100/3", "10000001", "1/100000001",
                            "20 /100", "abc", "99999999999"})
        EXPECT_FALSE(parse_rate(bad)) << bad;
}

TEST(Rate, RefillTime) {
    EXPECT_EQ((Rate{20, 100}.refill_ns()), 5 * kSec);
    EXPECT_EQ((Rate{3, 1}.refill_ns()), 333'333'334u);  // rounded up
    EXPECT_EQ((Rate{0, 0}.refill_ns()), 0u);
}

// ---- TokenBucket ----------------------------------------------------------------------------

TEST(TokenBucket, BurstThenRate) {
    TokenBucket b(Rate{10, 5});  // 10/s, depth 5
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.take(kT0)) << i;
    EXPECT_FALSE(b.take(kT0));
    EXPECT_FALSE(b.take(kT0 + 99'999'999));  // 0.1 s - 1 ns: not yet one token
    EXPECT_TRUE(b.take(kT0 + 100'000'000));  // one token per 100 ms
    EXPECT_FALSE(b.take(kT0 + 100'000'000));
    // Over 10 s at most burst + rate * 10 s are taken.
    int ok = 0;
    for (uint64_t t = kT0 + 100'000'000; t < kT0 + 10 * kSec + 100'000'000; t += 1'000'000) ok += b.take(t);
    EXPECT_GE(ok, 99);
    EXPECT_LE(ok, 100);
}

TEST(TokenBucket, IdleRefillsToBurstOnly) {
    TokenBucket b(Rate{1'000'000, 3});
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.take(kT0));
    EXPECT_FALSE(b.take(kT0));
    // A huge gap (no overflow of elapsed * rate): the bucket holds its depth, not more.
    const uint64_t later = kT0 + (uint64_t(1) << 62);
    EXPECT_EQ(b.available(later), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.take(later));
    EXPECT_FALSE(b.take(later));
}

TEST(TokenBucket, TimeGoingBackwardsGivesNothing) {
    TokenBucket b(Rate{1, 1});
    EXPECT_TRUE(b.take(kT0));
    EXPECT_FALSE(b.take(kT0 - 10 * kSec));
    EXPECT_FALSE(b.take(kT0 + kSec - 1));  // the clock did not restart at the earlier time
    EXPECT_TRUE(b.take(kT0 + kSec));
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
    TokenBucket b(Rate{0, 0});
    for (int i = 0; i < 100'000; ++i) ASSERT_TRUE(b.take(kT0));
}

// ---- MacTable -------------------------------------------------------------------------------

std::array<uint8_t, 6> mac_of(uint64_t v) {
    std::array<uint8_t, 6> m{};
    for (int i = 5; i >= 0; --i, v >>= 8) m[size_t(i)] = uint8_t(v);
    m[0] &= 0xfe;  // unicast
    return m;
}

TEST(MacTable, LimitsOneMac) {
    MacTable t(Rate{20, 100}, 4096, 1);
    const uint64_t k = mac_key(0, mac_of(0x020000aa0001));
    int ok = 0;
    for (int i = 0; i < 1000; ++i) ok += t.admit(k, kT0);
    EXPECT_EQ(ok, 100);
    EXPECT_FALSE(t.admit(k, kT0 + 49'000'000));
    EXPECT_TRUE(t.admit(k, kT0 + 50'000'000));  // 20/s: one per 50 ms
    // The same MAC on another port is another host with its own bucket.
    EXPECT_TRUE(t.admit(mac_key(1, mac_of(0x020000aa0001)), kT0));
}

TEST(MacTable, FixedMemoryFor100000RandomMacs) {
    MacTable t(Rate{20, 100}, 4096, 0x5eed);
    const size_t cap = t.capacity();
    EXPECT_EQ(cap, 4096u);
    std::mt19937_64 rng(42);
    std::vector<uint64_t> keys(100'000);
    for (auto& k : keys) k = mac_key(0, mac_of(rng()));
    const void* storage = t.storage();
    uint64_t now = kT0, admitted = 0;
    for (uint64_t k : keys) {
        admitted += t.admit(k, now);
        now += 1000;  // 1,000,000 MACs/s
    }
    // The one heap block, allocated by the constructor, is neither grown nor moved.
    EXPECT_EQ(t.storage(), storage);
    EXPECT_EQ(t.capacity(), cap);
    EXPECT_LE(t.occupied(now), cap);
    EXPECT_EQ(t.occupied(now), cap);  // all seen within 5 s: the table is full, not grown
    EXPECT_EQ(admitted, keys.size());  // each new MAC starts with a full bucket
    EXPECT_EQ(t.evictions(), keys.size() - cap);
    static_assert(sizeof(MacTable) < 128, "the table's size is its entries, allocated once");
}

TEST(MacTable, EntriesAgeOutWhenTheirBucketIsFullAgain) {
    MacTable t(Rate{20, 100}, 16, 7);
    const uint64_t k = mac_key(0, mac_of(0x0200000000aa));
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(t.admit(k, kT0));
    EXPECT_FALSE(t.admit(k, kT0));
    EXPECT_EQ(t.occupied(kT0), 1u);
    EXPECT_EQ(t.occupied(kT0 + 5 * kSec - 1), 1u);
    EXPECT_EQ(t.occupied(kT0 + 5 * kSec), 0u);  // refill time of 100 at 20/s: as good as absent
    // An aged-out entry is reused without counting an eviction.
    MacTable one_set(Rate{20, 100}, 4, 7);  // 4 slots: a single set of 4 ways
    for (uint64_t i = 1; i <= 4; ++i) one_set.admit(mac_key(0, mac_of(i << 8)), kT0);
    for (uint64_t i = 5; i <= 8; ++i) one_set.admit(mac_key(0, mac_of(i << 8)), kT0 + 5 * kSec);
    EXPECT_EQ(one_set.evictions(), 0u);
    one_set.admit(mac_key(0, mac_of(9 << 8)), kT0 + 5 * kSec);
    EXPECT_EQ(one_set.evictions(), 1u);
}

TEST(MacTable, ChurnDoesNotResetAHeavySender) {
    // One set of 4 ways: a heavy sender interleaved with a stream of new MACs stays the most
    // recently used entry, so it keeps its (empty) bucket and stays limited.
    MacTable t(Rate{20, 100}, 4, 3);
    const uint64_t heavy = mac_key(0, mac_of(0x02ffffffffff));
    uint64_t now = kT0, ok = 0;
    for (uint64_t i = 0; i < 10'000; ++i) {
        ok += t.admit(heavy, now);
        t.admit(mac_key(0, mac_of(0x020000000000 + i)), now);
        now += 100'000;  // 10,000/s each; 1 s in all
    }
    EXPECT_LE(ok, 100u + 21u);  // burst + 1 s at 20/s
    EXPECT_GE(ok, 100u);
}

TEST(MacTable, AFloodOfNewKeysDoesNotEvictAnEstablishedKey) {
    // One set of 4 ways. The established key's bucket is drained: if the flood evicted it, it
    // would come back with a full bucket and be admitted.
    MacTable t(Rate{20, 100}, 4, 5);
    const uint64_t est = mac_key(0, mac_of(0x0200000e0001));
    ASSERT_TRUE(t.admit(est, kT0));
    const uint64_t t1 = kT0 + kSec;  // admitted again 1 s later: established
    int ok = 0;
    for (int i = 0; i < 200; ++i) ok += t.admit(est, t1);
    EXPECT_EQ(ok, 100);  // the burst (full again after 1 s at 20/s)
    uint64_t now = t1;
    for (uint64_t i = 0; i < 10'000; ++i) {
        EXPECT_TRUE(t.admit(mac_key(0, mac_of(0x020000100000 + i)), now));  // new keys: full buckets
        now += 1000;  // 1,000,000 new MACs/s, 10 ms in all (0.2 token for the established key)
    }
    EXPECT_FALSE(t.admit(est, now)) << "the established key was evicted (it came back with a full bucket)";
    EXPECT_EQ(t.evictions(), 10'000u - 3u);  // 3 free ways, then new keys replace new keys
    // When every way of the set is established, a new key replaces the least recently used one.
    MacTable all(Rate{20, 100}, 4, 5);
    for (uint64_t i = 1; i <= 4; ++i) all.admit(mac_key(0, mac_of(i << 8)), kT0);
    for (uint64_t i = 1; i <= 4; ++i) {
        for (int j = 0; j < 100; ++j) all.admit(mac_key(0, mac_of(i << 8)), kT0 + kSec + i);  // drained
    }
    all.admit(mac_key(0, mac_of(9 << 8)), kT0 + kSec + 10);
    EXPECT_EQ(all.evictions(), 1u);
    EXPECT_TRUE(all.admit(mac_key(0, mac_of(1 << 8)), kT0 + kSec + 11));   // the LRU one: evicted, full again
    EXPECT_FALSE(all.admit(mac_key(0, mac_of(4 << 8)), kT0 + kSec + 12));  // the others kept (drained)
}

TEST(MacTable, FixedMemoryWithEstablishedKeysUnderA100000MacFlood) {
    // 500 established keys (drained buckets, a slow refill) in 4,096 slots, then 100,000 random
    // new MACs: the table neither grows nor moves, and every established key keeps its entry.
    MacTable t(Rate{1, 100}, 4096, 0x5eed);
    const void* storage = t.storage();
    std::mt19937_64 rng(77);
    std::vector<uint64_t> est(500);
    for (auto& k : est) k = mac_key(0, mac_of(rng()));
    for (uint64_t k : est) t.admit(k, kT0);
    for (uint64_t k : est)
        for (int i = 0; i < 101; ++i) t.admit(k, kT0 + kSec);
    uint64_t now = kT0 + kSec;
    for (int i = 0; i < 100'000; ++i) {
        t.admit(mac_key(0, mac_of(rng())), now);
        now += 1000;  // 0.1 s in all: 0.1 token for each established key
    }
    size_t kept = 0;
    for (uint64_t k : est) kept += !t.admit(k, now);  // still drained: never evicted
    EXPECT_EQ(kept, est.size());
    EXPECT_EQ(t.storage(), storage);
    EXPECT_EQ(t.capacity(), 4096u);
    EXPECT_EQ(t.occupied(now), 4096u);
}

TEST(MacTable, DisabledHasNoTable) {
    MacTable t(Rate{0, 0}, 4096, 1);
    EXPECT_EQ(t.capacity(), 0u);
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(t.admit(mac_key(0, mac_of(1)), kT0));
}

TEST(MacTable, SeedChangesTheSets) {
    // The same 5,000 keys in 4,096 slots overflow different sets under different seeds.
    MacTable a(Rate{1, 1}, 4096, 1), b(Rate{1, 1}, 4096, 2);
    std::mt19937_64 rng(9);
    for (int i = 0; i < 5000; ++i) {
        const uint64_t k = mac_key(0, mac_of(rng()));
        a.admit(k, kT0);
        b.admit(k, kT0);
    }
    EXPECT_GT(a.evictions(), 0u);
    EXPECT_NE(a.evictions(), b.evictions());
}

// ---- TopTalkers (Space-Saving) ----------------------------------------------------------------

TEST(TopTalkers, FindsTheHeavyKeysAmongManySingletons) {
    TopTalkers<8> top;
    std::map<uint64_t, uint64_t> truth;
    std::mt19937_64 rng(5);
    const uint64_t heavy[3] = {0xa1, 0xb2, 0xc3};
    // Space-Saving with k = 8 is sure to keep every key above 1/8 of the stream: 30 %, 20 %
    // and 15 % here, among 35 % singletons.
    for (int i = 0; i < 30'000; ++i) {
        uint64_t k;
        const int r = i % 20;
        if (r < 6) k = heavy[0];
        else if (r < 10) k = heavy[1];
        else if (r < 13) k = heavy[2];
        else k = 0x1000000 + rng() % 1'000'000;
        top.add(k);
        ++truth[k];
    }
    auto v = top.top();
    ASSERT_EQ(v.size(), 8u);
    for (size_t i = 1; i < v.size(); ++i) EXPECT_GE(v[i - 1].count, v[i].count);
    std::vector<uint64_t> first3{v[0].key, v[1].key, v[2].key};
    std::sort(first3.begin(), first3.end());
    EXPECT_EQ(first3, (std::vector<uint64_t>{0xa1, 0xb2, 0xc3}));
    for (const auto& it : v) {  // Space-Saving's bounds
        EXPECT_GE(it.count, truth[it.key]);
        EXPECT_LE(it.count - it.error, truth[it.key]);
    }
    top.clear();
    EXPECT_TRUE(top.top().empty());
}

TEST(TopTalkers, ExactWhileFewKeys) {
    TopTalkers<8> top;
    for (int i = 0; i < 5; ++i) top.add(7);
    top.add(9);
    auto v = top.top();
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].key, 7u);
    EXPECT_EQ(v[0].count, 5u);
    EXPECT_EQ(v[0].error, 0u);
    EXPECT_EQ(v[1].key, 9u);
    EXPECT_EQ(v[1].count, 1u);
}

// ---- FloodGuard -------------------------------------------------------------------------------

Config small_config() {
    Config c;
    c.per_mac = {1, 2};
    c.per_port = {10, 10};
    c.log_lines = {2, 3};
    c.mac_table_size = 64;
    c.seed = 11;
    return c;
}

TEST(FloodGuard, PerMacBeforePerPort) {
    FloodGuard g(small_config(), 2);
    const auto flooder = mac_of(0x02000000f00d);
    int pass = 0, mac = 0, port = 0;
    for (int i = 0; i < 100; ++i) {
        switch (g.admit(0, flooder, true, kT0)) {
            case Verdict::kPass: ++pass; break;
            case Verdict::kMacLimit: ++mac; break;
            case Verdict::kPortLimit: ++port; break;
        }
    }
    EXPECT_EQ(pass, 2);
    EXPECT_EQ(mac, 98);
    EXPECT_EQ(port, 0);
    // The flooder spent 2 of the port's 10 tokens, not 100: 8 other hosts still get through.
    for (uint64_t i = 1; i <= 8; ++i) EXPECT_EQ(g.admit(0, mac_of(0x020000000000 + i), true, kT0), Verdict::kPass);
    EXPECT_EQ(g.admit(0, mac_of(0x020000000009), true, kT0), Verdict::kPortLimit);
    // Port 1 has its own bucket.
    EXPECT_EQ(g.admit(1, mac_of(0x020000000009), true, kT0), Verdict::kPass);
}

TEST(FloodGuard, WithoutPerMacOnlyThePortLimits) {
    // A downstream relay's Relay-forwards: one MAC for many clients, per-port limit only.
    FloodGuard g(small_config(), 1);
    const auto relay = mac_of(0x0200000000dd);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(g.admit(0, relay, false, kT0), Verdict::kPass) << i;
    EXPECT_EQ(g.admit(0, relay, false, kT0), Verdict::kPortLimit);
    EXPECT_EQ(g.admit(0, std::nullopt, true, kT0 + 100'000'000), Verdict::kPass);  // no MAC: port only
    EXPECT_EQ(g.mac_table().occupied(kT0), 0u);
}

// Admits new MACs on `port` at `now` until one is refused by the port: the new-MAC bucket is empty.
int drain_new(FloodGuard& g, size_t port, uint64_t now, uint64_t& next) {
    int passed = 0;
    for (int i = 0; i < 1000; ++i) {
        const Verdict v = g.admit(port, mac_of(0x020000500000 + next++), true, now);
        if (v == Verdict::kPortLimit) return passed;
        passed += v == Verdict::kPass;
    }
    return -1;
}

TEST(FloodGuard, EstablishedMacsPassWhileTheNewMacBucketIsEmpty) {
    Config c = small_config();  // per-MAC 1/s burst 2, per-port 10/s burst 10
    c.mac_table_size = 4096;
    FloodGuard g(c, 1);
    const auto host = mac_of(0x0200000a0001);
    uint64_t next = 0;
    EXPECT_EQ(g.admit(0, host, true, kT0), Verdict::kPass);
    EXPECT_EQ(drain_new(g, 0, kT0, next), 9);  // the 10 tokens for the rest: the host took one
    EXPECT_EQ(g.admit(0, host, true, kT0 + kSec), Verdict::kPass);  // established: its own bucket
    for (uint64_t t = kT0 + kSec; t <= kT0 + 10 * kSec; t += kSec) {
        EXPECT_GE(drain_new(g, 0, t, next), 0);  // the flood empties the new-MAC bucket
        EXPECT_EQ(g.admit(0, host, true, t), Verdict::kPass) << (t - kT0) / kSec;
        // No MAC or a Relay-forward (per-port limit only): not established, the new-MAC bucket.
        EXPECT_EQ(g.admit(0, std::nullopt, true, t), Verdict::kPortLimit);
        EXPECT_EQ(g.admit(0, host, false, t), Verdict::kPortLimit);
    }
    // Still bounded per MAC (1/s: this second's token is spent).
    EXPECT_EQ(g.admit(0, host, true, kT0 + 10 * kSec), Verdict::kMacLimit);
}

TEST(FloodGuard, EstablishedMacsTogetherAreBoundedByTheirOwnPortBucket) {
    Config c = small_config();
    c.mac_table_size = 4096;
    FloodGuard g(c, 1);
    for (uint64_t i = 0; i < 30; ++i) g.admit(0, mac_of(0x0200000b0000 + i), true, kT0);
    int pass = 0, port = 0;
    for (uint64_t i = 0; i < 30; ++i) {
        const Verdict v = g.admit(0, mac_of(0x0200000b0000 + i), true, kT0 + kSec);
        pass += v == Verdict::kPass;
        port += v == Verdict::kPortLimit;
    }
    EXPECT_EQ(pass, 10);  // the established bucket: 10/s burst 10
    EXPECT_EQ(port, 20);
}

TEST(FloodGuard, AFloodingMacIsEstablishedOnlyAfterOneSecond) {
    Config c = small_config();
    c.per_mac = {20, 100};  // the attacker is not held back by its own bucket here
    c.mac_table_size = 4096;
    FloodGuard g(c, 1);
    const auto attacker = mac_of(0x0200000c0001);
    uint64_t next = 0;
    for (uint64_t dt : {uint64_t(0), kSec / 2, kSec - 1'000'000, kSec - 1}) {
        ASSERT_GE(drain_new(g, 0, kT0 + dt, next), 0);
        EXPECT_EQ(g.admit(0, attacker, true, kT0 + dt), Verdict::kPortLimit) << dt;
    }
    ASSERT_GE(drain_new(g, 0, kT0 + kSec, next), 0);
    EXPECT_EQ(g.admit(0, attacker, true, kT0 + kSec), Verdict::kPass);
}

TEST(FloodGuard, LogBudgetAndOneSummaryPerInterval) {
    Config c = small_config();
    c.report_interval_ns = 10 * kSec;
    FloodGuard g(c, 2);
    const std::vector<std::string> names{"eth1", "eth2"};
    int logged = 0;
    for (int i = 0; i < 50; ++i) logged += g.log_line(0, kT0);
    EXPECT_EQ(logged, 3);  // burst 3
    const auto flooder = mac_of(0x02000000f00d);
    for (int i = 0; i < 100; ++i) g.admit(0, flooder, true, kT0);
    for (uint64_t i = 0; i < 50; ++i) g.admit(0, mac_of(0x020000001000 + i), true, kT0);
    EXPECT_TRUE(g.report(kT0 + 9 * kSec, names).empty());  // the interval is not over
    auto lines = g.report(kT0 + 10 * kSec, names);
    ASSERT_EQ(lines.size(), 1u);  // eth2 saw nothing: no line
    // 98 per-MAC drops of the flooder; the port's 10 tokens: 2 by the flooder, 8 by new MACs,
    // so 42 of the 50 new MACs are port drops.
    const std::string head =
        "flood limits on eth1 in the last 10.0 s: dropped 140 (rate-limit-port 42, rate-limit-mac 98), "
        "47 info lines suppressed; top MACs dropped: 02:00:00:00:f0:0d 98";
    EXPECT_EQ(lines[0], head);  // the 42 MACs dropped once are not named
    EXPECT_TRUE(g.report(kT0 + 10 * kSec, names).empty());  // counts reset
    EXPECT_TRUE(g.report(kT0 + 25 * kSec, names).empty());  // a quiet interval: no line
    // flush ends the interval at once.
    g.log_line(1, kT0 + 25 * kSec);
    for (int i = 0; i < 5; ++i) g.log_line(1, kT0 + 25 * kSec);
    lines = g.report(kT0 + 26 * kSec, names, true);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "flood limits on eth2 in the last 1.0 s: dropped 0 (rate-limit-port 0, rate-limit-mac 0), "
                        "3 info lines suppressed");
    // A spoofed random-MAC flood names no MAC.
    for (uint64_t i = 0; i < 100; ++i) g.admit(1, mac_of(0x020000002000 + i), true, kT0 + 30 * kSec);
    lines = g.report(kT0 + 36 * kSec, names);  // 10 s after the flush
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "flood limits on eth2 in the last 10.0 s: dropped 90 (rate-limit-port 90, rate-limit-mac 0), "
                        "0 info lines suppressed; no MAC dropped twice");
}

TEST(FloodGuard, SummaryLinesStayBoundedUnderAFlood) {
    // 100,000 random MACs over 60 s on one port: at most one line per 10 s interval.
    Config c;  // defaults
    c.per_port = {100, 100};
    FloodGuard g(c, 1);
    const std::vector<std::string> names{"eth1"};
    std::mt19937_64 rng(1);
    size_t lines = 0;
    uint64_t now = kT0;
    for (int i = 0; i < 100'000; ++i, now += 600'000) {  // 60 s
        g.admit(0, mac_of(rng()), true, now);
        g.log_line(0, now);
        lines += g.report(now, names).size();
    }
    EXPECT_GE(lines, 5u);
    EXPECT_LE(lines, 6u);
}

}  // namespace
