#include "relay/record.h"

#include "dhcp6/print.h"
#include "obs/log.h"

#include <spdlog/spdlog.h>

namespace regrelay::relay {

void Recorder::write(const capture::Timestamp& ts) {
    if (!sink_.write(ts, buf_)) ++errors_;
}

void Recorder::received_frame(const capture::Timestamp& ts, int p, int linktype, Bytes frame) {
    buf_.clear();
    if (!frame::append_sll2_from_capture(buf_, port(p).ifindex, frame::kSllMulticast, linktype, frame)) {
        ++errors_;
        return;
    }
    write(ts);
}

void Recorder::received_datagram(const capture::Timestamp& ts, const capture::Datagram& d) {
    buf_.clear();
    frame::append_sll2_header(buf_, d.ifindex ? d.ifindex : upstream_.ifindex, frame::kSllHost, MacAddr{});
    frame::BuildSpec s;
    s.src = d.peer;
    s.dst = d.local;
    s.sport = d.peer_port;
    s.dport = dhcp6::kPortServer;
    s.hop_limit = 64;  // not reported by the socket
    if (!frame::build_ipv6(s, d.data, buf_)) {
        ++errors_;
        return;
    }
    write(ts);
}

void Recorder::sent(const capture::Timestamp& ts, const Actions& a) {
    for (const Send& snd : a.sends) {
        const RecordPort& rp = port(snd.port);
        buf_.clear();
        frame::append_sll2_header(buf_, rp.ifindex, frame::kSllOutgoing, rp.mac);
        frame::BuildSpec s;
        s.src = rp.source_for(snd.dst);
        s.dst = snd.dst;
        s.sport = dhcp6::kPortServer;
        s.dport = snd.dport;
        s.hop_limit = snd.hop_limit ? snd.hop_limit : (snd.dst.is_multicast() ? 1 : 64);
        if (!frame::build_ipv6(s, a.payload, buf_)) {
            ++errors_;
            continue;
        }
        write(ts);
    }
}

static std::string port_name(const Config& cfg, int p) {
    return p == kUpstream ? std::string("upstream") : cfg.ports[size_t(p)].name;
}

static std::string xid_text(uint32_t xid) { return fmt::format("0x{:06x}", xid); }

// The IA Addresses of a message's options, for the json log fields ("[malformed]" for one that
// does not parse, as in the text line).
static std::vector<std::string> address_list(const dhcp6::OptionList& opts) {
    std::vector<std::string> v;
    for (const auto& o : opts)
        if (o.code == dhcp6::opt::kIaAddr) {
            auto a = dhcp6::as_ia_addr(o);
            v.push_back(a ? a->addr.str() : std::string("[malformed]"));
        }
    return v;
}

void log_actions(const Config& cfg, const Actions& a) {
    using namespace regrelay::dhcp6;
    using obs::Field;
    if (a.drop != Drop::kNone) {
        if (spdlog::should_log(spdlog::level::debug)) {
            std::string why(drop_name(a.drop));
            if (a.frame_drop != frame::Drop::kNone) why.append("/").append(frame::drop_name(a.frame_drop));
            // Not a DHCPv6 message at all: no message type to name.
            const bool frame_level = a.msg_type == 0 || a.drop == Drop::kNotDhcpv6 || a.drop == Drop::kBadFrame;
            const std::string what = frame_level ? "frame" : msg_type_label(a.msg_type);
            std::vector<Field> f{{"type", what}, {"interface", port_name(cfg, a.port)}, {"reason", why},
                                 {"source", a.peer.str()}};
            if (a.client_mac) f.emplace_back("mac", a.client_mac->str());
            obs::log_event(spdlog::level::debug, "drop", f,
                           fmt::format("drop {} on {}: {} from {}{}", what, port_name(cfg, a.port), why, a.peer.str(),
                                       a.client_mac ? " mac " + a.client_mac->str() : std::string()));
        }
        return;
    }
    const bool forward = a.sends.empty() || a.sends.front().port == kUpstream;
    if (forward && a.msg_type == msg::kAddrRegInform && !a.log_suppressed && spdlog::should_log(spdlog::level::info)) {
        // The registration trail: address, MAC, DUID and interface, one line each.
        // The IA Address(es) the message carries, never the source address in their place.
        std::string duid = "-", addr = "address [malformed message]";
        std::vector<std::string> addrs;
        if (auto m = decode_client(a.message)) {
            if (const Option* o = find_option(m->options, opt::kClientId)) duid = hex(o->data);
            addr = registered_addresses(m->options);
            addrs = address_list(m->options);
        }
        const std::string mac = a.client_mac ? a.client_mac->str() : std::string("-");
        obs::log_event(spdlog::level::info, "addr_reg_inform",
                       {{"addresses", addrs}, {"mac", mac}, {"duid", duid}, {"interface", port_name(cfg, a.port)},
                        {"source", a.peer.str()}, {"xid", xid_text(a.xid)}},
                       fmt::format("ADDR-REG-INFORM {} mac {} duid {} interface {} source {} xid 0x{:06x}", addr, mac,
                                   duid, port_name(cfg, a.port), a.peer.str(), a.xid));
    }
    if (spdlog::should_log(spdlog::level::debug)) {
        std::string dst;
        std::vector<std::string> dsts;
        for (const Send& s : a.sends) {
            if (!dst.empty()) dst += ',';
            dst += s.dst.str();
            dsts.push_back(s.dst.str());
        }
        // For a relay message, name what it carries: "RELAY-FORW(SOLICIT)" with the inner xid.
        std::string what = msg_type_label(a.msg_type);
        uint32_t xid = a.xid;
        if (is_relay_type(a.msg_type))
            if (auto m = decode(a.message)) {
                what += '(';
                what += msg_type_label(m->inner.type);
                what += ')';
                xid = m->inner.xid;
            }
        if (forward) {
            const std::string mac = a.client_mac ? a.client_mac->str() : std::string("-");
            obs::log_event(spdlog::level::debug, "relay_forward",
                           {{"type", what}, {"xid", xid_text(xid)}, {"peer", a.peer.str()}, {"mac", mac},
                            {"interface", port_name(cfg, a.port)}, {"hop", unsigned(a.hop_count)}, {"to", dsts}},
                           fmt::format("relay-forward {} xid 0x{:06x} peer {} mac {} interface {} hop {} to {}", what,
                                       xid, a.peer.str(), mac, port_name(cfg, a.port), a.hop_count, dst));
        } else {
            obs::log_event(spdlog::level::debug, "relay_reply",
                           {{"type", what}, {"xid", xid_text(xid)}, {"peer", a.peer.str()},
                            {"port", unsigned(a.sends.front().dport)}, {"interface", port_name(cfg, a.port)}},
                           fmt::format("relay-reply {} xid 0x{:06x} to {} port {} interface {}", what, xid,
                                       a.peer.str(), a.sends.front().dport, port_name(cfg, a.port)));
        }
    }
}

}  // namespace regrelay::relay
