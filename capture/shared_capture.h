// One capture for many ports: a single AF_PACKET socket (ETH_P_ALL, bound to no interface) with a
// TPACKET_V3 ring, the libpcap-compiled DHCPv6 filter and PACKET_IGNORE_OUTGOING, instead of one
// libpcap capture per interface (docs/benchmarks.md "Capture": 4-7x less CPU per frame and 13
// against 88 MB RSS at 64 interfaces). Frames come with the interface they arrived on
// (sll_ifindex); frames of interfaces that are not served (a bridge's own copy on br0, the
// uplink's, other interfaces of the namespace) are dropped here and counted as foreign; the 802.1Q
// tag the kernel moved into the packet's metadata is put back in front of the ethertype, as
// libpcap does, because capture/frame.h parses tags inline.
//
// Latency: the kernel hands a block over when it is full or after its timeout (block_timeout_ms,
// 1 ms by default, the least the API takes), so at a low rate a frame waits up to that long.
// Kernel drops: PACKET_STATISTICS and a block's TP_STATUS_LOSING are per socket; the kernel does
// not say which interface a dropped frame came from, so drops are counted for the socket as a whole.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "capture/packet_io.h"
#include "dhcp6/wire.h"

namespace regrelay::capture {

// Puts an 802.1Q tag (TPID, TCI) back between the source MAC and the ethertype of `frame` into
// `out` (replaced). False when the frame is shorter than two MACs (it is left as it is).
bool reinsert_vlan_tag(Bytes frame, uint16_t tpid, uint16_t tci, std::vector<uint8_t>& out);

// The ifindexes a shared capture serves, with a count each (a port closed and opened again in
// either order stays served once). Small and sorted: a lookup is a binary search.
class IfindexSet {
public:
    void add(unsigned ifindex);
    // Drops one count; the ifindex stops being served when none is left. False when not served.
    bool remove(unsigned ifindex);
    bool contains(unsigned ifindex) const;
    size_t size() const { return entries_.size(); }
    std::vector<unsigned> list() const;

private:
    std::vector<std::pair<unsigned, unsigned>> entries_;  // ifindex, count; sorted by ifindex
};

struct SharedOptions {
    std::string filter = dhcp6_bpf_filter();
    int snaplen = 65535;              // the BPF program's cut (the ring packs frames of any length)
    unsigned block_bytes = 128 << 10;
    unsigned blocks = 64;             // 8 MiB in all
    unsigned block_timeout_ms = 1;    // a block is handed over after this even when not full
    bool ignore_outgoing = true;      // PACKET_IGNORE_OUTGOING: no copy of frames sent
};

struct SharedFrame {
    unsigned ifindex = 0;
    Timestamp ts;
    Bytes data;              // valid until the next call to next(); the VLAN tag inline
    uint32_t wire_len = 0;   // as on the wire (data may be shorter when cut by the snaplen)
    bool tag_from_metadata = false;
};

struct SharedStats {
    uint64_t frames = 0;     // handed out
    uint64_t foreign = 0;    // of an interface not served, dropped
    uint64_t outgoing = 0;   // PACKET_OUTGOING copies (without PACKET_IGNORE_OUTGOING), dropped
    uint64_t blocks = 0;     // ring blocks read
    uint64_t losing_blocks = 0;  // blocks the kernel marked TP_STATUS_LOSING (drops before them)
};

class SharedCapture {
public:
    // Opens the socket and its ring. `compile_iface` is an up Ethernet interface to compile the
    // filter on (libpcap compiles "vlan" for a live Linux handle as a test of the packet's
    // metadata, which is where the kernel keeps the outer tag; compiled without a handle it would
    // test the frame). Null and `err` (one line) on failure (e.g. no CAP_NET_RAW).
    static std::unique_ptr<SharedCapture> open(const std::string& compile_iface, const SharedOptions& opt,
                                               std::string& err);
    ~SharedCapture();
    SharedCapture(const SharedCapture&) = delete;
    SharedCapture& operator=(const SharedCapture&) = delete;

    int fd() const { return fd_; }
    // Frames of `ifindex` are handed out from now on (until as many unserve()).
    void serve(unsigned ifindex) { served_->add(ifindex); }
    void unserve(unsigned ifindex) { served_->remove(ifindex); }
    bool serves(unsigned ifindex) const { return served_->contains(ifindex); }
    // A PacketSource standing for one port's membership: serves `ifindex` while it lives (it is
    // never read: the frames come from next()). It may outlive the capture.
    std::unique_ptr<PacketSource> membership(unsigned ifindex, const std::string& name);

    // The next frame of a served interface: kPacket, kTimeout when no handed-over block holds
    // more, kError (error()) when the ring is unusable.
    ReadStatus next(SharedFrame& f);
    // The ports of the served interfaces, as a daemon numbers them: (ifindex, port) sorted by
    // ifindex, rebuilt by the daemon at each wake-up.
    using Route = std::vector<std::pair<unsigned, size_t>>;
    // The next frame of an interface in `route`, with its port: kPacket; frames of an ifindex not
    // in it (a port closed meanwhile) are skipped. kError is logged (one line) before it returns.
    ReadStatus next_routed(const Route& route, SharedFrame& f, size_t& port);
    // After poll() reported POLLERR or POLLNVAL: the socket's pending error, read (and so
    // cleared, lest poll() report it again at once), for a log line.
    std::string take_socket_error();
    const SharedStats& stats() const { return stats_; }
    // Frames the kernel dropped (ring full) since the socket opened, all interfaces together.
    uint64_t kernel_drops() const;
    std::string error() const { return error_; }
    int linktype() const { return 1; }  // DLT_EN10MB

private:
    SharedCapture() = default;
    void release_block();

    int fd_ = -1;
    uint8_t* ring_ = nullptr;
    size_t ring_len_ = 0;
    unsigned block_bytes_ = 0, blocks_ = 0;
    unsigned block_ = 0;       // the block being read or waited for
    bool in_block_ = false;    // block_ is ours (TP_STATUS_USER) and being read
    unsigned left_ = 0;        // packets of block_ not yet read
    uint8_t* pkt_ = nullptr;   // the next packet header in block_
    std::shared_ptr<IfindexSet> served_ = std::make_shared<IfindexSet>();
    std::vector<uint8_t> scratch_;  // a frame with its tag put back
    SharedStats stats_;
    mutable uint64_t drops_ = 0;    // PACKET_STATISTICS resets on every read: summed here
    std::string error_;
};

}  // namespace regrelay::capture
