// The nftables rules that keep DHCPv6 on a Linux bridge going through regrelay snoop (RFC 6221
// LDRA): what the LDRA intercepts is not bridged (regrelay acts on its captured copy), and
// servers' messages reach untrusted client ports only as regrelay injects them. pcap sees frames
// before the bridge drops them.
#pragma once

#include <string>
#include <vector>

#include "snoop/engine.h"

namespace regrelay::snoop {

inline constexpr const char* kFilterTable = "regrelay_snoop";

// The bridge ports the rules name, by role.
struct FilterPorts {
    std::vector<std::string> client;   // untrusted client-facing (--client-port); at least one
    std::vector<std::string> trusted;  // trusted client-facing (--trusted-port); may be empty
    std::string uplink;                // the network-facing port (--uplink)

    static FilterPorts of(const Config& cfg);
};

// The ruleset for these ports: deploy/snoop-filters.nft with its port sets filled in.
std::string filter_ruleset(const FilterPorts& ports);

// Installs the ruleset atomically, replacing any table of the same name. False and `err` on failure.
bool install_filters(const FilterPorts& ports, std::string& err);
// Removes the table. False and `err` on failure.
bool remove_filters(std::string& err);

}  // namespace regrelay::snoop
