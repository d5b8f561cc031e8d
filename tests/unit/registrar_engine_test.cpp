// The registrar engine (registrar/engine.h): RFC 9686 §4.2.1 discards, the ADDR-REG-REPLY
// bytes direct and through 1-3 relay levels (RFC 8415 §19.3), the binding lifecycle.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "registrar/engine.h"
#include "test_util.h"

namespace regrelay::registrar {
namespace {

using test::be16;
using test::be32;
using test::ByteVec;
using test::cat;
using test::hexb;
using test::mkopt;
using test::parse_relay;
using test::str_bytes;
using test::to_hex;

ByteVec a16(const char* text) {
    ByteVec b(16);
    if (inet_pton(AF_INET6, text, b.data()) != 1) throw std::invalid_argument("bad address in test");
    return b;
}
Ip6Addr ip(const char* text) { return Ip6Addr::from(a16(text)); }

const ByteVec kDuid = hexb("00030001 020000000001");
const ByteVec kDuid2 = hexb("00030001 020000000002");
const ByteVec kServerDuid = hexb("00030001 0200000053ff");
constexpr const char* kAddr = "2001:db8:1::100";

ByteVec ia_addr(const char* a, uint32_t pref, uint32_t valid) { return mkopt(5, cat({a16(a), be32(pref), be32(valid)})); }
ByteVec inform(uint32_t xid, std::initializer_list<ByteVec> opts) {
    ByteVec m = {36, uint8_t(xid >> 16), uint8_t(xid >> 8), uint8_t(xid)};
    for (const auto& o : opts) m.insert(m.end(), o.begin(), o.end());
    return m;
}
ByteVec good(uint32_t xid = 0x0a0b0c, uint32_t valid = 7200, const ByteVec& duid = kDuid) {
    return inform(xid, {mkopt(1, duid), ia_addr(kAddr, 3600, valid)});
}
ByteVec relay_forw(uint8_t hop, const char* link, const char* peer, std::initializer_list<ByteVec> opts, const ByteVec& inner) {
    ByteVec m = cat({{12, hop}, a16(link), a16(peer)});
    for (const auto& o : opts) m.insert(m.end(), o.begin(), o.end());
    auto r = mkopt(9, inner);
    m.insert(m.end(), r.begin(), r.end());
    return m;
}

Config config() {
    Config c;
    c.interfaces = {"eth0", "eth1"};
    c.server_duid = kServerDuid;
    return c;
}

struct RegistrarEngine : ::testing::Test {
    Engine e{config()};
    Actions out;
    std::vector<Event> expired;

