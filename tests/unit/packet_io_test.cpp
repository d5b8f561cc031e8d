// Unit tests for packet sources and sinks (capture/packet_io.h): pcap files written and read
// back, and the failure paths of files, live capture and injection.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "capture/frame.h"
#include "capture/control.h"
#include "capture/packet_io.h"
#include "tests/unit/test_util.h"

namespace {

using namespace regrelay;
using namespace regrelay::capture;
using regrelay::test::ByteVec;
using regrelay::test::hexb;
using regrelay::test::to_hex;

namespace fs = std::filesystem;

class PacketIoTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "regrelay-pio-XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    fs::path dir_;
};

struct Rec {
    Timestamp ts;
    ByteVec data;
};

// Frames of different sizes, with nanosecond timestamps that a microsecond file would lose.
std::vector<Rec> sample_records() {
    return {
        {{1700000000, 123456789}, hexb("333300010002 020000000001 86dd 60000000 0000 1101")},
        {{1700000001, 1}, ByteVec(1, 0x42)},
        {{1700000001, 999999999}, ByteVec(1500, 0xa5)},
        {{0, 0}, hexb("00")},
        {{2000000000, 500000000}, ByteVec(64, 0)},
    };
}

void write_file(const std::string& p, const std::vector<Rec>& recs, int linktype) {
    std::string err;
    auto w = open_pcap_writer(p, linktype, err);
    ASSERT_NE(w, nullptr) << err;
    for (const auto& r : recs) ASSERT_TRUE(w->write(r.ts, r.data)) << w->error();
    w->flush();
}

void read_back_and_compare(const std::string& p, const std::vector<Rec>& recs, int linktype) {
    std::string err;
    auto src = open_file(p, err);
    ASSERT_NE(src, nullptr) << err;
    EXPECT_EQ(src->linktype(), linktype);
    EXPECT_EQ(src->name(), p);
    EXPECT_EQ(src->selectable_fd(), -1);
    Packet pkt;
    for (size_t i = 0; i < recs.size(); ++i) {
        ASSERT_EQ(src->next(pkt), ReadStatus::kPacket) << "record " << i << ": " << src->error();
        EXPECT_EQ(pkt.ts.sec, recs[i].ts.sec) << i;
        EXPECT_EQ(pkt.ts.nsec, recs[i].ts.nsec) << i;
        EXPECT_EQ(pkt.wire_len, recs[i].data.size()) << i;
        EXPECT_EQ(to_hex(pkt.data), to_hex(recs[i].data)) << i;
    }
    EXPECT_EQ(src->next(pkt), ReadStatus::kEnd);
    EXPECT_TRUE(src->error().empty()) << src->error();
}

TEST_F(PacketIoTest, WriteThenReadEthernet) {
    auto recs = sample_records();
    write_file(path("eth.pcap"), recs, frame::kLinkEthernet);
    read_back_and_compare(path("eth.pcap"), recs, frame::kLinkEthernet);
}

TEST_F(PacketIoTest, LinkTypeKept) {
    auto recs = sample_records();
    for (int lt : {frame::kLinkEthernet, frame::kLinkLinuxSll, frame::kLinkRaw, frame::kLinkIpv6}) {
        SCOPED_TRACE(lt);
        std::string p = path("lt" + std::to_string(lt) + ".pcap");
        write_file(p, recs, lt);
        read_back_and_compare(p, recs, lt);
    }
}

