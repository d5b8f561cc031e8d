// regrelay_loadgen: the traffic generator and counter of the relay benchmark (bench/relay_bench.py).
// Standalone on purpose (libc only): it shares no code with the relay it measures.
//
//   send    --iface IF --type solicit|inform [--clients N] --rate PPS (--duration S | --count N)
//           [--warmup-ms MS] [--answer-ns]
//       Client frames (Ethernet/IPv6/UDP to ff02::1:2 port 547, checksums filled in) from 1 or N
//       distinct clients, precomputed, sent through an AF_PACKET socket with sendmmsg in batches,
//       paced on an absolute clock_nanosleep schedule (never spinning: the sink may share the
//       core). Client i has MAC 02:cc:00:ii:ii:ii; a Solicit comes from its EUI-64 link-local
//       address, an ADDR-REG-INFORM (type 36: Client Identifier + IA Address) from its registered
//       address 2001:db8:1::a:0:0 + i. --answer-ns answers Neighbor Solicitations for the clients'
//       addresses, as real hosts would (relays that look the MAC up in the neighbour table need
//       it). --warmup-ms sends client 0's frame once and waits before the paced run. --iface
//       A,B,... sends frame k out of interface k mod n (one generator for many switch ports;
//       --answer-ns listens on the first only).
//       Prints: sent=N (warm-up included) warmup=W elapsed=S rate=PPS (paced part) retries=N
//       ns_answered=N
//   reverse --iface IF --src ADDR --dst ADDR --dst-mac MAC --link-address ADDR --peer ADDR
//           [--inner reply|addr-reg-reply] --rate PPS (--duration S | --count N) [--warmup-ms MS]
//       Relay-reply datagrams (hop 0, link-address, peer-address, option 9 = Reply or
//       ADDR-REG-REPLY) from src:547 to dst:547, as a server sends them to a relay; framed here
//       and sent like `send` (AF_PACKET), which costs the generator's core less than a UDP socket.
//   sink    --port P --duration S [--rcvbuf BYTES]
//       Counts UDP datagrams received on [::]:P (recvmmsg every ms into a 64 MiB buffer) for S
//       seconds (or until SIGTERM).
//       Prints: received=N relay_forw=N opt79=N inner=TYPE:N,...
//   pcap    --out FILE --type solicit|inform|mix [--clients N] --count N
//       Writes the same client frames to a pcap file (Ethernet), for `regrelay replay`.
//
// --stamps FILE (send, reverse, sink): writes one time per frame or datagram (ns, CLOCK_REALTIME,
// one per line): when send/reverse handed it to the kernel (warm-up frame included), or when the
// sink's kernel received it (SO_TIMESTAMPNS). In a loss-free run the k-th lines pair up: the
// relay's latency, what a relay under test adds between the client's frame and the server.
// --rate 0 sends as fast as possible. Exit status 2 on a usage error, 1 on a system error.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using Buf = std::vector<uint8_t>;
using Addr = std::array<uint8_t, 16>;

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "regrelay_loadgen: %s\n"
                 "usage: regrelay_loadgen send --iface IF --type solicit|inform [--clients N] --rate PPS\n"
                 "                        (--duration S | --count N) [--warmup-ms MS] [--answer-ns] [--stamps FILE]\n"
                 "       regrelay_loadgen reverse --iface IF --src ADDR --dst ADDR --dst-mac MAC\n"
                 "                        --link-address ADDR --peer ADDR [--inner reply|addr-reg-reply]\n"
                 "                        --rate PPS (--duration S | --count N) [--warmup-ms MS] [--stamps FILE]\n"
                 "       regrelay_loadgen sink --port P --duration S [--rcvbuf BYTES] [--stamps FILE]\n"
                 "       regrelay_loadgen pcap --out FILE --type solicit|inform|mix [--clients N] --count N\n",
                 why.c_str());
    std::exit(2);
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "regrelay_loadgen: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

