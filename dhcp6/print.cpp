#include "dhcp6/print.h"

#include <cstdio>

namespace regrelay::dhcp6 {

namespace {

std::string quoted_or_hex(Bytes b) {
    bool printable = !b.empty();
    for (uint8_t c : b)
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') printable = false;
    std::string s = printable ? "\"" : "0x";
    if (!printable) return s.append(hex(b));
    s.append(reinterpret_cast<const char*>(b.data()), b.size());
    s += '"';
    return s;
}

// Text from the packet, for a terminal: printable ASCII as is ('"' and '\\' escaped), any other
// byte as \xNN, so a packet cannot inject control sequences or fake lines.
std::string escaped(std::string_view text) {
    std::string s;
    s.reserve(text.size());
    for (char ch : text) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            s += '\\';
            s += ch;
        } else if (c >= 0x20 && c <= 0x7e) {
            s += ch;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            s += buf;
        }
    }
    return s;
}

std::string xid_str(uint32_t xid) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%06x", xid);
    return buf;
}

void append_codes(std::string& out, const OptionList& opts) {
    out += "opts [";
    for (size_t i = 0; i < opts.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(opts[i].code);
    }
    out += ']';
}

// The registered address of an ADDR-REG-INFORM/REPLY: its (first) IA Address option.
void append_ia_addr_brief(std::string& out, const OptionList& opts) {
    const Option* o = find_option(opts, opt::kIaAddr);
    if (!o) return;
    auto a = as_ia_addr(*o);
    if (!a) {
        out += " addr [malformed]";
        return;
    }
    out += " addr " + a->addr.str() + " pref " + std::to_string(a->preferred) + " valid " + std::to_string(a->valid);
}

void append_relay_brief(std::string& out, const RelayLevel& l) {
    out += msg_type_label(l.type);
    out += " hop " + std::to_string(l.hop_count);
    out += " link " + l.link_address.str();
    out += " peer " + l.peer_address.str();
    for (const auto& o : l.options) {
        if (o.code == opt::kInterfaceId) {
            out += " ifid " + quoted_or_hex(o.data);
        } else if (o.code == opt::kClientLinkLayerAddr) {
            auto ll = as_client_link_layer(o);
            if (ll && ll->is_ethernet())
                out += " lladdr " + MacAddr::from(ll->addr).str();
            else
                out += " lladdr [malformed]";
        } else if (o.code == opt::kRemoteId) {
            auto r = as_remote_id(o);
            if (r)
                out += " remote-id " + std::to_string(r->enterprise) + ":" + hex(r->id);
        }
    }
    out += " ";
    append_codes(out, l.options);
}

}  // namespace

void append_summary(std::string& out, const Message& m, bool with_inner) {
    for (size_t i = 0; i < m.relays.size(); ++i) {
        append_relay_brief(out, m.relays[i]);
        if (with_inner || i + 1 < m.relays.size()) out += " | ";
    }
    if (!with_inner) return;
    const ClientMessage& c = m.inner;
    out += msg_type_label(c.type);
    out += " xid " + xid_str(c.xid);
    if (c.type == msg::kAddrRegInform || c.type == msg::kAddrRegReply) append_ia_addr_brief(out, c.options);
    if (const Option* o = find_option(c.options, opt::kClientLinkLayerAddr)) {
        auto ll = as_client_link_layer(*o);
        if (ll && ll->is_ethernet()) out += " lladdr " + MacAddr::from(ll->addr).str();
    }
    for (const auto& o : c.options) {
        if (o.code == opt::kAddrRegEnable) out += " addr-reg-enable";
        if (o.code == opt::kOro) {
            auto oro = as_oro(o);
            if (oro) {
                for (uint16_t code : *oro)
                    if (code == opt::kAddrRegEnable) out += " oro-addr-reg-enable";
            }
        }
        if (o.code == opt::kStatusCode) {
            auto s = as_status_code(o);
            if (s) out += " status " + std::to_string(s->code);
        }
    }
    out += " ";
    append_codes(out, c.options);
}

