#include "obs/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace regrelay::obs {

namespace {

// The one piece of logging state besides spdlog's own registry (see log.h).
std::atomic<LogFormat> g_format{LogFormat::kText};

// Marks a payload log_event() rendered for json mode: the formatter completes it. Never the
// first byte of a human text line.
constexpr char kMarker = '\x1e';

bool reserved(std::string_view k) { return k == "time" || k == "level" || k == "event" || k == "message"; }

void append_field(std::string& out, const Field& f) {
    out += ',';
    if (reserved(f.key)) {
        std::string k = "_";
        k += f.key;
        append_json_string(out, k);
    } else {
        append_json_string(out, f.key);
    }
    out += ':';
    switch (f.kind) {
    case Field::Kind::kString:
        append_json_string(out, f.value);
        break;
    case Field::Kind::kNumber:
        out += f.value;
        break;
    case Field::Kind::kList:
        out += '[';
        for (size_t i = 0; i < f.list.size(); ++i) {
            if (i) out += ',';
            append_json_string(out, f.list[i]);
        }
        out += ']';
        break;
    }
}

// `"event":E,fields...,"message":TEXT` (no braces).
template <typename Fields>
void append_body(std::string& out, std::string_view event, const Fields& fields, std::string_view text) {
    out += "\"event\":";
    append_json_string(out, event);
    for (const Field& f : fields) append_field(out, f);
    if (!text.empty()) {
        out += ",\"message\":";
        append_json_string(out, text);
    }
}

void append_head(std::string& out, std::string_view time, std::string_view level) {
    out += "{\"time\":";
    append_json_string(out, time);
    out += ",\"level\":";
    append_json_string(out, level);
    out += ',';
}

template <typename Fields>
void log_event_impl(spdlog::level::level_enum lvl, std::string_view event, const Fields& fields,
                    std::string_view text) {
    if (!spdlog::should_log(lvl)) return;
    if (g_format.load(std::memory_order_relaxed) == LogFormat::kText) {
        if (!text.empty()) spdlog::log(lvl, "{}", text);
        return;
    }
    std::string payload(1, kMarker);
    append_body(payload, event, fields, text);
    spdlog::log(lvl, "{}", payload);
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view s) {
    if (s == "text") return LogFormat::kText;
    if (s == "json") return LogFormat::kJson;
    return std::nullopt;
}

void set_log_format(LogFormat f) { g_format.store(f, std::memory_order_relaxed); }
LogFormat log_format() { return g_format.load(std::memory_order_relaxed); }

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    for (size_t i = 0; i < n;) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
                    out += buf;
                } else {
                    out += char(c);
                }
            }
            ++i;
            continue;
        }
        // A UTF-8 sequence: its length and the range of its second byte (RFC 3629 §4), which
        // rules out overlong forms, surrogates and code points past U+10FFFF.
        size_t len = 0;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) len = 2;
        else if (c == 0xe0) len = 3, lo = 0xa0;
        else if (c == 0xed) len = 3, hi = 0x9f;
        else if (c >= 0xe1 && c <= 0xef) len = 3;
        else if (c == 0xf0) len = 4, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3) len = 4;
        else if (c == 0xf4) len = 4, hi = 0x8f;
        bool ok = len != 0 && i + len <= n && p[i + 1] >= lo && p[i + 1] <= hi;
        for (size_t k = 2; ok && k < len; ++k) ok = p[i + k] >= 0x80 && p[i + k] <= 0xbf;
        if (!ok) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        out.append(reinterpret_cast<const char*>(p + i), len);
        i += len;
    }
    out += '"';
}

std::string rfc3339_ms(int64_t unix_sec, uint32_t nsec) {
    const time_t t = time_t(unix_sec);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, unsigned(nsec / 1000000) % 1000);
    return buf;
}

std::string render_json(std::string_view time, std::string_view level, std::string_view event,
                        std::initializer_list<Field> fields, std::string_view text) {
    std::string out;
    append_head(out, time, level);
    append_body(out, event, fields, text);
    out += '}';
    return out;
}

std::string render_json(std::string_view time, std::string_view level, std::string_view event,
                        const std::vector<Field>& fields, std::string_view text) {
    std::string out;
    append_head(out, time, level);
    append_body(out, event, fields, text);
    out += '}';
    return out;
}

