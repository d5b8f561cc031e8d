// `regrelay registrar`: the registrar engine on UDP port 547, its events made durable in the
// store before any reply goes out. All I/O of the registrar is here.
//
// Each wake-up reads a bounded batch of datagrams, runs them through the engine, writes the
// batch's events in ONE transaction (group commit) and sends the batch's replies only after the
// commit returned. A failed commit sends none of them (the clients retransmit) and reloads the
// live bindings from the store, so the engine never acknowledges what is not stored.
#pragma once

#include <functional>
#include <string>

#include "dns/responder.h"
#include "dns/server.h"
#include "dns/zone.h"
#include "registrar/engine.h"

namespace regrelay::registrar {

struct DaemonOptions {
    Config engine;                     // interfaces, links, server_duid (empty: from the database)
    std::string db = "sqlite:/var/lib/regrelay/registrar.db";
    int history_days = 400;            // --history-days; 0 keeps everything
    uint16_t port = dhcp6::kPortServer;
    // --listen-address: bind UDP `port` only on these unicast addresses, and ff02::1:2 on each
    // --listen-iface with a socket of its own (SO_REUSEADDR), so a DHCPv6 server on the same host
    // binds its own addresses and the group too (docs/registrar.md). Empty: [::]:port, exclusively.
    std::vector<Ip6Addr> listen_addresses;
    int rcvbuf_bytes = 32 << 20;
    size_t batch = 1024;               // datagrams per wake-up (and per transaction) at most
    std::string user;                  // --user
    std::string log_level = "info";
    std::string log_format = "text";
    std::string metrics_listen;
    bool log_registrations = true;     // --no-log-registrations
    std::function<bool(DaemonOptions& out, std::string& err)> reload;
    std::string config_path;
    // The DNS view of the live registrations (docs/dns.md): served on each --dns-listen address
    // (none: no DNS); the zones, the responder's and the listeners' settings.
    std::vector<std::string> dns_listen;
    dns::DnsConfig dns;
    dns::ResponderOptions dns_responder;
    dns::ServerOptions dns_server;
};

int run_daemon(DaemonOptions opt);

}  // namespace regrelay::registrar
