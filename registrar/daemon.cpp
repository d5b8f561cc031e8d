#include "registrar/daemon.h"

#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <random>

#include "capture/control.h"
#include "capture/netif.h"
#include "capture/notify.h"
#include "capture/privileges.h"
#include "capture/udp_socket.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "registrar/store.h"

namespace regrelay::registrar {

namespace {

constexpr uint64_t kMembershipCheckNs = 2'000'000'000;
constexpr int64_t kPruneIntervalS = 3600;
// Discard log lines: at most this many per second (burst kDiscardLogBurst); the rest are counted
// and summed up in one line every kDiscardSummaryS.
constexpr double kDiscardLogRate = 50;
constexpr double kDiscardLogBurst = 200;
constexpr int64_t kDiscardSummaryS = 10;

int64_t wall_now() { return int64_t(std::time(nullptr)); }

std::vector<obs::Field> event_fields(const Event& e) {
    const Binding& b = e.b;
    std::vector<obs::Field> f;
    f.emplace_back("kind", std::string(event_name(e.kind)));
    f.emplace_back("address", b.address.str());
    f.emplace_back("duid", duid_text(b.duid));
    f.emplace_back("mac", b.mac ? b.mac->str() : std::string());
    f.emplace_back("interface_id", b.interface_id.empty() ? std::string() : option_text(b.interface_id));
    f.emplace_back("remote_id", b.remote_id.empty() ? std::string() : remote_id_text(b.remote_id));
    f.emplace_back("link_address", b.link_address.is_unspecified() ? std::string() : b.link_address.str());
    f.emplace_back("link", b.link);
    f.emplace_back("preferred", int64_t(b.preferred));
    f.emplace_back("valid", int64_t(b.valid));
    f.emplace_back("xid", int64_t(b.xid));
    if (!e.previous_duid.empty()) f.emplace_back("previous_duid", duid_text(e.previous_duid));
    f.emplace_back("relay_chain", b.relay_chain);
    return f;
}

class Daemon {
public:
    explicit Daemon(DaemonOptions opt) : opt_(std::move(opt)) {}
    int run();

private:
    bool server_duid(std::string& err);
    void check_membership();
    void process_batch();
    void commit_and_send();
    void send_pending();
    void log_discard(const Input& in, const Actions& a);
    void reload();
    void prune();
    void publish_metrics();

    DaemonOptions opt_;
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<Store> store_;
    capture::UdpSocket sock_;  // [::]:port, without --listen-address
    // With --listen-address: a socket per address, and one per --listen-iface bound to ff02::1:2
    // on it (by interface name: its ifindex and socket). polled_: the sockets of pfds_[1..] in
    // that order; pending_sock_: the socket each reply of pending_ goes out of (the one it came in).
    std::vector<std::unique_ptr<capture::UdpSocket>> addr_socks_;
    std::map<std::string, std::pair<unsigned, std::unique_ptr<capture::UdpSocket>>> group_socks_;
    std::vector<capture::UdpSocket*> polled_, pending_sock_;
    std::vector<capture::UdpSocket*> tx_socks_;  // send_pending(): reused, no allocation per batch
    std::vector<capture::Datagram> tx_;
    capture::Notifier notify_;
    std::unique_ptr<obs::MetricsServer> metrics_;
    std::map<std::string, unsigned> joined_;  // interface -> ifindex joined to ff02::1:2 on
    std::vector<capture::Datagram> rx_;
    std::vector<Event> events_;
    std::vector<Reply> pending_;
    Actions act_;
    uint64_t store_errors_ = 0, send_errors_ = 0, commits_ = 0;
    // Commits (store_->write): events written, time taken (µs), the largest of each.
    uint64_t commit_events_ = 0, commit_us_ = 0, commit_max_us_ = 0, commit_max_events_ = 0;
    void registrar_metrics(obs::Snapshot& s) const;
    double log_tokens_ = kDiscardLogBurst;
    int64_t log_refill_ = 0, suppressed_since_ = 0;
    uint64_t suppressed_ = 0;
    int64_t next_prune_ = 0;

