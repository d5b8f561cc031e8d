// Relay-forward construction shared by relay mode and snoop mode: a 34-byte header, the
// relay agent's options, then option 9 holding the relayed message verbatim.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <optional>
#include <vector>

#include "dhcp6/dhcp6.h"

namespace regrelay::relay {

struct RemoteIdConfig {
    uint32_t enterprise = 0;
    std::vector<uint8_t> id;
};

struct RelayForward {
    uint8_t hop_count = 0;
    Ip6Addr link_address;
    Ip6Addr peer_address;
    Bytes interface_id;                   // option 18 when non-empty
    const RemoteIdConfig* remote_id = nullptr;  // option 37 when set
    std::optional<MacAddr> client_mac;    // option 79 when set
};

// Appends the Relay-forward carrying `inner` to `out`. Returns false (nothing appended) when
// it would not fit in one UDP datagram.
bool build_relay_forward(const RelayForward& rf, Bytes inner, std::vector<uint8_t>& out);

// A Relay-forward received from another relay agent (an LDRA included), RFC 8415 §19.1.2:
// well-formed (header and options) and below the hop-count limit? On kOk, `next_hop` is the
// hop-count for the Relay-forward around it.
enum class Rewrap { kOk, kMalformed, kHopLimit };
Rewrap check_rewrap(Bytes relay_forw, uint8_t& next_hop);

// Does the Relay-forward `relay_forw` (received from another relay agent) name the client's
// link? It does when its own link-address, or that of a Relay-forward nested in its option 9
// (down to kHopCountLimit levels), is routable: not ::, link-local, loopback or multicast. An
// LDRA's level (RFC 6221: link-address ::) names none; an Interface-ID alone does not count.
// A level that does not decode ends the walk. The relay around it uses this to choose between
// RFC 8415 §19.1.2's link-address 0 and its own link-address (engine.cpp, docs/relay.md).
bool names_link(Bytes relay_forw);

// The transaction id of a client/server message (bytes 1-3); 0 for relay messages or short input.
inline uint32_t xid_of(Bytes msg) {
    if (msg.size() < dhcp6::kClientHeaderLen || dhcp6::is_relay_type(msg[0])) return 0;
    return uint32_t(msg[1]) << 16 | uint32_t(msg[2]) << 8 | msg[3];
}

// Appends " drops name=N ..." for the non-zero counters of a drop-reason array (index 0 is
// "none"), or " drops none". Shared by the relay and snoop counter reports.
template <class Reason, size_t N, class NameFn>
void append_drops(std::string& s, const std::array<uint64_t, N>& drops, NameFn name) {
    std::string d;
    for (size_t i = 1; i < N; ++i)
        if (drops[i]) {
            d += ' ';
            d += name(Reason(i));
            d += '=';
            d += std::to_string(drops[i]);
        }
    s += d.empty() ? " drops none" : " drops" + d;
}

}  // namespace regrelay::relay
