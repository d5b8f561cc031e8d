#include "obs/trail.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>

#include "dhcp6/dhcp6.h"
#include "obs/log.h"

namespace regrelay::obs {

// --- records ----------------------------------------------------------------------------------

namespace {

void key(std::string& out, std::string_view k) {
    out += out.size() > 1 ? ",\"" : "\"";
    out += k;
    out += "\":";
}

void str_field(std::string& out, std::string_view k, std::string_view v) {
    key(out, k);
    append_json_string(out, v);
}

void num_field(std::string& out, std::string_view k, uint64_t v) {
    key(out, k);
    out += std::to_string(v);
}

std::string xid_text(uint32_t xid) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%06x", unsigned(xid & 0xffffff));
    return buf;
}

}  // namespace

std::vector<std::string> trail_lines(const TrailContext& c) {
    using namespace dhcp6;
    const bool inform = c.kind == TrailKind::kInform;
    // What the message says: its IA Addresses, DUID and status (a reply's).
    struct Ia {
        std::optional<IaAddr> a;
    };
    std::vector<Ia> ias;
    std::string duid;
    std::optional<uint16_t> status;
    if (auto m = decode_client(c.message)) {
        for (const auto& o : m->options) {
            if (o.code == opt::kIaAddr) {
                auto a = as_ia_addr(o);
                ias.push_back({a ? std::optional<IaAddr>(*a) : std::nullopt});
                if (a && !status)
                    if (const Option* s = find_option(a->options, opt::kStatusCode))
                        if (auto sc = as_status_code(*s)) status = sc->code;
            }
        }
        if (const Option* o = find_option(m->options, opt::kClientId)) duid = hex(o->data);
        if (const Option* s = find_option(m->options, opt::kStatusCode))
            if (auto sc = as_status_code(*s)) status = sc->code;
    }
    if (ias.empty()) ias.push_back({});  // a line all the same: the message was relayed

    std::vector<std::string> lines;
    const std::string time = rfc3339_ms(c.sec, c.nsec);
    for (const Ia& ia : ias) {
        std::string l = "{";
        str_field(l, "@timestamp", time);
        str_field(l, "event.action", inform ? "addr-reg-inform" : "addr-reg-reply");
        if (ia.a) str_field(l, "client.ip", ia.a->addr.str());
        str_field(l, inform ? "source.ip" : "destination.ip", c.peer.str());
        if (c.mac) str_field(l, "client.mac", c.mac->str());
        if (!duid.empty()) str_field(l, "dhcp6.duid", duid);
        str_field(l, inform ? "observer.ingress.interface.name" : "observer.egress.interface.name", c.port);
        if (inform && c.vlan) num_field(l, "observer.ingress.vlan.id", *c.vlan);
        str_field(l, "dhcp6.xid", xid_text(c.xid));
        if (ia.a) {
            num_field(l, "dhcp6.preferred_lifetime", ia.a->preferred);
            num_field(l, "dhcp6.valid_lifetime", ia.a->valid);
        }
        if (!inform && status) num_field(l, "dhcp6.status_code", *status);
        l += "}\n";
        lines.push_back(std::move(l));
    }
    return lines;
}

TrailWriter::~TrailWriter() {
    if (fd_ >= 0) ::close(fd_);
}

bool TrailWriter::open(const std::string& path, std::string& err) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        err = path + ": " + std::strerror(errno);
        return false;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    path_ = path;
    return true;
}

bool TrailWriter::reopen(std::string& err) { return open(path_, err); }

void TrailWriter::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void TrailWriter::write(const std::vector<std::string>& lines, uint64_t now_ns) {
    for (const std::string& l : lines) {
        std::string why;
        if (fd_ < 0) {
            why = "not open";
        } else {
            size_t done = 0;
            while (done < l.size()) {
                ssize_t n = ::write(fd_, l.data() + done, l.size() - done);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) {
                    why = n < 0 ? std::strerror(errno) : "short write";
                    break;
                }
                done += size_t(n);
            }
        }
        if (why.empty()) {
            ++written_;
            continue;
        }
        ++errors_;
        if (now_ns < next_log_ns_) {
            ++not_logged_;
            continue;
        }
        const uint64_t since = not_logged_;
        not_logged_ = 0;
        next_log_ns_ = now_ns + 10ull * 1000000000ull;
        log_event(spdlog::level::err, "trail_error",
                  {{"path", path_}, {"error", why}, {"errors", errors_}, {"not_logged", since}},
                  "--trail: writing " + path_ + " failed: " + why +
                      (since ? " (" + std::to_string(since) + " more failures not logged)" : std::string()));
    }
}

// --- the query --------------------------------------------------------------------------------

