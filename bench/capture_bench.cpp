// regrelay_capture_bench: one capture per interface (what the daemons open today, capture::open_live)
// against ONE shared AF_PACKET socket for every interface (issue 10 part 2: "measure both before
// choosing"). Driven by bench/capture_bench.py, which makes the namespaces and the veths.
//
//   recv --mode pcap|pcap-epoll|v3|mmsg --ifaces A,B,... --duration S [--hold-us US] [--block-kb KB]
//        [--blocks N] [--tov-ms MS] [--outgoing ignore|filter] [--all-ifindex]
//     pcap: one capture::open_live() per interface, nonblocking, in one poll loop, read as the
//           relay daemon reads them (up to 64 frames per source per round, up to 16 rounds) with
//           its wake-up coalescing (capture::WakeCoalescer, --hold-us, default 500 as the relay).
//     pcap-epoll: the same captures waited for with epoll instead of poll over 64 descriptors.
//     v3:   one AF_PACKET socket, ETH_P_ALL, bound to no interface, the same BPF program
//           (capture::dhcp6_bpf_filter() compiled by libpcap on a live handle, so its VLAN code
//           is the kernel-auxdata kind), a TPACKET_V3 ring (--blocks x --block-kb, retired after
//           --tov-ms), the ingress interface from sll_ifindex, the VLAN tag from tp_vlan_tci.
//     mmsg: the same socket without a ring: recvmmsg (64 per call) with PACKET_AUXDATA, and the
//           relay's wake-up coalescing.
//     --outgoing ignore sets PACKET_IGNORE_OUTGOING (the kernel queues no copy of sent frames);
//     filter (v3/mmsg) drops PACKET_OUTGOING frames here after they were queued (to count them).
//     Frames from interfaces not in --ifaces are counted as foreign and dropped (as a daemon would).
//     Prints one line of key=value: frames, per-port minimum and maximum, foreign, outgoing, vlan
//     (frames whose tag came in the auxdata), polls, wakeups (polls that returned readiness),
//     reads (recv calls or pcap_next_ex calls), user/system CPU (getrusage), voluntary and
//     involuntary context switches, VmRSS and VmHWM at the end, kernel drops; with --all-ifindex
//     also ifindex:count for every interface seen.
//   send --ifaces A,B,... --rate PPS --duration S [--other-pct P] [--vlan VID]
//     DHCPv6 Solicits (Ethernet/IPv6/UDP 546->547 to ff02::1:2; tagged with VID when given) and,
//     for P % of the frames, other UDP (to ff02::1 port 9999, 200 bytes), frame k out of
//     interface k mod n, one AF_PACKET socket, sendmmsg in batches on a 1 ms schedule (--rate 0:
//     as fast as possible). Prints sent, dhcp, other, elapsed and its own CPU.
// Stops after --duration or at SIGTERM/SIGINT. Exit status 2 on a usage error, 1 on a system error.
#include "capture/packet_io.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace cap = regrelay::capture;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "regrelay_capture_bench: %s\n"
                 "usage: regrelay_capture_bench recv --mode pcap|pcap-epoll|v3|mmsg --ifaces A,B,... --duration S [--hold-us US]\n"
                 "           [--block-kb KB] [--blocks N] [--tov-ms MS] [--outgoing ignore|filter] [--all-ifindex]\n"
                 "       regrelay_capture_bench send --ifaces A,B,... --rate PPS --duration S [--other-pct P] [--vlan VID]\n",
                 why.c_str());
    std::_Exit(2);
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "regrelay_capture_bench: %s: %s\n", what.c_str(), std::strerror(errno));
    std::_Exit(1);
}

