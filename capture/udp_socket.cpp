#include "capture/udp_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace regrelay::capture {

UdpSocket::~UdpSocket() {
    for (auto& p : peers_) ::close(p.fd);
    if (fd_ >= 0) ::close(fd_);
}

namespace {

sockaddr_in6 sockaddr_of(const Ip6Addr& a, uint16_t port) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    std::memcpy(sa.sin6_addr.s6_addr, a.b.data(), 16);
    return sa;
}

}  // namespace

bool UdpSocket::open(uint16_t port, int rcvbuf_bytes, std::string& err) {
    return open_at(Ip6Addr{}, 0, port, rcvbuf_bytes, err);
}

bool UdpSocket::open_at(const Ip6Addr& addr, unsigned scope, uint16_t port, int rcvbuf_bytes, std::string& err) {
    fd_ = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd_ < 0) {
        err = std::string("socket: ") + strerror(errno);
        return false;
    }
    int one = 1, zero = 0;
    setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
#ifdef IPV6_MULTICAST_ALL
    // Receive only groups this socket joined (none): client multicasts are read by capture.
    setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof zero);
#endif
    setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero);
    if (rcvbuf_bytes > 0) {
        // SO_RCVBUFFORCE passes net.core.rmem_max when we may (root); else the capped size.
        if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf_bytes, sizeof rcvbuf_bytes) != 0)
            setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes);
        setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf_bytes, sizeof rcvbuf_bytes);
    }
    sockaddr_in6 sa = sockaddr_of(addr, port);
    sa.sin6_scope_id = scope;
    // Appended, not "lit" + std::string&& (GCC 12 -O3: a false -Wrestrict).
    std::string where = "[";
    where += addr.str();
    if (scope) {
        where += '%';
        where += std::to_string(scope);
    }
    where += "]:";
    where += std::to_string(port);
    if (addr.is_multicast()) {
        setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        ipv6_mreq mr{};
        std::memcpy(&mr.ipv6mr_multiaddr, addr.b.data(), 16);
        mr.ipv6mr_interface = scope;
        if (::setsockopt(fd_, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr) != 0) {
            err = "joining " + where + ": " + strerror(errno);
            ::close(fd_);
            fd_ = -1;
            return false;
        }
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        err = "bind " + where + ": " + strerror(errno);
        if (errno == EADDRINUSE && addr.is_unspecified())
            err = "UDP port " + std::to_string(port) +
                  " is already in use in this network namespace (another regrelay relay or a DHCPv6 server?)";
        else if (errno == EADDRINUSE)
            err += " (another process has this address and port" +
                   std::string(addr.is_multicast() ? " without SO_REUSEADDR)" : ")");
        else if (errno == EADDRNOTAVAIL)
            err += " (not an address of this host)";
        else if (errno == EACCES)
            err += " (binding a port below 1024 needs CAP_NET_BIND_SERVICE)";
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    port_ = port;
    rcvbuf_bytes_ = rcvbuf_bytes;
    rx_bufs_.resize(kBatch * kBufSize);
    return true;
}

int UdpSocket::open_peer(const Ip6Addr& src, std::string& err) {
    int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) {
        err = std::string("socket: ") + strerror(errno);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (rcvbuf_bytes_ > 0) {
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf_bytes_, sizeof rcvbuf_bytes_) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes_, sizeof rcvbuf_bytes_);
        setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf_bytes_, sizeof rcvbuf_bytes_);
    }
    // Filtered before it is bound: nothing from an ignored interface is queued in between.
    if (!apply_filter(fd, err)) {
        ::close(fd);
        return -1;
    }
    sockaddr_in6 sa = sockaddr_of(src, port_);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        err = "bind [" + src.str() + "]:" + std::to_string(port_) + ": " + strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

bool UdpSocket::connect_peer(int fd, const Ip6Addr& dst, std::string& err) {
    sockaddr_in6 sa = sockaddr_of(dst, port_);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        err = "connect [" + dst.str() + "]:" + std::to_string(port_) + ": " + strerror(errno);
        return false;
    }
    return true;
}

