#include "relay/replay.h"

#include <spdlog/spdlog.h>

#include "capture/packet_io.h"
#include "relay/record.h"

namespace regrelay::relay {

int run_replay(const Config& cfg_in, const std::string& in, const std::string& out, ReplayStats& st, std::string& err,
               std::string* counters) {
    auto src = capture::open_file(in, err);
    if (!src) return 2;
    auto sink = capture::open_pcap_writer(out, frame::kLinkLinuxSll2, err, /*buffered=*/true);
    if (!sink) return 2;
    Engine engine(cfg_in);
    const Config& cfg = engine.config();
    // Interface indexes in the output: client ports 1..n, the server side n+1.
    std::vector<RecordPort> rps;
    for (size_t i = 0; i < cfg.ports.size(); ++i)
        rps.push_back({uint32_t(i + 1), cfg.ports[i].mac, cfg.ports[i].link_local, cfg.ports[i].link_address});
    Ip6Addr up_src = cfg.source_address;
    if (up_src.is_unspecified() && !cfg.ports.empty()) up_src = cfg.ports[0].link_address;
    Recorder rec(*sink, std::move(rps), RecordPort{uint32_t(cfg.ports.size() + 1), {}, {}, up_src});

    const int lt = src->linktype();
    const bool debug = spdlog::should_log(spdlog::level::debug);
    Actions a;
    capture::Packet p;
    for (;;) {
        capture::ReadStatus s = src->next(p);
        if (s == capture::ReadStatus::kEnd) break;
        if (s == capture::ReadStatus::kError) {
            err = in + ": " + src->error();
            return 1;
        }
        if (s != capture::ReadStatus::kPacket) continue;
        ++st.frames;
        // The flood limits' clock: the capture's timestamps, never going backwards.
        if (p.ts.sec >= 0) {
            const uint64_t t = uint64_t(p.ts.sec) * 1'000'000'000u + p.ts.nsec;
            if (t > engine.now()) engine.advance(t);
            for (const auto& line : engine.flood_report(engine.now())) spdlog::warn("{}", line);
        }
        // A Relay-reply addressed to the server port came from a server; all else from a client.
        frame::Frame f;
        const frame::ParseResult pr = frame::parse(p.data, lt, f, cfg.verify_udp_checksum);
        bool from_server = pr.ok() && f.dport == dhcp6::kPortServer && !f.payload.empty() &&
                           f.payload[0] == dhcp6::msg::kRelayRepl;
        if (from_server) {
            ++st.server;
            engine.on_server_datagram(f.src, f.sport, f.payload, a);
        } else {
            ++st.client;
            engine.on_client_parsed(0, f, pr, a);
        }
        if (a.drop != Drop::kNone) ++st.dropped;
        if (a.drop != Drop::kNone || a.msg_type == dhcp6::msg::kAddrRegInform || debug) log_actions(cfg, a);
        st.sent += a.sends.size();
        rec.sent(p.ts, a);
    }
    for (const auto& line : engine.flood_report(engine.now(), true)) spdlog::warn("{}", line);
    const bool flushed = sink->flush();
    if (counters) *counters = engine.counters_report();
    if (rec.errors() || !flushed) {
        err = rec.errors() ? out + ": " + std::to_string(rec.errors()) + " frames could not be written: " + sink->error()
                           : sink->error();
        return 1;
    }
    return 0;
}

}  // namespace regrelay::relay
