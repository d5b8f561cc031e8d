// Live relay mode: captures client ports with libpcap, talks to servers over a UDP socket on
// port 547, and drives the pure engine. All I/O of relay mode is here.
//
// It follows its interfaces through rtnetlink (a client interface may be absent or down at
// start, flap, be recreated or renumbered), serves the server socket and every client capture
// in bounded batches per wake-up (a flooded port cannot starve the reply path), reloads its
// configuration on SIGHUP, holds one instance lock per client interface, and, started as root,
// runs as an unprivileged user with CAP_NET_RAW only.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "capture/offload.h"
#include "relay/engine.h"

namespace regrelay::relay {

struct DaemonOptions {
    Config engine;                       // ports named; link_address set where configured
    std::vector<bool> fixed_link_address;  // per port: --link-address given (not followed)
    // --client-iface patterns (fnmatch, e.g. 'eth0.*'): every interface matching one is a client
    // interface while it exists (added and removed at run time); engine.ports holds the names.
    std::vector<std::string> client_globs;
    // --link-address IF=ADDR for interfaces that only a glob names.
    std::vector<std::pair<std::string, Ip6Addr>> glob_link_addresses;
    std::string upstream_iface;          // for the ff05::1:3 multicast; may be empty with --server
    std::string write_path;              // --write: a pcap of what is received and sent
    std::string trail_path;              // --trail: the registration trail (obs/trail.h)
    std::string log_format = "text";     // --log-format (set up once at start; not reloaded)
    int rcvbuf_bytes = 32 << 20;
    std::string user;                    // --user (empty: regrelay, else nobody)
    std::string log_level = "info";
    std::string metrics_listen;          // --metrics-listen ADDR:PORT (checked); empty: no /metrics
    capture::GsoMode udp_gso = capture::GsoMode::Auto;  // --udp-gso (capture/offload.h)
    // --capture shared: one TPACKET_V3 socket for every client interface instead of a libpcap
    // capture each (capture/shared_capture.h). Set at start, not reloaded.
    bool shared_capture = false;
    // Rebuilds the options from the command line and the configuration file (SIGHUP). Empty
    // when there is no --config file. False and `err` ("FILE:LINE: ...") when it is invalid.
    std::function<bool(DaemonOptions& out, std::string& err)> reload;
    std::string config_path;             // for log lines
};

// Runs until SIGTERM or SIGINT. Returns the process exit status.
int run_daemon(DaemonOptions opt);

}  // namespace regrelay::relay
