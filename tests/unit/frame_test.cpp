// Unit tests for the frame layer (capture/frame.h): Ethernet II, 802.1Q, IPv6 extension
// headers, UDP and its checksum. Frames are built by hand here, with a separate checksum
// implementation (RFC 1071 / RFC 8200 §8.1), never with frame::build.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "capture/frame.h"
#include "tests/unit/test_util.h"

namespace {

using namespace regrelay;
using namespace regrelay::frame;
using regrelay::test::ByteVec;
using regrelay::test::be16;
using regrelay::test::be32;
using regrelay::test::cat;
using regrelay::test::hexb;
using regrelay::test::to_hex;

const ByteVec kSrcIp = hexb("fe800000 00000000 00000000 00000001");   // fe80::1
const ByteVec kDstIp = hexb("ff020000 00000000 00000000 00010002");   // ff02::1:2
const ByteVec kDstMac = hexb("333300010002");
const ByteVec kSrcMac = hexb("020000000001");
// A Solicit with only an Elapsed Time option: 01 123456 0008 0002 0000.
const ByteVec kPayload = hexb("01 123456 0008 0002 0000");
// Its UDP checksum from fe80::1:546 to ff02::1:2:547, computed offline (Python, struct-based
// one's-complement sum over the RFC 8200 pseudo-header).
constexpr uint16_t kKnownChecksum = 0xc88b;

// The UDP checksum over the IPv6 pseudo-header, written plainly: a 40-byte pseudo-header
// (src, dst, 32-bit upper-layer length, 3 zero bytes, next header 17), then the UDP header with
// a zero checksum field and the payload, padded to even length, summed as 16-bit words with
// end-around carry, complemented; 0 is sent as 0xffff.
uint16_t ref_checksum(const ByteVec& src, const ByteVec& dst, const ByteVec& udp_zero_csum) {
    ByteVec all = cat({src, dst, be32(uint32_t(udp_zero_csum.size())), hexb("000000 11"), udp_zero_csum});
    if (all.size() % 2) all.push_back(0);
    uint64_t sum = 0;
    for (size_t i = 0; i < all.size(); i += 2) sum += uint64_t(all[i]) * 256 + all[i + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = uint16_t(~sum & 0xffff);
    return c == 0 ? 0xffff : c;
}

// A UDP datagram with its checksum filled in for src/dst.
ByteVec udp(uint16_t sport, uint16_t dport, const ByteVec& payload, const ByteVec& src = kSrcIp,
            const ByteVec& dst = kDstIp) {
    ByteVec u = cat({be16(sport), be16(dport), be16(uint16_t(8 + payload.size())), be16(0), payload});
    uint16_t c = ref_checksum(src, dst, u);
    u[6] = uint8_t(c >> 8);
    u[7] = uint8_t(c);
    return u;
}

// An IPv6 header (version 6, traffic class/flow label in `vtf`) followed by `rest`.
ByteVec ipv6(uint8_t next_header, const ByteVec& rest, uint8_t hop_limit = 1, uint32_t vtf = 0x60000000,
             const ByteVec& src = kSrcIp, const ByteVec& dst = kDstIp) {
    return cat({be32(vtf), be16(uint16_t(rest.size())), ByteVec{next_header, hop_limit}, src, dst, rest});
}

// Ethernet II with zero or more (tpid, tci) tags.
ByteVec eth(const ByteVec& l3, uint16_t ethertype = 0x86dd, std::vector<std::pair<uint16_t, uint16_t>> tags = {}) {
    ByteVec f = cat({kDstMac, kSrcMac});
    for (auto [tpid, tci] : tags) f = cat({f, be16(tpid), be16(tci)});
    return cat({f, be16(ethertype), l3});
}

// The standard test frame: untagged Ethernet, IPv6 fe80::1 -> ff02::1:2, UDP 546 -> 547.
ByteVec dhcp_frame() { return eth(ipv6(17, udp(546, 547, kPayload))); }

ParseResult parse_eth(const ByteVec& f, Frame& out, bool verify = true) { return parse(f, kLinkEthernet, out, verify); }

void expect_drop(const ByteVec& f, int linktype, Drop d, size_t offset, bool verify = true) {
    Frame out;
    ParseResult r = parse(f, linktype, out, verify);
    EXPECT_EQ(drop_name(r.drop), drop_name(d)) << to_hex(f);
    EXPECT_EQ(r.offset, offset) << drop_name(r.drop);
    EXPECT_FALSE(r.ok());
}

// ---- checksum --------------------------------------------------------------------------

TEST(FrameChecksum, KnownValue) {
    ByteVec u = cat({be16(546), be16(547), be16(uint16_t(8 + kPayload.size())), be16(0), kPayload});
    // The reference implementation agrees with the offline value...
    EXPECT_EQ(ref_checksum(kSrcIp, kDstIp, u), kKnownChecksum);
    // ...and so does the code under test.
    EXPECT_EQ(udp6_checksum(Ip6Addr::from(kSrcIp), Ip6Addr::from(kDstIp), u), kKnownChecksum);
    // A second known packet, odd-length payload: 2001:db8::1 -> 2001:db8::2, 547 -> 547.
    ByteVec odd = hexb("0b abcdef 00");
    ByteVec u2 = cat({be16(547), be16(547), be16(uint16_t(8 + odd.size())), be16(0), odd});
    ByteVec a1 = hexb("20010db8 00000000 00000000 00000001"), a2 = hexb("20010db8 00000000 00000000 00000002");
    EXPECT_EQ(ref_checksum(a1, a2, u2), 0xc67e);
    EXPECT_EQ(udp6_checksum(Ip6Addr::from(a1), Ip6Addr::from(a2), u2), 0xc67e);
}

TEST(FrameChecksum, AgreesWithReferenceOnManyPayloads) {
    for (size_t n = 0; n < 300; n += 7) {
        ByteVec p(n);
        for (size_t i = 0; i < n; ++i) p[i] = uint8_t(i * 37 + n);
        ByteVec u = cat({be16(547), be16(546), be16(uint16_t(8 + n)), be16(0), p});
        EXPECT_EQ(udp6_checksum(Ip6Addr::from(kDstIp), Ip6Addr::from(kSrcIp), u), ref_checksum(kDstIp, kSrcIp, u))
            << n;
    }
}

TEST(FrameChecksum, ParseVerifiesOddAndEvenLengths) {
    // Checksums made by the reference implementation are accepted by parse() for every payload
    // length (odd lengths pad the last byte with zero), and a one-bit change is caught.
    for (size_t n = 0; n < 40; ++n) {
        ByteVec p(n);
        for (size_t i = 0; i < n; ++i) p[i] = uint8_t(0xf0 + i);
        ByteVec f = eth(ipv6(17, udp(547, 546, p)));
        Frame fr;
        ParseResult r = parse_eth(f, fr);
        ASSERT_TRUE(r.ok()) << n << " " << drop_name(r.drop);
        EXPECT_EQ(fr.payload.size(), n);
        if (n) {
            f.back() ^= 0x01;
            EXPECT_EQ(parse_eth(f, fr).drop, Drop::kBadUdpChecksum) << n;
        }
    }
}

TEST(FrameChecksum, ComputedZeroIsSentAsFfffAndAccepted) {
    // Pick a 2-byte payload that makes the one's-complement sum 0xffff, so the checksum is 0.
    ByteVec u = cat({be16(546), be16(547), be16(10), be16(0), hexb("0000")});
    uint16_t c0 = ref_checksum(kSrcIp, kDstIp, u);  // ~S
    uint16_t s = uint16_t(~c0);
    uint16_t w = uint16_t(0xffff - s);
    u[8] = uint8_t(w >> 8);
    u[9] = uint8_t(w);
    ASSERT_EQ(ref_checksum(kSrcIp, kDstIp, u), 0xffff);
    EXPECT_EQ(udp6_checksum(Ip6Addr::from(kSrcIp), Ip6Addr::from(kDstIp), u), 0xffff);
    u[6] = u[7] = 0xff;
    Frame f;
    ParseResult r = parse_eth(eth(ipv6(17, u)), f);
    EXPECT_TRUE(r.ok()) << drop_name(r.drop);
}

// ---- parsing ---------------------------------------------------------------------------

TEST(FrameParse, EthernetIpv6Udp) {
    ByteVec u = udp(546, 547, kPayload);
    ASSERT_EQ(u[6] << 8 | u[7], kKnownChecksum);
    ByteVec f = eth(ipv6(17, u, 255, 0x6b812345));  // traffic class 0xb8, flow label 0x12345
    Frame fr;
    ParseResult r = parse_eth(f, fr);
    ASSERT_TRUE(r.ok()) << drop_name(r.drop) << " at " << r.offset;
    EXPECT_TRUE(fr.has_ethernet);
    EXPECT_EQ(fr.dst_mac.str(), "33:33:00:01:00:02");
    EXPECT_EQ(fr.src_mac.str(), "02:00:00:00:00:01");
    EXPECT_EQ(fr.n_vlans, 0);
    EXPECT_EQ(fr.src.str(), "fe80::1");
    EXPECT_EQ(fr.dst.str(), "ff02::1:2");
    EXPECT_EQ(fr.hop_limit, 255);
    EXPECT_EQ(fr.traffic_class, 0xb8);
    EXPECT_EQ(fr.flow_label, 0x12345u);
    EXPECT_EQ(fr.sport, 546);
    EXPECT_EQ(fr.dport, 547);
    EXPECT_EQ(fr.ip_offset, 14u);
    EXPECT_EQ(fr.payload_offset, 62u);
    EXPECT_EQ(to_hex(fr.payload), to_hex(kPayload));
    EXPECT_EQ(fr.payload.data(), f.data() + 62);
}

TEST(FrameParse, OneVlanTag) {
    ByteVec f = eth(ipv6(17, udp(546, 547, kPayload)), 0x86dd, {{0x8100, 0x2064}});  // PCP 1, VID 100
    Frame fr;
    ParseResult r = parse_eth(f, fr);
    ASSERT_TRUE(r.ok()) << drop_name(r.drop);
    EXPECT_EQ(fr.n_vlans, 1);
    EXPECT_EQ(fr.vlan_tpid[0], 0x8100);
    EXPECT_EQ(fr.vlan_tci[0], 0x2064);
    EXPECT_EQ(fr.vlan_id(), 100);
    EXPECT_EQ(fr.ip_offset, 18u);
    EXPECT_EQ(fr.payload_offset, 66u);
    EXPECT_EQ(to_hex(fr.payload), to_hex(kPayload));
}

TEST(FrameParse, TwoVlanTags) {
    ByteVec f = eth(ipv6(17, udp(546, 547, kPayload)), 0x86dd, {{0x88a8, 0x00c8}, {0x8100, 0xe064}});
    Frame fr;
    ParseResult r = parse_eth(f, fr);
    ASSERT_TRUE(r.ok()) << drop_name(r.drop);
    EXPECT_EQ(fr.n_vlans, 2);
    EXPECT_EQ(fr.vlan_tpid[0], 0x88a8);
    EXPECT_EQ(fr.vlan_tpid[1], 0x8100);
    EXPECT_EQ(fr.vlan_id(0), 200);
    EXPECT_EQ(fr.vlan_id(1), 100);
    EXPECT_EQ(fr.vlan_tci[1], 0xe064);
    EXPECT_EQ(fr.ip_offset, 22u);
    EXPECT_EQ(fr.payload_offset, 70u);
    EXPECT_EQ(to_hex(fr.payload), to_hex(kPayload));
    // The older 0x9100 outer TPID is also a tag.
    ByteVec f2 = eth(ipv6(17, udp(546, 547, kPayload)), 0x86dd, {{0x9100, 5}, {0x8100, 6}});
    ASSERT_TRUE(parse_eth(f2, fr).ok());
    EXPECT_EQ(fr.n_vlans, 2);
    EXPECT_EQ(fr.vlan_id(0), 5);
}

TEST(FrameParse, ThreeVlanTags) {
    ByteVec f = eth(ipv6(17, udp(546, 547, kPayload)), 0x86dd, {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}});
    expect_drop(f, kLinkEthernet, Drop::kTooManyVlanTags, 20);
}

TEST(FrameParse, NotIpv6) {
    expect_drop(eth(hexb("45000014 00000000 40110000 7f000001 7f000001"), 0x0800), kLinkEthernet, Drop::kNotIpv6, 12);
    expect_drop(eth(ByteVec(28, 0), 0x0806, {{0x8100, 10}}), kLinkEthernet, Drop::kNotIpv6, 16);
}

TEST(FrameParse, TruncatedLinkHeader) {
    ByteVec f = dhcp_frame();
    for (size_t n = 0; n < 14; ++n) expect_drop(ByteVec(f.begin(), f.begin() + n), kLinkEthernet, Drop::kTruncatedLink, 0);
    // A tag cut short.
    Frame fr;
    ParseResult r = parse_eth(cat({kDstMac, kSrcMac, hexb("8100 00")}), fr);
    EXPECT_EQ(r.drop, Drop::kTruncatedLink);
    r = parse_eth(cat({kDstMac, kSrcMac, hexb("8100 0064 86")}), fr);
    EXPECT_EQ(r.drop, Drop::kTruncatedLink);
}

TEST(FrameParse, BadIpv6Version) {
    ByteVec f = eth(ipv6(17, udp(546, 547, kPayload), 1, 0x40000000));
    expect_drop(f, kLinkEthernet, Drop::kBadIpv6Version, 14);
}

TEST(FrameParse, TruncatedIpv6) {
    ByteVec f = dhcp_frame();
    // Shorter than the 40-byte header.
    expect_drop(ByteVec(f.begin(), f.begin() + 14 + 39), kLinkEthernet, Drop::kTruncatedIpv6, 14);
    expect_drop(ByteVec(f.begin(), f.begin() + 14), kLinkEthernet, Drop::kTruncatedIpv6, 14);
    // Payload length says more than the frame holds.
    expect_drop(ByteVec(f.begin(), f.end() - 1), kLinkEthernet, Drop::kTruncatedIpv6, 14);
}

// A frame captured with a short snap length (caplen < wire_len): the headers parse, the payload
// is the captured part, payload_missing says how much is not there; a frame whose lengths run
// past even the original length is still truncated.
TEST(FrameParse, SnappedFrame) {
    ByteVec f = dhcp_frame();
    const size_t udp_payload_at = 14 + 40 + 8;
    for (size_t keep : {udp_payload_at + 5, udp_payload_at, f.size() - 1}) {
        SCOPED_TRACE(keep);
        ByteVec cut(f.begin(), f.begin() + keep);
        Frame fr;
        ParseResult r = parse_snapped(cut, f.size(), kLinkEthernet, fr);
        ASSERT_TRUE(r.ok()) << drop_name(r.drop) << " at " << r.offset;
        EXPECT_EQ(fr.sport, 546);
        EXPECT_EQ(fr.dport, 547);
        EXPECT_EQ(fr.payload.size(), keep - udp_payload_at);
        EXPECT_EQ(fr.payload_missing, f.size() - keep);
        EXPECT_EQ(to_hex(fr.payload), to_hex(ByteVec(kPayload.begin(), kPayload.begin() + long(keep - udp_payload_at))));
        // Without the original length it is a truncated frame, as before.
        expect_drop(cut, kLinkEthernet, Drop::kTruncatedIpv6, 14);
    }
    // Cut inside the UDP header: the UDP header is truncated.
    Frame fr;
    EXPECT_EQ(parse_snapped(ByteVec(f.begin(), f.begin() + 14 + 40 + 4), f.size(), kLinkEthernet, fr).drop,
              Drop::kTruncatedUdp);
    // The IPv6 payload length runs past the original length too: truncated.
    EXPECT_EQ(parse_snapped(ByteVec(f.begin(), f.end() - 10), f.size() - 1, kLinkEthernet, fr).drop,
              Drop::kTruncatedIpv6);
    // Not cut: parse_snapped is parse, checksum verified.
    ParseResult whole = parse_snapped(f, f.size(), kLinkEthernet, fr);
    EXPECT_TRUE(whole.ok());
    EXPECT_EQ(fr.payload_missing, 0u);
    ByteVec bad = f;
    bad.back() ^= 1;
    EXPECT_EQ(parse_snapped(bad, bad.size(), kLinkEthernet, fr).drop, Drop::kBadUdpChecksum);
}

TEST(FrameParse, TrailingLinkPaddingIgnored) {
    ByteVec f = cat({dhcp_frame(), ByteVec(6, 0)});
    Frame fr;
    ParseResult r = parse_eth(f, fr);
    ASSERT_TRUE(r.ok()) << drop_name(r.drop);
    EXPECT_EQ(to_hex(fr.payload), to_hex(kPayload));
}

TEST(FrameParse, ExtensionHeadersWalkedToUdp) {
    // Hop-by-Hop (8 bytes: next 60, len 0, PadN 4) then Destination Options (16 bytes: next 17,
    // len 1, PadN 12) then UDP. The checksum covers only the UDP datagram.
    ByteVec hbh = hexb("3c 00 0104 00000000");
    ByteVec dst = hexb("11 01 010c 000000000000000000000000");
    ByteVec f = eth(ipv6(0, cat({hbh, dst, udp(546, 547, kPayload)})));
    Frame fr;
    ParseResult r = parse_eth(f, fr);
    ASSERT_TRUE(r.ok()) << drop_name(r.drop) << " at " << r.offset;
    EXPECT_EQ(fr.sport, 546);
    EXPECT_EQ(fr.payload_offset, 14u + 40 + 8 + 16 + 8);
    EXPECT_EQ(to_hex(fr.payload), to_hex(kPayload));

    // Routing header (43) and an Authentication Header (51, length in 4-octet units minus 2).
    ByteVec rh = hexb("33 00 0000 00000000");                              // next 51, 8 bytes
    ByteVec ah = hexb("11 04 0000 00000001 00000001 00000000 00000000 00000000");  // next 17, 24 bytes
    ByteVec f2 = eth(ipv6(43, cat({rh, ah, udp(546, 547, kPayload)})));
    r = parse_eth(f2, fr);
    ASSERT_TRUE(r.ok()) << drop_name(r.drop) << " at " << r.offset;
    EXPECT_EQ(fr.payload_offset, 14u + 40 + 8 + 24 + 8);
    EXPECT_EQ(to_hex(fr.payload), to_hex(kPayload));
}

TEST(FrameParse, ExtensionHeaderPastEnd) {
    // Hop-by-Hop claims 48 bytes (len 5); only 8 + 8 follow.
    expect_drop(eth(ipv6(0, cat({hexb("11 05 0104 00000000"), hexb("0222 0223 0008 0000")}))), kLinkEthernet,
                Drop::kBadExtHeader, 54);
    // One byte where an extension header should be.
    expect_drop(eth(ipv6(0, hexb("11"))), kLinkEthernet, Drop::kBadExtHeader, 54);
    // The second header (at 62) runs past the end.
    expect_drop(eth(ipv6(0, cat({hexb("3c 00 0104 00000000"), hexb("11 01 0104 00000000")}))), kLinkEthernet,
                Drop::kBadExtHeader, 62);
    // No room for any extension header at all.
    expect_drop(eth(ipv6(60, {})), kLinkEthernet, Drop::kBadExtHeader, 54);
}

TEST(FrameParse, FragmentHeader) {
    ByteVec frag = hexb("11 00 0001 12345678");  // next 17, offset 0, M=1
    expect_drop(eth(ipv6(44, cat({frag, udp(546, 547, kPayload)}))), kLinkEthernet, Drop::kFragment, 54);
    expect_drop(eth(ipv6(0, cat({hexb("2c 00 0104 00000000"), frag, udp(546, 547, kPayload)}))), kLinkEthernet,
                Drop::kFragment, 62);
}

TEST(FrameParse, NotUdp) {
    ByteVec tcp = hexb("0222 0223 00000000 00000000 5002 ffff 0000 0000");
    expect_drop(eth(ipv6(6, tcp)), kLinkEthernet, Drop::kNotUdp, 54);
    expect_drop(eth(ipv6(58, hexb("8000 0000 0000 0000"))), kLinkEthernet, Drop::kNotUdp, 54);  // ICMPv6
    expect_drop(eth(ipv6(59, {})), kLinkEthernet, Drop::kNotUdp, 54);                       // No Next Header
    expect_drop(eth(ipv6(0, cat({hexb("06 00 0104 00000000"), tcp}))), kLinkEthernet, Drop::kNotUdp, 62);
}

TEST(FrameParse, TruncatedUdp) {
    // Fewer than 8 bytes of UDP header.
    expect_drop(eth(ipv6(17, hexb("0222 0223 0008"))), kLinkEthernet, Drop::kTruncatedUdp, 54);
    expect_drop(eth(ipv6(17, {})), kLinkEthernet, Drop::kTruncatedUdp, 54);
    // UDP length larger than the IPv6 payload.
    ByteVec u = udp(546, 547, kPayload);
    u[5] = uint8_t(u[5] + 1);
    expect_drop(eth(ipv6(17, u)), kLinkEthernet, Drop::kTruncatedUdp, 54);
    // UDP length smaller than its own header.
    u = udp(546, 547, kPayload);
    u[4] = 0, u[5] = 4;
    expect_drop(eth(ipv6(17, u)), kLinkEthernet, Drop::kTruncatedUdp, 54);
}

TEST(FrameParse, UdpLengthMismatch) {
    // UDP says 8 + 6 bytes, the IPv6 payload carries 8 + 10.
    ByteVec u = udp(546, 547, kPayload);
    u[4] = 0, u[5] = 14;
    expect_drop(eth(ipv6(17, u)), kLinkEthernet, Drop::kBadUdpLength, 54);
    expect_drop(eth(ipv6(17, u)), kLinkEthernet, Drop::kBadUdpLength, 54, false);
}

TEST(FrameParse, BadAndZeroChecksum) {
    ByteVec u = udp(546, 547, kPayload);
    ByteVec bad = u;
    bad[7] ^= 0x01;
    expect_drop(eth(ipv6(17, bad)), kLinkEthernet, Drop::kBadUdpChecksum, 54);
    ByteVec zero = u;
    zero[6] = zero[7] = 0;
    expect_drop(eth(ipv6(17, zero)), kLinkEthernet, Drop::kBadUdpChecksum, 54);
    ByteVec flipped = u;
    flipped.back() ^= 0x80;  // payload changed, checksum not
    expect_drop(eth(ipv6(17, flipped)), kLinkEthernet, Drop::kBadUdpChecksum, 54);
    // The pseudo-header counts: the same datagram between other addresses fails.
    ByteVec other_src = hexb("fe800000 00000000 00000000 00000009");
    expect_drop(eth(ipv6(17, u, 1, 0x60000000, other_src)), kLinkEthernet, Drop::kBadUdpChecksum, 54);

    // verify_checksum = false accepts both.
    for (const ByteVec& x : {bad, zero}) {
        Frame fr;
        ByteVec f = eth(ipv6(17, x));
        ParseResult r = parse(f, kLinkEthernet, fr, false);
        ASSERT_TRUE(r.ok()) << drop_name(r.drop);
        EXPECT_EQ(to_hex(fr.payload), to_hex(kPayload));
    }
}

TEST(FrameParse, LinuxSll) {
    // LINUX_SLL: packet type 0 (to us), ARPHRD_ETHER 1, address length 6, 8 address bytes, protocol.
    ByteVec l3 = ipv6(17, udp(546, 547, kPayload));
    ByteVec f = cat({hexb("0000 0001 0006 020000000001 0000 86dd"), l3});
    Frame fr;
    ParseResult r = parse(f, kLinkLinuxSll, fr);
    ASSERT_TRUE(r.ok()) << drop_name(r.drop);
    EXPECT_TRUE(fr.has_ethernet);
    EXPECT_EQ(fr.src_mac.str(), "02:00:00:00:00:01");
    EXPECT_EQ(fr.ip_offset, 16u);
    EXPECT_EQ(fr.payload_offset, 64u);
    EXPECT_EQ(to_hex(fr.payload), to_hex(kPayload));
    // A non-Ethernet device (ARPHRD_NONE 0xfffe, no address).
    ByteVec tun = cat({hexb("0000 fffe 0000 0000000000000000 86dd"), l3});
    r = parse(tun, kLinkLinuxSll, fr);
    ASSERT_TRUE(r.ok()) << drop_name(r.drop);
    EXPECT_FALSE(fr.has_ethernet);
    EXPECT_EQ(fr.sport, 546);
    expect_drop(cat({hexb("0000 0001 0006 020000000001 0000 0800"), ByteVec(20, 0)}), kLinkLinuxSll, Drop::kNotIpv6,
                14);
    expect_drop(hexb("0000 0001 0006 020000000001 0000 86"), kLinkLinuxSll, Drop::kTruncatedLink, 0);
}

TEST(FrameParse, RawAndIpv6LinkTypes) {
    ByteVec l3 = ipv6(17, udp(546, 547, kPayload));
    for (int lt : {kLinkRaw, kLinkIpv6}) {
        Frame fr;
        ParseResult r = parse(l3, lt, fr);
        ASSERT_TRUE(r.ok()) << lt << " " << drop_name(r.drop);
        EXPECT_FALSE(fr.has_ethernet);
        EXPECT_EQ(fr.ip_offset, 0u);
        EXPECT_EQ(fr.payload_offset, 48u);
        EXPECT_EQ(fr.dst.str(), "ff02::1:2");
        EXPECT_EQ(to_hex(fr.payload), to_hex(kPayload));
        expect_drop(hexb("45000014 00000000 40110000 7f000001 7f000001"), lt, Drop::kNotIpv6, 0);
        expect_drop({}, lt, Drop::kTruncatedIpv6, 0);
        expect_drop(ByteVec(l3.begin(), l3.begin() + 20), lt, Drop::kTruncatedIpv6, 0);
    }
    EXPECT_EQ(kLinkRaw, 101);
    EXPECT_EQ(kLinkIpv6, 229);
    EXPECT_EQ(kLinkLinuxSll, 113);
}

TEST(FrameParse, UnsupportedLinkType) {
    for (int lt : {0, 105, 127, 147}) expect_drop(dhcp_frame(), lt, Drop::kUnsupportedLink, 0);
}

TEST(FrameParse, ResetsOutputBetweenCalls) {
    Frame fr;
    ASSERT_TRUE(parse_eth(eth(ipv6(17, udp(546, 547, kPayload)), 0x86dd, {{0x8100, 7}}), fr).ok());
    ASSERT_EQ(fr.n_vlans, 1);
    ASSERT_TRUE(parse(ipv6(17, udp(546, 547, kPayload)), kLinkRaw, fr).ok());
    EXPECT_EQ(fr.n_vlans, 0);
    EXPECT_FALSE(fr.has_ethernet);
}

TEST(FrameParse, DropNames) {
    std::vector<std::string> seen;
    for (int d = 0; d < int(Drop::kCount_); ++d) {
        std::string n(drop_name(Drop(d)));
        EXPECT_FALSE(n.empty());
        EXPECT_NE(n, "unknown") << d;
        for (const auto& s : seen) EXPECT_NE(s, n);
        seen.push_back(n);
    }
    EXPECT_EQ(drop_name(Drop::kBadUdpChecksum), "bad-udp-checksum");
}

// ---- building --------------------------------------------------------------------------

BuildSpec spec(uint8_t n_vlans) {
    BuildSpec s;
    s.src_mac = MacAddr::from(kSrcMac);
    s.dst_mac = MacAddr::from(kDstMac);
    s.src = Ip6Addr::from(kSrcIp);
    s.dst = Ip6Addr::from(kDstIp);
    s.sport = 546;
    s.dport = 547;
    s.hop_limit = 8;
    s.traffic_class = 0x20;
    s.flow_label = 0xabcde;
    s.n_vlans = n_vlans;
    s.vlan_tpid[0] = n_vlans == 2 ? 0x88a8 : 0x8100;
    s.vlan_tci[0] = 0x0064;
    s.vlan_tpid[1] = 0x8100;
    s.vlan_tci[1] = 0x20c8;
    return s;
}

TEST(FrameBuild, RoundTripWithZeroOneTwoTags) {
    for (uint8_t n : {0, 1, 2}) {
        BuildSpec s = spec(n);
        std::vector<uint8_t> out{0xde, 0xad};  // build clears first
        ASSERT_TRUE(build(s, kPayload, out));
        std::vector<std::pair<uint16_t, uint16_t>> tags;
        if (n >= 1) tags.push_back({s.vlan_tpid[0], s.vlan_tci[0]});
        if (n >= 2) tags.push_back({s.vlan_tpid[1], s.vlan_tci[1]});
        ByteVec expected = eth(ipv6(17, udp(546, 547, kPayload), 8, 0x620abcde), 0x86dd, tags);
        EXPECT_EQ(to_hex(out), to_hex(expected)) << int(n);
        size_t udp_at = 14 + 4 * n + 40;
        EXPECT_EQ(out[udp_at + 6] << 8 | out[udp_at + 7], kKnownChecksum);

        Frame fr;
        ParseResult r = parse(out, kLinkEthernet, fr);
        ASSERT_TRUE(r.ok()) << drop_name(r.drop);
        EXPECT_EQ(fr.n_vlans, n);
        if (n >= 1) {
            EXPECT_EQ(fr.vlan_id(0), 100);
        }
        if (n >= 2) {
            EXPECT_EQ(fr.vlan_tpid[0], 0x88a8);
            EXPECT_EQ(fr.vlan_id(1), 200);
            EXPECT_EQ(fr.vlan_tci[1], 0x20c8);
        }
        EXPECT_EQ(fr.src_mac, s.src_mac);
        EXPECT_EQ(fr.dst_mac, s.dst_mac);
        EXPECT_EQ(fr.src, s.src);
        EXPECT_EQ(fr.dst, s.dst);
        EXPECT_EQ(fr.hop_limit, 8);
        EXPECT_EQ(fr.traffic_class, 0x20);
        EXPECT_EQ(fr.flow_label, 0xabcdeu);
        EXPECT_EQ(fr.sport, 546);
        EXPECT_EQ(fr.dport, 547);
        EXPECT_EQ(to_hex(fr.payload), to_hex(kPayload));
    }
}

TEST(FrameBuild, BuildIpv6AppendsPacket) {
    BuildSpec s = spec(0);
    std::vector<uint8_t> out{0xaa};
    ASSERT_TRUE(build_ipv6(s, kPayload, out));
    EXPECT_EQ(to_hex(out), to_hex(cat({hexb("aa"), ipv6(17, udp(546, 547, kPayload), 8, 0x620abcde)})));
    Frame fr;
    EXPECT_TRUE(parse(Bytes(out).subspan(1), kLinkIpv6, fr).ok());
}

TEST(FrameBuild, EmptyAndLargePayloads) {
    BuildSpec s = spec(0);
    std::vector<uint8_t> out;
    ASSERT_TRUE(build(s, {}, out));
    EXPECT_EQ(out.size(), 14u + 40 + 8);
    Frame fr;
    ASSERT_TRUE(parse(out, kLinkEthernet, fr).ok());
    EXPECT_TRUE(fr.payload.empty());

    ByteVec big(65527, 0x5a);
    ASSERT_TRUE(build(s, big, out));
    ASSERT_TRUE(parse(out, kLinkEthernet, fr).ok());
    EXPECT_EQ(fr.payload.size(), big.size());
    ByteVec too_big(65528, 0x5a);
    EXPECT_FALSE(build(s, too_big, out));
    std::vector<uint8_t> out2;
    EXPECT_FALSE(build_ipv6(s, too_big, out2));
}

TEST(FrameBuild, MulticastMac) {
    EXPECT_EQ(multicast_mac(*Ip6Addr::parse("ff02::1:2")).str(), "33:33:00:01:00:02");
    EXPECT_EQ(multicast_mac(*Ip6Addr::parse("ff05::1:3")).str(), "33:33:00:01:00:03");
    EXPECT_EQ(multicast_mac(*Ip6Addr::parse("ff02::1:ff12:3456")).str(), "33:33:ff:12:34:56");
}

}  // namespace
