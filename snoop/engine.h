// The snoop engine: an RFC 6221 Lightweight DHCPv6 Relay Agent (LDRA) for a bridge or switch.
// Pure: a frame and the port it arrived on in; frames to emit on ports and counted drops out.
// Keeps no per-client state and learns nothing from any reply (RFC 9686 §4.3).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
    kVlanNotMember,        // a port with VLANs: tagged in a VLAN it is not a member of, or untagged without a PVID
    kDoubleTagged,         // a port with VLANs: two 802.1Q tags (QinQ is not relayed there; docs/snoop.md "VLANs")
    kVlanNotOnUplink,      // client-facing port: the frame's VLAN is neither tagged nor the PVID on a trunk uplink
    kReplyVlanMismatch,    // uplink: a Relay-reply in another VLAN than the one its Interface-ID names
    kCount_
};
std::string_view drop_name(Drop d);

// A port's 802.1Q membership, as `bridge vlan` has it: untagged (and priority-tagged) frames
// belong to the PVID, a tagged frame to its VLAN ID. No VLANs (the default): the port is VLAN-
// unaware, tags are carried through as they are (exactly as without VLAN support).
struct PortVlans {
    uint16_t pvid = 0;             // 1-4094: the access (untagged) VLAN; 0: untagged frames are not accepted
    std::vector<uint16_t> tagged;  // VLANs carried tagged (a trunk): sorted, unique, never the PVID

    bool any() const { return pvid != 0 || !tagged.empty(); }
    bool trunk() const { return !tagged.empty(); }
    bool carries_tagged(uint16_t vlan) const;
    bool member(uint16_t vlan) const { return vlan != 0 && (vlan == pvid || carries_tagged(vlan)); }
    bool operator==(const PortVlans&) const = default;
};

// `--port-vlan PORT=SPEC`'s SPEC: comma-separated VLAN IDs (1-4094) and ranges A-B. A lone ID
// is an access port ("10": PVID 10, untagged); in a list every ID is tagged ("10,20,30", a
// trunk) unless marked: "10u" is the PVID (untagged, at most one), "20t" tagged ("20t": a trunk
// carrying VLAN 20 only; "10u,20-29": native VLAN 10 and 20-29 tagged). "none": no VLANs.
std::optional<PortVlans> parse_port_vlans(std::string_view spec, std::string& err);
// The same notation back ("10u,20t,30t" style: every ID marked), for logs; "none" without VLANs.
std::string port_vlans_text(const PortVlans& v);

// The Interface-ID (option 18) of a frame: a template where {port} is the port name, {vlan}
// the frame's VLAN ID (0 on a port without VLANs) and {{ }} are literal braces.
// Expands `tmpl`; false and `err` for another {name} or an unmatched brace.
bool expand_interface_id(std::string_view tmpl, std::string_view port, uint16_t vlan, std::vector<uint8_t>& out,
                         std::string& err);
inline constexpr std::string_view kDefaultInterfaceId = "{port}";          // a port without VLANs
inline constexpr std::string_view kDefaultVlanInterfaceId = "{port}.{vlan}";  // a frame in a VLAN

struct Port {
    std::string name;
    Role role = Role::kClient;
    // This port's Interface-ID template (a fixed string such as a circuit-id "sw1/0/3" when it has
    // no placeholder); empty: Config::interface_id_format.
    std::vector<uint8_t> interface_id;
    PortVlans vlans{};
    // Per VLAN of this port: its Interface-ID template, over `interface_id` (e.g. 20 -> "sw1/0/7.20").
    std::vector<std::pair<uint16_t, std::vector<uint8_t>>> vlan_interface_ids{};
};

struct Config {
    std::vector<Port> ports;
    // The Interface-ID template of every port that sets none; empty: "{port}" on a port without
    // VLANs (as before VLANs), "{port}.{vlan}" for a frame in a VLAN.
    std::string interface_id_format;
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
    uint16_t vlan = 0;            // the client's VLAN (arrival or delivery port with VLANs); 0: none

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
        vlan = 0;
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
    // The configuration must name exactly one uplink port. Engine::check it first: a template the
    // constructor cannot expand is used verbatim, and of two ports with one Interface-ID the
    // first gets the replies.
    explicit Engine(Config cfg);
    // What makes `cfg` unusable: a bad Interface-ID template, a per-VLAN Interface-ID for a VLAN
    // the port is not in, or one Interface-ID for two (port, VLAN)s. True when there is none.
    static bool check(const Config& cfg, std::string& err);
    // The Interface-ID of (port, VLAN) (VLAN 0 on a port without VLANs); nullptr when it has none.
    const std::vector<uint8_t>* interface_id(int port, uint16_t vlan) const;

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
    void relay_up(int port, const frame::Frame& f, bool from_relay, uint16_t vlan, Actions& out);
    std::vector<uint8_t> payload_;  // scratch for the Relay-forward being built
    void relay_down(int port, const frame::Frame& f, Actions& out);
    // How the uplink carries `vlan`: -1 not at all, 0 untagged, else tagged with that ID.
    int uplink_tag(uint16_t vlan) const;

    struct VlanId {  // one (port, VLAN)'s Interface-ID
        uint16_t vlan;
        std::vector<uint8_t> id;
    };
    struct Reverse {  // Interface-ID -> (port, VLAN), sorted by id
        std::vector<uint8_t> id;
        int port;
        uint16_t vlan;
    };
    std::vector<std::vector<VlanId>> ids_;  // per port, sorted by VLAN; the uplink has none
    std::vector<Reverse> reverse_;

    Config cfg_;
    int uplink_ = -1;
    std::vector<PortCounters> counters_;
    limits::FloodGuard guard_;  // client-facing ports only; never touched by a reply
    std::vector<std::string> port_names_;
    uint64_t now_ns_ = 0;
};

}  // namespace regrelay::snoop
