// The registration trail (obs/trail.h): record formatting, the writer (mode 0600, append,
// reopen after rotation, counted failures) and the query behind `regrelay trail`.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "obs/trail.h"
#include "json_check.h"
#include "test_util.h"

namespace regrelay {
namespace {

using test::be32;
using test::cat;
using test::hexb;
using test::json_keys;
using test::json_object;
using test::mkopt;

std::vector<uint8_t> ia(std::string_view addr_hex, uint32_t pref, uint32_t valid, std::vector<uint8_t> sub = {}) {
    return mkopt(5, cat({hexb(addr_hex), be32(pref), be32(valid), sub}));
}

const std::vector<uint8_t> kDuid = mkopt(1, hexb("0003 0001 020000aa0001"));

obs::TrailContext inform_ctx(const std::vector<uint8_t>& msg) {
    obs::TrailContext c;
    c.kind = obs::TrailKind::kInform;
    c.sec = 1796121720;  // 2026-12-01T10:42:00Z
    c.nsec = 123456789;
    c.port = "eth1";
    c.vlan = 10;
    c.peer = *Ip6Addr::parse("fe80::1");
    c.mac = *MacAddr::parse("02:00:00:aa:00:01");
    c.xid = 0xabcd;
    c.message = msg;
    return c;
}

TEST(TrailRecord, InformHasEveryField) {
    const auto msg = cat({{36, 0, 0xab, 0xcd}, kDuid, ia("20010db8000100000000000000000055", 3600, 7200)});
    auto lines = obs::trail_lines(inform_ctx(msg));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0],
              "{\"@timestamp\":\"2026-12-01T10:42:00.123Z\",\"event.action\":\"addr-reg-inform\","
              "\"client.ip\":\"2001:db8:1::55\",\"source.ip\":\"fe80::1\",\"client.mac\":\"02:00:00:aa:00:01\","
              "\"dhcp6.duid\":\"00030001020000aa0001\",\"observer.ingress.interface.name\":\"eth1\","
              "\"observer.ingress.vlan.id\":10,\"dhcp6.xid\":\"0x00abcd\",\"dhcp6.preferred_lifetime\":3600,"
              "\"dhcp6.valid_lifetime\":7200}\n");
    EXPECT_TRUE(json_object(lines[0].substr(0, lines[0].size() - 1)));
}

TEST(TrailRecord, UntaggedFrameHasNoVlanAndReplyNamesEgress) {
    const auto msg = cat({{36, 0, 0, 1}, kDuid, ia("20010db8000100000000000000000055", 0, 0)});
    auto c = inform_ctx(msg);
    c.vlan.reset();
    auto l = obs::trail_lines(c);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].find("vlan"), std::string::npos);
    EXPECT_NE(l[0].find("\"dhcp6.valid_lifetime\":0}"), std::string::npos);  // a release

    // ADDR-REG-REPLY: the address, xid, interface sent on, where it went; a Status Code.
    const auto reply = cat({{37, 0, 0xab, 0xcd}, kDuid,
                            ia("20010db8000100000000000000000055", 3600, 7200), mkopt(13, cat({{0, 0}}))});
    obs::TrailContext r;
    r.kind = obs::TrailKind::kReply;
    r.sec = 1796121720;
    r.nsec = 5000000;
    r.port = "eth1";
    r.peer = *Ip6Addr::parse("fe80::1");
    r.xid = 0xabcd;
    r.message = reply;
    l = obs::trail_lines(r);
    ASSERT_EQ(l.size(), 1u);
    auto m = json_object(l[0].substr(0, l[0].size() - 1));
    ASSERT_TRUE(m) << l[0];
    EXPECT_EQ((*m)["event.action"].text, "addr-reg-reply");
    EXPECT_EQ((*m)["@timestamp"].text, "2026-12-01T10:42:00.005Z");
    EXPECT_EQ((*m)["client.ip"].text, "2001:db8:1::55");
    EXPECT_EQ((*m)["destination.ip"].text, "fe80::1");
    EXPECT_EQ((*m)["observer.egress.interface.name"].text, "eth1");
    EXPECT_EQ((*m)["dhcp6.xid"].text, "0x00abcd");
    EXPECT_EQ((*m)["dhcp6.status_code"].text, "0");
    EXPECT_EQ(m->count("client.mac"), 0u);
    EXPECT_EQ(m->count("source.ip"), 0u);
}

