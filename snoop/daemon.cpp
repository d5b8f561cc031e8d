#include "snoop/daemon.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "capture/control.h"
#include "capture/instance.h"
#include "capture/live_ports.h"
#include "capture/netlink.h"
#include "capture/notify.h"
#include "capture/packet_io.h"
#include "capture/privileges.h"
#include "capture/shared_capture.h"
#include "dhcp6/print.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/trail.h"
#include "snoop/filters.h"

namespace regrelay::snoop {

namespace {

const char* role_name(Role r) { return r == Role::kClient ? "client" : r == Role::kUplink ? "uplink" : "trusted"; }

constexpr size_t kBatch = 64;


}  // namespace

void log_actions(const Config& cfg, const Actions& a) {
    using namespace regrelay::dhcp6;
    using obs::Field;
    auto name = [&](int p) { return p < 0 ? std::string("-") : cfg.ports[size_t(p)].name; };
    auto xid_text = [](uint32_t x) { return fmt::format("0x{:06x}", x); };
    if (a.drop != Drop::kNone) {
        if (spdlog::should_log(spdlog::level::debug)) {
            const std::string what = a.msg_type ? msg_type_label(a.msg_type) : "frame";
            std::string why(drop_name(a.drop));
            if (a.drop == Drop::kBadFrame) why.append("/").append(frame::drop_name(a.frame_drop));
            std::vector<Field> f{{"type", what}, {"interface", name(a.port)}, {"reason", why},
                                 {"source", a.peer.str()}};
            if (a.client_mac) f.emplace_back("mac", a.client_mac->str());
            obs::log_event(spdlog::level::debug, "drop", f,
                           fmt::format("drop {} on {}: {} from {}{}", what, name(a.port), why, a.peer.str(),
                                       a.client_mac ? " mac " + a.client_mac->str() : ""));
        }
        return;
    }
    if (!a.emit) return;
    const bool up = cfg.ports[size_t(a.out_port)].role == Role::kUplink;
    if (up && a.msg_type == msg::kAddrRegInform && a.hop_count == 0 && !a.log_suppressed &&
        spdlog::should_log(spdlog::level::info)) {
        // The IA Address(es) the message carries, never the source address in their place.
        std::string duid = "-", addr = "address [malformed message]";
        std::vector<std::string> addrs;
        if (auto m = decode_client(a.message)) {
            if (const Option* o = find_option(m->options, opt::kClientId)) duid = hex(o->data);
            addr = registered_addresses(m->options);
            for (const auto& o : m->options)
                if (o.code == opt::kIaAddr) {
                    auto ia = as_ia_addr(o);
                    addrs.push_back(ia ? ia->addr.str() : std::string("[malformed]"));
                }
        }
        const std::string mac = a.client_mac ? a.client_mac->str() : "-";
        obs::log_event(spdlog::level::info, "addr_reg_inform",
                       {{"addresses", addrs}, {"mac", mac}, {"duid", duid}, {"interface", name(a.port)},
                        {"source", a.peer.str()}, {"xid", xid_text(a.xid)}},
                       fmt::format("ADDR-REG-INFORM {} mac {} duid {} port {} source {} xid 0x{:06x}", addr, mac, duid,
                                   name(a.port), a.peer.str(), a.xid));
    }
    if (spdlog::should_log(spdlog::level::debug)) {
        const std::string what = msg_type_label(a.msg_type);
        if (up) {
            const std::string mac = a.client_mac ? a.client_mac->str() : "-";
            obs::log_event(spdlog::level::debug, "relay_forward",
                           {{"type", what}, {"xid", xid_text(a.xid)}, {"peer", a.peer.str()}, {"mac", mac},
                            {"interface", name(a.port)}, {"hop", unsigned(a.hop_count)}, {"to", name(a.out_port)}},
                           fmt::format("relay-forward {} xid 0x{:06x} peer {} mac {} port {} hop {} to {}", what,
                                       a.xid, a.peer.str(), mac, name(a.port), a.hop_count, name(a.out_port)));
        } else {
            obs::log_event(spdlog::level::debug, "relay_reply",
                           {{"type", what}, {"xid", xid_text(a.xid)}, {"peer", a.peer.str()},
                            {"interface", name(a.out_port)}, {"from", name(a.port)}},
                           fmt::format("relay-reply {} xid 0x{:06x} to {} port {} from {}", what, a.xid, a.peer.str(),
                                       name(a.out_port), name(a.port)));
        }
    }
}

namespace {

constexpr uint64_t kSecond = 1000000000;
constexpr uint64_t kResyncInterval = 30 * kSecond;
constexpr int kMaxRounds = 16;
// Under load the loop sleeps this long between wake-ups and takes what came meanwhile in one go
// (capture::WakeCoalescer, as in relay mode): fewer, fuller wake-ups; a frame waits at most this.
constexpr uint64_t kHoldNs = 500000;

class SnoopDaemon {
public:
    explicit SnoopDaemon(DaemonOptions opt)
        : opt_(std::move(opt)),
          tracker_("snoop", capture::PortHooks{
                                [this](size_t idx, capture::LivePort& p, const capture::Interface& i,
                                       std::string& e) { return open_port(idx, p, i, e); },
                                nullptr}) {}
    int run();
    // Replaces the VLAN membership of the ports named (the others keep theirs), e.g. from the
    // bridge's VLAN table: the engine is rebuilt as on reload, counters adopted, each change
    // logged. False and `err` when the result is unusable (Engine::check): the running engine
    // is kept. A SIGHUP reload starts again from --port-vlan (call this again after it).
    [[maybe_unused]] bool set_port_vlans(const std::vector<std::pair<std::string, PortVlans>>& vlans, std::string& err);

private:
    bool open_port(size_t idx, capture::LivePort& p, const capture::Interface& itf, std::string& err);
    size_t serve(size_t i);
    // --capture shared: the frames of every port from the one socket, up to `max`.
    size_t serve_shared(size_t max);
    // One frame received on port i: the engine, then injection, recording, logs and the trail.
    void handle(size_t i, const capture::Packet& pkt, int lt);
    void record(const capture::Timestamp& ts, unsigned ifindex, uint8_t dir, int linktype, Bytes frame);
    std::string report() const;
    // /metrics: the counters copied for the HTTP thread, at most every 250 ms.
    int metrics_tick(int timeout_ms);
    void publish_metrics();
    bool take_locks(const Config& cfg, std::string& err);
    // --bridge: the client ports now (named ones, then every other port of the bridge) and the
    // bridge's VLAN table; set_ports brings the engine, tracker, locks and filters to them.
    struct Wanted {
        std::vector<std::string> clients;
        std::vector<capture::BridgePort> bridge_ports;
        std::vector<capture::Interface> present;  // the list the clients were chosen from
    };
    Wanted wanted_ports();
    void set_ports(const Wanted& w);
    bool follow_bridge(const Wanted& w);  // set_ports when the bridge's ports or VLANs changed
    // Without --bridge: named ports that are ports of a VLAN-filtering bridge take their VLANs
    // from its table (set_port_vlans) unless --port-vlan names them.
    void follow_kernel_vlans();
    bool vlan_configured(const std::string& name) const {
        return std::find(vlan_configured_.begin(), vlan_configured_.end(), name) != vlan_configured_.end();
    }
    void note_configured_vlans() {
        vlan_configured_.clear();
        for (const auto& p : opt_.engine.ports)
            if (p.vlans.any()) vlan_configured_.push_back(p.name);
    }
    void reload();
    bool open_write(std::string& err);
    // The trail record of a frame that was injected (obs/trail.h); `in` is the frame received.
    void write_trail(const Actions& a, Bytes in, int linktype);