TEST_F(PacketIoTest, FileHeaderIsNanosecondPcap) {
    // Classic pcap with the nanosecond magic 0xa1b23c4d (in host order), version 2.4, and the
    // link type in the last header word (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap).
    std::string p = path("hdr.pcap");
    write_file(p, {{{1, 2}, hexb("0102")}}, frame::kLinkEthernet);
    std::ifstream in(p, std::ios::binary);
    ByteVec bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_EQ(bytes.size(), 24u + 16 + 2);
    auto le32 = [&](size_t at) {
        return uint32_t(bytes[at]) | uint32_t(bytes[at + 1]) << 8 | uint32_t(bytes[at + 2]) << 16 |
               uint32_t(bytes[at + 3]) << 24;
    };
    auto be32 = [&](size_t at) {
        return uint32_t(bytes[at]) << 24 | uint32_t(bytes[at + 1]) << 16 | uint32_t(bytes[at + 2]) << 8 |
               uint32_t(bytes[at + 3]);
    };
    bool little = le32(0) == 0xa1b23c4d;
    ASSERT_TRUE(little || be32(0) == 0xa1b23c4d) << to_hex(ByteVec(bytes.begin(), bytes.begin() + 4));
    auto rd = [&](size_t at) { return little ? le32(at) : be32(at); };
    EXPECT_EQ(rd(20), 1u);          // LINKTYPE_ETHERNET
    EXPECT_EQ(rd(24), 1u);          // ts seconds
    EXPECT_EQ(rd(28), 2u);          // ts nanoseconds
    EXPECT_EQ(rd(32), 2u);          // captured length
    EXPECT_EQ(rd(36), 2u);          // original length
    EXPECT_EQ(bytes[40], 0x01);
    EXPECT_EQ(bytes[41], 0x02);
}

// The link type stored in a classic pcap file's header (offset 20), either byte order.
uint32_t stored_linktype(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    ByteVec h(24);
    in.read(reinterpret_cast<char*>(h.data()), 24);
    if (!in) return 0;
    bool little = h[0] == 0x4d && h[1] == 0x3c && h[2] == 0xb2 && h[3] == 0xa1;
    if (little) return uint32_t(h[20]) | uint32_t(h[21]) << 8 | uint32_t(h[22]) << 16 | uint32_t(h[23]) << 24;
    return uint32_t(h[20]) << 24 | uint32_t(h[21]) << 16 | uint32_t(h[22]) << 8 | uint32_t(h[23]);
}

TEST_F(PacketIoTest, FileStoresLinktypeValues) {
    // The file must carry the LINKTYPE_ number itself (https://www.tcpdump.org/linktypes.html),
    // e.g. 101 for raw IP, so other tools read it the same way.
    for (int lt : {frame::kLinkEthernet, frame::kLinkRaw, frame::kLinkLinuxSll, frame::kLinkIpv6}) {
        std::string p = path("stored" + std::to_string(lt) + ".pcap");
        write_file(p, {{{1, 2}, hexb("60")}}, lt);
        EXPECT_EQ(stored_linktype(p), uint32_t(lt));
    }
}

TEST_F(PacketIoTest, RawIpFileParses) {
    // A raw-IP capture read back gives a link type the frame layer accepts.
    frame::BuildSpec s;
    s.src = *Ip6Addr::parse("fe80::1");
    s.dst = *Ip6Addr::parse("ff02::1:2");
    s.sport = 546;
    s.dport = 547;
    ByteVec pkt;
    ASSERT_TRUE(frame::build_ipv6(s, hexb("01 123456"), pkt));
    std::string p = path("raw.pcap");
    write_file(p, {{{10, 20}, pkt}}, frame::kLinkRaw);
    std::string err;
    auto src = open_file(p, err);
    ASSERT_NE(src, nullptr) << err;
    Packet rec;
    ASSERT_EQ(src->next(rec), ReadStatus::kPacket);
    frame::Frame f;
    frame::ParseResult r = frame::parse(rec.data, src->linktype(), f);
    ASSERT_TRUE(r.ok()) << frame::drop_name(r.drop);
    EXPECT_EQ(to_hex(f.payload), "01123456");
}

TEST_F(PacketIoTest, EmptyFile) {
    std::string p = path("empty.pcap");
    write_file(p, {}, frame::kLinkEthernet);
    read_back_and_compare(p, {}, frame::kLinkEthernet);
}

TEST_F(PacketIoTest, OpenFileMissing) {
    std::string err;
    auto src = open_file(path("does-not-exist.pcap"), err);
    EXPECT_EQ(src, nullptr);
    EXPECT_FALSE(err.empty());
    EXPECT_NE(err.find("does-not-exist.pcap"), std::string::npos) << err;
}

