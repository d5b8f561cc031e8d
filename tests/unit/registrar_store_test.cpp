// The registrar's stores (registrar/store.h): round trip of events, bindings restored, the
// history queries, who-had, retention, schema versions, and a process killed right after a commit
// losing nothing, each on SQLite (a temporary file) and on PostgreSQL (a fresh database on the
// server tests/pg/pgtmp.py starts for ctest's registrar_store_pg: REGRELAY_TEST_PG_URL; the
// PostgreSQL cases skip without it). Then what only one of them has: WAL and the SQLite file;
// PostgreSQL's migrations under concurrency, registrars sharing one database, read-only sessions.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "registrar/store.h"

namespace regrelay::registrar {
namespace {

Ip6Addr ip(const char* text) {
    Ip6Addr a;
    if (inet_pton(AF_INET6, text, a.b.data()) != 1) throw std::invalid_argument("bad address in test");
    return a;
}

struct TempDb {
    std::string dir, path;
    TempDb() {
        char tmpl[] = "/tmp/regrelay-store-XXXXXX";
        dir = mkdtemp(tmpl);
        path = dir + "/registrar.db";
    }
    ~TempDb() { std::filesystem::remove_all(dir); }
};

Event ev(EventKind k, int64_t t, const char* addr, std::vector<uint8_t> duid, std::optional<MacAddr> mac = {},
         uint32_t valid = 7200) {
    Event e;
    e.kind = k;
    e.time = t;
    e.b.address = ip(addr);
    e.b.duid = std::move(duid);
    e.b.mac = mac;
    e.b.interface_id = {'s', 'w', '0'};
    e.b.remote_id = {0, 0, 0, 9, 'r'};
    e.b.link_address = ip("2001:db8:1::1");
    e.b.link = "office";
    e.b.relay_chain = "[{\"hop\":0}]";
    e.b.preferred = 3600;
    e.b.valid = valid;
    e.b.xid = 0x010203;
    e.b.first_seen = t;
    e.b.last_seen = t;
    e.b.expires = valid == kInfinity ? kNever : t + valid;
    return e;
}

const std::vector<uint8_t> kA = {0, 3, 0, 1, 2, 0, 0, 0, 0, 1};
const std::vector<uint8_t> kB = {0, 3, 0, 1, 2, 0, 0, 0, 0, 2};
const MacAddr kMacA = *MacAddr::parse("02:00:00:00:00:01");
const MacAddr kMacB = *MacAddr::parse("02:00:00:00:00:02");

std::unique_ptr<Store> open_rw(const std::string& path) {
    std::string err;
    auto s = open_store("sqlite:" + path, {}, err);
    EXPECT_TRUE(s) << err;
    return s;
}

// The PostgreSQL server of the run: REGRELAY_TEST_PG_URL, "postgresql:///postgres?PARAMS".
const char* pg_admin_url() { return std::getenv("REGRELAY_TEST_PG_URL"); }

// One statement on the server as its superuser; the first column of its rows, one a line.
std::string pg_admin(const std::string& sql, const std::string& url) {
    PGconn* c = PQconnectdb(url.c_str());
    std::string out;
    if (PQstatus(c) != CONNECTION_OK) {
        ADD_FAILURE() << "connect " << url << ": " << PQerrorMessage(c);
    } else {
        PGresult* r = PQexec(c, sql.c_str());
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
        else
            for (int i = 0; i < PQntuples(r); ++i) out += (i ? "\n" : "") + std::string(PQgetvalue(r, i, 0));
        PQclear(r);
    }
    PQfinish(c);
    return out;
}

// A fresh database per test, dropped afterwards.
struct TempPgDb {
    std::string name, url;
    TempPgDb() {
        static std::atomic<int> n{0};
        name = "regrelay_t" + std::to_string(getpid()) + "_" + std::to_string(n++);
        std::string admin = pg_admin_url();
        pg_admin("CREATE DATABASE " + name, admin);
        url = admin;
        url.replace(url.find("/postgres?"), 10, "/" + name + "?");
    }
    ~TempPgDb() { pg_admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", pg_admin_url()); }
    std::string sql(const std::string& q) const { return pg_admin(q, url); }
};

#define SKIP_WITHOUT_PG()                                                                                      \
    if (!pg_admin_url())                                                                                       \
    GTEST_SKIP() << "REGRELAY_TEST_PG_URL unset: these run under ctest's registrar_store_pg (tests/pg/pgtmp.py " \
                    "starts a PostgreSQL 15 server)"

// The cases every store must pass, over GetParam(): "sqlite" or "postgresql".
class AnyStore : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (GetParam() == "postgresql") {
            SKIP_WITHOUT_PG();
            pg_ = std::make_unique<TempPgDb>();
            url_ = pg_->url;
        } else {
            url_ = "sqlite:" + file_.path;
        }
    }
    std::unique_ptr<Store> open(bool read_only = false) {
        std::string err;
        auto s = open_store(url_, OpenOptions{read_only}, err);
        EXPECT_TRUE(s) << err;
        return s;
    }
    std::string url_;
    TempDb file_;
    std::unique_ptr<TempPgDb> pg_;
};
INSTANTIATE_TEST_SUITE_P(Stores, AnyStore, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST_P(AnyStore, RoundTripOfEventsAndBindings) {
    {
        auto s = open();
        ASSERT_TRUE(s);
        EXPECT_EQ(s->schema_version(), 2);
        std::string err;
        ASSERT_TRUE(s->write({ev(EventKind::kRegistered, 100, "2001:db8:1::100", kA, kMacA),
                              ev(EventKind::kRegistered, 100, "2001:db8:1::200", kB, kMacB, kInfinity)},
                             err))
            << err;
        Event moved = ev(EventKind::kMoved, 200, "2001:db8:1::100", kB, kMacB);
        moved.previous_duid = kA;
        moved.b.fqdn = "laptop7.corp.example";
        ASSERT_TRUE(s->write({moved, ev(EventKind::kReleased, 300, "2001:db8:1::200", kB, kMacB, 0)}, err)) << err;
    }
    auto s = open();  // a restart
    ASSERT_TRUE(s);
    std::vector<Binding> bs;
    std::string err;
    ASSERT_TRUE(s->load_bindings(bs, err)) << err;
    ASSERT_EQ(bs.size(), 1u);  // ::200 was released
    const Binding& b = bs[0];
    EXPECT_EQ(b.address, ip("2001:db8:1::100"));
    EXPECT_EQ(b.duid, kB);
    EXPECT_EQ(b.mac, kMacB);
    EXPECT_EQ(b.interface_id, (std::vector<uint8_t>{'s', 'w', '0'}));
    EXPECT_EQ(b.remote_id, (std::vector<uint8_t>{0, 0, 0, 9, 'r'}));
    EXPECT_EQ(b.link_address, ip("2001:db8:1::1"));
    EXPECT_EQ(b.link, "office");
    EXPECT_EQ(b.relay_chain, "[{\"hop\":0}]");
    EXPECT_EQ(b.expires, 200 + 7200);
    EXPECT_EQ(b.xid, 0x010203u);
    EXPECT_EQ(b.fqdn, "laptop7.corp.example");

    std::vector<HistoryRow> rows;
    HistoryQuery q;
    q.address = ip("2001:db8:1::100");
    ASSERT_TRUE(s->history(q, rows, err)) << err;
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].kind, EventKind::kRegistered);
    EXPECT_EQ(rows[1].kind, EventKind::kMoved);
    EXPECT_EQ(rows[1].previous_duid, kA);
    EXPECT_EQ(rows[0].b.fqdn, "");
    EXPECT_EQ(rows[1].b.fqdn, "laptop7.corp.example");

