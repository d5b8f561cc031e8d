// Relay-forward construction shared by relay mode and snoop mode: a 34-byte header, the
// relay agent's options, then option 9 holding the relayed message verbatim.
#pragma once

#include <cstdint>
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

// The transaction id of a client/server message (bytes 1-3); 0 for relay messages or short input.
inline uint32_t xid_of(Bytes msg) {
    if (msg.size() < dhcp6::kClientHeaderLen || dhcp6::is_relay_type(msg[0])) return 0;
    return uint32_t(msg[1]) << 16 | uint32_t(msg[2]) << 8 | msg[3];
}

}  // namespace regrelay::relay
