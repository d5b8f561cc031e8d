#include "dns/responder.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

// Last: ldns's headers define macros (bool, with clang) that break C++ headers included after.
#include <ldns/ldns.h>

namespace regrelay::dns {

namespace {

struct PktFree {
    void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;

ldns_rdf* dname_rdf(const Name& n) {
    std::vector<uint8_t> w = name_to_wire(n);
    return ldns_dname_new_frm_data(uint16_t(w.size()), w.data());
}

ldns_rr* new_rr(const Name& owner, uint16_t type, uint32_t ttl) {
    ldns_rr* rr = ldns_rr_new();
    ldns_rr_set_owner(rr, dname_rdf(owner));
    ldns_rr_set_type(rr, static_cast<ldns_rr_type>(type));
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, ttl);
    return rr;
}

// One record of the answer being built (turned into ldns RRs when the packet is written, so the
// truncated variant can be written without them).
struct Rec {
    Name owner;
    uint16_t type = 0;
    uint32_t ttl = 0;
    in6_addr addr{};     // AAAA
    Name target;         // PTR, NS, CNAME, BNAME, SOA MNAME
    Name rname;          // SOA
    uint32_t serial = 0, minimum = 0;
};

ldns_rr* to_rr(const Rec& r) {
    ldns_rr* rr = new_rr(r.owner, r.type, r.ttl);
    switch (r.type) {
    case kTypeAAAA:
        ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, r.addr.s6_addr));
        break;
    case kTypePTR:
    case kTypeNS:
    case kTypeCNAME:
        ldns_rr_push_rdf(rr, dname_rdf(r.target));
        break;
    case kTypeSOA:
        ldns_rr_push_rdf(rr, dname_rdf(r.target));
        ldns_rr_push_rdf(rr, dname_rdf(r.rname));
        ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, r.serial));
        ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 3600));   // refresh
        ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 600));    // retry
        ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 86400));  // expire
        ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, r.minimum));
        break;
    default: {
        // BNAME (a private-use type code): the target as an opaque, never compressed field
        // (draft §3.1: "sent in uncompressed form"; RFC 3597).
        std::vector<uint8_t> w = name_to_wire(r.target);
        ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, w.size(), w.data()));
        break;
    }
    }
    return rr;
}

struct Answer {
    uint8_t rcode = LDNS_RCODE_NOERROR;
    bool aa = false;
    std::vector<Rec> answer, authority;
};

std::vector<uint8_t> to_wire(ldns_pkt* p) {
    uint8_t* buf = nullptr;
    size_t size = 0;
    if (ldns_pkt2wire(&buf, p, &size) != LDNS_STATUS_OK || !buf) {
        std::free(buf);
        return {};
    }
    std::vector<uint8_t> out(buf, buf + size);
    std::free(buf);
    return out;
}

}  // namespace

