// The registrar's store: queries against 1,000,000 history rows (issue 11: under 10 ms, index
// backed), and registrations per second through engine + store with group commit (one
// transaction per batch, synchronous=FULL, as the daemon does; replies would go after write()).
//
// The database is built once per run in a temporary directory (REGRELAY_BENCH_DIR, default
// /tmp) and removed at exit.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "registrar/store.h"

namespace {

using namespace regrelay;
using namespace regrelay::registrar;

constexpr int kRows = 1'000'000;
constexpr int kPrefixes = 10'000;  // 2001:db8:P::/64, 100 rows each
constexpr int kMacs = 50'000;      // 20 rows per MAC

Ip6Addr addr_of(uint32_t prefix, uint32_t host) {
    Ip6Addr a;
    a.b[0] = 0x20;
    a.b[1] = 0x01;
    a.b[2] = 0x0d;
    a.b[3] = 0xb8;
    a.b[4] = uint8_t(prefix >> 8);
    a.b[5] = uint8_t(prefix);
    a.b[12] = uint8_t(host >> 24);
    a.b[13] = uint8_t(host >> 16);
    a.b[14] = uint8_t(host >> 8);
    a.b[15] = uint8_t(host);
    return a;
}
MacAddr mac_of(uint32_t i) {
    MacAddr m;
    m.b = {0x02, 0, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
    return m;
}

std::string temp_dir() {
    const char* base = std::getenv("REGRELAY_BENCH_DIR");
    std::string t = std::string(base ? base : "/tmp") + "/regrelay-registrar-bench-XXXXXX";
    if (!mkdtemp(t.data())) std::abort();
    return t;
}

struct BigDb {
    std::string dir = temp_dir();
    std::unique_ptr<Store> store;
    BigDb() {
        std::string err;
        store = open_store("sqlite:" + dir + "/big.db", {}, err);
        if (!store) {
            std::fprintf(stderr, "%s\n", err.c_str());
            std::abort();
        }
        std::vector<Event> batch;
        batch.reserve(10000);
        for (int i = 0; i < kRows; ++i) {
            Event e;
            e.kind = i % 10 ? EventKind::kRefreshed : EventKind::kRegistered;
            e.time = 1'700'000'000 + i;
            uint32_t host = uint32_t(i % 1000);
            e.b.address = addr_of(uint32_t(i % kPrefixes), host);
            e.b.duid = {0, 3, 0, 1, 2, 0, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i % kMacs)};
            e.b.mac = mac_of(uint32_t(i % kMacs));
            e.b.relay_chain = "[{\"hop\":0,\"link\":\"2001:db8::1\",\"peer\":\"2001:db8::2\"}]";
            e.b.preferred = 3600;
            e.b.valid = 7200;
            e.b.first_seen = e.time;
            e.b.expires = e.time + 7200;
            batch.push_back(std::move(e));
            if (batch.size() == 10000) {
                if (!store->write(batch, err)) std::abort();
                batch.clear();
            }
        }
        if (!store->write(batch, err)) std::abort();
    }
    ~BigDb() {
        store.reset();
        std::filesystem::remove_all(dir);
    }
};

BigDb& big() {
    static BigDb db;
    return db;
}

void BM_WhoHad(benchmark::State& st) {
    Store& s = *big().store;
    std::mt19937 rng(1);
    std::string err;
    for (auto _ : st) {
        Ip6Addr a = addr_of(rng() % kPrefixes, rng() % 1000);
        std::optional<WhoHad> w;
        if (!lookup_who_had(s, a, 1'700'000'000 + kRows / 2, w, err)) st.SkipWithError(err.c_str());
        benchmark::DoNotOptimize(w);
    }
}
BENCHMARK(BM_WhoHad)->Unit(benchmark::kMicrosecond);

void BM_HistoryByMac(benchmark::State& st) {
    Store& s = *big().store;
    std::mt19937 rng(2);
    std::string err;
    size_t rows = 0;
    for (auto _ : st) {
        HistoryQuery q;
        q.mac = mac_of(rng() % kMacs);
        std::vector<HistoryRow> out;
        if (!s.history(q, out, err)) st.SkipWithError(err.c_str());
        rows += out.size();
    }
    st.counters["rows_per_query"] = double(rows) / double(st.iterations());
}
BENCHMARK(BM_HistoryByMac)->Unit(benchmark::kMicrosecond);

void BM_HistoryByPrefix64(benchmark::State& st) {
    Store& s = *big().store;
    std::mt19937 rng(3);
    std::string err;
    size_t rows = 0;
    for (auto _ : st) {
        HistoryQuery q;
        q.prefix = Prefix{addr_of(rng() % kPrefixes, 0), 64};
        std::vector<HistoryRow> out;
        if (!s.history(q, out, err)) st.SkipWithError(err.c_str());
        rows += out.size();
    }
    st.counters["rows_per_query"] = double(rows) / double(st.iterations());
}
BENCHMARK(BM_HistoryByPrefix64)->Unit(benchmark::kMicrosecond);

void BM_HistoryByDuidSinceUntil(benchmark::State& st) {
    Store& s = *big().store;
    std::mt19937 rng(4);
    std::string err;
    for (auto _ : st) {
        int i = int(rng() % kRows);
        HistoryQuery q;
        q.duid = std::vector<uint8_t>{0, 3, 0, 1, 2, 0, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i % kMacs)};
        q.since = 1'700'000'000;
        q.until = 1'700'000'000 + kRows;
        std::vector<HistoryRow> out;
        if (!s.history(q, out, err)) st.SkipWithError(err.c_str());
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_HistoryByDuidSinceUntil)->Unit(benchmark::kMicrosecond);

// Registrations through the engine and the store, `batch` per transaction (the daemon's group
// commit: one wake-up's datagrams, at most 1024). items/s = registrations durably stored per second.
void BM_GroupCommit(benchmark::State& st) {
    const size_t batch = size_t(st.range(0));
    std::string dir = temp_dir(), err;
    auto store = open_store("sqlite:" + dir + "/gc.db", {}, err);
    if (!store) {
        st.SkipWithError(err.c_str());
        return;
    }
    Config cfg;
    cfg.server_duid = {0, 3, 0, 1, 2, 0, 0, 0, 0x53, 0xff};
    cfg.limits.per_source = cfg.limits.per_relay = cfg.limits.per_link = {};  // flood limits off: capacity
    Engine eng(cfg);
    std::vector<Event> events;
    eng.advance(1'700'000'000, events);
    Actions act;
    uint32_t n = 0;
    std::vector<uint8_t> msg;
    for (auto _ : st) {
        for (size_t i = 0; i < batch; ++i, ++n) {
            Ip6Addr a = addr_of(n >> 16, n & 0xffff);
            msg = {36, uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n), 0, 1, 0, 10, 0, 3, 0, 1, 2, 0,
                   uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n), 0, 5, 0, 24};
            msg.insert(msg.end(), a.b.begin(), a.b.end());
            for (uint8_t v : {0, 0, 0x0e, 0x10, 0, 0, 0x1c, 0x20}) msg.push_back(v);
            eng.handle(Input{msg, a, 546, 0}, act);
            if (act.outcome != Actions::Outcome::kReplied) {
                st.SkipWithError("not replied");
                return;
            }
        }
        if (!store->write(act.events, err)) {
            st.SkipWithError(err.c_str());
            return;
        }
        act.events.clear();
    }
    st.SetItemsProcessed(int64_t(st.iterations() * batch));
    store.reset();
    std::filesystem::remove_all(dir);
}
BENCHMARK(BM_GroupCommit)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
