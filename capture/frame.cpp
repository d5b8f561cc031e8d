#include "capture/frame.h"

namespace regrelay::frame {

std::string_view drop_name(Drop d) {
    switch (d) {
        case Drop::kNone: return "none";
        case Drop::kTruncatedLink: return "truncated-link-header";
        case Drop::kTooManyVlanTags: return "too-many-vlan-tags";
        case Drop::kNotIpv6: return "not-ipv6";
        case Drop::kTruncatedIpv6: return "truncated-ipv6";
        case Drop::kBadIpv6Version: return "bad-ipv6-version";
        case Drop::kBadExtHeader: return "bad-extension-header";
        case Drop::kFragment: return "ipv6-fragment";
        case Drop::kNotUdp: return "not-udp";
        case Drop::kTruncatedUdp: return "truncated-udp";
        case Drop::kBadUdpLength: return "bad-udp-length";
        case Drop::kBadUdpChecksum: return "bad-udp-checksum";
        case Drop::kUnsupportedLink: return "unsupported-link-type";
        case Drop::kCount_: break;
    }
    return "unknown";
}

static bool is_vlan_tpid(uint16_t t) { return t == kEtherVlan || t == kEtherQinQ || t == kEtherVlanOld; }

// Extension headers that share the generic (next-header, length in 8-octet units) layout.
static bool is_generic_ext(uint8_t nh) {
    switch (nh) {
        case 0:    // Hop-by-Hop
        case 43:   // Routing
        case 60:   // Destination Options
        case 135:  // Mobility
        case 139:  // HIP
        case 140:  // Shim6
            return true;
        default: return false;
    }
}

static uint32_t sum16(uint32_t acc, Bytes b) {
    size_t i = 0;
    for (; i + 1 < b.size(); i += 2) acc += uint32_t(b[i] << 8 | b[i + 1]);
    if (i < b.size()) acc += uint32_t(b[i] << 8);
    return acc;
}

uint16_t udp6_checksum(const Ip6Addr& src, const Ip6Addr& dst, Bytes udp) {
    uint32_t acc = 0;
    acc = sum16(acc, src.b);
    acc = sum16(acc, dst.b);
    acc += uint32_t(udp.size() >> 16) + uint32_t(udp.size() & 0xffff);
    acc += kProtoUdp;
    acc = sum16(acc, udp);
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    uint16_t c = uint16_t(~acc);
    return c == 0 ? 0xffff : c;
}

static ParseResult fail(Drop d, size_t off) { return {d, off}; }

// `missing`: bytes of the frame the capture did not keep (snap length); the IPv6 and UDP lengths
// may then run up to that far past the data, and the payload is what is there.
static ParseResult parse_ipv6(Reader& r, Frame& out, bool verify, size_t missing = 0) {
    out.ip_offset = r.offset();
    uint32_t vtf;
    uint16_t plen;
    uint8_t nh;
    if (!r.u32(vtf) || !r.u16(plen) || !r.u8(nh) || !r.u8(out.hop_limit) || !r.ip6(out.src) || !r.ip6(out.dst))
        return fail(Drop::kTruncatedIpv6, out.ip_offset);
    if ((vtf >> 28) != 6) return fail(Drop::kBadIpv6Version, out.ip_offset);
    out.traffic_class = uint8_t(vtf >> 20);
    out.flow_label = vtf & 0xfffff;
    // Trailing link-layer padding after the IPv6 payload is allowed; a short payload is not.
    Bytes payload;
    size_t cut = 0;  // bytes of the IPv6 payload not captured
    if (!r.bytes(plen, payload)) {
        if (plen > r.remaining() + missing) return fail(Drop::kTruncatedIpv6, out.ip_offset);
        cut = plen - r.remaining();
        payload = r.rest();
    }
    Reader p(payload, out.ip_offset + kIpv6HeaderLen);
    while (nh != kProtoUdp) {
        size_t at = p.offset();
        if (nh == kProtoFragment) return fail(Drop::kFragment, at);
        if (!is_generic_ext(nh) && nh != 51) return fail(Drop::kNotUdp, at);
        uint8_t next, len;
        if (!p.u8(next) || !p.u8(len)) return fail(Drop::kBadExtHeader, at);
        // AH (51) counts its length in 4-octet units minus 2; the others in 8-octet units minus 1.
        size_t total = nh == 51 ? (size_t(len) + 2) * 4 : (size_t(len) + 1) * 8;
        if (!p.skip(total - 2)) return fail(Drop::kBadExtHeader, at);
        nh = next;
    }
    size_t udp_at = p.offset();
    Bytes udp = p.rest();
    uint16_t ulen, csum;
    if (!p.u16(out.sport) || !p.u16(out.dport) || !p.u16(ulen) || !p.u16(csum))
        return fail(Drop::kTruncatedUdp, udp_at);
    if (ulen < kUdpHeaderLen || ulen > udp.size() + cut) return fail(Drop::kTruncatedUdp, udp_at);
    if (ulen != udp.size() + cut) return fail(Drop::kBadUdpLength, udp_at);
    out.payload_missing = cut;
    if (verify && cut == 0) {
        // A zero checksum is invalid over IPv6 (RFC 8200 §8.1); otherwise the sum over the
        // pseudo-header and the datagram, checksum included, must be all ones.
        if (csum == 0) return fail(Drop::kBadUdpChecksum, udp_at);
        uint32_t acc = 0;
        acc = sum16(acc, out.src.b);
        acc = sum16(acc, out.dst.b);
        acc += uint32_t(udp.size());
        acc += kProtoUdp;
        acc = sum16(acc, udp);
        while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
        if (acc != 0xffff) return fail(Drop::kBadUdpChecksum, udp_at);
    }
    out.payload = p.rest();
    out.payload_offset = p.offset();
    return {};
}

// Reads 802.1Q tags following an ethertype field, leaving `ethertype` at the inner one.
static ParseResult read_vlan_tags(Reader& r, uint16_t& ethertype, Frame& out) {
    while (is_vlan_tpid(ethertype)) {
        if (out.n_vlans == kMaxVlanTags) return fail(Drop::kTooManyVlanTags, r.offset() - 2);
        out.vlan_tpid[out.n_vlans] = ethertype;
        if (!r.u16(out.vlan_tci[out.n_vlans]) || !r.u16(ethertype)) return fail(Drop::kTruncatedLink, r.offset());
        ++out.n_vlans;
    }
    if (ethertype != kEtherIpv6) return fail(Drop::kNotIpv6, r.offset() - 2);
    return {};
}

ParseResult parse(Bytes data, int linktype, Frame& out, bool verify_checksum) {
    return parse_snapped(data, data.size(), linktype, out, verify_checksum);
}

ParseResult parse_snapped(Bytes data, size_t wire_len, int linktype, Frame& out, bool verify_checksum) {
    const size_t missing = wire_len > data.size() ? wire_len - data.size() : 0;
    out = Frame{};
    Reader r(data);
    uint16_t ethertype = 0;
    switch (linktype) {
        case kLinkEthernet: {
            out.has_ethernet = true;
            if (!r.mac(out.dst_mac) || !r.mac(out.src_mac) || !r.u16(ethertype))
                return fail(Drop::kTruncatedLink, 0);
            break;
        }
        case kLinkLinuxSll: {
            // packet type, ARPHRD type, address length, 8 address bytes, protocol
            uint16_t pkttype, hatype, halen;
            Bytes addr;
            if (!r.u16(pkttype) || !r.u16(hatype) || !r.u16(halen) || !r.bytes(8, addr) || !r.u16(ethertype))
                return fail(Drop::kTruncatedLink, 0);
            if (hatype == 1 && halen == 6) {
                out.has_ethernet = true;
                out.src_mac = MacAddr::from(addr.first(6));
            }
            break;
        }
        case kLinkLinuxSll2: {
            // protocol, reserved, interface index, ARPHRD type, packet type, address length, 8 address bytes
            uint16_t reserved, hatype;
            uint32_t ifindex;
            uint8_t pkttype, halen;
            Bytes addr;
            if (!r.u16(ethertype) || !r.u16(reserved) || !r.u32(ifindex) || !r.u16(hatype) || !r.u8(pkttype) ||
                !r.u8(halen) || !r.bytes(8, addr))
                return fail(Drop::kTruncatedLink, 0);
            if (hatype == 1 && halen == 6) {
                out.has_ethernet = true;
                out.src_mac = MacAddr::from(addr.first(6));
            }
            break;
        }
        case kLinkRaw:
        case kLinkIpv6:
            if (r.empty()) return fail(Drop::kTruncatedIpv6, 0);
            if ((data[0] >> 4) != 6) return fail(Drop::kNotIpv6, 0);
            return parse_ipv6(r, out, verify_checksum, missing);
        default: return fail(Drop::kUnsupportedLink, 0);
    }
    if (ParseResult v = read_vlan_tags(r, ethertype, out); !v.ok()) return v;
    return parse_ipv6(r, out, verify_checksum, missing);
}

void append_sll2_header(std::vector<uint8_t>& out, uint32_t ifindex, uint8_t pkttype, const MacAddr& mac) {
    Writer w(out);
    w.u16(kEtherIpv6);
    w.u16(0);
    w.u32(ifindex);
    w.u16(1);  // ARPHRD_ETHER
    w.u8(pkttype);
    w.u8(6);
    w.mac(mac);
    w.zeros(2);
}

bool append_sll2_from_capture(std::vector<uint8_t>& out, uint32_t ifindex, uint8_t pkttype, int linktype,
                              Bytes frame) {
    if (linktype == kLinkEthernet) {
        if (frame.size() < kEthHeaderLen) return false;
        size_t at = out.size();
        append_sll2_header(out, ifindex, pkttype, MacAddr::from(frame.subspan(6, 6)));
        out[at] = frame[12];  // the frame's own ethertype (0x86dd, or 0x8100 before a tag)
        out[at + 1] = frame[13];
        out.insert(out.end(), frame.begin() + kEthHeaderLen, frame.end());
        return true;
    }
    if (linktype == kLinkRaw || linktype == kLinkIpv6) {
        append_sll2_header(out, ifindex, pkttype, MacAddr{});
        out.insert(out.end(), frame.begin(), frame.end());
        return true;
    }
    return false;
}

bool build_ipv6(const BuildSpec& s, Bytes payload, std::vector<uint8_t>& out) {
    if (payload.size() > 0xffff - kUdpHeaderLen) return false;
    Writer w(out);
    uint16_t ulen = uint16_t(kUdpHeaderLen + payload.size());
    w.u32(uint32_t(6) << 28 | uint32_t(s.traffic_class) << 20 | (s.flow_label & 0xfffff));
    w.u16(ulen);
    w.u8(kProtoUdp);
    w.u8(s.hop_limit);
    w.ip6(s.src);
    w.ip6(s.dst);
    size_t udp_at = out.size();
    w.u16(s.sport);
    w.u16(s.dport);
    w.u16(ulen);
    w.u16(0);
    w.bytes(payload);
    uint16_t c = udp6_checksum(s.src, s.dst, Bytes(out).subspan(udp_at));
    out[udp_at + 6] = uint8_t(c >> 8);
    out[udp_at + 7] = uint8_t(c);
    return true;
}

bool build(const BuildSpec& s, Bytes payload, std::vector<uint8_t>& out) {
    out.clear();
    if (payload.size() > 0xffff - kUdpHeaderLen) return false;
    out.reserve(kEthHeaderLen + kVlanTagLen * s.n_vlans + kIpv6HeaderLen + kUdpHeaderLen + payload.size());
    Writer w(out);
    w.mac(s.dst_mac);
    w.mac(s.src_mac);
    for (size_t i = 0; i < s.n_vlans && i < kMaxVlanTags; ++i) {
        w.u16(s.vlan_tpid[i]);
        w.u16(s.vlan_tci[i]);
    }
    w.u16(kEtherIpv6);
    return build_ipv6(s, payload, out);
}

MacAddr multicast_mac(const Ip6Addr& group) {
    return MacAddr{{0x33, 0x33, group.b[12], group.b[13], group.b[14], group.b[15]}};
}

}  // namespace regrelay::frame
