// The snoop engine: an RFC 6221 Lightweight DHCPv6 Relay Agent (LDRA) for a bridge or switch.
// Pure: a frame and the port it arrived on in; frames to emit on ports and counted drops out.
// Keeps no per-client state and learns nothing from any reply (RFC 9686 §4.3).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture/frame.h"
#include "dhcp6/dhcp6.h"
#include "limits/limits.h"

namespace regrelay::snoop {

enum class Role : uint8_t {
    kClient,   // untrusted, client-facing
    kTrusted,  // trusted, network-facing (--trusted-port)
    kUplink,   // trusted, toward the DHCPv6 relay or server (--uplink)
};

enum class Drop : uint8_t {
    kNone = 0,
    kBadFrame,             // not a well-formed IPv6/UDP frame
    kBadUdpChecksum,
    kFragment,
    kNotDhcp,              // not UDP port 546/547
    kTruncated,            // shorter than a DHCPv6 header
    kGuardServerMessage,   // client port: Advertise, Reply, Reconfigure, ADDR-REG-REPLY or anything to port 546
    kGuardRelayReply,      // client port: Relay-reply
    kGuardRelayForward,    // client port: Relay-forward (untrusted ports may not claim to be relays)
    kHopLimit,             // trusted port: Relay-forward already at hop-count 8
    kMalformedRelay,       // relay message shorter than its header or with broken options
    kTooBig,
    kUnknownInterface,     // Relay-reply whose Interface-ID names none of our client ports
    kNoInterfaceId,        // Relay-reply without Interface-ID: not relayed by an LDRA
    kNoRelayMessage,       // Relay-reply without option 9
    kNoClientMac,          // Relay-reply not addressed to a unicast MAC: the client cannot be reached
    kWrongDirection,       // a message toward servers arriving on the uplink
    kNativeServerMessage,  // trusted port: a server message not wrapped by an LDRA (left to the bridge)
    kNotIntercepted,       // a client message not sent to ff02::1:2: RFC 6221 §6.1 leaves it to the bridge
    kUplinkNotRelayReply,  // uplink: link-local source and destination, UDP 547, not a Relay-reply (RFC 6221 §6.2)
    kRateLimitPort,        // client-facing port: over the port's rate (Config::limits.per_port)
    kRateLimitMac,         // client-facing port: over the client MAC's rate (Config::limits.per_mac)
    kCount_
};
std::string_view drop_name(Drop d);

struct Port {
    std::string name;
    Role role = Role::kClient;
    std::vector<uint8_t> interface_id;  // option 18: the port name unless set
};

struct Config {
    std::vector<Port> ports;
    bool client_link_layer = true;   // option 79
    bool verify_udp_checksum = true; // off in live mode (offloaded checksums on veth/tap)
    limits::Config limits;           // flood limits on client-facing ports (RFC 9686 §6), as relay mode
};

// What the engine decided about one frame. Reused across calls (keeps its capacity).
struct Actions {
    bool emit = false;            // `frame` is to be injected on `out_port`
    int out_port = -1;
    std::vector<uint8_t> frame;
    Drop drop = Drop::kNone;
    frame::Drop frame_drop = frame::Drop::kNone;
    // For logs.
    int port = -1;                // arrival port
    uint8_t msg_type = 0;         // the relayed message's type
    uint32_t xid = 0;
    Ip6Addr peer;
    std::optional<MacAddr> client_mac;
    uint8_t hop_count = 0;
    Bytes message;                // the relayed client or server message (view of the input)
    bool log_suppressed = false;  // the ADDR-REG-INFORM info line is over the port's log budget

    void clear() {
        emit = false;
        out_port = port = -1;
        frame.clear();
        drop = Drop::kNone;
        frame_drop = frame::Drop::kNone;
        msg_type = 0;
        xid = 0;
        peer = {};
        client_mac.reset();
        hop_count = 0;
        message = {};
        log_suppressed = false;
    }
};

struct PortCounters {
    uint64_t received = 0;
    uint64_t relayed_up = 0;    // Relay-forwards injected on the uplink
    uint64_t relayed_down = 0;  // replies injected toward this client port
    uint64_t addr_reg_inform = 0;
    uint64_t addr_reg_reply = 0;
    std::array<uint64_t, size_t(Drop::kCount_)> drops{};
    // By DHCPv6 message type (the index): received (every UDP datagram between ports 546/547,
    // by its first byte), relayed up from this port (by the relayed message's type), relayed
    // down to this port (by the delivered message's type). For /metrics.
    std::array<uint64_t, 256> received_by_type{}, relayed_up_by_type{}, relayed_down_by_type{};
};

class Engine {
public:
    // The configuration must name exactly one uplink port.
    explicit Engine(Config cfg);

    void on_frame(int port, Bytes frame, int linktype, Actions& out);
    // Monotonic nanoseconds, once per wake-up (flood limits only); see relay::Engine.
    void advance(uint64_t now_ns) { now_ns_ = now_ns; }
    // The flood summary lines due at now_ns, to be logged at warn (see relay::Engine).
    std::vector<std::string> flood_report(uint64_t now_ns, bool flush = false);
    const limits::FloodGuard& flood_guard() const { return guard_; }

    const Config& config() const { return cfg_; }
    int uplink() const { return uplink_; }
    const PortCounters& counters(int port) const { return counters_[size_t(port)]; }
    std::string counters_report() const;
    // After a reload: carries the counters of the ports `old` has under the same names.
    void adopt_counters(const Engine& old);

private:
    void drop(int port, Drop d, Actions& out) {
        out.drop = d;
        ++counters_[size_t(port)].drops[size_t(d)];
    }
    void relay_up(int port, const frame::Frame& f, bool from_relay, Actions& out);
    std::vector<uint8_t> payload_;  // scratch for the Relay-forward being built
    void relay_down(int port, const frame::Frame& f, Actions& out);

    Config cfg_;
    int uplink_ = -1;
    std::vector<PortCounters> counters_;
    limits::FloodGuard guard_;  // client-facing ports only; never touched by a reply
    std::vector<std::string> port_names_;
    uint64_t now_ns_ = 0;
};

}  // namespace regrelay::snoop