// --key value options; flags (no value) are listed in `flags`. Unknown keys are errors.
struct Args {
    std::map<std::string, std::string> kv;
    std::set<std::string> flags;

    Args(int argc, char** argv, const std::set<std::string>& keys, const std::set<std::string>& flag_keys) {
        for (int i = 2; i < argc; ++i) {
            std::string k = argv[i];
            if (k.rfind("--", 0) != 0) usage("unexpected argument '" + k + "'");
            k = k.substr(2);
            if (flag_keys.count(k)) {
                flags.insert(k);
            } else if (keys.count(k)) {
                if (i + 1 >= argc) usage("--" + k + " needs a value");
                kv[k] = argv[++i];
            } else {
                usage("unknown option --" + k + " for '" + argv[1] + "'");
            }
        }
    }
    bool has(const std::string& k) const { return kv.count(k) > 0; }
    std::string str(const std::string& k) const {
        auto it = kv.find(k);
        if (it == kv.end()) usage("--" + k + " is required");
        return it->second;
    }
    double num(const std::string& k, double dflt, double lo, double hi) const {
        auto it = kv.find(k);
        if (it == kv.end()) {
            if (dflt < 0) usage("--" + k + " is required");
            return dflt;
        }
        char* end = nullptr;
        errno = 0;
        double v = std::strtod(it->second.c_str(), &end);
        if (errno || end == it->second.c_str() || *end || v < lo || v > hi)
            usage("--" + k + " '" + it->second + "': expected a number in [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "]");
        return v;
    }
    Addr addr(const std::string& k) const {
        Addr a;
        std::string s = str(k);
        if (inet_pton(AF_INET6, s.c_str(), a.data()) != 1) usage("--" + k + " '" + s + "': not an IPv6 address");
        return a;
    }
};

double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

void sleep_until(double t) {
    timespec ts;
    ts.tv_sec = time_t(t);
    ts.tv_nsec = long((t - double(ts.tv_sec)) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

int64_t realtime_ns() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// --stamps FILE: one time (ns, CLOCK_REALTIME) per line.
void write_stamps(const std::string& path, const std::vector<int64_t>& v) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) die(path);
    for (int64_t t : v) std::fprintf(f, "%lld\n", (long long)t);
    if (std::fclose(f) != 0) die(path);
}

// ---- packet building -------------------------------------------------------------------------

void put16(Buf& b, uint16_t v) {
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
}
void put32(Buf& b, uint32_t v) {
    put16(b, uint16_t(v >> 16));
    put16(b, uint16_t(v));
}
void put(Buf& b, const uint8_t* p, size_t n) { b.insert(b.end(), p, p + n); }
void option(Buf& b, uint16_t code, const Buf& v) {
    put16(b, code);
    put16(b, uint16_t(v.size()));
    put(b, v.data(), v.size());
}

// The transport checksum over the IPv6 pseudo-header (RFC 8200 §8.1); `data` has a zero checksum.
uint16_t checksum6(const Addr& src, const Addr& dst, uint8_t next, const uint8_t* data, size_t n) {
    uint64_t sum = 0;
    for (size_t i = 0; i < 16; i += 2) sum += uint32_t(src[i] << 8 | src[i + 1]) + uint32_t(dst[i] << 8 | dst[i + 1]);
    sum += uint32_t(n) + next;
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(data[i] << 8 | data[i + 1]);
    if (n & 1) sum += uint32_t(data[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

const Addr kAllRelays = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2};
const uint8_t kAllRelaysMac[6] = {0x33, 0x33, 0, 1, 0, 2};

struct Client {
    uint8_t mac[6];
    Addr link_local, global;
};

Client client(uint32_t i) {
    Client c;
    const uint8_t mac[6] = {0x02, 0xcc, 0x00, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
    std::memcpy(c.mac, mac, 6);
    c.link_local = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, uint8_t(mac[0] ^ 2), mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]};
    c.global = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0x0a, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8),
                uint8_t(i)};
    return c;
}

