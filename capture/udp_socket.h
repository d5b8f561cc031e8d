// The server-side UDP socket of relay mode: bound to port 547, receiving and sending in
// batches (recvmmsg/sendmmsg) with per-datagram interface, source address and hop limit.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dhcp6/wire.h"

namespace regrelay::capture {

struct Datagram {
    Ip6Addr peer;          // source (received) or destination (to send)
    uint16_t peer_port = 0;
    Ip6Addr local;         // destination (received) or source to use (:: = kernel's choice)
    unsigned ifindex = 0;  // arrival interface, or the interface to send on (0 = routing decides)
    uint8_t hop_limit = 0; // to send: 0 = default
    Bytes data;            // received: valid until the next recv; to send: caller's buffer
};

class UdpSocket {
public:
    UdpSocket() = default;
    ~UdpSocket();
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;

    // Binds [::]:port with IPV6_RECVPKTINFO; false and `err` on failure.
    bool open(uint16_t port, int rcvbuf_bytes, std::string& err);
    int fd() const { return fd_; }

    // Receives up to `max` datagrams without blocking; returns how many (0 when none).
    size_t recv_batch(std::vector<Datagram>& out, size_t max);
    // Sends datagrams; returns how many were sent. Failures are counted in send_errors().
    size_t send_batch(const std::vector<Datagram>& msgs);
    uint64_t send_errors() const { return send_errors_; }
    const std::string& last_error() const { return last_error_; }

private:
    int fd_ = -1;
    uint64_t send_errors_ = 0;
    std::string last_error_;
    static constexpr size_t kBatch = 64;
    static constexpr size_t kBufSize = 65536;
    std::vector<uint8_t> rx_bufs_;  // kBatch * kBufSize
};

// The source address the kernel would use toward `dst` (out of `ifindex` when non-zero).
std::optional<Ip6Addr> route_source(const Ip6Addr& dst, unsigned ifindex);

// Joins an IPv6 multicast group on an interface through a socket that receives nothing
// itself, so the link accepts the group's frames for capture. Returns the fd or -1.
int join_multicast(const Ip6Addr& group, unsigned ifindex, std::string& err);

}  // namespace regrelay::capture
