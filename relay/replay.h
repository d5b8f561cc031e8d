// `regrelay replay`: runs a capture through the relay engine and writes what live mode would
// send, byte for byte deterministic (timestamps are the input frames').
#pragma once

#include <string>

#include "relay/engine.h"

namespace regrelay::relay {

struct ReplayStats {
    uint64_t frames = 0, client = 0, server = 0, sent = 0, dropped = 0;
};

// Client frames arrive on client port 0; Relay-replies to port 547 arrive from the servers.
// Well-formed frames that are not DHCPv6 (ICMPv6, IPv4, ARP, UDP between other ports: what live
// mode's capture filter never passes) are counted by the engine as not-dhcpv6, not bad-frame.
// Returns 0, or 2 with `err` set when a file cannot be opened.
int run_replay(const Config& cfg, const std::string& in, const std::string& out, ReplayStats& st, std::string& err,
               std::string* counters = nullptr);

}  // namespace regrelay::relay
