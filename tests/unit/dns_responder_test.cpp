// The DNS view's responder (dns/responder.*) and zones (dns/zone.*): authoritative answers,
// negative answers, REFUSED/FORMERR/NOTIMP, EDNS0 and TC, BNAME (draft-yao-dnsext-bname-06 §4.1:
// synthesized CNAME, chains, YXDOMAIN, loops, the UB bit) and the §3.3 load-time rules.
#include <gtest/gtest.h>

#include "dns/responder.h"
#include "dns/zone.h"
#include "tests/unit/dns_test_util.h"

using namespace regrelay::dns;
using dnstest::addr;
using dnstest::parse;
using dnstest::Q;
using dnstest::query;

namespace {

BnameRecord bn(const char* o, const char* t, uint32_t ttl = 600) {
    return {*parse_name(o), *parse_name(t), ttl};
}

DnsConfig base_config() {
    DnsConfig c;
    c.forward_zone = "hosts.example.net.";
    c.reverse_prefixes.push_back(*parse_prefix("2001:db8:1::/48"));
    c.extra_zones = {"example.", "8.b.d.0.1.0.0.2.ip6.arpa."};
    c.bnames = {bn("corp.example.", "hosts.example.net."),
                bn("alias.example.", "corp.example.", 900),
                // Renumbering: the old prefix 2001:db8:9::/48's reverse tree to the new one's.
                bn("9.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."),
                bn("loop-a.example.", "loop-b.example."),
                bn("loop-b.example.", "loop-a.example."),
                bn("out.example.", "elsewhere.example.org.")};
    c.hosts = {{"h1", addr("2001:db8:1::10")}, {"h2", addr("2001:db8:1::20")}, {"a.b", addr("2001:db8:1::30")}};
    c.serial = 7;
    return c;
}

struct Fixture : ::testing::Test {
    ZoneView zv;
    ResponderOptions opts;
    void SetUp() override {
        std::string err;
        ASSERT_TRUE(zv.load(base_config(), err)) << err;
    }
    dnstest::R ask(const Q& q, Transport t = Transport::kUdp) {
        Responder r(zv, opts);
        return parse(r.respond(query(q), t));
    }
};

const std::string kB = " 65280 ";

TEST_F(Fixture, AuthoritativeAaaaAndPtr) {
    auto r = ask({"h1.hosts.example.net.", kTypeAAAA});
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.id, 0x4242);
    EXPECT_TRUE(r.qr);
    EXPECT_TRUE(r.aa);
    EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(r.answer, std::vector<std::string>{"h1.hosts.example.net. 28 300 2001:db8:1::10"});
    EXPECT_TRUE(r.authority.empty());
    // Case-insensitive match.
    EXPECT_EQ(ask({"H1.Hosts.EXAMPLE.net.", kTypeAAAA}).answer.size(), 1u);

    auto p = ask({"0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", kTypePTR});
    EXPECT_EQ(p.rcode, LDNS_RCODE_NOERROR);
    ASSERT_EQ(p.answer.size(), 1u);
    EXPECT_EQ(p.answer[0], "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 12 300 "
                           "h1.hosts.example.net.");
}

TEST_F(Fixture, SoaAndNsAtApex) {
    auto s = ask({"hosts.example.net.", kTypeSOA});
    ASSERT_EQ(s.answer.size(), 1u);
    EXPECT_EQ(s.answer[0].rfind("hosts.example.net. 6 300 ns.hosts.example.net. hostmaster.hosts.example.net. 7 3600", 0),
              0u) << s.answer[0];  // the configured serial (static hosts do not count as changes)
    auto n = ask({"1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", kTypeNS});
    EXPECT_EQ(n.answer, std::vector<std::string>{"1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 2 300 "
                                                 "ns.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."});
}

