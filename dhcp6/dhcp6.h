// The DHCPv6 codec: message and relay headers, options as an ordered list, typed option views,
// and the relay-level stack. Pure: bytes in, values or typed errors out.
//
// Decoded values are views (spans) into the caller's buffer; the buffer must outlive them.
// Options keep their order, duplicates and unknown codes, so re-encoding an unmodified
// message gives the identical bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dhcp6/wire.h"

namespace regrelay::dhcp6 {

// ---- constants -------------------------------------------------------------------------

namespace msg {
inline constexpr uint8_t kSolicit = 1;
inline constexpr uint8_t kAdvertise = 2;
inline constexpr uint8_t kRequest = 3;
inline constexpr uint8_t kConfirm = 4;
inline constexpr uint8_t kRenew = 5;
inline constexpr uint8_t kRebind = 6;
inline constexpr uint8_t kReply = 7;
inline constexpr uint8_t kRelease = 8;
inline constexpr uint8_t kDecline = 9;
inline constexpr uint8_t kReconfigure = 10;
inline constexpr uint8_t kInformationRequest = 11;
inline constexpr uint8_t kRelayForw = 12;
inline constexpr uint8_t kRelayRepl = 13;
inline constexpr uint8_t kAddrRegInform = 36;  // RFC 9686
inline constexpr uint8_t kAddrRegReply = 37;   // RFC 9686
}  // namespace msg

namespace opt {
inline constexpr uint16_t kClientId = 1;
inline constexpr uint16_t kServerId = 2;
inline constexpr uint16_t kIaNa = 3;
inline constexpr uint16_t kIaTa = 4;
inline constexpr uint16_t kIaAddr = 5;
inline constexpr uint16_t kOro = 6;
inline constexpr uint16_t kPreference = 7;
inline constexpr uint16_t kElapsedTime = 8;
inline constexpr uint16_t kRelayMsg = 9;
inline constexpr uint16_t kStatusCode = 13;
inline constexpr uint16_t kRapidCommit = 14;
inline constexpr uint16_t kInterfaceId = 18;
inline constexpr uint16_t kReconfMsg = 19;
inline constexpr uint16_t kDnsServers = 23;
inline constexpr uint16_t kIaPd = 25;
inline constexpr uint16_t kIaPrefix = 26;
inline constexpr uint16_t kRemoteId = 37;
inline constexpr uint16_t kClientFqdn = 39;
inline constexpr uint16_t kClientLinkLayerAddr = 79;  // RFC 6939
inline constexpr uint16_t kAddrRegEnable = 148;       // RFC 9686
}  // namespace opt

inline constexpr size_t kClientHeaderLen = 4;   // type + 24-bit transaction id
inline constexpr size_t kRelayHeaderLen = 34;   // type, hop-count, link-address, peer-address
inline constexpr size_t kOptionHeaderLen = 4;
inline constexpr uint8_t kHopCountLimit = 8;    // RFC 8415 §7.6 HOP_COUNT_LIMIT
inline constexpr size_t kMaxRelayDepth = 32;    // decoding stops here: "nesting too deep"

inline constexpr uint16_t kPortClient = 546;
inline constexpr uint16_t kPortServer = 547;
inline const Ip6Addr kAllDhcpRelayAgentsAndServers = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2}};
inline const Ip6Addr kAllDhcpServers = {{0xff, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 3}};

// Name of a message type ("SOLICIT", "ADDR-REG-INFORM", ...); empty for an unknown number.
std::string_view msg_type_name(uint8_t type);
// Name for printing: the known name, or "UNKNOWN-<n>".
std::string msg_type_label(uint8_t type);
// Name of an option code ("CLIENTID", "CLIENT_LINKLAYER_ADDR", ...); empty if unknown.
std::string_view option_name(uint16_t code);

inline bool is_relay_type(uint8_t t) { return t == msg::kRelayForw || t == msg::kRelayRepl; }
// Messages a server (or relay toward a client) sends; a relay never forwards these upstream.
bool is_server_to_client_type(uint8_t t);

// ---- errors ----------------------------------------------------------------------------

enum class Errc : uint8_t {
    kTruncatedHeader,        // fewer bytes than the message header
    kOptionHeaderTruncated,  // 1-3 bytes left where an option header should start
    kOptionPastEnd,          // an option's length runs past the end of its container
    kRelayMessageTooShort,   // a relay message shorter than its 34-byte header
    kNestingTooDeep,         // relay levels deeper than kMaxRelayDepth
    kMissingRelayMessage,    // a relay level without option 9
    kBadOptionLength,        // a typed option whose length does not fit its format
    kBadOptionValue,         // a typed option whose content is not valid
};

struct Error {
    Errc code;
    size_t offset;  // byte offset from the start of the decoded buffer

    std::string_view what() const;
    std::string str() const;  // "option length past the end at offset 12"
};

// A minimal expected<T, Error> (std::expected is C++23).
template <class T>
class Result {
public:
    Result(T v) : v_(std::move(v)) {}            // NOLINT: implicit by design
    Result(Error e) : v_(e) {}                   // NOLINT
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

// ---- options ---------------------------------------------------------------------------

struct Option {
    uint16_t code = 0;
    Bytes data;         // the option body (without the 4-byte header)
    size_t offset = 0;  // offset of the option header in the decoded buffer

