// Bounds-checked byte reader and writer, and the address types shared by every layer.
// Pure: no I/O, no allocation in the reader.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace regrelay {

using Bytes = std::span<const uint8_t>;

struct Ip6Addr {
    std::array<uint8_t, 16> b{};

    static std::optional<Ip6Addr> parse(std::string_view text);
    static Ip6Addr from(Bytes sixteen) {
        Ip6Addr a;
        std::memcpy(a.b.data(), sixteen.data(), 16);
        return a;
    }
    std::string str() const;
    bool is_unspecified() const;
    bool is_link_local() const { return b[0] == 0xfe && (b[1] & 0xc0) == 0x80; }
    bool is_multicast() const { return b[0] == 0xff; }
    bool is_loopback() const;
    // Global unicast or unique-local: an address a server can route back to.
    bool is_routable_unicast() const { return !is_unspecified() && !is_loopback() && !is_link_local() && !is_multicast(); }
    auto operator<=>(const Ip6Addr&) const = default;
};

struct MacAddr {
    std::array<uint8_t, 6> b{};

    static std::optional<MacAddr> parse(std::string_view text);
    static MacAddr from(Bytes six) {
        MacAddr m;
        std::memcpy(m.b.data(), six.data(), 6);
        return m;
    }
    std::string str() const;
    bool is_multicast() const { return b[0] & 1; }
    auto operator<=>(const MacAddr&) const = default;
};

// Reads big-endian fields from a span. Every read checks the remaining length first;
// a failed read leaves the position unchanged and returns false.
class Reader {
public:
    explicit Reader(Bytes buf, size_t base_offset = 0) : buf_(buf), base_(base_offset) {}

    size_t remaining() const { return buf_.size() - pos_; }
    bool empty() const { return pos_ == buf_.size(); }
    // Offset of the next byte, relative to the start of the outermost buffer.
    size_t offset() const { return base_ + pos_; }
    size_t pos() const { return pos_; }

    bool u8(uint8_t& v) {
        if (remaining() < 1) return false;
        v = buf_[pos_++];
        return true;
    }
    bool u16(uint16_t& v) {
        if (remaining() < 2) return false;
        v = static_cast<uint16_t>(buf_[pos_] << 8 | buf_[pos_ + 1]);
        pos_ += 2;
        return true;
    }
    bool u24(uint32_t& v) {
        if (remaining() < 3) return false;
        v = uint32_t(buf_[pos_]) << 16 | uint32_t(buf_[pos_ + 1]) << 8 | buf_[pos_ + 2];
        pos_ += 3;
        return true;
    }
    bool u32(uint32_t& v) {
        if (remaining() < 4) return false;
        v = uint32_t(buf_[pos_]) << 24 | uint32_t(buf_[pos_ + 1]) << 16 | uint32_t(buf_[pos_ + 2]) << 8 |
            buf_[pos_ + 3];
        pos_ += 4;
        return true;
    }
    bool bytes(size_t n, Bytes& out) {
        if (remaining() < n) return false;
        out = buf_.subspan(pos_, n);
        pos_ += n;
        return true;
    }
    bool ip6(Ip6Addr& a) {
        if (remaining() < 16) return false;
        a = Ip6Addr::from(buf_.subspan(pos_, 16));
        pos_ += 16;
        return true;
    }
    bool mac(MacAddr& m) {
        if (remaining() < 6) return false;
        m = MacAddr::from(buf_.subspan(pos_, 6));
        pos_ += 6;
        return true;
    }
    bool skip(size_t n) {
        if (remaining() < n) return false;
        pos_ += n;
        return true;
    }
    Bytes rest() const { return buf_.subspan(pos_); }

private:
    Bytes buf_;
    size_t pos_ = 0;
    size_t base_ = 0;
};

// Appends big-endian fields to a byte vector. Options are written with begin_option/end_option,
// which patch the length once the body is known.
class Writer {
public:
    explicit Writer(std::vector<uint8_t>& out) : out_(out) {}

    size_t size() const { return out_.size(); }
    void u8(uint8_t v) { out_.push_back(v); }
    void u16(uint16_t v) {
        out_.push_back(uint8_t(v >> 8));
        out_.push_back(uint8_t(v));
    }
    void u24(uint32_t v) {
        out_.push_back(uint8_t(v >> 16));
        out_.push_back(uint8_t(v >> 8));
        out_.push_back(uint8_t(v));
    }
    void u32(uint32_t v) {
        u16(uint16_t(v >> 16));
        u16(uint16_t(v));
    }
    void bytes(Bytes b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void bytes(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
    void ip6(const Ip6Addr& a) { bytes(a.b); }
    void mac(const MacAddr& m) { bytes(m.b); }
    void zeros(size_t n) { out_.insert(out_.end(), n, 0); }

    // Writes a DHCPv6 option header with a placeholder length; returns the mark for end_option.
    size_t begin_option(uint16_t code) {
        u16(code);
        u16(0);
        return out_.size();
    }
    // Patches the length of the option begun at `mark`. Returns false if the body exceeds 65535.
    bool end_option(size_t mark) {
        size_t len = out_.size() - mark;
        if (len > 0xffff) return false;
        out_[mark - 2] = uint8_t(len >> 8);
        out_[mark - 1] = uint8_t(len);
        return true;
    }
    void option(uint16_t code, Bytes body) {
        u16(code);
        u16(uint16_t(body.size()));
        bytes(body);
    }
    // Writes a 16-bit value at an earlier position (for length fields patched later).
    void put_u16_at(size_t pos, uint16_t v) {
        out_[pos] = uint8_t(v >> 8);
        out_[pos + 1] = uint8_t(v);
    }

private:
    std::vector<uint8_t>& out_;
};

std::string hex(Bytes b, std::string_view sep = "");
std::optional<std::vector<uint8_t>> parse_hex(std::string_view text);

}  // namespace regrelay
