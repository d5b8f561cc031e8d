// Unit tests for the relay engine (relay/engine.h): RFC 8415 §19 (relay behaviour), RFC 6939
// (option 79), RFC 4649 (option 37), RFC 7283 (any message type is relayed) and RFC 9686
// (ADDR-REG-INFORM 36 / ADDR-REG-REPLY 37).
//
// Client frames are made with frame::build (fragments and other link types by hand); every
// expected Relay-forward and Relay-reply is written out by hand from the RFCs and checked with a
// small parser written here, never with the dhcp6 codec:
//
//   relay message:  msg-type (1) | hop-count (1) | link-address (16) | peer-address (16) | options
//   option:         code (2) | length (2) | body
//   option 9:       the relayed message, verbatim
//   option 18:      the interface-id bytes
//   option 37:      enterprise number (4) | remote-id
//   option 79:      link-layer type 0x0001 (Ethernet) | 6-byte MAC

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "capture/frame.h"
#include "dhcp6/dhcp6.h"
#include "relay/engine.h"
#include "test_util.h"

namespace {

using namespace regrelay;
using regrelay::relay::Actions;
using regrelay::relay::ClientPort;
using regrelay::relay::Config;
using regrelay::relay::Drop;
using regrelay::relay::Engine;
using regrelay::relay::kUpstream;
using regrelay::relay::RemoteIdConfig;
using regrelay::relay::Send;

using V = std::vector<uint8_t>;

// ---- byte helpers (tests/unit/test_util.h: independent of regrelay::Writer / parse_hex) ----

constexpr auto hx = &test::hexb;
constexpr auto str = &test::str_bytes;
constexpr auto opt = &test::mkopt;
using test::be16;
using test::be32;
using test::cat;
using test::parse_relay;
using test::ParsedRelay;
using test::to_hex;

Ip6Addr A(const char* s) {
    auto a = Ip6Addr::parse(s);
    if (!a) throw std::invalid_argument(std::string("bad address in test: ") + s);
    return *a;
}
V ab(const char* s) {
    const Ip6Addr a = A(s);
    return V(a.b.begin(), a.b.end());
}
MacAddr M(const char* s) {
    auto m = MacAddr::parse(s);
    if (!m) throw std::invalid_argument(std::string("bad MAC in test: ") + s);
    return *m;
}
V mb(const char* s) {
    const MacAddr m = M(s);
    return V(m.b.begin(), m.b.end());
}

// A client-style message: type, 24-bit transaction id, options.
V client_msg(uint8_t type, uint32_t xid, const V& options = {}) {
    return cat({V{type, uint8_t(xid >> 16), uint8_t(xid >> 8), uint8_t(xid)}, options});
}
V relay_hdr(uint8_t type, uint8_t hop, const char* link, const char* peer) {
    return cat({V{type, hop}, ab(link), ab(peer)});
}

// ---- addressing plan ---------------------------------------------------------------------

constexpr const char* kClientMac = "02:00:00:aa:00:01";
constexpr const char* kClientLl = "fe80::ff:feaa:1";
constexpr const char* kClientGua = "2001:db8:1::100";
constexpr const char* kLink1 = "2001:db8:1::1";      // port 0 "eth1"
constexpr const char* kLink3 = "2001:db8:3::1";      // port 2 "ge-0/0/2"
constexpr const char* kServer1 = "2001:db8:ffff::1";
constexpr const char* kServer2 = "2001:db8:ffff::2";
constexpr const char* kAllDhcp = "ff02::1:2";
constexpr const char* kLocal = "2001:db8:1::1";      // our address on eth1 (unicast target)

// Ports: 0 "eth1" with link-address 2001:db8:1::1; 1 "eth2" without one (::); 2 "ge-0/0/2" with
// link-address 2001:db8:3::1 and a configured interface-id.
Config base_config() {
    Config c;
    ClientPort p0;
    p0.name = "eth1";
    p0.link_address = A(kLink1);
    ClientPort p1;
    p1.name = "eth2";
    ClientPort p2;
    p2.name = "ge-0/0/2";
    p2.interface_id = str("port-3");
    p2.link_address = A(kLink3);
    c.ports = {p0, p1, p2};
    c.servers = {A(kServer1)};
    c.local_addresses = {A(kLocal)};
    return c;
}

struct FrameOpts {
    const char* src_mac = kClientMac;
    const char* src = kClientLl;
    const char* dst = kAllDhcp;
    uint16_t sport = dhcp6::kPortClient;
    uint16_t dport = dhcp6::kPortServer;
};

V eth_frame(const V& payload, const FrameOpts& o = {}) {
    frame::BuildSpec s;
    s.src_mac = M(o.src_mac);
    s.src = A(o.src);
    s.dst = A(o.dst);
    s.dst_mac = s.dst.is_multicast() ? frame::multicast_mac(s.dst) : M("02:00:00:bb:00:01");
    s.sport = o.sport;
    s.dport = o.dport;
    s.hop_limit = 1;
    V out;
    if (!frame::build(s, payload, out)) throw std::invalid_argument("frame::build failed");
    return out;
}

// An IPv6/UDP packet without a link-layer header (LINKTYPE_RAW / LINKTYPE_IPV6).
V ipv6_packet(const V& payload, const char* src = kClientLl, const char* dst = kAllDhcp) {
    frame::BuildSpec s;
    s.src = A(src);
    s.dst = A(dst);
    s.sport = dhcp6::kPortClient;
    s.dport = dhcp6::kPortServer;
    V out;
    if (!frame::build_ipv6(s, payload, out)) throw std::invalid_argument("build_ipv6 failed");
    return out;
}

// A LINUX_SLL2 frame, written by hand: protocol, reserved, ifindex, ARPHRD type, packet type,
// address length, 8 address bytes, then the IPv6 packet.
V sll2_frame(const V& payload, uint16_t hatype, const char* mac) {
    V addr = mb(mac);
    addr.resize(8, 0);
    return cat({hx("86dd 0000 00000003"), be16(hatype), V{2, 6}, addr, ipv6_packet(payload)});
}

const V kSolicit = client_msg(1, 0x5a0001, opt(8, hx("0000")));
const V kInfoRequest = client_msg(11, 0x5a0002, cat({opt(8, hx("0000")), opt(6, hx("0017 0094"))}));
const V kAddrRegInform =
    client_msg(36, 0x3a1b2c, cat({opt(1, hx("0003 0001 020000aa0001")),
                                  opt(5, cat({ab(kClientGua), be32(3600), be32(7200)}))}));
// Type 200 whose body is not even a valid option area (a 3-byte tail: truncated option header).
const V kUnknown200 = cat({V{200}, hx("c8c8c8 ffff ff")});

// Relay-forward option 79 body for a MAC.
V lladdr_body(const char* mac) { return cat({hx("0001"), mb(mac)}); }

class RelayEngineTest : public ::testing::Test {
protected:
    Actions a;
    V payload() const { return a.payload; }
    ParsedRelay fwd() const { return parse_relay(a.payload); }
};

// ======================================================================================
// Client side: every client message becomes a Relay-forward
// ======================================================================================

TEST_F(RelayEngineTest, SolicitExactBytes) {
    Engine e(base_config());
    const V in = eth_frame(kSolicit);  // Actions::message is a view of it: keep it alive
    e.on_client_frame(0, in, frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone) << relay::drop_name(a.drop);
    // Relay-forward (12), hop 0, link-address 2001:db8:1::1, peer-address fe80::ff:feaa:1,
    // option 79 (Ethernet, 02:00:00:aa:00:01), option 9 with the Solicit.
    const V expected = hx(
        "0c 00"
        "20010db8 00010000 00000000 00000001"
        "fe800000 00000000 000000ff feaa0001"
        "004f 0008 0001 020000aa0001"
        "0009 000a 015a0001 0008 0002 0000");
    EXPECT_EQ(to_hex(a.payload), to_hex(expected));
    ASSERT_EQ(a.sends.size(), 1u);
    EXPECT_EQ(a.sends[0].dst, A(kServer1));
    EXPECT_EQ(a.sends[0].dport, 547);
    EXPECT_EQ(a.sends[0].port, kUpstream);
    EXPECT_EQ(a.sends[0].hop_limit, 0);
    // What the engine reports for logging.
    EXPECT_EQ(a.msg_type, 1);
    EXPECT_EQ(a.xid, 0x5a0001u);
    EXPECT_EQ(a.peer, A(kClientLl));
    ASSERT_TRUE(a.client_mac.has_value());
    EXPECT_EQ(*a.client_mac, M(kClientMac));
    EXPECT_EQ(a.port, 0);
    EXPECT_EQ(a.hop_count, 0);
    EXPECT_EQ(V(a.message.begin(), a.message.end()), kSolicit);
}

TEST_F(RelayEngineTest, AddrRegInformExactBytes) {
    Engine e(base_config());
    FrameOpts fo;
    fo.src = kClientGua;
    e.on_client_frame(0, eth_frame(kAddrRegInform, fo), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone) << relay::drop_name(a.drop);
    const V expected = cat({hx("0c 00"), ab(kLink1), ab(kClientGua), hx("004f 0008 0001 020000aa0001"),
                            hx("0009"), be16(uint16_t(kAddrRegInform.size())), kAddrRegInform});
    EXPECT_EQ(to_hex(a.payload), to_hex(expected));
    EXPECT_EQ(a.msg_type, 36);
    EXPECT_EQ(e.counters(0).addr_reg_inform, 1u);
    EXPECT_EQ(e.counters(0).forwarded, 1u);
}

struct TypeCase {
    const char* name;
    V msg;
};

class RelayEngineClientTypes : public ::testing::TestWithParam<TypeCase> {};

// Every client message type, known or not, is relayed verbatim (RFC 8415 §19.1.1, RFC 7283).
TEST_P(RelayEngineClientTypes, RelayedVerbatim) {
    const V& msg = GetParam().msg;
    Engine e(base_config());
    Actions a;
    e.on_client_frame(0, eth_frame(msg), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone) << relay::drop_name(a.drop);
    ParsedRelay r = parse_relay(a.payload);
    ASSERT_TRUE(r.ok) << to_hex(a.payload);
    EXPECT_EQ(r.type, 12);
    EXPECT_EQ(r.hop, 0);
    EXPECT_EQ(r.link, ab(kLink1));
    EXPECT_EQ(r.peer, ab(kClientLl));
    EXPECT_EQ(r.codes(), (std::vector<uint16_t>{79, 9}));
    ASSERT_NE(r.find(79), nullptr);
    EXPECT_EQ(*r.find(79), lladdr_body(kClientMac));
    ASSERT_NE(r.find(9), nullptr);
    EXPECT_EQ(to_hex(*r.find(9)), to_hex(msg));
    EXPECT_EQ(a.payload.size(), 34 + 12 + 4 + msg.size());
    ASSERT_EQ(a.sends.size(), 1u);
    EXPECT_EQ(a.sends[0].dst, A(kServer1));
    EXPECT_EQ(a.msg_type, msg[0]);
    EXPECT_EQ(e.counters(0).forwarded, 1u);
    EXPECT_EQ(e.counters(0).addr_reg_inform, msg[0] == 36 ? 1u : 0u);
}

INSTANTIATE_TEST_SUITE_P(
    AllClientTypes, RelayEngineClientTypes,
    ::testing::Values(TypeCase{"Solicit", kSolicit}, TypeCase{"Request", client_msg(3, 1, opt(8, hx("0000")))},
                      TypeCase{"Confirm", client_msg(4, 2)}, TypeCase{"Renew", client_msg(5, 3)},
                      TypeCase{"Rebind", client_msg(6, 4)}, TypeCase{"Release", client_msg(8, 5)},
                      TypeCase{"Decline", client_msg(9, 6)}, TypeCase{"InformationRequest", kInfoRequest},
                      TypeCase{"AddrRegInform", kAddrRegInform}, TypeCase{"LeasequeryLike14", client_msg(14, 7)},
                      TypeCase{"Type35", client_msg(35, 8)}, TypeCase{"Unknown200NotOptions", kUnknown200},
                      TypeCase{"Unknown255", client_msg(255, 0xffffff, hx("01"))},
                      TypeCase{"HeaderOnly", client_msg(1, 0)}),
    [](const ::testing::TestParamInfo<TypeCase>& i) { return std::string(i.param.name); });

TEST_F(RelayEngineTest, OptionOrderWithEverything) {
    Config c = base_config();
    c.always_interface_id = true;
    c.remote_id = RemoteIdConfig{9, hx("0102")};
    Engine e(c);
    e.on_client_frame(0, eth_frame(kInfoRequest), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    // Interface-ID, Remote-ID, Client Link-Layer Address, then Relay Message.
    const V expected = cat({hx("0c 00"), ab(kLink1), ab(kClientLl), opt(18, str("eth1")),
                            opt(37, hx("00000009 0102")), opt(79, lladdr_body(kClientMac)),
                            opt(9, kInfoRequest)});
    EXPECT_EQ(to_hex(a.payload), to_hex(expected));
}

TEST_F(RelayEngineTest, NoClientLinkLayerOption) {
    Config c = base_config();
    c.client_link_layer = false;
    Engine e(c);
    e.on_client_frame(0, eth_frame(kSolicit), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(to_hex(a.payload), to_hex(cat({hx("0c 00"), ab(kLink1), ab(kClientLl), opt(9, kSolicit)})));
}

TEST_F(RelayEngineTest, NoOption79WithoutEthernetHeader) {
    Engine e(base_config());
    for (int lt : {frame::kLinkRaw, frame::kLinkIpv6}) {
        e.on_client_frame(0, ipv6_packet(kSolicit), lt, a);
        ASSERT_EQ(a.drop, Drop::kNone) << "linktype " << lt;
        ParsedRelay r = fwd();
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.codes(), (std::vector<uint16_t>{9})) << "linktype " << lt;
        EXPECT_EQ(*r.find(9), kSolicit);
        EXPECT_FALSE(a.client_mac.has_value());
    }
    // LINUX_SLL2 with a non-Ethernet ARPHRD type (0xfffe, ARPHRD_NONE): no option 79.
    e.on_client_frame(0, sll2_frame(kSolicit, 0xfffe, kClientMac), frame::kLinkLinuxSll2, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(fwd().codes(), (std::vector<uint16_t>{9}));
    // LINUX_SLL2 with ARPHRD_ETHER: option 79 carries the SLL2 source address.
    e.on_client_frame(0, sll2_frame(kSolicit, 1, "02:00:00:aa:00:77"), frame::kLinkLinuxSll2, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    ASSERT_EQ(fwd().codes(), (std::vector<uint16_t>{79, 9}));
    EXPECT_EQ(*fwd().find(79), lladdr_body("02:00:00:aa:00:77"));
}

TEST_F(RelayEngineTest, Option79IsTheFrameSourceMac) {
    Engine e(base_config());
    for (const char* mac : {"02:00:00:aa:00:01", "00:11:22:33:44:55", "fe:ff:ff:ff:ff:ff"}) {
        FrameOpts fo;
        fo.src_mac = mac;
        e.on_client_frame(0, eth_frame(kSolicit, fo), frame::kLinkEthernet, a);
        ASSERT_EQ(a.drop, Drop::kNone);
        ASSERT_NE(fwd().find(79), nullptr);
        EXPECT_EQ(*fwd().find(79), lladdr_body(mac)) << mac;
    }
}

TEST_F(RelayEngineTest, InterfaceIdWhenAlwaysConfigured) {
    Config c = base_config();
    c.always_interface_id = true;
    Engine e(c);
    e.on_client_frame(0, eth_frame(kSolicit), frame::kLinkEthernet, a);
    ParsedRelay r = fwd();
    EXPECT_EQ(r.link, ab(kLink1));
    EXPECT_EQ(r.codes(), (std::vector<uint16_t>{18, 79, 9}));
    EXPECT_EQ(*r.find(18), str("eth1"));
    // A configured interface-id is used instead of the name.
    e.on_client_frame(2, eth_frame(kSolicit), frame::kLinkEthernet, a);
    r = fwd();
    EXPECT_EQ(r.link, ab(kLink3));
    EXPECT_EQ(*r.find(18), str("port-3"));
}

TEST_F(RelayEngineTest, InterfaceIdWhenPortHasNoLinkAddress) {
    Engine e(base_config());
    e.on_client_frame(1, eth_frame(kSolicit), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(to_hex(a.payload), to_hex(cat({hx("0c 00"), V(16, 0), ab(kClientLl), opt(18, str("eth2")),
                                             opt(79, lladdr_body(kClientMac)), opt(9, kSolicit)})));
    // A port with a link-address and no --interface-id: no option 18.
    e.on_client_frame(2, eth_frame(kSolicit), frame::kLinkEthernet, a);
    EXPECT_EQ(fwd().codes(), (std::vector<uint16_t>{79, 9}));
}

TEST_F(RelayEngineTest, RemoteId) {
    Config c = base_config();
    c.remote_id = RemoteIdConfig{32473, str("relay1")};
    Engine e(c);
    e.on_client_frame(0, eth_frame(kAddrRegInform), frame::kLinkEthernet, a);
    ParsedRelay r = fwd();
    EXPECT_EQ(r.codes(), (std::vector<uint16_t>{37, 79, 9}));
    EXPECT_EQ(*r.find(37), cat({hx("00007ed9"), str("relay1")}));
    // Enterprise numbers use all 32 bits.
    c.remote_id = RemoteIdConfig{0xfedcba98, hx("01")};
    Engine e2(c);
    e2.on_client_frame(0, eth_frame(kSolicit), frame::kLinkEthernet, a);
    EXPECT_EQ(*fwd().find(37), hx("fedcba98 01"));
}

TEST_F(RelayEngineTest, SendsToEveryConfiguredServer) {
    Config c = base_config();
    c.servers = {A(kServer1), A(kServer2), A("ff05::1:3")};
    Engine e(c);
    e.on_client_frame(0, eth_frame(kSolicit), frame::kLinkEthernet, a);
    ASSERT_EQ(a.sends.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(a.sends[i].dst, c.servers[i]);
        EXPECT_EQ(a.sends[i].dport, 547);
        EXPECT_EQ(a.sends[i].port, kUpstream);
        EXPECT_EQ(a.sends[i].hop_limit, 0);
    }
    // One Relay-forward counted per input, whatever the number of servers.
    EXPECT_EQ(e.counters(0).forwarded, 1u);
}

TEST_F(RelayEngineTest, NoServersMeansAllDhcpServersWithHopLimit8) {
    Config c = base_config();
    c.servers.clear();
    Engine e(c);
    e.on_client_frame(0, eth_frame(kSolicit), frame::kLinkEthernet, a);
    ASSERT_EQ(a.sends.size(), 1u);
    EXPECT_EQ(a.sends[0].dst, A("ff05::1:3"));
    EXPECT_EQ(a.sends[0].dport, 547);
    EXPECT_EQ(a.sends[0].port, kUpstream);
    EXPECT_EQ(a.sends[0].hop_limit, 8);
}

// ---- Relay-forward from a downstream relay (RFC 8415 §19.1.2) --------------------------------

V inner_forward(uint8_t hop, const char* link = kLink1, const char* peer = kClientGua) {
    return cat({relay_hdr(12, hop, link, peer), opt(18, str("lan0")), opt(79, lladdr_body("02:00:00:aa:00:09")),
                opt(9, kAddrRegInform)});
}

TEST_F(RelayEngineTest, RelayForwardFromLinkLocalRelay) {
    Engine e(base_config());
    const V in = inner_forward(0);
    FrameOpts fo;
    fo.src = "fe80::ff:febb:2";
    fo.src_mac = "02:00:00:bb:00:02";
    e.on_client_frame(0, eth_frame(in, fo), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    // hop+1, the port's link-address, peer = the relay's source; no option 79 of our own.
    EXPECT_EQ(to_hex(a.payload), to_hex(cat({hx("0c 01"), ab(kLink1), ab("fe80::ff:febb:2"), opt(9, in)})));
    EXPECT_EQ(a.hop_count, 1);
    EXPECT_EQ(a.msg_type, 12);
    EXPECT_EQ(e.counters(0).forwarded, 1u);
    EXPECT_EQ(e.counters(0).addr_reg_inform, 0u);  // the inner message is not inspected
}

TEST_F(RelayEngineTest, RelayForwardFromLinkLocalRelayOnPortWithoutLinkAddress) {
    Engine e(base_config());
    const V in = inner_forward(3);
    FrameOpts fo;
    fo.src = "fe80::ff:febb:2";
    e.on_client_frame(1, eth_frame(in, fo), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(to_hex(a.payload),
              to_hex(cat({hx("0c 04"), V(16, 0), ab("fe80::ff:febb:2"), opt(18, str("eth2")), opt(9, in)})));
}

TEST_F(RelayEngineTest, RelayForwardFromGlobalOrUlaRelay) {
    for (const char* src : {"2001:db8:1::2", "fd00:1234::2"}) {
        Engine e(base_config());
        const V in = inner_forward(2);
        FrameOpts fo;
        fo.src = src;
        e.on_client_frame(0, eth_frame(in, fo), frame::kLinkEthernet, a);
        ASSERT_EQ(a.drop, Drop::kNone) << src;
        // link-address 0 and an Interface-ID naming the link (RFC 8415 §19.1.2).
        EXPECT_EQ(to_hex(a.payload),
                  to_hex(cat({hx("0c 03"), V(16, 0), ab(src), opt(18, str("eth1")), opt(9, in)})))
            << src;
    }
}

// An LDRA's Relay-forward (RFC 6221: hop 0, link-address ::, Interface-ID = the switch port)
// of a registration: the host sends ADDR-REG-INFORM from its global address, and the LDRA keeps
// that source. No level below names the link, so we put our own link-address there instead of
// §19.1.2's 0 (a server such as Kea would otherwise find no subnet).
V ldra_forward(const char* peer = kClientGua, const V& inner = kAddrRegInform) {
    return cat({relay_hdr(12, 0, "::", peer), opt(18, str("port1")), opt(79, lladdr_body(kClientMac)),
                opt(9, inner)});
}

TEST_F(RelayEngineTest, LdraFromGlobalSourceGetsOurLinkAddress) {
    for (const char* src : {kClientGua, "fd00:1234::100"}) {
        Engine e(base_config());
        const V in = ldra_forward(src);
        FrameOpts fo;
        fo.src = src;
        e.on_client_frame(0, eth_frame(in, fo), frame::kLinkEthernet, a);
        ASSERT_EQ(a.drop, Drop::kNone) << src;
        // hop 1, link-address = eth1's 2001:db8:1::1, peer = the source; no Interface-ID (the
        // link-address names eth1 for the reply), no option 79 of ours, the LDRA's level verbatim.
        EXPECT_EQ(to_hex(a.payload), to_hex(cat({hx("0c 01"), ab(kLink1), ab(src), opt(9, in)}))) << src;
        EXPECT_EQ(e.counters(0).forwarded, 1u);
    }
    // A configured interface-id and --interface-id change nothing but add option 18.
    Config c = base_config();
    c.always_interface_id = true;
    Engine e(c);
    const V in = ldra_forward(kClientGua, kSolicit);
    FrameOpts fo;
    fo.src = kClientGua;
    e.on_client_frame(2, eth_frame(in, fo), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(to_hex(a.payload),
              to_hex(cat({hx("0c 01"), ab(kLink3), ab(kClientGua), opt(18, str("port-3")), opt(9, in)})));
}

TEST_F(RelayEngineTest, LdraFromGlobalSourceOnPortWithoutLinkAddress) {
    // Nothing to name the link with: link-address :: and our Interface-ID, as before.
    Engine e(base_config());
    const V in = ldra_forward();
    FrameOpts fo;
    fo.src = kClientGua;
    e.on_client_frame(1, eth_frame(in, fo), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(to_hex(a.payload),
              to_hex(cat({hx("0c 01"), V(16, 0), ab(kClientGua), opt(18, str("eth2")), opt(9, in)})));
}

TEST_F(RelayEngineTest, GlobalSourceKeepsLinkAddressZeroWhenADeeperLevelNamesTheLink) {
    // LDRA (link ::) → an L3 relay naming the link (2001:db8:5::1) → a relay with link :: (it
    // got the message from a global source) → us, from a global source: the link is named two
    // levels down, so RFC 8415 §19.1.2's 0 stands.
    const V ldra = ldra_forward(kClientGua, kSolicit);
    const V l3 = cat({relay_hdr(12, 1, "2001:db8:5::1", "2001:db8:5::100"), opt(9, ldra)});
    const V mid = cat({relay_hdr(12, 2, "::", "2001:db8:5::2"), opt(18, str("xe-1")), opt(9, l3)});
    Engine e(base_config());
    FrameOpts fo;
    fo.src = "2001:db8:6::1";
    e.on_client_frame(0, eth_frame(mid, fo), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(to_hex(a.payload),
              to_hex(cat({hx("0c 03"), V(16, 0), ab("2001:db8:6::1"), opt(18, str("eth1")), opt(9, mid)})));
    // The same chain without the naming level: nothing below names the link, ours is used.
    const V mid2 = cat({relay_hdr(12, 1, "::", "2001:db8:5::2"), opt(18, str("xe-1")), opt(9, ldra)});
    e.on_client_frame(0, eth_frame(mid2, fo), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(to_hex(a.payload), to_hex(cat({hx("0c 02"), ab(kLink1), ab("2001:db8:6::1"), opt(9, mid2)})));
}

TEST_F(RelayEngineTest, NamesLinkOnlyByARoutableLinkAddress) {
    using relay::names_link;
    const V solicit_ldra = ldra_forward(kClientGua, kSolicit);
    EXPECT_FALSE(names_link(solicit_ldra));                                        // an LDRA: ::
    EXPECT_TRUE(names_link(inner_forward(0)));                                     // 2001:db8:1::1
    EXPECT_TRUE(names_link(inner_forward(0, "fd00:1::1")));                        // a ULA
    for (const char* bad : {"fe80::1", "ff02::1:2", "::1"})                        // none names a link
        EXPECT_FALSE(names_link(inner_forward(0, bad))) << bad;
    // Nested: found at any depth, down to the hop-count limit.
    V chain = inner_forward(0);  // names the link
    for (int i = 0; i < 8; ++i) chain = cat({relay_hdr(12, uint8_t(i + 1), "::", kClientGua), opt(9, chain)});
    EXPECT_TRUE(names_link(chain));  // 9 levels: the named one is the 9th, kHopCountLimit + 1
    chain = cat({relay_hdr(12, 9, "::", kClientGua), opt(9, chain)});
    EXPECT_FALSE(names_link(chain));  // a 10th level: the walk stops before the named one
    // A level that does not decode, or has no option 9, ends the walk.
    EXPECT_FALSE(names_link(cat({relay_hdr(12, 1, "::", kClientGua), opt(9, V(solicit_ldra.begin(),
                                                                               solicit_ldra.begin() + 20))})));
    EXPECT_FALSE(names_link(cat({relay_hdr(12, 1, "::", kClientGua),
                                 opt(9, cat({relay_hdr(12, 0, kLink1, kClientGua), hx("0009 ffff")}))})));
    EXPECT_FALSE(names_link(relay_hdr(12, 0, "::", kClientGua)));
    EXPECT_FALSE(names_link(V{}));
    EXPECT_FALSE(names_link(kSolicit));
}

TEST_F(RelayEngineTest, LdraRegistrationRoundTrip) {
    // The Relay-forward names eth1 by link-address only; the server's Relay-reply echoes it, and
    // the LDRA's Relay-reply inside goes back to the registered address on eth1, port 547.
    Engine e(base_config());
    const V in = ldra_forward();
    FrameOpts fo;
    fo.src = kClientGua;
    e.on_client_frame(0, eth_frame(in, fo), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    ASSERT_EQ(to_hex(fwd().link), to_hex(ab(kLink1)));
    const V reply37 = client_msg(37, 0x3a1b2c, opt(2, hx("0001 0001 2f5a3c00 020000cc0001")));
    const V ldra_reply = cat({relay_hdr(13, 0, "::", kClientGua), opt(18, str("port1")), opt(9, reply37)});
    const V rr = cat({relay_hdr(13, 1, kLink1, kClientGua), opt(9, ldra_reply)});
    e.on_server_datagram(A(kServer1), 547, rr, a);
    ASSERT_EQ(a.drop, Drop::kNone) << relay::drop_name(a.drop);
    EXPECT_EQ(to_hex(a.payload), to_hex(ldra_reply));
    ASSERT_EQ(a.sends.size(), 1u);
    EXPECT_EQ(a.sends[0].port, 0);
    EXPECT_EQ(a.sends[0].dst, A(kClientGua));
    EXPECT_EQ(a.sends[0].dport, 547);
}

TEST_F(RelayEngineTest, RelayForwardRemoteIdAndAlwaysInterfaceId) {
    Config c = base_config();
    c.always_interface_id = true;
    c.remote_id = RemoteIdConfig{9, hx("0102")};
    Engine e(c);
    const V in = inner_forward(0);
    FrameOpts fo;
    fo.src = "fe80::ff:febb:2";
    e.on_client_frame(0, eth_frame(in, fo), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(to_hex(a.payload), to_hex(cat({hx("0c 01"), ab(kLink1), ab("fe80::ff:febb:2"), opt(18, str("eth1")),
                                             opt(37, hx("00000009 0102")), opt(9, in)})));
}

TEST_F(RelayEngineTest, RelayForwardHopCountLimit) {
    Engine e(base_config());
    FrameOpts fo;
    fo.src = "fe80::ff:febb:2";
    // hop 7 is relayed as hop 8.
    const V in7 = inner_forward(7);
    e.on_client_frame(0, eth_frame(in7, fo), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(fwd().hop, 8);
    EXPECT_EQ(*fwd().find(9), in7);
    // hop 8 (HOP_COUNT_LIMIT) and above are dropped.
    for (uint8_t hop : {uint8_t(8), uint8_t(9), uint8_t(255)}) {
        e.on_client_frame(0, eth_frame(inner_forward(hop), fo), frame::kLinkEthernet, a);
        EXPECT_EQ(a.drop, Drop::kHopLimit) << int(hop);
        EXPECT_TRUE(a.sends.empty());
        EXPECT_TRUE(a.payload.empty());
    }
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kHopLimit)], 3u);
    EXPECT_EQ(e.counters(0).forwarded, 1u);
}

TEST_F(RelayEngineTest, MalformedRelayForward) {
    Engine e(base_config());
    const V full = inner_forward(0);
    const std::vector<V> bad = {
        V(full.begin(), full.begin() + 4),              // 4 bytes: a client header but not a relay one
        V(full.begin(), full.begin() + 33),             // one short of the 34-byte header
        cat({relay_hdr(12, 0, kLink1, kClientGua), hx("0009 0010 0102")}),    // option past the end
        cat({relay_hdr(12, 0, kLink1, kClientGua), opt(9, kSolicit), hx("00")}),  // truncated option header
        cat({relay_hdr(12, 0, kLink1, kClientGua), hx("000900")}),            // 3-byte option header
        cat({relay_hdr(12, 9, kLink1, kClientGua), hx("0009 ffff")}),         // broken and over the hop limit
    };
    for (const V& in : bad) {
        e.on_client_frame(0, eth_frame(in), frame::kLinkEthernet, a);
        EXPECT_EQ(a.drop, Drop::kMalformedRelay) << to_hex(in);
        EXPECT_TRUE(a.sends.empty());
    }
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kMalformedRelay)], bad.size());
    // Exactly the header, no options, is well-formed as far as a relay needs to know.
    e.on_client_frame(0, eth_frame(relay_hdr(12, 0, kLink1, kClientGua)), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNone);
}

// ---- drops on the client side ---------------------------------------------------------------

TEST_F(RelayEngineTest, ServerMessagesFromClientSide) {
    Engine e(base_config());
    const std::vector<V> msgs = {
        client_msg(2, 1, opt(2, hx("0001"))),                                       // Advertise
        client_msg(7, 2),                                                            // Reply
        client_msg(10, 3),                                                           // Reconfigure
        cat({relay_hdr(13, 0, kLink1, kClientLl), opt(18, str("eth1")), opt(9, client_msg(2, 1))}),  // Relay-reply
        client_msg(37, 4),                                                           // ADDR-REG-REPLY
    };
    for (const V& m : msgs) {
        e.on_client_frame(0, eth_frame(m), frame::kLinkEthernet, a);
        EXPECT_EQ(a.drop, Drop::kServerMessage) << int(m[0]);
        EXPECT_TRUE(a.sends.empty());
        EXPECT_EQ(a.msg_type, m[0]);
    }
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kServerMessage)], msgs.size());
    EXPECT_EQ(e.counters(0).forwarded, 0u);
}

TEST_F(RelayEngineTest, Truncated) {
    Engine e(base_config());
    for (const V& m : {V{}, V{1}, V{1, 2}, V{36, 1, 2}}) {
        e.on_client_frame(0, eth_frame(m), frame::kLinkEthernet, a);
        EXPECT_EQ(a.drop, Drop::kTruncated) << m.size();
        EXPECT_TRUE(a.sends.empty());
    }
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kTruncated)], 4u);
}

TEST_F(RelayEngineTest, NotServerPort) {
    Engine e(base_config());
    FrameOpts fo;
    fo.dport = 546;
    e.on_client_frame(0, eth_frame(kSolicit, fo), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNotServerPort);
    fo.dport = 53;
    e.on_client_frame(0, eth_frame(kSolicit, fo), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNotServerPort);
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kNotServerPort)], 2u);
}

