// The registrar's SQLite store (registrar/store.h) on a temporary file: round trip of events,
// bindings restored, the history queries, who-had, retention, schema versions, and a process
// killed right after a commit losing nothing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

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

TEST(RegistrarStore, RoundTripOfEventsAndBindings) {
    TempDb t;
    {
        auto s = open_rw(t.path);
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
    auto s = open_rw(t.path);  // a restart
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

TEST(RegistrarStore, HistoryQueriesByMacDuidPrefixAndTime) {
    TempDb t;
    auto s = open_rw(t.path);
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

TEST(RegistrarStore, WhoHadAtATime) {
    TempDb t;
    auto s = open_rw(t.path);
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

TEST(RegistrarStore, RetentionPrunesOldHistoryOnly) {
    TempDb t;
    auto s = open_rw(t.path);
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

TEST(RegistrarStore, ReadOnlyOpenNeverCreates) {
    TempDb t;
    std::string err;
    EXPECT_FALSE(open_store("sqlite:" + t.path, OpenOptions{true}, err));
    EXPECT_NE(err.find("No such file"), std::string::npos) << err;
    EXPECT_FALSE(std::filesystem::exists(t.path));
    EXPECT_FALSE(open_store("postgresql://db/regrelay", {}, err));
    EXPECT_NE(err.find("not supported"), std::string::npos);
}

TEST(RegistrarStore, AReadOnlyStoreFailsTheWholeBatch) {
    TempDb t;
    {
        auto s = open_rw(t.path);
        ASSERT_TRUE(s);
    }
    std::string err;
    auto ro = open_store(t.path, OpenOptions{true}, err);
    ASSERT_TRUE(ro) << err;
    EXPECT_FALSE(ro->write({ev(EventKind::kRegistered, 1, "2001:db8:1::1", kA)}, err));
    std::vector<HistoryRow> rows;
    ASSERT_TRUE(ro->history({}, rows, err));
    EXPECT_TRUE(rows.empty());
}

// A process killed (SIGKILL, no close, no checkpoint) right after write() returned: the next
// open finds every row of the committed batch (the WAL is replayed). Machine crashes are the
// synchronous=FULL argument in store_sqlite.cpp; this is the process-crash half, tested.
TEST(RegistrarStore, CommittedBatchSurvivesSigkill) {
    TempDb t;
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::string err;
        auto s = open_store(t.path, {}, err);
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
    auto s = open_rw(t.path);
    ASSERT_TRUE(s);
    std::vector<Binding> bs;
    std::string err;
    ASSERT_TRUE(s->load_bindings(bs, err));
    EXPECT_EQ(bs.size(), 200u);
    std::vector<HistoryRow> rows;
    ASSERT_TRUE(s->history({}, rows, err));
    EXPECT_EQ(rows.size(), 200u);
}

}  // namespace
}  // namespace regrelay::registrar