namespace {

bool digits(std::string_view s, size_t at, size_t n, int& v) {
    if (at + n > s.size()) return false;
    v = 0;
    for (size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    return true;
}

}  // namespace

std::optional<int64_t> parse_time(std::string_view s) {
    int y, mo, d, h, mi, sec = 0;
    if (!digits(s, 0, 4, y) || s.size() < 16 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
        !digits(s, 8, 2, d) || !(s[10] == 'T' || s[10] == 't' || s[10] == ' ') || !digits(s, 11, 2, h) ||
        s[13] != ':' || !digits(s, 14, 2, mi))
        return std::nullopt;
    const bool rfc = s[10] != ' ';
    size_t at = 16;
    int64_t ms = 0;
    if (at < s.size() && s[at] == ':') {
        if (!digits(s, at + 1, 2, sec)) return std::nullopt;
        at += 3;
        if (at < s.size() && s[at] == '.') {
            ++at;
            size_t n = 0;
            int64_t frac = 0;
            while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
                if (n < 3) frac = frac * 10 + (s[at] - '0');
                ++n;
                ++at;
            }
            if (n == 0) return std::nullopt;
            for (size_t k = n; k < 3; ++k) frac *= 10;
            ms = frac;
        }
    } else if (rfc) {
        return std::nullopt;  // RFC 3339 has seconds
    }
    int64_t offset_min = 0;
    if (rfc) {
        if (at >= s.size()) return std::nullopt;  // RFC 3339 has a zone
        if (s[at] == 'Z' || s[at] == 'z') {
            ++at;
        } else if (s[at] == '+' || s[at] == '-') {
            int oh, om;
            if (!digits(s, at + 1, 2, oh) || at + 3 >= s.size() || s[at + 3] != ':' || !digits(s, at + 4, 2, om) ||
                oh > 23 || om > 59)
                return std::nullopt;
            offset_min = (s[at] == '-' ? -1 : 1) * (oh * 60 + om);
            at += 6;
        } else {
            return std::nullopt;
        }
    }
    if (at != s.size()) return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    struct tm tm {};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    const time_t t = timegm(&tm);
    // timegm normalises 31 February into March: refuse a day the month does not have.
    struct tm back {};
    gmtime_r(&t, &back);
    if (back.tm_mday != d && sec != 60) return std::nullopt;
    return (int64_t(t) - offset_min * 60) * 1000 + ms;
}

namespace {

// A flat JSON object: string, number, true/false/null values; arrays and nested objects are
// skipped. Enough for the trail's own lines, strict enough to refuse anything else.
class FlatJson {
public:
    explicit FlatJson(std::string_view s) : s_(s) {}