void UdpSocket::set_peers(const std::vector<std::pair<Ip6Addr, Ip6Addr>>& want, std::vector<std::string>& errs) {
    if (fd_ < 0) return;
    std::vector<Peer> next;
    std::vector<Peer> old = std::move(peers_);
    peers_.clear();
    if (!want.empty()) {
        // After our own exclusive bind: lets the peers below share the port (same user only).
        int one = 1;
        setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    for (const auto& w : want) {
        const Ip6Addr& dst = w.first;  // not a structured binding: clang 14 cannot capture one
        const Ip6Addr& src = w.second;
        if (std::any_of(next.begin(), next.end(), [&](const Peer& p) { return p.dst == dst; })) continue;
        std::string err;
        // The same peer; else one bound to the same source, connected anew.
        auto it = std::find_if(old.begin(), old.end(), [&](const Peer& p) { return p.dst == dst && p.src == src; });
        if (it == old.end())
            it = std::find_if(old.begin(), old.end(), [&](const Peer& p) { return p.src == src; });
        if (it != old.end()) {
            Peer p = *it;
            old.erase(it);
            if (p.dst == dst || connect_peer(p.fd, dst, err)) {
                p.dst = dst;
                next.push_back(p);
            } else {
                ::close(p.fd);
                errs.push_back(err);
            }
            continue;
        }
        int fd = open_peer(src, err);
        if (fd >= 0 && !connect_peer(fd, dst, err)) {
            ::close(fd);
            fd = -1;
        }
        if (fd < 0) {
            errs.push_back(err);
            continue;
        }
        Peer& p = next.emplace_back();
        p.dst = dst;
        p.src = src;
        p.fd = fd;
    }
    for (auto& p : old) ::close(p.fd);
    peers_ = std::move(next);
}

size_t UdpSocket::recv_batch(std::vector<Datagram>& out, size_t max) {
    out.clear();
    if (max > kBatch) max = kBatch;
    if (fd_ < 0) return 0;
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    sockaddr_in6 from[kBatch];
    alignas(cmsghdr) char ctl[kBatch][CMSG_SPACE(sizeof(in6_pktinfo))];
    for (size_t i = 0; i < max; ++i) {
        iov[i] = {rx_bufs_.data() + i * kBufSize, kBufSize};
        msgs[i].msg_hdr = {};
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = ctl[i];
        msgs[i].msg_hdr.msg_controllen = sizeof ctl[i];
    }
    // The main socket, then each peer's, into the next free slots.
    int n = 0;
    for (size_t s = 0; s <= peers_.size() && size_t(n) < max; ++s) {
        const int fd = s == 0 ? fd_ : peers_[s - 1].fd;
        int got = ::recvmmsg(fd, msgs + n, unsigned(max - size_t(n)), MSG_DONTWAIT, nullptr);
        if (got > 0) n += got;
    }
    if (n <= 0) return 0;
    for (int i = 0; i < n; ++i) {
        Datagram d;
        d.peer = Ip6Addr::from({from[i].sin6_addr.s6_addr, 16});
        d.peer_port = ntohs(from[i].sin6_port);
        for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
            if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
                in6_pktinfo pi;
                std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
                d.local = Ip6Addr::from({pi.ipi6_addr.s6_addr, 16});
                d.ifindex = pi.ipi6_ifindex;
            }
        }
        d.data = {rx_bufs_.data() + size_t(i) * kBufSize, msgs[i].msg_len};
        out.push_back(d);
    }
    return size_t(n);
}

bool UdpSocket::set_ignored_interfaces(const std::vector<unsigned>& ifindexes, std::string& err) {
    ignored_ = ifindexes;
    if (!apply_filter(fd_, err)) return false;
    for (const auto& p : peers_)
        if (!apply_filter(p.fd, err)) return false;
    return true;
}

