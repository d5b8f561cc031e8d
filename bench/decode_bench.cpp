// Decode throughput (Google Benchmark). Generates once a large capture of a realistic mix
// (Solicit, Relay-forward with one and two relay levels carrying options 18 and 79,
// ADDR-REG-INFORM, Relay-reply, a third of it VLAN-tagged), built with frame::build and the codec's
// Writer, then measures in packets per second (items_per_second):
//   BM_Dhcp6Decode/<type>   dhcp6::decode of one UDP payload, per message type
//   BM_FrameParseDecode     frame::parse + dhcp6::decode over the mixed frames, in memory
//   BM_FormatFrame/<fmt>    decode::format_frame (what `regrelay decode` runs per frame), in memory
//   BM_DecodeFile/<fmt>     the whole `decode` path: capture::open_file, then next() and
//                           format_frame for every frame of the file, output into a string
//
// Extra flags (before or after the --benchmark_* ones):
//   --capture=PATH   the capture to use or create (default /tmp/regrelay-bench-decode-v1-<N>.pcap)
//   --frames=N       frames in the generated capture (default 1000000)
//   --generate-only  create the capture if missing, print its path and exit (bench/run.sh uses it)
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "capture/frame.h"
#include "capture/packet_io.h"
#include "cli/decode.h"
#include "dhcp6/dhcp6.h"

namespace {

using namespace regrelay;
namespace opt = dhcp6::opt;
namespace msg = dhcp6::msg;

// ---- the traffic mix -------------------------------------------------------------------

enum Kind : int { kSolicit, kRelayForw1, kRelayForw2, kAddrRegInform, kRelayRepl, kKinds };
const char* const kKindNames[kKinds] = {"solicit", "relay_forw_1", "relay_forw_2", "addr_reg_inform",
                                        "relay_repl"};
// Share of each kind, in percent: clients soliciting and registering, the relay's forwards,
// the server's replies.
const int kKindPercent[kKinds] = {25, 25, 10, 20, 20};

Ip6Addr ip(const char* text) { return *Ip6Addr::parse(text); }

MacAddr client_mac(uint32_t n) {
    return MacAddr{{0x02, 0x00, uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)}};
}

Ip6Addr client_ll(const MacAddr& m) {
    Ip6Addr a = ip("fe80::");
    a.b[8] = m.b[0] ^ 2;
    a.b[9] = m.b[1];
    a.b[10] = m.b[2];
    a.b[11] = 0xff;
    a.b[12] = 0xfe;
    a.b[13] = m.b[3];
    a.b[14] = m.b[4];
    a.b[15] = m.b[5];
    return a;
}

Ip6Addr client_global(uint32_t n) {
    Ip6Addr a = ip("2001:db8:1::");
    a.b[12] = uint8_t(n >> 24);
    a.b[13] = uint8_t(n >> 16);
    a.b[14] = uint8_t(n >> 8);
    a.b[15] = uint8_t(n);
    return a;
}

void write_duid_ll(Writer& w, uint16_t code, const MacAddr& mac) {
    size_t m = w.begin_option(code);
    w.u16(3);  // DUID-LL
    w.u16(1);  // Ethernet
    w.mac(mac);
    w.end_option(m);
}

void write_ia_addr(Writer& w, const Ip6Addr& a, uint32_t pref, uint32_t valid) {
    size_t m = w.begin_option(opt::kIaAddr);
    w.ip6(a);
    w.u32(pref);
    w.u32(valid);
    w.end_option(m);
}

std::vector<uint8_t> solicit(uint32_t xid, const MacAddr& mac) {
    std::vector<uint8_t> out;
    Writer w(out);
    w.u8(msg::kSolicit);
    w.u24(xid);
    write_duid_ll(w, opt::kClientId, mac);
    size_t m = w.begin_option(opt::kElapsedTime);
    w.u16(0);
    w.end_option(m);
    m = w.begin_option(opt::kIaNa);
    w.u32(1);
    w.u32(0);
    w.u32(0);
    w.end_option(m);
    m = w.begin_option(opt::kOro);
    w.u16(opt::kDnsServers);
    w.u16(24);
    w.u16(opt::kAddrRegEnable);
    w.end_option(m);
    m = w.begin_option(opt::kClientFqdn);
    w.u8(1);
    w.u8(4);
    w.bytes(std::string_view("host"));
    w.end_option(m);
    return out;
}

