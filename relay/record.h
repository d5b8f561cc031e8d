// Turns what the relay receives and sends into LINUX_SLL2 frames for a pcap file: `--write`
// in live mode and the output of `regrelay replay`. SLL2 keeps each frame's interface and
// direction, so one file can hold both sides of the relay.
#pragma once

#include "capture/packet_io.h"
#include "capture/udp_socket.h"
#include "relay/engine.h"

namespace regrelay::relay {

struct RecordPort {
    uint32_t ifindex = 0;
    MacAddr mac;
    Ip6Addr link_local;  // our source toward link-local and link-scope multicast destinations
    Ip6Addr routable;    // our source toward other destinations (what the kernel would pick)

    const Ip6Addr& source_for(const Ip6Addr& dst) const {
        const bool link_scope = dst.is_link_local() || (dst.is_multicast() && (dst.b[1] & 0x0f) <= 2);
        return link_scope || routable.is_unspecified() ? link_local : routable;
    }
};

class Recorder {
public:
    // ports[i] describes client port i; upstream describes the server side.
    Recorder(capture::PacketSink& sink, std::vector<RecordPort> ports, RecordPort upstream)
        : sink_(sink), ports_(std::move(ports)), upstream_(upstream) {}

    void received_frame(const capture::Timestamp& ts, int port, int linktype, Bytes frame);
    void received_datagram(const capture::Timestamp& ts, const capture::Datagram& d);
    // Every datagram of `a` as we send it.
    void sent(const capture::Timestamp& ts, const Actions& a);
    uint64_t errors() const { return errors_; }

private:
    const RecordPort& port(int p) const { return p == kUpstream ? upstream_ : ports_[size_t(p)]; }
    void write(const capture::Timestamp& ts);

    capture::PacketSink& sink_;
    std::vector<RecordPort> ports_;
    RecordPort upstream_;
    std::vector<uint8_t> buf_;
    uint64_t errors_ = 0;
};

// One debug line per relayed packet, one info line per relayed ADDR-REG-INFORM (the
// registration trail), one debug line per drop. `in` is the message that was relayed.
void log_actions(const Config& cfg, const Actions& a);

}  // namespace regrelay::relay
