#include "relay/daemon.h"

#include <net/if.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
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
#include "capture/shared_capture.h"
#include "capture/udp_socket.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/trail.h"
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
// Under load the loop sleeps this long between wake-ups and then takes what came meanwhile in one
// go (capture::WakeCoalescer): fewer, fuller wake-ups; a message waits at most this much more.
// 500 us: at 50,000 messages/s CPU per message halves (docs/benchmarks.md) and p99 latency keeps
// room under 2 ms.
constexpr uint64_t kHoldNs = 500000;
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
    uint64_t gso_sent = 0;  // of `sent`: inside UDP GSO sends
    bool gso = false;       // --udp-gso chose it for this server (its connected socket)
    std::string gso_why;    // the reason last logged
    std::string gso_refused_if;  // the kernel refused GSO out of this interface: off while the route uses it
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
    bool open_trail(std::string& err);
    // The trail record of a message that was sent (obs/trail.h).
    void write_trail(const Actions& a, const std::optional<uint16_t>& vlan);

    // Interfaces.
    bool open_port(size_t idx, capture::LivePort& p, const capture::Interface& itf, std::string& err);
    void port_facts(size_t idx, capture::LivePort& p, const capture::Interface& itf);
    void after_sync();
    // The client interfaces now: the named ones, then every interface matching a glob.
    std::vector<std::string> wanted_ports(const std::vector<capture::Interface>& all) const;
    // Brings the engine, the tracker, the locks and the per-port state to these names (counters
    // and captures kept by name); logs each port added or removed once.
    // `all` is the interface list the names were chosen from.
    void set_ports(const std::vector<std::string>& names, const std::vector<capture::Interface>& all);
    // Follows the globs: set_ports when the matching interfaces in `all` changed. True if they did.
    bool follow_globs(const std::vector<capture::Interface>& all);

    // Packets.
    size_t serve_port(size_t i);
    // --capture shared: the frames of every client interface from the one socket, up to `max`.
    size_t serve_shared(size_t max);
    std::unique_ptr<capture::SharedCapture> shared_;  // opened with the first port
    capture::SharedCapture::Route route_;  // shared: ifindex -> port, sorted, per wake-up
    // The frames of one batch, copied: an action's message (the log line, the trail and --write
    // records, all written after the batch's sends) is a view of its frame, and a capture's
    // buffer holds one frame at a time (libpcap's pcap_next_ex on a ring copies each frame into
    // the same buffer; the shared ring hands its blocks back). Reused: no allocation once warm.
    std::vector<std::vector<uint8_t>> batch_frames_ = std::vector<std::vector<uint8_t>>(kBatch);
    // One client frame into acts_[used] (serve_port, serve_shared).
    void take_frame(size_t port, const capture::Packet& pkt, int linktype, size_t used);
    size_t serve_server();
    void queue_sends(size_t action, const Actions& a);
    void flush_sends(size_t used);
    void read_socket_errors();
    std::string report() const;
    ServerStats& server_stats(const Ip6Addr& a);
    // /metrics: the counters copied for the HTTP thread, at most every 250 ms.
    int metrics_tick(int timeout_ms);
    void publish_metrics();

    DaemonOptions opt_;
    std::unique_ptr<Engine> engine_;
    capture::PortTracker tracker_;
    std::vector<PortIo> io_;  // parallel to tracker_.ports()
    capture::PortSelection sel_;          // --client-iface: names and globs
    std::vector<bool> fixed_;             // per port: --link-address given (not followed)
    std::vector<std::string> lock_failed_;  // glob matches served by another instance (logged once)
    capture::UdpSocket sock_;
    capture::LinkMonitor monitor_;
    capture::InstanceLocks locks_;
    capture::Notifier notify_;  // systemd Type=notify (no-op without NOTIFY_SOCKET)
    std::vector<unsigned> filtered_ifindexes_;
    unsigned upstream_ifindex_ = 0;
    std::vector<ServerStats> servers_;
    std::unique_ptr<capture::PacketSink> sink_;
    std::unique_ptr<Recorder> rec_;
    obs::TrailWriter trail_;  // --trail
    uint64_t record_errors_ = 0;  // of recorders replaced since
    std::unique_ptr<obs::MetricsServer> metrics_;  // --metrics-listen
    uint64_t next_metrics_ = 0;
    bool log_debug_ = false;
    uint64_t now_ = 0;

    std::vector<Actions> acts_ = std::vector<Actions>(kBatch);
    std::vector<std::optional<uint16_t>> vlans_ = std::vector<std::optional<uint16_t>>(kBatch);  // for the trail
    std::vector<capture::Datagram> out_, in_;
    std::vector<size_t> first_out_ = std::vector<size_t>(kBatch);  // per action: its first datagram in out_
    std::vector<capture::Datagram> go_;  // the datagrams of out_ that can be sent (reused: no allocation per batch)
    std::vector<size_t> go_at_;          // their index in out_
    std::vector<bool> busy_;             // per port: a full batch was read in the last round
    // Without --source-address: per server, the source the kernel's route gives it (:: = let the
    // kernel choose per datagram). Set as each Relay-forward's source, it spares the kernel its
    // source selection on every send (a tenth of the relay's CPU per message, bench/README.md).
    // Refreshed by after_sync() (address changes, every resync); forgotten after a failed send.
    std::vector<std::pair<Ip6Addr, Ip6Addr>> upstream_src_;
    // Replies to clients: per client interface and destination /64, the source the kernel's
    // route gives (looked up once, then set on each reply: no source selection per datagram,
    // a tenth of the reply path's CPU). Source selection ranks a client interface's addresses
    // by their prefix, at most /64 long, shared by every destination of one /64, so one lookup
    // per /64 gives what the kernel would choose for each. Cleared by after_sync() (address
    // changes, every resync) and after a failed send on the interface; bounded.
    struct ReplySource {
        unsigned ifindex = 0;
        std::array<uint8_t, 8> prefix{};
        Ip6Addr src;  // :: when the lookup failed: the kernel chooses
    };
    std::vector<ReplySource> reply_src_;
    static constexpr size_t kReplySources = 256;
    Ip6Addr reply_source(unsigned ifindex, const Ip6Addr& dst) {
        std::array<uint8_t, 8> pfx;
        std::memcpy(pfx.data(), dst.b.data(), 8);
        for (const auto& r : reply_src_)
            if (r.ifindex == ifindex && r.prefix == pfx) return r.src;
        if (reply_src_.size() >= kReplySources) reply_src_.clear();
        ReplySource r{ifindex, pfx, {}};
        if (auto a = capture::route_source(dst, ifindex)) r.src = *a;
        reply_src_.push_back(r);
        return r.src;
    }
    // --udp-gso: chosen per server's connected socket at each sync (capture/offload.h);
    // check_gso() notices a peer the kernel made turn it off.
    bool gso_wanted_ = false;  // some peer has GSO on
    void choose_gso();
    void check_gso();
    Ip6Addr upstream_source(const Ip6Addr& dst) const {
        for (const auto& [d, src] : upstream_src_)
            if (d == dst) return src;
        return Ip6Addr{};
    }
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
        else next.emplace_back().addr = d;
    }
    servers_ = std::move(next);
}