TEST_F(RelayEngineTest, DestinationAddresses) {
    Engine e(base_config());
    FrameOpts fo;
    // Unicast to an address that is not ours.
    fo.dst = "2001:db8:1::99";
    e.on_client_frame(0, eth_frame(kSolicit, fo), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNotForUs);
    // Another multicast group.
    fo.dst = "ff02::1";
    e.on_client_frame(0, eth_frame(kSolicit, fo), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNotForUs);
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kNotForUs)], 2u);
    // Unicast to one of our addresses: relayed.
    fo.dst = kLocal;
    e.on_client_frame(0, eth_frame(kSolicit, fo), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(*fwd().find(9), kSolicit);
    // All_DHCP_Servers is accepted as well.
    fo.dst = "ff05::1:3";
    e.on_client_frame(0, eth_frame(kSolicit, fo), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(e.counters(0).forwarded, 2u);
}

TEST_F(RelayEngineTest, BadUdpChecksum) {
    V f = eth_frame(kSolicit);
    const size_t csum_at = 14 + 40 + 6;
    f[csum_at] ^= 0x5a;
    Engine e(base_config());
    e.on_client_frame(0, f, frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kBadUdpChecksum);
    EXPECT_EQ(a.frame_drop, frame::Drop::kBadUdpChecksum);
    // A zero checksum is invalid over IPv6 too.
    V z = eth_frame(kSolicit);
    z[csum_at] = z[csum_at + 1] = 0;
    e.on_client_frame(0, z, frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kBadUdpChecksum);
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kBadUdpChecksum)], 2u);

    // Without verification (live mode with checksum offload) the frame is relayed.
    Config c = base_config();
    c.verify_udp_checksum = false;
    Engine lax(c);
    lax.on_client_frame(0, f, frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(*fwd().find(9), kSolicit);
}

