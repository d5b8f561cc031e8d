// `regrelay snoop`: the RFC 6221 lightweight relay agent on a bridge or switch.
#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <spdlog/spdlog.h>
#include <random>

#include "capture/live_ports.h"
#include "capture/netif.h"
#include "capture/netlink.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "obs/metrics.h"
#include "snoop/daemon.h"
#include "snoop/filters.h"

namespace po = boost::program_options;

namespace regrelay::cli {

namespace {

// Everything `regrelay snoop` takes from its command line and configuration file, checked.
// Throws UsageError. Returns 1 to run, 0 after --help or --print-filters.
int snoop_options(int argc, char** argv, bool first, snoop::DaemonOptions& opt) {
    std::vector<std::string> client_ports, trusted_ports;
    std::string uplink, bridge, write, log_level = "info", config, user, metrics_listen;
    std::string log_format = "text", trail, capture_mode = "per-interface";
    std::string rate_limit_mac, rate_limit_port, rate_limit_log;  // flood limits, RATE[/BURST]
    std::vector<std::string> port_vlans, interface_ids;  // PORT=SPEC, PORT[/VLAN]=STRING
    std::string interface_id_format;
    size_t mac_table_size = limits::Config{}.mac_table_size;
    po::options_description desc(
        "usage: regrelay snoop --client-port IF [--client-port IF ...] --uplink IF [--trusted-port IF ...]\n\n"
        "A Lightweight DHCPv6 Relay Agent (RFC 6221): client messages on client ports go to the uplink as\n"
        "Relay-forward with Interface-ID (the port name) and option 79; Relay-replies naming a client port\n"
        "are unwrapped onto that port only. Options");
    desc.add_options()
        ("client-port", po::value(&client_ports)->composing(), "untrusted client-facing port (repeatable)")
        ("uplink", po::value(&uplink), "trusted port toward the DHCPv6 relay or server")
        ("bridge", po::value(&bridge),
         "BRIDGE: every other port of this bridge is a client port, followed as ports join and leave; "
         "VLANs from its VLAN table where a port has no --port-vlan")
        ("trusted-port", po::value(&trusted_ports)->composing(), "another trusted port (repeatable)")
        ("no-client-link-layer", "do not add option 79 (Client Link-Layer Address)")
        ("port-vlan", po::value(&port_vlans)->composing(),
         "PORT=VLANS: the port's 802.1Q membership (repeatable): 10 access (PVID 10, untagged), "
         "10,20,30 or 20t tagged (trunk), 10u,20-29 native VLAN 10 and 20-29 tagged, none")
        ("interface-id", po::value(&interface_ids)->composing(),
         "PORT=STRING or PORT/VLAN=STRING: the Interface-ID of the port (in that VLAN), e.g. a circuit-id "
         "sw1/0/3; {port} {vlan} expand (repeatable)")
        ("interface-id-format", po::value(&interface_id_format),
         "the Interface-ID of every other port: {port} the port name, {vlan} the VLAN ID "
         "(default {port} without VLANs, {port}.{vlan} in a VLAN)")
        ("rate-limit-mac", po::value(&rate_limit_mac),
         "RATE[/BURST]: client messages per second per client MAC and port (default 20/100; 0 off)")
        ("rate-limit-port", po::value(&rate_limit_port),
         "RATE[/BURST]: client messages per second per client-facing port (default 10000/20000; 0 off)")
        ("rate-limit-log", po::value(&rate_limit_log),
         "RATE[/BURST]: ADDR-REG-INFORM info lines per second per port (default 100/1000; 0 off)")
        ("mac-table-size", po::value(&mac_table_size),
         "entries of the per-MAC rate table, all ports together (default 4096; fixed memory)")
        ("capture", po::value(&capture_mode),
         "per-interface (default): a libpcap capture per port; shared: one TPACKET_V3 socket for every "
         "port (less CPU and memory with many ports, up to 1 ms more latency at low rates)")
        ("install-filters", "install the nftables bridge rules (deploy/snoop-filters.nft) and remove them on exit")
        ("print-filters", "print the nftables rules for these ports and exit")
        ("write", po::value(&write), "record what is received and injected to a pcap file")
        ("log-level", po::value(&log_level), "trace, debug, info, warn, error or off (default info)")
        ("log-format", po::value(&log_format), "text (default) or json: one JSON object per log line")
        ("trail", po::value(&trail),
         "FILE: append one JSON line per ADDR-REG-INFORM relayed and ADDR-REG-REPLY passed back")
        ("config", po::value(&config), "read options from FILE (key = value lines, same keys)")
        ("user", po::value(&user),
         "started as root: run as USER with CAP_NET_RAW and CAP_NET_ADMIN only (default regrelay, else nobody)")
        ("metrics-listen", po::value(&metrics_listen),
         "ADDR:PORT: serve Prometheus metrics at GET /metrics, e.g. [::1]:9547 or 127.0.0.1:9547")
        ("help,h", "show this help");
    Origins origins;
    try {
        po::variables_map vm;
        if (!parse_args(argc, argv, desc, vm, origins)) return 0;
        if (client_ports.empty() && bridge.empty())
            fail("client-port", "is required: name at least one client-facing port (or --bridge)");
        if (uplink.empty()) fail("uplink", "is required: the port toward the DHCPv6 relay or server");
        if (!bridge.empty() && (bridge.size() > 15 || bridge.find_first_of("/ \t") != std::string::npos))
            fail("bridge", "'" + bridge + "': not an interface name", bridge);
        if (bridge == uplink && !bridge.empty()) fail("bridge", "'" + bridge + "': is the uplink, not a bridge", bridge);
        if (vm.count("print-filters")) {
            std::vector<std::string> clients = client_ports;
            if (!bridge.empty()) {
                // The bridge's ports as they are now.
                capture::PortSelection sel;
                sel.names = client_ports;
                sel.bridge = bridge;
                sel.exclude = trusted_ports;
                sel.exclude.push_back(uplink);
                std::vector<capture::BridgePort> bp;
                std::string err;
                if (!capture::dump_bridge_ports(bp, err)) fail("bridge", err);
                clients = capture::select_ports(sel, capture::list_interfaces(), bp);
                if (clients.empty()) fail("bridge", "'" + bridge + "': has no client port now", bridge);
            }
            std::cout << snoop::filter_ruleset({clients, trusted_ports, uplink});
            return 0;
        }
        if (first) setup_logging(log_level, log_format);
        else if (spdlog::level::from_str(log_level) == spdlog::level::off && log_level != "off")
            fail("log-level", "'" + log_level + "': not a level");
        else check_log_format(log_format);
        opt = {};
        auto add = [&](const std::string& optname, const std::string& name, snoop::Role role) {
            for (const auto& p : opt.engine.ports)
                if (p.name == name) fail(optname, name + ": already named as another port", name);
            // Not looked up here: a port may be absent or down at start; the daemon follows it.
            if (name.empty() || name.size() > 15 || name.find_first_of("/ \t") != std::string::npos)
                fail(optname, "'" + name + "': not an interface name", name);
            snoop::Port p;
            p.name = name;
            p.role = role;
            opt.engine.ports.push_back(std::move(p));
        };
        for (const auto& n : client_ports) add("client-port", n, snoop::Role::kClient);
        add("uplink", uplink, snoop::Role::kUplink);
        for (const auto& n : trusted_ports) add("trusted-port", n, snoop::Role::kTrusted);
        opt.engine.client_link_layer = vm.count("no-client-link-layer") == 0;
        // VLANs and Interface-IDs (docs/snoop.md, "VLANs").
        auto port_named = [&](const char* o, const std::string& item, const std::string& name) -> snoop::Port& {
            for (auto& p : opt.engine.ports)
                if (p.name == name) return p;
            fail(o, "'" + item + "': " + name + " is not a --client-port, --uplink or --trusted-port", item);
        };
        std::vector<std::string> vlan_ports;
        for (const auto& item : port_vlans) {
            const size_t eq = item.find('=');
            if (eq == std::string::npos) fail("port-vlan", "'" + item + "': expected PORT=VLANS, e.g. p1=10", item);
            snoop::Port& p = port_named("port-vlan", item, item.substr(0, eq));
            if (std::find(vlan_ports.begin(), vlan_ports.end(), p.name) != vlan_ports.end())
                fail("port-vlan", "'" + item + "': " + p.name + " already has its VLANs", item);
            vlan_ports.push_back(p.name);
            std::string why;
            auto v = snoop::parse_port_vlans(std::string_view(item).substr(eq + 1), why);
            if (!v) fail("port-vlan", "'" + item + "': " + why, item);
            p.vlans = *v;
        }
        for (const auto& item : interface_ids) {
            const size_t eq = item.find('=');
            if (eq == std::string::npos || eq + 1 == item.size())
                fail("interface-id", "'" + item + "': expected PORT=STRING or PORT/VLAN=STRING", item);
            const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
            const size_t slash = key.find('/');
            snoop::Port& p = port_named("interface-id", item, key.substr(0, slash));
            std::vector<uint8_t> bytes(value.begin(), value.end());
            if (slash == std::string::npos) {
                if (!p.interface_id.empty()) fail("interface-id", "'" + item + "': " + p.name + " already has one", item);
                p.interface_id = std::move(bytes);
                continue;
            }
            std::string why;
            auto v = snoop::parse_port_vlans(key.substr(slash + 1), why);
            if (!v || !v->pvid || v->trunk())
                fail("interface-id", "'" + item + "': " + key.substr(slash + 1) + " is not one VLAN ID", item);
            for (const auto& [vid, s] : p.vlan_interface_ids)
                if (vid == v->pvid) fail("interface-id", "'" + item + "': " + key + " already has one", item);
            p.vlan_interface_ids.emplace_back(v->pvid, std::move(bytes));
        }
        opt.engine.interface_id_format = interface_id_format;
        if (std::string why; !snoop::Engine::check(opt.engine, why))
            fail(interface_ids.empty() && interface_id_format.empty() ? "port-vlan" : "interface-id", why);
        // Flood limits (docs/snoop.md, "Flood limits"); the per-MAC table's hash seed is random.
        const auto rate = rate_option;
        rate("rate-limit-mac", rate_limit_mac, opt.engine.limits.per_mac);
        rate("rate-limit-port", rate_limit_port, opt.engine.limits.per_port);
        rate("rate-limit-log", rate_limit_log, opt.engine.limits.log_lines);
        if (mac_table_size < 16 || mac_table_size > (1u << 22))
            fail("mac-table-size", std::to_string(mac_table_size) + ": must be 16-4194304");
        opt.engine.limits.mac_table_size = mac_table_size;
        opt.engine.limits.seed = uint64_t(std::random_device{}()) << 32 | std::random_device{}();
        opt.engine.verify_udp_checksum = false;  // offloaded checksums on veth/tap (see relay/engine.h)
        if (capture_mode != "per-interface" && capture_mode != "shared")
            fail("capture", "'" + capture_mode + "': expected per-interface or shared", capture_mode);
        opt.shared_capture = capture_mode == "shared";
        opt.install_filters = vm.count("install-filters") > 0;
        opt.bridge = bridge;
        opt.write_path = write;
        opt.trail_path = trail;
        opt.log_format = log_format;
        if (!metrics_listen.empty()) {
            std::string why;
            if (!obs::parse_listen(metrics_listen, why)) fail("metrics-listen", "'" + metrics_listen + "': " + why);
        }
        opt.metrics_listen = metrics_listen;
        opt.user = user;
        opt.log_level = log_level;
        opt.config_path = config;
        return 1;
    } catch (UsageError& e) {
        e.msg = locate(e, origins);  // FILE:LINE for a value from the configuration file
        e.opt.clear();
        throw;
    }
}

}  // namespace

int snoop_main(int argc, char** argv) {
    try {
        snoop::DaemonOptions opt;
        if (snoop_options(argc, argv, true, opt) == 0) return 0;
        if (!opt.config_path.empty())
            opt.reload = [argc, argv](snoop::DaemonOptions& out, std::string& err) {
                try {
                    return snoop_options(argc, argv, false, out) == 1;
                } catch (const UsageError& e) {
                    err = e.msg;
                    return false;
                }
            };
        return snoop::run_daemon(std::move(opt));
    } catch (const UsageError& e) {
        std::fprintf(stderr, "regrelay snoop: %s\n", e.msg.c_str());
        return 2;
    }
}

}  // namespace regrelay::cli
