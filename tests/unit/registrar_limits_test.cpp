// The registrar's flood limits (registrar/engine.h FloodConfig, RFC 9686 §6): per registering
// address, per relay agent, per link; counted discards, refill with time, the interval summary.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "registrar/engine.h"
#include "test_util.h"

namespace regrelay::registrar {
namespace {

using test::be32;
using test::ByteVec;
using test::cat;
using test::hexb;
using test::mkopt;

constexpr uint64_t kSec = limits::kNsPerSec;

ByteVec a16(const std::string& text) {
    ByteVec b(16);
    if (inet_pton(AF_INET6, text.c_str(), b.data()) != 1) throw std::invalid_argument("bad address in test");
    return b;
}
Ip6Addr ip(const std::string& text) { return Ip6Addr::from(a16(text)); }

ByteVec inform(const std::string& addr, uint32_t xid) {
    ByteVec m = {36, uint8_t(xid >> 16), uint8_t(xid >> 8), uint8_t(xid)};
    ByteVec o = cat({mkopt(1, hexb("00030001 020000000001")), mkopt(5, cat({a16(addr), be32(3600), be32(7200)}))});
    m.insert(m.end(), o.begin(), o.end());
    return m;
}
ByteVec relay_forw(const std::string& link, const std::string& peer, const ByteVec& inner) {
    return cat({{12, 0}, a16(link), a16(peer), mkopt(9, inner)});
}

Config config(FloodConfig f) {
    Config c;
    c.interfaces = {"eth0", "eth1"};
    c.server_duid = hexb("00030001 0200000053ff");
    c.limits = f;
    return c;
}

struct RegistrarFlood : ::testing::Test {
    Actions out;
    uint32_t xid = 1;