// The client index an address of ours stands for, or -1.
long client_of(const Addr& a, uint32_t n_clients) {
    uint32_t i;
    if (a[0] == 0xfe && a[1] == 0x80 && a[8] == 0x00 && a[9] == 0xcc && a[10] == 0 && a[11] == 0xff && a[12] == 0xfe)
        i = uint32_t(a[13]) << 16 | uint32_t(a[14]) << 8 | a[15];
    else if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8 && a[4] == 0 && a[5] == 1 && a[11] == 0x0a &&
             a[6] == 0 && a[7] == 0 && a[8] == 0 && a[9] == 0 && a[10] == 0)
        i = uint32_t(a[12]) << 24 | uint32_t(a[13]) << 16 | uint32_t(a[14]) << 8 | a[15];
    else
        return -1;
    return i < n_clients ? long(i) : -1;
}

// Ethernet + IPv6 + UDP around `payload`, checksum filled in.
Buf udp_frame(const uint8_t* src_mac, const uint8_t* dst_mac, const Addr& src, const Addr& dst, uint16_t sport,
              uint16_t dport, uint8_t hop_limit, const Buf& payload) {
    Buf f;
    put(f, dst_mac, 6);
    put(f, src_mac, 6);
    put16(f, ETHERTYPE_IPV6);
    const size_t ulen = 8 + payload.size();
    put32(f, 0x60000000);
    put16(f, uint16_t(ulen));
    f.push_back(IPPROTO_UDP);
    f.push_back(hop_limit);
    put(f, src.data(), 16);
    put(f, dst.data(), 16);
    const size_t u = f.size();
    put16(f, sport);
    put16(f, dport);
    put16(f, uint16_t(ulen));
    put16(f, 0);
    put(f, payload.data(), payload.size());
    uint16_t ck = checksum6(src, dst, IPPROTO_UDP, f.data() + u, ulen);
    if (ck == 0) ck = 0xffff;
    f[u + 6] = uint8_t(ck >> 8);
    f[u + 7] = uint8_t(ck);
    return f;
}

Buf duid_ll(const Client& c) {
    Buf d;
    put16(d, 3);  // DUID-LL
    put16(d, 1);  // Ethernet
    put(d, c.mac, 6);
    return d;
}

enum class MsgKind { kSolicit, kInform };

// A client's message: Solicit (client-id, elapsed time, ORO, IA_NA) or ADDR-REG-INFORM
// (client-id, IA Address of the registered address), sent from the address RFC 9686 says.
Buf client_frame(MsgKind kind, uint32_t i) {
    const Client c = client(i);
    Buf m;
    const uint32_t xid = (i * 2654435761u) & 0xffffff;
    if (kind == MsgKind::kSolicit) {
        m.push_back(1);
        m.push_back(uint8_t(xid >> 16));
        m.push_back(uint8_t(xid >> 8));
        m.push_back(uint8_t(xid));
        option(m, 1, duid_ll(c));
        option(m, 8, Buf{0, 0});
        option(m, 6, Buf{0, 23, 0, 24});
        Buf ia;
        put32(ia, i + 1);
        put32(ia, 0);
        put32(ia, 0);
        option(m, 3, ia);
        return udp_frame(c.mac, kAllRelaysMac, c.link_local, kAllRelays, 546, 547, 1, m);
    }
    m.push_back(36);
    m.push_back(uint8_t(xid >> 16));
    m.push_back(uint8_t(xid >> 8));
    m.push_back(uint8_t(xid));
    option(m, 1, duid_ll(c));
    Buf ia;
    put(ia, c.global.data(), 16);
    put32(ia, 3600);
    put32(ia, 7200);
    option(m, 5, ia);
    return udp_frame(c.mac, kAllRelaysMac, c.global, kAllRelays, 546, 547, 1, m);
}

// Frames back to back in one buffer.
struct FrameSet {
    Buf data;
    std::vector<std::pair<size_t, size_t>> at;  // offset, length
    void add(const Buf& f) {
        at.emplace_back(data.size(), f.size());
        put(data, f.data(), f.size());
    }
};

