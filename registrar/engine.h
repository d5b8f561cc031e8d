// The registrar engine: the server side of RFC 9686 (§4.2.1, §4.3, §4.6) as a function. Pure:
// a datagram, how it arrived (interface, source) and the wall-clock time in; the reply to send,
// the store events to make durable first, and counted discards out. No sockets, clocks or files.
//
// It answers only ADDR-REG-INFORM (direct from the link, or inside Relay-forwards of any depth);
// every other message type is ignored and counted, so it can run beside a real DHCPv6 server.
// It keeps the live bindings (address -> DUID) in memory; the daemon makes the events durable
// (registrar/store.h) in one transaction per wake-up and sends the replies after the commit.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dhcp6/dhcp6.h"
#include "limits/limits.h"

namespace regrelay::registrar {

// Why an ADDR-REG-INFORM is not answered (RFC 9686 §4.2.1 and the link check). Each counted.
enum class Discard : uint8_t {
    kNone = 0,
    kMalformed,          // truncated header or options, relay nesting too deep, Relay-forward without option 9
    kNoClientId,         // no Client Identifier option
    kServerId,           // a Server Identifier option
    kNoIaAddress,        // no IA Address option
    kMultipleIaAddress,  // more than one IA Address option
    kBadIaAddress,       // an IA Address option too short to hold an address and lifetimes
    kAddressMismatch,    // IA address != source (direct) / innermost peer-address (relayed)
    kOro,                // an Option Request option
    kNotGlobal,          // the address is not a global-scope unicast address
    kNoLink,             // links are configured and none matches the message's arrival
    kNotOnLink,          // the address is in none of the matched link's prefixes
    kRateLimitSource,    // over --rate-limit-source (the registering address)
    kRateLimitRelay,     // over --rate-limit-relay (the relay agent that sent the Relay-forward)
    kRateLimitLink,      // over --rate-limit-link (the matched link)
    kCount_
};
std::string_view discard_name(Discard d);

struct Prefix {
    Ip6Addr net;
    uint8_t len = 0;
    bool contains(const Ip6Addr& a) const;
    std::string str() const;
    static std::optional<Prefix> parse(std::string_view text);  // "2001:db8:1::/64", host bits zero
    auto operator<=>(const Prefix&) const = default;
};

struct RemoteIdMatch {
    uint32_t enterprise = 0;
    std::vector<uint8_t> id;
};

// A link and the prefixes appropriate to it (RFC 8415 "appropriate to the link"). A message is
// matched to the first link (in configuration order) whose rule fits:
//   - direct (not relayed): its arrival interface is one of `interfaces`;
//   - relayed: a level of the chain carries option 18 equal to one of `interface_ids` (and,
//     when `remote_id` is set, a level carries that Remote-ID too); failing that, the innermost
//     level's link-address (the innermost that is not ::) lies in one of `prefixes`.
struct LinkConfig {
    std::string name;
    std::vector<Prefix> prefixes;
    std::vector<std::string> interfaces;
    std::vector<std::vector<uint8_t>> interface_ids;
    std::optional<RemoteIdMatch> remote_id;
};

// Flood limits (RFC 9686 §6: a host may send great numbers of registrations to overwhelm the
// server and fill its logs; docs/registrar.md, "Flood limits"). Checked on every ADDR-REG-INFORM
// before §4.2.1 in this order: per registering address (direct: the source; relayed: the
// innermost peer-address), per relay agent (relayed: the Relay-forward's source), per matched
// link (one more bucket for messages no link matches, or every message when no links are
// configured). The first two are fixed tables (limits::MacTable: fixed memory however many
// addresses are seen, keyed by a seeded 64-bit hash of the address).
struct FloodConfig {
    // A host registers each address once and again well before its lifetime ends (RFC 9686
    // §4.1), retransmitting from 1 s on when unanswered (§4.2): 10/s with a burst of 50 per
    // address is far above that. The per-relay and per-link defaults are the relay's per-port.
    limits::Rate per_source{10, 50};
    limits::Rate per_relay{10000, 20000};
    limits::Rate per_link{10000, 20000};
    size_t table_size = 16384;  // entries of each of the per-source and per-relay tables (32 bytes each)
    uint64_t seed = 0;          // hash seed of both tables (random in the daemon)
    uint64_t report_interval_ns = 10 * limits::kNsPerSec;  // at most one summary line per interval
};

struct Config {
    std::vector<std::string> interfaces;  // listen interfaces; Input::iface indexes this
    std::vector<LinkConfig> links;        // empty: every global address is appropriate
    std::vector<uint8_t> server_duid;     // option 2 of every reply
    int64_t release_memory_s = 120;       // how long a release is remembered to spot its retransmission
    FloodConfig limits;
};

inline constexpr int kNoInterface = -1;

// One received datagram.
struct Input {
    Bytes payload;
    Ip6Addr src;
    uint16_t sport = 0;
    int iface = kNoInterface;  // index into Config::interfaces, or kNoInterface
    uint64_t now_ns = 0;       // monotonic nanoseconds of its arrival (the flood limits' clock)
};

// A live binding (and the row of the bindings table).
struct Binding {
    Ip6Addr address;
    std::vector<uint8_t> duid;
    std::optional<MacAddr> mac;         // option 79 of the innermost level that has one
    std::vector<uint8_t> interface_id;  // option 18 of the innermost level that has one
    std::vector<uint8_t> remote_id;     // option 37 body (enterprise + id) of the innermost level that has one
    Ip6Addr link_address;               // the innermost link-address that is not ::
    std::string link;                   // the matched link's name ("" when no links are configured)
    std::string relay_chain;            // JSON array, outermost level first ("[]" when direct)
    std::string fqdn;                   // option 39's domain name as dotted text ("" when none)
    uint32_t preferred = 0, valid = 0;
    uint32_t xid = 0;
    int64_t first_seen = 0, last_seen = 0;
    int64_t expires = 0;                // unix seconds; kNever for an infinite valid lifetime
};
inline constexpr int64_t kNever = INT64_MAX;
inline constexpr uint32_t kInfinity = 0xffffffff;

enum class EventKind : uint8_t { kRegistered, kRefreshed, kReleased, kExpired, kMoved };
std::string_view event_name(EventKind k);
std::optional<EventKind> parse_event_name(std::string_view s);

// What must be durable before the reply goes out: one history row, and the change to the
// bindings table it implies (registered/refreshed/moved: upsert `b`; released/expired: delete).
struct Event {
    EventKind kind = EventKind::kRegistered;
    int64_t time = 0;
    Binding b;
    std::vector<uint8_t> previous_duid;  // kMoved: the DUID the address was bound to
};

struct Reply {
    Ip6Addr dst;
    uint16_t dport = dhcp6::kPortClient;
    int iface = kNoInterface;  // send out of this interface (the arrival one)
    std::vector<uint8_t> payload;
};

// What the engine decided about one datagram.
struct Actions {
    enum class Outcome : uint8_t { kIgnored, kDiscarded, kReplied };
    Outcome outcome = Outcome::kIgnored;
    Discard discard = Discard::kNone;
    std::string why;            // kDiscarded: the detail for the log line
    uint8_t msg_type = 0;       // the inner message's type (0 when unreadable)
    uint32_t xid = 0;
    size_t relay_levels = 0;
    bool retransmission = false;  // answered again, nothing recorded
    std::optional<Reply> reply;
    std::vector<Event> events;  // appended to (not cleared by handle): the caller drains it