    bool parse(std::map<std::string, std::string, std::less<>>& out) {
        ws();
        if (!eat('{')) return false;
        ws();
        if (eat('}')) return end();
        for (;;) {
            std::string k, v;
            ws();
            if (!string(k)) return false;
            ws();
            if (!eat(':')) return false;
            ws();
            if (!value(v)) return false;
            out[k] = std::move(v);
            ws();
            if (eat(',')) continue;
            if (eat('}')) return end();
            return false;
        }
    }

private:
    bool end() {
        ws();
        return i_ == s_.size();
    }
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
    }
    bool eat(char c) {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    static void utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xc0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out += char(0xe0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3f));
            out += char(0x80 | (cp & 0x3f));
        } else {
            out += char(0xf0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3f));
            out += char(0x80 | ((cp >> 6) & 0x3f));
            out += char(0x80 | (cp & 0x3f));
        }
    }
    bool hex4(uint32_t& v) {
        if (i_ + 4 > s_.size()) return false;
        v = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
            else return false;
        }
        return true;
    }
    bool string(std::string& out) {
        if (!eat('"')) return false;
        while (i_ < s_.size()) {
            char c = s_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) return false;
            char e = s_[i_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                uint32_t cp;
                if (!hex4(cp)) return false;
                if (cp >= 0xd800 && cp < 0xdc00) {
                    uint32_t lo;
                    if (!eat('\\') || !eat('u') || !hex4(lo) || lo < 0xdc00 || lo > 0xdfff) return false;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp < 0xe000) {
                    return false;
                }
                utf8(out, cp);
                break;
            }
            default:
                return false;
            }
        }
        return false;
    }
    bool skip_nested(char open, char close) {
        int depth = 0;
        while (i_ < s_.size()) {
            char c = s_[i_];
            if (c == '"') {
                std::string ignored;
                if (!string(ignored)) return false;
                continue;
            }
            ++i_;
            if (c == open) ++depth;
            else if (c == close && --depth == 0) return true;
        }
        return false;
    }
    bool value(std::string& out) {
        if (i_ >= s_.size()) return false;
        char c = s_[i_];
        if (c == '"') return string(out);
        if (c == '[') return skip_nested('[', ']');
        if (c == '{') return skip_nested('{', '}');
        for (std::string_view w : {"true", "false", "null"})
            if (s_.substr(i_, w.size()) == w) {
                out = w;
                i_ += w.size();
                return true;
            }
        size_t b = i_;
        if (c == '-') ++i_;
        while (i_ < s_.size() && ((s_[i_] >= '0' && s_[i_] <= '9') || s_[i_] == '.' || s_[i_] == 'e' ||
                                  s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-'))
            ++i_;
        if (i_ == b || (c == '-' && i_ == b + 1)) return false;
        out = std::string(s_.substr(b, i_ - b));
        return true;
    }

    std::string_view s_;
    size_t i_ = 0;
};

std::optional<int64_t> integer(const std::string& s) {
    if (s.empty() || s.size() > 18) return std::nullopt;
    int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

}  // namespace

bool parse_trail_line(std::string_view line, TrailEntry& e) {
    std::map<std::string, std::string, std::less<>> f;
    if (!FlatJson(line).parse(f)) return false;
    auto get = [&](std::string_view k) -> const std::string* {
        auto it = f.find(k);
        return it == f.end() ? nullptr : &it->second;
    };
    const std::string* action = get("event.action");
    const std::string* ts = get("@timestamp");
    if (!action || !ts) return false;
    e = {};
    if (*action == "addr-reg-inform") e.kind = TrailKind::kInform;
    else if (*action == "addr-reg-reply") e.kind = TrailKind::kReply;
    else return false;
    auto t = parse_time(*ts);
    if (!t) return false;
    e.t_ms = *t;
    e.time = *ts;
    if (const std::string* a = get("client.ip")) {
        e.address = Ip6Addr::parse(*a);
        if (!e.address) return false;
    }
    const bool inform = e.kind == TrailKind::kInform;
    if (const std::string* v = get("client.mac")) e.mac = *v;
    if (const std::string* v = get("dhcp6.duid")) e.duid = *v;
    if (const std::string* v = get(inform ? "observer.ingress.interface.name" : "observer.egress.interface.name"))
        e.port = *v;
    if (const std::string* v = get(inform ? "source.ip" : "destination.ip")) e.source = *v;
    if (const std::string* v = get("dhcp6.xid")) e.xid = *v;
    if (const std::string* v = get("observer.ingress.vlan.id")) e.vlan = integer(*v);
    if (const std::string* v = get("dhcp6.preferred_lifetime")) e.preferred = integer(*v);
    if (const std::string* v = get("dhcp6.valid_lifetime")) e.valid = integer(*v);
    return true;
}

void scan_trail(std::istream& in, const Ip6Addr& address, std::vector<TrailEntry>& out, TrailAnswer& stats) {
    std::string line;
    TrailEntry e;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        ++stats.lines;
        if (!parse_trail_line(line, e)) {
            ++stats.skipped;
            continue;
        }
        if (e.address && *e.address == address) out.push_back(std::move(e));
    }
}

int64_t valid_until_ms(const TrailEntry& e) {
    if (!e.valid) return e.t_ms;
    if (*e.valid == 0xffffffffLL) return INT64_MAX;
    return e.t_ms + *e.valid * 1000;
}

TrailAnswer answer(std::vector<TrailEntry> records, std::optional<int64_t> at_ms, TrailAnswer stats) {
    // By time, file order among equal times: std::sort on indexes with the position as tiebreak
    // (std::stable_sort's temporary buffer trips ASan's alloc-dealloc check with GCC 12).
    std::vector<size_t> order(records.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return records[a].t_ms != records[b].t_ms ? records[a].t_ms < records[b].t_ms : a < b;
    });
    std::vector<TrailEntry> sorted;
    sorted.reserve(records.size());
    for (size_t i : order) sorted.push_back(std::move(records[i]));
    records = std::move(sorted);
    TrailAnswer out;
    out.lines = stats.lines;
    out.skipped = stats.skipped;
    for (size_t i = 0; i < records.size(); ++i) {
        if (records[i].kind != TrailKind::kInform) continue;
        TrailEntry e = records[i];
        for (size_t j = i + 1; j < records.size() && !e.replied; ++j)
            e.replied = records[j].kind == TrailKind::kReply && records[j].xid == e.xid;
        out.registrations.push_back(std::move(e));
    }
    if (!at_ms) return out;
    // Per client, the latest registration at or before the time.
    std::map<std::string, size_t> latest;
    for (size_t i = 0; i < out.registrations.size(); ++i) {
        const TrailEntry& e = out.registrations[i];
        if (e.t_ms > *at_ms) break;
        latest[e.duid.empty() ? "mac " + e.mac : "duid " + e.duid] = i;
    }
    for (const auto& [client, i] : latest) {
        const TrailEntry& e = out.registrations[i];
        if (e.valid && *e.valid > 0 && *at_ms <= valid_until_ms(e)) out.valid_at.push_back(i);
    }
    std::sort(out.valid_at.begin(), out.valid_at.end());
    return out;
}

}  // namespace regrelay::obs
