// `regrelay registrar`: the RFC 9686 address registration server (registrar/daemon.h).
#include <boost/program_options.hpp>
#include <cstdio>
#include <ctime>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/dns_options.h"
#include "cli/options.h"
#include "obs/metrics.h"
#include "registrar/daemon.h"
#include "registrar/store.h"

namespace po = boost::program_options;

namespace regrelay::cli {

namespace {

struct RegistrarArgs {
    std::vector<std::string> listen_addresses;  // --listen-address
    std::vector<std::string> listen_ifaces, links, link_ifaces, link_ifids, link_rids;
    std::string db = std::string(registrar::kDefaultDb), server_duid, user, log_level = "info", log_format = "text",
                metrics_listen, config;
    int history_days = 400;
    std::vector<std::string> dns_listen;  // the DNS view (docs/dns.md); its options are dns-view's
    DnsArgs dns{"dns-"};
    std::string rate_limit_source, rate_limit_relay, rate_limit_link;  // flood limits, RATE[/BURST]
    size_t source_table_size = registrar::FloodConfig{}.table_size;
};

po::options_description registrar_options(RegistrarArgs& a) {
    po::options_description d("registrar options");
    d.add_options()
        ("listen-iface", po::value(&a.listen_ifaces)->composing(),
         "IF: also take direct ADDR-REG-INFORMs from this link (joins ff02::1:2 on it; repeatable)")
        ("listen-address", po::value(&a.listen_addresses)->composing(),
         "ADDR: bind UDP 547 only on this unicast address of the host, the relays' --server (repeatable), and "
         "ff02::1:2 on each --listen-iface shared: a DHCPv6 server such as Kea runs on the same host (default [::])")
        ("link", po::value(&a.links)->composing(),
         "NAME=PREFIX[,PREFIX...]: a link and the prefixes appropriate to it (repeatable); relayed messages "
         "match it by the innermost link-address")
        ("link-interface", po::value(&a.link_ifaces)->composing(),
         "NAME=IF: direct messages arriving on IF are on link NAME")
        ("link-interface-id", po::value(&a.link_ifids)->composing(),
         "NAME=ID: relayed messages whose chain carries Interface-ID ID (text, or 0xHEX) are on link NAME")
        ("link-remote-id", po::value(&a.link_rids)->composing(),
         "NAME=ENTERPRISE:HEX: with --link-interface-id, the chain must carry this Remote-ID too")
        ("db", po::value(&a.db), "sqlite:PATH or postgresql://... (default sqlite:/var/lib/regrelay/registrar.db)")
        ("history-days", po::value(&a.history_days), "keep history rows this many days (default 400; 0: forever)")
        ("server-duid", po::value(&a.server_duid), "HEX: the Server Identifier (default: a DUID-UUID kept in the database)")
        ("no-log-registrations", "do not log one line per registration (RFC 9686 §4.2.1: logged unless configured not to)")
        ("rate-limit-source", po::value(&a.rate_limit_source),
         "RATE[/BURST]: ADDR-REG-INFORMs per second per registering address (default 10/50; 0 off)")
        ("rate-limit-relay", po::value(&a.rate_limit_relay),
         "RATE[/BURST]: relayed ADDR-REG-INFORMs per second per relay agent (default 10000/20000; 0 off)")
        ("rate-limit-link", po::value(&a.rate_limit_link),
         "RATE[/BURST]: ADDR-REG-INFORMs per second per link (default 10000/20000; 0 off)")
        ("source-table-size", po::value(&a.source_table_size),
         "entries of the per-address and of the per-relay rate table (default 16384 each; fixed memory)")
        ("user", po::value(&a.user), "started as root: run as USER with no capabilities (default regrelay, else nobody)")
        ("metrics-listen", po::value(&a.metrics_listen), "ADDR:PORT: serve Prometheus metrics at GET /metrics")
        ("log-level", po::value(&a.log_level), "trace, debug, info, warn, error or off (default info)")
        ("log-format", po::value(&a.log_format), "text (default) or json")
        ("config", po::value(&a.config), "read options from FILE (key = value lines, same keys)")
        ("dns-listen", po::value(&a.dns_listen)->composing(),
         "ADDR:PORT: serve the DNS view of the live registrations there, UDP and TCP (repeatable; docs/dns.md)");
    add_dns_options(d, a.dns);
    d.add_options()("help,h", "show this help");
    return d;
}

std::pair<std::string, std::string> split_eq(const std::string& opt, const std::string& v) {
    auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == v.size()) fail(opt, "'" + v + "': expected NAME=VALUE", v);
    return {v.substr(0, eq), v.substr(eq + 1)};
}

registrar::LinkConfig& link_named(std::vector<registrar::LinkConfig>& links, const std::string& opt,
                                  const std::string& name, const std::string& v) {
    for (auto& l : links)
        if (l.name == name) return l;
    fail(opt, "'" + v + "': no --link " + name, v);
}

bool daemon_options(int argc, char** argv, bool first, registrar::DaemonOptions& opt) {
    RegistrarArgs a;
    auto desc = registrar_options(a);
    po::variables_map vm;
    Origins origins;
    try {
        if (!parse_args(argc, argv, desc, vm, origins)) return false;
        if (first) setup_logging(a.log_level, a.log_format);
        else check_log_format(a.log_format);
        opt = {};
        for (const auto& n : a.listen_ifaces) {
            if (n.empty() || n.size() > 15 || n.find_first_of("/ \t") != std::string::npos)
                fail("listen-iface", "'" + n + "': not an interface name", n);
            if (std::find(opt.engine.interfaces.begin(), opt.engine.interfaces.end(), n) != opt.engine.interfaces.end())
                fail("listen-iface", n + ": given twice", n);
            opt.engine.interfaces.push_back(n);
        }
        for (const auto& v : a.listen_addresses) {
            auto ad = Ip6Addr::parse(v);
            if (!ad || !ad->is_routable_unicast())
                fail("listen-address", "'" + v + "': expected a global or ULA unicast IPv6 address of this host", v);
            if (std::find(opt.listen_addresses.begin(), opt.listen_addresses.end(), *ad) != opt.listen_addresses.end())
                fail("listen-address", v + ": given twice", v);
            opt.listen_addresses.push_back(*ad);
        }
        auto& links = opt.engine.links;
        for (const auto& v : a.links) {
            auto [name, rest] = split_eq("link", v);
            for (const auto& l : links)
                if (l.name == name) fail("link", "'" + v + "': link " + name + " given twice", v);
            registrar::LinkConfig l;
            l.name = name;
            size_t pos = 0;
            while (pos <= rest.size()) {
                size_t comma = rest.find(',', pos);
                std::string p = rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
                auto pr = registrar::Prefix::parse(p);
                if (!pr) fail("link", "'" + v + "': '" + p + "' is not an IPv6 prefix (ADDR/LEN, host bits zero)", v);
                l.prefixes.push_back(*pr);
                if (comma == std::string::npos) break;
                pos = comma + 1;
            }
            links.push_back(std::move(l));
        }
        for (const auto& v : a.link_ifaces) {
            auto [name, ifn] = split_eq("link-interface", v);
            if (std::find(opt.engine.interfaces.begin(), opt.engine.interfaces.end(), ifn) == opt.engine.interfaces.end())
                fail("link-interface", "'" + v + "': " + ifn + " is not a --listen-iface", v);
            link_named(links, "link-interface", name, v).interfaces.push_back(ifn);
        }
        for (const auto& v : a.link_ifids) {
            auto [name, id] = split_eq("link-interface-id", v);
            std::vector<uint8_t> bytes;
            if (id.rfind("0x", 0) == 0) {
                auto h = parse_hex(id.substr(2));
                if (!h || h->empty()) fail("link-interface-id", "'" + v + "': bad hex", v);
                bytes = std::move(*h);
            } else {
                bytes.assign(id.begin(), id.end());
            }
            link_named(links, "link-interface-id", name, v).interface_ids.push_back(std::move(bytes));
        }
        for (const auto& v : a.link_rids) {
            auto [name, rid] = split_eq("link-remote-id", v);
            auto colon = rid.find(':');
            registrar::RemoteIdMatch m;
            try {
                size_t used = 0;
                unsigned long e = std::stoul(rid.substr(0, colon), &used);
                if (colon == std::string::npos || used != colon || e > 0xffffffffUL) throw std::out_of_range("e");
                m.enterprise = uint32_t(e);
            } catch (const std::exception&) {
                fail("link-remote-id", "'" + v + "': expected NAME=ENTERPRISE:HEX", v);
            }
            auto h = parse_hex(rid.substr(colon + 1));
            if (!h || h->empty()) fail("link-remote-id", "'" + v + "': bad hex", v);
            m.id = std::move(*h);
            auto& l = link_named(links, "link-remote-id", name, v);
            if (l.remote_id) fail("link-remote-id", "'" + v + "': link " + name + " has one already", v);
            l.remote_id = std::move(m);
        }
        for (const auto& l : links)
            if (l.remote_id && l.interface_ids.empty())
                fail("link-remote-id", "link " + l.name + ": needs a --link-interface-id as well");
        if (!a.server_duid.empty()) {
            auto h = parse_hex(a.server_duid);
            if (!h || h->size() < 2 || h->size() > 130) fail("server-duid", "'" + a.server_duid + "': 2-130 hex bytes");
            opt.engine.server_duid = std::move(*h);
        }
        if (a.history_days < 0 || a.history_days > 100000) fail("history-days", std::to_string(a.history_days) + ": 0-100000");
        if (a.db.empty()) fail("db", "is empty");
        if (!a.metrics_listen.empty()) {
            std::string why;
            if (!obs::parse_listen(a.metrics_listen, why)) fail("metrics-listen", "'" + a.metrics_listen + "': " + why);
        }
        // Flood limits (docs/registrar.md, "Flood limits"); the daemon seeds the tables' hash.
        rate_option("rate-limit-source", a.rate_limit_source, opt.engine.limits.per_source);
        rate_option("rate-limit-relay", a.rate_limit_relay, opt.engine.limits.per_relay);
        rate_option("rate-limit-link", a.rate_limit_link, opt.engine.limits.per_link);
        if (a.source_table_size < 16 || a.source_table_size > (1u << 22))
            fail("source-table-size", std::to_string(a.source_table_size) + ": must be 16-4194304");
        opt.engine.limits.table_size = a.source_table_size;
        if (!a.dns_listen.empty()) {
            for (const auto& l : a.dns_listen) {
                sockaddr_storage ss;
                socklen_t len = 0;
                if (!dns::parse_listen(l, ss, len)) fail("dns-listen", "'" + l + "': expected [ADDR]:PORT", l);
            }
            // The reverse zones default to the links' prefixes that end at a nibble.
            if (a.dns.prefixes.empty())
                for (const auto& l : links)
                    for (const auto& p : l.prefixes)
                        if (p.len % 4 == 0 && std::find(a.dns.prefixes.begin(), a.dns.prefixes.end(), p.str()) ==
                                                  a.dns.prefixes.end())
                            a.dns.prefixes.push_back(p.str());
            if (a.dns.zone.empty() && a.dns.prefixes.empty())
                fail("dns-listen", "needs a --dns-zone or a reverse prefix (--dns-reverse-prefix, or a --link prefix)");
            DnsSettings ds = build_dns_settings(a.dns, uint32_t(std::time(nullptr)));
            opt.dns_listen = a.dns_listen;
            opt.dns = std::move(ds.view);
            opt.dns_responder = ds.responder;
            opt.dns_server = ds.server;
        }
        opt.db = a.db;
        opt.history_days = a.history_days;
        opt.log_registrations = vm.count("no-log-registrations") == 0;
        opt.user = a.user;
        opt.log_level = a.log_level;
        opt.log_format = a.log_format;
        opt.metrics_listen = a.metrics_listen;
        opt.config_path = a.config;
    } catch (UsageError& e) {
        e.msg = locate(e, origins);
        e.opt.clear();
        throw;
    }
    return true;
}

}  // namespace

int registrar_main(int argc, char** argv) {
    try {
        registrar::DaemonOptions opt;
        if (!daemon_options(argc, argv, true, opt)) return 0;
        if (!opt.config_path.empty())
            opt.reload = [argc, argv](registrar::DaemonOptions& out, std::string& err) {
                try {
                    return daemon_options(argc, argv, false, out);
                } catch (const UsageError& e) {
                    err = e.msg;
                    return false;
                }
            };
        return registrar::run_daemon(std::move(opt));
    } catch (const UsageError& e) {
        std::fprintf(stderr, "regrelay registrar: %s\n", e.msg.c_str());
        return 2;
    }
}

}  // namespace regrelay::cli
