// The SQLite store (Debian libsqlite3): one file, WAL journal, synchronous=FULL.
//
// Why FULL and not NORMAL with WAL: in WAL mode NORMAL syncs the WAL only at checkpoints, so a
// committed transaction survives a crash of the process but not of the machine (power loss, a
// kernel panic): the last commits before it can be lost. The registrar replies only after the
// commit and promises that an acknowledged registration is never lost, so every commit syncs
// the WAL (FULL). Group commit (one transaction per wake-up) pays that fsync once per batch.
//
// Checkpoints (copying the WAL back into the database file: two more fsyncs and megabytes of
// writes) are off the reply path: SQLite's automatic checkpoint would run them inside the COMMIT
// of whichever batch crosses 1000 WAL pages, delaying its replies. Instead a checkpointer thread
// with its own connection runs PASSIVE checkpoints (they never block the writer) once the WAL
// holds kCheckpointPages; the writer falls back to checkpointing itself only if the WAL reaches
// kCheckpointHardPages (the thread cannot keep up). Durability is unchanged: a transaction is
// durable once its WAL frames are synced at COMMIT; the checkpoint only moves committed pages.
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "registrar/store.h"

namespace regrelay::registrar {

namespace {

// The schema, as numbered migrations: a database at version N gets N+1.. applied in order, each
// in its own transaction with its row in schema_version. Never edit a released migration: add one.
struct Migration {
    int version;
    const char* sql;
};
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE bindings (
    address BLOB PRIMARY KEY,      -- 16 bytes
    duid BLOB NOT NULL,
    mac BLOB,                      -- 6 bytes, option 79 of the innermost relay level
    interface_id BLOB,
    remote_id BLOB,                -- option 37 body: enterprise (4 bytes) + id
    link_address BLOB,             -- 16 bytes, NULL when no level had one
    link TEXT,
    relay_chain TEXT NOT NULL,     -- JSON array, outermost level first
    preferred INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    xid INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,   -- unix seconds
    last_seen INTEGER NOT NULL,
    expires INTEGER                -- unix seconds, NULL: infinite lifetime
) WITHOUT ROWID;
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('registered','refreshed','released','expired','moved')),
    address BLOB NOT NULL,
    duid BLOB NOT NULL,
    previous_duid BLOB,
    mac BLOB,
    interface_id BLOB,
    remote_id BLOB,
    link_address BLOB,
    link TEXT,
    relay_chain TEXT NOT NULL,
    preferred INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    xid INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    expires INTEGER
);
CREATE INDEX history_address_time ON history (address, time);
CREATE INDEX history_mac_time ON history (mac, time);
CREATE INDEX history_duid_time ON history (duid, time);
CREATE INDEX history_time ON history (time);
)sql"},
    // The Client FQDN (option 39) of a registration: the DNS view's names (docs/dns.md).
    {2, R"sql(
ALTER TABLE bindings ADD COLUMN fqdn TEXT;
ALTER TABLE history ADD COLUMN fqdn TEXT;
)sql"},
};
constexpr int kSchemaVersion = 2;

const char* kHistoryCols =
    "id, time, kind, address, duid, previous_duid, mac, interface_id, remote_id, link_address, link, relay_chain, "
    "preferred, valid, xid, first_seen, expires, fqdn";

