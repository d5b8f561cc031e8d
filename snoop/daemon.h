// Live snoop mode: libpcap on every port, libnet injection, optional nftables filters. Ports are
// followed through rtnetlink (absent, down, flapped, recreated), SIGHUP reloads the
// configuration, one instance per port, and started as root it runs as an unprivileged user
// with CAP_NET_RAW and CAP_NET_ADMIN only.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "snoop/engine.h"

namespace regrelay::snoop {

struct DaemonOptions {
    Config engine;
    std::string write_path;
    std::string trail_path;           // --trail: the registration trail (obs/trail.h)
    std::string log_format = "text";  // --log-format (set up once at start; not reloaded)
    // --bridge: every port of this bridge but the uplink and the trusted ports is a client port
    // (followed through rtnetlink: ports joining or leaving are added and removed), and each
    // port's VLANs come from the bridge's VLAN table where the port has no --port-vlan.
    std::string bridge;
    bool install_filters = false;
    std::string user;               // --user (empty: regrelay, else nobody)
    std::string log_level = "info";
    std::string metrics_listen;     // --metrics-listen ADDR:PORT (checked); empty: no /metrics
    // --capture: one libpcap capture per port (false, the default) or one shared TPACKET_V3
    // socket for every port (capture/shared_capture.h). Set at start, not reloaded.
    bool shared_capture = false;
    // Rebuilds the options from the command line and the configuration file (SIGHUP). Empty
    // when there is no --config file. False and `err` ("FILE:LINE: ...") when it is invalid.
    std::function<bool(DaemonOptions& out, std::string& err)> reload;
    std::string config_path;
};

int run_daemon(DaemonOptions opt);

// One debug line per relayed frame and per drop; an info line per relayed ADDR-REG-INFORM.
void log_actions(const Config& cfg, const Actions& a);

}  // namespace regrelay::snoop