MsgKind parse_kind(const std::string& t) {
    if (t == "solicit") return MsgKind::kSolicit;
    if (t == "inform" || t == "addr-reg-inform") return MsgKind::kInform;
    usage("--type '" + t + "': expected solicit or inform");
}

// ---- pacing ----------------------------------------------------------------------------------

// Sends `total` items at `rate` per second (0: as fast as possible) in batches, calling
// send_batch(first, count) -> sent. Returns {sent, elapsed seconds}.
template <class F>
std::pair<uint64_t, double> paced(double rate, uint64_t total, F send_batch) {
    // Batches at least 50 us apart (at most 64 packets): small bursts, few system calls.
    const size_t batch = rate <= 0 ? 64 : size_t(std::min(64.0, std::max(1.0, rate * 50e-6)));
    const double t0 = now_s();
    uint64_t sent = 0;
    while (sent < total) {
        if (rate > 0) {
            const double due = t0 + double(sent) / rate;
            if (due > now_s()) sleep_until(due);
        }
        const size_t n = size_t(std::min<uint64_t>(batch, total - sent));
        sent += send_batch(sent, n);
    }
    return {sent, now_s() - t0};
}

// ---- send ------------------------------------------------------------------------------------

struct PacketSocket {
    int fd = -1;
    sockaddr_ll to{};             // the first interface
    std::vector<sockaddr_ll> all;  // every interface of --iface A,B,...: frame k goes out of all[k % n]
};

// `ifaces`: one interface name, or several separated by commas (frames go round robin).
PacketSocket open_packet_tx(const std::string& ifaces) {
    PacketSocket s;
    std::vector<unsigned> idxs;
    for (size_t b = 0; b <= ifaces.size();) {
        size_t e = ifaces.find(',', b);
        if (e == std::string::npos) e = ifaces.size();
        const std::string iface = ifaces.substr(b, e - b);
        unsigned i = if_nametoindex(iface.c_str());
        if (!i) usage("--iface '" + iface + "': no such interface");
        idxs.push_back(i);
        b = e + 1;
    }
    const unsigned idx = idxs.front();
    // Protocol 0: this socket receives nothing (no copy of any frame is queued to it).
    s.fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (s.fd < 0) die("socket(AF_PACKET)");
    int one = 1;
    setsockopt(s.fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    int sndbuf = 8 << 20;
    setsockopt(s.fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
    s.to.sll_family = AF_PACKET;
    s.to.sll_protocol = htons(ETH_P_IPV6);
    s.to.sll_ifindex = int(idx);
    s.to.sll_halen = 6;
    for (unsigned i : idxs) {
        s.all.push_back(s.to);
        s.all.back().sll_ifindex = int(i);
    }
    return s;
}

struct TxResult {
    uint64_t sent = 0, warm = 0, retries = 0;
    double elapsed = 0;
};

// Sends `count` frames of `fs` (cycling) at `rate`, after one warm-up frame and `warmup` seconds.
// With `stamps`, the CLOCK_REALTIME time (ns) each frame was handed to the kernel is appended,
// warm-up frame included: frame k of the sink's arrivals pairs with entry k (loss-free, in order).
TxResult transmit(PacketSocket& s, const FrameSet& fs, double rate, uint64_t count, double warmup,
                  std::vector<int64_t>* stamps = nullptr) {
    TxResult res;
    if (stamps) stamps->reserve(count + 1);
    const size_t n_frames = fs.at.size();
    if (warmup > 0) {
        auto [off, len] = fs.at[0];
        const int64_t t = realtime_ns();
        if (sendto(s.fd, fs.data.data() + off, len, 0, reinterpret_cast<const sockaddr*>(&s.to), sizeof s.to) ==
            ssize_t(len)) {
            res.warm = 1;
            if (stamps) stamps->push_back(t);
        }
        sleep_until(now_s() + warmup);
    }
    for (auto& t : s.all) std::memcpy(t.sll_addr, s.to.sll_addr, 6);  // the destination MAC set by the caller
    std::vector<mmsghdr> msgs(64);
    std::vector<iovec> iov(64);
    auto batch = [&](uint64_t first, size_t n) -> size_t {
        for (size_t k = 0; k < n; ++k) {
            auto [off, len] = fs.at[(first + k) % n_frames];
            iov[k] = {const_cast<uint8_t*>(fs.data.data()) + off, len};
            msgs[k].msg_hdr = {};
            msgs[k].msg_hdr.msg_name = &s.all[(first + k) % s.all.size()];
            msgs[k].msg_hdr.msg_namelen = sizeof s.to;
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
        }
        size_t done = 0;
        while (done < n) {
            const int64_t t = stamps ? realtime_ns() : 0;
            int r = sendmmsg(s.fd, msgs.data() + done, unsigned(n - done), 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                if (errno == ENOBUFS || errno == EAGAIN) {
                    ++res.retries;
                    sleep_until(now_s() + 20e-6);
                    continue;
                }
                die("sendmmsg(AF_PACKET)");
            }
            if (stamps) stamps->insert(stamps->end(), size_t(r), t);
            done += size_t(r);
        }
        return n;
    };
    std::tie(res.sent, res.elapsed) = paced(rate, count, batch);
    return res;
}

// A socket that sees every frame arriving on `iface` (not what we send), for answer_ns.
int open_packet_rx(const std::string& iface) {
    // All protocols: a socket bound for IPv6 only misses frames on some ports (bridges).
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) die("socket(AF_PACKET, ETH_P_ALL)");
    int one = 1;
#ifdef PACKET_IGNORE_OUTGOING
    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
#endif
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = int(if_nametoindex(iface.c_str()));
    if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) die("bind(AF_PACKET)");
    return fd;
}