    void direct(const ByteVec& msg, const char* src = kAddr, int iface = 0) {
        out.events.clear();
        e.handle(Input{msg, ip(src), 546, iface}, out);
    }
    void relayed(const ByteVec& msg, const char* src = "2001:db8:ffff::2") {
        out.events.clear();
        e.handle(Input{msg, ip(src), 547, 1}, out);
    }
    void expect_discard(Discard d) {
        EXPECT_EQ(out.outcome, Actions::Outcome::kDiscarded);
        EXPECT_EQ(out.discard, d) << discard_name(out.discard) << " " << out.why;
        EXPECT_FALSE(out.reply.has_value());
        EXPECT_TRUE(out.events.empty());
        EXPECT_EQ(e.counters().discards[size_t(d)], 1u);
        EXPECT_EQ(e.binding_count(), 0u);
    }
};

// The reply for `msg` as RFC 9686 §4.3 wants it, built here from the parts.
ByteVec expected_reply(uint32_t xid, const ByteVec& duid, const ByteVec& ia) {
    return cat({{37, uint8_t(xid >> 16), uint8_t(xid >> 8), uint8_t(xid)}, mkopt(2, kServerDuid), mkopt(1, duid), ia});
}

// --- discards (RFC 9686 §4.2.1), each with its own counter -------------------------------------

TEST_F(RegistrarEngine, DiscardsWithoutClientIdentifier) {
    direct(inform(1, {ia_addr(kAddr, 1, 2)}));
    expect_discard(Discard::kNoClientId);
}
TEST_F(RegistrarEngine, DiscardsWithServerIdentifier) {
    direct(inform(2, {mkopt(1, kDuid), mkopt(2, kServerDuid), ia_addr(kAddr, 1, 2)}));
    expect_discard(Discard::kServerId);
}
TEST_F(RegistrarEngine, DiscardsWithoutIaAddress) {
    direct(inform(3, {mkopt(1, kDuid)}));
    expect_discard(Discard::kNoIaAddress);
}
TEST_F(RegistrarEngine, DiscardsWithTwoIaAddresses) {
    direct(inform(4, {mkopt(1, kDuid), ia_addr(kAddr, 1, 2), ia_addr("2001:db8:1::200", 1, 2)}));
    expect_discard(Discard::kMultipleIaAddress);
}
TEST_F(RegistrarEngine, DiscardsAnAddressOtherThanTheSource) {
    direct(good(), "2001:db8:1::200");
    expect_discard(Discard::kAddressMismatch);
}
TEST_F(RegistrarEngine, DiscardsRelayedWhenTheInnermostPeerIsNotTheAddress) {
    // The outer level's peer-address is the address, the innermost's is not: the innermost decides.
    auto inner = relay_forw(0, "2001:db8:1::1", "2001:db8:1::200", {}, good());
    relayed(relay_forw(1, "::", kAddr, {}, inner));
    expect_discard(Discard::kAddressMismatch);
}
TEST_F(RegistrarEngine, DiscardsWithAnOptionRequestOption) {
    direct(inform(6, {mkopt(1, kDuid), ia_addr(kAddr, 1, 2), mkopt(6, be16(148))}));
    expect_discard(Discard::kOro);
}
TEST_F(RegistrarEngine, DiscardsANonGlobalAddress) {
    direct(inform(7, {mkopt(1, kDuid), ia_addr("fe80::1", 1, 2)}), "fe80::1");
    expect_discard(Discard::kNotGlobal);
}
TEST_F(RegistrarEngine, DiscardsTruncatedOptions) {
    auto m = good();
    m.pop_back();
    direct(m);
    expect_discard(Discard::kMalformed);
}
TEST_F(RegistrarEngine, DiscardsAShortIaAddress) {
    direct(inform(8, {mkopt(1, kDuid), mkopt(5, a16(kAddr))}));
    expect_discard(Discard::kBadIaAddress);
}

TEST_F(RegistrarEngine, IgnoresEveryOtherTypeWithACounter) {
    direct(cat({{1, 0, 0, 1}, mkopt(1, kDuid)}));  // Solicit: the DHCPv6 server's
    direct(cat({{37, 0, 0, 2}, mkopt(1, kDuid), ia_addr(kAddr, 1, 2)}));  // servers ignore ADDR-REG-REPLY
    relayed(relay_forw(0, "2001:db8:1::1", kAddr, {}, cat({{11, 0, 0, 3}})));  // relayed Information-request
    EXPECT_EQ(out.outcome, Actions::Outcome::kIgnored);
    EXPECT_FALSE(out.reply.has_value());
    EXPECT_EQ(e.counters().ignored, 3u);
    EXPECT_EQ(e.counters().ignored_by_type[1], 1u);
    EXPECT_EQ(e.counters().ignored_by_type[37], 1u);
    EXPECT_EQ(e.counters().ignored_by_type[11], 1u);
    for (size_t i = 1; i < size_t(Discard::kCount_); ++i) EXPECT_EQ(e.counters().discards[i], 0u);
}

// --- replies ---------------------------------------------------------------------------------

TEST_F(RegistrarEngine, DirectReplyIsUnicastToTheAddressWithTheIdenticalIaAddress) {
    // Sub-options inside the IA Address must come back byte for byte too.
    ByteVec ia = mkopt(5, cat({a16(kAddr), be32(3600), be32(7200), mkopt(13, hexb("0000 6f6b"))}));
    auto msg = inform(0x123456, {mkopt(8, be16(0)), mkopt(1, kDuid), ia});
    direct(msg, kAddr, 1);
    ASSERT_EQ(out.outcome, Actions::Outcome::kReplied) << out.why;
    ASSERT_TRUE(out.reply);
    EXPECT_EQ(out.reply->dst, ip(kAddr));
    EXPECT_EQ(out.reply->dport, 546);
    EXPECT_EQ(out.reply->iface, 1);
    EXPECT_EQ(to_hex(out.reply->payload), to_hex(expected_reply(0x123456, kDuid, ia)));
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].kind, EventKind::kRegistered);
    EXPECT_EQ(out.events[0].b.relay_chain, "[]");
}

