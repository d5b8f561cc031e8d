// capture::UdpSocket on loopback: connected peers (one socket per server, sharing the main
// socket's port) and the exclusive bind of the main socket they must not weaken.
#include "capture/udp_socket.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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

}  // namespace
}  // namespace regrelay::capture
