#include "registrar/engine.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace regrelay::registrar {

using namespace regrelay::dhcp6;

std::string_view discard_name(Discard d) {
    switch (d) {
        case Discard::kNone: return "none";
        case Discard::kMalformed: return "malformed";
        case Discard::kNoClientId: return "no-client-id";
        case Discard::kServerId: return "server-id-present";
        case Discard::kNoIaAddress: return "no-ia-address";
        case Discard::kMultipleIaAddress: return "multiple-ia-address";
        case Discard::kBadIaAddress: return "bad-ia-address";
        case Discard::kAddressMismatch: return "address-mismatch";
        case Discard::kOro: return "oro-present";
        case Discard::kNotGlobal: return "not-global";
        case Discard::kNoLink: return "no-link";
        case Discard::kNotOnLink: return "not-appropriate-to-link";
        case Discard::kRateLimitSource: return "rate-limit-source";
        case Discard::kRateLimitRelay: return "rate-limit-relay";
        case Discard::kRateLimitLink: return "rate-limit-link";
        case Discard::kCount_: break;
    }
    return "unknown";
}

std::string_view event_name(EventKind k) {
    switch (k) {
        case EventKind::kRegistered: return "registered";
        case EventKind::kRefreshed: return "refreshed";
        case EventKind::kReleased: return "released";
        case EventKind::kExpired: return "expired";
        case EventKind::kMoved: return "moved";
    }
    return "unknown";
}

std::optional<EventKind> parse_event_name(std::string_view s) {
    for (auto k : {EventKind::kRegistered, EventKind::kRefreshed, EventKind::kReleased, EventKind::kExpired,
                   EventKind::kMoved})
        if (event_name(k) == s) return k;
    return std::nullopt;
}

std::optional<std::string> fqdn_text(const Option& o) {
    auto f = as_client_fqdn(o);
    if (!f) return std::nullopt;
    std::string name = std::move(f->name);
    if (name.size() == 1 && name[0] == '.') return std::string();  // the root alone: no name given
    if (name.size() > 253 + 1) return std::nullopt;
    // The codec joins the labels with '.': a label holding a '.' would give more labels in the
    // text than on the wire. Count the wire labels (the codec checked their bounds already).
    size_t wire_labels = 0;
    {
        Reader r(o.data);
        uint8_t flags = 0, len = 0;
        Bytes label;
        r.u8(flags);
        while (r.u8(len) && len != 0 && r.bytes(len, label)) ++wire_labels;
    }
    size_t text_labels = 0, label = 0;
    for (size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (c == '.') {
            if (label == 0) return std::nullopt;  // an empty label: a '.' inside a label
            label = 0;
            continue;
        }
        if (label == 0) ++text_labels;
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return std::nullopt;
        ++label;
    }
    if (text_labels != wire_labels) return std::nullopt;
    return name;
}

bool Prefix::contains(const Ip6Addr& a) const {
    size_t full = len / 8;
    if (std::memcmp(a.b.data(), net.b.data(), full) != 0) return false;
    if (len % 8 == 0) return true;
    uint8_t mask = uint8_t(0xff << (8 - len % 8));
    return (a.b[full] & mask) == (net.b[full] & mask);
}

std::string Prefix::str() const { return net.str() + "/" + std::to_string(len); }

