// `regrelay dns-view`: serves the registrar's DNS view (dns/, docs/dns.md) from a configuration
// of static AAAA/PTR entries and BNAMEs, over UDP and TCP on --listen. The registrar serves the
// same zones from its live table (--dns-listen); this command is for trying a configuration, for
// static names, and for the tests (tests/dns_test.py queries it with dig and kdig).
#include <arpa/inet.h>
#include <signal.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "dns/responder.h"
#include "dns/server.h"
#include "dns/zone.h"

namespace po = boost::program_options;

namespace regrelay::cli {

namespace {

constexpr const char* kUsage =
    "usage: regrelay dns-view --listen ADDR:PORT [--config FILE] [OPTIONS]\n\n"
    "Serves, authoritatively over UDP and TCP, a forward zone (AAAA of the --host entries), the\n"
    "ip6.arpa zones of the --reverse-prefix prefixes (their PTR) and BNAME records\n"
    "(draft-yao-dnsext-bname-06: a name and its whole subtree redirected), as the registrar's\n"
    "--dns-listen does for live registrations. BNAME has no IANA type code: --bname-type picks one\n"
    "of the private-use range 65280-65534 (default 65280). --check loads the configuration and\n"
    "exits (0 valid, 2 with the error). File lines of --config are \"key = value\" with the long\n"
    "option names. Stops on SIGTERM or SIGINT, printing its counters.\n\n"
    "Options";

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

}  // namespace

int dns_view_main(int argc, char** argv) {
    std::string listen, zone, nameserver, hostmaster, rate_text = "2000/4000", log_level = "info";
    std::vector<std::string> prefixes, extra_zones, bnames, hosts;
    unsigned bname_type = dns::kDefaultBnameType, ttl = 300, negative_ttl = 60, payload = 1232, max_tcp = 64;
    po::options_description desc(kUsage);
    desc.add_options()
        ("listen", po::value(&listen), "ADDR:PORT: where to serve ([::1]:5353, [2001:db8::53]:53) (required unless --check)")
        ("config", po::value<std::string>(), "FILE: read these options from FILE (key = value lines)")
        ("zone", po::value(&zone), "NAME: the forward zone (AAAA of the --host names, relative names go under it)")
        ("reverse-prefix", po::value(&prefixes)->composing(), "PREFIX: serve the ip6.arpa zone of PREFIX (length a multiple of 4); repeatable")
        ("bname-zone", po::value(&extra_zones)->composing(), "NAME: a further zone, holding BNAMEs only (e.g. the parent of an old prefix's reverse zone); repeatable")
        ("bname", po::value(&bnames)->composing(), "\"OWNER TARGET [TTL]\": a BNAME record (OWNER inside a zone of ours, not an apex); repeatable")
        ("host", po::value(&hosts)->composing(), "\"NAME ADDR\": a static AAAA (NAME relative to --zone, or absolute) and PTR; repeatable")
        ("bname-type", po::value(&bname_type), "N: the RR type code of BNAME, 65280-65534 (default 65280)")
        ("ttl", po::value(&ttl), "SECONDS: TTL of AAAA, PTR, NS, SOA (default 300); a BNAME's own TTL is its third field")
        ("negative-ttl", po::value(&negative_ttl), "SECONDS: SOA MINIMUM, negative answers' TTL (default 60)")
        ("nameserver", po::value(&nameserver), "NAME: NS and SOA MNAME of every zone (default ns.<zone>)")
        ("hostmaster", po::value(&hostmaster), "NAME: SOA RNAME (default hostmaster.<zone>)")
        ("edns-payload", po::value(&payload), "OCTETS: EDNS UDP payload offered and honoured at most (512-65535, default 1232)")
        ("max-tcp", po::value(&max_tcp), "N: open TCP connections at most (default 64)")
        ("rate-limit", po::value(&rate_text), "RATE[/BURST]: UDP queries per second per source /64 (0: off; default 2000/4000)")
        ("check", "load the configuration, report the first error, exit")
        ("log-level", po::value(&log_level), "trace, debug, info, warn, error (default info)")
        ("help,h", "show this help");
    po::variables_map vm;
    Origins origins;
    try {
        if (!parse_args(argc, argv, desc, vm, origins)) return 0;
        setup_logging(log_level);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "regrelay dns-view: %s\n", locate(e, origins).c_str());
        return 2;
    }
    auto bad = [&](const std::string& opt, const std::string& why, const std::string& value = {}) {
        std::fprintf(stderr, "regrelay dns-view: %s\n", locate(UsageError("--" + opt + " " + why, opt, value), origins).c_str());
        return 2;
    };
    dns::DnsConfig cfg;
    cfg.forward_zone = zone;
    for (const auto& p : prefixes) {
        auto pp = dns::parse_prefix(p);
        if (!pp) return bad("reverse-prefix", "'" + p + "': not an IPv6 prefix", p);
        cfg.reverse_prefixes.push_back(*pp);
    }
    cfg.extra_zones = extra_zones;
    if (bname_type < dns::kBnameTypeMin || bname_type > dns::kBnameTypeMax)
        return bad("bname-type", std::to_string(bname_type) + ": outside the private-use range 65280-65534");
    cfg.bname_type = uint16_t(bname_type);
    cfg.ttl = ttl;
    cfg.negative_ttl = negative_ttl;
    cfg.nameserver = nameserver;
    cfg.hostmaster = hostmaster;
    cfg.serial = uint32_t(time(nullptr));
    for (const auto& b : bnames) {
        std::string err;
        auto r = dns::parse_bname(b, ttl, err);
        if (!r) return bad("bname", err, b);
        cfg.bnames.push_back(*r);
    }
    for (const auto& h : hosts) {
        std::istringstream in(h);
        std::string name, addr, extra;
        in >> name >> addr >> extra;
        dns::StaticHost sh;
        if (name.empty() || addr.empty() || !extra.empty() || inet_pton(AF_INET6, addr.c_str(), &sh.addr) != 1)
            return bad("host", "'" + h + "': expected NAME IPV6-ADDRESS", h);
        sh.name = name;
        cfg.hosts.push_back(sh);
    }
    if (payload < 512 || payload > 65535) return bad("edns-payload", std::to_string(payload) + ": not in 512-65535");
    auto rate = limits::parse_rate(rate_text);
    if (!rate) return bad("rate-limit", "'" + rate_text + "': expected RATE or RATE/BURST");
    dns::ZoneView view;
    std::string err;
    if (!view.load(cfg, err)) {
        std::fprintf(stderr, "regrelay dns-view: configuration: %s\n", err.c_str());
        return 2;
    }
    if (vm.count("check")) {
        std::printf("configuration ok: %zu zones, %zu bnames, %zu hosts\n", view.zones().size(), cfg.bnames.size(),
                    cfg.hosts.size());
        return 0;
    }
    if (listen.empty()) return bad("listen", "is required: ADDR:PORT to serve on");
    dns::ResponderOptions ropts;
    ropts.udp_payload = uint16_t(payload);
    dns::Responder responder(view, ropts);
    dns::ServerOptions sopts;
    sopts.max_tcp = max_tcp;
    sopts.per_source = *rate;
    dns::DnsServer server(responder, sopts);
    if (!server.open(listen, err)) {
        std::fprintf(stderr, "regrelay dns-view: --listen %s\n", err.c_str());
        return 1;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    std::fprintf(stderr, "regrelay dns-view: serving %zu zones on %s (udp+tcp port %u), BNAME type %u\n",
                 view.zones().size(), listen.c_str(), unsigned(server.port()), unsigned(view.bname_type()));
    server.run(g_stop);
    const auto& c = server.counters();
    const auto& r = responder.counters();
    std::fprintf(stderr,
                 "regrelay dns-view: udp %llu queries %llu responses, tcp %llu queries %llu connections "
                 "(%llu refused full), %llu rate-limited, %llu unanswered; nxdomain %llu nodata %llu "
                 "refused %llu formerr %llu servfail %llu yxdomain %llu truncated %llu bname %llu\n",
                 (unsigned long long)c.udp_queries, (unsigned long long)c.udp_responses,
                 (unsigned long long)c.tcp_queries, (unsigned long long)c.tcp_accepted,
                 (unsigned long long)c.tcp_refused_full, (unsigned long long)c.rate_limited,
                 (unsigned long long)c.no_response, (unsigned long long)r.nxdomain, (unsigned long long)r.nodata,
                 (unsigned long long)r.refused, (unsigned long long)r.formerr, (unsigned long long)r.servfail,
                 (unsigned long long)r.yxdomain, (unsigned long long)r.truncated,
                 (unsigned long long)r.bname_substitutions);
    return 0;
}

}  // namespace regrelay::cli