std::vector<uint8_t> Responder::respond(std::span<const uint8_t> query, Transport transport) {
    ++counters_.queries;
    if (query.size() < 12) {
        ++counters_.drop_short;
        return {};
    }
    if (query[2] & 0x80) {
        ++counters_.drop_response;
        return {};
    }
    const uint16_t id = uint16_t(query[0] << 8 | query[1]);
    const uint8_t opcode = (query[2] >> 3) & 0x0f;
    const bool rd = query[2] & 0x01;

    ldns_pkt* raw = nullptr;
    const bool parsed = ldns_wire2pkt(&raw, query.data(), query.size()) == LDNS_STATUS_OK;
    PktPtr q(parsed ? raw : nullptr);
    if (!parsed && raw) ldns_pkt_free(raw);

    // The response header and question; everything else is filled below.
    Answer a;
    bool edns = false, do_bit = false, ub = false, badvers = false;
    uint16_t client_payload = 512;
    const ldns_rr* question = nullptr;
    if (!q) {
        a.rcode = LDNS_RCODE_FORMERR;
    } else {
        edns = ldns_pkt_edns(q.get());
        if (edns) {
            ++counters_.edns_queries;
            const uint16_t z = ldns_pkt_edns_z(q.get());
            do_bit = z & kEdnsFlagDO;
            ub = z & kEdnsFlagUB;
            if (ub) ++counters_.ub_queries;
            client_payload = std::max<uint16_t>(512, ldns_pkt_edns_udp_size(q.get()));
            badvers = ldns_pkt_edns_version(q.get()) != 0;
        }
        if (ldns_pkt_qdcount(q.get()) == 1 && ldns_rr_list_rr_count(ldns_pkt_question(q.get())) == 1)
            question = ldns_rr_list_rr(ldns_pkt_question(q.get()), 0);
        if (opcode != LDNS_PACKET_QUERY) a.rcode = LDNS_RCODE_NOTIMPL;
        else if (badvers) a.rcode = LDNS_RCODE_NOERROR;  // extended rcode BADVERS below
        else if (!question) a.rcode = LDNS_RCODE_FORMERR;
    }

    std::optional<Name> qname;
    uint16_t qtype = 0;
    if (question && a.rcode == LDNS_RCODE_NOERROR && !badvers) {
        const ldns_rdf* o = ldns_rr_owner(question);
        if (o && ldns_rdf_get_type(o) == LDNS_RDF_TYPE_DNAME)
            qname = name_from_wire(ldns_rdf_data(o), ldns_rdf_size(o));
        qtype = uint16_t(ldns_rr_get_type(question));
        if (!qname || qtype == kTypeOPT) a.rcode = LDNS_RCODE_FORMERR;
        else if (ldns_rr_get_class(question) != LDNS_RR_CLASS_IN) a.rcode = LDNS_RCODE_REFUSED;
        else if (qtype == LDNS_RR_TYPE_AXFR || qtype == LDNS_RR_TYPE_IXFR) a.rcode = LDNS_RCODE_REFUSED;
        else if (!zones_.zone_of(*qname)) a.rcode = LDNS_RCODE_REFUSED;
    }

    if (qname && a.rcode == LDNS_RCODE_NOERROR && !badvers) {
        // RFC 1034 §4.3.2 as changed by draft §4.1 (authoritative only: no recursion, no cache).
        a.aa = true;
        Name cur = *qname;
        std::vector<Name> seen{cur};
        const uint16_t btype = zones_.bname_type();
        unsigned hops = 0;
        while (true) {
            auto zone = zones_.zone_of(cur);
            if (!zone) break;  // the chain left our zones: the client follows it from here
            // Step 3: match down from the apex; a BNAME at QNAME (3a) or at the last label
            // matched (3c). §3.3 keeps BNAMEs off apexes and out of each other's subtrees.
            const ZoneView::Node* bnode = nullptr;
            for (size_t d = zone->labels.size() + 1; d <= cur.labels.size(); ++d) {
                Name anc;
                anc.labels.assign(cur.labels.end() - std::ptrdiff_t(d), cur.labels.end());
                const ZoneView::Node* n = zones_.find(anc);
                if (n && n->bname) {
                    bnode = n;
                    break;
                }
                if (!zones_.exists(anc)) break;  // no such label: nothing further down
            }
            if (bnode) {
                const BnameRecord& b = *bnode->bname;
                Rec br;
                br.owner = b.owner;
                br.type = btype;
                br.ttl = b.ttl;
                br.target = b.target;
                if (b.owner == cur && (qtype == btype || qtype == kTypeANY)) {
                    a.answer.push_back(br);  // a BNAME query gets the BNAME RR itself
                    break;
                }
                a.answer.push_back(br);
                auto next = bname_substitute(cur, b.owner, b.target);
                if (!next) {
                    a.rcode = LDNS_RCODE_YXDOMAIN;
                    ++counters_.yxdomain;
                    break;
                }
                ++counters_.bname_substitutions;
                if (!ub) {
                    Rec c;
                    c.owner = cur;
                    c.type = kTypeCNAME;
                    c.ttl = b.ttl;
                    c.target = *next;
                    a.answer.push_back(c);
                }
                if (std::find(seen.begin(), seen.end(), *next) != seen.end() || ++hops >= opts_.max_chain) {
                    a.rcode = LDNS_RCODE_SERVFAIL;
                    ++counters_.servfail;
                    break;
                }
                seen.push_back(*next);
                cur = *next;
                continue;  // back to step 1 with the new QNAME
            }
            const ZoneView::Node* node = zones_.find(cur);
            const bool any = qtype == kTypeANY;
            size_t before = a.answer.size();
            if (node) {
                if (node->apex && (any || qtype == kTypeSOA)) {
                    Rec s;
                    s.owner = cur;
                    s.type = kTypeSOA;
                    s.ttl = zones_.ttl();
                    s.target = zones_.nameserver(cur);
                    s.rname = zones_.hostmaster(cur);
                    s.serial = zones_.serial();
                    s.minimum = zones_.negative_ttl();
                    a.answer.push_back(s);
                }
                if (node->apex && (any || qtype == kTypeNS)) {
                    Rec s;
                    s.owner = cur;
                    s.type = kTypeNS;
                    s.ttl = zones_.ttl();
                    s.target = zones_.nameserver(cur);
                    a.answer.push_back(s);
                }
                if (any || qtype == kTypeAAAA)
                    for (const auto& ad : node->aaaa) {
                        Rec r;
                        r.owner = cur;
                        r.type = kTypeAAAA;
                        r.ttl = zones_.ttl();
                        r.addr = ad;
                        a.answer.push_back(r);
                    }
                if (any || qtype == kTypePTR)
                    for (const auto& t : node->ptr) {
                        Rec r;
                        r.owner = cur;
                        r.type = kTypePTR;
                        r.ttl = zones_.ttl();
                        r.target = t;
                        a.answer.push_back(r);
                    }
            }
            if (a.answer.size() == before) {
                // Negative answer (RFC 2308): SOA of the zone in the authority section. After a
                // BNAME the rcode is that of the last name (RFC 6604 §2.1, docs/dns.md).
                Rec s;
                s.owner = *zone;
                s.type = kTypeSOA;
                s.ttl = zones_.negative_ttl();
                s.target = zones_.nameserver(*zone);
                s.rname = zones_.hostmaster(*zone);
                s.serial = zones_.serial();
                s.minimum = zones_.negative_ttl();
                a.authority.push_back(s);
                if (zones_.exists(cur)) {
                    ++counters_.nodata;
                } else {
                    a.rcode = LDNS_RCODE_NXDOMAIN;
                    ++counters_.nxdomain;
                }
            }
            break;
        }
        if (a.rcode == LDNS_RCODE_SERVFAIL) {
            a.answer.clear();
            a.aa = false;
        }
    }
    switch (a.rcode) {
    case LDNS_RCODE_FORMERR: ++counters_.formerr; break;
    case LDNS_RCODE_NOTIMPL: ++counters_.notimp; break;
    case LDNS_RCODE_REFUSED: ++counters_.refused; break;
    default: break;
    }
    if (badvers) ++counters_.badvers;

    // Write it: in full, or over UDP when it does not fit, header + question + OPT with TC.
    const size_t limit = transport == Transport::kTcp ? 65535
                         : edns ? std::min<size_t>(client_payload, std::max<uint16_t>(512, opts_.udp_payload))
                                : 512;
    auto build = [&](bool truncated) {
        PktPtr r(ldns_pkt_new());
        ldns_pkt_set_id(r.get(), id);
        ldns_pkt_set_qr(r.get(), true);
        ldns_pkt_set_opcode(r.get(), static_cast<ldns_pkt_opcode>(opcode));
        ldns_pkt_set_rd(r.get(), rd);
        ldns_pkt_set_aa(r.get(), a.aa);
        ldns_pkt_set_tc(r.get(), truncated);
        ldns_pkt_set_rcode(r.get(), a.rcode);
        if (question) {
            ldns_rr* qc = ldns_rr_clone(question);
            ldns_pkt_push_rr(r.get(), LDNS_SECTION_QUESTION, qc);
        }
        if (edns) {
            ldns_pkt_set_edns_udp_size(r.get(), std::max<uint16_t>(512, opts_.udp_payload));
            ldns_pkt_set_edns_version(r.get(), 0);
            ldns_pkt_set_edns_do(r.get(), do_bit);  // RFC 3225 §3: copied
            if (badvers) ldns_pkt_set_edns_extended_rcode(r.get(), 1);  // BADVERS = 16
        }
        if (!truncated) {
            for (const auto& rec : a.answer) ldns_pkt_push_rr(r.get(), LDNS_SECTION_ANSWER, to_rr(rec));
            for (const auto& rec : a.authority) ldns_pkt_push_rr(r.get(), LDNS_SECTION_AUTHORITY, to_rr(rec));
        }
        return to_wire(r.get());
    };
    std::vector<uint8_t> out = build(false);
    if (out.size() > limit) {
        ++counters_.truncated;
        out = build(true);
    }
    if (out.empty()) return out;
    ++counters_.responses;
    return out;
}

}  // namespace regrelay::dns