std::string option_value(const Option& o, bool* nested) {
    if (nested) *nested = false;
    auto bad = [&](const Error& e) { return "[malformed: " + e.str() + "]"; };
    switch (o.code) {
        case opt::kClientId:
        case opt::kServerId: {
            auto d = as_duid(o);
            if (!d) return bad(d.error());
            static const char* names[] = {"?", "duid-llt", "duid-en", "duid-ll", "duid-uuid"};
            std::string t = d->type >= 1 && d->type <= 4 ? names[d->type] : "duid-type-" + std::to_string(d->type);
            return t + " " + hex(d->raw);
        }
        case opt::kIaNa: {
            auto ia = as_ia_na(o);
            if (!ia) return bad(ia.error());
            if (nested) *nested = !ia->options.empty();
            return "iaid " + std::to_string(ia->iaid) + " t1 " + std::to_string(ia->t1) + " t2 " + std::to_string(ia->t2);
        }
        case opt::kIaTa: {
            auto ia = as_ia_ta(o);
            if (!ia) return bad(ia.error());
            if (nested) *nested = !ia->options.empty();
            return "iaid " + std::to_string(ia->iaid);
        }
        case opt::kIaAddr: {
            auto a = as_ia_addr(o);
            if (!a) return bad(a.error());
            if (nested) *nested = !a->options.empty();
            return a->addr.str() + " pref " + std::to_string(a->preferred) + " valid " + std::to_string(a->valid);
        }
        case opt::kIaPd: {
            auto ia = as_ia_pd(o);
            if (!ia) return bad(ia.error());
            if (nested) *nested = !ia->options.empty();
            return "iaid " + std::to_string(ia->iaid) + " t1 " + std::to_string(ia->t1) + " t2 " + std::to_string(ia->t2);
        }
        case opt::kIaPrefix: {
            auto p = as_ia_prefix(o);
            if (!p) return bad(p.error());
            if (nested) *nested = !p->options.empty();
            std::string s = p->prefix.str();
            s += '/';
            s += std::to_string(p->prefix_len);
            return s + " pref " + std::to_string(p->preferred) + " valid " + std::to_string(p->valid);
        }
        case opt::kOro: {
            auto oro = as_oro(o);
            if (!oro) return bad(oro.error());
            std::string s = "[";
            for (size_t i = 0; i < oro->size(); ++i) {
                if (i) s += ',';
                s += std::to_string((*oro)[i]);
            }
            return s + "]";
        }
        case opt::kElapsedTime:
            if (o.data.size() == 2) return std::to_string((o.data[0] << 8 | o.data[1]) * 10) + " ms";  // 1/100 s units
            break;
        case opt::kRelayMsg:
            if (nested) *nested = true;
            return {};
        case opt::kStatusCode: {
            auto s = as_status_code(o);
            if (!s) return bad(s.error());
            return std::to_string(s->code) + " \"" + escaped(s->message) + "\"";
        }
        case opt::kInterfaceId: {
            auto id = as_interface_id(o);
            if (!id) return bad(id.error());
            return quoted_or_hex(*id);
        }
        case opt::kRemoteId: {
            auto r = as_remote_id(o);
            if (!r) return bad(r.error());
            return "enterprise " + std::to_string(r->enterprise) + " id 0x" + hex(r->id);
        }
        case opt::kClientFqdn: {
            auto f = as_client_fqdn(o);
            if (!f) return bad(f.error());
            return "flags " + std::to_string(f->flags) + " name \"" + escaped(f->name) + "\"";
        }
        case opt::kClientLinkLayerAddr: {
            auto ll = as_client_link_layer(o);
            if (!ll) return bad(ll.error());
            return "hwtype " + std::to_string(ll->hw_type) + " " +
                   (ll->is_ethernet() ? MacAddr::from(ll->addr).str() : "0x" + hex(ll->addr));
        }
        case opt::kAddrRegEnable: {
            auto e = as_addr_reg_enable(o);
            if (!e) return bad(e.error());
            return {};
        }
        default: break;
    }
    return o.data.empty() ? std::string() : "0x" + hex(o.data);
}

