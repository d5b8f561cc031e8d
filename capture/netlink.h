// Follows the kernel's link and IPv6 address events (rtnetlink, through libmnl), so the daemons
// notice an interface that goes down, comes back, is deleted and recreated, or is renumbered.
// The daemons replay the link events in order (so each transition is logged and counted) and
// then read the interfaces again (list_interfaces), so a lost event never leaves stale state.
#pragma once

#include <string>
#include <vector>

struct mnl_socket;

namespace regrelay::capture {

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
    };
    struct Changes {
        std::vector<LinkEvent> links;
        bool addresses = false;  // an IPv6 address was added or removed
        bool overrun = false;    // notifications were lost: reread everything
        bool any() const { return !links.empty() || addresses || overrun; }
    };
    // Reads every queued notification without blocking.
    Changes drain();

private:
    mnl_socket* nl_ = nullptr;
};

}  // namespace regrelay::capture
