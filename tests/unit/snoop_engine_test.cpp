// Unit tests for the snoop engine (snoop/engine.h): an RFC 6221 Lightweight DHCPv6 Relay Agent
// on a bridge, with the RFC 9686 messages (ADDR-REG-INFORM 36 / ADDR-REG-REPLY 37).
//
// Input frames are built here by hand (Ethernet, 802.1Q tags, IPv6, UDP with its checksum), and
// what the engine emits is taken apart by a parser written here, never with frame:: or dhcp6::
// code. One Relay-forward frame is compared byte for byte against bytes written out by hand.
//
//   relay message:  msg-type (1) | hop-count (1) | link-address (16) | peer-address (16) | options
//   option:         code (2) | length (2) | body
//   option 9:       the relayed message, verbatim
//   option 18:      the interface-id (the port name)
//   option 79:      link-layer type 0x0001 (Ethernet) | 6-byte MAC

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "snoop/engine.h"
#include "test_util.h"

namespace {

using namespace regrelay;
using regrelay::snoop::Actions;
using regrelay::snoop::Config;
using regrelay::snoop::Drop;
using regrelay::snoop::Engine;
using regrelay::snoop::Port;
using regrelay::snoop::Role;
using regrelay::test::be16;
using regrelay::test::cat;
using regrelay::test::hexb;
using regrelay::test::mkopt;
using regrelay::test::parse_relay;
using regrelay::test::ParsedRelay;
using regrelay::test::str_bytes;
using regrelay::test::to_hex;

using V = std::vector<uint8_t>;

constexpr int kLinkEthernet = 1;

// ---- addressing plan ---------------------------------------------------------------------

// Ports: 0 "c1" and 1 "c2" (clients, untrusted), 2 "up" (uplink), 3 "tr" (trusted).
constexpr int kC1 = 0, kC2 = 1, kUp = 2, kTr = 3;

constexpr const char* kClientMac = "02:00:00:aa:00:01";
constexpr const char* kClientLl = "fe80::ff:feaa:1";
constexpr const char* kClientGua = "2001:db8:1::101";
constexpr const char* kRouterMac = "02:00:00:bb:00:01";
constexpr const char* kRouterLl = "fe80::ff:febb:1";
constexpr const char* kRouterGua = "2001:db8:1::1";
constexpr const char* kAllDhcp = "ff02::1:2";
constexpr const char* kAllDhcpMac = "33:33:00:01:00:02";

V ab(const char* s) {
    auto a = Ip6Addr::parse(s);
    if (!a) throw std::invalid_argument(std::string("bad address in test: ") + s);
    return V(a->b.begin(), a->b.end());
}
V mb(const char* s) {
    auto m = MacAddr::parse(s);
    if (!m) throw std::invalid_argument(std::string("bad MAC in test: ") + s);
    return V(m->b.begin(), m->b.end());
}

Config base_config(bool client_link_layer = true) {
    Config c;
    Port c1{"c1", Role::kClient, {}};
    Port c2{"c2", Role::kClient, {}};
    Port up{"up", Role::kUplink, {}};
    Port tr{"tr", Role::kTrusted, {}};
    c.ports = {c1, c2, up, tr};
    c.client_link_layer = client_link_layer;
    c.verify_udp_checksum = true;
    return c;
}

// ---- frames built by hand ----------------------------------------------------------------

uint32_t sum16(const V& b, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < b.size(); i += 2) s += uint32_t(b[i] << 8 | b[i + 1]);
    if (b.size() & 1) s += uint32_t(b.back() << 8);
    return s;
}

// RFC 8200 §8.1: over the pseudo-header and the UDP header (checksum zero) and payload.
uint16_t udp_checksum(const V& src, const V& dst, const V& udp) {
    uint32_t s = sum16(cat({src, dst, V{0, 0}, be16(uint16_t(udp.size())), V{0, 0, 0, 17}}));
    s = sum16(udp, s);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    uint16_t c = uint16_t(~s);
    return c ? c : 0xffff;
}

struct Tag {
    uint16_t tpid, tci;
};

struct FrameSpec {
    const char* src_mac = kClientMac;
    const char* dst_mac = kAllDhcpMac;
    std::vector<Tag> tags;
    const char* src = kClientLl;
    const char* dst = kAllDhcp;
    uint8_t hop_limit = 1;
    uint16_t sport = 546, dport = 547;
    bool bad_checksum = false;
};

V make_frame(const V& payload, const FrameSpec& s = {}) {
    V udp = cat({be16(s.sport), be16(s.dport), be16(uint16_t(8 + payload.size())), V{0, 0}, payload});
    uint16_t c = udp_checksum(ab(s.src), ab(s.dst), udp);
    if (s.bad_checksum) c ^= 0x0101;
    udp[6] = uint8_t(c >> 8);
    udp[7] = uint8_t(c);
    V ip = cat({V{0x60, 0, 0, 0}, be16(uint16_t(udp.size())), V{17, s.hop_limit}, ab(s.src), ab(s.dst)});
    V eth = cat({mb(s.dst_mac), mb(s.src_mac)});
    for (const Tag& t : s.tags) eth = cat({eth, be16(t.tpid), be16(t.tci)});
    return cat({eth, be16(0x86dd), ip, udp});
}

V client_msg(uint8_t type, uint32_t xid, const V& options = {}) {
    return cat({V{type, uint8_t(xid >> 16), uint8_t(xid >> 8), uint8_t(xid)}, options});
}
V relay_msg(uint8_t type, uint8_t hop, const char* link, const char* peer, const V& options) {
    return cat({V{type, hop}, ab(link), ab(peer), options});
}
V duid_ll(const char* mac) { return cat({hexb("0003 0001"), mb(mac)}); }
V solicit(uint32_t xid = 0x0a0b0c) {
    return client_msg(1, xid, cat({mkopt(1, duid_ll(kClientMac)), mkopt(8, hexb("0000"))}));
}
V addr_reg_inform(uint32_t xid = 0x3a1b2c) {
    return client_msg(36, xid,
                      cat({mkopt(1, duid_ll(kClientMac)),
                           mkopt(5, cat({ab(kClientGua), hexb("00000e10 00001c20")}))}));
}

// A Relay-reply frame from the upstream relay, as it arrives on the uplink.
FrameSpec from_router(const char* dst = kClientLl, const char* dst_mac = kClientMac) {
    FrameSpec s;
    s.src_mac = kRouterMac;
    s.dst_mac = dst_mac;
    s.src = kRouterLl;
    s.dst = dst;
    s.hop_limit = 255;
    s.sport = 547;
    s.dport = 547;
    return s;
}

// ---- an independent parser for what the engine emits ------------------------------------

struct Parsed {
    bool ok = false;
    std::string why;
    V dst_mac, src_mac;
    std::vector<Tag> tags;
    uint8_t traffic_class = 0, hop_limit = 0;
    V src, dst;
    uint16_t sport = 0, dport = 0;
    V payload;
};

Parsed parse_frame(const V& f) {
    Parsed p;
    size_t i = 12;
    if (f.size() < 14) return p.why = "short", p;
    p.dst_mac.assign(f.begin(), f.begin() + 6);
    p.src_mac.assign(f.begin() + 6, f.begin() + 12);
    uint16_t et = uint16_t(f[i] << 8 | f[i + 1]);
    while (et == 0x8100 || et == 0x88a8 || et == 0x9100) {
        if (f.size() < i + 6) return p.why = "short tag", p;
        p.tags.push_back({et, uint16_t(f[i + 2] << 8 | f[i + 3])});
        i += 4;
        et = uint16_t(f[i] << 8 | f[i + 1]);
    }
    i += 2;
    if (et != 0x86dd) return p.why = "not IPv6", p;
    if (f.size() < i + 48) return p.why = "short IPv6/UDP", p;
    if ((f[i] >> 4) != 6) return p.why = "IP version", p;
    p.traffic_class = uint8_t((f[i] & 0x0f) << 4 | f[i + 1] >> 4);
    const size_t plen = size_t(f[i + 4] << 8 | f[i + 5]);
    if (f[i + 6] != 17) return p.why = "next header not UDP", p;
    p.hop_limit = f[i + 7];
    p.src.assign(f.begin() + long(i) + 8, f.begin() + long(i) + 24);
    p.dst.assign(f.begin() + long(i) + 24, f.begin() + long(i) + 40);
    i += 40;
    if (f.size() != i + plen) return p.why = "IPv6 payload length " + std::to_string(plen), p;
    V udp(f.begin() + long(i), f.end());
    p.sport = uint16_t(udp[0] << 8 | udp[1]);
    p.dport = uint16_t(udp[2] << 8 | udp[3]);
    if (size_t(udp[4] << 8 | udp[5]) != udp.size()) return p.why = "UDP length", p;
    const uint16_t got = uint16_t(udp[6] << 8 | udp[7]);
    udp[6] = udp[7] = 0;
    if (got != udp_checksum(p.src, p.dst, udp)) return p.why = "UDP checksum", p;
    p.payload.assign(udp.begin() + 8, udp.end());
    p.ok = true;
    return p;
}

V emitted(const Actions& a) { return V(a.frame.begin(), a.frame.end()); }

// Runs one frame; the Actions are copied out so tests can feed the engine again.
struct Result {
    bool emit;
    int out_port;
    V frame;
    Drop drop;
};
Result run(Engine& e, int port, const V& frame) {
    Actions a;
    e.on_frame(port, frame, kLinkEthernet, a);
    return {a.emit, a.out_port, emitted(a), a.drop};
}

