#include "dns/zone.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace regrelay::dns {

namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& c : r)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return r;
}

std::array<uint8_t, 16> addr_key(const in6_addr& a) {
    std::array<uint8_t, 16> k{};
    std::memcpy(k.data(), a.s6_addr, 16);
    return k;
}

}  // namespace

size_t Name::wire_length() const {
    size_t n = 1;
    for (const auto& l : labels) n += 1 + l.size();
    return n;
}

bool Name::under(const Name& other) const {
    if (other.labels.size() > labels.size()) return false;
    return std::equal(other.labels.rbegin(), other.labels.rend(), labels.rbegin());
}

std::string Name::text() const {
    if (labels.empty()) return ".";
    std::string s;
    for (const auto& l : labels) {
        for (unsigned char c : l) {
            if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')') {
                s += '\\';
                s += char(c);
            } else if (c <= 0x20 || c >= 0x7f) {
                char buf[5];
                std::snprintf(buf, sizeof buf, "\\%03u", unsigned(c));
                s += buf;
            } else {
                s += char(c);
            }
        }
        s += '.';
    }
    return s;
}

std::optional<Name> parse_name(std::string_view text) {
    if (text.empty()) return std::nullopt;
    if (text == ".") return Name{};
    Name n;
    std::string cur;
    bool have = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\\') {
            if (i + 1 >= text.size()) return std::nullopt;
            if (i + 3 < text.size() + 0 && std::isdigit(static_cast<unsigned char>(text[i + 1])) &&
                std::isdigit(static_cast<unsigned char>(text[i + 2])) &&
                std::isdigit(static_cast<unsigned char>(text[i + 3]))) {
                int v = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
                if (v > 255) return std::nullopt;
                cur += char(v);
                i += 3;
            } else {
                cur += text[++i];
            }
            have = true;
        } else if (c == '.') {
            if (cur.empty()) return std::nullopt;  // empty label ("a..b", ".a")
            n.labels.push_back(lower(cur));
            cur.clear();
            have = false;
        } else {
            cur += c;
            have = true;
        }
    }
    if (have) n.labels.push_back(lower(cur));
    for (const auto& l : n.labels)
        if (l.empty() || l.size() > 63) return std::nullopt;
    if (n.wire_length() > 255) return std::nullopt;
    return n;
}

std::optional<Name> name_from_wire(const uint8_t* data, size_t len) {
    Name n;
    size_t i = 0;
    while (true) {
        if (i >= len) return std::nullopt;
        uint8_t l = data[i++];
        if (l == 0) break;
        if (l > 63 || i + l > len) return std::nullopt;
        n.labels.push_back(lower(std::string_view(reinterpret_cast<const char*>(data + i), l)));
        i += l;
    }
    if (n.wire_length() > 255) return std::nullopt;
    return n;
}

std::vector<uint8_t> name_to_wire(const Name& n) {
    std::vector<uint8_t> w;
    w.reserve(n.wire_length());
    for (const auto& l : n.labels) {
        w.push_back(uint8_t(l.size()));
        w.insert(w.end(), l.begin(), l.end());
    }
    w.push_back(0);
    return w;
}

Name reverse_name(const in6_addr& addr, unsigned len) {
    static constexpr char kHex[] = "0123456789abcdef";
    Name n;
    for (unsigned nib = len / 4; nib-- > 0;) {
        uint8_t b = addr.s6_addr[nib / 2];
        uint8_t v = (nib % 2) ? (b & 0x0f) : (b >> 4);
        n.labels.emplace_back(1, kHex[v]);
    }
    n.labels.emplace_back("ip6");
    n.labels.emplace_back("arpa");
    return n;
}

std::optional<Name> bname_substitute(const Name& qname, const Name& owner, const Name& target) {
    if (!qname.under(owner)) return std::nullopt;
    Name r;
    r.labels.assign(qname.labels.begin(), qname.labels.end() - std::ptrdiff_t(owner.labels.size()));
    r.labels.insert(r.labels.end(), target.labels.begin(), target.labels.end());
    if (r.wire_length() > 255) return std::nullopt;
    return r;
}

