#include "registrar/daemon.h"

#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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
    capture::UdpSocket sock_;
    capture::Notifier notify_;
    std::unique_ptr<obs::MetricsServer> metrics_;
    std::map<std::string, unsigned> joined_;  // interface -> ifindex joined to ff02::1:2 on
    std::vector<capture::Datagram> rx_;
    std::vector<Event> events_;
    std::vector<Reply> pending_;
    Actions act_;
    uint64_t store_errors_ = 0, send_errors_ = 0, commits_ = 0;
    double log_tokens_ = kDiscardLogBurst;
    int64_t log_refill_ = 0, suppressed_since_ = 0;
    uint64_t suppressed_ = 0;
    int64_t next_prune_ = 0;
};

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
    while (total < opt_.batch) {
        size_t n = sock_.recv_batch(rx_, std::min<size_t>(64, opt_.batch - total));
        if (n == 0) break;
        total += n;
        for (size_t i = 0; i < n; ++i) {
            const auto& d = rx_[i];
            Input in{d.data, d.peer, d.peer_port, kNoInterface};
            if (auto it = by_index.find(d.ifindex); it != by_index.end()) in.iface = it->second;
            engine_->handle(in, act_);
            if (act_.outcome == Actions::Outcome::kDiscarded) log_discard(in, act_);
            if (act_.reply) {
                Reply r = std::move(*act_.reply);
                r.iface = int(d.ifindex);  // out of the arrival interface; an ifindex from here on
                pending_.push_back(std::move(r));
            }
            for (auto& e : act_.events) events_.push_back(std::move(e));
            act_.events.clear();
        }
    }
}

void Daemon::commit_and_send() {
    if (!events_.empty()) {
        std::string err;
        if (!store_->write(events_, err)) {
            ++store_errors_;
            spdlog::error("store: {}: {} events not committed, {} replies not sent", err, events_.size(), pending_.size());
            events_.clear();
            pending_.clear();
            std::vector<Binding> bs;
            std::string e2;
            if (store_->load_bindings(bs, e2)) engine_->reset_bindings(std::move(bs));
            else spdlog::error("store: reloading bindings: {}", e2);
            return;
        }
        ++commits_;
        if (opt_.log_registrations)
            for (const auto& e : events_) obs::log_event(spdlog::level::info, "registration", event_fields(e), describe(e));
        events_.clear();
    }
    send_pending();
}

void Daemon::send_pending() {
    if (pending_.empty()) return;
    std::vector<capture::Datagram> out(pending_.size());
    for (size_t i = 0; i < pending_.size(); ++i) {
        out[i].peer = pending_[i].dst;
        out[i].peer_port = pending_[i].dport;
        out[i].ifindex = unsigned(pending_[i].iface);
        out[i].data = pending_[i].payload;
    }
    sock_.send_batch(out);
    for (size_t i = 0; i < out.size(); ++i)
        if (out[i].error) {
            ++send_errors_;
            spdlog::warn("reply to [{}]:{}: {}", out[i].peer.str(), out[i].peer_port, std::strerror(out[i].error));
        } else {
            spdlog::debug("ADDR-REG-REPLY to [{}]:{} ({} bytes)", out[i].peer.str(), out[i].peer_port, out[i].data.size());
        }
    pending_.clear();
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
    if (fresh.db != opt_.db) spdlog::warn("reload: --db changes only at restart (still {})", store_->describe());
    if (fresh.engine.server_duid.empty()) fresh.engine.server_duid = opt_.engine.server_duid;
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
            ::setsockopt(sock_.fd(), IPPROTO_IPV6, IPV6_LEAVE_GROUP, &mr, sizeof mr);
            it = joined_.erase(it);
        } else {
            ++it;
        }
    }
    check_membership();
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
    metrics_->publish();
}

int Daemon::run() {
    std::string err;
    const int sfd = capture::control_signal_fd();
    if (!sock_.open(opt_.port, opt_.rcvbuf_bytes, err)) {
        spdlog::error("UDP port {}: {}", opt_.port, err);
        return 1;
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
    capture::DropResult dr;
    if (!capture::drop_privileges(opt_.user, {}, dr, err)) {
        spdlog::error("dropping privileges: {}", err);
        return 1;
    }
    if (dr.dropped)
        spdlog::info("dropped privileges to user {} (uid {}, gid {}), keeping no capabilities", dr.user, dr.uid, dr.gid);

    engine_ = std::make_unique<Engine>(opt_.engine);
    std::vector<Binding> bs;
    if (!store_->load_bindings(bs, err)) {
        spdlog::error("--db: {}", err);
        return 1;
    }
    engine_->restore(std::move(bs));
    engine_->advance(wall_now(), events_);  // bindings that ran out while we were down
    commit_and_send();
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
        pollfd pfds[2] = {{sfd, POLLIN, 0}, {sock_.fd(), POLLIN, 0}};
        int timeout = notify_.poll_timeout_ms(capture::monotonic_ns(), 1000);
        int rc = ::poll(pfds, 2, timeout);
        if (rc < 0 && errno != EINTR) {
            spdlog::error("poll: {}", std::strerror(errno));
            return 1;
        }
        const uint64_t mono = capture::monotonic_ns();
        notify_.tick(mono);
        engine_->advance(wall_now(), events_);
        if (pfds[1].revents & POLLERR) {
            std::vector<capture::SendError> errs;
            sock_.read_errors(errs);
        }
        if (pfds[1].revents & POLLIN) process_batch();
        commit_and_send();
        if (pfds[0].revents & POLLIN) {
            capture::Controls c = capture::read_control(sfd);
            if (c.reload) reload();
            if (c.report) spdlog::info("{}", engine_->counters_report());
            if (c.stop) {
                spdlog::info("{}: stopping; {}", c.stop_signal, engine_->counters_report());
                running = false;
            }
        }
        if (mono >= next_membership) {
            check_membership();
            next_membership = mono + kMembershipCheckNs;
        }
        prune();
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
