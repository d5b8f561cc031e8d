#include "relay/engine.h"

#include <algorithm>
#include <cstring>

namespace regrelay::relay {

using namespace regrelay::dhcp6;

std::string_view drop_name(Drop d) {
    switch (d) {
        case Drop::kNone: return "none";
        case Drop::kBadFrame: return "bad-frame";
        case Drop::kBadUdpChecksum: return "bad-udp-checksum";
        case Drop::kFragment: return "ipv6-fragment";
        case Drop::kNotServerPort: return "not-server-port";
        case Drop::kNotForUs: return "not-for-us";
        case Drop::kTruncated: return "truncated";
        case Drop::kServerMessage: return "server-message-from-client";
        case Drop::kHopLimit: return "hop-limit";
        case Drop::kMalformedRelay: return "malformed-relay";
        case Drop::kTooBig: return "too-big";
        case Drop::kNotRelayReply: return "not-relay-reply";
        case Drop::kNoRelayMessage: return "no-relay-message";
        case Drop::kUnknownInterface: return "unknown-interface";
        case Drop::kBadPeerAddress: return "bad-peer-address";
        case Drop::kRateLimitPort: return "rate-limit-port";
        case Drop::kRateLimitMac: return "rate-limit-mac";
        case Drop::kNotDhcpv6: return "not-dhcpv6";
        case Drop::kCount_: break;
    }
    return "unknown";
}

Engine::Engine(Config cfg)
    : cfg_(std::move(cfg)), counters_(cfg_.ports.size() + 1), guard_(cfg_.limits, cfg_.ports.size()) {
    for (auto& p : cfg_.ports) {
        if (p.interface_id.empty()) p.interface_id.assign(p.name.begin(), p.name.end());
        port_names_.push_back(p.name);
    }
}

std::vector<std::string> Engine::flood_report(uint64_t now_ns, bool flush) {
    return guard_.report(now_ns, port_names_, flush);
}

bool Engine::is_local(const Ip6Addr& a) const {
    return std::find(cfg_.local_addresses.begin(), cfg_.local_addresses.end(), a) != cfg_.local_addresses.end();
}

void Engine::on_client_frame(int port, Bytes data, int linktype, Actions& out) {
    frame::Frame f;
    frame::ParseResult pr = frame::parse(data, linktype, f, cfg_.verify_udp_checksum);
    on_client_parsed(port, f, pr, out);
}

void Engine::on_client_parsed(int port, const frame::Frame& f, frame::ParseResult pr, Actions& out) {
    out.clear();
    out.port = port;
    ++counters_[slot(port)].received;
    if (!pr.ok()) {
        out.frame_drop = pr.drop;
        drop(port,
             pr.drop == frame::Drop::kBadUdpChecksum ? Drop::kBadUdpChecksum
             : pr.drop == frame::Drop::kFragment     ? Drop::kFragment
             : pr.drop == frame::Drop::kNotIpv6 || pr.drop == frame::Drop::kNotUdp ? Drop::kNotDhcpv6
                                                     : Drop::kBadFrame,
             out);
        return;
    }
    if (f.has_ethernet) out.client_mac = f.src_mac;
    out.peer = f.src;
    if (!f.payload.empty()) out.msg_type = f.payload[0];
    if (f.dport != kPortServer) {
        const bool dhcp = f.dport == kPortClient || f.sport == kPortClient || f.sport == kPortServer;
        return drop(port, dhcp ? Drop::kNotServerPort : Drop::kNotDhcpv6, out);
    }
    if (!f.payload.empty()) ++counters_[slot(port)].received_by_type[f.payload[0]];
    if (f.dst.is_multicast() ? (f.dst != kAllDhcpRelayAgentsAndServers && f.dst != kAllDhcpServers) : !is_local(f.dst))
        return drop(port, Drop::kNotForUs, out);
    forward(port, f, out);
}

void Engine::forward(int port, const frame::Frame& f, Actions& out) {
    const ClientPort& cp = cfg_.ports[size_t(port)];
    Bytes msg = f.payload;
    if (msg.size() < kClientHeaderLen) return drop(port, Drop::kTruncated, out);
    const uint8_t type = msg[0];
    out.msg_type = type;
    out.message = msg;
    if (is_server_to_client_type(type)) return drop(port, Drop::kServerMessage, out);
    const bool from_relay = type == msg::kRelayForw;

    // Flood limits (RFC 9686 §6), client side only: per client MAC, then per port. A
    // Relay-forward from a downstream relay carries the relay's MAC, shared by all its clients:
    // per-port limit only.
    std::optional<std::array<uint8_t, 6>> mac;
    if (f.has_ethernet) mac = f.src_mac.b;
    switch (guard_.admit(size_t(port), mac, !from_relay, now_ns_)) {
        case limits::Verdict::kMacLimit: return drop(port, Drop::kRateLimitMac, out);
        case limits::Verdict::kPortLimit: return drop(port, Drop::kRateLimitPort, out);
        case limits::Verdict::kPass: break;
    }

    uint8_t hop = 0;
    Ip6Addr link = cp.link_address;
    if (from_relay) {
        // RFC 8415 §19.1.2: a Relay-forward from another relay agent (an LDRA included).
        switch (check_rewrap(msg, hop)) {
            case Rewrap::kMalformed: return drop(port, Drop::kMalformedRelay, out);
            case Rewrap::kHopLimit: return drop(port, Drop::kHopLimit, out);
            case Rewrap::kOk: break;
        }
        // §19.1.2 sets link-address 0 when the source is global: a level below names the link.
        // When none does (an LDRA's Relay-forward, link-address ::, sent from a registering
        // host's global address), the server would have no link: keep our own link-address.
        if (f.src.is_routable_unicast() && names_link(msg)) link = Ip6Addr{};
    } else {
        // RFC 8415 §19.1.1 and RFC 7283: any other client message, known type or not.
        out.xid = xid_of(msg);
    }
    out.hop_count = hop;

    RelayForward rf;
    rf.hop_count = hop;
    rf.link_address = link;
    rf.peer_address = f.src;
    if (cfg_.always_interface_id || link.is_unspecified()) rf.interface_id = cp.interface_id;
    if (cfg_.remote_id) rf.remote_id = &*cfg_.remote_id;
    if (!from_relay && cfg_.client_link_layer && f.has_ethernet) rf.client_mac = f.src_mac;
    if (!build_relay_forward(rf, msg, out.payload)) return drop(port, Drop::kTooBig, out);

    if (cfg_.servers.empty()) {
        out.sends.push_back(Send{kAllDhcpServers, kPortServer, kUpstream, kMulticastHopLimit});
    } else {
        for (const auto& s : cfg_.servers) out.sends.push_back(Send{s, kPortServer, kUpstream, 0});
    }
    auto& c = counters_[slot(port)];
    ++c.forwarded;
    ++c.forwarded_by_type[type];
    if (type == msg::kAddrRegInform) {
        ++c.addr_reg_inform;
        out.log_suppressed = !guard_.log_line(size_t(port), now_ns_);  // the info line's budget
    }
}

void Engine::on_server_datagram(const Ip6Addr& src, uint16_t sport, Bytes payload, Actions& out) {
    (void)sport;
    out.clear();
    out.peer = src;  // the sending server, until the Relay-reply names the peer
    ++counters_[slot(kUpstream)].received;
    if (payload.empty()) return drop(kUpstream, Drop::kTruncated, out);
    ++counters_[slot(kUpstream)].received_by_type[payload[0]];
    out.msg_type = payload[0];
    if (payload[0] != msg::kRelayRepl) return drop(kUpstream, Drop::kNotRelayReply, out);
    auto rr = decode_relay(payload);
    if (!rr) return drop(kUpstream, Drop::kMalformedRelay, out);
    const Option* rm = rr->relay_msg();
    if (!rm) return drop(kUpstream, Drop::kNoRelayMessage, out);
    if (rm->data.empty()) return drop(kUpstream, Drop::kMalformedRelay, out);
    out.hop_count = rr->hop_count;
    out.peer = rr->peer_address;

    // RFC 8415 §19.2: the link is named by Interface-ID if present, else by link-address.
    int port = kUpstream;
    if (const Option* ifid = find_option(rr->options, opt::kInterfaceId)) {
        for (size_t i = 0; i < cfg_.ports.size(); ++i) {
            const auto& id = cfg_.ports[i].interface_id;
            if (id.size() == ifid->data.size() && std::equal(id.begin(), id.end(), ifid->data.begin())) {
                port = int(i);
                break;
            }
        }
    } else if (!rr->link_address.is_unspecified()) {
        for (size_t i = 0; i < cfg_.ports.size(); ++i)
            if (cfg_.ports[i].link_address == rr->link_address) {
                port = int(i);
                break;
            }
    }
    if (port == kUpstream) return drop(kUpstream, Drop::kUnknownInterface, out);
    out.port = port;

    Bytes inner = rm->data;
    out.msg_type = inner[0];
    out.message = inner;
    out.xid = xid_of(inner);
    const Ip6Addr& peer = rr->peer_address;
    if (peer.is_unspecified() || peer.is_multicast() || peer.is_loopback())
        return drop(port, Drop::kBadPeerAddress, out);

    out.payload.assign(inner.begin(), inner.end());  // unchanged (RFC 8415 §19.2)
    const uint16_t dport = inner[0] == msg::kRelayRepl ? kPortServer : kPortClient;
    out.sends.push_back(Send{peer, dport, port, 0});
    auto& c = counters_[slot(port)];
    ++c.replied;
    ++c.replied_by_type[inner[0]];
    if (inner[0] == msg::kAddrRegReply) ++c.addr_reg_reply;
}

void Engine::update_port(int port, const ClientPort& p) {
    ClientPort& cp = cfg_.ports[size_t(port)];
    cp.link_address = p.link_address;
    cp.link_local = p.link_local;
    cp.mac = p.mac;
}

void Engine::adopt_counters(const Engine& old) {
    for (size_t i = 0; i < cfg_.ports.size(); ++i)
        for (size_t j = 0; j < old.cfg_.ports.size(); ++j)
            if (old.cfg_.ports[j].name == cfg_.ports[i].name) counters_[i] = old.counters_[j];
    counters_.back() = old.counters_.back();
}

std::string Engine::counters_report() const {
    std::string s;
    for (size_t i = 0; i <= cfg_.ports.size(); ++i) {
        const PortCounters& c = counters_[i];
        s += i == cfg_.ports.size() ? std::string("upstream") : cfg_.ports[i].name;
        s += ": received " + std::to_string(c.received) + " forwarded " + std::to_string(c.forwarded) +
             " replied " + std::to_string(c.replied) + " addr-reg-inform " + std::to_string(c.addr_reg_inform) +
             " addr-reg-reply " + std::to_string(c.addr_reg_reply);
        append_drops<Drop>(s, c.drops, drop_name);
        s += '\n';
    }
    s += guard_.table_report();
    return s;
}

}  // namespace regrelay::relay