    // The engine takes them back: the restored binding answers a retransmission of its xid.
    Config c;
    c.server_duid = {0, 3, 0, 1, 2, 0, 0, 0, 0x53, 0xff};
    Engine e(c);
    e.restore(bs);
    EXPECT_EQ(e.binding_count(), 1u);
    ASSERT_TRUE(e.find(ip("2001:db8:1::100")));
    EXPECT_EQ(e.find(ip("2001:db8:1::100"))->duid, kB);
}

TEST_P(AnyStore, HistoryQueriesByMacDuidPrefixAndTime) {
    auto s = open();
    ASSERT_TRUE(s);
    std::string err;
    std::vector<Event> batch;
    for (int i = 0; i < 50; ++i) {
        std::string a = "2001:db8:" + std::to_string(1 + i % 2) + "::" + std::to_string(100 + i);
        batch.push_back(ev(EventKind::kRegistered, 1000 + i, a.c_str(), i % 5 ? kA : kB, i % 5 ? kMacA : kMacB));
    }
    ASSERT_TRUE(s->write(batch, err)) << err;
    auto count = [&](HistoryQuery q) {
        std::vector<HistoryRow> rows;
        EXPECT_TRUE(s->history(q, rows, err)) << err;
        return rows.size();
    };
    HistoryQuery q;
    q.mac = kMacB;
    EXPECT_EQ(count(q), 10u);
    q = {};
    q.duid = kA;
    EXPECT_EQ(count(q), 40u);
    q = {};
    q.prefix = Prefix::parse("2001:db8:2::/64");
    EXPECT_EQ(count(q), 25u);
    q.since = 1010;
    q.until = 1019;
    EXPECT_EQ(count(q), 5u);
    q = {};
    q.prefix = Prefix::parse("2001:db8::/32");
    EXPECT_EQ(count(q), 50u);
    q.limit = 7;
    EXPECT_EQ(count(q), 7u);
}

