// Packet sources and sinks: where frames come from (a live interface or a pcap file) and where
// they go (a pcap file or a live interface through libnet). Live and file sources share one
// interface, so the engines and `decode` drive both through the same code path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dhcp6/wire.h"

struct pcap;
typedef struct pcap pcap_t;
struct pcap_dumper;
typedef struct pcap_dumper pcap_dumper_t;
struct libnet_context;
typedef struct libnet_context libnet_t;

namespace regrelay::capture {

struct Timestamp {
    int64_t sec = 0;
    uint32_t nsec = 0;
};

struct Packet {
    Timestamp ts;
    regrelay::Bytes data;    // valid until the next call to next()
    uint32_t wire_len = 0;   // original length (data may be shorter if truncated by snaplen)
};

enum class ReadStatus { kPacket, kTimeout, kEnd, kError };

class PacketSource {
public:
    virtual ~PacketSource() = default;
    // Next frame. kTimeout only for live sources (no packet within the read timeout).
    virtual ReadStatus next(Packet& p) = 0;
    virtual int linktype() const = 0;
    virtual std::string name() const = 0;
    virtual std::string error() const = 0;
    // A descriptor to poll for readiness, or -1 (file sources).
    virtual int selectable_fd() const { return -1; }
    // Interrupts a blocking next() from a signal handler or another thread.
    virtual void break_loop() {}
    // Live sources: frames the kernel dropped before we read them (buffer full or interface).
    // False when the source keeps no such statistics.
    virtual bool kernel_drops(uint64_t& dropped) const {
        (void)dropped;
        return false;
    }
};

// One line naming, per live source, the frames the kernel dropped before they were read:
// "capture kernel-drops eth1=0 eth2=12\n" (empty when no source keeps statistics).
std::string kernel_drops_report(const std::vector<std::unique_ptr<PacketSource>>& sources);

// The BPF filter for DHCPv6 over UDP, untagged or behind one or two 802.1Q tags.
std::string dhcp6_bpf_filter();

struct LiveOptions {
    std::string filter = dhcp6_bpf_filter();
    int buffer_bytes = 8 << 20;  // kernel capture buffer
    int timeout_ms = 100;        // read timeout, so callers can check for shutdown
    bool inbound_only = true;    // do not see what we send ourselves
    // 0: the interface's MTU plus an Ethernet header and two VLAN tags. libpcap (TPACKET_V2 in
    // immediate mode) cuts its ring into slots of this size: 65535 leaves only ~128 slots in an
    // 8 MiB buffer, and a burst of 200 client messages lost a third of them. A longer frame is an
    // IPv6 fragment or truncated, which the engines drop either way.
    int snaplen = 0;
    bool nonblocking = false;    // next() returns kTimeout at once when nothing is queued
};

// Batches the daemons' wake-ups under load. A wake-up (the event loop coming out of poll()) costs
// a core tens of microseconds on a virtual machine, more than relaying a message, and in
// immediate-mode capture every frame wakes the loop alone. When wake-ups that find messages come
// closer together than `hold_ns`, the loop sleeps until `hold_ns` after the last one and then
// reads everything that arrived meanwhile in one go (poll with timeout 0): one wake-up per
// hold_ns under load, each handling hold_ns worth of messages; a message waits at most hold_ns
// more. A quiet link (wake-ups further apart than hold_ns) keeps one wake-up per message and no
// added delay. Pure (times in, decision out); hold_ns 0 turns it off.
class WakeCoalescer {
public:
    explicit WakeCoalescer(uint64_t hold_ns) : hold_ns_(hold_ns) {}
    // After a wake-up at `now` (CLOCK_MONOTONIC ns) that handled `handled` messages: the time to
    // sleep until before polling again without blocking, or 0 to block in poll() at once.
    uint64_t after_wake(uint64_t now, size_t handled);
    uint64_t hold_ns() const { return hold_ns_; }

private:
    uint64_t hold_ns_;
    uint64_t last_ = 0;   // the last wake-up that handled messages
    bool held_ = false;   // that wake-up came after a hold (the load is still there)
};
// Sleeps until `deadline_ns` on CLOCK_MONOTONIC (signals blocked for a signalfd do not cut it short).
void sleep_until_ns(uint64_t deadline_ns);

// Opens a live capture. Returns null and sets `err` to one line on failure.
std::unique_ptr<PacketSource> open_live(const std::string& iface, const LiveOptions& opt, std::string& err);
// The capture ring for each of `ports` captures in one process: 8 MiB each up to 8 ports, then a
// 64 MiB budget shared among them, never under 1 MiB (about 500 frames of 1500-byte MTU). A ring
// is mapped into the process and counts in its RSS once the kernel fills it: 64 relay interfaces
// at 8 MiB each held 691 MB; a DHCPv6 port needs a burst's room, not a flood's.
int ring_bytes_per_port(size_t ports);
// Opens a pcap (or pcapng) file, nanosecond precision. Returns null and sets `err` on failure.
std::unique_ptr<PacketSource> open_file(const std::string& path, std::string& err);

class PacketSink {
public:
    virtual ~PacketSink() = default;
    // Writes one frame; returns false and keeps the reason in error() on failure.
    virtual bool write(const Timestamp& ts, regrelay::Bytes frame) = 0;
    virtual std::string error() const = 0;
    // Pushes buffered frames out; false (reason in error()) when that fails.
    virtual bool flush() { return true; }
    // Log rotation: closes and reopens the destination (a pcap file: the same path, appended to
    // when it already holds a pcap of the same link type, else created). True when there is
    // nothing to reopen.
    virtual bool reopen(std::string& err) {
        (void)err;
        return true;
    }
};

// Writes frames to a classic pcap file with nanosecond timestamps. A new file is created mode 0600
// (it holds MACs and DUIDs); an existing one is truncated. Every write() reaches the file at once
// (one write(2) per frame, no buffer), so a full disk or I/O error fails that frame's write()
// with the errno text, and a frame cut short is removed again (the file stays readable). With
// `buffered` (replay's output, benchmarks) frames are gathered into 64 KiB writes: faster, but
// a failure is reported by the write() or flush() that pushes the buffer, for all of it.
std::unique_ptr<PacketSink> open_pcap_writer(const std::string& path, int linktype, std::string& err,
                                             bool buffered = false);
// Injects whole frames on an interface through libnet (link layer, advanced mode).
std::unique_ptr<PacketSink> open_injector(const std::string& iface, std::string& err);

}  // namespace regrelay::capture
