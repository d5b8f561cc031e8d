// `regrelay decode`: one line per DHCPv6 packet, tcpdump style. The formatting is a library so
// the benchmark and tests drive exactly what the command runs.
#pragma once

#include <cstdint>
#include <string>

#include "capture/frame.h"
#include "capture/packet_io.h"

namespace regrelay::decode {

enum class Format { kText, kVerbose, kJson };

struct Stats {
    uint64_t frames = 0;     // frames read
    uint64_t dhcp6 = 0;      // DHCPv6 packets printed (malformed ones included)
    uint64_t malformed = 0;  // DHCPv6 payloads or frames printed as malformed
    uint64_t skipped = 0;    // frames that are not DHCPv6 (other protocols or ports)
    uint64_t truncated = 0;  // DHCPv6 packets cut by the capture's snap length (printed "[|truncated]")
};

// Renders one captured frame. Returns false (and appends nothing) if it is not DHCPv6.
// `n` is the frame's number in the capture, from 1.
bool format_frame(std::string& out, const capture::Packet& p, int linktype, Format fmt, uint64_t n, Stats& st);

// "2026-11-21 14:03:00.123456" in UTC, microseconds.
void append_time(std::string& out, const capture::Timestamp& ts);

}  // namespace regrelay::decode
