#include "relay/daemon.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "capture/control.h"
#include "capture/instance.h"
#include "capture/live_ports.h"
#include "capture/netif.h"
#include "capture/netlink.h"
#include "capture/notify.h"
#include "capture/packet_io.h"
#include "capture/privileges.h"
#include "capture/udp_socket.h"
#include "relay/record.h"

namespace regrelay::relay {

namespace {

// The client side sees only what clients send to the servers' port.
std::string client_filter() {
    const std::string udp = "ip6 and udp dst port 547";
    return "(" + udp + ") or (vlan and " + udp + ") or (vlan and vlan and " + udp + ")";
}

constexpr size_t kBatch = 64;        // packets read per source per round, and sent per sendmmsg
constexpr int kMaxRounds = 16;       // rounds per wake-up before signals and netlink are looked at
constexpr uint64_t kSecond = 1000000000;
constexpr uint64_t kErrorLogInterval = 10 * kSecond;
constexpr uint64_t kResyncInterval = 30 * kSecond;  // a safety net under rtnetlink

// At most one log line per interval for a repeating error, with the count of the others.
struct LogLimit {
    uint64_t next_ns = 0;
    uint64_t suppressed = 0;
    // True when a line may be logged now; `since` gets the number suppressed since the last one.
    bool allow(uint64_t now, uint64_t& since) {
        if (now < next_ns) {
            ++suppressed;
            return false;
        }
        since = suppressed;
        suppressed = 0;
        next_ns = now + kErrorLogInterval;
        return true;
    }
};

// Per destination on the server side: what was sent and what failed.
struct ServerStats {
    Ip6Addr addr;
    uint64_t sent = 0, failed = 0, icmp_errors = 0;
    std::string last_error;
    LogLimit send_log, icmp_log;
};

// Per client port, besides the engine's counters.
struct PortIo {
    bool known = false;    // link_address below has been read from the interface
    Ip6Addr link_address;  // as last applied to the engine
    uint64_t send_errors = 0;
    std::string last_error;
    LogLimit log;
};

std::string errno_text(int e) { return strerror(e); }

class RelayDaemon {
public:
    explicit RelayDaemon(DaemonOptions opt)
        : opt_(std::move(opt)),
          tracker_("relay", capture::PortHooks{
                                [this](size_t idx, capture::LivePort& p, const capture::Interface& i,
                                       std::string& e) { return open_port(idx, p, i, e); },
                                [this](size_t idx, capture::LivePort& p, const capture::Interface& i) {
                                    port_facts(idx, p, i);
                                }}) {}

    int run();

private:
    // Start-up and reload.
    bool take_locks(const Config& cfg, std::string& err);
    void set_engine(Config cfg, bool keep_counters);
    void rebuild_servers();
    bool open_write(std::string& err);
    void reload();
    void rebuild_recorder();

    // Interfaces.
    bool open_port(size_t idx, capture::LivePort& p, const capture::Interface& itf, std::string& err);
    void port_facts(size_t idx, capture::LivePort& p, const capture::Interface& itf);
    void after_sync();

    // Packets.
    size_t serve_port(size_t i);
    size_t serve_server();
    void queue_sends(size_t action, const Actions& a);
    void flush_sends(size_t used);
    void read_socket_errors();
    std::string report() const;
    ServerStats& server_stats(const Ip6Addr& a);

    DaemonOptions opt_;
    std::unique_ptr<Engine> engine_;
    capture::PortTracker tracker_;
    std::vector<PortIo> io_;  // parallel to tracker_.ports()
    capture::UdpSocket sock_;
    capture::LinkMonitor monitor_;
    capture::InstanceLocks locks_;
    capture::Notifier notify_;  // systemd Type=notify (no-op without NOTIFY_SOCKET)
    std::vector<unsigned> filtered_ifindexes_;
    unsigned upstream_ifindex_ = 0;
    std::vector<ServerStats> servers_;
    std::unique_ptr<capture::PacketSink> sink_;
    std::unique_ptr<Recorder> rec_;
    uint64_t record_errors_ = 0;  // of recorders replaced since
    bool log_debug_ = false;
    uint64_t now_ = 0;

