// The DNS responder of the registrar's view: query bytes + transport in, response bytes out.
// Pure: no sockets, no clocks; DNS wire format through ldns (no hand-written codec). Answers
// authoritatively from a ZoneView, follows BNAME chains (draft-yao-dnsext-bname-06 §4.1,
// docs/dns.md), EDNS0 (RFC 6891), TC over UDP when the answer does not fit.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dns/zone.h"

namespace regrelay::dns {

enum class Transport : uint8_t { kUdp, kTcp };

// The UB ("Understand BNAME") bit of the EDNS flags (draft §5): the bit after DO.
inline constexpr uint16_t kEdnsFlagUB = 0x4000;
inline constexpr uint16_t kEdnsFlagDO = 0x8000;

struct ResponderOptions {
    uint16_t udp_payload = 1232;  // the EDNS payload size we offer and honour at most
    unsigned max_chain = 16;      // BNAME substitutions per query before SERVFAIL
};

struct ResponderCounters {
    uint64_t queries = 0;           // every call
    uint64_t responses = 0;         // answered (any rcode)
    uint64_t drop_short = 0;        // shorter than a DNS header: no answer
    uint64_t drop_response = 0;     // QR set (a response sent to us): no answer
    uint64_t formerr = 0;
    uint64_t notimp = 0;
    uint64_t refused = 0;
    uint64_t nxdomain = 0;
    uint64_t nodata = 0;
    uint64_t servfail = 0;          // BNAME loops and over-long chains
    uint64_t yxdomain = 0;
    uint64_t badvers = 0;
    uint64_t bname_substitutions = 0;
    uint64_t ub_queries = 0;        // queries with the UB bit
    uint64_t edns_queries = 0;
    uint64_t truncated = 0;         // TC set (UDP answer over the limit)
};

class Responder {
public:
    Responder(const ZoneView& zones, ResponderOptions opts = {}) : zones_(zones), opts_(opts) {}
    // The response to `query`, or empty when no response is due (a counted drop).
    std::vector<uint8_t> respond(std::span<const uint8_t> query, Transport transport);
    const ResponderCounters& counters() const { return counters_; }
    // A reload (the registrar's SIGHUP): new options, the counters kept.
    void set_options(const ResponderOptions& opts) { opts_ = opts; }

private:
    const ZoneView& zones_;
    ResponderOptions opts_;
    ResponderCounters counters_;
};

}  // namespace regrelay::dns