TEST(TrailRecord, OneLinePerIaAddressAndOneForNone) {
    const auto two = cat({{36, 0, 0, 2}, kDuid, ia("20010db8000100000000000000000055", 1, 2),
                          ia("20010db8000100000000000000000056", 3, 4)});
    auto l = obs::trail_lines(inform_ctx(two));
    ASSERT_EQ(l.size(), 2u);
    EXPECT_NE(l[0].find("\"client.ip\":\"2001:db8:1::55\""), std::string::npos);
    EXPECT_NE(l[0].find("\"dhcp6.valid_lifetime\":2}"), std::string::npos);
    EXPECT_NE(l[1].find("\"client.ip\":\"2001:db8:1::56\""), std::string::npos);
    EXPECT_NE(l[1].find("\"dhcp6.preferred_lifetime\":3,"), std::string::npos);

    const auto none = cat({{36, 0, 0, 3}, kDuid});
    l = obs::trail_lines(inform_ctx(none));
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].find("client.ip"), std::string::npos);
    EXPECT_EQ(l[0].find("lifetime"), std::string::npos);
    EXPECT_NE(l[0].find("\"dhcp6.duid\":"), std::string::npos);

    // A broken option list: still a record of what was relayed, with what the frame told.
    const auto broken = cat({{36, 0, 0, 4}, hexb("0005 00ff 2001")});
    l = obs::trail_lines(inform_ctx(broken));
    ASSERT_EQ(l.size(), 1u);
    auto m = json_object(l[0].substr(0, l[0].size() - 1));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->count("client.ip"), 0u);
    EXPECT_EQ((*m)["client.mac"].text, "02:00:00:aa:00:01");
}

TEST(TrailRecord, ReadsBackWhatItWrites) {
    const auto msg = cat({{36, 0x12, 0x34, 0x56}, kDuid, ia("20010db8000100000000000000000055", 3600, 7200)});
    auto c = inform_ctx(msg);
    c.xid = 0x123456;  // as the engine read it from the message
    auto l = obs::trail_lines(c);
    obs::TrailEntry e;
    ASSERT_TRUE(obs::parse_trail_line(l[0], e));
    EXPECT_EQ(e.kind, obs::TrailKind::kInform);
    EXPECT_EQ(e.t_ms, 1796121720123LL);
    EXPECT_EQ(e.address, Ip6Addr::parse("2001:db8:1::55"));
    EXPECT_EQ(e.mac, "02:00:00:aa:00:01");
    EXPECT_EQ(e.duid, "00030001020000aa0001");
    EXPECT_EQ(e.port, "eth1");
    EXPECT_EQ(e.vlan, 10);
    EXPECT_EQ(e.xid, "0x123456");
    EXPECT_EQ(e.preferred, 3600);
    EXPECT_EQ(e.valid, 7200);
    EXPECT_FALSE(obs::parse_trail_line("not json", e));
    EXPECT_FALSE(obs::parse_trail_line("{\"@timestamp\":\"2026-12-01T10:42:00Z\"}", e));  // no action
    EXPECT_FALSE(obs::parse_trail_line("{\"@timestamp\":\"x\",\"event.action\":\"addr-reg-inform\"}", e));
    EXPECT_FALSE(obs::parse_trail_line(
        "{\"@timestamp\":\"2026-12-01T10:42:00Z\",\"event.action\":\"addr-reg-inform\",\"client.ip\":\"nope\"}", e));
    EXPECT_FALSE(obs::parse_trail_line(l[0].substr(0, 40), e));  // a cut line
}

TEST(TrailTime, Rfc3339AndPlainUtc) {
    EXPECT_EQ(obs::parse_time("2026-12-01T10:42:00Z"), 1796121720000LL);
    EXPECT_EQ(obs::parse_time("2026-12-01T10:42:00.123Z"), 1796121720123LL);
    EXPECT_EQ(obs::parse_time("2026-12-01T10:42:00.1234567Z"), 1796121720123LL);
    EXPECT_EQ(obs::parse_time("2026-12-01T12:42:00+02:00"), 1796121720000LL);
    EXPECT_EQ(obs::parse_time("2026-12-01T05:12:00.5-05:30"), 1796121720500LL);
    EXPECT_EQ(obs::parse_time("2026-12-01 10:42"), 1796121720000LL);
    EXPECT_EQ(obs::parse_time("2026-12-01 10:42:07"), 1796121727000LL);
    for (const char* bad : {"", "2026-12-01", "2026-12-01T10:42Z", "2026-12-01T10:42:00", "2026-13-01 10:42",
                            "2026-02-30 10:00", "2026-12-01 24:00", "2026-12-01 10:42:00Z", "2026/12/01 10:42",
                            "2026-12-01T10:42:00+2:00", "2026-12-01T10:42:00.Z", "2026-12-01 10:42 "})
        EXPECT_FALSE(obs::parse_time(bad)) << bad;
}

