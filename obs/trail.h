// The registration trail (`--trail FILE`, docs/trail.md): one JSON line per ADDR-REG-INFORM
// relayed and per ADDR-REG-REPLY passed back, written by the daemon after the message was sent,
// so "which MAC had 2001:db8:1::55 at 14:03?" can be answered at the edge. The relay never reads
// it back: it is a record, not state. `regrelay trail FILE --address ADDR [--at TIME]` answers the
// question from the file (query below).
//
// Field names are flat keys named after the Elastic Common Schema where it has one (client.ip,
// source.ip, client.mac, observer.ingress.interface.name, ...), under dhcp6.* where it has none.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dhcp6/wire.h"

namespace regrelay::obs {

// --- records ----------------------------------------------------------------------------------

enum class TrailKind : uint8_t { kInform, kReply };

// What the daemon knows about one message it sent, besides the message itself.
struct TrailContext {
    TrailKind kind = TrailKind::kInform;
    int64_t sec = 0;  // wall clock when sent (Unix time)
    uint32_t nsec = 0;
    std::string_view port;       // inform: the arrival interface; reply: the interface sent on
    std::optional<uint16_t> vlan;  // inform: the VLAN ID of the frame's outer tag, when tagged
    Ip6Addr peer;                // inform: the message's source address; reply: where it was sent
    std::optional<MacAddr> mac;  // inform: the frame's source MAC
    uint32_t xid = 0;
    Bytes message;               // the client message relayed, or the server message delivered
};

// The trail lines of one message (each ends with '\n'): one per IA Address option it carries
// (RFC 9686 messages carry one), or one without an address when it carries none or is not a
// well-formed client/server message. Pure.
std::vector<std::string> trail_lines(const TrailContext& ctx);

// Appends lines to the trail file: created mode 0600, opened O_APPEND (one write(2) per line, so
// concurrent readers never see half a record), reopened by reopen() on SIGHUP (after logrotate
// renamed it, a new file is created at the path). A failed write is counted and logged, at most
// one line per 10 s with the number not logged.
class TrailWriter {
public:
    TrailWriter() = default;
    ~TrailWriter();
    TrailWriter(const TrailWriter&) = delete;
    TrailWriter& operator=(const TrailWriter&) = delete;

    bool open(const std::string& path, std::string& err);
    // Opens the path again (a new file when it was renamed); on failure keeps writing to the old
    // file and returns false with `err`.
    bool reopen(std::string& err);
    void close();
    bool is_open() const { return fd_ >= 0; }
    const std::string& path() const { return path_; }
    // `now_ns` (monotonic) paces the error log line.
    void write(const std::vector<std::string>& lines, uint64_t now_ns);
    uint64_t written() const { return written_; }
    uint64_t errors() const { return errors_; }

private:
    int fd_ = -1;
    std::string path_;
    uint64_t written_ = 0, errors_ = 0, not_logged_ = 0, next_log_ns_ = 0;
};

// --- the query (`regrelay trail`) -------------------------------------------------------------

// "2026-12-01T14:03:00Z", "2026-12-01T14:03:00.123+02:00" (RFC 3339), or "2026-12-01 14:03" /
// "2026-12-01 14:03:07" (UTC): milliseconds since the Unix epoch. nullopt when malformed.
std::optional<int64_t> parse_time(std::string_view s);

// One record read back from the file.
struct TrailEntry {
    TrailKind kind = TrailKind::kInform;
    int64_t t_ms = 0;
    std::string time;   // as written
    std::optional<Ip6Addr> address;
    std::string mac, duid, port, source, xid;
    std::optional<int64_t> vlan, preferred, valid;
    bool replied = false;  // an ADDR-REG-REPLY for the same address and xid follows (query)
};

// Parses one trail line; false for a line that is not a trail record (skipped and counted).
bool parse_trail_line(std::string_view line, TrailEntry& e);

struct TrailAnswer {
    std::vector<TrailEntry> registrations;  // ADDR-REG-INFORMs of the address, by time
    std::vector<size_t> valid_at;           // with --at: indexes into registrations
    uint64_t lines = 0, skipped = 0;
};

// Collects the records of `address` from a stream of trail lines (several files: call again).
void scan_trail(std::istream& in, const Ip6Addr& address, std::vector<TrailEntry>& out, TrailAnswer& stats);

// Sorts the records by time, marks the replied registrations, and with `at_ms` picks the ones
// valid at that time: per client (DUID, else MAC), its latest registration at or before `at_ms`
// when at_ms <= t0 + valid lifetime (a valid lifetime of 0 is a release, 0xffffffff infinite).
TrailAnswer answer(std::vector<TrailEntry> records, std::optional<int64_t> at_ms, TrailAnswer stats = {});

// The end of a registration's validity in ms (INT64_MAX when infinite).
int64_t valid_until_ms(const TrailEntry& e);

}  // namespace regrelay::obs
