// `regrelay relay` (live) and `regrelay replay` (a capture through the same engine).
#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <fnmatch.h>
#include <iostream>
#include <random>
#include <spdlog/spdlog.h>

#include "capture/live_ports.h"
#include "capture/netif.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "obs/metrics.h"
#include "relay/daemon.h"
#include "relay/replay.h"

namespace po = boost::program_options;

namespace regrelay::cli {

namespace {

Ip6Addr parse_addr(const std::string& opt, const std::string& text) {
    auto a = Ip6Addr::parse(text);
    if (!a) fail(opt, "'" + text + "': not an IPv6 address", text);
    return *a;
}

struct RelayArgs {
    std::vector<std::string> client_ifaces, servers, link_addresses;
    std::string upstream_iface, source_address, remote_id, write, log_level = "info", config, user;
    std::string in, out;  // replay
    std::string rate_limit_mac, rate_limit_port, rate_limit_log;  // flood limits, RATE[/BURST]
    std::string metrics_listen;
    std::string log_format = "text", trail;
    std::string udp_gso = "auto";
    std::string capture_mode = "per-interface";
    size_t mac_table_size = limits::Config{}.mac_table_size;
};

po::options_description relay_options(RelayArgs& a, bool replay) {
    po::options_description d(replay ? "replay options" : "relay options");
    d.add_options()
        ("client-iface", po::value(&a.client_ifaces)->composing(),
         replay ? "name of the client interface the frames arrive on (default client0)"
                : "interface facing clients (repeatable); a glob ('eth0.*', 'veth*') takes every interface "
                  "matching it, added and removed as they come and go")
        ("server", po::value(&a.servers)->composing(), "server address to relay to (repeatable); default ff05::1:3")
        ("upstream-iface", po::value(&a.upstream_iface), "interface for ff05::1:3 when no --server is given")
        ("source-address", po::value(&a.source_address), "source address of Relay-forwards")
        ("link-address", po::value(&a.link_addresses)->composing(),
         "IF=ADDR: link-address for a client interface (default: its first global or ULA address)")
        ("interface-id", "always add option 18 (Interface-ID: the interface name)")
        ("no-client-link-layer", "do not add option 79 (Client Link-Layer Address)")
        ("remote-id", po::value(&a.remote_id), "ENTERPRISE:HEX: add option 37 (Remote-ID)")
        ("rate-limit-mac", po::value(&a.rate_limit_mac),
         "RATE[/BURST]: client messages per second per client MAC and port (default 20/100; 0 off)")
        ("rate-limit-port", po::value(&a.rate_limit_port),
         "RATE[/BURST]: client messages per second per client interface (default 10000/20000; 0 off)")
        ("rate-limit-log", po::value(&a.rate_limit_log),
         "RATE[/BURST]: ADDR-REG-INFORM info lines per second per client interface (default 100/1000; 0 off)")
        ("mac-table-size", po::value(&a.mac_table_size),
         "entries of the per-MAC rate table, all interfaces together (default 4096; fixed memory)")
        ("log-level", po::value(&a.log_level), "trace, debug, info, warn, error or off (default info)")
        ("log-format", po::value(&a.log_format), "text (default) or json: one JSON object per log line")
        ("config", po::value(&a.config), "read options from FILE (key = value lines, same keys)");
    if (!replay)
        d.add_options()
            ("write", po::value(&a.write), "record what is received and sent to a pcap file")
            ("trail", po::value(&a.trail),
             "FILE: append one JSON line per ADDR-REG-INFORM relayed and ADDR-REG-REPLY passed back")
            ("user", po::value(&a.user),
             "started as root: run as USER with CAP_NET_RAW only (default regrelay, else nobody)")
            ("metrics-listen", po::value(&a.metrics_listen),
             "ADDR:PORT: serve Prometheus metrics at GET /metrics, e.g. [::1]:9547 or 127.0.0.1:9547")
            ("capture", po::value(&a.capture_mode),
             "per-interface (default): a libpcap capture per client interface; shared: one TPACKET_V3 socket "
             "for all (less CPU and memory with many interfaces, up to one ring block timeout more latency)")
            ("udp-gso", po::value(&a.udp_gso),
             "auto (default), on or off: send runs of equal-size Relay-forwards to a server as one UDP GSO "
             "send; auto only where the kernel cuts them before the interface (its tx-udp-segmentation off)");
    if (replay)
        d.add_options()
            ("in", po::value(&a.in), "input capture")
            ("out", po::value(&a.out), "output capture (LINUX_SLL2) of what the relay would send");
    d.add_options()("help,h", "show this help");
    return d;
}

// Builds the engine configuration shared by live mode and replay.
// Live mode does not look interfaces up here: one may be absent or down at start (boot order),
// and the daemon follows them. `fixed` gets, per port, whether --link-address names its link.
relay::Config build_config(const RelayArgs& a, const po::variables_map& vm, bool live, std::vector<bool>* fixed,
                           relay::DaemonOptions* dyn = nullptr) {
    relay::Config cfg;
    std::vector<std::string> names;
    std::vector<std::string> globs;
    for (const auto& n : a.client_ifaces) {
        if (!capture::is_glob(n)) {
            names.push_back(n);
            continue;
        }
        if (!live) fail("client-iface", "'" + n + "': a pattern names no interface in a replay", n);
        if (n.size() > 64 || n.find_first_of("/ \t") != std::string::npos)
            fail("client-iface", "'" + n + "': not an interface name pattern", n);
        if (std::find(globs.begin(), globs.end(), n) != globs.end()) fail("client-iface", n + ": given twice", n);
        globs.push_back(n);
    }
    if (names.empty() && !globs.empty()) {
        // Only patterns: fine, the daemon waits for a matching interface.
    } else if (names.empty() && live) {
        fail("client-iface", "is required: name at least one interface facing clients");
    }
    if (names.empty() && !live) {
        names.push_back("client0");
    }
    for (const auto& n : names) {
        for (const auto& p : cfg.ports)
            if (p.name == n) fail("client-iface", n + ": given twice", n);
        relay::ClientPort p;
        p.name = n;
        if (n.empty() || n.size() > 15 || n.find_first_of("/ \t") != std::string::npos)
            fail("client-iface", "'" + n + "': not an interface name", n);
        if (!live) p.link_local = *Ip6Addr::parse("fe80::1");
        cfg.ports.push_back(std::move(p));
    }
    for (const auto& la : a.link_addresses) {
        auto eq = la.find('=');
        if (eq == std::string::npos) fail("link-address", "'" + la + "': expected IF=ADDR", la);
        std::string ifn = la.substr(0, eq);
        Ip6Addr addr = parse_addr("link-address", la.substr(eq + 1));
        if (!addr.is_routable_unicast()) fail("link-address", "'" + la + "': needs a global or unique-local address", la);
        bool found = false;
        for (size_t i = 0; i < cfg.ports.size(); ++i)
            if (cfg.ports[i].name == ifn) {
                cfg.ports[i].link_address = addr;
                if (fixed) {
                    fixed->resize(cfg.ports.size());
                    (*fixed)[i] = true;
                }
                found = true;
            }
        if (!found && dyn)
            for (const auto& g : globs)
                if (::fnmatch(g.c_str(), ifn.c_str(), 0) == 0) {
                    dyn->glob_link_addresses.emplace_back(ifn, addr);
                    found = true;
                    break;
                }
        if (!found)
            fail("link-address",
                 "'" + la + "': " + ifn + " is not a --client-iface" +
                     (globs.empty() ? std::string() : std::string(" and matches none of its patterns")),
                 la);
    }
    for (const auto& s : a.servers) {
        Ip6Addr addr = parse_addr("server", s);
        if (addr.is_unspecified()) fail("server", "'" + s + "': not a usable destination", s);
        for (const auto& prev : cfg.servers)
            if (prev == addr) fail("server", "'" + s + "': given twice (" + addr.str() + ")", s);
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
    if (dyn) dyn->client_globs = globs;
    cfg.always_interface_id = vm.count("interface-id") > 0;
    cfg.client_link_layer = vm.count("no-client-link-layer") == 0;
    // Flood limits (docs/relay.md, "Flood limits"). Live mode hashes the per-MAC table with a
    // random seed; replay with a fixed one (deterministic output).
    const auto rate = rate_option;
    rate("rate-limit-mac", a.rate_limit_mac, cfg.limits.per_mac);
    rate("rate-limit-port", a.rate_limit_port, cfg.limits.per_port);
    rate("rate-limit-log", a.rate_limit_log, cfg.limits.log_lines);
    if (a.mac_table_size < 16 || a.mac_table_size > (1u << 22))
        fail("mac-table-size", std::to_string(a.mac_table_size) + ": must be 16-4194304");
    cfg.limits.mac_table_size = a.mac_table_size;
    if (live) cfg.limits.seed = uint64_t(std::random_device{}()) << 32 | std::random_device{}();
    return cfg;
}

}  // namespace

// Everything `regrelay relay` takes from its command line and configuration file, checked.
// Throws UsageError. False after --help.
bool daemon_options(int argc, char** argv, bool first, relay::DaemonOptions& opt) {
    RelayArgs a;
    auto desc = relay_options(a, false);
    po::variables_map vm;
    Origins origins;
    try {
        if (!parse_args(argc, argv, desc, vm, origins)) return false;
        if (first) setup_logging(a.log_level, a.log_format);
        else if (spdlog::level::from_str(a.log_level) == spdlog::level::off && a.log_level != "off")
            fail("log-level", "'" + a.log_level + "': not a level");
        else check_log_format(a.log_format);
        opt = {};
        opt.engine = build_config(a, vm, true, &opt.fixed_link_address, &opt);
        opt.fixed_link_address.resize(opt.engine.ports.size());
        opt.engine.verify_udp_checksum = false;  // offloaded checksums on veth/tap (see engine.h)
        if (opt.engine.servers.empty() && a.upstream_iface.empty())
            fail("upstream-iface", "is required when no --server is given (Relay-forwards go to ff05::1:3 on it)");
        opt.upstream_iface = a.upstream_iface;
        const Ip6Addr& sa = opt.engine.source_address;
        if (!sa.is_unspecified()) {
            if (!sa.is_routable_unicast())
                fail("source-address", sa.str() + ": needs a global or unique-local address (servers answer to it)");
            auto local = capture::host_addresses();
            if (std::find(local.begin(), local.end(), sa) == local.end())
                fail("source-address", sa.str() + ": not an address of this host");
        }
        opt.write_path = a.write;
        opt.trail_path = a.trail;
        opt.log_format = a.log_format;
        if (!a.metrics_listen.empty()) {
            std::string why;
            if (!obs::parse_listen(a.metrics_listen, why)) fail("metrics-listen", "'" + a.metrics_listen + "': " + why);
        }
        opt.metrics_listen = a.metrics_listen;
        if (a.udp_gso == "auto") opt.udp_gso = capture::GsoMode::Auto;
        else if (a.udp_gso == "on") opt.udp_gso = capture::GsoMode::On;
        else if (a.udp_gso == "off") opt.udp_gso = capture::GsoMode::Off;
        else fail("udp-gso", "'" + a.udp_gso + "': expected auto, on or off", a.udp_gso);
        if (a.capture_mode != "per-interface" && a.capture_mode != "shared")
            fail("capture", "'" + a.capture_mode + "': expected per-interface or shared", a.capture_mode);
        opt.shared_capture = a.capture_mode == "shared";
        opt.user = a.user;
        opt.log_level = a.log_level;
        opt.config_path = a.config;
    } catch (UsageError& e) {
        e.msg = locate(e, origins);  // FILE:LINE for a value from the configuration file
        e.opt.clear();
        throw;
    }
    return true;
}

int relay_main(int argc, char** argv) {
    try {
        relay::DaemonOptions opt;
        if (!daemon_options(argc, argv, true, opt)) return 0;
        if (!opt.config_path.empty())
            opt.reload = [argc, argv](relay::DaemonOptions& out, std::string& err) {
                try {
                    return daemon_options(argc, argv, false, out);
                } catch (const UsageError& e) {
                    err = e.msg;
                    return false;
                }
            };
        return relay::run_daemon(std::move(opt));
    } catch (const UsageError& e) {
        std::fprintf(stderr, "regrelay relay: %s\n", e.msg.c_str());
        return 2;
    }
}

int replay_main(int argc, char** argv) {
    RelayArgs a;
    auto desc = relay_options(a, true);
    // --write is accepted (to refuse it with a reason below) but not shown in --help.
    po::options_description all;
    all.add(desc).add_options()("write", po::value(&a.write));
    Origins origins;
    try {
        po::variables_map vm;
        if (!parse_args(argc, argv, all, vm, origins, &desc)) return 0;
        if (a.in.empty()) fail("in", "is required: the capture to replay");
        if (a.out.empty()) fail("out", "is required: where to write what the relay sends");
        if (!a.write.empty()) fail("write", "is for live mode; replay writes to --out");
        setup_logging(a.log_level, a.log_format);
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
        std::fprintf(stderr, "regrelay replay: %s\n", locate(e, origins).c_str());
        return 2;
    }
}

}  // namespace regrelay::cli
