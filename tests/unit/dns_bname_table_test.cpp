// Every row of Table 1 of draft-yao-dnsext-bname-06 (§3.4, "BNAME Usage Examples"): the
// substitution itself (dns::bname_substitute) and the responder's answer for the row, with the
// row's BNAME in a zone of ours (the owner's parent) and QNAME asked for AAAA.
#include <gtest/gtest.h>

#include "dns/responder.h"
#include "dns/zone.h"
#include "tests/unit/dns_test_util.h"

using namespace regrelay::dns;

namespace {

struct Row {
    const char* qname;
    const char* owner;
    const char* target;
    const char* result;  // nullptr: <no match>
};

// Copied from the draft, in its order.
const Row kTable1[] = {
    {"com.", "example.com.", "example.net.", nullptr},
    {"com.", "com.", "net.", "net."},
    {"example.com.", "example.com.", "example.net.", "example.net."},
    {"a.example.com.", "example.com.", "example.net.", "a.example.net."},
    {"a.b.example.com.", "example.com.", "example.net.", "a.b.example.net."},
    {"ab.example.com.", "b.example.com.", "example.net.", nullptr},
    {"bar.example.com.", "example.com.", "example.net.", "bar.example.net."},
    {"a.b.example.com.", "b.example.com.", "example.net.", "a.example.net."},
    {"a.example.com.", "example.com.", "b.example.net.", "a.b.example.net."},
};

class Table1 : public ::testing::TestWithParam<Row> {};

TEST_P(Table1, Substitution) {
    const Row& r = GetParam();
    auto got = bname_substitute(*parse_name(r.qname), *parse_name(r.owner), *parse_name(r.target));
    if (!r.result) {
        EXPECT_FALSE(got) << r.qname << " under " << r.owner;
    } else {
        ASSERT_TRUE(got) << r.qname << " under " << r.owner;
        EXPECT_EQ(got->text(), r.result);
    }
}

TEST_P(Table1, Responder) {
    const Row& r = GetParam();
    Name owner = *parse_name(r.owner);
    Name parent = owner;
    parent.labels.erase(parent.labels.begin());  // "com." for example.com., the root for com.
    DnsConfig c;
    c.extra_zones = {parent.text()};
    c.bnames = {{owner, *parse_name(r.target), 3600}};
    ZoneView zv;
    std::string err;
    ASSERT_TRUE(zv.load(c, err)) << err;
    Responder resp(zv);
    auto a = dnstest::parse(resp.respond(dnstest::query({r.qname, kTypeAAAA}), Transport::kUdp));
    ASSERT_TRUE(a.ok);
    EXPECT_TRUE(a.aa);
    if (!r.result) {
        // No BNAME applies: an ordinary negative answer from the zone.
        EXPECT_TRUE(a.answer.empty()) << a.answer.front();
        EXPECT_TRUE(a.rcode == LDNS_RCODE_NXDOMAIN || a.rcode == LDNS_RCODE_NOERROR);
        EXPECT_EQ(a.authority.size(), 1u);
        return;
    }
    ASSERT_GE(a.answer.size(), 2u);
    EXPECT_EQ(a.answer[0], std::string(r.owner) + " 65280 3600 " + r.target);
    // The synthesized CNAME: owner = QNAME, TTL of the BNAME, RDATA = the row's result.
    EXPECT_EQ(a.answer[1], std::string(r.qname) + " 5 3600 " + r.result);
    // With UB the CNAME is left out.
    dnstest::Q q{r.qname, kTypeAAAA};
    q.edns = true;
    q.z = kEdnsFlagUB;
    auto u = dnstest::parse(resp.respond(dnstest::query(q), Transport::kUdp));
    ASSERT_GE(u.answer.size(), 1u);
    EXPECT_EQ(u.answer[0], std::string(r.owner) + " 65280 3600 " + r.target);
    for (const auto& l : u.answer) EXPECT_EQ(l.find(" 5 "), std::string::npos) << l;
}

INSTANTIATE_TEST_SUITE_P(Draft, Table1, ::testing::ValuesIn(kTable1), [](const auto& info) {
    return "row" + std::to_string(info.index + 1);
});

}  // namespace