// Ethernet | IPv6 (next header 44) | Fragment header (next 17, offset 0, M=1, id 1) | UDP.
V fragment_frame() {
    const V udp = cat({be16(546), be16(547), be16(uint16_t(8 + kSolicit.size())), hx("1234"), kSolicit});
    const V fraghdr = hx("11 00 0001 00000001");
    const V ip = cat({hx("60000000"), be16(uint16_t(fraghdr.size() + udp.size())), V{44, 1}, ab(kClientLl),
                      ab(kAllDhcp), fraghdr, udp});
    return cat({mb("33:33:00:01:00:02"), mb(kClientMac), hx("86dd"), ip});
}

TEST_F(RelayEngineTest, Fragment) {
    Engine e(base_config());
    e.on_client_frame(0, fragment_frame(), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kFragment);
    EXPECT_EQ(a.frame_drop, frame::Drop::kFragment);
    EXPECT_TRUE(a.sends.empty());
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kFragment)], 1u);
}

TEST_F(RelayEngineTest, VlanTaggedClientFrame) {
    // One and two 802.1Q tags: relayed, option 79 is the frame's source MAC.
    for (uint8_t tags : {uint8_t(1), uint8_t(2)}) {
        frame::BuildSpec s;
        s.src_mac = M(kClientMac);
        s.src = A(kClientLl);
        s.dst = A(kAllDhcp);
        s.dst_mac = frame::multicast_mac(s.dst);
        s.sport = 546;
        s.dport = 547;
        s.n_vlans = tags;
        s.vlan_tci[0] = 100;
        s.vlan_tci[1] = 200;
        if (tags == 2) s.vlan_tpid[0] = frame::kEtherQinQ;
        V f;
        ASSERT_TRUE(frame::build(s, kSolicit, f));
        Engine e(base_config());
        e.on_client_frame(0, f, frame::kLinkEthernet, a);
        ASSERT_EQ(a.drop, Drop::kNone) << int(tags);
        EXPECT_EQ(to_hex(a.payload), to_hex(cat({hx("0c 00"), ab(kLink1), ab(kClientLl),
                                                 opt(79, lladdr_body(kClientMac)), opt(9, kSolicit)})));
    }
}

