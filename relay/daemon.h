// Live relay mode: captures client ports with libpcap, talks to servers over a UDP socket on
// port 547, and drives the pure engine. All I/O of relay mode is here.
#pragma once

#include <string>
#include <vector>

#include "relay/engine.h"

namespace regrelay::relay {

struct DaemonOptions {
    Config engine;                       // ports filled with names and link-addresses
    std::vector<unsigned> port_ifindex;  // per client port
    std::string upstream_iface;          // for the ff05::1:3 multicast; may be empty with --server
    unsigned upstream_ifindex = 0;
    std::string write_path;              // --write: a pcap of what is received and sent
    int rcvbuf_bytes = 32 << 20;
};

// Runs until SIGTERM or SIGINT. Returns the process exit status.
int run_daemon(DaemonOptions opt);

}  // namespace regrelay::relay
