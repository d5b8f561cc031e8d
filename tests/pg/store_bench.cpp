// Registrations/s through Store::write() (group commit of a batch: one durable transaction),
// SQLite and PostgreSQL side by side in the same run, batches of 1, 64, 1024.
//
//   regrelay_store_bench [--seconds S] [--sqlite DIR] [--pg URL]...
//
// Each case writes new registrations (distinct addresses) into a fresh database for about S
// seconds (default 3) and prints events/s and the mean commit time. --pg URL must name an empty
// database per run (tests/pg/pgtmp.py: `pgtmp.py -- sh -c 'regrelay_store_bench --pg
// "$REGRELAY_TEST_PG_URL"'` on its own server); its tables are dropped before each case.
// Not a test: a measurement for docs/benchmarks.md (nothing asserted on speed).
#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "registrar/store.h"

using namespace regrelay;
using namespace regrelay::registrar;

namespace {

Event registration(uint64_t n, int64_t now) {
    Event e;
    e.kind = EventKind::kRegistered;
    e.time = now;
    e.b.address.b = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
    for (int i = 0; i < 8; ++i) e.b.address.b[size_t(8 + i)] = uint8_t(n >> (56 - 8 * i));
    e.b.duid = {0, 3, 0, 1, 2, 0, 0, uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
    e.b.mac = MacAddr{{2, 0, 0, uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)}};
    e.b.interface_id = {'s', 'w', '0'};
    e.b.link_address = *Ip6Addr::parse("2001:db8:1::1");
    e.b.link = "office";
    e.b.relay_chain = "[{\"hop\":0,\"link\":\"2001:db8:1::1\"}]";
    e.b.preferred = 3600;
    e.b.valid = 7200;
    e.b.xid = uint32_t(n);
    e.b.first_seen = e.b.last_seen = now;
    e.b.expires = now + 7200;
    return e;
}

bool reset_pg(const std::string& url) {
    PGconn* c = PQconnectdb(url.c_str());
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PQclear(PQexec(c, "SET client_min_messages = warning"));
        PGresult* r = PQexec(c, "DROP TABLE IF EXISTS bindings, history, meta, schema_version");
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) std::fprintf(stderr, "reset: %s", PQresultErrorMessage(r));
        PQclear(r);
    } else {
        std::fprintf(stderr, "reset: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok;
}

int run_case(const char* name, const std::string& url, size_t batch, double seconds) {
    std::string err;
    auto s = open_store(url, {}, err);
    if (!s) {
        std::fprintf(stderr, "%s: %s\n", name, err.c_str());
        return 1;
    }
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    uint64_t n = 0, commits = 0;
    std::vector<Event> events;
    while (std::chrono::duration<double>(clock::now() - t0).count() < seconds) {
        events.clear();
        for (size_t i = 0; i < batch; ++i) events.push_back(registration(n++, 1700000000));
        if (!s->write(events, err)) {
            std::fprintf(stderr, "%s: %s\n", name, err.c_str());
            return 1;
        }
        ++commits;
    }
    const double el = std::chrono::duration<double>(clock::now() - t0).count();
    std::printf("%-10s batch %5zu: %9.0f registrations/s, %7.2f ms per commit (%llu commits, %llu events, %.1f s)\n",
                name, batch, double(n) / el, 1000.0 * el / double(commits), (unsigned long long)commits,
                (unsigned long long)n, el);
    std::fflush(stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 3;
    std::string sqlite_dir = "/var/tmp";
    std::vector<std::string> pgs;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
        else if (a == "--sqlite" && i + 1 < argc) sqlite_dir = argv[++i];
        else if (a == "--pg" && i + 1 < argc) pgs.push_back(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--seconds S] [--sqlite DIR] [--pg URL]...\n", argv[0]);
            return 2;
        }
    }
    int rc = 0;
    for (size_t batch : {size_t(1), size_t(64), size_t(1024)}) {
        std::string dir = sqlite_dir + "/regrelay-store-bench-" + std::to_string(getpid());
        std::filesystem::create_directories(dir);
        rc |= run_case("sqlite", "sqlite:" + dir + "/registrar.db", batch, seconds);
        std::filesystem::remove_all(dir);
        for (const auto& url : pgs) {
            if (!reset_pg(url)) return 1;
            rc |= run_case("postgresql", url, batch, seconds);
        }
    }
    return rc;
}