class Stmt {
public:
    Stmt() = default;
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    bool prepare(sqlite3* db, const std::string& sql) {
        sqlite3_finalize(s_);
        s_ = nullptr;
        return sqlite3_prepare_v3(db, sql.c_str(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &s_, nullptr) == SQLITE_OK;
    }
    sqlite3_stmt* get() const { return s_; }
    void reset() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    void blob(int i, Bytes b) {
        if (b.empty()) sqlite3_bind_null(s_, i);
        else sqlite3_bind_blob(s_, i, b.data(), int(b.size()), SQLITE_TRANSIENT);
    }
    void blob_always(int i, Bytes b) { sqlite3_bind_blob(s_, i, b.data(), int(b.size()), SQLITE_TRANSIENT); }
    void text(int i, std::string_view t) {
        if (t.empty()) sqlite3_bind_null(s_, i);
        else sqlite3_bind_text(s_, i, t.data(), int(t.size()), SQLITE_TRANSIENT);
    }
    void text_always(int i, std::string_view t) { sqlite3_bind_text(s_, i, t.data(), int(t.size()), SQLITE_TRANSIENT); }
    void i64(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
    void null(int i) { sqlite3_bind_null(s_, i); }

private:
    sqlite3_stmt* s_ = nullptr;
};

std::vector<uint8_t> col_blob(sqlite3_stmt* s, int i) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s, i));
    int n = sqlite3_column_bytes(s, i);
    return p && n > 0 ? std::vector<uint8_t>(p, p + n) : std::vector<uint8_t>{};
}
std::string col_text(sqlite3_stmt* s, int i) {
    const auto* p = sqlite3_column_text(s, i);
    int n = sqlite3_column_bytes(s, i);
    return p ? std::string(reinterpret_cast<const char*>(p), size_t(n)) : std::string{};
}
Ip6Addr col_addr(sqlite3_stmt* s, int i) {
    auto v = col_blob(s, i);
    return v.size() == 16 ? Ip6Addr::from(v) : Ip6Addr{};
}
std::optional<MacAddr> col_mac(sqlite3_stmt* s, int i) {
    auto v = col_blob(s, i);
    if (v.size() != 6) return std::nullopt;
    return MacAddr::from(v);
}
int64_t col_expires(sqlite3_stmt* s, int i) {
    return sqlite3_column_type(s, i) == SQLITE_NULL ? kNever : sqlite3_column_int64(s, i);
}

class SqliteStore final : public Store {
public:
    // The statements are finalized after the close (members go last): sqlite3_close_v2 defers it.
    ~SqliteStore() override {
        stop_checkpointer();
        sqlite3_close_v2(db_);
    }

