// Live snoop mode: libpcap on every port, libnet injection, optional nftables filters.
#pragma once

#include <string>
#include <vector>

#include "snoop/engine.h"

namespace regrelay::snoop {

struct DaemonOptions {
    Config engine;
    std::vector<unsigned> ifindex;  // per port
    std::string write_path;
    bool install_filters = false;
};

int run_daemon(DaemonOptions opt);

// One debug line per relayed frame and per drop; an info line per relayed ADDR-REG-INFORM.
void log_actions(const Config& cfg, const Actions& a);

}  // namespace regrelay::snoop
