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
#include "cli/dns_options.h"
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

void add_dns_options(po::options_description& d, DnsArgs& a) {
    // The names, held while add_options() copies them.
    const std::string p = a.prefix;
    const std::vector<std::string> n = {p + "zone", p + "reverse-prefix", p + "host", p + "ttl", p + "negative-ttl",
                                        p + "nameserver", p + "hostmaster", p + "edns-payload", p + "max-tcp",
                                        p + "rate-limit"};
    const std::string rev_default =
        p.empty() ? "" : " (default: every --link prefix whose length is a multiple of 4)";
    const std::string rev_help = "PREFIX: serve the ip6.arpa zone of PREFIX (length a multiple of 4); repeatable" + rev_default;
    const std::string host_help = "\"NAME ADDR\": a static AAAA (NAME relative to --" + n[0] + ", or absolute) and PTR; repeatable";
    d.add_options()
        (n[0].c_str(), po::value(&a.zone), "NAME: the forward zone (AAAA of the named hosts; relative names go under it)")
        (n[1].c_str(), po::value(&a.prefixes)->composing(), rev_help.c_str())
        ("bname-zone", po::value(&a.extra_zones)->composing(), "NAME: a further zone, holding BNAMEs only (e.g. the parent of an old prefix's reverse zone); repeatable")
        ("bname", po::value(&a.bnames)->composing(), "\"OWNER TARGET [TTL]\": a BNAME record (OWNER inside a zone of ours, not an apex); repeatable")
        (n[2].c_str(), po::value(&a.hosts)->composing(), host_help.c_str())
        ("bname-type", po::value(&a.bname_type), "N: the RR type code of BNAME, 65280-65534 (default 65280)")
        (n[3].c_str(), po::value(&a.ttl), "SECONDS: TTL of AAAA, PTR, NS, SOA (default 300); a BNAME's own TTL is its third field")
        (n[4].c_str(), po::value(&a.negative_ttl), "SECONDS: SOA MINIMUM, negative answers' TTL (default 60)")
        (n[5].c_str(), po::value(&a.nameserver), "NAME: NS and SOA MNAME of every zone (default ns.<zone>)")
        (n[6].c_str(), po::value(&a.hostmaster), "NAME: SOA RNAME (default hostmaster.<zone>)")
        (n[7].c_str(), po::value(&a.payload), "OCTETS: EDNS UDP payload offered and honoured at most (512-65535, default 1232)")
        (n[8].c_str(), po::value(&a.max_tcp), "N: open TCP connections at most (default 64)")
        (n[9].c_str(), po::value(&a.rate_text), "RATE[/BURST]: UDP queries per second per source /64 (0: off; default 2000/4000)");
}

DnsSettings build_dns_settings(const DnsArgs& a, uint32_t serial) {
    const std::string& p = a.prefix;
    DnsSettings s;
    dns::DnsConfig& cfg = s.view;
    cfg.forward_zone = a.zone;
    for (const auto& text : a.prefixes) {
        auto pp = dns::parse_prefix(text);
        if (!pp) fail(p + "reverse-prefix", "'" + text + "': not an IPv6 prefix", text);
        cfg.reverse_prefixes.push_back(*pp);
    }
    cfg.extra_zones = a.extra_zones;
    if (a.bname_type < dns::kBnameTypeMin || a.bname_type > dns::kBnameTypeMax)
        fail("bname-type", std::to_string(a.bname_type) + ": outside the private-use range 65280-65534");
    cfg.bname_type = uint16_t(a.bname_type);
    cfg.ttl = a.ttl;
    cfg.negative_ttl = a.negative_ttl;
    cfg.nameserver = a.nameserver;
    cfg.hostmaster = a.hostmaster;
    cfg.serial = serial;
    for (const auto& b : a.bnames) {
        std::string err;
        auto r = dns::parse_bname(b, a.ttl, err);
        if (!r) fail("bname", err, b);
        cfg.bnames.push_back(*r);
    }
    for (const auto& h : a.hosts) {
        std::istringstream in(h);
        std::string name, addr, extra;
        in >> name >> addr >> extra;
        dns::StaticHost sh;
        if (name.empty() || addr.empty() || !extra.empty() || inet_pton(AF_INET6, addr.c_str(), &sh.addr) != 1)
            fail(p + "host", "'" + h + "': expected NAME IPV6-ADDRESS", h);
        sh.name = name;
        cfg.hosts.push_back(sh);
    }
    if (a.payload < 512 || a.payload > 65535) fail(p + "edns-payload", std::to_string(a.payload) + ": not in 512-65535");
    s.responder.udp_payload = uint16_t(a.payload);
    auto rate = limits::parse_rate(a.rate_text);
    if (!rate) fail(p + "rate-limit", "'" + a.rate_text + "': expected RATE or RATE/BURST");
    s.server.max_tcp = a.max_tcp;
    s.server.per_source = *rate;
    dns::ZoneView view;
    std::string err;
    if (!view.load(cfg, err)) throw UsageError((p.empty() ? "configuration: " : "DNS view: ") + err);
    return s;
}

int dns_view_main(int argc, char** argv) {
    std::string listen, log_level = "info";
    DnsArgs args;
    po::options_description desc(kUsage);
    desc.add_options()
        ("listen", po::value(&listen), "ADDR:PORT: where to serve ([::1]:5353, [2001:db8::53]:53) (required unless --check)")
        ("config", po::value<std::string>(), "FILE: read these options from FILE (key = value lines)");
    add_dns_options(desc, args);
    desc.add_options()
        ("check", "load the configuration, report the first error, exit")
        ("log-level", po::value(&log_level), "trace, debug, info, warn, error (default info)")
        ("help,h", "show this help");
    po::variables_map vm;
    Origins origins;
    DnsSettings settings;
    try {
        if (!parse_args(argc, argv, desc, vm, origins)) return 0;
        setup_logging(log_level);
        settings = build_dns_settings(args, uint32_t(time(nullptr)));
    } catch (const UsageError& e) {
        std::fprintf(stderr, "regrelay dns-view: %s\n", locate(e, origins).c_str());
        return 2;
    }
    const dns::DnsConfig& cfg = settings.view;
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
    if (listen.empty()) {
        std::fprintf(stderr, "regrelay dns-view: --listen is required: ADDR:PORT to serve on\n");
        return 2;
    }
    dns::Responder responder(view, settings.responder);
    dns::DnsServer server(responder, settings.server);
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