TEST_F(Fixture, NxdomainAndNodataCarrySoa) {
    auto nx = ask({"nope.hosts.example.net.", kTypeAAAA});
    EXPECT_EQ(nx.rcode, LDNS_RCODE_NXDOMAIN);
    EXPECT_TRUE(nx.aa);
    EXPECT_TRUE(nx.answer.empty());
    ASSERT_EQ(nx.authority.size(), 1u);
    EXPECT_EQ(nx.authority[0].rfind("hosts.example.net. 6 60 ", 0), 0u) << nx.authority[0];

    auto nd = ask({"h1.hosts.example.net.", 16 /* TXT */});
    EXPECT_EQ(nd.rcode, LDNS_RCODE_NOERROR);
    EXPECT_TRUE(nd.answer.empty());
    ASSERT_EQ(nd.authority.size(), 1u);
    // An empty non-terminal (a.b.hosts... exists): NODATA, not NXDOMAIN.
    auto ent = ask({"b.hosts.example.net.", kTypeAAAA});
    EXPECT_EQ(ent.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(ent.authority.size(), 1u);
}

TEST_F(Fixture, RefusedOutsideOurZonesAndOtherClasses) {
    auto r = ask({"www.example.org.", kTypeAAAA});
    EXPECT_EQ(r.rcode, LDNS_RCODE_REFUSED);
    EXPECT_FALSE(r.aa);
    EXPECT_TRUE(r.answer.empty());
    Q ch{"h1.hosts.example.net.", kTypeAAAA};
    ch.qclass = 3;  // CH
    EXPECT_EQ(ask(ch).rcode, LDNS_RCODE_REFUSED);
    EXPECT_EQ(ask({"hosts.example.net.", 252 /* AXFR */}).rcode, LDNS_RCODE_REFUSED);
}

TEST_F(Fixture, BnameSynthesizesCname) {
    auto r = ask({"h1.corp.example.", kTypeAAAA});
    EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
    EXPECT_TRUE(r.aa);
    EXPECT_EQ(r.answer, (std::vector<std::string>{"corp.example." + kB + "600 hosts.example.net.",
                                                  "h1.corp.example. 5 600 h1.hosts.example.net.",
                                                  "h1.hosts.example.net. 28 300 2001:db8:1::10"}));
}

TEST_F(Fixture, BnameRedirectsItsOwnerToo) {
    // The owner itself (unlike DNAME): to the target's apex, which has no AAAA: NODATA there.
    auto r = ask({"corp.example.", kTypeAAAA});
    EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(r.answer, (std::vector<std::string>{"corp.example." + kB + "600 hosts.example.net.",
                                                  "corp.example. 5 600 hosts.example.net."}));
    ASSERT_EQ(r.authority.size(), 1u);
    EXPECT_EQ(r.authority[0].rfind("hosts.example.net. 6 ", 0), 0u);
    auto s = ask({"corp.example.", kTypeSOA});
    EXPECT_EQ(s.answer.size(), 3u);  // BNAME, CNAME, the target zone's SOA
}

TEST_F(Fixture, BnameQueryReturnsTheBnameItself) {
    auto r = ask({"corp.example.", kDefaultBnameType});
    EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(r.answer, std::vector<std::string>{"corp.example." + kB + "600 hosts.example.net."});
    // Below the owner a BNAME query is substituted like any other type.
    auto b = ask({"h1.corp.example.", kDefaultBnameType});
    ASSERT_GE(b.answer.size(), 2u);
    EXPECT_EQ(b.answer[1], "h1.corp.example. 5 600 h1.hosts.example.net.");
}

TEST_F(Fixture, UbBitSuppressesTheSynthesizedCname) {
    Q q{"h1.corp.example.", kTypeAAAA};
    q.edns = true;
    q.z = kEdnsFlagUB;
    auto r = ask(q);
    EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(r.answer, (std::vector<std::string>{"corp.example." + kB + "600 hosts.example.net.",
                                                  "h1.hosts.example.net. 28 300 2001:db8:1::10"}));
    // Without UB but with EDNS (DO only): the CNAME is there.
    q.z = kEdnsFlagDO;
    auto d = ask(q);
    EXPECT_EQ(d.answer.size(), 3u);
    EXPECT_EQ(d.z & kEdnsFlagDO, kEdnsFlagDO);  // DO copied (RFC 3225)
}

TEST_F(Fixture, BnameChainsAreFollowedIntoOurZones) {
    auto r = ask({"h2.alias.example.", kTypeAAAA});
    EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(r.answer, (std::vector<std::string>{"alias.example." + kB + "900 corp.example.",
                                                  "h2.alias.example. 5 900 h2.corp.example.",
                                                  "corp.example." + kB + "600 hosts.example.net.",
                                                  "h2.corp.example. 5 600 h2.hosts.example.net.",
                                                  "h2.hosts.example.net. 28 300 2001:db8:1::20"}));
    // The chain ends at a name that does not exist: NXDOMAIN (RFC 6604), the chain kept.
    auto nx = ask({"nope.alias.example.", kTypeAAAA});
    EXPECT_EQ(nx.rcode, LDNS_RCODE_NXDOMAIN);
    EXPECT_EQ(nx.answer.size(), 4u);
    EXPECT_EQ(nx.authority.size(), 1u);
}

TEST_F(Fixture, BnameOutOfOurZonesStopsThere) {
    auto r = ask({"x.out.example.", kTypeAAAA});
    EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(r.answer, (std::vector<std::string>{"out.example." + kB + "600 elsewhere.example.org.",
                                                  "x.out.example. 5 600 x.elsewhere.example.org."}));
    EXPECT_TRUE(r.authority.empty());
}

TEST_F(Fixture, ReverseTreeRenumbering) {
    // PTR of the old address 2001:db8:9::10 -> the new prefix's reverse name -> its PTR.
    const std::string old_rev = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
    const std::string new_rev = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
    auto r = ask({old_rev, kTypePTR});
    EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(r.answer, (std::vector<std::string>{
                            "9.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa." + kB + "600 1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
                            old_rev + " 5 600 " + new_rev, new_rev + " 12 300 h1.hosts.example.net."}));
}

TEST_F(Fixture, BnameLoopIsServfail) {
    Responder resp(zv, opts);
    auto r = parse(resp.respond(query({"x.loop-a.example.", kTypeAAAA}), Transport::kUdp));
    EXPECT_EQ(r.rcode, LDNS_RCODE_SERVFAIL);
    EXPECT_TRUE(r.answer.empty());
    EXPECT_EQ(resp.counters().servfail, 1u);
}

TEST(DnsResponder, YxdomainWhenTheSubstitutionOverflows) {
    // A 230-octet target: any QNAME with more than ~25 octets above the owner overflows.
    std::string target;
    for (int i = 0; i < 7; ++i) target += std::string(30, 'a' + char(i)) + ".";
    target += "example.org.";
    DnsConfig c;
    c.extra_zones = {"example."};
    c.bnames = {{*parse_name("y.example."), *parse_name(target), 60}};
    ZoneView zv;
    std::string err;
    ASSERT_TRUE(zv.load(c, err)) << err;
    Responder resp(zv);
    const std::string q = std::string(40, 'q') + "." + std::string(10, 'r') + ".y.example.";
    auto r = parse(resp.respond(query({q, kTypeAAAA}), Transport::kUdp));
    EXPECT_EQ(r.rcode, LDNS_RCODE_YXDOMAIN);
    EXPECT_EQ(r.answer, std::vector<std::string>{"y.example. 65280 60 " + target});  // the BNAME, no CNAME
    EXPECT_EQ(resp.counters().yxdomain, 1u);
    // One short label fits (over TCP: BNAME and CNAME with ~230-octet names exceed 512 octets).
    auto ok = parse(resp.respond(query({"s.y.example.", kTypeAAAA}), Transport::kTcp));
    EXPECT_EQ(ok.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(ok.answer.size(), 2u);
}

TEST_F(Fixture, BnameTypeIsConfigurable) {
    DnsConfig c = base_config();
    c.bname_type = 65400;
    std::string err;
    ASSERT_TRUE(zv.load(c, err)) << err;
    auto r = ask({"corp.example.", 65400});
    EXPECT_EQ(r.answer, std::vector<std::string>{"corp.example. 65400 600 hosts.example.net."});
    // 65280 is now just a type with no data: the owner is substituted.
    EXPECT_EQ(ask({"corp.example.", 65280}).answer.size(), 2u);
    c.bname_type = 65535;
    EXPECT_FALSE(zv.load(c, err));
    EXPECT_NE(err.find("private-use"), std::string::npos) << err;
}

TEST_F(Fixture, EdnsEchoPayloadAndBadvers) {
    auto plain = ask({"h1.hosts.example.net.", kTypeAAAA});
    EXPECT_FALSE(plain.edns);  // no OPT in, no OPT out
    Q q{"h1.hosts.example.net.", kTypeAAAA};
    q.edns = true;
    q.payload = 4096;
    auto e = ask(q);
    EXPECT_TRUE(e.edns);
    EXPECT_EQ(e.payload, 1232);
    EXPECT_EQ(e.answer.size(), 1u);
    q.version = 1;
    auto bv = ask(q);
    EXPECT_EQ(bv.rcode, 16);  // BADVERS
    EXPECT_TRUE(bv.answer.empty());
}

TEST_F(Fixture, TruncatedOverUdpFullOverTcp) {
    for (int i = 0; i < 60; ++i) {
        char a[64];
        std::snprintf(a, sizeof a, "2001:db8:1::1:%x", i);
        ASSERT_EQ(zv.add(addr(a), "many"), AddResult::kAdded);
    }
    Q q{"many.hosts.example.net.", kTypeAAAA};
    auto u = ask(q);
    EXPECT_TRUE(u.tc);
    EXPECT_TRUE(u.answer.empty());
    EXPECT_LE(u.size, 512u);
    auto t = ask(q, Transport::kTcp);
    EXPECT_FALSE(t.tc);
    EXPECT_EQ(t.answer.size(), 60u);
    // EDNS 4096 from the client, but we honour 1232 at most: still truncated; 4096 offered: fits.
    q.edns = true;
    q.payload = 4096;
    auto e = ask(q);
    EXPECT_TRUE(e.tc);
    EXPECT_TRUE(e.edns);
    opts.udp_payload = 4096;
    auto big = ask(q);
    EXPECT_FALSE(big.tc);
    EXPECT_EQ(big.answer.size(), 60u);
    EXPECT_GT(big.size, 1232u);
}

TEST_F(Fixture, MalformedQueries) {
    Responder resp(zv, opts);
    // Shorter than a header: no response.
    EXPECT_TRUE(resp.respond(std::vector<uint8_t>{1, 2, 3}, Transport::kUdp).empty());
    EXPECT_EQ(resp.counters().drop_short, 1u);
    // A response (QR set): no response.
    auto qr = query({"h1.hosts.example.net.", kTypeAAAA});
    qr[2] |= 0x80;
    EXPECT_TRUE(resp.respond(qr, Transport::kUdp).empty());
    EXPECT_EQ(resp.counters().drop_response, 1u);
    // QDCOUNT 1 but no question: FORMERR with the id.
    std::vector<uint8_t> hdr{0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    auto f = parse(resp.respond(hdr, Transport::kUdp));
    ASSERT_TRUE(f.ok);
    EXPECT_EQ(f.id, 0xabcd);
    EXPECT_EQ(f.rcode, LDNS_RCODE_FORMERR);
    // No question at all (QDCOUNT 0): FORMERR.
    std::vector<uint8_t> none{0xab, 0xce, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(parse(resp.respond(none, Transport::kUdp)).rcode, LDNS_RCODE_FORMERR);
    // A bad label length inside the question: FORMERR.
    auto bad = query({"h1.hosts.example.net.", kTypeAAAA});
    bad[12] = 0x3f;
    EXPECT_EQ(parse(resp.respond(bad, Transport::kUdp)).rcode, LDNS_RCODE_FORMERR);
    // Opcode UPDATE: NOTIMP.
    auto up = query({"hosts.example.net.", kTypeSOA});
    up[2] = uint8_t((up[2] & 0x87) | (5 << 3));
    EXPECT_EQ(parse(resp.respond(up, Transport::kUdp)).rcode, LDNS_RCODE_NOTIMPL);
    EXPECT_EQ(resp.counters().formerr, 3u);
    EXPECT_EQ(resp.counters().notimp, 1u);
}

TEST_F(Fixture, RegistrationsComeAndGo) {
    const uint32_t s0 = zv.serial();
    ASSERT_EQ(zv.add(addr("2001:db8:1::99"), "new-host"), AddResult::kAdded);
    EXPECT_GT(zv.serial(), s0);
    EXPECT_EQ(ask({"new-host.hosts.example.net.", kTypeAAAA}).answer.size(), 1u);
    // An absolute FQDN under the zone is kept; outside the zone its first label is used.
    ASSERT_EQ(zv.add(addr("2001:db8:1::98"), "laptop.elsewhere.org."), AddResult::kAdded);
    EXPECT_EQ(ask({"laptop.hosts.example.net.", kTypeAAAA}).answer.size(), 1u);
    // Renamed: the old name goes.
    ASSERT_EQ(zv.add(addr("2001:db8:1::99"), "renamed"), AddResult::kAdded);
    EXPECT_EQ(ask({"new-host.hosts.example.net.", kTypeAAAA}).rcode, LDNS_RCODE_NXDOMAIN);
    EXPECT_TRUE(zv.remove(addr("2001:db8:1::99")));
    EXPECT_FALSE(zv.remove(addr("2001:db8:1::99")));
    EXPECT_EQ(ask({"renamed.hosts.example.net.", kTypeAAAA}).rcode, LDNS_RCODE_NXDOMAIN);
    // A name at or below a BNAME owner is refused (§3.3 also at run time).
    DnsConfig c = base_config();
    c.bnames.push_back(bn("old.hosts.example.net.", "hosts.example.net."));
    std::string err;
    ASSERT_TRUE(zv.load(c, err)) << err;
    EXPECT_EQ(zv.add(addr("2001:db8:1::97"), "x.old"), AddResult::kUnderBname);
    EXPECT_EQ(zv.add(addr("2001:db8:1::97"), "old"), AddResult::kUnderBname);
    // An address in no reverse prefix, no forward zone: nowhere to put it.
    DnsConfig r;
    r.reverse_prefixes.push_back(*parse_prefix("2001:db8:1::/48"));
    ASSERT_TRUE(zv.load(r, err)) << err;
    EXPECT_EQ(zv.add(addr("2001:db8:5::1"), "h.example."), AddResult::kNoZone);
    EXPECT_EQ(zv.add(addr("2001:db8:1::1"), "h.example."), AddResult::kAdded);
}

// §3.3 and the other load-time rules: each violation is a clear error.
TEST(DnsZoneLoad, RulesEnforcedAtLoad) {
    auto fails = [](DnsConfig c, const char* what) {
        ZoneView zv;
        std::string err;
        EXPECT_FALSE(zv.load(c, err)) << what;
        return err;
    };
    DnsConfig c = base_config();
    c.hosts.push_back({"x.old", addr("2001:db8:1::40")});
    c.bnames.push_back(bn("old.hosts.example.net.", "hosts.example.net."));
    EXPECT_NE(fails(c, "data below").find("BNAME owner"), std::string::npos);
    c = base_config();
    c.hosts.push_back({"old", addr("2001:db8:1::40")});
    c.bnames.push_back(bn("old.hosts.example.net.", "hosts.example.net."));
    EXPECT_NE(fails(c, "data at the owner").find("§3.3"), std::string::npos);
    c = base_config();
    c.bnames.push_back(bn("x.corp.example.", "hosts.example.net."));
    EXPECT_NE(fails(c, "bname below bname").find("lies below bname corp.example."), std::string::npos);
    c = base_config();
    c.bnames.push_back(bn("hosts.example.net.", "example."));
    EXPECT_NE(fails(c, "apex").find("apex"), std::string::npos);
    c = base_config();
    c.bnames.push_back(bn("self.example.", "a.self.example."));
    EXPECT_NE(fails(c, "own subtree").find("own subtree"), std::string::npos);
    c = base_config();
    c.bnames.push_back(bn("corp.example.", "other.example.net."));
    EXPECT_NE(fails(c, "singleton").find("singleton"), std::string::npos);
    c = base_config();
    c.extra_zones.push_back("sub.corp.example.");
    EXPECT_NE(fails(c, "zone below").find("zone sub.corp.example."), std::string::npos);
    c = base_config();
    c.bnames.push_back(bn("nowhere.test.", "example."));
    EXPECT_NE(fails(c, "not ours").find("none of the configured zones"), std::string::npos);
    c = base_config();
    c.reverse_prefixes.push_back(*parse_prefix("2001:db8:4::/50"));
    EXPECT_NE(fails(c, "nibble").find("multiple of 4"), std::string::npos);
    // The base configuration itself loads.
    ZoneView zv;
    std::string err;
    EXPECT_TRUE(zv.load(base_config(), err)) << err;
}

TEST(DnsZone, NamesAndParsing) {
    EXPECT_EQ(parse_name("A.Example")->text(), "a.example.");
    EXPECT_EQ(parse_name(".")->labels.size(), 0u);
    EXPECT_FALSE(parse_name("a..b"));
    EXPECT_FALSE(parse_name(std::string(64, 'x') + ".example."));
    EXPECT_EQ(parse_name("a\\.b.example.")->labels.front(), "a.b");
    EXPECT_EQ(parse_name("a\\.b.example.")->text(), "a\\.b.example.");
    EXPECT_EQ(reverse_name(addr("2001:db8::1"), 32).text(), "8.b.d.0.1.0.0.2.ip6.arpa.");
    std::string e;
    auto b = parse_bname("corp.example. hosts.example.net. 120", 300, e);
    ASSERT_TRUE(b) << e;
    EXPECT_EQ(b->ttl, 120u);
    EXPECT_FALSE(parse_bname("corp.example.", 300, e));
    EXPECT_FALSE(parse_bname("corp.example. x. -1", 300, e));
    EXPECT_FALSE(parse_prefix("2001:db8::/129"));
    EXPECT_TRUE(prefix_contains(*parse_prefix("2001:db8:1::/48"), addr("2001:db8:1:ffff::1")));
    EXPECT_FALSE(prefix_contains(*parse_prefix("2001:db8:1::/48"), addr("2001:db8:2::1")));
}

}  // namespace