struct Args {
    std::map<std::string, std::string> kv;
    Args(int argc, char** argv, const std::vector<std::string>& keys, const std::vector<std::string>& flags) {
        for (int i = 2; i < argc; ++i) {
            std::string k = argv[i];
            if (k.rfind("--", 0) != 0) usage("unexpected argument '" + k + "'");
            k = k.substr(2);
            if (std::find(flags.begin(), flags.end(), k) != flags.end()) {
                kv[k] = "1";
            } else if (std::find(keys.begin(), keys.end(), k) != keys.end()) {
                if (i + 1 >= argc) usage("--" + k + " needs a value");
                kv[k] = argv[++i];
            } else {
                usage("unknown option --" + k);
            }
        }
    }
    bool has(const std::string& k) const { return kv.count(k) != 0; }
    std::string str(const std::string& k, const std::string& dflt = "") const {
        auto it = kv.find(k);
        return it == kv.end() ? dflt : it->second;
    }
    long num(const std::string& k, long dflt) const {
        auto it = kv.find(k);
        if (it == kv.end()) return dflt;
        char* end = nullptr;
        long v = std::strtol(it->second.c_str(), &end, 10);
        if (!end || *end || v < 0) usage("--" + k + " '" + it->second + "': expected a number >= 0");
        return v;
    }
};

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    for (size_t b = 0; b <= s.size();) {
        size_t e = s.find(',', b);
        if (e == std::string::npos) e = s.size();
        if (e > b) out.push_back(s.substr(b, e - b));
        b = e + 1;
    }
    return out;
}

int64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

long status_kb(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const size_t n = std::strlen(key);
    while (std::getline(f, line))
        if (line.compare(0, n, key) == 0) return std::strtol(line.c_str() + n, nullptr, 10);
    return -1;
}

// CPU time of this process in ns, exact (/proc/self/schedstat: time on a CPU), where getrusage's
// user/system split is sampled at the scheduler tick.
uint64_t sched_ns() {
    std::ifstream f("/proc/self/schedstat");
    unsigned long long ns = 0;
    f >> ns;
    return ns;
}
uint64_t g_sched_base = 0;

// CPU and context switches since `base` (the receiver's set-up is not counted).
rusage g_base{};
std::string rusage_fields(const rusage& base = g_base) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto us = [](const timeval& t) { return long(t.tv_sec) * 1000000 + long(t.tv_usec); };
    return "cpu_ns=" + std::to_string(sched_ns() - g_sched_base) +
           " utime_us=" + std::to_string(us(ru.ru_utime) - us(base.ru_utime)) +
           " stime_us=" + std::to_string(us(ru.ru_stime) - us(base.ru_stime)) +
           " nvcsw=" + std::to_string(ru.ru_nvcsw - base.ru_nvcsw) + " nivcsw=" + std::to_string(ru.ru_nivcsw - base.ru_nivcsw);
}

// Set-up done: what follows is measured. "ready" on stderr for the driver.
void ready() {
    getrusage(RUSAGE_SELF, &g_base);
    g_sched_base = sched_ns();
    std::fprintf(stderr, "ready\n");
    std::fflush(stderr);
}

// ---- receiving -------------------------------------------------------------------------------

struct Counts {
    std::vector<int> port_of;  // ifindex -> port, -1
    std::vector<uint64_t> per_port;
    std::map<int, uint64_t> per_ifindex;  // --all-ifindex
    bool all_ifindex = false;
    uint64_t frames = 0, foreign = 0, outgoing = 0, vlan = 0, inline_tag = 0, polls = 0, wakeups = 0, reads = 0,
             touched = 0;
    uint8_t scratch[2048 + 8];
    // Time in the socket: from the kernel's receive stamp to the read (the drain's start), µs.
    int64_t now_rt = 0;
    std::vector<uint32_t> wait_us;