TEST_F(PacketIoTest, OpenFileNotPcap) {
    std::string p = path("text.pcap");
    {
        std::ofstream out(p, std::ios::binary);
        out << "this is not a capture file, just some text long enough for a header\n";
    }
    std::string err;
    auto src = open_file(p, err);
    EXPECT_EQ(src, nullptr);
    EXPECT_FALSE(err.empty());
    // An empty file is not a capture either.
    std::string e = path("zero.pcap");
    { std::ofstream out(e, std::ios::binary); }
    std::string err2;
    EXPECT_EQ(open_file(e, err2), nullptr);
    EXPECT_FALSE(err2.empty());
}

TEST_F(PacketIoTest, TruncatedRecordIsAnError) {
    std::string p = path("trunc.pcap");
    write_file(p, {{{5, 6}, ByteVec(100, 0x11)}}, frame::kLinkEthernet);
    fs::resize_file(p, 24 + 16 + 50);
    std::string err;
    auto src = open_file(p, err);
    ASSERT_NE(src, nullptr) << err;
    Packet pkt;
    EXPECT_EQ(src->next(pkt), ReadStatus::kError);
    EXPECT_FALSE(src->error().empty());
}

TEST_F(PacketIoTest, WriterToBadPathFails) {
    std::string err;
    auto w = open_pcap_writer(path("no/such/dir/out.pcap"), frame::kLinkEthernet, err);
    EXPECT_EQ(w, nullptr);
    EXPECT_FALSE(err.empty());
}

// --write files hold MACs and DUIDs: created for the owner only, whatever the umask allows.
TEST_F(PacketIoTest, WriterCreatesFileMode0600) {
    for (bool buffered : {false, true}) {
        std::string p = path(buffered ? "mode-b.pcap" : "mode.pcap");
        std::string err;
        auto w = open_pcap_writer(p, frame::kLinkEthernet, err, buffered);
        ASSERT_NE(w, nullptr) << err;
        struct stat st {};
        ASSERT_EQ(::stat(p.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0600u) << std::oct << (st.st_mode & 07777);
    }
}

// A full disk is reported, not swallowed: /dev/full fails with ENOSPC.
TEST_F(PacketIoTest, WriterToDevFullFails) {
    for (bool buffered : {false, true}) {
        SCOPED_TRACE(buffered);
        std::string err;
        auto w = open_pcap_writer("/dev/full", frame::kLinkEthernet, err, buffered);
        if (w) {
            // Had the header been accepted, frames must fail by the flush at the latest.
            bool ok = true;
            for (int i = 0; i < 10 && ok; ++i) ok = w->write({1, 2}, ByteVec(100, 0x11));
            if (ok) ok = w->flush();
            EXPECT_FALSE(ok);
            err = w->error();
        }
        EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
    }
}

// A write that fails part-way (here: the file size limit, EFBIG) fails that write() with the
// reason, and the file still ends on a record boundary: everything before it reads back.
TEST_F(PacketIoTest, WriterReportsFailedWriteAndKeepsFileReadable) {
    std::string p = path("limit.pcap");
    std::string err;
    auto w = open_pcap_writer(p, frame::kLinkEthernet, err);
    ASSERT_NE(w, nullptr) << err;
    struct rlimit old {};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_handler = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old;
    lim.rlim_cur = 1000;  // header 24, then 16 + 100 per record: the 9th record crosses it
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int written = 0;
    bool failed = false;
    for (int i = 0; i < 20 && !failed; ++i) {
        if (w->write({i, 0}, ByteVec(100, uint8_t(i)))) ++written;
        else failed = true;
    }
    std::string why = w->error();
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    ASSERT_TRUE(failed);
    EXPECT_EQ(written, 8);
    EXPECT_NE(why.find("File too large"), std::string::npos) << why;
    w.reset();
    EXPECT_EQ(fs::file_size(p), 24u + 8 * 116);
    auto src = open_file(p, err);
    ASSERT_NE(src, nullptr) << err;
    Packet pkt;
    for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(src->next(pkt), ReadStatus::kPacket) << i << ": " << src->error();
        EXPECT_EQ(pkt.ts.sec, i);
    }
    EXPECT_EQ(src->next(pkt), ReadStatus::kEnd) << src->error();
}