// Answers Neighbor Solicitations for the clients' addresses with solicited, override Neighbor
// Advertisements carrying the client's MAC, until `stop`. Sends through `tx`.
void answer_ns(int fd, const PacketSocket& tx, uint32_t n_clients, std::atomic<bool>& stop,
               std::atomic<uint64_t>& answered) {
    uint8_t buf[2048];
    while (!stop.load(std::memory_order_relaxed)) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        // Ethernet(14) IPv6(40) ICMPv6 NS(24), no extension headers (what kernels send).
        if (n < 14 + 40 + 24 || buf[12] != 0x86 || buf[13] != 0xdd || buf[14 + 6] != 58 || buf[54] != 135) continue;
        Addr nsrc, target;
        std::memcpy(nsrc.data(), buf + 22, 16);
        std::memcpy(target.data(), buf + 62, 16);
        bool unspecified = true;
        for (uint8_t b : nsrc) unspecified &= b == 0;
        long ci = client_of(target, n_clients);
        if (ci < 0 || unspecified) continue;  // not ours, or duplicate address detection
        const Client c = client(uint32_t(ci));
        Buf icmp = {136, 0, 0, 0, 0x60, 0, 0, 0};  // solicited, override
        put(icmp, target.data(), 16);
        icmp.push_back(2);  // target link-layer address
        icmp.push_back(1);
        put(icmp, c.mac, 6);
        uint16_t ck = checksum6(target, nsrc, 58, icmp.data(), icmp.size());
        icmp[2] = uint8_t(ck >> 8);
        icmp[3] = uint8_t(ck);
        Buf f;
        put(f, buf + 6, 6);  // to the solicitor's MAC
        put(f, c.mac, 6);
        put16(f, ETHERTYPE_IPV6);
        put32(f, 0x60000000);
        put16(f, uint16_t(icmp.size()));
        f.push_back(58);
        f.push_back(255);
        put(f, target.data(), 16);
        put(f, nsrc.data(), 16);
        put(f, icmp.data(), icmp.size());
        sockaddr_ll to = tx.to;
        std::memcpy(to.sll_addr, buf + 6, 6);
        if (sendto(tx.fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == ssize_t(f.size()))
            answered.fetch_add(1);
    }
}