std::optional<Prefix> parse_prefix(std::string_view text) {
    size_t slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    std::string a(text.substr(0, slash));
    std::string_view l = text.substr(slash + 1);
    if (l.empty() || l.size() > 3) return std::nullopt;
    unsigned len = 0;
    for (char c : l) {
        if (c < '0' || c > '9') return std::nullopt;
        len = len * 10 + unsigned(c - '0');
    }
    if (len > 128) return std::nullopt;
    Prefix p;
    if (inet_pton(AF_INET6, a.c_str(), &p.addr) != 1) return std::nullopt;
    p.len = len;
    // Clear the host bits.
    for (unsigned i = 0; i < 16; ++i) {
        unsigned bits = i * 8 >= len ? 0 : std::min(8u, len - i * 8);
        p.addr.s6_addr[i] &= uint8_t(bits == 8 ? 0xff : (0xff00u >> bits) & 0xff);
    }
    return p;
}

bool prefix_contains(const Prefix& p, const in6_addr& a) {
    for (unsigned i = 0; i < 16 && i * 8 < p.len; ++i) {
        unsigned bits = std::min(8u, p.len - i * 8);
        uint8_t mask = uint8_t(bits == 8 ? 0xff : (0xff00u >> bits) & 0xff);
        if ((a.s6_addr[i] & mask) != (p.addr.s6_addr[i] & mask)) return false;
    }
    return true;
}

std::optional<BnameRecord> parse_bname(std::string_view line, uint32_t default_ttl, std::string& error) {
    std::istringstream in{std::string(line)};
    std::string owner, target, ttl, extra;
    in >> owner >> target >> ttl >> extra;
    if (owner.empty() || target.empty() || !extra.empty()) {
        error = "bname '" + std::string(line) + "': expected OWNER TARGET [TTL]";
        return std::nullopt;
    }
    BnameRecord r;
    auto o = parse_name(owner), t = parse_name(target);
    if (!o) {
        error = "bname '" + std::string(line) + "': bad owner name '" + owner + "'";
        return std::nullopt;
    }
    if (!t) {
        error = "bname '" + std::string(line) + "': bad target name '" + target + "'";
        return std::nullopt;
    }
    r.owner = *o;
    r.target = *t;
    r.ttl = default_ttl;
    if (!ttl.empty()) {
        char* end = nullptr;
        errno = 0;
        unsigned long v = std::strtoul(ttl.c_str(), &end, 10);
        if (*end || errno || v > 0x7fffffffUL || ttl[0] == '-') {
            error = "bname '" + std::string(line) + "': bad TTL '" + ttl + "'";
            return std::nullopt;
        }
        r.ttl = uint32_t(v);
    }
    return r;
}

ZoneView::Key ZoneView::key_of(const Name& n) { return Key(n.labels.rbegin(), n.labels.rend()); }

std::optional<Name> ZoneView::zone_of(const Name& n) const {
    const Name* best = nullptr;
    for (const auto& z : zones_)
        if (n.under(z) && (!best || z.labels.size() > best->labels.size())) best = &z;
    if (!best) return std::nullopt;
    return *best;
}

const ZoneView::Node* ZoneView::find(const Name& n) const {
    auto it = nodes_.find(key_of(n));
    return it == nodes_.end() ? nullptr : &it->second;
}

bool ZoneView::exists(const Name& n) const {
    Key k = key_of(n);
    auto it = nodes_.lower_bound(k);
    if (it == nodes_.end()) return false;
    const Key& f = it->first;
    return f.size() >= k.size() && std::equal(k.begin(), k.end(), f.begin());
}

bool ZoneView::has_data_below(const Name& n) const {
    Key k = key_of(n);
    auto it = nodes_.upper_bound(k);
    for (; it != nodes_.end(); ++it) {
        const Key& f = it->first;
        if (!(f.size() > k.size() && std::equal(k.begin(), k.end(), f.begin()))) break;
        if (!it->second.empty()) return true;
    }
    return false;
}

std::optional<Name> ZoneView::bname_above(const Name& n) const {
    Name cur = n;
    while (true) {
        const Node* node = find(cur);
        if (node && node->bname) return cur;
        if (cur.labels.empty()) return std::nullopt;
        cur.labels.erase(cur.labels.begin());
    }
}