TEST_P(AnyStore, WhoHadAtATime) {
    auto s = open();
    ASSERT_TRUE(s);
    std::string err;
    ASSERT_TRUE(s->write({ev(EventKind::kRegistered, 100, "2001:db8:1::100", kA, kMacA, 1000)}, err));
    Event moved = ev(EventKind::kMoved, 500, "2001:db8:1::100", kB, kMacB, 1000);
    moved.previous_duid = kA;
    ASSERT_TRUE(s->write({moved}, err));
    ASSERT_TRUE(s->write({ev(EventKind::kReleased, 800, "2001:db8:1::100", kB, kMacB, 0)}, err));
    std::optional<WhoHad> w;
    ASSERT_TRUE(lookup_who_had(*s, ip("2001:db8:1::100"), 50, w, err));
    EXPECT_FALSE(w);  // before anything
    ASSERT_TRUE(lookup_who_had(*s, ip("2001:db8:1::100"), 300, w, err));
    ASSERT_TRUE(w);
    EXPECT_TRUE(w->bound);
    EXPECT_EQ(w->row.b.mac, kMacA);
    EXPECT_EQ(w->until, 1100);
    ASSERT_TRUE(lookup_who_had(*s, ip("2001:db8:1::100"), 600, w, err));
    EXPECT_TRUE(w->bound);
    EXPECT_EQ(w->row.b.duid, kB);
    ASSERT_TRUE(lookup_who_had(*s, ip("2001:db8:1::100"), 900, w, err));
    EXPECT_FALSE(w->bound);
    EXPECT_EQ(w->row.kind, EventKind::kReleased);
    EXPECT_EQ(w->until, 800);
    // A lifetime that ran out without an expired row (the daemon was down): not bound.
    ASSERT_TRUE(s->write({ev(EventKind::kRegistered, 2000, "2001:db8:1::300", kA, kMacA, 60)}, err));
    ASSERT_TRUE(lookup_who_had(*s, ip("2001:db8:1::300"), 2061, w, err));
    EXPECT_FALSE(w->bound);
    EXPECT_EQ(w->until, 2060);
}