TEST_F(RelayEngineTest, BadFrame) {
    Engine e(base_config());
    // ARP: a well-formed frame that is not DHCPv6 (replay sees such frames): not-dhcpv6.
    e.on_client_frame(0, cat({hx("ffffffffffff"), mb(kClientMac), hx("0806"), V(28, 0)}), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNotDhcpv6);
    EXPECT_EQ(a.frame_drop, frame::Drop::kNotIpv6);
    // Truncated Ethernet header.
    e.on_client_frame(0, hx("0102030405"), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kBadFrame);
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kBadFrame)], 1u);
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kNotDhcpv6)], 1u);
}

TEST_F(RelayEngineTest, TooBig) {
    // The Relay-forward must fit one UDP datagram: 65535 - 8 = 65527 bytes. With option 79 the
    // overhead is 34 + 12 + 4 = 50 bytes, so a 65477-byte message is the largest relayed.
    Engine e(base_config());
    V big = client_msg(1, 0x000001);
    big.resize(65477, 0xab);
    e.on_client_frame(0, eth_frame(big), frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(a.payload.size(), 65527u);
    EXPECT_EQ(*fwd().find(9), big);
    big.push_back(0xab);
    e.on_client_frame(0, eth_frame(big), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kTooBig);
    EXPECT_TRUE(a.sends.empty());
    EXPECT_TRUE(a.payload.empty());
    // Without option 79 the same message fits.
    Config c = base_config();
    c.client_link_layer = false;
    Engine e2(c);
    e2.on_client_frame(0, eth_frame(big), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(a.payload.size(), 65516u);
    // The largest possible UDP payload (65527) never fits in a Relay-forward.
    big.resize(65527, 0xab);
    e2.on_client_frame(0, eth_frame(big), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kTooBig);
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kTooBig)], 1u);
    EXPECT_EQ(e2.counters(0).drops[size_t(Drop::kTooBig)], 1u);
}

