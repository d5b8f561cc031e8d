#include "dns/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace regrelay::dns {

namespace {

uint64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * limits::kNsPerSec + uint64_t(ts.tv_nsec);
}

constexpr size_t kMaxTcpOut = 256 * 1024;  // stop reading a connection that does not read its answers

}  // namespace

bool parse_listen(const std::string& text, sockaddr_storage& ss, socklen_t& len) {
    std::memset(&ss, 0, sizeof ss);
    std::string host, port;
    if (!text.empty() && text[0] == '[') {
        size_t close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return false;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string::npos || text.find(':') != colon) return false;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (port.empty() || port.size() > 5) return false;
    unsigned p = 0;
    for (char c : port) {
        if (c < '0' || c > '9') return false;
        p = p * 10 + unsigned(c - '0');
    }
    if (p > 65535) return false;
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    if (inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(uint16_t(p));
        len = sizeof(sockaddr_in6);
        return true;
    }
    if (inet_pton(AF_INET, host.c_str(), &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(uint16_t(p));
        len = sizeof(sockaddr_in);
        return true;
    }
    return false;
}

DnsServer::DnsServer(Responder& responder, ServerOptions opts)
    : responder_(responder), opts_(opts), sources_(opts.per_source, opts.source_slots, uint64_t(mono_ns())) {}

DnsServer::~DnsServer() {
    for (auto& c : conns_) ::close(c->fd);
    if (udp_ >= 0) ::close(udp_);
    if (tcp_ >= 0) ::close(tcp_);
}

bool DnsServer::open(const std::string& listen, std::string& error) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (!parse_listen(listen, ss, len)) {
        error = "'" + listen + "' is not ADDR:PORT ([2001:db8::53]:53, 192.0.2.53:53)";
        return false;
    }
    const int fam = ss.ss_family;
    udp_ = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    tcp_ = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (udp_ < 0 || tcp_ < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    int one = 1;
    setsockopt(tcp_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fam == AF_INET6) {
        setsockopt(udp_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        setsockopt(tcp_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(udp_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        error = "bind udp " + listen + ": " + std::strerror(errno);
        return false;
    }
    // Port 0: the TCP socket takes the port the UDP one got.
    sockaddr_storage got{};
    socklen_t glen = sizeof got;
    getsockname(udp_, reinterpret_cast<sockaddr*>(&got), &glen);
    uint16_t p = fam == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&got)->sin6_port
                                 : reinterpret_cast<sockaddr_in*>(&got)->sin_port;
    if (fam == AF_INET6) reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = p;
    else reinterpret_cast<sockaddr_in*>(&ss)->sin_port = p;
    port_ = ntohs(p);
    if (bind(tcp_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        error = "bind tcp " + listen + ": " + std::strerror(errno);
        return false;
    }
    if (::listen(tcp_, 64) != 0) {
        error = std::string("listen: ") + std::strerror(errno);
        return false;
    }
    return true;
}

void DnsServer::pollfds(std::vector<pollfd>& out) const {
    if (udp_ >= 0) out.push_back({udp_, POLLIN, 0});
    if (tcp_ >= 0) out.push_back({tcp_, POLLIN, 0});
    for (const auto& c : conns_) {
        short ev = 0;
        if (c->out.size() < kMaxTcpOut) ev |= POLLIN;
        if (!c->out.empty()) ev |= POLLOUT;
        out.push_back({c->fd, ev, 0});
    }
}

uint64_t DnsServer::source_key(const sockaddr_storage& ss) const {
    uint64_t k = 0;
    if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr.s6_addr;
        for (int i = 0; i < 8; ++i) k = k << 8 | a[i];  // the /64
    } else {
        uint32_t v4 = ntohl(reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr);
        k = uint64_t(0xfffe) << 48 | v4;
    }
    return k == ~uint64_t(0) ? k - 1 : k;
}

void DnsServer::on_udp(uint64_t now_ns) {
    uint8_t buf[65535];
    for (size_t i = 0; i < opts_.udp_batch; ++i) {
        sockaddr_storage from{};
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(udp_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++counters_.recv_errors;
            return;
        }
        ++counters_.udp_queries;
        if (!sources_.admit(source_key(from), now_ns)) {
            ++counters_.rate_limited;
            continue;
        }
        std::vector<uint8_t> r = responder_.respond(std::span<const uint8_t>(buf, size_t(n)), Transport::kUdp);
        if (r.empty()) {
            ++counters_.no_response;
            continue;
        }
        if (sendto(udp_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), flen) < 0)
            ++counters_.send_errors;
        else
            ++counters_.udp_responses;
    }
}

void DnsServer::on_accept(uint64_t now_ns) {
    for (int i = 0; i < 16; ++i) {
        int fd = accept4(tcp_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (conns_.size() >= opts_.max_tcp) {
            ++counters_.tcp_refused_full;
            ::close(fd);
            continue;
        }
        ++counters_.tcp_accepted;
        auto c = std::make_unique<Conn>();
        c->fd = fd;
        c->last_ns = now_ns;
        conns_.push_back(std::move(c));
    }
}

bool DnsServer::on_conn(Conn& c, short revents, uint64_t now_ns) {
    if (revents & (POLLERR | POLLNVAL)) {
        ++counters_.tcp_closed_error;
        return false;
    }
    if (revents & (POLLIN | POLLHUP)) {
        uint8_t buf[16384];
        ssize_t n = read(c.fd, buf, sizeof buf);
        if (n == 0) return c.out.empty() ? false : true;  // peer closed; flush what is left
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                ++counters_.tcp_closed_error;
                return false;
            }
        } else {
            c.last_ns = now_ns;
            c.in.insert(c.in.end(), buf, buf + n);
            size_t off = 0;
            while (c.in.size() - off >= 2) {
                size_t len = size_t(c.in[off]) << 8 | c.in[off + 1];
                if (c.in.size() - off - 2 < len) break;
                ++counters_.tcp_queries;
                std::vector<uint8_t> r =
                    responder_.respond(std::span<const uint8_t>(c.in.data() + off + 2, len), Transport::kTcp);
                off += 2 + len;
                if (r.empty()) {
                    ++counters_.no_response;
                    continue;
                }
                ++counters_.tcp_responses;
                c.out.push_back(uint8_t(r.size() >> 8));
                c.out.push_back(uint8_t(r.size()));
                c.out.insert(c.out.end(), r.begin(), r.end());
            }
            c.in.erase(c.in.begin(), c.in.begin() + std::ptrdiff_t(off));
        }
    }
    if (!c.out.empty()) {
        ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                ++counters_.send_errors;
                return false;
            }
        } else {
            c.out.erase(c.out.begin(), c.out.begin() + n);
            c.last_ns = now_ns;
        }
    }
    return true;
}