void log_event(spdlog::level::level_enum lvl, std::string_view event, std::initializer_list<Field> fields,
               std::string_view text) {
    log_event_impl(lvl, event, fields, text);
}

void log_event(spdlog::level::level_enum lvl, std::string_view event, const std::vector<Field>& fields,
               std::string_view text) {
    log_event_impl(lvl, event, fields, text);
}

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    using namespace std::chrono;
    const auto since = msg.time.time_since_epoch();
    const auto secs = duration_cast<seconds>(since);
    const auto ns = duration_cast<nanoseconds>(since - secs);
    std::string out;
    const auto lv = spdlog::level::to_string_view(msg.level);
    append_head(out, rfc3339_ms(int64_t(secs.count()), uint32_t(ns.count())), std::string_view(lv.data(), lv.size()));
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!payload.empty() && payload.front() == kMarker) {
        out.append(payload.substr(1));
    } else {
        out += "\"event\":\"message\",\"message\":";
        append_json_string(out, payload);
    }
    out += "}\n";
    dest.append(out.data(), out.data() + out.size());
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> v;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        v.emplace_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return v;
}

std::vector<Field> flood_summary_fields(std::string_view line) {
    // "flood limits on IF in the last S s: dropped N (rate-limit-port P, rate-limit-mac M), K info
    // lines suppressed[; top MACs dropped: MAC C[ (-E)] ...]"
    std::vector<Field> f;
    auto after = [&](std::string_view key, size_t from = 0) -> size_t {
        size_t at = line.find(key, from);
        return at == std::string_view::npos ? at : at + key.size();
    };
    auto number = [&](size_t at) -> std::string {
        std::string s;
        while (at < line.size() && ((line[at] >= '0' && line[at] <= '9') || line[at] == '.')) s += line[at++];
        return s;
    };
    size_t on = after("flood limits on ");
    size_t last = line.find(" in the last ");
    if (on != std::string_view::npos && last != std::string_view::npos && last > on)
        f.emplace_back("interface", line.substr(on, last - on));
    auto num_field = [&](std::string_view name, std::string_view key, size_t from) {
        size_t at = after(key, from);
        if (at == std::string_view::npos) return;
        std::string v = number(at);
        if (v.empty()) return;
        Field x(name, v);
        x.kind = Field::Kind::kNumber;
        f.push_back(std::move(x));
    };
    const size_t start = last == std::string_view::npos ? 0 : last;
    num_field("seconds", " in the last ", 0);
    num_field("dropped", ": dropped ", start);
    num_field("rate_limit_port", "(rate-limit-port ", start);
    num_field("rate_limit_mac", ", rate-limit-mac ", start);
    if (size_t close = line.find("), ", start); close != std::string_view::npos) {
        std::string v = number(close + 3);
        if (!v.empty() && line.substr(close + 3 + v.size()).starts_with(" info lines suppressed")) {
            Field x("suppressed", v);
            x.kind = Field::Kind::kNumber;
            f.push_back(std::move(x));
        }
    }
    if (size_t top = after("; top MACs dropped:"); top != std::string_view::npos) {
        std::vector<std::string> macs;
        std::string_view rest = line.substr(top);
        // " MAC COUNT[ (-ERR)]" repeated.
        while (!rest.empty()) {
            while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
            size_t sp = rest.find(' ');
            if (sp == std::string_view::npos) break;
            std::string entry(rest.substr(0, sp));
            rest.remove_prefix(sp + 1);
            size_t end = rest.find(' ');
            std::string_view count = rest.substr(0, end);
            entry += ' ';
            entry += count;
            rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
            if (rest.starts_with(" (-")) {
                size_t cl = rest.find(')');
                entry += ' ';
                entry.append(rest.substr(1, cl == std::string_view::npos ? std::string_view::npos : cl));
                rest = cl == std::string_view::npos ? std::string_view() : rest.substr(cl + 1);
            }
            macs.push_back(std::move(entry));
        }
        f.emplace_back("top_macs", std::move(macs));
    }
    return f;
}

}  // namespace regrelay::obs