    DaemonOptions opt_;
    std::unique_ptr<Engine> engine_;
    capture::PortTracker tracker_;
    capture::LinkMonitor monitor_;
    capture::InstanceLocks locks_;
    capture::Notifier notify_;  // systemd Type=notify (no-op without NOTIFY_SOCKET)
    std::unique_ptr<capture::PacketSink> rec_;
    std::unique_ptr<capture::SharedCapture> shared_;  // --capture shared, opened with the first port
    capture::SharedCapture::Route route_;  // shared: ifindex -> port, sorted, per wake-up
    std::vector<uint8_t> recbuf_;
    uint64_t inject_errors_ = 0, record_errors_ = 0;
    std::string last_inject_error_;
    std::vector<bool> busy_;  // per port: a full batch was read in the last round
    bool filters_installed_ = false;
    std::unique_ptr<obs::MetricsServer> metrics_;  // --metrics-listen
    uint64_t next_metrics_ = 0;
    bool log_debug_ = false;
    uint64_t now_ = 0;
    Actions a_;
    obs::TrailWriter trail_;  // --trail
    capture::PortSelection sel_;  // --client-port names, --bridge, the uplink and trusted ports excluded
    // The kernel's VLANs per port as last applied (ports without --port-vlan, with --bridge).
    std::vector<std::pair<std::string, std::vector<capture::BridgeVlan>>> kernel_vlans_;
    std::vector<std::string> lock_failed_;
    std::vector<std::string> vlan_configured_;  // ports --port-vlan names: the kernel's table does not apply
};

void SnoopDaemon::follow_kernel_vlans() {
    std::vector<capture::BridgePort> bp;
    std::string err;
    if (!capture::dump_bridge_ports(bp, err)) {
        spdlog::error("reading the bridges' VLAN tables: {}", err);
        return;
    }
    std::vector<std::pair<std::string, PortVlans>> next;
    std::vector<std::pair<std::string, std::vector<capture::BridgeVlan>>> kvl;
    for (const auto& p : opt_.engine.ports) {
        if (vlan_configured(p.name)) continue;  // every role: a trunk uplink tags from the table too
        const capture::BridgePort* b = nullptr;
        for (const auto& x : bp)
            if (x.name == p.name && x.has_vlans) b = &x;
        const bool had = std::any_of(kernel_vlans_.begin(), kernel_vlans_.end(), [&](const auto& kv) { return kv.first == p.name; });
        if (!b) {
            if (had) next.emplace_back(p.name, PortVlans{});  // left the bridge, or its VLANs are gone
            continue;
        }
        const capture::PortVlanTable t = capture::summarize_vlans(b->vlans);
        PortVlans v;
        v.pvid = t.pvid;
        v.tagged = t.tagged;
        next.emplace_back(p.name, v);
        kvl.emplace_back(p.name, b->vlans);
    }
    if (next.empty() && kernel_vlans_.empty()) return;
    if (!set_port_vlans(next, err)) {
        spdlog::error("the bridge's VLAN table: {}; keeping the ports' VLANs as they were", err);
        return;
    }
    kernel_vlans_ = std::move(kvl);
}

SnoopDaemon::Wanted SnoopDaemon::wanted_ports() {
    Wanted w;
    if (!sel_.dynamic()) {
        w.clients = sel_.names;
        return w;
    }
    std::string err;
    if (!capture::dump_bridge_ports(w.bridge_ports, err)) spdlog::error("--bridge {}: {}", sel_.bridge, err);
    w.present = capture::list_interfaces();
    w.clients = capture::select_ports(sel_, w.present, w.bridge_ports);
    return w;
}

bool SnoopDaemon::follow_bridge(const Wanted& w) {
    if (!sel_.dynamic()) return false;
    std::vector<std::string> have;
    for (const auto& p : engine_->config().ports)
        if (p.role == Role::kClient) have.push_back(p.name);
    std::vector<std::string> want = w.clients;
    std::erase_if(want, [&](const std::string& n) {
        return std::find(lock_failed_.begin(), lock_failed_.end(), n) != lock_failed_.end() &&
               !locks_.holds("snoop", n);
    });
    bool same = want == have;
    if (same)  // the VLAN table too
        for (const auto& [name, vlans] : kernel_vlans_)
            for (const auto& bp : w.bridge_ports)
                if (bp.name == name && bp.vlans != vlans) same = false;
    if (same)
        for (const auto& bp : w.bridge_ports)
            if (bp.has_vlans && !vlan_configured(bp.name) &&
                std::any_of(engine_->config().ports.begin(), engine_->config().ports.end(),
                            [&](const Port& p) { return p.name == bp.name; }) &&
                std::none_of(kernel_vlans_.begin(), kernel_vlans_.end(), [&](const auto& kv) { return kv.first == bp.name; }))
                same = false;
    if (same) return false;
    set_ports(w);
    return true;
}

void SnoopDaemon::set_ports(const Wanted& w) {
    std::vector<std::string> before;
    for (const auto& p : engine_->config().ports)
        if (p.role == Role::kClient) before.push_back(p.name);
    auto named = [&](const std::string& n) {
        for (const auto& p : opt_.engine.ports)
            if (p.name == n) return true;
        return false;
    };
    std::vector<std::string> kept;
    for (const auto& n : w.clients) {
        if (!named(n) && !locks_.holds("snoop", n)) {
            std::string err;
            if (!locks_.acquire("snoop", n, err)) {
                if (std::find(lock_failed_.begin(), lock_failed_.end(), n) == lock_failed_.end()) {
                    obs::log_event(spdlog::level::warn, "port_skipped", {{"interface", n}, {"error", err}},
                                   fmt::format("port {}: on bridge {} but {}; not snooped", n, sel_.bridge, err));
                    lock_failed_.push_back(n);
                }
                continue;
            }
        }
        kept.push_back(n);
    }
    std::erase_if(lock_failed_, [&](const std::string& n) {
        return std::find(w.clients.begin(), w.clients.end(), n) == w.clients.end();
    });
    for (const auto& b : before)
        if (!named(b) && std::find(kept.begin(), kept.end(), b) == kept.end()) locks_.release("snoop", b);
    capture::log_port_diff("snoop", sel_, capture::diff_ports(before, kept));

    Config cfg = opt_.engine;
    cfg.ports.clear();
    std::vector<std::pair<std::string, std::vector<capture::BridgeVlan>>> kvl;
    for (const auto& n : kept) {
        Port p;
        p.name = n;
        p.role = Role::kClient;
        for (const auto& q : opt_.engine.ports)
            if (q.name == n) p = q;
        cfg.ports.push_back(std::move(p));
    }
    for (const auto& q : opt_.engine.ports)
        if (q.role != Role::kClient) cfg.ports.push_back(q);
    // The bridge's VLAN table where the kernel has one, for every port: the client ports and the
    // uplink too (a trunk uplink must tag each client's Relay-forward with its VLAN). A configured
    // --port-vlan wins.
    for (auto& p : cfg.ports) {
        const std::string& n = p.name;
        if (!vlan_configured(n))
            for (const auto& bp : w.bridge_ports)
                if (bp.name == n && bp.has_vlans) {
                    const capture::PortVlanTable t = capture::summarize_vlans(bp.vlans);
                    p.vlans.pvid = t.pvid;
                    p.vlans.tagged = t.tagged;
                    kvl.emplace_back(n, bp.vlans);
                    auto old = std::find_if(kernel_vlans_.begin(), kernel_vlans_.end(),
                                            [&](const auto& kv) { return kv.first == n; });
                    if (old == kernel_vlans_.end() || old->second != bp.vlans)
                        obs::log_event(spdlog::level::info, "port_vlans",
                                       {{"interface", n}, {"bridge", sel_.bridge}, {"vlans", port_vlans_text(p.vlans)}},
                                       fmt::format("port {}: VLANs from bridge {}: {} ({})", n, sel_.bridge,
                                                   capture::describe_vlans(bp.vlans), port_vlans_text(p.vlans)));
                }
    }
    kernel_vlans_ = std::move(kvl);
    std::string err;
    if (!Engine::check(cfg, err)) {
        // The kernel's table gave two ports one Interface-ID or similar: keep the ports without
        // the kernel's VLANs rather than run an engine that cannot map replies back.
        spdlog::error("--bridge {}: {}; not using the bridge's VLAN table", sel_.bridge, err);
        for (auto& p : cfg.ports)
            if (std::any_of(kernel_vlans_.begin(), kernel_vlans_.end(), [&](const auto& kv) { return kv.first == p.name; }))
                p.vlans = {};
    }
    const FilterPorts fbefore = FilterPorts::of(engine_->config());
    auto e = std::make_unique<Engine>(cfg);
    e->adopt_counters(*engine_);
    engine_ = std::move(e);
    engine_->advance(now_);
    const FilterPorts fafter = FilterPorts::of(engine_->config());
    if (opt_.install_filters && !fafter.client.empty() &&
        (!filters_installed_ || fbefore.client != fafter.client || fbefore.trusted != fafter.trusted)) {
        if (install_filters(fafter, err)) {
            if (filters_installed_) spdlog::info("nftables table bridge {}: client ports updated", kFilterTable);
            else spdlog::info("installed nftables table bridge {} for client ports", kFilterTable);
            filters_installed_ = true;
        } else {
            spdlog::error("--install-filters: {}", err);
        }
    }
    std::vector<std::string> names;
    for (const auto& p : engine_->config().ports) names.push_back(p.name);
    tracker_.set_names(names, now_, w.present.empty() ? nullptr : &w.present);
}

void SnoopDaemon::write_trail(const Actions& a, Bytes in, int linktype) {
    const Config& cfg = engine_->config();
    if (a.out_port < 0 || a.port < 0) return;
    const bool up = cfg.ports[size_t(a.out_port)].role == Role::kUplink;
    obs::TrailContext c;
    if (up && a.msg_type == dhcp6::msg::kAddrRegInform && a.hop_count == 0) c.kind = obs::TrailKind::kInform;
    else if (!up && a.msg_type == dhcp6::msg::kAddrRegReply) c.kind = obs::TrailKind::kReply;
    else return;
    const capture::Timestamp t = capture::now();
    c.sec = t.sec;
    c.nsec = t.nsec;
    c.port = cfg.ports[size_t(up ? a.port : a.out_port)].name;
    if (up) {
        c.mac = a.client_mac;
        frame::Frame f;  // the VLAN: the port's (PVID included), else parsed again for the trail only
        if (a.vlan) c.vlan = a.vlan;
        else if (frame::parse(in, linktype, f, false).ok() && f.n_vlans) c.vlan = f.vlan_id(0);
    }
    c.peer = a.peer;
    c.xid = a.xid;
    c.message = a.message;
    trail_.write(obs::trail_lines(c), now_);
}

bool SnoopDaemon::open_port(size_t idx, capture::LivePort& p, const capture::Interface& itf, std::string& err) {
    if (opt_.shared_capture) {
        // One socket for all ports, opened with the first (the filter is compiled on a live
        // handle of an up Ethernet port); the port's capture is its membership in it.
        if (!shared_) {
            shared_ = capture::SharedCapture::open(p.name, capture::SharedOptions{}, err);
            if (!shared_) err = "shared capture: " + err;
            else spdlog::info("capture: one shared TPACKET_V3 socket for every port (--capture shared)");
        }
        if (shared_) p.src = shared_->membership(itf.index, p.name);
    } else {
        capture::LiveOptions lo;
        lo.nonblocking = true;
        lo.buffer_bytes = capture::ring_bytes_per_port(engine_->config().ports.size());
        lo.timeout_ms = 10;
        p.src = capture::open_live(p.name, lo, err);
    }
    if (!p.src) {
        if (err.find("ermission") != std::string::npos || err.find("not permitted") != std::string::npos)
            err += " (capturing needs " + capture::capability_name(capture::kCapNetRaw) + ")";
        return false;
    }
    p.sink = capture::open_injector(p.name, err);
    if (!p.sink) {
        err = "injection: " + err;
        return false;
    }
    const Port& cp = engine_->config().ports[idx];
    if (cp.vlans.any()) {
        std::string ids;
        if (const auto* id = engine_->interface_id(int(idx), cp.vlans.pvid ? cp.vlans.pvid : cp.vlans.tagged[0]))
            ids = std::string(id->begin(), id->end());
        spdlog::info("snooping {} port {} (VLANs {}{}{})", role_name(cp.role), cp.name, port_vlans_text(cp.vlans),
                     ids.empty() ? "" : ", interface-id \"", ids.empty() ? "" : ids + "\"...");
    } else {
        spdlog::info("snooping {} port {} (interface-id \"{}\")", role_name(cp.role), cp.name,
                     std::string(cp.interface_id.begin(), cp.interface_id.end()));
    }
    return true;
}

bool SnoopDaemon::set_port_vlans(const std::vector<std::pair<std::string, PortVlans>>& vlans, std::string& err) {
    Config next = opt_.engine;  // as configured: the engine's own copy has its Interface-IDs filled in
    std::vector<std::string> changed;
    for (const auto& [name, v] : vlans)
        for (auto& p : next.ports)
            if (p.name == name && !(p.vlans == v)) {
                changed.push_back(name + " " + port_vlans_text(p.vlans) + " -> " + port_vlans_text(v));
                p.vlans = v;
            }
    if (changed.empty()) return true;
    if (!Engine::check(next, err)) return false;
    opt_.engine = next;
    auto e = std::make_unique<Engine>(std::move(next));
    e->adopt_counters(*engine_);
    engine_ = std::move(e);
    engine_->advance(now_);
    for (const auto& c : changed) spdlog::info("VLANs of port {}", c);
    return true;
}

void SnoopDaemon::record(const capture::Timestamp& ts, unsigned ifindex, uint8_t dir, int linktype, Bytes frame) {
    recbuf_.clear();
    if (!frame::append_sll2_from_capture(recbuf_, ifindex, dir, linktype, frame) || !rec_->write(ts, recbuf_))
        ++record_errors_;
}

size_t SnoopDaemon::serve(size_t i) {
    capture::LivePort& p = tracker_.ports()[i];
    if (!p.open()) return 0;
    capture::Packet pkt;
    size_t k = 0;
    for (; k < kBatch; ++k) {
        capture::ReadStatus st = p.src->next(pkt);
        if (st != capture::ReadStatus::kPacket) {
            if (st == capture::ReadStatus::kError) {
                tracker_.capture_failed(i, p.src->error(), now_);
                return 0;
            }
            break;
        }
        handle(i, pkt, p.src->linktype());
    }
    if (k) tracker_.capture_ok(i);
    return k;
}

size_t SnoopDaemon::serve_shared(size_t max) {
    capture::SharedFrame f;
    capture::Packet pkt;
    size_t k = 0, port = 0;
    for (; k < max && shared_->next_routed(route_, f, port) == capture::ReadStatus::kPacket; ++k) {
        pkt.ts = f.ts;
        pkt.data = f.data;
        pkt.wire_len = f.wire_len;
        handle(port, pkt, shared_->linktype());
        tracker_.capture_ok(port);
    }
    return k;
}

void SnoopDaemon::handle(size_t i, const capture::Packet& pkt, int lt) {
    capture::LivePort& p = tracker_.ports()[i];
    {
        engine_->on_frame(int(i), pkt.data, lt, a_);
        if (rec_) record(pkt.ts, p.ifindex, frame::kSllHost, lt, pkt.data);
        if (!a_.emit) {
            if (a_.drop != Drop::kNone || log_debug_) log_actions(engine_->config(), a_);
            return;
        }
        capture::LivePort& out = tracker_.ports()[size_t(a_.out_port)];
        if (!out.sink) {
            ++inject_errors_;
            last_inject_error_ = "interface " + out.name + " is not up";
            if (log_debug_)
                obs::log_event(spdlog::level::debug, "send_error",
                               {{"type", dhcp6::msg_type_label(a_.msg_type)}, {"from", p.name}, {"interface", out.name},
                                {"error", "not up"}},
                               fmt::format("{} from {} NOT injected: {} is not up", dhcp6::msg_type_label(a_.msg_type),
                                           p.name, out.name));
            return;
        }
        if (!out.sink->write(pkt.ts, a_.frame)) {
            ++inject_errors_;
            last_inject_error_ = out.sink->error();
            if (log_debug_)
                obs::log_event(spdlog::level::debug, "send_error",
                               {{"type", dhcp6::msg_type_label(a_.msg_type)}, {"from", p.name}, {"interface", out.name},
                                {"error", last_inject_error_}},
                               fmt::format("{} from {} NOT injected on {}: {}", dhcp6::msg_type_label(a_.msg_type),
                                           p.name, out.name, last_inject_error_));
            return;
        }
        // Logged once injected: a line never claims what did not happen.
        if (a_.msg_type == dhcp6::msg::kAddrRegInform || log_debug_) log_actions(engine_->config(), a_);
        if (trail_.is_open()) write_trail(a_, pkt.data, lt);
        if (rec_) record(capture::now(), out.ifindex, frame::kSllOutgoing, frame::kLinkEthernet, a_.frame);
    }
}

std::string SnoopDaemon::report() const {
    std::string r = engine_->counters_report();
    std::string kd;
    for (const auto& p : tracker_.ports()) {
        uint64_t d = 0;
        if (p.src && p.src->kernel_drops(d)) kd += " " + p.name + "=" + std::to_string(d);
    }
    if (!kd.empty()) r += "capture kernel-drops" + kd + "\n";
    // Shared: the kernel counts drops per socket, not per port.
    if (shared_) r += "capture kernel-drops shared=" + std::to_string(shared_->kernel_drops()) + "\n";
    r += tracker_.report();
    if (inject_errors_)
        r += "injection errors " + std::to_string(inject_errors_) + " (last: " + last_inject_error_ + ")\n";
    if (record_errors_) r += "--write: " + std::to_string(record_errors_) + " frames not recorded\n";
    if (trail_.is_open())
        r += "--trail: " + std::to_string(trail_.written()) + " records written, " + std::to_string(trail_.errors()) +
             " failed\n";
    return r;
}

// Publishes a snapshot when one is due, else brings the poll timeout down to when it is (see
// relay/daemon.cpp).
int SnoopDaemon::metrics_tick(int timeout_ms) {
    const uint64_t t = capture::monotonic_ns();
    if (t < next_metrics_) return std::min(timeout_ms, int((next_metrics_ - t) / 1000000) + 1);
    publish_metrics();
    next_metrics_ = t + obs::kPublishIntervalNs;
    return timeout_ms;
}

void SnoopDaemon::publish_metrics() {
    obs::Snapshot& s = metrics_->next();
    const Config& cfg = engine_->config();
    s.drop_reasons.clear();
    for (size_t d = 1; d < size_t(Drop::kCount_); ++d) s.drop_reasons.push_back(drop_name(Drop(d)));
    s.ports.resize(cfg.ports.size());
    for (size_t i = 0; i < cfg.ports.size(); ++i) {
        const PortCounters& c = engine_->counters(int(i));
        obs::PortMetrics& m = s.ports[i];
        m.name = cfg.ports[i].name;
        m.frames = c.received;
        m.received = c.received_by_type;
        m.relayed = c.relayed_up_by_type;
        m.replies = c.relayed_down_by_type;
        m.drops.assign(c.drops.begin() + 1, c.drops.end());
        m.up = false;
        m.events = {};
        m.kernel_drops.reset();
        if (i >= tracker_.ports().size()) continue;
        const capture::LivePort& p = tracker_.ports()[i];
        m.up = p.state == capture::LinkState::kUp;
        m.events = {p.events.up, p.events.down, p.events.absent, p.events.recreated, p.events.readdressed,
                    p.events.capture_errors};
        if (uint64_t d = 0; p.src && p.src->kernel_drops(d)) m.kernel_drops = d;
    }
    s.inject_errors = inject_errors_;
    s.write_errors = record_errors_;
    s.mac_table_capacity = engine_->flood_guard().mac_table().capacity();
    s.mac_table_evictions = engine_->flood_guard().mac_table().evictions();
    metrics_->publish();
}

bool SnoopDaemon::take_locks(const Config& cfg, std::string& err) {
    for (const auto& p : cfg.ports)
        if (!locks_.acquire("snoop", p.name, err)) return false;
    return true;
}

bool SnoopDaemon::open_write(std::string& err) {
    rec_.reset();
    if (opt_.write_path.empty()) return true;
    rec_ = capture::open_pcap_writer(opt_.write_path, frame::kLinkLinuxSll2, err);
    return rec_ != nullptr;
}

void SnoopDaemon::reload() {
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
            std::vector<std::string> names;
            for (const auto& p : next.engine.ports) names.push_back(p.name);
            for (const auto& p : engine_->config().ports)
                if (std::find(names.begin(), names.end(), p.name) == names.end()) locks_.release("snoop", p.name);
            const FilterPorts before = FilterPorts::of(engine_->config()), after = FilterPorts::of(next.engine);
            const bool filters_changed = before.client != after.client || before.trusted != after.trusted ||
                                         before.uplink != after.uplink || next.install_filters != filters_installed_;
            next.reload = std::move(opt_.reload);
            next.user = opt_.user;
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
            opt_ = std::move(next);
            if (opt_.trail_path.empty()) trail_.close();
            if (auto lvl = spdlog::level::from_str(opt_.log_level); lvl != spdlog::level::off || opt_.log_level == "off")
                spdlog::set_level(lvl);
            log_debug_ = spdlog::should_log(spdlog::level::debug);
            auto e = std::make_unique<Engine>(opt_.engine);
            e->adopt_counters(*engine_);
            engine_ = std::move(e);
            engine_->advance(now_);
            sel_ = {};
            for (const auto& p : opt_.engine.ports)
                (p.role == Role::kClient ? sel_.names : sel_.exclude).push_back(p.name);
            sel_.bridge = opt_.bridge;
            note_configured_vlans();
            kernel_vlans_.clear();
            if (sel_.dynamic()) {
                set_ports(wanted_ports());  // reinstalls the filters itself when the client ports changed
                names.clear();
                for (const auto& p : engine_->config().ports) names.push_back(p.name);
            } else {
                follow_kernel_vlans();
                tracker_.set_names(names, now_);
            }
            if (filters_changed) {
                if (filters_installed_ && !opt_.install_filters) {
                    if (remove_filters(err)) filters_installed_ = false;
                    else spdlog::error("removing nftables table bridge {}: {}", kFilterTable, err);
                } else if (opt_.install_filters) {
                    if (install_filters(FilterPorts::of(engine_->config()), err)) filters_installed_ = true;
                    else spdlog::error("--install-filters: {}", err);
                }
            }
            obs::log_event(spdlog::level::info, "reload", {{"config", opt_.config_path}, {"ports", names.size()}},
                           fmt::format("configuration reloaded from {}: {} ports", opt_.config_path, names.size()));
        }
    }
    if (!opt_.write_path.empty()) {
        if (!open_write(err)) spdlog::error("--write: reopening {}: {}", opt_.write_path, err);
        else spdlog::info("--write: reopened {}", opt_.write_path);
    }
    if (!opt_.trail_path.empty()) {
        if (!trail_.open(opt_.trail_path, err)) spdlog::error("--trail: reopening {}: {}", opt_.trail_path, err);
        else spdlog::info("--trail: reopened {}", opt_.trail_path);
    }
    notify_.ready("snooping on " + std::to_string(engine_->config().ports.size()) + " ports");
}