Name ZoneView::nameserver(const Name& apex) const {
    if (nameserver_) return *nameserver_;
    Name n = apex;
    n.labels.insert(n.labels.begin(), "ns");
    return n;
}

Name ZoneView::hostmaster(const Name& apex) const {
    if (hostmaster_) return *hostmaster_;
    Name n = apex;
    n.labels.insert(n.labels.begin(), "hostmaster");
    return n;
}

bool ZoneView::load(const DnsConfig& cfg, std::string& error) {
    *this = ZoneView{};
    if (cfg.bname_type < kBnameTypeMin || cfg.bname_type > kBnameTypeMax) {
        error = "bname type " + std::to_string(cfg.bname_type) + " is outside the private-use range 65280-65534";
        return false;
    }
    bname_type_ = cfg.bname_type;
    ttl_ = cfg.ttl;
    negative_ttl_ = cfg.negative_ttl;
    serial_ = cfg.serial;
    auto add_zone = [&](const Name& z) -> bool {
        for (const auto& e : zones_)
            if (e == z) {
                error = "zone " + z.text() + " is configured twice";
                return false;
            }
        zones_.push_back(z);
        nodes_[key_of(z)].apex = true;
        return true;
    };
    if (!cfg.forward_zone.empty()) {
        auto z = parse_name(cfg.forward_zone);
        if (!z) {
            error = "forward zone '" + cfg.forward_zone + "' is not a domain name";
            return false;
        }
        forward_ = *z;
        if (!add_zone(*z)) return false;
    }
    for (const auto& p : cfg.reverse_prefixes) {
        if (p.len % 4 != 0 || p.len == 0) {
            char buf[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, &p.addr, buf, sizeof buf);
            error = std::string("reverse prefix ") + buf + "/" + std::to_string(p.len) +
                    ": the length must be a non-zero multiple of 4 (an ip6.arpa zone is cut at a nibble)";
            return false;
        }
        prefixes_.push_back(p);
        if (!add_zone(reverse_name(p.addr, p.len))) return false;
    }
    for (const auto& s : cfg.extra_zones) {
        auto z = parse_name(s);
        if (!z) {
            error = "zone '" + s + "' is not a domain name";
            return false;
        }
        if (!add_zone(*z)) return false;
    }
    if (!cfg.nameserver.empty()) {
        nameserver_ = parse_name(cfg.nameserver);
        if (!nameserver_) {
            error = "nameserver '" + cfg.nameserver + "' is not a domain name";
            return false;
        }
    }
    if (!cfg.hostmaster.empty()) {
        hostmaster_ = parse_name(cfg.hostmaster);
        if (!hostmaster_) {
            error = "hostmaster '" + cfg.hostmaster + "' is not a domain name";
            return false;
        }
    }
    // BNAMEs: inside one of our zones, not at an apex, one per owner, not into their own subtree.
    for (const auto& b : cfg.bnames) {
        const std::string what = "bname " + b.owner.text() + " -> " + b.target.text();
        auto z = zone_of(b.owner);
        if (!z) {
            error = what + ": the owner is in none of the configured zones";
            return false;
        }
        if (*z == b.owner) {
            error = what + ": the owner is the apex of zone " + z->text() +
                    " (SOA and NS there are other data, draft §3.3); put it in a parent zone";
            return false;
        }
        if (b.target.under(b.owner)) {
            error = what + ": the target is in the owner's own subtree (every name would loop)";
            return false;
        }
        Node& n = nodes_[key_of(b.owner)];
        if (n.bname) {
            error = what + ": a second BNAME at the same owner (BNAME is a singleton type)";
            return false;
        }
        n.bname = b;
    }
    // §3.3: no other data at a BNAME owner, no data (nor zone, nor BNAME) below it.
    for (const auto& [k, node] : nodes_) {
        if (!node.bname) continue;
        const Name& owner = node.bname->owner;
        for (const auto& z : zones_)
            if (z.under(owner) && !(z == owner)) {
                error = "bname " + owner.text() + ": zone " + z.text() +
                        " lies below the BNAME owner (draft §3.3: no data below it)";
                return false;
            }
        Key key = key_of(owner);
        for (auto it = nodes_.upper_bound(key); it != nodes_.end(); ++it) {
            const Key& f = it->first;
            if (!(f.size() > key.size() && std::equal(key.begin(), key.end(), f.begin()))) break;
            if (it->second.bname) {
                error = "bname " + it->second.bname->owner.text() + " lies below bname " + owner.text() +
                        " (draft §3.3: no data below a BNAME owner)";
                return false;
            }
        }
    }
    for (const auto& h : cfg.hosts) {
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &h.addr, buf, sizeof buf);
        AddResult r = add(h.addr, h.name);
        if (r == AddResult::kUnderBname) {
            error = "host " + h.name + " " + buf +
                    ": the name or its reverse name lies at or below a BNAME owner (draft §3.3)";
            return false;
        }
        if (r == AddResult::kBadName) {
            error = "host " + h.name + " " + buf + ": bad name";
            return false;
        }
        if (r == AddResult::kNoZone) {
            error = "host " + h.name + " " + buf + ": neither the forward zone nor a reverse prefix holds it";
            return false;
        }
    }
    serial_ = cfg.serial;
    return true;
}

