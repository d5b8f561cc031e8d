// Durable storage of the registrar: the live bindings and the history of every event.
//
// Store is the interface the daemon and the queries use; SqliteStore (store_sqlite.cpp) is the
// embedded default and PgStore (store_pg.cpp, libpq) implements the same interface with the same
// schema on a server several registrars may share (open_store() picks one by URL: "sqlite:PATH"
// or a bare path; "postgresql://..." or "postgres://..." in libpq's URI syntax).
//
// Durability contract: write() applies every event of a batch in ONE transaction and returns
// true only once the transaction is committed durably (the daemon sends the replies after it).
// Schema versions are applied by migrations kept in the tree (store_sqlite.cpp, store_pg.cpp, numbered); a
// database newer than this build is refused.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registrar/engine.h"

namespace regrelay::registrar {

// One history row: an event as stored.
struct HistoryRow {
    int64_t id = 0;
    EventKind kind = EventKind::kRegistered;
    int64_t time = 0;
    Binding b;  // the binding the event made (registered/refreshed/moved) or ended (released/expired)
    std::vector<uint8_t> previous_duid;
};

struct HistoryQuery {
    std::optional<Ip6Addr> address;
    std::optional<MacAddr> mac;
    std::optional<std::vector<uint8_t>> duid;
    std::optional<Prefix> prefix;
    int64_t since = INT64_MIN, until = INT64_MAX;  // inclusive, unix seconds
    size_t limit = 100000;
    bool newest_first = false;
};

class Store {
public:
    virtual ~Store() = default;
    virtual std::string describe() const = 0;  // "sqlite:/var/lib/regrelay/registrar.db"
    virtual int schema_version() const = 0;

    // One transaction: a history row per event and the bindings change it implies. True once
    // committed durably; false and `err` when nothing was committed.
    virtual bool write(const std::vector<Event>& events, std::string& err) = 0;
    // Every row of the bindings table.
    virtual bool load_bindings(std::vector<Binding>& out, std::string& err) = 0;
    // Deletes history rows older than `before` (unix seconds); `removed` rows.
    virtual bool prune_history(int64_t before, uint64_t& removed, std::string& err) = 0;
    // Rows matching every given criterion, ordered by time (then insertion), at most q.limit.
    virtual bool history(const HistoryQuery& q, std::vector<HistoryRow>& out, std::string& err) = 0;
    // Small key/value settings (the server DUID).
    virtual bool get_meta(const std::string& key, std::optional<std::string>& value, std::string& err) = 0;
    virtual bool set_meta(const std::string& key, const std::string& value, std::string& err) = 0;
};

struct OpenOptions {
    bool read_only = false;  // the queries: never create, never migrate
};

inline constexpr std::string_view kDefaultDb = "sqlite:/var/lib/regrelay/registrar.db";

// "sqlite:PATH" (or a path) -> SqliteStore; "postgresql://..." -> PgStore (store.cpp). nullptr
// and `err` on failure (a PostgreSQL error never shows the URL's password).
std::unique_ptr<Store> open_store(std::string_view url, const OpenOptions& opt, std::string& err);
std::unique_ptr<Store> open_sqlite(const std::string& path, const OpenOptions& opt, std::string& err);
std::unique_ptr<Store> open_postgresql(std::string_view url, const OpenOptions& opt, std::string& err);

// `regrelay who-had`: what the history says of `address` at time `at`, from its newest row at
// or before `at` (pure; the caller fetched it).
struct WhoHad {
    HistoryRow row;      // the newest event at or before `at`
    bool bound = false;  // a binding held at `at` (registered/refreshed/moved, lifetime not over)
    int64_t until = 0;   // bound: when it expires (kNever); otherwise when it ended
};
std::optional<WhoHad> who_had(const std::optional<HistoryRow>& newest, int64_t at);
bool lookup_who_had(Store& s, const Ip6Addr& address, int64_t at, std::optional<WhoHad>& out, std::string& err);

}  // namespace regrelay::registrar