TEST_F(RegistrarEngine, OneLevelRelayReply) {
    ByteVec ifid = mkopt(18, str_bytes("r0"));
    auto msg = relay_forw(0, "2001:db8:1::1", kAddr, {ifid, mkopt(79, hexb("0001 020000aa0001"))}, good(0x010203));
    relayed(msg);
    ASSERT_EQ(out.outcome, Actions::Outcome::kReplied) << out.why;
    EXPECT_EQ(out.reply->dst, ip("2001:db8:ffff::2"));
    EXPECT_EQ(out.reply->dport, 547);
    ByteVec want = cat({{13, 0}, a16("2001:db8:1::1"), a16(kAddr), ifid,
                        mkopt(9, expected_reply(0x010203, kDuid, ia_addr(kAddr, 3600, 7200)))});
    EXPECT_EQ(to_hex(out.reply->payload), to_hex(want));
    ASSERT_EQ(out.events.size(), 1u);
    const Binding& b = out.events[0].b;
    EXPECT_EQ(b.mac->str(), "02:00:00:aa:00:01");
    EXPECT_EQ(b.interface_id, str_bytes("r0"));
    EXPECT_EQ(b.link_address, ip("2001:db8:1::1"));
}

TEST_F(RegistrarEngine, TwoLevelRelayReplyMirrorsEachLevelAndEchoesEroOptions) {
    auto inner = relay_forw(0, "::", kAddr, {mkopt(18, str_bytes("sw0")), mkopt(79, hexb("0001 020000aa0001"))}, good(7));
    ByteVec rid = mkopt(37, cat({be32(9), str_bytes("rid")}));
    auto outer = relay_forw(1, "2001:db8:1::1", kAddr, {mkopt(18, str_bytes("r0")), rid, mkopt(43, be16(37))}, inner);
    relayed(outer, "fe80::1");
    ASSERT_EQ(out.outcome, Actions::Outcome::kReplied) << out.why;
    EXPECT_EQ(out.reply->dst, ip("fe80::1"));
    auto r1 = parse_relay(out.reply->payload);
    ASSERT_TRUE(r1.ok);
    EXPECT_EQ(r1.type, 13);
    EXPECT_EQ(r1.hop, 1);
    EXPECT_EQ(r1.link, a16("2001:db8:1::1"));
    EXPECT_EQ(r1.peer, a16(kAddr));
    EXPECT_EQ(r1.codes(), (std::vector<uint16_t>{18, 37, 9}));
    ASSERT_TRUE(r1.find(18) && r1.find(9));
    EXPECT_EQ(*r1.find(18), str_bytes("r0"));
    auto r0 = parse_relay(*r1.find(9));
    ASSERT_TRUE(r0.ok);
    EXPECT_EQ(r0.hop, 0);
    EXPECT_EQ(r0.link, a16("::"));
    EXPECT_EQ(r0.codes(), (std::vector<uint16_t>{18, 9}));  // no option 79 back
    ASSERT_TRUE(r0.find(18) && r0.find(9));
    EXPECT_EQ(*r0.find(18), str_bytes("sw0"));
    EXPECT_EQ(to_hex(*r0.find(9)), to_hex(expected_reply(7, kDuid, ia_addr(kAddr, 3600, 7200))));
    const Binding& b = out.events.at(0).b;
    EXPECT_EQ(b.interface_id, str_bytes("sw0"));  // the innermost level's
    EXPECT_EQ(b.link_address, ip("2001:db8:1::1"));  // the innermost that is set
    EXPECT_EQ(b.remote_id, cat({be32(9), str_bytes("rid")}));
    EXPECT_EQ(b.relay_chain,
              "[{\"hop\":1,\"link\":\"2001:db8:1::1\",\"peer\":\"2001:db8:1::100\",\"interface_id\":\"r0\","
              "\"remote_id\":\"9:726964\"},{\"hop\":0,\"link\":\"::\",\"peer\":\"2001:db8:1::100\",\"interface_id\":"
              "\"sw0\",\"mac\":\"02:00:00:aa:00:01\"}]");
}

