#include "snoop/engine.h"

#include <algorithm>
#include <charconv>

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
        case Drop::kVlanNotMember: return "vlan-not-member";
        case Drop::kDoubleTagged: return "double-tagged";
        case Drop::kVlanNotOnUplink: return "vlan-not-on-uplink";
        case Drop::kReplyVlanMismatch: return "reply-vlan-mismatch";
        case Drop::kCount_: break;
    }
    return "unknown";
}

bool PortVlans::carries_tagged(uint16_t vlan) const { return std::binary_search(tagged.begin(), tagged.end(), vlan); }

std::optional<PortVlans> parse_port_vlans(std::string_view spec, std::string& err) {
    PortVlans v;
    if (spec == "none") return v;
    if (spec.empty()) {
        err = "no VLAN named (e.g. 10, 10,20,30 or 10u,20t; none for no VLANs)";
        return std::nullopt;
    }
    const bool single = spec.find(',') == std::string_view::npos;
    auto number = [&](std::string_view t, uint16_t& out) {
        unsigned n = 0;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
        if (ec != std::errc() || end != t.data() + t.size() || t.empty() || n < 1 || n > 4094) {
            // Built in a local string: GCC 12 at -O3 reports a false -Wrestrict (t may view err).
            std::string m(1, '\'');
            m.append(t.data(), t.size());
            m += "': not a VLAN ID (1-4094)";
            err = std::move(m);
            return false;
        }
        out = uint16_t(n);
        return true;
    };
    while (!spec.empty()) {
        const size_t comma = spec.find(',');
        std::string_view item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
        if (comma != std::string_view::npos && spec.empty()) {
            err = "a trailing comma";
            return std::nullopt;
        }
        char mark = 0;
        if (!item.empty() && (item.back() == 'u' || item.back() == 't')) {
            mark = item.back();
            item.remove_suffix(1);
        }
        const size_t dash = item.find('-');
        uint16_t lo = 0, hi = 0;
        if (!number(item.substr(0, dash), lo)) return std::nullopt;
        hi = lo;
        if (dash != std::string_view::npos && !number(item.substr(dash + 1), hi)) return std::nullopt;
        if (hi < lo) {
            err = "'" + std::string(item) + "': an empty range";
            return std::nullopt;
        }
        const bool untagged = mark == 'u' || (mark == 0 && single && dash == std::string_view::npos);
        if (untagged) {
            if (dash != std::string_view::npos) {
                err = "'" + std::string(item) + "u': the PVID is one VLAN, not a range";
                return std::nullopt;
            }
            if (v.pvid) {
                err = "two untagged VLANs (PVIDs): " + std::to_string(v.pvid) + " and " + std::to_string(lo);
                return std::nullopt;
            }
            v.pvid = lo;
        } else {
            for (unsigned id = lo; id <= hi; ++id) v.tagged.push_back(uint16_t(id));
        }
    }
    std::sort(v.tagged.begin(), v.tagged.end());
    v.tagged.erase(std::unique(v.tagged.begin(), v.tagged.end()), v.tagged.end());
    if (v.pvid && v.carries_tagged(v.pvid)) {
        err = "VLAN " + std::to_string(v.pvid) + " is both untagged (PVID) and tagged";
        return std::nullopt;
    }
    return v;
}

std::string port_vlans_text(const PortVlans& v) {
    if (!v.any()) return "none";
    std::string s;
    if (v.pvid) s = std::to_string(v.pvid) + "u";
    for (size_t i = 0; i < v.tagged.size();) {
        size_t j = i;
        while (j + 1 < v.tagged.size() && v.tagged[j + 1] == v.tagged[j] + 1) ++j;
        if (!s.empty()) s += ',';
        s += std::to_string(v.tagged[i]);
        if (j > i) {
            s += '-';
            s += std::to_string(v.tagged[j]);
        }
        s += 't';
        i = j + 1;
    }
    return s;
}

