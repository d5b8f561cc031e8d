// Helpers of the DNS view's unit tests: queries built and responses read with ldns.
#pragma once

#include <arpa/inet.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "dns/zone.h"

// Last: ldns's headers define macros (bool, with clang) that break C++ headers included after.
#include <ldns/ldns.h>

namespace dnstest {

struct Q {
    std::string name;
    uint16_t type = 28;
    bool edns = false;
    uint16_t z = 0;  // EDNS flags (DO 0x8000, UB 0x4000)
    uint16_t payload = 1232;
    uint8_t version = 0;
    uint16_t id = 0x4242;
    uint16_t qclass = 1;
};

inline std::vector<uint8_t> query(const Q& q) {
    ldns_pkt* p = ldns_pkt_query_new(ldns_dname_new_frm_str(q.name.c_str()), static_cast<ldns_rr_type>(q.type),
                                     static_cast<ldns_rr_class>(q.qclass), 0);
    ldns_pkt_set_id(p, q.id);
    if (q.edns) {
        ldns_pkt_set_edns_udp_size(p, q.payload);
        ldns_pkt_set_edns_z(p, q.z);
        ldns_pkt_set_edns_version(p, q.version);
    }
    uint8_t* buf = nullptr;
    size_t size = 0;
    ldns_pkt2wire(&buf, p, &size);
    std::vector<uint8_t> out(buf, buf + size);
    std::free(buf);
    ldns_pkt_free(p);
    return out;
}

// A response read back: header bits, rcode (extended included), sections as text lines
// "owner TYPE TTL rdata" (rdata of an unknown type read as an uncompressed domain name).
struct R {
    bool ok = false;
    uint16_t id = 0;
    bool qr = false, aa = false, tc = false;
    int rcode = -1;
    bool edns = false;
    uint16_t payload = 0, z = 0;
    std::vector<std::string> answer, authority;
    size_t size = 0;
};

inline std::string rr_text(const ldns_rr* rr) {
    const ldns_rdf* o = ldns_rr_owner(rr);
    auto owner = regrelay::dns::name_from_wire(ldns_rdf_data(o), ldns_rdf_size(o));
    std::string s = owner ? owner->text() : "?";
    uint16_t t = uint16_t(ldns_rr_get_type(rr));
    s += ' ';  // appended piece by piece: "lit" + std::string&& trips GCC 12's -Wrestrict at -O3
    s += std::to_string(t);
    s += ' ';
    s += std::to_string(ldns_rr_ttl(rr));
    for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
        const ldns_rdf* d = ldns_rr_rdf(rr, i);
        s += " ";
        if (t == 28) {
            char buf[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, ldns_rdf_data(d), buf, sizeof buf);
            s += buf;
        } else if (ldns_rdf_get_type(d) == LDNS_RDF_TYPE_DNAME || t >= 65280) {
            auto n = regrelay::dns::name_from_wire(ldns_rdf_data(d), ldns_rdf_size(d));
            s += n ? n->text() : "<not a name>";
        } else {
            char* c = ldns_rdf2str(d);
            s += c ? c : "?";
            std::free(c);
        }
    }
    return s;
}

inline R parse(const std::vector<uint8_t>& w) {
    R r;
    r.size = w.size();
    ldns_pkt* p = nullptr;
    if (w.empty() || ldns_wire2pkt(&p, w.data(), w.size()) != LDNS_STATUS_OK) return r;
    r.ok = true;
    r.id = ldns_pkt_id(p);
    r.qr = ldns_pkt_qr(p);
    r.aa = ldns_pkt_aa(p);
    r.tc = ldns_pkt_tc(p);
    r.edns = ldns_pkt_edns(p);
    r.rcode = ldns_pkt_get_rcode(p) | (r.edns ? ldns_pkt_edns_extended_rcode(p) << 4 : 0);
    r.payload = ldns_pkt_edns_udp_size(p);
    r.z = ldns_pkt_edns_z(p);
    for (size_t i = 0; i < ldns_pkt_ancount(p); ++i) r.answer.push_back(rr_text(ldns_rr_list_rr(ldns_pkt_answer(p), i)));
    for (size_t i = 0; i < ldns_pkt_nscount(p); ++i)
        r.authority.push_back(rr_text(ldns_rr_list_rr(ldns_pkt_authority(p), i)));
    ldns_pkt_free(p);
    return r;
}

inline in6_addr addr(const char* s) {
    in6_addr a{};
    inet_pton(AF_INET6, s, &a);
    return a;
}

}  // namespace dnstest