TEST_F(RegistrarEngine, ThreeLevelRelayReplyIsExactBytes) {
    auto l2 = relay_forw(0, "::", kAddr, {mkopt(18, str_bytes("a"))}, good(9));
    auto l1 = relay_forw(1, "::", kAddr, {mkopt(18, hexb("00ff"))}, l2);
    auto l0 = relay_forw(2, "2001:db8:9::1", "2001:db8:5::7", {}, l1);
    relayed(l0);
    ASSERT_EQ(out.outcome, Actions::Outcome::kReplied) << out.why;
    ByteVec in2 = cat({{13, 0}, a16("::"), a16(kAddr), mkopt(18, str_bytes("a")),
                       mkopt(9, expected_reply(9, kDuid, ia_addr(kAddr, 3600, 7200)))});
    ByteVec in1 = cat({{13, 1}, a16("::"), a16(kAddr), mkopt(18, hexb("00ff")), mkopt(9, in2)});
    ByteVec in0 = cat({{13, 2}, a16("2001:db8:9::1"), a16("2001:db8:5::7"), mkopt(9, in1)});
    EXPECT_EQ(to_hex(out.reply->payload), to_hex(in0));
    EXPECT_EQ(out.relay_levels, 3u);
}

// --- bindings --------------------------------------------------------------------------------

TEST_F(RegistrarEngine, LifecycleRegisterRefreshRetransmitReleaseAndItsRetransmission) {
    e.advance(1000, expired);
    direct(good(1));
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].kind, EventKind::kRegistered);
    EXPECT_EQ(out.events[0].b.expires, 1000 + 7200);
    // Retransmission: same DUID, xid, address -> answered, nothing recorded.
    e.advance(1001, expired);
    direct(good(1, 7199));
    EXPECT_TRUE(out.retransmission);
    EXPECT_TRUE(out.reply.has_value());
    EXPECT_TRUE(out.events.empty());
    EXPECT_EQ(to_hex(out.reply->payload), to_hex(expected_reply(1, kDuid, ia_addr(kAddr, 3600, 7199))));
    // A refresh (new xid).
    e.advance(2000, expired);
    direct(good(2, 7200));
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].kind, EventKind::kRefreshed);
    EXPECT_EQ(out.events[0].b.first_seen, 1000);
    EXPECT_EQ(e.find(ip(kAddr))->expires, 2000 + 7200);
    // Release: valid lifetime 0.
    direct(good(3, 0));
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].kind, EventKind::kReleased);
    EXPECT_TRUE(out.reply.has_value());
    EXPECT_EQ(e.binding_count(), 0u);
    direct(good(3, 0));
    EXPECT_TRUE(out.retransmission);
    EXPECT_TRUE(out.events.empty());
    EXPECT_EQ(e.counters().registered, 1u);
    EXPECT_EQ(e.counters().refreshed, 1u);
    EXPECT_EQ(e.counters().released, 1u);
    EXPECT_EQ(e.counters().retransmissions, 2u);
    EXPECT_EQ(e.counters().replied, 5u);
    // The old expiry of the refreshed binding must not expire anything later.
    e.advance(1000 + 7200, expired);
    EXPECT_TRUE(expired.empty());
}

TEST_F(RegistrarEngine, AnAddressMovingToAnotherDuidIsLoggedAsMoved) {
    e.advance(100, expired);
    direct(good(1));
    direct(good(2, 7200, kDuid2));
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].kind, EventKind::kMoved);
    EXPECT_EQ(out.events[0].previous_duid, kDuid);
    EXPECT_EQ(e.find(ip(kAddr))->duid, kDuid2);
    EXPECT_NE(describe(out.events[0]).find("moved address 2001:db8:1::100 duid 00030001020000000002"), std::string::npos);
    EXPECT_NE(describe(out.events[0]).find("previous-duid 00030001020000000001"), std::string::npos);
    // The same xid from the new DUID is a new transaction of another client, not a retransmission.
    direct(good(2, 7200, kDuid));
    EXPECT_FALSE(out.retransmission);
    EXPECT_EQ(e.counters().moved, 2u);
}

TEST_F(RegistrarEngine, BindingsExpireOnAdvanceWithAnEvent) {
    e.advance(100, expired);
    direct(good(1, 60));
    e.advance(159, expired);
    EXPECT_TRUE(expired.empty());
    e.advance(160, expired);
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0].kind, EventKind::kExpired);
    EXPECT_EQ(expired[0].b.duid, kDuid);
    EXPECT_EQ(e.binding_count(), 0u);
    // Infinite lifetime: never.
    direct(good(2, kInfinity));
    e.advance(INT64_MAX - 1, expired);
    EXPECT_EQ(e.binding_count(), 1u);
}