    // The whole option, header included, as it appeared on the wire.
    Bytes wire() const { return {data.data() - kOptionHeaderLen, data.size() + kOptionHeaderLen}; }
};

using OptionList = std::vector<Option>;

// Walks an option area without allocating. Use: for (OptionIter it(buf); it.next(o);) ...;
// afterwards it.error() tells whether the walk stopped on malformed input.
class OptionIter {
public:
    explicit OptionIter(Bytes area, size_t base_offset = 0) : r_(area, base_offset) {}
    bool next(Option& o);
    bool failed() const { return failed_; }
    const Error& error() const { return err_; }

private:
    Reader r_;
    bool failed_ = false;
    Error err_{};
};

// Splits an option area into its ordered options (all of them, in order).
Result<OptionList> parse_options(Bytes area, size_t base_offset = 0);
// First option with this code, or nullptr.
const Option* find_option(const OptionList& opts, uint16_t code);
// Writes options back exactly as they were decoded.
void write_options(Writer& w, const OptionList& opts);

// ---- typed option views ----------------------------------------------------------------

struct Duid {  // options 1 and 2
    uint16_t type = 0;  // 1 LLT, 2 EN, 3 LL, 4 UUID
    Bytes raw;          // the whole DUID, type included
};
struct IaNa {  // option 3
    uint32_t iaid = 0, t1 = 0, t2 = 0;
    OptionList options;
};
struct IaTa {  // option 4
    uint32_t iaid = 0;
    OptionList options;
};
struct IaAddr {  // option 5
    Ip6Addr addr;
    uint32_t preferred = 0, valid = 0;
    OptionList options;
};
struct IaPd {  // option 25 (RFC 8415 §21.21)
    uint32_t iaid = 0, t1 = 0, t2 = 0;
    OptionList options;
};
struct IaPrefix {  // option 26 (RFC 8415 §21.22)
    uint32_t preferred = 0, valid = 0;
    uint8_t prefix_len = 0;  // 0-128
    Ip6Addr prefix;
    OptionList options;
};
struct StatusCode {  // option 13
    uint16_t code = 0;
    std::string_view message;
};
struct RemoteId {  // option 37
    uint32_t enterprise = 0;
    Bytes id;
};
struct ClientFqdn {  // option 39
    uint8_t flags = 0;
    std::string name;  // dotted; a trailing "." when the wire name is fully qualified
};
struct ClientLinkLayer {  // option 79
    uint16_t hw_type = 0;  // 1 = Ethernet
    Bytes addr;
    bool is_ethernet() const { return hw_type == 1 && addr.size() == 6; }
};

Result<Duid> as_duid(const Option& o);
Result<IaNa> as_ia_na(const Option& o);
Result<IaTa> as_ia_ta(const Option& o);
Result<IaAddr> as_ia_addr(const Option& o);
Result<IaPd> as_ia_pd(const Option& o);
Result<IaPrefix> as_ia_prefix(const Option& o);  // kBadOptionValue for a prefix length over 128
Result<std::vector<uint16_t>> as_oro(const Option& o);
Result<Bytes> as_relay_msg(const Option& o);
Result<StatusCode> as_status_code(const Option& o);
Result<Bytes> as_interface_id(const Option& o);
Result<RemoteId> as_remote_id(const Option& o);
Result<ClientFqdn> as_client_fqdn(const Option& o);
Result<ClientLinkLayer> as_client_link_layer(const Option& o);
Result<bool> as_addr_reg_enable(const Option& o);  // option 148: empty; true when well-formed

// Option writers for the options a relay adds.
void write_client_link_layer(Writer& w, const MacAddr& mac);
void write_interface_id(Writer& w, Bytes id);
void write_remote_id(Writer& w, uint32_t enterprise, Bytes id);

// ---- messages --------------------------------------------------------------------------

struct ClientMessage {
    uint8_t type = 0;
    uint32_t xid = 0;
    OptionList options;
    Bytes raw;          // the whole message as received
    size_t offset = 0;  // offset of the message in the decoded buffer
};

struct RelayLevel {
    uint8_t type = 0;  // 12 or 13
    uint8_t hop_count = 0;
    Ip6Addr link_address;
    Ip6Addr peer_address;
    OptionList options;  // option 9 included, in order
    Bytes raw;
    size_t offset = 0;

    const Option* relay_msg() const { return find_option(options, opt::kRelayMsg); }
};

// A decoded DHCPv6 payload: the relay levels from the outermost inward, then the client or
// server message they carry. A payload that is not a relay message has no relay levels.
struct Message {
    std::vector<RelayLevel> relays;
    ClientMessage inner;

    bool is_relayed() const { return !relays.empty(); }
};

// Decodes a client/server message header and options (type must not be 12/13).
Result<ClientMessage> decode_client(Bytes buf, size_t base_offset = 0);
// Decodes one relay header and its options (no recursion).
Result<RelayLevel> decode_relay(Bytes buf, size_t base_offset = 0);
// Decodes a whole payload, walking nested Relay-forward/Relay-reply levels through option 9.
Result<Message> decode(Bytes buf, size_t max_depth = kMaxRelayDepth);

// Re-encodes a decoded message from its fields and option lists. For an unmodified decode this
// gives the identical bytes (relay levels re-wrap the inner message in their option 9).
std::vector<uint8_t> encode(const Message& m);
void encode_client(Writer& w, const ClientMessage& m);

// Writes a relay-message header: type, hop-count, link-address, peer-address.
void write_relay_header(Writer& w, uint8_t type, uint8_t hop_count, const Ip6Addr& link,
                        const Ip6Addr& peer);

}  // namespace regrelay::dhcp6