    // The DNS view (--dns-listen, docs/dns.md): changed only after a commit (dns_apply), so a name
    // is never served for a registration that is not durable; served from this loop, at most
    // ServerOptions::udp_batch datagrams per listener per wake-up (the DHCP batch goes first).
    bool dns_start(std::string& err);
    void dns_fill();
    void dns_apply(const Event& e);
    void dns_add(const Binding& b);
    void dns_reload(const DaemonOptions& fresh);
    void dns_metrics(obs::Snapshot& s) const;
    std::string dns_report() const;
    dns::ServerCounters dns_totals() const;  // summed over the listeners
    dns::ZoneView view_;
    std::unique_ptr<dns::Responder> responder_;
    std::vector<std::unique_ptr<dns::DnsServer>> dns_servers_;
    std::vector<pollfd> pfds_;
    uint64_t dns_no_zone_ = 0, dns_under_bname_ = 0, dns_bad_name_ = 0;  // names not served (AddResult)
};

bool Daemon::dns_start(std::string& err) {
    if (opt_.dns_listen.empty()) return true;
    if (!view_.load(opt_.dns, err)) return false;
    responder_ = std::make_unique<dns::Responder>(view_, opt_.dns_responder);
    for (const auto& l : opt_.dns_listen) {
        auto srv = std::make_unique<dns::DnsServer>(*responder_, opt_.dns_server);
        if (!srv->open(l, err)) {
            err = "--dns-listen " + err;
            return false;
        }
        spdlog::info("DNS view on {} (udp+tcp port {}): {} zones, BNAME type {}", l, srv->port(), view_.zones().size(),
                     view_.bname_type());
        dns_servers_.push_back(std::move(srv));
    }
    return true;
}

void Daemon::dns_add(const Binding& b) {
    in6_addr a;
    std::memcpy(&a, b.address.b.data(), 16);
    if (b.fqdn.empty()) {
        view_.remove(a);
        return;
    }
    switch (view_.add(a, b.fqdn)) {
        case dns::AddResult::kAdded: return;
        case dns::AddResult::kNoZone: ++dns_no_zone_; break;
        case dns::AddResult::kUnderBname: ++dns_under_bname_; break;
        case dns::AddResult::kBadName: ++dns_bad_name_; break;
    }
    view_.remove(a);  // a refused name replaces none: the old one must not stay either
    spdlog::debug("DNS view: {} {} not served", b.address.str(), b.fqdn);
}

void Daemon::dns_fill() {
    if (dns_servers_.empty()) return;
    engine_->for_each_binding([&](const Binding& b) {
        if (!b.fqdn.empty()) dns_add(b);
    });
}

void Daemon::dns_apply(const Event& e) {
    if (dns_servers_.empty()) return;
    if (e.kind == EventKind::kReleased || e.kind == EventKind::kExpired) {
        in6_addr a;
        std::memcpy(&a, e.b.address.b.data(), 16);
        view_.remove(a);
    } else {
        dns_add(e.b);
    }
}

void Daemon::dns_reload(const DaemonOptions& fresh) {
    if (fresh.dns_listen != opt_.dns_listen || fresh.dns_server.max_tcp != opt_.dns_server.max_tcp ||
        fresh.dns_server.per_source.per_second != opt_.dns_server.per_source.per_second ||
        fresh.dns_server.per_source.burst != opt_.dns_server.per_source.burst) {
        std::string now;
        for (const auto& l : opt_.dns_listen) now += (now.empty() ? "" : " ") + l;
        spdlog::warn("reload: --dns-listen, --dns-max-tcp and --dns-rate-limit change only at restart (still {})",
                     now.empty() ? std::string("no DNS view") : now);
    }
    if (dns_servers_.empty()) return;
    dns::DnsConfig cfg = fresh.dns;
    cfg.serial = std::max(cfg.serial, view_.serial() + 1);  // the serial never goes back
    dns::ZoneView v;
    std::string err;
    if (!v.load(cfg, err)) {
        spdlog::error("reload: DNS view: {}; keeping the running zones", err);
        return;
    }
    view_ = std::move(v);
    opt_.dns = cfg;
    opt_.dns_responder = fresh.dns_responder;
    responder_->set_options(opt_.dns_responder);
    dns_fill();
    spdlog::info("reloaded the DNS view: {} zones, {} registrations named", view_.zones().size(), view_.registrations());
}

dns::ServerCounters Daemon::dns_totals() const {
    dns::ServerCounters t;
    for (const auto& srv : dns_servers_) {
        const auto& c = srv->counters();
        t.udp_queries += c.udp_queries;
        t.udp_responses += c.udp_responses;
        t.tcp_queries += c.tcp_queries;
        t.tcp_responses += c.tcp_responses;
        t.tcp_accepted += c.tcp_accepted;
        t.tcp_refused_full += c.tcp_refused_full;
        t.tcp_closed_idle += c.tcp_closed_idle;
        t.tcp_closed_error += c.tcp_closed_error;
        t.rate_limited += c.rate_limited;
        t.no_response += c.no_response;
        t.recv_errors += c.recv_errors;
        t.send_errors += c.send_errors;
    }
    return t;
}

std::string Daemon::dns_report() const {
    const dns::ServerCounters t = dns_totals();
    const auto& r = responder_->counters();
    return fmt::format("dns: registrations {} udp {} tcp {} rate-limited {} tcp-refused-full {} nxdomain {} "
                       "servfail {} bname {} names-not-served {}",
                       view_.registrations(), t.udp_queries, t.tcp_queries, t.rate_limited, t.tcp_refused_full,
                       r.nxdomain, r.servfail, r.bname_substitutions, dns_no_zone_ + dns_under_bname_ + dns_bad_name_);
}

void Daemon::dns_metrics(obs::Snapshot& s) const {
    const Counters& ec = engine_->counters();
    s.extra.push_back({"regrelay_registrar_fqdn_total", "counter",
                       "Client FQDN options (39) of accepted ADDR-REG-INFORMs: named (a host name taken), malformed "
                       "(registered without a name).",
                       "result", {{"named", ec.fqdn_named}, {"malformed", ec.fqdn_malformed}}});
    if (dns_servers_.empty()) return;
    const dns::ServerCounters t = dns_totals();
    const dns::ResponderCounters& r = responder_->counters();
    s.extra.push_back({"regrelay_dns_queries_total", "counter", "DNS queries received by the DNS view, by transport.",
                       "transport", {{"udp", t.udp_queries}, {"tcp", t.tcp_queries}}});
    s.extra.push_back({"regrelay_dns_responses_total", "counter", "DNS responses sent by the DNS view, by transport.",
                       "transport", {{"udp", t.udp_responses}, {"tcp", t.tcp_responses}}});
    s.extra.push_back({"regrelay_dns_answers_total", "counter",
                       "DNS responses by outcome (negative answers, errors, truncation, BNAME substitutions made).",
                       "kind",
                       {{"nxdomain", r.nxdomain},
                        {"nodata", r.nodata},
                        {"refused", r.refused},
                        {"formerr", r.formerr},
                        {"notimp", r.notimp},
                        {"servfail", r.servfail},
                        {"yxdomain", r.yxdomain},
                        {"badvers", r.badvers},
                        {"truncated", r.truncated},
                        {"bname_substitution", r.bname_substitutions}}});
    s.extra.push_back({"regrelay_dns_drops_total", "counter",
                       "DNS queries and connections of the DNS view dropped, by reason.", "reason",
                       {{"rate-limited", t.rate_limited},
                        {"tcp-full", t.tcp_refused_full},
                        {"tcp-idle", t.tcp_closed_idle},
                        {"tcp-error", t.tcp_closed_error},
                        {"no-response", t.no_response},
                        {"recv-error", t.recv_errors},
                        {"send-error", t.send_errors}}});
    s.extra.push_back({"regrelay_dns_tcp_connections_total", "counter", "TCP connections the DNS view accepted.", "",
                       {{"", t.tcp_accepted}}});
    s.extra.push_back({"regrelay_dns_registrations", "gauge", "Addresses with records in the DNS view (live registrations with a name, --dns-host entries).", "",
                       {{"", uint64_t(view_.registrations())}}});
    s.extra.push_back({"regrelay_dns_names_not_served_total", "counter",
                       "Registrations whose name the DNS view refused, by reason (no zone holds it, at or below a "
                       "BNAME owner, a bad name).",
                       "reason", {{"no-zone", dns_no_zone_}, {"under-bname", dns_under_bname_}, {"bad-name", dns_bad_name_}}});
}

void Daemon::registrar_metrics(obs::Snapshot& s) const {
    const Counters& c = engine_->counters();
    s.extra.push_back({"regrelay_registrar_events_total", "counter",
                       "Registration events made durable, by kind (the history table's rows).", "kind",
                       {{"registered", c.registered},
                        {"refreshed", c.refreshed},
                        {"moved", c.moved},
                        {"released", c.released},
                        {"expired", c.expired}}});
    s.extra.push_back({"regrelay_registrar_retransmissions_total", "counter",
                       "ADDR-REG-INFORM retransmissions answered again without a new event.", "",
                       {{"", c.retransmissions}}});
    s.extra.push_back({"regrelay_registrar_bindings", "gauge", "Live registrations (the bindings table).", "",
                       {{"", uint64_t(engine_->binding_count())}}});
    s.extra.push_back({"regrelay_registrar_commits_total", "counter",
                       "Store transactions committed (one per wake-up with events).", "", {{"", commits_}}});
    s.extra.push_back({"regrelay_registrar_commit_events_total", "counter",
                       "Events written by the committed transactions (divided by commits: the mean batch size).", "",
                       {{"", commit_events_}}});
    s.extra.push_back({"regrelay_registrar_commit_batch_max", "gauge", "The most events one transaction committed.", "",
                       {{"", commit_max_events_}}});
    s.extra.push_back({"regrelay_registrar_commit_microseconds_total", "counter",
                       "Time spent in store transactions, failed ones included, in microseconds.", "", {{"", commit_us_}}});
    s.extra.push_back({"regrelay_registrar_commit_max_microseconds", "gauge",
                       "The longest store transaction, in microseconds.", "", {{"", commit_max_us_}}});
    s.extra.push_back({"regrelay_registrar_store_errors_total", "counter",
                       "Store transactions that failed (their events were not recorded, their replies not sent).", "",
                       {{"", store_errors_}}});
}

bool Daemon::server_duid(std::string& err) {
    if (!opt_.engine.server_duid.empty()) return true;
    std::optional<std::string> v;
    if (!store_->get_meta("server_duid", v, err)) return false;
    if (v) {
        auto d = parse_hex(*v);
        if (d && !d->empty()) {
            opt_.engine.server_duid = std::move(*d);
            return true;
        }
    }
    // DUID-UUID (RFC 6355), kept in the database so the registrar keeps its identity.
    std::random_device rd;
    std::vector<uint8_t> duid = {0, 4};
    for (int i = 0; i < 16; ++i) duid.push_back(uint8_t(rd()));
    duid[2 + 6] = uint8_t((duid[2 + 6] & 0x0f) | 0x40);  // version 4
    duid[2 + 8] = uint8_t((duid[2 + 8] & 0x3f) | 0x80);  // variant
    if (!store_->set_meta("server_duid", hex(duid), err)) return false;
    opt_.engine.server_duid = std::move(duid);
    return true;
}

void Daemon::check_membership() {
    for (const auto& name : opt_.engine.interfaces) {
        auto itf = capture::find_interface(name);
        unsigned idx = itf ? itf->index : 0;
        auto it = joined_.find(name);
        unsigned have = it == joined_.end() ? 0 : it->second;
        if (idx == have) continue;
        if (idx == 0) {
            spdlog::warn("listen interface {} is gone; waiting for it", name);
            joined_.erase(name);
            group_socks_.erase(name);
            continue;
        }
        if (!opt_.listen_addresses.empty()) {  // a socket of its own bound to [ff02::1:2]%IF
            auto g = std::make_unique<capture::UdpSocket>();
            std::string err;
            if (!g->open_at(dhcp6::kAllDhcpRelayAgentsAndServers, idx, opt_.port, opt_.rcvbuf_bytes, err)) {
                spdlog::warn("listen interface {}: {}", name, err);
                continue;
            }
            group_socks_[name] = {idx, std::move(g)};
            joined_[name] = idx;
            spdlog::info("listening for direct registrations on {} ([ff02::1:2]%{}:{}, shared)", name, name, opt_.port);
            continue;
        }
        ipv6_mreq mr{};
        std::memcpy(&mr.ipv6mr_multiaddr, dhcp6::kAllDhcpRelayAgentsAndServers.b.data(), 16);
        mr.ipv6mr_interface = idx;
        if (::setsockopt(sock_.fd(), IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr) != 0 && errno != EADDRINUSE) {
            spdlog::warn("listen interface {}: joining ff02::1:2: {}", name, std::strerror(errno));
            continue;
        }
        joined_[name] = idx;
        spdlog::info("listening for direct registrations on {} (ff02::1:2)", name);
    }
}

void Daemon::log_discard(const Input& in, const Actions& a) {
    // Flood-limit drops are summed up by Engine::flood_report (one line per interval), not logged.
    if (a.discard == Discard::kRateLimitSource || a.discard == Discard::kRateLimitRelay ||
        a.discard == Discard::kRateLimitLink)
        return;
    const int64_t now = engine_->now();
    log_tokens_ = std::min(kDiscardLogBurst, log_tokens_ + double(now - log_refill_) * kDiscardLogRate);
    log_refill_ = now;
    if (log_tokens_ < 1) {
        ++suppressed_;
        return;
    }
    log_tokens_ -= 1;
    char x[16];
    std::snprintf(x, sizeof x, "0x%06x", a.xid & 0xffffff);
    std::string iface = in.iface >= 0 ? opt_.engine.interfaces[size_t(in.iface)] : "-";
    obs::log_event(spdlog::level::info, "discard",
                   {{"reason", discard_name(a.discard)}, {"detail", a.why}, {"source", in.src.str()},
                    {"interface", iface}, {"xid", int64_t(a.xid)}, {"relay_levels", a.relay_levels}},
                   fmt::format("discard {} ADDR-REG-INFORM xid {} from {} interface {} relay-levels {}: {}",
                               discard_name(a.discard), x, in.src.str(), iface, a.relay_levels, a.why));
}

void Daemon::process_batch() {
    std::map<unsigned, int> by_index;
    for (size_t i = 0; i < opt_.engine.interfaces.size(); ++i) {
        auto it = joined_.find(opt_.engine.interfaces[i]);
        if (it != joined_.end()) by_index[it->second] = int(i);
    }
    size_t total = 0;
    const uint64_t now_ns = capture::monotonic_ns();
    for (size_t k = 0; k < polled_.size() && k + 1 < pfds_.size(); ++k) {
        if (!(pfds_[k + 1].revents & POLLIN)) continue;
        capture::UdpSocket& sock = *polled_[k];
        while (total < opt_.batch) {
            size_t n = sock.recv_batch(rx_, std::min<size_t>(64, opt_.batch - total));
            if (n == 0) break;
            total += n;
            for (size_t i = 0; i < n; ++i) {
                const auto& d = rx_[i];
                Input in{d.data, d.peer, d.peer_port, kNoInterface, now_ns};
                if (auto it = by_index.find(d.ifindex); it != by_index.end()) in.iface = it->second;
                engine_->handle(in, act_);
                if (act_.outcome == Actions::Outcome::kDiscarded) log_discard(in, act_);
                if (act_.reply) {
                    Reply r = std::move(*act_.reply);
                    r.iface = int(d.ifindex);  // out of the arrival interface; an ifindex from here on
                    pending_.push_back(std::move(r));
                    pending_sock_.push_back(&sock);
                }
                for (auto& e : act_.events) events_.push_back(std::move(e));
                act_.events.clear();
            }
        }
    }
}

void Daemon::commit_and_send() {
    if (!events_.empty()) {
        std::string err;
        const uint64_t t0 = capture::monotonic_ns();
        const bool ok = store_->write(events_, err);
        const uint64_t us = (capture::monotonic_ns() - t0) / 1000;
        commit_us_ += us;
        commit_max_us_ = std::max(commit_max_us_, us);
        if (!ok) {
            ++store_errors_;
            spdlog::error("store: {}: {} events not committed, {} replies not sent", err, events_.size(), pending_.size());
            events_.clear();
            pending_.clear();
            pending_sock_.clear();
            std::vector<Binding> bs;
            std::string e2;
            if (store_->load_bindings(bs, e2)) engine_->reset_bindings(std::move(bs));
            else spdlog::error("store: reloading bindings: {}", e2);
            return;
        }
        ++commits_;
        commit_events_ += events_.size();
        commit_max_events_ = std::max<uint64_t>(commit_max_events_, events_.size());
        for (const auto& e : events_) dns_apply(e);  // committed: the DNS view may serve it now
        if (opt_.log_registrations)
            for (const auto& e : events_) obs::log_event(spdlog::level::info, "registration", event_fields(e), describe(e));
        events_.clear();
    }
    send_pending();
}

void Daemon::send_pending() {
    if (pending_.empty()) return;
    // Out of the socket each came in on: a relay gets its reply from the address it sent to.
    std::vector<capture::UdpSocket*>& socks = tx_socks_;
    socks.clear();
    for (auto* sk : pending_sock_)
        if (std::find(socks.begin(), socks.end(), sk) == socks.end()) socks.push_back(sk);
    std::vector<capture::Datagram>& out = tx_;
    for (auto* sock : socks) {
        out.clear();
        for (size_t i = 0; i < pending_.size() && i < pending_sock_.size(); ++i) {
            if (pending_sock_[i] != sock) continue;
            capture::Datagram d;
            d.peer = pending_[i].dst;
            d.peer_port = pending_[i].dport;
            d.ifindex = unsigned(pending_[i].iface);
            d.data = pending_[i].payload;
            out.push_back(std::move(d));
        }
        sock->send_batch(out);
        for (size_t i = 0; i < out.size(); ++i)
            if (out[i].error) {
                ++send_errors_;
                spdlog::warn("reply to [{}]:{}: {}", out[i].peer.str(), out[i].peer_port, std::strerror(out[i].error));
            } else {
                spdlog::debug("ADDR-REG-REPLY to [{}]:{} ({} bytes)", out[i].peer.str(), out[i].peer_port,
                              out[i].data.size());
            }
    }
    pending_.clear();
    pending_sock_.clear();
}

void Daemon::reload() {
    if (!opt_.reload) {
        spdlog::info("SIGHUP: no --config file to reload");
        return;
    }
    notify_.reloading();
    DaemonOptions fresh;
    std::string err;
    if (!opt_.reload(fresh, err)) {
        spdlog::error("reload: {}; keeping the running configuration", err);
        notify_.ready();
        return;
    }
    if (fresh.listen_addresses != opt_.listen_addresses)
        spdlog::warn("reload: --listen-address changes only at restart");
    if (fresh.db != opt_.db) spdlog::warn("reload: --db changes only at restart (still {})", store_->describe());
    if (fresh.engine.server_duid.empty()) fresh.engine.server_duid = opt_.engine.server_duid;
    fresh.engine.limits.seed = opt_.engine.limits.seed;  // the flood tables carry over (Engine::adopt)
    opt_.engine = fresh.engine;
    opt_.history_days = fresh.history_days;
    opt_.log_registrations = fresh.log_registrations;
    auto e = std::make_unique<Engine>(opt_.engine);
    e->adopt(*engine_);
    engine_ = std::move(e);
    for (auto it = joined_.begin(); it != joined_.end();) {
        bool keep = std::find(opt_.engine.interfaces.begin(), opt_.engine.interfaces.end(), it->first) !=
                    opt_.engine.interfaces.end();
        if (!keep) {
            ipv6_mreq mr{};
            std::memcpy(&mr.ipv6mr_multiaddr, dhcp6::kAllDhcpRelayAgentsAndServers.b.data(), 16);
            mr.ipv6mr_interface = it->second;
            if (sock_.fd() >= 0) ::setsockopt(sock_.fd(), IPPROTO_IPV6, IPV6_LEAVE_GROUP, &mr, sizeof mr);
            group_socks_.erase(it->first);
            it = joined_.erase(it);
        } else {
            ++it;
        }
    }
    check_membership();
    dns_reload(fresh);
    next_prune_ = 0;
    spdlog::info("reloaded {}: {} listen interfaces, {} links", opt_.config_path, opt_.engine.interfaces.size(),
                 opt_.engine.links.size());
    notify_.ready();
}

void Daemon::prune() {
    const int64_t now = engine_->now();
    if (opt_.history_days <= 0 || now < next_prune_) return;
    next_prune_ = now + kPruneIntervalS;
    uint64_t removed = 0;
    std::string err;
    if (!store_->prune_history(now - int64_t(opt_.history_days) * 86400, removed, err))
        spdlog::warn("history retention: {}", err);
    else if (removed)
        spdlog::info("history retention: removed {} rows older than {} days", removed, opt_.history_days);
}

void Daemon::publish_metrics() {
    if (!metrics_) return;
    obs::Snapshot& s = metrics_->next();
    const Counters& c = engine_->counters();
    s.drop_reasons.clear();
    for (size_t i = 1; i < size_t(Discard::kCount_); ++i) s.drop_reasons.push_back(discard_name(Discard(i)));
    s.drop_reasons.push_back("store-error");
    s.drop_reasons.push_back("send-error");
    s.ports.resize(1);
    obs::PortMetrics& p = s.ports[0];
    p.name = "registrar";
    p.is_interface = false;
    p.frames = c.received;
    p.received = c.received_by_type;
    p.replies = {};
    p.replies[dhcp6::msg::kAddrRegReply] = c.replied;
    p.drops.clear();
    for (size_t i = 1; i < size_t(Discard::kCount_); ++i) p.drops.push_back(c.discards[i]);
    p.drops.push_back(store_errors_);
    p.drops.push_back(send_errors_);
    s.extra.clear();
    registrar_metrics(s);
    dns_metrics(s);
    metrics_->publish();
}

int Daemon::run() {
    std::string err;
    const int sfd = capture::control_signal_fd();
    if (opt_.listen_addresses.empty() && !sock_.open(opt_.port, opt_.rcvbuf_bytes, err)) {
        spdlog::error("UDP port {}: {}", opt_.port, err);
        return 1;
    }
    for (const auto& a : opt_.listen_addresses) {
        auto s = std::make_unique<capture::UdpSocket>();
        if (!s->open_at(a, 0, opt_.port, opt_.rcvbuf_bytes, err)) {
            spdlog::error("--listen-address {}: {}", a.str(), err);
            return 1;
        }
        spdlog::info("listening on [{}]:{}", a.str(), opt_.port);
        addr_socks_.push_back(std::move(s));
    }
    check_membership();
    // The database is opened before the privilege drop (its directory may be root's); the open
    // connection keeps the file, the WAL and the shared-memory index open afterwards.
    store_ = open_store(opt_.db, {}, err);
    if (!store_) {
        spdlog::error("--db: {}", err);
        return 1;
    }
    if (!server_duid(err)) {
        spdlog::error("--db: {}", err);
        return 1;
    }
    if (!opt_.metrics_listen.empty()) {
        auto la = obs::parse_listen(opt_.metrics_listen, err);
        metrics_ = std::make_unique<obs::MetricsServer>(obs::process_info("registrar"));
        if (!la || !metrics_->bind(*la, err)) {
            spdlog::error("--metrics-listen {}: {}", opt_.metrics_listen, err);
            return 1;
        }
    }
    if (!dns_start(err)) {  // binds port 53 before the privilege drop
        spdlog::error("{}", err);
        return 1;
    }
    capture::DropResult dr;
    // With --listen-address, a --listen-iface that comes (back) later gets a socket bound to
    // [ff02::1:2]%IF:port then, which needs CAP_NET_BIND_SERVICE for a port below 1024.
    std::vector<int> keep;
    if (!opt_.listen_addresses.empty() && !opt_.engine.interfaces.empty() && opt_.port < 1024)
        keep.push_back(capture::kCapNetBindService);
    if (!capture::drop_privileges(opt_.user, keep, dr, err)) {
        spdlog::error("dropping privileges: {}", err);
        return 1;
    }
    if (dr.dropped)
        spdlog::info("dropped privileges to user {} (uid {}, gid {}), keeping {}", dr.user, dr.uid, dr.gid,
                     keep.empty() ? std::string("no capabilities") : capture::capability_name(keep[0]));

    opt_.engine.limits.seed = uint64_t(std::random_device{}()) << 32 | std::random_device{}();
    engine_ = std::make_unique<Engine>(opt_.engine);
    std::vector<Binding> bs;
    if (!store_->load_bindings(bs, err)) {
        spdlog::error("--db: {}", err);
        return 1;
    }
    engine_->restore(std::move(bs));
    engine_->advance(wall_now(), events_);  // bindings that ran out while we were down
    commit_and_send();
    dns_fill();  // the restored bindings that carried a name (their registration is in the database)
    prune();
    if (metrics_) {
        publish_metrics();
        if (!metrics_->start(err)) {
            spdlog::error("--metrics-listen {}: {}", opt_.metrics_listen, err);
            return 1;
        }
        spdlog::info("serving metrics at http://{}/metrics", opt_.metrics_listen);
    }
    spdlog::info("registrar on UDP port {} ({} listen interfaces, {} links), database {} (schema {}), {} bindings restored, "
                 "server DUID {}",
                 opt_.port, opt_.engine.interfaces.size(), opt_.engine.links.size(), store_->describe(),
                 store_->schema_version(), engine_->binding_count(), hex(opt_.engine.server_duid));
    notify_.ready("registrar: " + std::to_string(engine_->binding_count()) + " bindings");

    uint64_t next_membership = capture::monotonic_ns() + kMembershipCheckNs;
    uint64_t next_publish = 0;
    suppressed_since_ = wall_now();
    bool running = true;
    while (running) {
        pfds_.assign({{sfd, POLLIN, 0}});
        polled_.clear();
        if (sock_.fd() >= 0) polled_.push_back(&sock_);
        for (const auto& s : addr_socks_) polled_.push_back(s.get());
        for (const auto& [name, g] : group_socks_) polled_.push_back(g.second.get());
        for (auto* s : polled_) pfds_.push_back({s->fd(), POLLIN, 0});
        for (const auto& srv : dns_servers_) srv->pollfds(pfds_);
        int timeout = notify_.poll_timeout_ms(capture::monotonic_ns(), 1000);
        int rc = ::poll(pfds_.data(), nfds_t(pfds_.size()), timeout);
        if (rc < 0 && errno != EINTR) {
            spdlog::error("poll: {}", std::strerror(errno));
            return 1;
        }
        const uint64_t mono = capture::monotonic_ns();
        notify_.tick(mono);
        engine_->advance(wall_now(), events_);
        bool readable = false;
        for (size_t k = 0; k < polled_.size(); ++k) {
            if (pfds_[k + 1].revents & POLLERR) {
                std::vector<capture::SendError> errs;
                polled_[k]->read_errors(errs);
            }
            readable = readable || (pfds_[k + 1].revents & POLLIN);
        }
        if (readable) process_batch();
        commit_and_send();
        for (const auto& srv : dns_servers_) srv->process(pfds_, mono);  // after the DHCP batch, bounded
        if (pfds_[0].revents & POLLIN) {
            capture::Controls c = capture::read_control(sfd);
            if (c.reload) reload();
            if (c.report) spdlog::info("{}", engine_->counters_report());
            if (c.report && !dns_servers_.empty()) spdlog::info("{}", dns_report());
            if (c.stop) {
                spdlog::info("{}: stopping; {}", c.stop_signal, engine_->counters_report());
                if (!dns_servers_.empty()) spdlog::info("{}", dns_report());
                running = false;
            }
        }
        if (mono >= next_membership) {
            check_membership();
            next_membership = mono + kMembershipCheckNs;
        }
        prune();
        for (const auto& line : engine_->flood_report(mono)) spdlog::warn("{}", line);
        if (suppressed_ && engine_->now() - suppressed_since_ >= kDiscardSummaryS) {
            spdlog::warn("{} discard lines suppressed in the last {} s (over {}/s)", suppressed_,
                         engine_->now() - suppressed_since_, kDiscardLogRate);
            suppressed_ = 0;
            suppressed_since_ = engine_->now();
        } else if (!suppressed_) {
            suppressed_since_ = engine_->now();
        }
        if (metrics_ && mono >= next_publish) {
            publish_metrics();
            next_publish = mono + obs::kPublishIntervalNs;
        }
    }
    for (const auto& line : engine_->flood_report(capture::monotonic_ns(), true)) spdlog::warn("{}", line);
    notify_.stopping();
    if (metrics_) metrics_->stop();
    return 0;
}

}  // namespace

int run_daemon(DaemonOptions opt) {
    Daemon d(std::move(opt));
    return d.run();
}

}  // namespace regrelay::registrar