TEST_P(AnyStore, RetentionPrunesOldHistoryOnly) {
    auto s = open();
    ASSERT_TRUE(s);
    std::string err;
    ASSERT_TRUE(s->write({ev(EventKind::kRegistered, 100, "2001:db8:1::1", kA), ev(EventKind::kRefreshed, 200, "2001:db8:1::1", kA),
                          ev(EventKind::kRegistered, 300, "2001:db8:1::2", kA)},
                         err));
    uint64_t removed = 0;
    ASSERT_TRUE(s->prune_history(250, removed, err)) << err;
    EXPECT_EQ(removed, 2u);
    std::vector<HistoryRow> rows;
    ASSERT_TRUE(s->history({}, rows, err));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].time, 300);
    std::vector<Binding> bs;
    ASSERT_TRUE(s->load_bindings(bs, err));
    EXPECT_EQ(bs.size(), 2u);  // the live table is not history
}

TEST(RegistrarStore, WalFullSyncAndVersionTable) {
    TempDb t;
    ASSERT_TRUE(open_rw(t.path));
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(t.path.c_str(), &db), SQLITE_OK);
    auto one = [&](const char* sql) {
        sqlite3_stmt* st = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK);
        EXPECT_EQ(sqlite3_step(st), SQLITE_ROW);
        std::string v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return v;
    };
    EXPECT_EQ(one("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(one("SELECT MAX(version) FROM schema_version"), "2");
    EXPECT_EQ(one("SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name LIKE 'history_%'"), "4");
    // A newer schema than this build knows is refused.
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99, 0)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    std::string err;
    EXPECT_FALSE(open_store("sqlite:" + t.path, {}, err));
    EXPECT_NE(err.find("schema version 99 is newer"), std::string::npos) << err;
}

// The writer's automatic checkpoint is off (store_sqlite.cpp: a checkpointer thread does it, off
// the reply path). While the store stays open the database file only grows by checkpoints, so
// the rows reaching it (and the WAL staying bounded) shows that the thread checkpoints; a WAL
// nobody checkpointed would hold everything until the close.
TEST(RegistrarStore, BackgroundCheckpointsWhileOpen) {
    TempDb t;
    auto s = open_rw(t.path);
    ASSERT_TRUE(s);
    const auto db_size = [&] { return std::filesystem::file_size(t.path); };
    const uintmax_t empty = db_size();
    std::string err;
    uintmax_t max_wal = 0;
    for (int batch = 0; batch < 40; ++batch) {
        std::vector<Event> events;
        for (int i = 0; i < 500; ++i) {
            char a[64];
            std::snprintf(a, sizeof a, "2001:db8:%x::%x", batch + 1, i + 1);
            events.push_back(ev(EventKind::kRegistered, 10, a, kA, kMacA));
        }
        ASSERT_TRUE(s->write(events, err)) << err;
        max_wal = std::max(max_wal, std::filesystem::file_size(t.path + "-wal"));
    }
    // 20,000 registrations: several MB of pages, several times the 1000-page threshold.
    for (int i = 0; i < 500 && db_size() < empty + (2u << 20); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_GE(db_size(), empty + (2u << 20)) << "no checkpoint reached the database file while the store was open";
    EXPECT_LT(max_wal, uintmax_t(64) << 20) << "the WAL grew without checkpoints";
    // What was committed is all there through another connection.
    auto ro = open_store("sqlite:" + t.path, OpenOptions{true}, err);
    ASSERT_TRUE(ro) << err;
    HistoryQuery q;
    q.limit = 1'000'000;
    std::vector<HistoryRow> rows;
    ASSERT_TRUE(ro->history(q, rows, err)) << err;
    EXPECT_EQ(rows.size(), 20000u);
}

TEST(RegistrarStore, ReadOnlyOpenNeverCreates) {
    TempDb t;
    std::string err;
    EXPECT_FALSE(open_store("sqlite:" + t.path, OpenOptions{true}, err));
    EXPECT_NE(err.find("No such file"), std::string::npos) << err;
    EXPECT_FALSE(std::filesystem::exists(t.path));
    EXPECT_FALSE(open_store("mysql://db/regrelay", {}, err));
    EXPECT_NE(err.find("unknown database URL"), std::string::npos) << err;
}

TEST_P(AnyStore, AReadOnlyStoreFailsTheWholeBatch) {
    {
        auto s = open();
        ASSERT_TRUE(s);
    }
    std::string err;
    auto ro = open(true);
    ASSERT_TRUE(ro);
    EXPECT_FALSE(ro->write({ev(EventKind::kRegistered, 1, "2001:db8:1::1", kA)}, err));
    std::vector<HistoryRow> rows;
    ASSERT_TRUE(ro->history({}, rows, err));
    EXPECT_TRUE(rows.empty());
}

// A process killed (SIGKILL, no close, no checkpoint) right after write() returned: the next
// open finds every row of the committed batch (the WAL is replayed). Machine crashes are the
// synchronous=FULL argument in store_sqlite.cpp; this is the process-crash half, tested.
TEST_P(AnyStore, CommittedBatchSurvivesSigkill) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::string err;
        auto s = open_store(url_, {}, err);
        std::vector<Event> batch;
        for (int i = 0; i < 200; ++i) {
            std::string a = "2001:db8:1::" + std::to_string(i + 1);
            batch.push_back(ev(EventKind::kRegistered, 10, a.c_str(), kA));
        }
        if (!s || !s->write(batch, err)) _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    auto s = open();
    ASSERT_TRUE(s);
    std::vector<Binding> bs;
    std::string err;
    ASSERT_TRUE(s->load_bindings(bs, err));
    EXPECT_EQ(bs.size(), 200u);
    std::vector<HistoryRow> rows;
    ASSERT_TRUE(s->history({}, rows, err));
    EXPECT_EQ(rows.size(), 200u);
}

