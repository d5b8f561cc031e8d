// Interface facts read from the system: index, state, MAC and IPv6 addresses. The daemons read
// them at start and again whenever rtnetlink reports a change (capture/netlink.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dhcp6/wire.h"

namespace regrelay::capture {

struct Interface {
    std::string name;
    unsigned index = 0;
    std::optional<MacAddr> mac;
    std::vector<Ip6Addr> addresses;  // every IPv6 address, in the order the kernel lists them
    bool up = false;                 // administratively up (IFF_UP)
    bool running = false;            // carrier (IFF_RUNNING)

    // The first global or unique-local address, if any.
    std::optional<Ip6Addr> routable_address() const;
    std::optional<Ip6Addr> link_local() const;
};

// Every interface of the network namespace (one getifaddrs call).
std::vector<Interface> list_interfaces();
// Looks an interface up by name; nullopt if it does not exist.
std::optional<Interface> find_interface(const std::string& name);
// Every IPv6 address configured on the host.
std::vector<Ip6Addr> host_addresses();

}  // namespace regrelay::capture
