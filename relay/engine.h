// The relay engine (RFC 8415 §19, RFC 6939, RFC 7283, RFC 9686 §4.2.1). Pure: a frame or
// datagram, the port it arrived on and the time in; datagrams to send and counted drops out.
// It keeps no per-client state: nothing learnt from any packet outlives the call, except the
// flood limits' rate state (limits/limits.h): bounded, client side only, never forwarding state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture/frame.h"
#include "dhcp6/dhcp6.h"
#include "limits/limits.h"
#include "relay/relay_msg.h"

namespace regrelay::relay {

// Every reason a packet is not relayed. Each has a counter per port.
enum class Drop : uint8_t {
    kNone = 0,
    kBadFrame,               // not a well-formed IPv6/UDP frame (see frame::Drop)
    kBadUdpChecksum,         // UDP checksum wrong or zero
    kFragment,               // IPv6 fragment: not reassembled
    kNotServerPort,          // client side: not addressed to UDP port 547
    kNotForUs,               // client side: a unicast to an address that is not ours
    kTruncated,              // shorter than a DHCPv6 header
    kServerMessage,          // client side: Advertise, Reply, Reconfigure, Relay-reply, ADDR-REG-REPLY
    kHopLimit,               // Relay-forward already at the hop-count limit (8)
    kMalformedRelay,         // a relay message shorter than its header or with broken options
    kTooBig,                 // the Relay-forward would not fit in one option 9 / datagram
    kNotRelayReply,          // server side: anything but a Relay-reply
    kNoRelayMessage,         // Relay-reply without option 9
    kUnknownInterface,       // Relay-reply naming no interface of ours
    kBadPeerAddress,         // Relay-reply whose peer-address cannot be sent to
    kRateLimitPort,          // client side: over the port's rate (Config::limits.per_port)
    kRateLimitMac,           // client side: over the client MAC's rate (Config::limits.per_mac)
    kNotDhcpv6,              // client side: a well-formed frame of another protocol (IPv4, ARP, ICMPv6) or
                             // UDP between other ports; only replay sees these (live capture filters them)
    kCount_
};
std::string_view drop_name(Drop d);

struct ClientPort {
    std::string name;           // interface name, e.g. "eth1"
    std::vector<uint8_t> interface_id;  // option 18 value: the interface name unless configured
    Ip6Addr link_address;       // global or ULA address of the link, or :: when it has none
    MacAddr mac;                // our MAC on this port (for written captures)
    Ip6Addr link_local;         // our link-local address on this port (for written captures)
};

struct Config {
    std::vector<ClientPort> ports;
    std::vector<Ip6Addr> servers;       // unicast destinations; empty: ff05::1:3 upstream
    Ip6Addr source_address;             // upstream source; :: lets the kernel choose
    std::vector<Ip6Addr> local_addresses;  // our unicast addresses: client-side unicasts to these are relayed
    bool always_interface_id = false;   // --interface-id
    bool client_link_layer = true;      // option 79 (off with --no-client-link-layer)
    // Verify UDP checksums of captured client frames. Live capture sees frames from local
    // veth/tap peers before their offloaded checksum is filled in, so live mode turns it off.
    bool verify_udp_checksum = true;
    std::optional<RemoteIdConfig> remote_id;
    // Flood limits on the client side (RFC 9686 §6): per client MAC, then per port; the budget
    // of ADDR-REG-INFORM info lines per port. Time comes from advance().
    limits::Config limits;
};

using dhcp6::kAllDhcpRelayAgentsAndServers;
using dhcp6::kAllDhcpServers;
inline constexpr uint8_t kMulticastHopLimit = 8;  // RFC 8415 §19.1
inline constexpr int kUpstream = -1;  // port index meaning "the server side"

// One datagram to send. Its payload is Actions::payload (one payload per input packet).
struct Send {
    Ip6Addr dst;
    uint16_t dport = dhcp6::kPortServer;
    int port = kUpstream;     // client port index to send on, or kUpstream
    uint8_t hop_limit = 0;    // 0: the system default
};

// What the engine decided about one input packet. Reused across calls (keeps its capacity).
struct Actions {
    std::vector<uint8_t> payload;  // the datagram body for every Send
    std::vector<Send> sends;
    Drop drop = Drop::kNone;
    frame::Drop frame_drop = frame::Drop::kNone;  // detail of kBadFrame

