// The nftables rules that keep DHCPv6 on a Linux bridge going through regrelay snoop:
// clients' messages are not bridged (regrelay relays them), and servers' messages reach
// client ports only as regrelay injects them. pcap sees frames before the bridge drops them.
#pragma once

#include <string>
#include <vector>

namespace regrelay::snoop {

inline constexpr const char* kFilterTable = "regrelay_snoop";

// The ruleset for these client ports: deploy/snoop-filters.nft with the port set filled in.
std::string filter_ruleset(const std::vector<std::string>& client_ports);

// Installs the ruleset atomically, replacing any table of the same name. False and `err` on failure.
bool install_filters(const std::vector<std::string>& client_ports, std::string& err);
// Removes the table. False and `err` on failure.
bool remove_filters(std::string& err);

}  // namespace regrelay::snoop