// ======================================================================================
// Server side: Relay-reply unwrapped toward the client (RFC 8415 §19.2)
// ======================================================================================

const V kAdvertise = client_msg(2, 0x5a0001, cat({opt(2, hx("0001 0001 2f5a3c00 020000cc0001")),
                                                  opt(1, hx("0003 0001 020000aa0001")), opt(7, hx("ff"))}));
const V kAddrRegReply =
    client_msg(37, 0x3a1b2c, cat({opt(2, hx("0001 0001 2f5a3c00 020000cc0001")),
                                  opt(5, cat({ab(kClientGua), be32(3600), be32(7200)}))}));

TEST_F(RelayEngineTest, ReplyByInterfaceId) {
    Engine e(base_config());
    const V rr = cat({relay_hdr(13, 0, "::", kClientLl), opt(18, str("eth2")), opt(9, kAdvertise)});
    e.on_server_datagram(A(kServer1), 547, rr, a);
    ASSERT_EQ(a.drop, Drop::kNone) << relay::drop_name(a.drop);
    EXPECT_EQ(to_hex(a.payload), to_hex(kAdvertise));  // unchanged
    ASSERT_EQ(a.sends.size(), 1u);
    EXPECT_EQ(a.sends[0].dst, A(kClientLl));
    EXPECT_EQ(a.sends[0].dport, 546);
    EXPECT_EQ(a.sends[0].port, 1);
    EXPECT_EQ(a.sends[0].hop_limit, 0);
    EXPECT_EQ(a.port, 1);
    EXPECT_EQ(a.msg_type, 2);
    EXPECT_EQ(a.xid, 0x5a0001u);
    EXPECT_EQ(e.counters(1).replied, 1u);
    EXPECT_EQ(e.counters(kUpstream).received, 1u);
    // A configured interface-id names its port, not the port name.
    const V rr2 = cat({relay_hdr(13, 0, "::", kClientLl), opt(18, str("port-3")), opt(9, kAdvertise)});
    e.on_server_datagram(A(kServer1), 547, rr2, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(a.sends[0].port, 2);
}

TEST_F(RelayEngineTest, ReplyByLinkAddress) {
    Engine e(base_config());
    for (auto [link, port] : {std::pair{kLink1, 0}, std::pair{kLink3, 2}}) {
        const V rr = cat({relay_hdr(13, 0, link, kClientLl), opt(9, kAdvertise)});
        e.on_server_datagram(A(kServer1), 547, rr, a);
        ASSERT_EQ(a.drop, Drop::kNone) << link;
        ASSERT_EQ(a.sends.size(), 1u);
        EXPECT_EQ(a.sends[0].port, port);
        EXPECT_EQ(a.sends[0].dst, A(kClientLl));
        EXPECT_EQ(a.sends[0].dport, 546);
        EXPECT_EQ(a.payload, kAdvertise);
    }
}

TEST_F(RelayEngineTest, InterfaceIdTakesPrecedenceOverLinkAddress) {
    Engine e(base_config());
    const V rr = cat({relay_hdr(13, 0, kLink1, kClientLl), opt(9, kAdvertise), opt(18, str("eth2"))});
    e.on_server_datagram(A(kServer1), 547, rr, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(a.sends[0].port, 1);
    // An Interface-ID naming no port is not rescued by a known link-address.
    const V rr2 = cat({relay_hdr(13, 0, kLink1, kClientLl), opt(18, str("nope")), opt(9, kAdvertise)});
    e.on_server_datagram(A(kServer1), 547, rr2, a);
    EXPECT_EQ(a.drop, Drop::kUnknownInterface);
}

TEST_F(RelayEngineTest, InnerRelayReplyGoesToServerPort) {
    Engine e(base_config());
    const V inner = cat({relay_hdr(13, 0, "2001:db8:9::1", kClientLl), opt(18, str("lan0")), opt(9, kAdvertise)});
    const V rr = cat({relay_hdr(13, 1, kLink1, "fe80::ff:febb:2"), opt(9, inner)});
    e.on_server_datagram(A(kServer1), 547, rr, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(to_hex(a.payload), to_hex(inner));
    ASSERT_EQ(a.sends.size(), 1u);
    EXPECT_EQ(a.sends[0].dst, A("fe80::ff:febb:2"));
    EXPECT_EQ(a.sends[0].dport, 547);
    EXPECT_EQ(a.sends[0].port, 0);
    EXPECT_EQ(a.msg_type, 13);
    EXPECT_EQ(a.hop_count, 1);
}

TEST_F(RelayEngineTest, AddrRegReplyToRegisteredAddress) {
    Engine e(base_config());
    const V rr = cat({relay_hdr(13, 0, kLink1, kClientGua), opt(9, kAddrRegReply)});
    e.on_server_datagram(A(kServer1), 547, rr, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(a.payload, kAddrRegReply);
    ASSERT_EQ(a.sends.size(), 1u);
    EXPECT_EQ(a.sends[0].dst, A(kClientGua));
    EXPECT_EQ(a.sends[0].dport, 546);
    EXPECT_EQ(a.sends[0].port, 0);
    EXPECT_EQ(a.msg_type, 37);
    EXPECT_EQ(e.counters(0).replied, 1u);
    EXPECT_EQ(e.counters(0).addr_reg_reply, 1u);
}

TEST_F(RelayEngineTest, ReplyAnyInnerTypeUnchanged) {
    // The relay does not look into the inner message: unknown types and non-option bodies pass.
    Engine e(base_config());
    for (const V& inner : {kUnknown200, V{255}, client_msg(7, 1, hx("ffff"))}) {
        const V rr = cat({relay_hdr(13, 0, kLink1, kClientLl), opt(9, inner)});
        e.on_server_datagram(A(kServer1), 547, rr, a);
        ASSERT_EQ(a.drop, Drop::kNone) << to_hex(inner);
        EXPECT_EQ(a.payload, inner);
    }
}

TEST_F(RelayEngineTest, ReplyWithoutRelayMessage) {
    Engine e(base_config());
    e.on_server_datagram(A(kServer1), 547, cat({relay_hdr(13, 0, kLink1, kClientLl), opt(18, str("eth1"))}), a);
    EXPECT_EQ(a.drop, Drop::kNoRelayMessage);
    e.on_server_datagram(A(kServer1), 547, relay_hdr(13, 0, kLink1, kClientLl), a);
    EXPECT_EQ(a.drop, Drop::kNoRelayMessage);
    EXPECT_TRUE(a.sends.empty());
    EXPECT_EQ(e.counters(kUpstream).drops[size_t(Drop::kNoRelayMessage)], 2u);
}

TEST_F(RelayEngineTest, ReplyUnknownInterface) {
    Engine e(base_config());
    const std::vector<V> bad = {
        cat({relay_hdr(13, 0, "::", kClientLl), opt(18, str("eth9")), opt(9, kAdvertise)}),   // unknown id
        cat({relay_hdr(13, 0, "::", kClientLl), opt(18, str("eth")), opt(9, kAdvertise)}),    // a prefix
        cat({relay_hdr(13, 0, "::", kClientLl), opt(18, str("eth10")), opt(9, kAdvertise)}),  // longer
        cat({relay_hdr(13, 0, "2001:db8:7::1", kClientLl), opt(9, kAdvertise)}),              // unknown link
        cat({relay_hdr(13, 0, "::", kClientLl), opt(9, kAdvertise)}),  // link :: without interface-id
    };
    for (const V& rr : bad) {
        e.on_server_datagram(A(kServer1), 547, rr, a);
        EXPECT_EQ(a.drop, Drop::kUnknownInterface) << to_hex(rr);
        EXPECT_TRUE(a.sends.empty());
    }
    EXPECT_EQ(e.counters(kUpstream).drops[size_t(Drop::kUnknownInterface)], bad.size());
}

TEST_F(RelayEngineTest, NotRelayReply) {
    Engine e(base_config());
    for (const V& m : {kAdvertise, kAddrRegReply, inner_forward(0), client_msg(200, 1)}) {
        e.on_server_datagram(A(kServer1), 547, m, a);
        EXPECT_EQ(a.drop, Drop::kNotRelayReply) << int(m[0]);
    }
    EXPECT_EQ(e.counters(kUpstream).drops[size_t(Drop::kNotRelayReply)], 4u);
    e.on_server_datagram(A(kServer1), 547, V{}, a);
    EXPECT_EQ(a.drop, Drop::kTruncated);
}

TEST_F(RelayEngineTest, MalformedRelayReply) {
    Engine e(base_config());
    const V good = cat({relay_hdr(13, 0, kLink1, kClientLl), opt(9, kAdvertise)});
    const std::vector<V> bad = {
        V{13},
        V(good.begin(), good.begin() + 33),                               // < 34 bytes
        cat({relay_hdr(13, 0, kLink1, kClientLl), hx("0009 0100"), kAdvertise}),  // option past the end
        cat({relay_hdr(13, 0, kLink1, kClientLl), opt(9, kAdvertise), hx("0012")}),  // truncated header
        cat({relay_hdr(13, 0, kLink1, kClientLl), opt(9, V{})}),                  // empty option 9
    };
    for (const V& rr : bad) {
        e.on_server_datagram(A(kServer1), 547, rr, a);
        EXPECT_EQ(a.drop, Drop::kMalformedRelay) << to_hex(rr);
        EXPECT_TRUE(a.sends.empty());
    }
    EXPECT_EQ(e.counters(kUpstream).drops[size_t(Drop::kMalformedRelay)], bad.size());
}

TEST_F(RelayEngineTest, ReplyBadPeerAddress) {
    Engine e(base_config());
    for (const char* peer : {"::", "ff02::1:2", "ff02::1", "::1"}) {
        const V rr = cat({relay_hdr(13, 0, kLink1, peer), opt(9, kAdvertise)});
        e.on_server_datagram(A(kServer1), 547, rr, a);
        EXPECT_EQ(a.drop, Drop::kBadPeerAddress) << peer;
        EXPECT_TRUE(a.sends.empty());
    }
    // Counted on the port the reply was for.
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kBadPeerAddress)], 4u);
    EXPECT_EQ(e.counters(0).replied, 0u);
}

// ======================================================================================
// Counters and the report
// ======================================================================================

TEST_F(RelayEngineTest, CountersPerPortAndReport) {
    Engine e(base_config());
    FrameOpts fo;
    // eth1 (port 0): two relayed (one ADDR-REG-INFORM) and one of every client-side drop.
    e.on_client_frame(0, eth_frame(kSolicit), frame::kLinkEthernet, a);
    e.on_client_frame(0, eth_frame(kAddrRegInform), frame::kLinkEthernet, a);
    V badsum = eth_frame(kSolicit);
    badsum[14 + 40 + 6] ^= 1;
    e.on_client_frame(0, badsum, frame::kLinkEthernet, a);
    e.on_client_frame(0, hx("00"), frame::kLinkEthernet, a);
    fo.dport = 546;
    e.on_client_frame(0, eth_frame(kSolicit, fo), frame::kLinkEthernet, a);
    fo = {};
    fo.dst = "2001:db8::99";
    e.on_client_frame(0, eth_frame(kSolicit, fo), frame::kLinkEthernet, a);
    e.on_client_frame(0, eth_frame(V{1}), frame::kLinkEthernet, a);
    e.on_client_frame(0, eth_frame(kAdvertise), frame::kLinkEthernet, a);
    e.on_client_frame(0, eth_frame(inner_forward(8)), frame::kLinkEthernet, a);
    e.on_client_frame(0, eth_frame(cat({V{12, 0}, V(8, 0)})), frame::kLinkEthernet, a);  // 10-byte relay
    e.on_client_frame(0, fragment_frame(), frame::kLinkEthernet, a);
    V huge = client_msg(1, 9);
    huge.resize(65478, 0);
    e.on_client_frame(0, eth_frame(huge), frame::kLinkEthernet, a);
    // eth2 (port 1): one relayed.
    e.on_client_frame(1, eth_frame(kSolicit), frame::kLinkEthernet, a);
    // upstream: one reply to eth1, one ADDR-REG-REPLY to eth1, one bad peer on eth1, server drops.
    e.on_server_datagram(A(kServer1), 547, cat({relay_hdr(13, 0, kLink1, kClientLl), opt(9, kAdvertise)}), a);
    e.on_server_datagram(A(kServer1), 547, cat({relay_hdr(13, 0, kLink1, kClientGua), opt(9, kAddrRegReply)}), a);
    e.on_server_datagram(A(kServer1), 547, cat({relay_hdr(13, 0, kLink1, "::"), opt(9, kAdvertise)}), a);
    e.on_server_datagram(A(kServer1), 547, kAdvertise, a);
    e.on_server_datagram(A(kServer1), 547, relay_hdr(13, 0, kLink1, kClientLl), a);
    e.on_server_datagram(A(kServer1), 547, cat({relay_hdr(13, 0, "::", kClientLl), opt(9, kAdvertise)}), a);
    e.on_server_datagram(A(kServer1), 547, V{13, 0}, a);
    e.on_server_datagram(A(kServer1), 547, V{}, a);

    const auto& c0 = e.counters(0);
    EXPECT_EQ(c0.received, 12u);
    EXPECT_EQ(c0.forwarded, 2u);
    EXPECT_EQ(c0.addr_reg_inform, 1u);
    EXPECT_EQ(c0.replied, 2u);
    EXPECT_EQ(c0.addr_reg_reply, 1u);
    for (Drop d : {Drop::kBadUdpChecksum, Drop::kBadFrame, Drop::kNotServerPort, Drop::kNotForUs, Drop::kTruncated,
                   Drop::kServerMessage, Drop::kHopLimit, Drop::kMalformedRelay, Drop::kBadPeerAddress,
                   Drop::kFragment, Drop::kTooBig})
        EXPECT_EQ(c0.drops[size_t(d)], 1u) << relay::drop_name(d);
    EXPECT_EQ(c0.drops[size_t(Drop::kNone)], 0u);
    const auto& c1 = e.counters(1);
    EXPECT_EQ(c1.received, 1u);
    EXPECT_EQ(c1.forwarded, 1u);
    for (size_t d = 0; d < c1.drops.size(); ++d) EXPECT_EQ(c1.drops[d], 0u) << d;
    const auto& c2 = e.counters(2);
    EXPECT_EQ(c2.received, 0u);
    const auto& up = e.counters(kUpstream);
    EXPECT_EQ(up.received, 8u);
    EXPECT_EQ(up.forwarded, 0u);
    EXPECT_EQ(up.replied, 0u);  // replies count on the client port
    for (Drop d : {Drop::kNotRelayReply, Drop::kNoRelayMessage, Drop::kUnknownInterface, Drop::kMalformedRelay,
                   Drop::kTruncated})
        EXPECT_EQ(up.drops[size_t(d)], 1u) << relay::drop_name(d);

    const std::string rep = e.counters_report();
    EXPECT_NE(rep.find("eth1: received 12 forwarded 2 replied 2 addr-reg-inform 1 addr-reg-reply 1 drops "),
              std::string::npos)
        << rep;
    EXPECT_NE(rep.find("eth2: received 1 forwarded 1 replied 0 addr-reg-inform 0 addr-reg-reply 0 drops none"),
              std::string::npos)
        << rep;
    EXPECT_NE(rep.find("ge-0/0/2: received 0 "), std::string::npos) << rep;
    EXPECT_NE(rep.find("upstream: received 8 "), std::string::npos) << rep;
    for (const char* n : {"bad-udp-checksum=1", "bad-frame=1", "not-server-port=1", "not-for-us=1", "truncated=1",
                          "server-message-from-client=1", "hop-limit=1", "malformed-relay=1", "bad-peer-address=1",
                          "ipv6-fragment=1", "too-big=1",
                          "not-relay-reply=1", "no-relay-message=1", "unknown-interface=1"})
        EXPECT_NE(rep.find(n), std::string::npos) << n << "\n" << rep;
    // One line per port and one for upstream.
    EXPECT_EQ(std::count(rep.begin(), rep.end(), '\n'), 4);
}

TEST(RelayEngineNames, EveryDropHasADistinctName) {
    std::vector<std::string> seen;
    for (size_t d = 0; d < size_t(Drop::kCount_); ++d) {
        std::string n(relay::drop_name(Drop(d)));
        EXPECT_NE(n, "unknown") << d;
        EXPECT_EQ(std::find(seen.begin(), seen.end(), n), seen.end()) << n;
        seen.push_back(n);
    }
    EXPECT_EQ(relay::drop_name(Drop::kFragment), "ipv6-fragment");
    EXPECT_EQ(relay::drop_name(Drop::kTooBig), "too-big");
}

TEST_F(RelayEngineTest, ActionsAreResetBetweenCalls) {
    Engine e(base_config());
    e.on_client_frame(0, eth_frame(kSolicit), frame::kLinkEthernet, a);
    ASSERT_FALSE(a.sends.empty());
    e.on_client_frame(0, eth_frame(kAdvertise), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kServerMessage);
    EXPECT_TRUE(a.sends.empty());
    EXPECT_TRUE(a.payload.empty());
    e.on_server_datagram(A(kServer1), 547, cat({relay_hdr(13, 0, kLink1, kClientLl), opt(9, kAdvertise)}), a);
    EXPECT_EQ(a.drop, Drop::kNone);
    EXPECT_FALSE(a.client_mac.has_value());
    e.on_client_frame(0, eth_frame(kSolicit), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(a.sends.size(), 1u);
    EXPECT_EQ(a.payload.size(), 34u + 12 + 4 + kSolicit.size());
}

// ======================================================================================
// No per-client state
// ======================================================================================

struct Outcome {
    V payload;
    std::vector<Send> sends;
    Drop drop;
    bool operator==(const Outcome& o) const {
        if (payload != o.payload || drop != o.drop || sends.size() != o.sends.size()) return false;
        for (size_t i = 0; i < sends.size(); ++i)
            if (sends[i].dst != o.sends[i].dst || sends[i].dport != o.sends[i].dport ||
                sends[i].port != o.sends[i].port || sends[i].hop_limit != o.sends[i].hop_limit)
                return false;
        return true;
    }
};

TEST(RelayEngineNoState, HundredThousandClientsChangeOnlyCounters) {
    Config cfg = base_config();
    cfg.servers = {A(kServer1), A(kServer2)};
    // 100,000 clients at one instant: far over the port's rate. The flood limits are rate
    // state (tested below, RelayEngineFloodLimits); here they are off so every client is relayed.
    cfg.limits.per_port = {};
    cfg.limits.per_mac = {};
    // Probes: one input of each kind, replayed before and after the flood.
    struct Probe {
        bool client;
        int port;
        V bytes;
    };
    FrameOpts gua;
    gua.src = kClientGua;
    FrameOpts relay_ll;
    relay_ll.src = "fe80::ff:febb:2";
    const std::vector<Probe> probes = {
        {true, 0, eth_frame(kSolicit)},
        {true, 0, eth_frame(kAddrRegInform, gua)},
        {true, 1, eth_frame(kInfoRequest)},
        {true, 0, eth_frame(inner_forward(1), relay_ll)},
        {true, 0, eth_frame(kAdvertise)},
        {false, kUpstream, cat({relay_hdr(13, 0, kLink1, kClientLl), opt(9, kAdvertise)})},
        {false, kUpstream, cat({relay_hdr(13, 0, "::", kClientGua), opt(18, str("eth2")), opt(9, kAddrRegReply)})},
        {false, kUpstream, cat({relay_hdr(13, 0, "::", kClientLl), opt(9, kAdvertise)})},
    };
    auto run_probes = [&](Engine& e) {
        std::vector<Outcome> out;
        Actions a;
        for (const auto& p : probes) {
            if (p.client)
                e.on_client_frame(p.port, p.bytes, frame::kLinkEthernet, a);
            else
                e.on_server_datagram(A(kServer1), 547, p.bytes, a);
            out.push_back(Outcome{a.payload, a.sends, a.drop});
        }
        return out;
    };

    Engine fresh(cfg);
    const std::vector<Outcome> reference = run_probes(fresh);
    Engine e(cfg);
    EXPECT_TRUE(run_probes(e) == reference);
    const relay::PortCounters before0 = e.counters(0), before_up = e.counters(kUpstream);

    // 100,000 distinct clients: MAC 02:xx:xx:xx:xx:xx, link-local source, GUA registrations, and
    // the server's replies to each of them.
    constexpr uint32_t kN = 100000;
    Actions a;
    frame::BuildSpec s;
    s.dst = A(kAllDhcp);
    s.dst_mac = frame::multicast_mac(s.dst);
    s.sport = 546;
    s.dport = 547;
    V f, rr;
    uint64_t relayed = 0, replied = 0;
    for (uint32_t i = 0; i < kN; ++i) {
        s.src_mac = MacAddr{{0x02, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i), 0x5e}};
        s.src = A(kClientLl);
        s.src.b[12] = uint8_t(i >> 24);
        s.src.b[13] = uint8_t(i >> 16);
        s.src.b[14] = uint8_t(i >> 8);
        s.src.b[15] = uint8_t(i);
        const bool reg = i % 2;
        V msg = reg ? kAddrRegInform : kSolicit;
        msg[1] = uint8_t(i >> 16);
        msg[2] = uint8_t(i >> 8);
        msg[3] = uint8_t(i);
        if (reg) {
            s.src = A(kClientGua);
            s.src.b[12] = uint8_t(i >> 24);
            s.src.b[13] = uint8_t(i >> 16);
            s.src.b[14] = uint8_t(i >> 8);
            s.src.b[15] = uint8_t(i);
        }
        ASSERT_TRUE(frame::build(s, msg, f));
        e.on_client_frame(0, f, frame::kLinkEthernet, a);
        ASSERT_EQ(a.drop, Drop::kNone) << i;
        ASSERT_EQ(a.sends.size(), 2u);
        ++relayed;
        // ... and the server answers each one by link-address.
        rr.clear();
        rr.push_back(13);
        rr.push_back(0);
        const V link = ab(kLink1);
        rr.insert(rr.end(), link.begin(), link.end());
        rr.insert(rr.end(), s.src.b.begin(), s.src.b.end());
        const V inner = reg ? kAddrRegReply : kAdvertise;
        const V o9 = opt(9, inner);
        rr.insert(rr.end(), o9.begin(), o9.end());
        e.on_server_datagram(A(kServer1), 547, rr, a);
        ASSERT_EQ(a.drop, Drop::kNone) << i;
        ASSERT_EQ(a.sends.size(), 1u);
        ASSERT_EQ(a.sends[0].dst, s.src);
        ++replied;
    }

    // The probes give exactly what a fresh engine gives.
    const std::vector<Outcome> after = run_probes(e);
    ASSERT_EQ(after.size(), reference.size());
    for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(after[i] == reference[i]) << "probe " << i;

    // Only the counters moved, by exactly the flood plus one more probe round.
    const relay::PortCounters& c0 = e.counters(0);
    EXPECT_EQ(c0.received, 2 * before0.received + kN);
    EXPECT_EQ(c0.forwarded, 2 * before0.forwarded + relayed);
    EXPECT_EQ(c0.replied, 2 * before0.replied + replied);
    EXPECT_EQ(c0.addr_reg_inform, 2 * before0.addr_reg_inform + kN / 2);
    EXPECT_EQ(c0.addr_reg_reply, 2 * before0.addr_reg_reply + kN / 2);
    EXPECT_EQ(e.counters(kUpstream).received, 2 * before_up.received + kN);
    EXPECT_EQ(e.counters(kUpstream).drops, [&] {
        auto d = before_up.drops;
        for (auto& x : d) x *= 2;
        return d;
    }());
}

// ======================================================================================
// Flood limits (RFC 9686 §6): per client MAC, then per port, client side only
// ======================================================================================

constexpr uint64_t kSec = 1'000'000'000;
constexpr uint64_t kT0 = 1000 * kSec;

Config limited_config(limits::Rate per_mac, limits::Rate per_port) {
    Config c = base_config();
    c.limits.per_mac = per_mac;
    c.limits.per_port = per_port;
    return c;
}

// A client frame on port 0 from MAC 02:00:00:cc:HH:LL (link-local source from the same bits).
V client_from(uint16_t n, const V& msg = kSolicit) {
    static std::string mac, ll;
    char b[40];
    std::snprintf(b, sizeof b, "02:00:00:cc:%02x:%02x", n >> 8, n & 0xff);
    mac = b;
    std::snprintf(b, sizeof b, "fe80::cc:%x", unsigned(n));
    ll = b;
    FrameOpts o;
    o.src_mac = mac.c_str();
    o.src = ll.c_str();
    return eth_frame(msg, o);
}

TEST_F(RelayEngineTest, PerMacLimitDropsOneFloodingHostCounted) {
    Engine e(limited_config({20, 100}, {10000, 20000}));
    e.advance(kT0);
    const V f = eth_frame(kSolicit);
    int relayed = 0;
    for (int i = 0; i < 1000; ++i) {
        e.on_client_frame(0, f, frame::kLinkEthernet, a);
        if (a.drop == Drop::kNone) ++relayed;
        else ASSERT_EQ(a.drop, Drop::kRateLimitMac) << relay::drop_name(a.drop);
    }
    EXPECT_EQ(relayed, 100);  // the burst
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kRateLimitMac)], 900u);
    EXPECT_EQ(e.counters(0).drops[size_t(Drop::kRateLimitPort)], 0u);
    EXPECT_EQ(e.counters(0).forwarded, 100u);
    // 20/s: one more every 50 ms.
    e.advance(kT0 + 50'000'000);
    e.on_client_frame(0, f, frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNone);
    e.on_client_frame(0, f, frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kRateLimitMac);
    // Another host on the same port is not affected.
    const V other = client_from(7);
    e.on_client_frame(0, other, frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNone);
    EXPECT_NE(e.counters_report().find("eth1: received 1003 forwarded 102 "), std::string::npos) << e.counters_report();
    EXPECT_NE(e.counters_report().find("rate-limit-mac=901"), std::string::npos) << e.counters_report();
}

