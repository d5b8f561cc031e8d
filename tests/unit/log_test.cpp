// --log-format json (obs/log.h): escaping, the object layout, text mode unchanged byte for byte,
// and the events of the log sites that carry data (relay and snoop log_actions, the port
// tracker, flood summaries).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "capture/live_ports.h"
#include "dhcp6/dhcp6.h"
#include "limits/limits.h"
#include "obs/log.h"
#include "obs/trail.h"
#include "relay/record.h"
#include "snoop/daemon.h"
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

std::string esc(std::string_view s) {
    std::string o;
    obs::append_json_string(o, s);
    return o;
}

TEST(JsonString, EscapesQuotesBackslashesAndControls) {
    EXPECT_EQ(esc("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(esc("l1\nl2\tx\r"), "\"l1\\nl2\\tx\\r\"");
    EXPECT_EQ(esc(std::string("\x01\x1f\x7f\b\f", 5)), "\"\\u0001\\u001f\\u007f\\b\\f\"");
    EXPECT_EQ(esc(std::string("nul\0z", 5)), "\"nul\\u0000z\"");
    EXPECT_EQ(esc(""), "\"\"");
}

TEST(JsonString, KeepsValidUtf8AndReplacesInvalidBytes) {
    EXPECT_EQ(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    // A lone continuation byte, 0xff, an overlong '/', a UTF-16 surrogate, a cut sequence, a
    // code point past U+10FFFF: each bad byte becomes U+FFFD.
    EXPECT_EQ(esc("\x80"), "\"\\ufffd\"");
    EXPECT_EQ(esc("a\xffz"), "\"a\\ufffdz\"");
    EXPECT_EQ(esc("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
    EXPECT_EQ(esc("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
    EXPECT_EQ(esc("\xe2\x82"), "\"\\ufffd\\ufffd\"");
    EXPECT_EQ(esc("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    // Whatever the bytes, the result is a JSON string that decodes.
    std::string all;
    for (int c = 0; c < 256; ++c) all += char(c);
    auto m = json_object("{\"k\":" + esc(all) + "}");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->at("k").text.substr(0, 32), std::string(all.data(), 32));
}

TEST(JsonTime, Rfc3339WithMilliseconds) {
    EXPECT_EQ(obs::rfc3339_ms(1796121720, 123456789), "2026-12-01T10:42:00.123Z");
    EXPECT_EQ(obs::rfc3339_ms(0, 0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(obs::rfc3339_ms(951782400, 999999999), "2000-02-29T00:00:00.999Z");
}

TEST(JsonRender, LayoutKindsAndReservedKeys) {
    std::string l = obs::render_json("T", "info", "reload",
                                     {{"config", "/etc/regrelay/relay.conf"},
                                      {"interfaces", 3},
                                      {"servers", std::vector<std::string>{"2001:db8::1", "2001:db8::2"}},
                                      {"message", "clash"},
                                      {"time", "clash2"}},
                                     "configuration reloaded");
    EXPECT_EQ(l,
              "{\"time\":\"T\",\"level\":\"info\",\"event\":\"reload\",\"config\":\"/etc/regrelay/relay.conf\","
              "\"interfaces\":3,\"servers\":[\"2001:db8::1\",\"2001:db8::2\"],\"_message\":\"clash\","
              "\"_time\":\"clash2\",\"message\":\"configuration reloaded\"}");
    ASSERT_TRUE(json_object(l));
    // No text: no "message" member.
    EXPECT_EQ(obs::render_json("T", "info", "start", {{"pid", 7}}, ""),
              "{\"time\":\"T\",\"level\":\"info\",\"event\":\"start\",\"pid\":7}");
    EXPECT_EQ(obs::parse_log_format("json"), obs::LogFormat::kJson);
    EXPECT_EQ(obs::parse_log_format("text"), obs::LogFormat::kText);
    EXPECT_FALSE(obs::parse_log_format("JSON"));
}

// Captures the default logger's output; text mode prints "%v" only (the payload), json mode the
// JsonFormatter's objects.
class LogCapture : public ::testing::Test {
protected:
    void use(obs::LogFormat f, spdlog::level::level_enum lvl = spdlog::level::trace) {
        out_.str("");
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
        auto logger = std::make_shared<spdlog::logger>("test", sink);
        // The logger before the first use() only: a second use() in one test must not make
        // TearDown restore a logger that writes into this fixture's (then destroyed) stream.
        if (!old_) old_ = spdlog::default_logger();
        spdlog::set_default_logger(logger);
        if (f == obs::LogFormat::kJson) logger->set_formatter(std::make_unique<obs::JsonFormatter>());
        else logger->set_pattern("%v");
        logger->set_level(lvl);
        obs::set_log_format(f);
    }
    void TearDown() override {
        obs::set_log_format(obs::LogFormat::kText);
        if (old_) spdlog::set_default_logger(old_);
    }
    std::vector<std::string> lines() {
        std::vector<std::string> v;
        std::istringstream in(out_.str());
        for (std::string l; std::getline(in, l);) v.push_back(l);
        return v;
    }
    // Every line an object with time, level and event first.
    std::vector<std::map<std::string, test::JsonValue>> objects() {
        std::vector<std::map<std::string, test::JsonValue>> v;
        for (const auto& l : lines()) {
            auto m = json_object(l);
            EXPECT_TRUE(m) << l;
            if (!m) continue;
            auto k = json_keys(l);
            EXPECT_GE(k.size(), 3u);
            if (k.size() >= 3) {
                EXPECT_EQ(k[0], "time");
                EXPECT_EQ(k[1], "level");
                EXPECT_EQ(k[2], "event");
            }
            EXPECT_TRUE(obs::parse_log_format("json"));
            v.push_back(*m);
        }
        return v;
    }
    std::ostringstream out_;
    std::shared_ptr<spdlog::logger> old_;
};

TEST_F(LogCapture, TextModeIsTheTextOnly) {
    use(obs::LogFormat::kText);
    obs::log_event(spdlog::level::info, "reload", {{"config", "c"}}, "configuration reloaded from c: 1 ports");
    obs::log_event(spdlog::level::info, "start", {{"pid", 1}}, "");  // json only
    spdlog::info("plain {}", 1);
    EXPECT_EQ(out_.str(), "configuration reloaded from c: 1 ports\nplain 1\n");
}

TEST_F(LogCapture, JsonModeEventsAndPlainMessages) {
    use(obs::LogFormat::kJson, spdlog::level::info);
    obs::log_event(spdlog::level::warn, "interface_down", {{"interface", "eth\"1"}}, "interface eth\"1: down");
    obs::log_event(spdlog::level::debug, "drop", {{"reason", "x"}}, "not logged at info");
    spdlog::error("server {}: {}", "2001:db8::1", "Network is unreachable\nsecond line");
    auto o = objects();
    ASSERT_EQ(o.size(), 2u);
    EXPECT_EQ(o[0]["level"].text, "warning");
    EXPECT_EQ(o[0]["event"].text, "interface_down");
    EXPECT_EQ(o[0]["interface"].text, "eth\"1");
    EXPECT_EQ(o[0]["message"].text, "interface eth\"1: down");
    EXPECT_TRUE(obs::parse_time(o[0]["time"].text));
    EXPECT_EQ(o[0]["time"].text.size(), 24u);  // 2026-12-01T10:42:00.123Z
    EXPECT_EQ(o[1]["level"].text, "error");
    EXPECT_EQ(o[1]["event"].text, "message");
    EXPECT_EQ(o[1]["message"].text, "server 2001:db8::1: Network is unreachable\nsecond line");
}

// An ADDR-REG-INFORM as a client sends it: Client Identifier (DUID-LL) and one IA Address.
std::vector<uint8_t> addr_reg_inform(uint32_t xid) {
    return cat({{36, uint8_t(xid >> 16), uint8_t(xid >> 8), uint8_t(xid)},
                mkopt(1, hexb("0003 0001 020000aa0001")),
                mkopt(5, cat({hexb("20010db8000100000000000000000055"), be32(3600), be32(7200)}))});
}

TEST_F(LogCapture, RelayLogActionsTextUnchangedAndJsonFields) {
    relay::Config cfg;
    cfg.ports.resize(1);
    cfg.ports[0].name = "eth1";
    const auto msg = addr_reg_inform(0xabcd);
    relay::Actions a;
    a.msg_type = 36;
    a.xid = 0xabcd;
    a.peer = *Ip6Addr::parse("fe80::1");
    a.client_mac = *MacAddr::parse("02:00:00:aa:00:01");
    a.port = 0;
    a.hop_count = 0;
    a.message = msg;
    a.sends.push_back({*Ip6Addr::parse("2001:db8::53"), 547, relay::kUpstream, 0});
    relay::Actions drop;
    drop.drop = relay::Drop::kRateLimitMac;
    drop.msg_type = 36;
    drop.port = 0;
    drop.peer = a.peer;
    drop.client_mac = a.client_mac;
    const auto reply_msg = cat({{37, 0, 0xab, 0xcd}, mkopt(5, cat({hexb("20010db8000100000000000000000055"),
                                                                  be32(3600), be32(7200)}))});
    relay::Actions r;
    r.msg_type = 37;
    r.xid = 0xabcd;
    r.peer = a.peer;
    r.port = 0;
    r.message = reply_msg;
    r.sends.push_back({a.peer, 546, 0, 0});

    use(obs::LogFormat::kText);
    relay::log_actions(cfg, a);
    relay::log_actions(cfg, drop);
    relay::log_actions(cfg, r);
    // The lines as they were before --log-format (the format strings of relay/record.cpp).
    EXPECT_EQ(lines(), (std::vector<std::string>{
                           "ADDR-REG-INFORM address 2001:db8:1::55 mac 02:00:00:aa:00:01 duid 00030001020000aa0001 "
                           "interface eth1 source fe80::1 xid 0x00abcd",
                           "relay-forward ADDR-REG-INFORM xid 0x00abcd peer fe80::1 mac 02:00:00:aa:00:01 interface "
                           "eth1 hop 0 to 2001:db8::53",
                           "drop ADDR-REG-INFORM on eth1: rate-limit-mac from fe80::1 mac 02:00:00:aa:00:01",
                           "relay-reply ADDR-REG-REPLY xid 0x00abcd to fe80::1 port 546 interface eth1"}));

    use(obs::LogFormat::kJson);
    relay::log_actions(cfg, a);
    relay::log_actions(cfg, drop);
    relay::log_actions(cfg, r);
    auto o = objects();
    ASSERT_EQ(o.size(), 4u);
    EXPECT_EQ(o[0]["event"].text, "addr_reg_inform");
    EXPECT_EQ(o[0]["level"].text, "info");
    EXPECT_EQ(o[0]["addresses"].list, std::vector<std::string>{"2001:db8:1::55"});
    EXPECT_EQ(o[0]["mac"].text, "02:00:00:aa:00:01");
    EXPECT_EQ(o[0]["duid"].text, "00030001020000aa0001");
    EXPECT_EQ(o[0]["interface"].text, "eth1");
    EXPECT_EQ(o[0]["source"].text, "fe80::1");
    EXPECT_EQ(o[0]["xid"].text, "0x00abcd");
    EXPECT_EQ(o[1]["event"].text, "relay_forward");
    EXPECT_EQ(o[1]["level"].text, "debug");
    EXPECT_EQ(o[1]["hop"].kind, test::JsonValue::kNumber);
    EXPECT_EQ(o[1]["to"].list, std::vector<std::string>{"2001:db8::53"});
    EXPECT_EQ(o[2]["event"].text, "drop");
    EXPECT_EQ(o[2]["reason"].text, "rate-limit-mac");
    EXPECT_EQ(o[2]["type"].text, "ADDR-REG-INFORM");
    EXPECT_EQ(o[3]["event"].text, "relay_reply");
    EXPECT_EQ(o[3]["port"].text, "546");
    EXPECT_EQ(o[3]["peer"].text, "fe80::1");
}

TEST_F(LogCapture, SnoopLogActionsTextUnchangedAndJsonFields) {
    snoop::Config cfg;
    cfg.ports.resize(2);
    cfg.ports[0].name = "veth-c";
    cfg.ports[1].name = "uplink0";
    cfg.ports[1].role = snoop::Role::kUplink;
    const auto msg = addr_reg_inform(0x123456);
    snoop::Actions a;
    a.emit = true;
    a.out_port = 1;
    a.port = 0;
    a.msg_type = 36;
    a.xid = 0x123456;
    a.peer = *Ip6Addr::parse("2001:db8:1::55");
    a.client_mac = *MacAddr::parse("02:00:00:aa:00:01");
    a.message = msg;
    snoop::Actions d;
    d.drop = snoop::Drop::kBadFrame;
    d.frame_drop = frame::Drop::kTruncatedUdp;
    d.port = 0;

    use(obs::LogFormat::kText);
    snoop::log_actions(cfg, a);
    snoop::log_actions(cfg, d);
    EXPECT_EQ(lines(), (std::vector<std::string>{
                           "ADDR-REG-INFORM address 2001:db8:1::55 mac 02:00:00:aa:00:01 duid 00030001020000aa0001 "
                           "port veth-c source 2001:db8:1::55 xid 0x123456",
                           "relay-forward ADDR-REG-INFORM xid 0x123456 peer 2001:db8:1::55 mac 02:00:00:aa:00:01 port "
                           "veth-c hop 0 to uplink0",
                           std::string("drop frame on veth-c: bad-frame/") + std::string(frame::drop_name(frame::Drop::kTruncatedUdp)) +
                               " from ::"}));
    use(obs::LogFormat::kJson);
    snoop::log_actions(cfg, a);
    snoop::log_actions(cfg, d);
    auto o = objects();
    ASSERT_EQ(o.size(), 3u);
    EXPECT_EQ(o[0]["event"].text, "addr_reg_inform");
    EXPECT_EQ(o[0]["interface"].text, "veth-c");
    EXPECT_EQ(o[1]["event"].text, "relay_forward");
    EXPECT_EQ(o[1]["to"].text, "uplink0");
    EXPECT_EQ(o[2]["event"].text, "drop");
    EXPECT_EQ(o[2]["type"].text, "frame");
}

TEST_F(LogCapture, PortTrackerInterfaceEvent) {
    // No root needed: an interface that does not exist is reported absent, once.
    use(obs::LogFormat::kJson);
    capture::PortTracker t("relay", capture::PortHooks{
                                        [](size_t, capture::LivePort&, const capture::Interface&, std::string&) {
                                            return false;
                                        },
                                        nullptr});
    t.set_names({"h11-nosuch0"}, 1);
    t.sync_all(2);
    auto o = objects();
    ASSERT_EQ(o.size(), 1u);
    EXPECT_EQ(o[0]["event"].text, "interface_absent");
    EXPECT_EQ(o[0]["level"].text, "warning");
    EXPECT_EQ(o[0]["interface"].text, "h11-nosuch0");
    EXPECT_EQ(o[0]["message"].text, "interface h11-nosuch0: absent, waiting for it");
}

TEST(FloodSummary, FieldsOfTheRealLine) {
    limits::Config c;
    c.per_mac = {1, 3};
    c.per_port = {10, 10};
    c.log_lines = {1, 3};
    c.mac_table_size = 64;
    limits::FloodGuard g(c, 1);
    const uint64_t t0 = 1'000'000'000'000ull;
    std::array<uint8_t, 6> flooder{2, 0, 0, 0, 0xf0, 0x0d};
    for (int i = 0; i < 50; ++i) g.log_line(0, t0);
    g.report(t0, {"eth1"});  // starts the interval
    for (int i = 0; i < 100; ++i) g.admit(0, flooder, true, t0);
    for (uint8_t i = 0; i < 20; ++i) g.admit(0, std::array<uint8_t, 6>{2, 0, 0, 0, 0x10, i}, true, t0);
    auto lines = g.report(t0 + 10'000'000'000ull, {"eth1"});
    ASSERT_EQ(lines.size(), 1u);
    auto f = obs::flood_summary_fields(lines[0]);
    auto l = obs::render_json("T", "warning", "flood_summary", f, lines[0]);
    auto m = json_object(l);
    ASSERT_TRUE(m) << l;
    EXPECT_EQ((*m)["interface"].text, "eth1");
    EXPECT_EQ((*m)["seconds"].text, "10.0");
    // The counts the line states, as numbers.
    const std::string& line = lines[0];
    EXPECT_NE(line.find("dropped " + (*m)["dropped"].text + " (rate-limit-port " + (*m)["rate_limit_port"].text +
                        ", rate-limit-mac " + (*m)["rate_limit_mac"].text + "), " + (*m)["suppressed"].text +
                        " info lines suppressed"),
              std::string::npos)
        << l;
    EXPECT_EQ((*m)["rate_limit_mac"].kind, test::JsonValue::kNumber);
    EXPECT_EQ(std::stoul((*m)["rate_limit_mac"].text), 97u);  // burst 3 of 100
    ASSERT_FALSE((*m)["top_macs"].list.empty()) << l;
    EXPECT_EQ((*m)["top_macs"].list[0], "02:00:00:00:f0:0d 97");
}

}  // namespace
}  // namespace regrelay
