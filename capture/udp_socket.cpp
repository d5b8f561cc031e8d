#include "capture/udp_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <string.h>
#include <unistd.h>

#include <cstring>

namespace regrelay::capture {

UdpSocket::~UdpSocket() {
    if (fd_ >= 0) ::close(fd_);
}

bool UdpSocket::open(uint16_t port, int rcvbuf_bytes, std::string& err) {
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
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_addr = in6addr_any;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        err = "bind [::]:" + std::to_string(port) + ": " + strerror(errno);
        if (errno == EADDRINUSE)
            err = "UDP port " + std::to_string(port) +
                  " is already in use in this network namespace (another regrelay relay or a DHCPv6 server?)";
        else if (errno == EACCES)
            err += " (binding a port below 1024 needs CAP_NET_BIND_SERVICE)";
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    rx_bufs_.resize(kBatch * kBufSize);
    return true;
}

size_t UdpSocket::recv_batch(std::vector<Datagram>& out, size_t max) {
    out.clear();
    if (max > kBatch) max = kBatch;
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
    int n = ::recvmmsg(fd_, msgs, unsigned(max), MSG_DONTWAIT, nullptr);
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
    // ld ifindex; jeq idx_i -> drop (for each i); ret accept; drop: ret 0.
    const size_t n = ifindexes.size();
    if (n > 250) {  // jump offsets are 8 bits: keep the filter off, the caller drops instead
        setsockopt(fd_, SOL_SOCKET, SO_DETACH_FILTER, nullptr, 0);
        return true;
    }
    std::vector<sock_filter> prog;
    prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_IFINDEX)));
    for (size_t i = 0; i < n; ++i)
        prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ifindexes[i], uint8_t(n - i), 0));
    prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffffu));
    prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0));
    sock_fprog fp{uint16_t(prog.size()), prog.data()};
    if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) != 0) {
        err = std::string("server socket filter: ") + strerror(errno);
        return false;
    }
    return true;
}

size_t UdpSocket::read_errors(std::vector<SendError>& out, size_t max) {
    out.clear();
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
        if (::recvmsg(fd_, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
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
    return out.size();
}

size_t UdpSocket::send_batch(std::vector<Datagram>& in) {
    size_t sent = 0;
    while (sent < in.size()) {
        size_t n = std::min(kBatch, in.size() - sent);
        mmsghdr msgs[kBatch];
        iovec iov[kBatch];
        sockaddr_in6 to[kBatch];
        alignas(cmsghdr) char ctl[kBatch][CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
        for (size_t i = 0; i < n; ++i) {
            Datagram& d = in[sent + i];
            d.error = 0;
            to[i] = {};
            to[i].sin6_family = AF_INET6;
            to[i].sin6_port = htons(d.peer_port);
            std::memcpy(to[i].sin6_addr.s6_addr, d.peer.b.data(), 16);
            if (d.peer.is_link_local() || (d.peer.is_multicast() && (d.peer.b[1] & 0x0f) <= 2))
                to[i].sin6_scope_id = d.ifindex;
            iov[i] = {const_cast<uint8_t*>(d.data.data()), d.data.size()};
            msgs[i].msg_hdr = {};
            msgs[i].msg_hdr.msg_name = &to[i];
            msgs[i].msg_hdr.msg_namelen = sizeof to[i];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
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
        int r = ::sendmmsg(fd_, msgs, unsigned(n), 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                // Socket buffer full: wait until it drains rather than drop.
                fd_set w;
                FD_ZERO(&w);
                FD_SET(fd_, &w);
                timeval tv{0, 100000};
                if (::select(fd_ + 1, nullptr, &w, nullptr, &tv) > 0) continue;
            }
            // Skip the datagram that failed (e.g. no route) and go on with the rest.
            in[sent].error = errno;
            last_error_ = strerror(errno);
            ++send_errors_;
            ++sent;
            continue;
        }
        sent += size_t(r);
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