bool UdpSocket::apply_filter(int fd, std::string& err) {
    const std::vector<unsigned>& ifindexes = ignored_;
    // ld ifindex; jeq idx_i -> drop (for each i); ret accept; drop: ret 0.
    const size_t n = ifindexes.size();
    if (n == 0 || n > 250) {  // jump offsets are 8 bits: keep the filter off, the caller drops instead
        setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, nullptr, 0);
        return true;
    }
    std::vector<sock_filter> prog;
    prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_IFINDEX)));
    for (size_t i = 0; i < n; ++i)
        prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ifindexes[i], uint8_t(n - i), 0));
    prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffffu));
    prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0));
    sock_fprog fp{uint16_t(prog.size()), prog.data()};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) != 0) {
        err = std::string("server socket filter: ") + strerror(errno);
        return false;
    }
    return true;
}

size_t UdpSocket::read_errors(std::vector<SendError>& out, size_t max) {
    out.clear();
    for (size_t s = 0; s <= peers_.size() && out.size() < max; ++s) {
    const int fd = s == 0 ? fd_ : peers_[s - 1].fd;
    while (out.size() < max) {
        uint8_t data[512];
        sockaddr_in6 to{};
        alignas(cmsghdr) char ctl[512];
        iovec iov{data, sizeof data};
        msghdr mh{};
        mh.msg_name = &to;
        mh.msg_namelen = sizeof to;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof ctl;
        if (::recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
        SendError e;
        e.dst = Ip6Addr::from({to.sin6_addr.s6_addr, 16});
        for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != IPPROTO_IPV6 || c->cmsg_type != IPV6_RECVERR) continue;
            sock_extended_err ee;
            std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
            e.error = int(ee.ee_errno);
            e.icmp = ee.ee_origin == SO_EE_ORIGIN_ICMP6;
            e.type = ee.ee_type;
            e.code = ee.ee_code;
            sockaddr_in6 off;
            std::memcpy(&off, reinterpret_cast<const uint8_t*>(CMSG_DATA(c)) + sizeof ee, sizeof off);
            if (off.sin6_family == AF_INET6) e.offender = Ip6Addr::from({off.sin6_addr.s6_addr, 16});
        }
        out.push_back(e);
    }
    }
    return out.size();
}

size_t UdpSocket::send_batch(std::vector<Datagram>& in) {
    size_t sent = 0;
    // Per socket, in order: each peer's datagrams, then the rest through the main socket.
    for (size_t s = 0; s <= peers_.size(); ++s) {
        idx_.clear();
        for (size_t i = 0; i < in.size(); ++i) {
            const Datagram& d = in[i];
            const bool direct = d.ifindex == 0 && d.hop_limit == 0 && d.peer_port == port_ && !d.local.is_unspecified();
            size_t owner = 0;  // the main socket
            for (size_t k = 0; direct && k < peers_.size(); ++k)
                if (peers_[k].dst == d.peer && peers_[k].src == d.local) {
                    owner = k + 1;
                    break;
                }
            if (owner == (s == peers_.size() ? 0 : s + 1)) idx_.push_back(i);
        }
        if (idx_.empty()) continue;
        const bool main = s == peers_.size();
        sent += main ? send_on(fd_, nullptr, in, idx_) : send_on(peers_[s].fd, &peers_[s], in, idx_);
    }
    return sent;
}

bool UdpSocket::set_gso(const Ip6Addr& dst, bool on) {
    for (auto& p : peers_)
        if (p.dst == dst) {
            if (on != p.gso) p.gso_off_reason.clear();
            p.gso = on;
            return true;
        }
    return false;
}

namespace {

// A send that failed on a connected socket because of an error an earlier datagram caused (an
// ICMPv6 unreachable sets the socket's pending error, and the next send returns it instead of
// sending): the failing call has cleared it, so the datagrams are sent once more.
bool pending_error(int e) {
    return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN || e == EPROTO;
}

}  // namespace

