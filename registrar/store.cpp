// open_store() (the URL picks the store) and the queries built on the Store interface.
#include "registrar/store.h"

namespace regrelay::registrar {

std::unique_ptr<Store> open_store(std::string_view url, const OpenOptions& opt, std::string& err) {
    if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return open_postgresql(url, opt, err);
    if (url.rfind("sqlite:", 0) == 0) url.remove_prefix(7);
    else if (url.find("://") != std::string_view::npos || url.rfind("postgresql:", 0) == 0 || url.rfind("postgres:", 0) == 0) {
        err = std::string(url) + ": unknown database URL (sqlite:PATH or postgresql://...)";
        return nullptr;
    }
    if (url.empty()) {
        err = "sqlite: needs a file path";
        return nullptr;
    }
    return open_sqlite(std::string(url), opt, err);
}

std::optional<WhoHad> who_had(const std::optional<HistoryRow>& newest, int64_t at) {
    if (!newest) return std::nullopt;
    WhoHad w;
    w.row = *newest;
    const auto k = newest->kind;
    if (k == EventKind::kReleased || k == EventKind::kExpired) {
        w.bound = false;
        w.until = newest->time;
    } else if (newest->b.expires != kNever && newest->b.expires <= at) {
        w.bound = false;  // lapsed: the expiry was not recorded (yet) when `at` came
        w.until = newest->b.expires;
    } else {
        w.bound = true;
        w.until = newest->b.expires;
    }
    return w;
}

bool lookup_who_had(Store& s, const Ip6Addr& address, int64_t at, std::optional<WhoHad>& out, std::string& err) {
    HistoryQuery q;
    q.address = address;
    q.until = at;
    q.limit = 1;
    q.newest_first = true;
    std::vector<HistoryRow> rows;
    if (!s.history(q, rows, err)) return false;
    out = who_had(rows.empty() ? std::nullopt : std::optional<HistoryRow>(rows.front()), at);
    return true;
}

}  // namespace regrelay::registrar