TEST_F(RelayEngineTest, PerPortLimitAfterPerMacAndOtherPortsUnaffected) {
    Engine e(limited_config({2, 2}, {50, 50}));
    e.advance(kT0);
    // One flooder spends only its own 2 tokens of the port's 50.
    const V flooder = client_from(0xffff);
    for (int i = 0; i < 500; ++i) e.on_client_frame(0, flooder, frame::kLinkEthernet, a);
    EXPECT_EQ(e.counters(0).forwarded, 2u);
    // 100 distinct MACs (a spoofed flood): 48 more relayed, then the port's bucket is empty.
    std::vector<V> frames;
    for (uint16_t i = 0; i < 100; ++i) frames.push_back(client_from(i));
    for (const V& f : frames) e.on_client_frame(0, f, frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kRateLimitPort);
    const auto& c0 = e.counters(0);
    EXPECT_EQ(c0.forwarded, 50u);
    EXPECT_EQ(c0.drops[size_t(Drop::kRateLimitMac)], 498u);
    EXPECT_EQ(c0.drops[size_t(Drop::kRateLimitPort)], 52u);
    // Port 1 (eth2) has its own bucket.
    for (int i = 0; i < 2; ++i) {
        e.on_client_frame(1, frames[size_t(i)], frame::kLinkEthernet, a);
        EXPECT_EQ(a.drop, Drop::kNone);
    }
    EXPECT_NE(e.counters_report().find("rate-limit-port=52 rate-limit-mac=498"), std::string::npos)
        << e.counters_report();
}