// A Relay-forward emitted on the uplink toward ff02::1:2 from the client's own addresses, port
// 547 to 547, carrying exactly `inner`. Returns the parsed relay message.
ParsedRelay expect_relay_forward(const Result& r, const V& inner, const FrameSpec& in, uint8_t hop,
                                 const std::string& ifid, bool with_mac) {
    ParsedRelay rf;
    EXPECT_TRUE(r.emit);
    EXPECT_EQ(r.drop, Drop::kNone) << snoop::drop_name(r.drop);
    EXPECT_EQ(r.out_port, kUp);
    Parsed p = parse_frame(r.frame);
    EXPECT_TRUE(p.ok) << p.why << ": " << to_hex(r.frame);
    if (!p.ok) return rf;
    EXPECT_EQ(to_hex(p.dst_mac), to_hex(mb(kAllDhcpMac)));
    EXPECT_EQ(to_hex(p.src_mac), to_hex(mb(in.src_mac))) << "the client's MAC is kept";
    EXPECT_EQ(p.tags.size(), in.tags.size());
    for (size_t i = 0; i < std::min(p.tags.size(), in.tags.size()); ++i) {
        EXPECT_EQ(p.tags[i].tpid, in.tags[i].tpid);
        EXPECT_EQ(p.tags[i].tci, in.tags[i].tci);
    }
    EXPECT_EQ(to_hex(p.src), to_hex(ab(in.src))) << "the client's IPv6 source is kept";
    EXPECT_EQ(to_hex(p.dst), to_hex(ab(kAllDhcp)));
    EXPECT_EQ(p.sport, 547);
    EXPECT_EQ(p.dport, 547);
    rf = parse_relay(p.payload);
    EXPECT_TRUE(rf.ok);
    EXPECT_EQ(rf.type, 12);
    EXPECT_EQ(rf.hop, hop);
    EXPECT_EQ(to_hex(rf.link), to_hex(ab("::"))) << "RFC 6221: link-address unspecified";
    EXPECT_EQ(to_hex(rf.peer), to_hex(ab(in.src))) << "peer-address = the IPv6 source";
    const V* id = rf.find(18);
    EXPECT_TRUE(id && *id == str_bytes(ifid)) << "Interface-ID " << ifid;
    const V* ll = rf.find(79);
    if (with_mac)
        EXPECT_TRUE(ll && *ll == cat({hexb("0001"), mb(in.src_mac)})) << "option 79 = client MAC";
    else
        EXPECT_EQ(ll, nullptr) << "no option 79";
    const V* m = rf.find(9);
    EXPECT_TRUE(m && *m == inner) << "option 9 = the received bytes verbatim";
    return rf;
}

// The inner message sent out of `port` only, unchanged, to `peer` on `dport`, from the relay's
// addresses to the frame's destination MAC.
void expect_relay_down(const Result& r, int port, const V& inner, const char* peer, uint16_t dport,
                       const FrameSpec& in) {
    EXPECT_TRUE(r.emit) << snoop::drop_name(r.drop);
    EXPECT_EQ(r.drop, Drop::kNone);
    EXPECT_EQ(r.out_port, port);
    Parsed p = parse_frame(r.frame);
    ASSERT_TRUE(p.ok) << p.why << ": " << to_hex(r.frame);
    EXPECT_EQ(to_hex(p.dst_mac), to_hex(mb(in.dst_mac)));
    EXPECT_EQ(to_hex(p.src_mac), to_hex(mb(in.src_mac)));
    EXPECT_EQ(to_hex(p.src), to_hex(ab(in.src)));
    EXPECT_EQ(to_hex(p.dst), to_hex(ab(peer))) << "to the peer-address";
    EXPECT_EQ(p.sport, 547);
    EXPECT_EQ(p.dport, dport);
    EXPECT_EQ(to_hex(p.payload), to_hex(inner)) << "the inner message, unchanged";
}

// ---- Relay-forward: exact bytes -----------------------------------------------------------

TEST(SnoopEngine, RelayForwardExactBytes) {
    Engine e(base_config());
    const V sol = hexb("01 0a0b0c | 0001 000a 00030001 020000aa0001 | 0008 0002 0000");
    const V in = make_frame(sol);
    const V want = hexb(
        "333300010002 020000aa0001 86dd"                      // Ethernet: to 33:33:00:01:00:02 from the client
        "60000000 0058 11 01"                                 // IPv6: payload 88, UDP, hop limit 1 (copied)
        "fe80000000000000000000fffeaa0001"                    //   source: the client's
        "ff020000000000000000000000010002"                    //   destination: ff02::1:2
        "0223 0223 0058 7e57"                                 // UDP 547 -> 547, length 88, checksum
        "0c 00"                                               // Relay-forward, hop-count 0
        "00000000000000000000000000000000"                    //   link-address ::
        "fe80000000000000000000fffeaa0001"                    //   peer-address: the client's source
        "0012 0002 6331"                                      //   Interface-ID "c1"
        "004f 0008 0001 020000aa0001"                         //   option 79: Ethernet, the client's MAC
        "0009 0018 010a0b0c0001000a00030001020000aa0001000800020000");  // option 9: the Solicit
    Result r = run(e, kC1, in);
    ASSERT_TRUE(r.emit) << snoop::drop_name(r.drop);
    EXPECT_EQ(r.out_port, kUp);
    EXPECT_EQ(to_hex(r.frame), to_hex(want));
}

// ---- Relay-forward: any client message type -----------------------------------------------

TEST(SnoopEngine, AnyClientMessageTypeIsRelayed) {
    // Every type but the six server/relay types, RFC 9686's 36 and unassigned ones included.
    for (int t = 0; t < 256; ++t) {
        if (t == 2 || t == 7 || t == 10 || t == 12 || t == 13 || t == 37) continue;
        Engine e(base_config());
        const V msg = client_msg(uint8_t(t), 0x000100 + uint32_t(t), mkopt(1, duid_ll(kClientMac)));
        FrameSpec s;
        Result r = run(e, kC2, make_frame(msg, s));
        SCOPED_TRACE("type " + std::to_string(t));
        expect_relay_forward(r, msg, s, 0, "c2", true);
        EXPECT_EQ(e.counters(kC2).relayed_up, 1u);
    }
}

TEST(SnoopEngine, AddrRegInformFromGlobalAddress) {
    Engine e(base_config());
    const V inform = addr_reg_inform();
    FrameSpec s;
    s.src = kClientGua;
    Result r = run(e, kC1, make_frame(inform, s));
    expect_relay_forward(r, inform, s, 0, "c1", true);
    EXPECT_EQ(e.counters(kC1).addr_reg_inform, 1u);
    EXPECT_EQ(e.counters(kC1).relayed_up, 1u);
}

TEST(SnoopEngine, NoClientLinkLayerOption) {
    Engine e(base_config(/*client_link_layer=*/false));
    const V sol = solicit();
    FrameSpec s;
    Result r = run(e, kC1, make_frame(sol, s));
    ParsedRelay rf = expect_relay_forward(r, sol, s, 0, "c1", false);
    EXPECT_EQ(rf.codes(), (std::vector<uint16_t>{18, 9}));
}

TEST(SnoopEngine, ConfiguredInterfaceId) {
    Config c = base_config();
    c.ports[kC2].interface_id = str_bytes("ge-0/0/2");
    Engine e(c);
    const V sol = solicit();
    FrameSpec s;
    expect_relay_forward(run(e, kC2, make_frame(sol, s)), sol, s, 0, "ge-0/0/2", true);
    // Replies are matched against the configured id, not the port name.
    const V adv = client_msg(2, 0x0a0b0c);
    FrameSpec d = from_router();
    const V rr = relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("ge-0/0/2")), mkopt(9, adv)}));
    expect_relay_down(run(e, kUp, make_frame(rr, d)), kC2, adv, kClientLl, 546, d);
    const V rr2 = relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("c2")), mkopt(9, adv)}));
    EXPECT_EQ(run(e, kUp, make_frame(rr2, d)).drop, Drop::kUnknownInterface);
}

TEST(SnoopEngine, VlanTagsCopiedUpAndDown) {
    for (const auto& tags : {std::vector<Tag>{{0x8100, 0x2064}},                      // PCP 1, VLAN 100
                             std::vector<Tag>{{0x88a8, 0x000a}, {0x8100, 0x00c8}}}) {  // QinQ 10/200
        SCOPED_TRACE(std::to_string(tags.size()) + " tag(s)");
        Engine e(base_config());
        const V sol = solicit();
        FrameSpec s;
        s.tags = tags;
        expect_relay_forward(run(e, kC1, make_frame(sol, s)), sol, s, 0, "c1", true);

        const V adv = client_msg(2, 0x0a0b0c, mkopt(1, duid_ll(kClientMac)));
        FrameSpec d = from_router();
        d.tags = tags;
        Result r = run(e, kUp, make_frame(relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("c1")),
                                                                                  mkopt(9, adv)})),
                                          d));
        expect_relay_down(r, kC1, adv, kClientLl, 546, d);
        Parsed p = parse_frame(r.frame);
        ASSERT_EQ(p.tags.size(), tags.size());
        for (size_t i = 0; i < tags.size(); ++i) {
            EXPECT_EQ(p.tags[i].tpid, tags[i].tpid);
            EXPECT_EQ(p.tags[i].tci, tags[i].tci);
        }
    }
}

// ---- the DHCPv6 guard on client ports -----------------------------------------------------