// Log rotation: reopen() appends to a pcap of the same link type at the path, creates a new file
// when the old one was moved away, and refuses (keeping the open file) a file it cannot extend.
TEST_F(PacketIoTest, WriterReopenAppendsOrCreates) {
    for (bool buffered : {false, true}) {
        SCOPED_TRACE(buffered);
        std::string p = path(buffered ? "rot-b.pcap" : "rot.pcap"), err;
        auto recs = sample_records();
        auto w = open_pcap_writer(p, frame::kLinkLinuxSll2, err, buffered);
        ASSERT_NE(w, nullptr) << err;
        ASSERT_TRUE(w->write(recs[0].ts, recs[0].data));
        ASSERT_TRUE(w->write(recs[1].ts, recs[1].data));
        ASSERT_TRUE(w->reopen(err)) << err;
        ASSERT_TRUE(w->write(recs[2].ts, recs[2].data));
        ASSERT_TRUE(w->flush());
        read_back_and_compare(p, {recs[0], recs[1], recs[2]}, frame::kLinkLinuxSll2);

        // Rotated away (logrotate's rename): the reopened writer starts a new file, mode 0600.
        ASSERT_EQ(::rename(p.c_str(), (p + ".1").c_str()), 0);
        ASSERT_TRUE(w->reopen(err)) << err;
        ASSERT_TRUE(w->write(recs[3].ts, recs[3].data));
        ASSERT_TRUE(w->flush());
        read_back_and_compare(p, {recs[3]}, frame::kLinkLinuxSll2);
        read_back_and_compare(p + ".1", {recs[0], recs[1], recs[2]}, frame::kLinkLinuxSll2);
        struct stat st {};
        ASSERT_EQ(::stat(p.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0600u);

        // Replaced by something else: not appended to, and writing goes on to the open file.
        ASSERT_EQ(::rename(p.c_str(), (p + ".2").c_str()), 0);
        write_file(p, {recs[4]}, frame::kLinkEthernet);
        EXPECT_FALSE(w->reopen(err));
        EXPECT_NE(err.find("link type 1"), std::string::npos) << err;
        ASSERT_TRUE(w->write(recs[4].ts, recs[4].data));
        ASSERT_TRUE(w->flush());
        read_back_and_compare(p + ".2", {recs[3], recs[4]}, frame::kLinkLinuxSll2);
        read_back_and_compare(p, {recs[4]}, frame::kLinkEthernet);
    }
}

// Buffered and unbuffered writers give the same file.
TEST_F(PacketIoTest, BufferedWriterSameBytes) {
    auto recs = sample_records();
    for (int i = 0; i < 200; ++i) recs.push_back({{i, uint32_t(i)}, ByteVec(700, uint8_t(i))});  // > 64 KiB
    std::string err;
    for (bool buffered : {false, true}) {
        auto w = open_pcap_writer(path(buffered ? "b.pcap" : "u.pcap"), frame::kLinkEthernet, err, buffered);
        ASSERT_NE(w, nullptr) << err;
        for (const auto& r : recs) ASSERT_TRUE(w->write(r.ts, r.data)) << w->error();
        ASSERT_TRUE(w->flush()) << w->error();
    }
    std::ifstream a(path("u.pcap"), std::ios::binary), b(path("b.pcap"), std::ios::binary);
    std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
    EXPECT_EQ(sa.size(), 24 + 16 * recs.size() + 22 + 1 + 1500 + 1 + 64 + 200 * 700);
    EXPECT_TRUE(sa == sb);
    read_back_and_compare(path("b.pcap"), recs, frame::kLinkEthernet);
}

TEST(PacketIoLive, OpenLiveNoSuchInterface) {
    std::string err;
    auto src = open_live("rr-nosuch0", LiveOptions{}, err);
    EXPECT_EQ(src, nullptr);
    EXPECT_NE(err.find("no such interface"), std::string::npos) << err;
    EXPECT_NE(err.find("rr-nosuch0"), std::string::npos) << err;
}

TEST(PacketIoLive, OpenInjectorNoSuchInterface) {
    std::string err;
    auto sink = open_injector("rr-nosuch0", err);
    EXPECT_EQ(sink, nullptr);
    EXPECT_FALSE(err.empty());
    EXPECT_NE(err.find("rr-nosuch0"), std::string::npos) << err;
}

TEST(PacketIoLive, BpfFilterCoversTaggedAndUntagged) {
    std::string f = dhcp6_bpf_filter();
    EXPECT_NE(f.find("port 546"), std::string::npos);
    EXPECT_NE(f.find("port 547"), std::string::npos);
    EXPECT_NE(f.find("vlan and vlan"), std::string::npos);
    EXPECT_EQ(LiveOptions{}.filter, f);
}

}  // namespace

