// capture::UdpSocket on loopback: connected peers (one socket per server, sharing the main
// socket's port) and the exclusive bind of the main socket they must not weaken.
#include "capture/udp_socket.h"

#include "capture/offload.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace regrelay::capture {
namespace {

const Ip6Addr kLoop = Ip6Addr::from({in6addr_loopback.s6_addr, 16});

// A free UDP port on [::1] (bound and released again; the tests bind it right after).
uint16_t free_port() {
    int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    socklen_t len = sizeof sa;
    uint16_t port = 0;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0)
        port = ntohs(sa.sin6_port);
    if (fd >= 0) ::close(fd);
    return port;
}

// Receives until `want` datagrams arrived on `s` (any of its sockets) or 2 s passed.
std::vector<std::string> receive(UdpSocket& s, size_t want) {
    std::vector<std::string> got;
    std::vector<Datagram> in;
    for (int i = 0; i < 200 && got.size() < want; ++i) {
        std::vector<pollfd> pfds{{s.fd(), POLLIN, 0}};
        for (const auto& p : s.peers()) pfds.push_back({p.fd, POLLIN, 0});
        ::poll(pfds.data(), pfds.size(), 10);
        s.recv_batch(in, 64);
        for (const auto& d : in) got.emplace_back(d.data.begin(), d.data.end());
    }
    return got;
}

// `text` must outlive the datagram (its data points into it).
Datagram to(const Ip6Addr& dst, uint16_t port, const Ip6Addr& src, const std::string& text) {
    Datagram d;
    d.peer = dst;
    d.peer_port = port;
    d.local = src;
    d.data = {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
    return d;
}

bool have_loopback_v6() {
    int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (fd >= 0) ::close(fd);
    return ok;
}

TEST(UdpSocketPeers, ExclusiveBindSurvivesPeers) {
    if (!have_loopback_v6()) GTEST_SKIP() << "no ::1";
    const uint16_t port = free_port();
    ASSERT_NE(port, 0);
    UdpSocket a;
    std::string err;
    ASSERT_TRUE(a.open(port, 0, err)) << err;
    std::vector<std::string> errs;
    a.set_peers({{kLoop, kLoop}}, errs);
    ASSERT_TRUE(errs.empty()) << errs.front();
    ASSERT_EQ(a.peers().size(), 1u);
    // A second relay in the namespace still fails: the port is shared with our peers only.
    UdpSocket b;
    EXPECT_FALSE(b.open(port, 0, err));
    EXPECT_NE(err.find("already in use"), std::string::npos) << err;
}

TEST(UdpSocketPeers, SendsAndReceivesThroughPeerAndMainSocket) {
    if (!have_loopback_v6()) GTEST_SKIP() << "no ::1";
    const uint16_t port = free_port();
    ASSERT_NE(port, 0);
    UdpSocket s;
    std::string err;
    ASSERT_TRUE(s.open(port, 0, err)) << err;
    std::vector<std::string> errs;
    // The peer is ourselves: [::1]:port connected to [::1]:port.
    s.set_peers({{kLoop, kLoop}}, errs);
    ASSERT_EQ(s.peers().size(), 1u);
    const int peer_fd = s.peers().front().fd;
    // From the peer's source: the peer's socket; from "kernel's choice" (::): the main socket.
    const std::string via_peer = "via-peer", via_main = "via-main", after = "after";
    std::vector<Datagram> out{to(kLoop, port, kLoop, via_peer), to(kLoop, port, Ip6Addr{}, via_main)};
    EXPECT_EQ(s.send_batch(out), 2u);
    EXPECT_EQ(out[0].error, 0);
    EXPECT_EQ(out[1].error, 0);
    std::vector<std::string> got = receive(s, 2);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{"via-main", "via-peer"}));

    // Asked again for the same peer (a resync, a reload): the socket is kept, not reopened.
    s.set_peers({{kLoop, kLoop}}, errs);
    ASSERT_EQ(s.peers().size(), 1u);
    EXPECT_EQ(s.peers().front().fd, peer_fd) << "an unchanged peer keeps its socket";

    s.set_peers({}, errs);
    EXPECT_TRUE(s.peers().empty());
    out = {to(kLoop, port, kLoop, after)};
    EXPECT_EQ(s.send_batch(out), 1u);
    EXPECT_EQ(receive(s, 1), (std::vector<std::string>{"after"}));
}

TEST(UdpSocketPeers, APeerThatCannotBeBoundIsLeftOut) {
    if (!have_loopback_v6()) GTEST_SKIP() << "no ::1";
    const uint16_t port = free_port();
    UdpSocket s;
    std::string err;
    ASSERT_TRUE(s.open(port, 0, err)) << err;
    std::vector<std::string> errs;
    // 2001:db8::1 is not an address of this host: no bind, and its datagrams take the main socket.
    const Ip6Addr doc = *Ip6Addr::parse("2001:db8::1");
    s.set_peers({{kLoop, doc}}, errs);
    EXPECT_TRUE(s.peers().empty());
    ASSERT_EQ(errs.size(), 1u);
    EXPECT_NE(errs.front().find("bind [2001:db8::1]"), std::string::npos) << errs.front();
}