    Actions::Outcome direct(Engine& e, const std::string& src, uint64_t t, int iface = 0) {
        e.handle(Input{inform(src, xid++), ip(src), 546, iface, t}, out);
        return out.outcome;
    }
    Actions::Outcome relayed(Engine& e, const std::string& relay, const std::string& link, const std::string& peer,
                             uint64_t t) {
        e.handle(Input{relay_forw(link, peer, inform(peer, xid++)), ip(relay), 547, 1, t}, out);
        return out.outcome;
    }
    static uint64_t drops(const Engine& e, Discard d) { return e.counters().discards[size_t(d)]; }
};

constexpr auto kReplied = Actions::Outcome::kReplied;
constexpr auto kDiscarded = Actions::Outcome::kDiscarded;

TEST_F(RegistrarFlood, OneAddressFloodingDoesNotStopAnother) {
    Engine e(config({.per_source = {10, 50}}));
    int answered = 0;
    for (int i = 0; i < 1000; ++i) answered += direct(e, "2001:db8:1::66", 1000) == kReplied;
    EXPECT_EQ(answered, 50);  // the burst, at one instant
    EXPECT_EQ(out.discard, Discard::kRateLimitSource);
    EXPECT_EQ(drops(e, Discard::kRateLimitSource), 950u);
    EXPECT_EQ(direct(e, "2001:db8:1::100", 1000), kReplied);  // another host, same instant
    // 10/s: a second later ten more from the flooder.
    answered = 0;
    for (int i = 0; i < 100; ++i) answered += direct(e, "2001:db8:1::66", 1000 + kSec) == kReplied;
    EXPECT_EQ(answered, 10);
    EXPECT_EQ(e.counters().replied, 61u);
}

TEST_F(RegistrarFlood, RelayedLimitsThePeerAddressNotTheRelay) {
    Engine e(config({.per_source = {1, 3}}));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(relayed(e, "2001:db8:ff::1", "2001:db8:1::1", "2001:db8:1::66", 0), kReplied);
    EXPECT_EQ(relayed(e, "2001:db8:ff::1", "2001:db8:1::1", "2001:db8:1::66", 0), kDiscarded);
    EXPECT_EQ(out.discard, Discard::kRateLimitSource);
    // Another host behind the same relay.
    EXPECT_EQ(relayed(e, "2001:db8:ff::1", "2001:db8:1::1", "2001:db8:1::77", 0), kReplied);
}

TEST_F(RegistrarFlood, PerRelayLimit) {
    Engine e(config({.per_relay = {5, 5}}));
    // Many addresses through relay A: the per-relay bucket runs dry; relay B is not affected.
    int answered = 0;
    for (int i = 1; i <= 20; ++i)
        answered += relayed(e, "2001:db8:ff::1", "2001:db8:1::1", "2001:db8:1::" + std::to_string(i), 0) == kReplied;
    EXPECT_EQ(answered, 5);
    EXPECT_EQ(drops(e, Discard::kRateLimitRelay), 15u);
    EXPECT_EQ(relayed(e, "2001:db8:ff::2", "2001:db8:1::1", "2001:db8:1::99", 0), kReplied);
    // Direct messages never meet the per-relay limit.
    EXPECT_EQ(direct(e, "2001:db8:1::55", 0), kReplied);
}

TEST_F(RegistrarFlood, PerLinkLimitKeepsOtherLinksAnswered) {
    Config c = config({.per_link = {5, 5}});
    c.links.push_back({"lan1", {*Prefix::parse("2001:db8:1::/64")}, {"eth0"}, {}, {}});
    c.links.push_back({"lan2", {*Prefix::parse("2001:db8:2::/64")}, {"eth1"}, {}, {}});
    Engine e(c);
    int answered = 0;
    for (int i = 1; i <= 30; ++i) answered += direct(e, "2001:db8:1::" + std::to_string(i), 0, 0) == kReplied;
    EXPECT_EQ(answered, 5);
    EXPECT_EQ(drops(e, Discard::kRateLimitLink), 25u);
    EXPECT_EQ(direct(e, "2001:db8:2::1", 0, 1), kReplied);
    // Messages no link matches have a bucket of their own.
    for (int i = 0; i < 5; ++i) direct(e, "2001:db8:3::" + std::to_string(i + 1), 0, kNoInterface);
    EXPECT_EQ(out.discard, Discard::kNoLink);
    EXPECT_EQ(direct(e, "2001:db8:3::9", 0, kNoInterface), kDiscarded);
    EXPECT_EQ(out.discard, Discard::kRateLimitLink);
    EXPECT_EQ(direct(e, "2001:db8:2::2", 0, 1), kReplied);
}

TEST_F(RegistrarFlood, ZeroTurnsALimitOff) {
    Engine e(config({.per_source = {0, 0}, .per_relay = {0, 0}, .per_link = {0, 0}}));
    for (int i = 0; i < 5000; ++i) ASSERT_EQ(direct(e, "2001:db8:1::66", 0), kReplied);
}

TEST_F(RegistrarFlood, OneSummaryLinePerIntervalNamingTheTopAddress) {
    Config c = config({.per_source = {1, 1}});
    c.links.push_back({"lan1", {*Prefix::parse("2001:db8:1::/64")}, {"eth0"}, {}, {}});
    Engine e(c);
    EXPECT_TRUE(e.flood_report(0).empty());
    for (int i = 0; i < 100; ++i) direct(e, "2001:db8:1::66", kSec);
    direct(e, "2001:db8:1::77", kSec);
    EXPECT_TRUE(e.flood_report(5 * kSec).empty()) << "before the interval ends";
    auto lines = e.flood_report(11 * kSec);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("dropped 99 ADDR-REG-INFORMs (rate-limit-source 99, rate-limit-relay 0, rate-limit-link 0)"),
              std::string::npos)
        << lines[0];
    EXPECT_NE(lines[0].find("top addresses dropped: 2001:db8:1::66 99"), std::string::npos) << lines[0];
    EXPECT_EQ(lines[0].find("2001:db8:1::77"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("by link: lan1 99"), std::string::npos) << lines[0];
    // The next interval dropped nothing: no line.
    direct(e, "2001:db8:1::88", 12 * kSec);
    EXPECT_TRUE(e.flood_report(30 * kSec).empty());
    // A relay flood names the relay.
    for (int i = 0; i < 10; ++i) relayed(e, "2001:db8:ff::1", "2001:db8:1::1", "2001:db8:1::42", 31 * kSec);
    lines = e.flood_report(31 * kSec, true);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("top relays dropped: 2001:db8:ff::1 9"), std::string::npos) << lines[0];
}

TEST_F(RegistrarFlood, AdoptKeepsTheTables) {
    FloodConfig f{.per_source = {1, 2}, .seed = 42};
    Engine a(config(f));
    direct(a, "2001:db8:1::66", 0);
    direct(a, "2001:db8:1::66", 0);
    EXPECT_EQ(direct(a, "2001:db8:1::66", 0), kDiscarded);
    Engine b(config(f));
    b.adopt(a);
    EXPECT_EQ(direct(b, "2001:db8:1::66", 0), kDiscarded) << "a reload must not refill a flooder's bucket";
    Engine c(config({.per_source = {5, 5}, .seed = 42}));
    c.adopt(b);
    EXPECT_EQ(direct(c, "2001:db8:1::66", 0), kReplied) << "new rates: new tables";
}

}  // namespace
}  // namespace regrelay::registrar