size_t UdpSocket::send_gso(Peer& peer, std::vector<Datagram>& in, const std::vector<size_t>& idx) {
    gso_iov_.resize(idx.size());
    size_t sent = 0;
    bool retried = false;
    while (sent < idx.size()) {
        mmsghdr msgs[kBatch];
        size_t first[kBatch + 1];  // message k carries datagrams first[k] .. first[k+1]-1 of idx
        alignas(cmsghdr) char ctl[kBatch][CMSG_SPACE(sizeof(uint16_t))];
        size_t n = 0, at = sent;
        while (at < idx.size() && n < kBatch) {
            const size_t size = in[idx[at]].data.size();
            size_t run = 1, total = size;
            if (size > 0 && size <= kGsoMaxSegment)
                while (at + run < idx.size() && run < kGsoMaxSegments) {
                    const size_t z = in[idx[at + run]].data.size();
                    if (z == 0 || z > size || total + z > kGsoMaxBytes) break;
                    total += z;
                    ++run;
                    if (z < size) break;  // a shorter datagram can only be the last segment
                }
            first[n] = at;
            for (size_t k = at; k < at + run; ++k) {
                Datagram& d = in[idx[k]];
                d.error = 0;
                d.gso = false;
                gso_iov_[k] = {const_cast<uint8_t*>(d.data.data()), d.data.size()};
            }
            msgs[n].msg_hdr = {};
            msgs[n].msg_hdr.msg_iov = &gso_iov_[at];
            msgs[n].msg_hdr.msg_iovlen = run;
            if (run > 1) {
                cmsghdr* c = reinterpret_cast<cmsghdr*>(ctl[n]);
                c->cmsg_level = IPPROTO_UDP;
                c->cmsg_type = 103;  // UDP_SEGMENT (linux/udp.h)
                c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                const uint16_t segment = uint16_t(size);
                std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
                msgs[n].msg_hdr.msg_control = ctl[n];
                msgs[n].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
            }
            at += run;
            ++n;
        }
        first[n] = at;
        const int r = ::sendmmsg(peer.fd, msgs, unsigned(n), 0);
        if (r > 0) {
            for (size_t k = 0; k < size_t(r); ++k)
                if (first[k + 1] - first[k] > 1)
                    for (size_t j = first[k]; j < first[k + 1]; ++j) in[idx[j]].gso = true;
            sent = first[size_t(r)];
            retried = false;
            continue;
        }
        const int e = errno;
        const bool several = first[1] - first[0] > 1;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            fd_set w;
            FD_ZERO(&w);
            FD_SET(peer.fd, &w);
            timeval tv{0, 100000};
            if (::select(peer.fd + 1, nullptr, &w, nullptr, &tv) > 0) continue;
        } else if (several && (e == EIO || e == EINVAL || e == EMSGSIZE || e == EOPNOTSUPP)) {
            // The kernel cannot segment toward this peer (no checksum offload on the route,
            // IPsec, an MTU below the segment): the rest goes datagram by datagram.
            peer.gso = false;
            peer.gso_off_reason = strerror(e);
            std::vector<size_t> rest(idx.begin() + std::ptrdiff_t(sent), idx.end());
            return sent + send_on(peer.fd, &peer, in, rest);
        } else if (pending_error(e) && !retried) {
            retried = true;
            continue;
        }
        // The message that failed (all its datagrams) is skipped; the rest goes on.
        for (size_t k = first[0]; k < first[1]; ++k) in[idx[k]].error = e;
        last_error_ = strerror(e);
        ++send_errors_;
        sent = first[1];
        retried = false;
    }
    return sent;
}

