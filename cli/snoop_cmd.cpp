// `regrelay snoop`: the RFC 6221 lightweight relay agent on a bridge or switch.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "capture/netif.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "snoop/daemon.h"
#include "snoop/filters.h"

namespace po = boost::program_options;

namespace regrelay::cli {

int snoop_main(int argc, char** argv) {
    std::vector<std::string> client_ports, trusted_ports;
    std::string uplink, write, log_level = "info", config;
    po::options_description desc(
        "usage: regrelay snoop --client-port IF [--client-port IF ...] --uplink IF [--trusted-port IF ...]\n\n"
        "A Lightweight DHCPv6 Relay Agent (RFC 6221): client messages on client ports go to the uplink as\n"
        "Relay-forward with Interface-ID (the port name) and option 79; Relay-replies naming a client port\n"
        "are unwrapped onto that port only. Options");
    desc.add_options()
        ("client-port", po::value(&client_ports)->composing(), "untrusted client-facing port (repeatable)")
        ("uplink", po::value(&uplink), "trusted port toward the DHCPv6 relay or server")
        ("trusted-port", po::value(&trusted_ports)->composing(), "another trusted port (repeatable)")
        ("no-client-link-layer", "do not add option 79 (Client Link-Layer Address)")
        ("install-filters", "install the nftables bridge rules (deploy/snoop-filters.nft) and remove them on exit")
        ("print-filters", "print the nftables rules for the client ports and exit")
        ("write", po::value(&write), "record what is received and injected to a pcap file")
        ("log-level", po::value(&log_level), "trace, debug, info, warn, error or off (default info)")
        ("config", po::value(&config), "read options from FILE (key = value lines, same keys)")
        ("help,h", "show this help");
    try {
        po::variables_map vm;
        if (!parse_args(argc, argv, desc, vm, config)) return 0;
        if (client_ports.empty()) fail("client-port", "is required: name at least one client-facing port");
        if (vm.count("print-filters")) {
            std::cout << snoop::filter_ruleset(client_ports);
            return 0;
        }
        if (uplink.empty()) fail("uplink", "is required: the port toward the DHCPv6 relay or server");
        setup_logging(log_level);
        snoop::DaemonOptions opt;
        auto add = [&](const std::string& optname, const std::string& name, snoop::Role role) {
            for (const auto& p : opt.engine.ports)
                if (p.name == name) fail(optname, name + ": already named as another port");
            auto itf = capture::find_interface(name);
            if (!itf) fail(optname, name + ": no such interface");
            snoop::Port p;
            p.name = name;
            p.role = role;
            opt.engine.ports.push_back(std::move(p));
            opt.ifindex.push_back(itf->index);
        };
        for (const auto& n : client_ports) add("client-port", n, snoop::Role::kClient);
        add("uplink", uplink, snoop::Role::kUplink);
        for (const auto& n : trusted_ports) add("trusted-port", n, snoop::Role::kTrusted);
        opt.engine.client_link_layer = vm.count("no-client-link-layer") == 0;
        opt.engine.verify_udp_checksum = false;  // offloaded checksums on veth/tap (see relay/engine.h)
        opt.install_filters = vm.count("install-filters") > 0;
        opt.write_path = write;
        return snoop::run_daemon(std::move(opt));
    } catch (const UsageError& e) {
        std::fprintf(stderr, "regrelay snoop: %s\n", e.msg.c_str());
        return 2;
    }
}

}  // namespace regrelay::cli
