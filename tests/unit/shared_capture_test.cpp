// Unit tests for the shared capture (capture/shared_capture.h): the 802.1Q tag put back from the
// packet's metadata, the served-ifindex set, and one live read on loopback (frames of a served
// interface handed out once, of an unserved one dropped as foreign; skipped without CAP_NET_RAW).

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "capture/frame.h"
#include "capture/shared_capture.h"
#include "tests/unit/test_util.h"

namespace {

using namespace regrelay;
using regrelay::test::ByteVec;
using regrelay::test::hexb;

// A frame as built with its tags, and the same frame as the kernel hands it to a packet socket:
// the outer tag moved into the metadata (bytes 12..15 removed).
struct Tagged {
    std::vector<uint8_t> wire, stripped;
};

Tagged tagged_frame(uint8_t n_vlans) {
    frame::BuildSpec s;
    s.src_mac = *MacAddr::parse("02:00:00:00:00:01");
    s.dst_mac = *MacAddr::parse("33:33:00:01:00:02");
    s.n_vlans = n_vlans;
    s.vlan_tci[0] = 0x2064;  // PCP 1, VLAN 100
    s.vlan_tci[1] = 200;
    if (n_vlans == 2) s.vlan_tpid[0] = 0x88a8;
    s.src = *Ip6Addr::parse("fe80::1");
    s.dst = *Ip6Addr::parse("ff02::1:2");
    s.sport = 546;
    s.dport = 547;
    const ByteVec payload = hexb("01 123456 0008 0002 0000");
    Tagged t;
    EXPECT_TRUE(frame::build(s, payload, t.wire));
    t.stripped = t.wire;
    t.stripped.erase(t.stripped.begin() + 12, t.stripped.begin() + 16);
    return t;
}

TEST(SharedCapture, ReinsertsTheTagTheKernelMovedIntoTheMetadata) {
    const Tagged t = tagged_frame(1);
    std::vector<uint8_t> out;
    ASSERT_TRUE(capture::reinsert_vlan_tag(t.stripped, 0x8100, 0x2064, out));
    EXPECT_EQ(out, t.wire);  // byte for byte the frame as sent
    frame::Frame f;
    ASSERT_TRUE(frame::parse(out, frame::kLinkEthernet, f).ok());
    EXPECT_EQ(f.n_vlans, 1);
    EXPECT_EQ(f.vlan_id(0), 100);
    EXPECT_EQ(f.vlan_tci[0] >> 13, 1);
    EXPECT_EQ(f.dport, 547);
}

TEST(SharedCapture, ReinsertsTheOuterTagOfQinQInFrontOfTheInnerOne) {
    const Tagged t = tagged_frame(2);
    std::vector<uint8_t> out;
    ASSERT_TRUE(capture::reinsert_vlan_tag(t.stripped, 0x88a8, 0x2064, out));
    EXPECT_EQ(out, t.wire);
    frame::Frame f;
    ASSERT_TRUE(frame::parse(out, frame::kLinkEthernet, f).ok());
    EXPECT_EQ(f.n_vlans, 2);
    EXPECT_EQ(f.vlan_tpid[0], 0x88a8);
    EXPECT_EQ(f.vlan_id(0), 100);
    EXPECT_EQ(f.vlan_id(1), 200);
}

TEST(SharedCapture, LeavesAFrameShorterThanTwoMacsAlone) {
    const ByteVec runt = hexb("3333000100020200000000");  // 11 bytes
    std::vector<uint8_t> out = {1, 2, 3};
    EXPECT_FALSE(capture::reinsert_vlan_tag(runt, 0x8100, 10, out));
    EXPECT_EQ(out, (std::vector<uint8_t>{1, 2, 3}));
    const ByteVec macs = hexb("333300010002 020000000001");  // exactly 12: the tag goes last
    ASSERT_TRUE(capture::reinsert_vlan_tag(macs, 0x8100, 10, out));
    EXPECT_EQ(out, hexb("333300010002 020000000001 8100 000a"));
}

TEST(SharedCapture, IfindexSetServesAnIfindexUntilEveryAddIsRemoved) {
    capture::IfindexSet s;
    EXPECT_FALSE(s.contains(7));
    s.add(7);
    s.add(3);
    s.add(12);
    EXPECT_EQ(s.list(), (std::vector<unsigned>{3, 7, 12}));
    EXPECT_TRUE(s.contains(3));
    EXPECT_FALSE(s.contains(4));
    // A port reopened before its old membership is gone (flap): served once, until both go.
    s.add(7);
    EXPECT_EQ(s.size(), 3u);
    EXPECT_TRUE(s.remove(7));
    EXPECT_TRUE(s.contains(7));
    EXPECT_TRUE(s.remove(7));
    EXPECT_FALSE(s.contains(7));
    EXPECT_FALSE(s.remove(7));
    EXPECT_EQ(s.list(), (std::vector<unsigned>{3, 12}));
}

uint64_t mono_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

// Sends `n` UDP datagrams to [::1]:port and reads the shared capture for up to 2 s (the kernel
// hands a block over after its 1 ms timeout) until `n` frames came or the time is up.
size_t send_and_read(capture::SharedCapture& c, uint16_t port, int n, std::vector<unsigned>& ifindexes) {
    const int s = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(s, 0);
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_addr = in6addr_loopback;
    to.sin6_port = htons(port);
    for (int i = 0; i < n; ++i) {
        const uint8_t msg[4] = {1, 0, 0, uint8_t(i)};
        EXPECT_EQ(::sendto(s, msg, sizeof msg, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to), 4);
    }
    ::close(s);
    size_t got = 0;
    const uint64_t deadline = mono_ms() + (n ? 2000 : 100);  // 0: wait for anything late
    while (mono_ms() < deadline && (n == 0 || got < size_t(n))) {
        pollfd p{c.fd(), POLLIN, 0};
        ::poll(&p, 1, 100);
        capture::SharedFrame f;
        while (c.next(f) == capture::ReadStatus::kPacket) {
            ++got;
            ifindexes.push_back(f.ifindex);
        }
    }
    return got;
}

TEST(SharedCapture, HandsOutFramesOfServedInterfacesOnlyOnce) {
    const unsigned lo = if_nametoindex("lo");
    if (!lo) GTEST_SKIP() << "no lo";
    // Only our own datagrams: a port number no test of the suite uses, to [::1].
    const uint16_t port = uint16_t(40000 + ::getpid() % 20000);
    capture::SharedOptions o;
    o.filter = "ip6 and udp dst port " + std::to_string(port) + " and dst host ::1";
    o.blocks = 4;
    std::string err;
    auto c = capture::SharedCapture::open("lo", o, err);
    if (!c) GTEST_SKIP() << "shared capture not available here: " << err;
    {
        auto member = c->membership(lo, "lo");
        EXPECT_TRUE(c->serves(lo));
        std::vector<unsigned> idx;
        // Each datagram crosses lo once out and once in: PACKET_IGNORE_OUTGOING keeps one copy.
        EXPECT_EQ(send_and_read(*c, port, 5, idx), 5u);
        EXPECT_EQ(idx, std::vector<unsigned>(5, lo));
        // Nothing more comes (no second copy).
        idx.clear();
        EXPECT_EQ(send_and_read(*c, port, 0, idx), 0u);
        EXPECT_EQ(c->stats().frames, 5u);
    }
    // The membership is gone: lo's frames are foreign now.
    EXPECT_FALSE(c->serves(lo));
    std::vector<unsigned> idx;
    EXPECT_EQ(send_and_read(*c, port, 3, idx), 0u);
    const uint64_t deadline = mono_ms() + 2000;  // the three are counted once their block is read
    while (c->stats().foreign < 3 && mono_ms() < deadline) {
        pollfd p{c->fd(), POLLIN, 0};
        ::poll(&p, 1, 100);
        capture::SharedFrame f;
        EXPECT_NE(c->next(f), capture::ReadStatus::kPacket);
    }
    EXPECT_EQ(c->stats().foreign, 3u);
    EXPECT_EQ(c->stats().outgoing, 0u);
    EXPECT_EQ(c->kernel_drops(), 0u);
}

}  // namespace