int SnoopDaemon::run() {
    std::string err;
    log_debug_ = spdlog::should_log(spdlog::level::debug);
    std::vector<int> needed = {capture::kCapNetRaw};
    if (opt_.install_filters) needed.push_back(capture::kCapNetAdmin);
    if (int c = capture::missing_capability(needed); c >= 0) {
        spdlog::error("regrelay snoop needs {} ({}): run it as root or grant the capability",
                      capture::capability_name(c),
                      c == capture::kCapNetRaw ? "to capture and inject on ports" : "to install nftables filters");
        return 1;
    }
    // A second instance must fail here, before it could replace the first one's filters.
    if (!take_locks(opt_.engine, err)) {
        spdlog::error("{}", err);
        return 1;
    }
    const int sfd = capture::control_signal_fd();
    if (!monitor_.open(err)) {
        spdlog::error("{}", err);
        return 1;
    }
    now_ = capture::monotonic_ns();
    sel_ = {};
    for (const auto& p : opt_.engine.ports)
        (p.role == Role::kClient ? sel_.names : sel_.exclude).push_back(p.name);
    sel_.bridge = opt_.bridge;
    engine_ = std::make_unique<Engine>(opt_.engine);
    engine_->advance(now_);
    if (!open_write(err)) {
        spdlog::error("--write: {}", err);
        return 1;
    }

    // --bridge: the ports first (the filters name them; set_ports installs them once there is a
    // client port).
    note_configured_vlans();
    if (sel_.dynamic()) set_ports(wanted_ports());
    if (opt_.install_filters && sel_.dynamic() && FilterPorts::of(engine_->config()).client.empty()) {
        spdlog::warn("--install-filters: bridge {} has no client port yet; installing when one joins", sel_.bridge);
    } else if (opt_.install_filters && !filters_installed_) {
        if (!install_filters(FilterPorts::of(engine_->config()), err)) {
            spdlog::error("--install-filters: {}", err);
            return 1;
        }
        filters_installed_ = true;
        spdlog::info("installed nftables table bridge {} for client ports", kFilterTable);
    }
    if (!sel_.dynamic()) {
        // Named ports: captured once the filters are in place, as before --bridge.
        follow_kernel_vlans();
        std::vector<std::string> names;
        for (const auto& p : engine_->config().ports) names.push_back(p.name);
        tracker_.set_names(names, now_);
    }
    // /metrics: bound now, served by a thread started after the drop (see relay/daemon.cpp).
    if (!opt_.metrics_listen.empty()) {
        auto la = obs::parse_listen(opt_.metrics_listen, err);
        metrics_ = std::make_unique<obs::MetricsServer>(obs::process_info("snoop"));
        if (!la || !metrics_->bind(*la, err)) {
            spdlog::error("--metrics-listen {}: {}", opt_.metrics_listen, err);
            if (filters_installed_) remove_filters(err);
            return 1;
        }
    }

    // Kept: capture and injection reopen (CAP_NET_RAW), the filters' reinstall and removal
    // (CAP_NET_ADMIN).
    capture::DropResult dr;
    if (!capture::drop_privileges(opt_.user, {capture::kCapNetAdmin, capture::kCapNetRaw}, dr, err)) {
        spdlog::error("dropping privileges: {}", err);
        if (filters_installed_) remove_filters(err);
        return 1;
    }
    // The trail is opened as the user the daemon runs as, so SIGHUP can reopen and recreate it
    // (see relay/daemon.cpp).
    if (!opt_.trail_path.empty() && !trail_.open(opt_.trail_path, err)) {
        spdlog::error("--trail: {}", err);
        if (filters_installed_) remove_filters(err);
        return 1;
    }
    if (dr.dropped)
        obs::log_event(spdlog::level::info, "privileges_dropped",
                       {{"user", dr.user}, {"uid", dr.uid}, {"gid", dr.gid},
                        {"capabilities", std::vector<std::string>{capture::capability_name(capture::kCapNetAdmin),
                                                                  capture::capability_name(capture::kCapNetRaw)}}},
                       fmt::format("dropped privileges to user {} (uid {}, gid {}), keeping {} and {}", dr.user,
                                   dr.uid, dr.gid, capture::capability_name(capture::kCapNetAdmin),
                                   capture::capability_name(capture::kCapNetRaw)));
    if (metrics_) {
        publish_metrics();
        if (!metrics_->start(err)) {
            spdlog::error("--metrics-listen {}: {}", opt_.metrics_listen, err);
            if (filters_installed_) remove_filters(err);
            return 1;
        }
        spdlog::info("serving metrics at http://{}/metrics", opt_.metrics_listen);
    }
    {
        std::vector<std::string> ports;
        for (const auto& p : engine_->config().ports) ports.push_back(p.name);
        // For json consumers only: text mode has no start line (its lines stay as they were).
        obs::log_event(spdlog::level::info, "start",
                       {{"mode", "snoop"}, {"interfaces", ports}, {"pid", int64_t(::getpid())},
                        {"trail", opt_.trail_path}},
                       "");
    }
    notify_.ready("snooping on " + std::to_string(engine_->config().ports.size()) + " ports");

    std::vector<pollfd> pfds;
    std::vector<size_t> pfd_port;
    uint64_t next_resync = now_ + kResyncInterval;
    // Shared capture: the ring's block timeout batches the wake-ups already (no hold on top).
    capture::WakeCoalescer coalescer(opt_.shared_capture ? 0 : kHoldNs);
    uint64_t hold_until = 0;  // under load: sleep until then, then poll without blocking
    bool running = true;
    while (running) {
        pfds.clear();
        pfd_port.clear();
        pfds.push_back({sfd, POLLIN, 0});
        pfds.push_back({monitor_.fd(), POLLIN, 0});
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
        const size_t nports = pfds.size();  // per-port captures end here; then the shared one
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
                break;
            }
        }
        if (pfds[1].revents & POLLIN) {
            auto ch = monitor_.drain();
            if (ch.any()) {
                if (sel_.dynamic()) {
                    // Ports joining or leaving the bridge, its VLAN table; the ports are then
                    // synced with the interface list they were chosen from.
                    const Wanted w = wanted_ports();
                    follow_bridge(w);
                    tracker_.apply(ch, now_, &w.present);
                } else {
                    if (!ch.bridge.empty() || ch.overrun) follow_kernel_vlans();
                    tracker_.apply(ch, now_);
                }
                continue;
            }
        }
        bool changed = false;
        for (size_t k = 2; k < nports; ++k)
            if (pfds[k].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                tracker_.capture_failed(pfd_port[k - 2], "the socket reported an error (link down?)", now_);
                changed = true;
            }
        if (changed) continue;
        // Bounded batches per port, round robin: a flooded port cannot starve the others (the
        // uplink, with the replies, among them).
        std::vector<bool>& busy = busy_;  // reused: no allocation per wake-up
        busy.assign(tracker_.ports().size(), false);
        for (size_t k = 2; k < nports; ++k)
            if (pfds[k].revents & POLLIN) busy[pfd_port[k - 2]] = true;
        size_t handled = 0;
        for (int round = 0; round < kMaxRounds; ++round) {
            bool more = false;
            for (size_t i = 0; i < busy.size() && i < tracker_.ports().size(); ++i) {
                if (!busy[i]) continue;
                const size_t got = serve(i);
                handled += got;
                busy[i] = got == kBatch;
                more |= busy[i];
            }
            if (!more) break;
        }
        if (pfds.size() > nports) {
            if (pfds[nports].revents & (POLLERR | POLLNVAL))
                spdlog::error("shared capture: the socket reported an error: {}", shared_->take_socket_error());
            else if (pfds[nports].revents & POLLIN)
                handled += serve_shared(kBatch * kMaxRounds);  // about one block's worth
        }
        hold_until = coalescer.after_wake(now_, handled);
        if (now_ >= next_resync || (tracker_.next_retry_ns() && tracker_.next_retry_ns() <= now_)) {
            if (sel_.dynamic()) {
                const Wanted w = wanted_ports();
                follow_bridge(w);
                tracker_.sync_all(now_, &w.present);
            } else {
                follow_kernel_vlans();
                tracker_.sync_all(now_);
            }
            next_resync = now_ + kResyncInterval;
        }
        for (const auto& line : engine_->flood_report(now_))
            obs::log_event(spdlog::level::warn, "flood_summary", obs::flood_summary_fields(line), line);
        if (rec_) rec_->flush();
    }
    notify_.stopping();
    for (const auto& line : engine_->flood_report(now_, true))
        obs::log_event(spdlog::level::warn, "flood_summary", obs::flood_summary_fields(line), line);
    if (filters_installed_) {
        if (!remove_filters(err)) spdlog::error("removing nftables table bridge {}: {}", kFilterTable, err);
        else spdlog::info("removed nftables table bridge {}", kFilterTable);
    }
    {
        const std::string r = report();
        obs::log_event(spdlog::level::info, "counters", {{"when", "exit"}, {"lines", obs::split_lines(r)}},
                       "counters at exit:\n" + r);
    }
    tracker_.set_names({}, now_);
    ::close(sfd);
    return 0;
}

}  // namespace

int run_daemon(DaemonOptions opt) {
    SnoopDaemon d(std::move(opt));
    return d.run();
}

}  // namespace regrelay::snoop
