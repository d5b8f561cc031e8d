// The registrar's DNS view (issue 11 part 4): the zones regrelay answers for and their data.
//
// A forward zone (AAAA for registrations that carried a name, e.g. Client FQDN option 39), the
// ip6.arpa reverse zones of configured prefixes (PTR for every live registration with a name),
// extra zones declared only to hold BNAMEs, SOA and NS at every apex, and static BNAME records
// (draft-yao-dnsext-bname-06, docs/dns.md). The §3.3 zone rules are enforced when the
// configuration loads (ZoneView::load) and on every later add.
//
// Threading: single-threaded. A ZoneView is owned by one event loop (the registrar's, or
// `regrelay dns-view`'s); add()/remove() and the Responder's reads happen on that thread. No
// locks, no global state.
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace regrelay::dns {

// The draft never got a type code: a private-use one (RFC 6895 §3.1: 65280-65534), configurable.
inline constexpr uint16_t kDefaultBnameType = 65280;
inline constexpr uint16_t kBnameTypeMin = 65280;
inline constexpr uint16_t kBnameTypeMax = 65534;
// RR types used here (RFC 1035, RFC 3596).
inline constexpr uint16_t kTypeA = 1, kTypeNS = 2, kTypeCNAME = 5, kTypeSOA = 6, kTypePTR = 12,
                          kTypeAAAA = 28, kTypeOPT = 41, kTypeANY = 255;

// A domain name as its labels, leftmost first, lower-cased (ASCII); the root is no labels.
// Comparisons are therefore case-insensitive.
struct Name {
    std::vector<std::string> labels;
    // Uncompressed wire length (RFC 1035 §3.1: at most 255).
    size_t wire_length() const;
    // True when `this` is `other` or below it.
    bool under(const Name& other) const;
    // "a.example." (the root is "."); non-printable bytes and dots in labels escaped as \DDD / \.
    std::string text() const;
    bool operator==(const Name&) const = default;
};

// Parses a presentation-format name ("host.example." or "host.example"; always absolute: a
// missing final dot is added). Returns nullopt on a bad name (empty label, label > 63, > 255).
std::optional<Name> parse_name(std::string_view text);
// The name from uncompressed wire form (what ldns keeps in a dname rdf); nullopt when malformed.
std::optional<Name> name_from_wire(const uint8_t* data, size_t len);
std::vector<uint8_t> name_to_wire(const Name& n);
// The ip6.arpa name of `addr` (32 nibble labels) and of a prefix's first `len` bits (len % 4 == 0).
Name reverse_name(const in6_addr& addr, unsigned len = 128);
// BNAME substitution (draft §3.2): `qname` under `owner`, its `owner` suffix replaced by `target`.
// nullopt when the result would exceed 255 octets (the caller answers YXDOMAIN).
std::optional<Name> bname_substitute(const Name& qname, const Name& owner, const Name& target);

struct Prefix {
    in6_addr addr{};
    unsigned len = 0;
};
// "2001:db8:1::/48" -> Prefix; nullopt unless the text is an IPv6 prefix.
std::optional<Prefix> parse_prefix(std::string_view text);
bool prefix_contains(const Prefix& p, const in6_addr& a);

struct BnameRecord {
    Name owner;
    Name target;
    uint32_t ttl = 0;
};
// "OWNER TARGET [TTL]" (a --bname / bname = line) -> record; `default_ttl` when no TTL. Sets
// `error` and returns nullopt on a bad line.
std::optional<BnameRecord> parse_bname(std::string_view line, uint32_t default_ttl, std::string& error);

struct StaticHost {
    std::string name;  // as add() takes it (relative to the forward zone, or absolute)
    in6_addr addr{};
};

struct DnsConfig {
    std::string forward_zone;            // "" = no forward zone (no AAAA served)
    std::vector<Prefix> reverse_prefixes;  // each gives the ip6.arpa zone of the prefix
    std::vector<std::string> extra_zones;  // zones that only hold BNAMEs (e.g. "example.")
    std::vector<BnameRecord> bnames;
    std::vector<StaticHost> hosts;       // static AAAA/PTR entries (dns-view, tests)
    uint16_t bname_type = kDefaultBnameType;
    uint32_t ttl = 300;                  // AAAA, PTR, NS, SOA records
    uint32_t negative_ttl = 60;          // SOA MINIMUM and the TTL of the SOA in negative answers
    std::string nameserver;              // NS and SOA MNAME; "" = "ns.<first zone>"
    std::string hostmaster;              // SOA RNAME; "" = "hostmaster.<zone>"
    uint32_t serial = 1;                 // initial SOA serial; +1 on every change
};

// Why an add() was refused (counted by the caller).
enum class AddResult : uint8_t { kAdded, kNoZone, kUnderBname, kBadName };

class ZoneView {
public:
    // Builds the zones; on an error (bad name, bad prefix length, §3.3 violation, a BNAME whose
    // target lies in its own subtree, a zone below a BNAME, a BNAME at an apex) returns false
    // and sets `error` to one line naming the records concerned.
    bool load(const DnsConfig& cfg, std::string& error);

    // A registration with a name: AAAA `name` -> addr in the forward zone, PTR addr -> name in
    // the reverse zone whose prefix holds addr. `name` is relative to the forward zone
    // ("host" -> host.<zone>) or absolute ("host.<zone>."); an absolute name outside the forward
    // zone is placed as its first label under the zone. An address registered again with another
    // name replaces the old one. kAdded when at least one record was added.
    AddResult add(const in6_addr& addr, std::string_view name);
    // Removes the records of `addr` (release, expiry). False when it had none.
    bool remove(const in6_addr& addr);
    size_t registrations() const { return by_addr_.size(); }

    // ---- lookups (the Responder) ----
    struct Node {
        std::vector<in6_addr> aaaa;
        std::vector<Name> ptr;
        std::optional<BnameRecord> bname;
        bool apex = false;
        bool empty() const { return aaaa.empty() && ptr.empty() && !bname && !apex; }
    };
    // The apex of the nearest zone holding `n` (nullopt: not ours).
    std::optional<Name> zone_of(const Name& n) const;
    const Node* find(const Name& n) const;
    // True when `n` owns data or has a descendant that does (an empty non-terminal).
    bool exists(const Name& n) const;
    uint16_t bname_type() const { return bname_type_; }
    uint32_t ttl() const { return ttl_; }
    uint32_t negative_ttl() const { return negative_ttl_; }
    uint32_t serial() const { return serial_; }
    Name nameserver(const Name& apex) const;
    Name hostmaster(const Name& apex) const;
    const std::vector<Name>& zones() const { return zones_; }

private:
    // Keys are the labels reversed (root first), so a name's descendants sort right after it.
    using Key = std::vector<std::string>;
    static Key key_of(const Name& n);
    std::optional<Name> bname_above(const Name& n) const;  // a BNAME at n or an ancestor
    bool has_data_below(const Name& n) const;
    void drop(const in6_addr& addr);
    std::optional<Name> forward_name(std::string_view name) const;

    std::map<Key, Node> nodes_;
    std::vector<Name> zones_;
    std::vector<Prefix> prefixes_;
    std::optional<Name> forward_;
    struct Reg {
        std::optional<Name> aaaa_owner;
        std::optional<Name> ptr_owner;
    };
    std::map<std::array<uint8_t, 16>, Reg> by_addr_;
    std::optional<Name> nameserver_;
    std::optional<Name> hostmaster_;
    uint16_t bname_type_ = kDefaultBnameType;
    uint32_t ttl_ = 300;
    uint32_t negative_ttl_ = 60;
    uint32_t serial_ = 1;
};

}  // namespace regrelay::dns
