// `regrelay trail FILE... --address ADDR [--at TIME] [--json]`: which MAC had this address (at
// that time)? Reads the registration trail written by --trail (obs/trail.h, docs/trail.md).
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "obs/log.h"
#include "obs/trail.h"

namespace po = boost::program_options;

namespace regrelay::cli {

namespace {

constexpr const char* kUsage =
    "usage: regrelay trail FILE [FILE ...] --address ADDR [--at TIME] [--json]\n\n"
    "Prints the registrations of ADDR recorded in the registration trail (--trail FILE of relay or\n"
    "snoop): time, MAC, DUID, interface, VLAN, lifetimes. With --at, only the ones valid at TIME\n"
    "(registered at t0 with valid lifetime v: valid from t0 to t0 + v; the latest registration of\n"
    "each client counts, a valid lifetime of 0 is a release). TIME is RFC 3339\n"
    "(2026-12-01T14:03:00Z, 2026-12-01T16:03:00+02:00) or \"YYYY-MM-DD HH:MM[:SS]\" in UTC. Several\n"
    "FILEs (rotated ones: trail.json.1 trail.json) are read together; '-' reads standard input\n"
    "(zcat trail.json.2.gz | regrelay trail - ...).\n"
    "Exit status: 0 registrations found, 1 none, 2 bad usage or a file that cannot be read.\n\n"
    "Options";

std::string ms_text(int64_t ms) {
    int64_t sec = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        --sec;
    }
    return obs::rfc3339_ms(sec, uint32_t(rem) * 1000000u);
}

std::string until_text(const obs::TrailEntry& e) {
    const int64_t u = obs::valid_until_ms(e);
    return u == INT64_MAX ? std::string("infinite") : ms_text(u);
}

void print_text(const obs::TrailEntry& e) {
    std::string l = e.time;
    l += "  mac " + (e.mac.empty() ? std::string("-") : e.mac);
    l += "  duid " + (e.duid.empty() ? std::string("-") : e.duid);
    l += "  interface " + (e.port.empty() ? std::string("-") : e.port);
    if (e.vlan) l += "  vlan " + std::to_string(*e.vlan);
    if (!e.source.empty()) l += "  source " + e.source;
    l += "  preferred " + (e.preferred ? std::to_string(*e.preferred) : std::string("-"));
    l += "  valid " + (e.valid ? std::to_string(*e.valid) : std::string("-"));
    if (e.valid && *e.valid == 0) l += " (release)";
    else if (e.valid) l += " (until " + until_text(e) + ")";
    l += "  xid " + (e.xid.empty() ? std::string("-") : e.xid);
    if (e.replied) l += "  replied";
    std::printf("%s\n", l.c_str());
}

void print_json(const obs::TrailEntry& e, const std::string& address) {
    std::string l = "{\"@timestamp\":";
    obs::append_json_string(l, e.time);
    auto str = [&](const char* k, const std::string& v) {
        if (v.empty()) return;
        l += ",\"";
        l += k;
        l += "\":";
        obs::append_json_string(l, v);
    };
    auto num = [&](const char* k, const std::optional<int64_t>& v) {
        if (!v) return;
        l += ",\"";
        l += k;
        l += "\":" + std::to_string(*v);
    };
    str("client.ip", address);
    str("client.mac", e.mac);
    str("dhcp6.duid", e.duid);
    str("observer.ingress.interface.name", e.port);
    num("observer.ingress.vlan.id", e.vlan);
    str("source.ip", e.source);
    str("dhcp6.xid", e.xid);
    num("dhcp6.preferred_lifetime", e.preferred);
    num("dhcp6.valid_lifetime", e.valid);
    if (e.valid) str("valid_until", until_text(e));
    l += std::string(",\"replied\":") + (e.replied ? "true" : "false") + "}";
    std::printf("%s\n", l.c_str());
}

}  // namespace

int trail_main(int argc, char** argv) {
    std::vector<std::string> files;
    std::string address_text, at_text;
    po::options_description desc(kUsage);
    desc.add_options()
        ("address", po::value(&address_text), "ADDR: the registered IPv6 address to look for (required)")
        ("at", po::value(&at_text), "TIME: only the registrations valid at TIME (RFC 3339, or \"YYYY-MM-DD HH:MM[:SS]\" UTC)")
        ("json", "one JSON object per registration (the trail's field names, plus valid_until and replied)")
        ("help,h", "show this help");
    po::options_description all;
    all.add(desc).add_options()("file", po::value(&files)->composing());
    po::positional_options_description pos;
    pos.add("file", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "regrelay trail: %s\n", e.what());
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (files.empty()) {
        std::fprintf(stderr, "regrelay trail: FILE is required: the --trail file to read ('-' for standard input)\n");
        return 2;
    }
    if (address_text.empty()) {
        std::fprintf(stderr, "regrelay trail: --address is required: the IPv6 address to look for\n");
        return 2;
    }
    auto address = Ip6Addr::parse(address_text);
    if (!address) {
        std::fprintf(stderr, "regrelay trail: --address '%s': not an IPv6 address\n", address_text.c_str());
        return 2;
    }
    std::optional<int64_t> at;
    if (!at_text.empty()) {
        at = obs::parse_time(at_text);
        if (!at) {
            std::fprintf(stderr,
                         "regrelay trail: --at '%s': expected RFC 3339 (2026-12-01T14:03:00Z) or "
                         "\"YYYY-MM-DD HH:MM[:SS]\" (UTC)\n",
                         at_text.c_str());
            return 2;
        }
    }
    std::vector<obs::TrailEntry> records;
    obs::TrailAnswer stats;
    for (const auto& f : files) {
        if (f == "-") {
            obs::scan_trail(std::cin, *address, records, stats);
            continue;
        }
        errno = 0;
        std::ifstream in(f);
        if (!in) {
            std::fprintf(stderr, "regrelay trail: %s: %s\n", f.c_str(), std::strerror(errno ? errno : ENOENT));
            return 2;
        }
        obs::scan_trail(in, *address, records, stats);
        if (in.bad()) {
            std::fprintf(stderr, "regrelay trail: %s: read error\n", f.c_str());
            return 2;
        }
    }
    obs::TrailAnswer ans = obs::answer(std::move(records), at, stats);
    if (ans.skipped)
        std::fprintf(stderr, "regrelay trail: %llu of %llu lines are not trail records (skipped)\n",
                     (unsigned long long)ans.skipped, (unsigned long long)ans.lines);
    const bool json = vm.count("json") > 0;
    const std::string addr = address->str();
    std::vector<const obs::TrailEntry*> shown;
    if (at)
        for (size_t i : ans.valid_at) shown.push_back(&ans.registrations[i]);
    else
        for (const auto& e : ans.registrations) shown.push_back(&e);
    if (!json) {
        if (shown.empty()) {
            if (at)
                std::printf("no registration of %s valid at %s (%zu registrations in all)\n", addr.c_str(),
                            ms_text(*at).c_str(), ans.registrations.size());
            else
                std::printf("no registration of %s\n", addr.c_str());
        } else if (at) {
            std::printf("registrations of %s valid at %s (times UTC):\n", addr.c_str(), ms_text(*at).c_str());
        } else {
            std::printf("registrations of %s (times UTC):\n", addr.c_str());
        }
    }
    for (const auto* e : shown) json ? print_json(*e, addr) : print_text(*e);
    return shown.empty() ? 1 : 0;
}

}  // namespace regrelay::cli