// --- WakeCoalescer: fewer, fuller wake-ups under load, none held on a quiet link ---------------

using regrelay::capture::WakeCoalescer;

TEST(WakeCoalescer, QuietLinkIsNeverHeld) {
    WakeCoalescer c(500000);
    // 1,000 messages/s: wake-ups 1 ms apart, each with one message: block in poll() every time.
    for (uint64_t t = 1000000; t < 20000000; t += 1000000) EXPECT_EQ(c.after_wake(t, 1), 0u) << t;
}

TEST(WakeCoalescer, LoadIsHeldUntilAHoldFindsNothing) {
    WakeCoalescer c(500000);
    EXPECT_EQ(c.after_wake(1000000, 1), 0u);  // first message after a quiet time: at once
    // The next one 20 us later: under load, sleep until 500 us after this wake-up.
    EXPECT_EQ(c.after_wake(1020000, 1), 1520000u);
    // After the hold: what came meanwhile is handled, and the load holds again (even though this
    // wake-up is a whole hold after the previous one).
    EXPECT_EQ(c.after_wake(1520100, 25), 2020100u);
    EXPECT_EQ(c.after_wake(2020200, 25), 2520200u);
    // A hold that finds nothing ends it: block in poll() again.
    EXPECT_EQ(c.after_wake(2520300, 0), 0u);
    // The next message, long after: handled at once, not held.
    EXPECT_EQ(c.after_wake(9000000, 1), 0u);
}

TEST(WakeCoalescer, EventsWithoutMessagesDoNotHold) {
    WakeCoalescer c(500000);
    EXPECT_EQ(c.after_wake(1000000, 0), 0u);  // a signal or a netlink event
    EXPECT_EQ(c.after_wake(1000100, 0), 0u);
    EXPECT_EQ(c.after_wake(1000200, 3), 0u);  // the first wake-up with messages is never held
}

TEST(WakeCoalescer, ZeroTurnsItOff) {
    WakeCoalescer c(0);
    for (uint64_t t = 1000000; t < 1100000; t += 1000) EXPECT_EQ(c.after_wake(t, 64), 0u);
}

TEST(WakeCoalescer, SleepUntilWaitsForTheDeadline) {
    const uint64_t t0 = regrelay::capture::monotonic_ns();
    regrelay::capture::sleep_until_ns(t0 + 2000000);
    EXPECT_GE(regrelay::capture::monotonic_ns(), t0 + 2000000);
    regrelay::capture::sleep_until_ns(t0);  // a deadline in the past returns at once
}

TEST(RingBytes, EightMiBUpToEightPortsThenABudgetWithAFloor) {
    EXPECT_EQ(regrelay::capture::ring_bytes_per_port(1), 8 << 20);
    EXPECT_EQ(regrelay::capture::ring_bytes_per_port(8), 8 << 20);
    EXPECT_EQ(regrelay::capture::ring_bytes_per_port(16), 4 << 20);
    EXPECT_EQ(regrelay::capture::ring_bytes_per_port(64), 1 << 20);
    EXPECT_EQ(regrelay::capture::ring_bytes_per_port(200), 1 << 20);
    EXPECT_EQ(regrelay::capture::ring_bytes_per_port(0), 8 << 20);
}