TEST(SnoopEngine, GuardDropsServerAndRelayMessagesOnClientPorts) {
    struct Case {
        uint8_t type;
        uint16_t sport, dport;
        Drop want;
    };
    const Case cases[] = {
        {2, 547, 546, Drop::kGuardServerMessage},   // Advertise
        {7, 547, 546, Drop::kGuardServerMessage},   // Reply
        {10, 547, 546, Drop::kGuardServerMessage},  // Reconfigure
        {37, 547, 546, Drop::kGuardServerMessage},  // ADDR-REG-REPLY
        {2, 546, 547, Drop::kGuardServerMessage},   // Advertise toward the servers' port
        {37, 546, 547, Drop::kGuardServerMessage},  // ADDR-REG-REPLY toward the servers' port
        {1, 547, 546, Drop::kGuardServerMessage},   // anything to the clients' port
        {13, 547, 547, Drop::kGuardRelayReply},     // Relay-reply
        {13, 547, 546, Drop::kGuardRelayReply},
        {12, 547, 547, Drop::kGuardRelayForward},   // Relay-forward: untrusted ports are no relays
    };
    Engine e(base_config());
    uint64_t n = 0;
    for (const Case& c : cases) {
        SCOPED_TRACE("type " + std::to_string(c.type) + " " + std::to_string(c.sport) + "->" +
                     std::to_string(c.dport));
        V msg = c.type == 12 || c.type == 13
                    ? relay_msg(c.type, 0, "::", kClientLl, cat({mkopt(18, str_bytes("c2")), mkopt(9, solicit())}))
                    : client_msg(c.type, 0x111111, mkopt(2, duid_ll(kClientMac)));
        FrameSpec s;
        s.sport = c.sport;
        s.dport = c.dport;
        Result r = run(e, kC1, make_frame(msg, s));
        EXPECT_FALSE(r.emit);
        EXPECT_TRUE(r.frame.empty());
        EXPECT_EQ(r.drop, c.want) << snoop::drop_name(r.drop);
        ++n;
    }
    const auto& k = e.counters(kC1);
    EXPECT_EQ(k.received, n);
    EXPECT_EQ(k.relayed_up, 0u);
    EXPECT_EQ(k.drops[size_t(Drop::kGuardServerMessage)], 7u);
    EXPECT_EQ(k.drops[size_t(Drop::kGuardRelayReply)], 2u);
    EXPECT_EQ(k.drops[size_t(Drop::kGuardRelayForward)], 1u);
    // Nothing was sent anywhere: no other port's counters moved.
    for (int p : {kC2, kUp, kTr}) {
        EXPECT_EQ(e.counters(p).received, 0u);
        EXPECT_EQ(e.counters(p).relayed_down, 0u);
    }
}

// ---- trusted ports ------------------------------------------------------------------------

TEST(SnoopEngine, TrustedPortRewrapsRelayForward) {
    Engine e(base_config());
    const V inner = solicit();
    for (uint8_t hop : {0, 3, 7}) {
        SCOPED_TRACE("hop-count " + std::to_string(hop));
        const V fw = relay_msg(12, hop, "::", "fe80::dd:1",
                               cat({mkopt(18, str_bytes("downstream-port")), mkopt(79, cat({hexb("0001"),
                                                                                           mb(kClientMac)})),
                                    mkopt(9, inner)}));
        FrameSpec s;
        s.src_mac = "02:00:00:dd:00:01";
        s.src = "fe80::dd:1";
        s.sport = 547;
        ParsedRelay rf = expect_relay_forward(run(e, kTr, make_frame(fw, s)), fw, s, uint8_t(hop + 1), "tr", false);
        EXPECT_EQ(rf.codes(), (std::vector<uint16_t>{18, 9})) << "no option 79 for a relay's message";
    }
    // At the limit: a Relay-forward already at hop-count 8 is dropped and counted.
    const V fw8 = relay_msg(12, 8, "::", "fe80::dd:1", mkopt(9, inner));
    FrameSpec s;
    s.src = "fe80::dd:1";
    s.sport = 547;
    Result r = run(e, kTr, make_frame(fw8, s));
    EXPECT_FALSE(r.emit);
    EXPECT_EQ(r.drop, Drop::kHopLimit);
    const V fw200 = relay_msg(12, 200, "::", "fe80::dd:1", mkopt(9, inner));
    EXPECT_EQ(run(e, kTr, make_frame(fw200, s)).drop, Drop::kHopLimit);
    EXPECT_EQ(e.counters(kTr).drops[size_t(Drop::kHopLimit)], 2u);
    EXPECT_EQ(e.counters(kTr).relayed_up, 3u);
}

TEST(SnoopEngine, TrustedPortRelaysClientMessagesToo) {
    Engine e(base_config());
    const V inform = addr_reg_inform();
    FrameSpec s;
    s.src = kClientGua;
    expect_relay_forward(run(e, kTr, make_frame(inform, s)), inform, s, 0, "tr", true);
    EXPECT_EQ(e.counters(kTr).addr_reg_inform, 1u);
}

TEST(SnoopEngine, UplinkDoesNotRelayUpward) {
    // Not intercepted on the uplink (RFC 6221 §6.2 takes link-local source and destination only):
    // a client message from a global source, a server's message to a global address or to 546.
    Engine e(base_config());
    FrameSpec s;
    s.src = kClientGua;
    EXPECT_EQ(run(e, kUp, make_frame(solicit(), s)).drop, Drop::kWrongDirection);
    s.sport = 547;
    EXPECT_EQ(run(e, kUp, make_frame(relay_msg(12, 0, "::", kClientGua, mkopt(9, solicit())), s)).drop,
              Drop::kWrongDirection);
    // A server's native (unwrapped) message on a trusted port is not the LDRA's business.
    FrameSpec d = from_router();
    d.dport = 546;
    EXPECT_EQ(run(e, kUp, make_frame(client_msg(2, 1), d)).drop, Drop::kNativeServerMessage);
    EXPECT_EQ(run(e, kTr, make_frame(client_msg(37, 1), d)).drop, Drop::kNativeServerMessage);
    d = from_router(kClientGua);
    EXPECT_EQ(run(e, kUp, make_frame(client_msg(7, 1), d)).drop, Drop::kNativeServerMessage);
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kWrongDirection)], 2u);
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kNativeServerMessage)], 2u);
    EXPECT_EQ(e.counters(kTr).drops[size_t(Drop::kNativeServerMessage)], 1u);
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kUplinkNotRelayReply)], 0u);
}

// RFC 6221 §6.2: on the network-facing port, DHCPv6 from a link-local source to a link-local
// destination (fe80::/10 or link-scope multicast) on UDP 547 is intercepted, and only a
// Relay-reply is acted on: every other type is discarded and counted (the filters keep the
// original off the bridge). The rule is the uplink's only: a trusted client-facing port is not
// network-facing.
TEST(SnoopEngine, UplinkInterceptsLinkLocalAndDiscardsAllButRelayReply) {
    Engine e(base_config());
    struct Case {
        const char* what;
        V msg;
        const char* src;
        const char* dst;
        uint16_t sport;
    };
    const Case cases[] = {
        {"Solicit to ff02::1:2", solicit(), kRouterLl, kAllDhcp, 546},
        {"ADDR-REG-INFORM to ff02::1:2", addr_reg_inform(), kClientLl, kAllDhcp, 546},
        {"unknown type 200 to ff02::1:2", client_msg(200, 7), kRouterLl, kAllDhcp, 546},
        {"Relay-forward to ff02::1:2", relay_msg(12, 0, "::", kClientLl, mkopt(9, solicit())), kRouterLl, kAllDhcp,
         547},
        {"Advertise to ff02::1:2", client_msg(2, 1), kRouterLl, kAllDhcp, 547},
        {"Reply to a link-local unicast", client_msg(7, 1), kRouterLl, kClientLl, 547},
        {"ADDR-REG-REPLY to a link-local unicast", client_msg(37, 1), kRouterLl, kClientLl, 547},
        {"Solicit to ff12::1:2 (transient, link scope)", solicit(), kRouterLl, "ff12::1:2", 546},
        {"Solicit to ff02::1 (all nodes)", solicit(), kRouterLl, "ff02::1", 546},
    };
    for (const Case& k : cases) {
        SCOPED_TRACE(k.what);
        FrameSpec f = from_router(k.dst, k.dst[0] == 'f' && k.dst[1] == 'f' ? kAllDhcpMac : kClientMac);
        f.src = k.src;
        f.sport = k.sport;
        const Result r = run(e, kUp, make_frame(k.msg, f));
        EXPECT_FALSE(r.emit);
        EXPECT_EQ(r.drop, Drop::kUplinkNotRelayReply) << snoop::drop_name(r.drop);
    }
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kUplinkNotRelayReply)], std::size(cases));
    EXPECT_EQ(e.counters(kUp).relayed_up + e.counters(kUp).relayed_down, 0u);
    for (int p : {kC1, kC2, kTr}) EXPECT_EQ(e.counters(p).relayed_down, 0u);

    // Outside the rule, as before: to UDP 546, from a global source, to a global destination,
    // to a site-scope multicast.
    FrameSpec to546 = from_router();
    to546.dport = 546;
    EXPECT_EQ(run(e, kUp, make_frame(client_msg(2, 1), to546)).drop, Drop::kNativeServerMessage);
    FrameSpec global_src;
    global_src.src = kRouterGua;
    EXPECT_EQ(run(e, kUp, make_frame(solicit(), global_src)).drop, Drop::kWrongDirection);
    EXPECT_EQ(run(e, kUp, make_frame(client_msg(7, 1), from_router(kClientGua))).drop, Drop::kNativeServerMessage);
    FrameSpec site;
    site.dst = "ff05::1:3";
    EXPECT_EQ(run(e, kUp, make_frame(solicit(), site)).drop, Drop::kWrongDirection);
    // A trusted client-facing port is not network-facing: its link-local Advertise is not §6.2's.
    EXPECT_EQ(run(e, kTr, make_frame(client_msg(2, 1), from_router())).drop, Drop::kNativeServerMessage);
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kUplinkNotRelayReply)], std::size(cases));

    // The one type acted on: a Relay-reply, link-local to link-local, is unwrapped as ever.
    const V adv = client_msg(2, 0x0a0b0c, mkopt(1, duid_ll(kClientMac)));
    FrameSpec d = from_router();
    const V rr = relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("c1")), mkopt(9, adv)}));
    expect_relay_down(run(e, kUp, make_frame(rr, d)), kC1, adv, kClientLl, 546, d);
    // And one sent to ff02::1:2 too (then it has no client MAC: counted as such, not as §6.2's).
    FrameSpec m = from_router(kAllDhcp, kAllDhcpMac);
    EXPECT_EQ(run(e, kUp, make_frame(rr, m)).drop, Drop::kNoClientMac);
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kUplinkNotRelayReply)], std::size(cases));
}