std::string rec(const char* time, const char* action, const char* addr, const char* mac, const char* duid,
                std::optional<int> valid, const char* xid = "0x000001") {
    std::string s = std::string("{\"@timestamp\":\"") + time + "\",\"event.action\":\"" + action + "\"";
    if (addr) s += std::string(",\"client.ip\":\"") + addr + "\"";
    if (mac) s += std::string(",\"client.mac\":\"") + mac + "\"";
    if (duid) s += std::string(",\"dhcp6.duid\":\"") + duid + "\"";
    s += std::string(",\"observer.ingress.interface.name\":\"eth1\",\"dhcp6.xid\":\"") + xid + "\"";
    if (valid) s += ",\"dhcp6.preferred_lifetime\":" + std::to_string(*valid / 2) +
                    ",\"dhcp6.valid_lifetime\":" + std::to_string(*valid);
    return s + "}\n";
}

obs::TrailAnswer query(const std::string& file, const char* addr, const char* at) {
    std::istringstream in(file);
    std::vector<obs::TrailEntry> v;
    obs::TrailAnswer st;
    obs::scan_trail(in, *Ip6Addr::parse(addr), v, st);
    return obs::answer(std::move(v), at ? obs::parse_time(at) : std::nullopt, st);
}

std::vector<std::string> macs_at(const obs::TrailAnswer& a) {
    std::vector<std::string> m;
    for (size_t i : a.valid_at) m.push_back(a.registrations[i].mac);
    return m;
}

TEST(TrailQuery, WhichMacHadTheAddressAtATime) {
    std::string f;
    f += rec("2026-12-01T13:00:00.000Z", "addr-reg-inform", "2001:db8:1::55", "02:00:00:00:00:0a", "d1", 1800, "0x000001");
    f += rec("2026-12-01T13:00:00.010Z", "addr-reg-reply", "2001:db8:1::55", nullptr, "d1", 1800, "0x000001");
    f += rec("2026-12-01T13:00:01.000Z", "addr-reg-inform", "2001:db8:1::99", "02:00:00:00:00:0b", "d2", 7200);
    f += "garbage line\n";
    f += rec("2026-12-01T14:00:00.000Z", "addr-reg-inform", "2001:db8:1:0::55", "02:00:00:00:00:0c", "d3", 3600, "0x000002");
    f += rec("2026-12-01T14:30:00.000Z", "addr-reg-inform", "2001:db8:1::55", "02:00:00:00:00:0c", "d3", 0, "0x000003");

    auto all = query(f, "2001:db8:1::55", nullptr);
    EXPECT_EQ(all.lines, 6u);
    EXPECT_EQ(all.skipped, 1u);
    ASSERT_EQ(all.registrations.size(), 3u);  // informs of .55 only, in time order
    EXPECT_TRUE(all.registrations[0].replied);
    EXPECT_FALSE(all.registrations[1].replied);
    EXPECT_TRUE(all.valid_at.empty());

    // 13:00 + 1800 s = 13:30 inclusive; then nobody until 14:00; 14:03 is the c MAC; its release at
    // 14:30 ends it (valid lifetime 0).
    EXPECT_EQ(macs_at(query(f, "2001:db8:1::55", "2026-12-01 13:10")), std::vector<std::string>{"02:00:00:00:00:0a"});
    EXPECT_EQ(macs_at(query(f, "2001:db8:1::55", "2026-12-01T13:30:00Z")),
              std::vector<std::string>{"02:00:00:00:00:0a"});
    EXPECT_TRUE(macs_at(query(f, "2001:db8:1::55", "2026-12-01T13:30:00.001Z")).empty());
    EXPECT_TRUE(macs_at(query(f, "2001:db8:1::55", "2026-12-01 12:59")).empty());
    EXPECT_EQ(macs_at(query(f, "2001:db8:1::55", "2026-12-01 14:03")), std::vector<std::string>{"02:00:00:00:00:0c"});
    EXPECT_EQ(macs_at(query(f, "2001:db8:1::55", "2026-12-01T16:03:00+02:00")),
              std::vector<std::string>{"02:00:00:00:00:0c"});
    EXPECT_TRUE(macs_at(query(f, "2001:db8:1::55", "2026-12-01 14:31")).empty());  // released
    EXPECT_EQ(macs_at(query(f, "2001:db8:1::99", "2026-12-01 14:31")), std::vector<std::string>{"02:00:00:00:00:0b"});
    EXPECT_TRUE(query(f, "2001:db8:1::1", nullptr).registrations.empty());
}