int cmd_send(int argc, char** argv) {
    Args a(argc, argv, {"iface", "type", "clients", "rate", "duration", "count", "warmup-ms", "stamps"},
           {"answer-ns"});
    const std::string iface = a.str("iface");
    const MsgKind kind = parse_kind(a.str("type"));
    const uint32_t n_clients = uint32_t(a.num("clients", 1, 1, 1 << 24));
    const double rate = a.num("rate", -1, 0, 1e8);
    if (a.has("duration") == a.has("count")) usage("give exactly one of --duration and --count");
    const double duration = a.num("duration", 0, 0.001, 3600);
    uint64_t count = uint64_t(a.num("count", 0, 1, 1e12));
    const double warmup = a.num("warmup-ms", 0, 0, 60000) / 1000;
    if (rate == 0 && !count) usage("--rate 0 (unpaced) needs --count");
    if (!count) count = std::max<uint64_t>(1, uint64_t(rate * duration + 0.5));

    PacketSocket s = open_packet_tx(iface);
    FrameSet fs;
    for (uint32_t i = 0; i < n_clients; ++i) fs.add(client_frame(kind, i));
    std::memcpy(s.to.sll_addr, kAllRelaysMac, 6);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> answered{0};
    std::thread responder;
    int rx = -1;
    if (a.flags.count("answer-ns")) {
        rx = open_packet_rx(iface);  // before the first frame, so no solicitation is missed
        responder = std::thread(answer_ns, rx, std::cref(s), n_clients, std::ref(stop), std::ref(answered));
    }

    std::vector<int64_t> stamps;
    const bool stamping = a.has("stamps");
    TxResult r = transmit(s, fs, rate, count, warmup, stamping ? &stamps : nullptr);
    stop = true;
    if (stamping) write_stamps(a.str("stamps"), stamps);
    if (responder.joinable()) responder.join();
    if (rx >= 0) close(rx);
    std::printf("sent=%llu warmup=%llu elapsed=%.4f rate=%.0f retries=%llu ns_answered=%llu\n",
                (unsigned long long)(r.sent + r.warm), (unsigned long long)r.warm, r.elapsed, double(r.sent) / r.elapsed,
                (unsigned long long)r.retries, (unsigned long long)answered.load());
    return 0;
}

// ---- reverse ---------------------------------------------------------------------------------