std::optional<Prefix> Prefix::parse(std::string_view text) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto a = Ip6Addr::parse(text.substr(0, slash));
    std::string_view l = text.substr(slash + 1);
    if (!a || l.empty() || l.size() > 3) return std::nullopt;
    unsigned n = 0;
    for (char c : l) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + unsigned(c - '0');
    }
    if (n > 128) return std::nullopt;
    Prefix p{*a, uint8_t(n)};
    for (unsigned bit = n; bit < 128; ++bit)
        if (a->b[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;  // host bits set
    return p;
}

std::string duid_text(Bytes duid) { return hex(duid); }

std::string option_text(Bytes v) {
    bool printable = !v.empty() && std::all_of(v.begin(), v.end(), [](uint8_t c) { return c >= 0x21 && c < 0x7f; });
    if (printable) return std::string(v.begin(), v.end());
    return "0x" + hex(v);
}

std::string remote_id_text(Bytes body) {
    if (body.size() < 4) return "0x" + hex(body);
    uint32_t e = uint32_t(body[0]) << 24 | uint32_t(body[1]) << 16 | uint32_t(body[2]) << 8 | body[3];
    return std::to_string(e) + ":" + hex(body.subspan(4));
}

namespace {

void json_string(std::string& out, std::string_view s) {
    // Only printable ASCII reaches here (option_text, addresses, hex): escape quote and backslash.
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

// The relay chain as a JSON array, outermost level first.
std::string chain_json(const Message& m) {
    std::string s = "[";
    for (size_t i = 0; i < m.relays.size(); ++i) {
        const RelayLevel& l = m.relays[i];
        if (i) s += ',';
        s += "{\"hop\":" + std::to_string(l.hop_count) + ",\"link\":";
        json_string(s, l.link_address.str());
        s += ",\"peer\":";
        json_string(s, l.peer_address.str());
        if (const Option* o = find_option(l.options, opt::kInterfaceId)) {
            s += ",\"interface_id\":";
            json_string(s, option_text(o->data));
        }
        if (const Option* o = find_option(l.options, opt::kRemoteId)) {
            s += ",\"remote_id\":";
            json_string(s, remote_id_text(o->data));
        }
        if (const Option* o = find_option(l.options, opt::kClientLinkLayerAddr)) {
            auto ll = as_client_link_layer(*o);
            if (ll && ll->is_ethernet()) {
                s += ",\"mac\":";
                json_string(s, MacAddr::from(ll->addr).str());
            }
        }
        s += '}';
    }
    return s + "]";
}

bool bytes_equal(Bytes a, const std::vector<uint8_t>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// RFC 8415 §19.3: a Relay-reply for one level around `inner`: hop-count, link-address and
// peer-address copied, the Interface-ID option echoed, and the options the level's Echo Request
// option (RFC 4994, code 43) names that it carries; then option 9.
void wrap_relay_reply(const RelayLevel& l, Bytes inner, std::vector<uint8_t>& out) {
    Writer w(out);
    write_relay_header(w, msg::kRelayRepl, l.hop_count, l.link_address, l.peer_address);
    if (const Option* ifid = find_option(l.options, opt::kInterfaceId)) w.bytes(ifid->wire());
    if (const Option* ero = find_option(l.options, 43)) {
        Reader r(ero->data);
        uint16_t code = 0;
        std::vector<uint16_t> done;
        while (r.u16(code)) {
            if (code == opt::kRelayMsg || code == opt::kInterfaceId ||
                std::find(done.begin(), done.end(), code) != done.end())
                continue;
            done.push_back(code);
            for (const Option& o : l.options)
                if (o.code == code) w.bytes(o.wire());
        }
    }
    w.option(opt::kRelayMsg, inner);
}

}  // namespace

size_t Engine::AddrHash::operator()(const Ip6Addr& a) const noexcept {
    uint64_t hi = 0, lo = 0;
    std::memcpy(&hi, a.b.data(), 8);
    std::memcpy(&lo, a.b.data() + 8, 8);
    uint64_t h = hi * 0x9e3779b97f4a7c15ULL ^ (lo + 0x632be59bd9b4e019ULL + (hi << 6) + (hi >> 2));
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return size_t(h);
}

namespace {
uint64_t mix64(uint64_t x) {  // splitmix64's finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// The 64-bit key of an address in a flood table: seeded, so that colliding addresses cannot be
// chosen by a sender; never ~0 (limits::MacTable keeps it for free entries).
uint64_t flood_key(const Ip6Addr& a, uint64_t seed) {
    uint64_t hi = 0, lo = 0;
    std::memcpy(&hi, a.b.data(), 8);
    std::memcpy(&lo, a.b.data() + 8, 8);
    uint64_t k = mix64(mix64(hi ^ seed) ^ lo ^ (seed << 1 | seed >> 63));
    return k == ~uint64_t(0) ? k - 1 : k;
}

bool same_rate(const limits::Rate& a, const limits::Rate& b) { return a.per_second == b.per_second && a.depth() == b.depth(); }
}  // namespace

Engine::Engine(Config cfg)
    : cfg_(std::move(cfg)),
      sources_(cfg_.limits.per_source, cfg_.limits.table_size, cfg_.limits.seed),
      relays_(cfg_.limits.per_relay, cfg_.limits.table_size, ~cfg_.limits.seed),
      link_buckets_(cfg_.links.size() + 1, limits::TokenBucket(cfg_.limits.per_link)) {
    flood_.by_link.assign(cfg_.links.size() + 1, 0);
}

bool Engine::admit(const Input& in, bool relayed, const Ip6Addr& source, const LinkConfig* link, Actions& out) {
    const uint64_t now = in.now_ns;
    if (flood_.start == ~uint64_t(0)) flood_.start = now;
    const size_t li = link ? size_t(link - cfg_.links.data()) : cfg_.links.size();
    Discard d = Discard::kNone;
    // Per address first, so a single flooding host does not spend its relay's or link's tokens.
    if (!sources_.admit(flood_key(source, cfg_.limits.seed), now)) {
        d = Discard::kRateLimitSource;
        ++flood_.source;
    } else if (relayed && !relays_.admit(flood_key(in.src, ~cfg_.limits.seed), now)) {
        d = Discard::kRateLimitRelay;
        ++flood_.relay;
    } else if (!link_buckets_[li].take(now)) {
        d = Discard::kRateLimitLink;
        ++flood_.link;
    } else {
        return true;
    }
    flood_.sources.add(source);
    if (relayed) flood_.relays.add(in.src);
    ++flood_.by_link[li];
    std::string why = "over the ";  // appended: no "lit" + std::string&& (GCC 12 -Wrestrict at -O3)
    why += discard_name(d);
    why += " flood limit";
    discard(out, d, std::move(why));
    return false;
}

std::vector<std::string> Engine::flood_report(uint64_t now_ns, bool flush) {
    std::vector<std::string> lines;
    FloodInterval& f = flood_;
    if (f.start == ~uint64_t(0)) return lines;
    const uint64_t len = now_ns > f.start ? now_ns - f.start : 0;
    if (!flush && len < cfg_.limits.report_interval_ns) return lines;
    const uint64_t total = f.source + f.relay + f.link;
    if (total) {
        char secs[32];
        std::snprintf(secs, sizeof secs, "%.1f", double(len) / double(limits::kNsPerSec));
        std::string s = "flood limits in the last ";
        s += secs;
        s += " s: dropped ";
        s += std::to_string(total);
        s += " ADDR-REG-INFORMs (rate-limit-source ";
        s += std::to_string(f.source);
        s += ", rate-limit-relay ";
        s += std::to_string(f.relay);
        s += ", rate-limit-link ";
        s += std::to_string(f.link);
        s += ')';
        // Keys dropped at least twice for sure: a flood from random addresses has no top talker.
        auto named = [](const auto& top) { return limits::top_text(top, [](const auto& key) { return key.str(); }); };
        std::string src = named(f.sources), rel = named(f.relays);
        s += src.empty() ? "; no address dropped twice" : "; top addresses dropped:";
        s += src;
        if (!rel.empty()) {
            s += "; top relays dropped:";
            s += rel;
        }
        std::string links;
        for (size_t i = 0; i < f.by_link.size(); ++i)
            if (f.by_link[i]) {
                links += ' ';
                links += i < cfg_.links.size() ? cfg_.links[i].name : std::string(cfg_.links.empty() ? "-" : "(no link)");
                links += ' ';
                links += std::to_string(f.by_link[i]);
            }
        if (!cfg_.links.empty()) {
            s += "; by link:";
            s += links;
        }
        lines.push_back(std::move(s));
    }
    f.source = f.relay = f.link = 0;
    f.sources.clear();
    f.relays.clear();
    std::fill(f.by_link.begin(), f.by_link.end(), 0);
    f.start = now_ns;
    return lines;
}

void Engine::discard(Actions& out, Discard d, std::string why) {
    out.outcome = Actions::Outcome::kDiscarded;
    out.discard = d;
    out.why = std::move(why);
    ++counters_.discards[size_t(d)];
}

const LinkConfig* Engine::match_link(const Input& in, const Message& m) const {
    if (!m.is_relayed()) {
        if (in.iface < 0 || size_t(in.iface) >= cfg_.interfaces.size()) return nullptr;
        const std::string& name = cfg_.interfaces[size_t(in.iface)];
        for (const auto& l : cfg_.links)
            if (std::find(l.interfaces.begin(), l.interfaces.end(), name) != l.interfaces.end()) return &l;
        return nullptr;
    }
    auto carries = [&](uint16_t code, auto pred) {
        for (const auto& lv : m.relays)
            for (const Option& o : lv.options)
                if (o.code == code && pred(o.data)) return true;
        return false;
    };
    for (const auto& l : cfg_.links) {
        if (l.interface_ids.empty()) continue;
        bool ifid = carries(opt::kInterfaceId, [&](Bytes v) {
            return std::any_of(l.interface_ids.begin(), l.interface_ids.end(),
                               [&](const std::vector<uint8_t>& id) { return bytes_equal(v, id); });
        });
        if (!ifid) continue;
        if (l.remote_id) {
            std::vector<uint8_t> want = {uint8_t(l.remote_id->enterprise >> 24), uint8_t(l.remote_id->enterprise >> 16),
                                         uint8_t(l.remote_id->enterprise >> 8), uint8_t(l.remote_id->enterprise)};
            want.insert(want.end(), l.remote_id->id.begin(), l.remote_id->id.end());
            if (!carries(opt::kRemoteId, [&](Bytes v) { return bytes_equal(v, want); })) continue;
        }
        return &l;
    }
    for (auto it = m.relays.rbegin(); it != m.relays.rend(); ++it) {
        if (it->link_address.is_unspecified()) continue;
        for (const auto& l : cfg_.links)
            for (const auto& p : l.prefixes)
                if (p.contains(it->link_address)) return &l;
        return nullptr;  // the innermost link-address that is set decides
    }
    return nullptr;
}

void Engine::schedule(const Binding& b) {
    if (b.expires != kNever) due_.emplace(b.expires, b.address);
    // Refreshes leave stale entries behind: rebuild when they dominate.
    if (due_.size() > 2 * bindings_.size() + 1024) {
        std::vector<Due> live;
        live.reserve(bindings_.size());
        for (const auto& [a, bb] : bindings_)
            if (bb.expires != kNever) live.emplace_back(bb.expires, a);
        due_ = decltype(due_)(std::greater<Due>(), std::move(live));
    }
}

void Engine::advance(int64_t now, std::vector<Event>& events) {
    now_ = now;
    while (!due_.empty() && due_.top().first <= now) {
        Due d = due_.top();
        due_.pop();
        auto it = bindings_.find(d.second);
        if (it == bindings_.end() || it->second.expires != d.first) continue;  // refreshed or gone since
        Event e;
        e.kind = EventKind::kExpired;
        e.time = now;
        e.b = std::move(it->second);
        bindings_.erase(it);
        ++counters_.expired;
        events.push_back(std::move(e));
    }
    for (auto it = released_.begin(); it != released_.end();) {
        if (now - it->second.at > cfg_.release_memory_s) it = released_.erase(it);
        else ++it;
    }
}

void Engine::restore(std::vector<Binding> bindings) {
    for (auto& b : bindings) {
        Ip6Addr a = b.address;
        bindings_[a] = std::move(b);
        schedule(bindings_[a]);
    }
}

void Engine::reset_bindings(std::vector<Binding> bindings) {
    bindings_.clear();
    released_.clear();
    due_ = {};
    restore(std::move(bindings));
}

const Binding* Engine::find(const Ip6Addr& a) const {
    auto it = bindings_.find(a);
    return it == bindings_.end() ? nullptr : &it->second;
}

void Engine::adopt(Engine& old) {
    counters_ = old.counters_;
    bindings_ = std::move(old.bindings_);
    released_ = std::move(old.released_);
    due_ = std::move(old.due_);
    now_ = old.now_;
    const FloodConfig &a = cfg_.limits, &b = old.cfg_.limits;
    if (same_rate(a.per_source, b.per_source) && same_rate(a.per_relay, b.per_relay) && a.table_size == b.table_size &&
        a.seed == b.seed) {
        sources_ = std::move(old.sources_);
        relays_ = std::move(old.relays_);
    }
}

void Engine::handle(const Input& in, Actions& out) {
    out.clear();
    ++counters_.received;
    if (in.payload.empty()) {
        ++counters_.ignored;
        ++counters_.ignored_by_type[0];
        return;
    }
    const uint8_t first = in.payload[0];
    if (first != msg::kRelayForw && first != msg::kAddrRegInform) {
        // Not ours: the DHCPv6 server beside us answers it (Relay-replies and ADDR-REG-REPLY included).
        out.msg_type = first;
        ++counters_.received_by_type[first];
        ++counters_.ignored;
        ++counters_.ignored_by_type[first];
        return;
    }
    auto dec = decode(in.payload);
    if (!dec) {
        out.msg_type = first;
        ++counters_.received_by_type[first];
        return discard(out, Discard::kMalformed, dec.error().str());
    }
    const Message& m = *dec;
    out.msg_type = m.inner.type;
    out.xid = m.inner.xid;
    out.relay_levels = m.relays.size();
    ++counters_.received_by_type[m.inner.type];
    for (const auto& l : m.relays)
        if (l.type != msg::kRelayForw) return discard(out, Discard::kMalformed, "a Relay-reply level inside a Relay-forward");
    if (m.inner.type != msg::kAddrRegInform) {
        ++counters_.ignored;
        ++counters_.ignored_by_type[m.inner.type];
        return;
    }
    const Ip6Addr source = m.is_relayed() ? m.relays.back().peer_address : in.src;
    const LinkConfig* link = cfg_.links.empty() ? nullptr : match_link(in, m);
    if (!admit(in, m.is_relayed(), source, link, out)) return;

    // RFC 9686 §4.2.1, in the order of its list.
    const Option* client_id = nullptr;
    const Option* ia = nullptr;
    const Option* fqdn = nullptr;
    size_t n_ia = 0;
    bool server_id = false, oro = false;
    for (const Option& o : m.inner.options) {
        if (o.code == opt::kClientId && !client_id) client_id = &o;
        else if (o.code == opt::kServerId) server_id = true;
        else if (o.code == opt::kIaAddr) {
            if (!ia) ia = &o;
            ++n_ia;
        } else if (o.code == opt::kOro) oro = true;
        else if (o.code == opt::kClientFqdn && !fqdn) fqdn = &o;
    }
    if (!client_id) return discard(out, Discard::kNoClientId, "no Client Identifier option");
    if (client_id->data.empty()) return discard(out, Discard::kMalformed, "empty Client Identifier option");
    if (server_id) return discard(out, Discard::kServerId, "a Server Identifier option");
    if (n_ia == 0) return discard(out, Discard::kNoIaAddress, "no IA Address option");
    if (n_ia > 1) return discard(out, Discard::kMultipleIaAddress, std::to_string(n_ia) + " IA Address options");
    auto iaa = as_ia_addr(*ia);
    if (!iaa) return discard(out, Discard::kBadIaAddress, iaa.error().str());
    if (iaa->addr != source)
        return discard(out, Discard::kAddressMismatch,
                       "address " + iaa->addr.str() + (m.is_relayed() ? " is not the innermost peer-address " : " is not the source ") +
                           source.str());
    if (oro) return discard(out, Discard::kOro, "an Option Request option");
    const Ip6Addr& addr = iaa->addr;
    const bool mapped = std::all_of(addr.b.begin(), addr.b.begin() + 10, [](uint8_t c) { return c == 0; }) &&
                        addr.b[10] == 0xff && addr.b[11] == 0xff;
    const bool site_local = addr.b[0] == 0xfe && (addr.b[1] & 0xc0) == 0xc0;
    if (!addr.is_routable_unicast() || mapped || site_local)
        return discard(out, Discard::kNotGlobal, "address " + addr.str() + " is not a global unicast address");
    if (!cfg_.links.empty()) {
        if (!link)
            return discard(out, Discard::kNoLink,
                           m.is_relayed() ? "no --link matches the relay chain (link-address, Interface-ID, Remote-ID)"
                                          : "no --link for the arrival interface");
        bool on = std::any_of(link->prefixes.begin(), link->prefixes.end(), [&](const Prefix& p) { return p.contains(addr); });
        if (!on) return discard(out, Discard::kNotOnLink, "address " + addr.str() + " is outside link " + link->name);
    }

    // The reply (RFC 9686 §4.3): same xid, Server and Client Identifier, the IA Address option
    // byte for byte; relayed, a Relay-reply per level (RFC 8415 §19.3).
    Reply r;
    {
        std::vector<uint8_t> msg;
        Writer w(msg);
        w.u8(msg::kAddrRegReply);
        w.u24(m.inner.xid);
        w.option(opt::kServerId, cfg_.server_duid);
        w.bytes(client_id->wire());
        w.bytes(ia->wire());
        for (auto it = m.relays.rbegin(); it != m.relays.rend(); ++it) {
            std::vector<uint8_t> wrapped;
            wrap_relay_reply(*it, msg, wrapped);
            msg = std::move(wrapped);
        }
        r.payload = std::move(msg);
    }
    r.iface = in.iface;
    if (m.is_relayed()) {
        r.dst = in.src;
        r.dport = kPortServer;
    } else {
        r.dst = addr;
        r.dport = kPortClient;
    }
    out.reply = std::move(r);
    out.outcome = Actions::Outcome::kReplied;
    ++counters_.replied;

    Bytes duid = client_id->data;
    auto it = bindings_.find(addr);
    // A retransmission (RFC 8415 §15: same xid) is answered again and recorded once.
    if (iaa->valid != 0 && it != bindings_.end() && it->second.xid == m.inner.xid && bytes_equal(duid, it->second.duid)) {
        out.retransmission = true;
        ++counters_.retransmissions;
        return;
    }
    if (iaa->valid == 0) {
        auto rel = released_.find(addr);
        if (it == bindings_.end() && rel != released_.end() && rel->second.xid == m.inner.xid &&
            bytes_equal(duid, rel->second.duid)) {
            out.retransmission = true;
            ++counters_.retransmissions;
            return;
        }
    }

    Event e;
    e.time = now_;
    Binding& b = e.b;
    b.address = addr;
    b.duid.assign(duid.begin(), duid.end());
    b.preferred = iaa->preferred;
    b.valid = iaa->valid;
    b.xid = m.inner.xid;
    b.last_seen = now_;
    b.first_seen = now_;
    b.link = link ? link->name : "";
    b.relay_chain = chain_json(m);
    b.expires = iaa->valid == kInfinity ? kNever : now_ + int64_t(iaa->valid);
    if (fqdn) {
        // RFC 4704 names the host; a malformed option does not make the registration invalid.
        if (auto name = fqdn_text(*fqdn)) {
            b.fqdn = std::move(*name);
            if (!b.fqdn.empty()) ++counters_.fqdn_named;
        } else {
            ++counters_.fqdn_malformed;
        }
    }
    bool have_mac = false, have_ifid = false, have_rid = false, have_link = false;
    for (auto lv = m.relays.rbegin(); lv != m.relays.rend(); ++lv) {
        for (const Option& o : lv->options) {
            if (o.code == opt::kClientLinkLayerAddr && !have_mac) {
                auto ll = as_client_link_layer(o);
                if (ll && ll->is_ethernet()) {
                    b.mac = MacAddr::from(ll->addr);
                    have_mac = true;
                }
            } else if (o.code == opt::kInterfaceId && !have_ifid) {
                b.interface_id.assign(o.data.begin(), o.data.end());
                have_ifid = true;
            } else if (o.code == opt::kRemoteId && !have_rid) {
                b.remote_id.assign(o.data.begin(), o.data.end());
                have_rid = true;
            }
        }
        if (!have_link && !lv->link_address.is_unspecified()) {
            b.link_address = lv->link_address;
            have_link = true;
        }
    }

    if (iaa->valid == 0) {
        e.kind = EventKind::kReleased;
        ++counters_.released;
        if (it != bindings_.end()) {
            if (!bytes_equal(duid, it->second.duid)) e.previous_duid = it->second.duid;
            b.first_seen = it->second.first_seen;
            bindings_.erase(it);
        }
        released_[addr] = Released{b.duid, b.xid, now_};
        out.events.push_back(std::move(e));
        return;
    }
    if (it == bindings_.end()) {
        e.kind = EventKind::kRegistered;
        ++counters_.registered;
    } else if (bytes_equal(duid, it->second.duid)) {
        e.kind = EventKind::kRefreshed;
        b.first_seen = it->second.first_seen;
        ++counters_.refreshed;
    } else {
        e.kind = EventKind::kMoved;
        e.previous_duid = it->second.duid;
        ++counters_.moved;
    }
    released_.erase(addr);
    bindings_[addr] = b;
    schedule(b);
    out.events.push_back(std::move(e));
}

std::string Engine::counters_report() const {
    std::string s = "registrar: received " + std::to_string(counters_.received) + " replied " +
                    std::to_string(counters_.replied) + " retransmissions " + std::to_string(counters_.retransmissions) +
                    " ignored " + std::to_string(counters_.ignored) + " registered " +
                    std::to_string(counters_.registered) + " refreshed " + std::to_string(counters_.refreshed) +
                    " moved " + std::to_string(counters_.moved) + " released " + std::to_string(counters_.released) +
                    " expired " + std::to_string(counters_.expired) + " bindings " + std::to_string(bindings_.size()) +
                    " fqdn " + std::to_string(counters_.fqdn_named) + " fqdn-malformed " +
                    std::to_string(counters_.fqdn_malformed);
    std::string d;
    for (size_t i = 1; i < size_t(Discard::kCount_); ++i)
        if (counters_.discards[i]) {
            d += ' ';
            d += discard_name(Discard(i));
            d += '=';
            d += std::to_string(counters_.discards[i]);
        }
    s += d.empty() ? " discards none" : " discards" + d;
    return s;
}

std::string describe(const Event& e) {
    const Binding& b = e.b;
    std::string s(event_name(e.kind));
    s += " address " + b.address.str() + " duid " + duid_text(b.duid);
    s += " mac " + (b.mac ? b.mac->str() : std::string("-"));
    s += " interface-id " + (b.interface_id.empty() ? std::string("-") : option_text(b.interface_id));
    s += " remote-id " + (b.remote_id.empty() ? std::string("-") : remote_id_text(b.remote_id));
    s += " link-address " + (b.link_address.is_unspecified() ? std::string("-") : b.link_address.str());
    s += " link " + (b.link.empty() ? std::string("-") : b.link);
    s += " preferred " + std::to_string(b.preferred) + " valid " + std::to_string(b.valid);
    char x[16];
    std::snprintf(x, sizeof x, "0x%06x", b.xid & 0xffffff);
    s += " xid ";
    s += x;
    if (!e.previous_duid.empty()) s += " previous-duid " + duid_text(e.previous_duid);
    return s;
}

}  // namespace regrelay::registrar