std::optional<Name> ZoneView::forward_name(std::string_view name) const {
    if (!forward_) return std::nullopt;
    if (name.empty()) return std::nullopt;
    if (name.back() == '.') {
        auto n = parse_name(name);
        if (!n || n->labels.empty()) return std::nullopt;
        if (n->under(*forward_) && !(*n == *forward_)) return n;
        Name r = *forward_;
        r.labels.insert(r.labels.begin(), n->labels.front());
        return r;
    }
    auto rel = parse_name(name);
    if (!rel) return std::nullopt;
    Name r = *rel;
    r.labels.insert(r.labels.end(), forward_->labels.begin(), forward_->labels.end());
    if (r.wire_length() > 255) return std::nullopt;
    return r;
}

void ZoneView::drop(const in6_addr& addr) {
    auto it = by_addr_.find(addr_key(addr));
    if (it == by_addr_.end()) return;
    if (it->second.aaaa_owner) {
        auto n = nodes_.find(key_of(*it->second.aaaa_owner));
        if (n != nodes_.end()) {
            auto& v = n->second.aaaa;
            v.erase(std::remove_if(v.begin(), v.end(),
                                   [&](const in6_addr& a) { return std::memcmp(&a, &addr, 16) == 0; }),
                    v.end());
            if (n->second.empty()) nodes_.erase(n);
        }
    }
    if (it->second.ptr_owner) {
        auto n = nodes_.find(key_of(*it->second.ptr_owner));
        if (n != nodes_.end()) {
            n->second.ptr.clear();
            if (n->second.empty()) nodes_.erase(n);
        }
    }
    by_addr_.erase(it);
}

AddResult ZoneView::add(const in6_addr& addr, std::string_view name) {
    auto fwd = forward_name(name);
    if (!forward_ && name.empty()) return AddResult::kBadName;
    if (forward_ && !fwd) return AddResult::kBadName;
    std::optional<Name> target = fwd;
    if (!target) {
        target = parse_name(name);  // no forward zone: the PTR names what the client gave
        if (!target) return AddResult::kBadName;
    }
    std::optional<Name> rev;
    for (const auto& p : prefixes_)
        if (prefix_contains(p, addr)) {
            rev = reverse_name(addr);
            break;
        }
    if (!fwd && !rev) return AddResult::kNoZone;
    // The nearest zone must be the one we mean (a nested zone may hold the name instead).
    if ((fwd && bname_above(*fwd)) || (rev && bname_above(*rev))) return AddResult::kUnderBname;
    drop(addr);
    Reg reg;
    if (fwd) {
        nodes_[key_of(*fwd)].aaaa.push_back(addr);
        reg.aaaa_owner = fwd;
    }
    if (rev) {
        Node& n = nodes_[key_of(*rev)];
        n.ptr.assign(1, *target);
        reg.ptr_owner = rev;
    }
    by_addr_[addr_key(addr)] = std::move(reg);
    ++serial_;
    return AddResult::kAdded;
}

bool ZoneView::remove(const in6_addr& addr) {
    if (by_addr_.find(addr_key(addr)) == by_addr_.end()) return false;
    drop(addr);
    ++serial_;
    return true;
}

}  // namespace regrelay::dns
