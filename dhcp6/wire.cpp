#include "dhcp6/wire.h"

#include <arpa/inet.h>

#include <cstdio>

namespace regrelay {

std::optional<Ip6Addr> Ip6Addr::parse(std::string_view text) {
    if (text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    char buf[INET6_ADDRSTRLEN] = {};
    std::memcpy(buf, text.data(), text.size());
    Ip6Addr a;
    if (inet_pton(AF_INET6, buf, a.b.data()) != 1) return std::nullopt;
    return a;
}

std::string Ip6Addr::str() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, b.data(), buf, sizeof buf);
    return buf;
}

bool Ip6Addr::is_unspecified() const {
    for (uint8_t x : b)
        if (x) return false;
    return true;
}

bool Ip6Addr::is_loopback() const {
    for (size_t i = 0; i < 15; ++i)
        if (b[i]) return false;
    return b[15] == 1;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
    // aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff
    if (text.size() != 17) return std::nullopt;
    MacAddr m;
    for (size_t i = 0; i < 6; ++i) {
        int hi = hexval(text[i * 3]), lo = hexval(text[i * 3 + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') return std::nullopt;
        m.b[i] = uint8_t(hi << 4 | lo);
    }
    return m;
}

std::string MacAddr::str() const { return hex(b, ":"); }

std::string hex(Bytes b, std::string_view sep) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(b.size() * (2 + sep.size()));
    for (size_t i = 0; i < b.size(); ++i) {
        if (i) s += sep;
        s += digits[b[i] >> 4];
        s += digits[b[i] & 15];
    }
    return s;
}

std::optional<std::vector<uint8_t>> parse_hex(std::string_view text) {
    std::vector<uint8_t> out;
    int hi = -1;
    for (char c : text) {
        if (c == ':' || c == '-' || c == ' ') {
            if (hi >= 0) return std::nullopt;  // separators only between whole bytes
            continue;
        }
        int v = hexval(c);
        if (v < 0) return std::nullopt;
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(uint8_t(hi << 4 | v));
            hi = -1;
        }
    }
    if (hi >= 0) return std::nullopt;
    return out;
}

}  // namespace regrelay