bool expand_interface_id(std::string_view tmpl, std::string_view port, uint16_t vlan, std::vector<uint8_t>& out,
                         std::string& err) {
    out.clear();
    auto put = [&](std::string_view t) { out.insert(out.end(), t.begin(), t.end()); };
    for (size_t i = 0; i < tmpl.size(); ++i) {
        const char c = tmpl[i];
        if (c == '}') {
            if (i + 1 < tmpl.size() && tmpl[i + 1] == '}') {
                out.push_back('}');
                ++i;
                continue;
            }
            err = "'" + std::string(tmpl) + "': a lone '}' (write }} for a brace)";
            return false;
        }
        if (c != '{') {
            out.push_back(uint8_t(c));
            continue;
        }
        if (i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
            out.push_back('{');
            ++i;
            continue;
        }
        const size_t end = tmpl.find('}', i);
        const std::string_view name = end == std::string_view::npos ? std::string_view() : tmpl.substr(i + 1, end - i - 1);
        if (name == "port") put(port);
        else if (name == "vlan") put(std::to_string(vlan));
        else {
            err = "'" + std::string(tmpl) + "': " +
                  (end == std::string_view::npos ? std::string("an unclosed '{'")
                                                 : "{" + std::string(name) + "} is not {port} or {vlan}");
            return false;
        }
        i = end;
    }
    if (out.empty()) {
        err = "'" + std::string(tmpl) + "': an empty Interface-ID";
        return false;
    }
    return true;
}