    // One frame from interface `ifindex`; the tag in the auxdata (`tci` valid) is put back in front
    // of the ethertype as libpcap does, since capture/frame.h parses tags inline.
    void frame(int ifindex, const uint8_t* data, size_t len, bool tag, uint16_t tpid, uint16_t tci, int64_t ts_ns) {
        if (all_ifindex) ++per_ifindex[ifindex];
        const int port = ifindex >= 0 && size_t(ifindex) < port_of.size() ? port_of[size_t(ifindex)] : -1;
        if (port < 0) {
            ++foreign;
            return;
        }
        if (tag && len >= 12 && len + 4 <= sizeof scratch) {
            ++vlan;
            std::memcpy(scratch, data, 12);
            scratch[12] = uint8_t(tpid >> 8);
            scratch[13] = uint8_t(tpid);
            scratch[14] = uint8_t(tci >> 8);
            scratch[15] = uint8_t(tci);
            std::memcpy(scratch + 16, data + 12, len - 12);
            data = scratch;
            len += 4;
        }
        ++frames;
        ++per_port[size_t(port)];
        if (ts_ns > 0 && now_rt >= ts_ns && wait_us.size() < (1u << 22)) wait_us.push_back(uint32_t((now_rt - ts_ns) / 1000));
        if (len > 13 && data[12] == 0x81 && data[13] == 0x00) ++inline_tag;  // what capture/frame.h sees
        if (len > 13) touched += data[12] ^ data[len - 1];  // the engine would read it: touch it
    }
};

// The BPF program libpcap makes of `filter` for a live handle on `iface` (on Linux its "vlan"
// tests the kernel's auxdata, as the per-interface captures do).
sock_fprog compile_filter(const std::string& iface, const std::string& filter, std::vector<sock_filter>& code) {
    char ebuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_create(iface.c_str(), ebuf);
    if (!p) usage(iface + ": " + ebuf);
    pcap_set_snaplen(p, 1600);
    if (pcap_activate(p) < 0) usage(iface + ": " + pcap_geterr(p));
    bpf_program prog{};
    if (pcap_compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) usage("filter: " + std::string(pcap_geterr(p)));
    code.resize(prog.bf_len);
    static_assert(sizeof(sock_filter) == sizeof(bpf_insn));
    std::memcpy(code.data(), prog.bf_insns, sizeof(sock_filter) * prog.bf_len);
    pcap_freecode(&prog);
    pcap_close(p);
    return sock_fprog{uint16_t(code.size()), code.data()};
}

int open_shared(const sock_fprog& prog, bool ignore_outgoing) {
    // Protocol 0 until the filter is on: nothing is queued before it.
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket(AF_PACKET)");
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) die("SO_ATTACH_FILTER");
    int one = 1;
    if (ignore_outgoing && setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0)
        die("PACKET_IGNORE_OUTGOING");
    return fd;
}

void bind_all(int fd) {
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = 0;  // every interface of the namespace
    if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) die("bind(AF_PACKET)");
}

