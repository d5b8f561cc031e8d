// Unit tests for obs/metrics.h: the listen address, the exposition text (pure render), the
// triple buffer between the packet thread and the HTTP thread (run it under TSan:
// tests/metrics.cmake builds regrelay_metrics_tsan_test with REGRELAY_TSAN=ON), and the HTTP
// server on 127.0.0.1 (loopback only). The engines' per-type counters are checked at the end.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "obs/metrics.h"

#ifndef REGRELAY_METRICS_ONLY
#include "capture/frame.h"
#include "relay/engine.h"
#include "snoop/engine.h"
#endif

namespace {

using namespace regrelay;
using obs::ListenAddress;
using obs::parse_listen;

// --- the listen address -------------------------------------------------------------------

TEST(MetricsListen, Ipv6InBracketsAndIpv4) {
    std::string why;
    auto a = parse_listen("[::1]:9547", why);
    ASSERT_TRUE(a) << why;
    ASSERT_EQ(a->addr.ss_family, AF_INET6);
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&a->addr);
    EXPECT_EQ(ntohs(s6->sin6_port), 9547);
    EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr));
    EXPECT_EQ(a->len, sizeof(sockaddr_in6));

    auto b = parse_listen("127.0.0.1:80", why);
    ASSERT_TRUE(b) << why;
    ASSERT_EQ(b->addr.ss_family, AF_INET);
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&b->addr);
    EXPECT_EQ(ntohs(s4->sin_port), 80);
    EXPECT_EQ(ntohl(s4->sin_addr.s_addr), 0x7f000001u);

    auto c = parse_listen("[2001:db8::5]:65535", why);
    ASSERT_TRUE(c) << why;
    EXPECT_EQ(c->text, "[2001:db8::5]:65535");
}

