// regrelay_registrar_loadgen: a relay's worth of ADDR-REG-INFORMs for `regrelay registrar`, and the
// replies counted and timed (bench/registrar_bench.py). Standalone (libc and threads only): it
// shares no code with the registrar it measures.
//
//   regrelay_registrar_loadgen --bind ADDR --server ADDR --rate PPS (--count N | --duration S)
//                              [--first I] [--wait-ms MS] [--batch N]
//
// Sends, from [--bind]:547 to [--server]:547, Relay-forwards (hop 0, link-address 2001:db8:1::1,
// peer-address = the client's address, option 79 = the client's MAC) around an ADDR-REG-INFORM
// (Client Identifier DUID-LL, one IA Address: preferred 3600, valid 7200). Message k is client
// I+k: address 2001:db8:1::II:II (the low 32 bits are I+k), MAC 02:aa:II:II:II:II, xid k, so
// every message is a new registration. Paced on an absolute CLOCK_MONOTONIC schedule in groups of
// at most --batch (default 16) per sendmmsg, never spinning; --rate 0 sends as fast as the
// socket takes them.
//
// A second thread receives the Relay-replies (recvmmsg) and pairs each with its message by the
// peer-address: latency = the receive time (after recvmmsg returned) - the time just before the
// sendmmsg that carried the message, CLOCK_MONOTONIC. It stops --wait-ms (default 2000) after the
// last send or once every message is answered.
//
// Prints one line: sent=N answered=N unanswered=N duplicates=N stray=N elapsed=S rate=PPS
//   p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..   (latencies of the answered messages)
// Exit status 2 on a usage error, 1 on a system error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using Addr = std::array<uint8_t, 16>;

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "regrelay_registrar_loadgen: %s\n"
                 "usage: regrelay_registrar_loadgen --bind ADDR --server ADDR --rate PPS (--count N | --duration S)\n"
                 "                                  [--first I] [--wait-ms MS] [--batch N]\n",
                 why.c_str());
    std::exit(2);
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "regrelay_registrar_loadgen: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

int64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Addr parse_addr(const std::string& opt, const std::string& s) {
    Addr a{};
    if (inet_pton(AF_INET6, s.c_str(), a.data()) != 1) usage("--" + opt + " '" + s + "': not an IPv6 address");
    return a;
}

double parse_num(const std::string& opt, const std::string& s, double lo, double hi) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end || errno || v < lo || v > hi)
        usage("--" + opt + " '" + s + "': expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
}

void put16(std::vector<uint8_t>& b, uint32_t v) {
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}

constexpr Addr kLinkAddress = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

Addr client_addr(uint32_t c) {
    Addr a = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    a[12] = uint8_t(c >> 24);
    a[13] = uint8_t(c >> 16);
    a[14] = uint8_t(c >> 8);
    a[15] = uint8_t(c);
    return a;
}