// ---- Relay-reply down to the right port ---------------------------------------------------

TEST(SnoopEngine, RelayReplyToTheNamedPortOnly) {
    Engine e(base_config());
    const V adv = client_msg(2, 0x0a0b0c, cat({mkopt(1, duid_ll(kClientMac)), mkopt(2, duid_ll("02:00:00:cc:00:01"))}));
    for (int port : {kC1, kC2}) {
        const std::string name = port == kC1 ? "c1" : "c2";
        SCOPED_TRACE(name);
        FrameSpec d = from_router();
        const V rr = relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes(name)), mkopt(9, adv)}));
        expect_relay_down(run(e, kUp, make_frame(rr, d)), port, adv, kClientLl, 546, d);
    }
    EXPECT_EQ(e.counters(kC1).relayed_down, 1u);
    EXPECT_EQ(e.counters(kC2).relayed_down, 1u);
    EXPECT_EQ(e.counters(kUp).received, 2u);
    EXPECT_EQ(e.counters(kUp).relayed_down, 0u);
}

TEST(SnoopEngine, NestedRelayReplyGoesToPort547) {
    // A downstream relay (another LDRA) on the trusted port gets its own Relay-reply on port 547.
    Engine e(base_config());
    const V reply = client_msg(7, 0x0a0b0c, mkopt(1, duid_ll(kClientMac)));
    const V inner_rr = relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("downstream")), mkopt(9, reply)}));
    FrameSpec d = from_router("fe80::dd:1", "02:00:00:dd:00:01");
    const V rr = relay_msg(13, 1, "::", "fe80::dd:1", cat({mkopt(18, str_bytes("tr")), mkopt(9, inner_rr)}));
    expect_relay_down(run(e, kUp, make_frame(rr, d)), kTr, inner_rr, "fe80::dd:1", 547, d);
}

TEST(SnoopEngine, AddrRegReplyToGlobalPeer) {
    // RFC 9686: ADDR-REG-INFORM comes from the registered (global) address, so the upstream relay
    // set link-address :: and sends the Relay-reply to that address. Intercepted all the same.
    Engine e(base_config());
    const V reply = client_msg(37, 0x3a1b2c, cat({mkopt(1, duid_ll(kClientMac)),
                                                  mkopt(5, cat({ab(kClientGua), hexb("00000e10 00001c20")}))}));
    FrameSpec d = from_router(kClientGua);
    d.src = kRouterGua;
    d.hop_limit = 64;
    const V rr = relay_msg(13, 0, "::", kClientGua, cat({mkopt(18, str_bytes("c2")), mkopt(9, reply)}));
    Result r = run(e, kUp, make_frame(rr, d));
    expect_relay_down(r, kC2, reply, kClientGua, 546, d);
    EXPECT_EQ(parse_frame(r.frame).hop_limit, 64);
    EXPECT_EQ(e.counters(kC2).addr_reg_reply, 1u);
    EXPECT_EQ(e.counters(kC2).relayed_down, 1u);
}

TEST(SnoopEngine, RelayReplyFromTrustedPort) {
    Engine e(base_config());
    const V adv = client_msg(2, 0x0a0b0c);
    FrameSpec d = from_router();
    const V rr = relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("c1")), mkopt(9, adv)}));
    expect_relay_down(run(e, kTr, make_frame(rr, d)), kC1, adv, kClientLl, 546, d);
}

TEST(SnoopEngine, RelayReplyNamingNoKnownPort) {
    Engine e(base_config());
    const V adv = client_msg(2, 0x0a0b0c);
    FrameSpec d = from_router();
    for (const char* id : {"c3", "up", "", "c1 ", "C1"}) {
        SCOPED_TRACE(std::string("interface-id \"") + id + "\"");
        const V rr = relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes(id)), mkopt(9, adv)}));
        Result r = run(e, kUp, make_frame(rr, d));
        EXPECT_FALSE(r.emit);
        EXPECT_EQ(r.drop, Drop::kUnknownInterface) << snoop::drop_name(r.drop);
    }
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kUnknownInterface)], 5u);
}

TEST(SnoopEngine, RelayReplyWithoutInterfaceId) {
    Engine e(base_config());
    const V rr = relay_msg(13, 0, "2001:db8:1::1", kClientLl, mkopt(9, client_msg(2, 1)));
    Result r = run(e, kUp, make_frame(rr, from_router()));
    EXPECT_FALSE(r.emit);
    EXPECT_EQ(r.drop, Drop::kNoInterfaceId);
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kNoInterfaceId)], 1u);
}

TEST(SnoopEngine, RelayReplyToMulticastMacHasNoClient) {
    Engine e(base_config());
    const V rr = relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("c1")), mkopt(9, client_msg(2, 1))}));
    for (const char* mac : {"33:33:00:00:00:01", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01"}) {
        SCOPED_TRACE(mac);
        Result r = run(e, kUp, make_frame(rr, from_router("ff02::1", mac)));
        EXPECT_FALSE(r.emit);
        EXPECT_EQ(r.drop, Drop::kNoClientMac) << snoop::drop_name(r.drop);
    }
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kNoClientMac)], 3u);
    EXPECT_EQ(e.counters(kC1).relayed_down, 0u);
}

TEST(SnoopEngine, NoStateRepliesNeedNoRequest) {
    // Nothing is learnt: a reply for a client never seen is relayed, twice if sent twice, and a
    // client's earlier message does not change where or how anything is relayed.
    Engine e(base_config());
    const V adv = client_msg(2, 0x777777);
    FrameSpec d = from_router("fe80::1234", "02:00:00:12:34:56");
    const V rr = relay_msg(13, 0, "::", "fe80::1234", cat({mkopt(18, str_bytes("c2")), mkopt(9, adv)}));
    Result a = run(e, kUp, make_frame(rr, d));
    expect_relay_down(a, kC2, adv, "fe80::1234", 546, d);
    FrameSpec s;  // the same client on c1 now
    s.src_mac = "02:00:00:12:34:56";
    s.src = "fe80::1234";
    run(e, kC1, make_frame(solicit(0x777777), s));
    Result b = run(e, kUp, make_frame(rr, d));
    EXPECT_EQ(b.out_port, kC2);
    EXPECT_EQ(to_hex(b.frame), to_hex(a.frame));
}

// ---- every other drop reason --------------------------------------------------------------

TEST(SnoopEngine, FrameLevelDrops) {
    Engine e(base_config());
    // Not IPv6 (ARP).
    V arp = cat({hexb("ffffffffffff 020000aa0001 0806"), V(28, 0)});
    EXPECT_EQ(run(e, kC1, arp).drop, Drop::kBadFrame);
    // Truncated IPv6 header.
    V sol_frame = make_frame(solicit());
    EXPECT_EQ(run(e, kC1, V(sol_frame.begin(), sol_frame.begin() + 30)).drop, Drop::kBadFrame);
    // Bad UDP checksum (verified when configured so).
    FrameSpec bad;
    bad.bad_checksum = true;
    EXPECT_EQ(run(e, kC1, make_frame(solicit(), bad)).drop, Drop::kBadUdpChecksum);
    // IPv6 fragment: a Fragment header (44) before UDP.
    V frag = make_frame(solicit());
    {
        const size_t ip = 14;
        V udp(frag.begin() + long(ip) + 40, frag.end());
        V fh = {17, 0, 0x00, 0x01, 0, 0, 0, 1};  // next UDP, offset 0, M=1, id 1
        V hdr(frag.begin(), frag.begin() + long(ip) + 40);
        hdr[ip + 6] = 44;
        const uint16_t plen = uint16_t(udp.size() + fh.size());
        hdr[ip + 4] = uint8_t(plen >> 8);
        hdr[ip + 5] = uint8_t(plen);
        frag = cat({hdr, fh, udp});
    }
    EXPECT_EQ(run(e, kC1, frag).drop, Drop::kFragment);
    // Not DHCP: UDP 53.
    FrameSpec dns;
    dns.sport = 5353;
    dns.dport = 53;
    EXPECT_EQ(run(e, kC1, make_frame(solicit(), dns)).drop, Drop::kNotDhcp);
    dns.sport = 546;
    EXPECT_EQ(run(e, kC1, make_frame(solicit(), dns)).drop, Drop::kNotDhcp);
    // Shorter than a DHCPv6 header.
    EXPECT_EQ(run(e, kC1, make_frame(hexb("01 0a0b"))).drop, Drop::kTruncated);
    EXPECT_EQ(run(e, kC1, make_frame(V{})).drop, Drop::kTruncated);

    const auto& k = e.counters(kC1);
    EXPECT_EQ(k.received, 8u);
    EXPECT_EQ(k.drops[size_t(Drop::kBadFrame)], 2u);
    EXPECT_EQ(k.drops[size_t(Drop::kBadUdpChecksum)], 1u);
    EXPECT_EQ(k.drops[size_t(Drop::kFragment)], 1u);
    EXPECT_EQ(k.drops[size_t(Drop::kNotDhcp)], 2u);
    EXPECT_EQ(k.drops[size_t(Drop::kTruncated)], 2u);
}