TEST_F(RegistrarEngine, RestoredBindingsExpireAndRefresh) {
    Binding b;
    b.address = ip(kAddr);
    b.duid = kDuid;
    b.xid = 5;
    b.first_seen = 10;
    b.expires = 50;
    e.restore({b});
    e.advance(20, expired);
    direct(good(5));  // the restored xid: a retransmission
    EXPECT_TRUE(out.retransmission);
    e.advance(60, expired);
    // It was retransmitted, not refreshed: it expires at 50 still.
    ASSERT_EQ(expired.size(), 1u);
}

// --- Client FQDN option 39 (RFC 4704): the name of the binding -------------------------------

// Option 39: the flags octet, then `labels` in DNS wire format; `absolute` ends with the root label.
ByteVec fqdn_opt(uint8_t flags, std::initializer_list<std::string_view> labels, bool absolute) {
    ByteVec body = {flags};
    for (auto l : labels) {
        body.push_back(uint8_t(l.size()));
        body.insert(body.end(), l.begin(), l.end());
    }
    if (absolute) body.push_back(0);
    return mkopt(39, body);
}
ByteVec named(uint32_t xid, const ByteVec& fqdn, uint32_t valid = 7200) {
    return inform(xid, {mkopt(1, kDuid), ia_addr(kAddr, 3600, valid), fqdn});
}

TEST_F(RegistrarEngine, ClientFqdnGivesTheBindingItsNameAsDottedText) {
    direct(named(1, fqdn_opt(0x01, {"laptop", "hosts", "example", "net"}, true)));
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].b.fqdn, "laptop.hosts.example.net.");
    EXPECT_EQ(e.find(ip(kAddr))->fqdn, "laptop.hosts.example.net.");
    // A partial name (RFC 4704 §4.1: no root label) stays relative.
    direct(named(2, fqdn_opt(0, {"printer", "lab"}, false)));
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].kind, EventKind::kRefreshed);
    EXPECT_EQ(out.events[0].b.fqdn, "printer.lab");
    // A refresh without the option carries no name: the binding has none any more.
    direct(good(3));
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].b.fqdn, "");
    // Flags only (the client leaves the name to the server): no name, not malformed.
    direct(named(4, mkopt(39, {0x01})));
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].b.fqdn, "");
    EXPECT_EQ(e.counters().fqdn_named, 2u);
    EXPECT_EQ(e.counters().fqdn_malformed, 0u);
    EXPECT_NE(e.counters_report().find(" fqdn 2 fqdn-malformed 0"), std::string::npos) << e.counters_report();
}

TEST_F(RegistrarEngine, MalformedClientFqdnRegistersWithoutANameAndIsCounted) {
    const ByteVec bad[] = {
        mkopt(39, {}),                                    // no flags octet
        mkopt(39, {0x08, 4, 'h', 'o', 's', 't', 0}),      // reserved flag bits
        mkopt(39, {0x00, 9, 'h', 'o', 's', 't'}),         // a label past the option's end
        mkopt(39, {0x00, 4, 'h', 'o', 's', 't', 0, 1, 'x'}),  // data after the root label
        fqdn_opt(0, {"a.b", "example"}, true),            // a '.' inside a label
        fqdn_opt(0, {"my host"}, false),                  // not a host name label
        fqdn_opt(0, {std::string_view("h\0st", 5)}, false),
    };
    uint32_t xid = 10;
    for (const auto& o : bad) {
        direct(named(xid++, o));
        EXPECT_EQ(out.outcome, Actions::Outcome::kReplied) << to_hex(o);
        ASSERT_EQ(out.events.size(), 1u) << to_hex(o);
        EXPECT_EQ(out.events[0].b.fqdn, "") << to_hex(o);
        // The reply is the usual one: the option 39 is not echoed.
        EXPECT_EQ(to_hex(out.reply->payload), to_hex(expected_reply(xid - 1, kDuid, ia_addr(kAddr, 3600, 7200))));
    }
    EXPECT_EQ(e.counters().fqdn_malformed, std::size(bad));
    EXPECT_EQ(e.counters().fqdn_named, 0u);
    EXPECT_EQ(e.counters().discards[size_t(Discard::kMalformed)], 0u);
    EXPECT_EQ(e.binding_count(), 1u);
}

