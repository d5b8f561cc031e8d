#include "limits/limits.h"

#include <algorithm>
#include <cstdio>

namespace regrelay::limits {

uint64_t Rate::refill_ns() const {
    if (!enabled()) return 0;
    return (uint64_t(depth()) * kNsPerSec + per_second - 1) / per_second;
}

namespace {
std::optional<uint64_t> parse_uint(std::string_view t, uint64_t max) {
    if (t.empty() || t.size() > 10) return std::nullopt;
    uint64_t v = 0;
    for (char c : t) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + uint64_t(c - '0');
    }
    if (v > max) return std::nullopt;
    return v;
}
}  // namespace

std::optional<Rate> parse_rate(std::string_view text) {
    const size_t slash = text.find('/');
    auto rate = parse_uint(text.substr(0, slash), 10'000'000);
    if (!rate) return std::nullopt;
    Rate r{uint32_t(*rate), 0};
    if (slash != std::string_view::npos) {
        auto burst = parse_uint(text.substr(slash + 1), 100'000'000);
        if (!burst || *burst == 0) return std::nullopt;
        r.burst = uint32_t(*burst);
    }
    if (!r.per_second) r.burst = 0;
    return r;
}

bool TokenBucket::take(const Rate& r, State& s, uint64_t now_ns) {
    if (!r.enabled()) return true;
    const uint64_t full = uint64_t(r.depth()) * kNsPerSec;
    if (now_ns > s.last_ns) {
        const uint64_t elapsed = now_ns - s.last_ns;
        // elapsed < refill_ns keeps elapsed * rate below depth * 1e9 + rate: no overflow.
        if (elapsed >= r.refill_ns()) s.credit = full;
        else s.credit = std::min(full, s.credit + elapsed * r.per_second);
        s.last_ns = now_ns;
    }
    if (s.credit < kNsPerSec) return false;
    s.credit -= kNsPerSec;
    return true;
}

bool TokenBucket::take(uint64_t now_ns) {
    State s{credit_, last_ns_};
    const bool ok = take(rate_, s, now_ns);
    credit_ = s.credit;
    last_ns_ = s.last_ns;
    return ok;
}

uint64_t TokenBucket::available(uint64_t now_ns) const {
    if (!rate_.enabled()) return ~uint64_t(0);
    State s{credit_, last_ns_};
    uint64_t n = 0;
    while (n <= rate_.depth() && take(rate_, s, now_ns)) ++n;
    return n;
}

namespace {

// splitmix64's finalizer: every input bit affects every output bit.
uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

}  // namespace

MacTable::MacTable(Rate r, size_t slots, uint64_t seed)
    : rate_(r), seed_(mix(seed ^ 0x9e3779b97f4a7c15ULL)), idle_ns_(r.refill_ns()) {
    if (!rate_.enabled()) return;  // no table at all
    const size_t sets = std::max<size_t>(1, (slots + kWays - 1) / kWays);
    entries_.assign(sets * kWays, Entry{});
}

size_t MacTable::set_of(uint64_t key) const { return size_t(mix(key ^ seed_) % (entries_.size() / kWays)); }

bool MacTable::aged(const Entry& e, uint64_t now_ns) const {
    return now_ns >= e.bucket.last_ns && now_ns - e.bucket.last_ns >= idle_ns_;
}

MacTable::Result MacTable::check(uint64_t key, uint64_t now_ns) {
    if (!rate_.enabled()) return Result::kNew;
    Entry* set = &entries_[set_of(key) * kWays];
    Entry* victim = nullptr;
    // 0 free, 1 aged out, 2 new in use, 3 established in use (least recently used within 2, 3)
    int victim_rank = 4;
    for (size_t w = 0; w < kWays; ++w) {
        Entry& e = set[w];
        if (e.key == key) {
            if (aged(e, now_ns)) {  // as good as absent: starts new again
                e.bucket = TokenBucket::full_state(rate_, now_ns);
                e.since = now_ns & ~kEstablishedBit;
            }
            if (!TokenBucket::take(rate_, e.bucket, now_ns)) return Result::kDrop;
            if (!(e.since & kEstablishedBit) && now_ns >= e.since && now_ns - e.since >= kEstablishNs)
                e.since = kEstablishedBit;
            return e.since & kEstablishedBit ? Result::kEstablished : Result::kNew;
        }
        const int rank = e.key == kFree ? 0 : aged(e, now_ns) ? 1 : (e.since & kEstablishedBit) ? 3 : 2;
        if (rank < victim_rank || (rank == victim_rank && rank >= 2 && e.bucket.last_ns < victim->bucket.last_ns)) {
            victim = &e;
            victim_rank = rank;
        }
    }
    if (victim_rank >= 2) ++evictions_;
    victim->key = key;
    victim->bucket = TokenBucket::full_state(rate_, now_ns);
    victim->since = now_ns & ~kEstablishedBit;
    return TokenBucket::take(rate_, victim->bucket, now_ns) ? Result::kNew : Result::kDrop;
}

