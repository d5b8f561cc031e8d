// Small helpers shared by the unit tests. They build expected bytes independently of the code
// under test (no use of regrelay::Writer or regrelay::parse_hex).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
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

}  // namespace regrelay::test