int cmd_reverse(int argc, char** argv) {
    Args a(argc, argv,
           {"iface", "src", "dst", "dst-mac", "link-address", "peer", "inner", "rate", "duration", "count", "warmup-ms",
            "stamps"},
           {});
    const std::string iface = a.str("iface");
    const Addr src = a.addr("src"), dst = a.addr("dst"), link = a.addr("link-address"), peer = a.addr("peer");
    uint8_t dst_mac[6];
    const std::string dm = a.str("dst-mac");
    if (std::sscanf(dm.c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dst_mac[0], &dst_mac[1], &dst_mac[2], &dst_mac[3],
                    &dst_mac[4], &dst_mac[5]) != 6)
        usage("--dst-mac '" + dm + "': expected xx:xx:xx:xx:xx:xx");
    const std::string inner = a.has("inner") ? a.str("inner") : "reply";
    if (inner != "reply" && inner != "addr-reg-reply") usage("--inner '" + inner + "': expected reply or addr-reg-reply");
    const double rate = a.num("rate", -1, 0, 1e8);
    if (a.has("duration") == a.has("count")) usage("give exactly one of --duration and --count");
    const double duration = a.num("duration", 0, 0.001, 3600);
    uint64_t count = uint64_t(a.num("count", 0, 1, 1e12));
    const double warmup = a.num("warmup-ms", 0, 0, 60000) / 1000;
    if (rate == 0 && !count) usage("--rate 0 (unpaced) needs --count");
    if (!count) count = std::max<uint64_t>(1, uint64_t(rate * duration + 0.5));

    // The server's answer inside: Reply (server-id, client-id) or ADDR-REG-REPLY (+ IA Address).
    const Client c = client(0);
    Buf m = {uint8_t(inner == "reply" ? 7 : 37), 0x12, 0x34, 0x56};
    option(m, 2, Buf{0, 3, 0, 1, 0x02, 0x53, 0x45, 0x52, 0x56, 0x31});
    option(m, 1, duid_ll(c));
    if (inner == "addr-reg-reply") {
        Buf ia;
        put(ia, peer.data(), 16);
        put32(ia, 3600);
        put32(ia, 7200);
        option(m, 5, ia);
    }
    Buf rr = {13, 0};
    put(rr, link.data(), 16);
    put(rr, peer.data(), 16);
    option(rr, 9, m);

    PacketSocket s = open_packet_tx(iface);
    std::memcpy(s.to.sll_addr, dst_mac, 6);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, iface.c_str(), IFNAMSIZ - 1);
    if (ioctl(s.fd, SIOCGIFHWADDR, &ifr) != 0) die("SIOCGIFHWADDR " + iface);
    FrameSet fs;
    fs.add(udp_frame(reinterpret_cast<const uint8_t*>(ifr.ifr_hwaddr.sa_data), dst_mac, src, dst, 547, 547, 64, rr));
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    std::vector<int64_t> stamps;
    TxResult r = transmit(s, fs, rate, count, warmup, a.has("stamps") ? &stamps : nullptr);
    if (a.has("stamps")) write_stamps(a.str("stamps"), stamps);
    std::printf("sent=%llu warmup=%llu elapsed=%.4f rate=%.0f retries=%llu\n", (unsigned long long)(r.sent + r.warm),
                (unsigned long long)r.warm, r.elapsed, double(r.sent) / r.elapsed, (unsigned long long)r.retries);
    return 0;
}

// ---- sink ------------------------------------------------------------------------------------

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int cmd_sink(int argc, char** argv) {
    Args a(argc, argv, {"port", "duration", "rcvbuf", "stamps"}, {});
    const bool stamping = a.has("stamps");
    std::vector<int64_t> stamps;
    const uint16_t port = uint16_t(a.num("port", -1, 1, 65535));
    const double duration = a.num("duration", -1, 0.001, 86400);
    const int rcvbuf = int(a.num("rcvbuf", 64 << 20, 4096, 1 << 30));

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);

    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) die("socket(AF_INET6)");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in6 sa6{};
    sa6.sin6_family = AF_INET6;
    sa6.sin6_port = htons(port);
    sa6.sin6_addr = in6addr_any;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa6), sizeof sa6) != 0) die("bind [::]:" + std::to_string(port));
    // The kernel's arrival time of each datagram (entering this namespace's stack), not when this
    // sink, which polls every millisecond, reads it.
    if (stamping && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0) die("SO_TIMESTAMPNS");
    if (stamping) stamps.reserve(1 << 20);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    std::printf("ready\n");
    std::fflush(stdout);

    constexpr size_t kBatch = 256, kSize = 2048;
    std::vector<uint8_t> bufs(kBatch * kSize);
    std::vector<mmsghdr> msgs(kBatch);
    std::vector<iovec> iov(kBatch);
    constexpr size_t kCtl = CMSG_SPACE(sizeof(timespec));
    std::vector<uint8_t> ctl(kBatch * kCtl);
    uint64_t received = 0, relay_forw = 0, opt79 = 0;
    std::map<int, uint64_t> inner;
    const double t_end = now_s() + duration;
    while (!g_stop && now_s() < t_end) {
        for (size_t i = 0; i < kBatch; ++i) {
            iov[i] = {bufs.data() + i * kSize, kSize};
            msgs[i].msg_hdr = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            if (stamping) {
                msgs[i].msg_hdr.msg_control = ctl.data() + i * kCtl;
                msgs[i].msg_hdr.msg_controllen = kCtl;
            }
        }
        // Polls every millisecond rather than sleeping in recvmmsg: one wake-up per datagram would
        // cost the core this sink shares with the generator more than the counting does.
        int n = recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (n < int(kBatch)) sleep_until(now_s() + 1e-3);
        if (n <= 0) continue;
        received += unsigned(n);
        for (int i = 0; i < n; ++i) {
            if (stamping) {
                int64_t t = 0;
                for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
                    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
                        timespec ts;
                        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
                        t = int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
                    }
                stamps.push_back(t);
            }
            const uint8_t* p = bufs.data() + size_t(i) * kSize;
            size_t len = std::min<size_t>(msgs[i].msg_len, kSize);
            if (len == 0) continue;
            if (p[0] != 12 || len < 34) {
                ++inner[p[0]];
                continue;
            }
            ++relay_forw;
            int in = -1;
            for (size_t o = 34; o + 4 <= len;) {
                const unsigned code = unsigned(p[o] << 8 | p[o + 1]), olen = unsigned(p[o + 2] << 8 | p[o + 3]);
                if (o + 4 + olen > len) break;
                if (code == 79) ++opt79;
                if (code == 9 && olen) in = p[o + 4];
                o += 4 + olen;
            }
            ++inner[in];
        }
    }
    std::string types;
    for (auto [t, n] : inner) types += (types.empty() ? "" : ",") + std::to_string(t) + ":" + std::to_string(n);
    std::printf("received=%llu relay_forw=%llu opt79=%llu inner=%s\n", (unsigned long long)received,
                (unsigned long long)relay_forw, (unsigned long long)opt79, types.empty() ? "-" : types.c_str());
    std::fflush(stdout);
    if (stamping) write_stamps(a.str("stamps"), stamps);
    close(fd);
    return 0;
}

