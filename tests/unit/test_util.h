// Small helpers shared by the unit tests. They build expected bytes independently of the code
// under test (no use of regrelay::Writer or regrelay::parse_hex).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace regrelay::test {

using ByteVec = std::vector<uint8_t>;

// "01 00ab cd" -> {0x01, 0x00, 0xab, 0xcd}. Whitespace, ':' and '|' are ignored; anything else
// that is not a hex digit, or an odd number of digits, throws (a broken test, not a failure).
inline ByteVec hexb(std::string_view text) {
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    ByteVec out;
    int hi = -1;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\t' || c == ':' || c == '|') continue;
        int v = val(c);
        if (v < 0) throw std::invalid_argument("bad hex digit in test data");
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(uint8_t(hi << 4 | v));
            hi = -1;
        }
    }
    if (hi >= 0) throw std::invalid_argument("odd number of hex digits in test data");
    return out;
}

inline ByteVec str_bytes(std::string_view s) { return ByteVec(s.begin(), s.end()); }

// Concatenation of byte vectors.
inline ByteVec cat(std::initializer_list<ByteVec> parts) {
    ByteVec out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

inline ByteVec be16(uint16_t v) { return {uint8_t(v >> 8), uint8_t(v)}; }
inline ByteVec be32(uint32_t v) { return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }

// A DHCPv6 option (RFC 8415 §21.1): code (16), length (16), body.
inline ByteVec mkopt(uint16_t code, const ByteVec& body) {
    return cat({be16(code), be16(uint16_t(body.size())), body});
}

// The lowercase hex of a byte range, for readable failure messages.
template <class Range>
std::string to_hex(const Range& r) {
    static constexpr char d[] = "0123456789abcdef";
    std::string s;
    for (uint8_t b : r) {
        s += d[b >> 4];
        s += d[b & 15];
    }
    return s;
}

// A relay message (RFC 8415 §9) read independently of the codec: header fields and the
// ordered (code, body) options; ok is false when it is short or an option runs past the end.
struct ParsedRelay {
    bool ok = false;
    uint8_t type = 0, hop = 0;
    ByteVec link, peer;
    std::vector<std::pair<uint16_t, ByteVec>> opts;

    std::vector<uint16_t> codes() const {
        std::vector<uint16_t> c;
        for (const auto& o : opts) c.push_back(o.first);
        return c;
    }
    const ByteVec* find(uint16_t code) const {
        for (const auto& o : opts)
            if (o.first == code) return &o.second;
        return nullptr;
    }
};

inline ParsedRelay parse_relay(const ByteVec& b) {
    ParsedRelay r;
    if (b.size() < 34) return r;
    r.type = b[0];
    r.hop = b[1];
    r.link.assign(b.begin() + 2, b.begin() + 18);
    r.peer.assign(b.begin() + 18, b.begin() + 34);
    size_t i = 34;
    while (i < b.size()) {
        if (b.size() - i < 4) return r;
        uint16_t code = uint16_t(b[i] << 8 | b[i + 1]);
        size_t len = size_t(b[i + 2] << 8 | b[i + 3]);
        if (b.size() - i - 4 < len) return r;
        r.opts.emplace_back(code, ByteVec(b.begin() + long(i) + 4, b.begin() + long(i + 4 + len)));
        i += 4 + len;
    }
    r.ok = true;
    return r;
}

}  // namespace regrelay::test