bool MacTable::established(uint64_t key, uint64_t now_ns) const {
    if (!rate_.enabled()) return false;
    const Entry* set = &entries_[set_of(key) * kWays];
    for (size_t w = 0; w < kWays; ++w)
        if (set[w].key == key) return !aged(set[w], now_ns) && (set[w].since & kEstablishedBit);
    return false;
}

size_t MacTable::occupied(uint64_t now_ns) const {
    size_t n = 0;
    for (const Entry& e : entries_) n += e.key != kFree && !aged(e, now_ns);
    return n;
}

namespace {
constexpr uint64_t kUnset = ~uint64_t(0);

std::string mac_text(uint64_t key) {
    char b[18];
    std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(key >> 40 & 0xff), unsigned(key >> 32 & 0xff),
                  unsigned(key >> 24 & 0xff), unsigned(key >> 16 & 0xff), unsigned(key >> 8 & 0xff),
                  unsigned(key & 0xff));
    return b;
}
}  // namespace

FloodGuard::FloodGuard(const Config& cfg, size_t ports)
    : cfg_(cfg), macs_(cfg.per_mac, cfg.mac_table_size, cfg.seed), ports_(ports) {
    for (Port& p : ports_) {
        p.bucket = TokenBucket(cfg_.per_port);
        p.established = TokenBucket(cfg_.per_port);
        p.log_budget = TokenBucket(cfg_.log_lines);
        p.interval_start = kUnset;
    }
}

Verdict FloodGuard::admit(size_t port, std::optional<std::array<uint8_t, 6>> mac, bool per_mac, uint64_t now_ns) {
    Port& p = ports_[port];
    if (p.interval_start == kUnset) p.interval_start = now_ns;
    const uint64_t key = mac ? mac_key(uint32_t(port), *mac) : 0;
    bool established = false;
    if (mac && per_mac) {
        const MacTable::Result r = macs_.check(key, now_ns);
        if (r == MacTable::Result::kDrop) {
            ++p.mac_drops;
            p.top.add(key);
            return Verdict::kMacLimit;
        }
        established = r == MacTable::Result::kEstablished;
    }
    if (!(established ? p.established : p.bucket).take(now_ns)) {
        ++p.port_drops;
        if (mac) p.top.add(key);
        return Verdict::kPortLimit;
    }
    return Verdict::kPass;
}

bool FloodGuard::log_line(size_t port, uint64_t now_ns) {
    Port& p = ports_[port];
    if (p.interval_start == kUnset) p.interval_start = now_ns;
    if (p.log_budget.take(now_ns)) return true;
    ++p.suppressed;
    return false;
}

std::vector<std::string> FloodGuard::report(uint64_t now_ns, const std::vector<std::string>& names, bool flush) {
    std::vector<std::string> lines;
    for (size_t i = 0; i < ports_.size(); ++i) {
        Port& p = ports_[i];
        if (p.interval_start == kUnset) {
            p.interval_start = now_ns;
            continue;
        }
        const uint64_t len = now_ns > p.interval_start ? now_ns - p.interval_start : 0;
        if (!flush && len < cfg_.report_interval_ns) continue;
        if (p.port_drops || p.mac_drops || p.suppressed) {
            char secs[32];
            std::snprintf(secs, sizeof secs, "%.1f", double(len) / double(kNsPerSec));
            std::string s = "flood limits on " + (i < names.size() ? names[i] : std::string("?")) + " in the last " +
                            secs + " s: dropped " + std::to_string(p.port_drops + p.mac_drops) + " (rate-limit-port " +
                            std::to_string(p.port_drops) + ", rate-limit-mac " + std::to_string(p.mac_drops) + "), " +
                            std::to_string(p.suppressed) + " info lines suppressed";
            // MACs dropped at least twice for sure: a spoofed random-MAC flood has no top MAC.
            const std::string named = top_text(p.top, mac_text);
            if (!named.empty()) s += "; top MACs dropped:" + named;
            else if (p.port_drops + p.mac_drops) s += "; no MAC dropped twice";
            lines.push_back(std::move(s));
        }
        p.port_drops = p.mac_drops = p.suppressed = 0;
        p.top.clear();
        p.interval_start = now_ns;
    }
    return lines;
}

std::string FloodGuard::table_report() const {
    if (!macs_.evictions()) return {};  // only a table under pressure is worth a line
    return "flood limits: per-MAC table " + std::to_string(macs_.capacity()) + " entries, " +
           std::to_string(macs_.evictions()) + " evictions\n";
}

}  // namespace regrelay::limits
