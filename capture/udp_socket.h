// The server-side UDP socket of relay mode: bound to port 547, receiving and sending in
// batches (recvmmsg/sendmmsg) with per-datagram interface, source address and hop limit.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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
    int error = 0;         // after send_batch: 0 when sent, else the errno of the failure
    bool gso = false;      // after send_batch: sent inside a UDP GSO send of several datagrams
};

// An ICMPv6 error (or a local one) the kernel reported for a datagram we sent (IPV6_RECVERR).
struct SendError {
    Ip6Addr dst;           // where the failed datagram was going
    Ip6Addr offender;      // the router or host that sent the ICMPv6 error (:: when local)
    int error = 0;         // errno equivalent (e.g. EHOSTUNREACH, ECONNREFUSED)
    bool icmp = false;     // from an ICMPv6 message, not a local failure
    uint8_t type = 0, code = 0;  // ICMPv6 type and code
};

class UdpSocket {
public:
    UdpSocket() = default;
    ~UdpSocket();
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;

    // Binds [::]:port with IPV6_RECVPKTINFO and IPV6_RECVERR, exclusively (no SO_REUSEADDR: a
    // second relay in the same network namespace fails here instead of doubling every
    // Relay-forward); false and `err` on failure.
    bool open(uint16_t port, int rcvbuf_bytes, std::string& err);
    // The same, bound to [addr]:port instead (`scope`: the interface of a link-local or multicast
    // address). A unicast address is bound exclusively (no SO_REUSEADDR: nobody can take its
    // traffic over). A multicast group (ff02::1:2 on interface `scope`) is bound with SO_REUSEADDR
    // and joined on this socket: a DHCPv6 server on the same link binds [ff02::1:2]%IF with
    // SO_REUSEADDR too (Kea 2.2 does), and the kernel gives a multicast datagram to every socket
    // bound to its group, so both get each one (nothing is split).
    bool open_at(const Ip6Addr& addr, unsigned scope, uint16_t port, int rcvbuf_bytes, std::string& err);
    int fd() const { return fd_; }

    // Datagrams arriving on these interfaces are dropped in the kernel, before they take room in
    // the socket buffer (a classic BPF socket filter on the arrival ifindex): client-side
    // unicasts to our address are read by capture, and a flood of them must not crowd out the
    // servers' Relay-replies. Replaces the previous list; false and `err` on failure.
    bool set_ignored_interfaces(const std::vector<unsigned>& ifindexes, std::string& err);
    // Datagrams the filter has kept off the socket are not visible here; those that got through
    // from an ignored interface anyway (before the filter was set) are dropped by the caller.

    // Reads the error queue (ICMPv6 errors for what we sent) without blocking. Must be called
    // when poll() reports POLLERR, which it keeps doing while the queue is not empty.
    size_t read_errors(std::vector<SendError>& out, size_t max = 64);

    // Receives up to `max` datagrams without blocking; returns how many (0 when none).
    size_t recv_batch(std::vector<Datagram>& out, size_t max);
    // Sends datagrams; returns how many were sent. Each datagram's `error` says whether it was;
    // failures are also counted in send_errors(). A datagram to a connected peer (below) from
    // that peer's source, with no interface and the default hop limit, goes out of the peer's
    // socket: no route lookup and no source selection per datagram in the kernel.
    size_t send_batch(std::vector<Datagram>& msgs);
    uint64_t send_errors() const { return send_errors_; }
    const std::string& last_error() const { return last_error_; }

    // Connected peers: one UDP socket per (destination, source), bound to [source]:port (the
    // port of open()) and connected to [destination]:port. The main socket lets them share its
    // port (SO_REUSEPORT, set after its own exclusive bind: a second relay still fails in open()).
    // What a peer sends back arrives on the peer's socket (the kernel prefers the connected
    // match): recv_batch() and read_errors() read every socket. Brings the peers to `want`:
    // kept when unchanged, reconnected when only the destination changed (no privilege needed),
    // else opened (binding a port below 1024 needs CAP_NET_BIND_SERVICE; a peer that cannot be
    // opened is left out, its datagrams go through the main socket). `errs` gets one line per
    // peer left out.
    struct Peer {
        Ip6Addr dst, src;
        int fd = -1;
        bool gso = false;            // set_gso(): runs of equal-size datagrams as one UDP GSO send
        std::string gso_off_reason;  // set when the kernel refused a GSO send and it was turned off
    };
    void set_peers(const std::vector<std::pair<Ip6Addr, Ip6Addr>>& want, std::vector<std::string>& errs);
    const std::vector<Peer>& peers() const { return peers_; }

    // UDP generic segmentation offload toward a connected peer (UDP_SEGMENT, Linux 4.18): a run
    // of consecutive datagrams of one size (the last may be shorter), up to kGsoMaxSegments and
    // kGsoMaxBytes, each at most kGsoMaxSegment bytes (fits the IPv6 minimum MTU), goes to the
    // kernel as one send; the kernel builds one large datagram and cuts it back into the
    // original datagrams, in software before the interface when the interface does not do it
    // (its tx-udp-segmentation off), else in the NIC. Each datagram leaves exactly as it would
    // have alone (same bytes, same headers but the IPv6 flow). Only the caller knows whether
    // the segments are cut before anything can capture them (see relay/daemon.cpp): on a
    // virtual link whose tx-udp-segmentation is on they would reach the peer namespace, and its
    // taps, as one datagram. A GSO send the kernel refuses with EIO or EINVAL (no checksum
    // offload, IPsec, ...) is sent again datagram by datagram, and GSO is turned off for that
    // peer (gso_off_reason). False when there is no such peer.
    bool set_gso(const Ip6Addr& dst, bool on);
    static constexpr size_t kGsoMaxSegments = 64;   // UDP_MAX_SEGMENTS of Linux 4.18-6.x
    static constexpr size_t kGsoMaxSegment = 1232;  // 1280 - 40 (IPv6) - 8 (UDP)
    static constexpr size_t kGsoMaxBytes = 60000;   // below the 65,535-byte IPv6 payload

private:
    int open_peer(const Ip6Addr& src, std::string& err);
    bool connect_peer(int fd, const Ip6Addr& dst, std::string& err);
    bool apply_filter(int fd, std::string& err);
    size_t send_on(int fd, Peer* peer, std::vector<Datagram>& in, const std::vector<size_t>& idx);
    size_t send_gso(Peer& peer, std::vector<Datagram>& in, const std::vector<size_t>& idx);
    std::vector<iovec> gso_iov_;     // send_gso: one iovec per datagram (reused)
    int fd_ = -1;
    uint16_t port_ = 0;
    int rcvbuf_bytes_ = 0;
    uint64_t send_errors_ = 0;
    std::string last_error_;
    std::vector<unsigned> ignored_;  // set_ignored_interfaces(), applied to new peers too
    std::vector<Peer> peers_;
    std::vector<size_t> idx_;        // send_batch: the datagrams of one socket (reused)
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