ServerStats& RelayDaemon::server_stats(const Ip6Addr& a) {
    for (auto& s : servers_)
        if (s.addr == a) return s;
    servers_.emplace_back().addr = a;
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

bool RelayDaemon::open_trail(std::string& err) {
    if (!trail_.open(opt_.trail_path, err)) return false;
    return true;
}

void RelayDaemon::write_trail(const Actions& a, const std::optional<uint16_t>& vlan) {
    const bool forward = a.sends.front().port == kUpstream;
    obs::TrailContext c;
    if (forward && a.msg_type == dhcp6::msg::kAddrRegInform) c.kind = obs::TrailKind::kInform;
    else if (!forward && a.msg_type == dhcp6::msg::kAddrRegReply) c.kind = obs::TrailKind::kReply;
    else return;
    if (a.port < 0 || size_t(a.port) >= engine_->config().ports.size()) return;
    const capture::Timestamp t = capture::now();
    c.sec = t.sec;
    c.nsec = t.nsec;
    c.port = engine_->config().ports[size_t(a.port)].name;
    if (forward) {
        c.vlan = vlan;
        c.mac = a.client_mac;
    }
    c.peer = a.peer;
    c.xid = a.xid;
    c.message = a.message;
    trail_.write(obs::trail_lines(c), now_);
}

bool RelayDaemon::open_port(size_t idx, capture::LivePort& p, const capture::Interface& itf, std::string& err) {
    if (opt_.shared_capture) {
        // One socket for every client interface, opened with the first (its filter compiled on
        // that interface's live handle); a port's capture is its membership in it.
        if (!shared_) {
            capture::SharedOptions so;
            so.filter = client_filter();
            shared_ = capture::SharedCapture::open(p.name, so, err);
            if (!shared_) err = "shared capture: " + err;
            else spdlog::info("capture: one shared TPACKET_V3 socket for every client interface (--capture shared)");
        }
        if (shared_) p.src = shared_->membership(itf.index, p.name);
    } else {
        capture::LiveOptions lo;
        lo.filter = client_filter();
        lo.buffer_bytes = capture::ring_bytes_per_port(engine_->config().ports.size());
        lo.timeout_ms = 10;
        lo.nonblocking = true;
        p.src = capture::open_live(p.name, lo, err);
    }
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
    if (!fixed_[idx]) next.link_address = itf.routable_address().value_or(Ip6Addr{});
    next.link_local = itf.link_local().value_or(Ip6Addr{});
    next.mac = itf.mac.value_or(MacAddr{});
    PortIo& io = io_[idx];
    if (io.known && next.link_address != io.link_address) {
        const std::string from = io.link_address.is_unspecified() ? std::string("::") : io.link_address.str();
        const std::string to = next.link_address.is_unspecified() ? std::string(":: (Interface-ID only)")
                                                                   : next.link_address.str();
        obs::log_event(spdlog::level::info, "interface_readdressed",
                       {{"interface", p.name}, {"old_link_address", from},
                        {"link_address", next.link_address.is_unspecified() ? std::string("::") : next.link_address.str()}},
                       fmt::format("interface {}: link-address {} -> {}", p.name, from, to));
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
    upstream_src_.clear();
    reply_src_.clear();
    std::vector<Ip6Addr> dsts = engine_->config().servers;
    if (dsts.empty()) dsts.push_back(kAllDhcpServers);
    for (const auto& d : dsts)
        if (auto a = capture::route_source(d, d.is_multicast() ? upstream_ifindex_ : 0))
            if (!a->is_unspecified() && (!d.is_multicast() || upstream_ifindex_)) upstream_src_.emplace_back(d, *a);
    // A connected socket per unicast server, from the source its Relay-forwards carry: the
    // kernel then skips the route lookup (and the ancillary data) per datagram.
    std::vector<std::pair<Ip6Addr, Ip6Addr>> peers;
    for (const auto& d : engine_->config().servers) {
        if (d.is_multicast() || d.is_link_local()) continue;
        const Ip6Addr src = engine_->config().source_address.is_unspecified() ? upstream_source(d)
                                                                              : engine_->config().source_address;
        if (!src.is_unspecified() && !src.is_link_local()) peers.emplace_back(d, src);
    }
    std::vector<std::string> perrs;
    sock_.set_peers(peers, perrs);
    for (const auto& e : perrs)  // after the privilege drop port 547 cannot be bound again
        spdlog::debug("server socket: no connected socket ({}): sending through the main socket", e);
    choose_gso();
    rebuild_recorder();
}

void RelayDaemon::choose_gso() {
    gso_wanted_ = false;
    for (ServerStats& st : servers_) {
        const auto& peers = sock_.peers();
        const bool connected =
            std::any_of(peers.begin(), peers.end(), [&](const capture::UdpSocket::Peer& p) { return p.dst == st.addr; });
        capture::GsoChoice c;
        if (!connected) {
            c.why = st.addr.is_multicast() ? "multicast" : "no connected socket";
        } else {
            std::string err, name;
            std::optional<capture::Offloads> f;
            if (auto oif = capture::route_interface(st.addr, err)) {
                char buf[IF_NAMESIZE] = {};
                if (::if_indextoname(*oif, buf)) name = buf;
                if (!name.empty()) f = capture::read_offloads(name, err);
            }
            c = capture::choose_gso(opt_.udp_gso, name, f);
            if (!f && opt_.udp_gso == capture::GsoMode::Auto && !err.empty()) c.why += " (" + err + ")";
            if (c.on && !st.gso_refused_if.empty() && st.gso_refused_if == name) {
                c.on = false;  // refused out of this interface before: not again every resync
                c.why = st.gso_why;
            } else if (st.gso_refused_if != name) {
                st.gso_refused_if.clear();
            }
            sock_.set_gso(st.addr, c.on);
        }
        gso_wanted_ |= c.on;
        if (c.on != st.gso || (connected && c.why != st.gso_why))
            obs::log_event(spdlog::level::info, "udp_gso",
                               {{"server", st.addr.str()}, {"gso", c.on ? "on" : "off"}, {"reason", c.why}},
                           fmt::format("server {}: UDP GSO {}: {}", st.addr.str(), c.on ? "on" : "off", c.why));
        st.gso = c.on;
        st.gso_why = c.why;
    }
}

void RelayDaemon::check_gso() {
    gso_wanted_ = false;
    for (const auto& p : sock_.peers()) {
        gso_wanted_ |= p.gso;
        if (p.gso || p.gso_off_reason.empty()) continue;
        ServerStats& st = server_stats(p.dst);
        if (!st.gso) continue;
        st.gso = false;
        st.gso_why = "the kernel refused a GSO send: " + p.gso_off_reason;
        std::string err;
        char buf[IF_NAMESIZE] = {};
        if (auto oif = capture::route_interface(st.addr, err); oif && ::if_indextoname(*oif, buf)) st.gso_refused_if = buf;
        obs::log_event(spdlog::level::warn, "udp_gso", {{"server", st.addr.str()}, {"gso", "off"}, {"reason", st.gso_why}},
                       fmt::format("server {}: UDP GSO off: {}; datagram by datagram while the route leaves by this interface",
                                   st.addr.str(), st.gso_why));
    }
}

std::vector<std::string> RelayDaemon::wanted_ports(const std::vector<capture::Interface>& all) const {
    if (!sel_.dynamic()) return sel_.names;
    return capture::select_ports(sel_, all, {});
}

bool RelayDaemon::follow_globs(const std::vector<capture::Interface>& present) {
    if (!sel_.dynamic()) return false;
    const std::vector<std::string> all = wanted_ports(present);
    std::vector<std::string> want = all;
    std::vector<std::string> have;
    for (const auto& p : engine_->config().ports) have.push_back(p.name);
    // A match another instance serves stays out (logged once) until it goes away.
    std::erase_if(want, [&](const std::string& n) {
        return std::find(lock_failed_.begin(), lock_failed_.end(), n) != lock_failed_.end() &&
               !locks_.holds("relay", n);
    });
    if (want == have) return false;
    set_ports(all, present);
    return true;
}

void RelayDaemon::set_ports(const std::vector<std::string>& names, const std::vector<capture::Interface>& all) {
    std::vector<std::string> before;
    for (const auto& p : engine_->config().ports) before.push_back(p.name);
    auto named = [&](const std::string& n) {
        return std::find(sel_.names.begin(), sel_.names.end(), n) != sel_.names.end();
    };
    std::vector<std::string> kept;
    for (const auto& n : names) {
        if (!named(n) && !locks_.holds("relay", n)) {  // the named ones were locked with the configuration
            std::string err;
            if (!locks_.acquire("relay", n, err)) {
                if (std::find(lock_failed_.begin(), lock_failed_.end(), n) == lock_failed_.end()) {
                    obs::log_event(spdlog::level::warn, "interface_skipped", {{"interface", n}, {"error", err}},
                                   fmt::format("interface {}: matches a --client-iface pattern but {}; not relayed",
                                               n, err));
                    lock_failed_.push_back(n);
                }
                continue;
            }
        }
        kept.push_back(n);
    }
    std::erase_if(lock_failed_, [&](const std::string& n) {
        return std::find(names.begin(), names.end(), n) == names.end();
    });
    for (const auto& b : before)
        if (!named(b) && std::find(kept.begin(), kept.end(), b) == kept.end()) locks_.release("relay", b);
    capture::log_port_diff("relay", sel_, capture::diff_ports(before, kept));

    Config cfg = opt_.engine;
    cfg.ports.clear();
    std::vector<bool> fixed;
    for (const auto& n : kept) {
        ClientPort p;
        p.name = n;
        bool f = false;
        for (size_t i = 0; i < opt_.engine.ports.size(); ++i)
            if (opt_.engine.ports[i].name == n) {
                p = opt_.engine.ports[i];
                f = i < opt_.fixed_link_address.size() && opt_.fixed_link_address[i];
            }
        if (!f)
            for (const auto& [ifn, addr] : opt_.glob_link_addresses)
                if (ifn == n) {
                    p.link_address = addr;
                    f = true;
                }
        cfg.ports.push_back(std::move(p));
        fixed.push_back(f);
    }
    // PortIo follows the ports by name, as the tracker and the engine's counters do.
    std::vector<PortIo> io(kept.size());
    for (size_t i = 0; i < kept.size(); ++i)
        for (size_t j = 0; j < before.size() && j < io_.size(); ++j)
            if (before[j] == kept[i]) std::swap(io[i], io_[j]);
    io_ = std::move(io);
    fixed_ = std::move(fixed);
    set_engine(std::move(cfg), true);
    tracker_.set_names(kept, now_, &all);
    after_sync();
}

void RelayDaemon::queue_sends(size_t action, const Actions& a) {
    first_out_[action] = out_.size();  // an action's datagrams are contiguous in out_
    const Config& cfg = engine_->config();
    for (size_t k = 0; k < a.sends.size(); ++k) {
        const Send& s = a.sends[k];
        capture::Datagram d;
        d.peer = s.dst;
        d.peer_port = s.dport;
        d.hop_limit = s.hop_limit;
        d.data = a.payload;
        if (s.port == kUpstream) {
            d.local = cfg.source_address.is_unspecified() ? upstream_source(s.dst) : cfg.source_address;
            d.ifindex = s.dst.is_multicast() ? upstream_ifindex_ : 0;
            if (s.dst.is_multicast() && d.ifindex == 0) d.error = ENODEV;  // --upstream-iface absent
        } else {
            d.ifindex = tracker_.ports()[size_t(s.port)].ifindex;
            if (d.ifindex == 0) d.error = ENODEV;  // the client interface is absent
            else if (!s.dst.is_multicast()) d.local = reply_source(d.ifindex, s.dst);
        }
        out_.push_back(d);
    }
}

// Sends what the batch's actions queued, then logs each action as it really went: sends that
// failed are taken out of the action before it is logged and recorded.
void RelayDaemon::flush_sends(size_t used) {
    if (!out_.empty()) {
        // Datagrams for an absent interface were failed with ENODEV when queued.
        go_.clear();
        go_at_.clear();
        for (size_t i = 0; i < out_.size(); ++i)
            if (out_[i].error == 0) {
                go_.push_back(out_[i]);
                go_at_.push_back(i);
            }
        sock_.send_batch(go_);
        for (size_t i = 0; i < go_.size(); ++i) {
            out_[go_at_[i]].error = go_[i].error;
            out_[go_at_[i]].gso = go_[i].gso;
        }
        if (gso_wanted_) check_gso();
    }
    for (size_t ai = 0; ai < used; ++ai) {
        Actions& a = acts_[ai];
        if (!a.sends.empty()) {
            // Take the failed sends out of the action, in place (no allocation per packet).
            const size_t base = first_out_[ai];
            const int first_error = out_[base].error;
            size_t kept = 0;
            for (size_t k = 0; k < a.sends.size(); ++k) {
                const Send s = a.sends[k];
                const int e = out_[base + k].error;
                if (s.port == kUpstream) {
                    ServerStats& st = server_stats(s.dst);
                    if (e == 0) {
                        ++st.sent;
                        st.gso_sent += out_[base + k].gso;
                    } else {
                        ++st.failed;
                        // The cached source may be gone: the kernel chooses until the next sync.
                        for (auto& [d, src] : upstream_src_)
                            if (d == s.dst) src = Ip6Addr{};
                        st.last_error = errno_text(e);
                        uint64_t since = 0;
                        if (st.send_log.allow(now_, since))
                            obs::log_event(spdlog::level::err, "send_error",
                                           {{"server", s.dst.str()}, {"error", errno_text(e)}, {"not_logged", since}},
                                           fmt::format("sending to server {} failed: {}{}", s.dst.str(), errno_text(e),
                                                       since ? " (" + std::to_string(since) + " more failures not logged)"
                                                             : ""));
                    }
                } else if (e != 0) {
                    const unsigned ifx = tracker_.ports()[size_t(s.port)].ifindex;
                    std::erase_if(reply_src_, [ifx](const ReplySource& r) { return r.ifindex == ifx; });
                    PortIo& io = io_[size_t(s.port)];
                    ++io.send_errors;
                    io.last_error = errno_text(e);
                    uint64_t since = 0;
                    if (io.log.allow(now_, since))
                        obs::log_event(spdlog::level::err, "send_error",
                                       {{"client", s.dst.str()}, {"interface", tracker_.ports()[size_t(s.port)].name},
                                        {"error", errno_text(e)}, {"not_logged", since}},
                                       fmt::format("sending to client {} on {} failed: {}{}", s.dst.str(),
                                                   tracker_.ports()[size_t(s.port)].name, errno_text(e),
                                                   since ? " (" + std::to_string(since) + " more failures not logged)"
                                                         : ""));
                }
                if (e == 0) a.sends[kept++] = s;
            }
            if (kept == 0) {
                if (log_debug_)
                    spdlog::debug("{} {} xid 0x{:06x} peer {} NOT sent: {}",
                                  a.sends.front().port == kUpstream ? "relay-forward" : "relay-reply",
                                  dhcp6::msg_type_label(a.msg_type), a.xid, a.peer.str(), errno_text(first_error));
                a.sends.clear();
                continue;  // not relayed: no relay-forward/ADDR-REG-INFORM line, nothing recorded
            }
            a.sends.resize(kept);
        }
        if (a.drop != Drop::kNone || a.msg_type == dhcp6::msg::kAddrRegInform || log_debug_)
            log_actions(engine_->config(), a);
        if (trail_.is_open() && !a.sends.empty()) write_trail(a, vlans_[ai]);
        if (rec_ && !a.sends.empty()) rec_->sent(capture::now(), a);
    }
    out_.clear();
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
        batch_frames_[used].assign(pkt.data.begin(), pkt.data.end());  // see batch_frames_
        pkt.data = {batch_frames_[used].data(), batch_frames_[used].size()};
        take_frame(i, pkt, p.src->linktype(), used);
        ++used;
    }
    if (used) tracker_.capture_ok(i);
    flush_sends(used);
    return used;
}

void RelayDaemon::take_frame(size_t i, const capture::Packet& pkt, int linktype, size_t used) {
    Actions& a = acts_[used];
    engine_->on_client_frame(int(i), pkt.data, linktype, a);
    vlans_[used].reset();
    if (trail_.is_open() && a.drop == Drop::kNone && a.msg_type == dhcp6::msg::kAddrRegInform) {
        frame::Frame f;  // the VLAN for the trail: parsed again only for what it records
        if (frame::parse(pkt.data, linktype, f, false).ok() && f.n_vlans) vlans_[used] = f.vlan_id(0);
    }
    if (rec_) rec_->received_frame(pkt.ts, int(i), linktype, pkt.data);
    queue_sends(used, a);
}

size_t RelayDaemon::serve_shared(size_t max) {
    capture::SharedFrame f;
    capture::Packet pkt;
    size_t k = 0, used = 0, port = 0;
    for (; k < max && shared_->next_routed(route_, f, port) == capture::ReadStatus::kPacket; ++k) {
        batch_frames_[used].assign(f.data.begin(), f.data.end());  // see batch_frames_
        pkt.ts = f.ts;
        pkt.data = {batch_frames_[used].data(), batch_frames_[used].size()};
        pkt.wire_len = f.wire_len;
        take_frame(port, pkt, shared_->linktype(), used);
        tracker_.capture_ok(port);
        if (++used == kBatch) {
            flush_sends(used);
            used = 0;
        }
    }
    flush_sends(used);
    return k;
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
        vlans_[used].reset();
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
                obs::log_event(spdlog::level::err, "icmp_error",
                               {{"server", e.dst.str()}, {"error", st.last_error}, {"errno", errno_text(e.error)},
                                {"not_logged", since}},
                               fmt::format("server {}: {} ({}){}", e.dst.str(), st.last_error, errno_text(e.error),
                                           since ? " (" + std::to_string(since) + " more not logged)" : ""));
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
    if (shared_) kd += " shared=" + std::to_string(shared_->kernel_drops());
    if (!kd.empty()) r += "capture kernel-drops" + kd + "\n";
    r += tracker_.report();
    for (const auto& s : servers_)
        r += "server " + s.addr.str() + " sent " + std::to_string(s.sent) + " send-errors " + std::to_string(s.failed) +
             " icmp-errors " + std::to_string(s.icmp_errors) +
             (s.gso || s.gso_sent ? " gso-sent " + std::to_string(s.gso_sent) + (s.gso ? " (gso on)" : "") : std::string()) +
             (s.last_error.empty() ? std::string() : " (last: " + s.last_error + ")") + "\n";
    for (size_t i = 0; i < io_.size() && i < tracker_.ports().size(); ++i)
        if (io_[i].send_errors)
            r += "client " + tracker_.ports()[i].name + " send-errors " + std::to_string(io_[i].send_errors) +
                 " (last: " + io_[i].last_error + ")\n";
    const uint64_t rec_errors = record_errors_ + (rec_ ? rec_->errors() : 0);
    if (rec_errors) r += "--write: " + std::to_string(rec_errors) + " frames not recorded\n";
    if (trail_.is_open())
        r += "--trail: " + std::to_string(trail_.written()) + " records written, " + std::to_string(trail_.errors()) +
             " failed\n";
    return r;
}

// Publishes a snapshot when one is due, else brings the poll timeout down to when it is, so
// /metrics is never more than ~250 ms behind the counters (and a quiet loop wakes no more often).
int RelayDaemon::metrics_tick(int timeout_ms) {
    const uint64_t t = capture::monotonic_ns();
    if (t < next_metrics_) return std::min(timeout_ms, int((next_metrics_ - t) / 1000000) + 1);
    publish_metrics();
    next_metrics_ = t + obs::kPublishIntervalNs;
    return timeout_ms;
}

void RelayDaemon::publish_metrics() {
    obs::Snapshot& s = metrics_->next();
    const Config& cfg = engine_->config();
    s.drop_reasons.clear();
    for (size_t d = 1; d < size_t(Drop::kCount_); ++d) s.drop_reasons.push_back(drop_name(Drop(d)));
    s.ports.resize(cfg.ports.size() + 1);
    for (size_t i = 0; i <= cfg.ports.size(); ++i) {
        const bool upstream = i == cfg.ports.size();
        const PortCounters& c = engine_->counters(upstream ? kUpstream : int(i));
        obs::PortMetrics& m = s.ports[i];
        m.name = upstream ? std::string_view("upstream") : std::string_view(cfg.ports[i].name);
        m.frames = c.received;
        m.received = c.received_by_type;
        m.relayed = c.forwarded_by_type;
        m.replies = c.replied_by_type;
        m.drops.assign(c.drops.begin() + 1, c.drops.end());
        m.is_interface = !upstream;
        m.up = false;
        m.events = {};
        m.kernel_drops.reset();
        m.send_errors.reset();
        if (upstream || i >= tracker_.ports().size()) continue;
        const capture::LivePort& p = tracker_.ports()[i];
        m.up = p.state == capture::LinkState::kUp;
        m.events = {p.events.up, p.events.down, p.events.absent, p.events.recreated, p.events.readdressed,
                    p.events.capture_errors};
        if (uint64_t d = 0; p.src && p.src->kernel_drops(d)) m.kernel_drops = d;
        if (i < io_.size()) m.send_errors = io_[i].send_errors;
    }
    s.servers.resize(servers_.size());
    for (size_t i = 0; i < servers_.size(); ++i)
        s.servers[i] = {servers_[i].addr.str(), servers_[i].sent,     servers_[i].failed,
                        servers_[i].icmp_errors, servers_[i].gso_sent, servers_[i].gso};
    s.write_errors = record_errors_ + (rec_ ? rec_->errors() : 0);
    s.mac_table_capacity = engine_->flood_guard().mac_table().capacity();
    s.mac_table_evictions = engine_->flood_guard().mac_table().evictions();
    metrics_->publish();
}

void RelayDaemon::reload() {
    std::string err;
    notify_.reloading();
    if (!opt_.reload) {
        obs::log_event(spdlog::level::info, "reload", {{"config", ""}}, "SIGHUP: no --config file to reload; reopening files");
    } else {
        DaemonOptions next;
        if (!opt_.reload(next, err) || !take_locks(next.engine, err)) {
            obs::log_event(spdlog::level::err, "reload_failed", {{"config", opt_.config_path}, {"error", err}},
                           fmt::format("reload failed: {}; keeping the running configuration", err));
        } else {
            for (const auto& p : engine_->config().ports) {
                bool kept = false;
                for (const auto& q : next.engine.ports) kept |= q.name == p.name;
                // Glob matches keep their locks here; set_ports releases those no longer wanted.
                if (!kept && std::find(sel_.names.begin(), sel_.names.end(), p.name) != sel_.names.end())
                    locks_.release("relay", p.name);
            }
            std::vector<std::string> before, after;
            for (const auto& p : engine_->config().ports) before.push_back(p.name);
            for (const auto& p : next.engine.ports) after.push_back(p.name);
            next.reload = std::move(opt_.reload);
            next.rcvbuf_bytes = opt_.rcvbuf_bytes;
            next.user = opt_.user;  // the process has already switched user
            if (next.metrics_listen != opt_.metrics_listen)
                spdlog::warn("reload: --metrics-listen changed to '{}': not applied, still '{}' (restart to change it)",
                             next.metrics_listen, opt_.metrics_listen);
            next.metrics_listen = opt_.metrics_listen;  // bound before the privilege drop
            if (next.log_format != opt_.log_format)
                spdlog::warn("reload: --log-format changed to '{}': not applied, still '{}' (restart to change it)",
                             next.log_format, opt_.log_format);
            next.log_format = opt_.log_format;  // the logger is set up once
            if (next.shared_capture != opt_.shared_capture)
                spdlog::warn("reload: --capture changed: not applied, still {} (restart to change it)",
                             opt_.shared_capture ? "shared" : "per-interface");
            next.shared_capture = opt_.shared_capture;
            const bool trail_moved = next.trail_path != opt_.trail_path;
            opt_ = std::move(next);
            if (trail_moved && opt_.trail_path.empty()) trail_.close();
            if (auto lvl = spdlog::level::from_str(opt_.log_level); lvl != spdlog::level::off || opt_.log_level == "off")
                spdlog::set_level(lvl);
            log_debug_ = spdlog::should_log(spdlog::level::debug);
            sel_.names = after;
            sel_.globs = opt_.client_globs;
            {
                const auto all = capture::list_interfaces();
                set_ports(wanted_ports(all), all);
            }
            after.clear();
            for (const auto& p : engine_->config().ports) after.push_back(p.name);
            rebuild_servers();
            std::string servers;
            for (const auto& s : servers_) {
                if (!servers.empty()) servers += ',';
                servers += s.addr.str();
            }
            size_t added = 0, removed = 0;
            for (const auto& a : after) added += std::find(before.begin(), before.end(), a) == before.end();
            for (const auto& b : before) removed += std::find(after.begin(), after.end(), b) == after.end();
            obs::log_event(spdlog::level::info, "reload",
                           {{"config", opt_.config_path}, {"interfaces", after.size()}, {"added", added},
                            {"removed", removed}, {"servers", servers}},
                           fmt::format("configuration reloaded from {}: {} client interfaces ({} added, {} removed), "
                                       "servers {}",
                                       opt_.config_path, after.size(), added, removed, servers));
        }
    }
    if (!opt_.write_path.empty()) {
        if (!open_write(err)) spdlog::error("--write: reopening {}: {}", opt_.write_path, err);
        else spdlog::info("--write: reopened {}", opt_.write_path);
    }
    if (!opt_.trail_path.empty()) {
        if (!open_trail(err)) spdlog::error("--trail: reopening {}: {}", opt_.trail_path, err);
        else spdlog::info("--trail: reopened {}", opt_.trail_path);
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
    for (const auto& p : opt_.engine.ports) sel_.names.push_back(p.name);
    sel_.globs = opt_.client_globs;
    fixed_ = opt_.fixed_link_address;
    set_engine(opt_.engine, false);
    rebuild_servers();
    io_.resize(engine_->config().ports.size());
    if (!opt_.write_path.empty() && !open_write(err)) {
        spdlog::error("--write: {}", err);
        return 1;
    }

    {
        const auto all = capture::list_interfaces();
        set_ports(wanted_ports(all), all);
    }
    // /metrics: bound now (a port below 1024 would need privileges), served by a thread started
    // after the drop (capabilities are per thread: it must not inherit them).
    if (!opt_.metrics_listen.empty()) {
        auto la = obs::parse_listen(opt_.metrics_listen, err);
        metrics_ = std::make_unique<obs::MetricsServer>(obs::process_info("relay"));
        if (!la || !metrics_->bind(*la, err)) {
            spdlog::error("--metrics-listen {}: {}", opt_.metrics_listen, err);
            return 1;
        }
    }

    capture::DropResult dr;
    if (!capture::drop_privileges(opt_.user, {capture::kCapNetRaw}, dr, err)) {
        spdlog::error("dropping privileges: {}", err);
        return 1;
    }
    // The trail is opened as the user the daemon runs as, so SIGHUP can reopen and recreate it
    // (its directory must be writable by that user: /var/log/regrelay, LogsDirectory= in the units).
    if (!opt_.trail_path.empty() && !open_trail(err)) {
        spdlog::error("--trail: {}", err);
        return 1;
    }
    if (dr.dropped)
        obs::log_event(spdlog::level::info, "privileges_dropped",
                       {{"user", dr.user}, {"uid", dr.uid}, {"gid", dr.gid},
                        {"capabilities", std::vector<std::string>{capture::capability_name(capture::kCapNetRaw)}}},
                       fmt::format("dropped privileges to user {} (uid {}, gid {}), keeping {}", dr.user, dr.uid,
                                   dr.gid, capture::capability_name(capture::kCapNetRaw)));
    if (metrics_) {
        publish_metrics();
        if (!metrics_->start(err)) {
            spdlog::error("--metrics-listen {}: {}", opt_.metrics_listen, err);
            return 1;
        }
        spdlog::info("serving metrics at http://{}/metrics", opt_.metrics_listen);
    }
    {
        std::vector<std::string> ifs, srv;
        for (const auto& p : engine_->config().ports) ifs.push_back(p.name);
        for (const auto& sv : servers_) srv.push_back(sv.addr.str());
        // For json consumers only: text mode has no start line (its lines stay as they were).
        obs::log_event(spdlog::level::info, "start",
                       {{"mode", "relay"}, {"interfaces", ifs}, {"servers", srv}, {"pid", int64_t(::getpid())},
                        {"trail", opt_.trail_path}},
                       "");
    }
    notify_.ready("relaying on " + std::to_string(engine_->config().ports.size()) + " client interfaces");

    std::vector<pollfd> pfds;
    std::vector<size_t> pfd_port;  // pfds index -> port index
    uint64_t next_resync = now_ + kResyncInterval;
    // Shared capture: the ring's block timeout batches the client side's wake-ups already; the
    // hold stays for the server side's.
    capture::WakeCoalescer coalescer(kHoldNs);
    uint64_t hold_until = 0;  // under load: sleep until then, then poll without blocking
    bool running = true;
    while (running) {
        // Poll set: signals, rtnetlink, the server socket, then every open capture.
        pfds.clear();
        pfd_port.clear();
        pfds.push_back({sfd, POLLIN, 0});
        pfds.push_back({monitor_.fd(), POLLIN, 0});
        pfds.push_back({sock_.fd(), POLLIN, 0});
        route_.clear();
        for (size_t i = 0; i < tracker_.ports().size(); ++i)
            if (tracker_.ports()[i].open()) {
                if (shared_) {
                    route_.emplace_back(tracker_.ports()[i].ifindex, i);
                    continue;
                }
                pfds.push_back({tracker_.ports()[i].src->selectable_fd(), POLLIN, 0});
                pfd_port.push_back(i);
            }
        const size_t peer_base = pfds.size();  // then the server socket's connected peers
        for (const auto& pr : sock_.peers()) pfds.push_back({pr.fd, POLLIN, 0});
        const size_t shared_at = pfds.size();  // then the shared capture, if any
        if (shared_ && !route_.empty()) {
            std::sort(route_.begin(), route_.end());
            pfds.push_back({shared_->fd(), POLLIN, 0});
        }
        int timeout = 1000;
        if (uint64_t r = tracker_.next_retry_ns(); r) {
            const uint64_t t = capture::monotonic_ns();
            timeout = r <= t ? 0 : int(std::min<uint64_t>((r - t) / 1000000 + 1, 1000));
        }
        if (metrics_) timeout = metrics_tick(timeout);
        timeout = notify_.poll_timeout_ms(capture::monotonic_ns(), timeout);
        if (hold_until) {
            capture::sleep_until_ns(hold_until);
            hold_until = 0;
            timeout = 0;
        }
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
            if (c.report) {
                const std::string r = report();
                obs::log_event(spdlog::level::info, "counters", {{"when", "SIGUSR1"}, {"lines", obs::split_lines(r)}},
                               "counters:\n" + r);
            }
            if (c.reload) reload();
            if (c.stop) {
                obs::log_event(spdlog::level::info, "stop", {{"signal", c.stop_signal}},
                               fmt::format("{} received, stopping", c.stop_signal));
                running = false;
                break;
            }
        }
        if (pfds[1].revents & POLLIN) {
            auto ch = monitor_.drain();
            if (ch.any()) {
                // Interfaces matching a glob come and go first, chosen from the same list the
                // ports are then synced with.
                const auto all = capture::list_interfaces();
                follow_globs(all);
                tracker_.apply(ch, now_, &all);
                after_sync();
                continue;  // the poll set changed
            }
        }
        bool server_busy = (pfds[2].revents & POLLIN) != 0;
        bool socket_errors = (pfds[2].revents & POLLERR) != 0;
        for (size_t k = peer_base; k < shared_at; ++k) {
            server_busy |= (pfds[k].revents & POLLIN) != 0;
            socket_errors |= (pfds[k].revents & POLLERR) != 0;
        }
        if (socket_errors) read_socket_errors();
        // Captures in error (a flapped link keeps reporting POLLERR): close and reopen.
        bool changed = false;
        for (size_t k = 3; k < peer_base; ++k)
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
        std::vector<bool>& busy = busy_;
        busy.assign(tracker_.ports().size(), false);
        for (size_t k = 3; k < peer_base; ++k)
            if (pfds[k].revents & POLLIN) busy[pfd_port[k - 3]] = true;
        size_t handled = 0;
        for (int round = 0; round < kMaxRounds; ++round) {
            bool more = false;
            if (server_busy || round > 0) {
                const size_t got = serve_server();
                handled += got;
                server_busy = got == kBatch;
                more |= server_busy;
            }
            for (size_t i = 0; i < busy.size() && i < tracker_.ports().size(); ++i) {
                if (!busy[i]) continue;
                const size_t got = serve_port(i);
                handled += got;
                busy[i] = got == kBatch;
                more |= busy[i];
            }
            if (!more) break;
        }
        if (pfds.size() > shared_at) {
            if (pfds[shared_at].revents & (POLLERR | POLLNVAL))
                spdlog::error("shared capture: the socket reported an error: {}", shared_->take_socket_error());
            else if (pfds[shared_at].revents & POLLIN) {
                handled += serve_shared(kBatch * kMaxRounds);  // about one block's worth
            }
        }
        hold_until = coalescer.after_wake(now_, handled);
        if (now_ >= next_resync || (tracker_.next_retry_ns() && tracker_.next_retry_ns() <= now_)) {
            const auto all = capture::list_interfaces();
            follow_globs(all);
            tracker_.sync_all(now_, &all);
            after_sync();
            next_resync = now_ + kResyncInterval;
        }
        for (const auto& line : engine_->flood_report(now_))
            obs::log_event(spdlog::level::warn, "flood_summary", obs::flood_summary_fields(line), line);
        if (sink_) sink_->flush();
    }
    notify_.stopping();
    for (const auto& line : engine_->flood_report(now_, true))
        obs::log_event(spdlog::level::warn, "flood_summary", obs::flood_summary_fields(line), line);
    {
        const std::string r = report();
        obs::log_event(spdlog::level::info, "counters", {{"when", "exit"}, {"lines", obs::split_lines(r)}}, "counters at exit:\n" + r);
    }
    tracker_.set_names({}, now_);
    ::close(sfd);
    return 0;
}

}  // namespace

int run_daemon(DaemonOptions opt) {
    if (opt.fixed_link_address.size() != opt.engine.ports.size()) opt.fixed_link_address.resize(opt.engine.ports.size());
    if (opt.engine.ports.empty() && opt.client_globs.empty()) {
        spdlog::error("no client interface");
        return 2;
    }
    RelayDaemon d(std::move(opt));
    return d.run();
}

}  // namespace regrelay::relay