TEST_F(RegistrarEngine, ForEachBindingVisitsTheLiveTable) {
    direct(named(1, fqdn_opt(0, {"laptop"}, false)));
    std::vector<std::string> names;
    e.for_each_binding([&](const Binding& b) { names.push_back(b.address.str() + " " + b.fqdn); });
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0], "2001:db8:1::100 laptop");
    direct(named(2, fqdn_opt(0, {"laptop"}, false), 0));  // released
    names.clear();
    e.for_each_binding([&](const Binding& b) { names.push_back(b.address.str()); });
    EXPECT_TRUE(names.empty());
}

// --- links ("appropriate to the link") ----------------------------------------------------------

struct RegistrarLinks : RegistrarEngine {
    RegistrarLinks() {
        Config c = config();
        LinkConfig a;
        a.name = "office";
        a.prefixes = {*Prefix::parse("2001:db8:1::/64")};
        a.interfaces = {"eth0"};
        LinkConfig s;
        s.name = "lab";
        s.prefixes = {*Prefix::parse("2001:db8:2::/64")};
        s.interface_ids = {str_bytes("sw7")};
        s.remote_id = RemoteIdMatch{9, str_bytes("rid")};
        c.links = {a, s};
        e = Engine(c);
    }
};

TEST_F(RegistrarLinks, DirectMatchesByArrivalInterface) {
    direct(good(), kAddr, 0);
    EXPECT_EQ(out.outcome, Actions::Outcome::kReplied) << out.why;
    EXPECT_EQ(out.events.at(0).b.link, "office");
    direct(good(2), kAddr, 1);  // eth1: no link
    EXPECT_EQ(out.discard, Discard::kNoLink);
}

TEST_F(RegistrarLinks, RelayedMatchesByLinkAddress) {
    relayed(relay_forw(0, "2001:db8:1::1", kAddr, {}, good()));
    EXPECT_EQ(out.outcome, Actions::Outcome::kReplied) << out.why;
    relayed(relay_forw(0, "2001:db8:7::1", kAddr, {}, good(2)));
    EXPECT_EQ(out.discard, Discard::kNoLink);
}

TEST_F(RegistrarLinks, AddressOutsideTheLinksPrefixesIsDropped) {
    const char* other = "2001:db8:2::5";
    relayed(relay_forw(0, "2001:db8:1::1", other, {}, inform(1, {mkopt(1, kDuid), ia_addr(other, 1, 2)})));
    EXPECT_EQ(out.discard, Discard::kNotOnLink);
    EXPECT_EQ(e.counters().discards[size_t(Discard::kNotOnLink)], 1u);
}

TEST_F(RegistrarLinks, RelayedMatchesByInterfaceIdAndRemoteId) {
    const char* a = "2001:db8:2::5";
    auto msg = [&](bool with_rid) {
        ByteVec rid = mkopt(37, cat({be32(9), str_bytes("rid")}));
        auto inner = inform(1, {mkopt(1, kDuid), ia_addr(a, 1, 2)});
        return with_rid ? relay_forw(0, "::", a, {mkopt(18, str_bytes("sw7")), rid}, inner)
                        : relay_forw(0, "::", a, {mkopt(18, str_bytes("sw7"))}, inner);
    };
    relayed(msg(true));
    EXPECT_EQ(out.outcome, Actions::Outcome::kReplied) << out.why;
    EXPECT_EQ(out.events.at(0).b.link, "lab");
    relayed(msg(false));  // the Remote-ID is required too
    EXPECT_EQ(out.discard, Discard::kNoLink);
}

TEST(RegistrarPrefix, ParseAndContains) {
    auto p = Prefix::parse("2001:db8:1::/60");
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->contains(ip("2001:db8:1:f::1")));
    EXPECT_FALSE(p->contains(ip("2001:db8:1:10::1")));
    EXPECT_FALSE(Prefix::parse("2001:db8:1::1/64"));  // host bits
    EXPECT_FALSE(Prefix::parse("2001:db8::/129"));
    EXPECT_TRUE(Prefix::parse("::/0")->contains(ip("2001:db8::1")));
}

}  // namespace
}  // namespace regrelay::registrar
