#include "snoop/daemon.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "capture/control.h"
#include "capture/packet_io.h"
#include "snoop/filters.h"

namespace regrelay::snoop {

namespace {

const char* role_name(Role r) { return r == Role::kClient ? "client" : r == Role::kUplink ? "uplink" : "trusted"; }

constexpr size_t kBatch = 64;


}  // namespace

void log_actions(const Config& cfg, const Actions& a) {
    using namespace regrelay::dhcp6;
    auto name = [&](int p) { return p < 0 ? std::string("-") : cfg.ports[size_t(p)].name; };
    if (a.drop != Drop::kNone) {
        if (spdlog::should_log(spdlog::level::debug))
            spdlog::debug("drop {} on {}: {}{} from {}{}", a.msg_type ? msg_type_label(a.msg_type) : "frame",
                          name(a.port), drop_name(a.drop),
                          a.drop == Drop::kBadFrame ? "/" + std::string(frame::drop_name(a.frame_drop)) : "",
                          a.peer.str(), a.client_mac ? " mac " + a.client_mac->str() : "");
        return;
    }
    if (!a.emit) return;
    const bool up = cfg.ports[size_t(a.out_port)].role == Role::kUplink;
    if (up && a.msg_type == msg::kAddrRegInform && a.hop_count == 0 && spdlog::should_log(spdlog::level::info)) {
        std::string duid = "-", addr = a.peer.str();
        if (auto m = decode_client(a.message)) {
            if (const Option* o = find_option(m->options, opt::kClientId)) duid = hex(o->data);
            if (const Option* o = find_option(m->options, opt::kIaAddr))
                if (auto ia = as_ia_addr(*o)) addr = ia->addr.str();
        }
        spdlog::info("ADDR-REG-INFORM address {} mac {} duid {} port {} source {} xid 0x{:06x}", addr,
                     a.client_mac ? a.client_mac->str() : "-", duid, name(a.port), a.peer.str(), a.xid);
    }
    if (spdlog::should_log(spdlog::level::debug)) {
        if (up)
            spdlog::debug("relay-forward {} xid 0x{:06x} peer {} mac {} port {} hop {} to {}",
                          msg_type_label(a.msg_type), a.xid, a.peer.str(), a.client_mac ? a.client_mac->str() : "-",
                          name(a.port), a.hop_count, name(a.out_port));
        else
            spdlog::debug("relay-reply {} xid 0x{:06x} to {} port {} from {}", msg_type_label(a.msg_type), a.xid,
                          a.peer.str(), name(a.out_port), name(a.port));
    }
}

int run_daemon(DaemonOptions opt) {
    Engine engine(opt.engine);
    const Config& cfg = engine.config();

    const int sfd = capture::control_signal_fd();

    std::vector<std::unique_ptr<capture::PacketSource>> sources;
    std::vector<std::unique_ptr<capture::PacketSink>> injectors;
    capture::LiveOptions lo;
    lo.nonblocking = true;
    lo.timeout_ms = 10;
    std::string err;
    for (const auto& p : cfg.ports) {
        auto src = capture::open_live(p.name, lo, err);
        if (!src) {
            spdlog::error("{} port {}: {}", role_name(p.role), p.name, err);
            return 1;
        }
        auto inj = capture::open_injector(p.name, err);
        if (!inj) {
            spdlog::error("{} port {}: injection: {}", role_name(p.role), p.name, err);
            return 1;
        }
        sources.push_back(std::move(src));
        injectors.push_back(std::move(inj));
    }

    std::unique_ptr<capture::PacketSink> rec;
    if (!opt.write_path.empty()) {
        rec = capture::open_pcap_writer(opt.write_path, frame::kLinkLinuxSll2, err);
        if (!rec) {
            spdlog::error("--write: {}", err);
            return 1;
        }
    }
    std::vector<std::string> clients;
    for (const auto& p : cfg.ports)
        if (p.role == Role::kClient) clients.push_back(p.name);
    if (opt.install_filters) {
        if (!install_filters(clients, err)) {
            spdlog::error("--install-filters: {}", err);
            return 1;
        }
        spdlog::info("installed nftables table bridge {} for client ports", kFilterTable);
    }
    for (const auto& p : cfg.ports)
        spdlog::info("snooping {} port {} (interface-id \"{}\")", role_name(p.role), p.name,
                     std::string(p.interface_id.begin(), p.interface_id.end()));

    std::vector<pollfd> pfds;
    for (auto& s : sources) pfds.push_back({s->selectable_fd(), POLLIN, 0});
    pfds.push_back({sfd, POLLIN, 0});
    const bool log_debug = spdlog::should_log(spdlog::level::debug);
    Actions a;
    std::vector<uint8_t> recbuf;
    uint64_t inject_errors = 0, record_errors = 0;
    std::string last_inject_error;
    // The counters as logged on SIGUSR1 and at exit.
    auto report = [&] {
        std::string r = engine.counters_report() + capture::kernel_drops_report(sources);
        if (inject_errors)
            r += "injection errors " + std::to_string(inject_errors) + " (last: " + last_inject_error + ")\n";
        if (record_errors) r += "--write: " + std::to_string(record_errors) + " frames not recorded\n";
        return r;
    };
    bool running = true;
    while (running) {
        int n = ::poll(pfds.data(), pfds.size(), 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            spdlog::error("poll: {}", strerror(errno));
            break;
        }
        for (size_t i = 0; i < sources.size(); ++i) {
            if (!(pfds[i].revents & POLLIN)) continue;
            capture::Packet p;
            for (size_t k = 0; k < kBatch; ++k) {
                capture::ReadStatus st = sources[i]->next(p);
                if (st != capture::ReadStatus::kPacket) {
                    if (st == capture::ReadStatus::kError)
                        spdlog::error("{}: capture: {}", cfg.ports[i].name, sources[i]->error());
                    break;
                }
                const int lt = sources[i]->linktype();
                engine.on_frame(int(i), p.data, lt, a);
                if (rec) {
                    recbuf.clear();
                    if (!frame::append_sll2_from_capture(recbuf, opt.ifindex[i], frame::kSllHost, lt, p.data) ||
                        !rec->write(p.ts, recbuf))
                        ++record_errors;
                }
                if (a.drop != Drop::kNone || a.msg_type == dhcp6::msg::kAddrRegInform || log_debug)
                    log_actions(cfg, a);
                if (!a.emit) continue;
                if (!injectors[size_t(a.out_port)]->write(p.ts, a.frame)) {
                    ++inject_errors;
                    last_inject_error = injectors[size_t(a.out_port)]->error();
                    continue;
                }
                if (rec) {
                    recbuf.clear();
                    if (!frame::append_sll2_from_capture(recbuf, opt.ifindex[size_t(a.out_port)], frame::kSllOutgoing,
                                                        frame::kLinkEthernet, a.frame) ||
                        !rec->write(capture::now(), recbuf))
                        ++record_errors;
                }
            }
        }
        if (pfds.back().revents & POLLIN) {
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
        if (rec) rec->flush();
    }
    if (opt.install_filters) {
        if (!remove_filters(err)) spdlog::error("removing nftables table bridge {}: {}", kFilterTable, err);
        else spdlog::info("removed nftables table bridge {}", kFilterTable);
    }
    spdlog::info("counters at exit:\n{}", report());
    ::close(sfd);
    return 0;
}

}  // namespace regrelay::snoop
