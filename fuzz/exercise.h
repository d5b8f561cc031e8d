// What the fuzz targets run on one input, shared with tests/unit/fuzz_regressions_test.cpp so every
// kept seed and crash input is replayed by the normal and the ASan ctest builds without libFuzzer.
//
// exercise_dhcp6: decode, and on success re-encode (must give the input byte for byte), every typed
// view over every option at every level, and every rendering.
// exercise_frame: the first byte picks the link type; parse with and without checksum check,
// decode the UDP payload, rebuild the frame from the parsed fields and re-parse it, and render it
// with decode::format_frame in the three formats.
//
// A broken property calls fail_handler(): abort() by default (libFuzzer records the input as a
// crash); the unit test installs a handler that records a test failure instead.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "capture/frame.h"
#include "cli/decode.h"
#include "dhcp6/dhcp6.h"
#include "dhcp6/print.h"

namespace regrelay::fuzz {

using FailFn = void (*)(const char* what, const char* file, int line);

inline void abort_on_failure(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", file, line, what);
    std::fflush(stderr);
    std::abort();
}

inline FailFn& fail_handler() {
    static FailFn f = abort_on_failure;
    return f;
}

inline bool check(bool ok, const char* what, const char* file, int line) {
    if (!ok) fail_handler()(what, file, line);
    return ok;
}

// Evaluates to the condition, so a caller can stop when reading on would be out of bounds.
#define REGRELAY_FUZZ_CHECK(cond) ::regrelay::fuzz::check(static_cast<bool>(cond), #cond, __FILE__, __LINE__)

// ---- output properties -----------------------------------------------------------------

// A strict RFC 8259 validator (one value, nothing after it).
class JsonValidator {
public:
    explicit JsonValidator(std::string_view s) : s_(s) {}
    bool valid() {
        ws();
        if (!value(0)) return false;
        ws();
        return i_ == s_.size();
    }

private:
    bool eat(char c) {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool digit() const { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; }
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool lit(std::string_view w) {
        if (s_.substr(i_, w.size()) != w) return false;
        i_ += w.size();
        return true;
    }
    bool string() {
        if (!eat('"')) return false;
        while (i_ < s_.size()) {
            unsigned char c = static_cast<unsigned char>(s_[i_++]);
            if (c == '"') return true;
            if (c < 0x20) return false;
            if (c != '\\') continue;
            if (i_ >= s_.size()) return false;
            char e = s_[i_++];
            if (e == 'u') {
                for (int k = 0; k < 4; ++k, ++i_) {
                    if (i_ >= s_.size()) return false;
                    char h = s_[i_];
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F'))) return false;
                }
            } else if (e == '\0' || !std::strchr("\"\\/bfnrt", e)) {
                return false;
            }
        }
        return false;
    }
    bool number() {
        eat('-');
        if (!eat('0')) {
            if (!digit()) return false;
            while (digit()) ++i_;
        }
        if (eat('.')) {
            if (!digit()) return false;
            while (digit()) ++i_;
        }
        if (eat('e') || eat('E')) {
            if (!eat('+')) eat('-');
            if (!digit()) return false;
            while (digit()) ++i_;
        }
        return true;
    }
    bool value(int depth) {
        if (depth > 64 || i_ >= s_.size()) return false;
        char c = s_[i_];
        if (c == '{' || c == '[') {
            const char close = c == '{' ? '}' : ']';
            ++i_;
            ws();
            if (eat(close)) return true;
            while (true) {
                ws();
                if (c == '{') {
                    if (!string()) return false;
                    ws();
                    if (!eat(':')) return false;
                    ws();
                }
                if (!value(depth + 1)) return false;
                ws();
                if (eat(',')) continue;
                return eat(close);
            }
        }
        if (c == '"') return string();
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        return lit("true") || lit("false") || lit("null");
    }

    std::string_view s_;
    size_t i_ = 0;
};

inline bool is_valid_json(std::string_view s) { return JsonValidator(s).valid(); }

// Output meant for a terminal: printable ASCII and newlines only, so a packet cannot inject
// control sequences or fake lines.
inline bool is_terminal_safe(std::string_view s, bool allow_newline) {
    for (char ch : s) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (c == '\n' && allow_newline) continue;
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

// ---- DHCPv6 ----------------------------------------------------------------------------

struct Sink {
    size_t n = 0;  // keeps results observable so nothing is optimised away
    void add(std::string_view s) { n += s.size(); }
};

// The option is a view into `whole` at its recorded offset, header included.
inline bool check_option_in(const dhcp6::Option& o, Bytes whole) {
    using dhcp6::kOptionHeaderLen;
    if (!REGRELAY_FUZZ_CHECK(o.offset <= whole.size() && whole.size() - o.offset >= kOptionHeaderLen &&
                             whole.size() - o.offset - kOptionHeaderLen >= o.data.size()))
        return false;
    if (!REGRELAY_FUZZ_CHECK(o.data.data() == whole.data() + o.offset + kOptionHeaderLen)) return false;
    const uint8_t* h = whole.data() + o.offset;
    REGRELAY_FUZZ_CHECK((h[0] << 8 | h[1]) == o.code);
    REGRELAY_FUZZ_CHECK(size_t(h[2] << 8 | h[3]) == o.data.size());
    return true;
}

inline void check_error(const dhcp6::Error& e, Bytes whole, Sink& sink) {
    REGRELAY_FUZZ_CHECK(e.offset <= whole.size());
    std::string s = e.str();
    REGRELAY_FUZZ_CHECK(!e.what().empty());
    sink.add(s);
}

inline void exercise_option(const dhcp6::Option& o, Bytes whole, int depth, Sink& sink);

inline void exercise_options(const dhcp6::OptionList& opts, Bytes whole, int depth, Sink& sink) {
    // IA options nest (IA_NA > IAADDR > ...); the input bounds the depth, this bounds the harness
    // (the printers still walk the whole depth).
    if (depth > 200) return;
    for (const auto& o : opts) exercise_option(o, whole, depth, sink);
}

// Every typed view over the option whatever its code, checking what each promises.
inline void exercise_option(const dhcp6::Option& o, Bytes whole, int depth, Sink& sink) {
    using namespace dhcp6;
    if (!check_option_in(o, whole)) return;
    const size_t n = o.data.size();
    sink.add(option_name(o.code));

    if (auto d = as_duid(o)) {
        REGRELAY_FUZZ_CHECK(d->raw.data() == o.data.data() && d->raw.size() == n);
        REGRELAY_FUZZ_CHECK(n >= 3 && n <= 130 && d->type == (o.data[0] << 8 | o.data[1]));
    } else {
        check_error(d.error(), whole, sink);
    }
    // Sub-options are walked under the view of the option's own code only: the same bytes read
    // as both IA_NA and IAADDR at every level would branch exponentially.
    if (auto ia = as_ia_na(o)) {
        REGRELAY_FUZZ_CHECK(n >= 12);
        if (o.code == opt::kIaNa) exercise_options(ia->options, whole, depth + 1, sink);
    } else {
        check_error(ia.error(), whole, sink);
    }
    if (auto a = as_ia_addr(o)) {
        REGRELAY_FUZZ_CHECK(n >= 24);
        sink.add(a->addr.str());
        if (o.code == opt::kIaAddr) exercise_options(a->options, whole, depth + 1, sink);
    } else {
        check_error(a.error(), whole, sink);
    }
    if (auto oro = as_oro(o)) {
        REGRELAY_FUZZ_CHECK(oro->size() * 2 == n);
        for (uint16_t c : *oro) sink.add(option_name(c));
    } else {
        check_error(oro.error(), whole, sink);
    }
    if (auto rm = as_relay_msg(o)) {
        REGRELAY_FUZZ_CHECK(n > 0 && rm->data() == o.data.data() && rm->size() == n);
    } else {
        check_error(rm.error(), whole, sink);
    }
    if (auto s = as_status_code(o)) {
        REGRELAY_FUZZ_CHECK(s->message.size() + 2 == n);
        sink.add(s->message);
    } else {
        check_error(s.error(), whole, sink);
    }
    if (auto id = as_interface_id(o)) {
        REGRELAY_FUZZ_CHECK(n > 0 && id->size() == n);
    } else {
        check_error(id.error(), whole, sink);
    }
    if (auto r = as_remote_id(o)) {
        REGRELAY_FUZZ_CHECK(!r->id.empty() && r->id.size() + 4 == n);
    } else {
        check_error(r.error(), whole, sink);
    }
    if (auto f = as_client_fqdn(o)) {
        REGRELAY_FUZZ_CHECK(n >= 1 && f->name.size() <= n);
        sink.add(f->name);
    } else {
        check_error(f.error(), whole, sink);
    }
    if (auto ll = as_client_link_layer(o)) {
        REGRELAY_FUZZ_CHECK(!ll->addr.empty() && ll->addr.size() + 2 == n);
        if (ll->is_ethernet()) sink.add(MacAddr::from(ll->addr).str());
    } else {
        check_error(ll.error(), whole, sink);
    }
    if (auto e = as_addr_reg_enable(o)) {
        REGRELAY_FUZZ_CHECK(n == 0 && *e);
    } else {
        check_error(e.error(), whole, sink);
    }

    bool nested = false;
    std::string v = option_value(o, &nested);
    REGRELAY_FUZZ_CHECK(is_terminal_safe(v, false));
    REGRELAY_FUZZ_CHECK(option_value(o, nullptr) == v);
    sink.add(v);
}

// Lines of an option tree: each non-empty, indented by at least `indent`, printable.
inline void check_tree(std::string_view t, int indent) {
    REGRELAY_FUZZ_CHECK(!t.empty() && t.back() == '\n');
    REGRELAY_FUZZ_CHECK(is_terminal_safe(t, true));
    size_t start = 0;
    while (start < t.size()) {
        size_t end = t.find('\n', start);
        if (end == std::string_view::npos) end = t.size();
        std::string_view line = t.substr(start, end - start);
        REGRELAY_FUZZ_CHECK(line.size() > size_t(indent) && line.find_first_not_of(' ') >= size_t(indent));
        start = end + 1;
    }
}

inline void exercise_message(const dhcp6::Message& m, Bytes whole, Sink& sink) {
    using namespace dhcp6;
    REGRELAY_FUZZ_CHECK(m.relays.size() <= kMaxRelayDepth);
    for (size_t i = 0; i < m.relays.size(); ++i) {
        const RelayLevel& l = m.relays[i];
        REGRELAY_FUZZ_CHECK(is_relay_type(l.type));
        REGRELAY_FUZZ_CHECK(l.raw.size() >= kRelayHeaderLen && l.raw.data() == whole.data() + l.offset);
        sink.add(msg_type_label(l.type));
        exercise_options(l.options, whole, 0, sink);
        const Option* rm = l.relay_msg();
        if (!REGRELAY_FUZZ_CHECK(rm != nullptr)) continue;
        Bytes next = i + 1 < m.relays.size() ? m.relays[i + 1].raw : m.inner.raw;
        REGRELAY_FUZZ_CHECK(next.data() == rm->data.data() && next.size() == rm->data.size());
    }
    REGRELAY_FUZZ_CHECK(!is_relay_type(m.inner.type));
    REGRELAY_FUZZ_CHECK(m.inner.raw.size() >= kClientHeaderLen && m.inner.raw.data() == whole.data() + m.inner.offset);
    sink.add(msg_type_label(m.inner.type));
    exercise_options(m.inner.options, whole, 0, sink);

    std::string s;
    append_summary(s, m);
    REGRELAY_FUZZ_CHECK(!s.empty() && is_terminal_safe(s, false));
    sink.add(s);
    for (int indent : {0, 4}) {
        std::string t;
        append_tree(t, m, indent);
        check_tree(t, indent);
        sink.add(t);
    }
    std::string j;
    append_json(j, m);
    REGRELAY_FUZZ_CHECK(is_valid_json(j));
    sink.add(j);
}

inline size_t exercise_dhcp6(Bytes in) {
    using namespace dhcp6;
    Sink sink;

    // The non-allocating option walk and parse_options agree.
    {
        auto list = parse_options(in);
        OptionIter it(in);
        Option o;
        size_t k = 0;
        bool same = true;
        while (it.next(o)) {
            if (list && (k >= list->size() || (*list)[k].offset != o.offset || (*list)[k].code != o.code)) same = false;
            ++k;
        }
        REGRELAY_FUZZ_CHECK(same && list.ok() == !it.failed());
        if (list) {
            REGRELAY_FUZZ_CHECK(k == list->size());
            std::vector<uint8_t> again;
            Writer w(again);
            write_options(w, *list);
            REGRELAY_FUZZ_CHECK(again.size() == in.size() && std::equal(again.begin(), again.end(), in.begin()));
        } else {
            REGRELAY_FUZZ_CHECK(list.error().code == it.error().code && list.error().offset == it.error().offset);
        }
    }

    auto m = dhcp6::decode(in);
    if (!in.empty() && !is_relay_type(in[0])) {
        auto c = decode_client(in);
        REGRELAY_FUZZ_CHECK(c.ok() == m.ok());
    } else if (!in.empty()) {
        auto l = decode_relay(in);
        if (!l) check_error(l.error(), in, sink);
    }
    if (!m) {
        check_error(m.error(), in, sink);
        return sink.n;
    }

    // Round trip: an unmodified decode re-encodes to the identical bytes.
    std::vector<uint8_t> enc = encode(*m);
    REGRELAY_FUZZ_CHECK(enc.size() == in.size() && std::equal(enc.begin(), enc.end(), in.begin()));

    // The depth limit counts relay levels exactly.
    REGRELAY_FUZZ_CHECK(dhcp6::decode(in, m->relays.size()).ok());
    if (!m->relays.empty()) {
        auto shallow = dhcp6::decode(in, m->relays.size() - 1);
        REGRELAY_FUZZ_CHECK(!shallow.ok() && shallow.error().code == Errc::kNestingTooDeep);
    }

    exercise_message(*m, in, sink);
    return sink.n;
}

// ---- frames ----------------------------------------------------------------------------

// The link type an input's first byte selects.
inline int linktype_for(uint8_t selector) {
    static constexpr int kLinks[] = {frame::kLinkEthernet, frame::kLinkRaw,       frame::kLinkLinuxSll,
                                     frame::kLinkIpv6,     frame::kLinkLinuxSll2, 0 /* unsupported */};
    return kLinks[selector % (sizeof kLinks / sizeof kLinks[0])];
}

inline bool same_ip_udp(const frame::Frame& a, const frame::Frame& b) {
    return a.src == b.src && a.dst == b.dst && a.hop_limit == b.hop_limit && a.traffic_class == b.traffic_class &&
           a.flow_label == b.flow_label && a.sport == b.sport && a.dport == b.dport &&
           a.payload.size() == b.payload.size() && std::equal(a.payload.begin(), a.payload.end(), b.payload.begin());
}

inline bool same_link(const frame::Frame& a, const frame::Frame& b) {
    if (a.has_ethernet != b.has_ethernet || a.dst_mac != b.dst_mac || a.src_mac != b.src_mac || a.n_vlans != b.n_vlans)
        return false;
    for (size_t i = 0; i < a.n_vlans; ++i)
        if (a.vlan_tci[i] != b.vlan_tci[i] || a.vlan_tpid[i] != b.vlan_tpid[i]) return false;
    return true;
}

inline bool same_frame(const frame::Frame& a, const frame::Frame& b) {
    return same_link(a, b) && same_ip_udp(a, b) && a.payload.data() == b.payload.data() &&
           a.payload_offset == b.payload_offset && a.ip_offset == b.ip_offset;
}

// Builds the frame again from its parsed fields and parses the result (checksum verified).
inline void rebuild(const frame::Frame& g, int linktype) {
    frame::BuildSpec s;
    s.src_mac = g.src_mac;
    s.dst_mac = g.dst_mac;
    s.n_vlans = g.n_vlans;
    for (size_t i = 0; i < frame::kMaxVlanTags; ++i) {
        s.vlan_tci[i] = g.vlan_tci[i];
        if (i < g.n_vlans) s.vlan_tpid[i] = g.vlan_tpid[i];
    }
    s.src = g.src;
    s.dst = g.dst;
    s.hop_limit = g.hop_limit;
    s.traffic_class = g.traffic_class;
    s.flow_label = g.flow_label;
    s.sport = g.sport;
    s.dport = g.dport;
    std::vector<uint8_t> out;
    frame::Frame h;
    if (linktype == frame::kLinkEthernet) {
        if (!REGRELAY_FUZZ_CHECK(frame::build(s, g.payload, out))) return;
        frame::ParseResult pr = frame::parse(out, frame::kLinkEthernet, h, true);
        REGRELAY_FUZZ_CHECK(pr.ok());
        REGRELAY_FUZZ_CHECK(same_link(h, g) && same_ip_udp(h, g));
    } else {
        if (!REGRELAY_FUZZ_CHECK(frame::build_ipv6(s, g.payload, out))) return;
        frame::ParseResult pr = frame::parse(out, frame::kLinkIpv6, h, true);
        REGRELAY_FUZZ_CHECK(pr.ok());
        REGRELAY_FUZZ_CHECK(same_ip_udp(h, g));
    }
}

// Re-frames a parsed capture as LINUX_SLL2 and parses it again: same tags, addresses, payload
// and checksum verdict.
inline void reframe_sll2(Bytes data, int linktype, const frame::Frame& g, const frame::ParseResult& pr) {
    std::vector<uint8_t> out;
    bool can = linktype == frame::kLinkEthernet || linktype == frame::kLinkRaw || linktype == frame::kLinkIpv6;
    if (!REGRELAY_FUZZ_CHECK(frame::append_sll2_from_capture(out, 7, frame::kSllHost, linktype, data) == can) || !can)
        return;
    frame::Frame h;
    frame::ParseResult ph = frame::parse(out, frame::kLinkLinuxSll2, h, false);
    if (!REGRELAY_FUZZ_CHECK(ph.ok())) return;
    REGRELAY_FUZZ_CHECK(same_ip_udp(h, g) && h.n_vlans == g.n_vlans);
    for (size_t i = 0; i < g.n_vlans; ++i)
        REGRELAY_FUZZ_CHECK(h.vlan_tci[i] == g.vlan_tci[i] && h.vlan_tpid[i] == g.vlan_tpid[i]);
    if (linktype == frame::kLinkEthernet) REGRELAY_FUZZ_CHECK(h.has_ethernet && h.src_mac == g.src_mac);
    REGRELAY_FUZZ_CHECK(frame::parse(out, frame::kLinkLinuxSll2, h, true).drop == pr.drop);
}

inline size_t exercise_frame_link(Bytes data, int linktype) {
    Sink sink;
    frame::Frame f, g;
    frame::ParseResult pr = frame::parse(data, linktype, f, true);
    frame::ParseResult pg = frame::parse(data, linktype, g, false);
    REGRELAY_FUZZ_CHECK(pr.offset <= data.size() && pg.offset <= data.size());
    REGRELAY_FUZZ_CHECK(frame::drop_name(pr.drop) != "unknown");
    REGRELAY_FUZZ_CHECK(pg.drop != frame::Drop::kBadUdpChecksum);
    if (pr.drop == frame::Drop::kBadUdpChecksum) {
        // Only the checksum differs: the headers are parsed as without the check (parse() stops
        // before it sets the payload; `decode` parses again unverified to show it).
        REGRELAY_FUZZ_CHECK(pg.ok() && same_link(f, g) && f.src == g.src && f.dst == g.dst && f.sport == g.sport &&
                            f.dport == g.dport && f.hop_limit == g.hop_limit && f.ip_offset == g.ip_offset);
    } else {
        REGRELAY_FUZZ_CHECK(pr.drop == pg.drop && pr.offset == pg.offset);
        if (pr.ok()) REGRELAY_FUZZ_CHECK(same_frame(f, g));
    }

    if (pg.ok()) {
        REGRELAY_FUZZ_CHECK(g.payload_offset <= data.size() && data.size() - g.payload_offset >= g.payload.size() &&
                            g.payload.data() == data.data() + g.payload_offset);
        REGRELAY_FUZZ_CHECK(g.ip_offset + frame::kIpv6HeaderLen + frame::kUdpHeaderLen <= g.payload_offset);
        REGRELAY_FUZZ_CHECK(g.n_vlans <= frame::kMaxVlanTags);
        REGRELAY_FUZZ_CHECK(g.n_vlans == 0 || (linktype != frame::kLinkRaw && linktype != frame::kLinkIpv6));
        sink.add(g.src.str());
        sink.add(g.dst.str());
        if (g.has_ethernet) sink.add(g.src_mac.str());
        rebuild(g, linktype);
        reframe_sll2(data, linktype, g, pr);
        sink.n += exercise_dhcp6(g.payload);
    }

    capture::Packet p;
    p.ts = {1763733780, 123456789};
    p.data = data;
    p.wire_len = uint32_t(data.size());
    for (auto fmt : {decode::Format::kText, decode::Format::kVerbose, decode::Format::kJson}) {
        std::string out;
        decode::Stats st;
        bool shown = decode::format_frame(out, p, linktype, fmt, 1, st);
        REGRELAY_FUZZ_CHECK(st.frames == 1 && st.dhcp6 + st.skipped == 1 && st.malformed <= st.dhcp6);
        REGRELAY_FUZZ_CHECK(shown == (st.dhcp6 == 1));
        if (!shown) {
            REGRELAY_FUZZ_CHECK(out.empty());
            continue;
        }
        REGRELAY_FUZZ_CHECK(!out.empty() && out.back() == '\n');
        REGRELAY_FUZZ_CHECK(is_terminal_safe(out, true));
        size_t lines = size_t(std::count(out.begin(), out.end(), '\n'));
        if (fmt != decode::Format::kVerbose) REGRELAY_FUZZ_CHECK(lines == 1);
        if (fmt == decode::Format::kJson) REGRELAY_FUZZ_CHECK(is_valid_json(std::string_view(out).substr(0, out.size() - 1)));
        sink.add(out);
    }
    return sink.n;
}

// The fuzz_frame input: one byte choosing the link type, then the captured frame.
inline size_t exercise_frame(Bytes in) {
    if (in.empty()) return 0;
    return exercise_frame_link(in.subspan(1), linktype_for(in[0]));
}

}  // namespace regrelay::fuzz