namespace {

// Sub-options nested deeper than this are not shown. Only the input bounds IA nesting (a 64 KiB
// payload nests IA_NA about 4000 deep) and each level is a recursion here: the stack would overflow.
constexpr int kMaxTreeNesting = 64;

void append_options_tree(std::string& out, const OptionList& opts, int indent, const Message* m, size_t level,
                         int nesting);

void append_option_line(std::string& out, const Option& o, int indent, const Message* m, size_t level,
                        int nesting) {
    out.append(size_t(indent), ' ');
    auto name = option_name(o.code);
    out += name.empty() ? "option-" + std::to_string(o.code) : std::string(name);
    out += " (" + std::to_string(o.code) + ") len " + std::to_string(o.data.size());
    bool nested = false;
    std::string v = option_value(o, &nested);
    if (!v.empty()) out += " " + v;
    out += '\n';
    if (!nested) return;
    if (o.code == opt::kRelayMsg) {
        // The decoded next level, when this is the level's carried message.
        if (m && level < m->relays.size() && m->relays[level].relay_msg() == &o) {
            size_t next = level + 1;
            out.append(size_t(indent + 2), ' ');
            if (next < m->relays.size()) {
                const RelayLevel& l = m->relays[next];
                out += msg_type_label(l.type) + " hop-count " + std::to_string(l.hop_count) + " link-address " +
                       l.link_address.str() + " peer-address " + l.peer_address.str() + '\n';
                append_options_tree(out, l.options, indent + 4, m, next, nesting + 1);
            } else {
                out += msg_type_label(m->inner.type) + " xid " + xid_str(m->inner.xid) + '\n';
                append_options_tree(out, m->inner.options, indent + 4, nullptr, 0, nesting + 1);
            }
        }
        return;
    }
    OptionList sub;
    if (o.code == opt::kIaNa) {
        if (auto ia = as_ia_na(o)) sub = std::move(ia->options);
    } else if (o.code == opt::kIaAddr) {
        if (auto a = as_ia_addr(o)) sub = std::move(a->options);
    } else if (o.code == opt::kIaTa) {
        if (auto ia = as_ia_ta(o)) sub = std::move(ia->options);
    } else if (o.code == opt::kIaPd) {
        if (auto ia = as_ia_pd(o)) sub = std::move(ia->options);
    } else if (o.code == opt::kIaPrefix) {
        if (auto p = as_ia_prefix(o)) sub = std::move(p->options);
    }
    if (!sub.empty() && nesting >= kMaxTreeNesting) {
        out.append(size_t(indent + 2), ' ');
        out += "[" + std::to_string(sub.size()) + " sub-options nested too deep, not shown]\n";
        return;
    }
    append_options_tree(out, sub, indent + 2, nullptr, 0, nesting + 1);
}

void append_options_tree(std::string& out, const OptionList& opts, int indent, const Message* m, size_t level,
                         int nesting) {
    for (const auto& o : opts) append_option_line(out, o, indent, m, level, nesting);
}

}  // namespace

void append_tree(std::string& out, const Message& m, int indent) {
    if (m.relays.empty()) {
        out.append(size_t(indent), ' ');
        out += msg_type_label(m.inner.type) + " xid " + xid_str(m.inner.xid) + '\n';
        append_options_tree(out, m.inner.options, indent + 2, nullptr, 0, 0);
        return;
    }
    const RelayLevel& l = m.relays[0];
    out.append(size_t(indent), ' ');
    out += msg_type_label(l.type) + " hop-count " + std::to_string(l.hop_count) + " link-address " +
           l.link_address.str() + " peer-address " + l.peer_address.str() + '\n';
    append_options_tree(out, l.options, indent + 2, &m, 0, 0);
}

std::string registered_addresses(const OptionList& opts) {
    std::string s;
    for (const auto& o : opts) {
        if (o.code != opt::kIaAddr) continue;
        s += s.empty() ? "address " : ",";
        auto a = as_ia_addr(o);
        s += a ? a->addr.str() : std::string("[malformed]");
    }
    return s.empty() ? "no IA Address" : s;
}

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
}

static void append_json_codes(std::string& out, const OptionList& opts) {
    out += '[';
    for (size_t i = 0; i < opts.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(opts[i].code);
    }
    out += ']';
}

void append_json(std::string& out, const Message& m) {
    out += "{\"relays\":[";
    for (size_t i = 0; i < m.relays.size(); ++i) {
        const RelayLevel& l = m.relays[i];
        if (i) out += ',';
        out += "{\"type\":" + std::to_string(l.type) + ",\"name\":";
        append_json_string(out, msg_type_label(l.type));
        out += ",\"hop_count\":" + std::to_string(l.hop_count) + ",\"link_address\":\"" + l.link_address.str() +
               "\",\"peer_address\":\"" + l.peer_address.str() + "\",\"options\":";
        append_json_codes(out, l.options);
        if (const Option* o = find_option(l.options, opt::kInterfaceId)) {
            out += ",\"interface_id\":\"" + hex(o->data) + "\"";
        }
        if (const Option* o = find_option(l.options, opt::kClientLinkLayerAddr)) {
            auto ll = as_client_link_layer(*o);
            if (ll) out += ",\"client_link_layer\":\"" + hex(ll->addr, ":") + "\"";
        }
        out += '}';
    }
    const ClientMessage& c = m.inner;
    out += "],\"message\":{\"type\":" + std::to_string(c.type) + ",\"name\":";
    append_json_string(out, msg_type_label(c.type));
    out += ",\"xid\":" + std::to_string(c.xid) + ",\"options\":";
    append_json_codes(out, c.options);
    if (const Option* o = find_option(c.options, opt::kIaAddr)) {
        if (auto a = as_ia_addr(*o)) out += ",\"ia_addr\":\"" + a->addr.str() + "\"";
    }
    out += "}}";
}

}  // namespace regrelay::dhcp6
