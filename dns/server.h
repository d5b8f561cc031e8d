// The DNS view's listener: one UDP and one TCP socket on ADDR:PORT, non-blocking, driven by the
// owner's event loop (pollfds() before poll(2), process() after) or by run() on its own. Bounded
// TCP connections (RFC 7766 framing: 2-byte length, several queries per connection, idle
// timeout), a per-source rate limit on UDP (the /64 of an IPv6 source, the address of an IPv4
// one) with counted drops, counters for everything dropped. Single-threaded, like ZoneView.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dns/responder.h"
#include "limits/limits.h"

namespace regrelay::dns {

struct ServerOptions {
    size_t max_tcp = 64;                       // open TCP connections; more are closed at accept
    uint64_t tcp_idle_ns = 10 * limits::kNsPerSec;
    limits::Rate per_source{2000, 4000};       // UDP queries per source per second (0: off)
    size_t source_slots = 4096;
    size_t udp_batch = 64;                     // datagrams read per process() call
};

struct ServerCounters {
    uint64_t udp_queries = 0, udp_responses = 0;
    uint64_t tcp_accepted = 0, tcp_refused_full = 0, tcp_closed_idle = 0, tcp_closed_error = 0;
    uint64_t tcp_queries = 0, tcp_responses = 0;
    uint64_t rate_limited = 0;     // UDP queries dropped by the per-source limit
    uint64_t no_response = 0;      // the responder gave nothing (short, QR set)
    uint64_t recv_errors = 0, send_errors = 0;
};

// "[2001:db8::1]:53", "[::1]:5353", "192.0.2.1:53" -> socket address; false on bad text.
bool parse_listen(const std::string& text, sockaddr_storage& ss, socklen_t& len);

class DnsServer {
public:
    DnsServer(Responder& responder, ServerOptions opts = {});
    ~DnsServer();
    DnsServer(const DnsServer&) = delete;
    DnsServer& operator=(const DnsServer&) = delete;

    // Binds UDP and TCP on `listen` ("[ADDR]:PORT"; port 0 picks one, see port()).
    bool open(const std::string& listen, std::string& error);
    uint16_t port() const { return port_; }

    // Appends the descriptors to poll with their events.
    void pollfds(std::vector<pollfd>& out) const;
    // Handles whatever is ready among `fds` (revents set by poll), closes idle connections.
    void process(const std::vector<pollfd>& fds, uint64_t now_ns);
    // Serves until `stop` becomes true (checked at least every 200 ms).
    void run(const std::atomic<bool>& stop);

    const ServerCounters& counters() const { return counters_; }
    size_t tcp_connections() const { return conns_.size(); }

private:
    struct Conn {
        int fd = -1;
        std::vector<uint8_t> in, out;
        uint64_t last_ns = 0;
    };
    void on_udp(uint64_t now_ns);
    void on_accept(uint64_t now_ns);
    bool on_conn(Conn& c, short revents, uint64_t now_ns);  // false: close it
    uint64_t source_key(const sockaddr_storage& ss) const;

    Responder& responder_;
    ServerOptions opts_;
    ServerCounters counters_;
    limits::MacTable sources_;
    int udp_ = -1, tcp_ = -1;
    uint16_t port_ = 0;
    std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace regrelay::dns
