// A strict JSON reader for the tests (RFC 8259), written independently of obs/log and obs/trail:
// parses one object, keeps its top-level members (strings decoded, numbers as text, arrays of
// strings as lists) and fails on anything that is not valid JSON or valid UTF-8.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace regrelay::test {

struct JsonValue {
    enum Kind { kString, kNumber, kBool, kNull, kArray, kObject } kind = kNull;
    std::string text;               // string (decoded), number, true/false
    std::vector<std::string> list;  // array elements: strings decoded, others as raw text
};

class JsonReader {
public:
    explicit JsonReader(std::string_view s) : s_(s) {}

    // The members of the object in order of appearance (a repeated key fails).
    std::optional<std::vector<std::pair<std::string, JsonValue>>> object() {
        std::vector<std::pair<std::string, JsonValue>> out;
        ws();
        if (!eat('{')) return std::nullopt;
        ws();
        if (eat('}')) return done(out);
        for (;;) {
            ws();
            std::string k;
            if (!str(k)) return std::nullopt;
            for (const auto& m : out)
                if (m.first == k) return std::nullopt;
            ws();
            if (!eat(':')) return std::nullopt;
            ws();
            JsonValue v;
            if (!value(v)) return std::nullopt;
            out.emplace_back(k, std::move(v));
            ws();
            if (eat(',')) continue;
            if (eat('}')) return done(out);
            return std::nullopt;
        }
    }

private:
    std::optional<std::vector<std::pair<std::string, JsonValue>>> done(
        std::vector<std::pair<std::string, JsonValue>>& out) {
        ws();
        if (i_ != s_.size()) return std::nullopt;
        return out;
    }
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool eat(char c) {
        if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
        return false;
    }
    static void put(std::string& o, uint32_t cp) {
        if (cp < 0x80) o += char(cp);
        else if (cp < 0x800) o += char(0xc0 | cp >> 6), o += char(0x80 | (cp & 63));
        else if (cp < 0x10000) o += char(0xe0 | cp >> 12), o += char(0x80 | (cp >> 6 & 63)), o += char(0x80 | (cp & 63));
        else
            o += char(0xf0 | cp >> 18), o += char(0x80 | (cp >> 12 & 63)), o += char(0x80 | (cp >> 6 & 63)),
                o += char(0x80 | (cp & 63));
    }
    bool hex4(uint32_t& v) {
        v = 0;
        for (int k = 0; k < 4; ++k) {
            if (i_ >= s_.size()) return false;
            char c = s_[i_++];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return false;
            v = v * 16 + uint32_t(d);
        }
        return true;
    }
    // One UTF-8 sequence starting at i_ (validated), appended raw.
    bool utf8(std::string& o) {
        const auto b = [&](size_t k) { return static_cast<unsigned char>(s_[i_ + k]); };
        unsigned char c = b(0);
        size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (n == 0 || i_ + n > s_.size()) return false;
        uint32_t cp = c & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
        for (size_t k = 1; k < n; ++k) {
            if ((b(k) & 0xc0) != 0x80) return false;
            cp = cp << 6 | (b(k) & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp < 0xe000))
            return false;
        o.append(s_.substr(i_, n));
        i_ += n;
        return true;
    }
    bool str(std::string& o) {
        if (!eat('"')) return false;
        while (i_ < s_.size()) {
            unsigned char c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') return ++i_, true;
            if (c < 0x20) return false;
            if (c >= 0x80) {
                if (!utf8(o)) return false;
                continue;
            }
            ++i_;
            if (c != '\\') {
                o += char(c);
                continue;
            }
            if (i_ >= s_.size()) return false;
            char e = s_[i_++];
            switch (e) {
            case '"': o += '"'; break;
            case '\\': o += '\\'; break;
            case '/': o += '/'; break;
            case 'b': o += '\b'; break;
            case 'f': o += '\f'; break;
            case 'n': o += '\n'; break;
            case 'r': o += '\r'; break;
            case 't': o += '\t'; break;
            case 'u': {
                uint32_t cp;
                if (!hex4(cp)) return false;
                if (cp >= 0xd800 && cp < 0xdc00) {
                    uint32_t lo;
                    if (!eat('\\') || !eat('u') || !hex4(lo) || lo < 0xdc00 || lo >= 0xe000) return false;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp < 0xe000) {
                    return false;
                }
                put(o, cp);
                break;
            }
            default: return false;
            }
        }
        return false;
    }
    bool number(std::string& o) {
        size_t b = i_;
        eat('-');
        if (eat('0')) {
        } else if (i_ < s_.size() && s_[i_] >= '1' && s_[i_] <= '9') {
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
        } else {
            return false;
        }
        if (eat('.')) {
            size_t d = i_;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
            if (i_ == d) return false;
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (!eat('+')) eat('-');
            size_t d = i_;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
            if (i_ == d) return false;
        }
        o = std::string(s_.substr(b, i_ - b));
        return true;
    }
    bool value(JsonValue& v) {
        if (i_ >= s_.size()) return false;
        char c = s_[i_];
        if (c == '"') return v.kind = JsonValue::kString, str(v.text);
        if (c == '[') {
            v.kind = JsonValue::kArray;
            ++i_;
            ws();
            if (eat(']')) return true;
            for (;;) {
                ws();
                JsonValue e;
                if (!value(e)) return false;
                v.list.push_back(e.text);
                ws();
                if (eat(',')) continue;
                return eat(']');
            }
        }
        if (c == '{') {
            v.kind = JsonValue::kObject;
            size_t b = i_;
            int depth = 0;
            // Nested objects: validated by a reader of their own.
            for (; i_ < s_.size(); ++i_) {
                if (s_[i_] == '"') {
                    std::string ignored;
                    if (!str(ignored)) return false;
                    --i_;
                } else if (s_[i_] == '{') {
                    ++depth;
                } else if (s_[i_] == '}' && --depth == 0) {
                    ++i_;
                    return JsonReader(s_.substr(b, i_ - b)).object().has_value();
                }
            }
            return false;
        }
        for (std::string_view w : {"true", "false", "null"})
            if (s_.substr(i_, w.size()) == w) {
                v.kind = w == "null" ? JsonValue::kNull : JsonValue::kBool;
                v.text = w;
                i_ += w.size();
                return true;
            }
        v.kind = JsonValue::kNumber;
        return number(v.text);
    }

    std::string_view s_;
    size_t i_ = 0;
};

// The members of a JSON object line, or nullopt when it is not one.
inline std::optional<std::map<std::string, JsonValue>> json_object(std::string_view line) {
    auto m = JsonReader(line).object();
    if (!m) return std::nullopt;
    std::map<std::string, JsonValue> out;
    for (auto& [k, v] : *m) out[k] = v;
    return out;
}

// The keys in order.
inline std::vector<std::string> json_keys(std::string_view line) {
    std::vector<std::string> k;
    if (auto m = JsonReader(line).object())
        for (auto& p : *m) k.push_back(p.first);
    return k;
}

}  // namespace regrelay::test