size_t UdpSocket::send_on(int fd, Peer* peer, std::vector<Datagram>& in, const std::vector<size_t>& idx) {
    if (peer && peer->gso) return send_gso(*peer, in, idx);
    const bool connected = peer != nullptr;
    bool retried = false;
    size_t sent = 0;
    while (sent < idx.size()) {
        size_t n = std::min(kBatch, idx.size() - sent);
        mmsghdr msgs[kBatch];
        iovec iov[kBatch];
        sockaddr_in6 to[kBatch];
        alignas(cmsghdr) char ctl[kBatch][CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
        for (size_t i = 0; i < n; ++i) {
            Datagram& d = in[idx[sent + i]];
            d.error = 0;
            d.gso = false;
            iov[i] = {const_cast<uint8_t*>(d.data.data()), d.data.size()};
            msgs[i].msg_hdr = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            if (connected) continue;  // destination and source are the socket's
            to[i] = {};
            to[i].sin6_family = AF_INET6;
            to[i].sin6_port = htons(d.peer_port);
            std::memcpy(to[i].sin6_addr.s6_addr, d.peer.b.data(), 16);
            if (d.peer.is_link_local() || (d.peer.is_multicast() && (d.peer.b[1] & 0x0f) <= 2))
                to[i].sin6_scope_id = d.ifindex;
            msgs[i].msg_hdr.msg_name = &to[i];
            msgs[i].msg_hdr.msg_namelen = sizeof to[i];
            size_t clen = 0;
            if (d.ifindex || !d.local.is_unspecified()) {
                cmsghdr* c = reinterpret_cast<cmsghdr*>(ctl[i]);
                c->cmsg_level = IPPROTO_IPV6;
                c->cmsg_type = IPV6_PKTINFO;
                c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
                in6_pktinfo pi{};
                std::memcpy(pi.ipi6_addr.s6_addr, d.local.b.data(), 16);
                pi.ipi6_ifindex = d.ifindex;
                std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
                clen += CMSG_SPACE(sizeof(in6_pktinfo));
            }
            if (d.hop_limit) {
                cmsghdr* c = reinterpret_cast<cmsghdr*>(ctl[i] + clen);
                c->cmsg_level = IPPROTO_IPV6;
                c->cmsg_type = IPV6_HOPLIMIT;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                int hl = d.hop_limit;
                std::memcpy(CMSG_DATA(c), &hl, sizeof hl);
                clen += CMSG_SPACE(sizeof(int));
            }
            if (clen) {
                msgs[i].msg_hdr.msg_control = ctl[i];
                msgs[i].msg_hdr.msg_controllen = clen;
            }
        }
        int r = ::sendmmsg(fd, msgs, unsigned(n), 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                // Socket buffer full: wait until it drains rather than drop.
                fd_set w;
                FD_ZERO(&w);
                FD_SET(fd, &w);
                timeval tv{0, 100000};
                if (::select(fd + 1, nullptr, &w, nullptr, &tv) > 0) continue;
            }
            if (connected && pending_error(errno) && !retried) {
                retried = true;
                continue;
            }
            // Skip the datagram that failed (e.g. no route) and go on with the rest.
            in[idx[sent]].error = errno;
            last_error_ = strerror(errno);
            ++send_errors_;
            ++sent;
            retried = false;
            continue;
        }
        sent += size_t(r);
        retried = false;
    }
    return sent;
}

std::optional<Ip6Addr> route_source(const Ip6Addr& dst, unsigned ifindex) {
    int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) return std::nullopt;
    if (ifindex) setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex);
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_port = htons(547);
    std::memcpy(to.sin6_addr.s6_addr, dst.b.data(), 16);
    if (dst.is_link_local() || dst.is_multicast()) to.sin6_scope_id = ifindex;
    std::optional<Ip6Addr> out;
    sockaddr_in6 me{};
    socklen_t len = sizeof me;
    // connect() on UDP sends nothing: it only runs the route lookup.
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len) == 0)
        out = Ip6Addr::from({me.sin6_addr.s6_addr, 16});
    ::close(fd);
    return out;
}

int join_multicast(const Ip6Addr& group, unsigned ifindex, std::string& err) {
    int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) {
        err = std::string("socket: ") + strerror(errno);
        return -1;
    }
    ipv6_mreq mr{};
    std::memcpy(mr.ipv6mr_multiaddr.s6_addr, group.b.data(), 16);
    mr.ipv6mr_interface = ifindex;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr) != 0) {
        err = "join " + group.str() + ": " + strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace regrelay::capture