void DnsServer::process(const std::vector<pollfd>& fds, uint64_t now_ns) {
    for (const auto& p : fds) {
        if (!p.revents) continue;
        if (p.fd == udp_) on_udp(now_ns);
        else if (p.fd == tcp_) on_accept(now_ns);
        else
            for (size_t i = 0; i < conns_.size(); ++i)
                if (conns_[i]->fd == p.fd) {
                    if (!on_conn(*conns_[i], p.revents, now_ns)) {
                        ::close(conns_[i]->fd);
                        conns_.erase(conns_.begin() + std::ptrdiff_t(i));
                    }
                    break;
                }
    }
    for (size_t i = 0; i < conns_.size();) {
        if (now_ns - conns_[i]->last_ns > opts_.tcp_idle_ns) {
            ++counters_.tcp_closed_idle;
            ::close(conns_[i]->fd);
            conns_.erase(conns_.begin() + std::ptrdiff_t(i));
        } else {
            ++i;
        }
    }
}

void DnsServer::run(const std::atomic<bool>& stop) {
    std::vector<pollfd> fds;
    while (!stop.load()) {
        fds.clear();
        pollfds(fds);
        int n = poll(fds.data(), fds.size(), 200);
        if (n < 0 && errno != EINTR) return;
        process(fds, mono_ns());
    }
}

}  // namespace regrelay::dns
