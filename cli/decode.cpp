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

bool format_frame(std::string& out, const capture::Packet& p, int linktype, Format fmt, uint64_t n, Stats& st) {
    ++st.frames;
    frame::Frame f;
    frame::ParseResult pr = frame::parse(p.data, linktype, f);
    // A bad checksum stops parse() before it sets the payload; parse again unverified to show it.
    if (pr.drop == frame::Drop::kBadUdpChecksum) frame::parse(p.data, linktype, f, false);
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
        if (!udp_ok) {
            ++st.malformed;
            out += ",\"malformed\":";
            dhcp6::append_json_string(out, std::string(frame::drop_name(pr.drop)) + " at offset " + std::to_string(pr.offset));
            out += "}\n";
            return true;
        }
        if (!pr.ok()) out += ",\"udp_checksum\":\"bad\"";
        auto m = dhcp6::decode(f.payload);
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
