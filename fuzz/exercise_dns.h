// What the DNS fuzz target (fuzz/fuzz_dns.cpp) runs on one input, shared with
// tests/unit/fuzz_regressions_test.cpp: the input is a DNS query, answered over UDP and over TCP
// by the responder of a fixed view (forward and reverse zones, BNAMEs with a chain, a loop, one
// into its own zone's sibling). Properties: no crash or sanitizer report; a response, when there
// is one, parses (ldns), carries the query's id with QR set, fits 512 octets over UDP without
// EDNS and the offered payload with it; a response-less input is < 12 octets or has QR set.
#pragma once

#include <arpa/inet.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "dns/responder.h"
#include "dns/zone.h"
#include "fuzz/exercise.h"

// Last: ldns's headers define macros (bool, with clang) that break C++ headers included after.
#include <ldns/ldns.h>

namespace regrelay::fuzz {

inline const dns::ZoneView& fuzz_dns_view() {
    static const dns::ZoneView view = [] {
        dns::DnsConfig c;
        c.forward_zone = "hosts.example.net.";
        c.reverse_prefixes.push_back(*dns::parse_prefix("2001:db8:1::/48"));
        c.extra_zones = {"example.", "8.b.d.0.1.0.0.2.ip6.arpa."};
        auto b = [](const char* o, const char* t) { return dns::BnameRecord{*dns::parse_name(o), *dns::parse_name(t), 600}; };
        c.bnames = {b("corp.example.", "hosts.example.net."), b("alias.example.", "corp.example."),
                    b("9.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."),
                    b("loop-a.example.", "loop-b.example."), b("loop-b.example.", "loop-a.example.")};
        for (int i = 0; i < 40; ++i) {
            dns::StaticHost h;
            h.name = i < 20 ? "many" : "h";  // no "lit" + std::string&& (GCC 12 -Wrestrict at -O3)
            if (i >= 20) h.name += std::to_string(i);
            char a[48];
            std::snprintf(a, sizeof a, "2001:db8:1::%x", i + 1);
            inet_pton(AF_INET6, a, &h.addr);
            c.hosts.push_back(h);
        }
        dns::ZoneView v;
        std::string err;
        if (!v.load(c, err)) std::abort();
        return v;
    }();
    return view;
}

inline size_t exercise_dns(Bytes in) {
    dns::Responder r(fuzz_dns_view());
    size_t total = 0;
    for (dns::Transport t : {dns::Transport::kUdp, dns::Transport::kTcp}) {
        std::vector<uint8_t> out = r.respond(in, t);
        total += out.size();
        if (out.empty()) {
            REGRELAY_FUZZ_CHECK(in.size() < 12 || (in[2] & 0x80));
            continue;
        }
        ldns_pkt* p = nullptr;
        if (!REGRELAY_FUZZ_CHECK(ldns_wire2pkt(&p, out.data(), out.size()) == LDNS_STATUS_OK)) continue;
        REGRELAY_FUZZ_CHECK(ldns_pkt_qr(p));
        REGRELAY_FUZZ_CHECK(ldns_pkt_id(p) == uint16_t(in[0] << 8 | in[1]));
        if (t == dns::Transport::kUdp) REGRELAY_FUZZ_CHECK(out.size() <= (ldns_pkt_edns(p) ? 1232u : 512u));
        ldns_pkt_free(p);
    }
    return total;
}

}  // namespace regrelay::fuzz