TEST(SnoopEngine, ChecksumNotVerifiedInLiveMode) {
    Config c = base_config();
    c.verify_udp_checksum = false;  // live mode: offloaded checksums on veth/tap
    Engine e(c);
    FrameSpec bad;
    bad.bad_checksum = true;
    const V sol = solicit();
    expect_relay_forward(run(e, kC1, make_frame(sol, bad)), sol, bad, 0, "c1", true);
}

TEST(SnoopEngine, MalformedRelayMessages) {
    Engine e(base_config());
    FrameSpec s;
    s.src = "fe80::dd:1";
    s.sport = 547;
    // A Relay-forward shorter than its header, and one whose options run past the end.
    EXPECT_EQ(run(e, kTr, make_frame(hexb("0c 00 0000"), s)).drop, Drop::kMalformedRelay);
    V broken = relay_msg(12, 0, "::", "fe80::dd:1", mkopt(9, solicit()));
    broken.push_back(0);
    broken.push_back(9);
    broken.push_back(0);
    EXPECT_EQ(run(e, kTr, make_frame(broken, s)).drop, Drop::kMalformedRelay);
    // Relay-replies: short, broken options, empty option 9, unusable peer-address.
    FrameSpec d = from_router();
    EXPECT_EQ(run(e, kUp, make_frame(hexb("0d 00 0000"), d)).drop, Drop::kMalformedRelay);
    V rr_broken = relay_msg(13, 0, "::", kClientLl, mkopt(18, str_bytes("c1")));
    rr_broken.push_back(0);
    EXPECT_EQ(run(e, kUp, make_frame(rr_broken, d)).drop, Drop::kMalformedRelay);
    EXPECT_EQ(run(e, kUp, make_frame(relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("c1")), mkopt(9, {})})),
                                     d))
                  .drop,
              Drop::kMalformedRelay);
    for (const char* peer : {"::", "ff02::1"}) {
        SCOPED_TRACE(peer);
        const V rr = relay_msg(13, 0, "::", peer, cat({mkopt(18, str_bytes("c1")), mkopt(9, client_msg(2, 1))}));
        EXPECT_EQ(run(e, kUp, make_frame(rr, d)).drop, Drop::kMalformedRelay);
    }
    // No option 9 at all.
    EXPECT_EQ(run(e, kUp, make_frame(relay_msg(13, 0, "::", kClientLl, mkopt(18, str_bytes("c1"))), d)).drop,
              Drop::kNoRelayMessage);
    EXPECT_EQ(e.counters(kTr).drops[size_t(Drop::kMalformedRelay)], 2u);
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kMalformedRelay)], 5u);
    EXPECT_EQ(e.counters(kUp).drops[size_t(Drop::kNoRelayMessage)], 1u);
}

TEST(SnoopEngine, TooBigToWrap) {
    Engine e(base_config());
    // A client message that fits a UDP datagram but not once wrapped in a Relay-forward.
    V big = client_msg(1, 0x0a0b0c, mkopt(0xfff0, V(65480, 0x5a)));
    Result r = run(e, kC1, make_frame(big));
    EXPECT_FALSE(r.emit);
    EXPECT_EQ(r.drop, Drop::kTooBig) << snoop::drop_name(r.drop);
    EXPECT_EQ(e.counters(kC1).drops[size_t(Drop::kTooBig)], 1u);
    EXPECT_EQ(e.counters(kC1).relayed_up, 0u);
}

TEST(SnoopEngine, DropNames) {
    const std::pair<Drop, const char*> names[] = {
        {Drop::kNone, "none"},
        {Drop::kBadFrame, "bad-frame"},
        {Drop::kBadUdpChecksum, "bad-udp-checksum"},
        {Drop::kFragment, "ipv6-fragment"},
        {Drop::kNotDhcp, "not-dhcp"},
        {Drop::kTruncated, "truncated"},
        {Drop::kGuardServerMessage, "guard-server-message"},
        {Drop::kGuardRelayReply, "guard-relay-reply"},
        {Drop::kGuardRelayForward, "guard-relay-forward"},
        {Drop::kHopLimit, "hop-limit"},
        {Drop::kMalformedRelay, "malformed-relay"},
        {Drop::kTooBig, "too-big"},
        {Drop::kUnknownInterface, "unknown-interface"},
        {Drop::kNoInterfaceId, "no-interface-id"},
        {Drop::kNoRelayMessage, "no-relay-message"},
        {Drop::kNoClientMac, "no-client-mac"},
        {Drop::kWrongDirection, "wrong-direction"},
        {Drop::kNativeServerMessage, "native-server-message"},
        {Drop::kNotIntercepted, "not-intercepted"},
        {Drop::kUplinkNotRelayReply, "uplink-not-relay-reply"},
        {Drop::kRateLimitPort, "rate-limit-port"},
        {Drop::kRateLimitMac, "rate-limit-mac"},
        {Drop::kVlanNotMember, "vlan-not-member"},
        {Drop::kDoubleTagged, "double-tagged"},
        {Drop::kVlanNotOnUplink, "vlan-not-on-uplink"},
        {Drop::kReplyVlanMismatch, "reply-vlan-mismatch"},
    };
    EXPECT_EQ(std::size(names), size_t(Drop::kCount_));
    for (const auto& [d, n] : names) EXPECT_EQ(snoop::drop_name(d), n);
}

// ---- counters -----------------------------------------------------------------------------

TEST(SnoopEngine, CountersReport) {
    Engine e(base_config());
    EXPECT_EQ(e.counters_report(),
              "c1 (client): received 0 relayed-up 0 relayed-down 0 addr-reg-inform 0 addr-reg-reply 0 drops none\n"
              "c2 (client): received 0 relayed-up 0 relayed-down 0 addr-reg-inform 0 addr-reg-reply 0 drops none\n"
              "up (uplink): received 0 relayed-up 0 relayed-down 0 addr-reg-inform 0 addr-reg-reply 0 drops none\n"
              "tr (trusted): received 0 relayed-up 0 relayed-down 0 addr-reg-inform 0 addr-reg-reply 0 drops none\n");

    FrameSpec g;
    g.src = kClientGua;
    run(e, kC1, make_frame(solicit()));
    run(e, kC1, make_frame(addr_reg_inform(), g));
    FrameSpec adv_spec;
    adv_spec.sport = 547;
    adv_spec.dport = 546;
    run(e, kC1, make_frame(client_msg(2, 1), adv_spec));
    run(e, kC2, make_frame(relay_msg(12, 0, "::", kClientLl, mkopt(9, solicit()))));
    run(e, kC2, make_frame(relay_msg(13, 0, "::", kClientLl, mkopt(9, solicit()))));
    run(e, kC2, make_frame(relay_msg(13, 0, "::", kClientLl, mkopt(9, solicit()))));
    FrameSpec d = from_router(kClientGua);
    run(e, kUp, make_frame(relay_msg(13, 0, "::", kClientGua, cat({mkopt(18, str_bytes("c1")),
                                                                   mkopt(9, client_msg(37, 0x3a1b2c))})),
                           d));
    run(e, kUp, make_frame(relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("c1")),
                                                                  mkopt(9, client_msg(2, 0x0a0b0c))})),
                           from_router()));
    run(e, kUp, make_frame(relay_msg(13, 0, "::", kClientLl, mkopt(9, client_msg(2, 1))), from_router()));
    run(e, kUp, make_frame(relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("zz")),
                                                                  mkopt(9, client_msg(2, 1))})),
                           from_router()));
    FrameSpec t;
    t.src = "fe80::dd:1";
    t.sport = 547;
    run(e, kTr, make_frame(relay_msg(12, 8, "::", "fe80::dd:1", mkopt(9, solicit())), t));
    run(e, kTr, make_frame(relay_msg(12, 2, "::", "fe80::dd:1", mkopt(9, addr_reg_inform())), t));

    EXPECT_EQ(e.counters_report(),
              "c1 (client): received 3 relayed-up 2 relayed-down 2 addr-reg-inform 1 addr-reg-reply 1 drops "
              "guard-server-message=1\n"
              "c2 (client): received 3 relayed-up 0 relayed-down 0 addr-reg-inform 0 addr-reg-reply 0 drops "
              "guard-relay-reply=2 guard-relay-forward=1\n"
              "up (uplink): received 4 relayed-up 0 relayed-down 0 addr-reg-inform 0 addr-reg-reply 0 drops "
              "unknown-interface=1 no-interface-id=1\n"
              "tr (trusted): received 2 relayed-up 1 relayed-down 0 addr-reg-inform 0 addr-reg-reply 0 drops "
              "hop-limit=1\n");
    const auto& c1 = e.counters(kC1);
    EXPECT_EQ(c1.received, 3u);
    EXPECT_EQ(c1.relayed_up, 2u);
    EXPECT_EQ(c1.relayed_down, 2u);
    EXPECT_EQ(c1.addr_reg_inform, 1u);
    EXPECT_EQ(c1.addr_reg_reply, 1u);
}

// ---- `regrelay snoop --print-filters` = deploy/snoop-filters.nft --------------------------

std::vector<std::string> significant_lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') continue;
        out.push_back(line);
    }
    return out;
}

