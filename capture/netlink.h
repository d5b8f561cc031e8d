// Follows the kernel's link and IPv6 address events (rtnetlink, through libmnl), so the daemons
// notice an interface that goes down, comes back, is deleted and recreated, or is renumbered.
// The daemons replay the link events in order (so each transition is logged and counted) and
// then read the interfaces again (list_interfaces), so a lost event never leaves stale state.
//
// It also reads a bridge's ports and their VLANs: which links have the bridge as master
// (IFLA_MASTER; a port joining or leaving is an RTM_NEWLINK with a changed master) and the
// bridge's VLAN table (RTM_NEWLINK of family AF_BRIDGE with IFLA_AF_SPEC nesting
// IFLA_BRIDGE_VLAN_INFO, asked for with IFLA_EXT_MASK = RTEXT_FILTER_BRVLAN and sent as events on
// RTNLGRP_LINK). The parsing is pure (parse_link_message, on a whole netlink message) so it is
// tested on messages built in memory; the sockets are below it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct mnl_socket;
struct nlmsghdr;

namespace regrelay::capture {

// One VLAN of a bridge port, as the bridge's VLAN table has it (ranges already expanded).
struct BridgeVlan {
    uint16_t vid = 0;
    bool pvid = false;      // BRIDGE_VLAN_INFO_PVID: untagged frames in are in this VLAN
    bool untagged = false;  // BRIDGE_VLAN_INFO_UNTAGGED: frames out of the port in it leave untagged
    bool operator==(const BridgeVlan&) const = default;
};

// What one RTM_NEWLINK/RTM_DELLINK says, either family.
struct LinkMessage {
    bool deleted = false;            // RTM_DELLINK
    bool bridge_family = false;      // ifi_family AF_BRIDGE: a bridge's view of one of its ports
    unsigned ifindex = 0;
    std::string name;                // IFLA_IFNAME, when present
    bool up = false;                 // IFF_UP
    std::optional<unsigned> master;  // IFLA_MASTER (0 when the message says the link has none)
    bool has_vlans = false;          // an IFLA_AF_SPEC with VLAN info was present (VLAN-filtering bridge)
    std::vector<BridgeVlan> vlans;   // sorted by vid, ranges expanded
};

// Parses a link message (RTM_NEWLINK or RTM_DELLINK). False when it is not one or is
// malformed (short header, a broken attribute, a VLAN range without its end); `out` is then
// unspecified. Never reads past nlmsg_len.
bool parse_link_message(const nlmsghdr* h, LinkMessage& out);

// A port of a bridge: a link whose master is that bridge, with its VLANs where the bridge
// filters VLANs.
struct BridgePort {
    unsigned ifindex = 0;
    std::string name;
    unsigned master = 0;
    bool has_vlans = false;
    std::vector<BridgeVlan> vlans;
};

// Builds the AF_BRIDGE link dump request with IFLA_EXT_MASK = RTEXT_FILTER_BRVLAN into `buf`
// (at least MNL_SOCKET_BUFFER_SIZE bytes is plenty). Returns the message length.
size_t build_bridge_dump_request(char* buf, size_t size, uint32_t seq);

// Every bridge port of the namespace with its VLANs (one AF_BRIDGE dump on a socket of its own).
// False and `err` on failure.
bool dump_bridge_ports(std::vector<BridgePort>& out, std::string& err);

// The VLAN of an access port (the PVID, untagged out) and the tagged VLANs of a trunk, from a
// port's table: what the snoop engine needs. `pvid` is 0 when no VLAN is the PVID.
struct PortVlanTable {
    uint16_t pvid = 0;
    bool pvid_untagged = false;
    std::vector<uint16_t> tagged;  // member VLANs that leave tagged, sorted
};
PortVlanTable summarize_vlans(const std::vector<BridgeVlan>& vlans);
// "pvid 10 untagged, tagged 20,30" (for log lines).
std::string describe_vlans(const std::vector<BridgeVlan>& vlans);

class LinkMonitor {
public:
    LinkMonitor() = default;
    ~LinkMonitor();
    LinkMonitor(const LinkMonitor&) = delete;
    LinkMonitor& operator=(const LinkMonitor&) = delete;

    // Subscribes to link and IPv6 address notifications. False and `err` on failure.
    bool open(std::string& err);
    int fd() const;
    // A link notification, in the order the kernel sent them (a quick down/up flap is two).
    struct LinkEvent {
        unsigned ifindex = 0;
        std::string name;
        bool deleted = false;  // RTM_DELLINK
        bool up = false;       // IFF_UP
        std::optional<unsigned> master;  // IFLA_MASTER as the message gives it
    };
    struct Changes {
        std::vector<LinkEvent> links;
        // AF_BRIDGE messages (a port joined or left a bridge, its VLANs changed): not the
        // interface itself coming or going, so not in `links`.
        std::vector<LinkMessage> bridge;
        bool addresses = false;  // an IPv6 address was added or removed
        bool overrun = false;    // notifications were lost: reread everything
        bool any() const { return !links.empty() || !bridge.empty() || addresses || overrun; }
    };
    // Reads every queued notification without blocking.
    Changes drain();

    // Handles one notification (what drain does with each message; public for tests).
    static void on_message(const nlmsghdr* h, Changes& ch);

private:
    mnl_socket* nl_ = nullptr;
};

}  // namespace regrelay::capture