std::vector<uint8_t> addr_reg_inform(uint32_t xid, const MacAddr& mac, const Ip6Addr& addr) {
    std::vector<uint8_t> out;
    Writer w(out);
    w.u8(msg::kAddrRegInform);
    w.u24(xid);
    write_duid_ll(w, opt::kClientId, mac);
    write_ia_addr(w, addr, 3600, 7200);
    return out;
}

std::vector<uint8_t> advertise(uint32_t xid, const MacAddr& mac, const Ip6Addr& addr) {
    std::vector<uint8_t> out;
    Writer w(out);
    w.u8(msg::kAdvertise);
    w.u24(xid);
    write_duid_ll(w, opt::kClientId, mac);
    write_duid_ll(w, opt::kServerId, MacAddr{{0x02, 0, 0, 0, 0, 0x53}});
    size_t m = w.begin_option(opt::kIaNa);
    w.u32(1);
    w.u32(1800);
    w.u32(2880);
    write_ia_addr(w, addr, 3600, 7200);
    w.end_option(m);
    m = w.begin_option(opt::kDnsServers);
    w.ip6(ip("2001:db8:ff::53"));
    w.end_option(m);
    w.option(opt::kAddrRegEnable, {});
    return out;
}

std::vector<uint8_t> relay_forw(const std::vector<uint8_t>& inner, const Ip6Addr& link, const Ip6Addr& peer,
                                uint8_t hop, std::string_view ifid, const MacAddr* mac) {
    std::vector<uint8_t> out;
    Writer w(out);
    dhcp6::write_relay_header(w, msg::kRelayForw, hop, link, peer);
    dhcp6::write_interface_id(w, Bytes(reinterpret_cast<const uint8_t*>(ifid.data()), ifid.size()));
    if (mac) dhcp6::write_client_link_layer(w, *mac);
    w.option(opt::kRelayMsg, inner);
    return out;
}

std::vector<uint8_t> relay_repl(const std::vector<uint8_t>& inner, const Ip6Addr& link, const Ip6Addr& peer,
                                std::string_view ifid) {
    std::vector<uint8_t> out;
    Writer w(out);
    dhcp6::write_relay_header(w, msg::kRelayRepl, 0, link, peer);
    dhcp6::write_interface_id(w, Bytes(reinterpret_cast<const uint8_t*>(ifid.data()), ifid.size()));
    w.option(opt::kRelayMsg, inner);
    return out;
}

// Builds frame number `i` of the mix (deterministic for a given generator state).
class Mix {
public:
    explicit Mix(uint32_t seed = 20261121) : rng_(seed) {}

    // The UDP payload of one message of `kind`.
    std::vector<uint8_t> payload(Kind kind, uint32_t n, frame::BuildSpec& s) {
        MacAddr mac = client_mac(n % 50000);
        uint32_t xid = n & 0xffffff;
        const Ip6Addr relay_link = ip("2001:db8:1::1"), relay2_link = ip("2001:db8:2::1"),
                      server = ip("2001:db8:ff::53"), all_agents = ip("ff02::1:2");
        std::string ifid = "ge-0/0/" + std::to_string(n % 48);
        s = frame::BuildSpec{};
        switch (kind) {
            case kSolicit:
            case kAddrRegInform:
                s.src_mac = mac;
                s.dst_mac = frame::multicast_mac(all_agents);
                s.src = client_ll(mac);
                s.dst = all_agents;
                s.hop_limit = 1;
                s.sport = dhcp6::kPortClient;
                s.dport = dhcp6::kPortServer;
                return kind == kSolicit ? solicit(xid, mac) : addr_reg_inform(xid, mac, client_global(n % 50000));
            case kRelayForw1:
            case kRelayForw2: {
                auto inner = (n & 1) ? solicit(xid, mac) : addr_reg_inform(xid, mac, client_global(n % 50000));
                auto p = relay_forw(inner, relay_link, client_ll(mac), 0, ifid, &mac);
                if (kind == kRelayForw2) p = relay_forw(p, relay2_link, relay_link, 1, "uplink-2", nullptr);
                s.src_mac = MacAddr{{0x02, 0, 0, 0, 0, 0xfe}};
                s.dst_mac = MacAddr{{0x02, 0, 0, 0, 0, 0x53}};
                s.src = kind == kRelayForw2 ? relay2_link : relay_link;
                s.dst = server;
                s.hop_limit = 64;
                s.sport = dhcp6::kPortServer;
                s.dport = dhcp6::kPortServer;
                return p;
            }
            case kRelayRepl:
            default:
                s.src_mac = MacAddr{{0x02, 0, 0, 0, 0, 0x53}};
                s.dst_mac = MacAddr{{0x02, 0, 0, 0, 0, 0xfe}};
                s.src = server;
                s.dst = relay_link;
                s.hop_limit = 64;
                s.sport = dhcp6::kPortServer;
                s.dport = dhcp6::kPortServer;
                return relay_repl(advertise(xid, mac, client_global(n % 50000)), relay_link, client_ll(mac), ifid);
        }
    }

