// The options of the DNS view (dns/, docs/dns.md), shared by `regrelay dns-view` and `regrelay
// registrar --dns-listen`: one set of option definitions and one parser, so both commands read
// the same zone, reverse-prefix, BNAME, TTL, EDNS, TCP and rate-limit settings the same way.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "dns/responder.h"
#include "dns/server.h"
#include "dns/zone.h"

namespace regrelay::cli {

// The option values as given. `prefix` names the options: "" for dns-view (--zone, --ttl,
// --reverse-prefix, --host ...), "dns-" for the registrar (--dns-zone, --dns-ttl,
// --dns-reverse-prefix, --dns-host ...). The BNAME options are --bname, --bname-zone and
// --bname-type in both.
struct DnsArgs {
    explicit DnsArgs(std::string option_prefix = {}) : prefix(std::move(option_prefix)) {}
    std::string prefix;
    std::string zone, nameserver, hostmaster, rate_text = "2000/4000";
    std::vector<std::string> prefixes, extra_zones, bnames, hosts;
    unsigned bname_type = dns::kDefaultBnameType, ttl = 300, negative_ttl = 60, payload = 1232, max_tcp = 64;
};

// What the options give: the zone configuration and the responder's and server's settings.
struct DnsSettings {
    dns::DnsConfig view;
    dns::ResponderOptions responder;
    dns::ServerOptions server;
};

// Adds the DNS view's options to `d`, bound to `a` (a.prefix set by the caller first).
void add_dns_options(boost::program_options::options_description& d, DnsArgs& a);

// Checks the values and builds the settings, then loads them into a ZoneView once (every §3.3
// zone rule and name error is found here, not at run time). Throws UsageError naming the option
// ("--bname-type 1: outside ...") or, for an error of the zones as a whole, "configuration: ...".
// `serial` is the SOA serial the view starts with.
DnsSettings build_dns_settings(const DnsArgs& a, uint32_t serial);

}  // namespace regrelay::cli