    std::vector<Actions> acts_ = std::vector<Actions>(kBatch);
    std::vector<capture::Datagram> out_, in_;
    std::vector<std::pair<size_t, size_t>> out_of_;  // per datagram: (action, send index)
};

bool RelayDaemon::take_locks(const Config& cfg, std::string& err) {
    for (const auto& p : cfg.ports)
        if (!locks_.acquire("relay", p.name, err)) return false;
    return true;
}

void RelayDaemon::set_engine(Config cfg, bool keep_counters) {
    cfg.local_addresses = capture::host_addresses();
    auto e = std::make_unique<Engine>(std::move(cfg));
    if (keep_counters && engine_) e->adopt_counters(*engine_);
    engine_ = std::move(e);
    engine_->advance(now_);
}

void RelayDaemon::rebuild_servers() {
    std::vector<ServerStats> next;
    std::vector<Ip6Addr> dsts = engine_->config().servers;
    if (dsts.empty()) dsts.push_back(kAllDhcpServers);
    for (const auto& d : dsts) {
        auto it = std::find_if(servers_.begin(), servers_.end(), [&](const ServerStats& s) { return s.addr == d; });
        if (it != servers_.end()) next.push_back(std::move(*it));
        else next.push_back(ServerStats{d, 0, 0, 0, {}, {}, {}});
    }
    servers_ = std::move(next);
}

ServerStats& RelayDaemon::server_stats(const Ip6Addr& a) {
    for (auto& s : servers_)
        if (s.addr == a) return s;
    servers_.push_back(ServerStats{a, 0, 0, 0, {}, {}, {}});
    return servers_.back();
}

bool RelayDaemon::open_write(std::string& err) {
    if (opt_.write_path.empty()) {
        rec_.reset();
        sink_.reset();
        return true;
    }
    if (rec_) record_errors_ += rec_->errors();
    rec_.reset();
    sink_.reset();
    sink_ = capture::open_pcap_writer(opt_.write_path, frame::kLinkLinuxSll2, err);
    if (!sink_) return false;
    rebuild_recorder();
    return true;
}

void RelayDaemon::rebuild_recorder() {
    if (!sink_) return;
    if (rec_) record_errors_ += rec_->errors();
    const Config& cfg = engine_->config();
    std::vector<RecordPort> rps;
    for (size_t i = 0; i < cfg.ports.size(); ++i)
        rps.push_back({i < tracker_.ports().size() ? tracker_.ports()[i].ifindex : 0u, cfg.ports[i].mac,
                       cfg.ports[i].link_local, cfg.ports[i].link_address});
    // Sources as the kernel picks them: the configured one, else its route's choice.
    Ip6Addr up = cfg.source_address;
    if (up.is_unspecified()) {
        const Ip6Addr& dst = cfg.servers.empty() ? kAllDhcpServers : cfg.servers.front();
        if (auto a = capture::route_source(dst, cfg.servers.empty() ? upstream_ifindex_ : 0)) up = *a;
    }
    rec_ = std::make_unique<Recorder>(*sink_, std::move(rps), RecordPort{upstream_ifindex_, {}, up, up});
}

bool RelayDaemon::open_port(size_t idx, capture::LivePort& p, const capture::Interface& itf, std::string& err) {
    capture::LiveOptions lo;
    lo.filter = client_filter();
    lo.timeout_ms = 10;
    lo.nonblocking = true;
    p.src = capture::open_live(p.name, lo, err);
    if (!p.src) {
        if (err.find("ermission") != std::string::npos || err.find("not permitted") != std::string::npos)
            err += " (capturing needs " + capture::capability_name(capture::kCapNetRaw) + ")";
        return false;
    }
    // Be a member of All_DHCP_Relay_Agents_and_Servers so the link delivers its frames.
    std::string jerr;
    int jfd = capture::join_multicast(kAllDhcpRelayAgentsAndServers, itf.index, jerr);
    if (jfd < 0) spdlog::warn("interface {}: {}", p.name, jerr);
    else p.fds.push_back(jfd);
    const ClientPort& cp = engine_->config().ports[idx];
    spdlog::info("relaying from {} (link-address {}, interface-id \"{}\") to {}", p.name,
                 cp.link_address.is_unspecified() ? std::string(":: with interface-id") : cp.link_address.str(),
                 std::string(cp.interface_id.begin(), cp.interface_id.end()), [&] {
                     std::string s;
                     for (const auto& a : engine_->config().servers) {
                         if (!s.empty()) s += ',';
                         s += a.str();
                     }
                     return s.empty() ? kAllDhcpServers.str() + " on " + opt_.upstream_iface : s;
                 }());
    return true;
}

void RelayDaemon::port_facts(size_t idx, capture::LivePort& p, const capture::Interface& itf) {
    ClientPort next = engine_->config().ports[idx];
    if (!opt_.fixed_link_address[idx]) next.link_address = itf.routable_address().value_or(Ip6Addr{});
    next.link_local = itf.link_local().value_or(Ip6Addr{});
    next.mac = itf.mac.value_or(MacAddr{});
    PortIo& io = io_[idx];
    if (io.known && next.link_address != io.link_address) {
        spdlog::info("interface {}: link-address {} -> {}", p.name,
                     io.link_address.is_unspecified() ? std::string("::") : io.link_address.str(),
                     next.link_address.is_unspecified() ? std::string(":: (Interface-ID only)")
                                                         : next.link_address.str());
        ++p.events.readdressed;
    }
    io.known = true;
    io.link_address = next.link_address;
    engine_->update_port(int(idx), next);
}

void RelayDaemon::after_sync() {
    engine_->set_local_addresses(capture::host_addresses());
    if (!opt_.upstream_iface.empty()) {
        auto up = capture::find_interface(opt_.upstream_iface);
        upstream_ifindex_ = up ? up->index : 0;
    }
    std::vector<unsigned> idx = tracker_.ifindexes();
    std::sort(idx.begin(), idx.end());
    if (idx != filtered_ifindexes_) {
        std::string err;
        if (!sock_.set_ignored_interfaces(idx, err)) spdlog::error("{}", err);
        filtered_ifindexes_ = idx;
    }
    rebuild_recorder();
}

void RelayDaemon::queue_sends(size_t action, const Actions& a) {
    const Config& cfg = engine_->config();
    for (size_t k = 0; k < a.sends.size(); ++k) {
        const Send& s = a.sends[k];
        capture::Datagram d;
        d.peer = s.dst;
        d.peer_port = s.dport;
        d.hop_limit = s.hop_limit;
        d.data = a.payload;
        if (s.port == kUpstream) {
            d.local = cfg.source_address;
            d.ifindex = s.dst.is_multicast() ? upstream_ifindex_ : 0;
            if (s.dst.is_multicast() && d.ifindex == 0) d.error = ENODEV;  // --upstream-iface absent
        } else {
            d.ifindex = tracker_.ports()[size_t(s.port)].ifindex;
            if (d.ifindex == 0) d.error = ENODEV;  // the client interface is absent
        }
        out_.push_back(d);
        out_of_.push_back({action, k});
    }
}

// Sends what the batch's actions queued, then logs each action as it really went: sends that
// failed are taken out of the action before it is logged and recorded.
void RelayDaemon::flush_sends(size_t used) {
    if (!out_.empty()) {
        // Datagrams for an absent interface were failed with ENODEV when queued.
        std::vector<capture::Datagram> go;
        go.reserve(out_.size());
        std::vector<size_t> where;
        for (size_t i = 0; i < out_.size(); ++i)
            if (out_[i].error == 0) {
                go.push_back(out_[i]);
                where.push_back(i);
            }
        sock_.send_batch(go);
        for (size_t i = 0; i < go.size(); ++i) out_[where[i]].error = go[i].error;
    }
    // Per action: which sends failed.
    std::vector<std::vector<int>> errs(used);
    for (size_t i = 0; i < out_.size(); ++i) {
        auto [ai, k] = out_of_[i];
        errs[ai].resize(acts_[ai].sends.size(), 0);
        errs[ai][k] = out_[i].error;
    }
    for (size_t ai = 0; ai < used; ++ai) {
        Actions& a = acts_[ai];
        if (!errs[ai].empty()) {
            std::vector<Send> ok;
            for (size_t k = 0; k < a.sends.size(); ++k) {
                const Send& s = a.sends[k];
                const int e = errs[ai][k];
                if (s.port == kUpstream) {
                    ServerStats& st = server_stats(s.dst);
                    if (e == 0) {
                        ++st.sent;
                    } else {
                        ++st.failed;
                        st.last_error = errno_text(e);
                        uint64_t since = 0;
                        if (st.send_log.allow(now_, since))
                            spdlog::error("sending to server {} failed: {}{}", s.dst.str(), errno_text(e),
                                          since ? " (" + std::to_string(since) + " more failures not logged)" : "");
                    }
                } else if (e != 0) {
                    PortIo& io = io_[size_t(s.port)];
                    ++io.send_errors;
                    io.last_error = errno_text(e);
                    uint64_t since = 0;
                    if (io.log.allow(now_, since))
                        spdlog::error("sending to client {} on {} failed: {}{}", s.dst.str(),
                                      tracker_.ports()[size_t(s.port)].name, errno_text(e),
                                      since ? " (" + std::to_string(since) + " more failures not logged)" : "");
                }
                if (e == 0) ok.push_back(s);
            }
            if (ok.empty()) {
                if (log_debug_)
                    spdlog::debug("{} {} xid 0x{:06x} peer {} NOT sent: {}",
                                  a.sends.front().port == kUpstream ? "relay-forward" : "relay-reply",
                                  dhcp6::msg_type_label(a.msg_type), a.xid, a.peer.str(), errno_text(errs[ai][0]));
                a.sends.clear();
                continue;  // not relayed: no relay-forward/ADDR-REG-INFORM line, nothing recorded
            }
            a.sends = std::move(ok);
        }
        if (a.drop != Drop::kNone || a.msg_type == dhcp6::msg::kAddrRegInform || log_debug_)
            log_actions(engine_->config(), a);
        if (rec_ && !a.sends.empty()) rec_->sent(capture::now(), a);
    }
    out_.clear();
    out_of_.clear();
}

size_t RelayDaemon::serve_port(size_t i) {
    capture::LivePort& p = tracker_.ports()[i];
    if (!p.open()) return 0;
    size_t used = 0;
    capture::Packet pkt;
    while (used < kBatch) {
        capture::ReadStatus st = p.src->next(pkt);
        if (st != capture::ReadStatus::kPacket) {
            if (st == capture::ReadStatus::kError) {
                const std::string why = p.src->error();
                flush_sends(used);
                tracker_.capture_failed(i, why, now_);
                after_sync();
                return 0;
            }
            break;
        }
        Actions& a = acts_[used];
        engine_->on_client_frame(int(i), pkt.data, p.src->linktype(), a);
        if (rec_) rec_->received_frame(pkt.ts, int(i), p.src->linktype(), pkt.data);
        queue_sends(used, a);
        ++used;
    }
    if (used) tracker_.capture_ok(i);
    flush_sends(used);
    return used;
}

size_t RelayDaemon::serve_server() {
    size_t got = sock_.recv_batch(in_, kBatch);
    if (got == 0) return 0;
    size_t used = 0;
    for (const auto& d : in_) {
        // Datagrams from client interfaces are kept off this socket by its filter; any that came
        // in before the filter knew the interface are dropped here too (capture has them, and
        // unwrapping a Relay-reply from a client link would let anyone forge replies).
        if (std::find(filtered_ifindexes_.begin(), filtered_ifindexes_.end(), d.ifindex) != filtered_ifindexes_.end())
            continue;
        Actions& a = acts_[used];
        if (rec_) rec_->received_datagram(capture::now(), d);
        engine_->on_server_datagram(d.peer, d.peer_port, d.data, a);
        queue_sends(used, a);
        ++used;
    }
    flush_sends(used);
    return got;
}

void RelayDaemon::read_socket_errors() {
    std::vector<capture::SendError> errs;
    while (sock_.read_errors(errs) > 0) {
        for (const auto& e : errs) {
            ServerStats& st = server_stats(e.dst);
            ++st.icmp_errors;
            st.last_error = e.icmp ? "ICMPv6 type " + std::to_string(e.type) + " code " + std::to_string(e.code) +
                                         (e.offender.is_unspecified() ? "" : " from " + e.offender.str())
                                   : errno_text(e.error);
            uint64_t since = 0;
            if (st.icmp_log.allow(now_, since))
                spdlog::error("server {}: {} ({}){}", e.dst.str(), st.last_error, errno_text(e.error),
                              since ? " (" + std::to_string(since) + " more not logged)" : "");
        }
    }
}

std::string RelayDaemon::report() const {
    std::string r = engine_->counters_report();
    std::string kd;
    for (const auto& p : tracker_.ports()) {
        uint64_t d = 0;
        if (p.src && p.src->kernel_drops(d)) kd += " " + p.name + "=" + std::to_string(d);
    }
    if (!kd.empty()) r += "capture kernel-drops" + kd + "\n";
    r += tracker_.report();
    for (const auto& s : servers_)
        r += "server " + s.addr.str() + " sent " + std::to_string(s.sent) + " send-errors " + std::to_string(s.failed) +
             " icmp-errors " + std::to_string(s.icmp_errors) +
             (s.last_error.empty() ? std::string() : " (last: " + s.last_error + ")") + "\n";
    for (size_t i = 0; i < io_.size() && i < tracker_.ports().size(); ++i)
        if (io_[i].send_errors)
            r += "client " + tracker_.ports()[i].name + " send-errors " + std::to_string(io_[i].send_errors) +
                 " (last: " + io_[i].last_error + ")\n";
    const uint64_t rec_errors = record_errors_ + (rec_ ? rec_->errors() : 0);
    if (rec_errors) r += "--write: " + std::to_string(rec_errors) + " frames not recorded\n";
    return r;
}

void RelayDaemon::reload() {
    std::string err;
    notify_.reloading();
    if (!opt_.reload) {
        spdlog::info("SIGHUP: no --config file to reload; reopening files");
    } else {
        DaemonOptions next;
        if (!opt_.reload(next, err)) {
            spdlog::error("reload failed: {}; keeping the running configuration", err);
        } else if (!take_locks(next.engine, err)) {
            spdlog::error("reload failed: {}; keeping the running configuration", err);
        } else {
            for (const auto& p : engine_->config().ports) {
                bool kept = false;
                for (const auto& q : next.engine.ports) kept |= q.name == p.name;
                if (!kept) locks_.release("relay", p.name);
            }
            std::vector<std::string> before, after;
            for (const auto& p : engine_->config().ports) before.push_back(p.name);
            for (const auto& p : next.engine.ports) after.push_back(p.name);
            next.reload = std::move(opt_.reload);
            next.rcvbuf_bytes = opt_.rcvbuf_bytes;
            next.user = opt_.user;  // the process has already switched user
            opt_ = std::move(next);
            if (auto lvl = spdlog::level::from_str(opt_.log_level); lvl != spdlog::level::off || opt_.log_level == "off")
                spdlog::set_level(lvl);
            log_debug_ = spdlog::should_log(spdlog::level::debug);
            set_engine(opt_.engine, true);
            // PortIo follows the ports by name, as the tracker does.
            std::vector<PortIo> io(after.size());
            for (size_t i = 0; i < after.size(); ++i)
                for (size_t j = 0; j < before.size(); ++j)
                    if (before[j] == after[i]) std::swap(io[i], io_[j]);
            io_ = std::move(io);
            tracker_.set_names(after, now_);
            after_sync();
            rebuild_servers();
            std::string servers;
            for (const auto& s : servers_) {
                if (!servers.empty()) servers += ',';
                servers += s.addr.str();
            }
            size_t added = 0, removed = 0;
            for (const auto& a : after) added += std::find(before.begin(), before.end(), a) == before.end();
            for (const auto& b : before) removed += std::find(after.begin(), after.end(), b) == after.end();
            spdlog::info("configuration reloaded from {}: {} client interfaces ({} added, {} removed), servers {}",
                         opt_.config_path, after.size(), added, removed, servers);
        }
    }
    if (!opt_.write_path.empty()) {
        if (!open_write(err)) spdlog::error("--write: reopening {}: {}", opt_.write_path, err);
        else spdlog::info("--write: reopened {}", opt_.write_path);
    }
    notify_.ready("relaying on " + std::to_string(engine_->config().ports.size()) + " client interfaces");
}

int RelayDaemon::run() {
    std::string err;
    log_debug_ = spdlog::should_log(spdlog::level::debug);
    // Everything that needs privileges is opened first; then the process drops them.
    if (int c = capture::missing_capability({capture::kCapNetRaw, capture::kCapNetBindService}); c >= 0) {
        spdlog::error("regrelay relay needs {} ({}): run it as root or grant the capability", capture::capability_name(c),
                      c == capture::kCapNetRaw ? "to capture client interfaces" : "to bind UDP port 547");
        return 1;
    }
    if (!take_locks(opt_.engine, err)) {
        spdlog::error("{}", err);
        return 1;
    }
    const int sfd = capture::control_signal_fd();
    if (!sock_.open(dhcp6::kPortServer, opt_.rcvbuf_bytes, err)) {
        spdlog::error("server socket: {}", err);
        return 1;
    }
    if (!monitor_.open(err)) {
        spdlog::error("{}", err);
        return 1;
    }
    now_ = capture::monotonic_ns();
    set_engine(opt_.engine, false);
    rebuild_servers();
    std::vector<std::string> names;
    for (const auto& p : engine_->config().ports) names.push_back(p.name);
    io_.resize(names.size());
    if (!opt_.write_path.empty() && !open_write(err)) {
        spdlog::error("--write: {}", err);
        return 1;
    }
    tracker_.set_names(names, now_);
    after_sync();

    capture::DropResult dr;
    if (!capture::drop_privileges(opt_.user, {capture::kCapNetRaw}, dr, err)) {
        spdlog::error("dropping privileges: {}", err);
        return 1;
    }
    if (dr.dropped)
        spdlog::info("dropped privileges to user {} (uid {}, gid {}), keeping {}", dr.user, dr.uid, dr.gid,
                     capture::capability_name(capture::kCapNetRaw));
    notify_.ready("relaying on " + std::to_string(engine_->config().ports.size()) + " client interfaces");

    std::vector<pollfd> pfds;
    std::vector<size_t> pfd_port;  // pfds index -> port index
    uint64_t next_resync = now_ + kResyncInterval;
    bool running = true;
    while (running) {
        // Poll set: signals, rtnetlink, the server socket, then every open capture.
        pfds.clear();
        pfd_port.clear();
        pfds.push_back({sfd, POLLIN, 0});
        pfds.push_back({monitor_.fd(), POLLIN, 0});
        pfds.push_back({sock_.fd(), POLLIN, 0});
        for (size_t i = 0; i < tracker_.ports().size(); ++i)
            if (tracker_.ports()[i].open()) {
                pfds.push_back({tracker_.ports()[i].src->selectable_fd(), POLLIN, 0});
                pfd_port.push_back(i);
            }
        int timeout = 1000;
        if (uint64_t r = tracker_.next_retry_ns(); r) {
            const uint64_t t = capture::monotonic_ns();
            timeout = r <= t ? 0 : int(std::min<uint64_t>((r - t) / 1000000 + 1, 1000));
        }
        timeout = notify_.poll_timeout_ms(capture::monotonic_ns(), timeout);
        int n = ::poll(pfds.data(), pfds.size(), timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            spdlog::error("poll: {}", strerror(errno));
            break;
        }
        now_ = capture::monotonic_ns();
        engine_->advance(now_);
        notify_.tick(now_);  // WATCHDOG=1 while the loop turns

        if (pfds[0].revents & POLLIN) {
            capture::Controls c = capture::read_control(sfd);
            if (c.report) spdlog::info("counters:\n{}", report());
            if (c.reload) reload();
            if (c.stop) {
                spdlog::info("{} received, stopping", c.stop_signal);
                running = false;
                break;
            }
        }
        if (pfds[1].revents & POLLIN) {
            auto ch = monitor_.drain();
            if (ch.any()) {
                tracker_.apply(ch, now_);
                after_sync();
                continue;  // the poll set changed
            }
        }
        if (pfds[2].revents & POLLERR) read_socket_errors();
        // Captures in error (a flapped link keeps reporting POLLERR): close and reopen.
        bool changed = false;
        for (size_t k = 3; k < pfds.size(); ++k)
            if (pfds[k].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                tracker_.capture_failed(pfd_port[k - 3], "the socket reported an error (link down?)", now_);
                changed = true;
            }
        if (changed) {
            after_sync();
            continue;
        }
        // Bounded batches per source, the server side first in every round, until every
        // source is drained or the round limit sends us back to poll.
        std::vector<bool> busy(tracker_.ports().size(), false);
        for (size_t k = 3; k < pfds.size(); ++k)
            if (pfds[k].revents & POLLIN) busy[pfd_port[k - 3]] = true;
        bool server_busy = (pfds[2].revents & POLLIN) != 0;
        for (int round = 0; round < kMaxRounds; ++round) {
            bool more = false;
            if (server_busy || round > 0) {
                server_busy = serve_server() == kBatch;
                more |= server_busy;
            }
            for (size_t i = 0; i < busy.size() && i < tracker_.ports().size(); ++i) {
                if (!busy[i]) continue;
                busy[i] = serve_port(i) == kBatch;
                more |= busy[i];
            }
            if (!more) break;
        }
        if (now_ >= next_resync || (tracker_.next_retry_ns() && tracker_.next_retry_ns() <= now_)) {
            tracker_.sync_all(now_);
            after_sync();
            next_resync = now_ + kResyncInterval;
        }
        for (const auto& line : engine_->flood_report(now_)) spdlog::warn("{}", line);
        if (sink_) sink_->flush();
    }
    notify_.stopping();
    for (const auto& line : engine_->flood_report(now_, true)) spdlog::warn("{}", line);
    spdlog::info("counters at exit:\n{}", report());
    tracker_.set_names({}, now_);
    ::close(sfd);
    return 0;
}

}  // namespace

int run_daemon(DaemonOptions opt) {
    if (opt.fixed_link_address.size() != opt.engine.ports.size()) opt.fixed_link_address.resize(opt.engine.ports.size());
    RelayDaemon d(std::move(opt));
    return d.run();
}

}  // namespace regrelay::relay