// `regrelay ARGS` with stderr merged: (exit status, output).
std::pair<int, std::string> run_regrelay(const std::string& args) {
    const std::string cmd = std::string("'") + REGRELAY_BINARY + "' " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return {-1, "popen failed"};
    std::string got;
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, p)) > 0) got.append(buf, k);
    const int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, got};
}

std::string replace_all(std::string s, const std::string& mark, const std::string& with, size_t& n) {
    n = 0;
    for (size_t at; (at = s.find(mark)) != std::string::npos; ++n) s.replace(at, mark.size(), with);
    return s;
}

TEST(SnoopFilters, PrintFiltersMatchesDeployFile) {
    std::ifstream f(std::string(REGRELAY_SOURCE_DIR) + "/deploy/snoop-filters.nft");
    ASSERT_TRUE(f) << "deploy/snoop-filters.nft";
    std::stringstream ss;
    ss << f.rdbuf();
    std::string want = ss.str();
    // Once each in the ruleset; the comment that explains them names them too. (Longest first:
    // @CLIENT_PORTS@ is no part of @CLIENT_FACING_PORTS@, but keep the order safe anyway.)
    size_t n = 0;
    want = replace_all(want, "@CLIENT_FACING_PORTS@", "\"a\", \"b\", \"t\"", n);
    EXPECT_GE(n, 1u);
    want = replace_all(want, "@CLIENT_PORTS@", "\"a\", \"b\"", n);
    EXPECT_GE(n, 1u);
    want = replace_all(want, "@NETWORK_PORT@", "\"u\"", n);
    EXPECT_GE(n, 1u);

    const auto [status, got] =
        run_regrelay("snoop --print-filters --client-port a --client-port b --uplink u --trusted-port t");
    EXPECT_EQ(status, 0) << got;
    const auto w = significant_lines(want), g = significant_lines(got);
    EXPECT_EQ(g, w) << "--- regrelay snoop --print-filters ---\n" << got;
    EXPECT_GE(g.size(), 10u);
}

// The rules that make RFC 6221 §6.1 and §6.2 hold in the data plane, by port role: what a
// client-facing port (trusted ones included) sends to ff02::1:2 UDP 547 is not bridged, and what
// the uplink sends from a link-local source to a link-local destination on UDP 547 is not
// bridged either; the DHCPv6 guard stays on the untrusted ports only.
TEST(SnoopFilters, RulesetByPortRole) {
    const auto [status, got] =
        run_regrelay("snoop --print-filters --client-port c1 --client-port c2 --uplink up --trusted-port tr");
    ASSERT_EQ(status, 0) << got;
    const std::vector<std::string> lines = significant_lines(got);
    auto has = [&](const std::string& rule) {
        for (const auto& l : lines)
            if (l.find_first_not_of('\t') != std::string::npos && l.substr(l.find_first_not_of('\t')) == rule)
                return true;
        return false;
    };
    auto set_elements = [&](const std::string& set) -> std::string {
        for (size_t i = 0; i + 2 < lines.size(); ++i)
            if (lines[i] == "\tset " + set + " {") return lines[i + 2];
        return "(no set " + set + ")";
    };
    EXPECT_EQ(set_elements("client_ports"), "\t\telements = { \"c1\", \"c2\" }");
    EXPECT_EQ(set_elements("client_facing_ports"), "\t\telements = { \"c1\", \"c2\", \"tr\" }");
    EXPECT_EQ(set_elements("network_port"), "\t\telements = { \"up\" }");
    // §6.1, on every client-facing port (untagged and 802.1Q).
    EXPECT_TRUE(has("iifname @client_facing_ports ip6 daddr ff02::1:2 udp dport 547 counter drop")) << got;
    EXPECT_TRUE(has("iifname @client_facing_ports vlan type ip6 ip6 daddr ff02::1:2 udp dport 547 counter drop"));
    // §6.2, on the network-facing port.
    for (const char* dst : {"fe80::/10", "& ff0f:: == ff02::"}) {
        SCOPED_TRACE(dst);
        EXPECT_TRUE(has(std::string("iifname @network_port ip6 saddr fe80::/10 ip6 daddr ") + dst +
                        " udp dport 547 counter drop"));
        EXPECT_TRUE(has(std::string("iifname @network_port vlan type ip6 ip6 saddr fe80::/10 ip6 daddr ") + dst +
                        " udp dport 547 counter drop"));
    }
    // The guard names the untrusted set only: a trusted port may carry relay and server messages.
    for (const auto& l : lines) {
        if (l.find("@th,64,8") != std::string::npos || l.find("sport 547") != std::string::npos) {
            EXPECT_NE(l.find("@client_ports "), std::string::npos) << l;
        }
    }

    // Without a trusted port the client-facing set is the client ports (never an empty set).
    const auto [st2, got2] = run_regrelay("snoop --print-filters --client-port c1 --uplink up");
    ASSERT_EQ(st2, 0) << got2;
    EXPECT_NE(got2.find("set client_facing_ports {\n\t\ttype ifname\n\t\telements = { \"c1\" }"),
              std::string::npos)
        << got2;
    // The ruleset names the uplink: --print-filters without one is a usage error.
    const auto [st3, got3] = run_regrelay("snoop --print-filters --client-port c1");
    EXPECT_EQ(st3, 2) << got3;
    EXPECT_NE(got3.find("uplink"), std::string::npos) << got3;
}

}  // namespace

// RFC 6221 §6.1: the LDRA intercepts client messages to ff02::1:2 only; a client's unicast to a
// server (Server Unicast, RFC 8415 §18.4) is left to the bridge and counted, not relayed. The
// guard still holds whatever the destination.
TEST(SnoopEngine, UnicastToServerIsNotIntercepted) {
    Engine e(base_config());
    FrameSpec uni;
    uni.src = "2001:db8:1::100";
    uni.dst = "2001:db8:ffff::1";
    uni.dst_mac = "02:00:00:00:00:fe";
    const Result r = run(e, kC1, make_frame(solicit(), uni));
    EXPECT_EQ(r.drop, Drop::kNotIntercepted);
    EXPECT_EQ(e.counters(kC1).relayed_up, 0u);
    EXPECT_EQ(e.counters(kC1).drops[size_t(Drop::kNotIntercepted)], 1u);
    // The same on a trusted client-facing port.
    EXPECT_EQ(run(e, kTr, make_frame(solicit(), uni)).drop, Drop::kNotIntercepted);
    // A unicast Relay-forward or Relay-reply from a client port is still the guard's.
    V relay_forw = cat({hexb("0c 00"), V(32, 0), hexb("0009 0004"), solicit()});
    relay_forw.resize(38 + 4);
    EXPECT_EQ(run(e, kC1, make_frame(relay_forw, uni)).drop, Drop::kGuardRelayForward);
    // And the multicast is relayed as ever.
    EXPECT_EQ(run(e, kC1, make_frame(solicit())).drop, Drop::kNone);
}

// ---- flood limits (RFC 9686 §6): client-facing ports only, never from a reply ------------------

namespace {

constexpr uint64_t kSec = 1'000'000'000;

TEST(SnoopEngine, FloodLimitsPerMacThenPerPortCounted) {
    Config c = base_config();
    c.limits.per_mac = {20, 100};
    c.limits.per_port = {10, 150};
    Engine e(c);
    e.advance(1000 * kSec);
    const V f = make_frame(solicit());
    int up = 0;
    for (int i = 0; i < 500; ++i) up += run(e, kC1, f).emit;
    EXPECT_EQ(up, 100);
    EXPECT_EQ(e.counters(kC1).drops[size_t(Drop::kRateLimitMac)], 400u);
    // 60 hosts: the port's 150 less the flooder's 100 leaves 50.
    FrameSpec other;
    std::vector<std::string> macs;
    for (int i = 0; i < 60; ++i)
        macs.push_back(std::string("02:00:00:cc:00:") + "0123456789abcdef"[i / 16] + "0123456789abcdef"[i % 16]);
    up = 0;
    for (const auto& m : macs) {
        other.src_mac = m.c_str();
        up += run(e, kC1, make_frame(solicit(), other)).emit;
    }
    EXPECT_EQ(up, 50);
    EXPECT_EQ(e.counters(kC1).drops[size_t(Drop::kRateLimitPort)], 10u);
    EXPECT_EQ(run(e, kC2, f).drop, Drop::kNone);  // c2 has its own buckets
    EXPECT_NE(e.counters_report().find("c1 (client): received 560 relayed-up 150 relayed-down 0 addr-reg-inform 0 "
                                       "addr-reg-reply 0 drops rate-limit-port=10 rate-limit-mac=400"),
              std::string::npos)
        << e.counters_report();
}

TEST(SnoopEngine, FloodLimitsTrustedRelayForwardPerPortOnly) {
    Config c = base_config();
    c.limits.per_mac = {1, 1};
    c.limits.per_port = {100, 100};
    Engine e(c);
    e.advance(1000 * kSec);
    FrameSpec t;
    t.src = "fe80::dd:1";
    t.sport = 547;
    const V fwd = make_frame(relay_msg(12, 0, "::", "fe80::dd:1", mkopt(9, solicit())), t);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(run(e, kTr, fwd).drop, Drop::kNone) << i;
    EXPECT_EQ(run(e, kTr, fwd).drop, Drop::kRateLimitPort);
    // A client message on the trusted port is per-MAC limited as on a client port.
    e.advance(1002 * kSec);
    EXPECT_EQ(run(e, kTr, make_frame(solicit())).drop, Drop::kNone);
    EXPECT_EQ(run(e, kTr, make_frame(solicit())).drop, Drop::kRateLimitMac);
}

TEST(SnoopEngine, FloodLimitsRepliesOnTheUplinkCreateNoState) {
    Config c = base_config();
    c.limits.per_mac = {1, 1};
    c.limits.per_port = {2, 2};
    Engine e(c);
    e.advance(1000 * kSec);
    const V rr = make_frame(relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes("c1")),
                                                                   mkopt(9, client_msg(7, 0x0a0b0c))})),
                            from_router());
    for (int i = 0; i < 10000; ++i) ASSERT_TRUE(run(e, kUp, rr).emit) << i;
    EXPECT_EQ(e.flood_guard().mac_table().occupied(1000 * kSec), 0u);
    // c1's buckets are untouched: the client still has its token.
    EXPECT_EQ(run(e, kC1, make_frame(solicit())).drop, Drop::kNone);
    EXPECT_EQ(e.flood_guard().mac_table().occupied(1000 * kSec), 1u);
}