// ---- pcap ------------------------------------------------------------------------------------

int cmd_pcap(int argc, char** argv) {
    Args a(argc, argv, {"out", "type", "clients", "count"}, {});
    const std::string out = a.str("out"), type = a.str("type");
    const uint32_t n_clients = uint32_t(a.num("clients", 1, 1, 1 << 24));
    const uint64_t count = uint64_t(a.num("count", -1, 1, 1e10));
    FrameSet sol, inf;
    const bool mix = type == "mix";
    if (mix || parse_kind(type) == MsgKind::kSolicit)
        for (uint32_t i = 0; i < n_clients; ++i) sol.add(client_frame(MsgKind::kSolicit, i));
    if (mix || parse_kind(type) == MsgKind::kInform)
        for (uint32_t i = 0; i < n_clients; ++i) inf.add(client_frame(MsgKind::kInform, i));
    FILE* f = std::fopen(out.c_str(), "wb");
    if (!f) die(out);
    std::vector<char> iobuf(1 << 20);
    setvbuf(f, iobuf.data(), _IOFBF, iobuf.size());
    // Classic pcap, microsecond timestamps, Ethernet.
    const uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    std::fwrite(hdr, sizeof hdr, 1, f);
    for (uint64_t k = 0; k < count; ++k) {
        const FrameSet& fs = !mix ? (sol.at.empty() ? inf : sol) : (k & 1 ? inf : sol);
        auto [off, len] = fs.at[(mix ? k / 2 : k) % n_clients];
        const uint32_t rec[4] = {uint32_t(1700000000 + k / 1000000), uint32_t(k % 1000000), uint32_t(len), uint32_t(len)};
        std::fwrite(rec, sizeof rec, 1, f);
        std::fwrite(fs.data.data() + off, len, 1, f);
    }
    if (std::fclose(f) != 0) die(out);
    std::printf("frames=%llu\n", (unsigned long long)count);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) usage("give a mode: send, reverse, sink or pcap");
    const std::string mode = argv[1];
    if (mode == "send") return cmd_send(argc, argv);
    if (mode == "reverse") return cmd_reverse(argc, argv);
    if (mode == "sink") return cmd_sink(argc, argv);
    if (mode == "pcap") return cmd_pcap(argc, argv);
    if (mode == "-h" || mode == "--help") usage("help");
    usage("unknown mode '" + mode + "'");
}