    void clear() {
        outcome = Outcome::kIgnored;
        discard = Discard::kNone;
        why.clear();
        msg_type = 0;
        xid = 0;
        relay_levels = 0;
        retransmission = false;
        reply.reset();
    }
};

struct Counters {
    uint64_t received = 0;
    std::array<uint64_t, 256> received_by_type{};  // the inner message's type
    std::array<uint64_t, 256> ignored_by_type{};   // not ADDR-REG-INFORM
    uint64_t ignored = 0;
    std::array<uint64_t, size_t(Discard::kCount_)> discards{};
    uint64_t replied = 0, retransmissions = 0;
    uint64_t registered = 0, refreshed = 0, released = 0, expired = 0, moved = 0;
    // Client FQDN option 39 (RFC 4704) of accepted ADDR-REG-INFORMs: a host name taken into
    // Binding::fqdn, or an option that is malformed or not a host name (registered without a
    // name: RFC 9686 gives no reason to discard).
    uint64_t fqdn_named = 0, fqdn_malformed = 0;
};

// The host name of a Client FQDN option 39 (RFC 4704: flags octet, a domain name in DNS wire
// format, fully qualified or partial) as dotted text ("host", "host.example.org."): "" when the
// option carries no name; nullopt when it is malformed or a label is not a host name label
// (letters, digits, '-', '_'), so dotted text stays unambiguous.
std::optional<std::string> fqdn_text(const dhcp6::Option& o);

class Engine {
public:
    explicit Engine(Config cfg);