TEST(SnoopEngine, FloodLimitsInfoLineBudget) {
    Config c = base_config();
    c.limits.per_mac = {};
    c.limits.per_port = {};
    c.limits.log_lines = {20, 100};
    Engine e(c);
    e.advance(1000 * kSec);
    FrameSpec g;
    g.src = kClientGua;
    const V f = make_frame(addr_reg_inform(), g);
    Actions a;
    int logged = 0;
    for (int i = 0; i < 10000; ++i) {
        e.on_frame(kC1, f, kLinkEthernet, a);
        ASSERT_TRUE(a.emit);
        logged += !a.log_suppressed;
    }
    EXPECT_EQ(logged, 100);
    auto lines = e.flood_report(1010 * kSec);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "flood limits on c1 in the last 10.0 s: dropped 0 (rate-limit-port 0, rate-limit-mac 0), "
                        "9900 info lines suppressed");
}

}  // namespace

// ---- VLANs (docs/snoop.md "VLANs") -----------------------------------------------------------

namespace vl {

using regrelay::snoop::PortVlans;

// Ports: 0 "a1" access VLAN 10, 1 "a2" access VLAN 20, 2 "up" uplink trunk 10,20,30 tagged,
// 3 "tk" client trunk 20,30 tagged, 4 "c0" client without VLANs.
constexpr int kA1 = 0, kA2 = 1, kUpl = 2, kTk = 3, kC0 = 4;

PortVlans pv(uint16_t pvid, std::vector<uint16_t> tagged = {}) {
    PortVlans v;
    v.pvid = pvid;
    v.tagged = std::move(tagged);
    return v;
}

Config vlan_config() {
    Config c;
    c.ports = {Port{"a1", Role::kClient, {}, pv(10), {}}, Port{"a2", Role::kClient, {}, pv(20), {}},
               Port{"up", Role::kUplink, {}, pv(0, {10, 20, 30}), {}}, Port{"tk", Role::kClient, {}, pv(0, {20, 30}), {}},
               Port{"c0", Role::kClient, {}, {}, {}}};
    c.verify_udp_checksum = true;
    return c;
}

FrameSpec tagged(uint16_t tci, FrameSpec s = {}) {
    s.tags = {{0x8100, tci}};
    return s;
}

// The Relay-forward expected for `in` on the uplink: `in` with the tags the uplink carries.
ParsedRelay expect_up(Engine& e, int port, const FrameSpec& in, std::vector<Tag> up_tags, const std::string& ifid) {
    const V sol = solicit();
    Result r = run(e, port, make_frame(sol, in));
    EXPECT_EQ(r.out_port, kUpl);
    FrameSpec want = in;
    want.tags = std::move(up_tags);
    return expect_relay_forward(r, sol, want, 0, ifid, true);
}

V reply_for(const std::string& ifid) {
    const V adv = client_msg(2, 0x0a0b0c, mkopt(1, duid_ll(kClientMac)));
    return relay_msg(13, 0, "::", kClientLl, cat({mkopt(18, str_bytes(ifid)), mkopt(9, adv)}));
}

// A Relay-reply for `ifid` arriving on the uplink with `tags`; checks it goes to `port` with
// `want_tags` and returns what happened.
Result expect_down(Engine& e, const std::string& ifid, std::vector<Tag> tags, int port, std::vector<Tag> want_tags) {
    FrameSpec d = from_router();
    d.tags = std::move(tags);
    Result r = run(e, kUpl, make_frame(reply_for(ifid), d));
    const V adv = client_msg(2, 0x0a0b0c, mkopt(1, duid_ll(kClientMac)));
    expect_relay_down(r, port, adv, kClientLl, 546, d);
    Parsed p = parse_frame(r.frame);
    EXPECT_EQ(p.tags.size(), want_tags.size());
    for (size_t i = 0; i < std::min(p.tags.size(), want_tags.size()); ++i) {
        EXPECT_EQ(p.tags[i].tpid, want_tags[i].tpid);
        EXPECT_EQ(p.tags[i].tci, want_tags[i].tci);
    }
    return r;
}

Drop reply_drop(Engine& e, const std::string& ifid, std::vector<Tag> tags) {
    FrameSpec d = from_router();
    d.tags = std::move(tags);
    return run(e, kUpl, make_frame(reply_for(ifid), d)).drop;
}

}  // namespace vl

TEST(SnoopVlan, ParsePortVlans) {
    std::string err;
    auto v = snoop::parse_port_vlans("10", err);
    ASSERT_TRUE(v) << err;
    EXPECT_EQ(v->pvid, 10);
    EXPECT_TRUE(v->tagged.empty()) << "a lone VLAN is an access port";
    v = snoop::parse_port_vlans("30,10,20", err);
    ASSERT_TRUE(v) << err;
    EXPECT_EQ(v->pvid, 0);
    EXPECT_EQ(v->tagged, (std::vector<uint16_t>{10, 20, 30})) << "a list is tagged, sorted";
    v = snoop::parse_port_vlans("20t", err);
    ASSERT_TRUE(v) << err;
    EXPECT_EQ(v->pvid, 0);
    EXPECT_EQ(v->tagged, (std::vector<uint16_t>{20}));
    v = snoop::parse_port_vlans("100-102,10u,4094", err);
    ASSERT_TRUE(v) << err;
    EXPECT_EQ(v->pvid, 10);
    EXPECT_EQ(v->tagged, (std::vector<uint16_t>{100, 101, 102, 4094}));
    EXPECT_EQ(snoop::port_vlans_text(*v), "10u,100-102t,4094t");
    v = snoop::parse_port_vlans("none", err);
    ASSERT_TRUE(v) << err;
    EXPECT_FALSE(v->any());
    EXPECT_EQ(snoop::port_vlans_text(*v), "none");
    for (const char* bad : {"", "0", "4095", "10u,11u", "10u,10", "10,", "10,,20", "12-10", "abc", "10-12u", "10x", "-5"}) {
        err.clear();
        EXPECT_FALSE(snoop::parse_port_vlans(bad, err)) << bad;
        EXPECT_FALSE(err.empty()) << bad;
    }
}

TEST(SnoopVlan, AccessPortsGoUpTaggedAndRepliesComeBackUntagged) {
    Engine e(vl::vlan_config());
    // Untagged on an access port: the Relay-forward goes out of the trunk uplink tagged with the
    // port's VLAN, Interface-ID "{port}.{vlan}".
    vl::expect_up(e, vl::kA1, {}, {{0x8100, 10}}, "a1.10");
    vl::expect_up(e, vl::kA2, {}, {{0x8100, 20}}, "a2.20");
    // Priority-tagged (VLAN ID 0) counts as untagged; the priority is kept on the uplink.
    vl::expect_up(e, vl::kA2, vl::tagged(0xa000), {{0x8100, 0xa000 | 20}}, "a2.20");
    // A tag that names the PVID is the PVID.
    vl::expect_up(e, vl::kA1, vl::tagged(10), {{0x8100, 10}}, "a1.10");
    // Replies: untagged on the access port, only for the VLAN the reply came in.
    vl::expect_down(e, "a1.10", {{0x8100, 10}}, vl::kA1, {});
    vl::expect_down(e, "a2.20", {{0x8100, 0x6000 | 20}}, vl::kA2, {});
    EXPECT_EQ(e.counters(vl::kA1).relayed_up, 2u);
    EXPECT_EQ(e.counters(vl::kA1).relayed_down, 1u);
    EXPECT_EQ(e.counters(vl::kA2).relayed_down, 1u);
    // Tagged in another VLAN on an access port: dropped, counted.
    EXPECT_EQ(run(e, vl::kA1, make_frame(solicit(), vl::tagged(20))).drop, Drop::kVlanNotMember);
    EXPECT_EQ(e.counters(vl::kA1).drops[size_t(Drop::kVlanNotMember)], 1u);
}

TEST(SnoopVlan, TrunkClientPort) {
    Engine e(vl::vlan_config());
    vl::expect_up(e, vl::kTk, vl::tagged(20), {{0x8100, 20}}, "tk.20");
    vl::expect_up(e, vl::kTk, vl::tagged(0x2000 | 30), {{0x8100, 0x2000 | 30}}, "tk.30");
    vl::expect_down(e, "tk.30", {{0x8100, 30}}, vl::kTk, {{0x8100, 30}});
    vl::expect_down(e, "tk.20", {{0x8100, 0xe000 | 20}}, vl::kTk, {{0x8100, 0xe000 | 20}});
    // Not a member of VLAN 10; no PVID, so nothing untagged.
    EXPECT_EQ(run(e, vl::kTk, make_frame(solicit(), vl::tagged(10))).drop, Drop::kVlanNotMember);
    EXPECT_EQ(run(e, vl::kTk, make_frame(solicit())).drop, Drop::kVlanNotMember);
    EXPECT_EQ(e.counters(vl::kTk).drops[size_t(Drop::kVlanNotMember)], 2u);
    // A trunk with a native VLAN: untagged is the PVID, delivered back untagged.
    Config c = vl::vlan_config();
    c.ports[vl::kTk].vlans = vl::pv(10, {20, 30});
    Engine n(c);
    vl::expect_up(n, vl::kTk, {}, {{0x8100, 10}}, "tk.10");
    vl::expect_down(n, "tk.10", {{0x8100, 10}}, vl::kTk, {});
    vl::expect_down(n, "tk.20", {{0x8100, 20}}, vl::kTk, {{0x8100, 20}});
}