    // What was relayed, for logs (valid until the input buffer is reused).
    uint8_t msg_type = 0;    // the relayed message's type (inner message for replies)
    uint32_t xid = 0;        // its transaction id, when it has one
    Ip6Addr peer;            // peer-address
    std::optional<MacAddr> client_mac;
    int port = kUpstream;    // the client port involved
    uint8_t hop_count = 0;   // hop-count written (forward) or read (reply)
    Bytes message;           // the client or server message relayed (a view of the input)
    // The info line of this ADDR-REG-INFORM is over the port's log budget: do not log it (it is
    // counted in the port's flood summary, Engine::flood_report).
    bool log_suppressed = false;

    void clear() {
        payload.clear();
        sends.clear();
        drop = Drop::kNone;
        frame_drop = frame::Drop::kNone;
        msg_type = 0;
        xid = 0;
        peer = {};
        client_mac.reset();
        port = kUpstream;
        hop_count = 0;
        message = {};
        log_suppressed = false;
    }
};

// Per-port counters. Index kUpstream is stored at the end of the vector.
struct PortCounters {
    uint64_t received = 0;
    uint64_t forwarded = 0;  // Relay-forwards sent upstream (one per input, whatever the server count)
    uint64_t replied = 0;    // messages unwrapped and sent to a client
    uint64_t addr_reg_inform = 0;
    uint64_t addr_reg_reply = 0;
    std::array<uint64_t, size_t(Drop::kCount_)> drops{};
    // By DHCPv6 message type (the index): received (client side: every UDP datagram to port 547,
    // by its first byte; server side: every datagram), forwarded (by the relayed message's type),
    // replied (by the delivered message's type). For /metrics.
    std::array<uint64_t, 256> received_by_type{}, forwarded_by_type{}, replied_by_type{};
};

class Engine {
public:
    explicit Engine(Config cfg);

    // The time, monotonic nanoseconds: the daemons call it once per wake-up, replay from the
    // frames' timestamps. Only the flood limits use it.
    void advance(uint64_t now_ns) { now_ns_ = now_ns; }
    uint64_t now() const { return now_ns_; }
    // The flood summary lines due at now_ns (at most one per client port per
    // limits.report_interval_ns, only for ports that dropped or suppressed anything), to be
    // logged at warn. `flush` ends every interval now (at exit).
    std::vector<std::string> flood_report(uint64_t now_ns, bool flush = false);
    const limits::FloodGuard& flood_guard() const { return guard_; }

    // A frame captured on client port `port` (index into Config::ports).
    void on_client_frame(int port, Bytes frame, int linktype, Actions& out);
    // The same for a frame already parsed with frame::parse (verify_udp_checksum as configured):
    // replay classifies each frame by parsing it, and need not parse it twice.
    void on_client_parsed(int port, const frame::Frame& f, frame::ParseResult pr, Actions& out);
    // A UDP datagram received on the server-side socket from src:sport.
    void on_server_datagram(const Ip6Addr& src, uint16_t sport, Bytes payload, Actions& out);

    const Config& config() const { return cfg_; }
    // Counters of a client port, or of the server side for kUpstream.
    const PortCounters& counters(int port) const { return counters_[slot(port)]; }
    std::string counters_report() const;

    // What the daemon learns from the kernel at run time (rtnetlink): a client port's current
    // addresses and MAC (link-address :: when it has no global or ULA address), and the host's
    // addresses. Only the port's addressing fields are taken from `p`.
    void update_port(int port, const ClientPort& p);
    void set_local_addresses(std::vector<Ip6Addr> addrs) { cfg_.local_addresses = std::move(addrs); }
    // After a reload: carries the counters of the ports `old` has under the same names, and of
    // the server side, into this engine.
    void adopt_counters(const Engine& old);

private:
    size_t slot(int port) const { return port == kUpstream ? cfg_.ports.size() : size_t(port); }
    void drop(int port, Drop d, Actions& out) {
        out.drop = d;
        ++counters_[slot(port)].drops[size_t(d)];
    }
    bool is_local(const Ip6Addr& a) const;
    void forward(int port, const frame::Frame& f, Actions& out);

    Config cfg_;
    std::vector<PortCounters> counters_;
    limits::FloodGuard guard_;  // client ports only
    std::vector<std::string> port_names_;
    uint64_t now_ns_ = 0;
};

}  // namespace regrelay::relay
