#include "relay/daemon.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "capture/control.h"
#include "capture/packet_io.h"
#include "capture/udp_socket.h"
#include "relay/record.h"

namespace regrelay::relay {

namespace {

// The client side sees only what clients send to the servers' port.
std::string client_filter() {
    const std::string udp = "ip6 and udp dst port 547";
    return "(" + udp + ") or (vlan and " + udp + ") or (vlan and vlan and " + udp + ")";
}

constexpr size_t kBatch = 64;  // packets read per interface per wake-up, and sent per sendmmsg


}  // namespace

int run_daemon(DaemonOptions opt) {
    Engine engine(opt.engine);
    const Config& cfg = engine.config();

    const int sfd = capture::control_signal_fd();

    std::vector<std::unique_ptr<capture::PacketSource>> sources;
    std::vector<int> joined;
    capture::LiveOptions lo;
    lo.filter = client_filter();
    lo.timeout_ms = 10;
    lo.nonblocking = true;
    for (size_t i = 0; i < cfg.ports.size(); ++i) {
        std::string err;
        auto src = capture::open_live(cfg.ports[i].name, lo, err);
        if (!src) {
            spdlog::error("--client-iface {}: {}", cfg.ports[i].name, err);
            return 1;
        }
        sources.push_back(std::move(src));
        // Be a member of All_DHCP_Relay_Agents_and_Servers so the link delivers its frames.
        int fd = capture::join_multicast(kAllDhcpRelayAgentsAndServers, opt.port_ifindex[i], err);
        if (fd < 0) spdlog::warn("{}: {}", cfg.ports[i].name, err);
        else joined.push_back(fd);
    }

    capture::UdpSocket sock;
    std::string err;
    if (!sock.open(dhcp6::kPortServer, opt.rcvbuf_bytes, err)) {
        spdlog::error("server socket: {}", err);
        return 1;
    }

    std::unique_ptr<capture::PacketSink> sink;
    std::unique_ptr<Recorder> rec;
    if (!opt.write_path.empty()) {
        sink = capture::open_pcap_writer(opt.write_path, frame::kLinkLinuxSll2, err);
        if (!sink) {
            spdlog::error("--write: {}", err);
            return 1;
        }
        // Sources as the kernel picks them: the configured one, else its route's choice.
        std::vector<RecordPort> rps;
        for (size_t i = 0; i < cfg.ports.size(); ++i)
            rps.push_back({opt.port_ifindex[i], cfg.ports[i].mac, cfg.ports[i].link_local, cfg.ports[i].link_address});
        Ip6Addr up = cfg.source_address;
        if (up.is_unspecified()) {
            const Ip6Addr& dst = cfg.servers.empty() ? kAllDhcpServers : cfg.servers.front();
            if (auto a = capture::route_source(dst, cfg.servers.empty() ? opt.upstream_ifindex : 0)) up = *a;
        }
        rec = std::make_unique<Recorder>(*sink, std::move(rps), RecordPort{opt.upstream_ifindex, {}, up, up});
    }

    std::vector<pollfd> pfds;
    for (auto& s : sources) pfds.push_back({s->selectable_fd(), POLLIN, 0});
    pfds.push_back({sock.fd(), POLLIN, 0});
    pfds.push_back({sfd, POLLIN, 0});
    const size_t sock_slot = sources.size(), sig_slot = sources.size() + 1;

    std::string servers;
    for (const auto& s : cfg.servers) servers += (servers.empty() ? "" : ",") + s.str();
    if (servers.empty()) servers = kAllDhcpServers.str() + " on " + opt.upstream_iface;
    for (const auto& p : cfg.ports)
        spdlog::info("relaying from {} (link-address {}, interface-id \"{}\") to {}", p.name,
                     p.link_address.is_unspecified() ? std::string(":: with interface-id") : p.link_address.str(),
                     std::string(p.interface_id.begin(), p.interface_id.end()), servers);

    // The counters as logged on SIGUSR1 and at exit.
    auto report = [&] {
        std::string r = engine.counters_report() + capture::kernel_drops_report(sources);
        if (sock.send_errors())
            r += "send errors " + std::to_string(sock.send_errors()) + " (last: " + sock.last_error() + ")\n";
        if (rec && rec->errors()) r += "--write: " + std::to_string(rec->errors()) + " frames not recorded\n";
        return r;
    };

    std::vector<Actions> acts(kBatch);
    std::vector<capture::Datagram> out, in;
    out.reserve(kBatch * 4);
    const bool log_debug = spdlog::should_log(spdlog::level::debug);
    bool running = true;

    auto queue_sends = [&](const Actions& a) {
        for (const Send& s : a.sends) {
            capture::Datagram d;
            d.peer = s.dst;
            d.peer_port = s.dport;
            d.hop_limit = s.hop_limit;
            d.data = a.payload;
            if (s.port == kUpstream) {
                d.local = cfg.source_address;
                d.ifindex = s.dst.is_multicast() ? opt.upstream_ifindex : 0;
            } else {
                d.ifindex = opt.port_ifindex[size_t(s.port)];
            }
            out.push_back(d);
        }
    };

    while (running) {
        int n = ::poll(pfds.data(), pfds.size(), 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            spdlog::error("poll: {}", strerror(errno));
            break;
        }
        // Client ports: drain each capture in batches.
        for (size_t i = 0; i < sources.size(); ++i) {
            if (!(pfds[i].revents & POLLIN)) continue;
            for (;;) {
                size_t used = 0;
                out.clear();
                capture::Packet p;
                while (used < kBatch) {
                    capture::ReadStatus st = sources[i]->next(p);
                    if (st != capture::ReadStatus::kPacket) {
                        if (st == capture::ReadStatus::kError)
                            spdlog::error("{}: capture: {}", cfg.ports[i].name, sources[i]->error());
                        break;
                    }
                    Actions& a = acts[used++];
                    engine.on_client_frame(int(i), p.data, sources[i]->linktype(), a);
                    if (rec) rec->received_frame(p.ts, int(i), sources[i]->linktype(), p.data);
                    if (a.drop != Drop::kNone || a.msg_type == dhcp6::msg::kAddrRegInform || log_debug)
                        log_actions(cfg, a);
                    queue_sends(a);
                }
                if (!out.empty()) {
                    sock.send_batch(out);
                    if (rec)
                        for (size_t k = 0; k < used; ++k) rec->sent(capture::now(), acts[k]);
                }
                if (used < kBatch) break;
            }
        }
        // Server side.
        if (pfds[sock_slot].revents & POLLIN) {
            for (;;) {
                size_t got = sock.recv_batch(in, kBatch);
                if (got == 0) break;
                out.clear();
                size_t used = 0;
                for (const auto& d : in) {
                    // Client-side unicasts to our address also reach this socket; capture has them
                    // (and drops a Relay-reply there as server-message-from-client: unwrapping it
                    // here too would let anyone on a client link send forged replies to clients).
                    bool on_client_port = false;
                    for (unsigned idx : opt.port_ifindex) on_client_port |= idx == d.ifindex;
                    if (on_client_port) continue;
                    Actions& a = acts[used++];
                    if (rec) rec->received_datagram(capture::now(), d);
                    engine.on_server_datagram(d.peer, d.peer_port, d.data, a);
                    if (a.drop != Drop::kNone || log_debug) log_actions(cfg, a);
                    queue_sends(a);
                }
                if (!out.empty()) {
                    sock.send_batch(out);
                    if (rec)
                        for (size_t k = 0; k < used; ++k) rec->sent(capture::now(), acts[k]);
                }
                if (got < kBatch) break;
            }
        }
        if (pfds[sig_slot].revents & POLLIN) {
            std::string sig;
            switch (capture::read_control(sfd, sig)) {
                case capture::Control::kReport: spdlog::info("counters:\n{}", report()); break;
                case capture::Control::kStop:
                    spdlog::info("{} received, stopping", sig);
                    running = false;
                    break;
                case capture::Control::kNone: break;
            }
        }
        if (rec) sink->flush();
    }
    spdlog::info("counters at exit:\n{}", report());
    for (int fd : joined) ::close(fd);
    ::close(sfd);
    return 0;
}

}  // namespace regrelay::relay