    bool open(const std::string& path, const OpenOptions& opt, std::string& err) {
        path_ = path;
        read_only_ = opt.read_only;
        int flags = opt.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        struct stat st {};
        if (opt.read_only) {
            if (::stat(path.c_str(), &st) != 0) {
                err = path + ": " + std::strerror(errno);
                return false;
            }
        } else if (::stat(path.c_str(), &st) == 0) {
            // Made 0600 by an older regrelay under the unit's UMask=0077: group-readable now.
            if (st.st_uid == ::geteuid() && (st.st_mode & 0777) == 0600) (void)::chmod(path.c_str(), 0640);
        } else if (errno == ENOENT) {
            // A new database is group-readable (0640 whatever the umask; SQLite gives the -wal and
            // -shm files the database's mode): `regrelay who-had` for the group (docs/registrar.md).
            int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
            if (fd >= 0) {
                (void)::fchmod(fd, 0640);  // the umask may have taken bits away
                ::close(fd);
            }
        }
        if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
            err = path + ": " + (db_ ? sqlite3_errmsg(db_) : "cannot open");
            return false;
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, 5000);
        if (!opt.read_only) {
            if (!exec("PRAGMA journal_mode=WAL", err) || !exec("PRAGMA synchronous=FULL", err)) return false;
            // 32 MiB of page cache (the default is 2 MiB): index pages of a large history stay in memory.
            if (!exec("PRAGMA cache_size=-32768", err)) return false;
            if (!migrate(err)) return false;
        } else {
            if (!read_version(err)) {
                // Read-only WAL (SQLite's "Read-Only WAL databases"): with no write access to the
                // directory and no -shm file to share (the daemon is not running), the database
                // cannot be read in WAL mode; nobody writes it then, so read it as immutable. Only
                // with no -wal file: one would hold commits the main file does not have yet.
                const int xrc = sqlite3_extended_errcode(db_);
                struct stat wst {};
                if (((xrc & 0xff) != SQLITE_READONLY && (xrc & 0xff) != SQLITE_CANTOPEN) ||
                    ::stat((path + "-wal").c_str(), &wst) == 0)
                    return false;
                sqlite3_close_v2(db_);
                db_ = nullptr;
                std::string uri = "file:";
                for (char c : path) {
                    if (c == '%' || c == '?' || c == '#') {
                        char h[4];
                        std::snprintf(h, sizeof h, "%%%02X", unsigned(uint8_t(c)));
                        uri += h;
                    } else {
                        uri += c;
                    }
                }
                uri += "?immutable=1";
                std::string e2;
                if (sqlite3_open_v2(uri.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                                    nullptr) != SQLITE_OK ||
                    !read_version(e2)) {
                    err += " (read as immutable: " + (e2.empty() ? std::string(db_ ? sqlite3_errmsg(db_) : "cannot open") : e2) + ")";
                    return false;
                }
                err.clear();
            }
            if (version_ == 0) {
                err = path + ": not a registrar database (no schema)";
                return false;
            }
        }
        if (version_ > kSchemaVersion) {
            err = path + ": schema version " + std::to_string(version_) + " is newer than this regrelay's (" +
                  std::to_string(kSchemaVersion) + ")";
            return false;
        }
        return opt.read_only || (prepare(err) && start_checkpointer(err));
    }

    std::string describe() const override { return "sqlite:" + path_; }
    int schema_version() const override { return version_; }

    bool write(const std::vector<Event>& events, std::string& err) override {
        if (events.empty()) return true;
        if (read_only_) {
            err = describe() + ": opened read-only";
            return false;
        }
        if (!exec("BEGIN IMMEDIATE", err)) return false;
        for (const Event& e : events) {
            if (!insert_history(e, err) || !apply_binding(e, err)) {
                std::string ignored;
                exec("ROLLBACK", ignored);
                return false;
            }
        }
        if (!exec("COMMIT", err)) {
            std::string ignored;
            if (!sqlite3_get_autocommit(db_)) exec("ROLLBACK", ignored);
            return false;
        }
        return true;
    }

    bool load_bindings(std::vector<Binding>& out, std::string& err) override {
        Stmt s;
        if (!s.prepare(db_, "SELECT address, duid, mac, interface_id, remote_id, link_address, link, relay_chain, "
                            "preferred, valid, xid, first_seen, last_seen, expires, fqdn FROM bindings"))
            return fail(err, "prepare");
        int rc;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
            sqlite3_stmt* q = s.get();
            Binding b;
            b.address = col_addr(q, 0);
            b.duid = col_blob(q, 1);
            read_shared(q, 2, b);
            b.last_seen = sqlite3_column_int64(q, 12);
            b.expires = col_expires(q, 13);
            b.fqdn = col_text(q, 14);
            out.push_back(std::move(b));
        }
        return rc == SQLITE_DONE || fail(err, "load bindings");
    }

    bool prune_history(int64_t before, uint64_t& removed, std::string& err) override {
        Stmt s;
        if (!s.prepare(db_, "DELETE FROM history WHERE time < ?1")) return fail(err, "prepare");
        s.i64(1, before);
        if (sqlite3_step(s.get()) != SQLITE_DONE) return fail(err, "prune history");
        removed = uint64_t(sqlite3_changes64(db_));
        return true;
    }

    bool history(const HistoryQuery& q, std::vector<HistoryRow>& out, std::string& err) override {
        // With a key (address, MAC, DUID, prefix), its (key, time) index answers: "+time" keeps the
        // planner off the time index, which a wide --since/--until range would make a full scan.
        const bool keyed = q.address || q.mac || q.duid || q.prefix;
        std::string sql = std::string("SELECT ") + kHistoryCols +
                          (keyed ? " FROM history WHERE +time >= ?1 AND +time <= ?2" : " FROM history WHERE time >= ?1 AND time <= ?2");
        if (q.address) sql += " AND address = ?3";
        if (q.mac) sql += " AND mac = ?4";
        if (q.duid) sql += " AND duid = ?5";
        if (q.prefix) sql += " AND address >= ?6 AND address <= ?7";
        sql += q.newest_first ? " ORDER BY time DESC, id DESC" : " ORDER BY time, id";
        sql += " LIMIT ?8";
        Stmt s;
        if (!s.prepare(db_, sql)) return fail(err, "prepare");
        s.i64(1, q.since);
        s.i64(2, q.until);
        if (q.address) s.blob_always(3, q.address->b);
        if (q.mac) s.blob_always(4, q.mac->b);
        if (q.duid) s.blob_always(5, *q.duid);
        Ip6Addr lo, hi;
        if (q.prefix) {
            lo = q.prefix->net;
            hi = q.prefix->net;
            for (unsigned bit = q.prefix->len; bit < 128; ++bit) hi.b[bit / 8] |= uint8_t(0x80 >> (bit % 8));
            s.blob_always(6, lo.b);
            s.blob_always(7, hi.b);
        }
        s.i64(8, int64_t(q.limit));
        int rc;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(row(s.get()));
        return rc == SQLITE_DONE || fail(err, "history query");
    }

    bool get_meta(const std::string& key, std::optional<std::string>& value, std::string& err) override {
        Stmt s;
        if (!s.prepare(db_, "SELECT value FROM meta WHERE key = ?1")) return fail(err, "prepare");
        s.text_always(1, key);
        int rc = sqlite3_step(s.get());
        if (rc == SQLITE_ROW) value = col_text(s.get(), 0);
        else if (rc == SQLITE_DONE) value.reset();
        else return fail(err, "meta");
        return true;
    }

    bool set_meta(const std::string& key, const std::string& value, std::string& err) override {
        Stmt s;
        if (!s.prepare(db_, "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"))
            return fail(err, "prepare");
        s.text_always(1, key);
        s.text_always(2, value);
        return sqlite3_step(s.get()) == SQLITE_DONE || fail(err, "meta");
    }

