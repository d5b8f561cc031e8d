// `regrelay who-had ADDR [--at TIME]` and `regrelay history --mac|--duid|--prefix|--address ...`:
// the registrar's database, read only (registrar/store.h, docs/registrar.md).
#include <boost/program_options.hpp>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "obs/log.h"
#include "obs/trail.h"
#include "registrar/store.h"

namespace po = boost::program_options;

namespace regrelay::cli {

namespace {

using registrar::HistoryRow;

std::string time_text(int64_t t) { return t == registrar::kNever ? "never" : obs::rfc3339_ms(t, 0); }

int64_t parse_time_arg(const std::string& opt, const std::string& text) {
    auto ms = obs::parse_time(text);
    if (!ms) fail(opt, "'" + text + "': expected RFC 3339 (2026-12-01T14:03:00Z) or \"YYYY-MM-DD HH:MM[:SS]\" (UTC)");
    return *ms >= 0 ? *ms / 1000 : -((-*ms + 999) / 1000);
}

std::string remote_id_text(const std::vector<uint8_t>& r) { return r.empty() ? "-" : registrar::remote_id_text(r); }

std::string dash(const std::string& s) { return s.empty() ? "-" : s; }

void json_fields(std::string& j, const HistoryRow& r) {
    const registrar::Binding& b = r.b;
    auto str = [&](const char* k, const std::string& v) {
        j += ",\"";
        j += k;
        j += "\":";
        if (v.empty()) j += "null";
        else obs::append_json_string(j, v);
    };
    auto num = [&](const char* k, int64_t v) {
        j += ",\"";
        j += k;
        j += "\":" + std::to_string(v);
    };
    str("address", b.address.str());
    str("event", std::string(registrar::event_name(r.kind)));
    str("time", time_text(r.time));
    str("duid", registrar::duid_text(b.duid));
    str("mac", b.mac ? b.mac->str() : "");
    str("interface_id", b.interface_id.empty() ? "" : registrar::option_text(b.interface_id));
    str("remote_id", b.remote_id.empty() ? "" : remote_id_text(b.remote_id));
    str("link_address", b.link_address.is_unspecified() ? "" : b.link_address.str());
    str("link", b.link);
    str("fqdn", b.fqdn);
    num("preferred", b.preferred);
    num("valid", b.valid);
    num("xid", b.xid);
    str("first_seen", time_text(b.first_seen));
    str("expires", b.expires == registrar::kNever ? "" : time_text(b.expires));
    str("previous_duid", r.previous_duid.empty() ? "" : registrar::duid_text(r.previous_duid));
    j += ",\"relay_chain\":" + (b.relay_chain.empty() ? std::string("[]") : b.relay_chain);
}

std::string row_text(const HistoryRow& r) {
    const registrar::Binding& b = r.b;
    std::string s = time_text(r.time) + "  " + std::string(registrar::event_name(r.kind)) + "  address " +
                    b.address.str() + "  duid " + registrar::duid_text(b.duid) + "  mac " +
                    (b.mac ? b.mac->str() : "-") + "  interface-id " +
                    (b.interface_id.empty() ? "-" : registrar::option_text(b.interface_id)) + "  remote-id " +
                    remote_id_text(b.remote_id) + "  link-address " +
                    (b.link_address.is_unspecified() ? "-" : b.link_address.str()) + "  link " + dash(b.link) +
                    "  fqdn " + dash(b.fqdn) + "  preferred " + std::to_string(b.preferred) + "  valid " +
                    std::to_string(b.valid);
    if (!r.previous_duid.empty()) s += "  previous-duid " + registrar::duid_text(r.previous_duid);
    return s;
}

std::unique_ptr<registrar::Store> open_db(const std::string& db, const char* cmd) {
    std::string err;
    auto s = registrar::open_store(db, registrar::OpenOptions{true}, err);
    if (!s) std::fprintf(stderr, "regrelay %s: --db %s\n", cmd, err.c_str());
    return s;
}

}  // namespace

int who_had_main(int argc, char** argv) {
    std::string address, at_text, db = std::string(registrar::kDefaultDb);
    po::options_description desc(
        "usage: regrelay who-had ADDR [--at TIME] [--json] [--db URL]\n\n"
        "Who held ADDR (now, or at TIME): DUID, MAC (option 79), Interface-ID, Remote-ID, link-address, name\n"
        "(option 39), first and last seen, lifetimes, from the registrar's history. TIME is RFC 3339 or\n"
        "\"YYYY-MM-DD HH:MM[:SS]\" UTC.\n"
        "Exit status: 0 bound at that time, 1 not bound (the last holder is shown when there was one),\n"
        "2 bad usage or a database that cannot be read.\n\nOptions");
    desc.add_options()("at", po::value(&at_text), "TIME (default now)")("json", "one JSON object")(
        "db", po::value(&db), "sqlite:PATH or postgresql://... (default sqlite:/var/lib/regrelay/registrar.db)")("help,h", "show this help");
    po::options_description hidden;
    hidden.add_options()("address", po::value(&address));
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("address", 1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << desc << "\n";
            return 0;
        }
        if (address.empty()) fail("address", "is required: regrelay who-had ADDR");
        auto a = Ip6Addr::parse(address);
        if (!a) fail("address", "'" + address + "': not an IPv6 address");
        int64_t at = at_text.empty() ? int64_t(std::time(nullptr)) : parse_time_arg("at", at_text);
        auto s = open_db(db, "who-had");
        if (!s) return 2;
        std::optional<registrar::WhoHad> w;
        std::string err;
        if (!registrar::lookup_who_had(*s, *a, at, w, err)) {
            std::fprintf(stderr, "regrelay who-had: %s\n", err.c_str());
            return 2;
        }
        const bool json = vm.count("json") > 0;
        if (!w) {
            if (json) std::printf("{\"address\":\"%s\",\"bound\":false,\"at\":\"%s\"}\n", a->str().c_str(), time_text(at).c_str());
            else std::printf("%s: no registration at or before %s\n", a->str().c_str(), time_text(at).c_str());
            return 1;
        }
        const HistoryRow& r = w->row;
        if (json) {
            std::string j = "{\"bound\":";
            j += w->bound ? "true" : "false";
            j += ",\"at\":\"" + time_text(at) + "\"";
            json_fields(j, r);
            j += ",\"last_seen\":\"" + time_text(r.time) + "\"";
            j += ",\"until\":";
            if (w->until == registrar::kNever) j += "null";
            else j += "\"" + time_text(w->until) + "\"";
            j += "}";
            std::printf("%s\n", j.c_str());
        } else {
            const registrar::Binding& b = r.b;
            std::string l = a->str() + (w->bound ? " bound at " : " not bound at ") + time_text(at) +
                            (w->bound ? "" : "; last held") + "\n  duid          " + registrar::duid_text(b.duid) +
                            "\n  mac           " + (b.mac ? b.mac->str() : "-") + "\n  interface-id  " +
                            (b.interface_id.empty() ? "-" : registrar::option_text(b.interface_id)) +
                            "\n  remote-id     " + remote_id_text(b.remote_id) + "\n  link-address  " +
                            (b.link_address.is_unspecified() ? "-" : b.link_address.str()) + "\n  link          " +
                            dash(b.link) + "\n  fqdn          " + dash(b.fqdn) + "\n  first seen    " +
                            time_text(b.first_seen) + "\n  last event    " +
                            std::string(registrar::event_name(r.kind)) + " " + time_text(r.time) +
                            "\n  lifetime      valid " + std::to_string(b.valid) + " preferred " +
                            std::to_string(b.preferred) + "\n  " + (w->bound ? "until         " : "ended         ") +
                            time_text(w->until) + "\n";
            std::fputs(l.c_str(), stdout);
        }
        return w->bound ? 0 : 1;
    } catch (const po::error& e) {
        std::fprintf(stderr, "regrelay who-had: %s\n", e.what());
        return 2;
    } catch (const UsageError& e) {
        std::fprintf(stderr, "regrelay who-had: %s\n", e.msg.c_str());
        return 2;
    }
}

