#include "dhcp6/dhcp6.h"

namespace regrelay::dhcp6 {

std::string_view msg_type_name(uint8_t type) {
    switch (type) {
        case msg::kSolicit: return "SOLICIT";
        case msg::kAdvertise: return "ADVERTISE";
        case msg::kRequest: return "REQUEST";
        case msg::kConfirm: return "CONFIRM";
        case msg::kRenew: return "RENEW";
        case msg::kRebind: return "REBIND";
        case msg::kReply: return "REPLY";
        case msg::kRelease: return "RELEASE";
        case msg::kDecline: return "DECLINE";
        case msg::kReconfigure: return "RECONFIGURE";
        case msg::kInformationRequest: return "INFORMATION-REQUEST";
        case msg::kRelayForw: return "RELAY-FORW";
        case msg::kRelayRepl: return "RELAY-REPL";
        case msg::kAddrRegInform: return "ADDR-REG-INFORM";
        case msg::kAddrRegReply: return "ADDR-REG-REPLY";
        default: return {};
    }
}

std::string msg_type_label(uint8_t type) {
    auto n = msg_type_name(type);
    if (!n.empty()) return std::string(n);
    return "UNKNOWN-" + std::to_string(type);
}

std::string_view option_name(uint16_t code) {
    switch (code) {
        case opt::kClientId: return "CLIENTID";
        case opt::kServerId: return "SERVERID";
        case opt::kIaNa: return "IA_NA";
        case opt::kIaTa: return "IA_TA";
        case opt::kIaAddr: return "IAADDR";
        case opt::kOro: return "ORO";
        case opt::kPreference: return "PREFERENCE";
        case opt::kElapsedTime: return "ELAPSED_TIME";
        case opt::kRelayMsg: return "RELAY_MSG";
        case opt::kStatusCode: return "STATUS_CODE";
        case opt::kRapidCommit: return "RAPID_COMMIT";
        case opt::kInterfaceId: return "INTERFACE_ID";
        case opt::kReconfMsg: return "RECONF_MSG";
        case opt::kDnsServers: return "DNS_SERVERS";
        case opt::kIaPd: return "IA_PD";
        case opt::kIaPrefix: return "IAPREFIX";
        case opt::kRemoteId: return "REMOTE_ID";
        case opt::kClientFqdn: return "CLIENT_FQDN";
        case opt::kClientLinkLayerAddr: return "CLIENT_LINKLAYER_ADDR";
        case opt::kAddrRegEnable: return "ADDR_REG_ENABLE";
        default: return {};
    }
}

bool is_server_to_client_type(uint8_t t) {
    return t == msg::kAdvertise || t == msg::kReply || t == msg::kReconfigure || t == msg::kRelayRepl ||
           t == msg::kAddrRegReply;
}

std::string_view Error::what() const {
    switch (code) {
        case Errc::kTruncatedHeader: return "truncated header";
        case Errc::kOptionHeaderTruncated: return "truncated option header";
        case Errc::kOptionPastEnd: return "option length past the end";
        case Errc::kRelayMessageTooShort: return "relay message too short";
        case Errc::kNestingTooDeep: return "relay nesting too deep";
        case Errc::kMissingRelayMessage: return "relay message without option 9";
        case Errc::kBadOptionLength: return "bad option length";
        case Errc::kBadOptionValue: return "bad option value";
    }
    return "error";
}

std::string Error::str() const { return std::string(what()) + " at offset " + std::to_string(offset); }

// ---- options ---------------------------------------------------------------------------

bool OptionIter::next(Option& o) {
    if (failed_ || r_.empty()) return false;
    size_t at = r_.offset();
    uint16_t code = 0, len = 0;
    if (r_.remaining() < kOptionHeaderLen) {
        failed_ = true;
        err_ = {Errc::kOptionHeaderTruncated, at};
        return false;
    }
    r_.u16(code);
    r_.u16(len);
    Bytes body;
    if (!r_.bytes(len, body)) {
        failed_ = true;
        err_ = {Errc::kOptionPastEnd, at};
        return false;
    }
    o = Option{code, body, at};
    return true;
}

Result<OptionList> parse_options(Bytes area, size_t base_offset) {
    OptionList out;
    OptionIter it(area, base_offset);
    Option o;
    while (it.next(o)) out.push_back(o);
    if (it.failed()) return it.error();
    return out;
}

const Option* find_option(const OptionList& opts, uint16_t code) {
    for (const auto& o : opts)
        if (o.code == code) return &o;
    return nullptr;
}

void write_options(Writer& w, const OptionList& opts) {
    for (const auto& o : opts) w.option(o.code, o.data);
}

// ---- typed views -----------------------------------------------------------------------

static size_t body_offset(const Option& o) { return o.offset + kOptionHeaderLen; }

Result<Duid> as_duid(const Option& o) {
    // RFC 8415 §11.1: a DUID is 2 octets of type and up to 128 octets of value.
    if (o.data.size() < 3 || o.data.size() > 130) return Error{Errc::kBadOptionLength, o.offset};
    return Duid{uint16_t(o.data[0] << 8 | o.data[1]), o.data};
}

Result<IaNa> as_ia_na(const Option& o) {
    Reader r(o.data, body_offset(o));
    IaNa ia;
    if (!r.u32(ia.iaid) || !r.u32(ia.t1) || !r.u32(ia.t2)) return Error{Errc::kBadOptionLength, o.offset};
    auto sub = parse_options(r.rest(), r.offset());
    if (!sub) return sub.error();
    ia.options = std::move(*sub);
    return ia;
}

Result<IaAddr> as_ia_addr(const Option& o) {
    Reader r(o.data, body_offset(o));
    IaAddr a;
    if (!r.ip6(a.addr) || !r.u32(a.preferred) || !r.u32(a.valid))
        return Error{Errc::kBadOptionLength, o.offset};
    auto sub = parse_options(r.rest(), r.offset());
    if (!sub) return sub.error();
    a.options = std::move(*sub);
    return a;
}

Result<IaTa> as_ia_ta(const Option& o) {
    Reader r(o.data, body_offset(o));
    IaTa ia;
    if (!r.u32(ia.iaid)) return Error{Errc::kBadOptionLength, o.offset};
    auto sub = parse_options(r.rest(), r.offset());
    if (!sub) return sub.error();
    ia.options = std::move(*sub);
    return ia;
}

Result<IaPd> as_ia_pd(const Option& o) {
    Reader r(o.data, body_offset(o));
    IaPd ia;
    if (!r.u32(ia.iaid) || !r.u32(ia.t1) || !r.u32(ia.t2)) return Error{Errc::kBadOptionLength, o.offset};
    auto sub = parse_options(r.rest(), r.offset());
    if (!sub) return sub.error();
    ia.options = std::move(*sub);
    return ia;
}

Result<IaPrefix> as_ia_prefix(const Option& o) {
    Reader r(o.data, body_offset(o));
    IaPrefix p;
    if (!r.u32(p.preferred) || !r.u32(p.valid) || !r.u8(p.prefix_len) || !r.ip6(p.prefix))
        return Error{Errc::kBadOptionLength, o.offset};
    if (p.prefix_len > 128) return Error{Errc::kBadOptionValue, o.offset};
    auto sub = parse_options(r.rest(), r.offset());
    if (!sub) return sub.error();
    p.options = std::move(*sub);
    return p;
}

Result<std::vector<uint16_t>> as_oro(const Option& o) {
    if (o.data.size() % 2) return Error{Errc::kBadOptionLength, o.offset};
    std::vector<uint16_t> codes;
    Reader r(o.data);
    uint16_t c;
    while (r.u16(c)) codes.push_back(c);
    return codes;
}

Result<Bytes> as_relay_msg(const Option& o) {
    if (o.data.empty()) return Error{Errc::kBadOptionLength, o.offset};
    return o.data;
}

Result<StatusCode> as_status_code(const Option& o) {
    Reader r(o.data);
    StatusCode s;
    if (!r.u16(s.code)) return Error{Errc::kBadOptionLength, o.offset};
    Bytes msg = r.rest();
    s.message = {reinterpret_cast<const char*>(msg.data()), msg.size()};
    return s;
}

Result<Bytes> as_interface_id(const Option& o) {
    if (o.data.empty()) return Error{Errc::kBadOptionLength, o.offset};
    return o.data;
}

Result<RemoteId> as_remote_id(const Option& o) {
    Reader r(o.data);
    RemoteId id;
    if (!r.u32(id.enterprise) || r.empty()) return Error{Errc::kBadOptionLength, o.offset};
    id.id = r.rest();
    return id;
}

Result<ClientFqdn> as_client_fqdn(const Option& o) {
    // RFC 4704: flags octet, then a domain name in DNS wire format (possibly partial).
    Reader r(o.data, body_offset(o));
    ClientFqdn f;
    if (!r.u8(f.flags)) return Error{Errc::kBadOptionLength, o.offset};
    if (f.flags & 0xf8) return Error{Errc::kBadOptionValue, o.offset};
    while (!r.empty()) {
        size_t at = r.offset();
        uint8_t len;
        r.u8(len);
        if (len == 0) {
            f.name += '.';
            if (!r.empty()) return Error{Errc::kBadOptionValue, r.offset()};
            break;
        }
        if (len > 63) return Error{Errc::kBadOptionValue, at};
        Bytes label;
        if (!r.bytes(len, label)) return Error{Errc::kOptionPastEnd, at};
        if (!f.name.empty()) f.name += '.';
        f.name.append(reinterpret_cast<const char*>(label.data()), label.size());
    }
    return f;
}

Result<ClientLinkLayer> as_client_link_layer(const Option& o) {
    // RFC 6939: link-layer type (16 bits) and the address; an empty address is not useful.
    Reader r(o.data);
    ClientLinkLayer l;
    if (!r.u16(l.hw_type) || r.empty()) return Error{Errc::kBadOptionLength, o.offset};
    l.addr = r.rest();
    if (l.hw_type == 1 && l.addr.size() != 6) return Error{Errc::kBadOptionLength, o.offset};
    return l;
}

Result<bool> as_addr_reg_enable(const Option& o) {
    if (!o.data.empty()) return Error{Errc::kBadOptionLength, o.offset};
    return true;
}

void write_client_link_layer(Writer& w, const MacAddr& mac) {
    w.u16(opt::kClientLinkLayerAddr);
    w.u16(8);
    w.u16(1);  // hardware type 1: Ethernet
    w.mac(mac);
}

void write_interface_id(Writer& w, Bytes id) { w.option(opt::kInterfaceId, id); }

void write_remote_id(Writer& w, uint32_t enterprise, Bytes id) {
    w.u16(opt::kRemoteId);
    w.u16(uint16_t(4 + id.size()));
    w.u32(enterprise);
    w.bytes(id);
}

// ---- messages --------------------------------------------------------------------------

Result<ClientMessage> decode_client(Bytes buf, size_t base_offset) {
    Reader r(buf, base_offset);
    ClientMessage m;
    m.raw = buf;
    m.offset = base_offset;
    if (!r.u8(m.type) || !r.u24(m.xid)) return Error{Errc::kTruncatedHeader, base_offset};
    auto opts = parse_options(r.rest(), r.offset());
    if (!opts) return opts.error();
    m.options = std::move(*opts);
    return m;
}

Result<RelayLevel> decode_relay(Bytes buf, size_t base_offset) {
    Reader r(buf, base_offset);
    RelayLevel l;
    l.raw = buf;
    l.offset = base_offset;
    if (!r.u8(l.type) || !r.u8(l.hop_count) || !r.ip6(l.link_address) || !r.ip6(l.peer_address))
        return Error{buf.empty() ? Errc::kTruncatedHeader : Errc::kRelayMessageTooShort, base_offset};
    auto opts = parse_options(r.rest(), r.offset());
    if (!opts) return opts.error();
    l.options = std::move(*opts);
    return l;
}

Result<Message> decode(Bytes buf, size_t max_depth) {
    Message m;
    size_t offset = 0;
    while (true) {
        if (buf.empty()) return Error{Errc::kTruncatedHeader, offset};
        if (!is_relay_type(buf[0])) {
            auto c = decode_client(buf, offset);
            if (!c) return c.error();
            m.inner = std::move(*c);
            return m;
        }
        if (m.relays.size() >= max_depth) return Error{Errc::kNestingTooDeep, offset};
        auto l = decode_relay(buf, offset);
        if (!l) return l.error();
        const Option* rm = l->relay_msg();
        if (!rm) return Error{Errc::kMissingRelayMessage, offset};
        if (rm->data.empty()) return Error{Errc::kTruncatedHeader, rm->offset + kOptionHeaderLen};
        buf = rm->data;
        offset = rm->offset + kOptionHeaderLen;
        m.relays.push_back(std::move(*l));
    }
}

void encode_client(Writer& w, const ClientMessage& m) {
    w.u8(m.type);
    w.u24(m.xid);
    write_options(w, m.options);
}

void write_relay_header(Writer& w, uint8_t type, uint8_t hop_count, const Ip6Addr& link, const Ip6Addr& peer) {
    w.u8(type);
    w.u8(hop_count);
    w.ip6(link);
    w.ip6(peer);
}

static void encode_from(Writer& w, const Message& m, size_t level) {
    if (level == m.relays.size()) {
        encode_client(w, m.inner);
        return;
    }
    const RelayLevel& l = m.relays[level];
    write_relay_header(w, l.type, l.hop_count, l.link_address, l.peer_address);
    bool inner_written = false;
    for (const auto& o : l.options) {
        if (o.code == opt::kRelayMsg && !inner_written) {
            // The first option 9 carries the next level: encode it from its fields.
            size_t mark = w.begin_option(opt::kRelayMsg);
            encode_from(w, m, level + 1);
            w.end_option(mark);
            inner_written = true;
        } else {
            w.option(o.code, o.data);
        }
    }
}

std::vector<uint8_t> encode(const Message& m) {
    std::vector<uint8_t> out;
    out.reserve(m.relays.empty() ? m.inner.raw.size() : m.relays.front().raw.size());
    Writer w(out);
    encode_from(w, m, 0);
    return out;
}

}  // namespace regrelay::dhcp6