private:
    bool fail(std::string& err, std::string_view what) {
        err = describe() + ": " + std::string(what) + ": " + sqlite3_errmsg(db_);
        return false;
    }
    bool exec(const char* sql, std::string& err) {
        char* msg = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
            err = describe() + ": " + sql + ": " + (msg ? msg : sqlite3_errmsg(db_));
            sqlite3_free(msg);
            return false;
        }
        return true;
    }
    bool read_version(std::string& err) {
        Stmt s;
        if (!s.prepare(db_, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"))
            return fail(err, "schema");
        int rc = sqlite3_step(s.get());
        if (rc == SQLITE_DONE) {
            version_ = 0;
            return true;
        }
        if (rc != SQLITE_ROW) return fail(err, "schema");
        Stmt v;
        if (!v.prepare(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_version")) return fail(err, "schema");
        if (sqlite3_step(v.get()) != SQLITE_ROW) return fail(err, "schema");
        version_ = int(sqlite3_column_int64(v.get(), 0));
        return true;
    }
    bool migrate(std::string& err) {
        if (!exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)", err))
            return false;
        if (!read_version(err)) return false;
        for (const Migration& m : kMigrations) {
            if (m.version <= version_) continue;
            if (!exec("BEGIN IMMEDIATE", err)) return false;
            std::string ignored;
            if (!exec(m.sql, err)) {
                exec("ROLLBACK", ignored);
                return false;
            }
            std::string ins = "INSERT INTO schema_version (version, applied) VALUES (" + std::to_string(m.version) +
                              ", CAST(strftime('%s','now') AS INTEGER))";
            if (!exec(ins.c_str(), err) || !exec("COMMIT", err)) {
                exec("ROLLBACK", ignored);
                return false;
            }
            version_ = m.version;
        }
        return true;
    }
    bool prepare(std::string& err) {
        if (!ins_history_.prepare(db_, "INSERT INTO history (time, kind, address, duid, previous_duid, mac, interface_id, "
                                       "remote_id, link_address, link, relay_chain, preferred, valid, xid, first_seen, "
                                       "expires, fqdn) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)") ||
            !upsert_.prepare(db_, "INSERT INTO bindings (address, duid, mac, interface_id, remote_id, link_address, link, "
                                  "relay_chain, preferred, valid, xid, first_seen, last_seen, expires, fqdn) VALUES "
                                  "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15) ON CONFLICT (address) DO UPDATE SET "
                                  "duid=excluded.duid, mac=excluded.mac, interface_id=excluded.interface_id, "
                                  "remote_id=excluded.remote_id, link_address=excluded.link_address, link=excluded.link, "
                                  "relay_chain=excluded.relay_chain, preferred=excluded.preferred, valid=excluded.valid, "
                                  "xid=excluded.xid, first_seen=excluded.first_seen, last_seen=excluded.last_seen, "
                                  "expires=excluded.expires, fqdn=excluded.fqdn") ||
            !delete_.prepare(db_, "DELETE FROM bindings WHERE address = ?1"))
            return fail(err, "prepare");
        return true;
    }
    // The columns bindings and history share, mac to first_seen in table order, from `at` on.
    static void bind_shared(Stmt& s, int at, const Binding& b) {
        if (b.mac) s.blob_always(at, b.mac->b);
        s.blob(at + 1, b.interface_id);
        s.blob(at + 2, b.remote_id);
        if (!b.link_address.is_unspecified()) s.blob_always(at + 3, b.link_address.b);
        s.text(at + 4, b.link);
        s.text_always(at + 5, b.relay_chain.empty() ? std::string_view("[]") : std::string_view(b.relay_chain));
        s.i64(at + 6, b.preferred);
        s.i64(at + 7, b.valid);
        s.i64(at + 8, b.xid);
        s.i64(at + 9, b.first_seen);
    }
    static void read_shared(sqlite3_stmt* q, int at, Binding& b) {
        b.mac = col_mac(q, at);
        b.interface_id = col_blob(q, at + 1);
        b.remote_id = col_blob(q, at + 2);
        b.link_address = col_addr(q, at + 3);
        b.link = col_text(q, at + 4);
        b.relay_chain = col_text(q, at + 5);
        b.preferred = uint32_t(sqlite3_column_int64(q, at + 6));
        b.valid = uint32_t(sqlite3_column_int64(q, at + 7));
        b.xid = uint32_t(sqlite3_column_int64(q, at + 8));
        b.first_seen = sqlite3_column_int64(q, at + 9);
    }
    bool insert_history(const Event& e, std::string& err) {
        Stmt& s = ins_history_;
        const Binding& b = e.b;
        s.reset();
        s.i64(1, e.time);
        s.text_always(2, event_name(e.kind));
        s.blob_always(3, b.address.b);
        s.blob_always(4, b.duid);
        s.blob(5, e.previous_duid);
        bind_shared(s, 6, b);
        if (b.expires != kNever) s.i64(16, b.expires);
        s.text(17, b.fqdn);
        return sqlite3_step(s.get()) == SQLITE_DONE || fail(err, "insert history");
    }
    bool apply_binding(const Event& e, std::string& err) {
        const Binding& b = e.b;
        if (e.kind == EventKind::kReleased || e.kind == EventKind::kExpired) {
            delete_.reset();
            delete_.blob_always(1, b.address.b);
            return sqlite3_step(delete_.get()) == SQLITE_DONE || fail(err, "delete binding");
        }
        Stmt& s = upsert_;
        s.reset();
        s.blob_always(1, b.address.b);
        s.blob_always(2, b.duid);
        bind_shared(s, 3, b);
        s.i64(13, b.last_seen);
        if (b.expires != kNever) s.i64(14, b.expires);
        s.text(15, b.fqdn);
        return sqlite3_step(s.get()) == SQLITE_DONE || fail(err, "upsert binding");
    }
    HistoryRow row(sqlite3_stmt* q) {
        HistoryRow r;
        r.id = sqlite3_column_int64(q, 0);
        r.time = sqlite3_column_int64(q, 1);
        r.kind = parse_event_name(col_text(q, 2)).value_or(EventKind::kRegistered);
        Binding& b = r.b;
        b.address = col_addr(q, 3);
        b.duid = col_blob(q, 4);
        r.previous_duid = col_blob(q, 5);
        read_shared(q, 6, b);
        b.last_seen = r.time;
        b.expires = col_expires(q, 16);
        b.fqdn = col_text(q, 17);
        return r;
    }

    // The checkpointer (see the top of the file). Its connection is opened in open(), before the
    // daemon drops privileges, and used only by its thread from then on.
    static constexpr int kCheckpointPages = 1000;       // 4 MB of WAL: SQLite's own default threshold
    static constexpr int kCheckpointHardPages = 65536;  // 256 MB: the writer checkpoints itself
    static int wal_hook(void* self, sqlite3* db, const char*, int pages) {
        auto* st = static_cast<SqliteStore*>(self);
        if (pages >= kCheckpointHardPages) {
            // Behind by far: a passive checkpoint here, as SQLite's automatic one would.
            sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
            ++st->inline_checkpoints_;
        } else if (pages >= kCheckpointPages) {
            {
                std::lock_guard<std::mutex> lk(st->ck_mu_);
                st->ck_due_ = true;
            }
            st->ck_cv_.notify_one();
        }
        return SQLITE_OK;
    }
    bool start_checkpointer(std::string& err) {
        if (sqlite3_open_v2(path_.c_str(), &ck_db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
            err = path_ + ": checkpointer: " + (ck_db_ ? sqlite3_errmsg(ck_db_) : "cannot open");
            return false;
        }
        sqlite3_busy_timeout(ck_db_, 5000);
        char* msg = nullptr;
        if (sqlite3_exec(ck_db_, "PRAGMA synchronous=FULL", nullptr, nullptr, &msg) != SQLITE_OK) {
            err = path_ + ": checkpointer: " + (msg ? msg : sqlite3_errmsg(ck_db_));
            sqlite3_free(msg);
            return false;
        }
        // The writer's automatic checkpoint is off (wal_autocheckpoint replaces the hook: set it first).
        sqlite3_wal_autocheckpoint(db_, 0);
        sqlite3_wal_hook(db_, &SqliteStore::wal_hook, this);
        ck_thread_ = std::thread([this] {
            std::unique_lock<std::mutex> lk(ck_mu_);
            while (true) {
                ck_cv_.wait(lk, [this] { return ck_due_ || ck_stop_; });
                if (ck_stop_) break;
                ck_due_ = false;
                lk.unlock();
                sqlite3_wal_checkpoint_v2(ck_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
                ++background_checkpoints_;
                lk.lock();
            }
        });
        return true;
    }
    void stop_checkpointer() {
        if (ck_thread_.joinable()) {
            {
                std::lock_guard<std::mutex> lk(ck_mu_);
                ck_stop_ = true;
            }
            ck_cv_.notify_one();
            ck_thread_.join();
        }
        if (ck_db_) sqlite3_close_v2(ck_db_);
        ck_db_ = nullptr;
        if (db_) sqlite3_wal_hook(db_, nullptr, nullptr);
    }

    std::string path_;
    sqlite3* db_ = nullptr;
    sqlite3* ck_db_ = nullptr;
    std::thread ck_thread_;
    std::mutex ck_mu_;
    std::condition_variable ck_cv_;
    bool ck_due_ = false, ck_stop_ = false;
    std::atomic<uint64_t> background_checkpoints_{0};
    uint64_t inline_checkpoints_ = 0;
    int version_ = 0;
    bool read_only_ = false;
    Stmt ins_history_, upsert_, delete_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite(const std::string& path, const OpenOptions& opt, std::string& err) {
    auto s = std::make_unique<SqliteStore>();
    if (!s->open(path, opt, err)) return nullptr;
    return s;
}

}  // namespace regrelay::registrar