namespace {

std::string_view as_text(const std::vector<uint8_t>& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// The Interface-ID template of (port, VLAN): the port's per-VLAN one, the port's, the
// configuration's, or the default.
std::string_view template_of(const Config& cfg, const Port& p, uint16_t vlan) {
    for (const auto& [v, t] : p.vlan_interface_ids)
        if (v == vlan) return as_text(t);
    if (!p.interface_id.empty()) return as_text(p.interface_id);
    if (!cfg.interface_id_format.empty()) return cfg.interface_id_format;
    return p.vlans.any() ? kDefaultVlanInterfaceId : kDefaultInterfaceId;
}

// The VLANs a port takes frames in: 0 alone without VLANs.
std::vector<uint16_t> vlans_of(const PortVlans& v) {
    if (!v.any()) return {0};
    std::vector<uint16_t> all = v.tagged;
    if (v.pvid) all.insert(std::lower_bound(all.begin(), all.end(), v.pvid), v.pvid);
    return all;
}

}  // namespace

bool Engine::check(const Config& cfg, std::string& err) {
    std::vector<std::pair<std::vector<uint8_t>, std::string>> seen;  // id, "port VLAN n"
    for (const auto& p : cfg.ports) {
        if (p.role == Role::kUplink) continue;
        for (const auto& [v, t] : p.vlan_interface_ids)
            if (!p.vlans.member(v)) {
                err = p.name + "/" + std::to_string(v) + ": " + p.name +
                      " is not in VLAN " + std::to_string(v) + " (its VLANs: " + port_vlans_text(p.vlans) + ")";
                return false;
            }
        std::vector<uint8_t> id;
        for (uint16_t v : vlans_of(p.vlans)) {
            if (!expand_interface_id(template_of(cfg, p, v), p.name, v, id, err)) {
                err = "the Interface-ID of " + p.name + ": " + err;
                return false;
            }
            std::string who = p.name + (v ? " VLAN " + std::to_string(v) : "");
            for (const auto& [other, name] : seen)
                if (other == id) {
                    err = "\"" + std::string(as_text(id)) + "\" is the Interface-ID of both " + name + " and " + who +
                          ": replies could not be told apart";
                    return false;
                }
            seen.emplace_back(id, std::move(who));
        }
    }
    return true;
}

Engine::Engine(Config cfg)
    : cfg_(std::move(cfg)), counters_(cfg_.ports.size()), guard_(cfg_.limits, cfg_.ports.size()) {
    ids_.resize(cfg_.ports.size());
    for (size_t i = 0; i < cfg_.ports.size(); ++i) {
        auto& p = cfg_.ports[i];
        port_names_.push_back(p.name);
        if (p.role == Role::kUplink) {
            uplink_ = int(i);
            continue;
        }
        for (uint16_t v : vlans_of(p.vlans)) {
            VlanId vi{v, {}};
            const std::string_view t = template_of(cfg_, p, v);
            std::string err;
            if (!expand_interface_id(t, p.name, v, vi.id, err)) vi.id.assign(t.begin(), t.end());
            if (vi.id.empty()) vi.id.assign(p.name.begin(), p.name.end());
            reverse_.push_back({vi.id, int(i), v});
            ids_[i].push_back(std::move(vi));
        }
        // As before VLANs: a port without VLANs shows its Interface-ID in its Port.
        if (!p.vlans.any() && p.vlan_interface_ids.empty()) p.interface_id = ids_[i].front().id;
    }
    // By id, then port and VLAN: of two alike the first port gets the replies. (std::sort with a
    // tiebreak, not std::stable_sort: its temporary buffer trips ASan with GCC 12.)
    std::sort(reverse_.begin(), reverse_.end(), [](const Reverse& a, const Reverse& b) {
        // lexicographical_compare as in the lookup below (vector's operator<=> trips a false
        // -Wstringop-overread of GCC 12 at -O3).
        if (std::lexicographical_compare(a.id.begin(), a.id.end(), b.id.begin(), b.id.end())) return true;
        if (std::lexicographical_compare(b.id.begin(), b.id.end(), a.id.begin(), a.id.end())) return false;
        return a.port != b.port ? a.port < b.port : a.vlan < b.vlan;
    });
}

const std::vector<uint8_t>* Engine::interface_id(int port, uint16_t vlan) const {
    if (port < 0 || size_t(port) >= ids_.size()) return nullptr;
    const auto& ids = ids_[size_t(port)];
    auto it = std::lower_bound(ids.begin(), ids.end(), vlan, [](const VlanId& a, uint16_t v) { return a.vlan < v; });
    return it != ids.end() && it->vlan == vlan ? &it->id : nullptr;
}

int Engine::uplink_tag(uint16_t vlan) const {
    const PortVlans& u = cfg_.ports[size_t(uplink_)].vlans;
    if (u.pvid == vlan) return 0;
    if (!u.trunk()) return 0;  // not a trunk: the Relay-forwards of every VLAN go untagged
    return u.carries_tagged(vlan) ? int(vlan) : -1;
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

    // The frame's VLAN on a port with VLANs: its tag (VLAN ID 0, priority-tagged, counts as
    // untagged), else the PVID. Without VLANs, tags are carried through as they are.
    uint16_t vlan = 0;
    if (const PortVlans& pv = cfg_.ports[size_t(port)].vlans; pv.any()) {
        if (f.n_vlans > 1) return drop(port, Drop::kDoubleTagged, out);
        vlan = f.n_vlans && f.vlan_id(0) ? f.vlan_id(0) : pv.pvid;
        if (!pv.member(vlan)) return drop(port, Drop::kVlanNotMember, out);
        out.vlan = vlan;
    }

    const Role role = cfg_.ports[size_t(port)].role;
    if (role == Role::kClient) {
        // DHCPv6 guard: a client port may only carry client messages toward servers.
        if (type == msg::kRelayRepl) return drop(port, Drop::kGuardRelayReply, out);
        if (type == msg::kRelayForw) return drop(port, Drop::kGuardRelayForward, out);
        if (f.dport != kPortServer || is_server_to_client_type(type)) return drop(port, Drop::kGuardServerMessage, out);
        // RFC 6221 §6.1: the LDRA takes what clients send to All_DHCP_Relay_Agents_and_Servers;
        // a unicast to a server (RFC 8415 §18.4 Server Unicast) is bridged as it is.
        if (f.dst != kAllDhcpRelayAgentsAndServers) return drop(port, Drop::kNotIntercepted, out);
        return relay_up(port, f, false, vlan, out);
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
    relay_up(port, f, type == msg::kRelayForw, vlan, out);
}

std::vector<std::string> Engine::flood_report(uint64_t now_ns, bool flush) {
    return guard_.report(now_ns, port_names_, flush);
}

void Engine::relay_up(int port, const frame::Frame& f, bool from_relay, uint16_t vlan, Actions& out) {
    // Flood limits (RFC 9686 §6) on the way up only: per client MAC, then per port. A
    // Relay-forward from a downstream relay carries that relay's MAC: per-port limit only.
    const bool vlans = cfg_.ports[size_t(port)].vlans.any();
    const int up_tag = vlans ? uplink_tag(vlan) : 0;
    if (up_tag < 0) return drop(port, Drop::kVlanNotOnUplink, out);
    const std::vector<uint8_t>* ifid = interface_id(port, vlan);
    if (!ifid) return drop(port, Drop::kVlanNotMember, out);  // not reached: the VLAN was checked
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
    rf.interface_id = *ifid;
    if (!from_relay && cfg_.client_link_layer && f.has_ethernet) rf.client_mac = f.src_mac;
    out.hop_count = rf.hop_count;
    payload_.clear();
    if (!relay::build_relay_forward(rf, msg, payload_)) return drop(port, Drop::kTooBig, out);

    // Toward All_DHCP_Relay_Agents_and_Servers on the uplink, from the client's own addresses,
    // in the client's VLAN: tagged as the uplink carries it (the client's priority kept), or, on
    // a port without VLANs, with the frame's own tags.
    frame::BuildSpec s;
    s.src_mac = f.src_mac;
    s.dst_mac = frame::multicast_mac(kAllDhcpRelayAgentsAndServers);
    if (vlans) {
        s.n_vlans = up_tag ? 1 : 0;
        s.vlan_tci[0] = uint16_t(up_tag | (f.n_vlans ? f.vlan_tci[0] & 0xe000 : 0));
    } else {
        s.n_vlans = f.n_vlans;
        for (size_t i = 0; i < f.n_vlans; ++i) {
            s.vlan_tci[i] = f.vlan_tci[i];
            s.vlan_tpid[i] = f.vlan_tpid[i];
        }
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
    auto it = std::lower_bound(reverse_.begin(), reverse_.end(), ifid->data, [](const Reverse& r, Bytes id) {
        return std::lexicographical_compare(r.id.begin(), r.id.end(), id.begin(), id.end());
    });
    int target = -1;
    uint16_t vlan = 0;
    if (it != reverse_.end() && std::equal(it->id.begin(), it->id.end(), ifid->data.begin(), ifid->data.end())) {
        target = it->port;
        vlan = it->vlan;
    }
    if (target < 0) return drop(port, Drop::kUnknownInterface, out);
    const PortVlans& tv = cfg_.ports[size_t(target)].vlans;
    if (tv.any()) {
        // Only in the VLAN the Interface-ID names: the reply must come in as the Relay-forward
        // went out (the same tag on a trunk uplink, untagged otherwise).
        const int tag = port == uplink_ ? uplink_tag(vlan) : -2;
        const int got = f.n_vlans ? f.vlan_id(0) : 0;
        if (tag != -2 && tag != got) return drop(port, Drop::kReplyVlanMismatch, out);
        out.vlan = vlan;
    }
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
    if (tv.any()) {
        // Untagged on the port's PVID, else tagged (a trunk), the reply's priority kept.
        s.n_vlans = vlan == tv.pvid ? 0 : 1;
        s.vlan_tci[0] = uint16_t(vlan | (f.n_vlans ? f.vlan_tci[0] & 0xe000 : 0));
    } else {
        s.n_vlans = f.n_vlans;
        for (size_t i = 0; i < f.n_vlans; ++i) {
            s.vlan_tci[i] = f.vlan_tci[i];
            s.vlan_tpid[i] = f.vlan_tpid[i];
        }
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