// UDP GSO toward a connected peer: runs of equal-size datagrams leave as one send each and
// arrive as the original datagrams, in order, byte for byte (loopback cuts them at the receiving
// socket; an interface with tx-udp-segmentation off cuts them before itself, tests/netns).
TEST(UdpSocketGso, RunsArriveAsTheOriginalDatagramsInOrder) {
    if (!have_loopback_v6()) GTEST_SKIP() << "no ::1";
    const uint16_t port = free_port();
    UdpSocket s;
    std::string err;
    ASSERT_TRUE(s.open(port, 4 << 20, err)) << err;
    std::vector<std::string> errs;
    s.set_peers({{kLoop, kLoop}}, errs);
    ASSERT_EQ(s.peers().size(), 1u);
    EXPECT_FALSE(s.set_gso(*Ip6Addr::parse("2001:db8::9"), true)) << "no such peer";
    ASSERT_TRUE(s.set_gso(kLoop, true));
    // 70 of 100 bytes (a run longer than 64 segments), one shorter (ends its run), 5 of 200,
    // one larger than a segment may be (alone), 3 of 100, and one of 1 byte.
    std::vector<size_t> sizes(70, 100);
    sizes.push_back(60);
    sizes.insert(sizes.end(), 5, 200);
    sizes.push_back(UdpSocket::kGsoMaxSegment + 1);
    sizes.insert(sizes.end(), 3, 100);
    sizes.push_back(1);
    std::vector<std::string> texts;
    for (size_t i = 0; i < sizes.size(); ++i) {
        std::string t(sizes[i], char('a' + i % 26));
        const std::string num = std::to_string(i);  // distinct, in order
        t.replace(0, std::min(t.size(), num.size()), num, 0, std::min(t.size(), num.size()));
        texts.push_back(t);
    }
    std::vector<Datagram> out;
    for (const auto& t : texts) out.push_back(to(kLoop, port, kLoop, t));
    ASSERT_EQ(s.send_batch(out), out.size());
    size_t in_gso = 0;
    for (const auto& d : out) {
        EXPECT_EQ(d.error, 0);
        in_gso += d.gso;
    }
    // 64 + 7 (6 of 100 and the 60), 5, 3 + 1: every datagram but the large one.
    EXPECT_EQ(in_gso, out.size() - 1);
    EXPECT_FALSE(out[76].gso) << "a datagram above kGsoMaxSegment goes alone";
    EXPECT_EQ(receive(s, texts.size()), texts);

    // Turned off: datagram by datagram again.
    ASSERT_TRUE(s.set_gso(kLoop, false));
    out = {to(kLoop, port, kLoop, texts[0]), to(kLoop, port, kLoop, texts[1])};
    ASSERT_EQ(s.send_batch(out), 2u);
    EXPECT_FALSE(out[0].gso || out[1].gso);
    EXPECT_EQ(receive(s, 2), (std::vector<std::string>{texts[0], texts[1]}));
}

TEST(UdpGsoChoice, AutoOnlyWhereTheKernelSegmentsBeforeTheInterface) {
    const Offloads hw{true, true}, sw{false, true}, nocsum{false, false};
    EXPECT_FALSE(choose_gso(GsoMode::Auto, "veth0", hw).on);
    EXPECT_NE(choose_gso(GsoMode::Auto, "veth0", hw).why.find("tx-udp-segmentation on"), std::string::npos);
    EXPECT_TRUE(choose_gso(GsoMode::Auto, "eth0", sw).on);
    EXPECT_FALSE(choose_gso(GsoMode::Auto, "eth0", nocsum).on);
    EXPECT_FALSE(choose_gso(GsoMode::Auto, "eth0", std::nullopt).on) << "features unknown: off";
    EXPECT_TRUE(choose_gso(GsoMode::On, "veth0", hw).on);
    EXPECT_TRUE(choose_gso(GsoMode::On, "", std::nullopt).on);
    EXPECT_FALSE(choose_gso(GsoMode::Off, "eth0", sw).on);
}

TEST(UdpGsoChoice, ReadsLoopbackFeaturesAndRoute) {
    std::string err;
    // Loopback segments UDP itself (it hands the large datagram to the receiving socket).
    auto f = read_offloads("lo", err);
    ASSERT_TRUE(f) << err;
    EXPECT_TRUE(f->udp_segmentation);
    EXPECT_FALSE(choose_gso(GsoMode::Auto, "lo", f).on);
    EXPECT_FALSE(read_offloads("no-such-if0", err));
    EXPECT_FALSE(err.empty());
    if (!have_loopback_v6()) GTEST_SKIP() << "no ::1";
    auto oif = route_interface(kLoop, err);
    ASSERT_TRUE(oif) << err;
    EXPECT_EQ(*oif, 1u) << "::1 is routed out of lo";
}

}  // namespace
}  // namespace regrelay::capture