TEST_F(RelayEngineTest, RelayForwardsFromADownstreamRelayArePerPortOnly) {
    // The frame's MAC is the downstream relay's, shared by all its clients: no per-MAC limit.
    Engine e(limited_config({2, 2}, {300, 300}));
    e.advance(kT0);
    FrameOpts o;
    o.src = "fe80::ff:febb:2";
    const V fwd = eth_frame(inner_forward(1), o);
    for (int i = 0; i < 300; ++i) {
        e.on_client_frame(0, fwd, frame::kLinkEthernet, a);
        ASSERT_EQ(a.drop, Drop::kNone) << i << " " << relay::drop_name(a.drop);
    }
    e.on_client_frame(0, fwd, frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kRateLimitPort);
    EXPECT_EQ(e.flood_guard().mac_table().occupied(kT0), 0u);
}

TEST_F(RelayEngineTest, RepliesCreateNoLimiterState) {
    // RFC 9686 §4.3: nothing learnt from a reply. 10,000 Relay-replies to 10,000 clients on eth1
    // neither enter the per-MAC table nor spend eth1's tokens.
    Engine e(limited_config({1, 1}, {3, 3}));
    e.advance(kT0);
    for (uint16_t i = 0; i < 10000; ++i) {
        Ip6Addr peer = A(kClientLl);
        peer.b[14] = uint8_t(i >> 8);
        peer.b[15] = uint8_t(i);
        V rr = cat({relay_hdr(13, 0, kLink1, "::"), opt(79, lladdr_body(kClientMac)), opt(9, kAdvertise)});
        std::copy(peer.b.begin(), peer.b.end(), rr.begin() + 18);
        e.on_server_datagram(A(kServer1), 547, rr, a);
        ASSERT_EQ(a.drop, Drop::kNone) << relay::drop_name(a.drop);
    }
    EXPECT_EQ(e.counters(0).replied, 10000u);
    EXPECT_EQ(e.flood_guard().mac_table().occupied(kT0), 0u);
    // eth1 still has its full burst of 3, and kClientMac its token.
    e.on_client_frame(0, eth_frame(kSolicit), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kNone);
    for (uint16_t i = 0; i < 2; ++i) {
        e.on_client_frame(0, client_from(i), frame::kLinkEthernet, a);
        EXPECT_EQ(a.drop, Drop::kNone);
    }
    e.on_client_frame(0, client_from(9), frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kRateLimitPort);
    EXPECT_EQ(e.flood_guard().mac_table().occupied(kT0), 4u);  // the 4 client MACs, none from the replies
}