    Kind pick() {
        int r = int(rng_() % 100);
        for (int k = 0; k < kKinds; ++k) {
            if (r < kKindPercent[k]) return Kind(k);
            r -= kKindPercent[k];
        }
        return kRelayRepl;
    }

    // One whole Ethernet frame: 30% one 802.1Q tag, 5% two (QinQ).
    Kind frame(uint32_t n, std::vector<uint8_t>& out) {
        Kind kind = pick();
        frame::BuildSpec s;
        std::vector<uint8_t> p = payload(kind, n, s);
        int v = int(rng_() % 100);
        if (v < 35) {
            s.n_vlans = v < 5 ? 2 : 1;
            s.vlan_tci[0] = uint16_t(100 + n % 16);
            s.vlan_tci[1] = uint16_t(200 + n % 8);
            if (s.n_vlans == 2) s.vlan_tpid[0] = frame::kEtherQinQ;
        }
        frame::build(s, p, out);
        return kind;
    }

private:
    std::mt19937 rng_;
};

// ---- the generated capture -------------------------------------------------------------

std::string g_capture;
uint64_t g_frames = 1000000;

void die(const std::string& what) {
    std::fprintf(stderr, "regrelay_bench_decode: %s\n", what.c_str());
    std::exit(2);
}

// Creates the capture once (written aside and renamed, so an interrupted run leaves nothing).
void ensure_capture() {
    if (std::filesystem::exists(g_capture)) return;
    std::string tmp = g_capture + ".tmp" + std::to_string(getpid());
    std::string err;
    auto sink = capture::open_pcap_writer(tmp, frame::kLinkEthernet, err);
    if (!sink) die(err);
    Mix mix;
    std::vector<uint8_t> f;
    capture::Timestamp ts{1763733780, 0};
    for (uint64_t i = 0; i < g_frames; ++i) {
        mix.frame(uint32_t(i), f);
        ts.nsec += 250000;  // 4000 packets/s
        if (ts.nsec >= 1000000000) {
            ts.nsec -= 1000000000;
            ++ts.sec;
        }
        if (!sink->write(ts, f)) die(sink->error());
    }
    sink.reset();
    std::filesystem::rename(tmp, g_capture);
}

// In-memory frames for the benchmarks that leave file reading out.
const std::vector<std::vector<uint8_t>>& mixed_frames() {
    static const std::vector<std::vector<uint8_t>> frames = [] {
        std::vector<std::vector<uint8_t>> v(65536);
        Mix mix;
        for (size_t i = 0; i < v.size(); ++i) mix.frame(uint32_t(i), v[i]);
        return v;
    }();
    return frames;
}

// ---- benchmarks ------------------------------------------------------------------------