TEST(SnoopVlan, ReplyOnlyInTheVlanItsInterfaceIdNames) {
    Engine e(vl::vlan_config());
    EXPECT_EQ(vl::reply_drop(e, "a1.10", {{0x8100, 20}}), Drop::kReplyVlanMismatch);
    EXPECT_EQ(vl::reply_drop(e, "tk.20", {{0x8100, 30}}), Drop::kReplyVlanMismatch);
    EXPECT_EQ(vl::reply_drop(e, "tk.30", {{0x8100, 10}}), Drop::kReplyVlanMismatch);
    EXPECT_EQ(e.counters(vl::kUpl).drops[size_t(Drop::kReplyVlanMismatch)], 3u);
    // Not on the uplink's VLANs at all: untagged (the trunk has no PVID) or VLAN 40.
    EXPECT_EQ(vl::reply_drop(e, "a1.10", {}), Drop::kVlanNotMember);
    EXPECT_EQ(vl::reply_drop(e, "a1.10", {{0x8100, 40}}), Drop::kVlanNotMember);
    EXPECT_EQ(vl::reply_drop(e, "a1.10", {{0x88a8, 10}, {0x8100, 5}}), Drop::kDoubleTagged);
    // A port name alone no longer names a port with VLANs.
    EXPECT_EQ(vl::reply_drop(e, "a1", {{0x8100, 10}}), Drop::kUnknownInterface);
    EXPECT_EQ(e.counters(vl::kA1).relayed_down, 0u);
    // The port without VLANs keeps today's behaviour: its name, tags carried as they are.
    vl::expect_up(e, vl::kC0, {}, {}, "c0");
    vl::expect_down(e, "c0", {{0x8100, 20}}, vl::kC0, {{0x8100, 20}});
}

TEST(SnoopVlan, UplinkThatIsNotATrunk) {
    for (const vl::PortVlans& up : {vl::PortVlans{}, vl::pv(10)}) {
        SCOPED_TRACE("uplink VLANs " + snoop::port_vlans_text(up));
        Config c = vl::vlan_config();
        c.ports[vl::kUpl].vlans = up;
        Engine e(c);
        // Every VLAN's Relay-forward goes out untagged; the Interface-ID tells them apart.
        vl::expect_up(e, vl::kA1, {}, {}, "a1.10");
        vl::expect_up(e, vl::kA2, {}, {}, "a2.20");
        vl::expect_up(e, vl::kTk, vl::tagged(30), {}, "tk.30");
        vl::expect_down(e, "a2.20", {}, vl::kA2, {});
        vl::expect_down(e, "tk.30", {}, vl::kTk, {{0x8100, 30}});
    }
    // A trunk uplink without VLAN 20: a2's messages cannot go up. With PVID 20: untagged.
    Config c = vl::vlan_config();
    c.ports[vl::kUpl].vlans = vl::pv(0, {10, 30});
    Engine e(c);
    EXPECT_EQ(run(e, vl::kA2, make_frame(solicit())).drop, Drop::kVlanNotOnUplink);
    EXPECT_EQ(e.counters(vl::kA2).drops[size_t(Drop::kVlanNotOnUplink)], 1u);
    c.ports[vl::kUpl].vlans = vl::pv(20, {10, 30});
    Engine n(c);
    vl::expect_up(n, vl::kA2, {}, {}, "a2.20");
    vl::expect_up(n, vl::kA1, {}, {{0x8100, 10}}, "a1.10");
    vl::expect_down(n, "a2.20", {}, vl::kA2, {});
    EXPECT_EQ(vl::reply_drop(n, "a2.20", {{0x8100, 10}}), Drop::kReplyVlanMismatch);
    EXPECT_EQ(vl::reply_drop(n, "a1.10", {}), Drop::kReplyVlanMismatch);
}

TEST(SnoopVlan, InterfaceIdFormatsAndFixedStringsRoundTrip) {
    Config c = vl::vlan_config();
    c.interface_id_format = "sw1:{port}:{vlan}";
    c.ports[vl::kA1].interface_id = str_bytes("sw1/0/3");          // a circuit-id, no placeholder
    c.ports[vl::kTk].interface_id = str_bytes("sw1/0/7.{vlan}");   // per port, per VLAN by template
    c.ports[vl::kTk].vlan_interface_ids = {{30, str_bytes("{{tk}}-thirty")}};  // one VLAN fixed
    std::string err;
    ASSERT_TRUE(Engine::check(c, err)) << err;
    Engine e(c);
    struct Case {
        int port;
        FrameSpec in;
        uint16_t vlan;  // the frame's VLAN: the uplink's tag
        std::string id;
    };
    const Case cases[] = {
        {vl::kA1, {}, 10, "sw1/0/3"},
        {vl::kA2, {}, 20, "sw1:a2:20"},
        {vl::kTk, vl::tagged(20), 20, "sw1/0/7.20"},
        {vl::kTk, vl::tagged(30), 30, "{tk}-thirty"},
        {vl::kC0, {}, 0, "sw1:c0:0"},
    };
    for (const Case& k : cases) {
        SCOPED_TRACE(k.id);
        const std::vector<Tag> up = k.vlan ? std::vector<Tag>{{0x8100, k.vlan}} : std::vector<Tag>{};
        vl::expect_up(e, k.port, k.in, up, k.id);
        const V* id = e.interface_id(k.port, k.vlan);
        ASSERT_NE(id, nullptr);
        EXPECT_EQ(*id, str_bytes(k.id));
        // The reply naming it goes back to the same port, in the same VLAN. (c0 has no VLANs: the
        // trunk uplink takes no untagged frame, and the reply's tag is carried through as it is.)
        const std::vector<Tag> down = k.vlan ? up : std::vector<Tag>{{0x8100, 10}};
        vl::expect_down(e, k.id, down, k.port, k.vlan ? k.in.tags : down);
    }
    EXPECT_EQ(vl::reply_drop(e, "a1.10", {{0x8100, 10}}), Drop::kUnknownInterface) << "the default is replaced";
}

TEST(SnoopVlan, CheckRejectsAmbiguousOrBadInterfaceIds) {
    std::string err;
    EXPECT_TRUE(Engine::check(vl::vlan_config(), err)) << err;
    Config c = vl::vlan_config();
    c.ports[vl::kTk].interface_id = str_bytes("sw1/0/7");  // one string for VLANs 20 and 30
    EXPECT_FALSE(Engine::check(c, err));
    EXPECT_NE(err.find("tk VLAN 20"), std::string::npos) << err;
    c = vl::vlan_config();
    c.ports[vl::kA2].interface_id = str_bytes("a1.10");  // a1's default
    EXPECT_FALSE(Engine::check(c, err));
    c = vl::vlan_config();
    c.interface_id_format = "{port}";  // tk's two VLANs collide
    EXPECT_FALSE(Engine::check(c, err));
    c.interface_id_format = "{port}/{vid}";
    EXPECT_FALSE(Engine::check(c, err));
    EXPECT_NE(err.find("{vid}"), std::string::npos) << err;
    for (const char* t : {"{port", "port}", ""}) {
        c.interface_id_format.clear();
        c.ports[vl::kA1].interface_id = str_bytes(t);
        if (!*t) continue;
        EXPECT_FALSE(Engine::check(c, err)) << t;
    }
    c = vl::vlan_config();
    c.ports[vl::kA1].vlan_interface_ids = {{20, str_bytes("x")}};  // a1 is not in VLAN 20
    EXPECT_FALSE(Engine::check(c, err));
    EXPECT_NE(err.find("not in VLAN 20"), std::string::npos) << err;
}

TEST(SnoopVlan, DoubleTaggedOnAPortWithVlansIsDropped) {
    // QinQ on a port with VLANs is not relayed (docs/snoop.md "VLANs"); the nftables rules keep it
    // off the bridge. A port without VLANs carries both tags through as before.
    Engine e(vl::vlan_config());
    FrameSpec q;
    q.tags = {{0x88a8, 10}, {0x8100, 200}};
    for (int port : {vl::kA1, vl::kTk}) EXPECT_EQ(run(e, port, make_frame(solicit(), q)).drop, Drop::kDoubleTagged);
    EXPECT_EQ(e.counters(vl::kA1).drops[size_t(Drop::kDoubleTagged)], 1u);
    EXPECT_EQ(e.counters(vl::kTk).drops[size_t(Drop::kDoubleTagged)], 1u);
    vl::expect_up(e, vl::kC0, q, q.tags, "c0");
}

TEST(SnoopVlan, CountersAdoptedAcrossVlanChanges) {
    Engine e(vl::vlan_config());
    vl::expect_up(e, vl::kA1, {}, {{0x8100, 10}}, "a1.10");
    Config c = vl::vlan_config();
    c.ports[vl::kA1].vlans = vl::pv(30);
    Engine n(c);
    n.adopt_counters(e);
    EXPECT_EQ(n.counters(vl::kA1).relayed_up, 1u);
    vl::expect_up(n, vl::kA1, {}, {{0x8100, 30}}, "a1.30");
    EXPECT_EQ(n.counters(vl::kA1).relayed_up, 2u);
}
