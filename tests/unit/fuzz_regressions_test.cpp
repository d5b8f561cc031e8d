// Replays every kept fuzz input (fuzz/seeds/<target>/ and fuzz/regressions/<target>/) through the
// code the fuzz targets run (fuzz/exercise.h), so the crashes the fuzzers found stay fixed in the
// normal and the ASan+UBSan builds, without libFuzzer. A broken property is a test failure here
// instead of an abort.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/exercise.h"
#include "fuzz/exercise_dns.h"
#include "fuzz/exercise_registrar.h"

namespace fs = std::filesystem;
namespace rf = regrelay::fuzz;
using namespace regrelay;

namespace {

struct Target {
    const char* name;
    size_t (*run)(Bytes);
};

const Target kTargets[] = {
    {"fuzz_dhcp6", rf::exercise_dhcp6},
    {"fuzz_frame", rf::exercise_frame},
    {"fuzz_dns", rf::exercise_dns},
    {"fuzz_registrar", rf::exercise_registrar},
};

const fs::path kFuzzDir = fs::path(REGRELAY_SOURCE_DIR) / "fuzz";

std::vector<uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> out;
    if (!fs::is_directory(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

void record_failure(const char* what, const char* file, int line) {
    ADD_FAILURE_AT(file, line) << "fuzz property failed: " << what;
}

class FuzzInputs : public ::testing::Test {
protected:
    void SetUp() override {
        saved_ = rf::fail_handler();
        rf::fail_handler() = record_failure;
    }
    void TearDown() override { rf::fail_handler() = saved_; }

    // Runs every file of fuzz/<kind>/<target>/; returns how many.
    size_t replay(const char* kind, const Target& t) {
        size_t n = 0;
        for (const auto& p : files_in(kFuzzDir / kind / t.name)) {
            SCOPED_TRACE(p.string());
            std::vector<uint8_t> data = read_bytes(p);
            t.run(data);
            ++n;
        }
        return n;
    }

private:
    rf::FailFn saved_ = nullptr;
};

TEST_F(FuzzInputs, SeedsPassEveryProperty) {
    for (const auto& t : kTargets) {
        SCOPED_TRACE(t.name);
        EXPECT_GT(replay("seeds", t), 5u) << "fuzz/seeds/" << t.name << " is missing (fuzz/make_seeds.py writes it)";
    }
}

TEST_F(FuzzInputs, RegressionsPassEveryProperty) {
    for (const auto& t : kTargets) {
        SCOPED_TRACE(t.name);
        replay("regressions", t);  // may be empty: nothing found yet
    }
}

// Every input directory belongs to a target this test knows, so a new fuzz target's inputs are
// not silently skipped.
TEST_F(FuzzInputs, EveryInputDirectoryIsReplayed) {
    for (const char* kind : {"seeds", "regressions"}) {
        if (!fs::is_directory(kFuzzDir / kind)) continue;
        for (const auto& e : fs::directory_iterator(kFuzzDir / kind)) {
            if (!e.is_directory()) continue;
            std::string name = e.path().filename().string();
            bool known = std::any_of(std::begin(kTargets), std::end(kTargets),
                                     [&](const Target& t) { return name == t.name; });
            EXPECT_TRUE(known) << "fuzz/" << kind << "/" << name << " has no target in fuzz_regressions_test.cpp";
        }
    }
}

// Seeds named ok-* were written by scapy (fuzz/make_seeds.py), an independent encoder: they must
// decode, and frames must pass the UDP checksum check and carry a decodable DHCPv6 payload.
TEST_F(FuzzInputs, ScapySeedsNamedOkDecode) {
    size_t n = 0;
    for (const auto& p : files_in(kFuzzDir / "seeds" / "fuzz_dhcp6")) {
        if (p.filename().string().rfind("ok-", 0) != 0) continue;
        SCOPED_TRACE(p.string());
        std::vector<uint8_t> data = read_bytes(p);
        auto m = dhcp6::decode(data);
        EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().str());
        ++n;
    }
    for (const auto& p : files_in(kFuzzDir / "seeds" / "fuzz_frame")) {
        if (p.filename().string().rfind("ok-", 0) != 0) continue;
        SCOPED_TRACE(p.string());
        std::vector<uint8_t> data = read_bytes(p);
        ASSERT_FALSE(data.empty());
        frame::Frame f;
        frame::ParseResult pr = frame::parse(Bytes(data).subspan(1), rf::linktype_for(data[0]), f, true);
        EXPECT_TRUE(pr.ok()) << frame::drop_name(pr.drop) << " at offset " << pr.offset;
        if (pr.ok()) {
            auto m = dhcp6::decode(f.payload);
            EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().str());
        }
        ++n;
    }
    EXPECT_GT(n, 10u);
}

// The largest payload a frame can carry, nested as deep as it goes (IA_NA in IA_NA ..., about
// 4000 levels): the recursive tree printer overflowed the stack in the ASan build (also kept as
// fuzz/regressions/fuzz_dhcp6/stack-overflow-deep-ia-nesting.bin); it now stops at 64 levels.
TEST_F(FuzzInputs, DeepestIaNestingInTheLargestPayload) {
    const size_t kMaxPayload = 0xffff - frame::kUdpHeaderLen;
    const size_t kLevel = dhcp6::kOptionHeaderLen + 12;
    const size_t depth = (kMaxPayload - dhcp6::kClientHeaderLen) / kLevel;
    std::vector<uint8_t> msg;
    Writer w(msg);
    w.u8(dhcp6::msg::kRequest);
    w.u24(0x010203);
    std::vector<size_t> marks;
    for (size_t i = 0; i < depth; ++i) {
        marks.push_back(w.begin_option(dhcp6::opt::kIaNa));
        w.u32(uint32_t(i));
        w.u32(0);
        w.u32(0);
    }
    for (size_t i = marks.size(); i-- > 0;) ASSERT_TRUE(w.end_option(marks[i]));
    ASSERT_LE(msg.size(), kMaxPayload);
    rf::exercise_dhcp6(msg);

    frame::BuildSpec spec;
    spec.src = *Ip6Addr::parse("fe80::1");
    spec.dst = *Ip6Addr::parse("ff02::1:2");
    spec.sport = dhcp6::kPortClient;
    spec.dport = dhcp6::kPortServer;
    std::vector<uint8_t> fr;
    ASSERT_TRUE(frame::build(spec, msg, fr));
    fr.insert(fr.begin(), 0);  // selector: Ethernet
    rf::exercise_frame(fr);

    std::string tree;
    auto m = dhcp6::decode(msg);
    ASSERT_TRUE(m.ok());
    dhcp6::append_tree(tree, *m, 0);
    EXPECT_NE(tree.find("sub-options nested too deep, not shown"), std::string::npos);
    EXPECT_LT(std::count(tree.begin(), tree.end(), '\n'), 100);
}

// The properties themselves catch what they should (a harness that checks nothing passes too).
TEST(FuzzHarness, JsonValidator) {
    EXPECT_TRUE(rf::is_valid_json(R"({"a":[1,-2.5e3,"x\"\u00e9",true,false,null],"b":{}})"));
    EXPECT_FALSE(rf::is_valid_json(R"({"a":1,})"));
    EXPECT_FALSE(rf::is_valid_json("{\"a\":\"\x01\"}"));
    EXPECT_FALSE(rf::is_valid_json(R"({"a":01})"));
    EXPECT_FALSE(rf::is_valid_json(R"({"a":"\q"})"));
    EXPECT_FALSE(rf::is_valid_json(R"({"a":1} x)"));
    EXPECT_FALSE(rf::is_valid_json(""));
}

TEST(FuzzHarness, PropertyFailureIsReported) {
    static int failures = 0;
    rf::FailFn saved = rf::fail_handler();
    rf::fail_handler() = [](const char*, const char*, int) { ++failures; };
    failures = 0;
    EXPECT_FALSE(REGRELAY_FUZZ_CHECK(1 + 1 == 3));
    EXPECT_TRUE(REGRELAY_FUZZ_CHECK(1 + 1 == 2));
    rf::fail_handler() = saved;
    EXPECT_EQ(failures, 1);
}

TEST(FuzzHarness, TerminalSafety) {
    EXPECT_TRUE(rf::is_terminal_safe("SOLICIT xid 0x00abcd\n  CLIENTID (1) len 10\n", true));
    EXPECT_FALSE(rf::is_terminal_safe("a\nb", false));
    EXPECT_FALSE(rf::is_terminal_safe("status \"\x1b[31m\"", true));
    EXPECT_FALSE(rf::is_terminal_safe("\xff", true));
}

}  // namespace
