// Flood limits (RFC 9686 §6: a host may send huge numbers of registrations to overwhelm the
// server and fill its logs), shared by the relay, snoop and registrar engines. Pure: no clocks, no I/O;
// time comes in as monotonic nanoseconds. Nothing here allocates after construction.
//
//   TokenBucket    rate and burst; 0 disables it
//   MacTable       per-(port, MAC) token buckets in a FIXED set-associative table: memory is the
//                  table's whatever the number of MACs seen; entries age out when their bucket
//                  is full again and are replaced least-recently-used when their set is full,
//                  new MACs before established ones (admitted again at least 1 s after first)
//   TopTalkers     Space-Saving summary (Metwally et al. 2005) of the k heaviest keys
//   FloodGuard     both engines' use of them: per-MAC then per-port admission on the client
//                  side, a per-port budget for info log lines, and one summary line per port per
//                  interval naming the counts and the top offending MACs
//
// This is rate state only: it never decides where anything is forwarded, it is never created or
// changed by a reply (RFC 9686 §4.3: the engines call it on the client side only), and losing
// an entry only gives that MAC a full bucket again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace regrelay::limits {

inline constexpr uint64_t kNsPerSec = 1'000'000'000;

// A rate in messages per second with a burst (bucket depth). per_second == 0: unlimited.
struct Rate {
    uint32_t per_second = 0;
    uint32_t burst = 0;  // 0 with a non-zero rate means "the rate" (one second of traffic)

    bool enabled() const { return per_second != 0; }
    uint32_t depth() const { return burst ? burst : per_second; }
    // Nanoseconds for an empty bucket to fill up again.
    uint64_t refill_ns() const;
};

// "RATE" or "RATE/BURST" (decimal; RATE 0 turns the limit off; without BURST the bucket holds
// one second of RATE). Limits: RATE <= 10,000,000, 1 <= BURST <= 100,000,000. nullopt if invalid.
std::optional<Rate> parse_rate(std::string_view text);

// A token bucket. Tokens are kept in units of 1e-9 token so that integer arithmetic on
// nanoseconds is exact; the bucket starts full.
class TokenBucket {
public:
    TokenBucket() = default;
    explicit TokenBucket(Rate r) : rate_(r), credit_(full()) {}

    // One token at time now_ns: true if taken. Time that goes backwards counts as no time.
    bool take(uint64_t now_ns);
    // Whole tokens available at now_ns (without taking any).
    uint64_t available(uint64_t now_ns) const;
    const Rate& rate() const { return rate_; }

    // The state of one bucket without its rate, for tables of many buckets with one rate.
    struct State {
        uint64_t credit = 0;  // 1e-9 tokens
        uint64_t last_ns = 0;
    };
    static bool take(const Rate& r, State& s, uint64_t now_ns);
    static State full_state(const Rate& r, uint64_t now_ns) { return {uint64_t(r.depth()) * kNsPerSec, now_ns}; }

private:
    uint64_t full() const { return uint64_t(rate_.depth()) * kNsPerSec; }
    Rate rate_;
    uint64_t credit_ = 0;
    uint64_t last_ns_ = 0;
};

// A 64-bit key for a MAC on a port: the 48-bit MAC, the port index (at most 0xfffe) above it.
// Never ~0, which MacTable keeps for itself.
inline uint64_t mac_key(uint32_t port, const std::array<uint8_t, 6>& mac) {
    uint64_t k = 0;
    for (uint8_t b : mac) k = k << 8 | b;
    return uint64_t(port < 0xfffe ? port : 0xfffe) << 48 | k;
}

// Per-key token buckets in a fixed table: `slots` entries (rounded up to a multiple of kWays),
// kWays per set, the set chosen by a seeded hash of the key (an attacker who does not know the
// seed cannot aim MACs at one set). A key not in its set takes a free or aged-out way, else the
// least recently used one (counted as an eviction); a new entry starts with a full bucket.
//
// An entry becomes ESTABLISHED when its key is admitted again at least kEstablishNs after the
// entry was made (a host that has been sending for a second, not a spoofed MAC seen once).
// Replacement in a full set takes the least recently used NEW entry; an established entry is
// replaced only when all ways of its set are established (least recently used of them), so a
// flood of new MACs cannot evict established hosts. Aged-out entries (bucket full again) are
// as good as absent, established or not: a host idle for the refill time starts new again.
class MacTable {
public:
    static constexpr size_t kWays = 4;
    static constexpr uint64_t kEstablishNs = kNsPerSec;

    enum class Result : uint8_t { kDrop, kNew, kEstablished };

    MacTable(Rate r, size_t slots, uint64_t seed);

    // One message from `key` at now_ns: true if within its rate. Always true when disabled.
    bool admit(uint64_t key, uint64_t now_ns) { return check(key, now_ns) != Result::kDrop; }
    // The same, saying whether the admitted key is established (after this message). Disabled:
    // always kNew (no table, nothing is established).
    Result check(uint64_t key, uint64_t now_ns);
    // Is `key` in the table, not aged out and established at now_ns? For tests and reports.
    bool established(uint64_t key, uint64_t now_ns) const;

    size_t capacity() const { return entries_.size(); }
    // Entries still holding state at now_ns (not aged out): for tests and reports.
    size_t occupied(uint64_t now_ns) const;
    uint64_t evictions() const { return evictions_; }
    const Rate& rate() const { return rate_; }
    // The entries' storage, allocated once by the constructor (tests check it never moves).
    const void* storage() const { return entries_.data(); }

private:
    struct Entry {
        uint64_t key = kFree;
        TokenBucket::State bucket;
        uint64_t since = 0;  // when the entry was made (ns); kEstablishedBit once established
    };
    static constexpr uint64_t kFree = ~uint64_t(0);  // no mac_key() is ~0
    static constexpr uint64_t kEstablishedBit = uint64_t(1) << 63;  // monotonic ns stay below 2^63
    bool aged(const Entry& e, uint64_t now_ns) const;
    size_t set_of(uint64_t key) const;