// --- PostgreSQL only --------------------------------------------------------------------------

TEST(RegistrarStorePg, SchemaIndexesAndANewerVersionRefused) {
    SKIP_WITHOUT_PG();
    TempPgDb d;
    std::string err;
    {
        auto s = open_store(d.url, {}, err);
        ASSERT_TRUE(s) << err;
        EXPECT_EQ(s->schema_version(), 2);
        EXPECT_EQ(s->describe().rfind("postgresql:///" + d.name + "?", 0), 0u) << s->describe();
    }
    EXPECT_EQ(d.sql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version"), "1,2");
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'history' AND indexname LIKE 'history\\_%' AND indexname <> 'history_pkey'"), "4");
    EXPECT_EQ(d.sql("SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns WHERE "
                    "table_name = 'bindings' AND data_type = 'bytea'"),
              "address,duid,interface_id,link_address,mac,remote_id");
    EXPECT_EQ(d.sql("SELECT data_type FROM information_schema.columns WHERE table_name = 'history' AND column_name = 'fqdn'"),
              "text");
    // A prefix is an address range on bytea: the (address, time) index answers it.
    d.sql("INSERT INTO history (time, kind, address, duid, relay_chain, preferred, valid, xid, first_seen) SELECT i, "
          "'registered', decode(lpad(to_hex(i), 32, '0'), 'hex'), '\\x01', '[]', 1, 1, 1, i FROM generate_series(1, 20000) i");
    d.sql("ANALYZE history");
    EXPECT_NE(d.sql("EXPLAIN SELECT id FROM history WHERE address >= '\\x00000000000000000000000000000100' AND address <= "
                    "'\\x000000000000000000000000000001ff' ORDER BY time LIMIT 100")
                  .find("history_address_time"),
              std::string::npos);
    // A newer schema than this build knows is refused, read-write and read-only.
    d.sql("INSERT INTO schema_version VALUES (99, 0)");
    EXPECT_FALSE(open_store(d.url, {}, err));
    EXPECT_NE(err.find("schema version 99 is newer"), std::string::npos) << err;
    EXPECT_FALSE(open_store(d.url, OpenOptions{true}, err));
    EXPECT_NE(err.find("schema version 99 is newer"), std::string::npos) << err;
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM schema_version"), "3");  // nothing applied or removed
}

TEST(RegistrarStorePg, ReadOnlyNeverCreatesOrMigrates) {
    SKIP_WITHOUT_PG();
    TempPgDb d;
    std::string err;
    EXPECT_FALSE(open_store(d.url, OpenOptions{true}, err));
    EXPECT_NE(err.find("not a registrar database"), std::string::npos) << err;
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'"), "0");
    // A database at version 1 (before fqdn) is read as it is, not migrated.
    {
        auto s = open_store(d.url, {}, err);
        ASSERT_TRUE(s) << err;
    }
    d.sql("ALTER TABLE history DROP COLUMN fqdn; ALTER TABLE bindings DROP COLUMN fqdn; DELETE FROM schema_version WHERE version = 2");
    auto ro = open_store(d.url, OpenOptions{true}, err);
    ASSERT_TRUE(ro) << err;
    EXPECT_EQ(ro->schema_version(), 1);
    EXPECT_FALSE(ro->set_meta("k", "v", err));
    EXPECT_NE(err.find("read-only transaction"), std::string::npos) << err;
    EXPECT_EQ(d.sql("SELECT MAX(version) FROM schema_version"), "1");
}

TEST(RegistrarStorePg, NoPasswordInErrorsOrDescribe) {
    // libpq fails on a socket directory that does not exist: no server, no network needed.
    std::string err;
    EXPECT_FALSE(open_store("postgresql://regrelay:hunter2@/registrar?host=/nonexistent-regrelay&password=swordfish", {}, err));
    EXPECT_EQ(err.find("hunter2"), std::string::npos) << err;
    EXPECT_EQ(err.find("swordfish"), std::string::npos) << err;
    EXPECT_EQ(err.rfind("postgresql://regrelay@/registrar?host=/nonexistent-regrelay: ", 0), 0u) << err;
}

// Registrars starting together on a fresh database: each migration applied once, all open.
TEST(RegistrarStorePg, ConcurrentFirstOpensMigrateOnce) {
    SKIP_WITHOUT_PG();
    TempPgDb d;
    constexpr int kN = 6;
    std::vector<std::thread> ts;
    std::atomic<int> opened{0};
    std::vector<std::string> errs(kN);
    for (int i = 0; i < kN; ++i)
        ts.emplace_back([&, i] {
            if (auto s = open_store(d.url, {}, errs[size_t(i)]); s && s->schema_version() == 2) ++opened;
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(opened.load(), kN) << errs[0] << errs[1] << errs[2];
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM schema_version"), "2");
}

// Two registrars writing the same addresses at once, in opposite orders: write() takes the rows'
// locks in address order, so they do not deadlock (before that, five deadlocks in a row, 1 s
// each to detect, failed a write now and then); every event is a history row, every address one
// binding, no write fails.
TEST(RegistrarStorePg, TwoRegistrarsWritingTheSameAddressesLoseNothing) {
    SKIP_WITHOUT_PG();
    TempPgDb d;
    std::string err;
    auto a = open_store(d.url, {}, err);
    ASSERT_TRUE(a) << err;
    auto b = open_store(d.url, {}, err);
    ASSERT_TRUE(b) << err;
    constexpr int kBatches = 60, kPerBatch = 30;
    std::atomic<int> failed{0};
    std::string ea, eb;
    auto run = [&](Store& s, bool reverse, const std::vector<uint8_t>& duid, std::string& e) {
        for (int n = 0; n < kBatches; ++n) {
            std::vector<Event> batch;
            for (int i = 0; i < kPerBatch; ++i) {
                int k = reverse ? kPerBatch - 1 - i : i;
                std::string addr = "2001:db8:7::" + std::to_string(k + 1);
                batch.push_back(ev(n == 0 ? EventKind::kRegistered : EventKind::kRefreshed, 1000 + n, addr.c_str(), duid));
            }
            if (!s.write(batch, e)) ++failed;
        }
    };
    std::thread ta([&] { run(*a, false, kA, ea); });
    std::thread tb([&] { run(*b, true, kB, eb); });
    ta.join();
    tb.join();
    EXPECT_EQ(failed.load(), 0) << ea << " / " << eb;
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM history"), std::to_string(2 * kBatches * kPerBatch));
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM bindings"), std::to_string(kPerBatch));
    std::vector<HistoryRow> rows;
    HistoryQuery q;
    q.duid = kB;
    ASSERT_TRUE(a->history(q, rows, err)) << err;  // one registrar reads the other's rows
    EXPECT_EQ(rows.size(), size_t(kBatches * kPerBatch));
}

// A registrar whose memory of a binding is stale (another one refreshed it since) expires it:
// the newer binding stays and no false "expired" row is written; a binding that has lapsed is
// expired once even when both registrars report it.
TEST(RegistrarStorePg, AStaleExpiryKeepsTheNewerBinding) {
    SKIP_WITHOUT_PG();
    TempPgDb d;
    std::string err;
    auto a = open_store(d.url, {}, err);
    ASSERT_TRUE(a) << err;
    auto b = open_store(d.url, {}, err);
    ASSERT_TRUE(b) << err;
    ASSERT_TRUE(a->write({ev(EventKind::kRegistered, 100, "2001:db8:1::100", kA, kMacA, 1000)}, err)) << err;
    ASSERT_TRUE(b->write({ev(EventKind::kRefreshed, 900, "2001:db8:1::100", kA, kMacA, 1000)}, err)) << err;
    ASSERT_TRUE(a->write({ev(EventKind::kExpired, 1100, "2001:db8:1::100", kA, kMacA, 1000)}, err)) << err;
    std::vector<Binding> bs;
    ASSERT_TRUE(b->load_bindings(bs, err)) << err;
    ASSERT_EQ(bs.size(), 1u);
    EXPECT_EQ(bs[0].expires, 1900);
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM history WHERE kind = 'expired'"), "0");
    ASSERT_TRUE(b->write({ev(EventKind::kExpired, 1900, "2001:db8:1::100", kA, kMacA, 1000)}, err)) << err;
    ASSERT_TRUE(a->write({ev(EventKind::kExpired, 1900, "2001:db8:1::100", kA, kMacA, 1000)}, err)) << err;
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM history WHERE kind = 'expired'"), "1");
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM bindings"), "0");
}

// The server ends the registrar's session (a restart, a failover, an administrator): the write
// in flight fails, nothing half-done; the next one reconnects and commits.
TEST(RegistrarStorePg, ReconnectsAfterTheSessionIsTerminated) {
    SKIP_WITHOUT_PG();
    TempPgDb d;
    std::string err;
    auto s = open_store(d.url, {}, err);
    ASSERT_TRUE(s) << err;
    ASSERT_TRUE(s->write({ev(EventKind::kRegistered, 100, "2001:db8:1::1", kA)}, err)) << err;
    EXPECT_EQ(d.sql("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" + d.name +
                    "' AND pid <> pg_backend_pid()"),
              "1");
    bool first = s->write({ev(EventKind::kRegistered, 200, "2001:db8:1::2", kA)}, err);
    if (!first) {
        EXPECT_NE(err.find("write"), std::string::npos) << err;
    }
    ASSERT_TRUE(s->write({ev(EventKind::kRegistered, 300, "2001:db8:1::3", kA)}, err)) << err;
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM history"), first ? "3" : "2");
    std::vector<Binding> bs;
    ASSERT_TRUE(s->load_bindings(bs, err)) << err;
    EXPECT_EQ(bs.size(), first ? 3u : 2u);
}

}  // namespace
}  // namespace regrelay::registrar