TEST(MetricsListen, RejectsWhatIsNotAddrColonPort) {
    for (const char* bad : {"", "9547", "::1:9547", "[::1]", "[::1]9547", "[::1]:", "[::1]:0", "[::1]:65536",
                            "127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:95 47", "localhost:9547",
                            "[127.0.0.1]:9547", "[::1:9547", "1.2.3:9547", "[::1]:-1", "[fe80::1%eth0]:9547"}) {
        std::string why;
        EXPECT_FALSE(parse_listen(bad, why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
}

// --- the text ------------------------------------------------------------------------------

TEST(MetricsText, TypeLabels) {
    EXPECT_EQ(obs::type_label(1), "solicit");
    EXPECT_EQ(obs::type_label(11), "information_request");
    EXPECT_EQ(obs::type_label(12), "relay_forw");
    EXPECT_EQ(obs::type_label(36), "addr_reg_inform");
    EXPECT_EQ(obs::type_label(37), "addr_reg_reply");
    EXPECT_EQ(obs::type_label(200), "200");
    EXPECT_EQ(obs::type_label(0), "0");
}

TEST(MetricsText, LabelValuesAreEscaped) {
    EXPECT_EQ(obs::escape_label(R"(a"b\c)"), R"(a\"b\\c)");
    EXPECT_EQ(obs::escape_label("x\ny"), "x\\ny");
    EXPECT_EQ(obs::escape_label("ge-0/0/2"), "ge-0/0/2");
}

obs::Snapshot small_snapshot() {
    obs::Snapshot s;
    s.drop_reasons = {"bad-frame", "rate-limit-mac"};
    obs::PortMetrics p;
    p.name = "eth1";
    p.frames = 7;
    p.received[1] = 3;
    p.received[200] = 1;
    p.relayed[1] = 2;
    p.replies[37] = 4;
    p.drops = {0, 5};
    p.up = true;
    p.events = {2, 1, 0, 0, 3, 1};
    p.kernel_drops = 9;
    p.send_errors = 6;
    obs::PortMetrics u;
    u.name = "upstream";
    u.frames = 4;
    u.received[13] = 4;
    u.drops = {1, 0};
    u.is_interface = false;
    s.ports = {p, u};
    s.servers = {{"2001:db8:ffff::1", 2, 1, 8, 2, true}};
    s.write_errors = 0;
    s.mac_table_capacity = 4096;
    s.mac_table_evictions = 11;
    return s;
}

TEST(MetricsText, RendersEveryFamilyWithHelpAndType) {
    obs::ProcessInfo pi{"0.1.0", "relay", 1700000000.5};
    const std::string want =
        "# HELP regrelay_build_info Always 1; the labels name the version and the mode running.\n"
        "# TYPE regrelay_build_info gauge\n"
        "regrelay_build_info{version=\"0.1.0\",mode=\"relay\"} 1\n"
        "# HELP regrelay_start_time_seconds Start time of the process since the Unix epoch in seconds.\n"
        "# TYPE regrelay_start_time_seconds gauge\n"
        "regrelay_start_time_seconds 1700000000.500\n"
        "# HELP regrelay_frames_received_total Frames (client side, snoop ports) or datagrams (relay server "
        "side) received, whatever became of them.\n"
        "# TYPE regrelay_frames_received_total counter\n"
        "regrelay_frames_received_total{port=\"eth1\"} 7\n"
        "regrelay_frames_received_total{port=\"upstream\"} 4\n"
        "# HELP regrelay_messages_received_total DHCPv6 messages received, by message type.\n"
        "# TYPE regrelay_messages_received_total counter\n"
        "regrelay_messages_received_total{port=\"eth1\",type=\"solicit\"} 3\n"
        "regrelay_messages_received_total{port=\"eth1\",type=\"200\"} 1\n"
        "regrelay_messages_received_total{port=\"upstream\",type=\"relay_repl\"} 4\n"
        "# HELP regrelay_messages_relayed_total Messages relayed toward the servers from this port (in a "
        "Relay-forward), by the relayed message's type.\n"
        "# TYPE regrelay_messages_relayed_total counter\n"
        "regrelay_messages_relayed_total{port=\"eth1\",type=\"solicit\"} 2\n"
        "# HELP regrelay_replies_relayed_total Messages from a Relay-reply delivered to a client on this port, "
        "by the delivered message's type.\n"
        "# TYPE regrelay_replies_relayed_total counter\n"
        "regrelay_replies_relayed_total{port=\"eth1\",type=\"addr_reg_reply\"} 4\n"
        "# HELP regrelay_drops_total Frames and messages not relayed, by port and reason (rate-limit-mac and "
        "rate-limit-port: flood limits).\n"
        "# TYPE regrelay_drops_total counter\n"
        "regrelay_drops_total{port=\"eth1\",reason=\"bad-frame\"} 0\n"
        "regrelay_drops_total{port=\"eth1\",reason=\"rate-limit-mac\"} 5\n"
        "regrelay_drops_total{port=\"upstream\",reason=\"bad-frame\"} 1\n"
        "regrelay_drops_total{port=\"upstream\",reason=\"rate-limit-mac\"} 0\n"
        "# HELP regrelay_capture_kernel_drops_total Packets the kernel dropped before the capture read them "
        "(pcap ps_drop of the open capture; starts again from 0 when the capture is reopened).\n"
        "# TYPE regrelay_capture_kernel_drops_total counter\n"
        "regrelay_capture_kernel_drops_total{port=\"eth1\"} 9\n"
        "# HELP regrelay_interface_up 1 while the port's interface is up and captured, else 0.\n"
        "# TYPE regrelay_interface_up gauge\n"
        "regrelay_interface_up{port=\"eth1\"} 1\n"
        "# HELP regrelay_interface_events_total Interface transitions seen through rtnetlink: up, down, absent, "
        "recreated, readdressed, capture_error.\n"
        "# TYPE regrelay_interface_events_total counter\n"
        "regrelay_interface_events_total{port=\"eth1\",event=\"up\"} 2\n"
        "regrelay_interface_events_total{port=\"eth1\",event=\"down\"} 1\n"
        "regrelay_interface_events_total{port=\"eth1\",event=\"absent\"} 0\n"
        "regrelay_interface_events_total{port=\"eth1\",event=\"recreated\"} 0\n"
        "regrelay_interface_events_total{port=\"eth1\",event=\"readdressed\"} 3\n"
        "regrelay_interface_events_total{port=\"eth1\",event=\"capture_error\"} 1\n"
        "# HELP regrelay_client_send_errors_total Messages toward clients on this port that could not be sent.\n"
        "# TYPE regrelay_client_send_errors_total counter\n"
        "regrelay_client_send_errors_total{port=\"eth1\"} 6\n"
        "# HELP regrelay_server_sent_total Relay-forwards sent to the server (or multicast group).\n"
        "# TYPE regrelay_server_sent_total counter\n"
        "regrelay_server_sent_total{server=\"2001:db8:ffff::1\"} 2\n"
        "# HELP regrelay_server_send_errors_total Relay-forwards to the server that could not be sent.\n"
        "# TYPE regrelay_server_send_errors_total counter\n"
        "regrelay_server_send_errors_total{server=\"2001:db8:ffff::1\"} 1\n"
        "# HELP regrelay_server_icmp_errors_total ICMPv6 errors (and other socket errors) reported for "
        "datagrams sent to the server.\n"
        "# TYPE regrelay_server_icmp_errors_total counter\n"
        "regrelay_server_icmp_errors_total{server=\"2001:db8:ffff::1\"} 8\n"
        "# HELP regrelay_server_gso_sent_total Relay-forwards to the server sent inside UDP GSO sends (several "
        "in one send call, cut apart by the kernel); included in regrelay_server_sent_total.\n"
        "# TYPE regrelay_server_gso_sent_total counter\n"
        "regrelay_server_gso_sent_total{server=\"2001:db8:ffff::1\"} 2\n"
        "# HELP regrelay_server_gso 1 while Relay-forwards to the server may use UDP GSO (--udp-gso).\n"
        "# TYPE regrelay_server_gso gauge\n"
        "regrelay_server_gso{server=\"2001:db8:ffff::1\"} 1\n"
        "# HELP regrelay_write_errors_total Frames --write could not record.\n"
        "# TYPE regrelay_write_errors_total counter\n"
        "regrelay_write_errors_total 0\n"
        "# HELP regrelay_flood_mac_table_capacity Entries of the flood limits' per-MAC rate table.\n"
        "# TYPE regrelay_flood_mac_table_capacity gauge\n"
        "regrelay_flood_mac_table_capacity 4096\n"
        "# HELP regrelay_flood_mac_table_evictions_total Entries of the per-MAC rate table replaced while in "
        "use (the table was full).\n"
        "# TYPE regrelay_flood_mac_table_evictions_total counter\n"
        "regrelay_flood_mac_table_evictions_total 11\n";
    EXPECT_EQ(obs::render(small_snapshot(), pi), want);
}

TEST(MetricsText, SnoopHasInjectErrorsAndNoServerFamilies) {
    obs::Snapshot s = small_snapshot();
    s.servers.clear();
    s.ports.pop_back();
    s.ports[0].send_errors.reset();
    s.inject_errors = 3;
    const std::string t = obs::render(s, {"0.1.0", "snoop", 0});
    EXPECT_NE(t.find("regrelay_inject_errors_total 3\n"), std::string::npos);
    EXPECT_NE(t.find("# TYPE regrelay_inject_errors_total counter\n"), std::string::npos);
    EXPECT_EQ(t.find("regrelay_server_"), std::string::npos);
    EXPECT_EQ(t.find("regrelay_client_send_errors_total"), std::string::npos);
    EXPECT_NE(t.find("mode=\"snoop\""), std::string::npos);
    // Reusing the output buffer gives the same text.
    std::string out = "left over";
    obs::render(s, {"0.1.0", "snoop", 0}, out);
    EXPECT_EQ(out, t);
}

TEST(MetricsText, EveryFamilyHasHelpThenTypeOnce) {
    const std::string t = obs::render(small_snapshot(), {"0.1.0", "relay", 0});
    std::vector<std::string> helps, types;
    size_t at = 0;
    std::string last_type;
    while (at < t.size()) {
        const size_t nl = t.find('\n', at);
        ASSERT_NE(nl, std::string::npos) << "the text ends with a newline";
        const std::string line = t.substr(at, nl - at);
        at = nl + 1;
        if (line.rfind("# HELP ", 0) == 0) {
            helps.push_back(line.substr(7, line.find(' ', 7) - 7));
        } else if (line.rfind("# TYPE ", 0) == 0) {
            types.push_back(line.substr(7, line.find(' ', 7) - 7));
            ASSERT_EQ(types.back(), helps.back()) << "TYPE follows the family's HELP";
            last_type = types.back();
        } else {
            const std::string name = line.substr(0, line.find_first_of("{ "));
            EXPECT_EQ(name, last_type) << line;
        }
    }
    std::vector<std::string> sorted = types;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a family appears once";
    EXPECT_GE(types.size(), 15u);
}

// --- the hand-over -------------------------------------------------------------------------

TEST(MetricsTripleBuffer, ReaderSeesOnlyWholeSnapshotsInOrder) {
    obs::TripleBuffer<obs::Snapshot> tb;
    EXPECT_EQ(tb.latest(), nullptr) << "nothing before the first publish";
    constexpr uint64_t kRounds = 20000;
    std::atomic<bool> done{false};
    std::thread writer([&] {
        for (uint64_t n = 1; n <= kRounds; ++n) {
            obs::Snapshot& s = tb.back();
            s.ports.resize(1 + n % 3);
            for (auto& p : s.ports) {
                p.name = "port-" + std::to_string(n);
                p.frames = n;
                p.received[n % 256] = n;
                p.drops.assign(4, n);
            }
            s.write_errors = n;
            tb.publish();
        }
        done.store(true, std::memory_order_release);
    });
    uint64_t last = 0, reads = 0;
    while (true) {
        const bool finished = done.load(std::memory_order_acquire);
        if (const obs::Snapshot* s = tb.latest()) {
            const uint64_t n = s->write_errors;
            ASSERT_GE(n, last) << "snapshots arrive in order";
            ASSERT_EQ(s->ports.size(), 1 + n % 3);
            for (const auto& p : s->ports) {
                ASSERT_EQ(p.frames, n) << "a snapshot is never torn";
                ASSERT_EQ(p.name, "port-" + std::to_string(n));
                ASSERT_EQ(p.received[n % 256], n);
                ASSERT_EQ(p.drops, std::vector<uint64_t>(4, n));
            }
            last = n;
            ++reads;
        }
        if (finished) break;
    }
    writer.join();
    EXPECT_EQ(tb.latest()->write_errors, kRounds) << "the last publish is seen";
    EXPECT_GT(reads, 0u);
}

// --- the server ----------------------------------------------------------------------------

// One HTTP/1.0 request to 127.0.0.1:port; the whole response.
std::string http(uint16_t port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "socket failed";
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size())) {
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, size_t(n));
    } else {
        out = std::string("connect/send failed: ") + std::strerror(errno);
    }
    ::close(fd);
    return out;
}

// The status code of a response ("HTTP/1.x NNN ..."), or 0.
int status(const std::string& r) {
    if (r.rfind("HTTP/1.", 0) != 0 || r.size() < 12 || r[8] != ' ') return 0;
    return std::atoi(r.substr(9, 3).c_str());
}

TEST(MetricsServer, ServesGetMetricsAndNothingElse) {
    std::string err;
    auto la = parse_listen("127.0.0.1:1", err);  // port replaced below: bind port 0
    ASSERT_TRUE(la);
    reinterpret_cast<sockaddr_in*>(&la->addr)->sin_port = 0;
    obs::MetricsServer srv({"9.9.9", "relay", 1.0});
    ASSERT_TRUE(srv.bind(*la, err)) << err;
    const uint16_t port = srv.port();
    ASSERT_NE(port, 0);
    ASSERT_TRUE(srv.start(err)) << err;

    // Before any publish: the process families, no port.
    std::string r = http(port, "GET /metrics HTTP/1.0\r\n\r\n");
    EXPECT_EQ(status(r), 200) << r;
    EXPECT_NE(r.find("regrelay_build_info{version=\"9.9.9\",mode=\"relay\"} 1\n"), std::string::npos) << r;
    EXPECT_EQ(r.find("port=\""), std::string::npos) << r;

    obs::Snapshot& s = srv.next();
    s = small_snapshot();
    srv.publish();
    r = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status(r), 200) << r;
    EXPECT_NE(r.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << r;
    const size_t body = r.find("\r\n\r\n");
    ASSERT_NE(body, std::string::npos);
    EXPECT_EQ(r.substr(body + 4), obs::render(small_snapshot(), {"9.9.9", "relay", 1.0}));

    EXPECT_EQ(status(http(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n")), 200);
    for (const char* req : {"GET /metric HTTP/1.0\r\n\r\n", "GET /metrics/ HTTP/1.0\r\n\r\n",
                            "GET /favicon.ico HTTP/1.0\r\n\r\n", "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
                            "DELETE /metrics HTTP/1.0\r\n\r\n"}) {
        r = http(port, req);
        EXPECT_EQ(status(r), 404) << req << r;
    }
    r = http(port, "GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(status(r), 200) << r;
    EXPECT_NE(r.find("<a href=\"/metrics\">"), std::string::npos) << r;
    srv.stop();
    EXPECT_EQ(status(http(port, "GET /metrics HTTP/1.0\r\n\r\n")), 0) << "stopped";
}

TEST(MetricsServer, BindFailureNamesTheAddress) {
    std::string err;
    auto la = parse_listen("127.0.0.1:1", err);
    ASSERT_TRUE(la);
    reinterpret_cast<sockaddr_in*>(&la->addr)->sin_port = 0;
    obs::MetricsServer a({"0", "relay", 0});
    ASSERT_TRUE(a.bind(*la, err)) << err;
    const std::string taken = "127.0.0.1:" + std::to_string(a.port());
    auto lb = parse_listen(taken, err);
    ASSERT_TRUE(lb);
    obs::MetricsServer b({"0", "relay", 0});
    EXPECT_FALSE(b.bind(*lb, err));
    EXPECT_NE(err.find("cannot listen on " + taken + ": Address already in use"), std::string::npos) << err;
    EXPECT_FALSE(b.start(err));
}

#ifndef REGRELAY_METRICS_ONLY
// --- the engines' per-type counters --------------------------------------------------------

std::vector<uint8_t> udp_frame(const std::vector<uint8_t>& payload, const char* src, const char* dst,
                               uint16_t sport, uint16_t dport) {
    frame::BuildSpec s;
    s.src_mac = *MacAddr::parse("02:00:00:aa:00:01");
    s.src = *Ip6Addr::parse(src);
    s.dst = *Ip6Addr::parse(dst);
    s.dst_mac = frame::multicast_mac(s.dst);
    s.sport = sport;
    s.dport = dport;
    std::vector<uint8_t> out;
    frame::build(s, payload, out);
    return out;
}

TEST(MetricsEngineCounters, RelayCountsByType) {
    relay::Config cfg;
    relay::ClientPort p;
    p.name = "eth1";
    p.link_address = *Ip6Addr::parse("2001:db8:1::1");
    cfg.ports = {p};
    cfg.servers = {*Ip6Addr::parse("2001:db8:ffff::1")};
    relay::Engine e(cfg);
    relay::Actions a;
    const std::vector<uint8_t> solicit = {1, 0, 0, 1}, inform = {36, 0, 0, 2}, adv = {2, 0, 0, 3}, odd = {200, 0, 0, 4};
    for (const auto* m : {&solicit, &solicit, &inform, &adv, &odd})
        e.on_client_frame(0, udp_frame(*m, "fe80::1", "ff02::1:2", 546, 547), frame::kLinkEthernet, a);
    const relay::PortCounters& c = e.counters(0);
    EXPECT_EQ(c.received_by_type[1], 2u);
    EXPECT_EQ(c.received_by_type[36], 1u);
    EXPECT_EQ(c.received_by_type[2], 1u);
    EXPECT_EQ(c.received_by_type[200], 1u);
    EXPECT_EQ(c.forwarded_by_type[1], 2u);
    EXPECT_EQ(c.forwarded_by_type[36], 1u);
    EXPECT_EQ(c.forwarded_by_type[2], 0u) << "a client-sent Advertise is dropped";
    EXPECT_EQ(c.forwarded_by_type[200], 1u);
    EXPECT_EQ(c.drops[size_t(relay::Drop::kServerMessage)], 1u);

    // A Relay-reply with an ADDR-REG-REPLY for the client on eth1.
    std::vector<uint8_t> rr = {13, 0};
    const auto link = Ip6Addr::parse("2001:db8:1::1")->b, peer = Ip6Addr::parse("fe80::1")->b;
    rr.insert(rr.end(), link.begin(), link.end());
    rr.insert(rr.end(), peer.begin(), peer.end());
    rr.insert(rr.end(), {0, 9, 0, 4, 37, 0, 0, 2});
    e.on_server_datagram(*Ip6Addr::parse("2001:db8:ffff::1"), 547, rr, a);
    ASSERT_EQ(a.drop, relay::Drop::kNone);
    EXPECT_EQ(e.counters(relay::kUpstream).received_by_type[13], 1u);
    EXPECT_EQ(e.counters(0).replied_by_type[37], 1u);
    EXPECT_EQ(e.counters(0).replied, 1u);
}

TEST(MetricsEngineCounters, SnoopCountsByType) {
    snoop::Config cfg;
    cfg.ports = {{"c1", snoop::Role::kClient, {}}, {"up", snoop::Role::kUplink, {}}};
    snoop::Engine e(cfg);
    snoop::Actions a;
    const std::vector<uint8_t> solicit = {1, 0, 0, 1}, inform = {36, 0, 0, 2}, adv = {2, 0, 0, 3};
    for (const auto* m : {&solicit, &inform, &adv})
        e.on_frame(0, udp_frame(*m, "fe80::1", "ff02::1:2", 546, 547), frame::kLinkEthernet, a);
    const snoop::PortCounters& c = e.counters(0);
    EXPECT_EQ(c.received_by_type[1], 1u);
    EXPECT_EQ(c.received_by_type[36], 1u);
    EXPECT_EQ(c.received_by_type[2], 1u);
    EXPECT_EQ(c.relayed_up_by_type[1], 1u);
    EXPECT_EQ(c.relayed_up_by_type[36], 1u);
    EXPECT_EQ(c.relayed_up_by_type[2], 0u);
    EXPECT_EQ(c.relayed_up, 2u);
}
#endif

}  // namespace
