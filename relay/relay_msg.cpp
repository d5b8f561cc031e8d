#include "relay/relay_msg.h"

#include "capture/frame.h"

namespace regrelay::relay {

using namespace regrelay::dhcp6;

bool build_relay_forward(const RelayForward& rf, Bytes inner, std::vector<uint8_t>& out) {
    const size_t total = kRelayHeaderLen + (rf.interface_id.empty() ? 0 : kOptionHeaderLen + rf.interface_id.size()) +
                         (rf.remote_id ? kOptionHeaderLen + 4 + rf.remote_id->id.size() : 0) +
                         (rf.client_mac ? kOptionHeaderLen + 8 : 0) + kOptionHeaderLen + inner.size();
    if (inner.size() > 0xffff || total > 0xffff - frame::kUdpHeaderLen) return false;
    out.reserve(out.size() + total);
    Writer w(out);
    write_relay_header(w, msg::kRelayForw, rf.hop_count, rf.link_address, rf.peer_address);
    if (!rf.interface_id.empty()) write_interface_id(w, rf.interface_id);
    if (rf.remote_id) write_remote_id(w, rf.remote_id->enterprise, rf.remote_id->id);
    if (rf.client_mac) write_client_link_layer(w, *rf.client_mac);
    w.option(opt::kRelayMsg, inner);  // the received bytes, verbatim
    return true;
}

Rewrap check_rewrap(Bytes msg, uint8_t& next_hop) {
    if (msg.size() < kRelayHeaderLen) return Rewrap::kMalformed;
    OptionIter it(msg.subspan(kRelayHeaderLen));
    Option o;
    while (it.next(o)) {
    }
    if (it.failed()) return Rewrap::kMalformed;
    if (msg[1] >= kHopCountLimit) return Rewrap::kHopLimit;
    next_hop = uint8_t(msg[1] + 1);
    return Rewrap::kOk;
}

bool names_link(Bytes msg) {
    for (unsigned depth = 0; depth <= kHopCountLimit; ++depth) {
        if (msg.empty() || msg[0] != msg::kRelayForw) return false;
        auto level = decode_relay(msg);
        if (!level) return false;
        if (level->link_address.is_routable_unicast()) return true;
        const Option* inner = level->relay_msg();
        if (!inner) return false;
        msg = inner->data;
    }
    return false;
}

}  // namespace regrelay::relay
