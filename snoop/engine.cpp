#include "snoop/engine.h"

#include <algorithm>

#include "relay/relay_msg.h"

namespace regrelay::snoop {

using namespace regrelay::dhcp6;

namespace {

// Link-local scope (RFC 4291 §2.5.6, §2.7): fe80::/10, or multicast with scope 2 whatever its
// flags (ff02::/16, ff12::/16, ...). deploy/snoop-filters.nft matches the same two.
bool link_scoped(const Ip6Addr& a) { return a.is_link_local() || (a.is_multicast() && (a.b[1] & 0x0f) == 0x02); }

}  // namespace

std::string_view drop_name(Drop d) {
    switch (d) {
        case Drop::kNone: return "none";
        case Drop::kBadFrame: return "bad-frame";
        case Drop::kBadUdpChecksum: return "bad-udp-checksum";
        case Drop::kFragment: return "ipv6-fragment";
        case Drop::kNotDhcp: return "not-dhcp";
        case Drop::kTruncated: return "truncated";
        case Drop::kGuardServerMessage: return "guard-server-message";
        case Drop::kGuardRelayReply: return "guard-relay-reply";
        case Drop::kGuardRelayForward: return "guard-relay-forward";
        case Drop::kHopLimit: return "hop-limit";
        case Drop::kMalformedRelay: return "malformed-relay";
        case Drop::kTooBig: return "too-big";
        case Drop::kUnknownInterface: return "unknown-interface";
        case Drop::kNoInterfaceId: return "no-interface-id";
        case Drop::kNoRelayMessage: return "no-relay-message";
        case Drop::kNoClientMac: return "no-client-mac";
        case Drop::kWrongDirection: return "wrong-direction";
        case Drop::kNativeServerMessage: return "native-server-message";
        case Drop::kNotIntercepted: return "not-intercepted";
        case Drop::kUplinkNotRelayReply: return "uplink-not-relay-reply";
        case Drop::kRateLimitPort: return "rate-limit-port";
        case Drop::kRateLimitMac: return "rate-limit-mac";
        case Drop::kCount_: break;
    }
    return "unknown";
}

Engine::Engine(Config cfg)
    : cfg_(std::move(cfg)), counters_(cfg_.ports.size()), guard_(cfg_.limits, cfg_.ports.size()) {
    for (size_t i = 0; i < cfg_.ports.size(); ++i) {
        auto& p = cfg_.ports[i];
        port_names_.push_back(p.name);
        if (p.interface_id.empty()) p.interface_id.assign(p.name.begin(), p.name.end());
        if (p.role == Role::kUplink) uplink_ = int(i);
    }
}

void Engine::on_frame(int port, Bytes data, int linktype, Actions& out) {
    out.clear();
    out.port = port;
    ++counters_[size_t(port)].received;
    frame::Frame f;
    frame::ParseResult pr = frame::parse(data, linktype, f, cfg_.verify_udp_checksum);
    if (!pr.ok()) {
        out.frame_drop = pr.drop;
        return drop(port,
                    pr.drop == frame::Drop::kBadUdpChecksum ? Drop::kBadUdpChecksum
                    : pr.drop == frame::Drop::kFragment     ? Drop::kFragment
                                                            : Drop::kBadFrame,
                    out);
    }
    if (f.has_ethernet) out.client_mac = f.src_mac;
    out.peer = f.src;
    const bool dhcp_ports = (f.dport == kPortServer || f.dport == kPortClient) &&
                            (f.sport == kPortServer || f.sport == kPortClient);
    if (!dhcp_ports) return drop(port, Drop::kNotDhcp, out);
    Bytes msg = f.payload;
    if (!msg.empty()) ++counters_[size_t(port)].received_by_type[msg[0]];
    if (msg.size() < kClientHeaderLen) return drop(port, Drop::kTruncated, out);
    const uint8_t type = msg[0];
    out.msg_type = type;
    out.message = msg;
    out.xid = relay::xid_of(msg);

    const Role role = cfg_.ports[size_t(port)].role;
    if (role == Role::kClient) {
        // DHCPv6 guard: a client port may only carry client messages toward servers.
        if (type == msg::kRelayRepl) return drop(port, Drop::kGuardRelayReply, out);
        if (type == msg::kRelayForw) return drop(port, Drop::kGuardRelayForward, out);
        if (f.dport != kPortServer || is_server_to_client_type(type)) return drop(port, Drop::kGuardServerMessage, out);
        // RFC 6221 §6.1: the LDRA takes what clients send to All_DHCP_Relay_Agents_and_Servers;
        // a unicast to a server (RFC 8415 §18.4 Server Unicast) is bridged as it is.
        if (f.dst != kAllDhcpRelayAgentsAndServers) return drop(port, Drop::kNotIntercepted, out);
        return relay_up(port, f, false, out);
    }
    // Trusted ports.
    if (type == msg::kRelayRepl && f.dport == kPortServer) return relay_down(port, f, out);
    // RFC 6221 §6.2: the network-facing port's traffic from a link-local source to a link-local
    // destination on UDP 547 is intercepted (the filters keep it off the bridge) and only a
    // Relay-reply is acted on: anything else is discarded here.
    if (role == Role::kUplink && f.dport == kPortServer && link_scoped(f.src) && link_scoped(f.dst))
        return drop(port, Drop::kUplinkNotRelayReply, out);
    if (f.dport != kPortServer || is_server_to_client_type(type)) return drop(port, Drop::kNativeServerMessage, out);
    if (role == Role::kUplink) return drop(port, Drop::kWrongDirection, out);
    // A trusted client-facing port: clients and downstream relays (an LDRA included) alike.
    if (f.dst != kAllDhcpRelayAgentsAndServers) return drop(port, Drop::kNotIntercepted, out);
    relay_up(port, f, type == msg::kRelayForw, out);
}

std::vector<std::string> Engine::flood_report(uint64_t now_ns, bool flush) {
    return guard_.report(now_ns, port_names_, flush);
}

void Engine::relay_up(int port, const frame::Frame& f, bool from_relay, Actions& out) {
    // Flood limits (RFC 9686 §6) on the way up only: per client MAC, then per port. A
    // Relay-forward from a downstream relay carries that relay's MAC: per-port limit only.
    std::optional<std::array<uint8_t, 6>> mac;
    if (f.has_ethernet) mac = f.src_mac.b;
    switch (guard_.admit(size_t(port), mac, !from_relay, now_ns_)) {
        case limits::Verdict::kMacLimit: return drop(port, Drop::kRateLimitMac, out);
        case limits::Verdict::kPortLimit: return drop(port, Drop::kRateLimitPort, out);
        case limits::Verdict::kPass: break;
    }
    Bytes msg = f.payload;
    relay::RelayForward rf;
    if (from_relay) {
        switch (relay::check_rewrap(msg, rf.hop_count)) {
            case relay::Rewrap::kMalformed: return drop(port, Drop::kMalformedRelay, out);
            case relay::Rewrap::kHopLimit: return drop(port, Drop::kHopLimit, out);
            case relay::Rewrap::kOk: break;
        }
    }
    // RFC 6221 §6.1: link-address ::, peer-address the client's source, Interface-ID always.
    rf.peer_address = f.src;
    rf.interface_id = cfg_.ports[size_t(port)].interface_id;
    if (!from_relay && cfg_.client_link_layer && f.has_ethernet) rf.client_mac = f.src_mac;
    out.hop_count = rf.hop_count;
    payload_.clear();
    if (!relay::build_relay_forward(rf, msg, payload_)) return drop(port, Drop::kTooBig, out);

    // Toward All_DHCP_Relay_Agents_and_Servers on the uplink, from the client's own addresses,
    // in the client's VLAN(s).
    frame::BuildSpec s;
    s.src_mac = f.src_mac;
    s.dst_mac = frame::multicast_mac(kAllDhcpRelayAgentsAndServers);
    s.n_vlans = f.n_vlans;
    for (size_t i = 0; i < f.n_vlans; ++i) {
        s.vlan_tci[i] = f.vlan_tci[i];
        s.vlan_tpid[i] = f.vlan_tpid[i];
    }
    s.src = f.src;
    s.dst = kAllDhcpRelayAgentsAndServers;
    s.hop_limit = f.hop_limit ? f.hop_limit : 1;
    s.traffic_class = f.traffic_class;
    s.sport = kPortServer;
    s.dport = kPortServer;
    if (!frame::build(s, payload_, out.frame)) return drop(port, Drop::kTooBig, out);
    out.emit = true;
    out.out_port = uplink_;
    auto& c = counters_[size_t(port)];
    ++c.relayed_up;
    ++c.relayed_up_by_type[msg[0]];
    if (!from_relay && msg[0] == msg::kAddrRegInform) {
        ++c.addr_reg_inform;
        out.log_suppressed = !guard_.log_line(size_t(port), now_ns_);  // the info line's budget
    }
}

void Engine::relay_down(int port, const frame::Frame& f, Actions& out) {
    auto rr = decode_relay(f.payload);
    if (!rr) return drop(port, Drop::kMalformedRelay, out);
    const Option* rm = rr->relay_msg();
    if (!rm) return drop(port, Drop::kNoRelayMessage, out);
    if (rm->data.empty()) return drop(port, Drop::kMalformedRelay, out);
    const Option* ifid = find_option(rr->options, opt::kInterfaceId);
    if (!ifid) return drop(port, Drop::kNoInterfaceId, out);
    int target = -1;
    for (size_t i = 0; i < cfg_.ports.size(); ++i) {
        const auto& p = cfg_.ports[i];
        if (p.role != Role::kUplink && p.interface_id.size() == ifid->data.size() &&
            std::equal(p.interface_id.begin(), p.interface_id.end(), ifid->data.begin())) {
            target = int(i);
            break;
        }
    }
    if (target < 0) return drop(port, Drop::kUnknownInterface, out);
    Bytes inner = rm->data;
    out.msg_type = inner[0];
    out.message = inner;
    out.xid = relay::xid_of(inner);
    out.peer = rr->peer_address;
    out.hop_count = rr->hop_count;
    // The upstream relay resolved the client's address: the frame's destination MAC is the
    // client's. Without it the client cannot be reached (and no table is kept to find it).
    if (!f.has_ethernet || f.dst_mac.is_multicast()) return drop(port, Drop::kNoClientMac, out);
    if (rr->peer_address.is_unspecified() || rr->peer_address.is_multicast())
        return drop(port, Drop::kMalformedRelay, out);

    frame::BuildSpec s;
    s.src_mac = f.src_mac;
    s.dst_mac = f.dst_mac;
    s.n_vlans = f.n_vlans;
    for (size_t i = 0; i < f.n_vlans; ++i) {
        s.vlan_tci[i] = f.vlan_tci[i];
        s.vlan_tpid[i] = f.vlan_tpid[i];
    }
    s.src = f.src;
    s.dst = rr->peer_address;
    s.hop_limit = f.hop_limit;
    s.traffic_class = f.traffic_class;
    s.sport = kPortServer;
    s.dport = inner[0] == msg::kRelayRepl ? kPortServer : kPortClient;
    if (!frame::build(s, inner, out.frame)) return drop(port, Drop::kTooBig, out);  // unchanged (RFC 6221 §6.2)
    out.emit = true;
    out.out_port = target;
    auto& c = counters_[size_t(target)];
    ++c.relayed_down;
    ++c.relayed_down_by_type[inner[0]];
    if (inner[0] == msg::kAddrRegReply) ++c.addr_reg_reply;
}

void Engine::adopt_counters(const Engine& old) {
    for (size_t i = 0; i < cfg_.ports.size(); ++i)
        for (size_t j = 0; j < old.cfg_.ports.size(); ++j)
            if (old.cfg_.ports[j].name == cfg_.ports[i].name) counters_[i] = old.counters_[j];
}

std::string Engine::counters_report() const {
    std::string s;
    for (size_t i = 0; i < cfg_.ports.size(); ++i) {
        const PortCounters& c = counters_[i];
        const auto& p = cfg_.ports[i];
        s += p.name + (p.role == Role::kClient ? " (client)" : p.role == Role::kUplink ? " (uplink)" : " (trusted)");
        s += ": received " + std::to_string(c.received) + " relayed-up " + std::to_string(c.relayed_up) +
             " relayed-down " + std::to_string(c.relayed_down) + " addr-reg-inform " +
             std::to_string(c.addr_reg_inform) + " addr-reg-reply " + std::to_string(c.addr_reg_reply);
        relay::append_drops<Drop>(s, c.drops, drop_name);
        s += '\n';
    }
    s += guard_.table_report();
    return s;
}

}  // namespace regrelay::snoop