void BM_Dhcp6Decode(benchmark::State& state, Kind kind) {
    Mix mix;
    std::vector<std::vector<uint8_t>> payloads(1024);
    frame::BuildSpec s;
    size_t bytes = 0;
    for (size_t i = 0; i < payloads.size(); ++i) {
        payloads[i] = mix.payload(kind, uint32_t(i), s);
        bytes += payloads[i].size();
    }
    if (!dhcp6::decode(payloads[0]).ok()) state.SkipWithError("generated payload does not decode");
    size_t i = 0;
    for (auto _ : state) {
        auto m = dhcp6::decode(payloads[i++ & 1023]);
        benchmark::DoNotOptimize(m);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(int64_t(state.iterations() * (bytes / payloads.size())));
}

void BM_FrameParseDecode(benchmark::State& state) {
    const auto& frames = mixed_frames();
    size_t i = 0, bad = 0;
    for (auto _ : state) {
        frame::Frame f;
        frame::ParseResult pr = frame::parse(frames[i++ & 65535], frame::kLinkEthernet, f);
        if (!pr.ok()) {
            ++bad;
            continue;
        }
        auto m = dhcp6::decode(f.payload);
        benchmark::DoNotOptimize(m);
    }
    if (bad) state.SkipWithError("generated frame does not parse");
    state.SetItemsProcessed(state.iterations());
}

void BM_FormatFrame(benchmark::State& state, decode::Format fmt) {
    const auto& frames = mixed_frames();
    decode::Stats st;
    std::string line;
    capture::Packet p;
    p.ts = {1763733780, 0};
    size_t i = 0, out_bytes = 0;
    for (auto _ : state) {
        const auto& f = frames[i++ & 65535];
        p.data = f;
        p.wire_len = uint32_t(f.size());
        line.clear();
        decode::format_frame(line, p, frame::kLinkEthernet, fmt, st.frames + 1, st);
        out_bytes += line.size();
        benchmark::DoNotOptimize(line.data());
    }
    if (st.malformed || st.skipped) state.SkipWithError("generated frames are malformed or skipped");
    state.SetItemsProcessed(state.iterations());
    state.counters["out_bytes_per_pkt"] = double(out_bytes) / double(std::max<int64_t>(1, state.iterations()));
}

// What `regrelay decode FILE` does, output kept in memory instead of written to stdout.
void BM_DecodeFile(benchmark::State& state, decode::Format fmt) {
    ensure_capture();
    uint64_t frames = 0, dhcp = 0;
    size_t out_bytes = 0;
    for (auto _ : state) {
        std::string err;
        auto src = capture::open_file(g_capture, err);
        if (!src) {
            state.SkipWithError(err.c_str());
            return;
        }
        const int linktype = src->linktype();
        decode::Stats st;
        std::string line;
        capture::Packet p;
        while (src->next(p) == capture::ReadStatus::kPacket) {
            line.clear();
            if (decode::format_frame(line, p, linktype, fmt, st.frames + 1, st)) out_bytes += line.size();
            benchmark::DoNotOptimize(line.data());
        }
        frames += st.frames;
        dhcp += st.dhcp6;
    }
    if (dhcp != frames) state.SkipWithError("not every generated frame was shown as DHCPv6");
    state.SetItemsProcessed(int64_t(frames));
    state.counters["frames_per_pass"] = double(frames) / double(std::max<int64_t>(1, state.iterations()));
}

void register_benchmarks() {
    for (int k = 0; k < kKinds; ++k)
        benchmark::RegisterBenchmark((std::string("BM_Dhcp6Decode/") + kKindNames[k]).c_str(), BM_Dhcp6Decode, Kind(k));
    benchmark::RegisterBenchmark("BM_FrameParseDecode", BM_FrameParseDecode);
    const std::pair<const char*, decode::Format> formats[] = {
        {"text", decode::Format::kText}, {"verbose", decode::Format::kVerbose}, {"json", decode::Format::kJson}};
    for (const auto& [name, fmt] : formats)
        benchmark::RegisterBenchmark((std::string("BM_FormatFrame/") + name).c_str(), BM_FormatFrame, fmt);
    for (const auto& [name, fmt] : formats) {
        if (fmt == decode::Format::kVerbose) continue;  // a pass over the file takes seconds
        benchmark::RegisterBenchmark((std::string("BM_DecodeFile/") + name).c_str(), BM_DecodeFile, fmt)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    }
}

}  // namespace

int main(int argc, char** argv) {
    bool generate_only = false;
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (i > 0 && a.rfind("--capture=", 0) == 0) {
            g_capture = a.substr(10);
        } else if (i > 0 && a.rfind("--frames=", 0) == 0) {
            g_frames = std::strtoull(a.c_str() + 9, nullptr, 10);
            if (g_frames == 0) die("--frames must be a positive number");
        } else if (i > 0 && a == "--generate-only") {
            generate_only = true;
        } else {
            rest.push_back(argv[i]);
        }
    }
    if (g_capture.empty()) g_capture = "/tmp/regrelay-bench-decode-v1-" + std::to_string(g_frames) + ".pcap";
    if (generate_only) {
        ensure_capture();
        std::printf("%s\n", g_capture.c_str());
        return 0;
    }
    int n = int(rest.size());
    rest.push_back(nullptr);
    register_benchmarks();
    benchmark::Initialize(&n, rest.data());
    if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
    benchmark::AddCustomContext("capture", g_capture);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
