// The frame layer: Ethernet II, 802.1Q (one or two tags), IPv6 with its extension-header chain,
// and UDP with its checksum. Pure: parsing returns views into the caller's buffer.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "dhcp6/wire.h"

namespace regrelay::frame {

// pcap link-layer header types we read (https://www.tcpdump.org/linktypes.html).
inline constexpr int kLinkEthernet = 1;     // DLT_EN10MB
inline constexpr int kLinkRaw = 101;        // LINKTYPE_RAW (IPv4 or IPv6, no link header)
inline constexpr int kLinkLinuxSll = 113;   // LINKTYPE_LINUX_SLL ("any" device)
inline constexpr int kLinkIpv6 = 229;       // LINKTYPE_IPV6
inline constexpr int kLinkLinuxSll2 = 276;  // LINKTYPE_LINUX_SLL2 (interface index and direction)

inline constexpr uint16_t kEtherIpv6 = 0x86dd;
inline constexpr uint16_t kEtherVlan = 0x8100;
inline constexpr uint16_t kEtherQinQ = 0x88a8;
inline constexpr uint16_t kEtherVlanOld = 0x9100;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoFragment = 44;
inline constexpr size_t kEthHeaderLen = 14;
inline constexpr size_t kVlanTagLen = 4;
inline constexpr size_t kIpv6HeaderLen = 40;
inline constexpr size_t kUdpHeaderLen = 8;
inline constexpr size_t kMaxVlanTags = 2;

// Why a frame is not a usable IPv6/UDP datagram. Each is counted by the caller.
enum class Drop : uint8_t {
    kNone = 0,
    kTruncatedLink,     // shorter than its link-layer header
    kTooManyVlanTags,   // more than two 802.1Q tags
    kNotIpv6,           // another ethertype (ARP, IPv4, ...)
    kTruncatedIpv6,     // shorter than the IPv6 header or its payload length
    kBadIpv6Version,    // version field is not 6
    kBadExtHeader,      // an extension header runs past the packet
    kFragment,          // a Fragment header: DHCPv6 over fragments is not reassembled
    kNotUdp,            // the chain ends in another protocol
    kTruncatedUdp,      // shorter than the UDP header or its length field
    kBadUdpLength,      // UDP length disagrees with the IPv6 payload length
    kBadUdpChecksum,    // checksum zero or wrong
    kUnsupportedLink,   // a pcap link type we do not read
    kCount_
};
std::string_view drop_name(Drop d);

struct Frame {
    // Link layer (zero when the link type has none).
    bool has_ethernet = false;
    regrelay::MacAddr dst_mac, src_mac;
    uint8_t n_vlans = 0;
    uint16_t vlan_tci[kMaxVlanTags] = {};  // outermost first; VLAN ID is tci & 0xfff
    uint16_t vlan_tpid[kMaxVlanTags] = {};
    // IPv6
    regrelay::Ip6Addr src, dst;
    uint8_t hop_limit = 0;
    uint8_t traffic_class = 0;
    uint32_t flow_label = 0;
    // UDP
    uint16_t sport = 0, dport = 0;
    regrelay::Bytes payload;   // the UDP payload
    size_t payload_offset = 0; // offset of the UDP payload within the frame
    size_t ip_offset = 0;      // offset of the IPv6 header within the frame
    size_t payload_missing = 0; // parse_snapped: bytes of the UDP payload the capture cut off

    uint16_t vlan_id(size_t i = 0) const { return vlan_tci[i] & 0x0fff; }
};

struct ParseResult {
    Drop drop = Drop::kNone;
    size_t offset = 0;  // where the problem was found
    bool ok() const { return drop == Drop::kNone; }
};

// Parses a captured frame of the given pcap link type. On success fills `out`.
// UDP checksums are verified unless verify_checksum is false.
ParseResult parse(regrelay::Bytes data, int linktype, Frame& out, bool verify_checksum = true);
// The same for a frame captured with a snap length shorter than the frame (data.size() <
// wire_len): IPv6 and UDP lengths may run past the data by the bytes not captured, the payload is
// the part that was captured and Frame::payload_missing says how much is lost; the UDP checksum
// of a cut datagram cannot be checked. With wire_len == data.size() it is parse().
ParseResult parse_snapped(regrelay::Bytes data, size_t wire_len, int linktype, Frame& out,
                          bool verify_checksum = true);

// The UDP checksum over the IPv6 pseudo-header (RFC 8200 §8.1) of a UDP header+payload
// whose checksum field is zero. Returns the value to store (0 is sent as 0xffff).
uint16_t udp6_checksum(const regrelay::Ip6Addr& src, const regrelay::Ip6Addr& dst, regrelay::Bytes udp);

// What to build: an Ethernet (optionally VLAN-tagged) IPv6/UDP frame.
struct BuildSpec {
    regrelay::MacAddr src_mac, dst_mac;
    uint8_t n_vlans = 0;
    uint16_t vlan_tci[kMaxVlanTags] = {};
    uint16_t vlan_tpid[kMaxVlanTags] = {kEtherVlan, kEtherVlan};
    regrelay::Ip6Addr src, dst;
    uint8_t hop_limit = 1;
    uint8_t traffic_class = 0;
    uint32_t flow_label = 0;
    uint16_t sport = 0, dport = 0;
};

// Appends the frame to `out` (cleared first); returns false if the payload exceeds 65527 bytes.
bool build(const BuildSpec& spec, regrelay::Bytes payload, std::vector<uint8_t>& out);
// Appends an IPv6/UDP packet (no link-layer header) to `out`.
bool build_ipv6(const BuildSpec& spec, regrelay::Bytes payload, std::vector<uint8_t>& out);

// LINUX_SLL2 packet types (the direction recorded in written captures).
inline constexpr uint8_t kSllHost = 0;       // to us
inline constexpr uint8_t kSllMulticast = 2;  // to a multicast group
inline constexpr uint8_t kSllOutgoing = 4;   // sent by us
inline constexpr size_t kSll2HeaderLen = 20;

// Appends a LINUX_SLL2 header for an IPv6 packet: interface index, packet type and the
// sender's MAC (all zero when unknown). The IPv6 packet follows (build_ipv6).
void append_sll2_header(std::vector<uint8_t>& out, uint32_t ifindex, uint8_t pkttype, const regrelay::MacAddr& mac);

// Appends a captured frame of `linktype` re-framed as LINUX_SLL2 (for captures that mix
// interfaces and directions). Returns false for link types it cannot re-frame.
bool append_sll2_from_capture(std::vector<uint8_t>& out, uint32_t ifindex, uint8_t pkttype, int linktype,
                              regrelay::Bytes frame);

// The Ethernet multicast address for an IPv6 multicast group (RFC 2464 §7): 33:33 + low 32 bits.
regrelay::MacAddr multicast_mac(const regrelay::Ip6Addr& group);

}  // namespace regrelay::frame