TEST_F(RelayEngineTest, LimitsAreRateStateOnly) {
    // After a flood, once the buckets have refilled, a client's Relay-forward is byte for byte
    // what a fresh engine sends: the limiter changes whether, never what or where.
    Engine fresh(base_config());
    const V f = eth_frame(kSolicit);
    fresh.on_client_frame(0, f, frame::kLinkEthernet, a);
    const V reference = a.payload;
    Engine e(base_config());
    e.advance(kT0);
    for (int i = 0; i < 5000; ++i) e.on_client_frame(0, f, frame::kLinkEthernet, a);
    EXPECT_EQ(a.drop, Drop::kRateLimitMac);
    e.advance(kT0 + 5 * kSec);
    e.on_client_frame(0, f, frame::kLinkEthernet, a);
    ASSERT_EQ(a.drop, Drop::kNone);
    EXPECT_EQ(to_hex(a.payload), to_hex(reference));
}

TEST_F(RelayEngineTest, DefaultLimitsNeverReachedByAnOrdinaryClient) {
    // Solicit, Request, a few retransmissions and one ADDR-REG-INFORM for each of 8 addresses,
    // all in the same second: well inside the default per-MAC burst.
    Engine e(base_config());
    e.advance(kT0);
    const V f = eth_frame(kSolicit);
    for (int i = 0; i < 30; ++i) {
        e.on_client_frame(0, f, frame::kLinkEthernet, a);
        ASSERT_EQ(a.drop, Drop::kNone) << i;
    }
}

TEST_F(RelayEngineTest, InfoLineBudgetAndFloodReport) {
    Config cfg = limited_config({0, 0}, {0, 0});  // no admission limits: only the log budget
    cfg.limits.log_lines = {20, 100};
    Engine e(cfg);
    e.advance(kT0);
    FrameOpts gua;
    gua.src = kClientGua;
    const V inform = eth_frame(kAddrRegInform, gua);
    int logged = 0, suppressed = 0;
    for (int i = 0; i < 100'000; ++i) {
        e.on_client_frame(0, inform, frame::kLinkEthernet, a);
        ASSERT_EQ(a.drop, Drop::kNone);
        (a.log_suppressed ? suppressed : logged)++;
    }
    EXPECT_EQ(logged, 100);  // the burst: not 100,000 info lines
    EXPECT_EQ(suppressed, 99'900);
    EXPECT_EQ(e.counters(0).forwarded, 100'000u);  // relayed all the same
    // Other messages never carry the flag.
    e.on_client_frame(0, eth_frame(kSolicit), frame::kLinkEthernet, a);
    EXPECT_FALSE(a.log_suppressed);
    EXPECT_TRUE(e.flood_report(kT0 + 9 * kSec).empty());
    auto lines = e.flood_report(kT0 + 10 * kSec);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "flood limits on eth1 in the last 10.0 s: dropped 0 (rate-limit-port 0, rate-limit-mac 0), "
                        "99900 info lines suppressed");
    EXPECT_TRUE(e.flood_report(kT0 + 11 * kSec).empty());
    // The budget refills at 20 lines/s.
    e.advance(kT0 + 11 * kSec);
    e.on_client_frame(0, inform, frame::kLinkEthernet, a);
    EXPECT_FALSE(a.log_suppressed);
}

TEST_F(RelayEngineTest, FloodReportNamesTheTopMacOncePerInterval) {
    Engine e(base_config());
    std::vector<std::string> all;
    const V f = eth_frame(kSolicit);
    // 60 s of a 1,000/s flood from one MAC, the daemon asking for the report every 10 ms.
    for (uint64_t ms = 0; ms < 60'000; ms += 10) {
        e.advance(kT0 + ms * 1'000'000);
        for (int i = 0; i < 10; ++i) e.on_client_frame(0, f, frame::kLinkEthernet, a);
        for (auto& l : e.flood_report(e.now())) all.push_back(l);
    }
    ASSERT_GE(all.size(), 5u);
    EXPECT_LE(all.size(), 6u);  // one line per 10 s interval
    // Second interval: 10,000 sent, 200 allowed (20/s): about 9,800 dropped, all by one MAC.
    EXPECT_NE(all[1].find("flood limits on eth1 in the last 10.0 s: dropped 9"), std::string::npos) << all[1];
    EXPECT_NE(all[1].find("(rate-limit-port 0, rate-limit-mac 9"), std::string::npos) << all[1];
    EXPECT_NE(all[1].find("top MACs dropped: 02:00:00:aa:00:01 9"), std::string::npos) << all[1];
}

}  // namespace