    // Wall-clock unix seconds. Bindings whose lifetime ended by `now` leave the table, each
    // with an expired event appended to `events`.
    void advance(int64_t now, std::vector<Event>& events);
    int64_t now() const { return now_; }

    // One datagram received on UDP port 547. `out` is cleared first, except out.events.
    void handle(const Input& in, Actions& out);

    // Start-up: the bindings read from the store (expired ones expire at the next advance()).
    void restore(std::vector<Binding> bindings);
    // After a failed commit: the live table is replaced by what the store holds.
    void reset_bindings(std::vector<Binding> bindings);

    const Config& config() const { return cfg_; }
    const Counters& counters() const { return counters_; }
    size_t binding_count() const { return bindings_.size(); }
    const Binding* find(const Ip6Addr& a) const;
    // Every live binding, in no particular order (a DNS view rebuilt on SIGHUP).
    template <typename F>
    void for_each_binding(F&& f) const {
        for (const auto& kv : bindings_) f(kv.second);
    }
    std::string counters_report() const;

    // Takes another engine's counters (a SIGHUP reload builds a new engine on the same bindings).
    // The flood limits' per-source and per-relay state too, when their configuration is the same.
    void adopt(Engine& old);

    // The flood summary due at now_ns: at most one line per FloodConfig::report_interval_ns, and
    // only for an interval that dropped anything: the counts per limit, the addresses and relays
    // dropped most (Space-Saving, limits::TopTalkers) and the drops per link. `flush`: end the
    // interval now (at exit).
    std::vector<std::string> flood_report(uint64_t now_ns, bool flush = false);

private:
    struct AddrHash {
        size_t operator()(const Ip6Addr& a) const noexcept;
    };
    struct Released {
        std::vector<uint8_t> duid;
        uint32_t xid = 0;
        int64_t at = 0;
    };
    using Due = std::pair<int64_t, Ip6Addr>;

    void discard(Actions& out, Discard d, std::string why);
    bool admit(const Input& in, bool relayed, const Ip6Addr& source, const LinkConfig* link, Actions& out);
    const LinkConfig* match_link(const Input& in, const dhcp6::Message& m) const;
    void schedule(const Binding& b);

    Config cfg_;
    Counters counters_;
    std::unordered_map<Ip6Addr, Binding, AddrHash> bindings_;
    std::unordered_map<Ip6Addr, Released, AddrHash> released_;
    std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;  // (expires, address), lazily validated
    int64_t now_ = 0;

    // Flood limits: the tables, one bucket per link (+1: no link), this interval's drops.
    struct FloodInterval {
        uint64_t start = ~uint64_t(0);  // unset until the first message
        uint64_t source = 0, relay = 0, link = 0;
        limits::TopTalkers<8, Ip6Addr> sources, relays;
        std::vector<uint64_t> by_link;  // drops per link index (the last: no link)
    };
    limits::MacTable sources_, relays_;
    std::vector<limits::TokenBucket> link_buckets_;
    FloodInterval flood_;
};

// The registration log line: text and JSON fields (obs::log_event).
std::string describe(const Event& e);
std::string duid_text(Bytes duid);       // lowercase hex
std::string option_text(Bytes value);    // printable ASCII as is, else 0x + hex
std::string remote_id_text(Bytes body);  // option 37 body: "ENTERPRISE:HEX"

}  // namespace regrelay::registrar
