// `regrelay relay` (live) and `regrelay replay` (a capture through the same engine).
#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <spdlog/spdlog.h>

#include "capture/netif.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "relay/daemon.h"
#include "relay/replay.h"

namespace po = boost::program_options;

namespace regrelay::cli {

namespace {

Ip6Addr parse_addr(const std::string& opt, const std::string& text) {
    auto a = Ip6Addr::parse(text);
    if (!a) fail(opt, "'" + text + "': not an IPv6 address");
    return *a;
}

struct RelayArgs {
    std::vector<std::string> client_ifaces, servers, link_addresses;
    std::string upstream_iface, source_address, remote_id, write, log_level = "info", config;
    std::string in, out;  // replay
};

po::options_description relay_options(RelayArgs& a, bool replay) {
    po::options_description d(replay ? "replay options" : "relay options");
    d.add_options()
        ("client-iface", po::value(&a.client_ifaces)->composing(),
         replay ? "name of the client interface the frames arrive on (default client0)"
                : "interface facing clients (repeatable)")
        ("server", po::value(&a.servers)->composing(), "server address to relay to (repeatable); default ff05::1:3")
        ("upstream-iface", po::value(&a.upstream_iface), "interface for ff05::1:3 when no --server is given")
        ("source-address", po::value(&a.source_address), "source address of Relay-forwards")
        ("link-address", po::value(&a.link_addresses)->composing(),
         "IF=ADDR: link-address for a client interface (default: its first global or ULA address)")
        ("interface-id", "always add option 18 (Interface-ID: the interface name)")
        ("no-client-link-layer", "do not add option 79 (Client Link-Layer Address)")
        ("remote-id", po::value(&a.remote_id), "ENTERPRISE:HEX: add option 37 (Remote-ID)")
        ("write", po::value(&a.write), replay ? "(live mode only)" : "record what is received and sent to a pcap file")
        ("log-level", po::value(&a.log_level), "trace, debug, info, warn, error or off (default info)")
        ("config", po::value(&a.config), "read options from FILE (key = value lines, same keys)");
    if (replay)
        d.add_options()
            ("in", po::value(&a.in), "input capture")
            ("out", po::value(&a.out), "output capture (LINUX_SLL2) of what the relay would send");
    d.add_options()("help,h", "show this help");
    return d;
}

// Builds the engine configuration shared by live mode and replay.
relay::Config build_config(const RelayArgs& a, const po::variables_map& vm, bool live,
                           std::vector<unsigned>* ifindex) {
    relay::Config cfg;
    std::vector<std::string> names = a.client_ifaces;
    if (names.empty()) {
        if (live) fail("client-iface", "is required: name at least one interface facing clients");
        names.push_back("client0");
    }
    for (const auto& n : names) {
        for (const auto& p : cfg.ports)
            if (p.name == n) fail("client-iface", n + ": given twice");
        relay::ClientPort p;
        p.name = n;
        if (live) {
            auto itf = capture::find_interface(n);
            if (!itf) fail("client-iface", n + ": no such interface");
            ifindex->push_back(itf->index);
            if (auto g = itf->routable_address()) p.link_address = *g;
            if (auto ll = itf->link_local()) p.link_local = *ll;
            if (itf->mac) p.mac = *itf->mac;
        } else {
            p.link_local = *Ip6Addr::parse("fe80::1");
        }
        cfg.ports.push_back(std::move(p));
    }
    for (const auto& la : a.link_addresses) {
        auto eq = la.find('=');
        if (eq == std::string::npos) fail("link-address", "'" + la + "': expected IF=ADDR");
        std::string ifn = la.substr(0, eq);
        Ip6Addr addr = parse_addr("link-address", la.substr(eq + 1));
        if (!addr.is_routable_unicast()) fail("link-address", "'" + la + "': needs a global or unique-local address");
        bool found = false;
        for (auto& p : cfg.ports)
            if (p.name == ifn) {
                p.link_address = addr;
                found = true;
            }
        if (!found) fail("link-address", "'" + la + "': " + ifn + " is not a --client-iface");
    }
    for (const auto& s : a.servers) {
        Ip6Addr addr = parse_addr("server", s);
        if (addr.is_unspecified()) fail("server", "'" + s + "': not a usable destination");
        cfg.servers.push_back(addr);
    }
    if (!a.source_address.empty()) cfg.source_address = parse_addr("source-address", a.source_address);
    if (!a.remote_id.empty()) {
        auto colon = a.remote_id.find(':');
        if (colon == std::string::npos || colon == 0) fail("remote-id", "'" + a.remote_id + "': expected ENTERPRISE:HEX");
        relay::RemoteIdConfig r;
        try {
            size_t used = 0;
            unsigned long e = std::stoul(a.remote_id.substr(0, colon), &used);
            if (used != colon || e > 0xffffffffUL) throw std::out_of_range("enterprise");
            r.enterprise = uint32_t(e);
        } catch (const std::exception&) {
            fail("remote-id", "'" + a.remote_id + "': enterprise number must be 0-4294967295");
        }
        auto id = parse_hex(a.remote_id.substr(colon + 1));
        if (!id || id->empty()) fail("remote-id", "'" + a.remote_id + "': remote-id must be hex bytes");
        r.id = std::move(*id);
        cfg.remote_id = std::move(r);
    }
    cfg.always_interface_id = vm.count("interface-id") > 0;
    cfg.client_link_layer = vm.count("no-client-link-layer") == 0;
    return cfg;
}

}  // namespace

int relay_main(int argc, char** argv) {
    RelayArgs a;
    auto desc = relay_options(a, false);
    try {
        po::variables_map vm;
        if (!parse_args(argc, argv, desc, vm, a.config)) return 0;
        setup_logging(a.log_level);
        relay::DaemonOptions opt;
        opt.engine = build_config(a, vm, true, &opt.port_ifindex);
        opt.engine.verify_udp_checksum = false;  // offloaded checksums on veth/tap (see engine.h)
        if (opt.engine.servers.empty() && a.upstream_iface.empty())
            fail("upstream-iface", "is required when no --server is given (Relay-forwards go to ff05::1:3 on it)");
        if (!a.upstream_iface.empty()) {
            auto up = capture::find_interface(a.upstream_iface);
            if (!up) fail("upstream-iface", a.upstream_iface + ": no such interface");
            opt.upstream_iface = up->name;
            opt.upstream_ifindex = up->index;
        }
        opt.engine.local_addresses = capture::host_addresses();
        const Ip6Addr& sa = opt.engine.source_address;
        if (!sa.is_unspecified() && std::find(opt.engine.local_addresses.begin(), opt.engine.local_addresses.end(),
                                              sa) == opt.engine.local_addresses.end())
            fail("source-address", sa.str() + ": not an address of this host");
        opt.write_path = a.write;
        return relay::run_daemon(std::move(opt));
    } catch (const UsageError& e) {
        std::fprintf(stderr, "regrelay relay: %s\n", e.msg.c_str());
        return 2;
    }
}

int replay_main(int argc, char** argv) {
    RelayArgs a;
    auto desc = relay_options(a, true);
    try {
        po::variables_map vm;
        if (!parse_args(argc, argv, desc, vm, a.config)) return 0;
        if (a.in.empty()) fail("in", "is required: the capture to replay");
        if (a.out.empty()) fail("out", "is required: where to write what the relay sends");
        if (!a.write.empty()) fail("write", "is for live mode; replay writes to --out");
        setup_logging(a.log_level);
        relay::Config cfg = build_config(a, vm, false, nullptr);
        // The replayed relay's own addresses: its link-addresses and its source address.
        for (const auto& p : cfg.ports)
            if (!p.link_address.is_unspecified()) cfg.local_addresses.push_back(p.link_address);
        if (!cfg.source_address.is_unspecified()) cfg.local_addresses.push_back(cfg.source_address);
        relay::ReplayStats st;
        std::string err, counters;
        int rc = relay::run_replay(cfg, a.in, a.out, st, err, &counters);
        if (rc == 2) fail(err.rfind(a.in, 0) == 0 ? "in" : "out", err);
        if (rc != 0) {
            std::fprintf(stderr, "regrelay replay: %s\n", err.c_str());
            return rc;
        }
        spdlog::info("replayed {} frames ({} from clients, {} from servers): {} datagrams sent, {} dropped",
                     st.frames, st.client, st.server, st.sent, st.dropped);
        spdlog::info("counters:\n{}", counters);
        return 0;
    } catch (const UsageError& e) {
        std::fprintf(stderr, "regrelay replay: %s\n", e.msg.c_str());
        return 2;
    }
}

}  // namespace regrelay::cli