// The Relay-forward for client `c`, transaction `xid`.
std::vector<uint8_t> message(uint32_t c, uint32_t xid) {
    const Addr a = client_addr(c);
    const uint8_t mac[6] = {0x02, 0xaa, uint8_t(c >> 24), uint8_t(c >> 16), uint8_t(c >> 8), uint8_t(c)};
    std::vector<uint8_t> inner = {36, uint8_t(xid >> 16), uint8_t(xid >> 8), uint8_t(xid)};
    put16(inner, 1);  // Client Identifier: DUID-LL (type 3, hardware type 1) + MAC
    put16(inner, 10);
    put16(inner, 3);
    put16(inner, 1);
    inner.insert(inner.end(), mac, mac + 6);
    put16(inner, 5);  // IA Address
    put16(inner, 24);
    inner.insert(inner.end(), a.begin(), a.end());
    put32(inner, 3600);
    put32(inner, 7200);

    std::vector<uint8_t> m = {12, 0};  // Relay-forward, hop-count 0
    m.insert(m.end(), kLinkAddress.begin(), kLinkAddress.end());
    m.insert(m.end(), a.begin(), a.end());
    put16(m, 79);  // Client Link-Layer Address: type 1 (Ethernet) + MAC
    put16(m, 8);
    put16(m, 1);
    m.insert(m.end(), mac, mac + 6);
    put16(m, 9);  // Relay Message
    put16(m, uint32_t(inner.size()));
    m.insert(m.end(), inner.begin(), inner.end());
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> kv;
    for (int i = 1; i < argc; ++i) {
        std::string k = argv[i];
        if (k == "-h" || k == "--help") usage("help");
        if (k.rfind("--", 0) != 0) usage("unexpected argument '" + k + "'");
        k = k.substr(2);
        static const char* known[] = {"bind", "server", "rate", "count", "duration", "first", "wait-ms", "batch"};
        if (std::find_if(std::begin(known), std::end(known), [&](const char* s) { return k == s; }) == std::end(known))
            usage("unknown option --" + k);
        if (i + 1 >= argc) usage("--" + k + " needs a value");
        kv[k] = argv[++i];
    }
    auto need = [&](const char* k) -> const std::string& {
        auto it = kv.find(k);
        if (it == kv.end()) usage(std::string("--") + k + " is required");
        return it->second;
    };
    const Addr bind_addr = parse_addr("bind", need("bind"));
    const Addr server = parse_addr("server", need("server"));
    const double rate = parse_num("rate", need("rate"), 0, 10'000'000);
    if (kv.count("count") == kv.count("duration")) usage("give exactly one of --count and --duration");
    const uint64_t count = kv.count("count") ? uint64_t(parse_num("count", kv["count"], 1, 100'000'000))
                                             : uint64_t(parse_num("duration", kv["duration"], 0.001, 3600) * rate);
    if (count == 0) usage("--duration with --rate 0: give --count");
    const uint32_t first = kv.count("first") ? uint32_t(parse_num("first", kv["first"], 0, 4e9)) : 1;
    const int64_t wait_ns = int64_t(kv.count("wait-ms") ? parse_num("wait-ms", kv["wait-ms"], 0, 600'000) : 2000) * 1'000'000;
    const size_t batch = kv.count("batch") ? size_t(parse_num("batch", kv["batch"], 1, 1024)) : 16;
    if (uint64_t(first) + count > 0xffffffffULL) usage("--first + count exceeds 32 bits");

    int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    int big = 64 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
    sockaddr_in6 me{};
    me.sin6_family = AF_INET6;
    me.sin6_port = htons(547);
    std::memcpy(&me.sin6_addr, bind_addr.data(), 16);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&me), sizeof me) != 0) die("bind [--bind]:547");
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_port = htons(547);
    std::memcpy(&to.sin6_addr, server.data(), 16);

    std::vector<std::atomic<int64_t>> sent_at(count);
    std::vector<int64_t> latency(count, -1);
    for (auto& s : sent_at) s.store(0, std::memory_order_relaxed);
    std::atomic<bool> sending_done{false};
    std::atomic<int64_t> last_send_ns{0};
    uint64_t answered = 0, duplicates = 0, stray = 0;

    std::thread rx([&] {
        constexpr size_t kN = 64;
        std::vector<std::array<uint8_t, 1500>> bufs(kN);
        std::vector<iovec> iov(kN);
        std::vector<mmsghdr> hdr(kN);
        timeval tv{0, 50'000};  // a blocked recvmmsg returns every 50 ms to check for the end
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (answered < count) {
            for (size_t i = 0; i < kN; ++i) {
                iov[i] = {bufs[i].data(), bufs[i].size()};
                hdr[i] = {};
                hdr[i].msg_hdr.msg_iov = &iov[i];
                hdr[i].msg_hdr.msg_iovlen = 1;
            }
            int n = ::recvmmsg(fd, hdr.data(), kN, MSG_WAITFORONE, nullptr);
            const int64_t now = mono_ns();
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) die("recvmmsg");
            for (int i = 0; i < n; ++i) {
                const uint8_t* p = bufs[size_t(i)].data();
                size_t len = hdr[size_t(i)].msg_len;
                // Relay-reply (13): peer-address at bytes 18..33 is the client's address.
                if (len < 34 || p[0] != 13 || std::memcmp(p + 18, kLinkAddress.data(), 12) != 0) {
                    ++stray;
                    continue;
                }
                uint32_t c = uint32_t(p[30]) << 24 | uint32_t(p[31]) << 16 | uint32_t(p[32]) << 8 | p[33];
                if (c < first || uint64_t(c - first) >= count) {
                    ++stray;
                    continue;
                }
                size_t k = c - first;
                int64_t s = sent_at[k].load(std::memory_order_acquire);
                if (s == 0) {
                    ++stray;
                } else if (latency[k] >= 0) {
                    ++duplicates;
                } else {
                    latency[k] = now - s;
                    ++answered;
                }
            }
            if (sending_done.load(std::memory_order_acquire) && now - last_send_ns.load() > wait_ns) break;
        }
    });

    std::vector<std::vector<uint8_t>> msgs(batch);
    std::vector<iovec> iov(batch);
    std::vector<mmsghdr> hdr(batch);
    const int64_t start = mono_ns();
    uint64_t k = 0;
    while (k < count) {
        if (rate > 0) {
            // Message k is due at start + k/rate: sleep until the group's first is due.
            int64_t due = start + int64_t(double(k) * 1e9 / rate);
            timespec ts{time_t(due / 1'000'000'000), long(due % 1'000'000'000)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
            }
        }
        // Everything due by now, at most `batch`.
        const int64_t now = mono_ns();
        size_t n = 1;
        if (rate > 0) {
            uint64_t due_by_now = uint64_t(double(now - start) * rate / 1e9) + 1;
            n = size_t(std::min<uint64_t>({batch, count - k, due_by_now > k ? due_by_now - k : 1}));
        } else {
            n = size_t(std::min<uint64_t>(batch, count - k));
        }
        for (size_t i = 0; i < n; ++i) {
            msgs[i] = message(first + uint32_t(k + i), uint32_t(k + i) & 0xffffff);
            iov[i] = {msgs[i].data(), msgs[i].size()};
            hdr[i] = {};
            hdr[i].msg_hdr.msg_name = &to;
            hdr[i].msg_hdr.msg_namelen = sizeof to;
            hdr[i].msg_hdr.msg_iov = &iov[i];
            hdr[i].msg_hdr.msg_iovlen = 1;
        }
        size_t done = 0;
        while (done < n) {
            const int64_t t = mono_ns();
            for (size_t i = done; i < n; ++i) sent_at[k + i].store(t, std::memory_order_release);
            int r = ::sendmmsg(fd, hdr.data() + done, unsigned(n - done), 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == ENOBUFS) {
                    usleep(100);
                    continue;
                }
                die("sendmmsg");
            }
            done += size_t(r);
        }
        k += n;
    }
    const int64_t end = mono_ns();
    last_send_ns.store(end);
    sending_done.store(true, std::memory_order_release);
    rx.join();

    std::vector<int64_t> lat;
    lat.reserve(answered);
    for (int64_t l : latency)
        if (l >= 0) lat.push_back(l);
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double q) -> double {
        if (lat.empty()) return 0;
        size_t i = std::min(lat.size() - 1, size_t(q * double(lat.size())));
        return double(lat[i]) / 1000.0;
    };
    const double elapsed = double(end - start) / 1e9;
    std::printf("sent=%llu answered=%llu unanswered=%llu duplicates=%llu stray=%llu elapsed=%.3f rate=%.0f "
                "p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f\n",
                (unsigned long long)count, (unsigned long long)answered, (unsigned long long)(count - answered),
                (unsigned long long)duplicates, (unsigned long long)stray, elapsed,
                elapsed > 0 ? double(count) / elapsed : 0.0, pct(0.50), pct(0.90), pct(0.99), pct(0.999),
                lat.empty() ? 0.0 : double(lat.back()) / 1000.0);
    ::close(fd);
    return 0;
}