TEST(TrailQuery, RefreshSupersedesAndTwoClientsAreBothShown) {
    std::string f;
    // a registers for 10 s, refreshes for 1 h: at +20 s only the refresh counts (one line).
    f += rec("2026-12-01T10:00:00Z", "addr-reg-inform", "2001:db8::5", "02:00:00:00:00:0a", "d1", 10);
    f += rec("2026-12-01T10:00:05Z", "addr-reg-inform", "2001:db8::5", "02:00:00:00:00:0a", "d1", 3600);
    // b claims the same address (a duplicate or a spoof): both are answers.
    f += rec("2026-12-01T10:00:07Z", "addr-reg-inform", "2001:db8::5", "02:00:00:00:00:0b", nullptr, 60);
    // Infinite valid lifetime.
    f += rec("2026-12-01T10:00:09Z", "addr-reg-inform", "2001:db8::7", "02:00:00:00:00:0d", "d4", 0x7fffffff);
    auto a = query(f, "2001:db8::5", "2026-12-01 10:00:20");
    ASSERT_EQ(a.valid_at.size(), 2u);
    EXPECT_EQ(a.registrations[a.valid_at[0]].valid, 3600);
    EXPECT_EQ(macs_at(a), (std::vector<std::string>{"02:00:00:00:00:0a", "02:00:00:00:00:0b"}));
    EXPECT_EQ(macs_at(query(f, "2001:db8::5", "2026-12-01 10:01:10")), std::vector<std::string>{"02:00:00:00:00:0a"});
    std::string inf = rec("2026-12-01T10:00:09Z", "addr-reg-inform", "2001:db8::8", "02:00:00:00:00:0e", "d5", 1);
    inf.replace(inf.find("\"dhcp6.valid_lifetime\":1"), 24, "\"dhcp6.valid_lifetime\":4294967295");
    EXPECT_EQ(macs_at(query(inf, "2001:db8::8", "2100-01-01 00:00")), std::vector<std::string>{"02:00:00:00:00:0e"});
}

class TrailFile : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/regrelay-trail-test-XXXXXX";
        ASSERT_TRUE(mkdtemp(tmpl));
        dir_ = tmpl;
    }
    void TearDown() override {
        for (const char* f : {"/t.json", "/t.json.1"}) ::unlink((dir_ + f).c_str());
        ::rmdir(dir_.c_str());
    }
    static std::string slurp(const std::string& p) {
        std::ifstream in(p);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    std::string dir_;
};

TEST_F(TrailFile, Mode0600AppendReopenAfterRename) {
    const std::string p = dir_ + "/t.json";
    {
        std::ofstream(p) << "{\"old\":1}\n";  // an existing trail is appended to
    }
    ::chmod(p.c_str(), 0600);
    obs::TrailWriter w;
    std::string err;
    ASSERT_TRUE(w.open(p, err)) << err;
    w.write({"{\"a\":1}\n", "{\"b\":2}\n"}, 0);
    EXPECT_EQ(slurp(p), "{\"old\":1}\n{\"a\":1}\n{\"b\":2}\n");
    EXPECT_EQ(w.written(), 2u);
    // logrotate: rename, then SIGHUP -> reopen creates a new file, mode 0600.
    ASSERT_EQ(::rename(p.c_str(), (p + ".1").c_str()), 0);
    w.write({"{\"c\":3}\n"}, 0);  // still the renamed file until reopened
    ASSERT_TRUE(w.reopen(err)) << err;
    w.write({"{\"d\":4}\n"}, 0);
    EXPECT_EQ(slurp(p + ".1"), "{\"old\":1}\n{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
    EXPECT_EQ(slurp(p), "{\"d\":4}\n");
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(w.errors(), 0u);
}

TEST_F(TrailFile, NewFileIs0600WhateverTheUmaskAndFailuresAreCounted) {
    const mode_t old = ::umask(0);
    obs::TrailWriter w;
    std::string err;
    ASSERT_TRUE(w.open(dir_ + "/t.json", err)) << err;
    ::umask(old);
    struct stat st {};
    ASSERT_EQ(::stat((dir_ + "/t.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_FALSE(w.open(dir_ + "/no/such/dir/t.json", err));
    EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;
    EXPECT_TRUE(w.is_open());  // still the first file
    // A full disk: /dev/full fails every write with ENOSPC.
    obs::TrailWriter full;
    ASSERT_TRUE(full.open("/dev/full", err)) << err;
    full.write({"{\"a\":1}\n", "{\"b\":2}\n"}, 0);
    full.write({"{\"c\":3}\n"}, 1);
    EXPECT_EQ(full.errors(), 3u);
    EXPECT_EQ(full.written(), 0u);
}

}  // namespace
}  // namespace regrelay
