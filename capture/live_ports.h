// The life of the interfaces a daemon serves, as the kernel reports it: absent, down, up (and
// captured), recreated under the same name, renumbered. Shared by relay and snoop daemons.
// Each port's capture is opened when its interface is up and closed when it goes down, is
// deleted, or reports an error (a capture on a flapped link reports POLLERR forever), and the
// interface is followed by name, so a recreated interface is captured again.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capture/netif.h"
#include "capture/netlink.h"
#include "capture/packet_io.h"

namespace regrelay::capture {

enum class LinkState : uint8_t { kUnknown, kAbsent, kDown, kUp, kFailed };

struct PortEvents {
    uint64_t up = 0, down = 0, absent = 0, recreated = 0, readdressed = 0, capture_errors = 0;
};

struct LivePort {
    std::string name;
    LinkState state = LinkState::kUnknown;
    unsigned ifindex = 0;                  // 0 while absent
    unsigned last_ifindex = 0;             // the ifindex it had when last present
    std::optional<Interface> itf;          // what the kernel last said
    std::unique_ptr<PacketSource> src;     // the capture, open while up
    std::unique_ptr<PacketSink> sink;      // an injector, where the daemon opens one
    std::vector<int> fds;                  // other descriptors the daemon opened for the port
    PortEvents events;
    uint64_t retry_at_ns = 0;              // after a failed open or a capture error
    unsigned failures = 0;                 // consecutive open or capture failures
    std::string last_error;
    bool open() const { return src != nullptr; }
};

// What a daemon does when a port opens or closes, and when its addresses change.
struct PortHooks {
    // Opens the port's capture (and anything else the daemon needs on it, e.g. an injector,
    // kept in the port's sink and fds, which the tracker closes with the capture).
    std::function<bool(size_t index, LivePort&, const Interface&, std::string& err)> open;
    // The interface's facts as last read (addresses, MAC): called on every sync of a present port.
    std::function<void(size_t index, LivePort&, const Interface&)> facts;
};

// Which interfaces a daemon serves now: the names given exactly (always, waited for while
// absent), every present interface matching a glob (fnmatch: `veth*`, `eth0.*`), and every
// port of a bridge (its other ports by role are excluded). Shared by relay (--client-iface
// globs) and snoop (--bridge).
bool is_glob(const std::string& pattern);
struct PortSelection {
    std::vector<std::string> names;    // exact names, in the order given
    std::vector<std::string> globs;    // fnmatch patterns
    std::string bridge;                // every port of this bridge (by master) ...
    std::vector<std::string> exclude;  // ... and every glob match, except these names
    bool dynamic() const { return !globs.empty() || !bridge.empty(); }
};
// The names, in order: the exact names first, then the glob and bridge matches sorted by name,
// each once. `ports` are the bridge ports of the namespace (dump_bridge_ports); only read when
// `sel.bridge` is set, and then `present` must hold the bridge to know its ifindex.
std::vector<std::string> select_ports(const PortSelection& sel, const std::vector<Interface>& present,
                                      const std::vector<BridgePort>& ports);
// What changed between two selections, for the daemons' log lines.
struct PortDiff {
    std::vector<std::string> added, removed;
    bool empty() const { return added.empty() && removed.empty(); }
};
PortDiff diff_ports(const std::vector<std::string>& before, const std::vector<std::string>& after);
// One line per port added or removed: "interface vc3: matches 'vc*', added" (relay),
// "port p3: joined bridge br0, added as client port" (snoop).
void log_port_diff(const std::string& mode, const PortSelection& sel, const PortDiff& d);

class PortTracker {
public:
    PortTracker(std::string mode, PortHooks hooks) : mode_(std::move(mode)), hooks_(std::move(hooks)) {}

    std::vector<LivePort>& ports() { return ports_; }
    const std::vector<LivePort>& ports() const { return ports_; }

    // Replaces the port list by these names (reload): ports under an existing name keep their
    // capture and counters, new ones start unknown, the others are closed. Then syncs.
    // `all`, when given, is the interface list to sync with (the one the names were chosen from,
    // so a port chosen from it is never found absent by a later read); else it is read.
    void set_names(const std::vector<std::string>& names, uint64_t now_ns, const std::vector<Interface>* all = nullptr);

    // Replays link events in order (each transition logged and counted once), then reads every
    // interface again and brings each port to its interface's state.
    void apply(const LinkMonitor::Changes& ch, uint64_t now_ns, const std::vector<Interface>* all = nullptr);
    // Reads every interface again (start, timers, after a capture error), or takes `all`.
    void sync_all(uint64_t now_ns, const std::vector<Interface>* all = nullptr);
    // A capture reported an error (POLLERR, read error): close it and reopen when possible.
    void capture_failed(size_t i, const std::string& why, uint64_t now_ns);
    // A packet was read: the capture works.
    void capture_ok(size_t i) { ports_[i].failures = 0; }

    // The earliest retry time of a port waiting to reopen, or 0.
    uint64_t next_retry_ns() const;
    // Ifindexes of the ports whose interface exists now.
    std::vector<unsigned> ifindexes() const;
    // "interface-events eth1 up=1 down=1 absent=0 recreated=0 readdressed=0\n" per port.
    std::string report() const;

private:
    void sync(size_t i, const Interface* itf, uint64_t now_ns);
    void close(LivePort& p);
    void go_absent(LivePort& p);
    void go_down(LivePort& p);

    std::string mode_;
    PortHooks hooks_;
    std::vector<LivePort> ports_;
};

}  // namespace regrelay::capture