    Rate rate_;
    uint64_t seed_;
    uint64_t idle_ns_;  // an entry untouched this long has a full bucket: as good as absent
    std::vector<Entry> entries_;  // sized once in the constructor
    uint64_t evictions_ = 0;
};

// The k heaviest keys of a stream with at most k counters (Space-Saving): every key whose true
// count exceeds total/k is in the summary; count - error <= true count <= count. Key: a
// regular type (the 64-bit MAC keys of the relay and snoop; addresses in the registrar).
template <size_t K, class Key = uint64_t>
class TopTalkers {
public:
    struct Item {
        Key key{};
        uint64_t count = 0;  // 0: unused
        uint64_t error = 0;  // overestimation bound
    };

    void add(const Key& key) {
        Item* min = &items_[0];
        for (Item& it : items_) {
            if (it.count && it.key == key) {
                ++it.count;
                return;
            }
            if (it.count < min->count) min = &it;
        }
        // Not present: a free slot (count 0 is the minimum), else replace the minimum.
        min->error = min->count;
        min->key = key;
        ++min->count;
    }
    // The used items, heaviest first.
    std::vector<Item> top() const;
    void clear() { items_ = {}; }

private:
    std::array<Item, K> items_{};
};

template <size_t K, class Key>
std::vector<typename TopTalkers<K, Key>::Item> TopTalkers<K, Key>::top() const {
    std::vector<Item> v;
    for (const Item& it : items_)
        if (it.count) v.push_back(it);
    for (size_t i = 1; i < v.size(); ++i)  // insertion sort: K is small
        for (size_t j = i; j > 0 && v[j].count > v[j - 1].count; --j) std::swap(v[j], v[j - 1]);
    return v;
}

// For a flood summary line: " KEY COUNT[ (-ERROR)]" for each of the `most` heaviest keys that
// were counted at least twice for sure (count - error >= 2): a flood from random keys has no top
// talker, and its singletons are not worth naming. Empty when there is none.
template <size_t K, class Key, class KeyText>
std::string top_text(const TopTalkers<K, Key>& top, KeyText key_text, int most = 5) {
    std::string out;
    int n = 0;
    for (const auto& it : top.top()) {
        if (it.count - it.error < 2 || n == most) continue;
        out += ' ';
        out += key_text(it.key);
        out += ' ';
        out += std::to_string(it.count);
        if (it.error) {
            out += " (-";
            out += std::to_string(it.error);
            out += ')';
        }
        ++n;
    }
    return out;
}

// The configuration both engines take (Config::limits).
struct Config {
    // Defaults far above any legitimate host or link (docs/relay.md, "Flood limits"): a DHCPv6
    // client sends a few messages per exchange and retransmits after about 1 s (RFC 8415 §15),
    // a host registers each address again only well before its lifetime ends (RFC 9686 §4.1).
    Rate per_mac{20, 100};       // per client MAC on a port
    Rate per_port{10000, 20000}; // per client port and class (established MACs / the rest)
    Rate log_lines{100, 1000};   // info lines (ADDR-REG-INFORM trail) per port
    size_t mac_table_size = 4096;  // per-MAC table entries, all ports together (32 bytes each)
    uint64_t seed = 0;             // hash seed of the per-MAC table (random in live mode)
    uint64_t report_interval_ns = 10 * kNsPerSec;  // at most one summary line per port per interval
};

enum class Verdict : uint8_t { kPass, kPortLimit, kMacLimit };

// Admission and log budget per port, and the interval summaries.
class FloodGuard {
public:
    FloodGuard(const Config& cfg, size_t ports);

    // One client-side message on `port` at now_ns from the frame's source `mac` (nullopt when
    // the frame has none). `per_mac`: whether the per-MAC limit applies (not to a Relay-forward
    // from a downstream relay, whose MAC is the relay's: per-port limit only); the MAC still
    // names the sender in the summary. Per-MAC first, so a single flooding host does not spend
    // the port's tokens; then per-port, in one of two buckets of the per-port rate each: one for
    // messages from MACs the per-MAC table holds as established, one for everything else (new
    // MACs, frames without a MAC, Relay-forwards: none of these is known to the table as an
    // established host), so a flood of new MACs cannot spend the established hosts' tokens.
    Verdict admit(size_t port, std::optional<std::array<uint8_t, 6>> mac, bool per_mac, uint64_t now_ns);
    // May an info line be logged for `port` now? A refused one is counted as suppressed.
    bool log_line(size_t port, uint64_t now_ns);

    // The summary lines due at now_ns: one per port whose interval has ended and that dropped
    // or suppressed anything in it, naming the counts and the top offending MACs. `flush`
    // ends every interval now (at exit). `names[i]` names port i.
    std::vector<std::string> report(uint64_t now_ns, const std::vector<std::string>& names, bool flush = false);

    const MacTable& mac_table() const { return macs_; }
    // "flood limits: per-MAC table N entries, E evictions" for the counters report, or nothing
    // when no entry in use was ever evicted.
    std::string table_report() const;

private:
    struct Port {
        TokenBucket bucket;        // new MACs, no MAC, Relay-forwards
        TokenBucket established;   // established MACs (MacTable)
        TokenBucket log_budget;
        TopTalkers<8> top;  // MACs of dropped messages this interval
        uint64_t port_drops = 0, mac_drops = 0, suppressed = 0;
        uint64_t interval_start = 0;
    };
    Config cfg_;
    MacTable macs_;
    std::vector<Port> ports_;
};

}  // namespace regrelay::limits