// The relay daemon's loop shape: poll, drain (bounded), then maybe hold.
template <class Drain>
void run_loop(std::vector<pollfd>& pfds, uint64_t deadline, uint64_t hold_ns, Counts& c, Drain drain) {
    cap::WakeCoalescer co(hold_ns);
    uint64_t hold_until = 0;
    ready();
    while (!g_stop) {
        const uint64_t now = mono_ns();
        if (now >= deadline) break;
        int timeout = int(std::min<uint64_t>((deadline - now) / 1000000 + 1, 100));
        if (hold_until) {
            cap::sleep_until_ns(hold_until);
            hold_until = 0;
            timeout = 0;
        }
        ++c.polls;
        int n = poll(pfds.data(), pfds.size(), timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (n == 0) {
            co.after_wake(mono_ns(), 0);
            continue;
        }
        ++c.wakeups;
        const uint64_t before = c.frames + c.foreign + c.outgoing;
        c.now_rt = realtime_ns();
        drain();
        hold_until = co.after_wake(mono_ns(), size_t(c.frames + c.foreign + c.outgoing - before));
    }
}

int cmd_recv(int argc, char** argv) {
    Args a(argc, argv, {"mode", "ifaces", "duration", "hold-us", "block-kb", "blocks", "tov-ms", "outgoing"},
           {"all-ifindex"});
    const std::string mode = a.str("mode");
    if (mode != "pcap" && mode != "pcap-epoll" && mode != "v3" && mode != "mmsg")
        usage("--mode: expected pcap, pcap-epoll, v3 or mmsg");
    const auto ifaces = split(a.str("ifaces"));
    if (ifaces.empty()) usage("--ifaces is required");
    if (!a.has("duration")) usage("--duration is required");
    const uint64_t deadline = mono_ns() + uint64_t(a.num("duration", 0)) * 1000000000u;
    const uint64_t hold_ns = uint64_t(a.num("hold-us", mode == "v3" ? 0 : 500)) * 1000;
    const std::string outgoing = a.str("outgoing", "ignore");
    if (outgoing != "ignore" && outgoing != "filter") usage("--outgoing: expected ignore or filter");

    Counts c;
    c.all_ifindex = a.has("all-ifindex");
    c.per_port.assign(ifaces.size(), 0);
    for (size_t i = 0; i < ifaces.size(); ++i) {
        const unsigned idx = if_nametoindex(ifaces[i].c_str());
        if (!idx) usage("--ifaces: no such interface " + ifaces[i]);
        if (c.port_of.size() <= idx) c.port_of.resize(idx + 1, -1);
        c.port_of[idx] = int(i);
    }
    std::vector<pollfd> pfds;
    uint64_t kdrops = 0;
    std::string extra;

    if (mode == "pcap" || mode == "pcap-epoll") {
        cap::LiveOptions lo;
        lo.nonblocking = true;
        lo.buffer_bytes = cap::ring_bytes_per_port(ifaces.size());
        lo.inbound_only = true;  // pcap_setdirection(PCAP_D_IN), as the daemons
        std::vector<std::unique_ptr<cap::PacketSource>> srcs;
        std::vector<int> ifidx;
        for (const auto& name : ifaces) {
            std::string err;
            auto s = cap::open_live(name, lo, err);
            if (!s) usage(err);
            pfds.push_back({s->selectable_fd(), POLLIN, 0});
            ifidx.push_back(int(if_nametoindex(name.c_str())));
            srcs.push_back(std::move(s));
        }
        // pcap-epoll: the same captures in an epoll set; the loop polls the epoll descriptor (one
        // fd) and asks epoll_wait which captures are ready (one syscall more per wake-up than an
        // epoll_wait-only loop would make).
        int ep = -1;
        std::vector<pollfd> cap_fds = pfds;
        if (mode == "pcap-epoll") {
            ep = epoll_create1(EPOLL_CLOEXEC);
            if (ep < 0) die("epoll_create1");
            for (size_t i = 0; i < cap_fds.size(); ++i) {
                epoll_event ev{};
                ev.events = EPOLLIN;
                ev.data.u64 = i;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, cap_fds[i].fd, &ev) != 0) die("epoll_ctl");
            }
            pfds = {{ep, POLLIN, 0}};
        }
        std::vector<epoll_event> evs(cap_fds.size());
        run_loop(pfds, deadline, hold_ns, c, [&] {
            std::vector<bool> busy(srcs.size());
            if (ep >= 0) {
                ++c.reads;
                const int n = epoll_wait(ep, evs.data(), int(evs.size()), 0);
                for (int k = 0; k < n; ++k) busy[size_t(evs[size_t(k)].data.u64)] = true;
            } else {
                for (size_t i = 0; i < pfds.size(); ++i) busy[i] = pfds[i].revents & POLLIN;
            }
            for (int round = 0; round < 16; ++round) {
                bool more = false;
                for (size_t i = 0; i < srcs.size(); ++i) {
                    if (!busy[i]) continue;
                    size_t got = 0;
                    cap::Packet p;
                    while (got < 64) {
                        ++c.reads;
                        if (srcs[i]->next(p) != cap::ReadStatus::kPacket) break;
                        c.frame(ifidx[i], p.data.data(), p.data.size(), false, 0, 0,
                                p.ts.sec * 1000000000 + int64_t(p.ts.nsec));
                        ++got;
                    }
                    busy[i] = got == 64;
                    more |= busy[i];
                }
                if (!more) break;
            }
        });
        extra = " rss_kb=" + std::to_string(status_kb("VmRSS:")) + " hwm_kb=" + std::to_string(status_kb("VmHWM:"));
        for (const auto& s : srcs) {
            uint64_t d = 0;
            if (s->kernel_drops(d)) kdrops += d;
        }
        extra += " ring_bytes=" + std::to_string(size_t(lo.buffer_bytes) * ifaces.size());
        if (ep >= 0) close(ep);
    } else {
        std::vector<sock_filter> code;
        const sock_fprog prog = compile_filter(ifaces.front(), cap::dhcp6_bpf_filter(), code);
        const int fd = open_shared(prog, outgoing == "ignore");
        const bool filter_out = outgoing == "filter";
        pfds.push_back({fd, POLLIN, 0});
        if (mode == "v3") {
            int v = TPACKET_V3;
            if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) != 0) die("PACKET_VERSION");
            tpacket_req3 req{};
            req.tp_block_size = unsigned(a.num("block-kb", 1024)) * 1024;
            req.tp_block_nr = unsigned(a.num("blocks", 8));
            req.tp_frame_size = 2048;
            req.tp_frame_nr = req.tp_block_size / req.tp_frame_size * req.tp_block_nr;
            req.tp_retire_blk_tov = unsigned(a.num("tov-ms", 1));
            if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) die("PACKET_RX_RING");
            const size_t ring_len = size_t(req.tp_block_size) * req.tp_block_nr;
            // Not locked: counted in RSS as the kernel fills it, like libpcap's rings.
            auto* ring = static_cast<uint8_t*>(mmap(nullptr, ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
            if (ring == MAP_FAILED) die("mmap(PACKET_RX_RING)");
            bind_all(fd);
            unsigned blk = 0;
            run_loop(pfds, deadline, hold_ns, c, [&] {
                for (;;) {
                    auto* bd = reinterpret_cast<tpacket_block_desc*>(ring + size_t(blk) * req.tp_block_size);
                    if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
                    auto* h = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(bd) +
                                                              bd->hdr.bh1.offset_to_first_pkt);
                    for (unsigned k = 0; k < bd->hdr.bh1.num_pkts; ++k) {
                        const auto* sll = reinterpret_cast<const sockaddr_ll*>(
                            reinterpret_cast<const uint8_t*>(h) + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
                        if (sll->sll_pkttype == PACKET_OUTGOING && filter_out) {
                            ++c.outgoing;
                        } else {
                            const bool tag = h->tp_status & TP_STATUS_VLAN_VALID;
                            const uint16_t tpid =
                                h->tp_status & TP_STATUS_VLAN_TPID_VALID ? h->hv1.tp_vlan_tpid : uint16_t(ETH_P_8021Q);
                            c.frame(sll->sll_ifindex, reinterpret_cast<const uint8_t*>(h) + h->tp_mac, h->tp_snaplen,
                                    tag, tpid, uint16_t(h->hv1.tp_vlan_tci),
                                    int64_t(h->tp_sec) * 1000000000 + int64_t(h->tp_nsec));
                        }
                        h = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(h) + h->tp_next_offset);
                    }
                    __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
                    blk = (blk + 1) % req.tp_block_nr;
                }
            });
            extra = " rss_kb=" + std::to_string(status_kb("VmRSS:")) + " hwm_kb=" + std::to_string(status_kb("VmHWM:")) +
                    " ring_bytes=" + std::to_string(ring_len);
            tpacket_stats_v3 st{};
            socklen_t sl = sizeof st;
            if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0) kdrops = st.tp_drops;
            munmap(ring, ring_len);
        } else {
            int one = 1;
            if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) != 0) die("PACKET_AUXDATA");
            if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0) die("SO_TIMESTAMPNS");
            const int rcvbuf = 8 << 20;
            if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) die("SO_RCVBUFFORCE");
            bind_all(fd);
            constexpr size_t kBatch = 64;
            std::vector<uint8_t> bufs(kBatch * 2048);
            constexpr size_t kCmsg = CMSG_SPACE(sizeof(tpacket_auxdata)) + CMSG_SPACE(sizeof(timespec));
            std::vector<uint8_t> cbufs(kBatch * kCmsg);
            std::vector<sockaddr_ll> from(kBatch);
            std::vector<iovec> iov(kBatch);
            std::vector<mmsghdr> msgs(kBatch);
            run_loop(pfds, deadline, hold_ns, c, [&] {
                for (int round = 0; round < 16; ++round) {
                    for (size_t k = 0; k < kBatch; ++k) {
                        iov[k] = {bufs.data() + k * 2048, 2048};
                        msgs[k].msg_hdr = {};
                        msgs[k].msg_hdr.msg_name = &from[k];
                        msgs[k].msg_hdr.msg_namelen = sizeof from[k];
                        msgs[k].msg_hdr.msg_iov = &iov[k];
                        msgs[k].msg_hdr.msg_iovlen = 1;
                        msgs[k].msg_hdr.msg_control = cbufs.data() + k * kCmsg;
                        msgs[k].msg_hdr.msg_controllen = kCmsg;
                    }
                    ++c.reads;
                    int n = recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
                    if (n <= 0) break;
                    for (int k = 0; k < n; ++k) {
                        if (from[size_t(k)].sll_pkttype == PACKET_OUTGOING && filter_out) {
                            ++c.outgoing;
                            continue;
                        }
                        bool tag = false;
                        uint16_t tpid = ETH_P_8021Q, tci = 0;
                        int64_t ts = 0;
                        for (cmsghdr* cm = CMSG_FIRSTHDR(&msgs[size_t(k)].msg_hdr); cm;
                             cm = CMSG_NXTHDR(&msgs[size_t(k)].msg_hdr, cm)) {
                            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                                timespec t;
                                std::memcpy(&t, CMSG_DATA(cm), sizeof t);
                                ts = int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
                            }
                            if (cm->cmsg_level != SOL_PACKET || cm->cmsg_type != PACKET_AUXDATA) continue;
                            tpacket_auxdata aux;
                            std::memcpy(&aux, CMSG_DATA(cm), sizeof aux);
                            tag = aux.tp_status & TP_STATUS_VLAN_VALID;
                            tci = aux.tp_vlan_tci;
                            if (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) tpid = aux.tp_vlan_tpid;
                        }
                        c.frame(from[size_t(k)].sll_ifindex, bufs.data() + size_t(k) * 2048,
                                std::min<size_t>(msgs[size_t(k)].msg_len, 2048), tag, tpid, tci, ts);
                    }
                    if (size_t(n) < kBatch) break;
                }
            });
            extra = " rss_kb=" + std::to_string(status_kb("VmRSS:")) + " hwm_kb=" + std::to_string(status_kb("VmHWM:")) +
                    " ring_bytes=" + std::to_string(rcvbuf);
            tpacket_stats st{};
            socklen_t sl = sizeof st;
            if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0) kdrops = st.tp_drops;
        }
        close(fd);
    }
    const auto [mn, mx] = std::minmax_element(c.per_port.begin(), c.per_port.end());
    std::string line = "mode=" + mode + " ports=" + std::to_string(ifaces.size()) + " frames=" + std::to_string(c.frames) +
                       " port_min=" + std::to_string(*mn) + " port_max=" + std::to_string(*mx) +
                       " foreign=" + std::to_string(c.foreign) + " outgoing=" + std::to_string(c.outgoing) +
                       " vlan=" + std::to_string(c.vlan) + " tagged=" + std::to_string(c.inline_tag) + " polls=" + std::to_string(c.polls) +
                       " wakeups=" + std::to_string(c.wakeups) + " reads=" + std::to_string(c.reads) +
                       " kdrops=" + std::to_string(kdrops) + " " + rusage_fields() + extra;
    if (!c.wait_us.empty()) {
        std::sort(c.wait_us.begin(), c.wait_us.end());
        auto q = [&](double f) { return c.wait_us[std::min(c.wait_us.size() - 1, size_t(f * double(c.wait_us.size())))]; };
        line += " wait_p50_us=" + std::to_string(q(0.5)) + " wait_p99_us=" + std::to_string(q(0.99)) +
                " wait_max_us=" + std::to_string(c.wait_us.back());
    }
    if (c.all_ifindex) {
        line += " ifindex=";
        bool first = true;
        for (const auto& [i, n] : c.per_ifindex) {
            line += (first ? "" : ",") + std::to_string(i) + ":" + std::to_string(n);
            first = false;
        }
    }
    std::printf("%s touched=%llu\n", line.c_str(), static_cast<unsigned long long>(c.touched & 1));
    return 0;
}