int history_main(int argc, char** argv) {
    std::string mac, duid, prefix, address, since, until, db = std::string(registrar::kDefaultDb);
    size_t limit = 100000;
    po::options_description desc(
        "usage: regrelay history --mac MAC | --duid HEX | --prefix PREFIX | --address ADDR\n"
        "                        [--since TIME] [--until TIME] [--limit N] [--json] [--db URL]\n\n"
        "Every registration event (registered, refreshed, moved, released, expired) of a MAC, a DUID, the\n"
        "addresses of a prefix or one address, oldest first. TIME is RFC 3339 or \"YYYY-MM-DD HH:MM[:SS]\" UTC.\n"
        "Exit status: 0 rows found, 1 none, 2 bad usage or a database that cannot be read.\n\nOptions");
    desc.add_options()("mac", po::value(&mac), "MAC (option 79 of the innermost relay level)")(
        "duid", po::value(&duid), "client DUID, hex")("prefix", po::value(&prefix), "ADDR/LEN")(
        "address", po::value(&address), "one address")("since", po::value(&since), "TIME")(
        "until", po::value(&until), "TIME")("limit", po::value(&limit), "at most N rows (default 100000)")(
        "json", "one JSON object per line")("db", po::value(&db), "sqlite:PATH or postgresql://... (default sqlite:/var/lib/regrelay/registrar.db)")(
        "help,h", "show this help");
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << desc << "\n";
            return 0;
        }
        registrar::HistoryQuery q;
        int given = 0;
        if (!mac.empty()) {
            auto m = MacAddr::parse(mac);
            if (!m) fail("mac", "'" + mac + "': not a MAC address");
            q.mac = *m;
            ++given;
        }
        if (!duid.empty()) {
            auto d = parse_hex(duid);
            if (!d || d->empty()) fail("duid", "'" + duid + "': expected hex bytes");
            q.duid = std::move(*d);
            ++given;
        }
        if (!prefix.empty()) {
            auto p = registrar::Prefix::parse(prefix);
            if (!p) fail("prefix", "'" + prefix + "': expected ADDR/LEN with the host bits zero");
            q.prefix = *p;
            ++given;
        }
        if (!address.empty()) {
            auto a = Ip6Addr::parse(address);
            if (!a) fail("address", "'" + address + "': not an IPv6 address");
            q.address = *a;
            ++given;
        }
        if (given == 0) fail("mac", "or --duid, --prefix, --address is required");
        if (!since.empty()) q.since = parse_time_arg("since", since);
        if (!until.empty()) q.until = parse_time_arg("until", until);
        if (limit == 0) fail("limit", "must be at least 1");
        q.limit = limit;
        auto s = open_db(db, "history");
        if (!s) return 2;
        std::vector<HistoryRow> rows;
        std::string err;
        if (!s->history(q, rows, err)) {
            std::fprintf(stderr, "regrelay history: %s\n", err.c_str());
            return 2;
        }
        const bool json = vm.count("json") > 0;
        std::string out;
        for (const auto& r : rows) {
            if (json) {
                std::string j = "{\"id\":" + std::to_string(r.id);
                json_fields(j, r);
                out += j + "}\n";
            } else {
                out += row_text(r) + "\n";
            }
        }
        std::fputs(out.c_str(), stdout);
        return rows.empty() ? 1 : 0;
    } catch (const po::error& e) {
        std::fprintf(stderr, "regrelay history: %s\n", e.what());
        return 2;
    } catch (const UsageError& e) {
        std::fprintf(stderr, "regrelay history: %s\n", e.msg.c_str());
        return 2;
    }
}

}  // namespace regrelay::cli
