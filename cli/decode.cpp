#include "cli/decode.h"

#include <ctime>

#include "dhcp6/print.h"

namespace regrelay::decode {

void append_time(std::string& out, const capture::Timestamp& ts) {
    time_t t = static_cast<time_t>(ts.sec);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[48];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%06u", ts.nsec / 1000);
    out += buf;
}

static bool is_dhcp6_port(uint16_t p) { return p == dhcp6::kPortClient || p == dhcp6::kPortServer; }

namespace {

// The complete options at the start of `area`; a cut option 9 (the carried message) is kept with
// the part that was captured so the next level can be followed into it.
dhcp6::OptionList complete_options(Bytes area, size_t base) {
    dhcp6::OptionList opts;
    dhcp6::OptionIter it(area, base);
    dhcp6::Option o;
    while (it.next(o)) opts.push_back(o);
    if (it.failed() && it.error().code == dhcp6::Errc::kOptionPastEnd) {
        size_t at = it.error().offset - base;
        if (at + dhcp6::kOptionHeaderLen <= area.size() && area[at] == 0 && area[at + 1] == dhcp6::opt::kRelayMsg) {
            o.code = dhcp6::opt::kRelayMsg;
            o.data = area.subspan(at + dhcp6::kOptionHeaderLen);
            o.offset = base + at;
            opts.push_back(o);
        }
    }
    return opts;
}

// What a DHCPv6 payload cut short by the capture's snap length holds: each relay level's header
// and complete options (following a cut option 9 inward), then the inner message's header and
// complete options. False when not even the first header was captured; `inner` tells whether
// the inner message's header was.
bool decode_cut(Bytes buf, dhcp6::Message& m, bool& inner) {
    size_t base = 0;
    inner = false;
    while (m.relays.size() < dhcp6::kMaxRelayDepth) {
        if (buf.empty()) return !m.relays.empty();
        Reader r(buf, base);
        if (!dhcp6::is_relay_type(buf[0])) {
            dhcp6::ClientMessage& c = m.inner;
            if (!r.u8(c.type) || !r.u24(c.xid)) return !m.relays.empty();
            c.raw = buf;
            c.offset = base;
            c.options = complete_options(r.rest(), r.offset());
            inner = true;
            return true;
        }
        dhcp6::RelayLevel l;
        if (!r.u8(l.type) || !r.u8(l.hop_count) || !r.ip6(l.link_address) || !r.ip6(l.peer_address))
            return !m.relays.empty();
        l.raw = buf;
        l.offset = base;
        l.options = complete_options(r.rest(), r.offset());
        const dhcp6::Option* rm = l.relay_msg();
        Bytes next = rm ? rm->data : Bytes{};
        size_t next_base = rm ? rm->offset + dhcp6::kOptionHeaderLen : 0;
        m.relays.push_back(std::move(l));
        if (!rm) return true;
        buf = next;
        base = next_base;
    }
    return true;
}

}  // namespace

bool format_frame(std::string& out, const capture::Packet& p, int linktype, Format fmt, uint64_t n, Stats& st) {
    ++st.frames;
    frame::Frame f;
    // A snapped capture (snap length shorter than the frame) is decoded as far as it goes.
    const bool snapped = p.wire_len > p.data.size();
    frame::ParseResult pr = frame::parse_snapped(p.data, p.wire_len, linktype, f);
    // A bad checksum stops parse() before it sets the payload; parse again unverified to show it.
    if (pr.drop == frame::Drop::kBadUdpChecksum) frame::parse_snapped(p.data, p.wire_len, linktype, f, false);
    // Headers cut off by the snap length: not malformed, only not all there.
    const bool cut_header = snapped && (pr.drop == frame::Drop::kTruncatedLink || pr.drop == frame::Drop::kTruncatedIpv6 ||
                                        pr.drop == frame::Drop::kBadExtHeader || pr.drop == frame::Drop::kTruncatedUdp);
    bool udp_ok = pr.ok() || pr.drop == frame::Drop::kBadUdpChecksum;
    if (!udp_ok) {
        // Only frames that reached UDP can be told to be DHCPv6; anything else is not ours,
        // except fragments and broken headers, which are shown because they may hide DHCPv6.
        bool show = pr.drop == frame::Drop::kFragment || pr.drop == frame::Drop::kTruncatedIpv6 ||
                    pr.drop == frame::Drop::kBadExtHeader || pr.drop == frame::Drop::kTruncatedUdp ||
                    pr.drop == frame::Drop::kBadUdpLength;
        if (!show) {
            ++st.skipped;
            return false;
        }
    } else if (!is_dhcp6_port(f.sport) && !is_dhcp6_port(f.dport)) {
        ++st.skipped;
        return false;
    }
    ++st.dhcp6;

    if (fmt == Format::kJson) {
        out += "{\"frame\":" + std::to_string(n) + ",\"time\":\"";
        append_time(out, p.ts);
        out += '"';
        if (pr.ok() || udp_ok) {
            out += ",\"src\":\"" + f.src.str() + "\",\"dst\":\"" + f.dst.str() + "\",\"sport\":" +
                   std::to_string(f.sport) + ",\"dport\":" + std::to_string(f.dport) + ",\"hop_limit\":" +
                   std::to_string(f.hop_limit);
            if (f.has_ethernet) out += ",\"src_mac\":\"" + f.src_mac.str() + "\",\"dst_mac\":\"" + f.dst_mac.str() + "\"";
            out += ",\"vlans\":[";
            for (size_t i = 0; i < f.n_vlans; ++i) {
                if (i) out += ',';
                out += std::to_string(f.vlan_id(i));
            }
            out += ']';
        }
        if (snapped)
            out += ",\"captured\":" + std::to_string(p.data.size()) + ",\"wire_len\":" + std::to_string(p.wire_len);
        if (cut_header) {
            ++st.truncated;
            out += ",\"truncated\":true}\n";
            return true;
        }
        if (!udp_ok) {
            ++st.malformed;
            out += ",\"malformed\":";
            dhcp6::append_json_string(out, std::string(frame::drop_name(pr.drop)) + " at offset " + std::to_string(pr.offset));
            out += "}\n";
            return true;
        }
        if (!pr.ok()) out += ",\"udp_checksum\":\"bad\"";
        auto m = dhcp6::decode(f.payload);
        dhcp6::Message cm;
        bool inner = false;
        if (!m && f.payload_missing && decode_cut(f.payload, cm, inner)) {
            ++st.truncated;
            if (inner) {
                out += ",\"dhcp6\":";
                dhcp6::append_json(out, cm);
            }
            out += ",\"truncated\":true}\n";
            return true;
        }
        if (!m) {
            ++st.malformed;
            out += ",\"malformed\":";
            dhcp6::append_json_string(out, m.error().str());
        } else {
            out += ",\"dhcp6\":";
            dhcp6::append_json(out, *m);
        }
        out += "}\n";
        return true;
    }

    append_time(out, p.ts);
    out += ' ';
    if (cut_header) {
        // tcpdump's mark for a packet that ends before its headers do.
        ++st.truncated;
        out += '(';
        out += std::to_string(p.data.size());
        out += " of ";
        out += std::to_string(p.wire_len);
        out += " bytes captured) [|truncated]\n";
        return true;
    }
    if (!udp_ok) {
        ++st.malformed;
        out += "[malformed frame: ";
        out += frame::drop_name(pr.drop);
        out += " at offset " + std::to_string(pr.offset) + "]\n";
        return true;
    }
    if (f.has_ethernet && fmt == Format::kVerbose) {
        // Cooked captures (SLL, SLL2) record only the sender's MAC.
        out += f.src_mac.str();
        out += linktype == frame::kLinkEthernet ? " > " + f.dst_mac.str() + " " : " ";
    }
    for (size_t i = 0; i < f.n_vlans; ++i) out += "vlan " + std::to_string(f.vlan_id(i)) + " ";
    out += f.src.str() + '.' + std::to_string(f.sport) + " > " + f.dst.str() + '.' + std::to_string(f.dport) + ": ";
    if (!pr.ok()) out += "[bad udp checksum] ";
    auto m = dhcp6::decode(f.payload);
    if (!m && f.payload_missing) {
        // Cut by the snap length: what is there, then tcpdump's mark.
        ++st.truncated;
        dhcp6::Message cm;
        bool inner = false;
        if (decode_cut(f.payload, cm, inner)) {
            dhcp6::append_summary(out, cm, inner);
            out += " [|truncated]\n";
            if (fmt == Format::kVerbose && inner) dhcp6::append_tree(out, cm, 4);
        } else {
            out += "[|truncated]\n";
        }
        return true;
    }
    if (!m) {
        ++st.malformed;
        out += "[malformed: " + m.error().str() + "]\n";
        return true;
    }
    dhcp6::append_summary(out, *m);
    out += '\n';
    if (fmt == Format::kVerbose) dhcp6::append_tree(out, *m, 4);
    return true;
}

}  // namespace regrelay::decode