// ---- sending ---------------------------------------------------------------------------------

void put16(std::vector<uint8_t>& f, unsigned v) {
    f.push_back(uint8_t(v >> 8));
    f.push_back(uint8_t(v));
}

// Ethernet (optionally one 802.1Q tag), IPv6 from fe80::cc:0:<i>, UDP sport->dport, payload.
std::vector<uint8_t> build(unsigned i, int vlan, const uint8_t dst_mac[6], const uint8_t dst_ip[16], unsigned sport,
                           unsigned dport, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> f(dst_mac, dst_mac + 6);
    const uint8_t src_mac[6] = {0x02, 0xcc, 0x00, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
    f.insert(f.end(), src_mac, src_mac + 6);
    if (vlan >= 0) {
        put16(f, ETH_P_8021Q);
        put16(f, unsigned(vlan));
    }
    put16(f, ETH_P_IPV6);
    const size_t ulen = 8 + payload.size();
    f.insert(f.end(), {0x60, 0, 0, 0});
    put16(f, unsigned(ulen));
    f.push_back(17);
    f.push_back(1);
    const uint8_t src_ip[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xcc, 0, 0, uint8_t(i >> 8), uint8_t(i)};
    f.insert(f.end(), src_ip, src_ip + 16);
    f.insert(f.end(), dst_ip, dst_ip + 16);
    put16(f, sport);
    put16(f, dport);
    put16(f, unsigned(ulen));
    put16(f, 0);  // checksum: the captures do not look at it (the IPv6 stack drops these afterwards)
    f.insert(f.end(), payload.begin(), payload.end());
    return f;
}

int cmd_send(int argc, char** argv) {
    Args a(argc, argv, {"ifaces", "rate", "duration", "other-pct", "vlan"}, {});
    const auto ifaces = split(a.str("ifaces"));
    if (ifaces.empty()) usage("--ifaces is required");
    if (!a.has("rate") || !a.has("duration")) usage("--rate and --duration are required");
    const double rate = double(a.num("rate", 0));
    const double duration = double(a.num("duration", 0));
    const long other_pct = a.num("other-pct", 0);
    if (other_pct > 100) usage("--other-pct: at most 100");
    const int vlan = a.has("vlan") ? int(a.num("vlan", 0)) : -1;
    if (vlan > 4094) usage("--vlan: at most 4094");

    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: receives nothing
    if (fd < 0) die("socket(AF_PACKET)");
    int one = 1;
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    int sndbuf = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);

    const uint8_t dhcp_mac[6] = {0x33, 0x33, 0, 1, 0, 2}, other_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
    const uint8_t dhcp_ip[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2};
    const uint8_t other_ip[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::vector<sockaddr_ll> to(ifaces.size());
    std::vector<std::vector<uint8_t>> dhcp(ifaces.size()), other(ifaces.size());
    for (size_t i = 0; i < ifaces.size(); ++i) {
        to[i] = {};
        to[i].sll_family = AF_PACKET;
        to[i].sll_protocol = htons(ETH_P_IPV6);
        to[i].sll_ifindex = int(if_nametoindex(ifaces[i].c_str()));
        if (!to[i].sll_ifindex) usage("--ifaces: no such interface " + ifaces[i]);
        to[i].sll_halen = 6;
        // Solicit: type 1, transaction id, Client Identifier (DUID-LL of the client's MAC), Elapsed Time.
        std::vector<uint8_t> sol = {1, 0x12, 0x34, uint8_t(i), 0, 1, 0, 10, 0, 3, 0, 1,
                                    0x02, 0xcc, 0, 0, 0, uint8_t(i), 0, 8, 0, 2, 0, 0};
        dhcp[i] = build(unsigned(i), vlan, dhcp_mac, dhcp_ip, 546, 547, sol);
        other[i] = build(unsigned(i), vlan, other_mac, other_ip, 40000, 9999, std::vector<uint8_t>(200, 0xab));
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    constexpr size_t kBatch = 64;
    std::vector<mmsghdr> msgs(kBatch);
    std::vector<iovec> iov(kBatch);
    uint64_t sent = 0, n_dhcp = 0, n_other = 0, retries = 0;
    const size_t n = ifaces.size();
    const uint64_t start = mono_ns();
    const uint64_t end = start + uint64_t(duration * 1e9);
    uint64_t tick = start;
    while (!g_stop) {
        const uint64_t now = mono_ns();
        if (now >= end) break;
        uint64_t due = rate > 0 ? uint64_t(double(now - start) * rate / 1e9) : sent + kBatch;
        while (sent < due && !g_stop) {
            const size_t b = size_t(std::min<uint64_t>(due - sent, kBatch));
            for (size_t k = 0; k < b; ++k) {
                const uint64_t idx = sent + k;
                const size_t i = size_t(idx % n);
                const bool is_other = long((idx / n) % 100) < other_pct;
                auto& f = is_other ? other[i] : dhcp[i];
                iov[k] = {f.data(), f.size()};
                std::memcpy(to[i].sll_addr, is_other ? other_mac : dhcp_mac, 6);
                msgs[k].msg_hdr = {};
                msgs[k].msg_hdr.msg_name = &to[i];
                msgs[k].msg_hdr.msg_namelen = sizeof to[i];
                msgs[k].msg_hdr.msg_iov = &iov[k];
                msgs[k].msg_hdr.msg_iovlen = 1;
            }
            int r = sendmmsg(fd, msgs.data(), unsigned(b), 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                if (errno == ENOBUFS || errno == EAGAIN) {
                    ++retries;
                    cap::sleep_until_ns(mono_ns() + 20000);
                    continue;
                }
                die("sendmmsg");
            }
            for (int k = 0; k < r; ++k) {
                if (long(((sent + uint64_t(k)) / n) % 100) < other_pct)
                    ++n_other;
                else
                    ++n_dhcp;
            }
            sent += uint64_t(r);
        }
        if (rate > 0) {
            tick += 1000000;  // 1 ms schedule
            if (tick < mono_ns()) tick = mono_ns();
            cap::sleep_until_ns(tick);
        }
    }
    const double elapsed = double(mono_ns() - start) / 1e9;
    std::printf("sent=%llu dhcp=%llu other=%llu retries=%llu elapsed=%.3f %s\n", (unsigned long long)sent,
                (unsigned long long)n_dhcp, (unsigned long long)n_other, (unsigned long long)retries, elapsed,
                rusage_fields().c_str());
    close(fd);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) usage("give a mode: recv or send");
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    const std::string mode = argv[1];
    if (mode == "recv") return cmd_recv(argc, argv);
    if (mode == "send") return cmd_send(argc, argv);
    usage("unknown mode '" + mode + "'");
}
